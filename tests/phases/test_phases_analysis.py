
import pytest
import torch

from conftest import bad_input, midpoint_loss
from superpos_lib import phases
from superpos_lib.data import OneHotSampler
from superpos_lib.models import ToyModel, ToyModelConfig
from superpos_lib.training import TrainConfig


@pytest.mark.parametrize("r,p", [(1.0, 0.3), (0.4, 0.05), (3.0, 0.8)])
def test_candidate_losses_match_numerical_integration(r, p):
    cand = phases.candidate_losses(r, p)
    assert cand[0].item() == pytest.approx(midpoint_loss([1.0, 0.0], [0.0, p / 2], r, p), rel=1e-3)
    assert cand[1].item() == pytest.approx(midpoint_loss([0.0, 1.0], [p / 2, 0.0], r, p), rel=1e-3)
    assert cand[2].item() == pytest.approx(midpoint_loss([1.0, -1.0], [0.0, 0.0], r, p), rel=1e-3)


def test_boundary_is_where_superposition_ties():
    for r in (0.1, 0.5, 1.0, 2.0, 10.0):
        p = phases.phase_boundary(r).item()
        cand = phases.candidate_losses(r, p)
        assert cand[2].item() == pytest.approx(cand[:2].min().item(), rel=1e-9)
        assert phases.analytic_phase(r, p * 0.9) == phases.SUPERPOSED
        assert phases.analytic_phase(r, min(1.0, p * 1.1)) != phases.SUPERPOSED
    assert phases.phase_boundary(1.0).item() == pytest.approx(4 / 7)
    assert phases.analytic_phase(0.5, 0.9) == phases.NOT_REPRESENTED
    assert phases.analytic_phase(2.0, 0.9) == phases.DEDICATED


def test_candidates_3_2_and_bad_inputs():
    cand = phases.candidate_losses_3_2(torch.tensor([0.5, 2.0]), 0.01)
    assert cand.shape == (2, 3)
    assert phases.analytic_phase(0.5, 0.01, n_features=3) == phases.SUPERPOSED
    assert phases.analytic_phase(2.0, 0.01, n_features=3) == phases.DEDICATED
    with bad_input("p"):
        phases.candidate_losses(1.0, 1.5)
    with bad_input("r"):
        phases.candidate_losses(-1.0, 0.5)
    with bad_input("r"):
        phases.phase_boundary(float("nan"))
    with bad_input("n_features"):
        phases.analytic_phase(1.0, 0.5, n_features=4)


def test_away_from_boundary():
    labels = torch.tensor([[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]])
    mask = phases.away_from_boundary(labels)
    assert mask.tolist() == [[True, True, False, False], [True, True, False, False], [True, True, False, False]]
    with bad_input("labels"):
        phases.away_from_boundary(torch.zeros(3))


def test_classify_extra_feature():
    W = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, -1.0]]])
    assert phases.classify_extra_feature(W).tolist() == [phases.NOT_REPRESENTED, phases.DEDICATED, phases.SUPERPOSED]
    W3 = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]]])      # extra feature antipodal to feature 1
    assert phases.classify_extra_feature(W3).tolist() == [phases.SUPERPOSED]


def test_train_phase_grid_agrees_far_from_the_boundary():
    grid = phases.train_phase_grid([0.2, 5.0], [0.9, 0.02], n_seeds=2, train_config=TrainConfig(steps=400, batch_size=256),
                                   device="cpu", progress=False)
    assert grid.labels.shape == (2, 2) and grid.n_models == 8
    assert (grid.labels == grid.analytic).all(), (grid.labels, grid.analytic)
    assert grid.evaluate_loss(n_samples=2**12).shape == (4,)
    with bad_input("n_features"):
        phases.train_phase_grid([1.0], [0.5], n_features=5)
    with bad_input("p"):
        phases.train_phase_grid([1.0], [0.0])


def test_one_hot_loss_is_exact():
    model = ToyModel(ToyModelConfig(5, 2, 3), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.b_final.normal_(0, 0.3)
    x = OneHotSampler(3, 5, 2**18, seed=1).sample()
    mc = model.loss(x, torch.ones(3, 5)).double()
    exact = phases.one_hot_loss(model.W.detach().double(), model.b_final.detach().double())
    assert torch.allclose(exact, mc, rtol=0.01)
    with bad_input("W"):
        phases.one_hot_loss(torch.zeros(2, 5), torch.zeros(2, 5))


def test_optimal_kgons():
    n = 6
    losses = {k: phases.optimal_kgon(k, n) for k in range(1, 7)}
    # Up to the square, features add for free: each removes the same dropped-feature loss.
    step = (1 / (3 * n) - 1 / (4 * n**2)) / n
    for k in range(1, 5):
        assert losses[k].loss == pytest.approx((n - k) * step, rel=1e-6)
        assert losses[k].length == pytest.approx(1.0, abs=1e-4)
    assert losses[4].loss > losses[5].loss > losses[6].loss
    assert losses[5].bias < 0 and losses[6].bias < losses[5].bias
    W, b = phases.regular_kgon(5, n, losses[5].length, losses[5].bias, losses[5].dropped_bias)
    assert phases.kgon_size(W.float()).item() == 5
    assert phases.one_hot_loss(W, b).item() == pytest.approx(losses[5].loss)
    with bad_input("k"):
        phases.regular_kgon(7, n)
    # The origin: every feature dropped and predicted by its mean, n times the dropped-feature loss.
    origin = phases.optimal_kgon(0, n)
    assert origin.loss == pytest.approx(n * step, rel=1e-9) and origin.dropped_bias == pytest.approx(1 / (2 * n))
    assert phases.regular_kgon(0, n)[0].abs().sum() == 0


def test_kgon_size_rejects_irregular_shapes():
    W, _ = phases.regular_kgon(4, 4)
    assert phases.kgon_size(W.float()).item() == 4
    irregular = torch.tensor([[[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]])
    assert phases.kgon_size(irregular).item() == 0


def test_train_one_hot_records_and_visits():
    config = TrainConfig(steps=600, lr=0.1, optimizer="sgd", schedule="constant", warmup=0.0, batch_size=256)
    traj = phases.train_one_hot(6, 2, n_inst=2, train_config=config, init_scale=0.1, record_every=20, device="cpu")
    assert traj.W.shape == (31, 2, 2, 6) and traj.steps[0] == 0 and traj.steps[-1] == 600
    assert (traj.loss[-1] < traj.loss[0]).all()
    levels = {k: phases.optimal_kgon(k, 6).loss for k in (1, 2)}
    visits = phases.kgon_visits(traj, levels, min_length=1)
    # From a small start every model passes the 1-gon's loss first (seeds 0-4: both models, around
    # snapshots 14-31 of 31), so there is something to check.
    assert {v.instance for v in visits if v.k == 1} == {0, 1}
    assert all(v.k in levels and v.end > v.start for v in visits)
    with bad_input("init_scale"):
        phases.train_one_hot(init_scale=-1.0)
    with bad_input("levels"):
        phases.kgon_visits(traj, {})


def test_kgon_visits_finds_exactly_the_stretches_at_each_level():
    loss = torch.tensor([0.5, 0.1, 0.1, 0.1, 0.3, 0.05, 0.05, 0.05, 0.05, 0.2])[:, None]  # (T, 1 instance)
    T = loss.shape[0]
    W = torch.zeros(T, 1, 2, 3)
    W[:, 0, 0, 0] = 1.0                                  # one feature read back throughout
    traj = phases.Trajectory(torch.arange(T), W, torch.zeros(T, 1, 3), loss)
    visits = phases.kgon_visits(traj, {1: 0.1, 2: 0.05}, tolerance=0.01, min_length=3)
    assert [(v.k, v.start, v.end, v.n_represented) for v in visits] == [(1, 1, 4, 1), (2, 5, 9, 1)]
    assert phases.kgon_visits(traj, {1: 0.1, 2: 0.05}, tolerance=0.01, min_length=4) == [visits[1]]


def test_n_reconstructed_ignores_switched_off_features():
    W = torch.tensor([[[1.0, 1.0, 0.2]]])
    b = torch.tensor([[0.0, -2.0, 0.0]])
    assert phases.n_reconstructed(W, b).tolist() == [1]


def _curve_trajectory(loss):
    T = loss.shape[0]
    return phases.Trajectory(torch.arange(T) * 10, torch.zeros(T, loss.shape[1], 2, 3), torch.zeros(T, loss.shape[1], 3),
                             loss)


def test_level_dwell_tells_a_plateau_from_a_smooth_curve():
    t = torch.arange(2000, dtype=torch.float64)
    smooth = 0.01 + 0.04 * torch.exp(-t / 300)                         # the control's own shape
    stairs = torch.full_like(t, 0.01)                                  # 0.05 for 500 steps, 0.03 for 500, then 0.01
    stairs[:500], stairs[500:1000] = 0.05, 0.03
    stairs = stairs + 1e-4 * torch.exp(-t / 300)                       # keep it falling at the end
    traj = _curve_trajectory(torch.stack([smooth, stairs], 1))
    levels = {0: 0.05, 1: 0.03, 2: 0.02}
    d_smooth, d_stairs = phases.level_dwell(traj, levels)
    assert d_smooth.tau == pytest.approx(3000, rel=0.01)              # 300 snapshots of 10 steps
    for k in (1, 2):                                                   # a smooth curve: the control's stay
        assert d_smooth.ratio(k) == pytest.approx(1.0, abs=0.05)
    assert d_stairs.steps[0] == pytest.approx(4990, abs=10) and d_stairs.steps[1] == pytest.approx(5000, abs=10)
    assert d_stairs.ratio(0) > 3 and d_stairs.ratio(1) > 3            # plateaus
    assert d_stairs.steps[2] == 0                                      # a level it jumps over
    with bad_input("levels"):
        phases.level_dwell(traj, {})
    rising = _curve_trajectory(torch.linspace(0.01, 0.02, 5, dtype=torch.float64)[:, None])
    with pytest.raises(ValueError, match="did not fall"):
        phases.level_dwell(rising, levels)

