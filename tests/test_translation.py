"""cnnviz.translation: moving images by hand-worked arrays, and the real MLP-vs-CNN result."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz import data, models, translation
from cnnviz.translation import TransformError, rotate, scale, shift

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
    return {n: models.load(models.bundled(n)) for n in ("cookbook_mlp", "cookbook_cnn")}


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
    assert text.startswith("With no shift the MLP says **1**") and "still right" in text
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
        "scale", {"CNN": np.array([0.2, 0.5, 0.9])}, np.array([0.8, 0.9, 1.0])
    )
    assert (
        text
        == "After shrinking to 80 % the CNN keeps 20.0 % accuracy (90.0 % untouched, -70.0 points)."
    )


def test_retrain_rejects_a_bad_size_before_training():
    with pytest.raises(TransformError, match="training images must be 10…8000, got 5"):
        translation.retrain(n_train=5)
    assert list(translation.LAB_MODELS) == ["MLP", "CNN", "CNN trained with shifts"]
