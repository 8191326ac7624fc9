"""The live explorer of chapter 3: density, importance, ``n``, ``m`` and the output non-linearity."""

from __future__ import annotations

from typing import Any, ClassVar

from ..models import ToyModelConfig
from ..ui import ToyModelExplorer
from .figures import ExplorerFrame

__all__ = ["SuperpositionExplorer"]


class SuperpositionExplorer(ToyModelExplorer):
    """Sliders for density, importance decay, ``n``, ``m`` and the output non-linearity.

    Every change retrains ``n_seeds`` models of ``x' = ReLU(WᵀWx + b)`` (or the linear model)
    and shows the lowest-loss one: 2-D feature directions (or ``WᵀW``), norms, loss. Arguments
    as :class:`~superpos_lib.ui.ToyModelExplorer`; initial control values by name, e.g.
    ``SuperpositionExplorer(density=0.1, relu=False)``.
    """

    defaults: ClassVar[dict[str, Any]] = {"density": 0.05, "importance_decay": 0.9, "n_features": 5,
                                          "d_hidden": 2, "relu": True}
    frame_class = ExplorerFrame

    def model_config(self, s: dict[str, Any]) -> ToyModelConfig:
        return ToyModelConfig(s["n_features"], s["d_hidden"], relu=s["relu"])
