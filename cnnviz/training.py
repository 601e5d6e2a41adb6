"""Training: one ``train()`` that the app, the CLI and the benchmarks share.

Pure ``keras`` (no ``tf.*``), so it runs under any Keras backend (TensorFlow, JAX).

Speed on a CPU comes from two settings the textbooks leave at their defaults: a larger
batch (128, not 32) and ``steps_per_execution``, which runs several batches per call
into the compiled graph. On a GPU the step is also compiled with XLA
(``jit_compile=True``); on a CPU XLA is slower here, so it is off.

Progress and stopping. Keras calls ``on_train_batch_end`` once per *execution*, i.e.
every ``steps_per_execution`` batches; :func:`train` reports progress there and checks
``should_stop`` there. "Stops within one batch" therefore means: the run stops at the
end of the execution in progress, at most ``steps_per_execution`` batches after the
request (:func:`steps_per_execution` picks it so that is at most ~1,024 images, a
fraction of a second on a CPU). Keras then evaluates the validation set once and ends
the epoch; no further batch is trained. Pass ``TrainConfig(steps_per_execution=1)`` for
strict per-batch progress and stopping, at the cost of speed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from cnnviz.data import train_val_split

OPTIMIZERS = ("adam", "rmsprop", "sgd")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
IMAGES_PER_EXECUTION = 1024  # progress/stop granularity on a CPU, in images


class TrainingError(ValueError):
    """A training setting cannot be used; the message names the bad value."""


FILL_MODES = ("nearest", "constant", "reflect")


@dataclass
class Augmentation:
    """Random changes to training images, in the textbooks' units, as Keras layers.

    The settings read as Keras's ``ImageDataGenerator`` arguments that the textbooks
    use: ``rotation`` is ``rotation_range`` in **degrees** (the cookbook's
    ``rotation_range=20`` turns each image by a random angle in [-20°, +20°]);
    ``width_shift`` / ``height_shift`` are fractions of the width / height; ``zoom`` is
    ``zoom_range`` (0.2: between 80 % and 120 %); ``flip`` is ``horizontal_flip``;
    ``fill_mode`` says what fills the pixels that come in from outside the image.
    ``shift`` sets both shifts at once (when the two are not given).

    Applied to training batches only (the layers are identity at inference), inside the
    training graph, so they run on any backend and on the GPU.

    Raises
    ------
    TrainingError
        A negative or too large range, or an unknown fill mode.
    """

    rotation: float = 0.0  # degrees, as ImageDataGenerator's rotation_range
    shift: float = 0.0  # fraction of width and height, unless the two below are given
    zoom: float = 0.0  # zoom_range: 0.2 zooms between 80 % and 120 %
    flip: bool = False  # horizontal_flip
    fill_mode: str = "constant"  # zeros (black), as the translation lab; the textbooks: nearest
    width_shift: float | None = None  # width_shift_range; None: ``shift``
    height_shift: float | None = None  # height_shift_range; None: ``shift``

    def __post_init__(self) -> None:
        if not (0.0 <= self.rotation <= 180.0):
            raise TrainingError(
                f"augmentation rotation is an angle in degrees in [0, 180] (20 = up to "
                f"±20°), got {self.rotation}"
            )
        for name, value in (
            ("shift", self.shift),
            ("width shift", self.width_shift),
            ("height shift", self.height_shift),
            ("zoom", self.zoom),
        ):
            if value is not None and not 0.0 <= value <= 1.0:
                raise TrainingError(
                    f"augmentation {name} is a fraction in [0, 1] (0.1 = 10%), got {value}"
                )
        if self.fill_mode not in FILL_MODES:
            raise TrainingError(
                f"fill mode must be one of {', '.join(FILL_MODES)}, got {self.fill_mode!r}"
            )

    @property
    def shifts(self) -> tuple[float, float]:
        """``(height_shift, width_shift)`` as fractions, ``shift`` filling the gaps."""
        h = self.shift if self.height_shift is None else self.height_shift
        w = self.shift if self.width_shift is None else self.width_shift
        return float(h), float(w)

    @property
    def rotation_factor(self) -> float:
        """``rotation`` as ``keras.layers.RandomRotation`` takes it: a fraction of a turn.

        Examples
        --------
        >>> Augmentation(rotation=18).rotation_factor
        0.05
        """
        return self.rotation / 360.0

    @property
    def active(self) -> bool:
        """Whether any change is switched on."""
        return bool(self.rotation or any(self.shifts) or self.zoom or self.flip)

    def describe(self) -> str:
        """The settings in the textbooks' words, e.g. ``"rotation ±20°, flip"``."""
        h, w = self.shifts
        parts = [f"rotation ±{self.rotation:g}°"] if self.rotation else []
        if h or w:
            parts.append(f"shift {w:.0%} × {h:.0%}" if h != w else f"shift {w:.0%}")
        if self.zoom:
            parts.append(f"zoom ±{self.zoom:.0%}")
        if self.flip:
            parts.append("horizontal flip")
        if not parts:
            return "none"
        return ", ".join(parts) + f" (fill: {self.fill_mode})"


# Named settings a learner can pick. "cookbook CIFAR": the cookbook's CIFAR-10 recipe
# (rotation_range=20 in degrees, 10 % shifts, horizontal flips, the generator's default
# "nearest" fill); "Chollet cats vs dogs": Deep Learning with Python, listing 5.11
# (without its shear, which Keras has no layer for).
AUGMENTATION_PRESETS: dict[str, Augmentation] = {
    "none": Augmentation(),
    "cookbook CIFAR": Augmentation(rotation=20, shift=0.1, flip=True, fill_mode="nearest"),
    "Chollet cats vs dogs": Augmentation(
        rotation=40, shift=0.2, zoom=0.2, flip=True, fill_mode="nearest"
    ),
    "small digit shifts": Augmentation(rotation=10, shift=0.1, zoom=0.1),
}


@dataclass
class TrainConfig:
    """Everything that decides a training run; with the same seed, the same run."""

    epochs: int = 5
    batch_size: int = 128
    optimizer: str = "adam"  # "adam" | "rmsprop" | "sgd"
    learning_rate: float = 1e-3
    augmentation: Augmentation | None = None
    early_stopping_patience: int | None = None
    validation_split: float = 0.1  # used only when x_val is None
    seed: int = 0
    mixed_precision: bool = False  # honoured on GPU only
    steps_per_execution: int | None = None  # None: automatic (see the module docstring)


@dataclass
class Progress:
    """What ``on_progress`` receives after each execution (``"batch"``) and each epoch."""

    kind: str  # "batch" | "epoch"
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    logs: dict  # the Keras logs of that batch/epoch, as floats
    history: dict[str, list[float]]  # per-epoch so far


@dataclass
class TrainResult:
    """The outcome of :func:`train`."""

    history: dict[str, list[float]]
    stopped: str | None  # None | "user" | "early_stopping" | "nan"
    message: str  # one sentence for the UI
    images_per_sec: float
    seconds: float
    device: str  # "CPU" or the GPU's name
    epoch_seconds: list[float] = field(default_factory=list)
    steps_per_execution: int = 1


def device_name() -> str:
    """The accelerator Keras will use: the GPU's name, or ``"CPU"``.

    Examples
    --------
    >>> device_name() in ("CPU",) or device_name().startswith(("NVIDIA", "GPU"))
    True
    """
    try:
        gpus = keras.distribution.list_devices("gpu")
    except Exception:  # a backend without GPU support raises instead of returning []
        gpus = []
    if not gpus:
        return "CPU"
    backend = keras.backend.backend()
    try:  # only the name is backend-specific; the training code is not
        if backend == "jax":
            import jax

            return str(jax.devices("gpu")[0].device_kind)
        if backend == "tensorflow":
            import tensorflow as tf

            gpu = tf.config.list_physical_devices("GPU")[0]
            return str(tf.config.experimental.get_device_details(gpu).get("device_name", "GPU"))
        if backend == "torch":
            import torch

            return str(torch.cuda.get_device_name(0))
    except Exception:  # naming is cosmetic; never fail a run over it
        pass
    return "GPU"


def steps_per_execution(config: TrainConfig, batches: int, on_gpu: bool) -> int:
    """Batches per call into the compiled step: ~1,024 images, at most one epoch."""
    if config.steps_per_execution is not None:
        return max(1, min(int(config.steps_per_execution), batches))
    per = max(1, IMAGES_PER_EXECUTION // config.batch_size)
    if on_gpu:
        per *= 4  # a GPU step is so short that the Python round trip dominates
    return max(1, min(per, batches))


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer by name (``adam``, ``rmsprop``, ``sgd``)."""
    if name not in OPTIMIZERS:
        raise TrainingError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    cls = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }[name]
    return cls(learning_rate=learning_rate)


def augmentation_layers(aug: Augmentation, seed: int = 0) -> list[keras.layers.Layer]:
    """The Keras preprocessing layers for ``aug`` (identity when not training).

    Degrees become ``RandomRotation``'s fraction of a turn (``aug.rotation_factor``);
    every layer fills with ``aug.fill_mode`` (zeros for ``"constant"``).
    """
    out: list[keras.layers.Layer] = []
    fill = {"fill_mode": aug.fill_mode, "fill_value": 0.0}
    if aug.rotation:
        out.append(keras.layers.RandomRotation(aug.rotation_factor, seed=seed, **fill))
    h, w = aug.shifts
    if h or w:
        out.append(keras.layers.RandomTranslation(h, w, seed=seed + 1, **fill))
    if aug.zoom:
        out.append(keras.layers.RandomZoom(aug.zoom, seed=seed + 2, **fill))
    if aug.flip:
        out.append(keras.layers.RandomFlip("horizontal", seed=seed + 3))
    return out


def _with_augmentation(model: keras.Model, aug: Augmentation, seed: int) -> keras.Model:
    """A training model ``augment -> model`` sharing ``model``'s layers and weights."""
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    for layer in augmentation_layers(aug, seed):
        x = layer(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_augmented")


def _validate(config: TrainConfig, x: np.ndarray, y: np.ndarray) -> None:
    if config.epochs < 1:
        raise TrainingError(f"epochs must be >= 1, got {config.epochs}")
    if config.batch_size < 1:
        raise TrainingError(f"batch_size must be >= 1, got {config.batch_size}")
    if not (config.learning_rate > 0 and math.isfinite(config.learning_rate)):
        raise TrainingError(f"learning_rate must be > 0, got {config.learning_rate}")
    if not 0.0 <= config.validation_split < 1.0:
        raise TrainingError(f"validation_split must be in [0, 1), got {config.validation_split}")
    if config.early_stopping_patience is not None and config.early_stopping_patience < 0:
        raise TrainingError(f"patience must be >= 0, got {config.early_stopping_patience}")
    if len(x) != len(y) or len(x) == 0:
        raise TrainingError(f"need as many labels as images, got {len(x)} and {len(y)}")
    # Augmentation checks its own ranges when it is made (Augmentation.__post_init__).


class _Reporter(keras.callbacks.Callback):
    """Collects the history, reports progress, and stops on request or on NaN/inf."""

    def __init__(self, epochs, batches, on_progress, should_stop):
        super().__init__()
        self.epochs, self.batches = epochs, batches
        self.on_progress, self.should_stop = on_progress, should_stop
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self.epoch = 0
        self.stopped: str | None = None
        self.epoch_seconds: list[float] = []
        self._t0 = 0.0

    def _check(self, logs) -> None:
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped = "nan"
            self.model.stop_training = True
        elif self.should_stop is not None and self.should_stop():
            self.stopped = self.stopped or "user"
            self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self._check(logs)
        if self.on_progress is not None:
            self.on_progress(
                Progress(
                    "batch",
                    self.epoch + 1,
                    self.epochs,
                    batch + 1,
                    self.batches,
                    logs,
                    self.history,
                )
            )

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._t0)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for key in HISTORY_KEYS:
            if key in logs:
                self.history[key].append(logs[key])
        if self.stopped is None:
            self._check(logs)
        if self.on_progress is not None:
            self.on_progress(
                Progress(
                    "epoch",
                    epoch + 1,
                    self.epochs,
                    self.batches,
                    self.batches,
                    logs,
                    self.history,
                )
            )


def _build_state(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    """Create the optimizer's slots and the metrics' totals before ``fit`` traces its step.

    Without a distribution strategy, Keras's TensorFlow trainer defers this to the first
    trace of the train step, and a ``tf.function`` that creates variables is traced twice:
    about 0.6 s of the first epoch on this CPU for ``book_mnist``. Building them here, on
    one example, needs one trace. Harmless on other backends (they build up front anyway).
    """
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.compute_metrics(x, y, model(x, training=False))
    model.reset_metrics()


def train(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    config: TrainConfig | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    verbose: int = 0,
) -> TrainResult:
    """Compile and fit ``model`` in place; report progress; stop on request or on NaN.

    Parameters
    ----------
    model : keras.Model
        Built, uncompiled or compiled (it is recompiled). Its weights are trained in place.
    x_train : np.ndarray
        ``float32`` ``(N, H, W, C)`` in [0, 1] (see :func:`cnnviz.data.prepare`).
    y_train : np.ndarray
        ``int`` class indices ``(N,)``; 0/1 for a one-unit sigmoid model.
    config : TrainConfig, optional
        Hyperparameters and seed; defaults to ``TrainConfig()``.
    x_val, y_val : np.ndarray, optional
        Validation data; when absent a seeded ``config.validation_split`` is held out.
    on_progress : callable, optional
        Called with a :class:`Progress` after each execution and after each epoch.
    should_stop : callable, optional
        Returns ``True`` to stop; checked after each execution (see module docstring).
    verbose : int
        Keras's own progress output (0 silent, 1 progress bar, 2 one line per epoch).

    Returns
    -------
    TrainResult
        History, why it stopped early (if it did) and speed.
    """
    config = config or TrainConfig()
    x_train = np.asarray(x_train, dtype=np.float32)
    y_train = np.asarray(y_train).reshape(-1)
    _validate(config, x_train, y_train)
    keras.utils.set_random_seed(config.seed)  # shuffling, dropout and augmentation
    if x_val is None and config.validation_split > 0 and len(x_train) > 1:
        x_train, y_train, x_val, y_val = train_val_split(
            x_train, y_train, config.validation_split, config.seed
        )
    validation = None if x_val is None else (np.asarray(x_val, np.float32), np.asarray(y_val))

    device = device_name()
    on_gpu = device != "CPU"
    binary = model.output_shape[-1] == 1
    batches = math.ceil(len(x_train) / config.batch_size)
    spe = steps_per_execution(config, batches, on_gpu)

    fit_model = model
    if config.augmentation is not None and config.augmentation.active:
        fit_model = _with_augmentation(model, config.augmentation, config.seed)
    restore_policies = {}
    if config.mixed_precision and on_gpu:
        # bfloat16 maths, float32 weights (no loss scaling needed); the softmax stays
        # float32 for a stable loss. Restored after the run.
        for layer in model.layers:
            if layer.name != "output" and layer.weights:
                restore_policies[layer] = layer.dtype_policy
                layer.dtype_policy = keras.DTypePolicy("mixed_bfloat16")
    fit_model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=on_gpu,
        steps_per_execution=spe,
    )
    _build_state(fit_model, x_train[:1], y_train[:1])
    reporter = _Reporter(config.epochs, batches, on_progress, should_stop)
    callbacks: list[keras.callbacks.Callback] = [reporter]
    early = None
    if config.early_stopping_patience is not None and validation is not None:
        early = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True
        )
        callbacks.append(early)

    start = time.perf_counter()
    fit_model.fit(
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=validation,
        shuffle=True,
        callbacks=callbacks,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    for layer, policy in restore_policies.items():
        layer.dtype_policy = policy
    if fit_model is not model:  # the plain model can then be evaluated and saved as usual
        model.compile(
            optimizer=make_optimizer(config.optimizer, config.learning_rate),
            loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=on_gpu,
        )

    stopped = reporter.stopped
    if stopped is None and early is not None and early.stopped_epoch > 0:
        stopped = "early_stopping"
    done = len(reporter.epoch_seconds)
    images_per_sec = len(x_train) * done / max(seconds, 1e-9)
    message = _message(stopped, done, config, reporter.history, early)
    return TrainResult(
        history=reporter.history,
        stopped=stopped,
        message=message,
        images_per_sec=images_per_sec,
        seconds=seconds,
        device=device,
        epoch_seconds=reporter.epoch_seconds,
        steps_per_execution=spe,
    )


def _message(stopped, done, config, history, early) -> str:
    """One sentence for the UI saying how the run ended."""
    if stopped == "nan":
        return (
            f"Training stopped in epoch {done}: the loss became NaN/infinite — the learning "
            f"rate {config.learning_rate:g} is too large; try a smaller one."
        )
    if stopped == "user":
        return f"Training stopped on request during epoch {done} of {config.epochs}."
    if stopped == "early_stopping":
        best = early.best if early is not None else float("nan")
        return (
            f"Early stopping after epoch {done}: validation loss had not improved for "
            f"{config.early_stopping_patience} epochs (best {best:.4f}; best weights restored)."
        )
    acc = history["val_accuracy"][-1] if history["val_accuracy"] else None
    tail = f", validation accuracy {acc:.2%}" if acc is not None else ""
    return f"Trained {done} epoch{'s' if done != 1 else ''}{tail}."
