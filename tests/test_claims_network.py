"""Property tests of the sentences the network view writes from a model's numbers.

Every registered claim of :mod:`cnnviz.network`, generated over its whole domain (ties,
zeros, all-negative sums, one channel and thousands, values that round to 0 at 3 decimals,
huge magnitudes, NaN where a diverged model can produce it): each fact is checked against
the inputs, recomputed here, and every number the text prints is
:func:`cnnviz.conv.format_number` of the true value. ``@example`` pins the cases found
false when these tests were written.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cnnviz import novelty, scratch
from cnnviz.claims import proves
from cnnviz.conv import format_number as fmt
from cnnviz.network import (
    NetworkError,
    activation_line,
    batch_norm_line,
    channel_name,
    channel_sum_lines,
    contribution_sentence,
    dense_lines,
    flatten_line,
    global_pool_line,
    identity_line,
    logit_sentence,
    moved_line,
    padding_line,
    rescaling_line,
    softmax_lines,
    source_label,
    unit_heading,
)

NAN, INF = float("nan"), float("inf")

# ----------------------------------------------------------------------------- strategies
# A value as a network computes it: ordinary, below 3 decimals (written 4.2e-5, never 0),
# on the rounding edge, exactly zero (either sign), or huge.
values = st.one_of(
    st.floats(-1e3, 1e3),
    st.floats(-5e-4, 5e-4),
    st.sampled_from([0.0, -0.0, 0.0005, -0.0005, 0.0004999, 1e-320, -1e-320, 0.9995, 1.0]),
    st.floats(-1e100, 1e100),
)


@st.composite
def sums(draw, allow_nan: bool = False) -> np.ndarray:
    """Per-channel (or per-term) sums: free, tied, all zero, all negative, tiny, huge, many."""
    kind = draw(st.sampled_from(["free", "ties", "zeros", "negative", "tiny", "huge", "many"]))
    if kind == "many":  # a wide layer: thousands of channels
        n = draw(st.sampled_from([257, 1000, 4096]))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        a = rng.normal(0, draw(st.sampled_from([1e-6, 1.0, 1e6])), n)
        if draw(st.booleans()):
            a[rng.integers(0, n, n // 3)] = 0.0
    elif kind == "ties":
        n = draw(st.integers(2, 12))
        v = draw(st.floats(1e-6, 1e3))
        a = np.array(draw(st.lists(st.sampled_from([v, -v, 0.0]), min_size=n, max_size=n)))
    elif kind == "zeros":
        a = np.array(draw(st.lists(st.sampled_from([0.0, -0.0]), min_size=1, max_size=12)))
    elif kind == "negative":
        a = -np.abs(draw(st.lists(st.floats(1e-9, 1e3), min_size=1, max_size=12)))
    elif kind == "tiny":
        a = np.array(draw(st.lists(st.floats(-4.9e-4, 4.9e-4), min_size=1, max_size=12)))
    elif kind == "huge":
        a = np.array(draw(st.lists(st.floats(-1e100, 1e100), min_size=1, max_size=12)))
    else:
        a = np.array(draw(st.lists(values, min_size=1, max_size=12)))
    a = np.asarray(a, np.float64)
    if allow_nan and draw(st.integers(0, 9)) == 0:
        a[draw(st.integers(0, a.size - 1))] = NAN
    return a


def _names(n: int) -> list[str]:
    return [channel_name(i, n) for i in range(n)]


def _fsum_close(got: float, terms: np.ndarray) -> bool:
    """``got`` is the exact sum of ``terms`` up to float rounding of ``terms.size`` additions."""
    exact = math.fsum(terms)
    return abs(got - exact) <= 4 * terms.size * np.finfo(float).eps * float(np.abs(terms).sum())


def _unbracket(part: str) -> str:
    return part[1:-1] if part.startswith("(") and part.endswith(")") else part


# ----------------------------------------------------------------------------- conv sums
@proves("cnnviz.network.channel_sum_lines")
@given(sums(), values, st.integers(1, 8), st.booleans())
@example(np.array([0.5, -2.0, 0.25]), 1.0, 2, False)  # the docstring's
@example(np.array([0.0004, 0.0004, 0.0004]), 0.0, 1, False)  # each < 3 decimals, never "0"
@example(np.array([1.0, -1.0, 1.0, -1.0]), 0.0, 2, True)  # ties by |sum|: first index first
@example(np.array([3.0]), -0.0, 9, True)  # top > n, one channel, a -0 bias
def test_channel_sum_lines_largest_first_rest_folded_exactly(sub, bias, top, expand):
    n = sub.size
    names = _names(n)
    expansions = [f"{i}×{i}" for i in range(n)] if expand else None
    lines = channel_sum_lines(names, sub, bias, top=top, expansions=expansions)
    order = sorted(range(n), key=lambda i: (-abs(sub[i]), i))  # by size, ties by index
    shown, rest = order[:top], order[top:]
    assert len(lines) == len(shown) + bool(rest) + 1
    for line, c in zip(lines, shown, strict=False):
        assert line.facts == {"channel": c, "subtotal": sub[c]}
        middle = f"{expansions[c]} = " if expand else ""
        assert line == f"{names[c]}: {middle}{fmt(sub[c])}"
    sizes = [abs(sub[c]) for c in shown]
    assert sizes == sorted(sizes, reverse=True)
    assert all(abs(sub[c]) <= min(sizes) for c in rest)  # nothing folded is larger
    total_line = lines[-1]
    if rest:
        folded = lines[len(shown)]
        assert folded.facts["folded"] == len(rest)
        assert _fsum_close(folded.facts["folded_sum"], sub[rest])
        noun = "channel" if len(rest) == 1 else "channels"
        assert folded == f"the other {len(rest)} {noun}: {fmt(folded.facts['folded_sum'])}"
        assert total_line.facts["folded_sum"] == folded.facts["folded_sum"]
    else:
        assert total_line.facts["folded_sum"] == 0.0
    assert total_line.facts["shown"] == tuple(shown)
    assert total_line.facts["bias"] == bias
    total = total_line.facts["total"]
    assert _fsum_close(total, np.append(sub, bias))
    # the text: each shown sum, the folded sum, the bias when there is one, = the total
    left, right = total_line.rsplit(" = ", 1)
    assert right == fmt(total)
    parts = left.split(" + ")
    want = [fmt(sub[c]) for c in shown] + (
        [fmt(lines[len(shown)].facts["folded_sum"])] * bool(rest)
    )
    if bias:
        assert parts[-1] == f"{_bracket(bias)} (bias)"
        parts = parts[:-1]
    else:
        assert "(bias)" not in total_line
    assert [_unbracket(p) for p in parts] == want
    assert all(p.startswith("(") == fmt(float(_unbracket(p))).startswith("-") for p in parts)


def _bracket(v: float) -> str:
    text = fmt(v)
    return f"({text})" if text.startswith("-") else text


@proves("cnnviz.network.channel_sum_lines", "cnnviz.network.dense_lines")
@given(st.integers(-3, 0))
def test_a_top_below_one_is_refused(top):
    with pytest.raises(NetworkError, match="top must be >= 1"):
        channel_sum_lines(["a", "b"], [1.0, 2.0], 0.0, top=top)
    with pytest.raises(NetworkError, match="top must be >= 1"):
        dense_lines([1.0], [2.0], 0.0, top=top)
    with pytest.raises(NetworkError, match="2 names for 3"):
        channel_sum_lines(["a", "b"], [1.0, 2.0, 3.0], 0.0)


@proves("cnnviz.network.contribution_sentence")
@given(sums(allow_nan=True), values)
@example(np.array([1.0, -1.0]), 0.0)  # a tie: "contributes most" would be false
@example(np.array([0.0, 0.0, 0.0]), 0.5)  # sums of 0: not "every product is 0"
@example(np.array([1.0] + [1e-4] * 30), 0.0)  # 99.7 %: not "100 %"
@example(np.array([1.0] * 3000), 0.0)  # 0.03 %: not "0 %"
@example(np.array([NAN, 1.0, 2.0]), 0.0)  # a diverged model
@example(np.array([1e100, -1e100, 3.0]), 0.0)
@example(np.array([5e-324, 5e-324]), 0.0)  # subnormal sums: still 50 % each
def test_contribution_sentence_names_the_largest_channel(sub, bias):
    n = sub.size
    names = _names(n)
    c = contribution_sentence(names, sub, bias)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(sub.sum() + bias)
    assert c.facts["channels"] == n
    assert c.facts["total"] == total or (np.isnan(total) and np.isnan(c.facts["total"]))
    assert c.endswith(f"; with the bias {fmt(bias)} the sum is {fmt(total)}.")
    size = np.abs(sub)
    if n == 1:
        assert c.startswith(f"The one input channel gives {fmt(sub[0])};")
        assert (c.facts["top"], c.facts["share"]) == (0, 1.0)
        return
    if np.isnan(size).any():
        assert c.facts["top"] is None and "contribut" not in c
        return
    if not size.any():
        assert c.facts["top"] is None and c.facts["share"] == 0.0
        assert c.startswith(f"Each of the {n} input channels sums to 0;")
        return
    top = c.facts["top"]
    assert top == int(np.argmax(size)) and size[top] == size.max()  # the largest |sum|
    assert c.facts["top_sum"] == sub[top]
    tied = int(np.sum(size == size.max()))
    assert c.facts["tied"] == tied
    if tied == 1:
        assert c.startswith(f"Of the {n} input channels, {names[top]} contributes most (")
        assert all(size[i] < size[top] for i in range(n) if i != top)
    else:
        others = f"{tied - 1} other{'s' * (tied > 2)}"
        assert c.startswith(f"Of the {n} input channels, {names[top]} and {others} contribute ")
    assert f"({fmt(sub[top])}" in c
    share = c.facts["share"]
    if np.isfinite(size.max()):
        exact = 1.0 / math.fsum(size / size.max())  # |top| = max: no subnormal underflow
        assert share == pytest.approx(exact, rel=1e-9)
        shown = novelty.percent(share)
        assert f"{fmt(sub[top])}, {shown} of the total size of the sums)" in c
        assert shown != "100.0 %" or np.count_nonzero(size) == 1
        assert shown != "0.0 %"
    else:
        assert np.isnan(share) and " %" not in c


# ----------------------------------------------------------------------------- activations
@st.composite
def activations(draw):
    """``(name, pre, post, params)`` with ``post`` the true activation of ``pre``."""
    name = draw(st.sampled_from(["relu", "relu_layer", "leaky_relu", "sigmoid", "tanh",
                                 "elu", "linear", "softplus", "swish"]))  # fmt: skip
    pre = draw(st.one_of(values, st.sampled_from([NAN, INF, -INF])))
    x = np.array([pre])
    with np.errstate(all="ignore"):
        if name == "relu_layer":  # a ReLU layer: slope, threshold, cap
            slope = draw(st.sampled_from([0.0, 0.1, 0.3]))
            thr = draw(st.sampled_from([0.0, 0.05, 1.0]))
            top = draw(st.sampled_from([None, 1.0, 6.0]))
            params = {"negative_slope": slope, "threshold": thr, "max_value": top}
            out = np.where(x >= thr, x, slope * (x - thr))
            post = float(out[0] if top is None else np.minimum(out, top)[0])
            return "relu", pre, post, params
        if name == "leaky_relu":
            slope = draw(st.sampled_from([0.0, 0.01, 0.1, 0.2, 0.3]))
            return name, pre, float(scratch._leaky_relu(x, slope)[0]), {"negative_slope": slope}
        return name, pre, float(scratch.ACTIVATIONS[name](x)[0]), {}


@proves("cnnviz.network.activation_line")
@given(activations())
@example(("relu", -1.5, 0.0, {}))
@example(("relu", -0.0004, 0.0, {}))  # below 3 decimals: "-4.0e-4 < 0", not "-0 < 0"
@example(("relu", NAN, NAN, {}))  # a diverged model: no "nan < 0"
@example(("leaky_relu", -INF, NAN, {"negative_slope": 0.0}))  # 0 × -inf: no "becomes nan"
@example(("relu", 7.0, 6.0, {"negative_slope": 0.0, "threshold": 0.0, "max_value": 6.0}))
@example(("relu", 0.02, 0.0, {"negative_slope": 0.0, "threshold": 0.05, "max_value": None}))
@example(("leaky_relu", -1.0, -0.2, {"negative_slope": 0.2}))
def test_activation_line_says_what_the_activation_did(case):
    name, pre, post, params = case
    line = activation_line(name, pre, post, params)
    assert line.facts["activation"] == name
    same = lambda a, b: a == b or (np.isnan(a) and np.isnan(b))  # noqa: E731
    assert same(line.facts["pre"], pre) and same(line.facts["post"], post)
    assert line.facts["changed"] == bool(post != pre)
    assert line.facts["zeroed"] == bool(post == 0 and pre != 0)
    slope = params.get("negative_slope", 0.0)
    thr = params.get("threshold", 0.0)
    top = params.get("max_value")
    label = {"relu": "ReLU", "leaky_relu": "LeakyReLU"}.get(name, name)
    if name not in ("relu", "leaky_relu") or np.isnan([pre, post]).any():
        text = f"no activation (linear): the value stays {fmt(post)}"
        assert line == (text if name == "linear" else f"{label}({fmt(pre)}) = {fmt(post)}")
        assert "<" not in line and "≥" not in line
        return
    assert line.startswith(f"{label}: {fmt(pre)} ")
    if " > " in line:  # capped
        assert top is not None and pre > top and post == top
        assert line == f"{label}: {fmt(pre)} > {fmt(top)}, so it is capped at {fmt(post)}"
    elif " ≥ " in line:  # passed through
        assert pre >= thr and post == pre
        assert line == f"{label}: {fmt(pre)} ≥ {fmt(thr)}, so it stays {fmt(post)}"
    else:
        assert " < " in line and pre < thr
        if line.endswith("so it becomes 0"):  # "ReLU sets it to 0": only a value below it
            assert post == 0 and slope == 0 and pre < thr and (thr > 0 or pre < 0)
            assert line == f"{label}: {fmt(pre)} < {fmt(thr)}, so it becomes 0"
        else:
            assert slope != 0
            shift = f"({fmt(pre)} − {fmt(thr)})" if thr else _bracket(pre)
            assert line == (f"{label}: {fmt(pre)} < {fmt(thr)}, so it is scaled by {fmt(slope)}: "
                            f"{fmt(slope)} × {shift} = {fmt(post)}")  # fmt: skip
            assert post == pytest.approx(slope * (pre - thr), rel=1e-12)


# ----------------------------------------------------------------------------- dense
@st.composite
def dense_inputs(draw):
    """``(x, w, bias, top)``: terms of every sign, ties, zeros, tiny and many."""
    x = draw(sums())
    if draw(st.booleans()):
        w = draw(sums())
        n = min(x.size, w.size)
        x, w = x[:n], w[:n]
    else:
        w = np.array(draw(st.lists(st.sampled_from([1.0, -1.0, 0.5, 0.0]), min_size=x.size,
                                   max_size=x.size)))  # fmt: skip
    x = np.clip(x, -1e100, 1e100)  # products stay finite
    return x, w, draw(values), draw(st.integers(1, 7))


@proves("cnnviz.network.dense_lines")
@given(dense_inputs(), st.booleans())
@example((np.array([1.0, 2.0, 0.5]), np.array([0.5, -1.0, 2.0]), 0.0, 1), False)
@example((np.zeros(4), np.ones(4), 0.25, 2), False)  # no term shown: the sum is "0 + …"
@example((np.array([1.0, 1.0, 1.0]), np.array([2.0, 2.0, 2.0]), 0.0, 2), True)  # ties
def test_dense_lines_show_the_largest_terms_and_fold_the_rest(case, labelled):
    x, w, bias, top = case
    labels = [f"pixel {i}" for i in range(x.size)] if labelled else None
    names = labels or [f"x[{i}]" for i in range(x.size)]
    lines = dense_lines(x, w, bias, labels=labels, top=top)
    terms = x * w
    pos = sorted((i for i in range(x.size) if terms[i] > 0), key=lambda i: (-terms[i], i))[:top]
    neg = sorted((i for i in range(x.size) if terms[i] < 0), key=lambda i: (terms[i], i))[:top]
    shown = pos + neg
    rest = [i for i in range(x.size) if i not in shown]
    term_lines = [line for line in lines if "term" in line.facts]
    assert [line.facts["input"] for line in term_lines] == shown
    for line, i in zip(term_lines, shown, strict=True):
        assert line.facts == {"input": i, "x": x[i], "w": w[i], "term": terms[i]}
        assert line == f"{names[i]} × w = {fmt(x[i])} × {_bracket(w[i])} = {fmt(terms[i])}"
    # the largest: nothing folded is larger than a shown term of its sign
    assert all(terms[j] <= min(terms[pos]) for j in rest if terms[j] > 0)
    assert all(terms[j] >= max(terms[neg]) for j in rest if terms[j] < 0)
    total_line = lines[-1]
    if rest:
        folded = lines[len(shown)]
        assert folded.facts["folded"] == len(rest)
        assert _fsum_close(folded.facts["folded_sum"], terms[rest])
        noun = "term" if len(rest) == 1 else "terms"
        assert folded == f"the other {len(rest)} {noun}: {fmt(folded.facts['folded_sum'])}"
    assert len(lines) == len(shown) + bool(rest) + 1
    assert total_line.facts["shown"] == tuple(shown) and total_line.facts["bias"] == bias
    assert _fsum_close(total_line.facts["total"], np.append(terms, bias))
    left, right = total_line.rsplit(" = ", 1)
    assert right == fmt(total_line.facts["total"])
    parts = left.split(" + ")
    if bias:
        assert parts.pop() == f"{_bracket(bias)} (bias)"
    want = [fmt(terms[i]) for i in shown] + [fmt(total_line.facts["folded_sum"])] * bool(rest)
    assert [_unbracket(p) for p in parts] == (want or ["0"])


# ----------------------------------------------------------------------------- softmax
@st.composite
def logits(draw) -> np.ndarray:
    k = draw(st.integers(1, 30))
    kind = draw(st.sampled_from(["free", "ties", "spike", "huge"]))
    if kind == "ties":
        z = np.full(k, draw(st.floats(-50, 50)))
    elif kind == "spike":  # one class far ahead: p < 1 that rounds to 100 %
        z = np.zeros(k)
        z[draw(st.integers(0, k - 1))] = draw(st.floats(5, 800))
    elif kind == "huge":
        z = np.array(draw(st.lists(st.floats(-1e300, 1e300), min_size=k, max_size=k)))
    else:
        z = np.array(draw(st.lists(st.floats(-30, 30), min_size=k, max_size=k)))
    return z


@proves("cnnviz.network.softmax_lines")
@given(logits(), st.data())
@example(np.array([0.0, 0.0]), None)
@example(np.array([12.0] + [0.0] * 9), None)  # 99.994 %: not "100.0 %"
@example(np.array([0.0] + [12.0] * 9), None)  # 6e-6: not "0.0 %"
def test_softmax_lines_are_the_probabilities(z, data):
    k = z.size
    index = data.draw(st.integers(0, k - 1)) if data is not None else 0
    labels = [f"class {i}" for i in range(k)]
    exp_line, sum_line, prob_line = softmax_lines(z, index, labels)
    m = z.max()
    e = np.exp(z - m)
    s = math.fsum(e)
    p = e[index] / s
    assert exp_line.facts == {"logit": z[index], "max": m, "exp": e[index]}
    assert exp_line == f"class {index}: e^({fmt(z[index])} − {fmt(m)}) = {fmt(e[index])}"
    assert sum_line.facts["exp_sum"] == pytest.approx(s, rel=1e-12)
    shown = " + ".join(map(fmt, e)) if k <= 10 else f"{fmt(e[0])} + … + {fmt(e[-1])}"
    assert sum_line == f"sum over the {k} classes: {shown} = {fmt(sum_line.facts['exp_sum'])}"
    prob = prob_line.facts["probability"]
    assert prob == pytest.approx(p, rel=1e-12) and 0 <= prob <= 1
    assert prob_line.facts["index"] == index
    assert prob_line.facts["rank"] == 1 + int(np.sum(e > e[index])) + int(
        np.sum(e[:index] == e[index])
    )
    pct = novelty.percent(prob)
    assert prob_line == (
        f"class {index}: {fmt(e[index])} / {fmt(sum_line.facts['exp_sum'])} = {fmt(prob)} = {pct}"
    )
    assert pct != "100.0 %" or prob == 1.0
    assert pct != "0.0 %" or prob == 0.0
    total = math.fsum(softmax_lines(z, i, labels)[-1].facts["probability"] for i in range(k))
    assert total == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- batch norm
@proves("cnnviz.network.batch_norm_line")
@given(values, st.floats(-1e3, 1e3), st.floats(0, 1e4), st.sampled_from([1e-3, 1e-5, 0.01]),
       st.floats(-10, 10), st.floats(-10, 10))  # fmt: skip
@example(2.0, 1.0, 4.0, 0.0, 3.0, 0.5)  # the docstring's
@example(0.0004, -0.0002, 0.0, 1e-5, -1.0, 0.0)  # tiny: written 4.0e-4, never 0
def test_batch_norm_line_is_the_inference_formula(x, mean, var, eps, gamma, beta):
    out = (x - mean) / math.sqrt(var + eps) * gamma + beta
    line = batch_norm_line(x, mean, var, eps, gamma, beta, out)
    assert line.facts == {"x": x, "mean": mean, "var": var, "eps": eps, "gamma": gamma,
                          "beta": beta, "out": out}  # fmt: skip
    assert all(type(v) is float for v in line.facts.values())
    worked = (
        f"({fmt(x)} − {_bracket(mean)}) / √({fmt(var)} + {fmt(eps)}) × {_bracket(gamma)} + "
        f"{_bracket(beta)} = {fmt(out)}"
    )
    assert line == f"(x − moving mean) / √(moving variance + ε) × γ + β = {worked}"
    # each number on the page is the formatted true value, in the formula's order
    numbers = re.findall(r"-?(?:\d+(?:\.\d+)?(?:e-?\d+)?|inf|nan)", worked)
    assert numbers == [fmt(v) for v in (x, mean, var, eps, gamma, beta, out)]


# ----------------------------------------------------------------------------- flatten
@proves("cnnviz.network.flatten_line")
@given(st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 600)), st.data(), values)
@example((4, 4, 8), None, 0.5)
def test_flatten_line_index_is_row_w_col_c_channel(shape, data, value):
    h, w, c = shape
    if data is None:
        pos = (1, 2, 3)
    else:
        pos = tuple(data.draw(st.integers(0, s - 1)) for s in shape)
    index = int(np.ravel_multi_index(pos, shape))  # how Keras's Flatten orders (H, W, C)
    line = flatten_line(pos, shape, index, value)
    r, col, ch = pos
    assert index == r * w * c + col * c + ch
    assert line.facts == {"position": pos, "shape": shape, "index": index, "value": value}
    assert line == (
        f"(row {r}, col {col}, channel {ch}) → index ({r}·{w} + {col})·{c} + {ch} = {index}: "
        f"the value {fmt(value)} is copied, unchanged"
    )
    with pytest.raises(NetworkError, match="does not land"):
        flatten_line(pos, shape, index + 1, value)
    with pytest.raises(NetworkError, match="does not land"):
        flatten_line((h, col, ch), shape, index, value)


# ----------------------------------------------------------------------------- global pools
@st.composite
def maps(draw) -> np.ndarray:
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kind = draw(st.sampled_from(["free", "ties", "negative", "zeros"]))
    if kind == "zeros":
        return np.zeros((h, w))
    if kind == "ties":
        pool = draw(st.lists(values, min_size=1, max_size=3))
        cells = draw(st.lists(st.sampled_from(pool), min_size=h * w, max_size=h * w))
    else:
        cells = draw(st.lists(values, min_size=h * w, max_size=h * w))
    a = np.array(cells, np.float64).reshape(h, w)
    return -np.abs(a) if kind == "negative" else a


@proves("cnnviz.network.global_pool_line")
@given(maps(), st.sampled_from(["max", "avg"]))
@example(np.array([[1.0, 3.0], [3.0, 0.0]]), "max")  # a tie: the first, row-major
@example(np.array([[0.0004, 0.0002]]), "avg")
def test_global_pool_line_max_where_and_mean(v, mode):
    out = float(v.max()) if mode == "max" else float(v.mean())
    line = global_pool_line(v, mode, out)
    assert line.facts["mode"] == mode and line.facts["cells"] == v.size
    assert line.facts["out"] == out
    if mode == "max":
        r, c = line.facts["at"]
        assert v[r, c] == v.max()
        assert not (v.ravel()[: r * v.shape[1] + c] == v.max()).any()  # the first one
        assert line == f"the largest of the {v.size} values is {fmt(out)}, at ({r}, {c})"
    else:
        assert _fsum_close(line.facts["total"], v.ravel())
        mean = f"{fmt(line.facts['total'])} / {v.size} = {fmt(out)}"
        assert line == f"the mean of the {v.size} values: {mean}"
        assert out == pytest.approx(line.facts["total"] / v.size, rel=1e-12, abs=1e-300)
    with pytest.raises(NetworkError, match="mode"):
        global_pool_line(v, "sum", out)


# ----------------------------------------------------------------------------- labels
units = st.one_of(
    st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(0, 4096)),
    st.tuples(st.integers(0, 10**6)),
)


def _place(unit: tuple[int, ...]) -> str:
    return (
        f"map {unit[2]}, row {unit[0]}, column {unit[1]}" if len(unit) == 3 else f"unit {unit[0]}"
    )


@proves("cnnviz.network.unit_heading")
@given(st.sampled_from(["conv2", "dense1", "output", "pool 1"]),
       st.sampled_from(["Conv2D", "Dense", "MaxPooling2D"]), units,
       st.one_of(values, st.just(NAN)))  # fmt: skip
@example("conv2", "Conv2D", (5, 7, 12), 0.7341)
def test_unit_heading_names_the_unit_and_its_value(name, kind, unit, value):
    h = unit_heading(name, kind, unit, value)
    assert h.facts["layer"] == name and h.facts["unit"] == unit
    assert h.facts["value"] == value or (np.isnan(value) and np.isnan(h.facts["value"]))
    assert h == f"{name} ({kind}) · {_place(unit)} · value {fmt(value)}"
    found = [int(n) for n in re.findall(r"(?:map|row|column|unit) (\d+)", h)]
    assert sorted(found) == sorted(unit)


@proves("cnnviz.network.source_label")
@given(st.sampled_from(["pool1", "conv1", "flatten"]), units, values)
@example("pool1", (6, 8, 15), 0.3)
def test_source_label_names_the_source_and_its_value(name, unit, value):
    s = source_label(name, unit, value)
    assert s.facts == {"layer": name, "unit": unit, "value": value}
    assert s == f"{name} · {_place(unit)} = {fmt(value)}"
    assert s.rsplit(" = ", 1)[1] == fmt(value)


def test_numbers_below_three_decimals_are_never_written_as_zero():
    """The rule every line above relies on (cnnviz.conv.format_number)."""
    for v in (4.2e-5, -4e-4, 0.0004999, 1e-320):
        assert fmt(v) not in ("0", "-0") and float(fmt(v)) != 0


# ----------------------------------------------------------------------------- copies
unit_tuples = st.lists(st.integers(0, 10_000), min_size=1, max_size=4).map(tuple)


@proves("cnnviz.network.moved_line")
@given(unit_tuples, unit_tuples, values)
def test_moved_line_names_where_the_value_comes_from(source, unit, value):
    line = moved_line(source, unit, value)
    assert line.facts == {"source": source, "unit": unit, "value": value}
    assert line == f"input {source} → output {unit}: {fmt(value)}, unchanged"


@proves("cnnviz.network.identity_line")
@given(st.sampled_from(sorted(scratch.INFERENCE_IDENTITY)), values)
def test_identity_line_passes_the_value_through(kind, value):
    line = identity_line(kind, value)
    assert line.facts == {"value": value, "identity": True}
    assert line == f"{kind} at inference passes the value through unchanged: {fmt(value)}"


@proves("cnnviz.network.padding_line")
@given(st.one_of(st.none(), st.tuples(*[st.integers(0, 500)] * 3)), values)
def test_padding_line_copies_or_says_zero(source, value):
    line = padding_line(source, value)
    if source is None:  # a cell of the frame: 0 whatever value was passed
        assert line.facts["value"] == 0.0 and line.facts["padding"] is True
        assert line == "a padding cell: 0, added around the input"
    else:
        r, c, ch = source
        assert line.facts == {"source": source, "value": value, "padding": False}
        assert line == f"copied from ({r}, {c}) of map {ch}: {fmt(value)}"


@proves("cnnviz.network.rescaling_line")
@given(values, st.one_of(values, st.just(1 / 255)), values)
@example(255.0, 1 / 255, 0.0)
@example(0.5, -0.0, -1.0)
def test_rescaling_line_is_x_times_scale_plus_offset(x, scale, offset):
    line = rescaling_line(x, scale, offset)
    total = x * scale + offset
    assert line.facts["total"] == total or (math.isnan(total) and math.isnan(line.facts["total"]))
    assert (line.facts["x"], line.facts["scale"], line.facts["offset"]) == (x, scale, offset)
    sc = fmt(scale) if not fmt(scale).startswith("-") else f"({fmt(scale)})"
    off = fmt(offset) if not fmt(offset).startswith("-") else f"({fmt(offset)})"
    assert line == f"{fmt(x)} × {sc} + {off} = {fmt(total)}"


@proves("cnnviz.network.logit_sentence")
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=12), st.data())
def test_logit_sentence_quotes_the_score_and_its_probability(logits, data):
    z = np.asarray(logits)
    i = data.draw(st.integers(0, z.size - 1))
    labels = [f"class {k}" for k in range(z.size)]
    last = softmax_lines(z, i, labels)[-1]
    sentence = logit_sentence(labels[i], float(z[i]), z.size, last)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    assert sentence.facts["probability"] == pytest.approx(p[i], rel=1e-12, abs=1e-300)
    assert sentence.facts["logit"] == z[i] and sentence.facts["classes"] == z.size
    assert sentence.startswith(f"The score (logit) of class {i} is {fmt(float(z[i]))}; ")
    assert f"softmax turns all {z.size} scores into probabilities: {last}." in sentence
