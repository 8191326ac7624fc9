"""Shared test settings: small, deterministic, quiet."""

import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("SUPERPOS_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def bad_input(name: str):
    """Expect the error a user gets for a bad argument ``name``.

    Users get a ``ValueError`` naming the argument. Under the test suite's run-time shape and
    type checker (jaxtyping + beartype) a wrongly *typed or shaped* argument is caught earlier by
    a ``TypeCheckError``, which names the parameter too; ``test_bad_inputs_without_typechecker``
    checks the user's path for those cases in a plain interpreter.
    """
    from jaxtyping import TypeCheckError

    return pytest.raises((ValueError, TypeCheckError), match=name)
