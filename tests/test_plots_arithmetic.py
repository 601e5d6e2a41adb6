"""cnnviz.plots.arithmetic: the figures show the real numbers, in the right places."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz import conv, pooling
from cnnviz.plots import arithmetic as plots
from cnnviz.plots import style

X = np.arange(1, 17, dtype=float).reshape(4, 4)
K = np.array([[1.0, 2.0], [3.0, 4.0]])


def _rect_cells(fig: go.Figure, xref: str) -> set[tuple[float, float]]:
    """(row, col) centres of the outlined cells in one subplot."""
    return {
        ((s.y0 + s.y1) / 2, (s.x0 + s.x1) / 2)
        for s in fig.layout.shapes
        if s.xref == xref and s.type == "rect"
    }


def test_step_figure_fills_output_up_to_the_step():
    out = conv.conv2d(X, K)
    steps = conv.conv_steps(X, K)
    fig = plots.step_figure(X, out, steps[4], ((0, 0), (0, 0)), K)
    inp, ker, res = fig.data
    np.testing.assert_array_equal(inp.z, X)
    np.testing.assert_array_equal(ker.z, K)
    shown = np.asarray(res.z, dtype=float)
    np.testing.assert_array_equal(shown.ravel()[:5], [44, 54, 64, 84, 94])
    assert np.isnan(shown.ravel()[5:]).all()
    assert list(np.asarray(res.text).ravel()[4:6]) == ["94", "?"]
    # The window covers input rows/cols 1..2 and the current output cell is (1, 1).
    assert _rect_cells(fig, "x") == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert _rect_cells(fig, "x3") == {(1, 1)}


def test_step_figure_shows_padding_as_empty_cells():
    x = np.ones((3, 3))
    out = conv.conv2d(x, np.ones((3, 3)), padding=1)
    step = conv.conv_steps(x, np.ones((3, 3)), padding=1)[0]
    fig = plots.step_figure(x, out, step, ((1, 1), (1, 1)), np.ones((3, 3)))
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (5, 5)
    assert np.isnan(z[0]).all() and np.isnan(z[:, 0]).all() and z[1:4, 1:4].sum() == 9
    assert np.asarray(fig.data[0].text)[0, 0] == "0"  # padding reads as zero
    assert list(fig.data[0].y) == [-1, 0, 1, 2, 3]
    assert (-1, -1) in _rect_cells(fig, "x")


def test_step_figure_pooling_marks_the_max_and_rgb_has_a_row_per_channel():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], float)
    step = pooling.pool_steps(x)[0]
    fig = plots.step_figure(x, pooling.pool2d(x), step, ((0, 0), (0, 0)), None, "max pooling")
    assert len(fig.data) == 2
    winners = [s for s in fig.layout.shapes if s.line.width == 4]
    assert len(winners) == 1 and (winners[0].y0 + 0.5, winners[0].x0 + 0.5) == (1, 1)
    xr, kr = conv.RGB_EXAMPLE
    rgb_steps = conv.conv_steps(xr, kr)
    fig = plots.step_figure(xr, conv.conv2d(xr, kr)[..., 0], rgb_steps[0], ((0, 0),) * 2, kr)
    assert len(fig.data) == 7  # 3 input channels + 3 kernel slices + 1 output
    np.testing.assert_array_equal(fig.data[2].z, xr[:, :, 1])


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "d", "out"),
    [(5, 3, 1, "valid", 1, 3), (5, 3, 2, "valid", 1, 2), (5, 3, 1, 1, 1, 5), (5, 3, 1, 0, 2, 1)],
)
def test_stride_animation_has_one_frame_per_filter_operation(n, k, s, p, d, out):
    fig = plots.stride_animation(n, k, s, p, d)
    assert len(fig.frames) == out * out
    assert len(fig.layout.sliders[0].steps) == out * out
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert f"Input</b> {n}×{n}" in texts and f"Output</b> {out}×{out}" in texts
    assert ("padding" in texts) == (p not in ("valid", 0))


def test_stride_animation_kernel_footprint_moves_by_the_stride():
    fig = plots.stride_animation(5, 3, stride=2)

    def corners(frame):  # top-left corners of the shaded kernel cells
        xs, ys = frame.data[0].x, frame.data[0].y
        return {(ys[i], xs[i]) for i in range(0, len(xs), 6)}

    assert corners(fig.frames[0]) == {(r, c) for r in range(3) for c in range(3)}
    assert corners(fig.frames[1]) == {(r, c) for r in range(3) for c in range(2, 5)}
    with pytest.raises(ValueError, match="larger than input"):
        plots.stride_animation(3, 5)


def _stops(trace) -> list:
    return [list(stop) for stop in trace.colorscale]


def test_image_pair_shows_the_picture_as_it_is_and_a_signed_map():
    img = np.random.default_rng(0).random((8, 8))
    feature = conv.conv2d(img, conv.KERNELS["edge"])
    fig = plots.image_pair_figure(img, feature)
    picture, fmap = fig.data
    np.testing.assert_array_equal(picture.z, img)  # not inverted, not stretched
    assert _stops(picture) == style.GRAY and (picture.zmin, picture.zmax) == (0, 1)
    assert _stops(fmap) == style.DIVERGING and fmap.zmin == -fmap.zmax == -abs(feature).max()
    assert fmap.showscale and fig.layout.xaxis.showticklabels is False
    rgb = plots.image_pair_figure(np.zeros((4, 4, 3)), np.zeros((4, 4)))
    assert isinstance(rgb.data[0], go.Image)


def test_pooled_pair_is_drawn_at_true_size_on_one_scale():
    fmap = np.abs(np.random.default_rng(1).normal(size=(12, 8)))
    pooled = pooling.pool2d(fmap, 2, mode="sum")
    fig = plots.pooled_pair_figure(fmap, pooled, ("a", "b"))
    left, right = fig.data
    assert _stops(left) == _stops(right) == style.SEQUENTIAL
    assert (left.zmin, left.zmax) == (right.zmin, right.zmax) == (0, pooled.max())
    assert not left.showscale and right.showscale
    # Same rows in both panels' ranges: a pooled pixel is as tall as an input pixel.
    assert list(fig.layout.yaxis.range) == list(fig.layout.yaxis2.range) == [11.5, -0.5]
    assert list(fig.layout.xaxis2.range) == [-0.5, 3.5]
    assert fig.layout.xaxis.domain[1] - fig.layout.xaxis.domain[0] > 1.5 * (
        fig.layout.xaxis2.domain[1] - fig.layout.xaxis2.domain[0]
    )


@pytest.mark.parametrize(("size", "stride", "mode"), [(2, 2, "max"), (4, 4, "avg"), (3, 1, "sum")])
def test_shift_demo_figure_draws_windows_and_verdicts(size, stride, mode):
    demo = pooling.shift_demo(size, stride, mode)
    fig = plots.shift_demo_figure(demo)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0::2] == list(demo.labels)
    assert titles[1::2] == [
        f"pooled 1×{demo.outputs[0].shape[1]}: " + ("same as the original" if u else "CHANGED")
        for u in demo.unchanged
    ]
    for i, (x, y) in enumerate(zip(demo.inputs, demo.outputs, strict=True)):
        np.testing.assert_array_equal(fig.data[2 * i].z, x)
        np.testing.assert_array_equal(fig.data[2 * i + 1].z, y)
    n_windows = demo.outputs[0].shape[1]
    strip = [sh for sh in fig.layout.shapes if sh.xref == "x"]
    assert len(strip) == n_windows  # every window's boundary on the first strip
    hot = [sh for sh in strip if sh.line.color == style.ACCENT]
    assert len(hot) == len(demo.windows[0])
    assert all(_stops(t) == style.SEQUENTIAL for t in fig.data)
    assert sum(bool(t.showscale) for t in fig.data) == 1


def test_stepper_data_scales_and_id():
    trace = conv.conv_trace(*conv.RGB_EXAMPLE)
    data = plots.stepper_data(trace, step=99)
    assert data["trace"] is trace and data["step"] == len(trace["steps"]) - 1
    assert data["palette"] == style.palette()
    sc = data["scales"]
    assert sc["input"] == {"scale": "channels", "limits": [0.0, 1.0]}
    # +1 and -1 slices on ONE symmetric scale: +1 is red, 0 white, -1 blue.
    assert sc["kernel"] == {"scale": "diverging", "limits": [-1.0, 1.0]}
    partials = np.abs(trace["partials"]).max()
    assert sc["partials"] == {"scale": "diverging", "limits": [-partials, partials]}
    for grid in ("kernel", "products", "partials", "output"):
        lo, hi = sc[grid]["limits"]
        assert lo == -hi > -np.inf
    other = plots.stepper_data(conv.conv_trace(*conv.RGB_EXAMPLE, stride=2))
    assert other["id"] != data["id"]
    assert plots.stepper_data(conv.conv_trace(*conv.RGB_EXAMPLE))["id"] == data["id"]
    pool = plots.stepper_data(pooling.pool_trace(X, 2, mode="sum"))
    assert pool["scales"]["input"] == pool["scales"]["output"]
    assert pool["scales"]["output"] == {"scale": "sequential", "limits": [0.0, 54.0]}
    signed = plots.stepper_data(conv.conv_trace(X - 10, K))
    assert signed["scales"]["input"] == {"scale": "diverging", "limits": [-9.0, 9.0]}


def test_step_figure_uses_the_visual_language():
    out = conv.conv2d(X, -K)
    fig = plots.step_figure(X, out, conv.conv_steps(X, -K)[0], ((0, 0), (0, 0)), -K)
    inp, ker, res = fig.data
    assert _stops(inp) == style.SEQUENTIAL
    assert _stops(ker) == _stops(res) == style.DIVERGING
    assert ker.zmin == -ker.zmax == -4 and res.showscale
