"""Property tests of the sentences the 'Inside the model' and Data pages write from numbers.

Every registered sentence function of cnnviz.novelty, cnnviz.explain and the Data page's
cnnviz.data helpers, generated over its whole domain (ties, zeros, NaN, spikes, every size),
each stated fact checked against the input numbers. ``@example`` pins the cases the issue
found false on the landed app.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
from hypothesis import assume, example, given
from hypothesis import strategies as st

from cnnviz import data, explain, novelty
from cnnviz.claims import proves

PCT = re.compile(r"(?<![\w.])(?:[<>] )?(\d+(?:\.\d+)?) %")


# ----------------------------------------------------------------------------- strategies


@st.composite
def probabilities(draw, min_k: int = 1, max_k: int = 12) -> np.ndarray:
    """A probability vector: random weights, one-hot, near one-hot, ties, tiny values."""
    k = draw(st.integers(min_k, max_k))
    kind = draw(st.sampled_from(["weights", "onehot", "spike", "tie"]))
    if kind == "onehot":
        p = np.zeros(k)
        p[draw(st.integers(0, k - 1))] = 1.0
        return p
    if kind == "spike":
        eps = draw(st.floats(1e-12, 0.5))
        p = np.full(k, eps / max(k - 1, 1)) if k > 1 else np.zeros(1)
        p[draw(st.integers(0, k - 1))] = 1 - eps if k > 1 else 1.0
        return p / p.sum()
    if kind == "tie":
        n = draw(st.integers(1, k))
        p = np.zeros(k)
        p[:n] = 1.0 / n
        return p
    w = np.array(draw(st.lists(st.floats(0, 1e6), min_size=k, max_size=k)), dtype=np.float64)
    assume(w.sum() > 0)
    return w / w.sum()


def _fam(probs: np.ndarray, error, threshold, blank: bool) -> novelty.Familiarity:
    f = novelty.assess(probs, np.full((5, 5, 3), 0.5))  # not a digit image: model cues only
    unfamiliar = error is not None and error > threshold
    return dataclasses.replace(f, error=error, threshold=threshold, unfamiliar=unfamiliar,
                               blank=blank)  # fmt: skip


def _number(text: str) -> float:
    return float(re.sub(r"[^\d.\-]", "", text.replace("−", "-")))


# ------------------------------------------------------------------------------- novelty


@proves("cnnviz.novelty.percent")
@given(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.5996, 0.59999999, 0.9994,
                                                     1 - 1e-12, 1e-9, 0.6, 0.0004])))  # fmt: skip
def test_percent_one_rounding_never_100_for_less_than_one(p):
    c = novelty.percent(p)
    assert c.facts["probability"] == p and c.facts["shown"] == str(c)
    assert str(c).endswith(" %")
    value = _number(str(c))
    if p < 1:
        assert value < 100 or str(c).startswith("> ")
        assert "100.0 %" != str(c) and "100 %" != str(c)
    else:
        assert str(c) == "100.0 %"
    if p > 0:
        assert value > 0 or str(c).startswith("< ")
    else:
        assert str(c) == "0.0 %"
    if str(c).startswith("> "):
        assert 100 * p > value
    elif str(c).startswith("< "):
        assert 100 * p < value
    else:
        assert abs(value - 100 * p) <= 0.05 + 1e-9
    # the side of the "sure" threshold is the side the number shows
    if str(c)[0] not in "<>":
        limit = round(100 * novelty.UNSURE_PROBABILITY, 9)
        assert (value < limit) == (p < novelty.UNSURE_PROBABILITY)


@proves("cnnviz.novelty.verdict")
@given(
    probabilities(),
    st.one_of(st.none(), st.tuples(st.floats(0, 1), st.floats(0, 1))),
    st.booleans(),
)
@example(np.array([0.53, 0.47] + [0.0] * 8), None, False)  # the issue: "spread out", 1 of 3.32
@example(np.array([0.53, 0.47] + [0.0] * 8), (0.05, 0.17), False)
@example(np.array([0.9994] + [0.0006 / 9] * 9), (0.05, 0.17), False)  # metric 99.9 %, text 100 %
@example(np.array([0.9994] + [0.0006 / 9] * 9), (0.3, 0.17), False)
@example(np.array([0.5996, 0.4004]), None, False)  # 59.96 %: "only 60 % sure"?
@example(np.array([0.7] + [0.3 / 9] * 9), None, False)  # sure enough, but spread out
@example(np.array([0.82] + [0.02] * 9), None, True)  # a blank page, 82 % sure
def test_novelty_verdict_states_the_cue_that_fired(probs, err, blank):
    error, threshold = err if err is not None else (None, None)
    f = _fam(probs, error, threshold, blank)
    text = str(novelty.verdict(f, "4"))
    top = float(probs.max())
    spread = f.max_entropy > 0 and f.entropy > novelty.UNSURE_ENTROPY * f.max_entropy
    low = top < novelty.UNSURE_PROBABILITY
    # never "spread out" unless the entropy is above its stated fraction of the maximum
    assert "spread out" not in text or spread, text
    # one rounding: a probability below 1 is never shown as 100 %
    if top < 1:
        assert not re.search(r"(?<![\d.])100(?:\.0+)? ?%", text), text
    shown = novelty.percent(top)
    assert str(shown) in text, (shown, text)
    facts = novelty.verdict(f, "4").facts
    assert facts["probability"] == top and facts["shown_probability"] == str(shown)
    assert facts["entropy"] == f.entropy and facts["max_entropy"] == f.max_entropy
    assert facts["entropy_limit"] == novelty.UNSURE_ENTROPY * f.max_entropy
    reasons = facts["reasons"]
    assert ("low probability" in reasons) == low and ("spread out" in reasons) == spread
    expected = (
        "blank" if blank else "unfamiliar" if f.unfamiliar else "unsure" if low or spread
        else "trusted"
    )  # fmt: skip
    assert facts["verdict"] == expected
    if expected in ("unsure", "unfamiliar"):
        assert ("spread out" in text) == spread
        if low:  # the stated reason: below the threshold, with both numbers
            assert f"below {novelty.UNSURE_PROBABILITY:.0%}".replace("%", " %") in text
    if spread and expected != "blank":
        limit = novelty.UNSURE_ENTROPY * f.max_entropy
        stated = re.search(r"entropy ([\d.]+) bits, above .* \(([\d.]+) bits\)", text)
        assert stated and float(stated.group(1)) > float(stated.group(2)), text
        assert abs(float(stated.group(2)) - limit) < 0.01
    if expected == "trusted":
        assert text.startswith(f'The model is {shown} sure of "4"')
        assert not low and not spread
    if f.unfamiliar and not blank:
        assert facts["error"] == error and facts["threshold"] == threshold
        e, t = re.search(r"reconstruction error ([\d.e+-]+), above the ([\d.e+-]+)", text).groups()
        assert float(e) > float(t)
    if expected == "trusted" and error is not None:
        e, t = re.search(r"reconstruction error ([\d.e+-]+) ≤ ([\d.e+-]+)", text).groups()
        assert float(e) <= float(t)
    if expected == "trusted" and error is None:  # only the doubt cue: never "nothing suggests"
        assert "only cue measured" in text and "out of its depth" not in text


@proves("cnnviz.novelty.cues_explained")
@given(
    st.floats(0.01, 0.99), st.floats(0.01, 0.99), st.integers(1, 784), st.floats(50, 99.9),
    st.booleans(),
)  # fmt: skip
@example(0.6, 0.5, 40, 99.0, True)
@example(0.6, 0.5, 40, 99.0, False)  # a Fashion-MNIST model: the digit cue is not measured
def test_cues_explained_names_the_thresholds_in_use(p, e, k, pct, digits):
    c = novelty.cues_explained(p, e, k, pct, digits)
    assert c.facts == {
        "probability": p, "entropy": e, "components": k, "percentile": pct, "digits": digits
    }  # fmt: skip
    assert f"below {100 * p:.3g} %" in c and f"above {100 * e:.3g} %" in c
    if digits:
        assert f"{k} principal components" in c and f"{pct:g} % of training digits" in c
    else:
        assert "Not measured" in c and "principal components" not in c


# ------------------------------------------------------------------------ explain: heatmaps


@st.composite
def method_maps(draw):
    """Per method a (K, 1, 2) stack of maps ≥ 0, with ties, zeros and blank methods."""
    k = draw(st.integers(2, 10))
    n = draw(st.integers(1, 4))
    names = ["Grad-CAM", "Grad-CAM++", "Layer-CAM", "Vanilla saliency"][:n]
    values = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1e6))
    maps = {}
    for m in names:
        flat = draw(st.lists(values, min_size=2 * k, max_size=2 * k))
        maps[m] = np.array(flat, dtype=np.float32).reshape(k, 1, 2)
    return maps, k, draw(st.integers(0, k - 1))


def _issue_heatmaps():
    """The issue's case: a clear 7; Grad-CAM peaks highest for 3, Grad-CAM++ for 5."""
    peaks = {
        "Grad-CAM": [0.041, 0.071, 0.194, 0.2, 0.142, 0.111, 0.136, 0.114, 0.135, 0.073],
        "Grad-CAM++": [0.302, 0.288, 0.326, 0.382, 0.397, 0.415, 0.369, 0.3, 0.254, 0.386],
        "Layer-CAM": [0.848, 1.2, 1.466, 0.689, 0.738, 0.875, 0.685, 1.388, 1.101, 0.915],
    }
    maps = {}
    for m, p in peaks.items():
        ev = np.zeros((10, 2, 2), np.float32)
        ev[:, 0, 1] = p
        ev[:, 1, 0] = np.asarray(p) / 3
        maps[m] = ev
    return maps, 10, 7


@proves("cnnviz.explain.evidence_summary")
@given(method_maps())
@example(_issue_heatmaps())
def test_evidence_summary_names_the_measure_and_the_real_maxima(case):
    maps, k, predicted = case
    names = tuple(f"c{i}" for i in range(k))
    summary = explain.evidence_summary(maps, names, predicted)
    text = str(summary)
    # a peak across classes is not "more evidence": the sentence names what it measures
    assert "strongest" not in text and "more evidence" not in text, text
    assert "largest value of each class's map" in text and "one scale per method" in text
    facts = summary.facts
    assert facts["measure"] == "largest value of each class's map, one scale per method"
    for m, ev in maps.items():
        peaks = ev.reshape(k, -1).max(axis=1).astype(np.float64)
        assert facts["peaks"][m] == tuple(float(v) for v in peaks)
        if peaks.max() <= 0:
            assert facts["top"][m] is None and f"{m} finds no positive value" in text
            continue
        tops = tuple(int(i) for i in np.flatnonzero(peaks == peaks.max()))
        assert facts["top"][m] == tops
        assert facts["agrees"][m] == (predicted in tops)
        hi, own = facts["shown"][m]  # the numbers as the sentence prints them
        assert own in text and (hi in text or predicted in tops)
        assert math.isclose(float(hi), peaks.max(), rel_tol=5e-3)
        assert math.isclose(float(own), peaks[predicted], rel_tol=5e-3, abs_tol=1e-300)
        assert np.sign(float(hi) - float(own)) == np.sign(peaks.max() - peaks[predicted])
        for i in tops:
            assert names[i] in text
    if any(not a for a in facts["agrees"].values() if a is not None):
        # then say what it means: a peak is not the model's evidence, and why
        assert "not the model's evidence" in text and "rectified" in text
    assert facts["predicted"] == predicted


@proves("cnnviz.explain.target_sentence")
@given(probabilities(min_k=1, max_k=10), st.data())
@example(np.array([0.9994, 0.0006]), None)
def test_target_sentence_names_the_argmax_and_one_rounding(probs, data_):
    k = len(probs)
    cls = data_.draw(st.integers(0, k - 1)) if data_ is not None else 0
    names = tuple(f"n{i}" for i in range(k))
    c = explain.target_sentence(probs, names, cls)
    best = int(np.argmax(probs))
    assert c.facts["predicted"] == best and c.facts["explained"] == cls
    assert c == (
        f"Predicted **{names[best]}** ({novelty.percent(probs[best])}); "
        f"explaining class **{names[cls]}**."
    )


@proves("cnnviz.explain.sanity_verdict")
@given(
    st.one_of(st.floats(-1, 1), st.just(float("nan")), st.sampled_from([-0.51, 0.4999, -0.5])),
    st.one_of(st.just(explain.SANITY_THRESHOLD), st.floats(0.01, 1.0)),
)
@example(-0.51, 0.5)  # the issue: "passes: -0.51 < 0.5"
@example(0.4999, 0.5)
@example(-0.4999999, 0.5)
def test_sanity_verdict_uses_the_size_of_rho_in_both_directions(rho, threshold):
    c = explain.sanity_verdict(rho, threshold)
    text = str(c)
    if math.isnan(rho):
        assert text.startswith("cannot tell") and c.facts["verdict"] == "cannot tell"
        return
    suspicious = abs(rho) >= threshold
    assert text.startswith("suspicious: " if suspicious else "passes: "), text
    assert c.facts["verdict"] == ("suspicious" if suspicious else "passes")
    assert c.facts["rho"] == rho and c.facts["size"] == abs(rho)
    assert c.facts["threshold"] == threshold
    # the stated comparison holds for the numbers as shown
    size, sign, limit = re.match(r"\w+: \|ρ\| = ([\d.]+) ([≥<]) ([\d.e-]+)", text).groups()
    assert sign == ("≥" if suspicious else "<")
    assert (float(size) >= float(limit)) == suspicious
    assert float(limit) == threshold
    if rho < 0 and suspicious:
        assert "negative" in text
    shown_rho = re.search(r"\(ρ = (−?)([\d.]+)", text)
    assert shown_rho and (shown_rho.group(1) == "−") == (rho < 0)
    assert shown_rho.group(2) == size


@proves("cnnviz.explain.sanity_rule")
@given(st.floats(0.01, 1.0))
def test_sanity_rule_states_the_threshold_both_ways(threshold):
    c = explain.sanity_rule(threshold)
    assert c.facts == {"threshold": threshold}
    assert f"below {threshold:g}" in c and f"{threshold:g} or above" in c
    assert "either direction" in c


@st.composite
def curves(draw):
    n = draw(st.integers(0, 5))
    values = st.one_of(
        st.floats(-1e3, 1e3), st.sampled_from([0.0, 1.0, float("nan"), float("inf")])
    )
    out = {}
    for i in range(n):
        length = draw(st.integers(1, 6))
        out[f"t{i}"] = draw(st.lists(values, min_size=length, max_size=length))
    return out


@proves("cnnviz.explain.curves_verdict")
@given(curves())
@example({"a": [1.201, 1.204]})  # rose, but ".2g" shows 1.2 → 1.2
@example({"a": [0.1, 2.0], "b": [4.0, 1.0]})
@example({"a": [2.0, 2.0]})
def test_curves_verdict_claims_only_the_rises_that_happened(scores):
    c = explain.curves_verdict(scores)
    if scores and all(len(v) >= 2 for v in scores.values()):
        ends = np.array([[v[0], v[-1]] for v in scores.values()], dtype=np.float64)
        if np.isfinite(ends).all() and (ends[:, 1] > ends[:, 0]).all():
            a, b = re.search(r"on average (\S+) → (\S+)\)", c).groups()
            assert float(b) > float(a), c  # a stated rise is a rise in the numbers shown
    facts = c.facts
    if not scores:
        assert facts["verdict"] == "empty"
        return
    if any(len(v) < 2 for v in scores.values()):
        assert facts["verdict"] == "too short"
        return
    ends = np.array([[v[0], v[-1]] for v in scores.values()], dtype=np.float64)
    if not np.isfinite(ends).all():
        assert facts["verdict"] == "diverged" and "not finite" in c
        return
    rose = tuple(k for k, v in scores.items() if v[-1] > v[0])
    failed = tuple(k for k, v in scores.items() if not v[-1] > v[0])
    assert facts["rose"] == rose and facts["failed"] == failed
    assert facts["verdict"] == ("rose" if not failed else "mixed")
    if not failed:
        a, b = re.search(r"on average (\S+) → (\S+)\)", c).groups()
        assert float(b) > float(a)
        assert facts["first_mean"] == ends[:, 0].mean() and facts["last_mean"] == ends[:, 1].mean()
    else:
        assert c.startswith(f"{len(rose)} of {len(scores)} curves rose")
        for k in failed:
            a, b = re.search(rf"{k} \((\S+) → (\S+)\)", c).groups()
            assert float(b) <= float(a)


@proves("cnnviz.explain.passthrough_sentence")
@given(st.sampled_from(["flatten", "dropout"]), st.integers(1, 10**6))
def test_passthrough_sentence_states_the_vector_size(kind, size):
    c = explain.passthrough_sentence(kind, size)
    assert c.facts["kind"] == kind
    if kind == "flatten":
        assert c.facts["size"] == size and f"one vector of {size} values" in c
    else:
        assert "output equals its input" in c


@proves("cnnviz.explain.dream_label")
@given(probabilities(min_k=2, max_k=10), st.data())
def test_dream_label_says_what_the_model_reads(probs, data_):
    k = len(probs)
    target = data_.draw(st.integers(0, k - 1))
    names = tuple(f"n{i}" for i in range(k))
    c = explain.dream_label(names[target], probs, names)
    best = int(np.argmax(probs))
    assert c.facts["read_as"] == best and c.facts["probability"] == float(probs[best])
    assert c == f"class {names[target]} (read as {names[best]}, {novelty.percent(probs[best])})"


@proves("cnnviz.explain.filter_view_caption")
@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 30), st.integers(1, 30),
       st.integers(0, 5))  # fmt: skip
def test_filter_view_caption_names_the_field_it_draws(top, left, h, w, margin):
    c = explain.filter_view_caption((top, left, top + h, left + w), margin)
    assert c.facts == {"field": (h, w), "margin": margin}
    assert f"the {h}×{w} pixels its centre unit sees" in c
    assert f"plus a {margin}-pixel margin" in c


# --------------------------------------------------------------------------------- data


@st.composite
def histograms(draw):
    kind = draw(st.sampled_from(["random", "dark", "light", "grey", "empty", "flat"]))
    counts = np.array(draw(st.lists(st.integers(0, 10**6), min_size=32, max_size=32)))
    if kind == "dark":
        counts[0] += 50 * max(counts.sum(), 1)
    elif kind == "light":
        counts[-1] += 50 * max(counts.sum(), 1)
    elif kind == "grey":
        counts[15] += 50 * max(counts.sum(), 1)
    elif kind == "empty":
        counts[:] = 0
    elif kind == "flat":
        counts[:] = draw(st.integers(1, 100))
    return counts.astype(np.int64), np.linspace(0, 256, 33)


def _zip_histogram():
    """The issue's zip: dark shapes on light paper (most pixels 248–255)."""
    counts = np.zeros(32, np.int64)
    counts[31], counts[30], counts[2], counts[1] = 70_000, 9_000, 8_000, 13_000
    return counts, np.linspace(0, 256, 33)


@proves("cnnviz.data.pixel_caption")
@given(histograms())
@example(_zip_histogram())
@example((np.array([999] + [0] * 14 + [2000] + [0] * 15 + [1]), np.linspace(0, 256, 33)))
def test_pixel_caption_reads_background_and_ink_from_the_counts(hist):
    counts, edges = hist
    c = data.pixel_caption(counts, edges)
    facts = c.facts
    total = int(counts.sum())
    if total == 0:
        assert facts["background"] is None and "no pixels" in c
        return
    m = int(np.argmax(counts))
    share = counts[m] / total
    assert facts["mode_range"] == (int(edges[m]), int(edges[m + 1]) - 1)
    assert facts["mode_share"] == share
    assert f"{int(edges[m])}–{int(edges[m + 1]) - 1}" in c
    if share < data.BACKGROUND_SHARE:
        assert facts["background"] is None and "no single range" in c
        return
    mid = (edges[m] + edges[m + 1]) / 2
    background = "dark" if mid < 256 / 3 else "light" if mid > 512 / 3 else "grey"
    assert facts["background"] == background
    assert f"The background is {background}" in c
    rest = total - counts[m]
    if rest == 0:
        assert facts["ink"] is None
        return
    lighter = counts[m + 1 :].sum() / rest
    assert facts["lighter_share"] == lighter
    ink = "lighter" if lighter > 0.5 else "darker" if lighter < 0.5 else None
    assert facts["ink"] == ink
    if ink is not None:
        part = lighter if ink == "lighter" else 1 - lighter
        if part == 1:
            assert f"are all {ink}" in c
        else:  # "mostly": more than half, as the shown share says
            shown = re.search(rf"are mostly \((?:> )?([\d.]+) %\) {ink}", c)
            assert shown and float(shown.group(1)) > 50, c
    if ink == "lighter" and background == "dark":
        assert "as in MNIST" in c
    if ink == "darker" and background == "light":
        assert "the opposite of MNIST" in c
    assert "0 in MNIST" not in c or background == "dark"


@proves("cnnviz.data.class_balance")
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
@example([721, 903, 800])
@example([5, 5])
@example([0, 3])
def test_class_balance_names_the_real_extremes(values):
    counts = np.array(values, dtype=np.int64)
    names = tuple(f"k{i}" for i in range(len(counts)))
    c = data.class_balance(counts, names)
    lo, hi = int(counts.min()), int(counts.max())
    assert c.facts["smallest"] == lo and c.facts["largest"] == hi
    assert c.facts["smallest_classes"] == tuple(names[i] for i in np.flatnonzero(counts == lo))
    assert c.facts["largest_classes"] == tuple(names[i] for i in np.flatnonzero(counts == hi))
    assert f"{lo:,}" in c and f"{hi:,}" in c
    if lo == hi:
        assert c.facts["balanced"] and "every class has" in c
    else:
        assert not c.facts["balanced"]
        if lo > 0:
            assert f"{hi / lo:.2f}×" in c and c.facts["ratio"] == hi / lo
        else:
            assert c.facts["ratio"] is None and "no images" in c
