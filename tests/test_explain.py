"""cnnviz.explain: activations, heatmaps cross-checked by hand, a heatmap that must point at
the evidence, the sanity check, activation maximisation, and the offline ImageNet path."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import zoom

from cnnviz import explain, imaging, models
from cnnviz.explain import ExplainError
from cnnviz.plots import inside as plots


@pytest.fixture(scope="module")
def book():
    return models.load(models.bundled("book_mnist"))


@pytest.fixture(scope="module")
def three():
    return imaging.prepare_image(imaging.load_sample(3, 0)).array  # (28, 28, 1)


def _snapshot(model):
    return [w.copy() for w in model.get_weights()]


# ------------------------------------------------------------------------- activations


def test_activation_shapes_equal_layer_output_shapes(book, three):
    acts = explain.activations(book, three)
    assert list(acts) == ["conv1", "pool1", "flatten", "dense1", "dropout1", "output"]
    for name, value in acts.items():
        assert value.shape == tuple(book.get_layer(name).output.shape[1:]), name


def test_activations_match_keras_layers_on_the_same_input(book, three):
    acts = explain.activations(book, three)
    conv = book.get_layer("conv1")(three[None]).numpy()[0]  # (26, 26, 28)
    np.testing.assert_allclose(acts["conv1"], conv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(acts["pool1"], conv.reshape(13, 2, 13, 2, 28).max(axis=(1, 3)))
    np.testing.assert_allclose(acts["output"], book.predict(three[None], verbose=0)[0], atol=1e-6)
    np.testing.assert_allclose(explain.predict_proba(book, three), acts["output"], atol=1e-6)
    assert explain.predict_proba(book, three).argmax() == 3


def test_layer_listings_and_kernels(book):
    mlp = models.load(models.bundled("cookbook_mlp"))
    assert explain.conv_layers(book) == ["conv1"]
    assert explain.feature_map_layers(book) == ["conv1", "pool1"]
    assert explain.conv_layers(mlp) == [] and explain.feature_map_layers(mlp) == []
    np.testing.assert_array_equal(explain.kernels(book), book.get_layer("conv1").kernel.numpy())
    assert explain.kernels(book).shape == (3, 3, 1, 28)
    with pytest.raises(ExplainError, match="no convolutional layer"):
        explain.kernels(mlp)
    assert "4732" in explain.passthrough_note(book, "flatten")
    assert explain.passthrough_note(book, "conv1") is None


def test_bad_inputs_raise_explain_errors_naming_the_value(book, three):
    with pytest.raises(ExplainError, match=r"\(28, 28, 3\)"):
        explain.activations(book, np.zeros((28, 28, 3), np.float32))
    with pytest.raises(ExplainError, match="'nope'"):
        explain.heatmap(book, three, "nope")
    with pytest.raises(ExplainError, match="got 10"):
        explain.heatmap(book, three, "gradcam", class_index=10)
    with pytest.raises(ExplainError, match="'dense1'"):
        explain.heatmap(book, three, "gradcam", layer="dense1")


def test_fingerprint_tracks_weights_not_identity(book):
    clone = keras.models.clone_model(book)
    clone.set_weights(book.get_weights())
    assert explain.fingerprint(clone) == explain.fingerprint(book)
    weights = clone.get_weights()
    weights[0][0, 0, 0, 0] += 1e-3
    clone.set_weights(weights)
    assert explain.fingerprint(clone) != explain.fingerprint(book)


# ---------------------------------------------------------------------------- heatmaps


@pytest.mark.parametrize("method", list(explain.METHODS))
def test_every_method_returns_a_unit_map_at_input_resolution(book, three, method):
    cam = explain.heatmap(book, three, method)
    assert cam.shape == (28, 28) and cam.dtype == np.float32
    assert cam.min() >= 0 and cam.max() == pytest.approx(1, abs=1e-3)


def test_gradcam_equals_the_formula_by_hand(book, three):
    linear = explain.linear_clone(book)
    probe = keras.Model(linear.inputs, [linear.get_layer("conv1").output, linear.output])
    with tf.GradientTape() as tape:
        maps, logits = probe(tf.constant(three[None]))
        score = logits[:, 3]
    grads = tape.gradient(score, maps).numpy()[0]  # (26, 26, 28)
    weights = grads.mean(axis=(0, 1))  # one weight per map
    cam = np.maximum((maps.numpy()[0] * weights).sum(-1), 0)  # (26, 26)
    cam = zoom(cam, 28 / 26, order=1)
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    np.testing.assert_allclose(explain.heatmap(book, three, "gradcam", 3), cam, atol=1e-4)


def test_vanilla_saliency_equals_abs_gradient_by_hand(book, three):
    linear = explain.linear_clone(book)
    x = tf.constant(three[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = linear(x)[:, 3]
    grad = np.abs(tape.gradient(score, x).numpy()[0, ..., 0])
    grad = (grad - grad.min()) / (grad.max() - grad.min())
    np.testing.assert_allclose(explain.heatmap(book, three, "saliency", 3), grad, atol=1e-4)


def test_predicted_class_is_the_default(book, three):
    np.testing.assert_array_equal(
        explain.heatmap(book, three, "gradcam"), explain.heatmap(book, three, "gradcam", 3)
    )
    assert not np.allclose(
        explain.heatmap(book, three, "gradcam", 3), explain.heatmap(book, three, "gradcam", 8)
    )


def test_caller_model_is_never_modified(book, three):
    before = _snapshot(book)
    probs = explain.predict_proba(book, three)
    for method in explain.METHODS:
        explain.heatmap(book, three, method)
    explain.maximize(book, [1], steps=2)
    explain.maximize(book, [0], "conv1", steps=2)
    explain.randomized_clone(book)
    assert book.get_layer("output").activation is keras.activations.softmax
    for a, b in zip(before, book.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(explain.predict_proba(book, three), probs, atol=1e-7)
    assert explain.linear_clone(book).get_layer("output").activation is keras.activations.linear


def test_model_without_conv_layer_gets_a_clear_message(three):
    mlp = models.load(models.bundled("cookbook_mlp"))
    with pytest.raises(ExplainError, match=r"no convolutional layer.*saliency"):
        explain.heatmap(mlp, three, "gradcam")
    assert explain.heatmap(mlp, three, "saliency").shape == (28, 28)


def _blob_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """16×16 noise images with one bright blob; class 0 = blob in the left half, 1 = right."""
    y = rng.integers(0, 2, n)
    rows = rng.integers(3, 13, n)
    cols = np.where(y == 0, rng.integers(2, 6, n), rng.integers(10, 14, n))
    r, c = np.indices((16, 16))
    dist2 = (r[None] - rows[:, None, None]) ** 2 + (c[None] - cols[:, None, None]) ** 2
    x = np.exp(-dist2 / 3.0) + rng.normal(0, 0.02, (n, 16, 16))
    return np.clip(x, 0, 1)[..., None].astype(np.float32), y


@pytest.fixture(scope="module")
def blob_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten()(x)
    # A non-negative read-out: each class adds up positive evidence. With free signs, a
    # conv channel ("blob here") gets a + weight on one side and a - weight on the other,
    # and Grad-CAM's spatially averaged weight cancels out (measured: mass ~0.6, min 0.4).
    nonneg = keras.constraints.NonNeg()
    outputs = keras.layers.Dense(2, activation="softmax", kernel_constraint=nonneg)(x)
    model = keras.Model(inputs, outputs)
    x_train, y_train = _blob_images(400, np.random.default_rng(0))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    return model


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam", "scorecam"])
def test_heatmap_mass_lies_in_the_half_that_decides_the_class(blob_model, method):
    x_test, y_test = _blob_images(12, np.random.default_rng(1))
    left = np.zeros((16, 16), bool)
    left[:, :8] = True
    fractions = []
    for image, label in zip(x_test, y_test, strict=True):
        assert explain.predict_proba(blob_model, image).argmax() == label
        cam = explain.heatmap(blob_model, image, method, layer="conv2")
        fractions.append(explain.mass_fraction(cam, left if label == 0 else ~left))
    assert np.mean(fractions) > 0.7, fractions  # measured 0.80-0.87 depending on method
    assert min(fractions) > 0.6, fractions


def test_sanity_check_randomised_weights_change_gradcam(book, three):
    random = explain.randomized_clone(book, seed=0)
    assert not np.allclose(random.get_layer("conv1").kernel.numpy(), book.get_weights()[0])
    again = explain.randomized_clone(book, seed=0)
    np.testing.assert_array_equal(again.get_weights()[0], random.get_weights()[0])  # seeded
    rho = explain.rank_correlation(
        explain.heatmap(book, three, "gradcam", 3), explain.heatmap(random, three, "gradcam", 3)
    )
    assert rho < 0.5  # measured about -0.1: the map depends on the learned weights
    table = explain.sanity_table({"a": np.eye(3)}, {"a": np.eye(3)})
    assert table == {"method": ["a"], "rank correlation": [1.0], "verdict": ["similar: suspicious"]}


def test_rank_correlation_and_mass_fraction_by_hand():
    a = np.array([[0.0, 1.0], [2.0, 3.0]])
    assert explain.rank_correlation(a, a * 10 + 1) == pytest.approx(1.0)
    assert explain.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert explain.rank_correlation(a, np.zeros_like(a)) == 0.0
    mask = np.array([[True, False], [False, True]])
    assert explain.mass_fraction(a, mask) == pytest.approx(3 / 6)
    assert explain.mass_fraction(np.zeros((2, 2)), mask) == 0.0


# ------------------------------------------------------------- activation maximisation


def test_maximize_raises_each_target_and_keeps_range(book):
    dreams = explain.maximize(book, [3, 7], steps=15, seed=0)
    assert len(dreams) == 2
    for d in dreams:
        assert d.image.shape == (28, 28, 1) and 0 <= d.image.min() and d.image.max() <= 1
        assert len(d.scores) == 15 and d.scores[-1] > d.scores[0]
    filt = explain.maximize(book, [5], "conv1", steps=15)[0]
    assert filt.scores[-1] > filt.scores[0]
    with pytest.raises(ExplainError, match="got 28"):
        explain.maximize(book, [28], "conv1", steps=1)
    with pytest.raises(ExplainError, match="got 0"):
        explain.maximize(book, [1], steps=0)


# ---------------------------------------------------------------------------- ImageNet


def test_imagenet_model_offline_gives_a_clear_message(monkeypatch):
    from keras.src.utils import file_utils

    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs.get("origin") or args[1:2])
        raise OSError("network is unreachable")

    monkeypatch.setattr(file_utils, "get_file", refuse)
    with pytest.raises(ExplainError, match="could not be downloaded"):
        explain.imagenet_model()
    assert calls, "the weights download was attempted (and refused)"
    labels = explain.imagenet_labels(np.eye(1000)[7] * 0.9)
    assert labels[0] == ("class 7", pytest.approx(0.9))  # names are offline too


# ------------------------------------------------------------------------------- plots


def test_mosaic_and_figures_carry_the_real_numbers(book, three):
    maps = np.arange(12.0).reshape(2, 2, 3)  # three 2×2 maps
    tiled, cols = plots.mosaic(maps, cols=2)
    assert cols == 2 and tiled.shape == (5, 5)
    np.testing.assert_array_equal(tiled[:2, :2], maps[..., 0])
    np.testing.assert_array_equal(tiled[3:, :2], maps[..., 2])
    assert np.isnan(tiled[2]).all() and np.isnan(tiled[3:, 3:]).all()
    fig = plots.kernel_grid(explain.kernels(book))
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z[:3, :3], explain.kernels(book)[..., 0, 0], rtol=1e-6)
    acts = explain.activations(book, three)
    fm = plots.feature_maps(acts["conv1"], "conv1", max_maps=8)
    raw = np.asarray(fm.data[0].customdata)[..., 0]
    np.testing.assert_allclose(raw[:26, :26], acts["conv1"][..., 0], rtol=1e-6)
    bars = plots.probability_bars(explain.predict_proba(book, three), tuple("0123456789"), 3)
    assert bars.data[0].y[0] == "3" and len(bars.data[0].y) == 3


def test_one_unit_sigmoid_model_has_two_classes():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Flatten()(x)
    binary = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    image = np.random.default_rng(0).random((8, 8, 1)).astype(np.float32)
    probs = explain.predict_proba(binary, image)
    p1 = float(binary(image[None])[0, 0])
    np.testing.assert_allclose(probs, [1 - p1, p1], atol=1e-6)
    yes, no = (explain.heatmap(binary, image, "saliency", c) for c in (1, 0))
    np.testing.assert_allclose(yes, no, atol=1e-6)  # |gradient| is the same for ±logit
    with pytest.raises(ExplainError, match="got 2"):
        explain.heatmap(binary, image, "gradcam", class_index=2)
    with pytest.raises(ExplainError, match="one sigmoid unit"):
        explain.heatmap(binary, image, "scorecam")
