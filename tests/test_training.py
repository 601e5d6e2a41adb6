"""cnnviz.training: learns, reports progress, stops on request, on NaN and early."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from cnnviz import data, evaluation, models, training
from cnnviz.training import Augmentation, TrainConfig, TrainingError


@pytest.fixture(scope="module")
def tiny():
    """1,000 training and 500 test digits from the embedded sample."""
    ds = data.subset(data.load_mnist_sample(), 1000, 500, seed=0)
    return data.prepare(ds.x_train), ds.y_train, data.prepare(ds.x_test), ds.y_test


def _book(seed=0):
    keras.utils.set_random_seed(seed)
    return models.build("book_mnist")


def test_one_short_epoch_beats_chance_and_reports_progress(tiny):
    x, y, xt, yt = tiny
    events = []
    model = _book()
    result = training.train(
        model,
        x,
        y,
        TrainConfig(epochs=2, batch_size=64, validation_split=0.2),
        on_progress=events.append,
    )
    assert result.stopped is None and result.device == "CPU"
    assert result.message.startswith("Trained 2 epochs")
    # 800 training images at batch 64 -> 13 batches; executions of 1024 // 64 = 16 batches
    # are capped at one epoch, so one "batch" report per epoch, then one "epoch" report.
    assert result.steps_per_execution == 13
    assert [(e.kind, e.epoch, e.batch, e.batches) for e in events] == [
        ("batch", 1, 13, 13),
        ("epoch", 1, 13, 13),
        ("batch", 2, 13, 13),
        ("epoch", 2, 13, 13),
    ]
    for key in training.HISTORY_KEYS:
        assert len(result.history[key]) == 2
    assert events[-1].logs["val_accuracy"] == pytest.approx(result.history["val_accuracy"][-1])
    assert result.images_per_sec == pytest.approx(800 * 2 / result.seconds)
    # well above chance (10%) on unseen digits; our numpy evaluation agrees with Keras's
    ev = evaluation.evaluate(model, xt, yt)
    loss, acc = model.evaluate(xt, yt, verbose=0)
    assert ev.accuracy > 0.5
    assert ev.accuracy == pytest.approx(acc, abs=1e-6)
    assert ev.loss == pytest.approx(loss, rel=1e-4)


def test_stop_request_stops_after_the_current_batch(tiny):
    x, y, _, _ = tiny
    checks = []

    def should_stop():
        checks.append(1)
        return len(checks) >= 3  # ask to stop after the third batch

    events = []
    result = training.train(
        _book(),
        x,
        y,
        TrainConfig(epochs=3, steps_per_execution=1),
        on_progress=events.append,
        should_stop=should_stop,
    )
    assert result.stopped == "user" and "stopped on request" in result.message
    assert [e.batch for e in events if e.kind == "batch"] == [1, 2, 3]  # no 4th batch
    assert len(result.history["loss"]) == 1  # epoch 1 closed, epochs 2-3 never ran


def test_stop_with_steps_per_execution_stops_after_one_execution(tiny):
    x, y, _, _ = tiny
    events = []
    result = training.train(
        _book(),
        x,
        y,
        TrainConfig(epochs=2, batch_size=32, steps_per_execution=5),
        on_progress=events.append,
        should_stop=lambda: True,
    )
    spe = result.steps_per_execution
    assert spe == 5
    assert result.stopped == "user"
    assert [e.batch for e in events if e.kind == "batch"] == [spe]


def test_huge_learning_rate_ends_with_nan_message(tiny):
    x, y, _, _ = tiny
    result = training.train(
        _book(), x[:256], y[:256], TrainConfig(epochs=3, optimizer="sgd", learning_rate=1e6)
    )
    assert result.stopped == "nan"
    assert "NaN" in result.message and "1e+06" in result.message
    assert len(result.history["loss"]) < 3 and not math.isfinite(result.history["loss"][-1])


def test_early_stopping_when_validation_gets_worse():
    # Bright vs dark 4×4 images; the validation labels are the opposite of the training
    # labels, so every epoch that learns the task makes validation loss worse.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256)
    x = (y[:, None, None, None] * 0.8 + rng.random((256, 4, 4, 1)) * 0.2).astype("float32")
    keras.utils.set_random_seed(0)
    model = models.build("toy_4x4", num_classes=1)
    config = TrainConfig(epochs=6, batch_size=32, learning_rate=0.05, early_stopping_patience=1)
    result = training.train(model, x, y, config, x_val=x, y_val=1 - y)
    assert result.stopped == "early_stopping"
    assert "Early stopping after epoch" in result.message
    vl = result.history["val_loss"]
    assert len(vl) < 6 and vl[-1] > min(vl)


def test_augmentation_trains_inside_the_graph_and_leaves_the_model_alone(tiny):
    x, y, _, _ = tiny
    model = _book()
    names = [layer.name for layer in model.layers]
    aug = Augmentation(rotation=18, shift=0.1, zoom=0.1, flip=True)  # 18° = 0.05 turn
    layers = training.augmentation_layers(aug)
    assert [type(lay).__name__ for lay in layers] == [
        "RandomRotation",
        "RandomTranslation",
        "RandomZoom",
        "RandomFlip",
    ]
    result = training.train(model, x[:300], y[:300], TrainConfig(epochs=1, augmentation=aug))
    assert result.stopped is None and len(result.history["loss"]) == 1
    assert [layer.name for layer in model.layers] == names
    # the trained model is usable as it is: compiled, plain images in, probabilities out
    probs = model.predict(x[:4], verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_same_seed_same_history(tiny):
    x, y, _, _ = tiny
    a = training.train(_book(1), x[:300], y[:300], TrainConfig(epochs=1, seed=5))
    b = training.train(_book(1), x[:300], y[:300], TrainConfig(epochs=1, seed=5))
    assert a.history["loss"] == pytest.approx(b.history["loss"], rel=1e-5)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (TrainConfig(epochs=0), "epochs must be >= 1, got 0"),
        (TrainConfig(batch_size=0), "batch_size must be >= 1, got 0"),
        (TrainConfig(learning_rate=-1.0), "learning_rate must be > 0, got -1.0"),
        (TrainConfig(optimizer="adagrad"), "'adagrad'"),
        (TrainConfig(validation_split=1.0), "validation_split"),
    ],
)
def test_bad_settings_raise(config, match, tiny):
    x, y, _, _ = tiny
    with pytest.raises(TrainingError, match=match):
        training.train(models.build("toy_4x4", num_classes=1), x[:4, :4, :4], y[:4] % 2, config)


def test_device_and_steps_per_execution():
    assert training.device_name() == "CPU"
    assert training.steps_per_execution(TrainConfig(batch_size=128), 57, on_gpu=False) == 8
    assert training.steps_per_execution(TrainConfig(batch_size=128), 3, on_gpu=False) == 3
    assert training.steps_per_execution(TrainConfig(batch_size=128), 57, on_gpu=True) == 32
    cfg = TrainConfig(steps_per_execution=1)
    assert training.steps_per_execution(cfg, 57, on_gpu=True) == 1


def test_gpu_path_xla_and_mixed_precision_restores_policies(tiny, monkeypatch):
    # The GPU branch (XLA + bfloat16 maths) run on the CPU by pretending to have a GPU.
    x, y, _, _ = tiny
    monkeypatch.setattr(training, "device_name", lambda: "Pretend GPU")
    model = models.build("toy_4x4", num_classes=1)  # small: XLA compiles it quickly
    seen = []
    result = training.train(
        model,
        x[:256, :4, :4],
        y[:256] % 2,
        TrainConfig(epochs=1, mixed_precision=True),
        on_progress=lambda p: seen.append({la.name: la.compute_dtype for la in model.layers}),
    )
    assert result.device == "Pretend GPU" and math.isfinite(result.history["loss"][0])
    assert seen[0]["conv1"] == "bfloat16" and seen[0]["output"] == "float32"  # during
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}  # after


def test_optimizer_and_metrics_exist_before_fit_so_the_step_is_traced_once(tiny, monkeypatch):
    """Keras would otherwise create them inside the first trace and trace the step twice."""
    x, y, _, _ = tiny
    model = _book()
    calls = []
    original = model.train_step

    def counting_train_step(data):
        calls.append(1)  # runs once per trace, not per batch
        return original(data)

    monkeypatch.setattr(model, "train_step", counting_train_step)
    result = training.train(model, x[:300], y[:300], TrainConfig(epochs=2, batch_size=64))
    assert len(result.history["loss"]) == 2
    assert model.optimizer.built and model.optimizer.iterations.numpy() > 0
    assert len(calls) == 1
