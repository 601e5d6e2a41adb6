"""cnnviz.evaluation against hand-worked values and against Keras on a bundled model."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from cnnviz import data, evaluation, models

# 3 classes, 8 examples. true: 0 0 0 1 1 2 2 2, predicted: 0 0 1 1 2 2 2 0
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 0])


def test_confusion_matrix_by_hand():
    cm = evaluation.confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [1, 0, 2]])
    assert cm.sum() == 8 and np.trace(cm) == 5


def test_classification_report_by_hand():
    cm = evaluation.confusion_matrix(Y_TRUE, Y_PRED, 3)
    rows = {r["class"]: r for r in evaluation.classification_report(cm, ("a", "b", "c"))}
    # a: TP 2, predicted 3, true 3 -> P 2/3, R 2/3, F1 2/3
    # b: TP 1, predicted 2, true 2 -> P 1/2, R 1/2, F1 1/2
    # c: TP 2, predicted 3, true 3 -> P 2/3, R 2/3, F1 2/3
    assert rows["a"]["precision"] == pytest.approx(2 / 3)
    assert rows["b"]["recall"] == pytest.approx(1 / 2)
    assert rows["c"]["f1"] == pytest.approx(2 / 3)
    assert rows["b"]["support"] == 2
    assert rows["macro avg"]["f1"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert rows["weighted avg"]["precision"] == pytest.approx(
        (3 * 2 / 3 + 2 * 1 / 2 + 3 * 2 / 3) / 8
    )
    assert rows["weighted avg"]["support"] == 8


def test_report_zero_division_and_unequal_precision_recall():
    # class 1 is never predicted and class 2 never occurs: P, R, F1 are 0, not NaN
    cm = evaluation.confusion_matrix(np.array([0, 0, 1, 1]), np.array([0, 2, 0, 0]), 3)
    rows = evaluation.classification_report(cm, ("x", "y", "z"))
    # x: TP 1, predicted 3, true 2 -> P 1/3, R 1/2, F1 = 2·(1/6)/(5/6) = 0.4
    assert rows[0]["precision"] == pytest.approx(1 / 3)
    assert rows[0]["recall"] == pytest.approx(1 / 2)
    assert rows[0]["f1"] == pytest.approx(0.4)
    assert rows[1]["precision"] == 0 and rows[1]["f1"] == 0
    assert rows[2]["recall"] == 0 and rows[2]["support"] == 0


def test_cross_entropy_by_hand_and_against_keras():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])
    y = np.array([0, 1, 2, 0])
    expected = -(math.log(0.7) + math.log(0.8) + math.log(0.25) + math.log(1e-7)) / 4
    assert evaluation.cross_entropy(probs, y) == pytest.approx(expected)
    keras_loss = keras.losses.SparseCategoricalCrossentropy()(y, probs.astype("float32"))
    assert evaluation.cross_entropy(probs, y) == pytest.approx(float(keras_loss), rel=1e-5)
    # binary: one sigmoid unit
    p = np.array([[0.9], [0.2]])
    assert evaluation.cross_entropy(p, np.array([1, 0])) == pytest.approx(
        -(math.log(0.9) + math.log(0.8)) / 2
    )
    np.testing.assert_array_equal(evaluation.predict_classes(p), [1, 0])


def test_pick_examples():
    idx = evaluation.pick_examples(Y_TRUE, Y_PRED, correct=False, n=9)
    np.testing.assert_array_equal(idx, [2, 4, 7])  # all three mistakes, fewer than nine
    ok = evaluation.pick_examples(Y_TRUE, Y_PRED, correct=True, n=2, seed=1)
    assert len(ok) == 2 and np.all(Y_TRUE[ok] == Y_PRED[ok])


def test_evaluate_bundled_model_matches_keras_and_card():
    ds = data.load_mnist_sample()
    model = models.load(models.bundled("cookbook_cnn"))
    x = data.prepare(ds.x_test)
    ev = evaluation.evaluate(model, x, ds.y_test)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, ds.y_test, verbose=0, batch_size=500)
    assert ev.accuracy == pytest.approx(acc, abs=1e-6)
    assert ev.loss == pytest.approx(loss, rel=1e-4)
    card = models.read_card(models.bundled("cookbook_cnn"))
    assert ev.accuracy == pytest.approx(card["metrics"]["test_accuracy"], abs=1e-4)
    assert ev.confusion.sum() == 2000 and np.trace(ev.confusion) == round(ev.accuracy * 2000)
    np.testing.assert_array_equal(ev.confusion.sum(axis=1), np.bincount(ds.y_test, minlength=10))


def test_predicted_probability_softmax_and_sigmoid():
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    np.testing.assert_allclose(evaluation.predicted_probability(probs, [1, 0]), [0.7, 0.5])
    sig = np.array([[0.9], [0.2]])
    y_pred = evaluation.predict_classes(sig)  # 1, 0
    np.testing.assert_allclose(evaluation.predicted_probability(sig, y_pred), [0.9, 0.8])


def test_confusion_colour_values_by_hand():
    cm = np.array([[98, 2, 0], [0, 0, 0], [1, 9, 90]])
    np.testing.assert_array_equal(evaluation.confusion_colour_values(cm, "counts"), cm)
    np.testing.assert_allclose(evaluation.confusion_colour_values(cm, "log"), np.log10(1 + cm))
    row = evaluation.confusion_colour_values(cm, "row")
    np.testing.assert_allclose(row[0], [0.98, 0.02, 0.0])
    np.testing.assert_array_equal(row[1], [0, 0, 0])  # a class with no test images: 0, not NaN
    np.testing.assert_allclose(row[2], [0.01, 0.09, 0.9])
    with pytest.raises(ValueError, match="scale must be one of counts, log, row, got 'sqrt'"):
        evaluation.confusion_colour_values(cm, "sqrt")


def test_confused_pairs_by_hand():
    cm = np.array([[5, 2, 0], [0, 4, 2], [3, 0, 6]])
    pairs = evaluation.confused_pairs(cm, ("a", "b", "c"), 5)
    # counts 3 (c→a), then a tie at 2: b→c is 2/6 of b, a→b 2/7 of a, so b→c first
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [
        ("c", "a", 3),
        ("b", "c", 2),
        ("a", "b", 2),
    ]
    assert pairs[0]["share"] == pytest.approx(3 / 9)
    assert len(evaluation.confused_pairs(cm, ("a", "b", "c"), 1)) == 1
    assert evaluation.confused_pairs(np.diag([3, 4]), ("x", "y")) == []  # no mistakes


def test_confusion_heatmap_uses_the_sequential_scale_and_shows_counts():
    from cnnviz.plots import style
    from cnnviz.plots import training as plots

    cm = np.array([[200, 3], [1, 150]])
    for scale in evaluation.CONFUSION_SCALES:
        heat = plots.confusion_heatmap(cm, ("0", "1"), scale).data[0]
        assert [list(c) for c in heat.colorscale] == [list(c) for c in style.SEQUENTIAL]
        np.testing.assert_array_equal(np.asarray(heat.text), cm)  # cells always show counts
        np.testing.assert_allclose(
            np.asarray(heat.z, dtype=float), evaluation.confusion_colour_values(cm, scale)
        )
        assert heat.zmin == 0 and heat.showscale
    log = plots.confusion_heatmap(cm, ("0", "1"), "log").data[0]
    assert list(log.colorbar.ticktext) == [0, 1, 3, 10, 30, 100]  # in images, not log10
    np.testing.assert_allclose(
        log.colorbar.tickvals, np.log10(1 + np.array([0, 1, 3, 10, 30, 100]))
    )
