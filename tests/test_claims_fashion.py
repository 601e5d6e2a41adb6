"""Property tests of the sentences a Fashion-MNIST model brings to the 'Inside' pages and
Evaluate: the trust verdict of a model trained on clothes, the sentence for a model looking
at the other kind of image, the dreams' second opinion, the tutorial's own rounding loss.

``@example`` pins the issue's cases: the landed app told a learner that a bundled sneaker,
read by fashion_plain, "is close to the training digits (reconstruction error 0.11 ≤ 0.17)".
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnnviz import evaluation, explain, imaging, models, novelty
from cnnviz.claims import proves

# The sneaker: the bundled Fashion-MNIST sample as the landed Predict prepared it
# for fashion_plain (MNIST style, its only one for grayscale models) and as it is now
# (Fashion-MNIST's style); fashion_plain was 99.9 % sure of "Sneaker" (class 7) on it.
_RAW_SNEAKER = imaging.load_sample(7, 0, "clothes")
SNEAKER_MNIST_STYLE = imaging.prepare_image(_RAW_SNEAKER).array
SNEAKER = imaging.prepare_image(_RAW_SNEAKER, style="fashion").array
SNEAKER_PROBS = np.array([0.0] * 7 + [0.999, 0.0005, 0.0005])
CLOTHES = [
    imaging.prepare_image(imaging.load_sample(c, k, "clothes"), style="fashion").array
    for c in range(10)
    for k in range(imaging.SAMPLES_PER_CLASS)
]  # the 30 bundled samples, as the model gets them


@st.composite
def probabilities(draw, k: int = 10) -> np.ndarray:
    """A probability vector over ``k`` classes: one-hot, a spike, ties, random weights."""
    kind = draw(st.sampled_from(["onehot", "spike", "tie", "weights"]))
    p = np.zeros(k)
    if kind == "onehot":
        p[draw(st.integers(0, k - 1))] = 1.0
    elif kind == "spike":
        eps = draw(st.floats(1e-12, 0.5))
        p[:] = eps / (k - 1)
        p[draw(st.integers(0, k - 1))] = 1 - eps
    elif kind == "tie":
        p[: draw(st.integers(1, k))] = 1.0
    else:
        p[:] = draw(st.lists(st.floats(0, 1e6), min_size=k, max_size=k))
        if p.sum() == 0:
            p[0] = 1.0
    return p / p.sum()


@st.composite
def grey_images(draw) -> np.ndarray:
    """A 28×28×1 image in [0, 1]: a bundled garment, blank, a filled box, random pixels."""
    kind = draw(st.sampled_from(["garment", "blank", "box", "random"]))
    if kind == "garment":
        return draw(st.sampled_from(CLOTHES))
    image = np.zeros((28, 28, 1), np.float32)
    if kind == "box":
        top, left = draw(st.integers(0, 27)), draw(st.integers(0, 27))
        image[top : top + draw(st.integers(1, 28)), left : left + draw(st.integers(1, 28))] = 1
    elif kind == "random":
        image = draw(hnp.arrays(np.float32, (28, 28, 1), elements=st.floats(0, 1, width=32)))
    return image


# ---------------------------------------------------------------------- novelty, for clothes


@proves("cnnviz.novelty.verdict")
@given(probabilities(), grey_images())
@example(SNEAKER_PROBS, SNEAKER_MNIST_STYLE)  # the issue: "close to the training digits"
@example(SNEAKER_PROBS, SNEAKER)
@example(SNEAKER_PROBS, np.zeros((28, 28, 1), np.float32))  # blank: "no digit"?
def test_a_clothes_models_verdict_never_measures_it_against_digits(probs, image):
    """A model trained on clothes (``digits=False``): the distance to the training digits
    is not measured and not claimed, only the model's own doubt (and a blank input)."""
    f = novelty.assess(probs, image, digits=False)
    c = novelty.verdict(f, "Sneaker")
    assert f.error is None and f.threshold is None and not f.unfamiliar
    assert c.facts["error"] is None and c.facts["threshold"] is None
    assert "digit" not in c and "reconstruction" not in c, c
    blank = not image.any()
    doubts = novelty._doubts(float(probs.max()), f.entropy, f.max_entropy)
    assert c.facts["verdict"] == ("blank" if blank else "unsure" if doubts else "trusted")
    assert str(novelty.percent(probs.max())) in c
    # the same image for a digit model: the cue is switched off, not broken
    digit = novelty.assess(probs, image, digits=True)
    assert (digit.error is None) == blank


# The page's own case (screenshot of Predict): handwriting_cnn shown the bundled sneaker said
# "4", 64.4 % sure, under the sentence that a digit model's answer says nothing about
# clothing, and the verdict went on: "the image is close to the training digits
# (reconstruction error 0.11 ≤ 0.17): nothing suggests it is out of its depth."
SNEAKER_AS_4 = np.array([0.003, 0.012, 0.221, 0.007, 0.644, 0.003, 0.003, 0.101, 0.003, 0.003])


@proves("cnnviz.novelty.verdict")
@given(probabilities(), grey_images(), st.booleans())
@example(SNEAKER_AS_4, SNEAKER_MNIST_STYLE, True)  # "nothing suggests it is out of its depth"
@example(SNEAKER_PROBS, SNEAKER, False)
@example(SNEAKER_PROBS, np.zeros((28, 28, 1), np.float32), True)
def test_a_model_shown_the_other_kind_of_image_is_never_trusted(probs, image, digits):
    """``foreign``: the image is a bundled sample of the other kind (a sneaker for a digit
    model). Never "nothing suggests…"; the digit cue's number is stated with its true
    comparison, including when it misses the sneaker."""
    f = novelty.assess(probs, image, digits=digits, foreign=True)
    c = novelty.verdict(f, "4")
    blank = not image.any()
    assert not f.trusted and c.facts["verdict"] == ("blank" if blank else "foreign")
    assert "nothing suggests" not in c
    if blank:
        return
    assert c.startswith('Do not trust this "4": the image is not of the kind the model was ')
    if f.error is None:
        assert "reconstruction" not in c and not digits
    elif f.unfamiliar:
        e, t = re.search(r"reconstruction error ([\d.e+-]+), above the ([\d.e+-]+)", c).groups()
        assert float(e) > float(t) and f.error > f.threshold
    else:
        found = re.search(r"not catch it \(reconstruction error ([\d.e+-]+) ≤ ([\d.e+-]+)", c)
        e, t = found.groups()
        assert float(e) <= float(t) and f.error <= f.threshold
    sure = str(novelty.percent(probs.max()))
    if f.doubts:
        assert "; also, " in c and ("spread out" in c) == ("spread out" in f.doubts)
    else:
        assert c.endswith(f", even though the model is {sure} sure.")


@proves("cnnviz.novelty.cues_explained")
@given(st.floats(0.01, 0.99), st.floats(0.01, 0.99), st.integers(1, 784), st.floats(50, 99.9))
@example(0.6, 0.5, 40, 99.0)  # the issue: Predict explained the digit cue for fashion_plain
def test_cues_for_a_clothes_model_say_the_digit_cue_is_not_measured(p, e, k, pct):
    c = novelty.cues_explained(p, e, k, pct, digits=False)
    assert c.facts["digits"] is False
    assert f"below {100 * p:.3g} %" in c and f"above {100 * e:.3g} %" in c
    assert "Not measured" in c and "principal components" not in c
    assert "unfamiliar" not in c  # no verdict of the digit cue is described as applying


# ------------------------------------------------------------------ a model, the other images

SUBJECT = st.one_of(st.sampled_from(["digits", "clothes"]), st.none(), st.text(max_size=8))
IMAGE_WORDS = {"digits": "a handwritten digit", "clothes": "a Fashion-MNIST photo of clothing"}
MODEL_WORDS = {"digits": "handwritten digits", "clothes": "Fashion-MNIST's clothes"}


@proves("cnnviz.models.mismatch_sentence")
@given(SUBJECT, SUBJECT, st.text(min_size=1, max_size=40))
@example("clothes", "digits", "handwriting_cnn (pre-trained on mnist-sample)")  # the issue
@example("digits", "clothes", "fashion_plain (pre-trained on fashion_mnist)")
@example("digits", "digits", "book_mnist (pre-trained on mnist-sample)")
@example("clothes", None, "my CIFAR model")
def test_mismatch_sentence_only_when_the_model_saw_the_other_kind(image, model, label):
    c = models.mismatch_sentence(image, model, label)
    known = ("digits", "clothes")
    if image not in known or model not in known or image == model:
        assert c is None
        return
    assert c.facts == {"image": image, "model": model, "label": label, "mismatch": True}
    assert c.startswith(f"This image is {IMAGE_WORDS[image]}, but {label} was trained on ")
    assert f"was trained on {MODEL_WORDS[model]}: it can only answer with " in c
    answer = "a digit" if model == "digits" else "one of its ten kinds of clothing"
    assert f"only answer with {answer}," in c and c.endswith(".")


def test_mismatch_subjects_come_from_the_cards():
    assert models.subject(models.bundled_dataset("fashion_plain")) == "clothes"
    assert models.subject(models.bundled_dataset(models.DEFAULT_BUNDLED)) == "digits"
    assert models.subject("mnist-sample, digits 0–4 only") == "digits"  # the transfer base
    assert models.subject("cifar10") is None and models.subject(None) is None


# ------------------------------------------------------------------ Filters: second opinion


@st.composite
def dream_readings(draw):
    """``(k, targets, read_as)``: distinct dream targets among ``k`` classes, any readings."""
    k = draw(st.integers(1, 12))
    targets = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True))
    mode = draw(st.sampled_from(["all", "none", "any"]))
    if mode == "all":
        reads = list(targets)
    elif mode == "none" and k > 1:
        reads = [(t + draw(st.integers(1, k - 1))) % k for t in targets]
    else:
        reads = [draw(st.integers(0, k - 1)) for _ in targets]
    return k, targets, reads


@proves("cnnviz.explain.second_opinion_sentence")
@given(dream_readings())
@example((10, list(range(10)), list(range(10))))  # fashion_plain's dreams read by fashion_dropout
@example((10, [3, 8], [3, 3]))
@example((10, [7], [5]))
def test_second_opinion_counts_the_dreams_read_as_their_class(case):
    k, targets, reads = case
    names = tuple(f"<c{i}>" for i in range(k))
    c = explain.second_opinion_sentence("other_net", targets, reads, names)
    n = len(targets)
    misread = tuple((t, r) for t, r in zip(targets, reads, strict=True) if t != r)
    assert c.facts == {"other": "other_net", "n": n, "agreed": n - len(misread), "misread": misread}
    assert c.startswith("other_net, a second model trained apart on the same data, reads ")
    if not misread:
        assert "may be noise" not in c and "not noise" in c
        assert (f"reads all {n} dreams" if n > 1 else f"this dream as {names[targets[0]]}") in c
    else:
        assert f"reads {n - len(misread)} of {n} dream" in c and "may be noise" in c
        assert "reads all" not in c and "not noise" not in c
        for t, r in misread:
            assert f"the {names[t]} dream as {names[r]}" in c
        for t, r in zip(targets, reads, strict=True):
            if t == r:
                assert f"the {names[t]} dream as" not in c  # only the misread are listed


def test_second_opinion_needs_one_reading_per_dream():
    with pytest.raises(ValueError, match="got 2 dreams and 1 readings"):
        explain.second_opinion_sentence("m", [0, 1], [0], ("a", "b"))
    with pytest.raises(ValueError, match="got 0 dreams"):
        explain.second_opinion_sentence("m", [], [], ("a",))


# --------------------------------------------------------------- Evaluate: the tutorial's case


@st.composite
def tutorial_cases(draw):
    """``(n, found_correct, test_accuracy)``: any count, any accuracy (exact or not)."""
    n = draw(st.integers(1, 100_000))
    found = draw(st.integers(0, n))
    acc = draw(
        st.one_of(
            st.floats(0, 1), st.integers(0, n).map(lambda c: c / n), st.sampled_from([0.0, 1.0])
        )
    )
    return n, found, acc


@proves("cnnviz.evaluation.tutorial_rounding_case")
@given(tutorial_cases())
@example((10_000, 9188, 0.9230))  # the tutorial: "Found 9188 correct labels", 0.9230 → 42
@example((10_000, 9230, 0.9230))
@example((10_000, 9300, 0.9230))
@example((3, 1, 0.5))  # 1.5 correct: the count rounds
def test_tutorial_rounding_case_states_the_count_and_the_loss(case):
    n, found, acc = case
    c = evaluation.tutorial_rounding_case(found, acc, n)
    by = round(acc * n)
    lost = by - found
    assert c.facts["by_argmax"] == by and c.facts["lost"] == lost and c.facts["n"] == n
    shown = c.facts["shown_accuracy"]
    assert round(float(shown) * n) == by  # the shown accuracy gives the stated count
    assert f'printed "Found {found} correct labels"' in c
    assert f"test accuracy {shown} on {n:,} test images, i.e. {by:,} correct by argmax" in c
    if lost > 0:
        assert f"the rounding lost {lost:,} image" in c
    elif lost == 0:
        assert "changed no count" in c
    else:
        assert f"counted {-lost:,} more" in c
    if (n, found, acc) == (10_000, 9188, 0.9230):
        assert lost == 42 and shown == "0.9230"


def test_tutorial_rounding_case_refuses_impossible_counts():
    with pytest.raises(ValueError, match="found_correct=11"):
        evaluation.tutorial_rounding_case(11, 0.5, 10)
    with pytest.raises(ValueError, match=r"test_accuracy=1\.5"):
        evaluation.tutorial_rounding_case(1, 1.5, 10)
