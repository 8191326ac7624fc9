"""Chapter 5's figures and explorer: call them, check what they draw."""

import pytest
import torch

from conftest import bad_input
from superpos_lib import phases
from superpos_lib.phases import PhaseExplorer
from superpos_lib.training import TrainConfig


def test_phase_diagrams_and_candidates():
    r, p = torch.logspace(-1, 1, 5), torch.logspace(0, -2, 4)
    pp, rr = torch.meshgrid(p, r, indexing="ij")
    analytic = phases.analytic_phase(rr, pp)
    labels = analytic.clone()
    labels[0, 0] = phases.SUPERPOSED
    grid = phases.PhaseGrid(r, p, labels, analytic, torch.zeros(20, 1, 2), torch.zeros(20, 2), torch.zeros(20), 2, 0.0)
    fig = phases.plot_phase_diagrams(grid)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].collections[-1].get_offsets()) == 1      # one disagreement marked
    with pytest.raises(ValueError, match="labels"):
        phases.draw_phase_diagram(fig.axes[0], r, p, labels.T)
    fig = phases.plot_candidate_losses(1.0, torch.logspace(-1, 0, 6), trained=torch.full((6,), 0.03))
    assert len(fig.axes[0].lines) == 5


def test_phase_frame_and_kgon_dynamics():
    r, p = torch.logspace(-1, 1, 5), torch.logspace(-2, 0, 5)
    pp, rr = torch.meshgrid(p, r, indexing="ij")
    frame = phases.PhaseFrame(r, p, phases.analytic_phase(rr, pp))
    frame.update(1.0, 0.3, torch.tensor([[1.0, -1.0]]), phases.SUPERPOSED, phases.candidate_losses(1.0, 0.3).float(), 0.02)
    assert [b.get_height() for b in frame._w] == pytest.approx([1.0, -1.0])
    assert frame._marker.get_xdata()[0] == 1.0
    with bad_input("W"):
        frame.update(1.0, 0.3, torch.zeros(2, 2), 0, torch.zeros(3), 0.0)
    T = 6
    W = torch.zeros(T, 1, 2, 3)
    for t in range(T):
        W[t, 0, 0, 0] = t / 5
        W[t, 0, 1, 1] = max(0, t - 2) / 3
    traj = phases.Trajectory(torch.arange(T) * 10, W, torch.zeros(T, 1, 3), torch.linspace(0.05, 0.01, T)[:, None])
    fig = phases.plot_kgon_dynamics(traj, 0, {1: 0.03, 2: 0.015})
    titles = [ax.get_title() for ax in fig.axes]
    assert any("1 features" in t for t in titles) and any("2 features" in t for t in titles)


def test_phase_explorer_retrains_on_slider_moves():
    ex = PhaseExplorer(r=1.0, p=0.05, n_seeds=4, train_config=TrainConfig(steps=300, batch_size=256), device="cpu")
    assert ex.label == phases.SUPERPOSED
    ex.update(r=5.0, p=0.9)
    assert ex.label == phases.DEDICATED
    assert "dedicated" in ex.frame.title
    ex.controls["p"].value = 0.02                                      # as a reader would
    ex.wait()
    assert ex.label == phases.SUPERPOSED
    with bad_input("p"):
        ex.update(p=0.0)
    with bad_input("r"):
        ex.update(r=100.0)
