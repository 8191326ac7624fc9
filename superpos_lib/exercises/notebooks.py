"""Exercises in the chapters, and the learner's copy of each chapter made from it.

A chapter poses exercise ``name`` in three cells: ``sp.exercises.show("name")`` (the box:
title, difficulty, importance, minutes, the task, hints in dropdowns), the solution cell (a
code cell tagged ``solution`` and ``hide-input``, whose source is the registry's solution,
so the site shows it folded and every build runs it), and ``sp.exercises.check("name",
name)``. :func:`learner_notebook` turns a chapter into the learner's copy: each solution
cell becomes the exercise's stub (tagged ``exercise``), outputs go, a first cell says what
the copy is; everything else is kept, hidden checks included, so that pasting the solutions
back (:func:`solved_notebook`) gives exactly the chapter's code, which the tests run.

``python -m superpos_lib.exercises [--check] [BOOK_DIR]`` writes the copies into
``BOOK_DIR/learner/`` (default ``book``), or with ``--check`` fails if any is out of date.
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import inspect
import json
import sys
import textwrap
from pathlib import Path

from .core import Exercise
from .registry import EXERCISES, find

__all__ = [
    "EXERCISE_TAG",
    "LEARNER_DIR",
    "SOLUTION_TAG",
    "ExerciseBox",
    "chapter_exercises",
    "learner_notebook",
    "show",
    "solution_cells",
    "solution_source",
    "solved_notebook",
    "write_learner_notebooks",
]

SOLUTION_TAG = "solution"
"""Tag of a chapter's solution cell (with ``hide-input``: the site folds it)."""
SOLUTION_PROMPTS = {"code_prompt_show": "Show the solution", "code_prompt_hide": "Hide the solution"}
"""A solution cell's ``mystnb`` metadata: the site's toggle names what it folds."""
EXERCISE_TAG = "exercise"
"""Tag of a learner's stub cell."""
LEARNER_DIR = "learner"
"""The learner's copies, inside the book's folder."""

_HEADER = (
    "**The learner's copy** of this chapter: each exercise's solution is replaced by a stub. "
    "Write the function, then run the check below it: it is silent when your answer is "
    "right and names the likely mistake when it is not. Hints are in each exercise's box; "
    "the solutions are on the chapter's page in the book. The first cell installs the "
    "library when it is missing (in Colab) and picks a GPU when there is one."
)


def chapter_exercises(chapter: str) -> list[Exercise]:
    """The exercises of ``chapter`` (a notebook stem such as ``"03_superposition"``), in order."""
    found = [ex for ex in EXERCISES.values() if ex.chapter == chapter]
    if not found:
        chapters = sorted({ex.chapter for ex in EXERCISES.values()})
        raise ValueError(f"chapter {chapter!r} has no exercises; chapters with exercises: {', '.join(chapters)}")
    return found


def solution_source(name: str) -> str:
    """The source of exercise ``name``'s solution as the chapter's solution cell shows it."""
    return textwrap.dedent(inspect.getsource(find(name).solution)).rstrip("\n")


def _dots(k: int) -> str:
    return "●" * k + "○" * (5 - k)


class ExerciseBox:
    """What :func:`show` returns: the exercise's box, as HTML in a notebook and on the site."""

    def __init__(self, exercise: Exercise):
        self.exercise = exercise
        same = chapter_exercises(exercise.chapter)
        self.number = f"{int(exercise.chapter[:2])}.{same.index(exercise) + 1}"

    @property
    def task(self) -> str:
        """The task: the first paragraph of the solution's docstring."""
        doc = inspect.getdoc(self.exercise.solution) or ""
        return " ".join(doc.split("\n\n")[0].split())

    def __repr__(self) -> str:
        ex = self.exercise
        lines = [f"Exercise {self.number}: {ex.title}",
                 f"difficulty {ex.difficulty}/5, importance {ex.importance}/5, about {ex.minutes} minutes",
                 f"Write {ex.name}: {self.task}"]
        lines += [f"Hint {i}: {hint}" for i, hint in enumerate(ex.hints, 1)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        ex = self.exercise
        hints = "".join(
            f'<details style="margin:0.3em 0"><summary>Hint {i}</summary>{html.escape(hint)}</details>'
            for i, hint in enumerate(ex.hints, 1)
        )
        return (
            '<div class="superpos-exercise" style="border-left:4px solid #2a7ab0;'
            'background:rgba(42,122,176,0.08);padding:0.5em 1em;margin:0.5em 0">'
            f"<strong>Exercise {self.number} · {html.escape(ex.title)}</strong><br>"
            f'<span style="font-size:90%">difficulty <span title="{ex.difficulty} of 5">'
            f"{_dots(ex.difficulty)}</span> · importance <span title=\"{ex.importance} of 5\">"
            f"{_dots(ex.importance)}</span> · about {ex.minutes} minutes</span>"
            f'<p style="margin:0.4em 0">Write <code>{html.escape(ex.name)}</code>: '
            f"{html.escape(self.task)}</p>{hints}"
            '<p style="margin:0.4em 0;font-size:90%">The check after the solution is silent '
            "when the function is right and names the likely mistake when it is not.</p></div>"
        )


def show(name: str) -> ExerciseBox:
    """The box that poses exercise ``name`` (``ValueError`` naming ``name`` if unknown)."""
    return ExerciseBox(find(name))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def solution_cells(nb: dict) -> list[tuple[int, str]]:
    """``(cell index, exercise name)`` of every solution cell of notebook ``nb`` (its JSON)."""
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if SOLUTION_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.get("cell_type") != "code":
            raise ValueError(f"nb: cell {i} is tagged {SOLUTION_TAG!r} but is not a code cell")
        body = ast.parse(_source(cell)).body
        if len(body) != 1 or not isinstance(body[0], ast.FunctionDef):
            raise ValueError(f"nb: solution cell {i} must hold exactly one function definition")
        found.append((i, body[0].name))
    return found


def learner_notebook(nb: dict, chapter: str) -> dict:
    """The learner's copy of chapter notebook ``nb`` (its JSON), ``chapter`` its stem.

    Raises:
        ValueError: naming ``nb`` when a solution cell differs from the registry's solution,
            names an exercise of another chapter, or the chapter's exercises are not all posed.
    """
    names = {ex.name for ex in chapter_exercises(chapter)}
    out = copy.deepcopy(nb)
    posed = []
    for i, name in solution_cells(nb):
        ex = find(name)
        if ex.chapter != chapter:
            raise ValueError(f"nb: cell {i} solves {name!r}, an exercise of {ex.chapter}, not {chapter}")
        if _source(nb["cells"][i]).rstrip("\n") != solution_source(name):
            raise ValueError(f"nb: cell {i} is not the registry's solution of {name!r} (edit the library's, "
                             f"then copy it into the chapter)")
        cell = out["cells"][i]
        cell["source"] = _lines(ex.stub.rstrip("\n"))
        tags = [t for t in cell["metadata"].get("tags", []) if t not in (SOLUTION_TAG, "hide-input")]
        cell["metadata"]["tags"] = [*tags, EXERCISE_TAG]
        cell["metadata"].pop("mystnb", None)
        posed.append(name)
    if sorted(posed) != sorted(names):
        missing = sorted(names - set(posed))
        raise ValueError(f"nb: chapter {chapter} poses {sorted(posed)}; missing {missing}, or posed twice")
    for cell in out["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    header = {"cell_type": "markdown", "id": "learner-header", "metadata": {"tags": ["learner-header"]},
              "source": _lines(_HEADER)}
    out["cells"].insert(0, header)
    return out


def solved_notebook(learner: dict) -> dict:
    """A learner's copy with every stub replaced by its solution and the header removed: the
    chapter's code, cell for cell."""
    out = copy.deepcopy(learner)
    out["cells"] = [c for c in out["cells"] if "learner-header" not in c.get("metadata", {}).get("tags", [])]
    for cell in out["cells"]:
        if EXERCISE_TAG in cell.get("metadata", {}).get("tags", []):
            name = ast.parse(_source(cell)).body[0].name
            cell["source"] = _lines(solution_source(name))
    return out


def _dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def write_learner_notebooks(book_dir: str | Path = "book", *, check: bool = False) -> list[Path]:
    """Write (or with ``check``, compare) the learner's copy of every chapter with exercises into
    ``book_dir/learner/``; returns the copies' paths. ``check`` raises ``ValueError`` naming each
    copy that is missing or out of date."""
    book = Path(book_dir)
    if not book.is_dir():
        raise ValueError(f"book_dir {str(book)!r} is not a folder")
    chapters = sorted({ex.chapter for ex in EXERCISES.values()})
    paths, stale = [], []
    for chapter in chapters:
        source = book / f"{chapter}.ipynb"
        if not source.exists():
            raise ValueError(f"book_dir: {source} is missing (exercises name chapter {chapter!r})")
        text = _dump(learner_notebook(json.loads(source.read_text()), chapter))
        target = book / LEARNER_DIR / source.name
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target))
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text)
        paths.append(target)
    if stale:
        raise ValueError(f"book_dir: learner copies out of date: {', '.join(stale)} (run "
                         f"python -m superpos_lib.exercises)")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book_dir", nargs="?", default="book")
    parser.add_argument("--check", action="store_true", help="fail if a copy is missing or out of date")
    args = parser.parse_args(argv)
    try:
        paths = write_learner_notebooks(args.book_dir, check=args.check)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 1
    print(("up to date: " if args.check else "wrote: ") + ", ".join(str(p) for p in paths))
    return 0

