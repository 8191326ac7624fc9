"""A learner's copy run the way a new Colab user runs it.

A fresh virtual environment sees what Colab preinstalls (torch, numpy, matplotlib, ipywidgets,
plotly, tqdm, a kernel: this environment's copies, through a ``.pth`` path entry, the way Colab's
image provides them, instead of a second multi-GB copy of torch) and no superpos_lib. The
learner's copy of chapter 1 (``book/learner/``, what the chapter's Colab link opens), with the
solutions a learner would write pasted in, alone is copied to an empty folder, and its install source,
``superpos-lib @ git+<repository>@<branch>``, is pointed at a wheel built from this checkout,
which stands in for GitHub. Then:

* the whole chapter executes (its first cell installs the library and reports the device);
* torch is not reinstalled (Colab's CUDA build must stay);
* run again, the first cell installs nothing.

Takes about half a minute, so it runs once, on one chapter.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
LEARNER_COPY = ROOT / "book" / "learner" / "01_features.ipynb"  # the quickest chapter
COLAB_PREINSTALLED = ["numpy", "matplotlib", "ipywidgets", "plotly", "tqdm", "ipykernel", "nbclient"]


def _run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _install_source() -> str:
    config = (ROOT / "_config.yml").read_text()
    url = re.search(r"^\s*url:\s*(\S+)", config, re.M).group(1)
    branch = re.search(r"^\s*branch:\s*(\S+)", config, re.M).group(1)
    return f"superpos-lib @ git+{url}@{branch}"


def test_learner_copy_runs_in_a_fresh_colab_like_environment(tmp_path):
    # Nothing of the test session's own setup (the build's kernel profile, paths) reaches Colab's stand-in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERPOS_", "PYTHONPATH", "VIRTUAL_ENV", "IPYTHONDIR"))}
    env["SUPERPOS_PROGRESS"] = "0"
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    preinstalled = Path(torch.__file__).resolve().parents[1]  # this environment's site-packages
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env).stdout.strip())
    (site / "colab_preinstalled.pth").write_text(f"{preinstalled}\n")  # a path entry: its own .pth files are not run
    probe = "import importlib.util, torch; print(torch.__file__); print(importlib.util.find_spec('superpos_lib'))"
    torch_init, spec = _run([str(python), "-c", probe], env=env, cwd=tmp_path).stdout.split()
    assert spec == "None", "Colab's stand-in has no superpos_lib before the setup cell"
    for name in COLAB_PREINSTALLED:
        _run([str(python), "-c", f"import {name}"], env=env, cwd=tmp_path)
    torch_stamp = os.stat(torch_init).st_mtime_ns

    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)], env=env, timeout=600)
    wheel = next(wheels.glob("superpos_lib-*.whl"))

    work = tmp_path / "colab"
    work.mkdir()
    from superpos_lib.exercises import solved_notebook

    notebook = work / LEARNER_COPY.name
    learner = json.loads(LEARNER_COPY.read_text())
    assert "learner-header" in learner["cells"][0]["metadata"]["tags"]
    text = json.dumps(solved_notebook(learner), ensure_ascii=False)
    source = _install_source()
    assert text.count(source) == 1, f"the setup cell installs {source!r}"
    notebook.write_text(text.replace(source, f"superpos-lib @ {wheel.as_uri()}"))

    _run([str(python), "-c", "from nbclient.cli import main; main()", "--inplace", "--timeout=600", notebook.name],
         cwd=work, env=env, timeout=1200)
    executed = json.loads(notebook.read_text())
    first = next(c for c in executed["cells"] if c["cell_type"] == "code")
    printed = "".join("".join(o.get("text", "")) for o in first["outputs"])
    assert "Training on CPU" in printed, printed
    assert os.stat(torch_init).st_mtime_ns == torch_stamp, "torch was reinstalled"
    freeze = _run([str(python), "-m", "pip", "freeze"], env=env).stdout
    assert f"superpos-lib @ {wheel.as_uri()}" in freeze, "the setup cell installed the library from its source"

    setup = "".join(first["source"])
    no_install = textwrap.dedent(
        """
        import subprocess
        def refuse(*args, **kwargs):
            raise AssertionError(f"the setup cell tried to run {args}")
        subprocess.run = refuse
        """
    ) + setup
    _run([str(python), "-c", no_install], cwd=work, env=env, timeout=300)
    shutil.rmtree(venv, ignore_errors=True)
