"""Reading what an absolute-value model computes, from its weights alone.

A ReLU neuron is one-sided: ``ReLU(w x_i)`` follows ``|x_i|`` on one side of zero only. So
we read each feature's two *sides* separately. Feature ``i`` alone, at value ``v``, gives

    y_i(v) = ReLU(Σ_k W₂[i, k] ReLU(v W₁[k, i]) + b_i),

exactly (no sampling), and a side is *computed* when ``y_i(v)`` follows ``|v|`` there. Without
superposition a neuron serves at most one side of one feature, so ``m`` neurons compute at
most ``m`` sides (``m/2`` features); more sides than neurons is computation in superposition.

The asymmetric motif (TMS §7) is found from the same exact single-feature inputs: a neuron
that stores a *strong* feature and a *weak* one, whose output for the weak feature reads the
neuron, so that the strong feature alone would push that output up a lot, were it not
cancelled by other neurons (inhibition) and the output's bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from ..checks import check_number, check_positive_int

__all__ = [
    "check_absolute_weights",
    "feature_response",
    "computed_sides",
    "primary_neurons",
    "AsymmetricMotif",
    "find_asymmetric_motifs",
]


def check_absolute_weights(W1: object, W2: object, b: object) -> tuple[Tensor, Tensor, Tensor]:
    """The weights of absolute-value models as float tensors, or ``ValueError`` naming the one
    whose shape does not fit ``W1 (inst, d_hidden, feats)``, ``W2 (inst, feats, d_hidden)``,
    ``b (inst, feats)``."""
    out = []
    for value, name in ((W1, "W1"), (W2, "W2"), (b, "b")):
        if not isinstance(value, Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(value).__name__}")
        out.append(value.detach().float())
    W1, W2, b = out
    if W1.ndim != 3:
        raise ValueError(f"W1 must have shape (inst, d_hidden, feats), got {tuple(W1.shape)}")
    n_inst, d_hidden, n_feats = W1.shape
    if tuple(W2.shape) != (n_inst, n_feats, d_hidden):
        raise ValueError(f"W2 must have shape {(n_inst, n_feats, d_hidden)} to match W1, got {tuple(W2.shape)}")
    if tuple(b.shape) != (n_inst, n_feats):
        raise ValueError(f"b must have shape {(n_inst, n_feats)} to match W1, got {tuple(b.shape)}")
    return W1, W2, b


def feature_response(
    W1: Float[Tensor, "inst d_hidden feats"],
    W2: Float[Tensor, "inst feats d_hidden"],
    b: Float[Tensor, "inst feats"],
    values: Float[Tensor, "vals"],
) -> Float[Tensor, "inst feats vals"]:
    """``y_i(v)``: output ``i`` when feature ``i`` alone has value ``v`` (all others 0)."""
    W1, W2, b = check_absolute_weights(W1, W2, b)
    values = torch.as_tensor(values, dtype=torch.float32)
    if values.ndim != 1 or not torch.isfinite(values).all():
        raise ValueError(f"values must be a finite 1-D tensor, got shape {tuple(values.shape)}")
    h = torch.relu(values[None, None, :, None] * W1.mT[:, :, None, :])  # inst feats vals d_hidden
    return torch.relu(torch.einsum("ifvk,ifk->ifv", h, W2) + b[..., None])


def computed_sides(
    W1: Float[Tensor, "inst d_hidden feats"],
    W2: Float[Tensor, "inst feats d_hidden"],
    b: Float[Tensor, "inst feats"],
    *,
    tol: float = 0.2,
    n_values: int = 20,
) -> Bool[Tensor, "inst feats 2"]:
    """Which sides of each feature the model computes: ``[..., 0]`` negative, ``[..., 1]`` positive.

    A side is computed when the mean of ``|y_i(v) - |v||`` over ``n_values`` evenly spaced ``v``
    on it is below ``tol`` times the mean of ``|v|`` (1/2). An output stuck at 0 scores 1 and one
    stuck at the dense mean 1/2 scores 1/2, so the default ``tol = 0.2`` counts neither.
    """
    check_number(tol, "tol", low=0, low_open=True)
    check_positive_int(n_values, "n_values")
    v = (torch.arange(n_values, dtype=torch.float32) + 0.5) / n_values
    y = feature_response(W1, W2, b, torch.cat([-v.flip(0), v]))
    err = (y - torch.cat([v.flip(0), v])).abs()
    mean_abs = v.mean()
    neg = err[..., :n_values].mean(-1) / mean_abs
    pos = err[..., n_values:].mean(-1) / mean_abs
    return torch.stack([neg < tol, pos < tol], dim=-1)


def primary_neurons(W1: Float[Tensor, "inst d_hidden feats"], *, min_norm: float = 1e-2) -> Int[Tensor, "inst feats"]:
    """Per feature, how many neurons have it as their largest input weight (their primary
    feature); neurons with input norm below ``min_norm`` (dead) count for none."""
    if not isinstance(W1, Tensor) or W1.ndim != 3:
        raise ValueError(f"W1 must be a tensor of shape (inst, d_hidden, feats), got {getattr(W1, 'shape', W1)!r}")
    check_number(min_norm, "min_norm", low=0)
    W1 = W1.detach().float()
    top = W1.abs().argmax(dim=2)  # inst d_hidden
    alive = W1.norm(dim=2) > min_norm
    counts = torch.zeros(W1.shape[0], W1.shape[2], dtype=torch.long)
    counts.scatter_add_(1, top, alive.long())
    return counts


@dataclass(frozen=True)
class AsymmetricMotif:
    """One instance of the asymmetric motif, with the exact account of why it works.

    Neuron ``neuron`` fires for the ``strong`` feature on side ``strong_sign`` with input weight
    ``strong_weight`` and for the ``weak`` feature on side ``weak_sign`` with the smaller
    ``weak_weight``; output ``weak`` reads it with weight ``read``. With the strong feature alone
    at ``strong_sign * 1``, output ``weak`` is exactly ``ReLU(push + inhibition + bias)``:

    Attributes:
        push: the neuron's contribution ``read * strong_weight`` (the interference it would cause).
        inhibition: the other neurons' contribution (negative when they cancel it).
        inhibitors: those neurons, most negative first, that together give 90% of the inhibition.
        bias: ``b[weak]``.
        output: the resulting output ``weak`` (near 0: the interference is cleaned up).
        reverse_push: the weak feature alone at ``weak_sign * 1``: the neuron's contribution to
            output ``strong`` (small: the interference the other way is weak).
    """

    neuron: int
    strong: int
    weak: int
    strong_sign: int
    weak_sign: int
    strong_weight: float
    weak_weight: float
    read: float
    push: float
    inhibition: float
    inhibitors: tuple[int, ...]
    bias: float
    output: float
    reverse_push: float


def find_asymmetric_motifs(
    W1: Float[Tensor, "inst d_hidden feats"],
    W2: Float[Tensor, "inst feats d_hidden"],
    b: Float[Tensor, "inst feats"],
    *,
    ratio: float = 1.5,
    min_weight: float = 0.2,
    min_share: float = 0.5,
    min_push: float = 0.5,
    max_output: float = 0.1,
) -> list[list[AsymmetricMotif]]:
    """Every asymmetric motif in each instance, largest push first.

    A motif is a neuron ``k`` and features ``strong ≠ weak`` such that (all from exact
    single-feature inputs at value ±1):

    * the neuron stores both: ``|W₁[k, weak]| >= min_weight`` and
      ``|W₁[k, strong]| >= ratio * |W₁[k, weak]|``;
    * output ``weak`` reads it: ``W₂[weak, k] * |W₁[k, weak]| >= min_share`` (the neuron alone
      gives at least that share of the slope ``|x|`` needs on the weak feature's side);
    * the strong feature alone would push output ``weak`` by ``>= min_push`` through it,
    * yet output ``weak`` stays at ``<= max_output``: the rest of the model cancels the push.
    """
    W1, W2, b = check_absolute_weights(W1, W2, b)
    check_number(ratio, "ratio", low=1)
    for value, name in ((min_weight, "min_weight"), (min_share, "min_share"), (min_push, "min_push")):
        check_number(value, name, low=0, low_open=True)
    check_number(max_output, "max_output", low=0)
    found: list[list[AsymmetricMotif]] = []
    for inst in range(W1.shape[0]):
        w1, w2, bias = W1[inst], W2[inst], b[inst]  # (k, f), (f, k), (f,)
        a = w1.abs()
        # h[s, f, k]: neuron k's activation with feature f alone at value (-1, +1)[s]
        h = torch.relu(torch.stack([-w1.T, w1.T]))
        contrib = h[:, :, None, :] * w2[None, None, :, :]  # s, f_on, f_out, k
        total = contrib.sum(-1) + bias  # s, f_on, f_out
        motifs = []
        weak_ok = (a >= min_weight) & (w2.T * a >= min_share)  # k, weak
        for k, weak in weak_ok.nonzero().tolist():
            strong_cand = (a[k] >= ratio * a[k, weak]).nonzero().flatten().tolist()
            for strong in strong_cand:
                if strong == weak:
                    continue
                s = int(w1[k, strong] > 0)
                push = float(contrib[s, strong, weak, k])
                out = float(torch.relu(total[s, strong, weak]))
                if push < min_push or out > max_output:
                    continue
                others = contrib[s, strong, weak].clone()
                others[k] = 0
                inhibition = float(others.sum())
                order = torch.argsort(others)
                neg = others[order].clamp(max=0)
                cum = torch.cumsum(neg, 0)
                n_inh = int((cum > 0.9 * neg.sum()).long().argmin()) + 1 if neg.sum() < 0 else 0
                weak_sign = 1 if w1[k, weak] > 0 else -1
                reverse = float(w2[strong, k] * a[k, weak])
                motifs.append(AsymmetricMotif(
                    neuron=k, strong=strong, weak=weak, strong_sign=1 if s else -1, weak_sign=weak_sign,
                    strong_weight=float(a[k, strong]), weak_weight=float(a[k, weak]), read=float(w2[weak, k]),
                    push=push, inhibition=inhibition, inhibitors=tuple(order[:n_inh].tolist()),
                    bias=float(bias[weak]), output=out, reverse_push=reverse))
        motifs.sort(key=lambda m: -m.push)
        found.append(motifs)
    return found
