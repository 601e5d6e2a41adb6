"""cnnviz.scratch: the numpy forward pass equals Keras, layer by layer, for the whole zoo."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers
from randomised import randomise as _randomise

from cnnviz import models, scratch
from cnnviz.scratch import UnsupportedLayerError

CLASSES = {"toy_4x4": 1, "dli_asl": 24}  # everything else: 10


def _check(model: keras.Model, x: np.ndarray, atol: float = 1e-4) -> list:
    ours = scratch.forward(model, x)
    np.testing.assert_allclose(ours[-1][1], model.predict(x, verbose=0), atol=atol, rtol=0)
    rows = scratch.compare(model, x)
    assert [r.layer for r in rows] == [name for name, _ in ours]
    for r in rows:  # float32 Keras vs float64 numpy: tiny relative to the values' size
        assert r.max_abs_diff <= 1e-5 * max(1.0, r.max_abs_value), r
    return rows


@pytest.mark.parametrize("name", list(models.ZOO))
def test_forward_equals_keras_for_every_zoo_model(name):
    entry = models.ZOO[name]
    model = _randomise(models.build(name, entry.default_input_shape, CLASSES.get(name, 10)))
    x = np.random.default_rng(1).random((2, *entry.default_input_shape)).astype("float32")
    rows = _check(model, x)
    assert rows[-1].layer == "output"
    assert rows[-1].shape == (CLASSES.get(name, 10),)
    if name == "dli_asl":  # three batch norms with their moving statistics took part
        assert sum(r.kind == "BatchNormalization" for r in rows) == 3


def test_batch_norm_is_the_hand_formula():
    inputs = keras.Input((2, 2, 2))
    bn = layers.BatchNormalization(epsilon=0.01, name="bn")
    model = keras.Model(inputs, bn(inputs))
    bn.moving_mean.assign(np.array([1.0, -2.0], "float32"))
    bn.moving_variance.assign(np.array([4.0, 0.25], "float32"))
    bn.gamma.assign(np.array([2.0, 1.0], "float32"))
    bn.beta.assign(np.array([0.5, 0.0], "float32"))
    x = np.ones((1, 2, 2, 2), "float32")
    ((name, out),) = scratch.forward(model, x)
    assert name == "bn"
    np.testing.assert_allclose(out[0, 0, 0], [(1 - 1) / np.sqrt(4.01) * 2 + 0.5, 3 / np.sqrt(0.26)])


def test_strides_padding_dilation_and_other_layers():
    inputs = keras.Input((9, 8, 2), name="image")
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="s2_same")(inputs)
    x = layers.Conv2D(3, 3, dilation_rate=2, padding="same", activation="tanh", name="d2")(x)
    x = layers.Conv2D(3, 2, dilation_rate=2, name="d2_valid")(x)
    x = layers.LeakyReLU(negative_slope=0.1, name="leaky")(x)
    x = layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.05, name="relu_capped")(x)
    x = layers.AveragePooling2D(2, strides=1, padding="same", name="avg_same")(x)
    x = layers.Activation("sigmoid", name="act")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(5, activation="elu", name="dense")(x)
    x = layers.Dense(4, name="logits")(x)
    x = layers.Softmax(name="softmax")(x)
    model = _randomise(keras.Model(inputs, x))
    xin = np.random.default_rng(2).normal(size=(3, 9, 8, 2)).astype("float32")
    rows = _check(model, xin)
    shapes = {r.layer: r.shape for r in rows}
    assert shapes["s2_same"] == (5, 4, 4)  # ceil(9 / 2), ceil(8 / 2)
    assert shapes["d2_valid"] == (3, 2, 3)  # dilated 2×2 spans 3×3


def test_sequential_and_single_image():
    seq = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2D(2, 3, activation="leaky_relu"),
            layers.MaxPooling2D(2, padding="same"),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(3, activation="softmax"),
        ]
    )
    img = np.random.default_rng(3).random((6, 6, 1)).astype("float32")  # no batch axis
    out = scratch.forward(seq, img)
    assert len(out) == 5
    np.testing.assert_allclose(out[-1][1], seq.predict(img[None], verbose=0), atol=1e-6)
    _check(seq, img[None])


def test_unsupported_layers_are_named():
    inputs = keras.Input((5, 5, 1))
    x = layers.Conv2DTranspose(1, 2, name="up")(inputs)
    with pytest.raises(UnsupportedLayerError, match="'up' of type Conv2DTranspose"):
        scratch.forward(keras.Model(inputs, x), np.zeros((1, 5, 5, 1)))
    inputs = keras.Input((4,))
    x = layers.Dense(2, activation="gelu", name="fancy")(inputs)
    with pytest.raises(UnsupportedLayerError, match=r"'fancy'.*'gelu'"):
        scratch.forward(keras.Model(inputs, x), np.zeros((1, 4)))
    a = layers.Dense(2, name="a")(inputs)
    b = layers.Dense(2, name="b")(inputs)
    with pytest.raises(UnsupportedLayerError, match="type Add"):
        scratch.forward(keras.Model(inputs, layers.Add(name="sum")([a, b])), np.zeros((1, 4)))
    assert issubclass(UnsupportedLayerError, ValueError)


def test_toy_walkthrough_by_hand():
    model = models.build("toy_4x4", (4, 4, 1), 1)
    # Kernel of ones: each output cell is the sum of its 3×3 window of the input / 8.
    model.set_weights(
        [
            np.ones((3, 3, 1, 1), "float32"),
            np.array([0.0], "float32"),
            np.array([[-1.0]], "float32"),
            np.array([0.5], "float32"),
        ]
    )
    t = scratch.toy_walkthrough(model, 0)
    # Windows of [[1,2,3,4],[2,3,4,5],[5,6,7,8],[1,3,4,5]]: 33, 42, 35, 45 (then / 8).
    np.testing.assert_allclose(t.conv, np.array([[33, 42], [35, 45]]) / 8)
    np.testing.assert_allclose(t.relu, t.conv)
    assert t.pooled == pytest.approx(45 / 8) and t.pooled_at == (1, 1)
    assert t.z == pytest.approx(-45 / 8 + 0.5)
    assert t.p == pytest.approx(1 / (1 + np.exp(45 / 8 - 0.5)))
    assert t.model_p == pytest.approx(t.p, abs=1e-6)
    assert t.sum_text(0, 0).startswith("0.125×1.0000 + 0.250×1.0000 + 0.375×1.0000")
    assert t.sum_text(0, 0).endswith("+ 0.0000 = 4.1250")
    # The same numbers through the model-free path the property tests use.
    same = scratch.toy_trace(0, np.ones((3, 3)), 0.0, -1.0, 0.5)
    np.testing.assert_allclose(same.conv, t.conv) and np.testing.assert_allclose(same.p, t.p)
    steps = scratch.output_steps(t)
    assert "**5.625**" not in steps and "**5.6250** (cell (1, 1))" in steps
    assert "z = w × max + b = (-1.0000) × 5.6250 + 0.5000 = **-5.1250**" in steps
    assert f"= **{t.p:.6f}** → class **0**" in steps
    # The negative input: ReLU zeroes negative sums, and the max picks the largest cell.
    t1 = scratch.toy_walkthrough(model, 1)
    np.testing.assert_allclose(t1.conv, np.array([[1, 14], [-11, 1]]) / 8)
    np.testing.assert_allclose(t1.relu, np.array([[1, 14], [0, 1]]) / 8)
    assert t1.pooled == pytest.approx(14 / 8) and t1.model_p == pytest.approx(t1.p, abs=1e-6)


def test_train_toy_learns_and_walkthrough_matches_model():
    model, loss = scratch.train_toy(seed=0, epochs=60)
    assert len(loss) == 60 and loss[-1] < loss[0] / 2
    for i in (0, 1):
        t = scratch.toy_walkthrough(model, i)
        assert t.p == pytest.approx(t.model_p, abs=1e-6)
        assert (t.p > 0.5) == bool(scratch.TOY_Y[i])  # positive -> 0, negative -> 1
    with pytest.raises(scratch.ToyError, match="epochs must be >= 1, got 0"):
        scratch.train_toy(epochs=0)
    # Same seed, same untrained weights: the page's pre-training view is deterministic.
    w0 = scratch.toy_model(7).get_weights()
    for a, b in zip(w0, scratch.toy_model(7).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _toy(kernel: float, bias: float, dense_b: float = 0.0) -> keras.Model:
    """The toy CNN with a constant kernel: each 3×3 sum is kernel × (window sum) + bias."""
    model = models.build("toy_4x4", (4, 4, 1), 1)
    model.set_weights(
        [
            np.full((3, 3, 1, 1), kernel, "float32"),
            np.array([bias], "float32"),
            np.array([[1.0]], "float32"),
            np.array([dense_b], "float32"),
        ]
    )
    return model


def test_relu_note_only_calls_a_fault_a_fault():
    # Dead for both inputs: kernel -1 and bias -5 make every sum negative.
    dead = [scratch.toy_walkthrough(_toy(-1.0, -5.0, 0.3), i) for i in (0, 1)]
    assert all(not t.relu.any() for t in dead)
    note = scratch.relu_note(dead, [0.69] * 10)
    assert note.startswith("Dead ReLU: for every input the filter's four sums are ≤ 0")
    assert note.facts["warn"] and note.facts["kind"] == "dead"
    assert f"sigmoid(b) = {dead[0].p:.4f}" in note and dead[0].p == pytest.approx(0.5744, 1e-3)
    # Kernel -1, bias 0: input #0's sums are all negative; #1 has one window summing to -11/8,
    # so one cell passes 11/8. Dead for input #0 only; untrained (dense bias 0), so the
    # model answers sigmoid(0) = 0.5 for it: a tie, named as one.
    part = [scratch.toy_walkthrough(_toy(-1.0, 0.0), i) for i in (0, 1)]
    assert not part[0].relu.any() and part[1].relu.any()
    note = scratch.relu_note(part)
    assert note.startswith("For input #0 the ReLU outputs 0 in all four cells")
    assert note.facts["warn"] and note.facts["kind"] == "dead_input" and "**tie**" in note
    assert "Dead ReLU" not in note
    # The same, but the dense bias has learned to answer input #0 (class 0) on its own:
    # right with a tiny loss, so no fault, an explanation.
    solved = [scratch.toy_trace(i, -np.ones((3, 3)), 0.0, 10.0, -8.0) for i in (0, 1)]
    note = scratch.relu_note(solved, [0.7, 0.004])
    assert note.facts["kind"] == "solved_input" and not note.facts["warn"]
    assert "class 0, right, with a cross-entropy of 0.0003" in note and "needs none" in note
    # ... unless input #1 is still wrong (dense weight 1: z = 11/8 − 8): then it warns.
    half = [scratch.toy_walkthrough(_toy(-1.0, 0.0, -8.0), i) for i in (0, 1)]
    note = scratch.relu_note(half, [0.7, 0.004])
    assert note.facts["kind"] == "solved_input" and note.facts["warn"]
    assert "But the loss of the trained model, over both inputs, is still 3.3" in note
    # The case: the ReLU passes small values (0.05 and 0.006) but the loss of the
    # model is still above 0.6: no "dead ReLU", a sentence about the loss instead.
    alive = [scratch.toy_walkthrough(_toy(0.01, 0.0), i) for i in (0, 1)]
    assert all(t.pooled > 0 for t in alive)
    note = scratch.relu_note(alive, [0.70, 0.69, 0.65])
    final = np.mean([scratch.input_loss(t.p, i) for i, t in enumerate(alive)])
    assert note.startswith(f"The loss of the trained model is still {final:.3f} after 3 epochs")
    assert f"{alive[0].pooled:.4f}, {alive[1].pooled:.4f}" in note and "dead" not in note.lower()
    # Alive and not trained yet: nothing to say.
    assert scratch.relu_note(alive) is None


def test_toy_decisions_ties_and_agreement():
    tie = scratch.toy_trace(0, -np.ones((3, 3)), 0.0, 2.0, 0.0)  # dead, dense bias 0: p = 0.5
    assert tie.p == 0.5 and scratch.decide(tie.p) == (0, True)
    steps = scratch.output_steps(tie)
    assert "p = 1 / (1 + e^(−z)) = **0.500000** → a **tie**" in steps and "class **0**" in steps
    assert steps.facts["tie"] and steps.facts["decided"] == 0
    near = scratch.ToyTrace(
        *[getattr(tie, k) for k in tie.__dataclass_fields__][:-2], 0.1234565, 0.1234574
    )
    ag = scratch.agreement(near)  # within 1e-6, but the six decimals shown differ
    assert not ag.facts["agree"] and (ag.facts["by_hand"], ag.facts["keras"]) == (
        "0.123456",
        "0.123457",
    )
    assert scratch.agreement(tie).facts["agree"]
    assert scratch.filter_title(tie) == "2. filter w (bias 0.0000)"
