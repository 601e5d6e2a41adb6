"""cnnviz.translation: moving images by hand-worked arrays, the book's code, equivariance and
the layer-by-layer measure on real bundled weights, accuracy grids and their sentences."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz import data, models, translation
from cnnviz.translation import LayerChange, TransformError, rotate, scale, shift

A = np.arange(1, 10).reshape(3, 3)  # [[1 2 3] [4 5 6] [7 8 9]]


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (0, 0, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        (1, 0, [[0, 1, 2], [0, 4, 5], [0, 7, 8]]),
        (-1, 0, [[2, 3, 0], [5, 6, 0], [8, 9, 0]]),
        (0, 1, [[0, 0, 0], [1, 2, 3], [4, 5, 6]]),
        (0, -2, [[7, 8, 9], [0, 0, 0], [0, 0, 0]]),
        (-1, 1, [[0, 0, 0], [2, 3, 0], [5, 6, 0]]),
        (3, 0, np.zeros((3, 3))),  # the whole width: nothing wraps around
        (0, -7, np.zeros((3, 3))),
    ],
)
def test_shift_hand_worked(dx, dy, expected):
    out = shift(A, dx, dy)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == A.dtype


def test_shift_channels_and_batch_move_together():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 255, size=(4, 6, 5, 3), dtype=np.uint8)  # (N, H, W, C)
    out = shift(batch, 2, -1)
    assert out.shape == batch.shape and out.dtype == np.uint8
    for i in range(4):
        np.testing.assert_array_equal(out[i], shift(batch[i], 2, -1))
        for c in range(3):
            np.testing.assert_array_equal(out[i, ..., c], shift(batch[i, ..., c], 2, -1))
    # The moved block: out[y, x] == in[y + 1, x - 2]; zeros elsewhere.
    np.testing.assert_array_equal(out[:, :5, 2:], batch[:, 1:, :3])
    assert not out[:, 5:].any() and not out[:, :, :2].any()


def test_shift_does_not_touch_input_and_rejects_bad_values():
    a = A.copy()
    shift(a, 1, 1)
    np.testing.assert_array_equal(a, A)
    with pytest.raises(TransformError, match="whole pixels"):
        shift(A, 0.5, 0)
    with pytest.raises(TransformError, match="shape"):
        shift(np.zeros(5), 1, 0)


def test_rotate_and_scale_hand_worked():
    b = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(rotate(b, 90), [[2, 4], [1, 3]])
    np.testing.assert_allclose(rotate(b, -90), [[3, 1], [4, 2]])
    np.testing.assert_allclose(rotate(b, 360), b, atol=1e-12)
    np.testing.assert_allclose(scale(A.astype(float), 1.0), A)
    # Zoom 2 about the centre of a 3×3: the centre stays, the corners read halfway in.
    z = scale(A.astype(float), 2.0)
    assert z[1, 1] == 5
    np.testing.assert_allclose(z[0, 0], (1 + 2 + 4 + 5) / 4)
    # Shrinking by 1/2 leaves zero fill at the borders of a 5×5 of ones.
    s = scale(np.ones((5, 5)), 0.5)
    assert s[2, 2] == 1 and s[0, 0] == 0
    with pytest.raises(TransformError, match="positive"):
        scale(A, 0)


def test_rotate_matches_numpy_rot90_on_a_batch():
    rng = np.random.default_rng(1)
    batch = rng.random((3, 7, 7, 2))
    np.testing.assert_allclose(rotate(batch, 90), np.rot90(batch, k=1, axes=(1, 2)), atol=1e-12)


def test_average_image_of_digit_one():
    ds = data.load_mnist_sample()
    avg = translation.average_image(ds.x_test, ds.y_test, 1)
    ones = ds.x_test[ds.y_test == 1].astype(np.float64) / 255
    assert avg.shape == (28, 28, 1)
    np.testing.assert_allclose(avg, ones.mean(axis=0), atol=1e-6)
    # A "1" is a vertical stroke: the middle columns carry most of the ink.
    cols = avg[..., 0].sum(axis=0)
    assert cols[11:17].sum() > 0.6 * cols.sum()


class _Fixed:
    """A stand-in model: 'predicts' the class whose pixel (0, class) is brightest."""

    name = "fixed"
    input_shape = (None, 4, 4, 1)

    def predict_on_batch(self, x):
        return x[:, 0, :3, 0]


def test_accuracy_vs_shift_counts_correct_predictions():
    x = np.zeros((3, 4, 4, 1), np.float32)
    for i in range(3):
        x[i, 0, i, 0] = 1.0  # image i lights pixel (0, i): class i
    y = np.array([0, 1, 2])
    # A shift of +1 moves pixel (0, i) to (0, i + 1): every prediction is off by one,
    # image 2's dot leaves the first 3 columns (all zero -> argmax 0, wrong). A shift of
    # -1 pushes image 0's dot out of the frame: all zero -> argmax 0, right by luck.
    acc = translation.accuracy_vs_shift(_Fixed(), x, y, [0, 1, -1])
    np.testing.assert_allclose(acc, [1.0, 0.0, 1 / 3])
    # Down by 1: every dot leaves row 0, all predictions fall back to class 0.
    acc_y = translation.accuracy_vs_shift(_Fixed(), x, y, [0, 1], "y")
    np.testing.assert_allclose(acc_y, [1.0, 1 / 3])


@pytest.fixture(scope="module")
def bundled():
    names = ("cookbook_mlp", "cookbook_cnn", "global_pool_cnn")
    return {n: models.load(models.bundled(n)) for n in names}


def test_cnn_beats_mlp_at_two_pixels_on_the_test_set(bundled):
    ds = data.load_mnist_sample()  # 2,000 test images
    shifts = [-2, 0, 2]
    mlp = translation.accuracy_vs_shift(bundled["cookbook_mlp"], ds.x_test, ds.y_test, shifts)
    cnn = translation.accuracy_vs_shift(bundled["cookbook_cnn"], ds.x_test, ds.y_test, shifts)
    # Unshifted accuracy is what the bundled cards report.
    assert mlp[1] == pytest.approx(0.9475, abs=1e-3)
    assert cnn[1] == pytest.approx(0.9515, abs=1e-3)
    assert cnn[0] > mlp[0] and cnn[2] > mlp[2]
    # Both lose accuracy when the digits move: the lesson's premise.
    assert mlp[0] < mlp[1] and mlp[2] < mlp[1]


def test_verdicts_and_sentences_on_the_average_one(bundled):
    ds = data.load_mnist_sample()
    avg = translation.average_image(ds.x_test, ds.y_test, 1)
    named = {"MLP": bundled["cookbook_mlp"], "CNN": bundled["cookbook_cnn"]}
    v, probs = translation.verdicts(named, avg, 1, 0, 0)
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert [x.predicted for x in v] == [1, 1]  # unshifted, both see a 1
    direct = bundled["cookbook_mlp"].predict(avg[None], verbose=0)[0]
    np.testing.assert_allclose(probs[0], direct, atol=1e-6)
    text = translation.sentence(v[0], data.DIGITS, 1)
    assert text.startswith("With no shift the MLP says **1**") and text.endswith("— right")
    assert text.facts["right"] and text.facts["predicted"] == 1 and not text.facts["tied"]
    p = translation.proba_vs_shift(named["MLP"], avg, 1, [0, 2])
    assert p[0] == pytest.approx(probs[0, 1], abs=1e-6) and p[1] < p[0]


def test_sweep_kinds_and_summary():
    class Const:
        def predict_on_batch(self, x):
            out = np.zeros((len(x), 10))
            out[:, 3] = 1
            return out

    x, y = np.zeros((4, 8, 8, 1), np.uint8), np.array([3, 3, 3, 1])
    for kind, (params, _) in translation.SWEEPS.items():
        p, acc = translation.sweep(Const(), x, y, kind)
        np.testing.assert_allclose(p, params)
        np.testing.assert_allclose(acc, 0.75)
    with pytest.raises(TransformError, match="unknown sweep"):
        translation.sweep(Const(), x, y, "shear")
    text = translation.sweep_summary(
        "scale", {"CNN": np.array([0.2, 0.5, 0.9])}, np.array([0.8, 0.9, 1.0]), 500
    )
    assert text == (
        "On the first 500 test images: after shrinking to 80 % the CNN keeps 20.0 % accuracy "
        "(90.0 % untouched, -70.0 points)."
    )
    # The page's other figure (section 4, all 2,000 images) differs: said, and why.
    text = translation.sweep_summary(
        "rotation",
        {"MLP": np.array([0.5, 0.934, 0.5])},
        np.array([-18, 0, 18]),
        500,
        {"MLP": 0.948},
        2000,
    )
    assert text.endswith(
        "Untouched accuracies differ from section 4's (94.8 % for the MLP) because section 4 "
        "measures all 2,000 test images: a different sample, not a different model."
    )
    same = translation.sweep_summary(
        "rotation",
        {"MLP": np.array([0.5, 0.948, 0.5])},
        np.array([-18, 0, 18]),
        2000,
        {"MLP": 0.948},
        2000,
    )
    assert same.endswith(
        "Untouched, they match section 4's unshifted accuracies (on the same images)."
    )


# --- the book's code -------------------------------------------------------------------


def test_book_shift_reproduces_the_books_column_copies():
    row = np.arange(28)[None]  # one row: the column indices
    left = translation.book_shift(row, "left")[0]
    # for i < 20: pic[:, i] = pic[:, i + 1] (read before written): 1..20, then 20 again
    np.testing.assert_array_equal(left, [*range(1, 21), *range(20, 28)])
    right = translation.book_shift(row, "right")[0]
    # for 6 < i < 26: pic[:, i] = pic2[:, i - 1]: column 6 twice, one column later
    np.testing.assert_array_equal(right, [*range(0, 7), *range(6, 25), 26, 27])
    with pytest.raises(TransformError, match="'left' or 'right'"):
        translation.book_shift(row, "up")
    with pytest.raises(TransformError, match="at least 26 wide"):
        translation.book_shift(np.zeros((3, 3)), "left")


def test_the_books_two_pixel_right_shift_moves_the_average_one_by_one_pixel():
    ds = data.load_mnist_sample()
    avg = translation.average_image(ds.x_test, ds.y_test, 1)
    x0, y0 = translation.ink_centre(avg)
    right = translation.ink_centre(translation.book_shift(avg, "right"))
    left = translation.ink_centre(translation.book_shift(avg, "left"))
    assert right[0] - x0 == pytest.approx(1.0, abs=0.05)  # the book calls it 2 px
    # Column 20 keeps its ink as well as passing it left: a little less than 1 px.
    assert -1.0 < left[0] - x0 < -0.85
    assert right[1] == pytest.approx(y0, abs=0.1) and left[1] == pytest.approx(y0, abs=0.1)
    caption = translation.book_caption(avg)
    assert f"“2 px right” code by {right[0] - x0:+.2f} px" in caption
    assert "A true 2-px shift moves it by +2.00 px" in caption
    assert caption.facts["true_two"] == pytest.approx(2.0)
    assert list(translation.book_images(avg)) == [
        "no shift",
        "book's “1 px left”",
        "book's “2 px right”",
        "true 2 px right",
    ]
    assert translation.ink_centre(np.array([[0, 0, 2], [0, 0, 2]])) == (2.0, 0.5)
    with pytest.raises(TransformError, match="no ink"):
        translation.ink_centre(np.zeros((4, 4)))


def test_book_table_names_each_models_answer(bundled):
    ds = data.load_mnist_sample()
    avg = translation.average_image(ds.x_test, ds.y_test, 1)
    images = translation.book_images(avg)
    named = {"MLP": bundled["cookbook_mlp"], "GP": bundled["global_pool_cnn"]}
    rows = translation.book_table(named, images, 1)
    assert [r["model"] for r in rows] == ["MLP", "GP"]
    for row, model in zip(rows, named.values(), strict=True):
        for col, img in images.items():
            p = model.predict(img[None], verbose=0)[0]
            k = int(p.argmax())
            assert row[col] == f"{'✓' if k == 1 else '✗'} {k} · {p[k]:.2f}"


# --- 1. equivariance on real weights ------------------------------------------------


@pytest.mark.parametrize("name", ["cookbook_cnn", "global_pool_cnn"])
def test_conv_of_shifted_digit_is_shifted_conv_inside_the_borders(bundled, name):
    ds = data.load_mnist_sample()
    e = translation.equivariance(bundled[name], ds.x_test[0], dx=3, dy=-2, channel=1)
    assert e.layer == "conv1" and e.channel == 1
    assert e.max_error <= 1e-6  # Keras' own conv1
    assert e.numpy_max_error <= 1e-9  # cnnviz.conv.conv2d, float64
    assert e.keras_vs_numpy <= 1e-5
    np.testing.assert_array_equal(e.moved, shift(e.image, 3, -2))
    np.testing.assert_allclose(e.moved_fmap, shift(e.fmap, 3, -2))
    np.testing.assert_allclose(e.difference, e.fmap_of_moved - e.moved_fmap)
    # The map itself did move: unaligned, the two maps differ a lot.
    assert np.abs(e.fmap_of_moved - e.fmap).max() > 0.1
    if name == "cookbook_cnn":
        # valid 3×3 on 28×28 -> 26×26. Lost: input columns 25..27 and rows 0..1, read by
        # outputs j' >= 23 or i' <= 1; moved by (3, -2): 23 columns × 24 rows stay inside.
        assert e.fmap.shape == (26, 26) and int(e.inside.sum()) == 23 * 24
        assert e.inside[0:24, 3:26].all()
    else:
        # A 4-px zero margin, then "same" padding: 36×36 maps. Outside the outline the
        # moved map is the shift's zero fill where the real map holds relu(bias) > 0.
        assert e.fmap.shape == (36, 36) and 0 < e.inside.sum() < 36 * 36
        bias = bundled[name].get_layer("conv1").bias.numpy()
        c = int(np.argmax(bias))
        e = translation.equivariance(bundled[name], ds.x_test[0], dx=3, dy=-2, channel=c)
        assert e.max_error <= 1e-6 and bias[c] > 0.01
        assert np.abs(e.difference[~e.inside]).max() == pytest.approx(bias[c], rel=1e-5)
    text = translation.describe_equivariance(e)
    assert "equals the moved map" in text and "conv1" in text


def test_equivariance_refuses_what_it_cannot_show(bundled):
    img = np.zeros((28, 28))
    with pytest.raises(TransformError, match="no convolution layer"):
        translation.equivariance(bundled["cookbook_mlp"], img, 1, 0)
    with pytest.raises(TransformError, match="filters 0…9, got 10"):
        translation.equivariance(bundled["cookbook_cnn"], img, 1, 0, channel=10)
    with pytest.raises(TransformError, match="takes"):
        translation.equivariance(bundled["cookbook_cnn"], np.zeros((20, 20)), 1, 0)
    inputs = keras.Input((8, 8, 1))
    scaled = keras.layers.Rescaling(2.0, name="scale")(inputs)
    behind = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="c")(scaled))
    with pytest.raises(TransformError, match="comes after scale"):
        translation.equivariance(behind, np.zeros((8, 8)), 1, 0)
    strided = keras.Model(inputs, keras.layers.Conv2D(2, 3, strides=2, name="c")(inputs))
    with pytest.raises(TransformError, match="needs a stride of 1"):
        translation.equivariance(strided, np.zeros((8, 8)), 1, 0)


# --- 2. where the position comes back ------------------------------------------------


def test_relative_and_aligned_change_by_hand():
    assert translation.relative_change(np.array([3.0, 4.0]), np.array([0.0, 0.0])) == 1.0
    assert translation.relative_change(np.zeros(2), np.zeros(2)) == 0.0
    a = np.zeros((1, 4, 4, 1))
    a[0, 1, 1, 0] = 2.0
    b = shift(a, 1, 2)  # the same map, one cell right and two down
    assert translation.relative_change(a, b) == pytest.approx(np.sqrt(2))
    assert translation._aligned_change(a, b, 1, 2) == 0.0


def test_layer_by_layer_on_real_weights(bundled):
    x = data.load_mnist_sample().x_test[:100]
    rows = {
        k: {r.layer: r for r in translation.layer_changes(m, x, 4, 0)} for k, m in bundled.items()
    }
    # The book's CNN: its (valid) conv and pooling maps only move — exactly, for 4 px —
    # then Flatten and Dense compare position by position and change by more than half.
    cnn = rows["cookbook_cnn"]
    assert list(cnn) == ["image", "conv1", "pool1", "flatten", "dense1", "output"]
    assert (cnn["conv1"].stride, cnn["pool1"].stride) == (1, 2)
    for name in ("conv1", "pool1"):
        assert cnn[name].exact and cnn[name].aligned < 1e-6 and cnn[name].plain > 0.5
    for name in ("flatten", "dense1"):
        assert cnn[name].aligned is None and cnn[name].plain > 0.5
    # The MLP has no maps at all.
    assert [r.aligned for r in rows["cookbook_mlp"].values()][1:] == [None, None, None]
    assert rows["cookbook_mlp"]["flatten"].plain > 0.5
    # The global-pooling CNN: every map only moves, and global pooling hardly changes.
    gp = rows["global_pool_cnn"]
    assert gp["conv3"].stride == 4 and gp["conv3"].exact
    # (not exactly 0: a few digits lose ink over the frame's edge when moved 4 px)
    for name in ("margin", "conv1", "pool1", "conv2", "pool2", "conv3"):
        assert gp[name].aligned < 0.1 < gp[name].plain, name
    assert gp["global_pool"].aligned is None and gp["global_pool"].plain < 0.1
    assert gp["output"].plain < cnn["output"].plain / 4
    text = translation.where_position_returns("GP", list(gp.values()))
    assert "`margin` … `conv3` only move with the digit" in text
    assert "`global_pool` (GlobalMaxPooling2D, which keeps no positions)" in text
    text = translation.where_position_returns("book CNN", list(cnn.values()))
    assert "`flatten` (Flatten, which lines the map up position by position) changes by" in text
    # One pixel is half a cell of pool1: no exact alignment there.
    one = {r.layer: r for r in translation.layer_changes(bundled["cookbook_cnn"], x, 1, 0)}
    assert one["conv1"].exact and one["conv1"].aligned < 1e-6
    assert not one["pool1"].exact and one["pool1"].aligned > 0.1


def _row(layer, kind, plain, aligned=None, exact=True, stride=1):
    return LayerChange(layer, kind, None if aligned is None else stride, plain, aligned, exact)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (  # an invariant network: every map only moves, global pooling barely changes
            [
                _row("conv1", "Conv2D", 0.9, 0.01),
                _row("pool1", "MaxPooling2D", 0.8, 0.02, stride=2),
                _row("gp", "GlobalMaxPooling2D", 0.05),
                _row("output", "Dense", 0.03),
            ],
            "In the M the maps `conv1` … `pool1` only move with the digit: moved back by the "
            "shift they change by at most 2 %; `gp` (GlobalMaxPooling2D, which keeps no "
            "positions) changes by 5 %; the output (the probabilities) changes by 3 %.",
        ),
        (  # half a pooling cell: the first map that cannot follow is named, singular grammar
            [
                _row("conv1", "Conv2D", 0.5, 0.0),
                _row("pool1", "MaxPooling2D", 0.4, 0.4, exact=False, stride=2),
                _row("flatten", "Flatten", 0.4),
                _row("output", "Dense", 0.25),
            ],
            "In the M the map `conv1` only moves with the digit: moved back by the shift it "
            "changes by at most 0 %; `pool1` cannot follow a shift that is not a whole number "
            "of its 2-px cells: moved back as well as it can be, it changes by 40 %; `flatten` "
            "(Flatten, which lines the map up position by position) changes by 40 %; the "
            "output (the probabilities) changes by 25 %.",
        ),
        (  # even the first map changes after alignment (e.g. a strided, aliasing conv)
            [_row("conv1", "Conv2D", 0.9, 0.5), _row("output", "Dense", 0.7)],
            "In the M `conv1` changes by 50 % even moved back by the shift; the output (the "
            "probabilities) changes by 70 %.",
        ),
        (  # no convolution
            [_row("flatten", "Flatten", 1.1), _row("output", "Dense", 0.9)],
            "The M has no convolution: its first layer `flatten` sees the image pixel by pixel "
            "and changes by 110 %; the output (the probabilities) changes by 90 %. (Change = "
            "‖after − before‖ / ‖before‖, the size of the difference as a percentage of the "
            "size of the unshifted output: above 100 % the shifted output differs from the "
            "unshifted one by more than the unshifted output's own size, as two same-sized "
            "copies that no longer overlap do — they differ by 141 %.)",
        ),
    ],
)
def test_where_position_returns_in_every_case(rows, expected):
    image = LayerChange("image", "InputLayer", 1, 1.0, 0.0, True)
    assert translation.where_position_returns("M", [image, *rows]) == expected


def test_where_position_returns_needs_layers():
    with pytest.raises(TransformError, match="no layers"):
        translation.where_position_returns("M", [LayerChange("image", "InputLayer", 1, 1, 0, True)])


# --- 3. accuracy grids and what they say ---------------------------------------------


def test_accuracy_grid_hand_worked():
    x = np.zeros((3, 4, 4, 1), np.float32)
    for i in range(3):
        x[i, 0, i, 0] = 1.0  # image i lights pixel (0, i): class i
    y = np.array([0, 1, 2])
    seen = []
    grid = translation.accuracy_grid(_Fixed(), x, y, [-1, 0, 1], lambda f, w: seen.append(f))
    # Rows dy, columns dx. Any move down empties row 0 -> all predict 0 -> 1/3. Up by one
    # brings row 1 (all zero) up: the same. Unmoved: 1; right: 0; left: image 0 lost (-> 0,
    # right by luck), the others read one class too low: 1/3.
    np.testing.assert_allclose(grid, [[1 / 3] * 3, [1 / 3, 1, 0], [1 / 3] * 3])
    assert len(seen) == 9 and seen[-1] == 1.0
    with pytest.raises(TransformError, match="3 images but 2 labels"):
        translation.accuracy_grid(_Fixed(), x, y[:2])
    with pytest.raises(TransformError, match="takes images of shape"):
        translation.accuracy_grid(_Fixed(), np.zeros((3, 5, 5, 1)), y)


def _summary(grid, name="M", n=2000, classes=10):
    return translation.summarize(name, np.asarray(grid, float), (-1, 0, 1), n, classes)


FLAT = [[0.97] * 3] * 3


@pytest.mark.parametrize(
    ("grid", "n", "expected"),
    [
        (
            FLAT,
            2000,
            "**M** keeps its accuracy: 97.0 % unshifted and never below 97.0 % for "
            "horizontal or vertical shifts up to 1 px. No diagonal move does worse.",
        ),
        (
            [[0.2, 0.3, 0.96], [0.25, 0.95, 0.3], [0.1, 0.3, 0.4]],
            2000,
            "**M** collapses: from 95.0 % unshifted to 25.0 % at 1 px left (guessing gives "
            "10.0 %). Moved diagonally as well, its worst is 10.0 % (1 px left, 1 px down).",
        ),
        (
            [[0.9, 0.85, 0.9], [0.8, 0.95, 0.9], [0.9, 0.9, 0.9]],
            2000,
            "**M** loses 15.0 points: 95.0 % unshifted, 80.0 % at 1 px left. No diagonal move "
            "does worse.",
        ),
        (
            [[0.11] * 3] * 3,
            2000,
            "**M** is at chance level even unshifted (11.0 % right; guessing gives 10.0 %): "
            "there is nothing for a shift to break, so its curve says nothing about invariance.",
        ),
        (
            [[0.5, 0.6, 0.5], [0.6, 0.5, 0.6], [0.5, 0.6, 0.5]],
            50,  # better when moved
            "**M** keeps its accuracy: 50.0 % unshifted and never below 50.0 % for horizontal "
            "or vertical shifts up to 1 px (on only 50 test images). No diagonal move does "
            "worse.",
        ),
    ],
)
def test_describe_shifts_is_true_in_every_case(grid, n, expected):
    assert translation.describe_shifts(_summary(grid, n=n)) == expected


def test_compare_worst_names_ties_and_leaves_out_chance():
    good = _summary(FLAT, "A")
    twin = _summary(FLAT, "B")
    bad = _summary([[0.5, 0.5, 0.5], [0.5, 0.95, 0.5], [0.5, 0.5, 0.5]], "C")
    chance = _summary([[0.1] * 3] * 3, "D")
    assert translation.compare_worst([good, bad]) == (
        "Most tolerant of shifts: **A**, never below 97.0 %. Least: **C**, down to 50.0 %."
    )
    assert translation.compare_worst([good, twin, bad, chance]) == (
        "Most tolerant of shifts: **A** and **B** (a tie), never below 97.0 %. "
        "Least: **C**, down to 50.0 %."
    )
    assert translation.compare_worst([good, twin]) == (
        "All 2 models have the same worst accuracy, 97.0 %."
    )
    assert translation.compare_worst([good, chance]) == ""  # one real model: no ranking
    out = translation.conclusion([good, chance, bad])
    assert len(out) == 4 and "chance level" in out[1] and out[3].startswith("Most tolerant")
    with pytest.raises(TransformError, match="no models"):
        translation.conclusion([])


def test_summarize_checks_its_grid():
    s = _summary([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])
    np.testing.assert_allclose(s.horizontal, [0.4, 0.5, 0.6])
    np.testing.assert_allclose(s.vertical, [0.2, 0.5, 0.8])
    assert s.base == 0.5 and s.worst == (pytest.approx(0.2), 0, -1)
    assert s.worst_2d == (pytest.approx(0.1), -1, -1)
    with pytest.raises(TransformError, match="include 0"):
        translation.summarize("M", np.zeros((2, 2)), (1, 2))
    with pytest.raises(TransformError, match="3×3 grid"):
        translation.summarize("M", np.zeros((2, 2)), (-1, 0, 1))
    with pytest.raises(TransformError, match=r"\[0, 1\]"):
        translation.summarize("M", np.full((3, 3), 2.0), (-1, 0, 1))


def test_check_digit_model():
    translation.check_digit_model(models.build("global_pool_cnn"))
    with pytest.raises(TransformError, match=r"takes images of shape \(32, 32, 3\)"):
        translation.check_digit_model(models.build("cifar_augment"))
    with pytest.raises(TransformError, match="has 24 output classes"):
        translation.check_digit_model(models.build("dli_asl", (28, 28, 1), 24))


# --- the done-when numbers, on the bundled models ------------------------------------


def test_global_pooling_holds_while_the_mlp_collapses(bundled):
    ds = data.load_mnist_sample()  # all 2,000 test digits
    worst = {}
    for name in ("global_pool_cnn", "cookbook_mlp"):
        accs = [
            translation.accuracy_vs_shift(bundled[name], ds.x_test, ds.y_test, SHIFTS, axis)
            for axis in ("x", "y")
        ]
        worst[name] = min(a.min() for a in accs)
    assert worst["global_pool_cnn"] >= 0.95
    assert worst["cookbook_mlp"] <= 0.6


SHIFTS = translation.SHIFTS


def test_precomputed_sweeps_match_the_bundled_files_and_a_live_run(bundled):
    loaded = translation.load_sweeps()
    assert loaded is not None, "run scripts/build_translation_sweeps.py"
    settings, entries = loaded
    assert settings["n_images"] == 2000 and settings["shifts"] == list(SHIFTS)
    assert set(entries) == set(models.bundled_names("mnist-sample"))  # no Fashion-MNIST model
    for name in models.bundled_names("mnist-sample"):
        model = bundled.get(name) or models.load(models.bundled(name))
        try:
            translation.check_digit_model(model)
        except TransformError:
            continue
        # Stale numbers are caught here: rerun the script after retraining a bundled model.
        assert entries[name]["weights_sha256"] == translation.weights_digest(model), name
    ds = data.load_mnist_sample()
    for name in ("cookbook_mlp", "global_pool_cnn"):
        e = entries[name]
        grid = np.asarray(e["grid"])
        assert grid.shape == (9, 9)
        np.testing.assert_allclose(e["horizontal"], grid[4])
        np.testing.assert_allclose(e["vertical"], grid[:, 4])
        # Two cells recomputed now: the same numbers.
        live = translation.accuracy_vs_shift(bundled[name], ds.x_test, ds.y_test, [-4, 0], "x")
        np.testing.assert_allclose(live, [grid[4, 0], grid[4, 4]], atol=1e-6)
        card = models.read_card(models.bundled(name))
        assert grid[4, 4] == pytest.approx(card["metrics"]["test_accuracy"], abs=1e-3)


def test_sweeps_round_trip(tmp_path):
    grid = np.arange(81).reshape(9, 9) / 100
    entry = translation.sweep_entry(grid, SHIFTS, 7, "abc")
    path = translation.save_sweeps({"m": entry}, {"n_images": 7}, tmp_path / "s.json")
    settings, entries = translation.load_sweeps(path)
    assert settings == {"n_images": 7} and entries["m"]["weights_sha256"] == "abc"
    np.testing.assert_allclose(entries["m"]["grid"], grid)
    np.testing.assert_allclose(entries["m"]["vertical"], grid[:, 4])
    assert translation.load_sweeps(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert translation.load_sweeps(tmp_path / "bad.json") is None


def test_the_claims_of_the_welcome_page_readme_and_zoo_hold():
    # README / Welcome / zoo lessons: at ±4 px the MLP and the book's CNN fall below 25 %
    # (they "collapse", "lose it"), the global-pooling CNN stays above 95 %.
    _, entries = translation.load_sweeps()
    worst = {
        name: translation.summarize(name, e["grid"], e["shifts"], e["n_images"]).worst[0]
        for name, e in entries.items()
    }
    assert worst["cookbook_mlp"] < 0.25 and worst["cookbook_cnn"] < 0.25
    assert worst["global_pool_cnn"] >= 0.95
    for name in ("cookbook_mlp", "cookbook_cnn"):
        s = translation.summarize(name, entries[name]["grid"], SHIFTS, 2000)
        assert "collapses" in translation.describe_shifts(s)
    assert "4 px" in models.ZOO["cookbook_cnn"].lesson
    assert "4 px" in models.ZOO["global_pool_cnn"].lesson
