import pytest
import torch

from conftest import bad_input
from superpos_lib import runtime


def test_get_device_defaults_to_best_available(monkeypatch):
    assert runtime.get_device() == torch.device("cpu") or torch.cuda.is_available()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.get_device() == torch.device("cuda")


def test_get_device_prefers_mps_over_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: True)
    assert runtime.get_device() == torch.device("mps")


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_get_device_accepts_cpu(device):
    assert runtime.get_device(device) == torch.device("cpu")


@pytest.mark.parametrize("device", ["tpu", "gpu", "banana", "meta"])
def test_get_device_rejects_unknown(device):
    with pytest.raises(ValueError, match="device"):
        runtime.get_device(device)


def test_get_device_rejects_wrong_type():
    with bad_input("device"):
        runtime.get_device(3.5)


def test_get_device_rejects_unavailable_cuda_and_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        runtime.get_device("cuda")
    with pytest.raises(ValueError, match="MPS is not available"):
        runtime.get_device("mps")


def test_get_device_rejects_missing_cuda_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert runtime.get_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        runtime.get_device("cuda:3")


def test_describe_device_names_cpu():
    text = runtime.describe_device("cpu")
    assert text.startswith("Training on CPU") and "threads" in text


def test_in_colab(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert runtime.in_colab() is False
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_2026")
    assert runtime.in_colab() is True


def test_cpu_threads_sets_and_restores():
    before = torch.get_num_threads()
    with runtime.cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with runtime.cpu_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="CPU threads"):
        with runtime.cpu_threads(0):
            pass


def test_a_background_job_never_changes_the_kernels_thread_count():
    import threading

    before, seen, holding, release = torch.get_num_threads(), [], threading.Event(), threading.Event()

    def job():
        with runtime.cpu_threads(1):
            seen.append(torch.get_num_threads())
            holding.set()
            release.wait(10)

    workers = [threading.Thread(target=job) for _ in range(2)]  # two explorers, interleaving
    for w in workers:
        w.start()
    assert holding.wait(10)
    assert torch.get_num_threads() == before, "the reader's cells keep their thread count meanwhile"
    release.set()
    for w in workers:
        w.join()
    assert torch.get_num_threads() == before
    expected = 1 if runtime.thread_local_threads() else before
    assert seen == [expected, expected], "with OpenMP a worker's count is its own; otherwise untouched"
    assert runtime.thread_local_threads(), "every PyTorch wheel uses OpenMP; if not, explorers run slower"


# Run in a fresh interpreter: in a long test session a large free chunk left in the heap by
# earlier tests would serve the allocation below from the heap, whatever the threshold.
_FREED_GOES_BACK = """
import os, torch
from superpos_lib import runtime

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

assert runtime.steady_memory()
for _ in range(3):  # after freeing (glibc would raise its threshold to this size)
    big = torch.ones(6 * 2**20 // 4)  # 6 MiB
    held = rss_mib()
    del big
    assert held - rss_mib() > 5, "a freed 6 MiB tensor stayed in the process"
"""


def test_steady_memory_fixes_glibcs_mmap_threshold():
    import subprocess
    import sys

    assert runtime.steady_memory() is sys.platform.startswith("linux")
    if sys.platform.startswith("linux"):  # small enough that a large freed tensor goes back at once ...
        run = subprocess.run([sys.executable, "-c", _FREED_GOES_BACK], capture_output=True, text=True, timeout=120,
                             check=False)
        assert run.returncode == 0, run.stderr[-2000:]
    # ... large enough that a training step's 1-MiB activations are reused, not mapped afresh
    assert runtime.MMAP_THRESHOLD >= 2 * 2**20


def test_auto_threads():
    assert runtime.auto_threads(1000) == 1
    assert runtime.auto_threads(10**7) == torch.get_num_threads()
    with pytest.raises(ValueError, match="n_elements"):
        runtime.auto_threads(-1)


def test_setup_notebook_outside_a_kernel(capsys):
    assert runtime.setup_notebook("cpu") == torch.device("cpu")
    assert "Training on CPU" in capsys.readouterr().out


def test_setup_notebook_in_a_kernel_turns_on_inline_figures(monkeypatch, capsys):
    calls = []

    class FakeKernelShell:
        kernel = object()

        def run_line_magic(self, name, line):
            calls.append((name, line))

    monkeypatch.setattr("IPython.get_ipython", lambda: FakeKernelShell())
    runtime.setup_notebook("cpu")
    assert calls == [("matplotlib", "inline")]


def test_stream_seed_is_fixed_and_differs_by_stream_and_seed():
    a = runtime.stream_seed(0, "sae.init")
    assert a == runtime.stream_seed(0, "sae.init") == 5528755975728187617  # the same on every machine
    assert len({a, runtime.stream_seed(1, "sae.init"), runtime.stream_seed(0, "data")}) == 3
    assert 0 <= a < 2**63
    assert runtime.stream_seed(torch.tensor(3).item(), "x") == runtime.stream_seed(3, "x")


@pytest.mark.parametrize("seed,stream,name", [(-1, "x", "seed"), (1.5, "x", "seed"), (True, "x", "seed"), (0, "", "stream"),
                                              (0, 3, "stream")])
def test_stream_seed_bad_input(seed, stream, name):
    with bad_input(name):
        runtime.stream_seed(seed, stream)
