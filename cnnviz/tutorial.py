"""The Fashion-MNIST tutorial, reproduced: its settings, its published numbers, its split.

DataCamp's "Convolutional Neural Networks in Python with Keras" (A. Sharma, 2017) trains a
three-block LeakyReLU CNN (``models.ZOO["fashion_leaky"]``) and its dropout version
(``"fashion_leaky_dropout"``) on Fashion-MNIST: the 60,000 training images split 80/20 by
``train_test_split(test_size=0.2, random_state=13)``, batch 64, 20 epochs, Adam, then
tested on the 10,000 test images. This module holds what is needed to run it again
offline (Debian's package, :func:`cnnviz.data.fashion_mnist_dir`) and compare:

- :data:`PUBLISHED`: the tutorial's own printed numbers;
- :func:`tutorial_split`: the same 48,000 / 12,000 split, without scikit-learn;
- :func:`fit_as_tutorial`: ``compile`` + ``fit`` exactly as the tutorial writes them;
- :func:`rounding_trap`: what the tutorial's ``np.argmax(np.round(predicted_classes))``
  does to its predictions.

Pure keras + numpy: it runs on every Keras backend (the benchmark trains it under JAX on a GPU).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cnnviz import claims

SPLIT_SEED = 13  # train_test_split(..., random_state=13)
VALIDATION_FRACTION = 0.2  # test_size=0.2: 48,000 train / 12,000 validation
BATCH_SIZE = 64
EPOCHS = 20
NETWORKS = {"plain": "fashion_leaky", "dropout": "fashion_leaky_dropout"}

# The tutorial's printed numbers. Per epoch: (loss, accuracy, val_loss, val_accuracy);
# ``None`` where the tutorial's page does not print it.
PUBLISHED: dict[str, dict] = {
    "plain": {
        "epochs": {
            1: (0.4661, 0.8311, 0.3320, 0.8809),
            2: (0.2874, 0.8951, 0.2781, 0.8963),
            3: (0.2420, 0.9111, 0.2501, 0.9077),
            20: (None, None, 0.4396, 0.9205),
        },
        "test_loss": 0.4637,
        "test_accuracy": 0.9184,
    },
    "dropout": {
        "epochs": {},
        "test_loss": 0.2146,
        "test_accuracy": 0.9230,
        "found_correct": 9188,  # "Found 9188 correct labels" (after np.round)
    },
}


def tutorial_split(
    x: np.ndarray, y: np.ndarray, seed: int = SPLIT_SEED, fraction: float = VALIDATION_FRACTION
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, x_valid, y_train, y_valid`` exactly as scikit-learn's
    ``train_test_split(x, y, test_size=fraction, random_state=seed)`` returns them.

    (Its ``ShuffleSplit`` draws one ``RandomState(seed).permutation``; the first
    ``ceil(fraction * n)`` indices are the validation set, the rest the training set.)

    Examples
    --------
    >>> x = np.arange(10)
    >>> tutorial_split(x, x, seed=13)[1]
    array([3, 5])
    """
    n = len(x)
    n_val = int(np.ceil(fraction * n))
    order = np.random.RandomState(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return x[train], x[val], y[train], y[val]


@dataclass
class FitRun:
    """One ``fit`` as the tutorial calls it: per-epoch history and seconds."""

    history: dict[str, list[float]]
    epoch_seconds: list[float]
    images_per_sec: float  # training images / seconds of the epochs after the first


def fit_as_tutorial(
    model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    verbose: int = 2,
    measure_data: bool = False,
) -> FitRun:
    """``model.compile(loss=categorical_crossentropy, optimizer=Adam(), metrics=["accuracy"])``
    then ``model.fit(x, one_hot(y), batch_size, epochs, validation_data=…)``, as written in
    the tutorial (one-hot labels, Keras's default Adam), timing each epoch.

    With ``measure_data`` the history also holds, per epoch, the data loss and accuracy of
    the weights after the epoch with dropout off, on the training and the validation images
    (:data:`cnnviz.overfitting.MEASURED`): Keras's training loss of the dropout network is
    a mean over the epoch with dropout on, not comparable with its validation loss. The
    epoch seconds do not include this measuring.
    """
    import keras

    from cnnviz import overfitting

    k = model.output_shape[-1]
    model.compile(
        loss=keras.losses.categorical_crossentropy,
        optimizer=keras.optimizers.Adam(),
        metrics=["accuracy"],
    )
    seconds: list[float] = []
    measured: dict[str, list[float]] = {}
    measure = overfitting.data_measurer(model) if measure_data else None

    class _Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t)  # before the measuring below
            if measure is not None:  # the weights now, dropout off (overfitting.MEASURED)
                for prefix, (x, y) in (("", (x_train, y_train)), ("val_", (x_valid, y_valid))):
                    loss, acc = measure(x, y)
                    measured.setdefault(f"{prefix}data_loss", []).append(loss)
                    measured.setdefault(f"{prefix}data_accuracy", []).append(acc)

    hist = model.fit(
        x_train,
        keras.utils.to_categorical(y_train, k),
        batch_size=batch_size,
        epochs=epochs,
        verbose=verbose,
        validation_data=(x_valid, keras.utils.to_categorical(y_valid, k)),
        callbacks=[_Clock()],
    )
    later = seconds[1:] or seconds
    speed = len(x_train) * len(later) / max(sum(later), 1e-9)
    history = {key: [float(v) for v in vals] for key, vals in hist.history.items()}
    history.update(measured)
    return FitRun(history, seconds, speed)


@dataclass(frozen=True)
class RoundingTrap:
    """What ``np.argmax(np.round(probs), axis=1)`` does compared with ``np.argmax(probs)``."""

    n: int  # images
    changed: int  # predictions the rounding changes (all become class 0)
    correct_argmax: int  # right answers by argmax
    correct_rounded: int  # right answers after the rounding
    class_zero: str  # the name of class 0, where every changed prediction lands
    no_majority: int = 0  # images with no class above 0.5 (rounding leaves all zeros)


def rounding_trap(probs: np.ndarray, y_true: np.ndarray, class_zero: str = "0") -> RoundingTrap:
    """Count the predictions the tutorial's ``np.argmax(np.round(p))`` changes.

    Rounding sends every probability up to 0.5 to 0 (``np.round`` rounds 0.5 to even,
    0); when no class is above 0.5 the row is all zeros and ``argmax`` answers class 0
    (T-shirt/top in Fashion-MNIST).

    Examples
    --------
    >>> p = np.array([[0.1, 0.9], [0.45, 0.55], [0.2, 0.3]])  # no 0.5 in the last row
    >>> t = rounding_trap(p[:, :2], np.array([1, 1, 1]))
    >>> t.changed, t.correct_argmax, t.correct_rounded
    (1, 3, 2)
    """
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true).reshape(-1)
    best = probs.argmax(axis=1)
    rounded = np.round(probs).argmax(axis=1)
    return RoundingTrap(
        n=len(probs),
        changed=int(np.sum(best != rounded)),
        correct_argmax=int(np.sum(best == y_true)),
        correct_rounded=int(np.sum(rounded == y_true)),
        class_zero=class_zero,
        no_majority=int(np.sum(probs.max(axis=1) <= 0.5)),
    )


@claims.claim
def rounding_sentence(t: RoundingTrap) -> claims.Claim:
    """What the rounding did, in one sentence whose numbers are the counts of ``t``."""
    lost = t.correct_argmax - t.correct_rounded
    if t.changed == 0:
        text = (
            f"The tutorial's np.argmax(np.round(…)) changes none of the {t.n:,} predictions "
            f"here ({t.correct_argmax:,} correct either way): {t.no_majority:,} of them have no "
            "class above 50 %, and for those class 0 was the top class anyway."
            if t.no_majority
            else f"The tutorial's np.argmax(np.round(…)) changes none of the {t.n:,} "
            f"predictions here: every image has one class above 50 % ({t.correct_argmax:,} "
            "correct either way)."
        )
    else:
        text = (
            f"The tutorial's np.argmax(np.round(…)) turns {t.changed:,} of {t.n:,} predictions "
            f"into class 0 ({t.class_zero}): no class of those images is above 50 %, rounding "
            f"leaves all zeros and argmax picks the first. Correct: {t.correct_argmax:,} by "
            f"argmax, {t.correct_rounded:,} after rounding "
            + (
                f"({lost:,} fewer)."
                if lost > 0
                else "(as many: the changed ones were wrong either way)."
                if lost == 0
                else f"({-lost:,} more: some images of class 0 were guessed right by chance)."
            )
        )
    return claims.Claim(
        text,
        changed=t.changed,
        n=t.n,
        no_majority=t.no_majority,
        correct_argmax=t.correct_argmax,
        correct_rounded=t.correct_rounded,
        lost=lost,
    )


# --- the bundled Fashion-MNIST models ----------------------------------------------------

BUNDLED = {"fashion_plain": "plain", "fashion_dropout": "dropout"}  # asset name -> network


def train_network(
    network: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    epochs: int = EPOCHS,
    seed: int = 0,
    verbose: int = 2,
):
    """Train the tutorial's ``network`` ("plain" or "dropout") with cnnviz's trainer and the
    tutorial's settings (batch 64, Adam 1e-3); returns ``(model, TrainResult)``."""
    import keras

    from cnnviz import models, training

    keras.utils.set_random_seed(seed)
    model = models.build(NETWORKS[network], x_train.shape[1:], 10)
    config = training.TrainConfig(
        epochs=epochs, batch_size=BATCH_SIZE, optimizer="adam", learning_rate=1e-3, seed=seed
    )
    return model, training.train(model, x_train, y_train, config, x_valid, y_valid, verbose=verbose)


def card(network: str, result, test_loss: float, test_accuracy: float, trap: RoundingTrap,
         n_train: int, n_valid: int, class_names, built_by: str) -> dict:  # fmt: skip
    """The JSON card of a bundled tutorial network: settings, history, test figures."""
    hp = {
        "epochs": len(result.history.get("loss", [])),
        "batch_size": BATCH_SIZE,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "split": f"train_test_split(test_size=0.2, random_state=13): {n_train:,} train / "
        f"{n_valid:,} validation of the 60,000 training images",
    }
    return {
        "model": NETWORKS[network],
        "dataset": "fashion_mnist",
        "class_names": list(class_names),
        "hyperparameters": hp,
        "history": result.history,
        "metrics": {
            "test_loss": round(float(test_loss), 4),
            "test_accuracy": round(float(test_accuracy), 4),
            "test_images": trap.n,
        },
        "rounding_trap": {k: getattr(trap, k) for k in RoundingTrap.__dataclass_fields__},
        "tutorial": {k: PUBLISHED[network][k] for k in ("test_loss", "test_accuracy")},
        "built_by": built_by,
    }
