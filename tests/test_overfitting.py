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
    assert v.startswith("The smallest gap is **dropout** (0.05).")
    assert "dropout narrows it to 0.05" in v


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
