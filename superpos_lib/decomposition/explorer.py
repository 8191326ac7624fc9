"""The explorer of chapter 4: place three features in 2-D and watch benefit and interference."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import torch

from .. import metrics
from ..checks import check_positive_int
from ..data import generate_batch
from ..ui import Explorer, Job
from .figures import DecompositionFrame

__all__ = ["DecompositionExplorer"]


class DecompositionExplorer(Explorer):
    """Sliders for the angle and length of each feature in 2-D (``angle_1``, ``length_1``, ...)
    and their density ``density``.

    Nothing trains: each move recomputes the linear model's feature benefit and interference
    terms (exact, for zero-mean features ``x ∈ [-1, 1)``), the ReLU model's true loss on TMS's
    features ``x ∈ [0, 1)`` (a Monte-Carlo average over one fixed sample, so the number moves
    smoothly), and each pair's interference with and without the ReLU. :attr:`losses` holds the
    four numbers drawn.

    Args:
        angles, lengths: the initial directions (degrees) and norms, one per feature (>= 2).
        density: the initial density ``p``.
        n_samples: size of the fixed sample for the ReLU model's loss.
        seed: seeds that sample.
    """

    trains = False

    def __init__(
        self,
        angles: tuple[float, ...] = (0.0, 150.0, 250.0),
        lengths: tuple[float, ...] = (1.0, 1.0, 1.0),
        density: float = 0.1,
        *,
        n_samples: int = 2**15,
        seed: int = 0,
    ):
        if len(angles) != len(lengths) or len(angles) < 2:
            raise ValueError(f"angles and lengths need the same number (>= 2) of entries, got {len(angles)} and {len(lengths)}")
        self.n_features = n = len(angles)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.seed = seed
        self._batches: dict[float, torch.Tensor] = {}
        self._decomposition = DecompositionFrame(n)
        # ipywidgets' own slider width (300 px: an 80-px description, the track, a 72-px readout),
        # one row per feature, so that no readout is squeezed in a narrow output area
        cu = {"continuous_update": True, "style": {"description_width": "80px"}, "layout": W.Layout(width="300px")}
        angle = {f"angle_{i + 1}": W.FloatSlider(0.0, min=0, max=359, step=1, description=f"angle {i + 1} (°)",
                                                 readout_format=".0f", **cu) for i in range(n)}
        length = {f"length_{i + 1}": W.FloatSlider(1.0, min=0, max=1.5, step=0.01, description=f"length {i + 1}",
                                                   readout_format=".2f", **cu) for i in range(n)}
        dens = {"density": W.FloatLogSlider(0.1, base=10, min=-2, max=0, step=0.05, description="density p",
                                            readout_format=".3f", **cu)}
        layout = W.VBox([W.HBox([angle[f"angle_{i + 1}"], length[f"length_{i + 1}"]]) for i in range(n)]
                        + [W.HBox([dens["density"]])])
        initial = {**{f"angle_{i + 1}": float(a) % 360 for i, a in enumerate(angles)},
                   **{f"length_{i + 1}": float(v) for i, v in enumerate(lengths)}, "density": density}
        super().__init__({**angle, **length, **dens}, initial=initial, layout=layout)

    @classmethod
    def demo(cls, device: str | None = None) -> "DecompositionExplorer":
        return cls()

    def weights(self, settings: dict[str, Any]) -> torch.Tensor:
        """The feature directions of a setting, ``(2, feats)``."""
        a = torch.deg2rad(torch.tensor([settings[f"angle_{i + 1}"] for i in range(self.n_features)], dtype=torch.float32))
        length = torch.tensor([settings[f"length_{i + 1}"] for i in range(self.n_features)], dtype=torch.float32)
        return torch.stack([a.cos(), a.sin()]) * length

    @property
    def W(self) -> torch.Tensor:
        """The directions the controls show now, ``(2, feats)``."""
        return self.weights(self.settings)

    @property
    def losses(self) -> dict[str, float]:
        """The four numbers drawn: linear ``benefit``, ``interference``, ``linear_total``, and ``relu_total``."""
        return self.result

    def _batch(self, p: float) -> torch.Tensor:
        if p not in self._batches:
            gen = torch.Generator().manual_seed(self.seed)
            self._batches = {p: generate_batch(p, self.n_samples, self.n_features, generator=gen)}
        return self._batches[p]

    def run(self, settings: dict[str, Any], job: Job) -> dict[str, float]:
        p, n = float(settings["density"]), self.n_features
        W3 = self.weights(settings)[None]
        terms = metrics.loss_decomposition(W3, torch.full((1, n), p), torch.ones(1, n))
        x = self._batch(p)
        out = torch.relu(x @ (W3[0].T @ W3[0]))
        return {"benefit": terms.benefit.item(), "interference": terms.interference.item(),
                "linear_total": terms.total.item(), "relu_total": ((x - out) ** 2).mean().item()}

    def draw(self, settings: dict[str, Any], v: dict[str, float]) -> DecompositionFrame:
        self._decomposition.update(
            self.weights(settings), [v["benefit"], v["interference"], v["linear_total"], v["relu_total"]],
            title=f"p = {settings['density']:.3g}:  linear loss {v['linear_total']:.4f},  ReLU loss {v['relu_total']:.4f}")
        return self._decomposition
