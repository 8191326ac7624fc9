"""Shared test settings: small, deterministic, quiet."""

import contextlib
import os
import re

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
os.environ.setdefault("SUPERPOS_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@contextlib.contextmanager
def bad_input(name: str):
    """Expect the error a user gets for a bad argument ``name``: a ``ValueError`` whose message
    names it as a word (``"d_sae"`` matches "d_sae must be ...", not "d_sae_max", nor a type
    checker's message quoting a signature).

    The suite runs the library under a run-time shape and type checker (jaxtyping + beartype,
    ``pyproject.toml``), which would catch a wrongly shaped argument first; learners run none,
    so inside this block the checker is off and the library's own validation answers.
    ``tests/test_typecheck.py`` proves the checker is on everywhere else.
    """
    import jaxtyping

    before = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        with pytest.raises(ValueError, match=rf"(?<![\w.]){re.escape(name)}(?!\w)") as info:
            yield info
    finally:
        jaxtyping.config.update("jaxtyping_disable", before)
