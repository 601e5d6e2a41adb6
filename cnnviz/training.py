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
fraction of a second on a CPU, and on a CPU at least :data:`REPORTS_PER_EPOCH` reports
per epoch). Keras then evaluates the validation set once and ends the epoch; no further
batch is trained. Pass ``TrainConfig(steps_per_execution=1)`` for strict per-batch
progress and stopping, at the cost of speed.

Live curves. Keras's batch logs are running means since the start of the epoch; the
reporter turns them back into the mean loss and accuracy *of the batches of each
execution* (``Progress.points``), the per-batch points the Train page draws (faint, with
an exponential moving average on top, as TensorBoard does: :func:`smooth`). Validation
is measured once per epoch, and once before training (epoch 0, :class:`Start`).

Batch norm. In inference mode (validation, ``predict``, every other page) a
``BatchNormalization`` layer uses moving averages of its inputs' mean and variance,
updated by ``momentum`` once per step while the weights themselves keep changing; after
a short run they lag and the model answers badly or unsurely (:class:`BatchNormCheck`
measures it after every run). With ``TrainConfig.refresh_batchnorm`` (on by default)
:func:`refresh_batchnorm` recomputes them from up to :data:`BN_REFRESH_IMAGES` training
images with the current weights before each validation (PreciseBN, Wu & Johnson 2021,
"Rethinking 'Batch' in BatchNorm"); training itself, which normalises by each batch's
own statistics, is unchanged.

How a run ends (``TrainResult.status``, one of :data:`STATUSES`):

- ``"nan"``: the loss became NaN or infinite; the run stops at once.
- ``"diverged"``: the run went wrong without NaNs (see :func:`diagnose`): the training
  loss ended far above where it started, or the accuracy ended near chance after the
  loss had blown up (or after starting above chance).
- ``"stopped"``: the learner asked to stop (or another click ended the run).
- ``"early_stopping"``: validation loss stopped improving for ``patience`` epochs.
- ``"done"``: every epoch ran.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from cnnviz.data import train_val_split
from cnnviz.evaluation import cross_entropy, predict_classes

OPTIMIZERS = ("adam", "rmsprop", "sgd")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
STATUSES = ("done", "stopped", "early_stopping", "nan", "diverged")
IMAGES_PER_EXECUTION = 1024  # progress/stop granularity on a CPU, in images
REPORTS_PER_EPOCH = 8  # at least this many live points per epoch on a CPU
# "diverged" (see diagnose): the loss ends above LOSS_FACTOR × max(start loss, ln K), or
# accuracy ends within CHANCE_MARGIN of chance after a blow-up or a fall from above it.
LOSS_FACTOR = 2.0  # "twice" in the messages of diagnose()
CHANCE_MARGIN = 0.05
# Batch-norm disagreement (see BatchNormCheck): training-mode accuracy above
# inference-mode accuracy by more than BN_ACCURACY_GAP, or mean top probabilities apart
# by more than BN_CONFIDENCE_GAP.
BN_ACCURACY_GAP = 0.05
BN_CONFIDENCE_GAP = 0.15
BN_CHECK_IMAGES = 256
BN_REFRESH_IMAGES = 1024  # training images that batch norm's statistics are recomputed from


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
    # Recompute batch norm's moving statistics from the current weights before each
    # validation (see refresh_batchnorm); no effect on training itself.
    refresh_batchnorm: bool = True


@dataclass(frozen=True)
class Start:
    """How the model scores before training: the yardstick :func:`diagnose` measures from.

    Attributes
    ----------
    loss, accuracy : float
        Cross-entropy and accuracy of the model as it is before training, on the
        validation images (the training images when there are none): epoch 0.
    chance : float
        The accuracy of always answering the most common class of those images.
    guess_loss : float
        The loss of a uniform guess, ``ln K`` (``ln 2`` for one sigmoid unit).
    images : int
        How many images these figures come from.
    """

    loss: float
    accuracy: float
    chance: float
    guess_loss: float
    images: int = 0

    @property
    def loss_limit(self) -> float:
        """A loss above this is "far above where it started": ``LOSS_FACTOR × max(loss, ln K)``.

        Examples
        --------
        >>> Start(loss=2.31, accuracy=0.1, chance=0.11, guess_loss=2.30).loss_limit
        4.62
        """
        return LOSS_FACTOR * max(self.loss, self.guess_loss)

    @property
    def chance_limit(self) -> float:
        """An accuracy at or below this is "near chance": ``chance + CHANCE_MARGIN``."""
        return self.chance + CHANCE_MARGIN


@dataclass
class Progress:
    """What ``on_progress`` receives after each execution (``"batch"``) and each epoch.

    ``points`` holds the live curve so far: ``"epoch"`` (fractional: 1.5 = half way
    through epoch 2), ``"loss"`` and ``"accuracy"``, each the mean over the batches of one
    execution (see the module docstring).
    """

    kind: str  # "batch" | "epoch"
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    logs: dict  # the Keras logs of that batch/epoch, as floats
    history: dict[str, list[float]]  # per-epoch so far
    points: dict[str, list[float]] = field(default_factory=dict)
    images_seen: int = 0  # training images processed so far, over all epochs
    images_total: int = 0  # epochs × training images
    seconds: float = 0.0  # since fit started (compilation included)
    start: Start | None = None

    @property
    def images_per_sec(self) -> float:
        """Training images per second so far (0 before the first report)."""
        return self.images_seen / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Time left at the speed so far (validation not counted); ``None`` before a report."""
        rate = self.images_per_sec
        if rate <= 0:
            return None
        return max(0, self.images_total - self.images_seen) / rate


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    status : str
        One of :data:`STATUSES` (see the module docstring and :func:`diagnose`).
    message : str
        One sentence for the UI: how the run ended and, for a failure, what to try.
    notes : list of str
        Further warnings, one sentence each (accuracy near chance; batch norm disagreeing
        with itself, :class:`BatchNormCheck`).
    images_per_sec : float
        Training images actually processed per second of ``fit`` (a stopped run counts
        only the batches it trained).
    """

    history: dict[str, list[float]]
    status: str
    message: str
    images_per_sec: float
    seconds: float
    device: str  # "CPU" or the GPU's name
    epoch_seconds: list[float] = field(default_factory=list)
    steps_per_execution: int = 1
    points: dict[str, list[float]] = field(default_factory=dict)
    start: Start | None = None
    images_seen: int = 0
    notes: list[str] = field(default_factory=list)
    batchnorm: BatchNormCheck | None = None

    @property
    def failed(self) -> bool:
        """``True`` for a run that went wrong (``"nan"`` or ``"diverged"``)."""
        return self.status in ("nan", "diverged")

    @property
    def stopped(self) -> str | None:
        """The older name: ``None`` for a run that ran every epoch, else why it ended early
        (``"user"``, ``"early_stopping"``, ``"nan"``, ``"diverged"``). Prefer ``status``."""
        return {"done": None, "stopped": "user"}.get(self.status, self.status)


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
    """Batches per call into the compiled step: ~1,024 images, at most one epoch.

    On a CPU also at most ``batches / REPORTS_PER_EPOCH`` (rounded up), so a short epoch
    still draws ~8 live points; a GPU epoch is over too fast to watch, and there the
    Python round trip between executions is what costs.

    Examples
    --------
    >>> steps_per_execution(TrainConfig(batch_size=128), 57, on_gpu=False)
    8
    >>> steps_per_execution(TrainConfig(batch_size=128), 20, on_gpu=False)
    3
    """
    if config.steps_per_execution is not None:
        return max(1, min(int(config.steps_per_execution), batches))
    per = max(1, IMAGES_PER_EXECUTION // config.batch_size)
    if on_gpu:
        per *= 4  # a GPU step is so short that the Python round trip dominates
    else:
        per = min(per, math.ceil(batches / REPORTS_PER_EPOCH))
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
    make_optimizer(config.optimizer, config.learning_rate)  # an unknown name fails here
    # Augmentation checks its own ranges when it is made (Augmentation.__post_init__).


def _probabilities(model: keras.Model, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """``model(x)`` in inference mode, eagerly, in chunks: ``(N, K)`` float64."""
    chunks = [
        keras.ops.convert_to_numpy(model(x[i : i + batch], training=False))
        for i in range(0, len(x), batch)
    ]
    return np.concatenate(chunks).astype(np.float64)


def measure_start(model: keras.Model, x: np.ndarray, y: np.ndarray) -> Start:
    """Loss and accuracy of ``model`` as it is, on ``(x, y)``: the run's epoch 0.

    Parameters
    ----------
    model : keras.Model
        Softmax (``K`` units) or one sigmoid unit.
    x : np.ndarray
        ``float32`` ``(N, H, W, C)`` in [0, 1].
    y : np.ndarray
        ``(N,)`` class indices.
    """
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    probs = _probabilities(model, np.asarray(x, dtype=np.float32))
    k = max(2, probs.shape[-1])
    return Start(
        loss=cross_entropy(probs, y),
        accuracy=float(np.mean(predict_classes(probs) == y)),
        chance=float(np.bincount(y, minlength=k).max() / max(len(y), 1)),
        guess_loss=math.log(k),
        images=len(y),
    )


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average.

    ``s_t = weight · s_{t-1} + (1 - weight) · v_t`` from ``s_0 = 0``, divided by
    ``1 - weight^t`` so the first points are not pulled towards 0. ``weight = 0`` returns
    the values; NaN/inf values are carried through as NaN and skipped by the average.

    Examples
    --------
    >>> smooth([1.0, 3.0], 0.5).round(4).tolist()  # (0.5·1)/0.5, (0.25·1 + 0.5·3)/0.75
    [1.0, 2.3333]
    """
    if not 0.0 <= weight < 1.0:
        raise TrainingError(f"smoothing must be in [0, 1), got {weight}")
    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, np.nan)
    acc, n = 0.0, 0
    for i, value in enumerate(v):  # sequential by definition; curves have ~100s of points
        if not math.isfinite(value):
            continue
        acc = weight * acc + (1.0 - weight) * value
        n += 1
        out[i] = acc / (1.0 - weight**n)
    return out


def _duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(p: Progress) -> str:
    """One line for the progress bar: epoch, batch, loss, images/s and time left.

    Examples
    --------
    >>> p = Progress("batch", 2, 5, 30, 57, {"loss": 0.25}, {}, images_seen=10_800,
    ...              images_total=36_000, seconds=4.0)
    >>> progress_text(p)
    'epoch 2/5 · batch 30/57 · loss 0.2500 · 2,700 images/s · about 9 s left'
    """
    parts = [f"epoch {p.epoch}/{p.epochs}", f"batch {p.batch}/{p.batches}"]
    loss = p.logs.get("loss")
    if loss is not None:
        parts.append(f"loss {loss:.4f}")
    if p.images_per_sec > 0:
        parts.append(f"{p.images_per_sec:,.0f} images/s")
    left = p.seconds_left
    if left is not None:
        parts.append(f"about {_duration(left)} left")
    return " · ".join(parts)


# --- batch norm: training mode vs inference mode ----------------------------------------


@dataclass(frozen=True)
class BatchNormCheck:
    """A model's answers with batch statistics (training mode) vs moving ones (inference).

    In training mode a ``BatchNormalization`` layer normalises each batch by that batch's
    own mean and variance; in inference mode (``predict``, every page, the test set) it
    uses moving averages updated once per training step,
    ``moving = momentum · moving + (1 - momentum) · batch``. After ``steps`` steps the
    averages still hold ``momentum ** steps`` of their starting values (mean 0,
    variance 1); with Keras's default momentum 0.99 that is 32% after 112 steps, and the
    two modes disagree.

    Attributes
    ----------
    images : int
        Validation images compared.
    train_top, infer_top : float
        Mean probability of the predicted class in training / inference mode.
    train_accuracy, infer_accuracy : float
        Accuracy in each mode.
    agreement : float
        Fraction of images given the same class in both modes.
    momentum : float
        The largest momentum of the model's batch-norm layers.
    steps : int or None
        Training steps the moving averages have seen (``None`` when unknown).
    """

    images: int
    train_top: float
    infer_top: float
    train_accuracy: float
    infer_accuracy: float
    agreement: float
    momentum: float
    steps: int | None
    refreshed_from: int = 0  # training images the statistics were last recomputed from

    @property
    def remembered(self) -> float | None:
        """Share of the starting statistics still in the moving averages: ``momentum ** steps``."""
        return None if self.steps is None else self.momentum**self.steps

    @property
    def disagrees(self) -> bool:
        """Training mode beats inference mode by > 5 accuracy points, or the confidences differ
        by > 0.15 (:data:`BN_ACCURACY_GAP`, :data:`BN_CONFIDENCE_GAP`)."""
        return (
            self.train_accuracy - self.infer_accuracy > BN_ACCURACY_GAP
            or abs(self.train_top - self.infer_top) > BN_CONFIDENCE_GAP
        )

    def sentence(self) -> str:
        """One sentence for the learner: what disagrees, why, and what to try ("" if fine)."""
        if not self.disagrees:
            return ""
        seen = (
            f"On {self.images} validation images the model is {self.train_accuracy:.0%} "
            f"accurate and {self.train_top:.0%} sure on average in training mode (each batch "
            f"normalised by its own mean and variance) but {self.infer_accuracy:.0%} accurate "
            f"and {self.infer_top:.0%} sure in inference mode, which uses batch norm's "
            "moving averages"
        )
        if self.refreshed_from:
            return (
                f"{seen}, even though they were recomputed from {self.refreshed_from:,} "
                "training images with the final weights: single batches differ too much from "
                "the data as a whole — try a larger batch, or no dropout right before batch norm."
            )
        left = self.remembered
        if left is not None and left > 0.05:
            return (
                f"{seen}: with momentum {self.momentum:g} each training step moves them only "
                f"{1 - self.momentum:.0%} of the way, so after {self.steps:,} steps they still "
                f"hold {left:.0%} of their starting values (mean 0, variance 1) — train "
                "longer, use a lower momentum (e.g. batchnorm momentum=0.9), or have them "
                "recomputed from training images after training (cnnviz's batch-norm refresh)."
            )
        return (
            f"{seen}: they average the last ~{1 / (1 - self.momentum):.0f} steps (momentum "
            f"{self.momentum:g}), and early in training the weights change faster than that "
            "— train longer, or have them recomputed from training images after training "
            "(cnnviz's batch-norm refresh)."
        )


def _layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model``, including those of nested models."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if isinstance(layer, keras.Model):
            out.extend(_layers(layer))
    return out


def refresh_batchnorm(
    model: keras.Model, x: np.ndarray, images: int = BN_REFRESH_IMAGES, batch_size: int = 256
) -> int:
    """Recompute every batch-norm layer's moving mean and variance from ``x``; images used.

    Runs ``x[:images]`` through ``model`` in training mode, batch by batch, with dropout
    off and each layer's momentum set so the moving statistics become the plain average
    of the batches' statistics (``k / (k + 1)`` before batch ``k``: the first batch
    replaces the old values). Weights are not touched; momentum and dropout rates are
    restored. Returns 0 (and does nothing) for a model without batch norm.

    Parameters
    ----------
    model : keras.Model
        The trained model.
    x : np.ndarray
        ``float32`` ``(N, H, W, C)`` training images, as the model sees them.
    """
    layers = _layers(model)
    bns = [la for la in layers if isinstance(la, keras.layers.BatchNormalization)]
    if not bns or len(x) == 0:
        return 0
    x = np.asarray(x[:images], dtype=np.float32)
    dropouts = [la for la in layers if isinstance(la, keras.layers.Dropout)]
    momenta, rates = [b.momentum for b in bns], [d.rate for d in dropouts]
    try:
        for d in dropouts:
            d.rate = 0.0
        for k, i in enumerate(range(0, len(x), batch_size)):
            for b in bns:
                b.momentum = k / (k + 1)
            model(x[i : i + batch_size], training=True)
    finally:
        for b, m in zip(bns, momenta, strict=True):
            b.momentum = m
        for d, rate in zip(dropouts, rates, strict=True):
            d.rate = rate
    return len(x)


def batchnorm_check(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    steps: int | None = None,
    refreshed_from: int = 0,
) -> BatchNormCheck | None:
    """Compare ``model`` on ``(x, y)`` in training mode and inference mode; ``None`` without BN.

    Training mode here means batch statistics in every batch-norm layer, with dropout
    switched off (so only batch norm differs); it runs through ``stateless_call``, so
    the model's moving averages are not touched.

    Parameters
    ----------
    model : keras.Model
        Softmax or sigmoid output.
    x : np.ndarray
        ``float32`` ``(N, H, W, C)``: one batch (all of it is normalised together).
    y : np.ndarray
        ``(N,)`` class indices.
    steps : int, optional
        Training steps taken (default: the optimizer's ``iterations`` if compiled).
    refreshed_from : int
        How many training images :func:`refresh_batchnorm` last used (0: never).
    """
    bns = [la for la in _layers(model) if isinstance(la, keras.layers.BatchNormalization)]
    if not bns:
        return None
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if steps is None and getattr(model, "optimizer", None) is not None:
        steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    infer = _probabilities(model, x, batch=len(x))
    dropouts = [la for la in _layers(model) if isinstance(la, keras.layers.Dropout)]
    rates = [d.rate for d in dropouts]
    try:
        for d in dropouts:
            d.rate = 0.0
        out, _ = model.stateless_call(
            model.trainable_variables, model.non_trainable_variables, x, training=True
        )
    finally:
        for d, rate in zip(dropouts, rates, strict=True):
            d.rate = rate
    train = keras.ops.convert_to_numpy(out).astype(np.float64)

    def top(probs: np.ndarray) -> float:
        if probs.shape[-1] == 1:  # sigmoid: the probability of the predicted side
            return float(np.mean(np.maximum(probs[:, 0], 1 - probs[:, 0])))
        return float(np.mean(probs.max(axis=-1)))

    pred_train, pred_infer = predict_classes(train), predict_classes(infer)
    return BatchNormCheck(
        images=len(y),
        train_top=top(train),
        infer_top=top(infer),
        train_accuracy=float(np.mean(pred_train == y)),
        infer_accuracy=float(np.mean(pred_infer == y)),
        agreement=float(np.mean(pred_train == pred_infer)),
        momentum=max(float(b.momentum) for b in bns),
        steps=steps,
        refreshed_from=refreshed_from,
    )


# --- how a run ended ----------------------------------------------------------------------


def _num(value: float) -> str:
    """``147,812`` for large values, ``2.303`` for small ones."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def diagnose(
    history: dict[str, list[float]], points: dict[str, list[float]], start: Start
) -> tuple[str | None, str]:
    """``("diverged", why)`` when a run without NaNs went wrong, else ``(None, "")``.

    The rule, with ``limit = LOSS_FACTOR × max(start.loss, ln K)`` (``LOSS_FACTOR`` = 2)
    and ``near chance`` = at most ``start.chance + CHANCE_MARGIN`` (5 points):

    1. the last epoch's training loss is above ``limit`` ("the loss ends far above where
       it started": worse than twice a uniform guess), or
    2. the last validation accuracy (training accuracy without validation data) is near
       chance, and either the loss went above ``limit`` at some point (it blew up and
       collapsed to one answer) or the model started above chance (training destroyed it).

    A run that starts near chance and stays there *without* a blow-up has not learned
    yet (too few steps, too small a learning rate): that is not divergence.

    Parameters
    ----------
    history : dict
        Per-epoch Keras history (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).
    points : dict
        Per-execution ``loss`` values (:attr:`Progress.points`); may be empty.
    start : Start
        The model before training.
    """
    losses = [v for v in history.get("loss") or [] if v is not None]
    batch_losses = [v for v in points.get("loss") or [] if v is not None]
    last = losses[-1] if losses else (batch_losses[-1] if batch_losses else None)
    if last is None:
        return None, ""
    limit = start.loss_limit
    if last > limit:
        return "diverged", (
            f"the training loss ended at {_num(last)}, more than twice both where it started "
            f"({_num(start.loss)}) and the loss of a uniform guess ({_num(start.guess_loss)})"
        )
    accs = history.get("val_accuracy") or history.get("accuracy") or points.get("accuracy")
    if not accs:
        return None, ""
    acc = accs[-1]
    which = "validation" if history.get("val_accuracy") else "training"
    if acc > start.chance_limit:
        return None, ""
    peak = max(losses + batch_losses)
    if peak > limit:
        return "diverged", (
            f"{which} accuracy ended at {acc:.1%}, about chance ({start.chance:.1%}), after "
            f"the loss blew up to {_num(peak)} (it started at {_num(start.loss)})"
        )
    if start.accuracy > start.chance_limit:
        return "diverged", (
            f"{which} accuracy fell from {start.accuracy:.1%} before training to {acc:.1%}, "
            f"about chance ({start.chance:.1%})"
        )
    return None, ""


def not_learned_note(history: dict[str, list[float]], start: Start | None) -> str:
    """A sentence when a run ends near chance without diverging ("" otherwise)."""
    accs = history.get("val_accuracy") or history.get("accuracy")
    if start is None or not accs or accs[-1] > start.chance_limit:
        return ""
    which = "Validation" if history.get("val_accuracy") else "Training"
    return (
        f"{which} accuracy is {accs[-1]:.1%}, about chance ({start.chance:.1%}): the model "
        "has not learned yet — train for more epochs or use a larger learning rate."
    )


class _Reporter(keras.callbacks.Callback):
    """Collects the history and the live points, reports progress, stops on request or NaN."""

    def __init__(
        self, epochs, batches, n_train, batch_size, start, on_progress, should_stop, refresh
    ):
        super().__init__()
        self.refresh = refresh  # None, or a function that refreshes batch norm's statistics
        self.refreshed_from = 0
        self.epochs, self.batches = epochs, batches
        self.n_train, self.batch_size = n_train, batch_size
        self.start = start
        self.on_progress, self.should_stop = on_progress, should_stop
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self.points: dict[str, list[float]] = {"epoch": [], "loss": [], "accuracy": []}
        self.epoch = 0
        self.stopped: str | None = None  # None | "user" | "nan"
        self.epoch_seconds: list[float] = []
        self.images_seen = 0
        self._t0 = self._fit_t0 = time.perf_counter()
        self._sums = (0, 0.0, 0.0)  # images, loss·images, accuracy·images this epoch

    def _check(self, logs) -> None:
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped = "nan"
            self.model.stop_training = True
        elif self.should_stop is not None and self.should_stop():
            self.stopped = self.stopped or "user"
            self.model.stop_training = True

    def _progress(self, kind: str, epoch: int, batch: int, logs: dict) -> None:
        if self.on_progress is None:
            return
        self.on_progress(
            Progress(
                kind,
                epoch,
                self.epochs,
                batch,
                self.batches,
                logs,
                self.history,
                points=self.points,
                images_seen=self.images_seen,
                images_total=self.epochs * self.n_train,
                seconds=time.perf_counter() - self._fit_t0,
                start=self.start,
            )
        )

    def on_train_begin(self, logs=None):
        self._fit_t0 = time.perf_counter()

    def on_test_begin(self, logs=None):
        # fit's validation, after the epoch's last step: inference mode must see moving
        # statistics that match the weights it is given
        if self.refresh is not None and self.stopped != "nan":
            self.refreshed_from = self.refresh()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._t0 = time.perf_counter()
        self._sums = (0, 0.0, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        # Keras's logs are means since the epoch began, weighted by batch size: undo the
        # running mean to get this execution's own mean.
        seen = min((batch + 1) * self.batch_size, self.n_train)
        n0, loss0, acc0 = self._sums
        if seen > n0 and "loss" in logs:
            loss_sum = logs["loss"] * seen
            acc_sum = logs.get("accuracy", math.nan) * seen
            self.points["epoch"].append(self.epoch + seen / self.n_train)
            self.points["loss"].append((loss_sum - loss0) / (seen - n0))
            self.points["accuracy"].append((acc_sum - acc0) / (seen - n0))
            self.images_seen += seen - n0
            self._sums = (seen, loss_sum, acc_sum)
        self._check(logs)
        # Keras numbers a short last execution as if it were full: cap at the epoch's end
        self._progress("batch", self.epoch + 1, min(batch + 1, self.batches), logs)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._t0)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for key in HISTORY_KEYS:
            if key in logs:
                self.history[key].append(logs[key])
        if self.stopped is None:
            self._check(logs)
        self._progress("epoch", epoch + 1, self.batches, logs)


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
    """Compile and fit ``model`` in place; report progress; say truthfully how it ended.

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
        History and live points, ``status`` (:data:`STATUSES`) with one sentence, notes
        (near chance, batch norm disagreeing with itself) and speed.
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
    validation = None
    if x_val is not None and len(x_val):
        validation = (np.asarray(x_val, np.float32), np.asarray(y_val))
    # epoch 0: the yardstick for "diverged" and the first point of the validation curve
    x_ref, y_ref = validation if validation is not None else (x_train, y_train)
    start = measure_start(model, x_ref, y_ref)

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
    refresh = None
    if config.refresh_batchnorm:
        pick = np.random.default_rng(config.seed).permutation(len(x_train))[:BN_REFRESH_IMAGES]
        x_refresh = x_train[np.sort(pick)]  # (≤ 1024, H, W, C), without augmentation

        def refresh() -> int:
            return refresh_batchnorm(model, x_refresh)

    reporter = _Reporter(
        config.epochs,
        batches,
        len(x_train),
        config.batch_size,
        start,
        on_progress,
        should_stop,
        refresh,
    )
    callbacks: list[keras.callbacks.Callback] = [reporter]
    early = None
    if config.early_stopping_patience is not None and validation is not None:
        early = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True
        )
        callbacks.append(early)

    start_time = time.perf_counter()
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
    seconds = time.perf_counter() - start_time
    for layer, policy in restore_policies.items():
        layer.dtype_policy = policy
    steps = int(keras.ops.convert_to_numpy(fit_model.optimizer.iterations))
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
    check = None
    if stopped != "nan":
        if refresh is not None and validation is None:  # no validation ran: refresh now
            reporter.refreshed_from = refresh()
        check = batchnorm_check(
            model,
            x_ref[:BN_CHECK_IMAGES],
            y_ref[:BN_CHECK_IMAGES],
            steps,
            reporter.refreshed_from,
        )
    return _result(
        reporter.history,
        reporter.points,
        start,
        stopped,
        config,
        images_seen=reporter.images_seen,
        seconds=seconds,
        device=device,
        epoch_seconds=reporter.epoch_seconds,
        steps_per_execution=spe,
        early=early,
        batchnorm=check,
    )


def _result(
    history, points, start, stopped, config, *, early=None, batchnorm=None, **facts
) -> TrainResult:
    """The :class:`TrainResult` of a run: status by priority, message, notes."""
    done = max(
        len(history.get("loss") or []), math.ceil(points["epoch"][-1]) if points.get("epoch") else 0
    )
    status, why = ("nan", "") if stopped == "nan" else diagnose(history, points, start)
    if status is None:
        status = {"user": "stopped", "early_stopping": "early_stopping"}.get(stopped, "done")
    notes = []
    if status not in ("nan", "diverged"):
        note = not_learned_note(history, start)
        if note:
            notes.append(note)
    if batchnorm is not None and batchnorm.disagrees:
        notes.append(batchnorm.sentence())
    seconds = facts.get("seconds", 0.0)
    return TrainResult(
        history=history,
        status=status,
        message=_message(status, why, done, config, history, early, stopped),
        images_per_sec=facts.get("images_seen", 0) / seconds if seconds > 0 else 0.0,
        points=points,
        start=start,
        notes=notes,
        batchnorm=batchnorm,
        **facts,
    )


def result_from_progress(
    last: Progress | None, config: TrainConfig, device: str, by_request: bool = True
) -> TrainResult:
    """The result of a run that ended without returning (a click ended the page run).

    Built from the last :class:`Progress` the run reported: its history and live points
    so far, and the images it had trained per second of ``fit``. The status is
    ``"stopped"`` unless the numbers say the run had diverged or hit NaN;
    ``by_request=False`` says it was another click, not Stop, that ended it.
    """
    if last is None:
        empty = {k: [] for k in HISTORY_KEYS}
        return TrainResult(
            empty, "stopped", "Training stopped before its first batch.", 0.0, 0.0, device
        )
    points = {k: list(v) for k, v in last.points.items()}
    history = {k: list(v) for k, v in last.history.items()}
    losses = points.get("loss") or []
    stopped = "nan" if losses and not math.isfinite(losses[-1]) else "user"
    start = last.start or Start(math.nan, 0.0, 0.0, math.nan)
    result = _result(
        history,
        points,
        start,
        stopped,
        config,
        images_seen=last.images_seen,
        seconds=last.seconds,
        device=device,
    )
    if result.status == "stopped" and not by_request:
        result.message = (
            f"Training was interrupted in epoch {last.epoch} of {config.epochs} by a click "
            "elsewhere on the page; the model keeps the weights it had."
        )
    return result


def _message(status, why, done, config, history, early, stopped) -> str:
    """One sentence for the UI saying how the run ended (and, for a failure, what to try)."""
    smaller = f"{config.learning_rate / 10:g}"
    if status == "nan":
        return (
            f"Training failed in epoch {done}: the loss became NaN/infinite — the learning "
            f"rate {config.learning_rate:g} is too large; try a smaller one (e.g. {smaller})."
        )
    if status == "diverged":
        restored = (
            f" (early stopping restored the weights of epoch {early.best_epoch + 1})"
            if stopped == "early_stopping" and early is not None
            else ""
        )
        return (
            f"Training diverged: {why}{restored} — the learning rate {config.learning_rate:g} "
            f"is too large for {config.optimizer}; try a smaller one (e.g. {smaller})."
        )
    if status == "stopped":
        return f"Training stopped on request during epoch {done} of {config.epochs}."
    if status == "early_stopping":
        best = early.best if early is not None else float("nan")
        return (
            f"Early stopping after epoch {done}: validation loss had not improved for "
            f"{config.early_stopping_patience} epochs (best {best:.4f}; best weights restored)."
        )
    acc = history["val_accuracy"][-1] if history.get("val_accuracy") else None
    tail = f", validation accuracy {acc:.2%}" if acc is not None else ""
    return f"Trained {done} epoch{'s' if done != 1 else ''}{tail}."
