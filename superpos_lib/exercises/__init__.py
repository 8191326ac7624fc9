"""Exercises for every chapter, with checkers that teach (chapters 1-11; TMS §1-§7,
Chen et al. 2023, Henighan et al. 2023, Bricken et al. 2023, Gao et al. 2024, Sharkey et al.
2022, Bussmann et al. 2024-25, Chanin et al. 2024).

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
  :mod:`.superposition` (3), :mod:`.decomposition` (4), :mod:`.phases` (5), :mod:`.geometry`
  (6), :mod:`.computation` (7), :mod:`.memorization` (8), :mod:`.sae` and :mod:`.sae_recovery`
  (9), :mod:`.sae_practice` (10), :mod:`.lm` (11).

``EXERCISES`` maps each name to its :class:`Exercise`; a solution's source is what the chapter's
solution cell shows, and ``stub_function(name)`` turns a stub into a function. The checkers
import only torch and this package. :mod:`.notebooks` poses an exercise in a chapter
(``show(name)``, the box) and makes each chapter's learner's copy (``learner_notebook``).
"""

from .core import NOT_WRITTEN, Exercise, ExerciseFailed, Mistake
from .notebooks import learner_notebook, show, solved_notebook, write_learner_notebooks
from .registry import EXERCISES, check, stub_function

__all__ = [
    "EXERCISES",
    "NOT_WRITTEN",
    "Exercise",
    "ExerciseFailed",
    "Mistake",
    "check",
    "learner_notebook",
    "show",
    "solved_notebook",
    "stub_function",
    "write_learner_notebooks",
]
