"""Superposition and adversarial examples (TMS §"Superposition and Adversarial Examples").

The question: how small a change to the input moves one output by a fixed amount ``delta``?
Start from feature ``j`` alone at value ``base`` (output ``j`` then reads about ``base``) and
ask for the smallest perturbation, in L2 or L∞, that raises output ``j`` by ``delta``.

* For TMS's ReLU-output model ``x' = ReLU(WᵀW x + b)`` the answer is exact. Output ``j``'s
  pre-activation is linear, ``z_j(x) = a·x + b_j`` with ``a = W_jᵀ W`` (row ``j`` of the Gram
  matrix), so raising the output by ``delta`` needs ``a·Δ >= c`` with
  ``c = delta + ReLU(z_j) - z_j`` at the base point, and the smallest such ``Δ`` has
  ``‖Δ‖₂ = c / ‖a‖₂`` and ``‖Δ‖∞ = c / ‖a‖₁``. Since ``‖a‖₂² = ‖W_j‖⁴ / D_j``, the L2 answer is
  ``c √D_j / ‖W_j‖²``: a feature's dimensionality *is* its L2 robustness.
* For any other model, :func:`min_perturbation` searches: projected gradient ascent on the
  output inside a ball of radius ``ε``, and bisection on ``ε``. What it finds is a perturbation
  that works, so its ``ε`` can only overstate the smallest one (it understates vulnerability).
  On the ReLU-output model it matches the exact answer (the tests check this).

Vulnerability is reported as ``delta / ε``: 1 when only feature ``j``'s own input can move
its output (with unit slope), more when other features' inputs can too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor

from ..checks import check_choice, check_number, check_positive_int, check_weights

__all__ = ["NORMS", "relu_output_min_perturbation", "min_perturbation", "single_feature_inputs"]

NORMS = ("l2", "linf")


def relu_output_min_perturbation(
    W: Float[Tensor, "inst d_hidden feats"],
    b: Float[Tensor, "inst feats"],
    *,
    delta: float = 0.25,
    base: float = 0.5,
) -> dict[str, Float[Tensor, "inst feats"]]:
    """The exact smallest L2 and L∞ perturbations raising output ``j`` of ``ReLU(WᵀW x + b)`` by
    ``delta`` from ``x = base · e_j``, for every feature ``j`` (``inf`` where ``a = 0``)."""
    W = check_weights(W).float()
    if not isinstance(b, Tensor) or tuple(b.shape) != (W.shape[0], W.shape[2]):
        raise ValueError(f"b must have shape {(W.shape[0], W.shape[2])}, got {getattr(b, 'shape', b)!r}")
    delta = check_number(delta, "delta", low=0, low_open=True)
    base = check_number(base, "base")
    G = W.mT @ W  # inst feats feats; row j is a
    z = base * torch.diagonal(G, dim1=1, dim2=2) + b.float()
    c = delta + torch.relu(z) - z
    out = {}
    for norm, dual in (("l2", G.norm(dim=2)), ("linf", G.abs().sum(dim=2))):
        out[norm] = torch.where(dual > 0, c / dual.clamp_min(1e-30), torch.full_like(c, float("inf")))
    return out


def single_feature_inputs(n_inst: int, n_features: int, base: Float[Tensor, "inst feats"] | float) -> Float[Tensor, "inst feats feats"]:
    """Row ``j`` of instance ``i`` is feature ``j`` alone at ``base[i, j]``: the attacks' start points."""
    check_positive_int(n_inst, "n_inst")
    check_positive_int(n_features, "n_features")
    base = torch.as_tensor(base, dtype=torch.float32).expand(n_inst, n_features)
    return torch.diag_embed(base)


def _project(delta: Tensor, eps: Tensor, norm: str) -> Tensor:
    if norm == "linf":
        return torch.maximum(torch.minimum(delta, eps[..., None]), -eps[..., None])
    n = delta.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return delta * torch.clamp(eps[..., None] / n, max=1.0)


def _step(grad: Tensor, size: Tensor, norm: str) -> Tensor:
    if norm == "linf":
        return size[..., None] * grad.sign()
    return size[..., None] * grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _max_gain(model: Callable[[Tensor], Tensor], x0: Tensor, y0: Tensor, eps: Tensor, norm: str,
              steps: int, generator: torch.Generator, restarts: int) -> Tensor:
    """Projected gradient ascent: the largest rise of output ``j`` (row ``j``) found within
    ``eps``, from the start point and from ``restarts - 1`` random points of the ball."""
    gains = [_ascend(model, x0, y0, eps, norm, steps, generator, start=k) for k in range(restarts)]
    return torch.stack(gains).amax(dim=0)


def _ascend(model: Callable[[Tensor], Tensor], x0: Tensor, y0: Tensor, eps: Tensor, norm: str,
            steps: int, generator: torch.Generator, start: int) -> Tensor:
    idx = torch.arange(x0.shape[1])
    noise = torch.randn(x0.shape, generator=generator).to(x0)
    if start == 0:  # the start point itself (a little noise breaks ties of a zero gradient)
        delta = 1e-3 * eps[..., None] * noise
    else:  # a random point of the ball: reaches outputs that start at 0 with no gradient
        delta = _project(_step(noise, eps * 0.5, norm), eps, norm)
    best = torch.full_like(eps, -float("inf"))
    for t in range(steps):
        delta.requires_grad_(True)
        gain = model(x0 + delta)[:, idx, idx] - y0
        (grad,) = torch.autograd.grad(gain.sum(), delta)
        with torch.no_grad():
            best = torch.maximum(best, gain.detach())
            size = eps * (0.5 * (1 - t / steps) + 0.02)
            delta = _project(delta.detach() + _step(grad, size, norm), eps, norm)
    with torch.no_grad():
        return torch.maximum(best, model(x0 + delta)[:, idx, idx] - y0)


def min_perturbation(
    model: Callable[[Float[Tensor, "inst batch feats"]], Float[Tensor, "inst batch feats"]],
    base: Float[Tensor, "inst feats"],
    *,
    delta: float = 0.25,
    norm: str = "linf",
    max_eps: float = 2.0,
    steps: int = 30,
    bisections: int = 14,
    restarts: int = 1,
    seed: int = 0,
) -> Float[Tensor, "inst feats"]:
    """The smallest perturbation found (``‖Δ‖`` in ``norm``) that raises output ``j`` by ``delta``
    from feature ``j`` alone at ``base[:, j]``, for every instance and feature at once.

    ``model`` maps ``(inst, batch, feats)`` inputs to outputs of the same shape. Each radius is
    searched from the start point and from ``restarts - 1`` random points of the ball. The
    search follows the gradient, so it suits outputs that are active at the start (the chapter
    attacks computed sides only); an output that starts at 0 has no gradient there, and unless a
    random restart lands where it is active, the search overstates its ``ε``. Entries whose
    output the search cannot raise by ``delta`` within ``max_eps`` are ``inf``.
    """
    check_choice(norm, "norm", NORMS)
    delta = check_number(delta, "delta", low=0, low_open=True)
    max_eps = check_number(max_eps, "max_eps", low=0, low_open=True)
    steps = check_positive_int(steps, "steps")
    bisections = check_positive_int(bisections, "bisections")
    restarts = check_positive_int(restarts, "restarts")
    if not isinstance(base, Tensor) or base.ndim != 2:
        raise ValueError(f"base must be a tensor of shape (inst, feats), got {getattr(base, 'shape', base)!r}")
    generator = torch.Generator().manual_seed(seed)
    x0 = single_feature_inputs(*base.shape, base.detach().float().cpu())
    try:
        device = next(iter(getattr(model, "parameters")())).device
    except (AttributeError, StopIteration, TypeError):
        device = torch.device("cpu")
    x0 = x0.to(device)
    idx = torch.arange(base.shape[1])
    with torch.no_grad():
        y0 = model(x0)[:, idx, idx]
    lo = torch.zeros(base.shape, device=device)
    hi = torch.full(base.shape, max_eps, device=device)
    reachable = _max_gain(model, x0, y0, hi, norm, steps, generator, restarts) >= delta
    for _ in range(bisections):
        mid = (lo + hi) / 2
        ok = _max_gain(model, x0, y0, mid, norm, steps, generator, restarts) >= delta
        hi = torch.where(ok, mid, hi)
        lo = torch.where(ok, lo, mid)
    return torch.where(reachable, hi, torch.full_like(hi, float("inf"))).cpu()
