"""cnnviz.conv: textbook examples by hand, then random cross-checks against TensorFlow."""

from __future__ import annotations

import json

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
        ("2,5", r"'2,5' \(write decimals with a dot: 2\.5\)"),
        ("1e3", r"'1e3' \(write the number in full: 1000\)"),
        ("1 000", "'1 000'"),
        ("0x1", "'0x1'"),
        ("nan", "'nan'"),
        ("inf", "'inf'"),
        (None, "an empty cell"),
        (np.nan, "an empty cell"),
        (np.inf, "inf"),
        ("", "an empty cell"),
        ("  ", "an empty cell"),
    ],
)
def test_non_numeric_cell_is_named_by_its_0_based_position(cell, shown):
    grid = [[1, 2], [3, cell]]  # the bad cell is row 1, col 1, as the figure numbers it
    with pytest.raises(ValueError, match=r"cell \(1, 1\) holds " + shown + r"\.$") as info:
        conv.conv2d(grid, np.ones((2, 2)))
    assert isinstance(info.value, conv.ConvError)
    assert str(info.value).startswith("The input must contain only numbers like 2, -1 or 0.5")
    with pytest.raises(ValueError, match=r"^The kernel .* cell \(1, 1\)"):
        conv.conv2d(np.ones((3, 3)), grid)


def test_cell_text_as_a_learner_types_it():
    cells = [["2", "-1", "0.5", " 3 "], ["−2", ".5", "+4", "7."]]  # "−" is a typographic minus
    np.testing.assert_array_equal(conv.as_matrix(cells), [[2, -1, 0.5, 3], [-2, 0.5, 4, 7]])
    with pytest.raises(ValueError, match=r"cell \(0, 2\) holds '1e3'"):
        conv.as_matrix([["1", "2", "1e3"]])


def test_every_bad_cell_is_named_and_kept_as_typed():
    # Hypothesis found these: numpy read True as 1.0 and turned a mixed row into text.
    with pytest.raises(conv.BadCellError) as info:
        conv.as_matrix([[float("nan"), 0, 0, True]])
    assert [p for p, _ in info.value.cells] == [(0, 0), (0, 3)]
    assert str(info.value).endswith("cell (0, 0) holds an empty cell and cell (0, 3) holds True.")
    with pytest.raises(conv.BadCellError, match=r"cell \(0, 0\) holds True\.$"):
        conv.as_matrix([[True]])
    with pytest.raises(conv.BadCellError) as info:
        conv.as_matrix([["1", "abc"], ["", "4"]])
    np.testing.assert_array_equal(info.value.partial, [[1, np.nan], [np.nan, 4]])
    used = conv.fill_bad_cells(info.value, [[9, 2], [3, 9]])
    np.testing.assert_array_equal(used, [[1, 2], [3, 4]])  # good cells as typed
    assert conv.bad_cells_sentence(info.value, used).endswith(
        "Until they hold numbers, cnnviz uses those cells' last valid values: 2 at (0, 1) and "
        "3 at (1, 0)."
    )
    assert conv.fill_bad_cells(info.value, np.ones((3, 3))) is None  # another shape
    assert conv.bad_cells_sentence(info.value, None).endswith(
        "Nothing is computed until they hold numbers."
    )


def test_as_matrix_accepts_data_editor_frames():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"0": ["1", "2"], "1": [3.5, 4]})
    np.testing.assert_array_equal(conv.as_matrix(frame), [[1, 3.5], [2, 4]])
    text = pd.DataFrame([["1", "2,5"]], columns=["0", "1"], dtype=object)
    with pytest.raises(ValueError, match=r"cell \(0, 1\) holds '2,5'"):
        conv.as_matrix(text)


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


# ----------------------------------------------------------------------------- traces
def _assert_trace_matches_steps(trace, x, k, bias, stride, padding, dilation, relu=False):
    """Every number of the stepper's trace is conv_steps' / conv2d's number."""
    steps = conv.conv_steps(x, k, bias, stride, padding, dilation)
    sums = conv.conv2d(x, k, bias, stride, padding, dilation)
    sums = sums[..., 0] if sums.ndim == 3 else sums
    out = conv.relu(sums) if relu else sums
    assert trace["output_shape"] == list(sums.shape)
    np.testing.assert_allclose(trace["sums"], sums)
    np.testing.assert_allclose(trace["output"], out)
    assert len(trace["steps"]) == len(steps) == sums.size
    for got, want in zip(trace["steps"], steps, strict=True):
        assert got["out"] == [want.out_row, want.out_col]
        assert got["rows"] == list(want.rows) and got["cols"] == list(want.cols)
        assert got["padded"] == want.padded.tolist()
        window = want.window if want.window.ndim == 3 else want.window[..., None]
        products = want.products if want.products.ndim == 3 else want.products[..., None]
        np.testing.assert_allclose(got["window"], np.moveaxis(window, -1, 0))
        np.testing.assert_allclose(got["products"], np.moveaxis(products, -1, 0))
        np.testing.assert_allclose(got["subtotals"], products.sum(axis=(0, 1)))
        assert got["value"] == want.value
        assert got["output"] == out[want.out_row, want.out_col]
    json.dumps(trace, allow_nan=False)  # what the browser receives is strict JSON


@pytest.mark.parametrize(
    ("stride", "padding", "dilation"),
    [(1, "valid", 1), (2, "same", 1), (2, 1, 1), (1, "same", 2), (3, 2, 1), ((1, 2), "valid", 1)],
)
def test_conv_trace_equals_conv_steps(stride, padding, dilation):
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 10, size=(6, 7)).astype(float)
    k = rng.integers(-2, 3, size=(3, 2)).astype(float)
    trace = conv.conv_trace(x, k, 1.5, stride, padding, dilation, relu=True)
    _assert_trace_matches_steps(trace, x, k, 1.5, stride, padding, dilation, relu=True)
    assert trace["stride"] == list(conv._pair(stride, "stride"))
    assert trace["pads"] == [
        list(conv.pad_amounts(n, kk, s, padding, dilation))
        for n, kk, s in zip(x.shape, k.shape, conv._pair(stride, "s"), strict=True)
    ]
    np.testing.assert_array_equal(trace["input"], x[None])
    np.testing.assert_array_equal(trace["kernel"], k[None])
    first = trace["steps"][0]
    assert first["lines"][-1] == conv.relu_expression(first["value"])
    assert (
        first["lines"][0] == conv.conv_steps(x, k, 1.5, stride, padding, dilation)[0].expression()
    )


def test_conv_trace_rgb_has_one_map_per_channel_and_subtotals():
    x, k = conv.RGB_EXAMPLE
    trace = conv.conv_trace(x, k, bias=0.5, stride=2, padding="same")
    _assert_trace_matches_steps(trace, x, k, 0.5, 2, "same", 1)
    assert trace["channels"] == ["red", "green", "blue"]
    partials = np.asarray(trace["partials"])  # (3, Ho, Wo): each slice on its own channel
    for c in range(3):
        np.testing.assert_allclose(
            partials[c], conv.conv2d(x[..., c], k[..., c], stride=2, padding="same")
        )
    np.testing.assert_allclose(partials.sum(axis=0) + 0.5, trace["sums"])
    for step in trace["steps"]:
        i, j = step["out"]
        np.testing.assert_allclose(step["subtotals"], partials[:, i, j])
        assert step["lines"][0].startswith("red: ") and step["lines"][2].startswith("blue: ")
    first = trace["steps"][0]
    red, green, blue = (conv.format_number(v) for v in first["subtotals"])
    assert first["lines"][1].endswith(f"= {green}")
    assert first["lines"][3] == (
        f"{red} + {green} + ({blue}) + 0.5 (bias) = {conv.format_number(first['value'])}"
    )


def test_worked_lines_single_channel_and_bias():
    step = conv.conv_steps(BOOK_X, BOOK_K, bias=-2)[0]
    assert step.worked() == ["1×1 + 2×2 + 5×3 + 6×4 - 2 (bias) = 42"]
    np.testing.assert_array_equal(step.subtotals, [44])
    rgb = conv.conv_steps(*conv.RGB_EXAMPLE)[4]  # the centre: the whole red square
    assert rgb.worked()[-1] == "9 + 0 + 0 = 9"
    assert conv.relu_expression(-0.25) == "ReLU: max(0, -0.25) = 0"
    with pytest.raises(ValueError, match="one filter at a time, got 2"):
        conv.conv_trace(np.ones((4, 4, 1)), np.ones((2, 2, 1, 2)))


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "d", "missed"),
    [
        (5, 3, 1, "valid", 1, []),
        (5, 3, 2, "valid", 1, []),
        (6, 3, 2, "valid", 1, [5]),
        (7, 1, 2, "valid", 1, [1, 3, 5]),
        (5, 3, 1, "valid", 2, [1, 3]),
        (9, 2, 4, "valid", 2, [1, 3, 5, 7, 8]),
        (6, 3, 2, "same", 1, []),
        (4, 2, 3, 1, 1, [1]),  # windows over -1..0 and 2..3
    ],
)
def test_reached_cells_by_hand_and_from_the_steps(n, k, s, p, d, missed):
    hit = conv.reached(n, k, s, p, d)
    assert np.flatnonzero(~hit).tolist() == missed
    steps = conv.conv_steps(np.ones((n, n)), np.ones((k, k)), stride=s, padding=p, dilation=d)
    touched = {c for st in steps for c in st.cols if 0 <= c < n}
    assert touched == set(np.flatnonzero(hit).tolist())
    sentence = conv.coverage_sentence(n, k, s, p, d)
    assert sentence.facts["untouched"] == tuple(missed)
    if missed:
        listed = ", ".join(map(str, missed[:-1])) + " and " if len(missed) > 1 else ""
        assert f"columns {listed}{missed[-1]} (counted from 0)" in sentence
    else:
        assert sentence.startswith("Every input cell is under the kernel at least once")


def test_coverage_sentence_gives_the_right_reason():
    stride = conv.coverage_sentence(7, 1, 2)
    assert "the stride (2) is longer than the kernel's span (1)" in stride
    assert "past the last window" not in stride and "(7 + 0 + 0 − 1) / 2 = 3 exactly" in stride
    holes = conv.coverage_sentence(5, 3, 1, dilation=2)
    assert "the dilation (2) leaves gaps between the kernel's taps at 1 and 3" in holes
    tail = conv.coverage_sentence(6, 3, 2)
    assert "5 lies past the last window, which ends at 4" in tail and "jump over" not in tail
    assert "(6 + 0 + 0 − 3) / 2 = 1 remainder 1, and the ⌊ ⌋ in the formula drops" in tail
    all3 = conv.coverage_sentence(9, 2, 4, dilation=2)
    assert all3.facts["in_holes"] == (1, 5) and all3.facts["stepped_over"] == (3,)
    assert all3.facts["past_last"] == (7, 8)
    # The cases: the last window sits in the padding (11, 2, 4, p=4); nothing is
    # dropped (5, 1, 2, p=1); 'same' has no ⌊ ⌋ (6, 1, 2).
    padded = conv.coverage_sentence(11, 2, 4, 4)
    assert padded.facts["stepped_over"] == (2, 3, 6, 7, 10) and not padded.facts["past_last"]
    assert "2 of the 5 windows along each axis sit entirely in the padding" in padded
    exact = conv.coverage_sentence(5, 1, 2, 1)
    assert exact.facts["stepped_over"] == (0, 2, 4) and "the ⌊ ⌋ drops nothing" in exact
    same = conv.coverage_sentence(6, 1, 2, "same")
    assert "⌊" not in same and "'same' makes ⌈6/2⌉ = 3 windows" in same


def test_sentences_and_examples():
    assert conv.plural(1, "filter operation") == "1 filter operation"
    assert conv.plural(4, "window position") == "4 window positions"
    trace = conv.conv_trace(np.ones((4, 4)), np.ones((2, 2)), stride=2, padding="same")
    assert conv.settings_sentence(trace) == (
        "Input 4×4, kernel 2×2, stride 2, padding 'same' (0 before, 0 after) → output 2×2 "
        "after 4 filter operations."
    )
    trace = conv.conv_trace(np.ones((5, 6)), np.ones((3, 3)), padding="same", dilation=2)
    assert "padding 'same' (2 before, 2 after), dilation 2 → output 5×6 after 30" in (
        conv.settings_sentence(trace)
    )
    assert conv.padding_words(0, ((0, 0), (0, 0))) == "no padding"
    assert conv.padding_words(2, ((2, 2), (2, 2))) == "padding 2 (2 zeros on every side)"
    assert conv.settings_sentence(conv.conv_trace(np.ones((2, 2)), np.ones((2, 2)))).endswith(
        "output 1×1 after 1 filter operation."
    )
    x, k = conv.stride_example(6, 4)
    assert x.shape == (6, 6) and set(np.unique(x)) <= set(range(10))
    np.testing.assert_array_equal(k[0], [1, 1, -1, -1])
    np.testing.assert_array_equal(conv.stride_example(6, 4)[0], x)  # the same every time
    np.testing.assert_array_equal(conv.stride_example(3, 1)[1], [[2]])  # not an all-zero kernel
    assert conv.describe_kernel(k).startswith("a 4×4 vertical-edge kernel (+1 left, −1 right)")
    assert conv.describe_kernel(conv.stride_example(3, 1)[1]) == (
        "a 1×1 kernel of 2: each output is one input cell times 2"
    )


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


@pytest.mark.parametrize(
    ("stride", "dilation"), [(2, 2), (4, 3), ((1, 2), (2, 1)), ((2, 1), 1), (1, 3), (1, 1)]
)
def test_keras_refusal_is_what_keras_says(stride, dilation):
    try:
        keras.layers.Conv2D(1, 3, strides=stride, dilation_rate=dilation)
    except ValueError as exc:
        said = str(exc)
    else:
        said = None
    assert conv.keras_refusal(stride, dilation) == said


def test_keras_refusal_on_every_small_pair_is_what_keras_says():
    """The rule the property test in test_claims_arithmetic.py assumes, against Keras."""
    import itertools

    for s0, s1, d0, d1 in itertools.product((1, 2, 3), repeat=4):
        try:
            keras.layers.Conv2D(1, 3, strides=(s0, s1), dilation_rate=(d0, d1))
        except ValueError as exc:
            said = str(exc)
        else:
            said = None
        assert conv.keras_refusal((s0, s1), (d0, d1)) == said


def test_keras_sizes_sentence_never_claims_a_size_keras_refuses():
    # Issue 9: stride 4 with dilation 3 used to read "Keras valid gives 2×2".
    text = conv.keras_sizes_sentence(12, 3, stride=4, dilation=3)
    assert "gives" not in text and "refuses" in text
    assert conv.keras_refusal(4, 3) in text
    for n, k, s, d in [(5, 3, 2, 1), (12, 3, 1, 3), (7, 5, 1, 1), (3, 5, 1, 1)]:
        text = conv.keras_sizes_sentence(n, k, s, d)
        for mode in ("valid", "same"):
            layer = keras.layers.Conv2D(1, k, strides=s, dilation_rate=d, padding=mode)
            try:
                size = layer.compute_output_shape((1, n, n, 1))[1]
            except ValueError:
                size = None
            shown = f"{size}×{size}" if size and size > 0 else "no output"
            assert f"`{mode}` gives {shown}" in text


def test_stride_with_dilation_matches_tf_on_a_padded_input():
    """Keras refuses strides > 1 with dilation > 1; TensorFlow's dilated conv at stride 1,
    sampled every s cells on the same padded input, is the same convolution."""
    rng = np.random.default_rng(9)
    x, k = rng.normal(size=(9, 10, 2)), rng.normal(size=(3, 2, 2, 1))
    for stride, dilation, padding in ((2, 2, "valid"), (3, 2, 1), (2, 3, "same")):
        got = conv.conv2d(x, k, 0.0, stride, padding, dilation)
        pads = [conv.pad_amounts(n, kk, stride, padding, dilation) for n, kk in ((9, 3), (10, 2))]
        xp = np.pad(x, (*pads, (0, 0)))
        full = tf.nn.conv2d(xp[None], k, strides=1, padding="VALID", dilations=dilation)
        want = full.numpy()[0, ::stride, ::stride][: got.shape[0], : got.shape[1]]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
