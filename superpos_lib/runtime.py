"""Where the book's tensors live: device choice, CPU threads, Colab detection, the setup cell.

Every chapter's setup cell calls :func:`get_device` and prints :func:`describe_device`, so a
learner sees at once whether the sliders will retrain on a GPU.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import operator
import os
import sys
import threading
from collections.abc import Iterator

import torch

from .checks import check_positive_int

__all__ = ["stream_seed", "get_device", "describe_device", "in_colab", "cpu_threads", "auto_threads", "thread_local_threads",
           "steady_memory", "setup_notebook", "PROGRESS_ENV"]

PROGRESS_ENV = "SUPERPOS_PROGRESS"
"""Set this environment variable to ``0`` to keep training progress bars out of a notebook's
output (the book build does, so that no bar is frozen into a page)."""

_KNOWN_DEVICE_TYPES = ("cpu", "cuda", "mps")


def stream_seed(seed: int, stream: str) -> int:
    """A seed for one named random stream, derived from ``seed`` (a 63-bit hash of both).

    Two objects seeded with the same small integer draw from the same stream, and their random
    numbers coincide: an SAE seeded 0 would start with its decoder rows *equal* to the true
    features of ground-truth data seeded 0 (both are normalised ``randn`` draws of the same
    shape). Every random initialisation that could meet another seeded draw takes its own
    stream, so equal seeds give unrelated numbers.
    """
    if isinstance(seed, bool) or not hasattr(seed, "__index__") or operator.index(seed) < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = operator.index(seed)
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"stream must be a non-empty name, got {stream!r}")
    digest = hashlib.blake2b(f"{stream}:{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to train on: the one asked for, else CUDA > MPS > CPU.

    Args:
        device: ``None`` picks the best available; otherwise ``"cpu"``, ``"cuda"``,
            ``"cuda:1"``, ``"mps"`` or a ``torch.device``.

    Raises:
        ValueError: the device is unknown, or asked for but not available here.
    """
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device must be one of {_KNOWN_DEVICE_TYPES} (optionally with an index) or None, "
            f"got {device!r}"
        ) from err
    if dev.type not in _KNOWN_DEVICE_TYPES:
        raise ValueError(f"device must be one of {_KNOWN_DEVICE_TYPES} or None, got {device!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for, but CUDA is not available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) are present"
            )
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"device={device!r} was asked for, but MPS is not available here")
    return dev


def describe_device(device: str | torch.device | None = None) -> str:
    """One line for a chapter's setup cell, e.g. ``"Training on CPU (2 threads)"``."""
    dev = get_device(device)
    if dev.type == "cuda":
        return f"Training on GPU: {torch.cuda.get_device_name(dev)} (torch {torch.__version__})"
    if dev.type == "mps":
        return f"Training on Apple GPU (MPS) (torch {torch.__version__})"
    return f"Training on CPU ({torch.get_num_threads()} threads, torch {torch.__version__})"


def in_colab() -> bool:
    """True inside Google Colab (its runtime preloads the ``google.colab`` module)."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def auto_threads(n_elements: int) -> int:
    """CPU threads worth using for a training step that touches ``n_elements`` floats per op.

    Tiny tensors run faster on one thread: waking a second one costs more than the maths.
    The threshold was measured on a 2-core machine (``benchmarks/bench.py``).
    """
    if n_elements < 0:
        raise ValueError(f"n_elements must be >= 0, got {n_elements}")
    return 1 if n_elements < 32_768 else torch.get_num_threads()


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op CPU threads (``None``: leave as is), then restore.

    From a background thread (an explorer's worker) the count changes only for that thread, or
    not at all: with PyTorch's OpenMP backend (every PyTorch wheel) a thread's count is its own
    (OpenMP's ``nthreads-var`` is per thread, and MKL's is set thread-locally), so the reader's
    cells keep theirs and interleaving workers cannot leave the kernel at the wrong count; with any
    other backend the count is process-wide, and a background thread leaves it alone.
    """
    if n is not None:
        check_positive_int(n, "n (CPU threads)")
    background = threading.current_thread() is not threading.main_thread()
    if n is None or (background and not thread_local_threads()):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


MMAP_THRESHOLD = 4 * 1024 * 1024
"""Blocks of at least this many bytes are mapped and unmapped (glibc's threshold, fixed here)."""


def steady_memory() -> bool:
    """Keep a notebook's memory from creeping up on Linux: fix glibc's mmap threshold at 4 MiB,
    so that large freed tensors go back to the system. glibc otherwise raises the threshold
    each time a mapped block is freed, after which same-sized tensors come from a heap that grows
    and never shrinks: measured, chapter 5 peaked at 1.72 GB under nbval after its explorer had run.
    The threshold must not be small either: at glibc's starting value (128 KiB) every freed
    activation of a training step (an SAE's ``4 × 512 × 128`` floats are 1 MiB) is unmapped and
    the next one mapped and zeroed afresh, and chapter 9's SAEs trained 1.8 times slower (the
    chapter took 129 s, 73-77 s at 4 or 16 MiB; chapter 5 peaked at 0.82-1.04 GB at 4 MiB).
    Returns whether it could be set (``False`` off glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, MMAP_THRESHOLD))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


@functools.lru_cache(maxsize=1)
def thread_local_threads() -> bool:
    """Whether ``torch.set_num_threads`` affects only the calling thread (PyTorch's OpenMP backend)."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


def setup_notebook(device: str | torch.device | None = None) -> torch.device:
    """The first cell of every chapter: choose the device, show figures inline, keep memory steady
    (:func:`steady_memory`), say which device.

    Safe outside a notebook (it then only chooses and reports the device).
    """
    dev = get_device(device)
    steady_memory()
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython ships with Jupyter and Colab
        shell = None
    if shell is not None and hasattr(shell, "kernel"):
        shell.run_line_magic("matplotlib", "inline")
    print(describe_device(dev))
    return dev
