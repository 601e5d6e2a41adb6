"""cnnviz.pooling: the textbook 4×4 → 2×2 example, traces, and Keras cross-checks."""

from __future__ import annotations

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
    with pytest.raises(ValueError, match=r"cell \(1, 2\) holds 'x'"):
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
