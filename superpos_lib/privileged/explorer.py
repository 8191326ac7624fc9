"""The live explorer of chapter 2: the neuron model's density, importance, ``n`` and ``m``."""

from __future__ import annotations

from typing import Any, ClassVar

from ..models import ToyModelConfig
from ..ui import ToyModelExplorer
from .figures import NeuronFrame

__all__ = ["NeuronExplorer"]


class NeuronExplorer(ToyModelExplorer):
    """Sliders for density, importance decay, ``n`` and ``m`` of the neuron model.

    Every change retrains ``n_seeds`` models of ``h = ReLU(W x)``, ``x' = ReLU(Wᵀh + b)`` and
    shows the lowest-loss one: each neuron's weights stacked by feature, and how much of each
    feature sits on its largest neuron. Arguments as :class:`~superpos_lib.ui.ToyModelExplorer`.
    """

    defaults: ClassVar[dict[str, Any]] = {"density": 0.1, "importance_decay": 0.75, "n_features": 10, "d_hidden": 5}
    frame_class = NeuronFrame

    def model_config(self, s: dict[str, Any]) -> ToyModelConfig:
        return ToyModelConfig(s["n_features"], s["d_hidden"], hidden_relu=True)
