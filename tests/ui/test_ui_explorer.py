"""The one explorer base: latest request wins, validation from the controls, failures shown."""

import threading
import time

import pytest

from superpos_lib.ui import LatestOnlyWorker


def test_worker_supersedes_a_running_job():
    log, started = [], threading.Event()

    def job(name, is_stale):
        started.set()
        for _ in range(200):
            if is_stale():
                log.append((name, "stopped"))
                return
            time.sleep(0.005)
        log.append((name, "done"))

    worker = LatestOnlyWorker(job)
    worker.submit("first")
    started.wait(2)
    worker.submit("second")
    worker.submit("third")
    assert worker.wait(10)
    assert log == [("first", "stopped"), ("third", "done")], "a queued job is dropped, a running one stopped"


def test_worker_reraises_job_errors():
    def job(_, __):
        raise RuntimeError("boom")

    worker = LatestOnlyWorker(job)
    worker.submit(1)
    with pytest.raises(RuntimeError, match="boom"):
        worker.wait(5)
    assert worker.wait(1), "the error is reported once"


# -- the base, with tiny explorers that train nothing ---------------------------------------------
import ipywidgets as W  # noqa: E402
import torch  # noqa: E402

from superpos_lib.training import TrainState  # noqa: E402
from superpos_lib.ui import Explorer, Frame  # noqa: E402


class _Canvas(Frame):
    def __init__(self):
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(2, 1))
        self.ax = self.figure.add_subplot()
        self._init_title()

    def update(self, title):
        self._title.set_text(title)
        return self.figure


class _Redraw(Explorer):
    """Redraws at once: a log slider, an int slider and two options."""

    trains = False

    def __init__(self, **initial):
        self.canvas = _Canvas()
        self.runs = []
        super().__init__({"p": W.FloatLogSlider(0.1, base=10, min=-2, max=0),
                          "n": W.IntSlider(3, min=1, max=5),
                          "mode": W.ToggleButtons(options=[("A", "a"), ("B", "b")], value="a")}, initial=initial)

    def run(self, settings, job):
        if settings["n"] == 4:
            raise RuntimeError("four is broken")
        self.runs.append(dict(settings))
        return settings["p"] * settings["n"]

    def draw(self, settings, result):
        self.canvas.update(f"{settings['mode']}: {result:.3f}")
        return self.canvas

    def status_line(self, settings, result, seconds):
        return f"computed <{result:.3f}>"


def test_an_explorer_draws_its_initial_setting_and_says_so():
    ex = _Redraw(p=0.5, mode="b")
    assert ex.shown == {"p": 0.5, "n": 3, "mode": "b"} and ex.result == pytest.approx(1.5)
    assert ex.frame.title == "b: 1.500" and bytes(ex.image.value).startswith(b"\x89PNG")
    assert ex.status.value == "<small>computed &lt;1.500&gt;</small>", "the status line is escaped HTML"
    assert ex.frames_drawn == 1 and ex.wait() is True


def test_values_are_checked_against_their_controls():
    ex = _Redraw()
    for changes, message in [({"p": 2.0}, r"p must be in \[0.01, 1\]"), ({"p": 0.001}, "p must be in"),
                             ({"n": 6}, r"n must be a whole number in \[1, 5\]"), ({"n": 2.5}, "n must be a whole"),
                             ({"n": True}, "n must be a whole"), ({"mode": "c"}, r"mode must be one of \['a', 'b'\]"),
                             ({"q": 1}, r"_Redraw has no control for \['q'\]")]:
        with pytest.raises(ValueError, match=message):
            ex.update(**changes)
    assert ex.shown == {"p": 0.1, "n": 3, "mode": "a"} and len(ex.runs) == 1, "a rejected move runs nothing"
    ex.update(p=0.01, n=5)                                       # the ends of the ranges are allowed
    assert ex.shown == {"p": 0.01, "n": 5, "mode": "a"}
    with pytest.raises(ValueError, match="p must be in"):
        _Redraw(p=10.0)


def test_a_reader_move_redraws_through_the_observer():
    ex = _Redraw()
    ex.controls["n"].value = 2
    assert ex.shown["n"] == 2 and ex.frame.title == "a: 0.200"
    ex.update(n=5, p=0.2)
    assert len(ex.runs) == 3, "one run for several changes at once"


def test_a_failure_is_shown_kept_and_raised_by_update_and_the_explorer_stays_usable():
    ex = _Redraw()
    ex.controls["n"].value = 4                                   # a reader's move that fails
    assert ex.error == "RuntimeError: four is broken"
    assert "Failed" in ex.status.value and "four is broken" in ex.status.value
    assert ex.shown["n"] == 3, "the figure on display is still the last good one"
    with pytest.raises(RuntimeError, match="four is broken"):
        ex.update(n=4)
    ex.update(n=2)
    assert ex.error is None and ex.shown["n"] == 2 and "computed" in ex.status.value


class _Trains(Explorer):
    """A background explorer whose 'training' is a loop of callbacks."""

    def __init__(self, steps=40, fail_at=None, frame_interval=0.0):
        self.canvas, self.steps, self.fail_at, self.live_frames = _Canvas(), steps, fail_at, 0
        super().__init__({"x": W.IntSlider(1, min=0, max=100)}, frame_interval=frame_interval)

    def run(self, settings, job):
        if settings["x"] == self.fail_at:
            raise ValueError("bad x")
        callback = job.callback(self._live)
        for step in range(1, self.steps + 1):
            state = TrainState(torch.nn.Module(), step, self.steps, torch.zeros(1), torch.zeros(0, 1), logged_steps=[step])
            if callback(state):
                return None
            time.sleep(0.002)
        return settings["x"]

    def _live(self, state):
        self.live_frames += 1
        self.canvas.update(f"live {state.step}")
        return self.canvas

    def draw(self, settings, result):
        self.canvas.update(f"x = {result}")
        return self.canvas


def test_training_explorer_shows_live_frames_then_the_result():
    ex = _Trains()
    assert ex.result == 1 and ex.frame.title == "x = 1" and ex.live_frames >= 2
    assert ex.frames_drawn == ex.live_frames + 1


def test_the_latest_request_wins_and_failures_in_the_thread_are_shown():
    ex = _Trains(steps=200, fail_at=13, frame_interval=0.1)
    for x in (5, 6, 7):
        ex.submit(x=x)
    assert ex.wait(30)
    assert ex.shown == {"x": 7} and ex.result == 7 and ex.frame.title == "x = 7"
    ex.controls["x"].value = 13                                  # fails in the worker thread
    assert ex.wait(30)
    assert ex.error == "ValueError: bad x" and "bad x" in ex.status.value
    assert ex.shown == {"x": 7}
    with pytest.raises(ValueError, match="bad x"):
        ex.update(x=13)
    ex.update(x=8)
    assert ex.error is None and ex.result == 8
