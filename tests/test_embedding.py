"""cnnviz.embedding: features equal Keras's own layer outputs, projections equal the SVD,
nearest-neighbour accuracy equals a brute-force count, and a trained CNN separates the
classes of real MNIST test digits better than the same CNN untrained."""

from __future__ import annotations

import io
import json

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz import data, embedding, explain, imaging, models
from cnnviz.embedding import EmbeddingError
from cnnviz.plots import style


@pytest.fixture(scope="module")
def cnn():
    return models.load(models.bundled(models.DEFAULT_BUNDLED))  # handwriting_cnn


@pytest.fixture(scope="module")
def digits():
    """500 of the MNIST sample's test digits (the bundled models never trained on them)."""
    ds = data.load_mnist_sample()
    idx = embedding.pick(len(ds.y_test), 500)
    return data.prepare(ds.x_test[idx]), ds.y_test[idx], idx


# ----------------------------------------------------------------------------- features


def test_default_layer_is_what_the_final_dense_reads(cnn):
    assert embedding.default_layer(cnn) == "leaky4"  # dense1 → leaky4 → dropout4 → output
    assert embedding.default_layer(models.build("book_mnist")) == "dense1"  # dropout skipped
    assert embedding.default_layer(models.load(models.bundled("cookbook_mlp"))) == "dense1"
    # a softmax as its own layer after the Dense: still the Dense's input
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Flatten(name="flat")(inputs)
    x = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(x))
    assert embedding.default_layer(model) == "flat"
    # no hidden layer at all: the output Dense reads the input
    flat_in = keras.Input((6,))
    with pytest.raises(EmbeddingError, match="no hidden layer"):
        embedding.default_layer(keras.Model(flat_in, keras.layers.Dense(2)(flat_in)))
    assert embedding.layer_choices(cnn)[0] == "conv1" and "image" not in embedding.layer_choices(
        cnn
    )
    assert embedding.feature_dims(cnn, "pool1") == 14 * 14 * 32


def test_features_equal_keras_intermediate_outputs(cnn, digits):
    x = digits[0][:20]
    feats, pred = embedding.features_and_predictions(cnn, x)
    assert feats.shape == (20, 128) and feats.dtype == np.float32
    want = keras.Model(cnn.inputs, cnn.get_layer("leaky4").output).predict(x, verbose=0)
    np.testing.assert_allclose(feats, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(pred, cnn.predict(x, verbose=0).argmax(axis=1))
    # a map layer is flattened (h, w, c) → h·w·c, in Keras's own order
    pool = embedding.features(cnn, x[:3], "pool1")
    assert pool.shape == (3, 14 * 14 * 32)
    np.testing.assert_allclose(
        pool[1], explain.activations(cnn, x[1])["pool1"].ravel(), rtol=1e-5, atol=1e-5
    )


def test_bad_layers_and_images_are_one_clear_error(cnn, digits):
    x = digits[0][:4]
    with pytest.raises(EmbeddingError, match="has no layer 'nope'"):
        embedding.features(cnn, x, "nope")
    with pytest.raises(EmbeddingError, match="is the input: it computes no features"):
        embedding.features(cnn, x, "image")
    with pytest.raises(EmbeddingError, match=r"images must be \(N, 28, 28, 1\), got \(4, 28, 28\)"):
        embedding.features(cnn, x[..., 0])
    with pytest.raises(EmbeddingError, match="no images"):
        embedding.features(cnn, x[:0])


def test_untrained_is_the_same_architecture_with_fresh_seeded_weights(cnn):
    before = [w.copy() for w in cnn.get_weights()]
    a, b, c = embedding.untrained(cnn, 0), embedding.untrained(cnn, 0), embedding.untrained(cnn, 1)
    assert [ly.name for ly in a.layers] == [ly.name for ly in cnn.layers]
    assert [w.shape for w in a.get_weights()] == [w.shape for w in cnn.get_weights()]
    for w_a, w_b in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(w_a, w_b)  # same seed, same weights
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])  # another seed
    assert not np.array_equal(a.get_weights()[0], cnn.get_weights()[0])  # not the trained ones
    conv1 = a.get_layer("conv1").get_weights()
    np.testing.assert_array_equal(conv1[1], 0)  # biases start at zero
    limit = np.sqrt(6 / (9 * 1 + 9 * 32))  # Glorot uniform, the layer's own initialiser
    assert np.abs(conv1[0]).max() <= limit and np.abs(conv1[0]).max() > 0.9 * limit
    for w_now, w_then in zip(cnn.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w_now, w_then)  # the caller's model is untouched
    # batch norm starts with its fresh statistics
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Conv2D(2, 3, name="c")(inputs))
    bn = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    bn.get_layer("bn").moving_variance.assign(np.full(2, 7.0, np.float32))
    _gamma, _beta, mean, var = embedding.untrained(bn).get_layer("bn").get_weights()
    np.testing.assert_array_equal(var, 1.0)
    np.testing.assert_array_equal(mean, 0.0)


def test_a_model_with_a_nested_base_model():
    """Transfer learning's shape: a base model called as one layer, then a Dense head."""
    keras.utils.set_random_seed(0)
    inner = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(2, 3, name="c")(inner)
    base = keras.Model(inner, keras.layers.GlobalAveragePooling2D(name="gap")(h), name="base")
    outer = keras.Input((8, 8, 1))
    model = keras.Model(outer, keras.layers.Dense(3, activation="softmax")(base(outer)))
    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype("float32")
    assert embedding.default_layer(model) == "base"
    np.testing.assert_allclose(
        embedding.features(model, x), base.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    fresh = embedding.untrained(model)
    assert not np.array_equal(fresh.get_weights()[0], model.get_weights()[0])
    for a, b in zip(fresh.get_weights(), embedding.untrained(model).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert embedding.features(fresh, x).shape == (5, 2)
    assert not embedding.is_mlp(model)


# ---------------------------------------------------------------------------- projections


def test_pca_is_the_centred_features_on_their_first_two_singular_vectors():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(60, 10)) * np.arange(10, 0, -1)  # distinct variances
    p = embedding.project(feats, "pca")
    centred = feats - feats.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    want = centred @ vt[:2].T
    signs = np.sign((p.coords * want).sum(axis=0))  # a component's sign is a convention
    np.testing.assert_allclose(p.coords * signs, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(p.explained, (s[:2] ** 2) / (s**2).sum(), rtol=1e-6)
    assert p.method == "pca" and p.perplexity is None and p.coords.shape == (60, 2)


def test_tsne_is_seeded_reduces_wide_features_first_and_keeps_neighbourhoods():
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=10, size=(3, 80))
    y = np.repeat(np.arange(3), 40)
    feats = centres[y] + rng.normal(size=(120, 80))
    a, b = embedding.project(feats, "tsne", seed=3), embedding.project(feats, "tsne", seed=3)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.reduced_to == embedding.TSNE_PCA_DIMS and a.explained is None
    assert a.perplexity == embedding.PERPLEXITY
    assert embedding.knn_accuracy(a.coords, y) == 1.0  # three blobs stay three blobs
    assert embedding.project(feats[:, :20], "tsne").reduced_to is None  # narrow: as they are


def test_projection_refuses_what_it_cannot_draw():
    ok = np.random.default_rng(0).normal(size=(100, 4))
    with pytest.raises(EmbeddingError, match="method must be one of"):
        embedding.project(ok, "umap")
    with pytest.raises(EmbeddingError, match="at least 3 images, got 2"):
        embedding.project(ok[:2])
    with pytest.raises(EmbeddingError, match="1 feature cannot be spread over 2 axes"):
        embedding.project(ok[:, :1])
    nan = ok.copy()
    nan[3, 1] = np.nan
    with pytest.raises(EmbeddingError, match="NaN or infinite"):
        embedding.project(nan)
    with pytest.raises(EmbeddingError, match="the same 4 features"):
        embedding.project(np.ones((10, 4)))
    with pytest.raises(EmbeddingError, match="needs more than 90 images, got 60"):
        embedding.project(ok[:60], "tsne")


# --------------------------------------------------------------------------- separation


def _brute_knn(x: np.ndarray, y: np.ndarray, k: int) -> float:
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)  # leave each point out of its own neighbours
    near = np.argsort(d, axis=1)[:, :k]
    votes = np.array([np.bincount(y[row], minlength=y.max() + 1) for row in near])
    return float(np.mean(votes.argmax(axis=1) == y))


def test_knn_accuracy_is_the_leave_one_out_vote():
    from sklearn.model_selection import LeaveOneOut, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(2)
    x = rng.normal(size=(80, 5))
    y = rng.integers(0, 4, 80)
    x[y == 1] += 1.5  # some structure, not perfect
    got = embedding.knn_accuracy(x, y, 5)
    assert got == _brute_knn(x, y, 5)
    loo = cross_val_predict(KNeighborsClassifier(5), x, y, cv=LeaveOneOut())
    assert got == float(np.mean(loo == y))
    # by hand: a vote tie goes to the smaller class; n ≤ k is not measured
    pts = np.array([[0.0], [1.0], [-1.0], [5.0]])
    assert embedding.knn_accuracy(pts, np.array([1, 0, 1, 0]), k=2) == 0.25
    assert np.isnan(embedding.knn_accuracy(pts, np.array([0, 0, 1, 1]), k=4))
    # duplicates: a point is never its own neighbour, its twin is
    twins = np.array([[0.0, 0], [0, 0], [9, 9], [9, 9]])
    assert embedding.knn_accuracy(twins, np.array([0, 0, 1, 1]), k=1) == 1.0


def test_trained_cnn_separates_mnist_test_digits_better_than_untrained(cnn, digits):
    x, y, idx = digits
    trained = embedding.embed(cnn, x, y, index=idx)
    fresh = embedding.embed(embedding.untrained(cnn), x, y, index=idx)
    # measured on these 500 digits: about 0.99 against 0.8 in the 128 features
    assert trained.knn_features > fresh.knn_features + 0.05
    assert trained.knn_plane > fresh.knn_plane
    assert trained.knn_features == embedding.knn_accuracy(
        embedding.features(cnn, x), y, embedding.K
    )
    assert trained.dims == 128 and trained.layer == "leaky4" and trained.n == 500
    np.testing.assert_array_equal(trained.index, idx)
    assert np.mean(trained.predicted == y) > 0.95  # handwriting_cnn reads them
    said = embedding.separation_sentence(
        trained.knn_features, fresh.knn_features, embedding.K, 500, embedding.where(128, "leaky4")
    )
    assert said.facts["higher"] == "trained"
    assert f"{100 * trained.knn_features:.1f} %" in said
    assert f"{100 * fresh.knn_features:.1f} %" in said


def test_pick_is_seeded_sorted_and_bounded():
    a = embedding.pick(2000, 1000)
    np.testing.assert_array_equal(a, embedding.pick(2000, 1000))
    assert len(np.unique(a)) == 1000 and np.all(np.diff(a) > 0) and a.max() < 2000
    np.testing.assert_array_equal(embedding.pick(300, 1000), np.arange(300))  # all there is
    with pytest.raises(EmbeddingError):
        embedding.pick(0, 10)


# -------------------------------------------------------------------------- the MLP beside


def test_the_mlp_beside_the_cnn():
    assert embedding.bundled_mlp("mnist-sample") == "cookbook_mlp"
    assert embedding.bundled_mlp("fashion_mnist") is None and embedding.bundled_mlp(None) is None
    assert embedding.is_mlp(models.load(models.bundled("cookbook_mlp")))
    assert not embedding.is_mlp(models.build("book_mnist"))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 8, 8, 1), dtype=np.uint8)
    y = rng.integers(0, 3, 64)
    a, b = embedding.train_mlp(x, y, 3), embedding.train_mlp(x, y, 3)
    assert a.get_layer("dense1").output.shape[-1] == 1000 and a.output_shape[-1] == 3
    for w_a, w_b in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(w_a, w_b)  # seeded: the same MLP every time
    assert not np.array_equal(a.get_weights()[0], models.build("cookbook_mlp", (8, 8, 1), 3)
                              .get_weights()[0])  # fmt: skip


# ----------------------------------------------------------------------------- the picture


def test_image_png_is_stored_like_the_bundled_samples():
    ds = data.load_mnist_sample()
    raw = embedding.image_png(ds.x_test[7])
    back = np.asarray(Image.open(io.BytesIO(raw)))
    np.testing.assert_array_equal(back, 255 - ds.x_test[7, ..., 0])  # dark on white
    # the bundled samples are test images of this set, stored this way: byte for byte
    assert imaging.which_sample(raw)[:2] == ("digits", int(ds.y_test[7]))
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(embedding.image_png(rgb)))), rgb)
    assert embedding.image_label(7, "mnist-sample", "3") == "test image #7 of mnist-sample (3)"


def test_scatter_marks_mistakes_and_names_each_point(cnn, digits):
    x, y, idx = digits
    emb = embedding.embed(cnn, x[:200], y[:200], index=idx[:200])
    fig = json.loads(embedding.scatter(emb, data.DIGITS, "title").to_json())
    traces = [t for t in fig["data"] if t["name"] != "✕ a mistake"]
    keys = [t for t in traces if t.get("showlegend", True)]
    assert [t["name"] for t in keys] == [str(c) for c in np.unique(y[:200])]  # one per class
    assert all(t["marker"]["symbol"] == "circle" and t["x"] == [None] for t in keys)
    traces = [t for t in traces if not t.get("showlegend", True)]  # the points
    first_cross = next(i for i, t in enumerate(traces) if t["marker"]["symbol"] == "x")
    assert all(t["marker"]["symbol"] == "x" for t in traces[first_cross:])  # ✕ drawn on top
    seen = 0
    for t in traces:
        c = int(t["name"])
        assert t["marker"]["color"] == embedding.CLASS_COLOURS[c] and t["legendgroup"] == str(c)
        for i, true, said in t.get("customdata") or []:
            row = int(np.flatnonzero(emb.index == i)[0])
            assert true == str(y[row]) == str(c) and said == str(emb.predicted[row])
            assert t["marker"]["symbol"] == ("x" if emb.predicted[row] != y[row] else "circle")
            assert embedding.predicted_for(emb, i) == emb.predicted[row]
            assert embedding.point_of({"customdata": [i, true, said]}) == i
            seen += 1
    assert seen == 200
    assert embedding.CLASS_COLOURS[:5] == style.CATEGORICAL[:5]
    assert len(set(embedding.CLASS_COLOURS)) == 10
    assert fig["layout"]["yaxis"]["scaleanchor"] == "x"  # PCA: one unit is one unit
    assert "of the variance" in fig["layout"]["xaxis"]["title"]["text"]
    assert embedding.predicted_for(emb, -1) is None and embedding.point_of({}) is None
