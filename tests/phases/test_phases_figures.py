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
    opt = phases.exact_optimum(torch.tensor([0.3, 0.8]))
    fig = phases.plot_candidate_losses(1.0, torch.logspace(-1, 0, 6), trained=torch.full((6,), 0.03), optimum=opt)
    assert len(fig.axes) == 2
    ratio = fig.axes[1].lines[3].get_ydata()                         # the optimum, symmetric at p = 0.3
    best = phases.candidate_losses(1.0, torch.tensor([0.3, 0.8])).min(-1).values
    assert ratio[0] == pytest.approx((opt.loss[0] / best[0]).item()) and ratio[0] < 1
    with bad_input("optimum"):
        phases.plot_candidate_losses(2.0, torch.logspace(-1, 0, 6), optimum=opt)


def test_phase_frame_and_kgon_dynamics():
    r, p = torch.logspace(-1, 1, 5), torch.logspace(-2, 0, 5)
    pp, rr = torch.meshgrid(p, r, indexing="ij")
    frame = phases.PhaseFrame(r, p, phases.analytic_phase(rr, pp))
    frame.update(1.0, 0.3, torch.tensor([[1.0, -1.0]]), phases.SUPERPOSED, phases.candidate_losses(1.0, 0.3).float(), 0.02)
    assert [b.get_height() for b in frame._w] == pytest.approx([1.0, -1.0])
    assert frame._marker.get_xdata()[0] == 1.0
    with bad_input("W"):
        frame.update(1.0, 0.3, torch.zeros(2, 2), 0, torch.zeros(3), 0.0)
    T = 60
    W = torch.zeros(T, 1, 2, 3)
    for t in range(T):
        W[t, 0, 0, 0] = t / 50
        W[t, 0, 1, 1] = max(0, t - 20) / 30
    loss = 0.01 + 0.04 * torch.exp(-torch.arange(T) / 15.0)
    traj = phases.Trajectory(torch.arange(T) * 10, W, torch.zeros(T, 1, 3), loss[:, None])
    levels = {0: 0.05, 1: 0.03, 2: 0.015}
    dwell = phases.level_dwell(traj, levels)
    fig = phases.plot_kgon_dynamics(traj, 0, levels, dwell=dwell[0])
    ax_loss, ax_norm = fig.axes[:2]
    assert ax_loss.get_xscale() == "log" and ax_norm.get_yscale() == "log"
    assert [line.get_label() for line in ax_loss.lines[:2]] == ["exact loss", "smooth control"]
    assert len(fig.axes) == 2 + 5                                      # four fractions of the drop and the end
    assert fig.axes[-1].get_title().startswith("step 590")
    labels = [t.get_text() for t in ax_loss.texts]
    assert "origin" in labels and "2-gon" in labels
    with bad_input("instance"):
        phases.plot_kgon_dynamics(traj, 1, levels)


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
