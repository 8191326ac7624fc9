"""The explorer of chapter 1: three feature values, a linear code and a packed one, read back."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import torch

from ..ui import Explorer, Job
from .codes import CompositionDemo
from .figures import CompositionFrame

__all__ = ["CompositionExplorer"]


class CompositionExplorer(Explorer):
    """Sliders ``x1, x2, x3`` for three feature values; shows their linear representation and
    what comes back.

    Compares reading features back with a linear probe from the linear code ``r = Σ x_i d_i``
    (exact) and from the packed number ``(floor(10·x₁) + x₂)/10`` (fails for ``x₂``), against
    the packed number's non-linear decoding. Nothing trains: each move redraws at once.

    Args:
        demo: the directions and fitted probes (default: :meth:`CompositionDemo.make`).
        values: the initial feature values, one per feature.
    """

    trains = False

    def __init__(self, demo: CompositionDemo | None = None, values: tuple[float, ...] = (0.35, 0.6, 0.8)):
        self.demo = demo or CompositionDemo.make()
        n = self.demo.directions.shape[0]
        if len(values) != n:
            raise ValueError(f"values needs {n} entries, got {len(values)}")
        self._composition = CompositionFrame(n, n)
        controls = {f"x{i + 1}": W.FloatSlider(0.0, min=0.0, max=0.99, step=0.01, description=f"x{i + 1}",
                                               continuous_update=True, layout=W.Layout(width="360px"))
                    for i in range(n)}
        super().__init__(controls, initial={f"x{i + 1}": v for i, v in enumerate(values)})

    @classmethod
    def demo(cls, device: str | None = None) -> "CompositionExplorer":
        return cls()

    @property
    def values(self) -> torch.Tensor:
        """The feature values the controls show, ``(feats,)``."""
        return torch.tensor(list(self.settings.values()), dtype=torch.float32)

    @property
    def readouts(self) -> dict[str, torch.Tensor]:
        """Every readout on display: series name → ``(feats,)`` (NaN where a code has no such feature)."""
        return self.result[1]

    def run(self, settings: dict[str, Any], job: Job):
        return self.demo.read(torch.tensor(list(settings.values()), dtype=torch.float32))

    def draw(self, settings: dict[str, Any], result) -> CompositionFrame:
        rep, readouts = result
        self._composition.update(rep, readouts)
        return self._composition
