"""Exercises for every chapter, with checkers that teach (chapters 1-5 and 8; TMS §1-§6,
Chen et al. 2023, Bricken et al. 2023, Gao et al. 2024, Sharkey et al. 2022).

Each exercise is a function the learner writes from a stub. ``check(name, fn)`` returns
``None`` for a right answer and otherwise raises :class:`ExerciseFailed`, an
``AssertionError`` whose message names the likely mistake: first what can be asked of any
answer (does it run, its type, shape and dtype, does it leave its inputs alone, is each
instance computed on its own, ...), then properties of the quantity (non-negative where it
must be, invariant to what it must ignore, exact on hand-built cases), and only then a
comparison with the solution on small seeded inputs, naming the input that differed.

* :mod:`.core`: :class:`ExerciseFailed`, the :class:`Exercise` and :class:`Mistake` records,
  the reusable checks (``call_safely``, ``expect_tensor``, ``expect_close``, ...);
* one module per chapter: :mod:`.features` (1), :mod:`.privileged` (2),
  :mod:`.superposition` (3), :mod:`.decomposition` (4), :mod:`.phases` (5), :mod:`.sae` and
  :mod:`.sae_recovery` (8).

``EXERCISES`` maps each name to its :class:`Exercise`; a solution's source is what the chapter's
solution cell shows, and ``stub_function(name)`` turns a stub into a function. The checkers
import only torch and this package.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch

from . import (
    decomposition,
    features,
    phases,
    privileged,
    sae,
    sae_recovery,
    superposition,
)
from .core import NOT_WRITTEN, Exercise, ExerciseFailed, Mistake

__all__ = ["EXERCISES", "NOT_WRITTEN", "Exercise", "ExerciseFailed", "Mistake", "check", "stub_function"]

EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for module in (features, privileged, superposition, decomposition, phases, sae, sae_recovery)
    for ex in module.EXERCISES
}
"""Every exercise by name, in chapter order."""


def _exercise(name: object) -> Exercise:
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
    exercise = _exercise(name)
    if not callable(fn):
        message = f"fn must be the function you wrote for {name!r}, got {type(fn).__name__}"
        raise ValueError(message)  # noqa: TRY004 (the library's errors name the argument)
    exercise.check(fn)


def stub_function(name: str) -> Callable:
    """The stub of exercise ``name`` as a function (it raises ``NotImplementedError``)."""
    exercise = _exercise(name)
    namespace: dict[str, object] = {"torch": torch}
    code = compile(exercise.stub, f"<stub of {name}>", "exec")
    exec(code, namespace)  # noqa: S102 (the stub is this package's own text)
    return namespace[name]
