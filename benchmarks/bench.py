"""Speed and quality of superpos_lib's training against the official TMS recipe, in one run.

Prints one JSON object. The workload is TMS's intro sweep: n=5 features, m=2 dimensions,
importance 0.9^i, densities p = 20^(-k/9) for k = 0..9, 4 seeds per density (40 instances).

* ``intro_reference_s``: the official recipe written plainly (as in ARENA 3.0 [1.3.1]): a
  batch-major model with einsum and autograd, ``torch.optim.AdamW`` (lr 1e-3, weight decay
  0.01), 1,024 fresh samples per step drawn as a mask and a value, 10,000 steps.
* ``intro_ours_s``: the library's default recipe on the same 40 instances (median of 3 runs).
* ``intro_loss_ratio_max``: over the 10 densities, our best-of-4-seeds loss divided by the
  reference's, both on one shared evaluation set of 2^19 samples per instance. Both recipes
  start every instance from the same ``xavier_normal_`` weights: which basin a toy model ends
  in (which feature a pentagon or a pair leaves out) depends mostly on where it starts, so with
  different starts the best-of-4 comparison measures luck (the reference against itself, from
  different seeds, exceeds 1.02 in about 4 runs in 10).
  The reference runs at its best thread count: 300 steps are timed at 1 and at 2 threads and the
  faster count runs the 10,000 (``intro_reference_threads``); small-tensor loops are very
  sensitive to it (31 s on torch 2.14.1 at 2 threads, 179 s on 2.13.0, 40-44 s at 1 on both).
* ``<explorer>_retrain_s`` for every explorer of the book (``superposition_explorer``,
  ``neuron_explorer``, ``composition_explorer``, ``decomposition_explorer``,
  ``phase_explorer``, ``sae_explorer``): the median latency of one update (move the controls,
  retrain, draw live frames and the final figure) over its default setting and each control
  at each end of its range, timed *after* the heavy training above in the same process, as a
  reader's kernel is after running a chapter; ``<explorer>_retrain_max_s`` the slowest setting,
  ``<explorer>_retrain_s_runs`` every one.
* ``uniform_sweep_s``: chapter 6's uniform sweep (n=200, m=20, twenty densities ``20^(-k/19)``,
  the library's 1,000 steps on batches of 256, one batched model), with its result:
  ``uniform_half_max`` features within 0.005 of D = 1/2 at the best density with 1/(1-S) in
  [2.2, 3.5] and ``uniform_plateau`` the range of 1/(1-S) with at least ten there.
  ``uniform_reference_s`` is the plain recipe above (ARENA's: AdamW at lr 1e-3, batch 1,024,
  10,000 steps, the twenty instances batched) on the same model, timed on
  ``uniform_reference_timed_steps`` steps and scaled to 10,000 (ARENA quotes about half an
  hour on one core); ``uniform_speedup`` the ratio.
* ``computation_sweep_s``: chapter 7's sweep of absolute-value models (n=100, m=40, five
  densities, importance 0.99^i, 2,000 steps on batches of 512, one batched model with
  hand-written gradients), with ``computation_sides`` and ``computation_polysemantic`` per
  density. ``computation_reference_s`` is ARENA's recipe written plainly (batch-major einsum
  model, autograd, ``torch.optim.Adam`` at lr 1e-3, batch 1,024, 5,000 steps, the densities as
  instances of one model: ARENA quotes about 3.5 minutes); ``computation_loop_s`` the same
  recipe one density at a time, the plain loop. Both are timed on
  ``computation_reference_timed_steps`` steps and scaled to 5,000; ``computation_speedup`` is
  ``computation_reference_s / computation_sweep_s``.
* ``memorization_sweep_s``: chapter 8's double-descent sweep (n=200, m=2, 1-S=0.05, twelve
  dataset sizes from 3 to 500, three seeds each, 2,500 full-batch AdamW steps, sizes batched in
  buckets with hand-written gradients), with ``memorization_peak_size``, the size where the
  best seed's test loss peaks, and ``memorization_peak_ratio``, the peak over the larger end.
  ``memorization_reference_s`` is the paper's schedule written plainly (one model at a time,
  autograd, ``torch.optim.AdamW`` at lr 1e-3 with weight decay 1e-2, 2,500 warm-up steps then
  cosine, 50,000 full-batch steps), ``memorization_plain_s`` the same plain loop on our
  2,500-step schedule; both are timed on ``memorization_timed_steps`` steps per size and scaled
  to their length and the three seeds. ``memorization_speedup`` is
  ``memorization_reference_s / memorization_sweep_s``.
* ``sae_speedup``: eight ReLU + L1 SAEs (64 → 128, eight λ, 300 steps of 512) trained as one
  batched model, against eight textbook PyTorch SAEs one after another (``sae_steps_per_s``,
  ``sae_naive_steps_per_s``); ``sae_recovery_*``: one ReLU + L1 SAE on Sharkey et al.'s full-size
  ground truth (d = 256, 512 features, 5 active, 2,000 steps of 1,024); ``sae_kinds``: every
  variant on that ground truth (k = 5 for the k-based kinds), its training time ``s`` and its
  ``mmcs``, ``l0``, ``fvu`` and ``dead`` fraction.
* ``lm_tokens_per_s``: the language model's training throughput (characters per second, the
  shipped recipe: batches of 32 x 128, AdamW), timed over ``lm_timed_steps`` steps after a few
  warm-up steps; ``lm_sae_tokens_per_s``: the shipped SAE's (TopK, 512 -> 2,048, k = 16, batches
  of 1,024 activations; one activation per character), from two runs that differ by
  ``lm_timed_steps`` steps (so its set-up is not counted).
* ``phase_grid_s``: chapter 5's phase diagram, ``phase_grid_models`` models (20 x 20 cells of
  ``(r, p)`` for n=2, m=1, 4 seeds each) trained as one batch; ``phase_grid_agreement`` its
  agreement with the analysis away from the boundary. ``phase_grid_loop_s`` is the naive
  alternative, one training per cell (its 4 seeds batched), timed on 10 cells and scaled to
  400; ``phase_grid_speedup`` the ratio.

Usage: ``python benchmarks/bench.py [--quick] [--device cpu|cuda]``. ``--quick`` shrinks every
workload so the script itself can be tested in seconds; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import math
import json
import statistics
import time
from dataclasses import replace

import torch

from superpos_lib import computation, geometry, lm, memorization, phases
from superpos_lib import sae as S
from superpos_lib.data import FeatureSampler, importance_decay, log_densities
from superpos_lib.models import ToyModel, ToyModelConfig, evaluate_loss
from superpos_lib.runtime import cpu_threads, get_device, steady_memory
from superpos_lib.training import TrainConfig, train
from superpos_lib.widgets import EXPLORERS

N_FEATURES, D_HIDDEN, SEEDS = 5, 2, 4


def intro_setup(device):
    p = log_densities(10, 0.05).repeat_interleave(SEEDS)  # (40,)
    n_inst = p.numel()
    feature_probability = p[:, None].expand(n_inst, N_FEATURES).contiguous()
    importance = importance_decay(N_FEATURES, 0.9).expand(n_inst, N_FEATURES).contiguous()
    torch.manual_seed(0)
    W0 = torch.empty(n_inst, D_HIDDEN, N_FEATURES)
    for k in range(n_inst):
        torch.nn.init.xavier_normal_(W0[k])
    return feature_probability.to(device), importance.to(device), W0.to(device)


def reference_recipe(feature_probability, importance, W0, steps, batch=1024):
    """The official recipe, written plainly: what a careful first implementation looks like."""
    n_inst, n_feats = feature_probability.shape
    W = W0.clone().requires_grad_()
    b_final = torch.zeros(n_inst, n_feats, device=W0.device, requires_grad=True)
    opt = torch.optim.AdamW([W, b_final], lr=1e-3, weight_decay=0.01)
    for _ in range(steps):
        values = torch.rand(n_inst, batch, n_feats, device=W0.device)
        present = torch.rand(n_inst, batch, n_feats, device=W0.device) <= feature_probability[:, None, :]
        x = torch.where(present, values, 0.0)
        h = torch.einsum("ibf,ihf->ibh", x, W)
        out = torch.relu(torch.einsum("ibh,ihf->ibf", h, W) + b_final[:, None, :])
        loss = (importance[:, None, :] * (x - out) ** 2).mean(dim=(1, 2)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return W.detach(), b_final.detach()


def our_recipe(feature_probability, importance, W0, config):
    model = ToyModel(ToyModelConfig(N_FEATURES, D_HIDDEN, W0.shape[0]), device=W0.device)
    with torch.no_grad():
        model.W.copy_(W0)
    sampler = FeatureSampler(feature_probability, config.batch_size, seed=0, device=W0.device)
    train(model, sampler.sample, config, loss_args=(importance,), progress=False)
    return model.W.detach(), model.b_final.detach()


def shared_eval(W, b_final, feature_probability, importance, n_samples):
    model = ToyModel.from_weights(W, b_final, device=W.device)
    return evaluate_loss(model, feature_probability, importance, n_samples=n_samples, seed=2024).cpu()


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny workloads, to test the script")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    args = parser.parse_args()
    steady_memory()  # as every chapter's setup cell does: time what a reader's kernel runs
    device = get_device(args.device)
    ref_steps = 200 if args.quick else 10_000
    ours = TrainConfig(steps=50) if args.quick else TrainConfig()
    n_eval = 2**12 if args.quick else 2**19
    repeats = 1 if args.quick else 3

    p, imp, W0 = intro_setup(device)
    ref_threads = best_reference_threads(p, imp, W0, 20 if args.quick else 300) if device.type == "cpu" else None
    _sync(device)
    t = time.perf_counter()
    with cpu_threads(ref_threads):
        W_ref, b_ref = reference_recipe(p, imp, W0, ref_steps)
    _sync(device)
    reference_s = time.perf_counter() - t

    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        W_ours, b_ours = our_recipe(p, imp, W0, ours)
        _sync(device)
        times.append(time.perf_counter() - t)
    ours_s = statistics.median(times)

    loss_ref = shared_eval(W_ref, b_ref, p, imp, n_eval).view(10, SEEDS)
    loss_ours = shared_eval(W_ours, b_ours, p, imp, n_eval).view(10, SEEDS)
    ratio = loss_ours.min(1).values / loss_ref.min(1).values
    same_basin = ((loss_ours - loss_ref).abs() / loss_ref < 0.005).float().mean().item()

    side = 4 if args.quick else 20
    grid_config = TrainConfig(steps=50, batch_size=256) if args.quick else TrainConfig(batch_size=256)
    r_grid, p_grid = torch.logspace(-1, 1, side), torch.logspace(0, -2, side)
    _sync(device)
    t = time.perf_counter()
    grid = phases.train_phase_grid(r_grid, p_grid, n_seeds=4, train_config=grid_config, device=device, progress=False)
    _sync(device)
    grid_s = time.perf_counter() - t
    n_loop = 2 if args.quick else 10
    t = time.perf_counter()
    for k in range(n_loop):
        phases.train_phase_grid(r_grid[k % side : k % side + 1], p_grid[k // side : k // side + 1], n_seeds=4,
                                train_config=grid_config, device=device, progress=False)
    _sync(device)
    loop_s = (time.perf_counter() - t) / n_loop * side * side
    uniform = uniform_benchmarks(args.quick, device, ref_threads)
    computing = computation_benchmarks(args.quick, device, ref_threads)
    memorizing = memorization_benchmarks(args.quick, device, ref_threads)
    sae_figures = sae_benchmarks(args.quick, device)
    lm_figures = lm_benchmarks(args.quick, device)
    latency = explorer_latencies(args.quick, device)  # after all the training above, as in a reader's kernel

    return {
        **sae_figures,
        **lm_figures,
        **uniform,
        **computing,
        **memorizing,
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "torch_threads": torch.get_num_threads(),
        "quick": args.quick,
        "intro_instances": int(W0.shape[0]),
        "intro_reference_steps": ref_steps,
        "intro_ours_steps": ours.steps,
        "intro_reference_s": round(reference_s, 3),
        "intro_reference_threads": ref_threads or torch.get_num_threads(),
        "intro_ours_s": round(ours_s, 3),
        "intro_ours_s_runs": [round(x, 3) for x in times],
        "intro_speedup": round(reference_s / ours_s, 1),
        "intro_loss_ratio_max": round(ratio.max().item(), 4),
        "intro_loss_ratio_per_density": [round(x, 4) for x in ratio.tolist()],
        "intro_best_loss_reference": [round(x, 6) for x in loss_ref.min(1).values.tolist()],
        "intro_best_loss_ours": [round(x, 6) for x in loss_ours.min(1).values.tolist()],
        "intro_same_basin_share": round(same_basin, 3),
        "phase_grid_models": grid.n_models,
        "phase_grid_s": round(grid_s, 3),
        "phase_grid_agreement": round(grid.agreement(), 4),
        "phase_grid_loop_s": round(loop_s, 2),
        "phase_grid_speedup": round(loop_s / grid_s, 1),
        **latency,
    }


def naive_sae_steps(data, d_sae: int, lam: float, steps: int, batch: int, device) -> None:
    """The baseline: one textbook PyTorch SAE (nn.Linear layers, torch.optim.Adam, unit-norm
    decoder), trained alone; a sweep runs this once per setting."""
    from torch import nn

    d_in = data.d_in
    enc, dec = nn.Linear(d_in, d_sae).to(device), nn.Linear(d_sae, d_in).to(device)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-2)
    for _ in range(steps):
        x = data.sample(batch)
        f = torch.relu(enc(x - dec.bias))
        loss = (dec(f) - x).square().sum(-1).mean() + lam * f.sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            dec.weight /= dec.weight.norm(dim=0, keepdim=True)


def best_reference_threads(feature_probability, importance, W0, steps: int) -> int:
    """The faster of 1 and 2 CPU threads for the reference recipe, timed on ``steps`` steps each."""
    seconds = {}
    for threads in (1, 2):
        with cpu_threads(threads):
            t = time.perf_counter()
            reference_recipe(feature_probability, importance, W0, steps)
            seconds[threads] = time.perf_counter() - t
    return min(seconds, key=seconds.get)


def explorer_settings(explorer) -> list[dict]:
    """The default setting, then each control at each end of its range (or each other option)."""
    defaults = dict(explorer.settings)
    settings = [defaults]
    for name, control in explorer.controls.items():
        if hasattr(control, "options"):
            ends = [o[1] if isinstance(o, tuple) else o for o in control.options]
        else:
            ends = list(explorer.bounds(name, defaults))
        settings += [{**defaults, name: v} for v in ends if v != defaults[name]]
    return settings


def explorer_latencies(quick: bool, device) -> dict:
    """Every explorer's update latency at its defaults and the ends of every control."""
    out = {}
    for cls in EXPLORERS:
        explorer = cls.demo(device=device)
        if quick and hasattr(explorer, "train_config"):
            explorer.train_config = replace(explorer.train_config, steps=20)
        runs = []
        for setting in explorer_settings(explorer)[: 2 if quick else None]:
            t = time.perf_counter()
            explorer.update(**setting)
            runs.append(time.perf_counter() - t)
        explorer.update(**explorer_settings(explorer)[0])
        key = cls.key()
        out[f"{key}_retrain_s"] = round(statistics.median(runs), 3)
        out[f"{key}_retrain_max_s"] = round(max(runs), 3)
        out[f"{key}_retrain_s_runs"] = [round(x, 3) for x in runs]
    return out


def uniform_benchmarks(quick: bool, device, ref_threads: int | None) -> dict:
    """Chapter 6's uniform sweep, batched with the library's recipe, against the plain recipe."""
    n, m, k = (40, 4, 4) if quick else (200, 20, 20)
    config = TrainConfig(steps=50, batch_size=256) if quick else geometry.SWEEP_TRAINING
    _sync(device)
    t = time.perf_counter()
    sweep = geometry.uniform_sweep(n, m, n_densities=k, train_config=config, device=device, progress=False)
    _sync(device)
    ours_s = time.perf_counter() - t
    inv = sweep.inverse_density
    window = (inv >= 2.2) & (inv <= 3.5)
    half = sweep.count_near(0.5, tol=0.005)
    p = sweep.density[:, None].expand(k, n).contiguous().to(device)
    torch.manual_seed(0)
    W0 = torch.empty(k, m, n)
    for i in range(k):
        torch.nn.init.xavier_normal_(W0[i])
    timed = 20 if quick else 200
    _sync(device)
    t = time.perf_counter()
    with cpu_threads(ref_threads):
        reference_recipe(p, torch.ones(k, n, device=device), W0.to(device), timed)
    _sync(device)
    reference_s = (time.perf_counter() - t) * 10_000 / timed
    return {
        "uniform_sweep_s": round(ours_s, 3),
        "uniform_half_max": int(half[window].max()) if window.any() else 0,
        "uniform_plateau": sweep.plateau(0.5, tol=0.005, min_features=10),
        "uniform_reference_timed_steps": timed,
        "uniform_reference_s": round(reference_s, 1),
        "uniform_speedup": round(reference_s / ours_s, 1),
    }


def computation_reference(feature_probability, importance, d_hidden: int, steps: int, batch: int = 1024) -> None:
    """ARENA's absolute-value recipe written plainly: batch-major einsum model, autograd,
    ``torch.optim.Adam`` at lr 1e-3, fresh signed samples each step (a mask and a value)."""
    n_inst, n = feature_probability.shape
    device = feature_probability.device
    W1 = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(n_inst, d_hidden, n, device=device)))
    W2 = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(n_inst, n, d_hidden, device=device)))
    b = torch.nn.Parameter(torch.zeros(n_inst, n, device=device))
    opt = torch.optim.Adam([W1, W2, b], lr=1e-3)
    for _ in range(steps):
        mag = 2 * torch.rand(batch, n_inst, n, device=device) - 1
        x = torch.where(torch.rand(batch, n_inst, n, device=device) < feature_probability, mag, 0.0)
        h = torch.relu(torch.einsum("bif,ihf->bih", x, W1))
        y = torch.relu(torch.einsum("bih,ifh->bif", h, W2) + b)
        loss = (importance * (x.abs() - y) ** 2).mean(dim=(0, 2)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()


def computation_benchmarks(quick: bool, device, ref_threads: int | None) -> dict:
    """Chapter 7's sweep, batched with hand-written gradients, against ARENA's plain recipe."""
    n, m = (20, 8) if quick else (100, 40)
    config = TrainConfig(steps=50, batch_size=256) if quick else computation.COMPUTATION_TRAINING
    densities = computation.DENSITIES
    _sync(device)
    t = time.perf_counter()
    sweep = computation.computation_sweep(n, m, densities, train_config=config, device=device)
    _sync(device)
    ours_s = time.perf_counter() - t
    k = len(densities)
    p = torch.tensor(densities, device=device)[:, None].expand(k, n).contiguous()
    imp = importance_decay(n, computation.DECAY).to(device)
    timed = 10 if quick else 200
    torch.manual_seed(0)
    _sync(device)
    t = time.perf_counter()
    with cpu_threads(ref_threads):
        computation_reference(p, imp, m, timed)
    _sync(device)
    reference_s = (time.perf_counter() - t) * 5_000 / timed
    t = time.perf_counter()
    with cpu_threads(ref_threads):
        for i in range(k):
            computation_reference(p[i : i + 1], imp, m, timed // k)
    _sync(device)
    loop_s = (time.perf_counter() - t) * 5_000 / (timed // k)
    return {
        "computation_sweep_s": round(ours_s, 3),
        "computation_sides": sweep.n_sides.tolist(),
        "computation_polysemantic": sweep.n_polysemantic.tolist(),
        "computation_reference_timed_steps": timed,
        "computation_reference_s": round(reference_s, 1),
        "computation_loop_s": round(loop_s, 1),
        "computation_speedup": round(reference_s / ours_s, 1),
    }


def memorization_reference(X: torch.Tensor, d_hidden: int, steps: int, total_steps: int, lr: float,
                           warmup_steps: int) -> None:
    """One model on one fixed dataset ``X (T, n)``, the paper's way written plainly: autograd,
    ``torch.optim.AdamW`` (weight decay 1e-2), linear warm-up then cosine over ``total_steps``,
    full batch; runs the first ``steps`` of them."""
    n = X.shape[1]
    W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(d_hidden, n, device=X.device)))
    b = torch.nn.Parameter(torch.zeros(n, device=X.device))
    opt = torch.optim.AdamW([W, b], lr=lr, weight_decay=1e-2)

    def rate(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    for _ in range(steps):
        loss = ((torch.relu(X @ W.T @ W + b) - X) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


def memorization_benchmarks(quick: bool, device, ref_threads: int | None) -> dict:
    """Chapter 8's double-descent sweep against the paper's schedule written plainly."""
    sizes = (3, 8, 30) if quick else memorization.SIZES
    config = replace(memorization.MEMORIZATION_TRAINING, steps=50) if quick else memorization.MEMORIZATION_TRAINING
    seeds = 3
    _sync(device)
    t = time.perf_counter()
    dd = memorization.double_descent(sizes, n_seeds=seeds, train_config=config, device=device)
    _sync(device)
    ours_s = time.perf_counter() - t
    best = dd.best()
    peak = int(best.test_loss.argmax())
    ends = max(best.test_loss[0].item(), best.test_loss[-1].item())
    X, n_examples = memorization.finite_datasets(sizes, device=device)
    timed = 10 if quick else 100
    per_step = 0.0
    with cpu_threads(ref_threads):
        for k, T in enumerate(sizes):
            _sync(device)
            t = time.perf_counter()
            memorization_reference(X[k, :T], 2, timed, 50_000, 1e-3, 2_500)
            _sync(device)
            per_step += (time.perf_counter() - t) / timed
    return {
        "memorization_sweep_s": round(ours_s, 3),
        "memorization_peak_size": best.sizes[peak],
        "memorization_peak_ratio": round(best.test_loss[peak].item() / ends, 1),
        "memorization_timed_steps": timed,
        "memorization_reference_s": round(per_step * 50_000 * seeds, 1),
        "memorization_plain_s": round(per_step * config.steps * seeds, 1),
        "memorization_speedup": round(per_step * 50_000 * seeds / ours_s, 1),
    }


def lm_benchmarks(quick: bool, device) -> dict:
    """Training throughput of the language model and of its SAE, on the shipped recipes."""
    corpus = lm.load_corpus()
    steps, warm = (3, 1) if quick else (60, 5)
    recipe = lm.LMTrainConfig(steps=warm, eval_every=10**6)
    lm.train_lm(corpus, recipe, device=device, log=None)  # warm-up: first-call costs are not throughput
    run = lm.train_lm(corpus, replace(recipe, steps=steps), device=device, log=None)
    model = lm.load_model(device=device)
    acts = lm.collect_activations(model, corpus.train, 64 if quick else 512)
    sae_cfg = replace(lm.LM_SAE_TRAINING, steps=warm)
    seconds = []
    for n in (warm, warm + steps):  # the difference of the two is `steps` steps, without the set-up
        _sync(device)
        t = time.perf_counter()
        lm.train_lm_sae(acts, train_config=replace(sae_cfg, steps=n), device=device, progress=False)
        _sync(device)
        seconds.append(time.perf_counter() - t)
    sae_s = max(seconds[1] - seconds[0], 1e-9)
    return {"lm_timed_steps": steps, "lm_tokens_per_s": round(run.tokens_per_s, 1),
            "lm_sae_tokens_per_s": round(steps * sae_cfg.batch_size / sae_s, 1)}


def sae_benchmarks(quick: bool, device) -> dict:
    """SAE training throughput (batched sweep vs a loop of naive SAEs), the full-size
    ground-truth recovery (Sharkey et al.: d = 256, 512 features, 5 active)."""
    data = S.GroundTruthData(128, 64, device=device)
    lams = [0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    steps = 20 if quick else 300
    cfg = replace(S.SAE_TRAIN_CONFIG, steps=steps, batch_size=512)
    _sync(device)
    t = time.perf_counter()
    S.train_saes(data.batches(512), S.SAEConfig(64, 128, "relu_l1", n_inst=len(lams)), lams, train_config=cfg,
                 device=device, progress=False)
    _sync(device)
    batched_s = time.perf_counter() - t
    t = time.perf_counter()
    for lam in lams:
        naive_sae_steps(data, 128, lam, steps, 512, device)
    _sync(device)
    naive_s = time.perf_counter() - t

    full = S.GroundTruthData(512, 256, n_active=5, device=device)
    full_cfg = replace(S.SAE_TRAIN_CONFIG, steps=20) if quick else S.SAE_TRAIN_CONFIG
    _sync(device)
    t = time.perf_counter()
    run = S.train_saes(full.batches(1024), S.SAEConfig(256, 512, "relu_l1"), 0.1, train_config=full_cfg,
                       device=device, progress=False)
    _sync(device)
    recovery_s = time.perf_counter() - t
    ev_set = full.sample(2**14, generator=torch.Generator(device=full.device).manual_seed(7))
    ev = S.evaluate(run.sae, ev_set, true_directions=full.features)

    # every kind on the same full-size ground truth (k = 5, the true L0, for the k-based kinds)
    kinds = {}
    for kind, sparsity in [("relu_l1", 0.1), ("topk", 5), ("jumprelu", 0.01), ("gated", 0.1), ("batchtopk", 5),
                           ("matryoshka", 5)]:
        _sync(device)
        t = time.perf_counter()
        r = S.train_saes(full.batches(1024), S.SAEConfig(256, 512, kind), sparsity, train_config=full_cfg,
                         device=device, progress=False)
        _sync(device)
        seconds = time.perf_counter() - t
        m = S.evaluate(r.sae, ev_set, true_directions=full.features)
        kinds[kind] = {"s": round(seconds, 2), "mmcs": round(float(m.mmcs[0]), 4), "l0": round(float(m.l0[0]), 2),
                       "fvu": round(float(m.fvu[0]), 4), "dead": round(float(m.dead[0]), 4)}

    return {
        "sae_sweep_instances": len(lams),
        "sae_steps_per_s": round(len(lams) * steps / batched_s, 1),
        "sae_naive_steps_per_s": round(len(lams) * steps / naive_s, 1),
        "sae_speedup": round(naive_s / batched_s, 2),
        "sae_recovery_s": round(recovery_s, 2),
        "sae_recovery_mmcs": round(float(ev.mmcs[0]), 4),
        "sae_recovery_matched_mmcs": round(float(ev.matched_mmcs[0]), 4),
        "sae_recovery_l0": round(float(ev.l0[0]), 2),
        "sae_recovery_fvu": round(float(ev.fvu[0]), 4),
        "sae_recovery_dead": round(float(ev.dead[0]), 4),
        "sae_kinds": kinds,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
