"""nbval's executions of the chapters are stored for the book build (``conftest.py`` at the root)."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import nbformat
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[2]


def _plugin():
    spec = importlib.util.spec_from_file_location("superpos_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class IPyNbCell(SimpleNamespace):  # stands in for nbval's item of that name
    pass


def _run(plugin, item, passed=True):
    hook = plugin.pytest_runtest_makereport(item, SimpleNamespace(when="call"))
    next(hook)
    try:
        hook.send(SimpleNamespace(get_result=lambda: SimpleNamespace(passed=passed)))
    except StopIteration:
        pass


def _notebook(tmp_path, name="chapter.ipynb"):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell("print(1)"),
                nbformat.v4.new_code_cell("2 + 2")]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path, nbformat.read(path, 4)


def test_a_passing_chapter_is_cached_with_its_outputs_for_the_build(tmp_path, monkeypatch):
    plugin = _plugin()
    monkeypatch.setattr(plugin, "BUILD_CACHE", tmp_path / "cache")
    path, nb = _notebook(tmp_path)
    parent = SimpleNamespace(fspath=str(path), nb=nb)
    outputs = [[nbformat.v4.new_output("stream", name="stdout", text="1\n")],
               [nbformat.v4.new_output("execute_result", data={"text/plain": "4"}, execution_count=2)]]
    for cell, out in zip([c for c in nb.cells if c.cell_type == "code"], outputs):
        _run(plugin, IPyNbCell(parent=parent, cell=cell, test_outputs=out))
    plugin.pytest_sessionfinish(None)
    cache = get_cache(str(tmp_path / "cache"))
    fresh = nbformat.read(path, 4)                       # what the build reads: no outputs
    record = cache.match_cache_notebook(fresh)
    _, merged = cache.merge_match_into_notebook(fresh)
    assert record is not None
    assert merged.cells[1].outputs[0]["text"] == "1\n" and merged.cells[2].outputs[0]["data"]["text/plain"] == "4"


def test_a_failing_or_partial_chapter_is_not_cached(tmp_path, monkeypatch):
    plugin = _plugin()
    monkeypatch.setattr(plugin, "BUILD_CACHE", tmp_path / "cache")
    failing, nb = _notebook(tmp_path, "failing.ipynb")
    parent = SimpleNamespace(fspath=str(failing), nb=nb)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        _run(plugin, IPyNbCell(parent=parent, cell=cell, test_outputs=[]), passed=i == 0)
    partial, nb2 = _notebook(tmp_path, "partial.ipynb")
    cell = next(c for c in nb2.cells if c.cell_type == "code")
    _run(plugin, IPyNbCell(parent=SimpleNamespace(fspath=str(partial), nb=nb2), cell=cell, test_outputs=[]))
    plugin.pytest_sessionfinish(None)
    cache = get_cache(str(tmp_path / "cache"))
    assert cache.list_cache_records() == []


def test_chapter_kernels_start_like_the_builds():
    import os

    assert os.environ.get("IPYTHONDIR", "").endswith("superpos_ipython"), "nbval's kernels draw plotly for the page"
    assert os.environ.get("SUPERPOS_PROGRESS") == "0"
