"""Every sentence 'Where the classes live' writes is true for every input.

Property tests (Hypothesis) of the registered claims of cnnviz.embedding: each fact a
sentence states is checked against the input numbers over the whole domain — ties, values
too close to tell apart, 0 and 1, NaN and infinities, values outside [0, 1], fewer images
than neighbours — and the shown percentages are checked to be the values, rounded, never a
share below 1 shown as 100 % or one above 0 as 0 %.
"""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from cnnviz import embedding
from cnnviz.claims import proves

NAN, INF = float("nan"), float("inf")

# a kNN accuracy: a count over n (its real form), any float in [0, 1], or not a share at all
shares = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, 0.5, 0.9995, 0.99999999, 1e-9, 1 / 3]),
    st.builds(lambda i, n: min(i, n) / n, st.integers(0, 2000), st.integers(1, 2000)),
)
anything = st.one_of(shares, st.sampled_from([NAN, INF, -INF, -0.2, 1.5, 1e9]))
ks = st.integers(1, 10)
ns = st.one_of(st.integers(0, 12), st.integers(13, 100_000))


def _value(shown: str) -> float:
    """A shown percentage ("98.5 %") as a share (0.985), and its rounding half-width."""
    assert shown.endswith(" %"), shown
    return float(shown[:-2]) / 100


def _decimals(shown: str) -> int:
    return len(shown[:-2].split(".")[1]) if "." in shown else 0


def _check_shown(v: float, shown: str) -> None:
    """``shown`` is ``v`` rounded to its decimals, and never a false 100 % or 0 %."""
    half = 0.5 * 10 ** -(_decimals(shown) + 2) + 1e-12
    assert abs(_value(shown) - v) <= half, (v, shown)
    if v < 1 and 1 - v > 1e-8:
        assert _value(shown) < 1, (v, shown)
    if v > 1e-8:
        assert _value(shown) > 0, (v, shown)


def _is_share(v: float) -> bool:
    return math.isfinite(v) and 0 <= v <= 1


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _check_comparison(c, a: float, b: float, k: int, n: int, names: tuple[str, str]) -> None:
    """The facts of a two-value comparison (separation_sentence, mlp_sentence)."""
    f = c.facts
    first, second = names
    assert f["k"] == k and f["n"] == n
    if not (_is_share(a) and _is_share(b)) or n <= k:
        assert f["higher"] is None and f["shown"] == () and "cannot be compared" in c
        if n <= k:
            assert f"not {k} others to ask" in c
        return
    sa, sb = f["shown"]
    assert sa in c and sb in c
    assert c.index(sa) < c.index(sb) or sa == sb  # the first value is named first
    _check_shown(a, sa)
    _check_shown(b, sb)
    assert (a == b) <= (sa == sb)  # equal values are never shown as two numbers
    if f["higher"] == "equal":
        assert sa == sb  # equal, or too close to tell apart (shown as one number)
        assert "the same" in c
    elif f["higher"] == first:
        assert a > b and sa != sb
    else:
        assert f["higher"] == second and b > a and sa != sb
    if sa != sb:  # a difference shown is a real difference in the same direction
        assert (a > b) == (_value(sa) > _value(sb))


@proves("cnnviz.embedding.separation_sentence")
@given(a=anything, b=anything, k=ks, n=ns, space=st.sampled_from(["", "the 128 features of x"]))
@example(a=0.992, b=0.841, k=5, n=1000, space="the 128 features of leaky4")  # the page's
@example(a=0.5, b=0.5, k=5, n=1000, space="")  # a tie
@example(a=0.5, b=0.5 + 1e-12, k=5, n=1000, space="")  # too close to tell apart
@example(a=0.12345, b=0.12346, k=5, n=1000, space="")  # apart only at 3 decimals
@example(a=0.9995, b=1.0, k=5, n=2000, space="")  # 1,999 of 2,000 is not 100 %
@example(a=0.8, b=0.9, k=5, n=5, space="")  # n == k: no 5 others to ask
@example(a=NAN, b=0.9, k=5, n=1000, space="")
def test_separation_states_both_numbers_and_only_the_true_order(a, b, k, n, space):
    c = embedding.separation_sentence(a, b, k, n, space)
    assert _same(c.facts["trained"], a) and _same(c.facts["untrained"], b)
    _check_comparison(c, a, b, k, n, ("trained", "untrained"))
    assert ("pulled the classes apart" in c) == (c.facts["higher"] == "trained")
    assert ("separates them better" in c) == (c.facts["higher"] == "untrained")
    if space:
        assert f"in {space}" in c
    if c.facts["higher"] is not None:
        assert f"the {n:,} images" in c and f"{k} nearest" in c


@proves("cnnviz.embedding.mlp_sentence")
@given(a=anything, b=anything, k=ks, n=ns)
@example(a=0.992, b=0.927, k=5, n=1000)
@example(a=0.9, b=0.9, k=5, n=1000)
@example(a=0.9, b=0.95, k=5, n=1000)  # the MLP ahead: said so
@example(a=0.9, b=NAN, k=5, n=1000)
def test_mlp_sentence_says_which_separates_better_only_when_it_does(a, b, k, n):
    c = embedding.mlp_sentence(a, b, k, n)
    assert _same(c.facts["cnn"], a) and _same(c.facts["mlp"], b)
    _check_comparison(c, a, b, k, n, ("cnn", "mlp"))
    assert ("CNN's features keep" in c) == (c.facts["higher"] == "cnn")
    assert ("MLP's features keep" in c) == (c.facts["higher"] == "mlp")


@proves("cnnviz.embedding.knn_caption")
@given(a=anything, b=anything, dims=st.integers(1, 200_000), k=ks, n=ns)
@example(a=0.992, b=0.831, dims=128, k=5, n=1000)
@example(a=1.0, b=0.0, dims=1, k=5, n=6)
@example(a=0.9995, b=1e-9, dims=2, k=5, n=2000)
def test_knn_caption_states_each_measure_or_says_it_is_missing(a, b, dims, k, n):
    c = embedding.knn_caption(a, b, dims, k, n)
    f = c.facts
    assert _same(f["features_acc"], a) and _same(f["plane_acc"], b)
    assert f["dims"] == dims and f["k"] == k and f["n"] == n
    for v, shown in zip((a, b), f["shown"], strict=True):
        if _is_share(v) and n > k:
            _check_shown(v, shown)
        else:
            assert shown == "not measured"
    sa, sb = f["shown"]
    assert f"{sa} in the {dims:,} feature" in c and f"{sb} in this 2-D picture" in c
    assert f"({n:,} images" in c and c.startswith(f"{k}-nearest")
    assert f"the {dims:,} {'feature' if dims == 1 else 'features'}, " in c


@proves("cnnviz.embedding.projection_caption")
@given(
    method=st.sampled_from(["pca", "tsne"]),
    e1=anything,
    e2=anything,
    perplexity=st.one_of(st.none(), st.floats(1, 100), st.just(NAN)),
    reduced_to=st.one_of(st.none(), st.integers(2, 50)),
    dims=st.integers(2, 100_000),
    seed=st.integers(0, 2**31 - 1),
)
@example(method="pca", e1=0.243, e2=0.176, perplexity=None, reduced_to=None, dims=128, seed=0)
@example(method="pca", e1=1.0, e2=0.0, perplexity=None, reduced_to=None, dims=2, seed=0)
@example(method="pca", e1=0.7, e2=0.6, perplexity=None, reduced_to=None, dims=9, seed=0)
@example(method="tsne", e1=NAN, e2=NAN, perplexity=30.0, reduced_to=50, dims=128, seed=0)
def test_projection_caption_says_what_the_axes_mean(
    method, e1, e2, perplexity, reduced_to, dims, seed
):
    if method == "tsne":
        c = embedding.projection_caption("tsne", None, perplexity, reduced_to, dims, seed)
        f = c.facts
        assert f["method"] == "tsne" and f["axes_meaningful"] is False
        assert f["explained"] is None and f["total"] is None and "variance" not in c
        assert "its axes mean nothing" in c and "not meaningful" in c
        assert f"seed {seed}," in c
        if perplexity is not None and math.isfinite(perplexity):
            assert f"perplexity {perplexity:g}," in c and f["perplexity"] == perplexity
        else:
            assert "perplexity" not in c
        assert (f"first {reduced_to} principal components" in c) == bool(reduced_to)
        return
    c = embedding.projection_caption("pca", (e1, e2), None, None, dims, seed)
    f = c.facts
    assert f["method"] == "pca" and f["axes_meaningful"] is True
    assert _same(f["explained"][0], e1) and _same(f["explained"][1], e2)
    assert "vary most" in c and "mean nothing" not in c
    if not (_is_share(e1) and _is_share(e2) and e1 + e2 <= 1 + 1e-9):
        assert f["shown"] == () and "not known" in c
        return
    s1, s2, total = f["shown"]
    assert f["total"] == e1 + e2
    _check_shown(e1, s1)
    _check_shown(e2, s2)
    _check_shown(min(1.0, e1 + e2), total)
    assert f"({s1} of the variance)" in c and f"({s2});" in c and f"together {total}." in c
    assert f"PCA of the {dims:,} features" in c


@proves("cnnviz.embedding.time_sentence")
@given(
    seconds=st.one_of(
        st.floats(0, 1e6), st.sampled_from([0.0, 0.049, 0.05, 0.0500001, NAN, INF, -1.0])
    ),
    method=st.sampled_from(["pca", "tsne"]),
    n=st.integers(1, 100_000),
    panels=st.integers(1, 3),
)
@example(seconds=12.345, method="tsne", n=2000, panels=3)
def test_time_sentence_states_the_measured_time(seconds, method, n, panels):
    c = embedding.time_sentence(seconds, method, n, panels)
    f = c.facts
    assert _same(f["seconds"], seconds) and f["n"] == n and f["panels"] == panels
    assert f" took {f['shown']} " in c and f"of {n:,} images" in c
    assert embedding.METHODS[method] in c
    assert ("panels" in c) == (panels > 1)
    if not (math.isfinite(seconds) and seconds >= 0):
        assert f["shown"] == "an unknown time"
    elif f["shown"] == "under 0.1 s":
        assert seconds < 0.1
    else:
        shown = float(f["shown"][:-2])
        assert abs(shown - seconds) <= 0.05 + 1e-9 * seconds and shown >= 0.1 - 1e-12
