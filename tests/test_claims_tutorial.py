"""Property tests of the sentences cnnviz.tutorial writes from numbers."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnnviz import tutorial
from cnnviz.claims import proves


@st.composite
def predictions(draw):
    """Probability rows (some without any class at 0.5, ties at 0.5) and true labels."""
    n = draw(st.integers(1, 40))
    k = draw(st.integers(2, 10))
    w = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(0, 1)))
    w = w + 1e-9
    probs = w / w.sum(axis=1, keepdims=True)
    if draw(st.booleans()):  # flat rows: no class reaches 0.5
        probs[: n // 2] = 1.0 / k
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    return probs, y


@proves("cnnviz.tutorial.rounding_sentence")
@given(predictions())
@example((np.array([[0.5, 0.5]]), np.array([1])))  # a tie at exactly one half
@example((np.array([[0.2, 0.45, 0.35]]), np.array([1])))  # right by argmax, wrong rounded
def test_the_rounding_sentence_states_the_counts(case):
    probs, y = case
    trap = tutorial.rounding_trap(probs, y, "T-shirt/top")
    text = tutorial.rounding_sentence(trap)
    best, rounded = probs.argmax(1), np.round(probs).argmax(1)
    assert text.facts["changed"] == int(np.sum(best != rounded))
    assert text.facts["correct_argmax"] == int(np.sum(best == y))
    assert text.facts["correct_rounded"] == int(np.sum(rounded == y))
    assert text.facts["lost"] == text.facts["correct_argmax"] - text.facts["correct_rounded"]
    assert np.all(rounded[best != rounded] == 0)  # "into class 0": every change lands on 0
    no_majority = probs.max(axis=1) <= 0.5  # "no class above 50 %"
    assert text.facts["no_majority"] == int(no_majority.sum())
    assert np.all(no_majority[best != rounded])  # the changed ones have no class above 50 %
    if text.facts["changed"]:
        assert f"turns {text.facts['changed']:,} of {len(y):,} predictions into class 0" in text
        assert f"{text.facts['correct_argmax']:,} by argmax" in text
        assert f"{text.facts['correct_rounded']:,} after rounding" in text
        if text.facts["lost"] > 0:
            assert f"({text.facts['lost']:,} fewer)" in text
        elif text.facts["lost"] < 0:
            assert f"({-text.facts['lost']:,} more" in text
    else:
        assert "changes none" in text and np.all(best == rounded)
        if "every image has one class above 50 %" in text:
            assert not no_majority.any()
        else:
            assert f"{int(no_majority.sum()):,} of them have no class above 50 %" in text
            assert np.all(best[no_majority] == 0)  # "class 0 was the top class anyway"
