"""The library's argument checks: a ValueError naming the argument, or the value back."""

import math

import numpy as np
import pytest
import torch

from superpos_lib import checks


def test_check_positive_int():
    assert checks.check_positive_int(3, "n") == 3 and checks.check_positive_int(np.int64(2), "n") == 2
    for bad in (0, -1, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=r"^n must be a positive integer"):
            checks.check_positive_int(bad, "n")


@pytest.mark.parametrize("value, kwargs, ok", [
    (0.5, dict(low=0, high=1), True), (0.0, dict(low=0, low_open=True), False), (1.0, dict(high=1, high_open=True), False),
    (1.0, dict(high=1), True), (-2, {}, True), (math.nan, {}, False), (math.inf, dict(low=0), False),
    (True, {}, False), ("0.1", {}, False), (np.float32(0.25), dict(low=0, high=1), True),
])
def test_check_number(value, kwargs, ok):
    if ok:
        assert checks.check_number(value, "lr", **kwargs) == float(value)
    else:
        with pytest.raises(ValueError, match=r"^lr must be a"):
            checks.check_number(value, "lr", **kwargs)


def test_check_number_says_the_range():
    with pytest.raises(ValueError, match=r"in \(0, 1\], got 2"):
        checks.check_number(2, "p", low=0, high=1, low_open=True)


def test_check_choice():
    assert checks.check_choice("sgd", "optimizer", ("adam", "sgd")) == "sgd"
    with pytest.raises(ValueError, match=r"optimizer must be one of \('adam', 'sgd'\), got 'lbfgs'"):
        checks.check_choice("lbfgs", "optimizer", ("adam", "sgd"))


@pytest.mark.parametrize("x, width, message", [
    ([[1.0]], None, "torch.Tensor"), (torch.ones(3), None, "shape"), (torch.ones(0, 3), None, "empty"),
    (torch.ones(2, 3), 4, "4 columns"), (torch.ones(2, 3, dtype=torch.long), None, "floats"),
    (torch.tensor([[1.0, float("nan")]]), None, "NaN"),
])
def test_check_matrix_rejects(x, width, message):
    with pytest.raises(ValueError, match=f"acts.*{message}"):
        checks.check_matrix(x, "acts", width)
    x = torch.ones(2, 3)
    assert checks.check_matrix(x, "acts", 3) is x


def test_check_weights():
    W = torch.ones(2, 3, 4)
    assert checks.check_weights(W) is W
    for bad, message in [(torch.ones(3, 4), "shape"), (torch.ones(0, 2, 3), "no instances"),
                         (torch.full((1, 2, 3), float("nan")), "NaN")]:
        with pytest.raises(ValueError, match=f"W .*{message}|W {message}"):
            checks.check_weights(bad)
    with pytest.raises(ValueError, match="d_hidden = 2"):
        checks.check_weights(W, d_hidden=2)
