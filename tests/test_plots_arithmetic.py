"""cnnviz.plots.arithmetic: the figures show the real numbers, in the right places."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from cnnviz import conv, pooling
from cnnviz.plots import arithmetic as plots

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


def test_image_pair_and_shift_demo_and_matrix():
    img = np.random.default_rng(0).random((8, 8))
    fig = plots.image_pair_figure(img, conv.conv2d(img, conv.KERNELS["edge"]))
    assert fig.data[0].z.shape == (8, 8) and fig.data[1].z.shape == (6, 6)
    assert fig.data[1].zmid == 0
    rgb = plots.image_pair_figure(np.zeros((4, 4, 3)), np.zeros((4, 4)))
    assert isinstance(rgb.data[0], go.Image)
    demo = pooling.shift_demo(2)
    fig = plots.shift_demo_figure(demo.inputs, demo.outputs, demo.labels, demo.unchanged)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[3:] == ["pooled: same as original"] * 2 + ["pooled: CHANGED"]
    np.testing.assert_array_equal(fig.data[5].z, demo.outputs[2])
    m = plots.matrix_figure(K, "Kernel")
    assert list(np.asarray(m.data[0].text).ravel()) == ["1", "2", "3", "4"]
