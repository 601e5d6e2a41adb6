"""Every sentence the Arithmetic pages write (cnnviz.conv, cnnviz.pooling) is true.

Each test generates inputs over the function's whole domain with Hypothesis and checks
every fact the sentence states against numbers computed here independently: the windows
the stepper draws (``conv_steps`` / ``pool_steps``, themselves checked against TensorFlow
in tests/test_conv.py), brute-force loops, and the inputs themselves. ``@example`` pins
each case once found false on the page.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from cnnviz import conv, pooling
from cnnviz.claims import proves

fmt = conv.format_number
PADDINGS = st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 6))


def _column_windows(n: int, k: int, s: int, p, d: int) -> list[tuple[int, ...]]:
    """The input columns under each window along one axis, as the stepper draws them."""
    steps = conv.conv_steps(np.ones((1, n)), np.ones((1, k)), stride=s, padding=p, dilation=d)
    seen: list[tuple[int, ...]] = []
    for step in steps:
        if step.cols not in seen:
            seen.append(step.cols)
    return seen


def _fits(n: int, k: int, s: int, p, d: int) -> bool:
    try:
        conv.conv2d(np.ones((1, n)), np.ones((1, k)), stride=s, padding=p, dilation=d)
    except conv.ConvError:
        return False
    return True


def _listed(cells) -> str:
    """How the sentences list cells: "5", "2 and 3", "2, 3 and 6"."""
    cells = [str(c) for c in cells]
    return cells[0] if len(cells) == 1 else ", ".join(cells[:-1]) + " and " + cells[-1]


# ----------------------------------------------------------------------------- coverage
@proves("cnnviz.conv.coverage_sentence")
@given(st.integers(1, 16), st.integers(1, 7), st.integers(1, 6), PADDINGS, st.integers(1, 4))
@example(11, 2, 4, 4, 1)  # the last window sits in the padding: cell 10 is stepped over
@example(5, 1, 2, 1, 1)  # (5 + 2 − 1) / 2 = 3 exactly: the ⌊ ⌋ drops nothing
@example(6, 1, 2, "same", 1)  # 'same' is ⌈n/s⌉: no ⌊ ⌋ to blame
@example(9, 2, 4, "valid", 2)  # holes, a stride gap and cells past the last window at once
def test_coverage_sentence_names_exactly_the_untouched_cells_and_why(n, k, s, p, d):
    if not _fits(n, k, s, p, d):
        with pytest.raises(conv.ConvError):
            conv.coverage_sentence(n, k, s, p, d)
        return
    claim = conv.coverage_sentence(n, k, s, p, d)
    f, text = claim.facts, str(claim)
    wins = _column_windows(n, k, s, p, d)
    k_eff = (k - 1) * d + 1
    pads = conv.conv_trace(np.ones((1, n)), np.ones((1, k)), 0, s, p, d)["pads"][1]
    before, after = pads
    touched = {t for w in wins for t in w if 0 <= t < n}
    untouched = tuple(sorted(set(range(n)) - touched))
    assert f["untouched"] == untouched
    assert f["windows"] == len(wins) and f["k_eff"] == k_eff
    last = max(t for w in wins for t in w)
    assert f["last_tap"] == last == wins[-1][-1]
    # Every untouched cell has exactly one reason.
    parts = f["stepped_over"] + f["in_holes"] + f["past_last"]
    assert sorted(parts) == list(untouched) and len(parts) == len(untouched)
    for i in f["in_holes"]:  # inside a window's span, between its taps
        assert d > 1 and any(w[0] <= i <= w[-1] for w in wins)
    for i in f["stepped_over"]:  # between two windows: the stride is longer than the span
        assert s > k_eff and i < last and not any(w[0] <= i <= w[-1] for w in wins)
    for i in f["past_last"]:  # past the last window's last input index
        assert i > last
    padding_only = tuple(j for j, w in enumerate(wins) if all(t < 0 or t >= n for t in w))
    assert f["padding_only"] == padding_only
    if untouched:
        assert f"rows and columns {_listed(untouched)} (counted from 0)" in text
    else:
        assert text.startswith("Every input cell is under the kernel at least once")
    if f["stepped_over"]:
        assert f"the stride ({s}) is longer than the kernel's span ({k_eff})" in text
        assert f"jump over {_listed(f['stepped_over'])}" in text
    else:
        assert "jump over" not in text
    assert ("leaves gaps" in text) == bool(f["in_holes"])
    if f["in_holes"]:
        assert f"taps at {_listed(f['in_holes'])}" in text
    assert ("past the last window" in text) == bool(f["past_last"])
    if f["past_last"]:
        verb = "lies" if len(f["past_last"]) == 1 else "lie"
        assert f"{_listed(f['past_last'])} {verb} past the last window" in text
        assert f"which ends at {last}" in text
    if padding_only:
        assert f"{len(padding_only)} of the {len(wins)} window" in text
        assert "entirely in the padding" in text
    else:
        assert "entirely in the padding" not in text
    if p == "same":  # the formula shown is ⌈n/s⌉: no ⌊ ⌋ in the sentence
        assert f["formula"] == "ceil" and f["remainder"] is None and "⌊" not in text
        assert len(wins) == -(-n // s)
        if f["past_last"]:  # 'same' added no padding and the next window starts past n
            assert before + after == 0 and f["next_start"] == len(wins) * s >= n
            assert f"⌈{n}/{s}⌉ = {len(wins)} windows" in text
    else:
        numerator = n + before + after - k_eff
        r = numerator % s
        assert f["formula"] == "floor" and f["remainder"] == r
        if f["past_last"]:  # they are among the last r cells the ⌊ ⌋ drops
            assert r > 0 and all(i >= n + after - r for i in f["past_last"])
            assert f"= {numerator // s} remainder {r}, and the ⌊ ⌋ in the formula drops" in text
        elif r == 0:
            assert f"= {numerator // s} exactly, so the ⌊ ⌋ drops nothing" in text
        else:  # the dropped cells are padding only
            assert all(i >= n for i in range(n + after - r, n + after))
            assert f"the ⌊ ⌋ drops {r} padded cell" in text and "only zeros" in text


@proves("cnnviz.conv.output_size_working")
@given(st.integers(1, 16), st.integers(1, 7), st.integers(1, 6), PADDINGS, st.integers(1, 4))
def test_output_size_working_gives_the_real_output_size(n, k, s, p, d):
    if not _fits(n, k, s, p, d):
        with pytest.raises(conv.ConvError):
            conv.output_size_working(n, k, s, p, d)
        return
    w = conv.output_size_working(n, k, s, p, d)
    wins = _column_windows(n, k, s, p, d)
    pads = conv.conv_trace(np.ones((1, n)), np.ones((1, k)), 0, s, p, d)["pads"][1]
    assert w.facts["out"] == len(wins) and w.facts["operations"] == len(wins) ** 2
    assert (w.facts["before"], w.facts["after"]) == tuple(pads)
    assert str(w).endswith(f"= {len(wins)}")
    if p == "same":
        assert w.facts["formula"] == "ceil" and rf"\frac{{{n}}}{{{s}}}" in w and "lfloor" not in w
    else:
        k_shown = k if d == 1 else (k - 1) * d + 1
        assert w.facts["formula"] == "floor" and "lceil" not in w
        assert rf"\frac{{{n} + {pads[0]} + {pads[1]} - {k_shown}}}{{{s}}}" in w


# ----------------------------------------------------------------------------- Keras
pairs = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))


@proves("cnnviz.conv.keras_refusal")
@given(pairs, pairs)
def test_keras_refusal_follows_kerass_rule(stride, dilation):
    """Keras 3 refuses any stride > 1 with any dilation > 1 (checked against Keras itself on
    every pair in tests/test_conv.py::test_keras_refusal_is_what_keras_says)."""
    s = stride if isinstance(stride, tuple) else (stride, stride)
    d = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    refusal = conv.keras_refusal(stride, dilation)
    assert (refusal is not None) == (max(s) > 1 and max(d) > 1)
    if refusal is not None:
        assert refusal.facts == {"strides": s, "dilation_rate": d}
        assert refusal.endswith(f"Received: strides={s} and dilation_rate={d}")


@proves("cnnviz.conv.keras_sizes_sentence")
@given(st.integers(1, 16), st.integers(1, 7), st.integers(1, 6), st.integers(1, 4))
@example(12, 3, 4, 3)  # once read "Keras valid gives 2×2" for settings Keras refuses
def test_keras_sizes_sentence_gives_a_size_only_where_keras_makes_one(n, k, s, d):
    claim = conv.keras_sizes_sentence(n, k, s, d)
    refused = s > 1 and d > 1
    assert claim.facts["refused"] == refused
    if refused:
        assert "gives" not in claim and "Keras refuses" in claim
        assert f"strides={s}, dilation_rate={d}" in claim
        return
    valid = len(_column_windows(n, k, s, "valid", d)) if _fits(n, k, s, "valid", d) else None
    same = len(_column_windows(n, k, s, "same", d))
    assert claim.facts["valid"] == valid and claim.facts["same"] == same == -(-n // s)
    shown = (
        "no output (the kernel is larger than the input)" if valid is None else f"{valid}×{valid}"
    )
    assert f"`valid` gives {shown}" in claim and f"`same` gives {same}×{same}" in claim


@proves("cnnviz.conv.settings_verdict")
@given(
    st.tuples(st.integers(1, 8), st.integers(1, 8)),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
    st.integers(1, 3),
    PADDINGS,
    st.integers(1, 3),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 4)),
)
# The binary preset with stride 2 and dilation 3: once a warning "cnnviz still computes it …
# step through it" above the error "the kernel spans 7 cells" and no stepper.
@example((5, 5), (3, 3), 2, "valid", 3, False, 3)
@example((5, 5), (7, 7), 1, "valid", 1, True, 4)
def test_settings_verdict_is_one_true_message(x_shape, k_shape, s, p, d, resizable, max_p):
    square = x_shape[0] == x_shape[1] and k_shape[0] == k_shape[1]
    verdict = conv.settings_verdict(
        x_shape, k_shape, s, p, d, resizable=resizable, max_padding=max_p, max_input=8
    )

    def computes(xs=x_shape, ks=k_shape, pp=p, dd=d) -> bool:
        try:
            conv.conv2d(np.ones(xs), np.ones(ks), stride=s, padding=pp, dilation=dd)
        except conv.ConvError:
            return False
        return True

    refused = s > 1 and d > 1
    if verdict is None:
        assert computes() and not refused
        return
    f, text = verdict.facts, str(verdict)
    assert f["computes"] == computes() and f["keras_refuses"] == refused
    if f["computes"]:  # a warning: Keras refuses, cnnviz computes, you step
        assert refused and "you can step through it" in text
        out = conv.conv2d(np.ones(x_shape), np.ones(k_shape), stride=s, padding=p, dilation=d)
        assert f["output_shape"] == out.shape and f"output {out.shape[0]}×{out.shape[1]}" in text
        assert "no window fits" not in text
        return
    # An error: why (the numbers), what to change, and no promise to step through it.
    assert "you can step through it" not in text and "no window fits" in text
    assert f["output_shape"] is None
    assert ("Keras also refuses" in text) == refused
    k_eff = tuple((k - 1) * d + 1 for k in k_shape)
    assert f["k_eff"] == k_eff
    for axis, n, k, ke, padded in zip(
        ("rows", "columns"), x_shape, k_shape, k_eff, f["padded"], strict=True
    ):
        fits = _fits(n, k, s, p, d)
        assert fits == (ke <= padded)
        if not fits:
            assert f"only {padded}" in text
            assert f"{ke} {axis} ({k} weights" in text or (
                f"spans {ke} cells along each axis ({k} weights" in text
            )
    fixes = f["fixes"]
    if fixes["dilation"] is not None:  # the largest dilation that fits
        dd = fixes["dilation"]
        assert dd < d
        assert computes(dd=dd) and (dd + 1 == d or not computes(dd=dd + 1))
        assert (f"dilation {dd} or less" if dd > 1 else "without dilation") in text
    else:
        assert not any(computes(dd=dd) for dd in range(1, d))
    if fixes["padding"] is not None:  # the smallest explicit padding that fits
        pp = fixes["padding"]
        assert computes(pp=pp) and (pp == 1 or not computes(pp=pp - 1))
        assert max_p is None or pp <= max_p
        assert f"with padding {pp} or more" in text
    elif max_p is None and p != "same":
        assert isinstance(p, int) and computes(pp=p)  # never: it would fit already
    assert (fixes["same"] is True) == (p != "same") and computes(pp="same")
    assert ("with padding 'same'" in text) == (p != "same")
    if resizable and square:
        kk = fixes["kernel"]
        assert computes(ks=(kk, kk)) and not computes(ks=(kk + 1, kk + 1))
        assert f"a kernel of {kk} or less" in text
        if fixes["input"] is not None:
            nn = fixes["input"]
            assert nn <= 8 and computes(xs=(nn, nn)) and not computes(xs=(nn - 1, nn - 1))
            assert f"an input of {nn} or more" in text
    else:
        assert fixes["kernel"] is None and fixes["input"] is None


# ----------------------------------------------------------------------------- settings
@proves("cnnviz.conv.padding_words")
@given(st.integers(1, 12), st.integers(1, 5), st.integers(1, 4), PADDINGS, st.integers(1, 3))
def test_padding_words_name_the_zeros_added(n, k, s, p, d):
    pads = (conv.pad_amounts(n, k, s, p, d), conv.pad_amounts(n + 1, k, s, p, d))
    words = conv.padding_words(p, pads)
    added = sum(pads[0]) + sum(pads[1])
    assert words.facts["pads"] == pads and words.facts["padded"] == bool(added)
    if p == "valid" or p == 0:
        assert words == "no padding"
    elif isinstance(p, int):
        assert words.startswith(f"padding {p} ({p} zero") and "every side" in words
    else:
        (top, bottom), (left, right) = pads
        assert f"{top} before, {bottom} after" in words
        assert f"{left} before, {right} after" in words


@st.composite
def conv_cases(draw, channels: bool = True):
    """A small input, a kernel that fits, and settings (any stride with any dilation)."""
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    cin = draw(st.integers(1, 3)) if channels else 1
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    p = draw(st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 2)))
    assume(_fits(h, kh, s, p, d) and _fits(w, kw, s, p, d))
    values = st.integers(-9, 9).map(float)
    x = np.array(draw(st.lists(values, min_size=h * w * cin, max_size=h * w * cin)))
    k = np.array(draw(st.lists(values, min_size=kh * kw * cin, max_size=kh * kw * cin)))
    x = x.reshape(h, w, cin) if cin > 1 else x.reshape(h, w)
    k = k.reshape(kh, kw, cin) if cin > 1 else k.reshape(kh, kw)
    bias = draw(st.sampled_from([0.0, 1.0, -2.5]))
    return x, k, bias, s, p, d


@proves("cnnviz.conv.settings_sentence")
@given(conv_cases())
def test_settings_sentence_states_the_traces_sizes(case):
    x, k, bias, s, p, d = case
    claim = conv.settings_sentence(conv.conv_trace(x, k, bias, s, p, d))
    out = conv.conv2d(x, k if k.ndim == 2 else k[..., None], bias, s, p, d)
    ho, wo = out.shape[:2]
    f = claim.facts
    assert f["input_shape"] == x.shape[:2] and f["kernel_shape"] == k.shape[:2]
    assert f["output_shape"] == (ho, wo) and f["operations"] == ho * wo
    assert f["stride"] == (s, s) and f["dilation"] == (d, d)
    assert claim.startswith(f"Input {x.shape[0]}×{x.shape[1]}, kernel {k.shape[0]}×{k.shape[1]}")
    assert f"→ output {ho}×{wo} after {ho * wo} filter operation" in claim
    assert ("dilation" in claim) == (d > 1) and f"stride {s}," in claim


# ----------------------------------------------------------------------------- kernels
def _edge(k: np.ndarray) -> int:
    """Brute force: +1/−1 when ``k`` is a vertical-edge kernel positive on its left/right."""
    w = k.shape[1]
    if w < 2 or not all(k[r, c] == -k[r, w - 1 - c] for r in range(k.shape[0]) for c in range(w)):
        return 0
    left = [k[r, c] for r in range(k.shape[0]) for c in range(w // 2)]
    if all(v >= 0 for v in left) and any(v > 0 for v in left):
        return 1
    if all(v <= 0 for v in left) and any(v < 0 for v in left):
        return -1
    return 0


@st.composite
def kernels(draw):
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["random", "zero", "edge", "hedge", "constant", "one", "1x1"]))
    v = st.integers(-3, 3).map(float)
    if kind == "zero":
        return np.zeros((h, w))
    if kind == "1x1":
        return np.array([[draw(v)]])
    if kind == "constant":
        return np.full((h, w), draw(st.sampled_from([1.0, -2.0, 1 / (h * w), 0.5])))
    if kind == "one":
        k = np.zeros((h, w))
        k[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = draw(v)
        return k
    k = np.array(draw(st.lists(v, min_size=h * w, max_size=h * w))).reshape(h, w)
    if kind in ("edge", "hedge"):  # a mirror image with the sign flipped (maybe mixed signs)
        k = k if kind == "edge" else k.T
        k[:, (k.shape[1] + 1) // 2 :] = -k[:, : k.shape[1] // 2][:, ::-1]
        if k.shape[1] % 2:
            k[:, k.shape[1] // 2] = 0
        if draw(st.booleans()):
            k[:, : k.shape[1] // 2] = np.abs(k[:, : k.shape[1] // 2])
            k[:, (k.shape[1] + 1) // 2 :] = -k[:, : k.shape[1] // 2][:, ::-1]
        k = k if kind == "edge" else k.T
    return k + 0.0


@proves("cnnviz.conv.describe_kernel")
@given(kernels())
@example(np.array([[0.0]]))  # stride_example's old k=1 kernel, once "a vertical-edge kernel"
@example(conv.stride_example(5, 1)[1])
@example(conv.stride_example(5, 4)[1])
@example(conv.KERNELS["sobel x"])
def test_describe_kernel_is_true_of_the_weights(k):
    claim = conv.describe_kernel(k)
    f, text = claim.facts, str(claim)
    h, w = k.shape
    assert f["shape"] == (h, w) and f["total"] == pytest.approx(k.sum())
    assert text.startswith(f"a {h}×{w} ") or text.startswith(f"an all-zero {h}×{w} ")
    nonzero = np.flatnonzero(k)
    if not nonzero.size:
        assert f["kind"] == "zero" and "every output is 0" in text
    elif k.size == 1:
        assert f["kind"] == "scale" and f["weight"] == k[0, 0]
        assert f"times {fmt(k[0, 0])}" in text
    elif _edge(k):
        side = "left" if _edge(k) > 0 else "right"
        assert f["kind"] == "vertical edge" and f["positive"] == side
        mags = sorted({abs(v) for v in k[:, : w // 2].ravel() if v})
        assert list(f["magnitudes"]) == mags
        assert all(f"+{fmt(m)}" in text and f"−{fmt(m)}" in text for m in mags)
    elif _edge(k.T):
        side = "top" if _edge(k.T) > 0 else "bottom"
        assert f["kind"] == "horizontal edge" and f["positive"] == side
    elif nonzero.size == 1:
        r, c = divmod(int(nonzero[0]), w)
        assert f["kind"] == "one cell" and f["at"] == (r, c) and f["weight"] == k[r, c]
        assert ("(an identity)" in text) == (
            h % 2 == w % 2 == 1 and (r, c) == (h // 2, w // 2) and k[r, c] == 1
        )
    elif np.all(k == k.flat[0]):
        assert f["kind"] == "constant" and f["weight"] == k.flat[0]
        assert ("(a blur)" in text) == bool(np.isclose(k.flat[0] * k.size, 1.0))
    else:
        assert f["kind"] == "other" and (f["low"], f["high"]) == (k.min(), k.max())
        assert f"from {fmt(k.min())} to {fmt(k.max())}" in text
    # An edge kernel is called one only when it is one.
    assert ("edge kernel" in text) == bool(_edge(k) or _edge(k.T)) or k.size == 1


# ----------------------------------------------------------------------------- image frame
def _brute_same(x: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """A stride-1 'same' convolution by loops (channels summed), the border filled with zeros
    or with the picture's edge pixels."""
    x = x if x.ndim == 3 else x[..., None]
    k = k if k.ndim == 3 else k[..., None]
    (h, w, cin), (kh, kw) = x.shape, k.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    r, c = i - top + a, j - left + b
                    if mode == "zeros" and not (0 <= r < h and 0 <= c < w):
                        continue
                    for ch in range(cin):
                        pixel = x[min(max(r, 0), h - 1), min(max(c, 0), w - 1), ch]
                        out[i, j] += k[a, b, ch] * pixel
    return out


@proves("cnnviz.conv.frame_sentence")
@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([1, 3]),
    st.sampled_from(["same", "valid"]),
    st.booleans(),
    st.data(),
)
@example(5, 6, 3, 3, 1, "same", False, None)  # a bright picture under Sobel x: the issue
def test_frame_sentence_says_when_the_padding_frame_sets_the_colours(
    h, w, kh, kw, cin, pad, relu, data
):
    if data is None:
        x, k = np.full((h, w), 0.9), conv.KERNELS["sobel x"]
    else:
        values = st.sampled_from([0.0, 0.25, 0.5, 1.0, -1.0, 2.0])  # ties on purpose
        x = np.array(data.draw(st.lists(values, min_size=h * w * cin, max_size=h * w * cin)))
        k = np.array(data.draw(st.lists(values, min_size=kh * kw * cin, max_size=kh * kw * cin)))
        x = x.reshape(h, w, cin) if cin > 1 else x.reshape(h, w)
        k = k.reshape(kh, kw, cin) if cin > 1 else k.reshape(kh, kw)
    if pad == "valid" and (kh > h or kw > w):
        with pytest.raises(conv.ConvError):
            conv.frame_sentence(x, k, pad, relu)
        return
    claim = conv.frame_sentence(x, k, pad, relu)
    f, text = claim.facts, str(claim)
    fmap = conv.conv2d(x, k if k.ndim == 2 else k[..., None], padding=pad)
    fmap = fmap if fmap.ndim == 2 else fmap[..., 0]
    fmap = np.maximum(fmap, 0) if relu else fmap
    size = np.abs(fmap)
    assert f["output_shape"] == fmap.shape and f["limit"] == size.max()
    if pad == "valid":
        assert not f["in_frame"] and f["frame"] == 0 and "colour range" not in text
        assert f"({fmap.shape[0]}×{fmap.shape[1]}) is {h - fmap.shape[0]} row" in text
        return
    zeros = _brute_same(x, k, "zeros")
    np.testing.assert_allclose(fmap, np.maximum(zeros, 0) if relu else zeros, atol=1e-12)
    steps = conv.conv_steps(x, k if k.ndim == 2 else k[..., None], padding="same")
    frame = np.array([s.padded.any() for s in steps]).reshape(fmap.shape)
    assert f["frame"] == frame.sum()
    if not frame.any():
        assert not f["in_frame"] and "no window overlaps the padding" in text
        return
    frame_max = size[frame].max()
    interior = size[~frame].max() if (~frame).any() else None
    assert f["frame_max"] == frame_max and f["interior_max"] == interior
    in_frame = interior is None or frame_max > interior
    assert f["in_frame"] == in_frame
    assert ("colour range" in text) == in_frame
    if not in_frame:
        assert "strongest" not in text
        return
    assert f"(±{fmt(frame_max)})" in text and f["limit"] == frame_max
    edge = _brute_same(x, k, "edge")
    edge = np.maximum(edge, 0) if relu else edge
    without = np.abs(edge)[frame].max()
    assert f["without_zeros"] == pytest.approx(without, abs=1e-12)
    if interior is not None:
        assert f["from_zeros"] == (f["without_zeros"] < frame_max)
        assert f"strongest would be {fmt(f['without_zeros'])}" in text
        assert ("the zeros make them" in text) == f["from_zeros"]
        assert f"inside the frame the strongest is {fmt(interior)}" in text
        assert "Choose padding 'valid'" in text


# ----------------------------------------------------------------------------- bad cells
GOOD = st.one_of(
    st.integers(-99, 99).map(str),
    st.sampled_from(["0.5", "-1", " 3 ", "+2", ".5", "−4"]),
    st.integers(-9, 9),
)
BAD = st.sampled_from(["abc", "2,5", "1e3", "", "   ", None, float("nan"), "inf", "1.2.3", True])


@proves("cnnviz.conv.bad_cells_sentence")
@given(st.integers(1, 4), st.integers(1, 4), st.data(), st.sampled_from(["input", "kernel"]))
@example(2, 2, None, "input")  # "abc" in cell (0, 1): the old value 2 is used, and said
def test_bad_cells_sentence_names_each_cell_and_the_value_used(h, w, data, name):
    if data is None:  # the case
        cells = [["1", "abc"], ["5", "6"]]
        fallback = np.array([[1.0, 2.0], [5.0, 6.0]])
    else:
        bad_mask = data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
        assume(any(bad_mask))
        flat = [data.draw(BAD if b else GOOD) for b in bad_mask]
        cells = [flat[r * w : (r + 1) * w] for r in range(h)]
        fallback = data.draw(
            st.one_of(
                st.none(),
                st.just(np.arange(h * w, dtype=float).reshape(h, w) - 3.5),
                st.just(np.ones((h + 1, w))),  # the wrong shape: nothing to fall back on
            )
        )
    with pytest.raises(conv.BadCellError) as info:
        conv.as_matrix(cells, name)
    err = info.value
    bad = [
        ((r, c), cells[r][c])
        for r in range(h)
        for c in range(w)
        if isinstance(cells[r][c], bool) or cells[r][c] is None or not _plain(cells[r][c])
    ]
    used = conv.fill_bad_cells(err, fallback)
    claim = conv.bad_cells_sentence(err, used)
    f, text = claim.facts, str(claim)
    assert f["cells"] == [p for p, _ in bad]
    assert [repr(t) for t in f["typed"]] == [repr(t) for _, t in bad]
    assert text.startswith(f"The {name} must contain only numbers")
    for (r, c), typed in bad:
        assert f"cell ({r}, {c}) holds" in text
        empty = typed is None or (isinstance(typed, str) and not typed.strip())
        empty = empty or (isinstance(typed, float) and np.isnan(typed))
        assert ("an empty cell" if empty else repr(typed)) in text
    usable = fallback is not None and np.shape(fallback) == (h, w)
    if not usable:
        assert used is None and f["used"] is None and "Nothing is computed until" in text
        return
    assert f["used"] == [fallback[p] for p, _ in bad]
    for v in f["used"]:
        assert fmt(v) in text
    # Every other cell is used as typed.
    for r in range(h):
        for c in range(w):
            if ((r, c), cells[r][c]) not in bad:
                raw = cells[r][c]
                assert used[r, c] == float(str(raw).strip().replace("−", "-"))


def _plain(cell) -> bool:
    """Brute force: a plain decimal number (what as_matrix accepts from a text cell)."""
    if isinstance(cell, (int, float)):
        return bool(np.isfinite(cell))
    text = cell.strip().replace("−", "-")
    digits = text.lstrip("+-")
    return (
        bool(digits)
        and digits.count(".") <= 1
        and digits.replace(".", "").isdigit()
        and digits.replace(".", "").isascii()
    )


# ----------------------------------------------------------------------------- worked sums
finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)


@proves("cnnviz.conv.relu_expression")
@given(finite)
@example(-1.5)
@example(0.0)
def test_relu_expression_is_max_with_zero(v):
    claim = conv.relu_expression(v)
    assert claim.facts == {"value": v, "out": max(v, 0.0)}
    assert claim == f"ReLU: max(0, {fmt(v)}) = {fmt(max(v, 0.0))}"


@proves("cnnviz.conv.ConvStep.expression", "cnnviz.conv.ConvStep.worked")
@given(conv_cases(), st.sampled_from([4, 30]))
def test_worked_sums_equal_the_convolution(case, max_terms):
    x, k, bias, s, p, d = case
    kernel = k if k.ndim == 2 else k[..., None]
    out = conv.conv2d(x, kernel, bias, s, p, d)
    out = out if out.ndim == 2 else out[..., 0]
    for step in conv.conv_steps(x, kernel, bias, s, p, d):
        value = out[step.out_row, step.out_col]
        expr = step.expression(max_terms)
        products = step.products
        assert expr.facts["value"] == pytest.approx(value) == products.sum() + bias
        assert expr.facts["terms"] == products.size and expr.facts["bias"] == bias
        assert expr.endswith(f"= {fmt(step.value)}")
        assert expr.facts["elided"] == (products.size > max_terms) == ("…" in expr)
        assert expr.count("×") == (products.size if products.size <= max_terms else max_terms)
        assert ("(bias)" in expr) == (bias != 0)
        lines = step.worked(max_terms=max_terms)
        if products.ndim == 2:
            assert lines == [expr]
            continue
        cin = products.shape[-1]
        assert len(lines) == cin + 1
        for c, line in enumerate(lines[:-1]):
            assert line.facts["subtotal"] == pytest.approx(products[..., c].sum())
            assert line.endswith(f"= {fmt(products[..., c].sum())}")
        assert lines[-1].facts["value"] == pytest.approx(value)
        assert lines[-1].endswith(f"= {fmt(step.value)}")


# ----------------------------------------------------------------------------- pooling
@st.composite
def pool_cases(draw):
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    size, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.sampled_from(["valid", "same"]))
    mode = draw(st.sampled_from(pooling.MODES))
    assume(padding == "same" or (size <= h and size <= w))
    x = draw(st.lists(st.integers(-5, 9).map(float), min_size=h * w, max_size=h * w))
    return np.array(x).reshape(h, w), size, stride, padding, mode


@proves("cnnviz.pooling.PoolStep.expression")
@given(pool_cases())
def test_pool_expressions_equal_the_pooling(case):
    x, size, stride, padding, mode = case
    out = pooling.pool2d(x, size, stride, padding, mode)
    for step in pooling.pool_steps(x, size, stride, padding, mode):
        # The real cells under the window, found from its rows and columns.
        real = [
            x[r, c]
            for r in step.rows
            for c in step.cols
            if 0 <= r < x.shape[0] and 0 <= c < x.shape[1]
        ]
        expr = step.expression()
        f = expr.facts
        assert list(f["cells"]) == real and f["count"] == len(real) and f["mode"] == mode
        want = {"max": max(real), "avg": sum(real) / len(real), "sum": sum(real)}[mode]
        assert f["value"] == pytest.approx(want) == out[step.out_row, step.out_col]
        assert expr.endswith(f"= {fmt(f['value'])}")
        if mode == "max":
            assert expr.startswith("max(")
        elif mode == "avg":
            assert f") / {len(real)} = " in expr


@proves("cnnviz.pooling.size_sentence")
@given(pool_cases())
def test_pool_size_sentence_states_the_real_sizes(case):
    x, size, stride, padding, mode = case
    claim = pooling.size_sentence(pooling.pool_trace(x, size, stride, padding, mode))
    out = pooling.pool2d(x, size, stride, padding, mode)
    f = claim.facts
    assert f["input_shape"] == x.shape and f["window"] == (size, size)
    assert f["output_shape"] == out.shape and f["positions"] == out.size
    assert f"→ **{out.shape[0]}×{out.shape[1]}** in {out.size} window position" in claim
    assert claim.startswith(f"{x.shape[0]}×{x.shape[1]}, {size}×{size} ")
    assert ("no padding" in claim) == (padding == "valid")
    if padding == "same":
        (top, bottom), (left, right) = f["pads"]
        if (top, bottom) == (left, right):
            assert f"'same' ({top} before, {bottom} after)" in claim
        else:
            assert f"rows {top} before, {bottom} after; columns {left} before, {right}" in claim


@proves("cnnviz.pooling.ShiftDemo.summary")
@given(
    st.integers(1, 5),
    st.integers(1, 6),
    st.sampled_from(pooling.MODES),
    st.sampled_from(["valid", "same"]),
)
@example(3, 2, "max", "valid")  # windows overlap, yet a 1 px move stays in one window
def test_shift_summary_is_what_the_pooled_maps_show(size, stride, mode, padding):
    demo = pooling.shift_demo(size, stride, mode, padding)
    text, f = demo.summary(), demo.summary().facts
    base = demo.inputs[0]
    row = size // 2
    want = [pooling.pool2d(base, size, stride, padding, mode)]
    holders = []
    steps = pooling.pool_steps(base, size, stride, padding, mode)
    for m in demo.moves:
        moved = np.zeros_like(base)
        moved[row, m] = 1.0
        want.append(pooling.pool2d(moved, size, stride, padding, mode))
        holders.append({s.out_col for s in steps if row in s.rows and m in s.cols})
    unchanged = tuple(np.array_equal(o, want[0]) for o in want[2:])
    assert f["unchanged"] == unchanged and f["moves"] == demo.moves[1:]
    assert f["overlap"] == (stride < size)
    pad = "no padding" if padding == "valid" else f"padding '{padding}'"
    assert text.startswith(
        f"One bright pixel in a strip of {size}×{size} windows (stride {stride}, {pad})"
    )
    assert ("1 px leaves the pooled map unchanged" in text) == unchanged[0]
    assert ("1 px already changes the pooled map" in text) == (not unchanged[0])
    if len(unchanged) > 1:
        assert (f"moving it {size} px leaves it unchanged" in text) == unchanged[1]
    if "not invariance" in text:  # tolerates 1 px, not a window's width
        assert unchanged[0] and not unchanged[1]
    if "A 1×1 window pools nothing" in text:
        assert size == 1
    if "already enters another window" in text:
        assert stride < size and holders[1] - holders[0]
    if "leaves the pixel's window" in text:
        assert not holders[0] <= holders[1]


@proves("cnnviz.pooling._where")
@given(st.frozensets(st.integers(0, 4)), st.frozensets(st.integers(0, 4)))
def test_where_the_pixel_went_matches_the_windows(before, after):
    b, a = tuple(sorted(before)), tuple(sorted(after))
    claim = pooling._where(b, a)
    relation = claim.facts["relation"]
    assert claim.facts["before"] == b and claim.facts["after"] == a
    if not a:
        assert relation == "none" and "in no window" in claim
    elif a == b:
        assert relation == "same" and claim.startswith("still in the same window")
    elif not before & after:
        assert relation == "other" and claim == "now in another window"
    else:
        assert relation == "overlap" and "also in another window" in claim
