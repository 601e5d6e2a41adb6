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
    explain.evidence(book, three, "gradcam")
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


def test_cams_weigh_the_activated_maps_of_a_conv_with_a_separate_activation(three):
    """The default model's convs are linear, each followed by a LeakyReLU layer: the CAMs
    weigh the LeakyReLU's maps. On the raw conv output (mostly negative) Score-CAM's
    rectified sum was blank for every class; on the activated maps it points at class 3."""
    model = models.load(models.bundled(models.DEFAULT_BUNDLED))
    assert explain.conv_layers(model) == ["conv1", "conv2", "conv3"]
    assert [explain.cam_maps_layer(model, c) for c in ("conv1", "conv3")] == ["leaky1", "leaky3"]
    book = models.load(models.bundled("book_mnist"))
    assert explain.cam_maps_layer(book, "conv1") == "conv1"  # pooled directly: itself
    for method in ("scorecam", "gradcam", "layercam"):
        ev = explain.evidence(model, three, method)  # (10, 28, 28), the last conv layer
        peaks = ev.reshape(10, -1).max(axis=1)
        assert peaks.min() >= 0 and int(peaks.argmax()) == 3, (method, peaks)


def test_gradcam_plus_plus_evidence_is_in_the_scores_units(three):
    """Grad-CAM++ differentiates exp(score): tf-keras-vis's raw map carries that factor
    (~10^9 for a sure digit). The evidence divides it out, so a colour bar reads like
    Grad-CAM's, not in billions."""
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.utils.scores import CategoricalScore

    model = models.load(models.bundled(models.DEFAULT_BUNDLED))
    linear = explain.linear_clone(model)
    raw = GradcamPlusPlus(linear)(
        CategoricalScore([3]), three[None], penultimate_layer="leaky3",
        seek_penultimate_conv_layer=False, normalize_cam=False,
    )  # fmt: skip
    logit = float(np.asarray(linear(three[None], training=False))[0, 3])
    ev = explain.evidence(model, three, "gradcam++")[3]
    np.testing.assert_allclose(ev, np.maximum(raw[0] / np.exp(logit), 0), rtol=1e-4, atol=1e-7)
    assert raw.max() > 1e6 and 0 < ev.max() < 100, (raw.max(), ev.max())


def test_sanity_check_randomised_weights_change_gradcam(book, three):
    random = explain.randomized_clone(book, seed=0)
    assert not np.allclose(random.get_layer("conv1").kernel.numpy(), book.get_weights()[0])
    again = explain.randomized_clone(book, seed=0)
    np.testing.assert_array_equal(again.get_weights()[0], random.get_weights()[0])  # seeded
    rho = explain.rank_correlation(
        explain.heatmap(book, three, "gradcam", 3), explain.heatmap(random, three, "gradcam", 3)
    )
    assert abs(rho) < 0.5  # measured about -0.1: the map depends on the learned weights
    table = explain.sanity_table({"a": np.eye(3)}, {"a": np.eye(3)})
    assert table["rank correlation"] == [1.0]
    assert table["verdict"] == [
        "suspicious: |ρ| = 1.00 ≥ 0.5 (ρ = 1.00): the map barely changed when the weights "
        "were randomised"
    ]


@pytest.mark.parametrize(
    ("rho", "starts"),
    [
        (0.5, "suspicious: |ρ| = 0.50 ≥ 0.5 (ρ = 0.50)"),  # the threshold itself
        (0.4999, "passes: |ρ| = 0.4999 < 0.5 (ρ = 0.4999)"),  # shown with the digits it needs
        (-0.1, "passes: |ρ| = 0.10 < 0.5 (ρ = −0.10): the map changed with the weights"),
        # a strong anti-correlation still tracks the input (the issue's −0.51)
        (-0.51, "suspicious: |ρ| = 0.51 ≥ 0.5 (ρ = −0.51, a strong negative correlation)"),
        (-0.8, "suspicious: |ρ| = 0.80 ≥ 0.5 (ρ = −0.80, a strong negative"),
        (float("nan"), "cannot tell: one of the maps is blank"),
    ],
)
def test_sanity_verdict_edges(rho, starts):
    assert explain.sanity_verdict(rho).startswith(starts)


def test_sanity_table_blank_map_and_custom_threshold_and_rule():
    flat = np.zeros((3, 3))
    table = explain.sanity_table({"a": flat, "b": np.eye(3)}, {"a": np.eye(3), "b": np.eye(3)})
    assert np.isnan(table["rank correlation"][0]) and table["verdict"][0].startswith("cannot")
    strict = explain.sanity_table({"b": np.eye(3)}, {"b": np.eye(3)}, threshold=1.01)
    assert strict["verdict"][0].startswith("passes: |ρ| = 1.00 < 1.01")
    rule = explain.sanity_rule()
    assert "below 0.5" in rule and "0.5 or above, in either direction" in rule


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
        assert len(d.scores) == 15 and d.scores[-1] > d.scores[0] and d.box is None
    with pytest.raises(ExplainError, match="got 28"):
        explain.maximize(book, [28], "conv1", steps=1)
    with pytest.raises(ExplainError, match="got 0"):
        explain.maximize(book, [1], steps=0)
    with pytest.raises(ExplainError, match="tv_weight must be 0 or more, got -1"):
        explain.maximize(book, [1], steps=1, tv_weight=-1)


@pytest.mark.parametrize(
    ("name", "other_name"),
    [(models.DEFAULT_BUNDLED, "book_mnist"), ("book_mnist", "cookbook_cnn")],
)
def test_class_dreams_are_read_as_their_class_by_this_and_another_model(name, other_name):
    """With maximize's defaults, the ten dreams of the default model (and of book_mnist)
    are digits, not adversarial noise: the model reads them as its class, and so does a
    model of another architecture, trained apart. Measured: handwriting_cnn 10/10, read
    by book_mnist 9/10; book_mnist 10/10, read by cookbook_cnn 10/10."""
    model = models.load(models.bundled(name))
    other = models.load(models.bundled(other_name))
    dreams = explain.maximize(model, list(range(10)))
    images = np.stack([d.image for d in dreams])  # (10, 28, 28, 1)
    own = model.predict(images, verbose=0).argmax(axis=1)
    second = other.predict(images, verbose=0).argmax(axis=1)
    assert (own == np.arange(10)).sum() >= 9, own
    assert (second == np.arange(10)).sum() >= 7, second
    assert all(d.scores[-1] > d.scores[0] for d in dreams)
    assert all(0 <= d.image.min() and d.image.max() <= 1 for d in dreams)
    assert all(d.image.mean() < 0.5 for d in dreams)  # white strokes on a dark page, as MNIST


def test_filter_dreams_live_in_the_receptive_field_and_follow_the_kernel(book):
    dreams = explain.maximize(book, [0, 2, 5], "conv1", steps=60)
    weights = explain.kernels(book)[:, :, 0, :]  # (3, 3, 28)
    for f, d in zip([0, 2, 5], dreams, strict=True):
        assert d.box == (13, 13, 16, 16)  # the 3×3 pixels the centre unit of a 26×26 map sees
        assert d.view().shape == (7, 7, 1)  # plus a 2-pixel margin
        assert d.scores[-1] > d.scores[0]
        top, left, bottom, right = d.box
        wanted = d.image[top:bottom, left:right, 0] - 0.5  # brighter or darker than grey
        w = weights[..., f]
        agree = np.sum(np.abs(w) * (np.sign(wanted) == np.sign(w))) / np.abs(w).sum()
        assert agree > 0.8, (f, agree)  # a linear filter wants its kernel's sign pattern
    outside = dreams[0].image.copy()
    outside[11:18, 11:18] = 0.5
    assert np.abs(outside - 0.5).max() < 0.1  # pixels it cannot see stay neutral grey


def test_receptive_field_grows_through_pooling():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="c1")(inputs)  # (14, 14)
    x = keras.layers.MaxPooling2D(2)(x)  # (7, 7)
    x = keras.layers.Conv2D(2, 3, activation="relu", name="c2")(x)  # (5, 5)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    assert explain.receptive_field(model, "c1") == (7, 7, 10, 10)  # unit (7, 7) of 14×14
    # Unit (2, 2) of c2 sees pooled cells 2..4 = c1 cells 4..9 = input pixels 4..11.
    assert explain.receptive_field(model, "c2") == (4, 4, 12, 12)


def test_curves_verdict_never_claims_a_rise_that_is_not_there():
    rise = explain.curves_verdict({"a": [0.0, 1.0], "b": [1.0, 3.0], "c": [-2.0, -1.0]})
    assert rise.startswith("All 3 curves rose") and "-0.33 → 1" in rise
    assert explain.curves_verdict({"a": [1.0, 2.0]}).startswith("The curve rose: the target")
    mixed = explain.curves_verdict({"a": [0.0, 1.0], "b": [2.0, 2.0], "c": [3.0, 1.0]})
    assert mixed.startswith("1 of 3 curves rose; b (2 → 2), c (3 → 1) did not")
    assert explain.curves_verdict({"a": [5.0]}).startswith("One step is not a curve")
    assert explain.curves_verdict({}) == "There are no curves to read."
    assert "diverged" in explain.curves_verdict({"a": [0.0, float("nan")]})


# ---------------------------------------------------------------------------- evidence


def test_evidence_compares_classes_on_one_scale(book, three):
    for method in ("gradcam", "saliency"):
        ev = explain.evidence(book, three, method)
        assert ev.shape == (10, 28, 28) and ev.min() >= 0
        # Stretched to [0, 1] one class at a time, it is the heatmap of that class.
        for c in (3, 8):
            e = ev[c]
            stretched = (e - e.min()) / (e.max() - e.min())
            np.testing.assert_allclose(
                stretched, explain.heatmap(book, three, method, c), atol=1e-4
            )
    ev = explain.evidence(book, three, "scorecam")
    peaks = ev.reshape(10, -1).max(axis=1)
    assert peaks.argmax() == 3 and peaks[3] > 2 * np.delete(peaks, 3).max()  # measured 3.6×
    summary = explain.evidence_summary({"Score-CAM": ev}, tuple("0123456789"), 3)
    assert f"Score-CAM {peaks[3]:.3g} for the predicted 3, the largest." in summary
    assert summary.facts["top"] == {"Score-CAM": (3,)} and summary.facts["agrees"]["Score-CAM"]
    assert "not the model's evidence" not in summary  # the caveat only when a peak disagrees
    lo, hi = explain.display_limits(ev, 8, shared=True)
    assert (lo, hi) == (0.0, float(ev.max())) and hi > ev[8].max()
    assert explain.display_limits(ev, 8, shared=False) == (0.0, float(ev[8].max()))
    assert explain.display_limits(np.zeros((2, 3, 3)), 0, shared=True) == (0.0, 1.0)


def test_is_probability_output(book):
    assert explain.is_probability_output(book)
    assert not explain.is_probability_output(explain.linear_clone(book))


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


def test_heatmap_titles_name_the_method_the_layer_and_its_real_size(book):
    default = models.load(models.bundled(models.DEFAULT_BUNDLED))
    assert explain.map_title(default, "gradcam", "conv3") == (
        "Grad-CAM · conv3 7×7, upsampled to 28×28"
    )
    assert explain.map_title(default, "layercam") == "Layer-CAM · conv3 7×7, upsampled to 28×28"
    assert explain.map_title(default, "scorecam", "conv1") == "Score-CAM · conv1 28×28"
    assert explain.map_title(book, "gradcam++") == "Grad-CAM++ · conv1 26×26, upsampled to 28×28"
    assert explain.map_title(book, "saliency") == "Vanilla saliency · input 28×28"
    mlp = models.load(models.bundled("cookbook_mlp"))
    assert explain.map_title(mlp, "smoothgrad") == "SmoothGrad · input 28×28"


def test_heatmap_overlays_draw_every_colour_from_the_colour_bar():
    from cnnviz.plots import style

    image = np.zeros((6, 6, 1), np.float32)
    image[1:5, 2:4] = 1.0  # a white bar on black
    cam = np.zeros((6, 6), np.float32)
    cam[2, 2] = 3.0
    fig = plots.heatmap_overlays(image, {"Grad-CAM · c 3×3, upsampled to 6×6": cam}, 0.8)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Input 6×6", "Grad-CAM · c 3×3, upsampled to 6×6"]
    picture, heat, edge, line = fig.data
    np.testing.assert_array_equal(picture.z, image[..., 0])  # the input, as it is
    # opaque, on the sequential scale itself: a cell's colour is its colour-bar colour
    assert [list(c) for c in heat.colorscale] == [list(c) for c in style.SEQUENTIAL]
    assert (heat.zmin, heat.zmax) == (0.0, 3.0) and heat.showscale
    np.testing.assert_array_equal(heat.z, cam)
    # the outline: halfway between the input's darkest and brightest pixel, black on white
    for trace, (colour, _) in zip((edge, line), plots.OUTLINE_COLOURS, strict=True):
        assert trace.type == "contour" and trace.line.color == colour
        assert trace.contours.start == trace.contours.end == 0.5 and trace.opacity == 0.8
        assert trace.contours.coloring == "none" and trace.hoverinfo == "skip"
        assert trace.showlegend is False
    assert len(plots.heatmap_overlays(image, {"m": cam}, 0.0).data) == 2  # no outline
    flat = plots.heatmap_overlays(np.zeros((6, 6, 1)), {"m": cam}, 0.8)
    assert [t.type for t in flat.data] == ["heatmap", "heatmap"]  # a flat input: no line
    shared = plots.heatmap_overlays(image, {"m": cam}, 0.8, limits={"m": (0.0, 6.0)})
    assert shared.data[1].zmax == 6.0


def test_probabilities_are_shown_with_one_rounding():
    bars = plots.probability_bars(np.array([0.99996, 0.00004]), ("a", "b"), 2)
    assert list(bars.data[0].text) == ["> 99.9 %", "< 0.1 %"]
    dense = plots.dense_bars(np.array([0.9994, 0.0006]), "out", ("a", "b"), True)
    assert list(dense.data[0].text) == ["99.9 %", "0.1 %"]
