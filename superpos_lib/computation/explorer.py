"""The live explorer of chapter 7: density, importance decay, ``n`` and ``m`` of the
absolute-value model.

Every move retrains ``n_seeds`` models and shows the lowest-loss one: its neurons' input
weights stacked by feature, every feature's exact response ``y_i(v)`` against ``|v|``, and
the loss; the status line counts the sides computed against the neurons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from ..privileged.figures import draw_neuron_bars, redraw_neuron_bars
from ..training import TrainConfig
from ..ui import Frame, ToyModelExplorer, importance_colours, to_numpy
from ..ui.explorer import Job
from .absolute import AbsoluteValueModels, train_absolute_value
from .analysis import computed_sides, feature_response
from .figures import draw_responses

__all__ = ["EXPLORER_TRAINING", "ComputationFrame", "ComputationExplorer", "computation_title"]

EXPLORER_TRAINING = TrainConfig(steps=600, batch_size=256, lr=0.03, threads=1)
"""The explorer's schedule, on one thread of its own: 600 steps on batches of 256. Measured on 2
CPU cores by ``benchmarks/bench.py`` (after its heavy training, live frames and drawing
included): 0.69 s per update, median over the settings, 1.2 s at n = 16, m = 8 (training alone
there: 0.5 s, against 1.4 s for the 1,000-step, batch-512 recipe)."""


def computation_title(s: dict[str, Any]) -> str:
    """The figure title for one setting of the explorer's controls."""
    return (f"|x| model, n = {s['n_features']}, m = {s['d_hidden']}, 1 − S = {s['density']:.3g}, "
            f"I = {s['importance_decay']:g}^i")


class ComputationFrame(Frame):
    """The explorer's figure: stacked neuron input weights, feature responses, loss."""

    VALUES = torch.linspace(-1, 1, 41)

    def __init__(self, n_features: int, d_hidden: int, total_steps: int):
        if n_features < 1 or d_hidden < 1 or total_steps < 1:
            raise ValueError(f"n_features, d_hidden and total_steps must be >= 1, got {n_features}, {d_hidden}, {total_steps}")
        self.n_features, self.d_hidden = n_features, d_hidden
        fig = self._new_figure(2.7)
        self.ax_neurons, self.ax_resp, self.ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1, 1.2]})
        self.figure = fig
        self._stack_bars = draw_neuron_bars(self.ax_neurons, torch.zeros(d_hidden, n_features), fontsize=self.FONT)
        self.ax_neurons.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        self.ax_neurons.set_title("neurons' input weights", fontsize=self.FONT)
        self._lines = draw_responses(self.ax_resp, torch.zeros(n_features, len(self.VALUES)), self.VALUES,
                                     fontsize=self.FONT)
        self.ax_resp.set_xlabel("feature value v", fontsize=self.FONT)
        self.ax_resp.set_title("yᵢ(v) against |v|", fontsize=self.FONT)
        self._init_loss(total_steps, title="loss (best seed)")
        self.ax_neurons.set_ylim(-10.5, 10.5)  # room for the widest tick labels in the layout
        self._freeze_layout()

    def update(self, W1: Float[Tensor, "d_hidden feats"], W2: Float[Tensor, "feats d_hidden"], b: Float[Tensor, "feats"],
               importance: Float[Tensor, "feats"], logged_steps: Sequence[int], loss_history: Float[Tensor, "n_logged"],
               *, title: str = "") -> Figure:
        """Redraw with new weights and loss curve; returns the (same) figure."""
        if tuple(W1.shape) != (self.d_hidden, self.n_features):
            raise ValueError(f"W1 must have shape {(self.d_hidden, self.n_features)}, got {tuple(W1.shape)}")
        colours = importance_colours(importance, self.n_features)
        redraw_neuron_bars(self.ax_neurons, self._stack_bars, W1, colours)
        y = to_numpy(feature_response(W1[None], W2[None], b[None], self.VALUES)[0])
        for i, line in enumerate(self._lines):
            line.set_ydata(y[i])
            line.set_color(colours[i])
        self._set_loss(logged_steps, loss_history, title)
        return self.figure


class ComputationExplorer(ToyModelExplorer):
    """Sliders for density, importance decay, ``n`` and ``m`` of the absolute-value model.

    Arguments as :class:`~superpos_lib.ui.ToyModelExplorer`; initial control values by name,
    e.g. ``ComputationExplorer(density=0.03, n_features=6, d_hidden=4)``.
    """

    defaults: ClassVar[dict[str, Any]] = {"density": 0.01, "importance_decay": 0.9, "n_features": 6, "d_hidden": 4}
    frame_class = ComputationFrame

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_features", 16)
        kwargs.setdefault("max_hidden", 8)
        kwargs.setdefault("train_config", EXPLORER_TRAINING)
        super().__init__(**kwargs)

    def run(self, s: dict[str, Any], job: Job) -> AbsoluteValueModels | None:
        n, k = s["n_features"], self.n_seeds
        importance = self.importance(s)
        frame = self.frame_for(s)

        def live(state):
            best = int(state.loss.argmin())
            m = state.model
            frame.update(m.W1[best].detach().cpu(), m.W2[best].detach().cpu(), m.b[best].detach().cpu(), importance,
                         state.logged_steps, state.loss_history[: len(state.logged_steps), best].cpu(),
                         title=f"{computation_title(s)}   (training: step {state.step}/{state.steps})")
            return frame

        result = train_absolute_value(n, s["d_hidden"], float(s["density"]), importance, n_inst=k,
                                      train_config=self.train_config, seed=self.seed, device=self.device,
                                      callbacks=[job.callback(live)], callback_every=25, eval_samples=2**13)
        return None if job.stale() else result.best()

    def draw(self, s: dict[str, Any], best: AbsoluteValueModels):
        frame = self.frame_for(s)
        frame.update(best.W1[0], best.W2[0], best.b[0], best.importance[0], best.logged_steps, best.loss_history[:, 0],
                     title=f"{computation_title(s)}   (loss {best.loss[0].item():.3g})")
        return frame

    def status_line(self, s: dict[str, Any], best: AbsoluteValueModels, seconds: float) -> str:
        sides = int(computed_sides(best.W1, best.W2, best.b).sum())
        return (f"Trained {self.n_seeds} seeds for {self.train_config.steps} steps on {self.device.type} in {seconds:.2f} s; "
                f"the lowest-loss seed computes {sides} sides of {s['n_features']} features with {s['d_hidden']} neurons.")
