"""Argument checks for the whole library: each raises a ``ValueError`` that names the argument.

A learner who passes a bad value gets one clear sentence (``"steps must be a positive integer,
got 0"``), never a shape error from deep inside torch or a silently clipped value. Every module
validates its public arguments with these few functions, so the messages read the same
everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

__all__ = ["check_positive_int", "check_number", "check_choice", "check_matrix", "check_weights"]


def check_positive_int(value: object, name: str) -> int:
    """``value`` as an ``int`` if it is a whole number >= 1 (``bool`` is not), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _bracket(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"


def check_number(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a ``float`` if it is a finite real number in the given range, else ``ValueError``.

    ``low`` / ``high`` are inclusive unless ``low_open`` / ``high_open``; ``None`` means unbounded.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    below = low is not None and (v <= low if low_open else v < low)
    above = high is not None and (v >= high if high_open else v > high)
    if not math.isfinite(v) or below or above:
        raise ValueError(f"{name} must be a finite number in {_bracket(low, high, low_open, high_open)}, got {value!r}")
    return v


def check_choice(value: object, name: str, choices: Iterable[object]) -> object:
    """``value`` if it is one of ``choices``, else ``ValueError`` listing them."""
    options = tuple(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_matrix(x: object, name: str, width: int | None = None) -> Tensor:
    """``x`` if it is a non-empty 2-D floating-point tensor with finite entries (and ``width``
    columns, when given), else ``ValueError``. Rows are samples, columns dimensions."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (batch, d), got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, d), got {tuple(x.shape)}")
    if 0 in x.shape:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns, got {x.shape[1]}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must hold floats, got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_weights(W: object, name: str = "W", *, d_hidden: int | None = None) -> Tensor:
    """``W`` if it is a toy model's weights ``(inst, d_hidden, feats)`` with at least one instance
    and no NaN (and ``d_hidden`` rows, when given), else ``ValueError``."""
    if not isinstance(W, Tensor) or W.ndim != 3:
        raise ValueError(f"{name} must have shape (inst, d_hidden, feats), got {tuple(getattr(W, 'shape', ()))}")
    if W.shape[0] < 1:
        raise ValueError(f"{name} has no instances")
    if d_hidden is not None and W.shape[1] != d_hidden:
        raise ValueError(f"{name} must have d_hidden = {d_hidden}, got shape {tuple(W.shape)}")
    if torch.isnan(W).any():
        raise ValueError(f"{name} contains NaN")
    return W
