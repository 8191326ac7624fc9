"""The registry of every chapter's exercises, and the one way to check an answer."""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch

from . import (
    computation,
    decomposition,
    features,
    geometry,
    lm,
    memorization,
    phases,
    privileged,
    sae,
    sae_practice,
    sae_recovery,
    superposition,
)
from .core import Exercise

__all__ = ["EXERCISES", "check", "find", "stub_function"]

EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for module in (features, privileged, superposition, decomposition, phases, geometry, computation, memorization,
                   sae, sae_recovery, sae_practice, lm)
    for ex in module.EXERCISES
}
"""Every exercise by name, in chapter order."""


def find(name: object) -> Exercise:
    """The exercise called ``name`` (``ValueError`` naming ``name``, with close names, if none)."""
    if not isinstance(name, str) or name not in EXERCISES:
        close = difflib.get_close_matches(str(name), EXERCISES, n=3, cutoff=0.5)
        hint = f"; close names: {', '.join(close)}" if close else f"; the exercises: {', '.join(EXERCISES)}"
        raise ValueError(f"name {name!r} is not an exercise{hint}")
    return EXERCISES[name]


def check(name: str, fn: Callable) -> None:
    """Check the learner's ``fn`` for exercise ``name``: ``None`` if it is right, else
    :class:`ExerciseFailed` naming the likely mistake.

    Raises:
        ValueError: naming ``name`` for an unknown exercise (with the closest names), or
            ``fn`` when it is not callable.
    """
    exercise = find(name)
    if not callable(fn):
        message = f"fn must be the function you wrote for {name!r}, got {type(fn).__name__}"
        raise ValueError(message)  # noqa: TRY004 (the library's errors name the argument)
    exercise.check(fn)


def stub_function(name: str) -> Callable:
    """The stub of exercise ``name`` as a function (it raises ``NotImplementedError``)."""
    exercise = find(name)
    namespace: dict[str, object] = {"torch": torch}
    code = compile(exercise.stub, f"<stub of {name}>", "exec")
    exec(code, namespace)  # noqa: S102 (the stub is this package's own text)
    return namespace[name]
