"""The live explorer of chapter 8: the dataset size ``T`` and the density of the features.

Every move draws a fresh training set of ``T`` examples and trains one model on it, full
batch; the figure shows the features' directions, the training examples' hidden vectors and
the train loss, and the status line says who holds the hidden dimensions and the test loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import ipywidgets as W
import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from torch import Tensor

from ..runtime import get_device
from ..training import TrainConfig
from ..ui import Frame, to_numpy
from ..ui.explorer import Explorer, Job
from .analysis import regimes
from .figures import EXAMPLE_COLOUR, FEATURE_COLOUR, _lim, _segments, draw_vectors
from .finite import N_FEATURES, SIZES, DoubleDescent, double_descent, finite_datasets

__all__ = ["EXPLORER_TRAINING", "EXPLORER_SIZES", "MemorizationFrame", "MemorizationExplorer", "memorization_title"]

EXPLORER_TRAINING = TrainConfig(steps=800, batch_size=1, lr=0.05, weight_decay=1e-2, warmup=0.05, threads=1)
"""The explorer's schedule, one seed on one thread: 800 full-batch steps at a peak rate of 0.05
(``Σ_t lr_t ≈ 20``, near the chapter's 25). Measured on 2 CPU cores: 0.5 s per retrain at
``T = 5`` and ``T = 80``, 0.7 s at ``T = 300``, the largest size offered."""

EXPLORER_SIZES = tuple(T for T in SIZES if T <= 300)
"""The sizes the explorer offers: the chapter's up to 300 (500 takes 1.1 s to retrain)."""


def memorization_title(s: dict[str, Any]) -> str:
    """The figure title for one setting of the explorer's controls."""
    return f"T = {s['n_examples']} examples, n = {N_FEATURES}, m = 2, 1 − S = {s['density']:.3g}"


def _redraw_vectors(ax, artists: list, v: Tensor) -> None:
    a = to_numpy(v)
    line, dots = artists
    line.set_segments(_segments(a))
    dots.set_offsets(a.T)
    lim = _lim(a)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.texts[-1].set_text(f"max {lim / 1.15:.2g}")


class MemorizationFrame(Frame):
    """The explorer's figure: features, training examples' hidden vectors, train loss."""

    def __init__(self, n_features: int, total_steps: int):
        if n_features < 1 or total_steps < 1:
            raise ValueError(f"n_features and total_steps must be >= 1, got {n_features}, {total_steps}")
        self.n_features = n_features
        fig = self._new_figure(2.6)
        self.ax_features, self.ax_examples, self.ax_loss = fig.subplots(1, 3)
        self.figure = fig
        self._features = draw_vectors(self.ax_features, torch.zeros(2, n_features), FEATURE_COLOUR, fontsize=self.FONT)
        self._examples = draw_vectors(self.ax_examples, torch.zeros(2, 1), EXAMPLE_COLOUR, fontsize=self.FONT)
        self.ax_features.set_title("features Wᵢ", fontsize=self.FONT, color=FEATURE_COLOUR)
        self.ax_examples.set_title("examples' h = W x", fontsize=self.FONT, color=EXAMPLE_COLOUR)
        self._init_loss(total_steps, title="train loss")
        self._freeze_layout()

    def update(self, W: Float[Tensor, "2 feats"], H: Float[Tensor, "2 T"], logged_steps: Sequence[int],
               loss_history: Float[Tensor, "n_logged"], *, title: str = "") -> Figure:
        """Redraw with new weights, hidden vectors and loss curve; returns the (same) figure."""
        if tuple(W.shape) != (2, self.n_features):
            raise ValueError(f"W must have shape {(2, self.n_features)}, got {tuple(W.shape)}")
        if H.ndim != 2 or H.shape[0] != 2:
            raise ValueError(f"H must have shape (2, T), got {tuple(H.shape)}")
        _redraw_vectors(self.ax_features, self._features, W)
        _redraw_vectors(self.ax_examples, self._examples, H)
        self._set_loss(logged_steps, loss_history, title)
        return self.figure


class MemorizationExplorer(Explorer):
    """Sliders for the dataset size ``T`` and the density ``1 − S``; each move trains one model.

    Args:
        train_config: the schedule (default :data:`EXPLORER_TRAINING`).
        device: where to train (``None``: CUDA > MPS > CPU).
        frame_interval: seconds between live frames while training.
        seed: seeds the data and weights (a setting always gives the same model).
        **initial: initial control values, e.g. ``MemorizationExplorer(n_examples=200)``.
    """

    defaults: ClassVar[dict[str, Any]] = {"n_examples": 5, "density": 0.05}

    def __init__(self, *, train_config: TrainConfig = EXPLORER_TRAINING, device: str | torch.device | None = None,
                 frame_interval: float = 0.5, seed: int = 0, **initial: Any):
        self.train_config = train_config
        self.device = get_device(device)
        self.seed = seed
        self._mframe = MemorizationFrame(N_FEATURES, train_config.steps)
        cu = dict(continuous_update=False, style={"description_width": "130px"}, layout=W.Layout(width="400px"))
        controls = {
            "n_examples": W.SelectionSlider(options=list(EXPLORER_SIZES), value=self.defaults["n_examples"],
                                            description="examples T", **cu),
            "density": W.FloatLogSlider(self.defaults["density"], base=10, min=-2, max=-0.5, step=0.05,
                                        description="density 1 − S", readout_format=".3f", **cu),
        }
        super().__init__(controls, initial=initial, frame_interval=frame_interval)

    @classmethod
    def demo(cls, device: str | torch.device | None = None) -> "MemorizationExplorer":
        return cls(device=device)

    def run(self, s: dict[str, Any], job: Job) -> DoubleDescent | None:
        T = int(s["n_examples"])

        X = finite_datasets([T], N_FEATURES, float(s["density"]), seed=self.seed)[0][0]  # what double_descent draws

        def live(state):
            w = state.model.W.detach()[0].cpu()
            self._mframe.update(w, w @ X.T, state.logged_steps, state.loss_history[: len(state.logged_steps), 0].cpu(),
                                title=f"{memorization_title(s)}   (training: step {state.step}/{state.steps})")
            return self._mframe

        result = double_descent([T], density=float(s["density"]), n_seeds=1, train_config=self.train_config,
                                seed=self.seed, device=self.device, n_test=2048, callbacks=[job.callback(live)],
                                callback_every=50, progress=False)
        return None if job.stale() else result

    def draw(self, s: dict[str, Any], dd: DoubleDescent):
        T = int(dd.n_examples[0])
        self._mframe.update(dd.W[0], dd.hidden()[0, :, :T], dd.logged_steps, dd.loss_history[:, 0],
                            title=f"{memorization_title(s)}   (test loss {dd.test_loss[0].item():.3g})")
        return self._mframe

    def status_line(self, s: dict[str, Any], dd: DoubleDescent, seconds: float) -> str:
        r = regimes(dd)
        ex, ft = int(r.example_owners[0]), int(r.feature_owners[0])
        who = ("the training examples hold the dimensions: memorization" if ex and not ft else
               "features hold the dimensions: generalization" if ft and not ex else
               "neither examples nor features hold a dimension of their own" if not ex and not ft else
               "examples and features both hold dimensions")
        return (f"Trained for {self.train_config.steps} steps on {self.device.type} in {seconds:.2f} s: train loss "
                f"{dd.train_loss[0].item():.3g}, test loss {dd.test_loss[0].item():.3g}; {ex} examples and {ft} "
                f"features have D > 0.2: {who}.")
