"""Every exercise: its solution passes, its stub fails as "not written yet", every mistake a
learner plausibly makes fails with the message that names it, its metadata is sound, and its
check is quick; plus ``check``'s own argument errors and what the package imports."""

import inspect
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import superpos_lib
from conftest import bad_input
from superpos_lib import exercises
from superpos_lib.exercises import (
    EXERCISES,
    NOT_WRITTEN,
    ExerciseFailed,
    check,
    stub_function,
)

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = {p.stem for p in (ROOT / "book").glob("*.ipynb")}
NAMES = list(EXERCISES)
MISTAKES = [(name, i) for name, ex in EXERCISES.items() for i in range(len(ex.mistakes))]
MAX_LINE = 75  # a folded solution on the site shows 75 characters (a 666-px block; code elsewhere 77)


def plain(fn):
    """``fn`` without the suite's run-time type checker (``pyproject.toml`` wraps every function
    of the library in one; a learner's function has none, and a check calls it many times)."""
    return inspect.unwrap(fn)


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_passes(name):
    assert check(name, plain(EXERCISES[name].solution)) is None


@pytest.mark.parametrize("name", NAMES)
def test_the_stub_is_not_written_yet(name):
    stub = stub_function(name)
    with pytest.raises(ExerciseFailed) as info:
        check(name, stub)
    assert str(info.value) == NOT_WRITTEN
    assert "replace the `raise NotImplementedError`" in str(info.value)


@pytest.mark.parametrize("name, i", MISTAKES, ids=[f"{n}-{EXERCISES[n].mistakes[i].fn.__name__}" for n, i in MISTAKES])
def test_each_mistake_fails_with_its_message(name, i):
    mistake = EXERCISES[name].mistakes[i]
    with pytest.raises(ExerciseFailed) as info:
        check(name, plain(mistake.fn))
    assert mistake.message in str(info.value), str(info.value)
    assert str(info.value) != NOT_WRITTEN


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    ex = EXERCISES[name]
    assert ex.name == name == ex.solution.__name__
    assert ex.chapter in CHAPTERS, ex.chapter
    assert ex.title and isinstance(ex.title, str)
    for field in ("difficulty", "importance"):
        value = getattr(ex, field)
        assert isinstance(value, int) and 1 <= value <= 5, (field, value)
    assert ex.minutes > 0
    assert 1 <= len(ex.hints) <= 3 and all(isinstance(h, str) and h for h in ex.hints)
    assert 2 <= len(ex.mistakes) <= 4
    assert all(callable(m.fn) and m.message for m in ex.mistakes)
    assert callable(ex.check)
    source = inspect.getsource(ex.solution)
    long = [line for line in source.splitlines() if len(line) > MAX_LINE]
    assert not long, f"solution lines over {MAX_LINE} characters: {long}"
    assert source.startswith(f"def {name}(")
    assert "superpos_lib" not in source and "sp." not in source        # no library helper gives it away
    stub = ex.stub
    assert stub.startswith(f"def {name}(") and stub.rstrip().endswith("raise NotImplementedError")
    assert all(len(line) <= MAX_LINE for line in stub.splitlines())
    assert "Float[" not in stub and '"""' in stub                       # plain hints, a docstring
    assert inspect.signature(stub_function(name)).parameters.keys() == inspect.signature(ex.solution).parameters.keys()


def test_enough_exercises_per_chapter():
    per_chapter = {}
    for ex in EXERCISES.values():
        per_chapter.setdefault(ex.chapter, []).append(ex.name)
    assert len(EXERCISES) >= 24
    assert set(per_chapter) == {"01_features", "02_privileged_basis", "03_superposition", "04_mathematics",
                                "05_phase_changes", "06_geometry", "07_computation", "08_memorization",
                                "09_sparse_autoencoders", "10_sae_practice", "11_monosemanticity"}
    assert all(len(names) >= 4 for names in per_chapter.values()), per_chapter


def test_the_names_the_chapters_use():
    planned = {
        "01_features": ["cosine_similarities", "analogy", "ppmi", "in_superposition"],
        "02_privileged_basis": ["random_rotation", "neuron_forward", "basis_alignment", "neuron_monosemanticity"],
        "03_superposition": ["sparse_batch", "toy_forward", "weighted_mse", "superposition"],
        "04_mathematics": ["dimensions_per_feature", "dense_optimal_loss", "loss_decomposition",
                           "pairwise_interference"],
        "05_phase_changes": ["candidate_losses", "analytic_phase", "classify_extra_feature", "regular_kgon",
                             "one_hot_loss"],
        "06_geometry": ["feature_dimensionality", "square_antiprism", "tegum_product", "strong_connections",
                        "anticorrelated_present"],
        "07_computation": ["abs_two_neurons", "sides_computed", "cancel_push", "relu_output_attack"],
        "08_memorization": ["unit_norm_dataset", "example_dimensionality", "memorize", "peak_size"],
        "09_sparse_autoencoders": ["sae_forward", "l1_objective", "topk_activation", "mmcs", "matched_mmcs", "fvu",
                                   "dead_latents"],
        "10_sae_practice": ["batch_topk", "matryoshka_loss", "latent_scores", "absorption_rate"],
        "11_monosemanticity": ["loss_recovered", "logit_effect", "best_char_rule", "top_contexts", "steer_neurons"],
    }
    for chapter, names in planned.items():
        for name in names:
            assert EXERCISES[name].chapter == chapter, name


def test_the_fixed_signatures():
    def params(name):
        return list(inspect.signature(EXERCISES[name].solution).parameters)

    assert params("toy_forward") == ["W", "b", "x"]
    assert params("feature_dimensionality") == ["W"]
    assert params("mmcs") == ["true_directions", "W_dec"]
    assert "D = 0" in EXERCISES["feature_dimensionality"].stub.replace("D_i = 0", "D = 0")


@pytest.mark.parametrize("name", NAMES)
def test_each_check_is_quick(name):
    # CPU time, all threads together: for work that only computes, no less than its wall time on
    # a quiet machine, and unlike wall time not inflated when other work shares the cores
    start = time.process_time()
    check(name, plain(EXERCISES[name].solution))
    assert time.process_time() - start < 2.0


def test_check_rejects_an_unknown_name_and_a_non_function():
    with bad_input("name") as info:
        check("toy_foward", EXERCISES["toy_forward"].solution)
    assert "toy_forward" in str(info.value)                              # the close name
    with bad_input("name"):
        stub_function("no such exercise")
    with bad_input("fn") as info:
        check("toy_forward", 3)
    assert "int" in str(info.value)


def test_what_a_learner_sees_for_common_slips():
    def returns_nothing(W, b, x):
        torch.relu(x @ W.mT @ W + b[:, None, :])

    def changes_its_input(W, b, x):
        x.clamp_(min=0.1)
        return torch.relu(x @ W.mT @ W + b[:, None, :])

    def crashes(W, b, x):
        return torch.relu(W @ x)

    for fn, message in ((returns_nothing, "forget to `return`"), (changes_its_input, "changed its input x in place"),
                        (crashes, "it raised RuntimeError")):
        with pytest.raises(ExerciseFailed, match=None) as info:
            check("toy_forward", fn)
        assert message in str(info.value)
    assert issubclass(ExerciseFailed, AssertionError)


def test_the_library_exports_the_package():
    assert superpos_lib.exercises is exercises
    assert "exercises" in superpos_lib.__all__
    assert "``exercises``" in superpos_lib.__doc__


def test_importing_the_exercises_brings_only_torch_and_the_standard_library():
    """The checkers import torch and the package itself: loaded without the rest of the
    library (a bare ``superpos_lib`` package), ``superpos_lib.exercises`` adds only its own
    modules and standard-library ones, never numpy-heavy plotting packages."""
    script = textwrap.dedent(
        f"""
        import sys, types
        import torch
        before = set(sys.modules)
        package = types.ModuleType("superpos_lib")
        package.__path__ = [{str(ROOT / "superpos_lib")!r}]
        sys.modules["superpos_lib"] = package
        import superpos_lib.exercises
        print("\\n".join(sorted(set(sys.modules) - before - {{"superpos_lib"}})))
        """
    )
    new = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    ours = [m for m in new if m.startswith("superpos_lib.")]
    assert all(m.startswith("superpos_lib.exercises") for m in ours), ours
    others = {m.split(".")[0] for m in new if not m.startswith("superpos_lib.")}
    assert others <= set(sys.stdlib_module_names), others - set(sys.stdlib_module_names)
    assert not {"matplotlib", "plotly", "ipywidgets", "scipy", "numpy"} & others
