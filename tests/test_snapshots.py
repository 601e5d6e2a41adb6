"""Snapshots of a run (cnnviz.snapshots): what they record is what the network was.

A tiny run through the real path (``trainjob.run``: worker code, run store) records
snapshots whose last kernels are the saved model's, whose histograms count every weight
once and match numpy, whose probabilities, maps and Grad-CAM match Keras and
``explain.heatmap`` on the saved model, and which come back the same from the store.
"""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from under_jax import run_under_jax

from cnnviz import data, explain, models, runs, snapshots, training, trainjob

ROOT = Path(__file__).resolve().parent.parent
SUBSET, EPOCHS, BATCH = 300, 2, 32


def test_examples_in_the_docstrings_hold():
    result = doctest.testmod(snapshots, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0


# --- schedule ------------------------------------------------------------------------------


@given(st.integers(1, 2000), st.integers(1, 60))
def test_pick_is_log_spaced_distinct_and_keeps_both_ends(count, n):
    idx = snapshots.pick(count, n)
    assert len(idx) == min(n, count)
    assert idx[-1] == count - 1
    if len(idx) > 1:
        assert idx[0] == 0
        assert (np.diff(idx) >= 1).all()
    # denser at the start: at least as many picks in the first half as in the second
    half = (count - 1) / 2
    assert (idx <= half).sum() >= (idx > half).sum() or len(idx) <= 2


@given(st.integers(1, 300), st.integers(1, 8), st.integers(1, 64))
def test_moments_are_each_executions_end_and_never_a_stub_apart(batches, epochs, spe):
    m = snapshots.moments(batches, epochs, spe)
    assert m[0] == 0 and m[-1] == batches * epochs
    assert (np.diff(m) >= 1).all() and (np.diff(m) < 1.5 * spe + 1).all()
    for e in range(1, epochs + 1):
        assert e * batches in m  # every epoch's end
    ends = [s for s in m if 0 < s <= batches]
    keras_ends = sorted({min(k + spe, batches) for k in range(0, batches, spe)})
    assert set(ends) <= set(keras_ends)  # only moments Keras hands to callbacks
    assert set(keras_ends) - set(ends) <= ({keras_ends[-2]} if len(keras_ends) > 1 else set())


@given(st.integers(1, 100), st.integers(0, 10**7), st.integers(1, 10**4))
def test_budget_takes_fewer_snapshots_in_short_runs(n, images, per):
    got = snapshots.budget(n, images, per)
    assert min(n, 2) <= got <= n  # never more than asked; before and after training
    assert got <= max(2, 1 + math.ceil(images / per))  # at most one per `per` images
    assert snapshots.budget(n, images + per, per) >= got  # a longer run, no fewer


def test_moments_and_schedule_of_the_default_run():
    """mnist-sample's 7,200 training images at batch 128: 57 batches in executions of 8."""
    m = snapshots.moments(57, 3, 8, 128, 7200)
    assert m[:9].tolist() == [0, 8, 16, 24, 32, 40, 48, 57, 65]  # 56 left out: a stub apart
    assert snapshots.moments(57, 3, 8).tolist() == m.tolist()  # 1 batch < half of 8
    assert len(m) == 22 and snapshots.schedule(m).tolist() == m.tolist()  # 22 moments …
    n = snapshots.budget(snapshots.N_SNAPSHOTS, 3 * 7200)
    picked = snapshots.schedule(m, n)  # … of which the budget takes 16, dense at the start
    assert n == 16 and picked.tolist()[:6] == m.tolist()[:6] and picked[-1] == 171
    long = snapshots.moments(57, 20, 8, 128, 7200)
    picked = snapshots.schedule(long, 30)
    assert len(picked) == 30 and picked[0] == 0 and picked[-1] == 57 * 20
    assert picked[10] < 57 * 20 / 10  # a third of the snapshots in the first tenth


def test_bad_shapes_raise_one_sentence():
    with pytest.raises(snapshots.SnapshotError, match="must be >= 1"):
        snapshots.moments(0, 1, 1)
    with pytest.raises(snapshots.SnapshotError, match="at least one moment"):
        snapshots.pick(0)
    keras.utils.set_random_seed(0)
    model = models.build("toy_4x4", (4, 4, 1), 2)
    with pytest.raises(snapshots.SnapshotError, match=r"the probe has shape \(5, 5, 1\)"):
        snapshots._Meter(model, np.zeros((5, 5, 1)), np.zeros((1, 4, 4, 1)), [0])
    with pytest.raises(training.TrainingError, match="snapshots must be >= 0"):
        training.train(
            model, np.zeros((4, 4, 4, 1)), [0, 1, 0, 1], training.TrainConfig(snapshots=-1)
        )


# --- histograms: TensorFlow's counts are numpy's --------------------------------------------

SPECIAL = np.array(
    [0.0, -0.0, 1e-9, -1e-9, 1e-10, 1e-8, 9.99e-9, 1e3, -1e3, 999.9, 1e-5, -1e-5, 1.0, -1.0,
     10.0, 3e38, -3e38, np.inf, -np.inf, np.nan, 1e-45, -1e-45],
    dtype=np.float32,
)  # fmt: skip


def _brute_grad_bins(values: np.ndarray) -> np.ndarray:
    """Each value's gradient bin straight from the definition, one value at a time."""
    lower = [0.0] + [10.0**k for k in range(-9, 4)]  # the real powers of ten
    out = []
    for v in values.astype(np.float64):
        if math.isnan(v):
            continue
        band = max(k for k, lo in enumerate(lower) if abs(v) >= lo)
        out.append(13 + band if v > 0 else 13 - band)
    return np.bincount(out, minlength=27)


@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), max_size=60))
def test_gradient_histogram_tf_numpy_and_definition_agree(values):
    v = np.concatenate([np.array(values, np.float32), SPECIAL])
    counts, nan = snapshots.grad_histogram(v)
    tf_counts, tf_nan, tf_norm = snapshots.tf_grad_histogram(tf.constant(v))
    np.testing.assert_array_equal(counts, tf_counts.numpy())
    with np.errstate(all="ignore"):
        norm = np.sqrt(np.sum(v.astype(np.float64) ** 2))
    assert float(tf_norm) == pytest.approx(norm, rel=1e-12, nan_ok=True)
    np.testing.assert_array_equal(counts, _brute_grad_bins(v))
    assert nan == int(tf_nan) == int(np.isnan(v).sum())
    assert counts.sum() + nan == v.size  # every value once


@given(
    st.lists(st.floats(-10, 10, width=32), max_size=60),
    st.floats(1e-3, 5.0),
    st.integers(1, 40),
)
def test_weight_histogram_tf_numpy_agree_and_count_everything(values, top, bins):
    v = np.concatenate([np.array(values, np.float32), SPECIAL])
    edges = np.linspace(-top, top, bins + 1).astype(np.float32)
    counts, nan = snapshots.weight_histogram(v, edges)
    tf_counts, tf_nan = snapshots.tf_weight_histogram(
        tf.constant(v), float(edges[0]), float(edges[-1]), bins
    )
    np.testing.assert_array_equal(counts, tf_counts.numpy())
    assert nan == int(tf_nan) and counts.sum() + nan == v.size
    inside = v[np.isfinite(v) & (v > edges[0] + 1e-3 * top) & (v < edges[-1] - 1e-3 * top)]
    assert counts.sum() >= len(inside)
    assert counts[0] >= int((v < edges[0]).sum()) and counts[-1] >= int((v > edges[-1]).sum())


# --- a tiny run, the whole way through -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """book_mnist on 300 mnist-sample images, 2 epochs at batch 32, one batch per
    execution, run and stored exactly as the Train page's worker does it."""
    store = runs.RunStore(tmp_path_factory.mktemp("store"))
    token = runs.new_token()
    config = training.TrainConfig(
        epochs=EPOCHS, batch_size=BATCH, seed=3, steps_per_execution=1, snapshots=12
    )
    request = trainjob.TrainRequest(
        data.load_mnist_sample(), "book_mnist", "", config, SUBSET, str(store.root), token
    )
    reports = []
    with pytest.MonkeyPatch.context() as mp:  # a tiny run: lift the budget (see test_budget)
        mp.setattr(snapshots, "IMAGES_PER_SNAPSHOT", 1)
        record = trainjob.run(request, report=reports.append)
    ds = data.subset(data.load_mnist_sample(), SUBSET, None, seed=3)
    x_train, y_train, x_val, y_val = data.train_val_split(
        data.prepare(ds.x_train), ds.y_train, 0.1, 3
    )
    return {
        "store": store,
        "token": token,
        "record": record,
        "snaps": snapshots.load_run(store, token, record.id),
        "model": store.load_model(token, record.id),
        "reports": reports,
        "x_train": x_train,
        "y_train": y_train,
        "x_val": x_val,
        "y_val": y_val,
    }


def test_last_kernels_are_the_saved_models_kernels(tiny):
    s, model = tiny["snaps"], tiny["model"]
    assert s.kernel_layer == "conv1"
    np.testing.assert_array_equal(s.kernels[-1], explain.kernels(model, "conv1"))
    assert s.kernels.dtype == np.float32  # stored exactly, not rounded
    assert not np.array_equal(s.kernels[0], s.kernels[-1])  # and they did change


def test_schedule_steps_and_curve_places(tiny):
    s, record = tiny["snaps"], tiny["record"]
    batches = math.ceil(270 / BATCH)  # 270 training images after the 10 % split
    assert record.batches == batches == 9
    # batch 9 holds 14 images, less than half of 32: the curve merges it into batch 8's
    # point, and the snapshots leave batch 8 out
    every = snapshots.moments(batches, EPOCHS, 1, BATCH, 270)
    assert 8 not in every and 9 in every and 17 not in every
    want = snapshots.schedule(every, 12)
    np.testing.assert_array_equal(s.steps, want)
    assert s.steps[0] == 0 and s.steps[-1] == batches * EPOCHS
    np.testing.assert_allclose(s.x, snapshots.curve_x(s.steps, batches, BATCH, 270))
    # every snapshot sits on a point of the live curve (or at 0, before training)
    points = np.asarray(record.points["epoch"])
    assert all(x == 0 or np.isclose(points, x).any() for x in s.x)
    assert snapshots.nearest_points(s.x[1:], points).tolist() == [
        int(np.argmin(abs(points - x))) for x in s.x[1:]
    ]


def test_histograms_count_every_weight_once_and_match_numpy(tiny):
    s, model = tiny["snaps"], tiny["model"]
    layers = [ly for ly in model.layers if ly.trainable_weights]
    assert s.layers == [ly.name for ly in layers]
    sizes = [ly.count_params() for ly in layers]
    assert s.layer_sizes.tolist() == sizes
    # at every snapshot, each layer's counts (plus NaNs) are its number of weights
    np.testing.assert_array_equal(
        s.weight_counts.sum(-1) + s.weight_nan, np.tile(sizes, (len(s), 1))
    )
    np.testing.assert_array_equal(s.grad_counts.sum(-1) + s.grad_nan, np.tile(sizes, (len(s), 1)))
    # the last snapshot's weight counts are numpy's, in the edges fixed at step 0
    for i, layer in enumerate(layers):
        values = np.concatenate([np.asarray(w).ravel() for w in layer.get_weights()])
        counts, nan = snapshots.weight_histogram(values, s.weight_edges[i])
        np.testing.assert_array_equal(s.weight_counts[-1, i], counts)
        assert nan == s.weight_nan[-1, i] == 0
        assert s.weight_edges[i][-1] == pytest.approx(-s.weight_edges[i][0])


def test_gradients_are_keras_gradients_on_the_fixed_batch(tiny):
    s, model = tiny["snaps"], tiny["model"]
    x, y = tiny["x_train"][: snapshots.GRAD_IMAGES], tiny["y_train"][: snapshots.GRAD_IMAGES]
    assert s.grad_images == snapshots.GRAD_IMAGES
    with tf.GradientTape() as tape:
        probs = model(x, training=False)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
    layers = [ly for ly in model.layers if ly.trainable_weights]
    grads = tape.gradient(loss, [w for ly in layers for w in ly.trainable_weights])
    k = 0
    for i, layer in enumerate(layers):
        n = len(layer.trainable_weights)
        g = np.concatenate([np.asarray(v).ravel() for v in grads[k : k + n]])
        k += n
        assert s.grad_norms[-1, i] == pytest.approx(np.linalg.norm(g.astype(np.float64)), rel=1e-4)
        counts, _ = snapshots.grad_histogram(g)
        # a value within float rounding of a decade's edge may land on the other side
        assert np.abs(s.grad_counts[-1, i] - counts).sum() <= 2
    assert (
        snapshots.gradient_health_sentence(s.steps, s.layers, s.grad_norms).facts["verdict"]
        == "healthy"
    )


def test_probe_probabilities_maps_and_gradcam_are_the_models(tiny):
    s, model = tiny["snaps"], tiny["model"]
    probe = tiny["x_val"][0]
    assert s.probe_label == tiny["y_val"][0]
    np.testing.assert_allclose(s.probe, probe, atol=1e-3)  # float16 in the file
    np.testing.assert_allclose(s.probs[-1], explain.predict_proba(model, probe), atol=1e-5)
    acts = explain.activations(model, probe)
    assert s.map_layers == ["conv1"] and s.maps[0].shape == (len(s), 4, 26, 26)
    want = np.moveaxis(acts[explain.cam_maps_layer(model, "conv1")][..., :4], -1, 0)
    np.testing.assert_allclose(s.maps[0][-1].astype(np.float32), want, rtol=2e-3, atol=2e-3)
    heat = explain.heatmap(model, probe, "gradcam")  # tf-keras-vis on the saved model
    assert s.cam.shape == (len(s), 28, 28) and s.cam_reason is None
    np.testing.assert_allclose(s.cam[-1].astype(np.float32), heat, atol=3e-3)


def test_reload_from_the_store_gives_the_same_snapshots(tiny):
    store, token, record, s = tiny["store"], tiny["token"], tiny["record"], tiny["snaps"]
    path = store.snapshots_path(token, record.id)
    assert record.snapshot_bytes == path.stat().st_size == snapshots.stored_size(s) > 0
    again = store.get_run(token, record.id)
    assert again.snapshot_bytes == record.snapshot_bytes  # in run.json (the run card)
    reread = snapshots.load_run(store, token, record.id)
    for field in (
        "steps",
        "x",
        "probs",
        "kernels",
        "cam",
        "weight_counts",
        "grad_counts",
        "grad_norms",
    ):
        np.testing.assert_array_equal(getattr(reread, field), getattr(s, field))
    assert reread.class_names == list(data.DIGITS)
    assert reread.to_bytes() == s.to_bytes()
    assert snapshots.load_run(store, token, "20000101T000000-00000000") is None  # none kept
    path.write_bytes(b"not an npz")
    with pytest.raises(snapshots.SnapshotError, match="cannot be read"):
        snapshots.load_run(store, token, record.id)
    path.write_bytes(reread.to_bytes())


def test_every_progress_report_carries_the_latest_snapshot(tiny):
    reports, s = tiny["reports"], tiny["snaps"]
    seen = [p.snapshot for p in reports]
    assert all(snap is not None and len(snap) == 1 for snap in seen)
    steps = [int(snap.steps[0]) for snap in seen]
    assert steps == sorted(steps) and set(steps) <= set(s.steps.tolist())
    for p, snap in zip(reports, seen, strict=True):
        if p.kind == "batch":  # the snapshot taken at this very batch, if one was due
            done = (p.epoch - 1) * p.batches + p.batch
            assert snap.steps[0] == max(t for t in s.steps if t <= done)
        i = s.steps.tolist().index(int(snap.steps[0]))
        np.testing.assert_array_equal(snap.kernels[0], s.kernels[i])


def test_view_data_is_what_was_recorded(tiny):
    s, record = tiny["snaps"], tiny["record"]
    view = snapshots.view_data(s, points=record.points)
    json.dumps(view, allow_nan=False)  # the browser's JSON has no NaN
    assert view["steps"] == s.steps.tolist() and view["n"] == len(s)
    assert view["classes"] == list(data.DIGITS) and view["label"] == s.probe_label
    kv = snapshots.kernel_view(s)
    m = float(np.abs(kv).max())
    assert view["kernels"]["limit"] == pytest.approx(m)
    for k in (0, len(s) - 1):
        raw = np.frombuffer(__import__("base64").b64decode(view["kernels"]["levels"][k]), np.uint8)
        np.testing.assert_array_equal(raw, snapshots.levels(kv[k], -m, m).ravel())
    assert view["probs"][-1] == pytest.approx(s.probs[-1].tolist(), abs=1e-6)
    assert view["weights"]["counts"] == s.weight_counts.tolist()
    assert view["grads"]["norms"][-1] == pytest.approx(s.grad_norms[-1].tolist())
    assert view["curve"]["x"] == pytest.approx(record.points["epoch"])
    live = snapshots.view_data(tiny["reports"][-1].snapshot, live=True)
    assert live["live"] and live["n"] == 1 and live["curve"] is None


# --- other models, failures, size, backends --------------------------------------------------


def _train(name, x, y, classes=10, **config):
    keras.utils.set_random_seed(0)
    model = models.build(name, x.shape[1:], classes)
    config = {"epochs": 1, "batch_size": 16, "steps_per_execution": 1, "snapshots": 30, **config}
    result = training.train(model, x, y, training.TrainConfig(**config))
    return model, result


def test_a_model_without_convolutions_records_the_rest():
    ds = data.load_mnist_sample()
    model, result = _train("cookbook_mlp", data.prepare(ds.x_train[:64]), ds.y_train[:64])
    s = result.snapshots
    assert s.kernels is None and s.maps == [] and s.cam is None
    assert "no convolutional layer" in s.cam_reason
    assert s.grad_norms.shape == (len(s), 2) and np.isfinite(s.grad_norms).all()
    np.testing.assert_array_equal(
        s.weight_counts.sum(-1)[-1],
        [ly.count_params() for ly in model.layers if ly.trainable_weights],
    )
    claim = snapshots.kernels_settled_sentence(s.steps[:1], [])
    assert claim.facts["verdict"] == "unknown"


def test_a_sigmoid_model_gets_the_gradcam_of_its_answer():
    ds = data.load_mnist_sample()
    keep = np.isin(ds.y_train, (0, 1))
    x, y = data.prepare(ds.x_train[keep][:64]), (ds.y_train[keep][:64] == 1).astype(int)
    model, result = _train("book_mnist", x, y, classes=1, validation_split=0.25)
    s = result.snapshots
    assert s.probs.shape == (len(s), 1)
    np.testing.assert_allclose(
        s.cam[-1].astype(np.float32), explain.heatmap(model, s.probe, "gradcam"), atol=3e-3
    )


def test_a_run_that_hits_nan_shows_the_explosion():
    ds = data.load_mnist_sample()
    x, y = data.prepare(ds.x_train[:256]), ds.y_train[:256]
    _, result = _train("book_mnist", x, y, batch_size=32, optimizer="sgd", learning_rate=1e3)
    s = result.snapshots
    assert result.status == "nan"
    assert s.steps[-1] == result.batches_done  # the last snapshot: where the run stopped
    assert (s.weight_nan[-1] == s.layer_sizes).all()  # every weight NaN, counted as NaN
    np.testing.assert_array_equal(
        s.weight_counts.sum(-1) + s.weight_nan, np.tile(s.layer_sizes, (len(s), 1))
    )
    health = snapshots.gradient_health_sentence(s.steps, s.layers, s.grad_norms)
    assert health.facts["verdict"] in ("exploding", "both")
    assert health.facts["exploding_step"] <= s.steps[-1]
    settled = snapshots.kernels_settled_sentence(s.steps, s.kernel_rates(), s.kernel_layer)
    assert settled.facts["verdict"] == "nan"
    json.dumps(snapshots.view_data(s, points=result.points), allow_nan=False)
    assert snapshots.Snapshots.from_bytes(s.to_bytes()).weight_nan.tolist() == s.weight_nan.tolist()


def test_a_realistic_run_stores_under_2_mb(monkeypatch):
    """The zoo's widest conv stack (cifar_augment: six conv layers, RGB 32×32), 30
    snapshots."""
    monkeypatch.setattr(snapshots, "IMAGES_PER_SNAPSHOT", 1)
    rng = np.random.default_rng(0)
    x = rng.random((128, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    _, result = _train("cifar_augment", x, y, batch_size=4, validation_split=0.1)
    s = result.snapshots
    assert len(s) == 30 and len(s.maps) == 6
    assert snapshots.stored_size(s) < 2_000_000
    assert s.maps[0].shape[-1] <= snapshots.MAP_SIDE  # 32×32 maps averaged to 16×16
    np.testing.assert_array_equal(s.weight_counts.sum(-1)[0] + s.weight_nan[0], s.layer_sizes)


JAX_SCRIPT = """
import json, numpy as np, keras
from cnnviz import data, explain, models, snapshots, training
snapshots.IMAGES_PER_SNAPSHOT = 1
ds = data.load_mnist_sample()
x = data.prepare(ds.x_train[:96]); y = ds.y_train[:96]
model = models.build("book_mnist", (28, 28, 1), 10)
r = training.train(model, x, y, training.TrainConfig(epochs=1, batch_size=16, snapshots=5))
s = r.snapshots
print(json.dumps({"backend": keras.backend.backend(), "n": len(s), "cam": s.cam is None,
  "cam_reason": s.cam_reason, "grad_reason": s.grad_reason, "grads": s.grad_counts is None,
  "kernels": bool(np.array_equal(s.kernels[-1], explain.kernels(model))),
  "counts": (s.weight_counts.sum(-1) + s.weight_nan)[-1].tolist(),
  "sizes": [ly.count_params() for ly in model.layers if ly.trainable_weights],
  "probs": float(np.abs(s.probs[-1] - explain.predict_proba(model, s.probe)).max())}))
"""


def test_under_jax_everything_but_gradients_is_recorded():
    report = run_under_jax(JAX_SCRIPT)
    assert report["backend"] == "jax" and report["n"] == 5
    assert report["cam"] and "jax backend" in report["cam_reason"]
    assert report["grads"] and "jax backend" in report["grad_reason"]
    assert report["kernels"] and report["counts"] == report["sizes"]
    assert report["probs"] < 1e-5


def test_the_gpu_path_with_mixed_precision_records_too(monkeypatch):
    """XLA and bfloat16 maths (the GPU branch, pretended on the CPU): the recorder's graph
    reads the layers in float32 and still counts every weight."""
    monkeypatch.setattr(training, "device_name", lambda: "Pretend GPU")
    monkeypatch.setattr(snapshots, "IMAGES_PER_SNAPSHOT", 1)
    rng = np.random.default_rng(0)
    x = rng.random((256, 4, 4, 1), dtype=np.float32)
    y = rng.integers(0, 2, 256)
    keras.utils.set_random_seed(0)
    model = models.build("toy_4x4", num_classes=1)
    config = training.TrainConfig(epochs=3, batch_size=32, mixed_precision=True, snapshots=5)
    s = training.train(model, x, y, config).snapshots  # one execution an epoch on a GPU
    assert s.steps.tolist() == [0, 8, 16, 24] and np.isfinite(s.probs).all()
    np.testing.assert_array_equal(s.kernels[-1], explain.kernels(model))
    sizes = [ly.count_params() for ly in model.layers if ly.trainable_weights]
    np.testing.assert_array_equal(s.weight_counts.sum(-1) + s.weight_nan, np.tile(sizes, (4, 1)))
    assert s.cam is not None and s.cam.max() > 0
    # taken with bfloat16 maths during the run; the model answers in float32 after it
    np.testing.assert_allclose(s.probs[-1], explain.predict_proba(model, s.probe)[1:], atol=2e-3)
