"""Chapter 8's figures: what they draw, and bad input."""

import dataclasses

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from conftest import assert_laid_out, assert_readable, bad_input
from superpos_lib.memorization import (double_descent, draw_vectors, example_dimensionality, feature_dims,
                                       plot_dimensionality, plot_double_descent, plot_hidden_vectors,
                                       plot_memorization_sweep)
from superpos_lib.training import TrainConfig

SIZES = (3, 5, 40)
N = 20


@pytest.fixture(scope="module")
def dd():
    return double_descent(SIZES, n_features=N, density=0.2, n_seeds=2, n_test=512, progress=False,
                          train_config=TrainConfig(steps=100, lr=0.05, weight_decay=0.01, batch_size=1))


def _tips(ax):
    return ax.collections[1].get_offsets()  # the dots at the vectors' tips


def test_draw_vectors_draws_each_column_on_the_longest_ones_scale():
    fig = Figure()
    ax = fig.subplots()
    v = torch.tensor([[1.0, 0.0, -0.5], [0.0, 2.0, 0.5]])
    line, dots = draw_vectors(ax, v, "red")
    assert np.allclose(dots.get_offsets(), v.T.numpy())
    segments = np.array(line.get_segments())  # one from the origin to each column
    assert segments.shape == (3, 2, 2) and np.allclose(segments[:, 0], 0) and np.allclose(segments[:, 1], v.T.numpy())
    assert ax.get_xlim() == pytest.approx((-2.3, 2.3)) and ax.get_ylim() == pytest.approx((-2.3, 2.3))
    assert ax.texts[-1].get_text() == "max 2"
    with bad_input("v"):
        draw_vectors(ax, torch.ones(3, 4), "red")
    with bad_input("v"):
        draw_vectors(ax, torch.ones(2), "red")


def test_plot_hidden_vectors_shows_features_above_examples(dd):
    fig = plot_hidden_vectors(dd, [0, 2, 4])
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    top, bottom = fig.axes[:3], fig.axes[3:]
    assert [ax.get_title() for ax in top] == ["T = 3", "T = 5", "T = 40"]
    H = dd.hidden()
    for ax_f, ax_e, k in zip(top, bottom, (0, 2, 4)):
        T = int(dd.n_examples[k])
        assert np.allclose(_tips(ax_f), dd.W[k].T.numpy(), atol=1e-6)
        assert len(_tips(ax_e)) == T and np.allclose(_tips(ax_e), H[k, :, :T].T.numpy(), atol=1e-6)
    with bad_input("indices"):
        plot_hidden_vectors(dd, [6])
    with bad_input("indices"):
        plot_hidden_vectors(dd, [])
    three = dataclasses.replace(dd, W=torch.zeros(6, 3, N))
    with bad_input("d_hidden"):
        plot_hidden_vectors(three, [0])


def test_plot_double_descent_draws_train_and_test_of_the_best_seed(dd):
    fig = plot_double_descent(dd)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    every = ax.collections[0].get_offsets()
    assert len(every) == 6 and np.allclose(every[:, 1], dd.test_loss.numpy())
    best = dd.best()
    test_line, train_line, zero = ax.lines
    assert list(test_line.get_xdata()) == list(SIZES)
    assert np.allclose(test_line.get_ydata(), best.test_loss.numpy())
    assert np.allclose(train_line.get_ydata(), best.train_loss.clamp_min(1e-4).numpy())
    assert list(zero.get_ydata()) == [1, 1]
    assert [t.get_text() for t in ax.get_legend().texts] == ["test, every seed", "test", "train"]


def test_plot_dimensionality_draws_every_example_and_feature(dd):
    fig = plot_dimensionality(dd)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    best = dd.best()
    De, Df = example_dimensionality(best), feature_dims(best)
    assert len(ax.collections) == 2 * len(SIZES) + 2  # features and examples per size, two legend keys
    for k, T in enumerate(SIZES):
        features, examples = ax.collections[2 * k], ax.collections[2 * k + 1]
        assert np.allclose(examples.get_offsets()[:, 1], De[k, :T].numpy(), atol=1e-6)
        assert np.allclose(features.get_offsets()[:, 1], Df[k][Df[k] > 0.01].numpy(), atol=1e-6)
        assert np.allclose(examples.get_offsets()[:, 0], T, rtol=0.11)  # beside the size, jittered
    share, owns = ax.lines
    assert np.allclose(share.get_ydata(), [2 / 3, 2 / 5, 2 / 40]) and list(owns.get_ydata()) == [0.2, 0.2]


def test_plot_memorization_sweep_has_one_frame_per_size(dd):
    fig = plot_memorization_sweep(dd, active=1)
    best = dd.best()
    H = best.hidden()
    assert len(fig.frames) == len(SIZES) and [f.name for f in fig.frames] == ["0", "1", "2"]
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == ["T = 3", "T = 5", "T = 40"] and slider.active == 1
    for k, frame in enumerate(fig.frames):
        T = SIZES[k]
        assert len(frame.data) == 4 and len(frame.data[3].x) == T and len(frame.data[1].x) == N
        assert np.allclose(frame.data[3].x, H[k, 0, :T].numpy(), atol=1e-6)
        for axis, v in (("xaxis", best.W[k]), ("xaxis2", H[k, :, :T])):
            longest = v.norm(dim=0).max().item()
            low, high = frame.layout[axis].range
            assert low == -high and longest < high <= 1.2 * longest, "the range fits the longest vector"
    assert len(fig.data[3].x) == 5, "the figure opens on the active frame"
    with bad_input("active"):
        plot_memorization_sweep(dd, active=3)
    with bad_input("d_hidden"):
        plot_memorization_sweep(dataclasses.replace(dd, W=torch.zeros(6, 3, N)))


def test_static_figures_are_readable(dd):
    for fig in (plot_hidden_vectors(dd, range(5)), plot_double_descent(dd), plot_dimensionality(dd)):
        assert fig.get_size_inches()[0] <= 6.72 + 1e-9
        assert_readable(fig)
        assert_laid_out(fig)


def test_plot_test_loss_by_width_draws_one_ringed_curve_per_width(dd):
    from dataclasses import replace

    from superpos_lib.memorization import plot_test_loss_by_width

    wide = replace(dd, W=torch.randn(dd.n_inst, 4, dd.W.shape[2]), test_loss=dd.test_loss * 2)
    fig = plot_test_loss_by_width({4: wide, 2: dd})
    ax = fig.axes[0]
    curves = [line for line in ax.lines if len(line.get_xdata()) == len(dd.sizes)]
    assert len(curves) == 2 and [t.get_text() for t in ax.get_legend().texts] == ["m = 2", "m = 4"]
    assert np.allclose(curves[0].get_ydata(), dd.best().test_loss.numpy())
    assert np.allclose(curves[1].get_ydata(), 2 * dd.best().test_loss.numpy())
    rings = ax.collections
    assert len(rings) == 2
    k = int(dd.best().test_loss.argmax())
    assert np.allclose(rings[0].get_offsets()[0], [dd.sizes[k], dd.best().test_loss[k].item()])
    with bad_input("sweeps"):
        plot_test_loss_by_width({})
    with bad_input("sweeps"):
        plot_test_loss_by_width({3: dd})
