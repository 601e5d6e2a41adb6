"""cnnviz.conv: textbook examples by hand, then random cross-checks against TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz import conv

BOOK_X = np.arange(1, 17).reshape(4, 4)
BOOK_K = np.array([[1, 2], [3, 4]])
BINARY_X = np.array(
    [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
)
BINARY_K = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])


def test_textbook_4x4():
    out = conv.conv2d(BOOK_X, BOOK_K)
    np.testing.assert_array_equal(out, [[44, 54, 64], [84, 94, 104], [124, 134, 144]])
    assert out.dtype == np.float64


def test_textbook_binary_5x5_nine_operations():
    steps = conv.conv_steps(BINARY_X, BINARY_K)
    assert len(steps) == 9
    out = conv.conv2d(BINARY_X, BINARY_K)
    np.testing.assert_array_equal(out, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    assert len(conv.conv_steps(BINARY_X, BINARY_K, stride=2)) == 4


def test_steps_trace_values_and_expression():
    steps = conv.conv_steps(BOOK_X, BOOK_K, bias=1)
    assert [s.value for s in steps] == list(conv.conv2d(BOOK_X, BOOK_K, bias=1).ravel())
    s = steps[4]
    assert (s.out_row, s.out_col, s.rows, s.cols) == (1, 1, (1, 2), (1, 2))
    np.testing.assert_array_equal(s.products, [[6, 14], [30, 44]])
    assert s.expression() == "6×1 + 7×2 + 10×3 + 11×4 + 1 (bias) = 95"
    assert conv.conv_steps(BINARY_X, BINARY_K)[0].expression().endswith("= 4")


def test_steps_mark_padding_cells():
    steps = conv.conv_steps(np.ones((3, 3)), np.ones((3, 3)), padding=1)
    first = steps[0]
    assert first.rows == (-1, 0, 1) and first.cols == (-1, 0, 1)
    np.testing.assert_array_equal(
        first.padded, [[True, True, True], [True, False, False], [True, False, False]]
    )
    assert first.value == 4 and first.window[0, 0] == 0


def test_steps_rgb_and_dilation_match_conv2d():
    rng = np.random.default_rng(0)
    x, k = rng.normal(size=(6, 7, 3)), rng.normal(size=(3, 3, 3, 2))
    for ch in (0, 1):
        steps = conv.conv_steps(x, k, stride=2, padding="same", dilation=1, channel=ch)
        want = conv.conv2d(x, k, stride=2, padding="same")[..., ch].ravel()
        np.testing.assert_allclose([s.value for s in steps], want)
        assert steps[0].window.shape == (3, 3, 3)
    steps = conv.conv_steps(x[..., 0], k[:, :, 0, 0], dilation=2)
    assert steps[0].cols == (0, 2, 4)


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "d", "want"),
    [
        (5, 3, 1, "valid", 1, 3),
        (5, 3, 2, "valid", 1, 2),
        (5, 3, 1, 1, 1, 5),
        (7, 3, 2, "same", 1, 4),
        (7, 3, 1, "valid", 2, 3),
        (4, 2, 1, "same", 1, 4),
        (28, 5, 1, 0, 1, 24),
    ],
)
def test_output_size_by_hand(n, k, s, p, d, want):
    assert conv.output_size(n, k, s, p, d) == want


def test_same_padding_puts_extra_cell_bottom_right():
    assert conv.pad_amounts(4, 2, padding="same") == (0, 1)
    assert conv.pad_amounts(5, 4, padding="same") == (1, 2)
    assert conv.pad_amounts(6, 3, stride=2, padding="same") == (0, 1)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"stride": 0}, "0"),
        ({"stride": (1, -2)}, "-2"),
        ({"dilation": 0}, "0"),
        ({"stride": 1.5}, "1.5"),
        ({"padding": "full"}, "full"),
        ({"padding": -1}, "-1"),
        ({"padding": None}, "None"),
    ],
)
def test_invalid_arguments_name_the_value(kwargs, needle):
    with pytest.raises(ValueError, match=needle) as info:
        conv.conv2d(np.ones((4, 4)), np.ones((2, 2)), **kwargs)
    assert isinstance(info.value, conv.ConvError)


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="larger than input 4"):
        conv.conv2d(np.ones((4, 4)), np.ones((5, 5)))
    with pytest.raises(ValueError, match="spans 5 cells"):
        conv.output_size(4, 3, dilation=2)
    assert conv.conv2d(np.ones((4, 4)), np.ones((5, 5)), padding=1).shape == (2, 2)


def test_channel_mismatch_and_bad_shapes():
    with pytest.raises(ValueError, match="3 input channels but the input has 1"):
        conv.conv2d(np.ones((4, 4, 1)), np.ones((2, 2, 3, 1)))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        conv.conv2d(np.ones(4), np.ones((2, 2)))
    with pytest.raises(ValueError, match="bias must have 1 or 2 values"):
        conv.conv2d(np.ones((4, 4, 1)), np.ones((2, 2, 1, 2)), bias=[1, 2, 3])
    with pytest.raises(ValueError, match=r"channel must be in 0\.\.0, got 3"):
        conv.conv_steps(np.ones((4, 4)), np.ones((2, 2)), channel=3)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("abc", "'abc'"),
        (None, "an empty cell"),
        (np.nan, "an empty cell"),
        (np.inf, "inf"),
        ("", "an"),
    ],
)
def test_non_numeric_cell_is_named(cell, shown):
    grid = [[1, 2], [3, cell]]
    with pytest.raises(ValueError, match=r"cell \(2, 2\) holds " + shown):
        conv.conv2d(grid, np.ones((2, 2)))
    with pytest.raises(ValueError, match="kernel"):
        conv.conv2d(np.ones((3, 3)), grid)


def test_as_matrix_accepts_data_editor_frames():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"0": ["1", "2"], "1": [3.5, 4]})
    np.testing.assert_array_equal(conv.as_matrix(frame), [[1, 3.5], [2, 4]])


def test_bias_relu_and_kernels():
    out = conv.conv2d(BOOK_X, BOOK_K, bias=-100)
    np.testing.assert_array_equal(conv.relu(out)[0], [0, 0, 0])
    img = np.random.default_rng(1).random((8, 8))
    np.testing.assert_allclose(conv.conv2d(img, conv.KERNELS["identity"], padding="same"), img)
    assert abs(conv.conv2d(np.ones((5, 5)), conv.KERNELS["edge"])).max() == 0
    ramp = np.tile(np.arange(6.0), (6, 1))  # brightness grows left to right
    np.testing.assert_array_equal(conv.conv2d(ramp, conv.KERNELS["sobel x"]), np.full((4, 4), 8))
    np.testing.assert_array_equal(conv.conv2d(ramp, conv.KERNELS["sobel y"]), np.zeros((4, 4)))


def test_read_image_and_bad_bytes(tmp_path):
    from PIL import Image

    path = tmp_path / "a.png"
    Image.fromarray(np.full((300, 200, 3), 255, np.uint8)).save(path)
    gray = conv.read_image(path.read_bytes(), max_side=150)
    assert gray.shape == (150, 100) and gray.max() == 1.0
    assert conv.read_image(path.read_bytes(), rgb=True).shape[-1] == 3
    with pytest.raises(ValueError, match="not a PNG, JPEG"):
        conv.read_image(b"not a png")


# ----------------------------------------------------------------------------- TensorFlow
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def _tf_conv(x, k, b, stride, padding, dilation):
    """tf.nn.conv2d in float64; int padding becomes explicit [[0,0],[p,p],[p,p],[0,0]]."""
    pad = padding.upper() if isinstance(padding, str) else None
    if not isinstance(padding, str):
        pad = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    out = tf.nn.conv2d(x[None], k, strides=stride, padding=pad, dilations=dilation)
    return out.numpy()[0] + b


def test_random_cross_check_against_tf_nn_conv2d():
    rng = np.random.default_rng(42)
    checked = 0
    for _ in range(60):
        h, w = rng.integers(3, 12, size=2)
        kh, kw = rng.integers(1, 5, size=2)
        cin, cout = rng.integers(1, 4, size=2)
        stride = int(rng.integers(1, 4))
        dilation = 1 if stride > 1 else int(rng.integers(1, 3))  # TF refuses both > 1
        padding = ["valid", "same", int(rng.integers(0, 3))][rng.integers(3)]
        try:
            want_h = conv.output_size(int(h), int(kh), stride, padding, dilation)
            want_w = conv.output_size(int(w), int(kw), stride, padding, dilation)
        except ValueError:
            continue  # kernel larger than padded input: checked elsewhere
        x = rng.normal(size=(h, w, cin))
        k = rng.normal(size=(kh, kw, cin, cout))
        b = rng.normal(size=cout)
        got = conv.conv2d(x, k, b, stride, padding, dilation)
        want = _tf_conv(x, k, b, stride, padding, dilation)
        assert got.shape == want.shape == (want_h, want_w, cout)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
        checked += 1
    assert checked > 30


def test_matches_keras_conv2d_layer_with_pair_stride():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(9, 11, 2)).astype("float32")
    for padding, strides in (("same", (2, 3)), ("valid", (1, 2))):
        layer = keras.layers.Conv2D(4, (3, 2), strides=strides, padding=padding)
        want = np.asarray(layer(x[None]))[0]
        k, b = (np.asarray(v) for v in layer.get_weights())
        got = conv.conv2d(x, k, b, stride=strides, padding=padding)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_2d_kernel_sums_over_channels_like_tf():
    rng = np.random.default_rng(3)
    x, k = rng.normal(size=(5, 5, 3)), rng.normal(size=(3, 3))
    want = _tf_conv(x, np.repeat(k[:, :, None, None], 3, axis=2), 0.0, 1, "valid", 1)
    np.testing.assert_allclose(conv.conv2d(x, k), want)
