"""Which features share dimensions: the graph of strong connections and its components.

TMS §6 draws each feature as a node and joins two features whose directions interact strongly.
The connected components are the factors of a tegum product: each lives in its own subspace,
orthogonal to the others, with its own polytope (pairs, pentagons, antiprisms). Ordering the
features by component turns the unreadable ``WᵀW`` of a large model into a block-diagonal one.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from ..checks import check_number, check_weights
from ..metrics import REPRESENTED, feature_norms

__all__ = ["STRONG", "strong_connections", "components", "component_order", "cosine_similarity"]

STRONG = 0.25
"""The default threshold on ``|Ŵ_i · W_j|``: every named structure is connected above it (its
strongest overlaps are 1/3 or more), while the overlaps a 1,000-step model leaves between
features of different structures stay mostly below 0.2."""


def cosine_similarity(W: Float[Tensor, "inst d_hidden feats"]) -> Float[Tensor, "inst feats feats"]:
    """``Ŵ_i · Ŵ_j`` for every pair (0 for a zero feature)."""
    check_weights(W)
    W_hat = W / feature_norms(W).clamp_min(1e-12)[:, None, :]
    return W_hat.mT @ W_hat


def strong_connections(
    W: Float[Tensor, "inst d_hidden feats"], threshold: float = STRONG
) -> Bool[Tensor, "inst feats feats"]:
    """``i ~ j`` (``i != j``) when ``max(|Ŵ_i · W_j|, |Ŵ_j · W_i|) > threshold``.

    Symmetric with a false diagonal; a feature with ``W_i = 0`` has no edges.
    """
    check_weights(W)
    check_number(threshold, "threshold", low=0)
    W_hat = W / feature_norms(W).clamp_min(1e-12)[:, None, :]
    proj = (W_hat.mT @ W).abs()                 # (inst, i, j): |Ŵ_i · W_j|
    strong = torch.maximum(proj, proj.mT) > threshold
    return strong & ~torch.eye(W.shape[2], dtype=torch.bool)


def components(adjacency: Bool[Tensor, "feats feats"]) -> Int[Tensor, "feats"]:
    """Connected components of one graph: a label per node, ``0`` for the largest component
    (ties by lowest node), isolated nodes last."""
    if not isinstance(adjacency, Tensor) or adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError(f"adjacency must be a square (feats, feats) tensor, got {getattr(adjacency, 'shape', adjacency)!r}")
    a = adjacency.bool()
    a = a | a.T | torch.eye(a.shape[0], dtype=torch.bool)
    reach = a.clone()
    while True:  # transitive closure by repeated squaring
        nxt = (reach.float() @ reach.float()) > 0
        if torch.equal(nxt, reach):
            break
        reach = nxt
    root = reach.float().argmax(dim=1)          # the lowest node each node reaches
    groups: dict[int, list[int]] = {}
    for node, r in enumerate(root.tolist()):
        groups.setdefault(r, []).append(node)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    labels = torch.empty(a.shape[0], dtype=torch.long)
    for k, g in enumerate(ordered):
        labels[g] = k
    return labels


def component_order(
    W: Float[Tensor, "d_hidden feats"], threshold: float = STRONG, *, min_norm: float = REPRESENTED
) -> tuple[Int[Tensor, "feats"], Int[Tensor, "feats"]]:
    """One model's features sorted by component (largest first), dropped features
    (``‖W_i‖ <= min_norm``) last: ``(order, labels)``, ``labels[order]`` non-decreasing
    (dropped features get label ``-1``)."""
    if not isinstance(W, Tensor) or W.ndim != 2:
        raise ValueError(f"W must be one model's (d_hidden, feats) matrix, got {getattr(W, 'shape', W)!r}")
    kept = feature_norms(W[None])[0] > min_norm
    adj = strong_connections(W[None], threshold)[0] & kept[:, None] & kept[None, :]
    labels = components(adj)
    labels = torch.where(kept, labels, torch.full_like(labels, -1))
    # relabel kept components 0.. by size after removing dropped ones
    key = torch.where(kept, labels, torch.full_like(labels, labels.max() + 1))
    order = torch.argsort(key * (W.shape[1] + 1) + torch.arange(W.shape[1]), stable=True)
    return order, labels
