"""Every sentence the Transfer learning page writes from numbers is true for every input.

Property tests (Hypothesis) of the registered functions of :mod:`cnnviz.transfer`: each
generates contenders across the whole domain (finished, stopped at any epoch and batch of
any stage, stopped before a first batch or by a NaN loss, not started; accuracies with ties
and near-ties at the rounding edge; every subset of contenders planned) and checks each fact
the sentence states against the inputs. ``@example`` pins the cases the issue reported.
"""

from __future__ import annotations

import math
import re

from hypothesis import example, given
from hypothesis import strategies as st

from cnnviz import transfer
from cnnviz.claims import proves

SCRATCH, FE, FT = transfer.CONTENDERS
PRETRAINED = (FE, FT)
STAGE_WORDS = {FE: "feature-extraction", FT: "fine-tuning", SCRATCH: "from-scratch"}


def _result(name, acc, stop=None, seconds=3.0, stage_seconds=None):
    """A contender's result; ``stop``: ``(stage, epoch, epochs, batch, batches, reason)``."""
    r = transfer.ContenderResult(name, {}, acc, None, seconds, stage_seconds=stage_seconds)
    if stop is not None and hasattr(transfer, "StopPoint"):
        r.stopped_at = transfer.StopPoint(*stop)
    return r


def _finished(r) -> bool:
    return getattr(r, "finished", True)


def _shown(value: float) -> float:
    """The number the learner reads in "92.0%"."""
    return float(f"{value:.1%}"[:-1])


accuracies = st.one_of(
    st.sampled_from([0.0, 1.0, 0.5, 0.9, 0.905, 0.89951, 0.90049, 0.8995, 0.9005, 0.989]),
    st.floats(0.0, 1.0),
    st.builds(lambda k, n: k / n, st.integers(0, 2000), st.just(2000)),
)
seconds = st.one_of(st.sampled_from([0.0, 0.49, 0.5, 1.5, 2.5, 33.4]), st.floats(0.0, 1e5))


@st.composite
def stop_points(draw, name: str):
    """``(stage, epoch, epochs, batch, batches, reason)`` short of the stage's last batch.

    Fine-tuning can also end in its first stage (feature extraction's) when that stage's
    loss became NaN.
    """
    stage = SCRATCH if name == SCRATCH else draw(st.sampled_from([FE, FT] if name == FT else [FE]))
    epochs = draw(st.integers(1, 300))
    epoch = draw(st.integers(0, epochs))
    if epoch == 0:  # before the first batch
        batch = batches = 0
    elif epoch < epochs:
        batches = draw(st.integers(1, 100))
        batch = draw(st.integers(1, batches))
    else:  # in the last epoch, before its last batch
        batches = draw(st.integers(2, 100))
        batch = draw(st.integers(1, batches - 1))
    return (stage, epoch, epochs, batch, batches, draw(st.sampled_from(["stop", "nan"])))


@st.composite
def comparisons(draw):
    """``(results, planned)``: any planned contenders, any of them with a result."""
    planned = tuple(
        c
        for c in transfer.CONTENDERS
        if draw(st.booleans()) or c == draw(st.sampled_from(transfer.CONTENDERS))
    ) or (FT,)
    results = {}
    for c in planned:
        state = draw(st.sampled_from(["finished", "stopped", "not started"]))
        if state == "not started":
            continue
        stop = draw(stop_points(c)) if state == "stopped" else None
        stage = draw(st.one_of(st.none(), seconds)) if c == FT else None
        results[c] = _result(c, draw(accuracies), stop, draw(seconds), stage)
    return results, planned


# The issue: "Stop during fine-tuning epoch 2 of 10 shows fine-tuning at 98.9 % as if finished,
# then says 'nothing to compare' under two contenders".
ISSUE_RESULTS = {
    FE: _result(FE, 0.92),
    FT: _result(FT, 0.989, (FT, 2, 10, 3, 8, "stop"), 40.0, 12.0),
}


def _place(stop, detail: bool = True) -> str:
    """Where it stopped, as the learner should read it: before a first batch, after a whole
    epoch (its last batch ran), or at a batch of an epoch."""
    word = STAGE_WORDS[stop.stage]
    if stop.epoch == 0:
        return f"before its first {word} batch"
    if stop.batch == stop.batches:
        return f"after {word} epoch {stop.epoch} of {stop.epochs}"
    batch = f" (batch {stop.batch} of {stop.batches})" if detail else ""
    return f"at {word} epoch {stop.epoch} of {stop.epochs}{batch}"


@proves("cnnviz.transfer.advantage_sentence")
@given(comparisons())
@example((ISSUE_RESULTS, transfer.CONTENDERS))
@example(({FE: _result(FE, 0.92), FT: _result(FT, 0.989)}, (FE, FT)))  # ImageNet: no scratch
@example(({SCRATCH: _result(SCRATCH, 0.89951), FE: _result(FE, 0.90049)}, transfer.CONTENDERS))
@example(({SCRATCH: _result(SCRATCH, 0.9), FE: _result(FE, 0.9), FT: _result(FT, 0.9)}, None))
def test_advantage_sentence_compares_only_finished_contenders(case):
    results, planned = case
    text = transfer.advantage_sentence(results, planned)
    shown = planned if planned is not None else tuple(results)
    finished = [c for c in transfer.CONTENDERS if c in results and _finished(results[c])]
    stopped = [c for c in transfer.CONTENDERS if c in results and not _finished(results[c])]
    # never "nothing to compare" above two results; a stopped contender is never left for
    # the reader to take as finished: the sentence names it with its own accuracy
    if len(results) >= 2:
        assert "nothing to compare" not in text
    for c in stopped:
        assert c in text and f"{results[c].test_accuracy:.1%}" in text, (c, text)
    # the gap it names is the difference of the two accuracies it shows
    said = re.search(r"\(([\d.]+)%\) (beats|matches|does worse than) .*?\(([\d.]+)%\), "
                     r"(?:by )?([\d.]+) points", text)  # fmt: skip
    if said:
        a_shown, verdict, b_shown, gap_shown = said.groups()
        assert f"{abs(float(a_shown) - float(b_shown)):.1f}" == gap_shown, text
    f = text.facts
    assert f["finished"] == tuple(finished) and f["stopped"] == tuple(stopped)
    assert f["not_started"] == tuple(
        c for c in transfer.CONTENDERS if c in shown and c not in results
    )
    for c in f["not_started"]:
        assert c in text and "did not start" in text
    for name, acc in f["accuracies"].items():  # every number it names is that contender's own
        assert acc == results[name].test_accuracy and f"{acc:.1%}" in text
    for c in stopped:  # a stopped contender is shown as stopped, where it stopped
        stop = results[c].stopped_at
        assert f"{c} finished" not in text
        assert f"stopped {_place(stop)}" in text
        assert f"{results[c].test_accuracy:.1%} so far" in text
    compared = f["compared"]
    assert all(_finished(results[c]) for c in compared)  # only finished ones are compared
    if len(finished) < 2:
        assert compared == () and f["verdict"] is None
        for c in finished:
            assert f"{c} finished" in text.lower()
        return
    assert len(compared) == 2  # two finished: always a comparison
    a, b = (results[c].test_accuracy for c in compared)
    if SCRATCH in finished:
        assert compared[1] == SCRATCH and compared[0] in PRETRAINED
        assert a == max(results[c].test_accuracy for c in finished if c in PRETRAINED)
    else:
        assert compared == (FT, FE)
    gap = f["gap_points"]
    assert math.isclose(gap, _shown(a) - _shown(b), abs_tol=1e-9)  # the shown numbers' gap
    assert f"{abs(gap):.1f} points" in text
    verdict = "beats" if gap >= 1 else "does worse than" if gap <= -1 else "matches"
    assert f["verdict"] == verdict and f") {verdict} " in text
    assert text.index(f"{a:.1%}") < text.index(f" {verdict} ") < text.rindex(f"{b:.1%}")


@st.composite
def contenders(draw):
    name = draw(st.sampled_from(transfer.CONTENDERS))
    return name, draw(accuracies), draw(st.one_of(st.none(), stop_points(name)))


@proves("cnnviz.transfer.contender_label", "cnnviz.transfer.contender_accuracy")
@given(contenders())
@example((FT, 0.989, (FT, 2, 10, 3, 8, "stop")))  # the issue: shown as if finished
def test_a_stopped_contender_is_labelled_stopped(case):
    name, acc, stop = case
    r = _result(name, acc, stop)
    label, value = transfer.contender_label(r), transfer.contender_accuracy(r)
    assert value == f"{acc:.1%}" and value.facts["accuracy"] == acc
    assert label.facts["finished"] == value.facts["finished"] == (stop is None)
    assert label.startswith(name)
    if stop is None:
        assert label == f"{name} · test accuracy"
        return
    assert label.endswith("test accuracy so far") and "stopped" in label
    assert f"stopped {_place(r.stopped_at, detail=False)}" in label
    assert (label.facts["epoch"], label.facts["epochs"]) == (stop[1], stop[2])
    if stop[5] == "nan":
        assert "NaN" in label


@proves("cnnviz.transfer.stop_sentence")
@given(comparisons(), seconds)
@example((ISSUE_RESULTS, transfer.CONTENDERS), 52.4)
def test_stop_sentence_says_who_finished_and_who_stopped_where(case, secs):
    results, planned = case
    text = transfer.stop_sentence(results, planned, secs)
    assert text.startswith(f"Stopped after {secs:.0f} s of training")
    f = text.facts
    assert f["seconds"] == secs
    assert set(f["finished"]) == {c for c, r in results.items() if r.finished}
    assert set(f["stopped"]) == {c for c, r in results.items() if not r.finished}
    assert set(f["not_started"]) == {c for c in planned if c not in results}
    for c in f["stopped"]:
        stop = results[c].stopped_at
        assert f["stop_points"][c] == stop
        assert f"{c} stopped" in text
        assert f"{c} stopped {_place(stop)}" in text
    if not f["stopped"] and not f["not_started"]:
        assert text.endswith("once every contender had finished.")
        return
    for c in f["finished"] + f["not_started"]:
        assert c in text
    if f["finished"]:
        assert "finished" in text
    if f["not_started"]:
        assert "did not start" in text


@proves("cnnviz.transfer.timing_sentence")
@given(comparisons(), seconds)
@example(({FE: _result(FE, 0.9, seconds=20.0), FT: _result(FT, 0.9, None, 32.0, 12.0)}, None), 33.4)
@example((ISSUE_RESULTS, transfer.CONTENDERS), 52.4)
def test_timing_sentence_names_each_contenders_own_seconds(case, secs):
    results, _ = case
    text = transfer.timing_sentence(results, secs)
    assert text.startswith(f"This run took {secs:.0f} s on this machine")
    spent = text.facts["spent"]
    assert set(spent) == set(results)
    for c, r in results.items():
        own = r.seconds
        if c == FT and FE in results and r.stage_seconds is not None:
            own = r.stage_seconds  # its second stage: stage 1 is feature extraction's time
            assert f"then fine-tuning {own:.0f} s more" in text
        assert spent[c] == own and f"{c} {own:.0f} s" in text
    assert text.count("until stopped") == sum(not r.finished for r in results.values())


@st.composite
def layer_rows(draw):
    n = draw(st.integers(0, 8))
    rows = []
    for i in range(n):
        t = draw(st.sampled_from([0, 0, 1, 320, 10_245]) | st.integers(0, 10**7))
        nt = draw(st.sampled_from([0, 0, 12, 24]) | st.integers(0, 10**6))
        rows.append(
            {
                "layer": f"layer{i}",
                "trainable": t,
                "non-trainable": nt,
                "frozen": bool(nt) and not t,
            }
        )
    return rows


@proves("cnnviz.transfer.frozen_sentence")
@given(layer_rows())
@example([{"layer": "flatten", "trainable": 0, "non-trainable": 0, "frozen": False}])
def test_frozen_sentence_counts_what_trains(rows):
    text = transfer.frozen_sentence(rows)
    t = sum(r["trainable"] for r in rows)
    n = sum(r["non-trainable"] for r in rows)
    if t + n == 0:
        assert "frozen" not in text and "0" not in text  # no weights: nothing is "frozen"
    trained = [r["layer"] for r in rows if r["trainable"]]
    frozen = [r["layer"] for r in rows if r["frozen"]]
    f = text.facts
    assert f["trained"] == trained and f["frozen"] == frozen
    assert f["trainable"] == t and f["total"] == t + n
    if t + n == 0:
        pass
    elif not trained:
        assert text == f"Nothing trains: all {t + n:,} parameters are frozen."
    elif not frozen:  # every layer that has weights trains some of them
        assert all(r["trainable"] for r in rows if r["trainable"] or r["non-trainable"])
        assert f"{t:,} trainable parameters" in text
        assert (f"plus {n:,} non-trainable" in text) == bool(n)
    else:
        assert text.startswith(f"Trains {t:,} of {t + n:,} parameters ({', '.join(trained)})")
        assert text.endswith(f"frozen: {', '.join(frozen)}.")


@proves("cnnviz.transfer.digits_base_sentence")
@given(
    st.sampled_from(["fashion_leaky", "book_mnist", "?"]),
    st.one_of(st.none(), accuracies, st.sampled_from([math.nan, math.inf])),
    st.sampled_from(["digits", "signs"]),
)
@example("fashion_leaky", math.nan, "digits")
def test_digits_base_sentence_names_its_card(model, acc, task):
    text = transfer.digits_base_sentence(model, acc, task)
    assert f"the zoo's {model} CNN" in text
    if acc is None or not math.isfinite(acc):
        assert "%" not in text and "nan" not in text.lower() and text.facts["test_accuracy"] is None
    else:
        assert f"({acc:.1%} test accuracy on 0–4)" in text and text.facts["test_accuracy"] == acc
    if task == "digits":
        assert f"Validation: {transfer.VAL_PER_CLASS} other labelled images per class." in text
    else:
        assert "Validation" not in text and "Letters are new to it" in text


@proves("cnnviz.transfer.download_sentence")
@given(
    st.sampled_from(list(transfer.APPLICATIONS)),
    st.integers(0, 10**9),
    st.one_of(st.just(0), st.integers(1, 10**9)),
)
@example("mobilenet_v2", 3_100_000, 0)
@example("mobilenet_v2", 10_000_000, 9_406_464)  # a server that under-reports the size
def test_download_sentence_says_what_arrived(name, done, total):
    text = transfer.download_sentence(name, done, total)
    f = text.facts
    assert text.startswith(transfer.APPLICATIONS[name].title)
    assert f["done_mb"] == done / 1e6 and f"{done / 1e6:.1f}" in text
    assert 0.0 <= f["fraction"] <= 1.0
    if total:
        assert f["total_mb"] == total / 1e6 and f"of {total / 1e6:.1f} MB" in text
        assert f["fraction"] == min(done / total, 1.0)
    else:
        assert f["total_mb"] is None and text.endswith("MB so far") and f["fraction"] == 0.0


@proves("cnnviz.transfer.weights_missing_sentence")
@given(st.sampled_from(list(transfer.APPLICATIONS)))
def test_weights_missing_sentence_names_the_download_size(name):
    app = transfer.APPLICATIONS[name]
    text = transfer.weights_missing_sentence(name)
    assert text.startswith(f"{app.title}'s ImageNet weights ({app.megabytes:g} MB)")
    assert text.facts["megabytes"] == app.megabytes
