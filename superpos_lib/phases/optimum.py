"""The exact optimum of the ``n = 2, m = 1`` model (TMS §5, "Superposition as a Phase Change").

The three candidates of :mod:`.diagram` are clean shapes with unit norms. The model has four
parameters, ``W = [w_0, w_1]`` and ``b = [b_0, b_1]``, and its best setting need not be any of
them. :func:`exact_loss` is the model's expected loss, computed exactly: the expectation splits
over the four presence patterns (neither feature, only one, only the other, both), and output
``i`` of ``x' = ReLU(WᵀWx + b)`` is a ReLU of a linear function of the values present, so each
pattern is a 0-, 1- or 2-D integral of a piecewise quadratic over the unit interval or square.
The 1-D pieces integrate in closed form; in the 2-D one the inner integral is closed form and
the outer one is Gauss-Legendre on the intervals between the ReLU's kinks, where the integrand
is a cubic polynomial, so three nodes per interval are exact.

:func:`exact_optimum` minimises it from several starts (the three candidates, symmetric and
lopsided pairs, random weights) with a Newton method that steps along the Hessian's absolute
eigenvalues, all starts and all densities in one batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..data import ArrayLike
from .diagram import _as_grid, classify_extra_feature

__all__ = ["ExactOptimum", "exact_loss", "exact_optimum"]

_GL_NODES = torch.tensor([0.5 - math.sqrt(0.15), 0.5, 0.5 + math.sqrt(0.15)], dtype=torch.float64)
_GL_WEIGHTS = torch.tensor([5 / 18, 8 / 18, 5 / 18], dtype=torch.float64)  # 3-point rule on [0, 1]


def _on_interval(alpha: Tensor, beta: Tensor) -> tuple[Tensor, Tensor]:
    """``[lo, hi] ⊂ [0, 1]``, the values of ``v`` where ``α v + β > 0`` (``lo = hi`` when none)."""
    safe = torch.where(alpha == 0, torch.ones_like(alpha), alpha)
    root = (-beta / safe).clamp(0, 1)
    zero, one = torch.zeros_like(root), torch.ones_like(root)
    lo = torch.where(alpha > 0, root, torch.where(alpha < 0, zero, torch.where(beta > 0, zero, one)))
    hi = torch.where(alpha < 0, root, one)
    return lo, hi


def _quadratic_integral(c2: Tensor, c1: Tensor, c0: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """``∫_lo^hi (c2 v² + c1 v + c0) dv``."""
    return c2 * (hi**3 - lo**3) / 3 + c1 * (hi**2 - lo**2) / 2 + c0 * (hi - lo)


def _output_error(a: Tensor, c: Tensor, beta: Tensor, p: Tensor) -> Tensor:
    """``E[(x_i − ReLU(a x_i + c x_j + β))²]`` for one output ``i`` (``a = w_i²``, ``c = w_i w_j``),
    ``x_i, x_j`` independent, each ``U[0, 1)`` with probability ``p`` and 0 otherwise."""
    neither = torch.relu(beta) ** 2
    # only x_i = u present: u² where the ReLU is off; (u - (a u + β))² where it is on
    lo, hi = _on_interval(a, beta)
    alone = 1 / 3 + _quadratic_integral(a**2 - 2 * a, 2 * (a - 1) * beta, beta**2, lo, hi)
    # only x_j = v present: the target is 0, the output ReLU(c v + β)
    lo, hi = _on_interval(c, beta)
    other = _quadratic_integral(c**2, 2 * c * beta, beta**2, lo, hi)
    # both: for x_i = u the output is ReLU(c v + β_u) with β_u = a u + β; integrate over v in
    # closed form, then over u on the pieces between the kinks β_u = 0 and β_u + c = 0
    safe_a = torch.where(a > 0, a, torch.ones_like(a))
    kinks = torch.stack([-beta / safe_a, -(beta + c) / safe_a], -1)
    kinks = torch.where((a > 0)[..., None], kinks, torch.zeros_like(kinks)).clamp(0, 1)
    zero = torch.zeros_like(kinks[..., :1])
    edges = torch.cat([zero, kinks.sort(-1).values, zero + 1], -1)       # (..., 4)
    width = edges.diff(dim=-1)                                           # (..., 3 pieces)
    u = edges[..., :-1, None] + width[..., None] * _GL_NODES.to(a)       # (..., 3 pieces, 3 nodes)
    beta_u = a[..., None, None] * u + beta[..., None, None]
    cc = c[..., None, None].expand_as(beta_u)
    lo, hi = _on_interval(cc, beta_u)
    inner = u**2 + _quadratic_integral(cc**2, 2 * cc * (beta_u - u), beta_u**2 - 2 * u * beta_u, lo, hi)
    both = ((inner * _GL_WEIGHTS.to(a)).sum(-1) * width).sum(-1)
    return (1 - p) ** 2 * neither + p * (1 - p) * (alone + other) + p**2 * both


def _loss_of_params(theta: Float[Tensor, "batch 4"], p: Tensor, r: Tensor) -> Tensor:
    """:func:`exact_loss` of ``θ = (w_0, w_1, b_0, b_1)``, unchecked."""
    w0, w1, b0, b1 = theta.unbind(-1)
    overlap = w0 * w1
    return (_output_error(w0**2, overlap, b0, p) + r * _output_error(w1**2, overlap, b1, p)) / 2


def exact_loss(
    W: Float[Tensor, "inst 1 2"], b_final: Float[Tensor, "inst 2"], p: ArrayLike, r: ArrayLike = 1.0
) -> Float[Tensor, "inst"]:
    """The exact expected loss of the ``n = 2, m = 1`` model ``x' = ReLU(WᵀWx + b)``.

    Both features have density ``p`` (each instance its own, or one for all) and values
    ``U[0, 1)``; importances ``(1, r)``. Averaged over the two features like
    :meth:`~superpos_lib.models.ToyModel.loss`, so the candidates of
    :func:`~superpos_lib.phases.candidate_losses` are this loss at their own weights.
    Differentiable; computed in float64.
    """
    if W.ndim != 3 or W.shape[1:] != (1, 2) or b_final.shape != (W.shape[0], 2):
        raise ValueError(f"W must be (inst, 1, 2) and b_final (inst, 2); got {tuple(W.shape)} and {tuple(b_final.shape)}")
    if not (torch.isfinite(W).all() and torch.isfinite(b_final).all()):
        raise ValueError("W and b_final must be finite (no NaN or inf)")
    r_t, p_t = _as_grid(r, p)
    if r_t.numel() not in (1, W.shape[0]):
        raise ValueError(f"p and r must be scalars or one value per instance ({W.shape[0]}), got shape {tuple(r_t.shape)}")
    theta = torch.cat([W[:, 0], b_final], -1).double()                  # (inst, 4)
    return _loss_of_params(theta, p_t.flatten().to(theta.device), r_t.flatten().to(theta.device))


def _saddle_free_newton(theta: Tensor, p: Tensor, r: Tensor, iters: int, tol: float) -> Tensor:
    """Minimise every row of ``θ`` independently: Newton steps on ``|H| + λ`` (descent even at a
    saddle), each row's ``λ`` shrunk after a step that lowers its loss and grown (the step
    refused) after one that does not. A row is done when its gradient is below ``tol`` or its
    steps have become negligible (``λ > 1e8``)."""
    lam = torch.full(theta.shape[:1], 1e-3, dtype=theta.dtype)
    eye = torch.eye(theta.shape[1], dtype=theta.dtype)[:, None, :].expand(-1, *theta.shape)  # one row of e_k per k
    for _ in range(iters):
        th = theta.detach().requires_grad_(True)
        loss = _loss_of_params(th, p, r)
        (g,) = torch.autograd.grad(loss.sum(), th, create_graph=True)
        (H,) = torch.autograd.grad(g, th, eye, is_grads_batched=True)    # (k, batch, 4): row k of each H
        g, loss = g.detach(), loss.detach()
        H = H.permute(1, 0, 2).detach()
        done = (g.abs().amax(-1) < tol) | (lam > 1e8)
        if done.all():
            break
        evals, evecs = torch.linalg.eigh((H + H.mT) / 2)
        scale = 1 / (evals.abs() + lam[:, None])
        step = -(evecs @ (scale[..., None] * (evecs.mT @ g[..., None])))[..., 0]
        new = theta + torch.where(done[:, None], 0.0, step)
        with torch.no_grad():
            better = _loss_of_params(new, p, r) < loss
        theta = torch.where(better[:, None], new, theta)
        lam = torch.where(done, lam, torch.where(better, (lam * 0.3).clamp(min=1e-12), lam * 10))
    return theta.detach()


def _starts(p: Tensor, n_random: int, seed: int) -> Tensor:
    """``(starts, grid, 4)`` starting points ``(w_0, w_1, b_0, b_1)`` for each density."""
    half = p / 2
    zero = torch.zeros_like(p)

    def at(w0, w1, b0, b1):
        return torch.stack([zero + w0, zero + w1, zero + b0, zero + b1], -1)

    fixed = [
        at(1.0, 0.0, 0.0, half),          # extra feature not represented
        at(0.0, 1.0, half, 0.0),          # extra feature in the dimension
        at(1.0, -1.0, 0.0, 0.0),          # antipodal pair
        at(0.8, -0.8, 0.2, 0.2),          # shrunk antipodal pair
        at(0.9, -0.4, 0.0, 0.2),          # lopsided pairs
        at(0.4, -0.9, 0.2, 0.0),
        at(0.7, 0.7, 0.0, 0.0),           # a pair with positive overlap
    ]
    gen = torch.Generator().manual_seed(seed)
    rand = torch.cat([torch.randn(n_random, 1, 2, generator=gen, dtype=torch.float64),
                      0.4 * torch.rand(n_random, 1, 2, generator=gen, dtype=torch.float64) - 0.1], -1)
    return torch.cat([torch.stack(fixed), rand.expand(-1, p.shape[0], -1)])


@dataclass(frozen=True)
class ExactOptimum:
    """The best weights of the ``n = 2, m = 1`` model at each density.

    Attributes:
        p, r: densities and relative importances, broadcast together (shape ``grid``).
        loss: ``grid``, the exact loss at the optimum (mean over the two features).
        W: ``(*grid, 1, 2)`` the optimal row ``[w_0, w_1]``, the longer feature's weight
            positive (``W`` and ``−W`` are the same model); at ``r = 1``, where the two
            features are alike, the longer one is feature 0.
        b: ``(*grid, 2)``.
        grad_norm: ``grid``, the largest gradient entry at the optimum (how well it converged).
    """

    p: Tensor
    r: Tensor
    loss: Tensor
    W: Tensor
    b: Tensor
    grad_norm: Tensor

    def __getitem__(self, index) -> ExactOptimum:
        """The optimum at some of the densities: ``opt[:10]``, ``opt[mask]`` (on the grid's axes)."""
        return ExactOptimum(self.p[index], self.r[index], self.loss[index], self.W[index], self.b[index],
                            self.grad_norm[index])

    @property
    def norms(self) -> Float[Tensor, "*grid 2"]:
        """``(|w_0|, |w_1|)``."""
        return self.W[..., 0, :].abs()

    @property
    def symmetric(self) -> Tensor:
        """``grid`` booleans: an antipodal or equal pair, ``|w_0| = |w_1|`` and ``b_0 = b_1``
        (within 1e-3), rather than a lopsided one."""
        return ((self.norms[..., 0] - self.norms[..., 1]).abs() < 1e-3) & ((self.b[..., 0] - self.b[..., 1]).abs() < 1e-3)

    @property
    def label(self) -> Int[Tensor, "*grid"]:
        """What the optimum does with the extra feature, read off its weights by
        :func:`~superpos_lib.phases.classify_extra_feature` (the rule applied to trained models)."""
        return classify_extra_feature(self.W.reshape(-1, 1, 2).float()).view(self.loss.shape)


def exact_optimum(p: ArrayLike, r: ArrayLike = 1.0, *, n_random: int = 4, seed: int = 0) -> ExactOptimum:
    """Minimise :func:`exact_loss` over ``(w_0, w_1, b_0, b_1)`` at each density ``p`` (and
    relative importance ``r``; the two broadcast together).

    Starts from the three clean candidates, shrunk symmetric and lopsided antipodal pairs, a
    pair with positive overlap and ``n_random`` random settings (from ``seed``), and keeps the
    best local minimum found: a numerical optimum, not a proof of global optimality.
    """
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 0:
        raise ValueError(f"n_random must be a non-negative integer, got {n_random!r}")
    r_t, p_t = _as_grid(r, p)
    shape = p_t.shape
    pf, rf = p_t.flatten(), r_t.flatten()
    starts = _starts(pf, n_random, seed)                                 # (S, G, 4)
    S, G = starts.shape[:2]
    p_rep, r_rep = pf.repeat(S), rf.repeat(S)
    theta = _saddle_free_newton(starts.reshape(S * G, 4), p_rep, r_rep, iters=60, tol=1e-10)
    with torch.no_grad():
        loss = _loss_of_params(theta, p_rep, r_rep).view(S, G)
    best = loss.argmin(0)
    theta = theta.view(S, G, 4)[best, torch.arange(G)]                   # (G, 4)
    swap = (rf == 1) & (theta[:, 1].abs() > theta[:, 0].abs())           # at r = 1 the features are alike
    theta = torch.where(swap[:, None], theta[:, [1, 0, 3, 2]], theta)
    longer = torch.where(theta[:, :1].abs() >= theta[:, 1:2].abs(), theta[:, :1], theta[:, 1:2])
    sign = torch.where(longer < 0, -1.0, 1.0).to(theta)                   # W and -W: the same model
    theta = torch.cat([theta[:, :2] * sign, theta[:, 2:]], -1)
    th = theta.clone().requires_grad_(True)
    final = _loss_of_params(th, pf, rf)
    (g,) = torch.autograd.grad(final.sum(), th)
    return ExactOptimum(
        p=p_t, r=r_t, loss=final.detach().view(shape), W=theta[:, None, :2].reshape(*shape, 1, 2),
        b=theta[:, 2:].reshape(*shape, 2), grad_norm=g.abs().amax(-1).view(shape),
    )
