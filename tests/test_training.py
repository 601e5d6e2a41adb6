"""cnnviz.training: learns, reports progress, stops on request, on NaN and early."""

from __future__ import annotations

import dataclasses
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
    assert result.status == "done" and result.device == "CPU" and not result.failed
    assert result.message.startswith("Trained 2 epochs")
    # 800 training images at batch 64 -> 13 batches; executions of 1024 // 64 = 16 batches
    # are capped at 13 / 8 (rounded up) = 2 batches so an epoch draws >= 8 live points:
    # reports after batches 2, 4, …, 12 and 13, then one "epoch" report.
    assert result.steps_per_execution == 2
    per_epoch = [(b, 13) for b in (2, 4, 6, 8, 10, 12, 13)]
    assert [(e.kind, e.epoch, e.batch, e.batches) for e in events] == [
        *(("batch", 1, b, n) for b, n in per_epoch),
        ("epoch", 1, 13, 13),
        *(("batch", 2, b, n) for b, n in per_epoch),
        ("epoch", 2, 13, 13),
    ]
    for key in training.HISTORY_KEYS:
        assert len(result.history[key]) == 2
    assert events[-1].logs["val_accuracy"] == pytest.approx(result.history["val_accuracy"][-1])
    # the live points: one per execution, at fractional epochs, whose image-weighted mean
    # over an epoch is exactly Keras's epoch loss (they undo its running mean); the last
    # execution of an epoch (one batch of 32 images) is a stub, merged into the one before
    pts = result.points
    images = [128, 128, 128, 128, 128, 160]  # 2 batches of 64 each; the last 32 merged
    np.testing.assert_allclose(pts["epoch"][:6], np.cumsum(images) / 800)
    for e in range(2):
        for metric in ("loss", "accuracy"):
            epoch_mean = np.dot(pts[metric][6 * e : 6 * e + 6], images) / 800
            assert epoch_mean == pytest.approx(result.history[metric][e], rel=1e-4)
    assert pts["val_epoch"] == [1.0, 2.0]  # validated after each whole epoch
    assert result.images_seen == 1600 and (result.batches, result.batches_done) == (13, 26)
    # one speed: training images per second of training time, the same live and after
    assert result.images_per_sec == events[-1].images_per_sec == 1600 / result.train_seconds
    assert 0 < result.train_seconds < result.seconds  # validation is not training time
    # epoch 0: the untrained model on the 200 validation images
    assert result.start.images == 200 and result.start.loss == pytest.approx(math.log(10), 0.1)
    assert events[0].start == result.start
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
    assert result.status == "stopped"
    # 900 training images at batch 128: 8 batches an epoch
    assert result.message == (
        "Training stopped on request at batch 3 of 8 of epoch 1 of 3 (0 full epochs trained)."
    )
    assert result.stopped == "user"  # the older field, kept for callers that read it
    assert [e.batch for e in events if e.kind == "batch"] == [1, 2, 3]  # no 4th batch
    assert len(result.history["loss"]) == 1  # epoch 1 closed, epochs 2-3 never ran
    # a stopped run keeps its curve and counts only the images it trained on
    assert len(result.points["loss"]) == 3 and result.images_seen == 3 * 128
    assert result.images_per_sec == pytest.approx(3 * 128 / result.train_seconds)
    assert result.images_per_sec == events[-1].images_per_sec
    # its validation ran where it stopped: 384 of 900 images into epoch 1
    assert result.points["val_epoch"] == [pytest.approx(384 / 900)]
    assert (result.batches, result.batches_done) == (8, 3)


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
    assert result.status == "stopped"
    assert [e.batch for e in events if e.kind == "batch"] == [spe]


def test_huge_learning_rate_ends_with_nan_message(tiny):
    x, y, _, _ = tiny
    result = training.train(
        _book(), x[:256], y[:256], TrainConfig(epochs=3, optimizer="sgd", learning_rate=1e6)
    )
    assert result.status == "nan" and result.failed
    assert (
        "NaN" in result.message
        and "1e+06" in result.message
        and result.message.endswith("try the Keras default for sgd, 0.01.")
    )
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
    assert result.status == "early_stopping"
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
    assert result.status == "done" and len(result.history["loss"]) == 1
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
    # 1024 // 128 = 8 batches, but at most batches / 8 (rounded up): >= 8 points an epoch
    assert training.steps_per_execution(TrainConfig(batch_size=128), 57, on_gpu=False) == 8
    assert training.steps_per_execution(TrainConfig(batch_size=128), 40, on_gpu=False) == 5
    assert training.steps_per_execution(TrainConfig(batch_size=128), 400, on_gpu=False) == 8
    assert training.steps_per_execution(TrainConfig(batch_size=128), 3, on_gpu=False) == 1
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


# --- how a run ends: the diverged rule -------------------------------------------------

START = training.Start(loss=2.0, accuracy=0.1, chance=0.12, guess_loss=math.log(10))
LIMIT = 2 * math.log(10)  # twice the larger of the start loss (2.0) and ln 10 (2.303)


def _hist(loss, val_acc):
    return {"loss": [2.1, loss], "accuracy": [0.5, 0.5], "val_loss": [1, 1],
            "val_accuracy": [0.5, val_acc]}  # fmt: skip


@pytest.mark.parametrize(
    ("last_loss", "val_acc", "peak", "expected"),
    [
        # rule 1: the loss ended (its last 10 % of points) above twice max(start, ln K)
        (LIMIT * 1.01, 0.9, None, "diverged"),
        (LIMIT * 0.99, 0.9, None, None),
        # rule 2a: near chance (<= 0.12 + 0.05) after a blow-up, on both sides of each
        (1.0, 0.169, LIMIT * 1.01, "diverged"),
        (1.0, 0.171, LIMIT * 1.01, None),
        (1.0, 0.169, LIMIT * 0.99, None),  # near chance, no blow-up: not learned yet
    ],
)
def test_diagnose_both_sides_of_each_threshold(last_loss, val_acc, peak, expected):
    points = {"epoch": [0.5, 1.0], "loss": [peak or 2.2, last_loss], "accuracy": [0.3, 0.3]}
    why = training.diagnose(_hist(last_loss, val_acc), points, START)
    assert why.facts["verdict"] == expected
    assert bool(why) == (expected is not None)


def test_diagnose_judges_the_end_of_the_run_not_an_epoch_mean():
    """The issue: a first group at 124.5 pulls the epoch's mean to 20.72, but the run
    ended at 1.98 — below where it started — with validation accuracy 28.9 %."""
    points = {"epoch": [0.25, 0.5, 0.75, 1.0], "loss": [124.5, 2.04, 2.01, 1.98],
              "accuracy": [0.1, 0.3, 0.3, 0.3]}  # fmt: skip
    hist = {"loss": [20.72], "accuracy": [0.27], "val_loss": [2.05], "val_accuracy": [0.289]}
    start = training.Start(loss=2.316, accuracy=0.09, chance=0.125, guess_loss=math.log(10))
    why = training.diagnose(hist, points, start)
    assert why.facts["verdict"] is None and why.facts["ended_at"] == 1.98
    note = training.spike_note(hist, points, start)
    assert note.startswith("The training loss spiked to 124.5 (at epoch 0.25)")
    assert "came back to 1.98 (the mean of the last 10 % of training points, 1 of 4)" in note
    nan = training.diagnose(hist, {**points, "loss": [1.0, math.inf, 1.0, 1.0]}, start)
    assert nan.facts["verdict"] == "nan" and nan == (
        "the training loss became NaN or infinite (first at epoch 0.50)"
    )


def test_diagnose_accuracy_that_fell_to_chance_from_above():
    # rule 2b: a model that started above chance (a pre-trained one) and ended at chance
    # diverged even without a blow-up; starting at chance it merely has not learned
    hist, points = _hist(1.0, 0.15), {"loss": [1.5]}
    above = dataclasses.replace(START, accuracy=0.171)
    at = dataclasses.replace(START, accuracy=0.169)
    assert training.diagnose(hist, points, above).facts["verdict"] == "diverged"
    assert "fell from 17.1% before training to 15.0%" in training.diagnose(hist, points, above)
    assert training.diagnose(hist, points, at) == ""


def test_diagnose_without_validation_uses_training_accuracy():
    hist = {"loss": [1.0], "accuracy": [0.13], "val_loss": [], "val_accuracy": []}
    points = {"epoch": [0.5, 1.0], "loss": [LIMIT * 2, 1.0], "accuracy": [0.1, 0.13]}
    why = training.diagnose(hist, points, START)
    assert why.facts["verdict"] == "diverged" and why.facts["rule"] == "chance_after_blowup"
    assert why.startswith(
        "the training accuracy (the mean of the last 10 % of training points, 1 of 2) is 13.0%"
    )
    note = training.not_learned_note(hist, START)
    assert note.startswith("The training accuracy (its last epoch's mean) is 13.0%, at most 5 ")
    assert training.not_learned_note({"accuracy": [0.18]}, START) == ""


def test_start_limits():
    s = training.Start(loss=3.0, accuracy=0.0, chance=0.5, guess_loss=math.log(2))
    assert s.loss_limit == 6.0 and s.chance_limit == pytest.approx(0.55)
    s = training.Start(loss=0.05, accuracy=0.99, chance=0.1, guess_loss=math.log(10))
    assert s.loss_limit == pytest.approx(2 * math.log(10))  # a trained model: ln K decides


def test_adam_at_learning_rate_1_diverges_and_at_1e3_is_done(tiny):
    """Done-when: book_mnist with Adam 1.0 ends "diverged", with 1e-3 "done"."""
    x, y, _, _ = tiny
    bad = training.train(_book(), x[:600], y[:600], TrainConfig(epochs=1, learning_rate=1.0))
    assert bad.status == "diverged" and bad.failed
    assert bad.message.startswith("Training diverged: ")
    assert bad.message.endswith("too large for adam; try the Keras default for adam, 0.001.")
    # after 0.1 failed too, the advice is still never a rate known to fail
    again = training._result(
        bad.history, bad.points, bad.start, None, TrainConfig(epochs=1, learning_rate=0.01),
        trained=(5, 5), failed=[0.1, 1.0, 1e-3], seconds=1.0, device="CPU",
    )  # fmt: skip
    assert again.status == "diverged"
    assert again.message.endswith("try a learning rate below 0.001.")
    good = training.train(_book(), x[:600], y[:600], TrainConfig(epochs=1, learning_rate=1e-3))
    assert good.status == "done" and not good.failed and not good.notes
    assert good.history["val_accuracy"][-1] > good.start.chance_limit


def test_tiny_learning_rate_is_not_learned_yet_not_diverged(tiny):
    x, y, _, _ = tiny
    result = training.train(
        _book(), x[:300], y[:300], TrainConfig(epochs=1, optimizer="sgd", learning_rate=1e-4)
    )
    assert result.status == "done"
    assert len(result.notes) == 1 and "has not learned yet" in result.notes[0]


def test_result_from_progress_of_an_interrupted_run():
    start = training.Start(loss=2.3, accuracy=0.1, chance=0.11, guess_loss=math.log(10))
    points = {"epoch": [0.5, 1.0, 1.5], "loss": [2.0, 1.5, 1.2], "accuracy": [0.4, 0.6, 0.7]}
    hist = {"loss": [1.75], "accuracy": [0.5], "val_loss": [1.3], "val_accuracy": [0.6]}
    p = training.Progress("batch", 2, 5, 4, 8, {"loss": 1.35}, hist, points, 1200, 4000, 2.0, start)
    config = TrainConfig(epochs=5)
    r = training.result_from_progress(p, config, "CPU")
    assert r.status == "stopped" and r.message == (
        "Training stopped on request at batch 4 of 8 of epoch 2 of 5 (1 full epoch trained)."
    )
    assert r.images_per_sec == 600.0 and r.points == points and r.history == hist
    other = training.result_from_progress(p, config, "CPU", by_request=False)
    assert other.status == "stopped" and other.message.startswith(
        "Training was interrupted at batch 4 of 8 of epoch 2 of 5 by a click elsewhere"
    )
    p.points = {**points, "loss": [2.0, 1.5, float("nan")]}
    assert training.result_from_progress(p, config, "CPU").status == "nan"
    p.points, p.history = {**points, "loss": [2.0, 1e4, 1e5]}, {**hist, "loss": [1e4]}
    assert training.result_from_progress(p, config, "CPU").status == "diverged"
    assert training.result_from_progress(None, config, "CPU").status == "stopped"


# --- live progress and smoothing ----------------------------------------------------------


def test_smooth_is_tensorboards_debiased_moving_average():
    np.testing.assert_allclose(training.smooth([1.0, 3.0, 2.0], 0.0), [1.0, 3.0, 2.0])
    # s1 = 0.5, s2 = 0.25 + 1.5 = 1.75, s3 = 0.875 + 1 = 1.875; debiased by 1 - 0.5^t
    np.testing.assert_allclose(
        training.smooth([1.0, 3.0, 2.0], 0.5), [1.0, 1.75 / 0.75, 1.875 / 0.875]
    )
    out = training.smooth([1.0, float("nan"), 3.0], 0.5)  # NaN is skipped, not spread
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx(1.75 / 0.75)
    assert training.smooth([], 0.9).size == 0
    with pytest.raises(TrainingError, match=r"smoothing must be in \[0, 1\), got 1"):
        training.smooth([1.0], 1.0)


def test_progress_speed_and_time_left():
    p = training.Progress("batch", 1, 2, 3, 10, {"loss": 1.0}, {}, {}, 0, 1000, 0.0)
    assert p.images_per_sec == 0 and p.seconds_left is None
    assert training.progress_text(p) == (
        "epoch 1/2 · batch 3/10 · loss 1.0000 (mean of this epoch so far)"
    )
    p.images_seen, p.seconds = 250, 0.5  # 500 images/s, 750 images to go
    assert p.images_per_sec == 500 and p.seconds_left == 1.5
    text = training.progress_text(p)
    assert text.endswith("500 images/s of training · about 2 s of training left")
    p.images_total = 250 + 500 * 125  # 125 s left
    assert training.progress_text(p).endswith("about 2 min 05 s of training left")


# --- batch norm: training mode vs inference mode -----------------------------------------


def _check(**kw):
    base = dict(images=256, train_top=0.95, infer_top=0.94, train_accuracy=0.96,
                infer_accuracy=0.95, agreement=0.99, momentum=0.99, steps=112)  # fmt: skip
    return training.BatchNormCheck(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "disagrees"),
    [
        ({}, False),
        ({"infer_accuracy": 0.96 - 0.051}, True),  # accuracy gap just above 5 points
        ({"infer_accuracy": 0.96 - 0.049}, False),
        ({"infer_top": 0.95 - 0.151}, True),  # confidence gap just above 0.15
        ({"infer_top": 0.95 - 0.149}, False),
        ({"infer_top": 0.95 + 0.151, "train_top": 0.95}, True),  # overconfident too
    ],
)
def test_batchnorm_check_thresholds(kw, disagrees):
    check = _check(**kw)
    assert check.disagrees is disagrees
    assert bool(check.sentence()) is disagrees


def test_batchnorm_sentences_say_why():
    lagging = _check(infer_top=0.20, infer_accuracy=0.45)
    text = lagging.sentence()
    assert "96% accurate and 95% sure on average in training mode" in text
    assert "45% accurate and 20% sure in inference mode" in text
    assert "momentum 0.99" in text and "only 1% of the way" in text
    assert f"after 112 steps they still hold {0.99**112:.0%} of their starting" in text
    caught_up = _check(infer_top=0.20, momentum=0.9).sentence()  # 0.9^112 ≈ 0
    assert "average the last ~10 steps" in caught_up and "still hold" not in caught_up
    refreshed = _check(infer_top=0.20, refreshed_from=1024).sentence()
    assert "recomputed from 1,024 training images" in refreshed and "larger batch" in refreshed


def _bn_model(momentum):
    keras.utils.set_random_seed(0)
    spec = f"conv filters=8 kernel=3\nbatchnorm momentum={momentum}\npool size=2\ndropout"
    return models.build_custom(models.parse_blocks(spec), (28, 28, 1), 10)


def test_short_run_with_keras_default_momentum_disagrees_without_refresh(tiny):
    x, y, _, _ = tiny
    model = _bn_model(0.99)
    result = training.train(
        model, x, y, TrainConfig(epochs=1, batch_size=64, refresh_batchnorm=False)
    )
    check = result.batchnorm
    # 900 images at batch 64: 15 steps; the averages still hold 0.99^15 = 86% of (0, 1)
    assert check.steps == 15 and check.remembered == pytest.approx(0.99**15)
    assert check.refreshed_from == 0 and check.disagrees
    assert check.infer_top < check.train_top - 0.15
    assert any("still hold 86% of their starting values" in n for n in result.notes)
    # the check itself leaves the moving statistics and the dropout rate as they were
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    training.batchnorm_check(model, x[:64], y[:64])
    for a, b in zip(before, model.non_trainable_variables, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    assert model.get_layer("dropout1").rate == 0.25
    # refreshing recomputes them from training images: the two modes then agree
    assert training.refresh_batchnorm(model, x, images=512) == 512
    after = training.batchnorm_check(model, x[900:], y[900:], refreshed_from=512)
    assert not after.disagrees and after.agreement > 0.95
    assert model.get_layer("bn1").momentum == 0.99 and model.get_layer("dropout1").rate == 0.25


def test_refresh_batchnorm_sets_the_average_of_the_batch_statistics():
    inputs = keras.Input((2, 2, 1))
    model = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(inputs))
    x = np.arange(16, dtype="float32").reshape(2 * 2, 2, 2, 1)  # values 0..15
    assert training.refresh_batchnorm(model, x, batch_size=2) == 4
    bn = model.get_layer("bn")
    # batch 1 holds 0..7 (mean 3.5, var 5.25), batch 2 holds 8..15 (mean 11.5, var 5.25)
    assert float(bn.moving_mean.numpy()[0]) == pytest.approx(7.5)
    assert float(bn.moving_variance.numpy()[0]) == pytest.approx(5.25)
    assert bn.momentum == 0.99
    assert training.refresh_batchnorm(models.build("book_mnist"), x) == 0  # no batch norm


def test_default_custom_model_two_epochs_is_sure_in_inference_mode():
    """Done-when: the default custom model, 2 epochs on mnist-sample, mean top p >= 0.8."""
    ds = data.load_mnist_sample()
    keras.utils.set_random_seed(0)
    model = models.build_custom(models.parse_blocks(models.EXAMPLE_SPEC), (28, 28, 1), 10)
    assert model.get_layer("bn1").momentum == models.BN_MOMENTUM == 0.9
    result = training.train(model, data.prepare(ds.x_train), ds.y_train, TrainConfig(epochs=2))
    probs = model.predict(data.prepare(ds.x_test), verbose=0)  # inference mode
    assert probs.max(axis=1).mean() >= 0.8
    assert np.mean(probs.argmax(axis=1) == ds.y_test) > 0.9
    assert result.status == "done" and not result.batchnorm.disagrees and not result.notes


@pytest.mark.parametrize("name", ["dli_asl", "cifar_augment"])
def test_zoo_batchnorm_models_agree_with_themselves_after_a_short_run(name, tiny):
    x, y, _, _ = tiny
    keras.utils.set_random_seed(0)
    model = models.build(name, (28, 28, 1), 10)
    result = training.train(model, x, y, TrainConfig(epochs=1, batch_size=32))
    check = result.batchnorm
    assert check.momentum == 0.9 and check.refreshed_from == 900
    assert not check.disagrees, check
    assert abs(check.train_top - check.infer_top) < 0.05
    # validation (inference mode) sees what training mode sees: well above chance
    assert result.history["val_accuracy"][-1] > 0.5


# --- the learning-curve figure -------------------------------------------------------------


def test_learning_curves_draw_batches_faintly_smoothed_and_validation_from_epoch_0():
    from cnnviz.plots import style
    from cnnviz.plots import training as plots

    run = {
        "history": {"loss": [1.0, 0.5], "accuracy": [0.6, 0.8], "val_loss": [0.9, 0.7],
                    "val_accuracy": [0.7, 0.75]},
        "points": {"epoch": [0.5, 1.0, 1.5, 2.0], "loss": [1.2, 0.8, 0.6, 0.4],
                   "accuracy": [0.5, 0.7, 0.75, 0.85]},
        "start": {"loss": 2.3, "accuracy": 0.1},
    }  # fmt: skip
    fig = plots.learning_curves({"#1": run}, epochs=2, smoothing=0.5)
    by_name = {}
    for t in fig.data:
        by_name.setdefault(t.name, []).append(t)
    raw_loss, raw_acc = by_name["#1 · train (each point: one execution's batches)"]
    assert raw_loss.opacity == plots.RAW_OPACITY and raw_loss.mode == "markers"
    assert list(raw_acc.y) == [0.5, 0.7, 0.75, 0.85]
    assert list(raw_loss.x) == [0.5, 1.0, 1.5, 2.0] and list(raw_loss.y) == [1.2, 0.8, 0.6, 0.4]
    smooth_loss, smooth_acc = by_name["#1 · train"]
    np.testing.assert_allclose(smooth_loss.y, training.smooth([1.2, 0.8, 0.6, 0.4], 0.5, log=True))
    np.testing.assert_allclose(smooth_acc.y, training.smooth([0.5, 0.7, 0.75, 0.85], 0.5))
    # where the loss ended: the last 10 % of 4 points is the last one, at 0.4
    (ended,) = by_name["#1 · ended at"]
    assert list(ended.x) == [2.0, 2.0] and list(ended.y) == [0.4, 0.4]
    assert "1 of 4" in ended.hovertemplate and ended.xaxis == "x"
    val_loss, val_acc = by_name["#1 · validation"]
    assert list(val_loss.x) == [0, 1, 2] and list(val_loss.y) == [2.3, 0.9, 0.7]
    assert list(val_acc.y) == [0.1, 0.7, 0.75] and val_acc.line.dash == "dash"
    assert {t.line.color for t in fig.data if t.line.color} == {style.CATEGORICAL[0]}
    assert fig.layout.yaxis.type == "linear"
    assert plots.learning_curves({"#1": run}, log_loss=True).layout.yaxis.type == "log"
    # a plain Keras history (no live points): training per epoch
    plain = plots.learning_curves({"old": run["history"]})
    assert [list(t.x) for t in plain.data if t.name == "old · train"] == [[1, 2], [1, 2]]
