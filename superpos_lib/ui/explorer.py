"""The one explorer base: controls → latest-request-wins worker → training callbacks → live
frames → final figure → status line.

Every explorer of the book derives from :class:`Explorer` and supplies three things: its
controls (ipywidgets, one per name), :meth:`Explorer.run` (train or compute for one setting of
the controls) and :meth:`Explorer.draw` (the final figure of that setting). The base does the
rest, the same way for all of them:

* **Validation from the controls.** :meth:`Explorer.update` and :meth:`Explorer.submit` move the
  controls as a reader would; a value outside a control's range or options raises
  ``ValueError`` naming the control (ipywidgets itself would clip it silently).
* **Latest request wins.** Training runs in a background thread so the kernel stays free to
  receive slider moves; a newer request supersedes the running one, which stops at its next
  training callback (:meth:`Job.callback`), so the figure always ends up showing the latest
  control values (:attr:`Explorer.shown`). Explorers that only redraw (``trains = False``)
  compute in the caller's thread on every move.
* **Live frames** every ``frame_interval`` seconds while training, then the final figure, shown
  as a PNG in :attr:`Explorer.image`, so front ends without widgets (the static site, nbval)
  still see it (:meth:`Explorer._repr_mimebundle_`).
* **Failures shown.** An exception in a run is shown in the status line and kept in
  :attr:`Explorer.error`; the explorer stays usable, and :meth:`Explorer.update` raises it.
"""

from __future__ import annotations

import base64
import html
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import ipywidgets as W

from ..checks import check_number
from ..training import TrainState

__all__ = ["LatestOnlyWorker", "Job", "Explorer", "control_range", "STATIC_FALLBACK"]

STATIC_FALLBACK = (
    '<figure class="superpos-explorer" style="margin:0">'
    '<img src="data:image/png;base64,{png}" alt="{name} at its default setting" style="max-width:100%">'
    '<figcaption style="font-size:90%">This is the explorer at its default setting. Its controls retrain '
    'the model live, which needs a running Python kernel: <a class="superpos-live" href="#">open this chapter '
    "in Colab</a> (or in Jupyter) to move them.</figcaption></figure>"
)
"""An explorer's display where widgets cannot run. The book build points the link at the chapter's
Colab notebook."""


class LatestOnlyWorker:
    """Runs jobs one at a time in a background thread; only the newest job matters.

    ``submit(job)`` supersedes any queued job and marks a running one stale: the job function
    receives ``is_stale()`` and is expected to return early when it turns true. A job's
    exception goes to ``on_error(err)`` when given; otherwise :meth:`wait` re-raises it.
    """

    def __init__(self, fn: Callable[[object, Callable[[], bool]], None],
                 on_error: Callable[[BaseException], None] | None = None):
        self._fn = fn
        self._on_error = on_error
        self._lock = threading.Condition()
        self._pending: tuple[int, object] | None = None
        self._generation = 0
        self._busy = False
        self.error: BaseException | None = None

    def submit(self, job: object) -> None:
        with self._lock:
            self._generation += 1
            self._pending = (self._generation, job)
            if not self._busy:
                self._busy = True
                threading.Thread(target=self._run, daemon=True, name="superpos-explorer").start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._busy = False
                    self._lock.notify_all()
                    return
                generation, job = self._pending
                self._pending = None
            try:
                self._fn(job, lambda g=generation: g != self._generation)
            except Exception as err:  # never lost in the thread: reported or re-raised by wait()
                if self._on_error is not None:
                    self._on_error(err)
                else:
                    self.error = err

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running; re-raise an unreported error. False on timeout."""
        with self._lock:
            done = self._lock.wait_for(lambda: not self._busy, timeout)
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        return done


def control_range(widget: W.Widget) -> tuple[float, float] | None:
    """The ``(low, high)`` values a slider allows (``None`` for controls without a range)."""
    if isinstance(widget, W.FloatLogSlider):
        return widget.base**widget.min, widget.base**widget.max
    if hasattr(widget, "min") and hasattr(widget, "max"):
        return widget.min, widget.max
    return None


def _option_values(widget: W.Widget) -> list[object]:
    return [o[1] if isinstance(o, tuple) else o for o in widget.options]


class Job:
    """One run of an explorer for one setting of its controls (handed to :meth:`Explorer.run`)."""

    def __init__(self, explorer: "Explorer", settings: dict[str, Any], is_stale: Callable[[], bool]):
        self.explorer = explorer
        self.settings = settings
        self.stale = is_stale
        self.started = time.perf_counter()

    def callback(self, live: Callable[[TrainState], object] | None = None) -> Callable[[TrainState], bool]:
        """A training callback that stops the run once it is superseded and, every
        ``frame_interval`` seconds, shows ``live(state)`` (a frame drawn from the live model)."""
        last = [time.perf_counter()]

        def callback(state: TrainState) -> bool:
            if self.stale():
                return True
            now = time.perf_counter()
            if live is not None and now - last[0] >= self.explorer.frame_interval and state.logged_steps:
                self.explorer._show(live(state), self.settings)
                last[0] = time.perf_counter()
            return False

        return callback


class Explorer:
    """Controls → retrain (or recompute) → redraw, with the latest control values always winning.

    Subclasses build their controls at default values, then call ``super().__init__(controls,
    initial=...)``, which checks the initial values against the controls, sets them and draws
    that setting (raising if it fails). They implement :meth:`run` and :meth:`draw`,
    and may override :meth:`status_line` and :meth:`check`.

    Attributes:
        controls: control name → ipywidget, in display order.
        shown: control name → value, the setting the figure on display was made with.
        result: what :meth:`run` returned for that setting.
        error: ``None``, or the message of the last failed run.
        frames_drawn: frames shown so far (live and final).
        image, status, widget: the PNG of the figure, the status line, and everything together.
    """

    trains: ClassVar[bool] = True
    """False for explorers that only redraw: they compute in the caller's thread."""

    def __init__(self, controls: Mapping[str, W.ValueWidget], *, initial: Mapping[str, Any] | None = None,
                 layout: W.Widget | None = None, frame_interval: float = 0.5, image_width: str = "672px"):
        self.frame_interval = check_number(frame_interval, "frame_interval", low=0)
        self.controls = dict(controls)
        initial = dict(initial or {})
        self._check_names(initial)
        settings = {**self.settings, **initial}
        for name, value in initial.items():  # validated by the controls, as a reader's moves are
            self._check_value(name, value, settings)
        self.check(settings)
        self._set_controls(initial)
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width=image_width))
        self.status = W.HTML()
        self.widget = W.VBox([layout or W.VBox(list(self.controls.values())), self.image, self.status])
        self.shown: dict[str, Any] | None = None
        self.result: Any = None
        self.error: str | None = None
        self.frames_drawn = 0
        self._frame = None
        self._holding = False
        self._failure: Exception | None = None
        self._worker = LatestOnlyWorker(self._run, on_error=self._record_failure) if self.trains else None
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self._request(self.settings)
        self.wait()
        if self._failure is not None:
            raise self._failure

    @classmethod
    def key(cls) -> str:
        """The class's name in snake case (``SAEExplorer`` → ``"sae_explorer"``), e.g. for benchmark keys."""
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__).lower()

    # -- what a subclass supplies -----------------------------------------------------------------
    @classmethod
    def demo(cls, device: str | None = None) -> "Explorer":
        """An explorer at its chapter's default settings, building whatever data it needs."""
        raise NotImplementedError

    def run(self, settings: dict[str, Any], job: Job) -> Any:
        """Train or compute for ``settings``; return what :meth:`draw` needs (``None`` if stale)."""
        raise NotImplementedError

    def draw(self, settings: dict[str, Any], result: Any):
        """Draw ``result`` on the frame for ``settings`` and return that frame."""
        raise NotImplementedError

    def status_line(self, settings: dict[str, Any], result: Any, seconds: float) -> str:
        """The text under the figure once ``settings`` is drawn (plain text)."""
        return ""

    def check(self, settings: dict[str, Any]) -> None:
        """Raise ``ValueError`` for a combination of control values that cannot be run."""

    def bounds(self, name: str, settings: dict[str, Any]) -> tuple[float, float] | None:
        """The range control ``name`` allows when the controls show ``settings`` (default: its own
        ``min``/``max``; an explorer whose ranges depend on each other overrides this)."""
        return control_range(self.controls[name])

    # -- controls ---------------------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """Control name → the value the control shows now."""
        return {name: control.value for name, control in self.controls.items()}

    def _check_names(self, changes: Mapping[str, Any]) -> None:
        unknown = [name for name in changes if name not in self.controls]
        if unknown:
            raise ValueError(f"{type(self).__name__} has no control for {unknown}; its controls are {list(self.controls)}")

    def _check_value(self, name: str, value: Any, settings: dict[str, Any]) -> None:
        control = self.controls[name]
        if hasattr(control, "options"):
            options = _option_values(control)
            if value not in options:
                raise ValueError(f"{name} must be one of {options} (the options of its control), got {value!r}")
            return
        bounds = self.bounds(name, settings)
        if bounds is None:
            return
        low, high = bounds
        if isinstance(control, W.IntSlider):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number in [{low}, {high}] (the range of its control), got {value!r}")
            return
        tol = 1e-9 * max(abs(low), abs(high), 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low - tol <= value <= high + tol:
            raise ValueError(f"{name} must be in [{low:g}, {high:g}] (the range of its control), got {value!r}")

    def submit(self, **changes: Any) -> None:
        """Move the controls as a reader would (one retrain for all the changes); don't wait."""
        self._check_names(changes)
        settings = {**self.settings, **changes}
        for name, value in changes.items():
            self._check_value(name, value, settings)
        self.check(settings)
        self._set_controls(changes)
        self._request(settings)

    def _set_controls(self, changes: dict[str, Any]) -> None:
        """Move controls without a retrain per control, in display order (a control whose range
        follows an earlier one is set after it)."""
        self._holding = True
        try:
            for name, control in self.controls.items():
                if name in changes:
                    control.value = changes[name]
        finally:
            self._holding = False

    def update(self, **changes: Any):
        """Move the controls, retrain and wait; returns the figure on display.

        Raises the run's exception if it failed (it is also shown in the status line).
        """
        self._failure = None
        self.submit(**changes)
        self.wait()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        return self.figure

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for pending retraining to finish; False on timeout."""
        return True if self._worker is None else self._worker.wait(timeout)

    def _on_change(self, _change=None) -> None:
        if not self._holding:
            self._request(self.settings)

    def _request(self, settings: dict[str, Any]) -> None:
        if self._worker is None:
            try:
                self._run(settings, lambda: False)
            except Exception as err:
                self._record_failure(err)
        else:
            self._worker.submit(settings)

    # -- run and show -----------------------------------------------------------------------------
    def _run(self, settings: dict[str, Any], is_stale: Callable[[], bool]) -> None:
        job = Job(self, settings, is_stale)
        try:
            result = self.run(settings, job)
            if job.stale():
                return
            frame = self.draw(settings, result)
        except Exception:
            if job.stale():  # superseded anyway: the newer request decides what is shown
                return
            raise
        self.result = result
        self._show(frame, settings)
        self.error = None
        self.status.value = f"<small>{html.escape(self.status_line(settings, result, time.perf_counter() - job.started))}</small>"

    def _record_failure(self, err: Exception) -> None:
        self._failure = err
        self.error = f"{type(err).__name__}: {err}"
        self.status.value = f'<small style="color:#b00020">Failed: {html.escape(self.error)}</small>'

    def _show(self, frame, settings: dict[str, Any]) -> None:
        self.image.value = frame.png()
        self._frame, self.shown = frame, dict(settings)
        self.frames_drawn += 1

    @property
    def frame(self):
        """The frame on display (its ``figure`` and its artists)."""
        return self._frame

    @property
    def figure(self):
        """The matplotlib figure on display."""
        return self._frame.figure

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget for a kernel, and for front ends without widgets (the static site, a
        notebook viewer) the figure on display with a way to the live version, not dead controls."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        png = base64.b64encode(bytes(self.image.value)).decode("ascii")
        bundle["image/png"] = png
        bundle["text/html"] = STATIC_FALLBACK.format(png=png, name=html.escape(type(self).__name__))
        return bundle
