"""Every figure the book shows is readable as the site shows it, with nothing cut off or drawn over.

The site shows a chapter's figure at most 672 CSS px wide; static figures are drawn at 100 dpi
(wider ones are shrunk to fit) and the explorers' frames are exported at :attr:`Frame.DPI`
and shown one to one. Each figure below is built as its chapter builds it (the chapter's
arguments and shapes, small random tensors), then every text must be at least 9 pt as
displayed (``assert_readable``) and the layout clean (``assert_laid_out``). Frames are checked
in several states, the widest readouts and titles their explorers draw included. Plotly
figures (the sliders of the static site) must ask for no font under 12 px.

``python tests/ui/test_readable.py OUT`` saves every figure as a PNG at the site's size.
"""

from __future__ import annotations

import functools
from dataclasses import replace
import importlib
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # conftest, also when run as a script
from conftest import MIN_TEXT_PX, SITE_FIGURE_PX, assert_laid_out, assert_readable  # noqa: E402

from superpos_lib import computation, decomposition, features, geometry, memorization, metrics, phases, privileged  # noqa: E402
from superpos_lib import sae as S  # noqa: E402
from superpos_lib import superposition as sup  # noqa: E402
from superpos_lib.data import importance_decay, log_densities  # noqa: E402
from superpos_lib.geometry.explorer import GeometryFrame, GeometryFrame3D  # noqa: E402
from superpos_lib.training import TrainConfig  # noqa: E402
from superpos_lib.ui import Frame, toy_model_title  # noqa: E402

TOPICS = ("features", "privileged", "superposition", "decomposition", "phases", "geometry", "computation", "memorization", "sae")


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _unit_rows(n: int, d: int, seed: int = 0) -> torch.Tensor:
    v = torch.randn(n, d, generator=_g(seed))
    return v / v.norm(dim=1, keepdim=True)


# -- static figures, as the chapters call them --------------------------------------------------
def _readout_scatter():  # chapter 1
    x = torch.rand(2000, 5, generator=_g())
    return features.plot_readout_scatter(x, x + 0.05 * torch.randn(2000, 5, generator=_g(1)),
                                         r2=[1.0, 1.0, 1.0, 0.999, 0.012],
                                         titles=["x1 from r", "x2 from r", "x3 from r", "x1 from z", "x2 from z"])


DENSITIES2 = torch.tensor([0.75, 0.35, 0.15, 0.1, 0.06, 0.02, 0.01])


def _neuron_weights_three():  # chapter 2
    return privileged.plot_neuron_weights(torch.randn(3, 5, 10, generator=_g()), importance=importance_decay(10, 0.75),
                                          titles=["linear hidden layer", "... rotated: same loss", "neuron model"])


def _neuron_weights_sweep():
    return privileged.plot_neuron_weights(torch.randn(7, 5, 10, generator=_g()), importance=importance_decay(10, 0.75),
                                          titles=[f"1 − S = {p:g}" for p in DENSITIES2.tolist()], n_cols=4)


def _alignment_vs_density():
    a = torch.rand(7, 8, generator=_g())
    return privileged.plot_alignment_vs_density(DENSITIES2, a, a.sqrt(), d_hidden=5,
                                                best=torch.randint(0, 8, (7,), generator=_g()))


DENSITIES20 = torch.tensor([1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001])
INTRO_TITLES = [f"1 − S = {p:.3g}" for p in log_densities(10, 0.05).tolist()]


def _superposition_linear_vs_relu():  # chapter 3
    return sup.plot_superposition(torch.randn(4, 5, 20, generator=_g()), panel_width=1.35,
                                  titles=["linear\n1 − S = 1", "linear\n1 − S = 0.01", "ReLU\n1 − S = 1", "ReLU\n1 − S = 0.01"])


def _features_in_2d_intro():
    return sup.plot_features_in_2d(torch.randn(10, 2, 5, generator=_g()), importance=importance_decay(5, 0.9),
                                   titles=INTRO_TITLES, n_cols=5, panel_size=1.3)


def _superposition_intro():
    return sup.plot_superposition(torch.randn(10, 2, 5, generator=_g()), titles=INTRO_TITLES, n_cols=5, panel_width=1.05)


def _superposition_big():
    return sup.plot_superposition(torch.randn(7, 5, 20, generator=_g()), titles=[f"1 − S = {p:g}" for p in DENSITIES20.tolist()],
                                  n_cols=4, panel_width=1.35)


def _represented_vs_density():
    per_seed = torch.randint(4, 14, (7, 6), generator=_g())
    return sup.plot_represented_vs_density(DENSITIES20, per_seed.max(1).values, d_hidden=5, n_features=20,
                                           per_seed=per_seed, label="lowest-loss seed")


def _explorer_frame_function():
    return sup.plot_explorer_frame(torch.randn(2, 5, generator=_g()), importance_decay(5, 0.9), list(range(0, 1000, 25)),
                                   torch.logspace(-1, -3, 40), total_steps=1000, title=toy_model_title(
                                       {"density": 0.05, "importance_decay": 0.9, "n_features": 5, "d_hidden": 2}))


def _features_in_2d_one():  # chapter 9
    return sup.plot_features_in_2d(torch.randn(1, 2, 5, generator=_g()), titles=["the trained model's five features"])


def _superposition_octahedron():  # chapter 4
    return sup.plot_superposition(torch.randn(3, 3, 6, generator=_g()), titles=["p = 0.1", "p = 0.03", "p = 0.01"])


def _loss_terms():
    d = torch.tensor([1.0, 0.3, 0.1, 0.03, 0.01])
    terms = metrics.LossTerms(benefit=0.1 * d, interference=0.02 * d**2, bias=0.001 * d)
    return decomposition.plot_loss_terms([f"{v:.2g}" for v in d], terms, measured=0.12 * d,
                                         xlabel="feature density p of the trained linear model")


def _phase_grid(n_features: int) -> phases.PhaseGrid:
    r, p = torch.logspace(-1, 1, 20), torch.logspace(0, -2, 20)
    pp, rr = torch.meshgrid(p, r, indexing="ij")
    analytic = phases.analytic_phase(rr, pp)
    labels = analytic.clone()
    labels[::7, ::5] = 0
    cells = 400
    return phases.PhaseGrid(r, p, labels, analytic, torch.zeros(cells, 1, n_features), torch.zeros(cells, n_features),
                            torch.zeros(cells), n_seeds=4, seconds=1.0)


def _phase_diagrams():  # chapter 5
    return phases.plot_phase_diagrams(_phase_grid(2), title="two features in one dimension (n = 2, m = 1)")


def _phase_diagrams_three():
    return phases.plot_phase_diagrams(_phase_grid(3), boundary=False, title="three features in two dimensions (n = 3, m = 2)")


def _optimum(p: torch.Tensor) -> phases.ExactOptimum:
    p = p.double()
    lopsided = p > 0.72
    w0 = torch.where(lopsided, 0.93, 1.0 - 0.3 * p)
    w1 = torch.where(lopsided, -0.4, -(1.0 - 0.3 * p))
    W = torch.stack([w0, w1], -1)[:, None, :]
    loss = phases.candidate_losses(1.0, p).min(-1).values * torch.where(lopsided, 0.998, 0.98)
    return phases.ExactOptimum(p, torch.ones_like(p), loss, W, torch.zeros(len(p), 2), torch.zeros_like(p))


def _candidate_losses():
    p = torch.logspace(-1, 0, 24)
    trained = phases.candidate_losses(1.0, p.double()).min(-1).values * 1.01
    return phases.plot_candidate_losses(1.0, p, trained=trained, optimum=_optimum(torch.logspace(-1, 0, 70)))


def _candidate_losses_plain():
    return phases.plot_candidate_losses(1.0, torch.logspace(-1, 0, 24))


def _kgon_dynamics():
    steps = torch.arange(0, 16_001, 10)
    t = steps.double()
    levels = {k: g.loss for k, g in {k: phases.optimal_kgon(k, 6) for k in range(7)}.items()}
    loss = levels[6] + (levels[0] - levels[6]) * torch.exp(-t / 1500)
    loss = torch.stack([loss] * 8, 1)
    grow = (1 - torch.exp(-t / 2000))[:, None, None, None]
    angles = torch.arange(6) * (2 * np.pi / 6)
    W = grow * torch.stack([angles.cos(), angles.sin()])[None, None] * 1.2 + 0.002
    traj = phases.Trajectory(steps, W.expand(-1, 8, -1, -1).float(), torch.zeros(len(steps), 8, 6), loss.float())
    dwell = phases.Dwell(0, {k: 100.0 for k in levels}, {k: 80.0 for k in levels}, tau=1500.0)
    return phases.plot_kgon_dynamics(traj, 0, levels, dwell=dwell)


def _sae_directions():  # chapter 9
    true = _unit_rows(5, 2)
    panels = [_unit_rows(5, 2, seed) for seed in range(6)]
    deads = [torch.tensor([False, False, False, False, seed % 2 == 1]) for seed in range(6)]
    titles = [f"{kind}, SAE {i}\nMMCS 0.{990 - i}" for kind in ("relu_l1", "topk", "jumprelu") for i in (0, 3)]
    return S.plot_sae_directions(true, panels, deads, titles, ncols=2)


def _l0_fvu_frontier():
    l0 = {"relu_l1": [9.1, 7.2, 5.3, 3.9], "topk": [2.0, 3.0, 5.0, 8.0], "jumprelu": [12.0, 6.0, 4.0, 2.5]}
    frontier = {k: (torch.tensor(v), torch.tensor([0.4, 0.2, 0.05, 0.01][:: (1 if k != "topk" else -1)])) for k, v in l0.items()}
    return S.plot_l0_fvu_frontier(frontier, dense_fvu=torch.linspace(1, 0, 65)[1:], true_l0=5)


def _recovery_heatmaps():
    heat = {"MMCS": torch.rand(3, 3, generator=_g()), "matched MMCS": torch.rand(3, 3, generator=_g(1))}
    return S.plot_recovery_heatmaps(heat, [64, 128, 256], [0.03, 0.1, 0.3], n_features=128)


def _feature_splitting():
    return S.plot_feature_splitting([64, 128, 256], 128, [0.95, 0.97, 0.98], [0.61, 0.9, 0.7], [0.5, 1.0, 1.8])


def _density_histograms():
    dens = {kind: torch.cat([torch.zeros(10), torch.rand(118, generator=_g(k)) ** 6])
            for k, kind in enumerate(("relu_l1", "topk", "jumprelu"))}
    return S.plot_density_histograms(dens)


def _quality(n: int, seed: int = 0):  # chapter 10's scorecard, random but in range
    r = torch.rand(7, n, generator=_g(seed))
    return S.FeatureQuality(r[0] * 4, r[1] * 0.3, r[2], r[3], r[4], r[5], r[6])


def _scorecard():
    return S.plot_scorecard({kind: _quality(3, k) for k, kind in enumerate(S.KINDS)})


def _frontiers():
    return S.plot_frontiers({kind: _quality(4, k) for k, kind in enumerate(S.KINDS)})


def _l0_sweep():
    return S.plot_l0_sweep([1, 2, 3, 4, 5, 6, 8, 12, 16], _quality(9), true_l0=3)


def _absorption_map():
    data = S.structured_truth()
    return S.plot_absorption_map({"topk": _unit_rows(64, 32, 1), "matryoshka": _unit_rows(64, 32, 2)}, data)


# chapter 6 (the sweeps as the chapter sizes them, trained for a few steps: only the text is checked)
def _dimensionality_sweep():
    from superpos_lib.training import TrainConfig
    return geometry.plot_dimensionality_sweep(geometry.uniform_sweep(200, 20, 20, train_config=TrainConfig(steps=20, batch_size=64)))


def _tegum_W():
    W = torch.randn(40, 100, generator=_g())
    return W / W.norm(dim=0)


def _configuration_losses():
    return geometry.plot_configuration_losses(geometry.one_feature_sweep(torch.logspace(0, 1.5, 8), n_seeds=2))


# chapter 7
def _abs_weights(n_inst: int, d_hidden: int, n: int, seed: int = 0):
    g = _g(seed)
    return (torch.randn(n_inst, d_hidden, n, generator=g), torch.rand(n_inst, n, d_hidden, generator=g),
            0.3 * torch.rand(n_inst, n, generator=g))


def _abs_responses():
    return computation.plot_responses(*_abs_weights(2, 4, 6), importance=importance_decay(6, 0.9),
                                      titles=["dense, 1 − S = 1", "sparse, 1 − S = 0.01"], panel_size=3.3)


def _abs_neurons_small():
    return privileged.plot_neuron_weights(_abs_weights(2, 4, 6)[0], importance=importance_decay(6, 0.9),
                                          titles=["dense, 1 − S = 1", "sparse, 1 − S = 0.01"], panel_size=3.3)


def _abs_neurons_sweep():
    return privileged.plot_neuron_weights(0.3 * _abs_weights(2, 40, 100)[0], importance=importance_decay(100, 0.99),
                                          titles=["1 − S = 1: two neurons per feature", "1 − S = 0.1: every neuron shared"],
                                          n_cols=1, panel_size=6.7)


def _sides_vs_density():
    return computation.plot_sides_vs_density(torch.tensor([1.0, 0.3, 0.1, 0.03, 0.01]), torch.tensor([36, 41, 84, 78, 72]),
                                             torch.tensor([18, 15, 0, 1, 8]), torch.tensor([0, 11, 40, 40, 40]), d_hidden=40)


def _motif():
    W1, W2, b = _abs_weights(1, 4, 6)
    motif = computation.AsymmetricMotif(neuron=0, strong=3, weak=5, strong_sign=-1, weak_sign=1, strong_weight=1.9,
                                        weak_weight=0.45, read=2.4, push=4.58, inhibition=-4.75, inhibitors=(1, 2, 3),
                                        bias=0.14, output=0.0, reverse_push=0.26)
    return computation.plot_motif(motif, W1[0], W2[0], b[0])


def _vulnerability_storage():
    v = torch.rand(5, 20, generator=_g()) * 10 + 0.5
    xs = torch.linspace(1, 6, 50)
    return computation.plot_vulnerability(1 + 5 * torch.rand(5, 20, generator=_g(1)), {"l2": v / 4, "linf": v},
                                          xlabel="1 / Dᵢ (features sharing i's dimension)",
                                          labels=["1 − S = 1", "1 − S = 0.3", "1 − S = 0.1", "1 − S = 0.03", "1 − S = 0.01"],
                                          reference={"l2": (xs.numpy(), xs.sqrt().numpy())})


def _vulnerability_abs():
    v = torch.rand(5, 100, generator=_g()) * 10 + 0.8
    return computation.plot_vulnerability(torch.tensor([0.9, 1.05, 2.1, 1.95, 1.8]), {"l2": v / 5, "linf": v},
                                          xlabel="sides computed per neuron",
                                          labels=["1 − S = 1", "1 − S = 0.3", "1 − S = 0.1", "1 − S = 0.03", "1 − S = 0.01"])


@functools.lru_cache(maxsize=1)
def _tiny_double_descent():  # chapter 8's sweep in miniature: 4 sizes, 2 seeds, n = 60
    config = TrainConfig(steps=150, batch_size=1, lr=0.05, weight_decay=0.01)
    return memorization.double_descent((3, 8, 30, 120), n_features=60, density=0.15, n_seeds=2, train_config=config,
                                       device="cpu", n_test=512)


def _test_loss_by_width():  # chapter 8: m = 1, 2 and 4
    dd = _tiny_double_descent()
    return memorization.plot_test_loss_by_width({m: replace(dd, W=torch.randn(dd.n_inst, m, dd.W.shape[2],
                                                                             generator=_g(m)))
                                                 for m in (1, 2, 4)})


def _hidden_vectors():
    dd = _tiny_double_descent().best()
    return memorization.plot_hidden_vectors(dd, [0, 2, 3])


FIGURES = {
    "features.plot_readout_scatter": _readout_scatter,
    "privileged.plot_neuron_weights (three models)": _neuron_weights_three,
    "privileged.plot_neuron_weights (sweep)": _neuron_weights_sweep,
    "privileged.plot_alignment_vs_density": _alignment_vs_density,
    "superposition.plot_superposition (linear vs ReLU)": _superposition_linear_vs_relu,
    "superposition.plot_features_in_2d (intro)": _features_in_2d_intro,
    "superposition.plot_superposition (intro)": _superposition_intro,
    "superposition.plot_superposition (n = 20)": _superposition_big,
    "superposition.plot_represented_vs_density": _represented_vs_density,
    "superposition.plot_explorer_frame": _explorer_frame_function,
    "superposition.plot_features_in_2d (one model)": _features_in_2d_one,
    "superposition.plot_superposition (octahedron)": _superposition_octahedron,
    "decomposition.plot_loss_terms": _loss_terms,
    "decomposition.plot_interference_vs_angle": decomposition.plot_interference_vs_angle,
    "phases.plot_phase_diagrams (n = 2)": _phase_diagrams,
    "phases.plot_phase_diagrams (n = 3)": _phase_diagrams_three,
    "phases.plot_candidate_losses (with the optimum)": _candidate_losses,
    "phases.plot_candidate_losses (alone)": _candidate_losses_plain,
    "phases.plot_kgon_dynamics": _kgon_dynamics,
    "geometry.plot_dimensionality_sweep": _dimensionality_sweep,
    "geometry.plot_cosine_blocks": lambda: geometry.plot_cosine_blocks(_tegum_W()),
    "geometry.plot_strong_graph": lambda: geometry.plot_strong_graph(_tegum_W()),
    "geometry.plot_configuration_losses": _configuration_losses,
    "memorization.plot_hidden_vectors": _hidden_vectors,
    "memorization.plot_double_descent": lambda: memorization.plot_double_descent(_tiny_double_descent()),
    "memorization.plot_dimensionality": lambda: memorization.plot_dimensionality(_tiny_double_descent()),
    "memorization.plot_test_loss_by_width": _test_loss_by_width,
    "computation.plot_responses": _abs_responses,
    "privileged.plot_neuron_weights (chapter 7, small)": _abs_neurons_small,
    "privileged.plot_neuron_weights (chapter 7, sweep)": _abs_neurons_sweep,
    "computation.plot_sides_vs_density": _sides_vs_density,
    "computation.plot_motif": _motif,
    "computation.plot_vulnerability (storage)": _vulnerability_storage,
    "computation.plot_vulnerability (absolute value)": _vulnerability_abs,
    "sae.plot_sae_directions": _sae_directions,
    "sae.plot_l0_fvu_frontier": _l0_fvu_frontier,
    "sae.plot_recovery_heatmaps": _recovery_heatmaps,
    "sae.plot_feature_splitting": _feature_splitting,
    "sae.plot_density_histograms": _density_histograms,
    "sae.plot_scorecard": _scorecard,
    "sae.plot_l0_sweep": _l0_sweep,
    "sae.plot_frontiers": _frontiers,
    "sae.plot_absorption_map": _absorption_map,
}


# -- explorer frames, each in the states its explorer draws --------------------------------------
def _loss_curve(low: float, high: float, n: int = 40) -> tuple[list[int], torch.Tensor]:
    return list(range(0, 25 * n, 25)), torch.logspace(np.log10(high), np.log10(low), n)


def _composition_frames():
    frame = features.CompositionFrame(3, 3)
    demo = features.CompositionDemo.make(n_samples=500)
    for x in ([0.35, 0.6, 0.8], [0.99, 0.99, 0.99], [0.0, 0.0, 0.0]):
        yield frame.update(*demo.read(torch.tensor(x)))


def _toy_title(n: int, m: int, density: float, training: bool) -> str:
    s = {"density": density, "importance_decay": 0.95, "n_features": n, "d_hidden": m, "relu": True}
    return toy_model_title(s) + ("   (training: step 1000/1000)" if training else "   (loss 0.0001234)")


def _toy_frames(frame_class, shapes):
    states = (  # training and done; small and large weights; short and long loss ranges
        (lambda m, n: torch.randn(m, n, generator=_g()), (1e-3, 0.2), 0.001, True),
        (lambda m, n: 1.4 * torch.randn(m, n, generator=_g(1)), (2e-6, 0.9), 0.123, False),
    )
    for k, (n, m) in enumerate(shapes):
        frame = frame_class(n, m, 1000)
        W, (low, high), density, training = states[k % 2]
        steps, loss = _loss_curve(low, high)
        yield frame.update(W(m, n), importance_decay(n, 0.95), steps, loss, title=_toy_title(n, m, density, training))


def _neuron_frames():  # the neuron explorer: n = 10, m = 5 by default; sliders up to 20 and 10
    yield from _toy_frames(privileged.NeuronFrame, [(10, 5), (20, 10), (2, 1), (10, 5)])


def _geometry_frames(frame_class, shapes):  # n = 5, m = 2 by default; n up to 12, m = 2 or 3
    for k, n in enumerate(shapes):
        frame = frame_class(n, frame_class.projection == "3d" and 3 or 2, 1000)
        W = torch.randn(frame.d_hidden, n, generator=_g(k))
        steps, loss = _loss_curve(1e-4, 0.3)
        title = toy_model_title({"density": 0.00112, "first_importance": 31.6, "n_features": n,
                                 "d_hidden": frame.d_hidden, "relu": True})
        yield frame.update(W, torch.ones(n), steps, loss, title=title + "   (training: step 975/1000)")


def _computation_frames():  # n = 6, m = 4 by default; sliders up to 16 and 8
    for n, m, training in ((6, 4, True), (16, 8, False), (2, 1, False), (6, 4, False)):
        frame = computation.ComputationFrame(n, m, 600)
        W1, W2, b = _abs_weights(1, m, n)
        steps, loss = _loss_curve(1e-4, 0.2, 24)
        title = computation.computation_title({"n_features": n, "d_hidden": m, "density": 0.00112, "importance_decay": 0.99})
        title += "   (training: step 575/600)" if training else "   (loss 0.000123)"
        yield frame.update(W1[0], W2[0], b[0], importance_decay(n, 0.9), steps, loss, title=title)


def _superposition_frames():  # n = 5, m = 2 by default (2-D directions); WᵀW when m != 2
    yield from _toy_frames(sup.ExplorerFrame, [(20, 10), (5, 2), (20, 2), (5, 2)])  # one layout for both kinds


def _decomposition_frames():
    frame = decomposition.DecompositionFrame(3)
    for angles, lengths, values, p in (
        ((0, 150, 250), (1, 1, 1), [0.1234, 0.0456, 0.169, 0.0789], 0.1),
        ((0, 40, 80), (1.5, 1.5, 1.5), [0.0012, 1.234, 1.235, 0.987], 0.01),
        ((0, 120, 240), (0, 0, 0), [0.3333, 0.0, 0.3333, 0.3333], 1.0),
    ):
        a = torch.deg2rad(torch.tensor(angles, dtype=torch.float32))
        W = torch.stack([a.cos(), a.sin()]) * torch.tensor(lengths, dtype=torch.float32)
        yield frame.update(W, values, title=f"p = {p:.3g}:  linear loss {values[2]:.4f},  ReLU loss {values[3]:.4f}")


def _phase_frames():
    r_grid, p_grid = torch.logspace(-1, 1, 81), torch.logspace(-2, 0, 81)
    pp, rr = torch.meshgrid(p_grid, r_grid, indexing="ij")
    frame = phases.PhaseFrame(r_grid, p_grid, phases.analytic_phase(rr, pp))
    for r, p, W, label, predicted in ((1.0, 0.3, [[1.0, -1.0]], 2, 2), (0.1, 0.01, [[1.2, 0.0]], 0, 2),
                                      (10.0, 1.0, [[0.0, -1.4]], 1, 1)):
        cands = phases.candidate_losses(r, p).float()
        verdict = ", as the analysis predicts" if label == predicted else f" (analysis: {phases.SOLUTIONS[predicted]})"
        yield frame.update(r, p, torch.tensor(W), label, cands, float(cands.min()) * 1.02,
                           title=f"r = {r:.3g}, p = {p:.3g}: extra feature → {phases.SOLUTIONS[label]}{verdict}")


def _sae_frames():
    frame = S.SAEFrame(600)
    true = _unit_rows(5, 2)
    for d, dead, title in ((5, 1, "relu_l1, λ = 0.3, 5 latents"), (16, 6, "jumprelu, λ = 0.00123, 16 latents")):
        steps, loss = _loss_curve(1e-4, 0.5)
        yield frame.update(true, _unit_rows(d, 2, 1), torch.arange(d) < dead, steps, loss,
                           title=f"{title}\nMMCS 0.123, matched 0.456, L0 12.34, FVU 0.123, dead {dead}")


def _practice_frames():  # chapter 10: the widest titles its explorer draws
    frame = S.PracticeFrame(300)
    for absorbed in ("0.78", "n/a (no child fires)"):
        steps, loss = _loss_curve(1e-3, 2.0)
        yield frame.update(torch.rand(8, 8, generator=_g()) * 2 - 1, steps, loss,
                           title=f"Matryoshka, λ = 0.00316, 128 latents, child with parent 100%\nL0 48.06, FVU 0.123, "
                                 f"absorption {absorbed}, F1 0.12, MCC 0.49")


def _memorization_frames():  # n = 200 features; T from 3 to 300
    frame = memorization.MemorizationFrame(memorization.N_FEATURES, 800)
    for k, T in enumerate((5, 300, 3)):
        W = 3 * torch.randn(2, memorization.N_FEATURES, generator=_g(k))
        H = torch.randn(2, T, generator=_g(k + 10))
        steps, loss = _loss_curve(1e-4, 0.9)
        title = memorization.memorization_title({"n_examples": T, "density": 0.0501})
        yield frame.update(W, H, steps, loss, title=title + "   (training: step 775/800)")


FRAMES = {
    "features.CompositionFrame": _composition_frames,
    "privileged.NeuronFrame": _neuron_frames,
    "superposition.ExplorerFrame": _superposition_frames,
    "decomposition.DecompositionFrame": _decomposition_frames,
    "geometry.GeometryFrame": lambda: _geometry_frames(GeometryFrame, (5, 12, 2)),
    "geometry.GeometryFrame3D": lambda: _geometry_frames(GeometryFrame3D, (8, 12, 3)),
    "computation.ComputationFrame": _computation_frames,
    "memorization.MemorizationFrame": _memorization_frames,
    "phases.PhaseFrame": _phase_frames,
    "sae.SAEFrame": _sae_frames,
    "sae.PracticeFrame": _practice_frames,
}


# -- plotly figures ------------------------------------------------------------------------------
def _readout_sweep():
    demo = features.CompositionDemo.make(n_samples=500)
    values = [round(0.1 * k, 1) for k in range(10)]
    sweep = [demo.read(torch.tensor([0.35, v, 0.8]))[1] for v in values]
    return features.plot_readout_sweep({name: torch.stack([s[name] for s in sweep]) for name in sweep[0]},
                                       [f"x2 = {v}" for v in values], feature_names=["x1", "x2", "x3"])


def _neuron_sweep():
    return privileged.plot_neuron_sweep(torch.randn(7, 5, 10, generator=_g()), [f"1 − S = {p:g}" for p in DENSITIES2.tolist()],
                                        importance=importance_decay(10, 0.75))


def _features_sweep():
    return sup.plot_features_sweep(torch.randn(10, 2, 5, generator=_g()), INTRO_TITLES, importance=importance_decay(5, 0.9))


def _neuron_sweep_100():  # chapter 7's slider: 100 features, no legend
    return privileged.plot_neuron_sweep(torch.randn(5, 40, 100, generator=_g()), [f"1 − S = {p:g}" for p in DENSITIES20[:5].tolist()],
                                        importance=importance_decay(100, 0.99), active=2)


PLOTLY = {
    "features.plot_readout_sweep": _readout_sweep,
    "privileged.plot_neuron_sweep (100 features)": _neuron_sweep_100,
    "privileged.plot_neuron_sweep": _neuron_sweep,
    "superposition.plot_features_sweep": _features_sweep,
    "memorization.plot_memorization_sweep": lambda: memorization.plot_memorization_sweep(_tiny_double_descent()),
}


def plotly_font_sizes(fig) -> dict[str, float]:
    """Every font size a plotly figure asks for (``path → px``), with plotly's defaults where
    the figure sets none: 12 px for text, 16 px for subplot titles (annotations that set none
    inherit the layout's font)."""
    layout = fig.to_plotly_json()["layout"]
    base = (layout.get("font") or {}).get("size") or 12
    sizes = {"layout.font": base}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("font") and isinstance(value, dict) and value.get("size") is not None:
                    sizes[f"{path}.{key}"] = value["size"]
                walk(value, f"{path}.{key}")
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk({k: v for k, v in layout.items() if k != "template"}, "layout")
    for i, trace in enumerate(fig.data):
        walk(trace.to_plotly_json(), f"data[{i}]")
    return sizes


# -- the tests -----------------------------------------------------------------------------------
def _public(kind: str) -> set[str]:
    found = set()
    for topic in TOPICS:
        module = importlib.import_module(f"superpos_lib.{topic}")
        for name in module.__all__:
            obj = getattr(module, name)
            if kind == "plot" and name.startswith("plot_") and inspect.isfunction(obj):
                found.add(f"{topic}.{name}")
            if kind == "frame" and inspect.isclass(obj) and issubclass(obj, Frame):
                found.add(f"{topic}.{name}")
    return found


def test_every_figure_and_frame_is_checked():
    checked = {name.split(" ")[0] for name in [*FIGURES, *PLOTLY]}
    assert _public("plot") <= checked, f"add to FIGURES or PLOTLY: {sorted(_public('plot') - checked)}"
    assert _public("frame") <= set(FRAMES), f"add to FRAMES: {sorted(_public('frame') - set(FRAMES))}"


@pytest.mark.parametrize("name", FIGURES)
def test_static_figure_is_readable_and_laid_out(name):
    fig = FIGURES[name]()
    width = fig.get_size_inches()[0] * 100
    assert_readable(fig, dpi=100)
    assert_laid_out(fig, dpi=100)
    assert width <= SITE_FIGURE_PX + 1e-6, f"{width:.0f} px wide: the site shrinks it to {SITE_FIGURE_PX}"


@pytest.mark.parametrize("name", FRAMES)
def test_explorer_frame_is_readable_and_laid_out(name):
    for fig in FRAMES[name]():
        width = fig.get_size_inches()[0] * Frame.DPI
        assert width == pytest.approx(SITE_FIGURE_PX), "frames fill the page's width, shown one to one"
        assert_readable(fig, dpi=Frame.DPI)
        assert_laid_out(fig, dpi=Frame.DPI)


@pytest.mark.parametrize("name", PLOTLY)
def test_plotly_fonts_are_readable(name):
    small = {path: size for path, size in plotly_font_sizes(PLOTLY[name]()).items() if size < MIN_TEXT_PX}
    assert not small, f"fonts below {MIN_TEXT_PX} px: {small}"


def save_all(out: Path) -> None:
    """Every figure as the site shows it: static figures at 100 dpi, frames at their export dpi."""
    import io

    out.mkdir(parents=True, exist_ok=True)
    for name, build in FIGURES.items():
        fig = build()
        fig.savefig(out / f"{name.replace(' ', '_')}.png", dpi=100, bbox_inches="tight")
    for name, build in FRAMES.items():
        for k, fig in enumerate(build()):
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=Frame.DPI)
            (out / f"{name}_{k}.png").write_bytes(buf.getvalue())


if __name__ == "__main__":
    save_all(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/figs"))
