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
a smoothed trend on top: :func:`smooth`, an exponential moving average of the *log* of
the loss, so one early spike of 10⁴ does not hold the trend up for dozens of points). An
epoch's last execution is often a stub (57 batches in executions of 8 leave one batch,
maybe a partial one): when it holds less than half an execution's images it is merged
into the point before, so no point rests on a handful of images. Validation is measured
once before training (epoch 0, :class:`Start`) and at the end of every epoch, and drawn
where it was measured (``points["val_epoch"]``: a run stopped at batch 24 of 57 of its
first epoch validates at epoch 24/57 = 0.42, not 1).

Speed. ``images/s`` is one figure everywhere (the live progress line, the result, the
run table): **training images per second of training time**, where training time runs
from each epoch's start to its last batch's end: validation and the epoch-0 measurement
are not counted, compiling the step (inside the first batches) is.

Batch norm. In inference mode (validation, ``predict``, every other page) a
``BatchNormalization`` layer uses moving averages of its inputs' mean and variance,
updated by ``momentum`` once per step while the weights themselves keep changing; after
a short run they lag and the model answers badly or unsurely (:class:`BatchNormCheck`
measures it after every run). With ``TrainConfig.refresh_batchnorm`` (on by default)
:func:`refresh_batchnorm` recomputes them from up to :data:`BN_REFRESH_IMAGES` training
images with the current weights before each validation (PreciseBN, Wu & Johnson 2021,
"Rethinking 'Batch' in BatchNorm"); training itself, which normalises by each batch's
own statistics, is unchanged.

Snapshots. With ``TrainConfig.snapshots`` (the Train page asks for 30) a
:class:`cnnviz.snapshots.SnapshotRecorder` records the first layer's kernels, the probe
image's maps, probabilities and Grad-CAM, and every layer's weight and gradient
histograms at log-spaced moments; each :class:`Progress` carries the latest
(``snapshot``) and the result all of them (``TrainResult.snapshots``). It runs first among
the callbacks, so its time counts as training time in ``images/s``.

How a run ends (``TrainResult.status``, one of :data:`STATUSES`), judged by
:func:`diagnose` on measures a learner sees on the chart:

- ``"nan"``: the loss became NaN or infinite; the run stops at once.
- ``"diverged"``: the run went wrong without NaNs: the training loss *ended* (the mean of
  the last 10 % of the training points, at least one: :func:`ending`) above twice both
  where it started (epoch 0) and the loss of a uniform guess, or the last validation
  accuracy is no better than chance after the loss had blown up (or after starting above
  chance). A run that spikes and comes back below that line is not diverged (a note
  says it spiked, :func:`spike_note`).
- ``"stopped"``: the learner asked to stop (or another click ended the run).
- ``"early_stopping"``: validation loss stopped improving for ``patience`` epochs.
- ``"done"``: every epoch ran.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from cnnviz import claims
from cnnviz.claims import Claim
from cnnviz.data import train_val_split
from cnnviz.evaluation import cross_entropy, predict_classes
from cnnviz.runs import trained_text

OPTIMIZERS = ("adam", "rmsprop", "sgd")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
STATUSES = ("done", "stopped", "early_stopping", "nan", "diverged")
IMAGES_PER_EXECUTION = 1024  # progress/stop granularity on a CPU, in images
REPORTS_PER_EPOCH = 8  # at least this many live points per epoch on a CPU
# "diverged" (see diagnose): the loss ends above LOSS_FACTOR × max(start loss, ln K), or
# accuracy ends within CHANCE_MARGIN of chance after a blow-up or a fall from above it.
LOSS_FACTOR = 2.0  # "twice" in the messages of diagnose()
CHANCE_MARGIN = 0.05
# "ended at" (see ending): the mean of the last 1/TAIL_DIVISOR of the training points
TAIL_DIVISOR = 10  # the last 10 %, rounded up, at least one point
# Keras's own default learning rate of each optimizer (what lr_advice suggests first)
KERAS_DEFAULT_LR = {"adam": 0.001, "rmsprop": 0.001, "sgd": 0.01}
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

    @claims.claim
    def describe(self) -> Claim:
        """The settings in the textbooks' words, e.g. ``"rotation ±20°, horizontal flip"``.

        Percentages keep every digit that matters (a shift of 0.004 reads ``0.4%``, never
        ``0%``); a width shift and a different height shift read ``width × height``.

        Examples
        --------
        >>> Augmentation(rotation=20, shift=0.1, flip=True, fill_mode="nearest").describe()
        'rotation ±20°, shift 10%, horizontal flip (fill: nearest)'
        """
        h, w = self.shifts
        parts = [f"rotation ±{self.rotation:g}°"] if self.rotation else []
        if h or w:
            parts.append(f"shift {_pct(w)} × {_pct(h)}" if h != w else f"shift {_pct(w)}")
        if self.zoom:
            parts.append(f"zoom ±{_pct(self.zoom)}")
        if self.flip:
            parts.append("horizontal flip")
        facts = {
            "rotation": self.rotation,
            "width_shift": w,
            "height_shift": h,
            "zoom": self.zoom,
            "flip": self.flip,
            "fill_mode": self.fill_mode if parts else None,
        }
        if not parts:
            return Claim("none", **facts)
        return Claim(", ".join(parts) + f" (fill: {self.fill_mode})", **facts)


def _pct(fraction: float) -> str:
    """A fraction as a percentage with the digits it has: ``0.1 -> "10%"``, ``0.004 -> "0.4%"``."""
    return f"{100 * fraction:g}%"


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
    # Snapshots of kernels, maps, Grad-CAM and histograms at up to this many moments
    # (cnnviz.snapshots; the Train page asks for 30); 0: none.
    snapshots: int = 0


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

        ``nan`` when either figure is unknown (``nan``): then no loss is "far above" it.
        """
        if not (math.isfinite(self.loss) and math.isfinite(self.guess_loss)):
            return math.nan
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
    execution (an epoch's stub of a last execution merged into the one before), and
    ``"val_epoch"``: where each validation of ``history`` was measured (see the module
    docstring).
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
    seconds: float = 0.0  # training time so far: validation excluded, compiling included
    start: Start | None = None
    # the latest snapshot (a one-moment cnnviz.snapshots.Snapshots) when the run records them
    snapshot: Any = None

    @property
    def images_per_sec(self) -> float:
        """Training images per second of training time so far (0 before the first report).

        The one definition of speed (module docstring): the result's and the run table's
        ``images/s`` are the last report's.
        """
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
        Training images per second of training time (validation excluded, compiling
        included; a stopped run counts only the batches it trained): the same figure as
        the last :attr:`Progress.images_per_sec`.
    seconds : float
        Wall-clock time of the whole ``fit``, validation included.
    train_seconds : float
        Training time (see the module docstring): what ``images_per_sec`` divides by.
    batches, batches_done : int
        Batches per epoch, and batches trained over the whole run (a stopped run's
        partial epoch included): ``batches_done // batches`` full epochs.
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
    train_seconds: float = 0.0
    batches: int = 0
    batches_done: int = 0
    snapshots: Any = None  # cnnviz.snapshots.Snapshots when TrainConfig.snapshots > 0

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
    if config.snapshots < 0:
        raise TrainingError(f"snapshots must be >= 0, got {config.snapshots}")
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


def smooth(values, weight: float, log: bool = False) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average (of the log, if asked).

    ``s_t = weight · s_{t-1} + (1 - weight) · v_t`` from ``s_0 = 0``, divided by
    ``1 - weight^t`` so the first points are not pulled towards 0. ``weight = 0`` returns
    the values; NaN/inf values are carried through as NaN and skipped by the average.

    With ``log=True`` the average is taken of ``log(v)`` and turned back (a weighted
    *geometric* mean), for a loss: a first point at 10⁴ among points near 2 then pulls
    the trend up by a factor that fades as ``weight^t``, instead of holding it at
    hundreds for dozens of points. Values ``<= 0`` have no log and are skipped too.

    Each smoothed value is a weighted mean of the values so far, so it lies between their
    minimum and maximum; a constant series smooths to itself. The trend runs across
    epoch ends like any other point (no restart per epoch).

    Examples
    --------
    >>> smooth([1.0, 3.0], 0.5).round(4).tolist()  # (0.5·1)/0.5, (0.25·1 + 0.5·3)/0.75
    [1.0, 2.3333]
    >>> smooth([10_000.0, 2.0, 2.0, 2.0], 0.6, log=True).round(1).tolist()
    [10000.0, 48.8, 9.6, 4.7]
    """
    if not 0.0 <= weight < 1.0:
        raise TrainingError(f"smoothing must be in [0, 1), got {weight}")
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    ok = np.isfinite(v) & (v > 0) if log else np.isfinite(v)
    x = np.log(np.where(ok, v, 1.0)) if log else np.where(ok, v, 0.0)
    out = np.full(v.shape, np.nan)
    acc, n = 0.0, 0
    for i in np.flatnonzero(ok):  # sequential by definition; curves have ~100s of points
        acc = weight * acc + (1.0 - weight) * x[i]
        n += 1
        out[i] = acc / (1.0 - weight**n)
    if log:
        out = np.exp(out)
    # a mean of the values so far stays within their range, bar float rounding
    seen = np.where(ok, v, np.nan)
    with np.errstate(all="ignore"):
        lo = np.fmin.accumulate(seen) if len(seen) else seen
        hi = np.fmax.accumulate(seen) if len(seen) else seen
    return np.where(ok, np.clip(out, lo, hi), np.nan)


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


@claims.claim
def progress_text(p: Progress) -> Claim:
    """One line for the progress bar: epoch, batch, loss, images/s and training time left.

    The loss is Keras's: the mean over this epoch's batches so far (the faint points on
    the chart are means of groups of batches). The speed is :attr:`Progress.images_per_sec`
    (training time; validation excluded), the time left is at that speed, so it leaves
    validation out too, and says so.

    Examples
    --------
    >>> p = Progress("batch", 2, 5, 30, 57, {"loss": 0.25}, {}, images_seen=10_800,
    ...              images_total=36_000, seconds=4.0)
    >>> progress_text(p)
    'epoch 2/5 · batch 30/57 · loss 0.2500 (mean of this epoch so far) · 2,700 images/s of training · about 9 s of training left'
    """  # noqa: E501
    parts = [f"epoch {p.epoch}/{p.epochs}", f"batch {p.batch}/{p.batches}"]
    loss = p.logs.get("loss")
    if loss is not None:
        parts.append(f"loss {loss:.4f} (mean of this epoch so far)")
    rate = p.images_per_sec
    if rate > 0:
        parts.append(f"{rate:,.0f} images/s of training")
    left = p.seconds_left
    if left is not None:
        parts.append(f"about {_duration(left)} of training left")
    return Claim(
        " · ".join(parts),
        epoch=p.epoch,
        epochs=p.epochs,
        batch=p.batch,
        batches=p.batches,
        loss=loss,
        images_per_sec=rate if rate > 0 else None,
        seconds_left=left,
    )


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

    @claims.claim
    def sentence(self) -> Claim:
        """One sentence for the learner: what disagrees, why, and what to try ("" if fine).

        ``facts["why"]``: ``None`` (agrees), ``"refreshed"`` (recomputed statistics still
        disagree: batches differ from the data), ``"remembered"`` (the moving averages
        still hold more than 5 % of their starting values) or ``"lagging"`` (they trail
        the changing weights).
        """
        facts = {
            "images": self.images,
            "train_accuracy": self.train_accuracy,
            "infer_accuracy": self.infer_accuracy,
            "train_top": self.train_top,
            "infer_top": self.infer_top,
            "momentum": self.momentum,
            "steps": self.steps,
            "remembered": self.remembered,
            "refreshed_from": self.refreshed_from,
        }
        if not self.disagrees:
            return Claim("", why=None, **facts)
        seen = (
            f"On {self.images:,} validation images the model is {self.train_accuracy:.0%} "
            f"accurate and {self.train_top:.0%} sure on average in training mode (each batch "
            f"normalised by its own mean and variance) but {self.infer_accuracy:.0%} accurate "
            f"and {self.infer_top:.0%} sure in inference mode, which uses batch norm's "
            "moving averages"
        )
        if self.refreshed_from:
            return Claim(
                f"{seen}, even though they were recomputed from {self.refreshed_from:,} "
                "training images with the final weights: single batches differ too much from "
                "the data as a whole — try a larger batch, or no dropout right before batch "
                "norm.",
                why="refreshed",
                **facts,
            )
        left = self.remembered
        if left is not None and left > 0.05:
            lower = "(e.g. batchnorm momentum=0.9)" if self.momentum > 0.9 else "than that"
            return Claim(
                f"{seen}: with momentum {self.momentum:g} each training step moves them only "
                f"{_pct(1 - self.momentum)} of the way, so after {self.steps:,} steps they "
                f"still hold {_pct(round(left, 2))} of their starting values (mean 0, variance "
                f"1) — train longer, use a lower momentum {lower}, or have them recomputed "
                "from training images after training (cnnviz's batch-norm refresh).",
                why="remembered",
                **facts,
            )
        return Claim(
            f"{seen}: they average the last ~{1 / (1 - self.momentum):.0f} steps (momentum "
            f"{self.momentum:g}), and early in training the weights change faster than that "
            "— train longer, or have them recomputed from training images after training "
            "(cnnviz's batch-norm refresh).",
            why="lagging",
            **facts,
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
    """``147,812`` for large values, ``2.303`` for small ones (4 significant digits)."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _floats(values) -> list[float]:
    """A list of floats (``None`` as NaN): the shape JSON gives back a stored history."""
    return [math.nan if v is None else float(v) for v in values or []]


def tail_size(n: int) -> int:
    """How many of ``n`` training points "the end of the run" is: 10 %, rounded up, ≥ 1.

    Examples
    --------
    >>> [tail_size(n) for n in (0, 1, 8, 10, 11, 57)]
    [0, 1, 1, 1, 2, 6]
    """
    return max(1, -(-n // TAIL_DIVISOR)) if n > 0 else 0


@dataclass(frozen=True)
class Ending:
    """Where a run's training curve ended, on a measure the learner sees on the chart.

    Attributes
    ----------
    loss, accuracy : float
        The mean of the last :func:`tail_size` training points (``points`` of ``of``);
        without live points, the last epoch's mean (``points == 0``).
    points, of : int
        How many points the mean is over, of how many.
    first_epoch, last_epoch : float
        Where those points sit on the chart's x axis (fractional epochs).
    """

    loss: float
    accuracy: float
    points: int
    of: int
    first_epoch: float
    last_epoch: float

    @property
    @claims.claim
    def measure(self) -> Claim:
        """The measure in words, e.g. ``"the mean of the last 10 % of training points, 1 of
        8"``."""
        if self.points:
            return Claim(
                f"the mean of the last 10 % of training points, {self.points} of {self.of}",
                points=self.points,
                of=self.of,
            )
        return Claim("the mean training loss of its last epoch", points=0, of=self.of)


def ending(history: dict, points: dict) -> Ending | None:
    """The run's end on the chart: the mean of its last 10 % of training points (≥ 1).

    One point is the mean loss of one group of batches (:attr:`Progress.points`); a run
    with no points (a plain Keras history) ends at its last epoch's mean loss. ``None``
    for a run with neither.

    Examples
    --------
    >>> e = ending({}, {"epoch": [0.5, 1.0], "loss": [124.5, 1.98], "accuracy": [0.1, 0.3]})
    >>> e.loss, e.points, e.of, e.measure
    (1.98, 1, 2, 'the mean of the last 10 % of training points, 1 of 2')
    """
    losses = _floats(points.get("loss"))
    if losses:
        n = len(losses)
        k = tail_size(n)
        accs = _floats(points.get("accuracy"))
        xs = _floats(points.get("epoch"))
        acc = float(np.mean(accs[-k:])) if len(accs) == n else math.nan
        x0, x1 = (xs[-k], xs[-1]) if len(xs) == n else (math.nan, math.nan)
        return Ending(float(np.mean(losses[-k:])), acc, k, n, x0, x1)
    epoch_losses = _floats(history.get("loss"))
    if epoch_losses:
        accs = _floats(history.get("accuracy"))
        e = len(epoch_losses)
        return Ending(epoch_losses[-1], accs[-1] if accs else math.nan, 0, e, e, e)
    return None


def end_accuracy(history: dict, points: dict) -> tuple[float, str]:
    """The accuracy a run ended at and its measure in words (``nan, ""`` when none).

    The last validation accuracy (the last dashed point) when there is validation;
    otherwise the training accuracy on the same measure as :func:`ending`.
    """
    val = _floats(history.get("val_accuracy"))
    if val:
        return val[-1], "the last validation accuracy"
    end = ending(history, points)
    if end is not None and math.isfinite(end.accuracy):
        which = f"{end.measure}" if end.points else "its last epoch's mean"
        return end.accuracy, f"the training accuracy ({which})"
    return math.nan, ""


def _near_chance(chance: float) -> str:
    """``"at most 5 points above chance (11.4%, always answering the most common class)"``."""
    return (
        f"at most {100 * CHANCE_MARGIN:g} points above chance ({chance:.1%}, always answering "
        "the most common class)"
    )


def _first_bad(history: dict, points: dict) -> float | None:
    """Where the loss first became NaN/infinite, in epochs (``None``: never)."""
    xs = _floats(points.get("epoch"))
    for i, v in enumerate(_floats(points.get("loss"))):
        if not math.isfinite(v):
            return xs[i] if i < len(xs) and math.isfinite(xs[i]) else math.nan
    for i, v in enumerate(_floats(history.get("loss"))):
        if not math.isfinite(v):
            return float(i + 1)
    return None


@claims.claim
def diagnose(history: dict, points: dict, start: Start, nan: bool = False) -> Claim:
    """Whether a run went wrong, judged on measures a learner sees; the reason as a claim.

    ``facts["verdict"]`` is ``"nan"``, ``"diverged"`` or ``None``; ``facts["rule"]`` says
    which rule decided (``"nan"``, ``"loss"``, ``"chance_after_blowup"``,
    ``"fell_to_chance"`` or ``None``); the text is the reason ("" when fine).

    The rules, with ``limit = LOSS_FACTOR × max(start.loss, ln K)`` (``LOSS_FACTOR`` = 2)
    and "no better than chance" = at most ``start.chance + CHANCE_MARGIN`` (5 points):

    0. any training loss is NaN or infinite: ``"nan"``;
    1. the loss *ended* above ``limit``: :func:`ending`, the mean of the last 10 % of
       the training points (at least one), so a first group at 124 that the run
       recovers from does not count, and an epoch's mean dragged up by it does not
       either;
    2. the accuracy it ended at (:func:`end_accuracy`) is no better than chance, and
       either the loss went above ``limit`` at some point (it blew up and collapsed) or
       the model started above chance (training destroyed it).

    A run that starts near chance and stays there without a blow-up has not learned yet
    (too few steps, too small a learning rate): that is not divergence.

    Parameters
    ----------
    history : dict
        Per-epoch Keras history (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).
    points : dict
        The live points (:attr:`Progress.points`); may be empty.
    start : Start
        The model before training.
    nan : bool
        The run saw a NaN/infinite loss (Keras's log) even if no point holds one.
    """
    bad_at = _first_bad(history, points)
    if bad_at is None and nan:
        bad_at = math.nan
    if bad_at is not None:
        where = f" (first at epoch {bad_at:.2f})" if math.isfinite(bad_at) else ""
        return Claim(
            f"the training loss became NaN or infinite{where}",
            verdict="nan",
            rule="nan",
            at_epoch=bad_at,
        )
    end = ending(history, points)
    if end is None:
        return Claim("", verdict=None, rule=None)
    limit = start.loss_limit
    acc, acc_measure = end_accuracy(history, points)
    facts = {
        "ended_at": end.loss,
        "measure": end.measure,
        "limit": limit,
        "start_loss": start.loss,
        "guess_loss": start.guess_loss,
        "accuracy": acc,
        "accuracy_measure": acc_measure,
        "chance": start.chance,
    }
    if end.loss > limit:  # False for an unknown (nan) limit
        return Claim(
            f"the training loss ended at {_num(end.loss)} ({end.measure}), more than twice "
            f"both where it started ({_num(start.loss)}) and the loss of a uniform guess "
            f"({_num(start.guess_loss)})",
            verdict="diverged",
            rule="loss",
            **facts,
        )
    if not acc <= start.chance_limit:  # above chance, or unknown
        return Claim("", verdict=None, rule=None, **facts)
    peak = max(_floats(history.get("loss")) + _floats(points.get("loss")))
    chance = _near_chance(start.chance)
    if peak > limit:
        return Claim(
            f"{acc_measure} is {acc:.1%}, {chance}, after the loss blew up to {_num(peak)} "
            f"(it started at {_num(start.loss)})",
            verdict="diverged",
            rule="chance_after_blowup",
            peak=peak,
            **facts,
        )
    if start.accuracy > start.chance_limit:
        return Claim(
            f"{acc_measure} fell from {start.accuracy:.1%} before training to {acc:.1%}, {chance}",
            verdict="diverged",
            rule="fell_to_chance",
            start_accuracy=start.accuracy,
            **facts,
        )
    return Claim("", verdict=None, rule=None, **facts)


@claims.claim
def not_learned_note(history: dict, start: Start | None, points: dict | None = None) -> Claim:
    """A sentence when a run ends no better than chance without diverging ("" otherwise)."""
    acc, measure = end_accuracy(history, points or {})
    if start is None or not acc <= start.chance_limit:
        return Claim("", accuracy=acc, chance=None if start is None else start.chance)
    return Claim(
        f"{measure[0].upper()}{measure[1:]} is {acc:.1%}, {_near_chance(start.chance)}: the "
        "model has not learned yet — train for more epochs or use a larger learning rate.",
        accuracy=acc,
        measure=measure,
        chance=start.chance,
        limit=start.chance_limit,
    )


@claims.claim
def spike_note(history: dict, points: dict, start: Start) -> Claim:
    """A sentence when the loss spiked above the divergence line and came back ("" if not).

    "Spiked": a training point above ``start.loss_limit``; "came back": the run's end
    (:func:`ending`) is at or below it. The page shows both on the chart.
    """
    losses = _floats(points.get("loss"))
    end = ending(history, points)
    limit = start.loss_limit
    if not losses or end is None or not all(math.isfinite(v) for v in losses):
        return Claim("", spiked=False)
    i = int(np.argmax(losses))
    peak = losses[i]
    if not (peak > limit and end.loss <= limit):
        return Claim("", spiked=False, peak=peak, ended_at=end.loss, limit=limit)
    xs = _floats(points.get("epoch"))
    at = xs[i] if i < len(xs) else math.nan
    return Claim(
        f"The training loss spiked to {_num(peak)} (at epoch {at:.2f}), more than twice "
        f"where it started ({_num(start.loss)}), then came back to {_num(end.loss)} "
        f"({end.measure}): a smaller learning rate may avoid the spike.",
        spiked=True,
        peak=peak,
        at_epoch=at,
        start_loss=start.loss,
        ended_at=end.loss,
        measure=end.measure,
        limit=limit,
    )


@claims.claim
def lr_advice(optimizer: str, learning_rate: float, failed: Sequence[float] = ()) -> Claim:
    """What learning rate to try after a failed run, never one known to fail.

    Known to fail: ``learning_rate`` and every rate in ``failed`` (the learner's stored
    runs with this optimizer that diverged or hit NaN). The advice is, in order:
    Keras's default for the optimizer (:data:`KERAS_DEFAULT_LR`) when it is below every
    failing rate and not one of them; else ten times smaller, on the same conditions;
    else "below" the smallest failing rate, without a value.

    Examples
    --------
    >>> lr_advice("adam", 1.0, failed=[0.1])
    'try the Keras default for adam, 0.001'
    >>> lr_advice("adam", 0.001)
    'try 10× smaller, 0.0001'
    >>> lr_advice("sgd", 0.01, failed=[0.001])
    'try a learning rate below 0.001'
    """
    failing = [float(learning_rate), *(float(f) for f in failed if f and f > 0)]
    ceiling = min(failing)

    def known(value: float) -> bool:
        return any(math.isclose(value, f, rel_tol=1e-9) for f in failing)

    default = KERAS_DEFAULT_LR.get(optimizer)
    facts = {"ceiling": ceiling, "failing": tuple(sorted(set(failing))), "default": default}
    if default is not None and default < ceiling and not known(default):
        return Claim(
            f"try the Keras default for {optimizer}, {default:g}",
            suggested=default,
            reason="default",
            **facts,
        )
    tenth = learning_rate / 10
    if tenth < ceiling and not known(tenth):
        return Claim(f"try 10× smaller, {tenth:g}", suggested=tenth, reason="tenfold", **facts)
    return Claim(
        f"try a learning rate below {ceiling:g}", suggested=None, reason="general", **facts
    )


def _best_epoch(history: dict) -> tuple[int, float] | None:
    """``(epoch, val_loss)`` of the lowest validation loss, the first if tied (Keras's
    early stopping keeps the first improvement); ``None`` without one."""
    val = np.asarray(_floats(history.get("val_loss")), dtype=np.float64)
    if not np.isfinite(val).any():
        return None
    i = int(np.nanargmin(np.where(np.isfinite(val), val, np.nan)))
    return i + 1, float(val[i])


@claims.claim
def _message(
    status: str,
    why: str,
    trained: tuple[int, int, int],
    config: TrainConfig,
    history: dict,
    points: dict,
    advice: str = "",
    early_stopped: bool = False,
    by_request: bool = True,
) -> Claim:
    """One sentence for the UI saying how the run ended (and, for a failure, what to try).

    ``trained`` is ``(batches_done, batches per epoch, epochs set)``; ``why`` the reason
    :func:`diagnose` gave; ``advice`` :func:`lr_advice`'s.
    """
    batches_done, batches, epochs = trained
    where = trained_text(batches_done, batches, epochs) if batches > 0 else None
    completed = where.facts["completed"] if where is not None else len(history.get("loss") or [])
    partial = where.facts["partial"] if where is not None else 0
    at_epoch = completed + (1 if partial else 0)
    if partial:
        spot = f"at batch {partial} of {batches} of epoch {at_epoch} of {epochs}"
    else:
        spot = f"after epoch {completed} of {epochs}"
    facts = {
        "status": status,
        "completed": completed,
        "partial": partial,
        "batches": batches,
        "epochs": epochs,
        "learning_rate": config.learning_rate,
    }
    lr = config.learning_rate
    if status == "nan":
        return Claim(
            f"Training failed {spot}: {why} — the learning rate {lr:g} is too large for "
            f"{config.optimizer}; {advice}.",
            **facts,
        )
    best = _best_epoch(history)
    if status == "diverged":
        restored = (
            f" (early stopping restored the weights of epoch {best[0]})"
            if early_stopped and best is not None
            else ""
        )
        return Claim(
            f"Training diverged: {why}{restored} — the learning rate {lr:g} is too large "
            f"for {config.optimizer}; {advice}.",
            restored_epoch=best[0] if restored else None,
            **facts,
        )
    if status == "stopped":
        if batches_done == 0:
            return Claim("Training stopped before its first batch.", **facts)
        if not by_request:
            return Claim(
                f"Training was interrupted {spot} by a click elsewhere on the page; the model "
                "keeps the weights it had.",
                **facts,
            )
        full = f" ({completed} full epoch{'s' * (completed != 1)} trained)" if partial else ""
        return Claim(f"Training stopped on request {spot}{full}.", **facts)
    end = ending(history, points)
    loss = (
        f": the training loss ended at {_num(end.loss)} ({end.measure})"
        if end is not None and math.isfinite(end.loss)
        else ""
    )
    val = _floats(history.get("val_accuracy"))
    acc = val[-1] if val and math.isfinite(val[-1]) else None
    tail = f" and the last validation accuracy is {acc:.2%}" if acc is not None else ""
    if status == "early_stopping" and best is not None:
        after = len(_floats(history.get("val_loss"))) - best[0]
        return Claim(
            f"Early stopping after epoch {completed} of {epochs}: the validation loss was "
            f"lowest after epoch {best[0]} ({_num(best[1])}) and did not go below it in the "
            f"{after} epoch{'s' * (after != 1)} after; the weights of epoch {best[0]} were "
            "restored.",
            best_epoch=best[0],
            best=best[1],
            after=after,
            **facts,
        )
    return Claim(
        f"Trained {completed} epoch{'s' * (completed != 1)}{loss}{tail}.",
        ended_at=end.loss if loss else None,
        measure=end.measure if loss else None,
        val_accuracy=acc,
        **facts,
    )


@claims.claim
def split_sentence(train: int, test: int, test_from: str) -> Claim:
    """How an uploaded dataset splits: ``"800 training and 200 test images (test set from
    the test CSV)."``.

    Examples
    --------
    >>> split_sentence(27_455, 7_172, "test CSV")
    '27,455 training and 7,172 test images (test set from the test CSV).'
    """
    return Claim(
        f"{train:,} training and {test:,} test images (test set from the {test_from}).",
        train=int(train),
        test=int(test),
        test_from=test_from,
    )


class _Reporter(keras.callbacks.Callback):
    """Collects the history and the live points, reports progress, stops on request or NaN.

    Times training (module docstring, "Speed"): from each epoch's start to its last
    batch's end, so validation never counts.
    """

    def __init__(
        self,
        epochs,
        batches,
        n_train,
        batch_size,
        start,
        on_progress,
        should_stop,
        refresh,
        group_images=None,
        snapshot=None,
    ):
        super().__init__()
        self.snapshot = snapshot  # None, or a function giving the latest snapshot
        self.refresh = refresh  # None, or a function that refreshes batch norm's statistics
        self.refreshed_from = 0
        self.epochs, self.batches = epochs, batches
        self.n_train, self.batch_size = n_train, batch_size
        # an execution's images; an epoch's last one with less than half of this is merged
        self.group_images = group_images or batch_size
        self.start = start
        self.on_progress, self.should_stop = on_progress, should_stop
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self.points: dict[str, list[float]] = {
            "epoch": [],
            "loss": [],
            "accuracy": [],
            "val_epoch": [],
        }
        self.epoch = 0
        self.stopped: str | None = None  # None | "user" | "nan"
        self.epoch_seconds: list[float] = []
        self.images_seen = 0
        self.batches_done = 0  # over the whole run; this epoch's are in self._batch
        self.train_seconds = 0.0  # over the finished epochs; this epoch's in self._epoch_train
        self._t0 = time.perf_counter()
        self._epoch_train = 0.0
        self._batch = 0
        self._sums = (0, 0.0, 0.0)  # images, loss·images, accuracy·images this epoch
        self._before_last = None  # self._sums before this epoch's last point

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
                seconds=self.train_seconds + self._epoch_train,
                start=self.start,
                snapshot=self.snapshot() if self.snapshot is not None else None,
            )
        )

    def on_test_begin(self, logs=None):
        # fit's validation, after the epoch's last step: inference mode must see moving
        # statistics that match the weights it is given
        if self.refresh is not None and self.stopped != "nan":
            self.refreshed_from = self.refresh()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._t0 = time.perf_counter()
        self._epoch_train = 0.0
        self._batch = 0
        self._sums = (0, 0.0, 0.0)
        self._before_last = None

    def on_train_batch_end(self, batch, logs=None):
        self._epoch_train = time.perf_counter() - self._t0
        logs = {k: float(v) for k, v in (logs or {}).items()}
        # Keras numbers a short last execution as if it were full: cap at the epoch's end
        self._batch = min(batch + 1, self.batches)
        # Keras's logs are means since the epoch began, weighted by batch size: undo the
        # running mean to get this execution's own mean.
        seen = min((batch + 1) * self.batch_size, self.n_train)
        n0, loss0, acc0 = self._sums
        if seen > n0 and "loss" in logs:
            self.images_seen += seen - n0
            last_of_epoch = seen >= self.n_train
            if last_of_epoch and 2 * (seen - n0) < self.group_images and self._before_last:
                # a stub (e.g. 1 batch of 32 images after groups of 1,024): one point with
                # the group before, so no point rests on a handful of images
                n0, loss0, acc0 = self._before_last
                for key in ("epoch", "loss", "accuracy"):
                    self.points[key].pop()
            else:
                self._before_last = (n0, loss0, acc0)
            loss_sum = logs["loss"] * seen
            acc_sum = logs.get("accuracy", math.nan) * seen
            self.points["epoch"].append(self.epoch + seen / self.n_train)
            self.points["loss"].append((loss_sum - loss0) / (seen - n0))
            self.points["accuracy"].append((acc_sum - acc0) / (seen - n0))
            self._sums = (seen, loss_sum, acc_sum)
        self._check(logs)
        self._progress("batch", self.epoch + 1, self._batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._t0)
        self.train_seconds += self._epoch_train
        self._epoch_train = 0.0
        self.batches_done += self._batch
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for key in HISTORY_KEYS:
            if key in logs:
                self.history[key].append(logs[key])
        if "val_loss" in logs:  # measured after the batches this epoch trained
            self.points["val_epoch"].append(epoch + self._sums[0] / self.n_train)
        if self.stopped is None:
            self._check(logs)
        self._progress("epoch", epoch + 1, self._batch, logs)


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
    failed_rates: Sequence[float] = (),
    class_names: Sequence[str] = (),
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
    failed_rates : sequence of float
        Learning rates the learner's earlier runs with this optimizer failed at: a failed
        run's advice never names one (:func:`lr_advice`).
    class_names : sequence of str
        Names of the classes, kept with the snapshots (``config.snapshots > 0``: each
        :class:`Progress` carries the latest, the result all of them, see
        :mod:`cnnviz.snapshots`).

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

    recorder = None
    if config.snapshots:
        from cnnviz import snapshots

        # the probe: the first validation image (never trained on); gradients on a fixed
        # batch of training images (before augmentation)
        x_probe, y_probe = validation if validation is not None else (x_train, y_train)
        recorder = snapshots.SnapshotRecorder(
            model,
            x_probe[0],
            int(y_probe[0]),
            x_train[: snapshots.GRAD_IMAGES],
            y_train[: snapshots.GRAD_IMAGES],
            batches=batches,
            epochs=config.epochs,
            steps_per_execution=spe,
            batch_size=config.batch_size,
            n_train=len(x_train),
            n=config.snapshots,
            class_names=class_names,
        )
    reporter = _Reporter(
        config.epochs,
        batches,
        len(x_train),
        config.batch_size,
        start,
        on_progress,
        should_stop,
        refresh,
        group_images=spe * config.batch_size,
        snapshot=(lambda: recorder.latest) if recorder is not None else None,
    )
    # the recorder first: a batch's report carries the snapshot taken at that batch, and
    # its time counts as training time; before EarlyStopping, whose restore comes after
    callbacks: list[keras.callbacks.Callback] = [reporter]
    if recorder is not None:
        callbacks.insert(0, recorder)
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
        trained=(reporter.batches_done, batches),
        failed=failed_rates,
        images_seen=reporter.images_seen,
        seconds=seconds,
        train_seconds=reporter.train_seconds,
        device=device,
        epoch_seconds=reporter.epoch_seconds,
        steps_per_execution=spe,
        batchnorm=check,
        snapshots=recorder.result() if recorder is not None else None,
    )


def _result(
    history,
    points,
    start,
    stopped,
    config,
    *,
    trained: tuple[int, int],
    failed: Sequence[float] = (),
    batchnorm=None,
    by_request: bool = True,
    **facts,
) -> TrainResult:
    """The :class:`TrainResult` of a run: status by priority, message, notes.

    ``trained`` is ``(batches_done, batches per epoch)``; ``failed`` the learning rates
    the learner's earlier runs with this optimizer failed at (for :func:`lr_advice`).
    """
    verdict = diagnose(history, points, start, nan=stopped == "nan")
    status = verdict.facts["verdict"]
    if status is None:
        status = {"user": "stopped", "early_stopping": "early_stopping"}.get(stopped, "done")
    notes: list[str] = []
    if status not in ("nan", "diverged"):
        for note in (not_learned_note(history, start, points), spike_note(history, points, start)):
            if note:
                notes.append(note)
    if batchnorm is not None and batchnorm.disagrees:
        notes.append(batchnorm.sentence())
    advice = ""
    if status in ("nan", "diverged"):
        advice = lr_advice(config.optimizer, config.learning_rate, failed)
    batches_done, batches = trained
    message = _message(
        status,
        verdict,
        (batches_done, batches, config.epochs),
        config,
        history,
        points,
        advice,
        early_stopped=stopped == "early_stopping",
        by_request=by_request,
    )
    train_seconds = facts.pop("train_seconds", 0.0)
    images = facts.get("images_seen", 0)
    return TrainResult(
        history=history,
        status=status,
        message=message,
        images_per_sec=images / train_seconds if train_seconds > 0 else 0.0,
        points=points,
        start=start,
        notes=notes,
        batchnorm=batchnorm,
        train_seconds=train_seconds,
        batches=batches,
        batches_done=batches_done,
        **facts,
    )


def result_from_progress(
    last: Progress | None,
    config: TrainConfig,
    device: str,
    by_request: bool = True,
    failed: Sequence[float] = (),
) -> TrainResult:
    """The result of a run that ended without returning (a click ended the page run).

    Built from the last :class:`Progress` the run reported: its history and live points
    so far, and its speed (:attr:`Progress.images_per_sec`). The status is ``"stopped"``
    unless the numbers say the run had diverged or hit NaN; ``by_request=False`` says it
    was another click, not Stop, that ended it.
    """
    if last is None:
        empty = {k: [] for k in HISTORY_KEYS}
        return TrainResult(
            empty, "stopped", "Training stopped before its first batch.", 0.0, 0.0, device
        )
    points = {k: list(v) for k, v in last.points.items()}
    history = {k: list(v) for k, v in last.history.items()}
    losses = _floats(points.get("loss"))
    stopped = "nan" if losses and not math.isfinite(losses[-1]) else "user"
    start = last.start or Start(math.nan, 0.0, math.nan, math.nan)
    batches_done = (last.epoch - 1) * last.batches + last.batch
    return _result(
        history,
        points,
        start,
        stopped,
        config,
        trained=(batches_done, last.batches),
        failed=failed,
        by_request=by_request,
        images_seen=last.images_seen,
        seconds=last.seconds,
        train_seconds=last.seconds,
        device=device,
    )
