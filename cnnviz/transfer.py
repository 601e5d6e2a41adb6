"""Transfer learning: reuse a trained convolutional base for a new task with few labels.

Pure ``keras`` (no ``tf.*``), so it trains under any Keras backend (TensorFlow, JAX).

The recipe of the textbooks (Chollet, *Deep Learning with Python*, 1st ed. §5.3; the
Keras guide "Transfer learning & fine-tuning"):

1. :func:`split` a trained model into its convolutional **base** (input → last feature
   map) and its **head** (the classifier on top), on a copy: the caller's model is never
   changed.
2. :func:`transfer_model` puts a **new head** for the new classes on the base.
3. **Feature extraction**: freeze the base and train only the head. The fast variant
   (:func:`features`) runs the frozen base once over the images, caches its output and
   trains the head alone on it (no augmentation possible then: the images are seen once).
4. **Fine-tuning**: unfreeze the top block(s) of the base (:func:`unfreeze_top`) and train
   again with a ~10× lower learning rate, so the pretrained filters are nudged, not wiped.

:func:`compare` trains *from scratch*, *feature extraction* and *fine-tuning* on the same
small labelled set and tests them on the same test set.

Batch normalisation and dropout in the base. Keras recommends calling the base as
``base(x, training=False)`` so that its batch-norm layers stay in inference mode during
fine-tuning. In Keras 3 that argument does not survive ``fit``: the Functional model
passes ``training=True`` to every layer it contains (keras-team/keras#20285; measured here,
the moving mean of such a batch-norm layer changes). What does keep a batch-norm layer in
inference mode is ``trainable = False`` (the layer normalises with its moving statistics
then). So cnnviz keeps every batch-norm layer of the base frozen, also in an unfrozen block,
and replaces the base's dropout layers — which do nothing at inference — by identities.
The frozen base then computes in training exactly what it computes at inference, which is
why the cached features equal the in-graph ones (tested).
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
from keras import layers

from cnnviz import claims, data, models, training
from cnnviz.claims import Claim

CONTENDERS = ("from scratch", "feature extraction", "fine-tuning")
POOLINGS = ("flatten", "avg")
_NOISE = (layers.Dropout, layers.GaussianNoise, layers.GaussianDropout, layers.AlphaDropout)
_HEAD_NAMES = ("features", "head_dense", "head_dropout", "output")


class TransferError(ValueError):
    """A base, setting or download that transfer learning cannot use; says why in a sentence."""


# --- split, blocks, freeze ------------------------------------------------------------------


@dataclass
class Split:
    """A trained model cut in two, on a copy of it.

    Attributes
    ----------
    base : keras.Model
        Input → the last feature map ``(batch, H, W, C)``: the part that is reused.
    head : keras.Model
        That feature map → the old outputs: the part that is thrown away.
    cut : str
        Name of the base's last layer.
    """

    base: keras.Model
    head: keras.Model
    cut: str


def inference_copy(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with the same weights whose dropout/noise layers are identities.

    Those layers do nothing at inference; without them the copy computes in training mode
    what ``model`` computes at inference (see the module docstring). Layer names, weights
    and ``trainable`` flags are kept; ``model`` is not changed.
    """

    def clone(layer):
        if isinstance(layer, _NOISE):
            return layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    for source, layer in zip(model.layers, copy.layers, strict=True):  # same order
        if source.weights:
            layer.set_weights(source.get_weights())
    return copy


def _inputs(model: keras.Model):
    """The model's input tensor (a list only for several), so calls take a plain array."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _is_feature_map(layer: keras.layers.Layer) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


def split(model: keras.Model, cut: str | None = None) -> Split:
    """Cut a trained model into its convolutional base and its head, on a copy.

    Parameters
    ----------
    model : keras.Model
        Functional, trained; left unchanged (tf-keras-vis's rule: clone before modifying).
    cut : str, optional
        The base's last layer; by default the last layer whose output is a feature map
        ``(batch, H, W, C)``, i.e. everything before ``Flatten`` / global pooling.

    Returns
    -------
    Split
        ``base`` and ``head`` share the copy's layers and weights.

    Raises
    ------
    TransferError
        ``cut`` is not a layer of ``model``, or the model has no feature map to reuse.
    """
    model = models.to_functional(model)
    copy = inference_copy(model)
    names = [layer.name for layer in copy.layers[1:]]
    if cut is None:
        maps = [layer.name for layer in copy.layers[1:] if _is_feature_map(layer)]
        if not maps:
            raise TransferError(
                f"{model.name} has no convolutional feature map to reuse (no layer outputs "
                "(height, width, channels))"
            )
        cut = maps[-1]
    elif cut not in names:
        raise TransferError(f"{model.name} has no layer {cut!r}; choose one of {', '.join(names)}")
    cut_output = copy.get_layer(cut).output
    base = keras.Model(_inputs(copy), cut_output, name=f"{model.name}_base")
    head = keras.Model(cut_output, copy.outputs, name=f"{model.name}_head")
    return Split(base, head, cut)


def _spatial(shape) -> int | None:
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    return int(shape[1]) * int(shape[2])


def blocks(base: keras.Model) -> list[list[str]]:
    """The base's layers (no input layer) grouped into blocks, bottom to top.

    A block ends with each layer that makes the feature map smaller (a pooling layer or a
    strided convolution), as in the textbooks' "conv, conv, pool" blocks. Layers after the
    last such layer join the top block; a top block without weights joins the one below.

    Examples
    --------
    >>> from cnnviz import models
    >>> blocks(split(models.build("fashion_leaky", num_classes=5)).base)[0]
    ['conv1', 'leaky1', 'pool1']
    """
    groups: list[list[str]] = [[]]
    for layer in base.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        groups[-1].append(layer.name)
        ins = [_spatial(t.shape) for t in keras.tree.flatten(layer.input)]
        out = _spatial(layer.output.shape)
        ins = [s for s in ins if s is not None]
        if out is not None and ins and out < max(ins):
            groups.append([])
    if not groups[-1]:
        groups.pop()
    elif len(groups) > 1 and not any(base.get_layer(n).weights for n in groups[-1]):
        groups[-2].extend(groups.pop())
    return groups


def set_trainable(model: keras.Model, names: list[str], trainable: bool) -> None:
    """Freeze (``False``) or unfreeze (``True``) these layers of ``model``.

    Batch-norm layers are never unfrozen: frozen, they normalise with their moving
    statistics, which is the inference mode Keras recommends for fine-tuning.
    """
    for name in names:
        layer = model.get_layer(name)
        if trainable and isinstance(layer, layers.BatchNormalization):
            continue
        layer.trainable = trainable


def trainable_counts(model: keras.Model, weighted_only: bool = False) -> list[dict]:
    """Per layer: trainable and non-trainable parameters (what is frozen), Keras's counts.

    Parameters
    ----------
    model : keras.Model
        Any model.
    weighted_only : bool
        Leave out the layers without weights (input, activations, pooling, flatten).

    Returns
    -------
    list of dict
        ``layer``, ``type``, ``trainable``, ``non-trainable``, ``frozen`` (bool: the layer
        has weights and none of them is trained).
    """
    rows = []
    for layer in model.layers:
        t = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        n = sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
        if weighted_only and not (t or n):
            continue
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "trainable": t,
                "non-trainable": n,
                "frozen": bool(n) and not t,
            }
        )
    return rows


@claims.claim
def frozen_sentence(rows: list[dict]) -> Claim:
    """What trains and what is frozen, from :func:`trainable_counts`' rows, in one sentence.

    Counts are Keras's: a batch-norm layer's moving mean and variance are non-trainable
    even when the layer trains (they are averaged, not learnt), so a layer is *frozen*
    only when none of its weights is trainable.

    Examples
    --------
    >>> rows = [{"layer": "conv1", "trainable": 0, "non-trainable": 320, "frozen": True},
    ...         {"layer": "output", "trainable": 10245, "non-trainable": 0, "frozen": False}]
    >>> frozen_sentence(rows)
    'Trains 10,245 of 10,565 parameters (output); frozen: conv1.'
    """
    trained = [r["layer"] for r in rows if r["trainable"]]
    frozen = [r["layer"] for r in rows if r["frozen"]]
    t = sum(r["trainable"] for r in rows)
    n = sum(r["non-trainable"] for r in rows)
    facts = {"trained": trained, "frozen": frozen, "trainable": t, "total": t + n}
    if not trained and not n:
        return Claim("No layer has weights: nothing trains.", **facts)
    if not trained:
        return Claim(f"Nothing trains: all {t + n:,} parameters are frozen.", **facts)
    if not frozen:
        extra = f", plus {n:,} non-trainable statistics that are averaged, not learnt" if n else ""
        return Claim(
            f"Every layer with weights trains: {t:,} trainable parameters{extra}.", **facts
        )
    return Claim(
        f"Trains {t:,} of {t + n:,} parameters ({', '.join(trained)}); "
        f"frozen: {', '.join(frozen)}.",
        **facts,
    )


# --- a new head -------------------------------------------------------------------------------


@dataclass
class HeadSpec:
    """The new classifier: pooling, an optional hidden layer, dropout, softmax."""

    pooling: str = "flatten"  # "flatten" for small feature maps, "avg" (global) for ImageNet
    hidden_units: int = 0  # 0: the features go straight to the softmax
    dropout: float = 0.5


@dataclass
class TransferModel:
    """A base with a new head, and the views of it that training needs.

    Attributes
    ----------
    model : keras.Model
        Image → new classes; one flat Functional model, so every page can look inside.
    base_layers : list of str
        The names of the base's layers in ``model`` (the input layer excluded).
    blocks : list of list of str
        ``base_layers`` grouped into blocks (see :func:`blocks`).
    feature_model : keras.Model
        Image → the pooled features the head reads (the frozen part; shares layers).
    head_model : keras.Model
        Features → new classes (shares the head's layers with ``model``).
    """

    model: keras.Model
    base_layers: list[str]
    blocks: list[list[str]]
    feature_model: keras.Model
    head_model: keras.Model


def transfer_model(
    base: keras.Model, num_classes: int, head: HeadSpec | None = None, name: str = "transfer"
) -> TransferModel:
    """Put a new head for ``num_classes`` on ``base`` (its layers are shared, not copied).

    Parameters
    ----------
    base : keras.Model
        Image → feature map ``(batch, H, W, C)``, e.g. :attr:`Split.base`.
    num_classes : int
        Classes of the new task (>= 2).
    head : HeadSpec, optional
        Pooling, hidden units and dropout of the new head.

    Raises
    ------
    TransferError
        Fewer than two classes, a bad head setting, or a base without a feature map.
    """
    head = head or HeadSpec()
    if num_classes < 2:
        raise TransferError(f"the new task needs at least 2 classes, got {num_classes}")
    if head.pooling not in POOLINGS:
        raise TransferError(f"pooling must be one of {', '.join(POOLINGS)}, got {head.pooling!r}")
    if not 0.0 <= head.dropout < 1.0:
        raise TransferError(f"head dropout must be in [0, 1), got {head.dropout}")
    if head.hidden_units < 0:
        raise TransferError(f"hidden units must be >= 0, got {head.hidden_units}")
    if len(base.output.shape) != 4:
        raise TransferError(f"the base must end in a feature map, got shape {base.output.shape}")
    taken = {layer.name for layer in base.layers} & set(_HEAD_NAMES)
    if taken:
        raise TransferError(f"the base already has layers named {', '.join(sorted(taken))}")

    pool = (
        layers.Flatten(name="features")
        if head.pooling == "flatten"
        else layers.GlobalAveragePooling2D(name="features")
    )
    trainable_head = []
    if head.hidden_units:
        trainable_head.append(layers.Dense(head.hidden_units, activation="relu", name="head_dense"))
    if head.dropout:
        trainable_head.append(layers.Dropout(head.dropout, name="head_dropout"))
    trainable_head.append(layers.Dense(num_classes, activation="softmax", name="output"))

    def classify(x):
        for layer in trainable_head:
            x = layer(x)
        return x

    features = pool(base.output)  # (batch, F): Flatten / global average, no weights
    model = keras.Model(_inputs(base), classify(features), name=name)
    feature_in = keras.Input(features.shape[1:], name="cached_features")
    head_model = keras.Model(feature_in, classify(feature_in), name=f"{name}_head")
    feature_model = keras.Model(_inputs(base), features, name=f"{name}_features")
    base_layers = [lay.name for lay in base.layers if not isinstance(lay, keras.layers.InputLayer)]
    return TransferModel(model, base_layers, blocks(base), feature_model, head_model)


def freeze_base(tm: TransferModel) -> None:
    """Feature extraction: no layer of the base is trained."""
    set_trainable(tm.model, tm.base_layers, False)


def unfreeze_top(tm: TransferModel, n_blocks: int = 1) -> list[str]:
    """Fine-tuning: freeze the base, then unfreeze its top ``n_blocks`` blocks.

    Returns
    -------
    list of str
        The layers with weights that are now trained (batch-norm layers stay frozen).
    """
    if not 1 <= n_blocks <= len(tm.blocks):
        raise TransferError(
            f"unfreeze between 1 and {len(tm.blocks)} blocks of this base, got {n_blocks}"
        )
    freeze_base(tm)
    names = [n for block in tm.blocks[-n_blocks:] for n in block]
    set_trainable(tm.model, names, True)
    return [n for n in names if tm.model.get_layer(n).trainable_weights]


def features(tm: TransferModel, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """The fast variant's cache: the frozen base (and pooling) run once over ``x``.

    Returns
    -------
    np.ndarray
        ``float32`` ``(N, F)``: what the head reads for each image.
    """
    out = tm.feature_model.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype=np.float32)


# --- training ----------------------------------------------------------------------------------


@dataclass
class TransferConfig:
    """Everything that decides a comparison; with the same seed, the same run."""

    epochs: int = 15  # feature extraction: the head alone (stage 1 of fine-tuning)
    fine_tune_epochs: int = 10  # stage 2: the top block(s) unfrozen
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4  # ~10× lower: nudge the pretrained filters
    unfreeze_blocks: int = 1
    batch_size: int = 32
    head: HeadSpec = field(default_factory=HeadSpec)
    augmentation: training.Augmentation | None = None  # in front of the frozen base
    cache_features: bool = True  # the fast variant when there is no augmentation
    scratch_epochs: int | None = None  # None: epochs + fine_tune_epochs, as many passes
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "fine_tune_epochs", "batch_size", "unfreeze_blocks"):
            if getattr(self, name) < 1:
                raise TransferError(
                    f"{name.replace('_', ' ')} must be >= 1, got {getattr(self, name)}"
                )
        for name in ("learning_rate", "fine_tune_learning_rate"):
            value = getattr(self, name)
            if not (value > 0 and np.isfinite(value)):
                raise TransferError(f"{name.replace('_', ' ')} must be > 0, got {value}")

    @property
    def total_scratch_epochs(self) -> int:
        """Epochs of the from-scratch contender (as many as both fine-tuning stages)."""
        return self.scratch_epochs or self.epochs + self.fine_tune_epochs


@dataclass
class TransferProgress:
    """What ``on_progress`` receives: which contender, how far, its curves so far."""

    contender: str
    stage: str  # "feature extraction" | "fine-tuning" | "from scratch"
    epoch: int  # 1-based, within the stage
    epochs: int
    done: float  # fraction of the whole comparison, 0..1
    history: dict[str, list[float]]  # this contender's per-epoch history so far


@dataclass(frozen=True)
class StopPoint:
    """Where a contender's training ended before its last epoch.

    Attributes
    ----------
    stage : str
        The stage that was training: ``"feature extraction"``, ``"fine-tuning"`` or
        ``"from scratch"``.
    epoch, epochs : int
        The epoch in progress (1-based; 0: before its first batch) and the epochs planned.
    batch, batches : int
        Batches done in that epoch, of the batches per epoch.
    reason : str
        ``"stop"`` (the learner's Stop, or another click) or ``"nan"`` (the loss became NaN).
    """

    stage: str
    epoch: int
    epochs: int
    batch: int = 0
    batches: int = 0
    reason: str = "stop"

    @property
    def epoch_fraction(self) -> float:
        """How far training got, in epochs of this stage: 1.5 = half way through epoch 2."""
        if self.epoch == 0 or self.batches == 0:
            return 0.0
        return self.epoch - 1 + self.batch / self.batches


@dataclass
class ContenderResult:
    """One contender's outcome.

    ``finished`` is ``False`` for a contender whose training was stopped before its last
    epoch: it is tested as it was then (``test_accuracy`` is "so far"), and ``stopped_at``
    says where it stopped.
    """

    name: str
    history: dict[str, list[float]]  # per epoch; fine-tuning: both stages, one after the other
    test_accuracy: float  # on the test images, which no contender trained or validated on
    model: keras.Model | None  # None for a result read back from JSON
    seconds: float
    stage_epochs: int | None = None  # fine-tuning: epochs of stage 1 (feature extraction)
    unfrozen: list[str] = field(default_factory=list)
    stage_seconds: float | None = None  # fine-tuning: seconds of stage 2 alone
    stopped_at: StopPoint | None = None  # None: every planned epoch ran

    @property
    def finished(self) -> bool:
        """Whether every planned epoch (of both stages, for fine-tuning) ran."""
        return self.stopped_at is None

    @property
    def line(self) -> str:
        """``"fine-tuning: 0.9123"`` as the CLI prints it (``(stopped)`` when it was)."""
        return f"{self.name}: {self.test_accuracy:.4f}" + ("" if self.finished else " (stopped)")

    def to_json(self) -> dict:
        """Everything but the model, as JSON values (for :meth:`from_json`)."""
        return {
            "name": self.name,
            "history": {k: [float(v) for v in vs] for k, vs in self.history.items()},
            "test_accuracy": float(self.test_accuracy),
            "seconds": float(self.seconds),
            "stage_epochs": self.stage_epochs,
            "unfrozen": list(self.unfrozen),
            "stage_seconds": self.stage_seconds,
            "stopped_at": None if self.stopped_at is None else asdict(self.stopped_at),
        }

    @classmethod
    def from_json(cls, raw: Mapping) -> ContenderResult:
        """The result :meth:`to_json` wrote, without its model (``model`` is ``None``)."""
        stop = raw.get("stopped_at")
        return cls(
            str(raw["name"]),
            {str(k): [float(v) for v in vs] for k, vs in (raw.get("history") or {}).items()},
            float(raw["test_accuracy"]),
            None,
            float(raw.get("seconds") or 0.0),
            raw.get("stage_epochs"),
            list(raw.get("unfrozen") or []),
            raw.get("stage_seconds"),
            None if stop is None else StopPoint(**stop),
        )


@dataclass
class Comparison:
    """The outcome of :func:`compare`: results in :data:`CONTENDERS` order."""

    results: dict[str, ContenderResult]
    stopped: bool
    seconds: float


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y`` (argmax of its outputs)."""
    probs = model.predict(np.asarray(x, np.float32), batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == np.asarray(y).reshape(-1)))


def _merge(a: dict[str, list[float]], b: dict[str, list[float]]) -> dict[str, list[float]]:
    return {k: list(a.get(k, [])) + list(b.get(k, [])) for k in set(a) | set(b)}


def _fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    val: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    learning_rate: float,
    config: TransferConfig,
    augmentation: training.Augmentation | None,
    report: Callable[[training.Progress], None],
    should_stop: Callable[[], bool] | None,
) -> tuple[dict[str, list[float]], str]:
    tc = training.TrainConfig(
        epochs=epochs,
        batch_size=config.batch_size,
        learning_rate=learning_rate,
        augmentation=augmentation if augmentation is not None and augmentation.active else None,
        validation_split=0.0,
        seed=config.seed,
    )
    x_val, y_val = val if val is not None else (None, None)
    result = training.train(
        model, x, y, tc, x_val, y_val, on_progress=report, should_stop=should_stop
    )
    return {k: list(v) for k, v in result.history.items() if v}, result.status


def _snapshot(model: keras.Model) -> keras.Model:
    """A separate copy with the same weights and frozen layers (compiled for evaluation)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _fresh(model: keras.Model, seed: int) -> keras.Model:
    """The same architecture with new random weights, every layer trainable."""
    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(model)  # new layers, freshly initialised
    for layer in copy.layers:
        layer.trainable = True
    return copy


def compare(
    base: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    num_classes: int,
    config: TransferConfig | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    contenders: tuple[str, ...] = CONTENDERS,
    on_progress: Callable[[TransferProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_result: Callable[[ContenderResult], None] | None = None,
) -> Comparison:
    """Train from scratch, by feature extraction and by fine-tuning; test all three.

    All contenders share the architecture (``base`` + the new head), the labelled images,
    the validation images, the test images and the seed. *Feature extraction* trains the
    head on the frozen base for ``config.epochs``; *fine-tuning* continues from it with
    the top ``config.unfreeze_blocks`` blocks unfrozen at ``fine_tune_learning_rate`` for
    ``fine_tune_epochs`` (the two-stage recipe); *from scratch* trains the same
    architecture from random weights for as many epochs as both stages together.

    Parameters
    ----------
    base : keras.Model
        Image → feature map, e.g. :attr:`Split.base` or :func:`application_base`. It is
        trained in place by fine-tuning: pass a copy you do not need (``split`` makes one).
    x_train, y_train : np.ndarray
        ``float32`` ``(N, H, W, C)`` in [0, 1] and class indices ``(N,)``.
    x_test, y_test : np.ndarray
        The test set every contender is scored on.
    num_classes : int
        Classes of the new task.
    config : TransferConfig, optional
        Epochs, learning rates, blocks to unfreeze, head, augmentation, seed.
    x_val, y_val : np.ndarray, optional
        Validation images for the per-epoch curves (none: training curves only).
    contenders : tuple of str
        Which of :data:`CONTENDERS` to train (fine-tuning implies feature extraction).
    on_progress : callable, optional
        Called with a :class:`TransferProgress` after each execution and epoch.
    should_stop : callable, optional
        Returns ``True`` to stop; the contender in progress ends after its current batch,
        is tested as it is (its result has ``finished=False`` and ``stopped_at`` says
        where), and the others are skipped.
    on_result : callable, optional
        Called with each :class:`ContenderResult` as soon as that contender is tested (so
        a caller that is interrupted keeps the contenders that finished).

    Returns
    -------
    Comparison
        Histories, test accuracies, trained models and seconds, per contender.
    """
    config = config or TransferConfig()
    unknown = [c for c in contenders if c not in CONTENDERS]
    if unknown or not contenders:
        raise TransferError(f"contenders must be among {', '.join(CONTENDERS)}, got {unknown}")
    x_train = np.asarray(x_train, np.float32)
    x_test = np.asarray(x_test, np.float32)
    y_train = np.asarray(y_train).reshape(-1)
    if len(x_train) == 0 or len(x_train) != len(y_train):
        raise TransferError(f"need as many labels as images, got {len(x_train)} and {len(y_train)}")
    if len(x_test) == 0 or len(x_test) != len(np.asarray(y_test).reshape(-1)):
        raise TransferError(
            f"need a test image for every test label, got {len(x_test)} and {len(y_test)}"
        )
    val = None if x_val is None else (np.asarray(x_val, np.float32), np.asarray(y_val))

    keras.utils.set_random_seed(config.seed)  # the same seed gives the same new head
    tm = transfer_model(base, num_classes, config.head)
    transfer_wanted = "feature extraction" in contenders or "fine-tuning" in contenders
    plan = []  # (stage, epochs) in training order: the transfer contenders first
    if transfer_wanted:
        plan.append(("feature extraction", config.epochs))
    if "fine-tuning" in contenders:
        plan.append(("fine-tuning", config.fine_tune_epochs))
    if "from scratch" in contenders:
        plan.append(("from scratch", config.total_scratch_epochs))
    total = sum(e for _, e in plan)
    done_before = 0
    stopped = False
    results: dict[str, ContenderResult] = {}
    t_start = time.perf_counter()
    last: dict[str, training.Progress] = {}  # stage -> its last batch report

    def reporter(contender: str, stage: str, epochs: int, previous: dict):
        def report(p: training.Progress) -> None:
            if p.kind == "batch":
                last[stage] = p
            if on_progress is None:
                return
            frac = ((p.epoch - 1) * p.batches + p.batch) / (p.batches * p.epochs)
            on_progress(
                TransferProgress(
                    contender,
                    stage,
                    p.epoch,
                    epochs,
                    min(1.0, (done_before + frac * epochs) / total),
                    _merge(previous, {k: list(v) for k, v in p.history.items()}),
                )
            )

        return report

    def stop_requested() -> bool:
        return should_stop is not None and bool(should_stop())

    def stop_point(stage: str, epochs: int, status: str) -> StopPoint | None:
        """``None`` when the stage ran every batch of its last epoch, else where it ended."""
        p = last.get(stage)
        if p is not None and p.epoch >= epochs and p.batch >= p.batches:
            return None
        reason = "nan" if status == "nan" else "stop"
        if p is None:
            return StopPoint(stage, 0, epochs, 0, 0, reason)
        return StopPoint(stage, p.epoch, epochs, p.batch, p.batches, reason)

    def _done(result: ContenderResult) -> ContenderResult:
        if on_result is not None:
            on_result(result)
        return result

    stage_history: dict[str, list[float]] = {}
    t_stage1 = 0.0
    if transfer_wanted:
        t0 = time.perf_counter()
        freeze_base(tm)
        aug = config.augmentation if config.augmentation and config.augmentation.active else None
        report = reporter("feature extraction", "feature extraction", config.epochs, {})
        if config.cache_features and aug is None:
            # The fast variant: one pass of the frozen base, then the head alone.
            f_val = None if val is None else (features(tm, val[0]), val[1])
            stage_history, status = _fit(
                tm.head_model, features(tm, x_train), y_train, f_val, config.epochs,
                config.learning_rate, config, None, report, should_stop,
            )  # fmt: skip
        else:
            stage_history, status = _fit(
                tm.model, x_train, y_train, val, config.epochs,
                config.learning_rate, config, aug, report, should_stop,
            )  # fmt: skip
        done_before += config.epochs
        t_stage1 = time.perf_counter() - t0
        stop1 = stop_point("feature extraction", config.epochs, status)
        if "feature extraction" in contenders:
            snapshot = _snapshot(tm.model) if "fine-tuning" in contenders else tm.model
            results["feature extraction"] = _done(
                ContenderResult(
                    "feature extraction",
                    stage_history,
                    accuracy(tm.model, x_test, y_test),
                    snapshot,
                    t_stage1,
                    stopped_at=stop1,
                )
            )
        stopped = stop_requested()
        if "fine-tuning" in contenders and not stopped:
            t1 = time.perf_counter()
            unfrozen = unfreeze_top(tm, config.unfreeze_blocks)
            report = reporter("fine-tuning", "fine-tuning", config.fine_tune_epochs, stage_history)
            second, status = _fit(
                tm.model, x_train, y_train, val, config.fine_tune_epochs,
                config.fine_tune_learning_rate, config, aug, report, should_stop,
            )  # fmt: skip
            done_before += config.fine_tune_epochs
            results["fine-tuning"] = _done(
                ContenderResult(
                    "fine-tuning",
                    _merge(stage_history, second),
                    accuracy(tm.model, x_test, y_test),
                    tm.model,
                    t_stage1 + time.perf_counter() - t1,  # both stages made this model
                    stage_epochs=len(stage_history.get("loss", [])),
                    unfrozen=unfrozen,
                    stage_seconds=time.perf_counter() - t1,
                    # stage 1 is part of fine-tuning: if it stopped, so did fine-tuning
                    stopped_at=stop1 or stop_point("fine-tuning", config.fine_tune_epochs, status),
                )
            )
            stopped = stop_requested()
    if "from scratch" in contenders and not stopped:
        t0 = time.perf_counter()
        scratch = _fresh(tm.model, config.seed)
        epochs = config.total_scratch_epochs
        history, status = _fit(
            scratch, x_train, y_train, val, epochs, config.learning_rate, config,
            config.augmentation, reporter("from scratch", "from scratch", epochs, {}), should_stop,
        )  # fmt: skip
        results["from scratch"] = _done(
            ContenderResult(
                "from scratch",
                history,
                accuracy(scratch, x_test, y_test),
                scratch,
                time.perf_counter() - t0,
                stopped_at=stop_point("from scratch", epochs, status),
            )
        )
        stopped = stop_requested()
    ordered = {c: results[c] for c in CONTENDERS if c in results}
    return Comparison(ordered, stopped, time.perf_counter() - t_start)


# --- what the page says about a comparison (registered claims, see cnnviz.claims) ---------------

_STAGE_WORDS = {
    "feature extraction": "feature-extraction",
    "fine-tuning": "fine-tuning",
    "from scratch": "from-scratch",
}
MATCH_POINTS = 1.0  # closer than this (in accuracy points, as shown): "matches"


def _shown(value: float) -> float:
    """An accuracy in percent as the learner reads it, ``f"{value:.1%}"`` (one decimal)."""
    return float(f"{value * 100:.1f}")


def _where(stop: StopPoint, detail: bool = True) -> str:
    """``"at fine-tuning epoch 2 of 10 (batch 3 of 8)"``, or ``"after fine-tuning epoch 2
    of 10"`` when that epoch's last batch (and its validation) had run."""
    word = _STAGE_WORDS.get(stop.stage, stop.stage)
    if stop.epoch == 0:
        return f"before its first {word} batch"
    if stop.batches and stop.batch >= stop.batches:
        return f"after {word} epoch {stop.epoch} of {stop.epochs}"
    text = f"at {word} epoch {stop.epoch} of {stop.epochs}"
    if detail and stop.batches:
        text += f" (batch {stop.batch} of {stop.batches})"
    return text


def _stopped(stop: StopPoint, detail: bool = True) -> str:
    """``"stopped at fine-tuning epoch 2 of 10"`` (and why, when the loss became NaN)."""
    why = " when its loss became NaN" if stop.reason == "nan" else ""
    return f"stopped {_where(stop, detail)}{why}"


def _join(names: list[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _partition(
    results: Mapping[str, ContenderResult], planned: tuple[str, ...] | None
) -> tuple[list[str], list[str], list[str]]:
    """Finished, stopped and not started contenders, in :data:`CONTENDERS` order."""
    order = [c for c in CONTENDERS if c in results] + [c for c in results if c not in CONTENDERS]
    planned = tuple(planned) if planned is not None else tuple(order)
    finished = [c for c in order if results[c].finished]
    stopped = [c for c in order if not results[c].finished]
    not_started = [c for c in CONTENDERS if c in planned and c not in results]
    not_started += [c for c in planned if c not in CONTENDERS and c not in results]
    return finished, stopped, not_started


@claims.claim
def contender_label(result: ContenderResult) -> Claim:
    """What a contender's accuracy is, for its label: finished, or stopped and where.

    Examples
    --------
    >>> done = ContenderResult("fine-tuning", {}, 0.95, None, 3.0)
    >>> contender_label(done)
    'fine-tuning · test accuracy'
    >>> stop = StopPoint("fine-tuning", 2, 10, 3, 8)
    >>> contender_label(replace(done, stopped_at=stop))
    'fine-tuning · stopped at fine-tuning epoch 2 of 10 · test accuracy so far'
    """
    if result.finished:
        return Claim(f"{result.name} · test accuracy", name=result.name, finished=True)
    stop = result.stopped_at
    return Claim(
        f"{result.name} · {_stopped(stop, detail=False)} · test accuracy so far",
        name=result.name,
        finished=False,
        stage=stop.stage,
        epoch=stop.epoch,
        epochs=stop.epochs,
    )


@claims.claim
def contender_accuracy(result: ContenderResult) -> Claim:
    """A contender's test accuracy as the page shows it, ``"95.1%"`` (of a stopped one: so far,
    which :func:`contender_label` says)."""
    return Claim(
        f"{result.test_accuracy:.1%}",
        name=result.name,
        accuracy=result.test_accuracy,
        finished=result.finished,
    )


@claims.claim
def advantage_sentence(
    results: Mapping[str, ContenderResult], planned: tuple[str, ...] | None = None
) -> Claim:
    """Compare the contenders that finished, and only those; name the others and why.

    - *From scratch* and a pretrained contender finished: the best pretrained one (by
      test accuracy) against from scratch.
    - Otherwise feature extraction and fine-tuning both finished: fine-tuning against
      feature extraction alone (an ImageNet base has no from-scratch contender).
    - Fewer than two finished: which finished, which were stopped and where (with their
      accuracy so far), which did not start; nothing is compared.

    The verdict is "beats", "matches" (less than :data:`MATCH_POINTS` apart) or "does worse
    than", judged on the accuracies as the sentence shows them (one decimal, in percent),
    so the gap it names is their difference. A contender that was stopped or did not start
    is named after the comparison, never compared.

    Parameters
    ----------
    results : mapping
        Contender name → result, e.g. :attr:`Comparison.results`.
    planned : tuple of str, optional
        The contenders the run was to train (default: those in ``results``); a planned one
        without a result "did not start".

    Examples
    --------
    >>> fe = ContenderResult("feature extraction", {}, 0.92, None, 3.0)
    >>> ft = ContenderResult("fine-tuning", {}, 0.989, None, 5.0,
    ...                      stopped_at=StopPoint("fine-tuning", 2, 10, 3, 8))
    >>> s = advantage_sentence({"feature extraction": fe, "fine-tuning": ft}, CONTENDERS)
    >>> print(s.replace("; ", ";\\n"))
    Only feature extraction finished (92.0% test accuracy);
    fine-tuning was stopped at fine-tuning epoch 2 of 10 (batch 3 of 8) with 98.9% so far;
    from scratch did not start: there are not two finished contenders to compare.
    >>> s.facts["finished"], s.facts["compared"]
    (('feature extraction',), ())
    """
    finished, stopped, not_started = _partition(results, planned)
    facts = {
        "finished": tuple(finished),
        "stopped": tuple(stopped),
        "not_started": tuple(not_started),
    }
    aside = [
        f"{c}, {_stopped(results[c].stopped_at)} with {results[c].test_accuracy:.1%} so far"
        for c in stopped
    ]
    aside += [f"{c}, which did not start" for c in not_started]
    pre = [c for c in ("feature extraction", "fine-tuning") if c in finished]
    if "from scratch" in finished and pre:
        best = max(pre, key=lambda c: results[c].test_accuracy)  # a tie: feature extraction
        pair, lead = (best, "from scratch"), f"With the pretrained base, {best}"
        other = "training from scratch"
    elif len(pre) == 2:
        pair, lead, other = (pre[1], pre[0]), "Fine-tuning", "feature extraction alone"
    else:
        accuracies = {c: results[c].test_accuracy for c in results}
        if not results:
            text = f"No contender was tested: {_join(not_started)} did not start."
            if not not_started:
                text = "No contender was tested."
        elif not stopped and not not_started:  # one contender, and it was the only one
            c = finished[0]
            text = (
                f"{c[0].upper()}{c[1:]} finished ({results[c].test_accuracy:.1%} test "
                "accuracy); there is no other contender to compare it with."
            )
        else:
            parts = []
            if finished:
                c = finished[0]
                parts.append(f"Only {c} finished ({results[c].test_accuracy:.1%} test accuracy)")
            else:
                parts.append("No contender finished")
            parts += [
                f"{c} was {_stopped(results[c].stopped_at)} with "
                f"{results[c].test_accuracy:.1%} so far"
                for c in stopped
            ]
            if not_started:
                parts.append(f"{_join(not_started)} did not start")
            text = "; ".join(parts) + ": there are not two finished contenders to compare."
        return Claim(
            text, verdict=None, compared=(), accuracies=accuracies, gap_points=None, **facts
        )
    a, b = (results[c].test_accuracy for c in pair)
    gap = round(_shown(a) - _shown(b), 1)  # the difference of the two numbers shown
    if abs(gap) < MATCH_POINTS:
        verdict, by = "matches", f"{abs(gap):.1f} points apart"
    else:
        verdict = "beats" if gap > 0 else "does worse than"
        by = f"by {abs(gap):.1f} points"
    text = f"{lead} ({a:.1%}) {verdict} {other} ({b:.1%}), {by}, on the same test images."
    if aside:
        text += f" Not compared: {'; '.join(aside)}."
    return Claim(
        text,
        verdict=verdict,
        compared=pair,
        accuracies={pair[0]: a, pair[1]: b},
        gap_points=gap,
        **facts,
    )


@claims.claim
def stop_sentence(
    results: Mapping[str, ContenderResult], planned: tuple[str, ...], seconds: float
) -> Claim:
    """What a stopped comparison did: how long it trained, who finished, who stopped where.

    Examples
    --------
    >>> fe = ContenderResult("feature extraction", {}, 0.92, None, 3.0)
    >>> print(stop_sentence({"feature extraction": fe}, CONTENDERS, 12.3).replace("; ", ";\\n"))
    Stopped after 12 s of training: feature extraction finished;
    from scratch and fine-tuning did not start.
    """
    finished, stopped, not_started = _partition(results, planned)
    parts = []
    if finished:
        parts.append(f"{_join(finished)} finished")
    parts += [f"{c} {_stopped(results[c].stopped_at)}" for c in stopped]
    if not_started:
        parts.append(f"{_join(not_started)} did not start")
    if not stopped and not not_started:
        text = f"Stopped after {seconds:.0f} s of training, once every contender had finished."
    else:
        text = f"Stopped after {seconds:.0f} s of training: {'; '.join(parts)}."
    return Claim(
        text,
        seconds=seconds,
        finished=tuple(finished),
        stopped=tuple(stopped),
        not_started=tuple(not_started),
        stop_points={c: results[c].stopped_at for c in stopped},
    )


@claims.claim
def timing_sentence(results: Mapping[str, ContenderResult], seconds: float) -> Claim:
    """How long the run took, contender by contender, without counting a stage twice.

    Fine-tuning continues from feature extraction, so its own time is its second stage.
    A contender that was stopped says so ("until stopped").

    Examples
    --------
    >>> fe = ContenderResult("feature extraction", {}, 0.9, None, 20.0)
    >>> ft = ContenderResult("fine-tuning", {}, 0.9, None, 32.0, stage_seconds=12.0)
    >>> timing_sentence({"feature extraction": fe, "fine-tuning": ft}, 33.4)
    'This run took 33 s on this machine: feature extraction 20 s, then fine-tuning 12 s more.'
    """
    parts, spent = [], {}
    fe, ft, scratch = (results.get(c) for c in CONTENDERS[1:] + CONTENDERS[:1])

    def until(r: ContenderResult) -> str:
        return "" if r.finished else " until stopped"

    if fe is not None:
        spent["feature extraction"] = fe.seconds
        parts.append(f"feature extraction {fe.seconds:.0f} s{until(fe)}")
    if ft is not None and fe is not None and ft.stage_seconds is not None:
        spent["fine-tuning"] = ft.stage_seconds
        parts.append(f"then fine-tuning {ft.stage_seconds:.0f} s more{until(ft)}")
    elif ft is not None:
        spent["fine-tuning"] = ft.seconds
        parts.append(f"fine-tuning {ft.seconds:.0f} s{until(ft)}")
    if scratch is not None:
        spent["from scratch"] = scratch.seconds
        parts.append(f"from scratch {scratch.seconds:.0f} s{until(scratch)}")
    if not parts:
        text = f"This run took {seconds:.0f} s on this machine; no contender was tested."
    else:
        text = f"This run took {seconds:.0f} s on this machine: {', '.join(parts)}."
    return Claim(text, seconds=seconds, spent=spent)


def digits_config(**overrides) -> TransferConfig:
    """The settings of the offline demonstration (digits 0–4 → 5–9), changed by ``overrides``."""
    cfg = TransferConfig(
        epochs=60,
        fine_tune_epochs=10,
        learning_rate=1e-3,
        fine_tune_learning_rate=3e-4,
        head=HeadSpec(pooling="flatten", dropout=0.0),
        scratch_epochs=30,
    )
    return replace_config(cfg, **overrides)


def replace_config(config: TransferConfig, **changes) -> TransferConfig:
    """``config`` with some settings changed (and checked again)."""
    return replace(config, **changes)


# --- the offline demonstration: digits 0–4 → digits 5–9 ---------------------------------------

DIGITS_BASE = models.MODELS_DIR / "bases" / "digits_0_4.keras"
OLD_DIGITS = (0, 1, 2, 3, 4)  # the base's task
NEW_DIGITS = (5, 6, 7, 8, 9)  # the new task, with few labels
LABELS_PER_CLASS = (5, 20, 100, None)  # None: every labelled image there is
VAL_PER_CLASS = 50


@dataclass
class DigitsTask:
    """Digits 5–9 with ``k`` labelled training images per class, as classes 0–4."""

    x_train: np.ndarray  # float32 (5k, 28, 28, 1) in [0, 1]
    y_train: np.ndarray  # int64 (5k,), 0 = digit 5 … 4 = digit 9
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = tuple(str(d) for d in NEW_DIGITS)


def digit_subset(x: np.ndarray, y: np.ndarray, digits: tuple[int, ...]):
    """The images of these digits, relabelled 0..len(digits)-1 in that order."""
    y = np.asarray(y).reshape(-1)
    keep = np.isin(y, digits)
    lookup = np.full(10, -1, dtype=np.int64)
    lookup[list(digits)] = np.arange(len(digits))
    return x[keep], lookup[y[keep]]


def per_class(x: np.ndarray, y: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` images of each class, chosen with ``seed`` (all of a class that has fewer)."""
    if k < 1:
        raise TransferError(f"labels per class must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    y = np.asarray(y).reshape(-1)
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)])
    keep = np.sort(keep)
    return x[keep], y[keep]


def digits_task(
    ds: data.Dataset,
    labels_per_class: int | None = 20,
    seed: int = 0,
    val_per_class: int = VAL_PER_CLASS,
) -> DigitsTask:
    """The new task of the offline demonstration, from the MNIST sample.

    Digits 5–9 of the sample's train split: ``val_per_class`` images per class are put
    aside for validation (seeded), then ``labels_per_class`` per class (seeded; ``None``:
    all the rest) are the labelled set. The test set is every 5–9 of the test split.

    Raises
    ------
    TransferError
        ``labels_per_class`` < 1 or more than a class has.
    """
    x, y = digit_subset(ds.x_train, ds.y_train, NEW_DIGITS)
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for c in range(len(NEW_DIGITS)):
        idx = rng.permutation(np.flatnonzero(y == c))
        rest = idx[val_per_class:]
        k = len(rest) if labels_per_class is None else labels_per_class
        if not 1 <= k <= len(rest):
            raise TransferError(
                f"labels per class must be between 1 and {len(rest)}, got {labels_per_class}"
            )
        val_idx.append(idx[:val_per_class])
        train_idx.append(rest[:k])
    tr, va = np.concatenate(train_idx), np.concatenate(val_idx)
    x_test, y_test = digit_subset(ds.x_test, ds.y_test, NEW_DIGITS)
    return DigitsTask(
        data.prepare(x[tr]), y[tr], data.prepare(x[va]), y[va], data.prepare(x_test), y_test
    )


@claims.claim
def digits_base_sentence(
    model_name: str, test_accuracy: float | None, new_task: str = "digits"
) -> Claim:
    """What the bundled base is, from its card, for the page.

    Parameters
    ----------
    model_name : str
        The zoo model the base was built from (its card's ``model``).
    test_accuracy : float or None
        Its accuracy on the sample's test digits 0–4 (its card's ``metrics``); ``None``
        or NaN when the card does not record it (the sentence then names no number).
    new_task : str
        ``"digits"`` (5–9, validated on :data:`VAL_PER_CLASS` other images per class) or
        ``"signs"`` (the learner's Sign-Language letters).

    Examples
    --------
    >>> s = digits_base_sentence("fashion_leaky", 0.9912)
    >>> s.split(" (")[-1]
    '99.1% test accuracy on 0–4). Validation: 50 other labelled images per class.'
    """
    known = test_accuracy is not None and bool(np.isfinite(test_accuracy))
    measured = (
        f"{test_accuracy:.1%} test accuracy on 0–4" if known else "test accuracy not recorded"
    )
    text = (
        f"Base: the zoo's {model_name} CNN (three conv blocks) trained on the sample's digits "
        f"0–4 only ({measured})."
    )
    if new_task == "digits":
        text += f" Validation: {VAL_PER_CLASS} other labelled images per class."
    else:
        text += " Letters are new to it too: hands, not strokes."
    return Claim(
        text,
        model=model_name,
        test_accuracy=test_accuracy if known else None,
        val_per_class=VAL_PER_CLASS if new_task == "digits" else None,
    )


def load_digits_base(path: str | Path = DIGITS_BASE) -> keras.Model:
    """The bundled model trained on digits 0–4 only (``scripts/build_assets.py``)."""
    if not Path(path).exists():
        raise TransferError(f"no digits 0–4 base at {path}; run scripts/build_assets.py")
    return models.load(path)


def digits_comparison(
    labels_per_class: int | None = 20,
    config: TransferConfig | None = None,
    base: keras.Model | None = None,
    ds: data.Dataset | None = None,
    **kwargs,
) -> tuple[Comparison, DigitsTask]:
    """:func:`compare` on the offline demonstration: base on 0–4, ``k`` labels of 5–9.

    ``kwargs`` go to :func:`compare` (``contenders``, ``on_progress``, ``should_stop``).
    """
    ds = ds or data.load_mnist_sample()
    config = config or TransferConfig()
    task = digits_task(ds, labels_per_class, config.seed)
    cut = split(base if base is not None else load_digits_base())
    result = compare(
        cut.base, task.x_train, task.y_train, task.x_test, task.y_test, len(NEW_DIGITS),
        config, task.x_val, task.y_val, **kwargs,
    )  # fmt: skip
    return result, task


# --- ImageNet bases (online) -------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    """A small ``keras.applications`` model used as a base: its input and preprocessing.

    ``scale`` and ``offset`` make a ``Rescaling`` layer that does, on images in [0, 1],
    what ``keras.applications.<module>.preprocess_input`` does on 0–255 pixels (tested),
    so the model takes the same [0, 1] images as every other cnnviz model.
    """

    name: str
    title: str
    builder: str  # attribute of keras.applications
    module: str  # keras.applications.<module>.preprocess_input
    sizes: tuple[int, ...]  # input sizes with ImageNet weights; the first is the default
    url: str  # weights without the top, for a size: url.format(size=...)
    megabytes: float
    md5: str | None
    scale: float
    offset: float

    def weights_file(self, size: int) -> str:
        """File name of the weights (without the classifier top) for this input size."""
        return self.url.format(size=size).rsplit("/", 1)[1]


APPLICATIONS: dict[str, Application] = {
    a.name: a
    for a in (
        Application(
            "mobilenet_v2",
            "MobileNetV2",
            "MobileNetV2",
            "mobilenet_v2",
            (224, 192, 160, 128, 96),
            "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
            9.4,
            None,
            2.0,  # preprocess_input: x / 127.5 - 1, i.e. [0, 1] -> [-1, 1]
            -1.0,
        ),
        Application(
            "efficientnet_b0",
            "EfficientNetB0",
            "EfficientNetB0",
            "efficientnet",
            (224,),
            "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
            16.7,
            "50bc09e76180e00e4465e1a485ddc09d",
            255.0,  # preprocess_input is the identity: the model rescales 0–255 itself
            0.0,
        ),
    )
}


def _application(name: str) -> Application:
    if name not in APPLICATIONS:
        raise TransferError(
            f"unknown ImageNet base {name!r}; choose one of {', '.join(APPLICATIONS)}"
        )
    return APPLICATIONS[name]


def weights_path(name: str, size: int | None = None) -> Path:
    """Where the ImageNet weights of ``name`` are kept: Keras's own cache folder."""
    app = _application(name)
    return data.keras_cache_dir().parent / "models" / app.weights_file(size or app.sizes[0])


def weights_available(name: str, size: int | None = None) -> bool:
    """Whether the ImageNet weights are already on this machine (no download needed)."""
    return weights_path(name, size).exists()


def download_weights(
    name: str,
    size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    url: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the ImageNet weights of ``name`` once, showing progress; return the file.

    Parameters
    ----------
    name : str
        A key of :data:`APPLICATIONS`.
    size : int, optional
        Input size (MobileNetV2 has weights per size); default the model's first size.
    on_progress : callable, optional
        ``on_progress(bytes_done, bytes_total)`` after each chunk (total 0 if unknown).
    url : str, optional
        Another address for the same file (a mirror; tests use a local file).

    Raises
    ------
    TransferError
        One sentence when the file cannot be fetched (offline) or arrives corrupted.
    """
    app = _application(name)
    size = size or app.sizes[0]
    if size not in app.sizes:
        raise TransferError(
            f"{app.title} has ImageNet weights for inputs of {', '.join(map(str, app.sizes))} "
            f"pixels, not {size}"
        )
    path = weights_path(name, size)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    source = url or app.url.format(size=size)
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(source, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := resp.read(1 << 18):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, total)
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused sockets are OSErrors
        tmp.unlink(missing_ok=True)
        raise TransferError(
            f"The ImageNet weights of {app.title} ({app.megabytes:g} MB) could not be "
            f"downloaded ({_reason(exc)}); they need the internet once — offline, use the "
            "digits 0–4 base."
        ) from exc
    if app.md5 is not None and url is None and digest.hexdigest() != app.md5:
        tmp.unlink(missing_ok=True)
        raise TransferError(f"The ImageNet weights of {app.title} arrived corrupted; try again.")
    os.replace(tmp, path)
    return path


@claims.claim
def download_sentence(name: str, done: int, total: int) -> Claim:
    """Download progress for the progress bar: ``"MobileNetV2: 3.1 of 9.4 MB"``.

    ``total`` is 0 when the server does not say the size: the sentence then names only
    what has arrived. ``facts["fraction"]`` is the share done, in [0, 1], for the bar.

    Examples
    --------
    >>> download_sentence("mobilenet_v2", 3_100_000, 9_406_464)
    'MobileNetV2: 3.1 of 9.4 MB'
    """
    app = _application(name)
    done_mb = done / 1e6
    if total > 0:
        total_mb = total / 1e6
        text = f"{app.title}: {done_mb:.1f} of {total_mb:.1f} MB"
        fraction = min(max(done / total, 0.0), 1.0)
    else:
        total_mb, fraction = None, 0.0
        text = f"{app.title}: {done_mb:.1f} MB so far"
    return Claim(text, done_mb=done_mb, total_mb=total_mb, fraction=fraction)


@claims.claim
def weights_missing_sentence(name: str) -> Claim:
    """That an ImageNet base's weights are not on this machine yet, and their size.

    Examples
    --------
    >>> weights_missing_sentence("efficientnet_b0").facts["megabytes"]
    16.7
    """
    app = _application(name)
    return Claim(
        f"{app.title}'s ImageNet weights ({app.megabytes:g} MB) are not on this machine yet; "
        "they are downloaded once.",
        megabytes=app.megabytes,
    )


def _reason(exc: Exception) -> str:
    """The short cause of a failed download or load: "Name or service not known"."""
    reason = getattr(exc, "reason", None) or exc
    text = getattr(reason, "strerror", None) or str(reason)
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text or type(exc).__name__


def preprocessing_layer(name: str) -> layers.Rescaling:
    """The model's ``preprocess_input`` as a layer on images in [0, 1]."""
    app = _application(name)
    return layers.Rescaling(app.scale, app.offset, name="preprocess")


def application_base(
    name: str,
    weights: str | Path | None = "imagenet",
    image_size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> keras.Model:
    """A ``keras.applications`` model without its top, as a base taking [0, 1] images.

    Parameters
    ----------
    name : str
        ``"mobilenet_v2"`` or ``"efficientnet_b0"``.
    weights : str or Path or None
        ``"imagenet"`` (downloaded once with :func:`download_weights`), a weights file,
        or ``None`` for random weights (offline tests).
    image_size : int, optional
        Input side in pixels; default the size the ImageNet weights were trained at.

    Returns
    -------
    keras.Model
        ``(batch, size, size, 3)`` in [0, 1] → its last feature map, flat Functional
        (the ``preprocess`` layer first), dropout replaced as in :func:`inference_copy`.
    """
    app = _application(name)
    size = image_size or app.sizes[0]
    if weights == "imagenet":
        weights = download_weights(name, size, on_progress)
    elif size < 32:
        raise TransferError(f"{app.title} needs images of at least 32×32 pixels, got {size}")
    inputs = keras.Input((size, size, 3), name="image")  # [0, 1], as every cnnviz model
    scaled = preprocessing_layer(name)(inputs)
    builder = getattr(keras.applications, app.builder)
    try:
        net = builder(
            include_top=False,
            weights=None if weights is None else str(weights),
            input_tensor=scaled,
            input_shape=(size, size, 3),
        )
    except (OSError, ValueError) as exc:
        raise TransferError(f"{app.title} could not be built: {_reason(exc)}") from exc
    base = keras.Model(inputs, net.output, name=f"{name}_base")
    if any(isinstance(layer, _NOISE) for layer in base.layers):
        base = inference_copy(base)
    return base


def imagenet_config(**overrides) -> TransferConfig:
    """The textbook settings for an ImageNet base: global pooling, dropout 0.2, few epochs."""
    cfg = TransferConfig(
        epochs=5,
        fine_tune_epochs=3,
        learning_rate=1e-3,
        fine_tune_learning_rate=1e-5,
        head=HeadSpec(pooling="avg", dropout=0.2),
        batch_size=16,
    )
    return replace_config(cfg, **overrides)
