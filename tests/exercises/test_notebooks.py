"""Posing exercises in a chapter and the learner's copy made from it."""

import copy
import json

import pytest

from conftest import bad_input
from superpos_lib import exercises
from superpos_lib.exercises import notebooks


def _code(source, tags=()):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source.splitlines(keepends=True),
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}], "execution_count": 3}


def _chapter(names=("toy_forward", "weighted_mse", "sparse_batch", "superposition")):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]}, _code("import torch")]
    for name in names:
        solution = _code(notebooks.solution_source(name), ["solution", "hide-input"])
        solution["metadata"]["mystnb"] = dict(notebooks.SOLUTION_PROMPTS)
        cells += [_code(f'sp.exercises.show("{name}")', ["remove-input"]),
                  solution,
                  _code(f'sp.exercises.check("{name}", {name})')]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_show_poses_the_exercise():
    box = exercises.show("toy_forward")
    ex = exercises.EXERCISES["toy_forward"]
    assert box.number == "3.2"  # the chapter's second exercise
    html = box._repr_html_()
    assert ex.title.replace("'", "&#x27;") in html and "●●○○○" in html and "●●●●●" in html
    assert f"about {ex.minutes} minutes" in html
    assert html.count("<details") == len(ex.hints) and "ReLU(Wᵀ W x + b)" in html
    assert repr(box).startswith("Exercise 3.2: The toy model's forward pass")
    with bad_input("name"):
        exercises.show("toy_fwd")


def test_chapter_exercises():
    assert [e.name for e in notebooks.chapter_exercises("03_superposition")][:2] == ["sparse_batch", "toy_forward"]
    with bad_input("chapter"):
        notebooks.chapter_exercises("99_nothing")


def test_learner_copy_swaps_solutions_for_stubs_and_back():
    chapter = _chapter()
    before = copy.deepcopy(chapter)
    learner = exercises.learner_notebook(chapter, "03_superposition")
    assert chapter == before, "the chapter is left as it was"
    assert "learner-header" in learner["cells"][0]["metadata"]["tags"]
    stubs = [c for c in learner["cells"] if notebooks.EXERCISE_TAG in c["metadata"].get("tags", [])]
    assert len(stubs) == 4
    for cell in stubs:
        assert cell["metadata"]["tags"] == ["exercise"], "solution and hide-input tags removed"
        assert "mystnb" not in cell["metadata"], "no 'Show the solution' toggle for a stub"
        assert "raise NotImplementedError" in "".join(cell["source"])
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in learner["cells"] if c["cell_type"] == "code")
    solved = exercises.solved_notebook(learner)
    code = [("".join(c["source"])) for c in solved["cells"] if c["cell_type"] == "code"]
    assert code == ["".join(c["source"]) for c in chapter["cells"] if c["cell_type"] == "code"]
    # a stub, run, fails its check with the "not written yet" message
    namespace = {}
    exec("import torch\n" + "".join(stubs[0]["source"]), namespace)  # noqa: S102 (our own stub)
    with pytest.raises(exercises.ExerciseFailed, match="not written yet"):
        exercises.check("toy_forward", namespace["toy_forward"])


def test_learner_copy_refuses_a_chapter_out_of_step():
    edited = _chapter()
    edited["cells"][3]["source"] = ["def toy_forward(W, b, x):\n", "    return x\n"]
    with bad_input("nb"):
        exercises.learner_notebook(edited, "03_superposition")
    with bad_input("nb"):  # an exercise of another chapter
        exercises.learner_notebook(_chapter(("toy_forward", "weighted_mse", "sparse_batch", "fvu")), "03_superposition")
    with bad_input("nb"):  # one exercise not posed
        exercises.learner_notebook(_chapter(("toy_forward", "weighted_mse", "sparse_batch")), "03_superposition")
    two = _chapter()
    two["cells"][3]["source"] += ["\n", "def extra():\n", "    pass\n"]
    with bad_input("nb"):
        notebooks.solution_cells(two)
    markdown = _chapter()
    markdown["cells"][3]["cell_type"] = "markdown"
    with bad_input("nb"):
        notebooks.solution_cells(markdown)


def test_write_and_check_learner_copies(tmp_path, monkeypatch):
    chapters = {e.chapter: None for e in exercises.EXERCISES.values()}
    for stem in chapters:
        names = [e.name for e in notebooks.chapter_exercises(stem)]
        (tmp_path / f"{stem}.ipynb").write_text(json.dumps(_chapter(names)))
    with bad_input("book_dir"):
        exercises.write_learner_notebooks(tmp_path, check=True)  # nothing written yet
    paths = exercises.write_learner_notebooks(tmp_path)
    assert [p.parent.name for p in paths] == ["learner"] * len(chapters)
    assert exercises.write_learner_notebooks(tmp_path, check=True) == paths
    assert notebooks.main([str(tmp_path), "--check"]) == 0
    paths[0].write_text("{}")
    assert notebooks.main([str(tmp_path), "--check"]) == 1
    with bad_input("book_dir"):
        exercises.write_learner_notebooks(tmp_path / "missing")


def test_every_solution_runs_as_the_chapter_runs_it():
    """A chapter runs a solution's source in its own namespace: torch, the library, and the
    functions of the exercises posed before it; nothing of the module the solution lives in."""
    import torch

    import superpos_lib as sp

    chapters = {e.chapter for e in exercises.EXERCISES.values()}
    for chapter in sorted(chapters):
        namespace = {"torch": torch, "sp": sp}
        for ex in notebooks.chapter_exercises(chapter):
            exec(notebooks.solution_source(ex.name), namespace)  # noqa: S102 (our own solutions)
            exercises.check(ex.name, namespace[ex.name])
