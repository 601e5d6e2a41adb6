"""cnnviz.transfer: split, freeze, fine-tune, the cached-features path, ImageNet bases.

Tiny models (12×12 images, a few filters) keep every test fast; the one test on the
bundled digits 0–4 base uses 5 labels per class and few epochs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from under_jax import run_under_jax

from cnnviz import data, training, transfer, translation
from cnnviz.transfer import HeadSpec, TransferConfig, TransferError

ROOT = Path(__file__).resolve().parent.parent


def _tiny(num_classes: int = 3, seed: int = 0) -> keras.Model:
    """Two conv blocks; batch norm and dropout in the top block, as real bases have."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 1), name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)  # (batch, 6, 6, 4)
    x = layers.Conv2D(6, 3, padding="same", name="conv2")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.Activation("relu", name="relu2")(x)
    x = layers.Dropout(0.3, name="drop2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)  # (batch, 3, 3, 6)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="tiny")


def _images(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright blob top-left (class 0) or bottom-right (class 1), with noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.2, (n, 12, 12, 1)).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 0, 1:5, 1:5] += 0.8
    x[y == 1, 7:11, 7:11] += 0.8
    return x, y.astype(np.int64)


def _weights(model: keras.Model, names) -> dict[str, list[np.ndarray]]:
    return {n: [np.array(w) for w in model.get_layer(n).get_weights()] for n in names}


def _same(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


# --- split and blocks ---------------------------------------------------------------------------


def test_split_cuts_before_flatten_on_a_copy():
    model = _tiny()
    before = [np.array(w) for w in model.get_weights()]
    cut = transfer.split(model)
    assert cut.cut == "pool2"
    assert [lay.name for lay in cut.base.layers] == [
        "image", "conv1", "pool1", "conv2", "bn2", "relu2", "drop2", "pool2",
    ]  # fmt: skip
    assert cut.base.output_shape == (None, 3, 3, 6)
    assert cut.head.output_shape == (None, 3)
    # a copy: same numbers, other variables; the dropout became an identity
    assert cut.base.get_layer("conv1") is not model.get_layer("conv1")
    assert isinstance(cut.base.get_layer("drop2"), layers.Identity)
    np.testing.assert_array_equal(
        cut.base.get_layer("conv2").get_weights()[0], model.get_layer("conv2").get_weights()[0]
    )
    x, _ = _images(4)
    np.testing.assert_allclose(cut.head(cut.base(x)), model(x, training=False), atol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert transfer.split(model, cut="pool1").base.output_shape == (None, 6, 6, 4)
    with pytest.raises(TransferError, match="no layer 'nope'"):
        transfer.split(model, cut="nope")
    flat = keras.Model(inp := keras.Input((4,)), layers.Dense(2)(inp))
    with pytest.raises(TransferError, match="no convolutional feature map"):
        transfer.split(flat)


def test_blocks_end_where_the_feature_map_shrinks():
    base = transfer.split(_tiny()).base
    assert transfer.blocks(base) == [
        ["conv1", "pool1"],
        ["conv2", "bn2", "relu2", "drop2", "pool2"],
    ]
    # a strided convolution ends a block too; layers after the last one join the top block
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(2, 3, padding="same", name="a")(inputs)
    x = layers.Conv2D(2, 3, strides=2, padding="same", name="b")(x)
    x = layers.Conv2D(2, 3, padding="same", name="c")(x)
    assert transfer.blocks(keras.Model(inputs, x)) == [["a", "b"], ["c"]]


# --- freezing and fine-tuning -----------------------------------------------------------------


def test_feature_extraction_leaves_every_base_weight_unchanged():
    x, y = _images()
    tm = transfer.transfer_model(transfer.split(_tiny()).base, 2, HeadSpec(dropout=0.5))
    transfer.freeze_base(tm)
    base_before = _weights(tm.model, tm.base_layers)
    head_before = _weights(tm.model, ["output"])
    # in the graph, with augmentation in front of the frozen base, three epochs
    aug = training.Augmentation(rotation=10, shift=0.1)
    cfg = training.TrainConfig(epochs=3, batch_size=16, validation_split=0.0, augmentation=aug)
    training.train(tm.model, x, y, cfg)
    after = _weights(tm.model, tm.base_layers)
    for name in tm.base_layers:  # kernels, biases, BN's gamma/beta AND moving statistics
        assert _same(base_before[name], after[name]), name
    assert not _same(head_before["output"], _weights(tm.model, ["output"])["output"])
    rows = {r["layer"]: r for r in transfer.trainable_counts(tm.model)}
    assert rows["conv2"] == {
        "layer": "conv2", "type": "Conv2D", "trainable": 0, "non-trainable": 222, "frozen": True,
    }  # fmt: skip
    assert rows["output"]["trainable"] == 3 * 3 * 6 * 2 + 2 and not rows["output"]["frozen"]


def test_fine_tuning_changes_only_the_unfrozen_layers():
    x, y = _images()
    tm = transfer.transfer_model(transfer.split(_tiny()).base, 2, HeadSpec(dropout=0.0))
    unfrozen = transfer.unfreeze_top(tm, 1)
    assert unfrozen == ["conv2"]  # bn2 is in the top block but stays frozen
    assert not tm.model.get_layer("bn2").trainable
    before = _weights(tm.model, [*tm.base_layers, "output"])
    training.train(
        tm.model, x, y, training.TrainConfig(epochs=3, batch_size=16, validation_split=0)
    )
    after = _weights(tm.model, [*tm.base_layers, "output"])
    changed = {n for n in before if not _same(before[n], after[n])}
    assert changed == {"conv2", "output"}
    rows = {r["layer"]: r for r in transfer.trainable_counts(tm.model)}
    assert rows["conv2"]["trainable"] == 222 and rows["bn2"]["non-trainable"] == 24
    with pytest.raises(TransferError, match="between 1 and 2 blocks"):
        transfer.unfreeze_top(tm, 3)


def test_cached_features_train_the_same_head_as_the_frozen_graph():
    x, y = _images(40)
    base = transfer.split(_tiny()).base  # its batch norm and dropout: inference behaviour
    graph = transfer.transfer_model(base, 2, HeadSpec(dropout=0.0))
    cached = transfer.transfer_model(transfer.split(_tiny()).base, 2, HeadSpec(dropout=0.0))
    cached.model.get_layer("output").set_weights(graph.model.get_layer("output").get_weights())
    transfer.freeze_base(graph)
    start = np.array(graph.model.get_layer("output").get_weights()[0])
    feats = transfer.features(cached, x)
    assert feats.shape == (40, 3 * 3 * 6)
    # one batch per epoch, so the order of the images cannot matter
    cfg = training.TrainConfig(epochs=5, batch_size=40, validation_split=0.0, learning_rate=1e-2)
    training.train(graph.model, x, y, cfg)
    training.train(cached.head_model, feats, y, cfg)
    w_graph = graph.model.get_layer("output").get_weights()
    w_cached = cached.model.get_layer("output").get_weights()  # head_model shares the layer
    assert not np.allclose(w_graph[0], start)  # it trained
    for a, b in zip(w_graph, w_cached, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(
        graph.model.predict(x, verbose=0), cached.model.predict(x, verbose=0), atol=1e-5
    )


def test_transfer_model_checks_its_settings():
    base = transfer.split(_tiny()).base
    with pytest.raises(TransferError, match="at least 2 classes, got 1"):
        transfer.transfer_model(base, 1)
    with pytest.raises(TransferError, match="pooling must be one of flatten, avg, got 'max'"):
        transfer.transfer_model(base, 2, HeadSpec(pooling="max"))
    with pytest.raises(TransferError, match=r"head dropout must be in \[0, 1\), got 1.0"):
        transfer.transfer_model(base, 2, HeadSpec(dropout=1.0))
    with pytest.raises(TransferError, match="epochs must be >= 1, got 0"):
        TransferConfig(epochs=0)
    with pytest.raises(TransferError, match="fine tune learning rate must be > 0"):
        TransferConfig(fine_tune_learning_rate=0.0)
    tm = transfer.transfer_model(base, 4, HeadSpec(pooling="avg", hidden_units=8, dropout=0.2))
    assert [lay.name for lay in tm.model.layers[-4:]] == [
        "features", "head_dense", "head_dropout", "output",
    ]  # fmt: skip
    assert tm.feature_model.output_shape == (None, 6) and tm.model.output_shape == (None, 4)


# --- compare ------------------------------------------------------------------------------------


def test_compare_trains_three_contenders_on_the_same_images():
    x, y = _images(48)
    xt, yt = _images(40, seed=1)
    base = transfer.split(_tiny()).base
    seen, results = [], []
    cfg = TransferConfig(epochs=2, fine_tune_epochs=1, batch_size=16, head=HeadSpec(dropout=0))
    c = transfer.compare(
        base, x, y, xt, yt, 2, cfg, xt[:10], yt[:10],
        on_progress=seen.append, on_result=results.append,
    )  # fmt: skip
    assert list(c.results) == list(transfer.CONTENDERS) and not c.stopped
    assert [r.name for r in results] == ["feature extraction", "fine-tuning", "from scratch"]
    fe, ft, sc = (c.results[n] for n in transfer.CONTENDERS[1:] + transfer.CONTENDERS[:1])
    assert len(fe.history["loss"]) == 2 and len(fe.history["val_accuracy"]) == 2
    assert len(ft.history["loss"]) == 3 and ft.stage_epochs == 2  # both stages, one curve
    assert ft.history["loss"][:2] == fe.history["loss"]
    assert len(sc.history["loss"]) == 3  # as many epochs as fine-tuning's two stages
    assert ft.unfrozen == ["conv2"]
    for r in c.results.values():  # the reported accuracy is the model's, on the test set
        assert r.test_accuracy == pytest.approx(transfer.accuracy(r.model, xt, yt))
        assert r.line == f"{r.name}: {r.test_accuracy:.4f}"
    # feature extraction's model was kept before fine-tuning changed the weights
    assert not np.array_equal(
        fe.model.get_layer("conv2").get_weights()[0], ft.model.get_layer("conv2").get_weights()[0]
    )
    assert all(lay.trainable for lay in sc.model.layers if lay.weights)
    assert not fe.model.get_layer("conv2").trainable  # frozen flags kept in the snapshot
    done = [p.done for p in seen]
    assert done == sorted(done) and done[-1] == pytest.approx(1.0)
    assert {p.contender for p in seen} == set(transfer.CONTENDERS)


def test_compare_stops_and_keeps_what_finished():
    x, y = _images(48)
    calls = {"n": 0}

    def stop_after_feature_extraction() -> bool:
        calls["n"] += 1
        return bool(results)

    results = []
    c = transfer.compare(
        transfer.split(_tiny()).base, x, y, x, y, 2,
        TransferConfig(epochs=1, fine_tune_epochs=1, batch_size=16),
        should_stop=stop_after_feature_extraction, on_result=results.append,
    )  # fmt: skip
    assert c.stopped and list(c.results) == ["feature extraction"]
    assert c.results["feature extraction"].finished  # it ran every epoch before the stop
    said = transfer.advantage_sentence(c.results, transfer.CONTENDERS)
    acc = c.results["feature extraction"].test_accuracy
    assert said == (
        f"Only feature extraction finished ({acc:.1%} test accuracy); from scratch and "
        "fine-tuning did not start: there are not two finished contenders to compare."
    )
    with pytest.raises(TransferError, match="contenders must be among"):
        transfer.compare(transfer.split(_tiny()).base, x, y, x, y, 2, contenders=("magic",))


def test_a_contender_stopped_mid_stage_is_not_finished():
    """The issue: Stop during fine-tuning epoch 2 showed fine-tuning as if it had finished."""
    x, y = _images(48)  # batch 16: 3 batches per epoch
    reached = {}

    def on_progress(p: transfer.TransferProgress) -> None:
        if p.contender == "fine-tuning" and p.epoch == 2:
            reached["at"] = p

    cfg = TransferConfig(epochs=1, fine_tune_epochs=3, batch_size=16, head=HeadSpec(dropout=0))
    c = transfer.compare(
        transfer.split(_tiny()).base, x, y, x[:20], y[:20], 2, cfg, x[:10], y[:10],
        on_progress=on_progress, should_stop=lambda: "at" in reached,
    )  # fmt: skip
    assert c.stopped and list(c.results) == ["feature extraction", "fine-tuning"]
    fe, ft = c.results["feature extraction"], c.results["fine-tuning"]
    assert fe.finished and fe.stopped_at is None
    assert not ft.finished
    stop = ft.stopped_at
    assert (stop.stage, stop.epoch, stop.epochs, stop.reason) == ("fine-tuning", 2, 3, "stop")
    assert 1 <= stop.batch <= stop.batches == 3
    assert stop.epoch_fraction == pytest.approx(1 + stop.batch / 3)
    # Keras closes the stopped epoch: one point for it, after stage 1's single epoch
    assert len(ft.history["loss"]) == 1 + 2 and ft.stage_epochs == 1
    # its accuracy is the model's as it was when it stopped, on the test images
    assert ft.test_accuracy == pytest.approx(transfer.accuracy(ft.model, x[:20], y[:20]))
    assert ft.line.endswith("(stopped)")
    # "after" epoch 2 when its last batch had run, else "at" epoch 2 and which batch
    whole = stop.batch == stop.batches
    where = "after fine-tuning epoch 2 of 3" if whole else "at fine-tuning epoch 2 of 3"
    label = transfer.contender_label(ft)
    assert label == f"fine-tuning · stopped {where} · test accuracy so far"
    said = transfer.advantage_sentence(c.results, transfer.CONTENDERS)
    assert said.facts["compared"] == () and said.facts["finished"] == ("feature extraction",)
    assert "nothing to compare" not in said
    batch = "" if whole else f" (batch {stop.batch} of 3)"
    assert f"fine-tuning was stopped {where}{batch} with {ft.test_accuracy:.1%} so far" in said

    # the results, without the models, survive a trip through JSON (the page keeps them)
    import json

    back = transfer.ContenderResult.from_json(json.loads(json.dumps(ft.to_json())))
    assert back.model is None and back.stopped_at == stop and not back.finished
    assert back.history == ft.history and back.test_accuracy == ft.test_accuracy
    assert (back.seconds, back.stage_seconds, back.unfrozen) == (
        ft.seconds,
        ft.stage_seconds,
        ft.unfrozen,
    )


def test_transfer_curves_use_the_train_pages_line_styles():
    """One convention in the app: training solid, validation dashed, as on the Train page;
    the legend says so and names no test accuracy (it is measured on another set)."""
    from cnnviz.plots import training as train_plots
    from cnnviz.plots import transfer as transfer_plots

    hist = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.7],
            "val_accuracy": [0.4, 0.7]}  # fmt: skip
    train_fig = train_plots.learning_curves({"run": {"history": hist}})
    dash = {}
    for trace in train_fig.data:
        part = "validation" if "validation" in trace.name else "training"
        dash.setdefault(part, set()).add(trace.line.dash or "solid")
    assert dash == {"training": {"solid"}, "validation": {"dash"}}  # the Train page
    fig = transfer_plots.comparison_curves({"fine-tuning": hist, "from scratch": hist})
    for trace in fig.data:
        part = trace.name.rsplit(" · ", 1)[1]
        assert trace.line.dash == {"training": "solid", "validation": "dash"}[part]
        assert "test" not in trace.name
    assert fig.layout.legend.title.text == "solid: training · dashed: validation"


def test_a_stopped_contenders_bar_says_so_far():
    from cnnviz.plots import transfer as transfer_plots

    fig = transfer_plots.test_accuracy_bars(
        {"feature extraction": 0.92, "fine-tuning": 0.989}, stopped=["fine-tuning"]
    )
    bar = fig.data[0]
    assert list(bar.text) == ["92.0%", "98.9% so far (stopped)"]
    assert list(bar.marker.pattern.shape) == ["", "/"]
    assert fig.layout.xaxis.title.text == "test accuracy"


def test_a_stopped_epoch_is_drawn_where_it_stopped():
    hist = {"loss": [1.0, 0.8, 0.6, 0.5, 0.45], "val_loss": [1.0, 0.9, 0.7, 0.6, 0.55]}
    from cnnviz.plots import transfer as transfer_plots

    # fine-tuning after 3 epochs of stage 1, stopped half way through its epoch 2
    fig = transfer_plots.comparison_curves({"fine-tuning": hist}, 3, {"fine-tuning": 1.5})
    loss = next(t for t in fig.data if t.name == "fine-tuning · training" and t.xaxis == "x2")
    assert list(loss.x) == [3.0, 4.0, 4.5] and list(loss.y) == [0.6, 0.5, 0.45]
    assert fig.layout.shapes[0].x0 == 3  # fine-tuning starts where feature extraction ended


def _result(name: str, acc: float) -> transfer.ContenderResult:
    return transfer.ContenderResult(name, {}, acc, None, 0.0)


@pytest.mark.parametrize(
    ("accs", "expected"),
    [
        ((0.70, 0.85, 0.90), "fine-tuning (90.0%) beats training from scratch (70.0%), by 20.0 "),
        ((0.80, 0.85, 0.83), "feature extraction (85.0%) beats training from scratch (80.0%)"),
        ((0.90, 0.905, 0.895), "feature extraction (90.5%) matches training from scratch "
         "(90.0%), 0.5 points apart,"),
        ((0.95, 0.90, 0.92), "fine-tuning (92.0%) does worse than training from scratch "
         "(95.0%), by 3.0 points,"),
    ],
)  # fmt: skip
def test_advantage_sentence(accs, expected):
    results = {n: _result(n, a) for n, a in zip(transfer.CONTENDERS, accs, strict=True)}
    assert expected in transfer.advantage_sentence(results)


# --- the offline demonstration ------------------------------------------------------------------


def test_digits_task_draws_k_labels_per_class_apart_from_validation():
    ds = data.load_mnist_sample()
    task = transfer.digits_task(ds, 5, seed=0)
    assert task.x_train.shape == (25, 28, 28, 1) and task.x_train.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(task.y_train), [5] * 5)
    np.testing.assert_array_equal(np.bincount(task.y_val), [transfer.VAL_PER_CLASS] * 5)
    assert task.class_names == ("5", "6", "7", "8", "9")
    # the test set is every 5–9 of the test split, relabelled 0–4
    n_test = int(np.isin(ds.y_test, transfer.NEW_DIGITS).sum())
    assert len(task.y_test) == n_test and set(task.y_test) == {0, 1, 2, 3, 4}
    # no labelled image is also a validation image
    flat = {im.tobytes() for im in task.x_val}
    assert not any(im.tobytes() in flat for im in task.x_train)
    again = transfer.digits_task(ds, 5, seed=0)
    np.testing.assert_array_equal(again.x_train, task.x_train)
    other = transfer.digits_task(ds, 5, seed=1)
    assert not np.array_equal(other.x_train, task.x_train)
    everything = transfer.digits_task(ds, None)
    assert len(everything.y_train) == int(np.isin(ds.y_train, transfer.NEW_DIGITS).sum()) - 250
    with pytest.raises(TransferError, match="labels per class must be between 1 and"):
        transfer.digits_task(ds, 5000)


def test_bundled_base_beats_training_from_scratch_with_few_labels():
    base = transfer.load_digits_base()
    assert base.output_shape == (None, 5)  # it knows digits 0–4 only
    # what the page says of it (transfer.digits_base_sentence): "(three conv blocks)"
    cut = transfer.blocks(transfer.split(base).base)
    assert len(cut) == 3 and all(any(n.startswith("conv") for n in b) for b in cut)
    card = transfer.DIGITS_BASE.with_suffix(".json")
    assert '"model": "fashion_leaky"' in card.read_text()
    # fewer epochs at a larger learning rate than the CLI, so the test stays quick
    cfg = transfer.digits_config(
        epochs=15, learning_rate=3e-3, fine_tune_epochs=2, scratch_epochs=10
    )
    comparison, _task = transfer.digits_comparison(5, cfg, base=base)
    acc = {n: r.test_accuracy for n, r in comparison.results.items()}
    best = max(acc["feature extraction"], acc["fine-tuning"])
    assert best - acc["from scratch"] >= 0.05, acc
    assert acc["feature extraction"] > 0.5  # five classes: chance is 0.2


# --- augmentation in degrees --------------------------------------------------------------------


def _bar_angle(img: np.ndarray) -> float:
    """Orientation of a bright bar, degrees anticlockwise from horizontal (y up)."""
    w = np.clip(img[..., 0], 0, None)
    rows, cols = np.indices(w.shape)
    ys, xs = -(rows - (w * rows).sum() / w.sum()), cols - (w * cols).sum() / w.sum()
    cxx, cyy, cxy = (w * xs * xs).sum(), (w * ys * ys).sum(), (w * xs * ys).sum()
    return float(np.degrees(0.5 * np.arctan2(2 * cxy, cxx - cyy)))


def test_rotation_in_degrees_turns_an_image_by_that_angle():
    aug = training.Augmentation(rotation=20)  # the cookbook's rotation_range=20
    (layer,) = training.augmentation_layers(aug)
    assert isinstance(layer, layers.RandomRotation)
    assert layer.factor == pytest.approx((-20 / 360, 20 / 360))  # ±20°, as a fraction of a turn
    img = np.zeros((41, 41, 1), np.float32)
    img[19:22, 6:35] = 1.0  # a horizontal bar
    assert _bar_angle(img) == pytest.approx(0.0, abs=0.1)
    # the same layer at the edge of its range: exactly +20°
    edge = layers.RandomRotation((layer.factor[1], layer.factor[1]), fill_mode="constant")
    turned = np.asarray(edge(img[None], training=True))[0]
    assert _bar_angle(turned) == pytest.approx(20.0, abs=0.5)
    # and it is the same picture as cnnviz's numpy rotation by 20° anticlockwise
    reference = translation.rotate(img[..., 0], 20.0)
    assert np.abs(turned[..., 0] - reference).mean() < 0.01


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rotation": 200}, r"angle in degrees in \[0, 180\] \(20 = up to ±20°\), got 200"),
        ({"rotation": -5}, "got -5"),
        ({"zoom": 1.5}, r"zoom is a fraction in \[0, 1\]"),
        ({"width_shift": -0.1}, "width shift is a fraction"),
        ({"fill_mode": "wrap"}, "fill mode must be one of nearest, constant, reflect, got 'wrap'"),
    ],
)
def test_augmentation_checks_its_ranges(kwargs, match):
    with pytest.raises(training.TrainingError, match=match):
        training.Augmentation(**kwargs)


def test_augmentation_layers_follow_the_textbook_settings():
    cifar = training.AUGMENTATION_PRESETS["cookbook CIFAR"]
    assert (cifar.rotation, cifar.shifts, cifar.flip, cifar.fill_mode) == (
        20, (0.1, 0.1), True, "nearest",
    )  # fmt: skip
    assert cifar.describe() == "rotation ±20°, shift 10%, horizontal flip (fill: nearest)"
    aug = training.Augmentation(width_shift=0.2, height_shift=0.1, zoom=0.3, fill_mode="reflect")
    trans, zoom = training.augmentation_layers(aug)
    assert (trans.height_factor, trans.width_factor) == (0.1, 0.2)
    assert trans.fill_mode == "reflect" and zoom.fill_mode == "reflect"
    assert zoom.height_factor == 0.3
    assert training.Augmentation(shift=0.1, width_shift=0.3).shifts == (0.1, 0.3)
    assert not training.Augmentation(fill_mode="nearest").active
    assert training.Augmentation().describe() == "none"


# --- ImageNet bases (offline: random weights, local files) --------------------------------------


def test_imagenet_weight_addresses_are_keras_own():
    from keras.src.applications import efficientnet, mobilenet_v2

    mnv2 = transfer.APPLICATIONS["mobilenet_v2"]
    assert mnv2.url.format(size=224) == (
        mobilenet_v2.BASE_WEIGHT_PATH
        + "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    )
    eff = transfer.APPLICATIONS["efficientnet_b0"]
    assert eff.url == efficientnet.BASE_WEIGHTS_PATH + "efficientnetb0_notop.h5"
    assert eff.md5 == efficientnet.WEIGHTS_HASHES["b0"][1]


@pytest.mark.parametrize("name", list(transfer.APPLICATIONS))
def test_preprocessing_layer_is_the_models_preprocess_input(name):
    app = transfer.APPLICATIONS[name]
    module = getattr(keras.applications, app.module)
    x01 = np.random.default_rng(0).uniform(0, 1, (2, 5, 5, 3)).astype(np.float32)
    ours = np.asarray(transfer.preprocessing_layer(name)(x01))
    theirs = np.asarray(module.preprocess_input(x01 * 255.0))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("name", list(transfer.APPLICATIONS))
def test_imagenet_base_builds_and_trains_one_step_offline(name):
    full = transfer.application_base(name, weights=None)  # the size its weights know
    assert full.input_shape == (None, 224, 224, 3) and full.output_shape[1:3] == (7, 7)
    assert full.layers[1].name == "preprocess"
    base = transfer.application_base(name, weights=None, image_size=64)
    assert not any(isinstance(lay, layers.Dropout) for lay in base.layers)
    cfg = transfer.imagenet_config()
    tm = transfer.transfer_model(base, 2, cfg.head)
    transfer.freeze_base(tm)
    x = np.random.default_rng(0).uniform(0, 1, (4, 64, 64, 3)).astype(np.float32)
    frozen = [np.array(w) for w in tm.feature_model.weights]
    out_before = np.array(tm.model.get_layer("output").get_weights()[0])
    result = training.train(
        tm.model, x, np.array([0, 1, 0, 1]),
        training.TrainConfig(epochs=1, batch_size=4, validation_split=0.0),
    )  # fmt: skip
    assert len(result.history["loss"]) == 1 and np.isfinite(result.history["loss"][0])
    assert not np.array_equal(out_before, tm.model.get_layer("output").get_weights()[0])
    assert all(np.array_equal(a, b) for a, b in zip(frozen, tm.feature_model.weights, strict=True))
    assert transfer.unfreeze_top(tm, 1)  # the top block has weights to fine-tune


def test_weights_download_shows_progress_and_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    payload = os.urandom(600_000)
    src = tmp_path / "weights.h5"
    src.write_bytes(payload)
    assert not transfer.weights_available("mobilenet_v2", 160)
    seen = []
    path = transfer.download_weights(
        "mobilenet_v2", 160, lambda done, total: seen.append((done, total)), url=src.as_uri()
    )
    assert path == tmp_path / "keras" / "models" / (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5"
    )
    assert hashlib.md5(path.read_bytes()).hexdigest() == hashlib.md5(payload).hexdigest()
    assert seen[-1] == (600_000, 600_000) and len(seen) >= 2  # chunk by chunk
    assert transfer.weights_available("mobilenet_v2", 160)
    assert transfer.download_weights("mobilenet_v2", 160, url="http://127.0.0.1:9/") == path


def test_weights_that_cannot_be_fetched_give_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(TransferError) as exc:
        transfer.download_weights("efficientnet_b0", url="http://127.0.0.1:9/none.h5")
    msg = str(exc.value)
    assert msg.startswith(
        "The ImageNet weights of EfficientNetB0 (16.7 MB) could not be downloaded"
    )
    assert msg.endswith("offline, use the digits 0–4 base.") and "\n" not in msg
    assert not list(tmp_path.rglob("*.h5*"))  # no half file left behind
    with pytest.raises(TransferError, match="weights for inputs of 224, 192, 160, 128, 96"):
        transfer.download_weights("mobilenet_v2", 100)
    with pytest.raises(TransferError, match="unknown ImageNet base 'vgg16'"):
        transfer.application_base("vgg16", weights=None)


# --- the JAX backend ------------------------------------------------------------------------------

JAX_SCRIPT = """
import json, numpy as np, keras
from keras import layers
from cnnviz import transfer
keras.utils.set_random_seed(0)
inp = keras.Input((12, 12, 1))
x = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
x = layers.MaxPooling2D(2)(x)
x = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
x = layers.MaxPooling2D(2)(layers.BatchNormalization()(x))
model = keras.Model(inp, layers.Dense(3, activation="softmax")(layers.Flatten()(x)))
rng = np.random.default_rng(0)
xs = rng.uniform(0, 1, (32, 12, 12, 1)).astype("float32"); ys = np.arange(32) % 2
cfg = transfer.TransferConfig(epochs=1, fine_tune_epochs=1, scratch_epochs=1, batch_size=32)
c = transfer.compare(transfer.split(model).base, xs, ys, xs, ys, 2, cfg)
print(json.dumps({"backend": keras.backend.backend(),
                  "acc": {n: r.test_accuracy for n, r in c.results.items()}}))
"""


def test_compare_runs_under_jax():
    report = run_under_jax(JAX_SCRIPT)
    assert report["backend"] == "jax"
    assert set(report["acc"]) == set(transfer.CONTENDERS)
    assert all(0.0 <= a <= 1.0 for a in report["acc"].values())


def test_imagenet_weights_load_through_the_download_path(fake_imagenet_weights):
    seen = []
    base = transfer.application_base("mobilenet_v2", "imagenet", 96, lambda d, t: seen.append(d))
    saved = transfer.application_base("mobilenet_v2", None, 96)
    saved.load_weights(fake_imagenet_weights)
    assert seen and all(
        np.array_equal(a, b) for a, b in zip(base.get_weights(), saved.get_weights(), strict=True)
    )


def test_frozen_sentence_counts_what_trains():
    tm = transfer.transfer_model(transfer.split(_tiny()).base, 2, HeadSpec(dropout=0.0))
    transfer.unfreeze_top(tm, 1)
    rows = transfer.trainable_counts(tm.model)
    # conv2 (6 × (3·3·4 + 1) = 222) and the head (54·2 + 2 = 110) train; conv1 (40) and
    # batch norm (4 × 6 = 24, frozen even in the unfrozen block) do not
    assert transfer.frozen_sentence(rows) == (
        "Trains 332 of 396 parameters (conv2, output); frozen: conv1, bn2."
    )
    for layer in tm.model.layers:
        layer.trainable = True
    everything = transfer.trainable_counts(tm.model)
    assert transfer.frozen_sentence(everything) == (  # BN's moving mean and variance: 12
        "Every layer with weights trains: 384 trainable parameters, plus 12 non-trainable "
        "statistics that are averaged, not learnt."
    )
    for layer in tm.model.layers:
        layer.trainable = False
    assert transfer.frozen_sentence(transfer.trainable_counts(tm.model)) == (
        "Nothing trains: all 396 parameters are frozen."
    )
