"""The exercises' machinery: the failure a checker raises, the records, the reusable checks.

A checker first asks questions of the learner's function that name a mistake when they fail
(does it run, what type, shape and dtype does it return, does it leave its inputs alone, is
the output non-negative where it must be, is each instance computed on its own, ...); only
then does it compare the answer with the solution's, on small inputs drawn from seeded
generators, and say which input differed and by how much.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "NOT_WRITTEN",
    "Exercise",
    "ExerciseFailed",
    "Mistake",
    "call_safely",
    "exercise",
    "expect_close",
    "expect_finite",
    "expect_float",
    "expect_instances_independent",
    "expect_nonnegative",
    "expect_tensor",
    "fail",
    "seeded",
    "stub_source",
]

NOT_WRITTEN = "not written yet: replace the `raise NotImplementedError` with your code"


class ExerciseFailed(AssertionError):
    """A wrong answer to an exercise: the message names the likely mistake."""


@dataclass(frozen=True)
class Mistake:
    """A wrong implementation a learner plausibly writes, and a fragment of the message that
    the exercise's checker must give for it."""

    fn: Callable
    message: str


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter.

    Args:
        name: the function the learner writes (and the key of ``EXERCISES``).
        chapter: the chapter's notebook stem, e.g. ``"03_superposition"``.
        title: a short title for the exercise's heading.
        difficulty: 1 (a line) to 5 (hard).
        importance: 1 (optional) to 5 (essential to what follows).
        minutes: a time estimate.
        stub: the source of the learner's stub cell: signature, task, ``raise NotImplementedError``.
        solution: the solution function (its source is the chapter's solution cell).
        check: ``check(fn)`` returns ``None`` for a right answer, else raises
            :class:`ExerciseFailed`.
        hints: one to three short hints.
        mistakes: wrong implementations and the message fragment their check must give.
    """

    name: str
    chapter: str
    title: str
    difficulty: int
    importance: int
    minutes: int
    stub: str
    solution: Callable
    check: Callable[[Callable], None]
    hints: list[str]
    mistakes: list[Mistake]


def stub_source(solution: Callable) -> str:
    """The stub of ``solution``: its ``def`` and docstring, then ``raise NotImplementedError``."""
    src = textwrap.dedent(inspect.getsource(solution))
    node = ast.parse(src).body[0]
    doc = node.body[0]
    if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
        message = f"solution {solution.__name__} needs a docstring stating the task"
        raise ValueError(message)  # noqa: TRY004 (the library's errors name the argument)
    lines = src.splitlines()[: doc.end_lineno]
    return "\n".join([*lines, " " * doc.col_offset + "raise NotImplementedError"]) + "\n"


def exercise(solution: Callable, **fields) -> Exercise:
    """An :class:`Exercise` named after ``solution``, its stub made from the solution's source."""
    return Exercise(name=solution.__name__, stub=stub_source(solution), solution=solution, **fields)


def fail(message: str):
    """Raise :class:`ExerciseFailed` with ``message``."""
    raise ExerciseFailed(message)


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with a fixed seed (every checker's inputs are deterministic)."""
    return torch.Generator().manual_seed(seed)


def _copy(value: object) -> object:
    return value.clone() if isinstance(value, Tensor) else value


def call_safely(fn: Callable, args: dict[str, object], case: str) -> object:
    """``fn(*args.values())``, turning a stub, an error or a change to an input into
    :class:`ExerciseFailed` (``args`` maps each argument's name to its value, ``case`` says
    which input this is)."""
    before = {name: _copy(value) for name, value in args.items()}
    try:
        out = fn(*args.values())
    except NotImplementedError:
        raise ExerciseFailed(NOT_WRITTEN) from None
    except ExerciseFailed:
        raise
    except Exception as err:
        raise ExerciseFailed(f"it raised {type(err).__name__} on {case}: {err}") from err
    for name, value in args.items():
        if isinstance(value, Tensor) and not torch.equal(value, before[name]):
            fail(f"it changed its input {name} in place (on {case}): leave the inputs as they "
                 f"are (x = x + b, not x += b; clone before an in-place operation)")
    return out


def expect_tensor(
    out: object,
    shape: tuple[int, ...],
    dims: str,
    dtype: torch.dtype | None = torch.float32,
    *,
    wrong_shapes: dict[tuple[int, ...], str] | None = None,
) -> Tensor:
    """``out`` if it is a tensor of ``shape`` (named by ``dims``, e.g. ``"inst, batch, feats"``)
    and ``dtype``; ``wrong_shapes`` explains shapes that a known mistake gives."""
    expected = f"a tensor of shape ({dims}) = {tuple(shape)}"
    if out is None:
        fail(f"it returned None: did you forget to `return` the result? Expected {expected}")
    if not isinstance(out, Tensor):
        fail(f"it returned a {type(out).__name__}, expected {expected}")
    got = tuple(out.shape)
    if got != tuple(shape):
        why = (wrong_shapes or {}).get(got, "")
        fail(f"the output has shape {got}, expected ({dims}) = {tuple(shape)}" + (f": {why}" if why else ""))
    if dtype is not None and out.dtype != dtype:
        fail(f"the output has dtype {out.dtype}, expected {dtype}")
    return out


def expect_float(out: object, what: str = "a Python float") -> float:
    """``out`` if it is a Python ``float`` (a 0-d tensor is named as the mistake)."""
    if isinstance(out, Tensor):
        fail(f"it returned a tensor of shape {tuple(out.shape)}, expected {what}: "
             f"turn a one-element tensor into a number with float(...) or .item()")
    if isinstance(out, bool) or not isinstance(out, (float, int)):
        fail(f"it returned {type(out).__name__}, expected {what}")
    return float(out)


def expect_finite(out: Tensor, case: str, hint: str = "") -> None:
    """No NaN or infinity in ``out``."""
    bad = ~torch.isfinite(out)
    if bad.any():
        where = tuple(bad.nonzero()[0].tolist())
        fail(f"the output has NaN or infinite entries on {case} (first at index {where})" + (f": {hint}" if hint else ""))


def expect_nonnegative(out: Tensor, case: str, hint: str) -> None:
    """No negative entry in ``out``; ``hint`` names the likely mistake."""
    if (out < 0).any():
        fail(f"the output has negative entries on {case} (down to {out.min().item():.3g}): {hint}")


def expect_close(
    out: Tensor | float,
    expected: Tensor | float,
    case: str,
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """``out`` equals the solution's ``expected`` (within ``atol + rtol·|expected|``)."""
    if not isinstance(expected, Tensor):
        if not math.isclose(float(out), float(expected), rel_tol=rtol, abs_tol=atol):
            fail(f"on {case} the answer is {float(out):.6g}, the solution's {float(expected):.6g}")
        return
    if not expected.is_floating_point():
        if not torch.equal(out, expected):
            where = tuple((out != expected).nonzero()[0].tolist())
            fail(f"on {case} the output differs from the solution's at {int((out != expected).sum())} "
                 f"entries (first at index {where}: yours {out[where].item()}, expected {expected[where].item()})")
        return
    a, b = out.double(), expected.double()
    diff = (a - b).abs()
    diff = torch.where(torch.isnan(a) | torch.isnan(b), torch.full_like(diff, math.inf), diff)
    if (diff > atol + rtol * b.abs()).any():
        where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
        fail(f"on {case} the output differs from the solution's by up to {diff.max().item():.3g} "
             f"(at index {where}: yours {a[where].item():.6g}, expected {b[where].item():.6g})")


def expect_instances_independent(
    fn: Callable, args: dict[str, object], batched: tuple[str, ...], case: str, *, seed: int = 7
) -> None:
    """Each instance's answer must depend on its own inputs only: changing instance 0's inputs
    must leave the others' answers alone, and changing the others' must leave instance 0's
    (``batched`` names the arguments whose first axis is the instance; answers are tensors, or
    tuples of tensors, with the instance first)."""

    def answers(a: dict[str, object], what: str) -> list[Tensor]:
        out = call_safely(fn, a, what)
        return [t.double() for t in (out if isinstance(out, tuple) else (out,))]

    def changed(rows: slice) -> dict[str, object]:
        g = seeded(seed)
        new = dict(args)
        for name in batched:
            x = args[name].clone()
            low, high = x.min().item(), x.max().item()              # redraw within the range
            fresh = torch.rand(x[rows].shape, generator=g, dtype=x.dtype)
            x[rows] = low + (high - low if high > low else 0.5 * abs(low) + 0.1) * fresh
            new[name] = x
        return new

    base = answers(args, case)
    others = "instance 0's answer changed when only the other instances' inputs changed"
    first = "the other instances' answers changed when only instance 0's inputs changed"
    for rows, kept, what in ((slice(1, None), slice(0, 1), others), (slice(0, 1), slice(1, None), first)):
        again = answers(changed(rows), case + " with some instances' inputs changed")
        if not all(torch.allclose(a[kept], b[kept], atol=1e-6, rtol=1e-5) for a, b in zip(base, again)):
            fail(f"{what}: each instance must be computed from its own inputs alone (are "
                 f"instances mixed, e.g. a sum or mean over the inst axis, or one instance's "
                 f"weights used for all?)")
