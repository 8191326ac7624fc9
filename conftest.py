"""The chapters under nbval execute once for both purposes: testing them, and the book; and each
stays under a memory budget.

nbval runs every chapter, top to bottom, as a test. Its kernels are started the way the book
build starts its own (the build's IPython profile, which draws plotly figures as static HTML for
the site, and no progress bars), and each chapter whose every cell passed is stored, with its
outputs, in the build's execution cache (``_build/.jupyter_cache``, keyed by the chapter's code).
A ``jupyter-book build`` after the tests then finds every chapter executed and runs none again;
one with a changed chapter, or without a test run before it, executes what it needs as usual.

A chapter's kernel may use at most ``CHAPTER_MEMORY_MB`` (its peak resident memory, read from
``/proc`` after its last cell on Linux): the last cell's test fails past it, and the summary at
the end of the run lists every chapter's peak.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))  # superpos_typecheck, the suite's type checker, for any selection of tests
BUILD_CACHE = ROOT / "_build" / ".jupyter_cache"
CHAPTER_MEMORY_MB = 1500
_runs: dict[Path, dict] = {}


def kernel_peak_mb(kernel) -> float | None:
    """Peak resident memory of an nbval kernel's process in MB (Linux's VmHWM), or ``None``."""
    try:
        pid = kernel.km.provisioner.process.pid
        status = Path(f"/proc/{pid}/status").read_text()
    except (AttributeError, OSError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def pytest_configure(config) -> None:
    if not config.pluginmanager.hasplugin("nbval"):
        return
    sys.path.insert(0, str(ROOT / "_ext"))
    import superpos_site

    os.environ.update(superpos_site.BUILD_ENVIRONMENT)
    os.environ["IPYTHONDIR"] = str(superpos_site.kernel_profile(ROOT / "_build" / "superpos_ipython"))


def _is_notebook_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "test_outputs")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _is_notebook_cell(item) or call.when != "call":
        return
    path = Path(str(item.parent.fspath))
    run = _runs.setdefault(path, {"nb": item.parent.nb, "passed": True, "count": 0, "start": time.perf_counter(),
                                  "own_cpu": time.process_time()})
    report = outcome.get_result()
    run["passed"] &= report.passed
    run["count"] += 1
    item.cell.outputs = list(item.test_outputs or [])
    item.cell.execution_count = run["count"]
    if run["count"] == sum(cell.cell_type == "code" for cell in run["nb"].cells):  # the chapter's last cell
        run["seconds"] = time.perf_counter() - run["start"]
        # CPU that this test process itself used meanwhile (threads left over from earlier tests
        # would compete with the chapter's kernel for the cores and slow it down)
        run["own_cpu"] = time.process_time() - run["own_cpu"]
        run["peak_mb"] = peak = kernel_peak_mb(getattr(item.parent, "kernel", None))
        if peak is not None and peak > CHAPTER_MEMORY_MB and report.passed:
            report.outcome = "failed"
            report.longrepr = f"{path.name} peaked at {peak:.0f} MB of memory, over its {CHAPTER_MEMORY_MB} MB budget"
            run["passed"] = False


def pytest_terminal_summary(terminalreporter) -> None:
    finished = {p.name: r for p, r in _runs.items() if "seconds" in r}
    if finished:
        terminalreporter.section("chapters' time and peak memory")
        for name, run in finished.items():
            peak = "unknown" if run["peak_mb"] is None else f"{run['peak_mb']:.0f} MB"
            terminalreporter.write_line(f"{name}: {run['seconds']:.0f} s, peak {peak} (budget {CHAPTER_MEMORY_MB} MB); "
                                        f"the test process's own CPU meanwhile {run['own_cpu']:.1f} s")


def pytest_sessionfinish(session) -> None:
    executed = {p: r for p, r in _runs.items() if r["passed"]}
    if not executed:
        return
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(BUILD_CACHE))
    for path, run in executed.items():
        n_code = sum(cell.cell_type == "code" for cell in run["nb"].cells)
        if run["count"] != n_code:  # only some of its cells were selected: not a whole execution
            continue
        cache.cache_notebook_bundle(
            CacheBundleIn(run["nb"], str(path), data={"execution_seconds": run["seconds"]}),
            check_validity=False,
            overwrite=True,
        )
