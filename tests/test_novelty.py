"""cnnviz.novelty: the cues that say a prediction should not be trusted."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz import imaging, novelty
from cnnviz.novelty import Familiarity


def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def test_digit_space_by_hand_on_a_plane_of_images():
    # Images that vary along two directions only: two components rebuild them exactly.
    rng = np.random.default_rng(0)
    a, b = np.zeros(784), np.zeros(784)
    a[:392], b[392:] = 1 / np.sqrt(392), 1 / np.sqrt(392)
    x = 0.3 + rng.normal(size=(200, 1)) * a + rng.normal(size=(200, 1)) * b  # (200, 784)
    space = novelty.fit_digit_space(x, n_components=2, percentile=50)
    assert space.components.shape == (2, 784)
    np.testing.assert_allclose(space.components @ space.components.T, np.eye(2), atol=1e-9)
    np.testing.assert_allclose(novelty.reconstruction_error(x, space), 0, atol=1e-9)
    c = np.zeros(784)
    c[0], c[1] = 1 / np.sqrt(2), -1 / np.sqrt(2)  # a unit direction orthogonal to a and b
    off = x[0] + 0.7 * c  # 0.7 away from the plane: RMS error 0.7 / sqrt(784) = 0.025
    assert novelty.reconstruction_error(off, space) == pytest.approx(0.025, rel=1e-6)


def test_threshold_is_the_training_percentile():
    space = novelty.digit_space()
    from cnnviz import data

    x_train = data.prepare(data.load_mnist_sample().x_train)
    errors = novelty.reconstruction_error(x_train, space)
    assert np.mean(errors > space.threshold) == pytest.approx(0.01, abs=0.002)
    x_test = data.prepare(data.load_mnist_sample().x_test)  # unseen MNIST digits
    assert np.mean(novelty.reconstruction_error(x_test, space) > space.threshold) < 0.03


def test_noise_photos_trigger_the_cue_and_real_digits_do_not():
    rng = np.random.default_rng(0)
    noise = imaging.prepare_image(_jpeg((rng.random((180, 240, 3)) * 255).astype(np.uint8)))
    assert noise.warning == imaging.NO_STROKES and not noise.array.any()
    probs = np.full(10, 0.02)
    probs[4] = 0.82  # however sure the model is…
    f = novelty.assess(probs, noise.array)
    assert f.blank and not f.trusted
    assert novelty.verdict(f, "4").startswith('Do not trust this "4": the model sees a blank')
    # A model input that is ink everywhere in a fine pattern is far from every digit.
    r, c = np.indices((28, 28))
    checks = (((r // 2 + c // 2) % 2) * ((r > 3) & (r < 24) & (c > 3) & (c < 24)))[..., None]
    f = novelty.assess(probs, checks.astype(np.float32))
    assert f.unfamiliar and f.error > 2 * f.threshold and not f.trusted
    assert novelty.verdict(f, "4").startswith('Do not trust this "4": the image looks nothing')
    # Real digits: every bundled MNIST sample, and photos of handwriting that is not MNIST.
    for digit in range(10):
        for k in range(3):
            x = imaging.prepare_image(imaging.load_sample(digit, k)).array
            assert not novelty.assess(np.eye(10)[digit], x).unfamiliar, (digit, k)
    photos, _ = imaging.load_handwriting()
    errors = [
        novelty.assess(np.eye(10)[0], imaging.prepare_image(p).array).unfamiliar
        for p in photos[:60]
    ]
    assert sum(errors) == 0


@pytest.mark.parametrize(
    ("probs", "unsure"),
    [
        ([0.95, 0.05], False),
        ([0.59, 0.41], True),  # below the 60 % floor
        ([0.6, 0.4] + [0.0] * 8, False),  # at it: not below (0.97 of 3.3 bits)
        ([0.7] + [0.3 / 9] * 9, True),  # sure-ish, but the rest is spread out: 2.4 of 3.3 bits
        ([1.0] + [0.0] * 9, False),
    ],
)
def test_model_doubt_edges(probs, unsure):
    f = novelty.assess(np.array(probs), np.zeros((5, 5, 3)) + 0.5)  # not a digit image
    assert f.unsure is unsure
    assert f.error is None and not f.unfamiliar  # the digit space only reads 28×28×1


def test_entropy_by_hand():
    assert novelty.entropy_bits(np.array([0.5, 0.5])) == pytest.approx(1.0)
    assert novelty.entropy_bits(np.array([1.0, 0.0, 0.0])) == 0.0
    assert novelty.entropy_bits(np.full(10, 0.1)) == pytest.approx(np.log2(10))


def test_verdicts_say_which_cue_fired_with_its_numbers():
    far_sure = Familiarity(0.93, 0.5, 3.32, 0.21, 0.17, unsure=False, unfamiliar=True)
    text = novelty.verdict(far_sure, "4")
    assert "0.21, above the 0.17" in text and "even though the model is 93.0 % sure" in text
    far_unsure = Familiarity(0.4, 2.9, 3.32, 0.21, 0.17, unsure=True, unfamiliar=True)
    assert "also, the model is only 40.0 % sure, below 60 %" in novelty.verdict(far_unsure, "4")
    guess = Familiarity(0.4, 2.9, 3.32, 0.05, 0.17, unsure=True, unfamiliar=False)
    assert novelty.verdict(guess, "4") == (
        'Treat this "4" as a guess: the model is only 40.0 % sure, below 60 %; and its '
        "probabilities are spread out: entropy 2.90 bits, above 50 % of its 3.32-bit maximum "
        "(1.66 bits)."
    )
    # the 53 % / 47 %: only the top probability fired (1.00 bits is 30 % of 3.32)
    two = novelty.assess(np.array([0.53, 0.47] + [0.0] * 8), np.zeros((5, 5, 3)) + 0.5)
    assert two.doubts == ("low probability",) and two.unsure
    assert novelty.verdict(two, "4") == (
        'Treat this "4" as a guess: the model is only 53.0 % sure, below 60 %.'
    )
    # sure, but spread over the other nine: only the entropy fired
    flat = novelty.assess(np.array([0.7] + [0.3 / 9] * 9), np.zeros((5, 5, 3)) + 0.5)
    assert flat.doubts == ("spread out",)
    assert novelty.verdict(flat, "4").endswith("even though its top class has 70.0 %.")
    # one rounding: the metric's percentage is the sentence's, never 100 % below 1
    sure = Familiarity(0.99996, 0.001, 3.32, 0.05, 0.17, unsure=False, unfamiliar=False)
    assert novelty.verdict(sure, "7").startswith('The model is > 99.9 % sure of "7"')
    assert novelty.percent(0.9994) == "99.9 %" and novelty.percent(0.59996) == "59.996 %"
    fine = Familiarity(0.99, 0.1, 3.32, 0.05, 0.17, unsure=False, unfamiliar=False)
    assert "0.05 ≤ 0.17" in novelty.verdict(fine, "4") and fine.trusted
    colour = Familiarity(0.99, 0.1, 3.32, None, None, unsure=False, unfamiliar=False)
    assert "reconstruction" not in novelty.verdict(colour, "cat")
