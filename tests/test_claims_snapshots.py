"""Every sentence the snapshots write is true for every input (cnnviz.snapshots).

Property tests (Hypothesis) of the registered claims: the kernels "stopped changing"
(monotone, spikes, recoveries, ties at the threshold, NaN, one snapshot), dead and
exploding layers (zeros, NaN/inf, huge norms, a layer dead from the start), what the
network called the probe, and the stored size. Each fact is checked against the numbers.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cnnviz import snapshots
from cnnviz.claims import proves
from cnnviz.novelty import percent

NAN, INF = float("nan"), float("inf")
T = snapshots.SETTLED_RATE


@st.composite
def step_lists(draw, min_size: int = 0, max_size: int = 12) -> list[int]:
    """Increasing global steps, starting at 0 (as a run's snapshots do) or anywhere."""
    gaps = draw(st.lists(st.integers(1, 500), min_size=max(0, min_size - 1), max_size=max_size))
    start = draw(st.sampled_from([0, 0, 7]))
    steps = [start]
    for g in gaps:
        steps.append(steps[-1] + g)
    n = draw(st.integers(min_size, len(steps)))
    return steps[:n]


rate = st.one_of(
    st.floats(0, 1e-2),
    st.sampled_from([0.0, T, T * (1 - 1e-12), T * (1 + 1e-12), 1e-300, 1e300]),
    st.floats(0, 10.0),
)
bad_rate = st.sampled_from([NAN, INF, -INF])


@st.composite
def rate_runs(draw):
    """``(steps, rates)``: rates between each two snapshots, shaped like real runs."""
    steps = draw(step_lists(min_size=1))
    n = len(steps) - 1
    shape = draw(st.sampled_from(["any", "falling", "spike", "recovery"]))
    rates = draw(st.lists(rate, min_size=n, max_size=n))
    if shape == "falling":
        rates = sorted(rates, reverse=True)
    elif shape == "spike" and n:
        rates = sorted(rates, reverse=True)
        rates[draw(st.integers(0, n - 1))] = draw(st.floats(T, 1.0))
    elif shape == "recovery" and n >= 2:
        rates = [draw(st.floats(T, 1.0))] * (n // 2) + [draw(st.floats(0, T * 0.99))] * (n - n // 2)
    if n and draw(st.integers(0, 5)) == 0:
        rates[draw(st.integers(0, n - 1))] = draw(bad_rate)
    return steps, rates


@proves("cnnviz.snapshots.kernels_settled_sentence")
@given(rate_runs(), st.sampled_from(["conv1", "conv1_1", "c"]))
@example(([0, 8, 40, 171], [0.05, 0.002, 0.0004]), "conv1")  # settles at 40
@example(([0, 8, 16], [0.05, T]), "conv1")  # a tie at the threshold is not below it
@example(([0, 8, 16], [0.0, 0.0]), "conv1")  # never moved (a dead layer, lr 0)
@example(([0, 8, 16, 24], [0.0, 0.5, 0.0]), "conv1")  # settled, spiked, settled again
@example(([0, 8, 16], [0.5, NAN]), "conv1")  # broke at the end
@example(([42], []), "conv1")  # one snapshot
def test_kernels_settled_sentence(run, layer):
    steps, rates = run
    claim = snapshots.kernels_settled_sentence(steps, rates, layer)
    f = claim.facts
    c = np.asarray(rates, dtype=np.float64)
    assert f["layer"] == layer and f["threshold"] == T and claim.startswith(("One snapshot", layer))
    if len(steps) < 2:
        assert f["verdict"] == "unknown" and f["settled_step"] is None
        return
    assert f["last_rate"] == pytest.approx(c[-1], nan_ok=True)
    if not np.isfinite(c).all():
        first = int(np.argmax(~np.isfinite(c)))
        assert f["verdict"] == "nan" and f["broken_step"] == steps[first + 1]
        assert f"between step {steps[first]} and step {steps[first + 1]}" in claim
        return
    small = c < T
    if f["verdict"] == "still_changing":
        assert not small[-1]
        assert f"from step {steps[-2]} to step {steps[-1]} by {100 * c[-1]:.3g} %" in claim
    elif f["verdict"] == "unchanged":
        assert small.all() and f"from step {steps[0]} to step {steps[-1]}" in claim
    else:
        assert f["verdict"] == "settled"
        j = steps.index(f["settled_step"])
        assert 1 <= j < len(steps) - 1
        assert small[j:].all() and not small[j - 1]  # small from S on, not just before
        assert f"after step {steps[j]}: from there to step {steps[-1]}" in claim
    assert "less than 0.1 %" in claim or "not less than 0.1 %" in claim
    # the verdict is the only one the numbers allow
    want = "unchanged" if small.all() else ("still_changing" if not small[-1] else "settled")
    assert f["verdict"] == want


def test_kernels_settled_sentence_needs_one_rate_between_each_two_snapshots():
    with pytest.raises(snapshots.SnapshotError, match="3 steps, 1 rates"):
        snapshots.kernels_settled_sentence([0, 1, 2], [0.1])


norm = st.one_of(
    st.floats(1e-6, 10.0),
    st.sampled_from([0.0, NAN, INF, 1e12, 1e-30]),
    st.floats(0, 1e6),
)


@st.composite
def norm_runs(draw):
    """``(steps, layers, norms)``: each layer's gradient norm at each snapshot."""
    steps = draw(step_lists(min_size=1, max_size=8))
    layers = draw(
        st.lists(
            st.sampled_from(["conv1", "conv2", "dense1", "output", "bn1"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    rows = [draw(st.lists(norm, min_size=len(layers), max_size=len(layers))) for _ in steps]
    return steps, layers, np.array(rows, dtype=np.float64)


@proves("cnnviz.snapshots.gradient_health_sentence")
@given(norm_runs(), st.sampled_from([100.0, 10.0]))
@example(([0, 9], ["conv1", "output"], np.array([[0.2, 0.5], [0.0, 0.4]])), 100.0)  # dead
@example(([0, 5, 9], ["conv1", "dense1"], np.array([[0.2, 0.5], [25.0, 0.5], [NAN, NAN]])), 100.0)
@example(([0, 9], ["conv1"], np.array([[0.0], [0.0]])), 100.0)  # dead from the start
@example(([0, 9], ["conv1"], np.array([[1.0], [100.0]])), 100.0)  # exactly 100×: not above
@example(([0], ["conv1"], np.array([[NAN]])), 100.0)  # broken before the first update
def test_gradient_health_sentence(run, factor):
    steps, layers, g = run
    claim = snapshots.gradient_health_sentence(steps, layers, g, factor=factor)
    f = claim.facts
    base = g[0]
    with np.errstate(all="ignore"):
        boom = ~np.isfinite(g) | (np.isfinite(base) & (base > 0) & (g > factor * base))
    if boom.any():
        i = int(np.argmax(boom.any(axis=1)))
        want = [layers[j] for j in np.flatnonzero(boom[i])]
        assert f["exploding_layers"] == want and f["exploding_step"] == steps[i]
        assert f"At step {steps[i]} the gradients exploded" in claim
        assert all(name in claim for name in want)
    else:
        assert f["exploding_layers"] == [] and f["exploding_step"] is None
    dead = [layers[j] for j in np.flatnonzero(g[-1] == 0)]
    assert f["dead_layers"] == dead
    if dead:
        assert f["dead_step"] == steps[-1] and f"(step {steps[-1]})" in claim
        assert all(name in claim for name in dead) and "dead" in claim
    else:
        assert f["dead_step"] is None and "dead" not in claim
    want = {(False, False): "healthy", (True, False): "exploding", (False, True): "dead"}.get(
        (bool(boom.any()), bool(dead)), "both"
    )
    assert f["verdict"] == want
    if want == "healthy":
        assert np.isfinite(g).all() and (g[-1] != 0).all()
        assert f"within {factor:g}× its norm at step {steps[0]}" in claim


@proves("cnnviz.snapshots.gradient_health_sentence")
@given(st.one_of(st.none(), st.text(min_size=1, max_size=40)))
def test_gradient_health_without_gradients_says_why(reason):
    claim = snapshots.gradient_health_sentence([0, 5], ["conv1"], None, reason)
    assert claim.facts["verdict"] == "unknown" and claim.facts["dead_layers"] == []
    assert claim == (reason or "Gradients were not recorded.")


prob_rows = st.integers(2, 12).flatmap(
    lambda k: st.lists(
        st.lists(st.floats(0, 1), min_size=k, max_size=k).map(
            lambda r: (np.array(r) / sum(r)).tolist() if sum(r) > 0 else [1.0 / len(r)] * len(r)
        ),
        min_size=1,
        max_size=5,
    )
)


@proves("cnnviz.snapshots.probe_sentence")
@given(prob_rows, st.data())
@example([[0.6, 0.4], [0.01, 0.99]], None)
@example([[0.5, 0.5], [NAN, NAN]], None)  # ties; a run that broke
def test_probe_sentence(rows, data):
    p = np.array(rows, dtype=np.float64)
    k = p.shape[1]
    label = data.draw(st.integers(0, k - 1)) if data is not None else k - 1
    names = [f"class {i}" for i in range(k)]
    steps = list(range(0, 10 * len(p), 10))
    claim = snapshots.probe_sentence(steps, p, label, names)
    f = claim.facts
    assert f"a validation image of {names[label]}" in claim
    for row, key in ((p[0], "first"), (p[-1], "last")):
        if np.isfinite(row).all():
            assert f[key] == int(np.argmax(row)) and f[f"{key}_p"] == row.max()
            assert f"{names[f[key]]} ({percent(row.max())})" in claim
        else:
            assert f[key] is None and f[f"{key}_p"] is None and "not numbers" in claim
    if f["last"] is None:
        assert f["right"] is None and claim.endswith(".") and not claim.endswith("right.")
    else:
        assert f["right"] == (f["last"] == label)
        assert claim.endswith(": right." if f["right"] else ": wrong.")
    assert f"at step {steps[-1]}" in claim


def test_probe_sentence_without_snapshots():
    claim = snapshots.probe_sentence([], np.zeros((0, 3)), 1, ["a", "b", "c"])
    assert claim.facts["last"] is None and "No snapshot" in claim


@proves("cnnviz.snapshots.stored_sentence")
@given(st.integers(0, 10_000), st.integers(0, 50_000_000))
@example(1, 999)
@example(30, 999_949)  # still kB
@example(30, 999_950)  # would read "1000.0 kB": MB instead
def test_stored_sentence(count, nbytes):
    claim = snapshots.stored_sentence(count, nbytes)
    assert claim.facts == {"count": count, "nbytes": nbytes}
    noun = "snapshot" if count == 1 else "snapshots"
    assert claim.startswith(f"{count:,} {noun}, ") and claim.endswith(" stored with the run.")
    value, unit = re.search(r", ([\d.]+) (kB|MB) stored", claim).groups()
    scale, half_digit = (1e3, 50) if unit == "kB" else (1e6, 5000)  # 1 or 2 decimals
    assert math.isclose(float(value) * scale, nbytes, abs_tol=half_digit + 1e-6)
    assert unit == "MB" or float(value) < 1000
