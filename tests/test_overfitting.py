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
    text = overfitting.describe_gap("plain", g)
    assert "gap 0.85" in text and "gap 19.0 points" in text
    assert "lowest at epoch 2 and rose afterwards" in text
    assert "rose afterwards" not in overfitting.describe_gap("dropout", h)
    v = overfitting.verdict({"plain": g, "dropout": h})
    assert v.startswith("**plain** overfits: its validation loss ends 0.85 above its training")
    assert "**dropout** narrows the gap from 0.85 to 0.05" in v and "rises (81.0 % → 84.0 %)" in v
    assert v.endswith("Best on the validation images: **dropout** (84.0 %).")


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
    gaps = {k: measure_gap(h) for k, h in runs.items()}
    assert gaps["dropout"].loss_gap < gaps["plain"].loss_gap
    assert gaps["plain"].train_accuracy > gaps["plain"].val_accuracy


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
        "**plain** overfits: its validation loss ends 0.35 above its training loss (accuracy "
        "90.0 % on validation, 99.0 % on training). Against the plain run: **dropout** "
        "narrows the gap from 0.35 to 0.10, with about the same validation accuracy (90.0 % "
        "→ 90.2 %). On the validation images all runs are within 1 point of each other "
        "(90.0 %–90.2 %)."
    )


def test_verdict_underfitting_dropout_with_a_negative_gap():
    # The case: dropout "narrowed it to -0.18" and was called the smallest gap,
    # while it underfits (86.3 % vs 90.0 % on validation).
    v = overfitting.verdict(
        {"plain": PLAIN, "dropout": _gap(0.60, 0.42, 0.82, 0.863)}, n_train=300, n_val=300
    )
    assert "**dropout** closes the gap (its validation loss is even 0.18 below training)" in v
    assert "but its validation accuracy falls (90.0 % → 86.3 %): it underfits" in v
    assert "-0.18" not in v and "narrows" not in v and "smallest" not in v
    assert v.endswith("Best on the validation images: **plain** (90.0 %).")


def test_verdict_when_nothing_overfits_or_the_gap_is_negative():
    v = overfitting.verdict(
        {"plain": _gap(0.30, 0.31, 0.91, 0.90), "dropout": _gap(0.40, 0.30, 0.88, 0.905)},
        n_val=2000,
    )
    assert v.startswith("**plain** shows no gap between training and validation (+0.01).")
    assert "nothing to cure" in v
    assert "**dropout** shows no overfitting: its validation loss is even 0.10 below" in v
    assert "narrow" not in v and "underfit" not in v


def test_verdict_gap_that_grows_and_no_baseline():
    v = overfitting.verdict({"plain": PLAIN, "L2": _gap(0.02, 0.50, 1.0, 0.85)}, n_val=1000)
    assert (
        "**L2** does not narrow the gap (0.48 vs 0.35), and its validation accuracy falls "
        "(90.0 % → 85.0 %)." in v
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
    assert "with about the same validation accuracy (75.0 % → 80.0 %)" in v  # 2 images
    assert "all runs are within 5 points of each other" in v


def test_describe_gap_words_a_negative_gap():
    g = _gap(0.6, 0.42, 0.82, 0.863)
    assert "(gap -0.18: validation loss below training loss)" in overfitting.describe_gap("d", g)
