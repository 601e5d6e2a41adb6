"""cnnviz.overfitting: the gap measured on hand-made histories, L2 copies, a tiny real run."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from cnnviz import models, overfitting, training
from cnnviz.overfitting import OverfittingError, measure_gap

OVERFIT = {  # training keeps improving, validation turns up after epoch 2
    "loss": [1.2, 0.5, 0.2, 0.05],
    "val_loss": [1.1, 0.6, 0.7, 0.9],
    "accuracy": [0.6, 0.85, 0.95, 1.0],
    "val_accuracy": [0.62, 0.8, 0.82, 0.81],
}
HEALTHY = {
    "loss": [1.3, 0.8, 0.6, 0.5],
    "val_loss": [1.2, 0.8, 0.62, 0.55],
    "accuracy": [0.55, 0.75, 0.82, 0.85],
    "val_accuracy": [0.6, 0.76, 0.82, 0.84],
}


def test_measure_gap_on_synthetic_histories():
    g = measure_gap(OVERFIT)
    assert g.loss_gap == pytest.approx(0.85)
    assert g.accuracy_gap == pytest.approx(0.19)
    assert (g.best_epoch, g.best_val_loss, g.epochs) == (2, 0.6, 4)
    h = measure_gap(HEALTHY)
    assert h.loss_gap == pytest.approx(0.05) and h.best_epoch == 4
    assert g.loss_measure == "logged loss"  # no data-loss lists: Keras's own, said so
    text = overfitting.describe_gap("plain", g)
    assert "logged loss 0.90 on validation, 0.05 on training (loss gap +0.85)" in text
    assert "(accuracy gap +19.0 points)" in text  # training minus validation, like the loss
    assert "lowest at epoch 2 (0.600) and then rose to 0.900 by epoch 4 (+0.300, 50.0 %" in text
    assert "rose" not in overfitting.describe_gap("dropout", h)  # lowest in the last epoch
    v = overfitting.verdict({"plain": g, "dropout": h})
    assert v.startswith("**plain** overfits: its validation loss ends 0.85 above its training")
    assert "**dropout** narrows the loss gap from 0.85 to 0.05, and closes the accuracy gap" in v
    assert "Its validation accuracy rises (81.0 % → 84.0 %)" in v
    assert v.endswith("Best on the validation images: **dropout** (84.0 %).")
    assert v.facts["compared"]["dropout"]["loss"] == "narrows"


def test_data_loss_is_keras_cross_entropy():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0]], "float32")
    y = np.array([0, 1, 0])
    keras_loss = keras.losses.SparseCategoricalCrossentropy()(y, probs)
    loss, acc = overfitting.data_loss(probs, y)
    assert loss == pytest.approx(float(keras_loss), rel=1e-5) and acc == pytest.approx(1 / 3)
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 50.0]])
    loss, acc = overfitting.data_loss_from_logits(logits, np.array([0, 1]))
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        np.array([0, 1]), logits
    )
    assert loss == pytest.approx(float(keras_loss), rel=1e-6) and acc == 0.5
    assert loss > 20  # the confidently wrong image costs its full −log p, not −log 1e-7


def test_measure_gap_without_accuracy_and_bad_histories():
    g = measure_gap({"loss": [0.5], "val_loss": [0.7]})
    assert g.loss_gap == pytest.approx(0.2) and np.isnan(g.accuracy_gap)
    assert "points" not in overfitting.describe_gap("x", g)
    with pytest.raises(OverfittingError, match="equal non-zero length, got 2 and 1"):
        measure_gap({"loss": [1, 2], "val_loss": [1]})
    with pytest.raises(OverfittingError, match="no runs"):
        overfitting.verdict({})


def test_with_l2_adds_the_penalty_and_keeps_the_architecture():
    base = models.build("fashion_leaky", (28, 28, 1), 10)
    l2 = overfitting.with_l2(base, 1e-3)
    assert l2.count_params() == base.count_params() == 356_234
    assert [layer.name for layer in l2.layers] == [layer.name for layer in base.layers]
    penalised = [
        layer.name for layer in l2.layers if getattr(layer, "kernel_regularizer", None) is not None
    ]
    assert penalised == ["conv1", "conv2", "conv3", "dense1", "output"]
    assert all(getattr(layer, "kernel_regularizer", None) is None for layer in base.layers)
    # The penalty is 0.001 × Σ w² over the kernels: check the number Keras adds.
    l2.set_weights(base.get_weights())
    l2(np.zeros((1, 28, 28, 1), "float32"))
    expected = sum(
        1e-3 * float(np.sum(np.square(layer.kernel.numpy())))
        for layer in l2.layers
        if layer.name in penalised
    )
    assert float(sum(keras.ops.convert_to_numpy(v) for v in l2.losses)) == pytest.approx(
        expected, rel=1e-4
    )
    with pytest.raises(OverfittingError, match="-1"):
        overfitting.with_l2(base, -1)


def test_small_split_and_progress_fraction():
    x, y, xv, yv = overfitting.small_split(30, 20, seed=1)
    assert x.shape == (30, 28, 28, 1) and xv.shape == (20, 28, 28, 1)
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and len(yv) == 20
    np.testing.assert_array_equal(overfitting.small_split(30, 20, seed=1)[1], y)
    with pytest.raises(OverfittingError, match="training images must be"):
        overfitting.small_split(5, 20)
    p = training.Progress("batch", 2, 4, 1, 2, {}, {})  # halfway through epoch 2 of 4
    assert overfitting.progress_fraction(1, 2, p) == pytest.approx((1 + 1.5 / 4) / 2)


def test_tiny_real_run_and_curves_round_trip(tmp_path):
    runs = overfitting.run_all(["plain", "L2"], n_train=40, n_val=20, epochs=1, seed=0)
    assert set(runs) == {"plain", "L2"}
    for hist in runs.values():
        assert {len(v) for v in hist.values()} == {1}
        assert set(training.HISTORY_KEYS) <= set(hist)
    # Same seed, same data and initial weights: L2 only adds its penalty to the loss.
    assert runs["L2"]["loss"][0] > runs["plain"]["loss"][0]
    # The data loss is Keras's own validation loss without the penalty: equal for plain,
    # below it by the penalty for L2; both measured, so the gaps are on the data loss.
    for hist in runs.values():
        assert {len(hist[k]) for k in overfitting.MEASURED} == {1}
    assert runs["plain"]["val_data_loss"][0] == pytest.approx(
        runs["plain"]["val_loss"][0], rel=1e-4
    )
    assert runs["plain"]["val_data_accuracy"] == pytest.approx(runs["plain"]["val_accuracy"])
    assert runs["L2"]["val_loss"][0] - runs["L2"]["val_data_loss"][0] > 0.01
    assert {g.loss_measure for g in overfitting.measure_gaps(runs).values()} == {"data loss"}
    path = overfitting.save_curves(runs, {"epochs": 1}, tmp_path / "c.json")
    assert overfitting.load_curves(path) == ({"epochs": 1}, json.loads(path.read_text())["runs"])
    assert overfitting.load_curves(tmp_path / "missing.json") is None
    with pytest.raises(OverfittingError, match="unknown run 'bagging'"):
        overfitting.run_all(["bagging"])


def test_bundled_curves_show_the_lesson():
    loaded = overfitting.load_curves()
    if loaded is None:  # the asset is built by scripts/build_overfitting_curves.py
        pytest.fail("assets/overfitting_curves.json is missing")
    _settings, runs = loaded
    assert set(runs) == set(overfitting.RUNS)
    gaps = overfitting.measure_gaps(runs)
    assert {g.loss_measure for g in gaps.values()} == {"data loss"}
    assert gaps["dropout"].loss_gap < gaps["plain"].loss_gap
    assert gaps["plain"].train_accuracy > gaps["plain"].val_accuracy
    # Without its penalty the L2 run's validation loss is not the worst (the logged one is).
    assert gaps["L2"].val_loss < gaps["plain"].val_loss < runs["L2"]["val_loss"][-1]


def _gap(train_loss, val_loss, train_acc, val_acc, epochs=10) -> overfitting.Gap:
    """A final-epoch gap made by hand (best epoch = last)."""
    return overfitting.Gap(
        train_loss,
        val_loss,
        val_loss - train_loss,
        train_acc,
        val_acc,
        train_acc - val_acc,
        epochs,
        val_loss,
        epochs,
    )


PLAIN = _gap(0.05, 0.40, 0.99, 0.90)  # overfits: gap 0.35, validation 90 %


def test_verdict_regulariser_that_narrows_the_gap_and_keeps_accuracy():
    v = overfitting.verdict({"plain": PLAIN, "dropout": _gap(0.20, 0.30, 0.95, 0.902)}, n_val=500)
    assert v == (
        "**plain** overfits: its validation loss ends 0.35 above its training loss; its "
        "accuracy gap is +9.0 points (90.0 % on validation, 99.0 % on training). Against the "
        "plain run (the same measures; a loss gap within ±0.05 or an accuracy gap within ±1 "
        "point counts as closed): **dropout** narrows the loss gap from 0.35 to 0.10, and "
        "narrows the accuracy gap from +9.0 points to +4.8 points. Its validation accuracy "
        "stays about the same (90.0 % → 90.2 %). On the validation images all runs are "
        "within 1 point of each other (90.0 %–90.2 %)."
    )


def test_verdict_underfitting_dropout_with_a_negative_gap():
    # The case: dropout "narrowed it to -0.18" and was called the smallest gap,
    # while it underfits (86.3 % vs 90.0 % on validation).
    v = overfitting.verdict(
        {"plain": PLAIN, "dropout": _gap(0.60, 0.42, 0.82, 0.863)}, n_train=300, n_val=300
    )
    assert "**dropout** turns the loss gap around (-0.18: validation loss 0.18 below training)" in v
    assert "and turns the accuracy gap around (-4.3 points" in v
    assert "Its validation accuracy falls (90.0 % → 86.3 %): it underfits" in v
    assert "narrows" not in v and "narrowed" not in v and "smallest" not in v
    assert v.endswith("Best on the validation images: **plain** (90.0 %).")


def test_verdict_when_nothing_overfits_or_the_gap_is_negative():
    v = overfitting.verdict(
        {"plain": _gap(0.30, 0.31, 0.91, 0.90), "dropout": _gap(0.40, 0.30, 0.88, 0.905)},
        n_val=2000,
    )
    assert v.startswith(
        "**plain** shows no overfitting: its loss gap is only +0.01 (within ±0.05); its "
        "accuracy gap is only +1.0 points"
    )
    assert "nothing to cure" in v
    assert "**dropout** shows no overfitting: its validation loss ends 0.10 below" in v
    assert "narrow" not in v and "underfit" not in v


def test_verdict_gap_that_grows_and_no_baseline():
    v = overfitting.verdict({"plain": PLAIN, "L2": _gap(0.02, 0.50, 1.0, 0.85)}, n_val=1000)
    assert (
        "**L2** widens the loss gap from 0.35 to 0.48, and widens the accuracy gap from "
        "+9.0 points to +15.0 points. Its validation accuracy falls (90.0 % → 85.0 %)." in v
    )
    assert "underfits" not in v  # a wider gap and worse accuracy is not underfitting
    v = overfitting.verdict({"dropout": _gap(0.2, 0.3, 0.95, 0.92), "L2": PLAIN})
    assert v.startswith("**dropout** overfits: its validation loss ends 0.10 above")
    assert "**L2** overfits" in v and "Against" not in v


def test_verdict_tiny_runs_and_chance_accuracy():
    # 20 images, one epoch: nobody has learned anything yet.
    v = overfitting.verdict(
        {"plain": _gap(2.29, 2.30, 0.15, 0.10, 1), "dropout": _gap(2.31, 2.28, 0.1, 0.15, 1)},
        n_train=20,
        n_val=20,
    )
    assert v == (
        "A small run (20 training and 20 validation images): one validation image is worth "
        "5.0 points, so accuracy differences of up to 10 points are noise. **plain** and "
        "**dropout** have not learned the task yet (validation accuracy 10.0 %, 15.0 %; "
        "guessing gives 10.0 %): their gap says nothing about overfitting. Train longer or "
        "on more images."
    )
    # One run stuck at chance among learned ones: left out of the comparison.
    v = overfitting.verdict({"plain": PLAIN, "L2": _gap(2.3, 2.3, 0.11, 0.12)}, n_val=500)
    assert "**L2** has not learned the task yet (validation accuracy 12.0 %" in v
    assert "Against" not in v and "Best" not in v
    # Tiny validation set: a 5-point difference is noise, not "rises".
    v = overfitting.verdict(
        {"plain": _gap(0.1, 0.6, 1.0, 0.75), "dropout": _gap(0.3, 0.5, 0.9, 0.80)}, n_val=40
    )
    assert "one validation image is worth 2.5 points" in v
    assert "validation accuracy stays about the same (75.0 % → 80.0 %)" in v  # 2 images
    assert "all runs are within 5 points of each other" in v


def test_describe_gap_words_a_negative_gap():
    g = _gap(0.6, 0.42, 0.82, 0.863)
    text = overfitting.describe_gap("d", g)
    assert "logged loss 0.42 on validation, 0.60 on training (loss gap -0.18)" in text
    assert "(accuracy gap -4.3 points)" in text


# --- the tutorial's experiment on the full data (assets/fashion_tutorial.json) -----------


def test_describe_gap_calls_a_small_end_above_the_lowest_about_the_same():
    # dropout on the full data: lowest 0.2104 at epoch 15, ended 0.2154 (+0.005, 2.4 %)
    h = {"loss": [0.5, 0.3, 0.2], "val_loss": [0.3, 0.2104, 0.2154]}
    text = overfitting.describe_gap("dropout", measure_gap(h))
    assert "epoch 2 (0.210) and ended 0.005 above it (0.215, 2.4 % above its lowest)" in text
    assert "about the same, within the 10 % of its lowest we count as no rise" in text
    assert "rose" not in text
    h["val_loss"][-1] = 0.2104 * 1.11  # 11 % above: a rise
    c = overfitting.describe_gap("x", measure_gap(h))
    assert c.facts["ending"] == "rose" and "then rose to 0.234 by epoch 3 (+0.024, 11.0 %" in c


def _blob() -> dict:
    return json.loads(overfitting.TUTORIAL.read_text())


def test_load_tutorial_runs_reads_the_fit_contender():
    blob = _blob()
    t = overfitting.load_tutorial_runs()
    assert (t.device, t.backend) == (blob["device"], blob["backend"])
    assert (t.n_train, t.n_val, t.epochs, t.batch_size) == (48_000, 12_000, 20, 64)
    assert list(t.runs) == ["plain", "dropout"]
    for name, run in t.runs.items():
        fit = blob[name]["fit"]
        for k in (*overfitting.KERAS_KEYS, *overfitting.MEASURED):
            assert run.history[k] == fit["history"][k]
        assert (run.test_loss, run.test_accuracy) == (fit["test_loss"], fit["test_accuracy"])
        assert run.test_images == 10_000 and run.dropout == (name == "dropout")
    # the lesson of the tutorial, in our numbers: plain's validation loss turns up from
    # about 0.23 (epoch 8) to about 0.47 while its training accuracy nears 99 %;
    # dropout's stays near its lowest, about 0.21
    plain, dropout = (t.runs[k].history for k in ("plain", "dropout"))
    assert int(np.argmin(plain["val_data_loss"])) + 1 == 8
    assert min(plain["val_data_loss"]) == pytest.approx(0.226, abs=5e-4)
    assert plain["val_data_loss"][-1] == pytest.approx(0.470, abs=5e-4)
    assert plain["data_accuracy"][-1] > 0.99 > dropout["data_accuracy"][-1]
    assert dropout["val_data_loss"][-1] - min(dropout["val_data_loss"]) < 0.01


def test_load_tutorial_runs_refuses_what_it_cannot_use(tmp_path):
    assert overfitting.load_tutorial_runs(tmp_path / "missing.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OverfittingError, match="not readable JSON"):
        overfitting.load_tutorial_runs(bad)
    blob = _blob()
    del blob["dropout"]["fit"]["history"]["val_data_loss"]
    bad.write_text(json.dumps(blob))
    with pytest.raises(OverfittingError, match="dropout/fit lacks 'val_data_loss'"):
        overfitting.load_tutorial_runs(bad)
    blob = _blob()
    blob["plain"]["fit"]["images_per_sec"] /= 4  # as if trained on a quarter (--subset)
    bad.write_text(json.dumps(blob))
    with pytest.raises(OverfittingError, match="about 12,000 images per epoch, not the"):
        overfitting.load_tutorial_runs(bad)
    blob = _blob()
    blob["plain"]["fit"]["history"]["loss"].pop()
    bad.write_text(json.dumps(blob))
    with pytest.raises(OverfittingError, match="plain's lists have lengths"):
        overfitting.load_tutorial_runs(bad)


def test_tutorial_table_rows_are_the_json_beside_the_published_numbers():
    from cnnviz import tutorial

    t = overfitting.load_tutorial_runs()
    rows = overfitting.tutorial_table(t, tutorial.PUBLISHED)
    assert [(r["network"], r["measure"]) for r in rows] == [
        (n, m)
        for n in ("plain", "dropout")
        for m in (
            "validation loss, epoch 20",
            "validation accuracy, epoch 20",
            "test loss",
            "test accuracy",
        )
    ]
    blob = _blob()
    plain = {r["measure"]: r for r in rows if r["network"] == "plain"}
    fit = blob["plain"]["fit"]
    assert plain["validation loss, epoch 20"]["ours"] == f"{fit['history']['val_loss'][-1]:.4f}"
    assert plain["validation loss, epoch 20"]["tutorial"] == "0.4396"
    assert plain["test accuracy"]["ours"] == f"{100 * fit['test_accuracy']:.2f} %" == "91.47 %"
    assert plain["test accuracy"]["tutorial"] == "91.84 %"
    assert plain["test accuracy"]["difference"] == "0.37 points below the tutorial's"
    assert plain["test accuracy"]["difference"].facts["difference"] == pytest.approx(-0.37)
    assert plain["test loss"]["difference"] == "0.0115 higher than the tutorial's"
    dropout = {r["measure"]: r for r in rows if r["network"] == "dropout"}
    assert dropout["validation loss, epoch 20"]["tutorial"] == "—"  # the tutorial printed none
    assert dropout["validation loss, epoch 20"]["difference"] == "not printed by the tutorial"
    assert dropout["test accuracy"]["tutorial"] == "92.30 %"
    assert (
        dropout["test accuracy"]["ours"] == f"{100 * blob['dropout']['fit']['test_accuracy']:.2f} %"
    )


def test_full_data_sentences_state_the_lesson():
    t = overfitting.load_tutorial_runs()
    gaps = overfitting.measure_gaps(t.histories)
    assert {g.loss_measure for g in gaps.values()} == {"data loss"}
    plain = overfitting.describe_gap("plain", gaps["plain"])
    assert plain.facts["ending"] == "rose" and plain.facts["rose_after"] == 8
    assert "lowest at epoch 8 (0.226) and then rose to 0.470 by epoch 20 (+0.244" in plain
    dropout = overfitting.describe_gap("dropout", gaps["dropout"])
    assert dropout.facts["ending"] == "about the same" and "rose" not in dropout
    assert "lowest at epoch 15 (0.210) and ended 0.005 above it (0.215" in dropout
    v = overfitting.verdict(gaps, n_train=t.n_train, n_val=t.n_val)
    assert v.startswith("**plain** overfits: its validation loss ends 0.44 above")
    assert v.facts["compared"]["dropout"]["loss"] == "narrows"
    assert v.facts["compared"]["dropout"]["accuracy"] == "narrows"
    assert "Its validation accuracy stays about the same (92.0 % → 92.2 %)" in v
    note = overfitting.logged_vs_data("dropout", t.runs["dropout"].history, True, t.backend)
    assert "training loss of 0.194 (the mean over the epoch's batches, with dropout on)" in note
    assert "data loss of 0.128 on the training images (0.066 lower)" in note
    note = overfitting.logged_vs_data("plain", t.runs["plain"].history, False, t.backend)
    assert "Keras logged 0.449, the data loss is 0.470 (0.021 higher)" in note
    assert note.facts["clipping_explained"]


def test_tutorial_curves_draw_the_measured_numbers_in_the_train_pages_convention():
    from cnnviz.plots import experiments, style

    t = overfitting.load_tutorial_runs()
    fig = experiments.tutorial_curves(t.histories, t.n_train, t.n_val)
    assert "48,000 training / 12,000 validation images" in fig.layout.title.text
    lines = {tr.name: tr for tr in fig.data if tr.xaxis == "x"}  # the loss panel
    for i, name in enumerate(("plain", "dropout")):
        h = t.histories[name]
        for who, dash, key in (("training", "solid", ""), ("validation", "dash", "val_")):
            tr = lines[f"{name} · {who}"]
            assert tr.line.dash == dash and tr.line.color == style.CATEGORICAL[i]
            assert list(tr.y) == pytest.approx(h[f"{key}data_loss"])
        acc = [tr for tr in fig.data if tr.name == f"{name} · validation" and tr.xaxis == "x2"]
        assert list(acc[0].y) == pytest.approx(h["val_data_accuracy"])
        low = lines[f"{name} · lowest validation loss"]
        k = int(np.argmin(h["val_data_loss"]))
        assert (low.x[0], low.y[0]) == (k + 1, pytest.approx(h["val_data_loss"][k]))
    assert lines["plain · lowest validation loss"].x[0] == 8
    assert lines["dropout · lowest validation loss"].x[0] == 15
    # the quick experiment's panels speak the same language: one colour per run
    small = experiments.train_val({"dropout": t.histories["dropout"]})
    assert {(tr.line.color, tr.line.dash) for tr in small.data} == {
        (style.CATEGORICAL[1], "solid"),
        (style.CATEGORICAL[1], "dash"),
    }
