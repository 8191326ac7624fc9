"""Checks on the repository itself: commands, notebooks, table of contents, house rules."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _ci_command(name: str) -> str:
    match = re.search(rf"^{name}_command='(.+)'$", (ROOT / ".ci/run").read_text(), re.MULTILINE)
    assert match, f"{name}_command not found in .ci/run"
    return match.group(1)


def test_ci_installs_nothing_before_a_new_users_commands():
    ci = (ROOT / ".ci/run").read_text()
    first_user_command = min(ci.index('bash -c "$build_command"'), ci.index('bash -c "$test_command"'))
    before = [line for line in ci[:first_user_command].splitlines() if not re.match(r"^(build|test)_command=", line)]
    assert not any("pip install" in line for line in before), "a new user has installed nothing before README's commands"
    before = "\n".join(before)
    assert "python3 -m venv" in before, "a fresh virtual environment"
    oldest = re.search(r'^OLDEST_TORCH="([\d.]+)"', ci, re.MULTILINE).group(1)
    assert ci.index('torch==$OLDEST_TORCH') > ci.index('bash -c "$test_command"'), "the older torch comes second"
    assert f"torch {oldest}" in (ROOT / "README.md").read_text(), "README says which torch versions are tested"
    assert "OLDEST_TORCH" in ci.split("== 2.")[1], "the second environment installs the oldest torch"


@pytest.mark.parametrize("name", ["build", "test"])
def test_ci_runs_the_readme_commands(name):
    readme = (ROOT / "README.md").read_text()
    command = _ci_command(name)
    assert f"```bash\n{command}\n```" in readme, f"README.md must show the {name} command .ci/run uses"
    assert f'bash -c "${name}_command"' in (ROOT / ".ci/run").read_text()


def test_toc_lists_every_chapter_and_nothing_missing():
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"file:\s*(\S+)", toc)) | set(re.findall(r"root:\s*(\S+)", toc))
    for nb in NOTEBOOKS:
        assert f"book/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry


def _cells(nb_path, kind="code"):
    nb = json.loads(nb_path.read_text())
    return nb, [c for c in nb["cells"] if c["cell_type"] == kind]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(nb_path):
    nb, cells = _cells(nb_path)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells)
    assert "widgets" not in nb.get("metadata", {})


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_setup_cell(nb_path):
    _, cells = _cells(nb_path)
    first = "".join(cells[0]["source"])
    assert 'find_spec("superpos_lib") is None' in first, "install only when the library is missing"
    assert "sp.setup_notebook()" in first
    install_args = re.search(r'"pip", "install"(.*?)\]', first, re.DOTALL).group(1)
    assert "torch" not in install_args, "never reinstall torch (Colab's build must stay)"
    assert "hide-output" in cells[0]["metadata"].get("tags", [])


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_define_no_machinery(nb_path):
    """Functions only in exercises' solution cells, each the registry's solution word for word."""
    from superpos_lib.exercises import notebooks

    nb, cells = _cells(nb_path)
    for cell in cells:
        source = "".join(cell["source"])
        if notebooks.SOLUTION_TAG in cell["metadata"].get("tags", []):
            continue
        assert not re.search(r"^\s*(def|class)\s", source, re.MULTILINE), f"move this into superpos_lib:\n{source}"
    for i, name in notebooks.solution_cells(nb):
        assert "".join(nb["cells"][i]["source"]) == notebooks.solution_source(name), name


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_pose_their_exercises(nb_path):
    """Every exercise of the registry is posed in its chapter: box, folded solution, check."""
    from superpos_lib.exercises import notebooks

    nb = json.loads(nb_path.read_text())
    exercises = notebooks.chapter_exercises(nb_path.stem)
    assert len(exercises) >= 4, "at least four exercises per chapter"
    sources = ["".join(c["source"]) for c in nb["cells"]]
    for i, name in notebooks.solution_cells(nb):
        assert sources[i - 1] == f'sp.exercises.show("{name}")', f"the box comes right before {name}'s solution"
        assert "remove-input" in nb["cells"][i - 1]["metadata"]["tags"]
        assert "hide-input" in nb["cells"][i]["metadata"]["tags"], "the site folds the solution"
        assert nb["cells"][i]["metadata"].get("mystnb") == notebooks.SOLUTION_PROMPTS, "its toggle says so"
        assert sources[i + 1] == f'sp.exercises.check("{name}", {name})', f"the check follows {name}'s solution"
    assert sorted(name for _, name in notebooks.solution_cells(nb)) == sorted(e.name for e in exercises)


def test_learner_copies_are_in_sync():
    """book/learner/ holds the copies made from the chapters now (python -m superpos_lib.exercises)."""
    from superpos_lib.exercises import write_learner_notebooks

    paths = write_learner_notebooks(ROOT / "book", check=True)
    assert sorted(p.name for p in paths) == sorted(nb.name for nb in NOTEBOOKS)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_learner_copy_runs_as_its_chapter_does(nb_path):
    """With the solutions pasted in, a learner's copy is its chapter's code cell for cell, so the
    chapter's nbval run is that copy's run; without them, each stub fails its check."""
    from superpos_lib.exercises import notebooks

    learner = json.loads((ROOT / "book" / notebooks.LEARNER_DIR / nb_path.name).read_text())
    chapter = json.loads(nb_path.read_text())

    def code(nb):
        return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]

    assert code(notebooks.solved_notebook(learner)) == code(chapter)
    first = next(c for c in learner["cells"] if c["cell_type"] == "code")
    assert 'find_spec("superpos_lib") is None' in "".join(first["source"]), "the setup cell comes first"
    stubs = [c for c in learner["cells"] if notebooks.EXERCISE_TAG in c["metadata"].get("tags", [])]
    assert len(stubs) == len(notebooks.chapter_exercises(nb_path.stem))
    assert all("raise NotImplementedError" in "".join(c["source"]) for c in stubs)


def _repository() -> tuple[str, str]:
    """The repository URL and branch that _config.yml sets (the one place they are written)."""
    config = (ROOT / "_config.yml").read_text()
    url = re.search(r"^\s*url:\s*(\S+)", config, re.MULTILINE).group(1)
    branch = re.search(r"^\s*branch:\s*(\S+)", config, re.MULTILINE).group(1)
    return url, branch


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_link_their_learner_copy_in_colab(nb_path):
    url, branch = _repository()
    colab = url.replace("https://github.com/", "https://colab.research.google.com/github/")
    link = f"{colab}/blob/{branch}/book/learner/{nb_path.name}"
    markdown = "".join("".join(c["source"]) for c in _cells(nb_path, "markdown")[1])
    assert f"]({link})" in markdown, f"{nb_path.name} links its learner's copy: {link}"
    assert (ROOT / "book" / "learner" / nb_path.name).exists()


# The site shows 77 characters of a code line (a 684-px code block of 8.4-px characters in
# Chromium at a 1,280-px window); tests/book/test_site.py checks outputs on the built pages.
CODE_LINE_CHARS = 77
FOLDED_LINE_CHARS = 75  # code folded under a toggle (a solution) sits in a 666-px block


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_code_fits_the_page(nb_path):
    _, cells = _cells(nb_path)
    shown = [c for c in cells if "remove-cell" not in c["metadata"].get("tags", [])]
    long = [line for c in shown for line in "".join(c["source"]).splitlines() if len(line) > CODE_LINE_CHARS]
    assert not long, f"{len(long)} code lines wider than the page ({CODE_LINE_CHARS} characters): {long[:3]}"
    folded = [c for c in shown if "hide-input" in c["metadata"].get("tags", [])]  # a 666-px block
    long = [line for c in folded for line in "".join(c["source"]).splitlines() if len(line) > FOLDED_LINE_CHARS]
    assert not long, f"{len(long)} folded code lines wider than their block ({FOLDED_LINE_CHARS}): {long[:3]}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapters_check_their_claims_in_hidden_cells(nb_path):
    _, cells = _cells(nb_path)
    checks = [c for c in cells if "remove-cell" in c["metadata"].get("tags", [])]
    assert checks and all("assert" in "".join(c["source"]) for c in checks)


def test_one_repository_and_branch_everywhere():
    """_config.yml sets the repository and branch; setup cells install from exactly that."""
    url, branch = _repository()
    assert url in (ROOT / "pyproject.toml").read_text()
    colab = url.replace("https://github.com/", "https://colab.research.google.com/github/")
    assert f"{colab}/blob/{branch}/book/" in (ROOT / "README.md").read_text(), "README's Colab link"
    for nb in NOTEBOOKS:
        _, cells = _cells(nb)
        assert f'"superpos-lib @ git+{url}@{branch}"' in "".join(cells[0]["source"]), nb.name


def test_benchmark_script_runs_and_reports_every_figure():
    """``--quick`` numbers mean nothing, but they must be there, of the right kind, and consistent."""
    from superpos_lib.widgets import EXPLORERS

    run = subprocess.run([sys.executable, str(ROOT / "benchmarks/bench.py"), "--quick"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    f = json.loads(run.stdout.strip().splitlines()[-1])
    assert f["device"] == "cpu" and f["quick"] is True and f["intro_reference_threads"] in (1, 2)
    for key in ["intro_reference_s", "intro_ours_s", "phase_grid_s", "phase_grid_loop_s", "sae_recovery_s",
                "uniform_sweep_s", "uniform_reference_s", "computation_sweep_s", "computation_reference_s",
                "computation_loop_s"]:
        assert isinstance(f[key], float) and 0 < f[key] < 300, key  # seconds
    for key in ["sae_steps_per_s", "sae_naive_steps_per_s", "lm_tokens_per_s", "lm_sae_tokens_per_s"]:
        assert isinstance(f[key], float) and f[key] > 0, key
    assert f["intro_speedup"] == pytest.approx(f["intro_reference_s"] / f["intro_ours_s"], rel=0.05, abs=0.1)
    assert f["phase_grid_speedup"] == pytest.approx(f["phase_grid_loop_s"] / f["phase_grid_s"], rel=0.1, abs=0.1)
    assert f["sae_speedup"] == pytest.approx(f["sae_steps_per_s"] / f["sae_naive_steps_per_s"], rel=0.02)
    assert f["uniform_speedup"] == pytest.approx(f["uniform_reference_s"] / f["uniform_sweep_s"], rel=0.05, abs=0.1)
    assert f["uniform_reference_timed_steps"] > 0 and f["uniform_half_max"] >= 0
    assert f["computation_speedup"] == pytest.approx(f["computation_reference_s"] / f["computation_sweep_s"], rel=0.05, abs=0.1)
    assert f["computation_reference_timed_steps"] > 0
    assert len(f["computation_sides"]) == len(f["computation_polysemantic"]) == 5
    assert isinstance(f["memorization_sweep_s"], float) and 0 < f["memorization_sweep_s"] < 300
    assert 0 < f["memorization_plain_s"] < f["memorization_reference_s"] and f["memorization_timed_steps"] > 0
    assert f["memorization_speedup"] == pytest.approx(f["memorization_reference_s"] / f["memorization_sweep_s"], rel=0.05, abs=0.1)
    assert f["memorization_peak_size"] in (3, 8, 30) and f["memorization_peak_ratio"] > 0
    assert f["uniform_plateau"] is None or f["uniform_plateau"][0] <= f["uniform_plateau"][1]
    ratios = f["intro_loss_ratio_per_density"]
    assert len(ratios) == 10 and f["intro_loss_ratio_max"] == max(ratios) and all(0 < r < 10 for r in ratios)
    assert 0 <= f["intro_same_basin_share"] <= 1 and 0 <= f["phase_grid_agreement"] <= 1
    assert f["phase_grid_models"] == 4 * 4 * 4
    assert 0 <= f["sae_recovery_matched_mmcs"] <= f["sae_recovery_mmcs"] <= 1 and f["sae_recovery_l0"] >= 0
    assert 0 <= f["sae_recovery_dead"] <= 1 and f["sae_recovery_fvu"] >= 0
    from superpos_lib.sae import KINDS

    assert sorted(f["sae_kinds"]) == sorted(KINDS)
    for kind, row in f["sae_kinds"].items():
        assert 0 < row["s"] < 300 and 0 <= row["mmcs"] <= 1 and row["l0"] >= 0 and 0 <= row["dead"] <= 1, kind
    for cls in EXPLORERS:
        key = cls.key()
        runs = f[f"{key}_retrain_s_runs"]
        assert runs and all(0 < r < 60 for r in runs), key
        assert f[f"{key}_retrain_max_s"] == max(runs) and min(runs) <= f[f"{key}_retrain_s"] <= max(runs), key


# -- the library's house: a flat core, a package per topic ----------------------------------------
LIB = ROOT / "superpos_lib"
TOPICS = {"features": 1, "privileged": 2, "superposition": 3, "decomposition": 4, "phases": 5, "geometry": 6,
          "computation": 7, "memorization": 8, "sae": 9}
MAX_MODULE_LINES = 500


def test_every_module_is_small():
    long = {str(p.relative_to(ROOT)): n for p in LIB.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules (over {MAX_MODULE_LINES} lines): {long}"


@pytest.mark.parametrize("package, chapter", TOPICS.items())
def test_each_topic_package_says_its_chapter_and_paper(package, chapter):
    import importlib

    doc = importlib.import_module(f"superpos_lib.{package}").__doc__ or ""
    assert doc.startswith(f"Chapter {chapter},"), f"superpos_lib.{package}'s docstring must open with its chapter"
    assert re.search(r"TMS §\d|et al\. \d{4}", doc), f"superpos_lib.{package} must cite the paper (section) it implements"
    tests = ROOT / "tests" / package
    assert any(tests.glob("test_*.py")), f"tests/{package}/ mirrors superpos_lib/{package}/"


def test_no_lazy_imports_of_the_library_inside_functions():
    """Imports of the library's own modules sit at the top of each module (no cycle forces otherwise)."""
    import ast

    lazy = []
    for path in LIB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.level > 0 or (inner.module or "").startswith("superpos_lib")):
                        lazy.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not lazy, lazy


def test_every_explorer_derives_from_the_one_base():
    from superpos_lib import ui, widgets

    def subclasses(cls):
        return {c for s in cls.__subclasses__() for c in (s, *subclasses(s))}

    concrete = {c for c in subclasses(ui.Explorer) if c.__module__.startswith("superpos_lib") and c is not ui.ToyModelExplorer}
    assert concrete == set(widgets.EXPLORERS), "widgets.EXPLORERS lists every explorer"
    for cls in widgets.EXPLORERS:
        assert getattr(widgets, cls.__name__) is cls


def test_readme_maps_every_package():
    readme = (ROOT / "README.md").read_text()
    for package in [*TOPICS, "ui"]:
        assert f"`superpos_lib/{package}/`" in readme, f"README's library map lacks {package}"
    for module in ("checks", "runtime", "data", "training", "models", "metrics"):
        assert f"`{module}.py`" in readme, f"README's library map lacks {module}.py"
