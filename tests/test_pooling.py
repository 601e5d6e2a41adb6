"""cnnviz.pooling: the textbook 4×4 → 2×2 example, traces, and Keras cross-checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnviz import pooling

BOOK = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])


def test_textbook_max_pool_4x4_to_2x2():
    np.testing.assert_array_equal(pooling.pool2d(BOOK), [[6, 8], [3, 4]])
    np.testing.assert_array_equal(pooling.pool2d(BOOK, mode="avg"), [[3.25, 5.25], [2, 2]])
    np.testing.assert_array_equal(pooling.pool2d(BOOK, mode="sum"), [[13, 21], [8, 8]])


def test_steps_trace_winner_and_expression():
    steps = pooling.pool_steps(BOOK)
    assert [s.value for s in steps] == [6, 8, 3, 4]
    assert steps[0].winner == (1, 1) and steps[0].rows == (0, 1) and steps[1].cols == (2, 3)
    assert steps[0].expression() == "max(1, 1, 5, 6) = 6"
    avg = pooling.pool_steps(BOOK, mode="avg")[0]
    assert avg.expression() == "(1 + 1 + 5 + 6) / 4 = 3.25" and avg.winner is None
    assert pooling.pool_steps(BOOK, mode="sum")[3].expression() == "1 + 0 + 3 + 4 = 8"


def test_same_padding_ignores_padded_cells():
    x = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(
        pooling.pool2d(x, padding="same", mode="avg"), [[2, 3.5], [6.5, 8]]
    )
    np.testing.assert_array_equal(pooling.pool2d(-x - 1, padding="same"), [[-1, -3], [-7, -9]])
    last = pooling.pool_steps(x, padding="same", mode="avg")[-1]
    np.testing.assert_array_equal(last.padded, [[False, True], [True, True]])
    assert last.expression() == "(8) / 1 = 8"


def test_stride_and_overlap_and_channels():
    x = np.random.default_rng(0).normal(size=(6, 6, 3))
    out = pooling.pool2d(x, size=3, stride=1)
    assert out.shape == (4, 4, 3)
    assert out[0, 0, 2] == x[:3, :3, 2].max()
    steps = pooling.pool_steps(x, size=3, stride=1, channel=2)
    np.testing.assert_array_equal([s.value for s in steps], out[..., 2].ravel())


def test_global_pool():
    assert pooling.global_pool(BOOK, "max") == 8.0
    assert pooling.global_pool(BOOK, "sum") == 50.0
    np.testing.assert_allclose(
        pooling.global_pool(np.ones((2, 2, 3)) * [1, 2, 3], "avg"), [1, 2, 3]
    )


def test_shift_invariance_demo_inside_vs_across_window():
    x = np.zeros((4, 4))
    x[0, 0] = 9
    base = pooling.pool2d(x)
    # One pixel to the right stays inside the first 2×2 window: same pooled output.
    np.testing.assert_array_equal(pooling.pool2d(pooling.shift(x, dx=1)), base)
    # Two pixels crosses into the next window: the 9 moves in the output too.
    np.testing.assert_array_equal(pooling.pool2d(pooling.shift(x, dx=2)), [[0, 9], [0, 0]])
    np.testing.assert_array_equal(pooling.shift(x, dy=-1), np.zeros((4, 4)))


@pytest.mark.parametrize(
    ("size", "stride", "padding", "mode"),
    [(2, 2, "valid", "max"), (3, 2, "same", "avg"), (2, 1, "valid", "sum"), (3, 3, "same", "max")],
)
def test_pool_trace_equals_pool_steps(size, stride, padding, mode):
    x = np.random.default_rng(4).integers(0, 10, size=(5, 6)).astype(float)
    trace = pooling.pool_trace(x, size, stride, padding, mode)
    steps = pooling.pool_steps(x, size, stride, padding, mode)
    out = pooling.pool2d(x, size, stride, padding, mode)
    np.testing.assert_array_equal(trace["output"], out)
    assert trace["output_shape"] == list(out.shape) and trace["mode"] == mode
    assert len(trace["steps"]) == len(steps)
    for got, want in zip(trace["steps"], steps, strict=True):
        assert got["out"] == [want.out_row, want.out_col]
        assert got["rows"] == list(want.rows) and got["cols"] == list(want.cols)
        assert got["padded"] == want.padded.tolist()
        window = np.array(got["window"][0], dtype=float)  # None (padding) becomes NaN
        np.testing.assert_array_equal(window, want.window)
        assert got["winner"] == (list(want.winner) if want.winner else None)
        assert got["value"] == got["output"] == want.value
        assert got["lines"] == [want.expression()]
    json.dumps(trace, allow_nan=False)
    with pytest.raises(ValueError, match="2-D input"):
        pooling.pool_trace(np.ones((4, 4, 2)))


def test_size_sentence_counts_window_positions():
    x = np.arange(16.0).reshape(4, 4)
    assert pooling.size_sentence(pooling.pool_trace(x)) == (
        "4×4, 2×2 max windows, stride 2, no padding → **2×2** in 4 window positions."
    )
    assert pooling.size_sentence(pooling.pool_trace(x, 4, mode="avg")) == (
        "4×4, 4×4 average windows, stride 4, no padding → **1×1** in 1 window position."
    )
    same = pooling.size_sentence(pooling.pool_trace(x, 3, 2, "same", "sum"))
    assert same.facts["output_shape"] == (2, 2) and "padding 'same' (0 before, 1 after)" in same


@pytest.mark.parametrize("size", [1, 2, 3, 4])
@pytest.mark.parametrize("stride_offset", [-1, 0, 2])
@pytest.mark.parametrize("mode", ["max", "avg", "sum"])
def test_shift_demo_follows_size_stride_and_operation(size, stride_offset, mode):
    stride = max(size + stride_offset, 1)
    demo = pooling.shift_demo(size, stride, mode)
    assert demo.moves == ((0, 1, size) if size > 1 else (0, 1))
    for x, y, m, held, same in zip(
        demo.inputs, demo.outputs, demo.moves, demo.windows, demo.unchanged, strict=True
    ):
        assert x.shape[0] == size and x.sum() == 1 and x[size // 2, m] == 1
        np.testing.assert_array_equal(y, pooling.pool2d(x, size, stride, mode=mode))
        assert same == np.array_equal(y, demo.outputs[0])
        # The windows holding the pixel are exactly the pooled cells that see it.
        assert held == tuple(np.flatnonzero(y[0] > 0).tolist())
    inside = size > 1 and stride > 1  # col 1 shares window 0 with col 0 and no other
    assert demo.unchanged[1] == inside  # 1 px stays inside its window only then
    assert not any(demo.unchanged[2:])  # moving a window's width always changes it
    text = demo.summary()
    assert ("leaves the pooled map unchanged" in text) == inside
    assert ("not invariance" in text) == inside
    if not inside:
        assert "no tolerance to shifts" in text
    op = {"max": "max", "avg": "average", "sum": "sum"}[mode]
    assert text.startswith(f"One bright pixel in a strip of {size}×{size} windows (stride {stride}")
    assert f"With {size}×{size} {op} pooling, stride {stride}, " in text


def test_shift_demo_labels_say_where_the_pixel_is():
    assert pooling.shift_demo(2).labels == (
        "original: the pixel in column 0",
        "moved 1 px: still in the same window",
        "moved 2 px: now in another window",
    )
    assert pooling.shift_demo(2, 1).labels[1] == "moved 1 px: also in another window (overlap)"
    assert pooling.shift_demo(2, 4).labels[2] == "moved 2 px: in no window (the stride skips it)"
    assert pooling.shift_demo(2, 4).windows[2] == ()
    with pytest.raises(ValueError, match="mode"):
        pooling.shift_demo(2, mode="median")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"size": 0}, "0"),
        ({"stride": 0}, "0"),
        ({"padding": "full"}, "full"),
        ({"padding": 2}, "got 2"),
        ({"mode": "median"}, "median"),
        ({"size": 5}, "larger than input 4"),
    ],
)
def test_invalid_arguments_name_the_value(kwargs, needle):
    with pytest.raises(ValueError, match=needle) as info:
        pooling.pool2d(BOOK, **kwargs)
    assert isinstance(info.value, pooling.PoolError)


def test_non_numeric_and_bad_channel():
    with pytest.raises(ValueError, match=r"cell \(0, 1\) holds 'x'"):
        pooling.pool2d([[1, "x"], [3, 4]])
    with pytest.raises(ValueError, match=r"channel must be in 0\.\.0, got 1"):
        pooling.pool_steps(BOOK, channel=1)
    with pytest.raises(ValueError, match="mode"):
        pooling.global_pool(BOOK, "min")


keras = pytest.importorskip("keras")


def test_random_cross_check_against_keras_pooling():
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(40):
        h, w, c = (int(v) for v in rng.integers(2, 10, size=3))
        size = tuple(int(v) for v in rng.integers(1, 4, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = ["valid", "same"][rng.integers(2)]
        if padding == "valid" and (size[0] > h or size[1] > w):
            continue
        x = rng.normal(size=(h, w, c)).astype("float32")
        for mode, layer_cls in (
            ("max", keras.layers.MaxPooling2D),
            ("avg", keras.layers.AveragePooling2D),
        ):
            layer = layer_cls(pool_size=size, strides=stride, padding=padding)
            want = np.asarray(layer(x[None]))[0]
            got = pooling.pool2d(x, size, stride, padding, mode)
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked > 25


def test_global_pool_matches_keras():
    x = np.random.default_rng(2).normal(size=(5, 6, 4)).astype("float32")
    want = np.asarray(keras.layers.GlobalAveragePooling2D()(x[None]))[0]
    np.testing.assert_allclose(pooling.global_pool(x, "avg"), want, rtol=1e-5)
    want = np.asarray(keras.layers.GlobalMaxPooling2D()(x[None]))[0]
    np.testing.assert_allclose(pooling.global_pool(x, "max"), want)


def test_page_presets_include_the_textbook_max_pool():
    x = pooling.PRESETS["Textbook 4×4"]
    np.testing.assert_array_equal(pooling.pool2d(x, 2, mode="max"), [[6, 8], [3, 4]])
