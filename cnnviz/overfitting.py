"""The overfitting lab: one small training set, four ways to train, the gap measured.

Overfitting is the gap between how well a model does on the images it trained on and
on images it has never seen. With only a few hundred training images a CNN memorises
them within a few epochs: training loss keeps falling while validation loss turns
up. Dropout, data augmentation and an L2 penalty are meant to narrow that gap; this
module trains the same network the four ways (through :func:`cnnviz.training.train`)
and measures the gap on measures that are comparable across the runs: the *data loss*
(cross-entropy without the L2 penalty, of the weights after each epoch, dropout off,
unaugmented images) and the accuracy on the same footing. Keras's own logged losses
are not comparable: the L2 run's include its penalty, and training's are epoch means
with dropout and augmentation on.

The lab opens with the real experiment: the Fashion-MNIST tutorial's two networks trained
on all 60,000 images by ``benchmarks/bench_fashion_tutorial.py --json``
(:func:`load_tutorial_runs`, :func:`tutorial_table`, :func:`versus_tutorial`).

>>> g = measure_gap({"loss": [1.0, 0.2], "val_loss": [1.1, 0.9],
...                  "accuracy": [0.6, 0.99], "val_accuracy": [0.55, 0.8]})
>>> round(g.loss_gap, 3), round(g.accuracy_gap, 3), g.loss_measure
(0.7, 0.19, 'logged loss')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from cnnviz import claims, data, models, training

CURVES = Path(__file__).resolve().parent.parent / "assets" / "overfitting_curves.json"


class OverfittingError(ValueError):
    """A setting or a history the lab cannot use; the message names the bad value."""


@dataclass(frozen=True)
class RunSpec:
    """One way to train: a zoo model, optional augmentation, optional L2 weight decay."""

    model: str
    augmentation: training.Augmentation | None = None
    l2: float = 0.0
    note: str = ""


RUNS: dict[str, RunSpec] = {
    "plain": RunSpec("fashion_leaky", note="the Fashion tutorial's CNN, no regularisation"),
    "dropout": RunSpec("fashion_leaky_dropout", note="the same CNN with four dropout layers"),
    "augmentation": RunSpec(
        "fashion_leaky",
        training.Augmentation(rotation=10.8, shift=0.1, zoom=0.1),  # 10.8° = 0.03 turn
        note="random ±11° turns, ±10 % shifts and zooms of each training batch",
    ),
    "L2": RunSpec("fashion_leaky", l2=1e-3, note="an L2 penalty of 0.001 on every weight"),
}


def with_l2(model: keras.Model, weight: float) -> keras.Model:
    """A fresh copy of ``model``'s architecture with L2 ``weight`` on every kernel.

    Parameters
    ----------
    model : keras.Model
        Functional; untouched (its config is copied, not its weights).
    weight : float
        The penalty ``weight * sum(w ** 2)`` added to the loss per Conv2D/Dense kernel.
    """
    if not (weight >= 0 and np.isfinite(weight)):
        raise OverfittingError(f"L2 weight must be a number >= 0, got {weight}")
    config = model.get_config()
    reg = keras.regularizers.serialize(keras.regularizers.L2(weight))
    for layer in config["layers"]:
        if layer["class_name"] in ("Conv2D", "Dense"):
            layer["config"]["kernel_regularizer"] = reg
    return keras.Model.from_config(config)


def build_run_model(
    spec: RunSpec, input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10
) -> keras.Model:
    """The untrained model of one run (with its L2 penalty when it has one)."""
    model = models.build(spec.model, input_shape, num_classes)
    return with_l2(model, spec.l2) if spec.l2 else model


def small_split(
    n_train: int, n_val: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n_train`` training and ``n_val`` validation images of the MNIST sample.

    Returns
    -------
    tuple of np.ndarray
        ``x_train (n_train, 28, 28, 1)`` float32, ``y_train``, ``x_val``, ``y_val``.
    """
    ds = data.load_mnist_sample()
    if not 10 <= n_train <= len(ds.x_train):
        raise OverfittingError(f"training images must be 10…{len(ds.x_train)}, got {n_train}")
    if not 10 <= n_val <= len(ds.x_test):
        raise OverfittingError(f"validation images must be 10…{len(ds.x_test)}, got {n_val}")
    rng = np.random.default_rng(seed)
    tr = rng.permutation(len(ds.x_train))[:n_train]
    va = rng.permutation(len(ds.x_test))[:n_val]
    return (
        data.prepare(ds.x_train[tr]),
        ds.y_train[tr],
        data.prepare(ds.x_test[va]),
        ds.y_test[va],
    )


def run_all(
    names: Sequence[str],
    n_train: int = 500,
    n_val: int = 500,
    epochs: int = 15,
    seed: int = 0,
    on_progress: Callable[[str, training.Progress], None] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Train each named run of :data:`RUNS` on the same small split.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`RUNS`.
    n_train, n_val : int
        Images for training and validation (MNIST sample, seeded choice).
    epochs, seed : int
        Every run gets the same epochs, batch size (64), optimiser (Adam 1e-3) and seed.
    on_progress : callable, optional
        Called with ``(run name, Progress)`` after each execution/epoch.

    Returns
    -------
    dict
        Run name -> Keras-style history (``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy``) plus, per epoch, the :data:`MEASURED` data loss and accuracy
        on the training and validation images (see :func:`data_measurer`).
    """
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        raise OverfittingError(f"unknown run {unknown[0]!r}; choose from {', '.join(RUNS)}")
    x_tr, y_tr, x_va, y_va = small_split(n_train, n_val, seed)
    out = {}
    for name in names:
        spec = RUNS[name]
        keras.utils.set_random_seed(seed)  # same initial weights draw for every run
        model = build_run_model(spec)
        config = training.TrainConfig(
            epochs=epochs, batch_size=64, augmentation=spec.augmentation, seed=seed
        )
        measured: dict[str, list[float]] = {k: [] for k in MEASURED}
        measure = data_measurer(model)

        def report(p, n=name, measure=measure, measured=measured):
            if p.kind == "epoch":  # the weights as they are now, dropout off, no penalty
                for prefix, (x, y) in (("", (x_tr, y_tr)), ("val_", (x_va, y_va))):
                    loss, acc = measure(x, y)
                    measured[f"{prefix}data_loss"].append(loss)
                    measured[f"{prefix}data_accuracy"].append(acc)
            if on_progress is not None:
                on_progress(n, p)

        result = training.train(model, x_tr, y_tr, config, x_va, y_va, on_progress=report)
        out[name] = {k: [float(v) for v in vs] for k, vs in result.history.items()}
        out[name].update(measured)
    return out


# --- measuring the gap ----------------------------------------------------------------

# Keras's own history is not comparable across these runs: its training loss and accuracy
# are means over the epoch's batches with dropout and augmentation switched on, and both
# of its losses include the L2 penalty (so the L2 run's "validation loss" is mostly
# penalty). run_all therefore also measures, after every epoch, the *data* loss and
# accuracy of the weights as they are then, in inference mode, on the unaugmented
# training images and on the validation images; these are what the gaps compare.
MEASURED = ("data_loss", "data_accuracy", "val_data_loss", "val_data_accuracy")
DATA_LOSS = "data loss"
LOGGED_LOSS = "logged loss"
MEASURES = {  # short name used in sentences -> what it is, for the page's heading
    DATA_LOSS: (
        "cross-entropy without the L2 penalty, of the weights after the epoch, with dropout "
        "off, on the unaugmented images"
    ),
    LOGGED_LOSS: (
        "the loss Keras logs: for training, the mean over the epoch's batches with dropout "
        "and augmentation on; any L2 penalty included in both"
    ),
}
ACCURACY_MEASURE = {
    DATA_LOSS: "of the weights after the epoch, dropout off, unaugmented images",
    LOGGED_LOSS: "as Keras logs it: for training, the mean over the epoch's batches",
}
_EPS = 1e-7  # Keras clips probabilities to [eps, 1 - eps] before the log


def data_loss(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cross-entropy (no regularisation terms) and accuracy of predicted ``probs``.

    For a model whose output is not a softmax ``Dense`` layer (then
    :func:`data_loss_from_logits` is exact): probabilities renormalised and clipped to
    ``[1e-7, 1 − 1e-7]``, as Keras does with probabilities.

    Parameters
    ----------
    probs : np.ndarray
        ``(N, classes)`` softmax outputs.
    y : np.ndarray
        ``(N,)`` class indices.

    Returns
    -------
    tuple of float
        ``(mean −log p[y], fraction right)``.

    Examples
    --------
    >>> loss, acc = data_loss(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]))
    >>> round(loss, 4), acc
    (0.8574, 0.5)
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y).reshape(-1).astype(int)
    if p.ndim != 2 or len(p) != len(y) or not len(y):
        raise OverfittingError(f"expected (N, classes) probabilities for {len(y)} labels")
    p = np.clip(p / p.sum(axis=1, keepdims=True), _EPS, 1 - _EPS)
    return float(-np.log(p[np.arange(len(y)), y]).mean()), float((p.argmax(1) == y).mean())


def data_loss_from_logits(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and accuracy from the logits (the softmax's input), unclipped.

    This is what Keras computes for a softmax ``Dense`` output (it reads the logits
    behind the softmax), so a confidently wrong image costs its full ``−log p``, not
    ``−log 1e-7``.

    Examples
    --------
    >>> loss, acc = data_loss_from_logits(np.array([[0.0, 0.0], [40.0, 0.0]]), np.array([0, 1]))
    >>> round(loss, 4), acc
    (20.3466, 0.5)
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y).reshape(-1).astype(int)
    if z.ndim != 2 or len(z) != len(y) or not len(y):
        raise OverfittingError(f"expected (N, classes) logits for {len(y)} labels")
    top = z.max(axis=1, keepdims=True)
    log_p = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))  # log-softmax
    # argmax of the logits; a tie goes to the first class, as argmax of the softmax does
    return float(-log_p[np.arange(len(y)), y].mean()), float((z.argmax(1) == y).mean())


def data_measurer(
    model: keras.Model, batch: int = 1000
) -> Callable[[np.ndarray, np.ndarray], tuple[float, float]]:
    """``f(x, y) -> (data loss, accuracy)`` of ``model`` in inference mode (dropout off).

    When the model ends in a softmax ``Dense`` layer the loss is computed from its
    logits (:func:`data_loss_from_logits`, as Keras computes it), else from the
    probabilities (:func:`data_loss`). No regularisation term is added.
    """
    last = model.layers[-1]
    if isinstance(last, keras.layers.Dense) and last.get_config()["activation"] == "softmax":
        probe = keras.Model(model.inputs[0], last.input)  # the same layers, up to the softmax

        def out(x):  # (N, classes) logits, float64
            h = keras.ops.convert_to_numpy(probe(x, training=False)).astype(np.float64)
            w = np.asarray(last.kernel.numpy(), np.float64)
            return h @ w + (np.asarray(last.bias.numpy(), np.float64) if last.use_bias else 0)

        score = data_loss_from_logits
    else:

        def out(x):
            return keras.ops.convert_to_numpy(model(x, training=False))

        score = data_loss

    def measure(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        z = np.concatenate([out(x[i : i + batch]) for i in range(0, len(x), batch)])
        return score(z, y)

    return measure


@dataclass(frozen=True)
class Gap:
    """How far validation lags training at the end of a run, on named measures.

    Both gaps are positive when the model does worse on the validation images:
    ``loss_gap`` is validation minus training loss, ``accuracy_gap`` is training minus
    validation accuracy.
    """

    train_loss: float
    val_loss: float
    loss_gap: float  # final val_loss - train_loss
    train_accuracy: float
    val_accuracy: float
    accuracy_gap: float  # final train accuracy - val accuracy
    best_epoch: int  # 1-based epoch of the lowest validation loss
    best_val_loss: float
    epochs: int
    loss_measure: str = LOGGED_LOSS  # DATA_LOSS or LOGGED_LOSS (see MEASURES)


def measure_gap(history: Mapping[str, Sequence[float]], measure: str | None = None) -> Gap:
    """Measure the train/validation gap of one history.

    Parameters
    ----------
    history : mapping
        ``loss`` and ``val_loss`` lists (one per epoch); ``accuracy`` and
        ``val_accuracy`` optional (NaN when missing); the :data:`MEASURED` lists of
        :func:`run_all` when the run recorded them.
    measure : {"data loss", "logged loss"}, optional
        Which losses and accuracies to read; by default the data loss when the history
        has it, else Keras's logged values.

    Returns
    -------
    Gap
        Final-epoch values and gaps, and where validation loss was lowest.
    """
    has_data = all(len(history.get(k) or []) for k in MEASURED)
    measure = measure or (DATA_LOSS if has_data else LOGGED_LOSS)
    if measure not in MEASURES:
        raise OverfittingError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    if measure == DATA_LOSS and not has_data:
        raise OverfittingError(f"this history has no {', '.join(MEASURED)}")
    p = "data_" if measure == DATA_LOSS else ""
    loss, val = list(history.get(f"{p}loss", [])), list(history.get(f"val_{p}loss", []))
    if not loss or len(loss) != len(val):
        raise OverfittingError(
            f"a history needs loss and val_loss of equal non-zero length, got {len(loss)} "
            f"and {len(val)}"
        )
    acc = list(history.get(f"{p}accuracy", [])) or [float("nan")]
    vacc = list(history.get(f"val_{p}accuracy", [])) or [float("nan")]
    val_arr = np.asarray(val, dtype=np.float64)
    finite = np.isfinite(val_arr)
    best = int(np.argmin(np.where(finite, val_arr, np.inf))) if finite.any() else len(val) - 1
    return Gap(
        train_loss=float(loss[-1]),
        val_loss=float(val[-1]),
        loss_gap=float(val[-1]) - float(loss[-1]),
        train_accuracy=float(acc[-1]),
        val_accuracy=float(vacc[-1]),
        accuracy_gap=float(acc[-1]) - float(vacc[-1]),
        best_epoch=best + 1,
        best_val_loss=float(val[best]),
        epochs=len(loss),
        loss_measure=measure,
    )


def measure_gaps(runs: Mapping[str, Mapping[str, Sequence[float]]]) -> dict[str, Gap]:
    """:func:`measure_gap` of every run on ONE measure: the data loss when every run has
    it (so the gaps can be compared), else Keras's logged values for all."""
    every = all(all(len(h.get(k) or []) for k in MEASURED) for h in runs.values())
    measure = DATA_LOSS if every and runs else LOGGED_LOSS
    return {k: measure_gap(h, measure) for k, h in runs.items()}


def _fixed(v: float, digits: int = 2) -> str:
    """``v`` to ``digits`` decimals, never ``-0.00``."""
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def _number(v: float) -> str:
    """A loss: two decimals, or in words when it is not a finite number."""
    if np.isnan(v):
        return "not a number"
    return "infinite" if np.isinf(v) else _fixed(v)


def _signed(v: float, digits: int = 2) -> str:
    """``+0.28`` / ``-0.18``; a value that rounds to zero is ``0.00`` (no sign)."""
    s = f"{v:+.{digits}f}"
    return s[1:] if float(s) == 0 else s


def _pct(v: float) -> str:
    return f"{_fixed(100 * v, 1)} %"


def _pts(v: float) -> str:
    """An accuracy gap (a fraction) in signed points: ``+4.8 points``."""
    return f"{_signed(100 * v, 1)} points"


def _points(v: float) -> str:
    n = round(100 * v)
    return f"{n} point{'s' * (n != 1)}"


@claims.claim
def gap_heading(gaps: Mapping[str, Gap]) -> claims.Claim:
    """The heading of the gap list: what each gap measures and which way round it is."""
    measures = sorted({g.loss_measure for g in gaps.values()}) or [LOGGED_LOSS]
    if len(measures) != 1:
        raise OverfittingError(
            f"runs measured differently ({', '.join(measures)}) cannot be compared"
        )
    m = measures[0]
    text = (
        "**The gap, measured** after the last epoch, positive when the model does worse on "
        f"the validation images — *loss gap* = validation minus training {m} "
        f"({MEASURES[m]}); *accuracy gap* = training minus validation accuracy "
        f"({ACCURACY_MEASURE[m]}):"
    )
    return claims.Claim(
        text, loss_measure=m, loss_gap="validation - training", accuracy_gap="training - validation"
    )


# A last validation loss at most this fraction above its lowest is "about the same" as the
# lowest: an epoch-to-epoch wobble, not a turn-up (dropout on the full data: +0.005 = 2 %).
ROSE_FRACTION = 0.10


def _loss3(v: float) -> str:
    """A loss to 3 decimals; one below 0.001 (but not 0) in scientific notation."""
    return f"{v:.1e}" if 0 < abs(v) < 0.001 else _fixed(v, 3)


def _rise3(last: float, lowest: float) -> str:
    """``last − lowest`` as the two shown numbers give it (3 decimals each), so it adds up;
    from the raw values when either is shown in scientific notation."""
    a, b = _loss3(last), _loss3(lowest)
    if "e" in a + b:
        return _loss3(last - lowest)
    return _fixed(float(a) - float(b), 3)


@claims.claim
def describe_gap(name: str, gap: Gap) -> claims.Claim:
    """One line: the gap of run ``name`` in loss and accuracy, and how validation loss ended.

    Both gaps are signed so that positive means worse on the validation images (see
    :func:`gap_heading`). When validation loss was lowest before the last epoch, the
    sentence says by how much it ended above that lowest value: "rose" only when by more
    than :data:`ROSE_FRACTION` of it, else "about the same" with that tolerance stated.

    Examples
    --------
    >>> describe_gap("plain", measure_gap({"loss": [1.0, 0.1, 0.05],
    ...     "val_loss": [0.9, 0.5, 0.7], "accuracy": [0.7, 0.98, 1.0],
    ...     "val_accuracy": [0.72, 0.85, 0.86]}))  # doctest: +ELLIPSIS
    '**plain**, after 3 epochs: logged loss 0.70 on validation, 0.05 on training (loss gap ...'
    """
    finite = bool(np.isfinite(gap.val_loss) and np.isfinite(gap.train_loss))
    s = (
        f"**{name}**, after {gap.epochs} epoch{'s' * (gap.epochs != 1)}: {gap.loss_measure} "
        f"{_number(gap.val_loss)} on validation, {_number(gap.train_loss)} on training "
        + (f"(loss gap {_signed(gap.loss_gap)})" if finite else "(no loss gap to measure)")
    )
    has_acc = bool(np.isfinite(gap.accuracy_gap))
    if has_acc:
        s += (
            f"; accuracy {_pct(gap.val_accuracy)} on validation, {_pct(gap.train_accuracy)} "
            f"on training (accuracy gap {_pts(gap.accuracy_gap)})"
        )
    rise = gap.val_loss - gap.best_val_loss  # NaN when the last loss is NaN
    after = bool(gap.best_epoch < gap.epochs and rise > 0)
    ending, percent = None, None
    if after:
        lowest = (
            f"; validation {gap.loss_measure} was lowest at epoch {gap.best_epoch} "
            f"({_loss3(gap.best_val_loss)})"
        )
        percent = 100 * rise / gap.best_val_loss if gap.best_val_loss > 0 else None
        percent = percent if percent is not None and np.isfinite(percent) else None
        share = f", {percent:.1f} % above its lowest" if percent is not None else ""
        if not rise <= ROSE_FRACTION * gap.best_val_loss:  # more than 10 % (or inf)
            ending = "rose"
            s += lowest + (
                f" and then rose to {_loss3(gap.val_loss)} by epoch {gap.epochs} "
                f"(+{_rise3(gap.val_loss, gap.best_val_loss)}{share})"
                if np.isfinite(rise)
                else f" and then rose to infinite by epoch {gap.epochs}"
            )
        else:
            ending = "about the same"
            s += (
                f"{lowest} and ended {_rise3(gap.val_loss, gap.best_val_loss)} above it "
                f"({_loss3(gap.val_loss)}{share}): "
                f"about the same, within the {100 * ROSE_FRACTION:.0f} % of its lowest we "
                "count as no rise"
            )
    return claims.Claim(
        s + ".",
        name=name,
        epochs=gap.epochs,
        loss_measure=gap.loss_measure,
        val_loss=gap.val_loss,
        train_loss=gap.train_loss,
        loss_gap=gap.loss_gap,
        accuracy_stated=has_acc,
        val_accuracy=gap.val_accuracy,
        train_accuracy=gap.train_accuracy,
        accuracy_gap=gap.accuracy_gap,
        ending=ending,
        rose_after=gap.best_epoch if ending == "rose" else None,
        lowest_epoch=gap.best_epoch if after else None,
        lowest=gap.best_val_loss if after else None,
        rise=rise if after else None,
        rise_percent=percent,
        rise_tolerance=ROSE_FRACTION,
    )


# Thresholds of the verdict. A loss gap within ±NO_GAP is "no gap"; accuracies closer than
# max(MIN_POINTS, two validation images) are "about the same".
NO_GAP = 0.05
MIN_POINTS = 0.01
LEARNED = 0.05  # validation accuracy this far above guessing, at least, to count as learned

# How a run's gap compares with the baseline's on one measure, and which way that points.
BETTER = ("closes", "reverses", "narrows")  # less overfit than the baseline on this measure
NEUTRAL = ("same", "none")
WORSE = ("widens", "opens")


def compare_gap(gap: float, base: float, tol: float, margin: float = 0.0) -> str:
    """The word for one measure: how ``gap`` compares with the baseline's ``base``.

    Gaps are positive when validation is worse. ``tol``: within ±tol is "no gap";
    ``margin``: differences up to it are "the same" (noise).

    Returns
    -------
    str
        ``"closes"`` (``|gap| <= tol`` where the baseline had one), ``"reverses"``
        (``gap < -tol``: validation better than training), ``"narrows"``
        (``tol < gap < base - margin``), ``"same"`` (``|gap - base| <= margin``),
        ``"widens"`` (``gap > base + margin``); where the baseline has no gap
        (``base <= tol``): ``"opens"`` (``gap > tol``) or ``"none"``; ``"unknown"`` when
        either is not finite.

    Examples
    --------
    >>> compare_gap(0.06, 0.28, 0.05), compare_gap(0.04, 0.28, 0.05)
    ('narrows', 'closes')
    """
    if not (np.isfinite(gap) and np.isfinite(base)):
        return "unknown"
    if base <= tol:
        return "opens" if gap > tol else "none"
    if abs(gap) <= tol:
        return "closes"
    if gap < -tol:
        return "reverses"
    if gap < base - margin:
        return "narrows"
    if gap > base + margin:
        return "widens"
    return "same"


def _direction(word: str) -> str:
    return "better" if word in BETTER else "worse" if word in WORSE else "neutral"


def _loss_phrase(word: str, g: float, base: float, base_name: str) -> str:
    return {
        "closes": f"closes the loss gap ({_signed(g)}, within ±{NO_GAP:.2f})",
        "reverses": (
            f"turns the loss gap around ({_signed(g)}: validation loss {_fixed(-g)} below training)"
        ),
        "narrows": f"narrows the loss gap from {_fixed(base)} to {_fixed(g)}",
        "widens": f"widens the loss gap from {_fixed(base)} to {_fixed(g)}",
        "same": f"leaves the loss gap at {_fixed(g)} (as in {base_name})",
        "none": f"has no loss gap either ({_signed(g)})",
        "opens": f"opens a loss gap of {_fixed(g)} where {base_name} has none",
        "unknown": "has no finite loss gap",
    }[word]


def _acc_phrase(word: str, a: float, base: float, base_name: str, tol: float) -> str:
    return {
        "closes": f"closes the accuracy gap ({_pts(a)}, within ±{_points(tol)})",
        "reverses": (
            f"turns the accuracy gap around ({_pts(a)}: validation accuracy above training)"
        ),
        "narrows": f"narrows the accuracy gap from {_pts(base)} to {_pts(a)}",
        "widens": f"widens the accuracy gap from {_pts(base)} to {_pts(a)}",
        "same": (
            f"leaves the accuracy gap where it was ({_pts(a)} vs {_pts(base)}, within "
            f"{_points(tol)}: as overfit as {base_name} by accuracy)"
        ),
        "none": f"has no accuracy gap either ({_pts(a)})",
        "opens": f"opens an accuracy gap of {_pts(a)} where {base_name} has none",
        "unknown": "has no accuracy to compare",
    }[word]


def _names(keys: Sequence[str]) -> str:
    bold = [f"**{k}**" for k in keys]
    return bold[0] if len(bold) == 1 else ", ".join(bold[:-1]) + " and " + bold[-1]


def _side(v: float, tol: float) -> str:
    """``"over"`` (gap > tol), ``"below"`` (< −tol), ``"none"`` or ``"unknown"``."""
    if not np.isfinite(v):
        return "unknown"
    return "over" if v > tol else "below" if v < -tol else "none"


def _state(name: str, g: Gap, tol: float) -> tuple[str, dict]:
    """What one run's own curves say, on both measures: ``(sentence, facts)``."""
    loss, acc = _side(g.loss_gap, NO_GAP), _side(g.accuracy_gap, tol)
    accs = f"{_pct(g.val_accuracy)} on validation, {_pct(g.train_accuracy)} on training"
    loss_txt = {
        "over": f"its validation loss ends {_fixed(g.loss_gap)} above its training loss",
        "below": f"its validation loss ends {_fixed(-g.loss_gap)} below its training loss",
        "none": f"its loss gap is only {_signed(g.loss_gap)} (within ±{NO_GAP:.2f})",
        "unknown": "its loss gap is not finite",
    }[loss]
    acc_txt = {
        "over": f"its accuracy gap is {_pts(g.accuracy_gap)} ({accs})",
        "below": f"its validation accuracy is above training ({accs})",
        "none": f"its accuracy gap is only {_pts(g.accuracy_gap)} (within ±{_points(tol)}; {accs})",
        "unknown": "",
    }[acc]
    overfits = "over" in (loss, acc)
    if loss == "over" and acc in ("over", "unknown"):
        lead = "overfits"
    elif overfits:
        by, not_by = ("loss", "accuracy") if loss == "over" else ("accuracy", "loss")
        lead = f"overfits by {by} but not by {not_by}"
    else:
        lead = "shows no overfitting"
    body = "; ".join(t for t in (loss_txt, acc_txt) if t)
    return f"**{name}** {lead}: {body}.", {"loss": loss, "accuracy": acc, "overfits": overfits}


def _against(name: str, g: Gap, base: Gap, base_name: str, tol: float) -> tuple[str, dict]:
    """How run ``name`` compares with the baseline on both measures, then on validation
    accuracy: ``(sentence, facts)``."""
    lw = compare_gap(g.loss_gap, base.loss_gap, NO_GAP)
    aw = compare_gap(g.accuracy_gap, base.accuracy_gap, tol, margin=tol)
    lp = _loss_phrase(lw, g.loss_gap, base.loss_gap, base_name)
    ap = _acc_phrase(aw, g.accuracy_gap, base.accuracy_gap, base_name, tol)
    agree = "unknown" in (lw, aw) or _direction(lw) == _direction(aw)
    if aw == "unknown":
        s = f"**{name}** {lp}"
    elif agree:
        s = f"**{name}** {lp}, and {ap}"
    else:
        s = f"**{name}** {lp}, but {ap} — the two measures disagree"
    d = g.val_accuracy - base.val_accuracy
    facts = {"loss": lw, "accuracy": aw, "agree": agree, "val_accuracy": None, "underfits": False}
    if np.isfinite(d):
        was = f"{_pct(base.val_accuracy)} → {_pct(g.val_accuracy)}"
        move = "falls" if d < -tol else "rises" if d > tol else "same"
        facts["val_accuracy"] = move
        if move == "same":
            s += f". Its validation accuracy stays about the same ({was})"
        else:
            s += f". Its validation accuracy {move} ({was})"
        if move == "falls" and _direction(lw) == "better":
            facts["underfits"] = True
            s += (
                ": it underfits — the gap shrank because training got worse, not because "
                "new images got better"
            )
    return s + ".", facts


@claims.claim
def verdict(
    gaps: Mapping[str, Gap],
    baseline: str = "plain",
    n_train: int | None = None,
    n_val: int | None = None,
    num_classes: int = 10,
) -> claims.Claim:
    """What the runs show, in sentences that stay true for any histories.

    Every run is judged on both measures of :func:`gap_heading` with the same rule
    (:func:`compare_gap`); when the loss gap and the accuracy gap point different ways
    the sentence says so. Covered: runs at chance level (their gap means nothing),
    non-finite losses, negative gaps (validation better than training), no gap at all, a
    regularised run that closes the gap by doing worse on new images (underfitting), and
    tiny runs where one validation image is several points.

    Parameters
    ----------
    gaps : mapping
        Run name -> :class:`Gap`, all on the same measure (:func:`measure_gaps`).
    baseline : str
        The run the others are compared with (when present and learned).
    n_train, n_val : int, optional
        Training and validation images, for the "tiny run" warning and the noise level.
    num_classes : int
        For the accuracy of guessing.

    Returns
    -------
    cnnviz.claims.Claim
        Facts: ``tol`` (accuracy noise), ``no_gap`` (loss tolerance), ``stuck``,
        ``unmeasured``, ``states`` (run -> its own gaps' sides), ``compared`` (run -> the
        words of :func:`compare_gap` for loss and accuracy, ``agree``, validation accuracy
        ``"rises"``/``"falls"``/``"same"``, ``underfits``), ``best``.
    """
    if not gaps:
        raise OverfittingError("no runs to compare")
    chance = 1 / num_classes
    # Accuracy differences up to tol are noise (1e-9: rounding of the differences themselves).
    tol = (max(MIN_POINTS, 2 / n_val) if n_val else MIN_POINTS) + 1e-9
    facts: dict = {
        "tol": tol,
        "no_gap": NO_GAP,
        "stuck": [],
        "unmeasured": [],
        "states": {},
        "compared": {},
        "best": [],
        "baseline_used": False,
    }
    parts = []
    if (n_val and 2 / n_val > MIN_POINTS) or (n_train and n_train < 100):
        few = (
            f"{n_train} training and {n_val} validation images"
            if n_train
            else f"{n_val} validation images"
        )
        parts.append(
            f"A small run ({few}): one validation image is worth {100 / n_val:.1f} points, "
            f"so accuracy differences of up to {_points(tol)} are noise."
            if n_val
            else f"A small run ({n_train} training images): expect noisy curves."
        )
    unmeasured = [
        k for k, g in gaps.items() if not (np.isfinite(g.train_loss) and np.isfinite(g.val_loss))
    ]
    if unmeasured:
        one = len(unmeasured) == 1
        parts.append(
            f"{_names(unmeasured)} ended with a loss that is not a finite number: "
            f"{'its' if one else 'their'} gap cannot be measured."
        )
    learned = {
        k: g
        for k, g in gaps.items()
        if k not in unmeasured
        and (not np.isfinite(g.val_accuracy) or g.val_accuracy > chance + max(LEARNED, tol))
    }
    if stuck := [k for k in gaps if k not in learned and k not in unmeasured]:
        accs = ", ".join(_pct(gaps[k].val_accuracy) for k in stuck)
        one = len(stuck) == 1
        parts.append(
            f"{_names(stuck)} {'has' if one else 'have'} not learned the task yet (validation "
            f"accuracy {accs}; guessing gives {_pct(chance)}): {'its' if one else 'their'} "
            "gap says nothing about overfitting. Train longer or on more images."
        )
    facts["stuck"], facts["unmeasured"] = stuck, unmeasured
    if not learned:
        return claims.Claim(" ".join(parts), **facts)

    def state(k: str) -> str:
        text, f = _state(k, learned[k], tol)
        facts["states"][k] = f
        return text

    if baseline in learned:
        base = learned[baseline]
        parts.append(state(baseline))
        others = [k for k in learned if k != baseline]
        if others and facts["states"][baseline]["overfits"]:
            facts["baseline_used"] = True
            parts.append(
                f"Against the {baseline} run (the same measures; a loss gap within "
                f"±{NO_GAP:.2f} or an accuracy gap within ±{_points(tol)} counts as closed):"
            )
            for k in others:
                text, f = _against(k, learned[k], base, baseline, tol)
                facts["compared"][k] = f
                parts.append(text)
        elif others:
            parts.append(f"With no overfitting in the {baseline} run there is nothing to cure.")
            parts.extend(state(k) for k in others)
    else:
        parts.extend(state(k) for k in learned)
    accs = {k: g.val_accuracy for k, g in learned.items() if np.isfinite(g.val_accuracy)}
    if len(accs) > 1:
        top = max(accs.values())
        near = [k for k, v in accs.items() if top - v <= tol]
        facts["best"] = near
        if len(near) == 1:
            parts.append(f"Best on the validation images: **{near[0]}** ({_pct(top)}).")
        elif len(near) == len(accs):
            parts.append(
                f"On the validation images all runs are within {_points(tol)} of "
                f"each other ({_pct(min(accs.values()))}–{_pct(top)})."
            )
        else:
            parts.append(
                f"Best on the validation images: {_names(near)}, within {_points(tol)} "
                f"of each other (up to {_pct(top)})."
            )
    return claims.Claim(" ".join(parts), **facts)


# --- precomputed curves --------------------------------------------------------------


def save_curves(runs: Mapping[str, Mapping], settings: Mapping, path: str | Path = CURVES) -> Path:
    """Write histories and the settings that produced them as JSON."""
    path = Path(path)
    path.write_text(json.dumps({"settings": dict(settings), "runs": runs}, indent=1) + "\n")
    return path


def load_curves(path: str | Path = CURVES) -> tuple[dict, dict] | None:
    """``(settings, runs)`` from :func:`save_curves`, or ``None`` when there is no file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        blob = json.loads(path.read_text())
        return dict(blob["settings"]), dict(blob["runs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def progress_fraction(run_index: int, n_runs: int, progress: training.Progress) -> float:
    """How much of a :func:`run_all` call is done, in [0, 1], for a progress bar."""
    within = (progress.epoch - 1 + progress.batch / max(progress.batches, 1)) / progress.epochs
    if progress.kind == "epoch":
        within = progress.epoch / progress.epochs
    return float(min(1.0, max(0.0, (run_index + within) / max(n_runs, 1))))


# --- the tutorial's experiment, on the full data ------------------------------------------

# benchmarks/bench_fashion_tutorial.py --json: the Fashion-MNIST tutorial's two networks,
# trained as the tutorial writes it on all 60,000 training images (48,000 / 12,000).
TUTORIAL = Path(__file__).resolve().parent.parent / "assets" / "fashion_tutorial.json"
TUTORIAL_SCRIPT = "benchmarks/bench_fashion_tutorial.py"
FASHION_TRAIN = 60_000  # Fashion-MNIST's training images, before the tutorial's split
KERAS_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass(frozen=True)
class TutorialRun:
    """One network of the full-data experiment: its history and its test figures."""

    history: dict[str, list[float]]  # KERAS_KEYS (as Keras logs them) and MEASURED
    test_loss: float  # cross-entropy of the 10,000 test images, probabilities clipped at 1e-7
    test_accuracy: float
    test_images: int | None = None
    dropout: bool = False  # the network has dropout layers (on while Keras logs training)


@dataclass(frozen=True)
class TutorialRuns:
    """The full-data experiment: both networks, and where and how they were trained."""

    device: str
    backend: str
    runs: dict[str, TutorialRun]  # "plain", "dropout"
    n_train: int
    n_val: int
    epochs: int
    batch_size: int

    @property
    def histories(self) -> dict[str, dict[str, list[float]]]:
        """Network -> history, for :func:`measure_gaps` and the curves."""
        return {k: r.history for k, r in self.runs.items()}


def load_tutorial_runs(path: str | Path = TUTORIAL, contender: str = "fit") -> TutorialRuns | None:
    """The tutorial's two networks as ``bench_fashion_tutorial.py --json`` measured them.

    Parameters
    ----------
    path : str or Path
        The benchmark's JSON (``{"device", "backend", "plain": {"fit": …, "cnnviz": …},
        "dropout": …}``).
    contender : str
        ``"fit"`` (the tutorial's own ``compile`` + ``fit``; the only one that measured the
        :data:`MEASURED` data loss and accuracy) or ``"cnnviz"``.

    Returns
    -------
    TutorialRuns or None
        ``None`` when there is no file; an :class:`OverfittingError` naming what is missing
        when the file is not such a JSON.
    """
    from cnnviz import tutorial

    path = Path(path)
    if not path.exists():
        return None
    try:
        blob = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OverfittingError(f"{path.name} is not readable JSON ({exc})") from exc
    n_val = int(np.ceil(tutorial.VALIDATION_FRACTION * FASHION_TRAIN))
    n_train = FASHION_TRAIN - n_val
    runs: dict[str, TutorialRun] = {}
    for name in tutorial.NETWORKS:
        try:
            c = blob[name][contender]
            hist = {k: [float(v) for v in c["history"][k]] for k in (*KERAS_KEYS, *MEASURED)}
            test = float(c["test_loss"]), float(c["test_accuracy"])
            seconds = [float(v) for v in c["epoch_seconds"]][1:]
            speed = float(c["images_per_sec"])
        except (KeyError, TypeError, ValueError) as exc:
            raise OverfittingError(
                f"{path.name}: {name}/{contender} lacks {exc} (expected its history with "
                f"{', '.join((*KERAS_KEYS, *MEASURED))}, test_loss and test_accuracy)"
            ) from exc
        lengths = {len(v) for v in hist.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise OverfittingError(f"{path.name}: {name}'s lists have lengths {sorted(lengths)}")
        # images/s × seconds per epoch = the training images each epoch went through
        trained = speed * float(np.mean(seconds)) if seconds else float(n_train)
        if abs(trained - n_train) > 0.005 * n_train:
            raise OverfittingError(
                f"{path.name}: {name} trained on about {trained:,.0f} images per epoch, not "
                f"the tutorial's {n_train:,} (a --subset run?)"
            )
        rounding = c.get("rounding") or {}
        runs[name] = TutorialRun(
            hist,
            *test,
            test_images=int(rounding["n"]) if "n" in rounding else None,
            dropout="dropout" in tutorial.NETWORKS[name],  # fashion_leaky_dropout
        )
    epochs = {len(r.history["loss"]) for r in runs.values()}
    if len(epochs) != 1:
        raise OverfittingError(f"{path.name}: the networks ran {sorted(epochs)} epochs")
    return TutorialRuns(
        device=str(blob.get("device", "an unnamed device")),
        backend=str(blob.get("backend", "unknown")),
        runs=runs,
        n_train=n_train,
        n_val=n_val,
        epochs=epochs.pop(),
        batch_size=tutorial.BATCH_SIZE,
    )


@claims.claim
def tutorial_source(t: TutorialRuns) -> claims.Claim:
    """Where the full-data numbers come from: script, device, backend, split, settings."""
    tests = {r.test_images for r in t.runs.values()}
    n_test = tests.pop() if len(tests) == 1 else None  # only when every network says the same
    test = f"; test figures on the {n_test:,} test images" if n_test else ""
    total = t.n_train + t.n_val
    tutorials = t.n_val == int(np.ceil(0.2 * total))  # train_test_split's test_size=0.2
    split = "its `train_test_split(test_size=0.2, random_state=13)`" if tutorials else "a split"
    text = (
        f"Measured by `{TUTORIAL_SCRIPT} --json` on {t.device} (Keras backend {t.backend}): "
        f"the tutorial's own `compile` + `fit`, {t.n_train:,} training and {t.n_val:,} "
        f"validation images ({split} of the {total:,}), {t.epochs} epochs, batch "
        f"{t.batch_size}, Adam{test}. "
        "After every epoch it also measured the data loss and accuracy of the weights as "
        "they were then, dropout off, on the training and on the validation images: the "
        "curves and gaps below are those."
    )
    return claims.Claim(
        text,
        script=TUTORIAL_SCRIPT,
        device=t.device,
        backend=t.backend,
        n_train=t.n_train,
        n_val=t.n_val,
        epochs=t.epochs,
        batch_size=t.batch_size,
        test_images=n_test,
        tutorial_split=tutorials,
    )


def _shown(measure: str, v: float | None) -> str:
    """A table cell: an accuracy as a percentage to 2 decimals, a loss to 4 decimals."""
    if v is None or not np.isfinite(v):
        return "—"
    return f"{_fixed(100 * v, 2)} %" if "accuracy" in measure else _fixed(v, 4)


@claims.claim
def versus_tutorial(measure: str, ours: float, theirs: float | None) -> claims.Claim:
    """How our ``measure`` compares with the tutorial's printed one, from the shown numbers.

    The difference is taken between the two numbers as the table shows them (an accuracy
    in percent to 2 decimals, so the difference is in points; a loss to 4 decimals), so
    it adds up on the page.

    Examples
    --------
    >>> str(versus_tutorial("test accuracy", 0.9147, 0.9184))
    "0.37 points below the tutorial's"
    >>> str(versus_tutorial("test loss", 0.47518, 0.4637))
    "0.0115 higher than the tutorial's"
    """
    accuracy = "accuracy" in measure
    unit = "points" if accuracy else "loss"
    a, b = _shown(measure, ours), _shown(measure, theirs)
    facts = {"measure": measure, "ours": a, "theirs": b, "unit": unit}
    if b == "—":
        return claims.Claim("not printed by the tutorial", **facts, difference=None, direction=None)
    if a == "—":
        return claims.Claim("not measured", **facts, difference=None, direction=None)
    d = float(a.rstrip(" %")) - float(b.rstrip(" %"))
    size = _fixed(abs(d), 2 if accuracy else 4)
    if float(size) == 0:
        direction = "same"
        text = "the same as the tutorial's"
    elif accuracy:
        direction = "above" if d > 0 else "below"
        text = f"{size} points {direction} the tutorial's"
    else:
        direction = "higher" if d > 0 else "lower"
        text = f"{size} {direction} than the tutorial's"
    return claims.Claim(text, **facts, difference=float(size) * np.sign(d), direction=direction)


def tutorial_table(t: TutorialRuns, published: Mapping[str, Mapping]) -> list[dict[str, str]]:
    """Our final numbers beside the tutorial's printed ones, one row per network and measure.

    Parameters
    ----------
    t : TutorialRuns
        From :func:`load_tutorial_runs`.
    published : mapping
        :data:`cnnviz.tutorial.PUBLISHED`: per network ``epochs`` (epoch -> ``(loss,
        accuracy, val_loss, val_accuracy)``, ``None`` where not printed), ``test_loss``,
        ``test_accuracy``.

    Returns
    -------
    list of dict
        ``network``, ``measure``, ``ours``, ``tutorial`` (``"—"`` where it printed
        nothing), ``difference`` (:func:`versus_tutorial`). The validation figures are
        Keras's logged ones of the last epoch, as the tutorial printed them.
    """
    rows = []
    for name, run in t.runs.items():
        pub = published.get(name, {})
        last = (pub.get("epochs") or {}).get(t.epochs) or (None,) * 4
        for measure, ours, theirs in (
            (f"validation loss, epoch {t.epochs}", run.history["val_loss"][-1], last[2]),
            (f"validation accuracy, epoch {t.epochs}", run.history["val_accuracy"][-1], last[3]),
            ("test loss", run.test_loss, pub.get("test_loss")),
            ("test accuracy", run.test_accuracy, pub.get("test_accuracy")),
        ):
            rows.append(
                {
                    "network": name,
                    "measure": measure,
                    "ours": _shown(measure, ours),
                    "tutorial": _shown(measure, theirs),
                    "difference": versus_tutorial(measure, ours, theirs),
                }
            )
    return rows


def _loss_word(v: float) -> str:
    """A loss to 3 decimals, or in words when it is not a finite number."""
    if np.isnan(v):
        return "not a number"
    return "infinite" if np.isinf(v) else _fixed(v, 3)


def _than(a: float, b: float) -> tuple[str, str]:
    """``(word, phrase)``: ``a`` against ``b`` as both are shown (3 decimals)."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return "unknown", ""
    d = float(_fixed(a, 3)) - float(_fixed(b, 3))
    if _fixed(a, 3) == _fixed(b, 3):
        return "same", "the same to 3 decimals"
    word = "higher" if d > 0 else "lower"
    return word, f"{_fixed(abs(d), 3)} {word}"


@claims.claim
def logged_vs_data(
    name: str, history: Mapping[str, Sequence[float]], dropout: bool, backend: str = "tensorflow"
) -> claims.Claim:
    """Keras's logged losses of the last epoch beside the data losses, and why they differ.

    Parameters
    ----------
    name : str
        The network.
    history : mapping
        ``loss``, ``val_loss`` and :data:`MEASURED` ``data_loss``, ``val_data_loss``.
    dropout : bool
        Whether the network has dropout layers (on while Keras logs its training loss).
    backend : str
        Keras's backend: every backend but TensorFlow computes the cross-entropy of a
        softmax from its probabilities clipped to ``[1e-7, 1 − 1e-7]``; the data loss is
        computed from the logits.
    """
    logged, data_ = float(history["loss"][-1]), float(history["data_loss"][-1])
    vlogged, vdata = float(history["val_loss"][-1]), float(history["val_data_loss"][-1])
    epoch = len(history["loss"])
    tword, tphrase = _than(data_, logged)
    vword, vphrase = _than(vdata, vlogged)
    on = ", with dropout on" if dropout else ""
    off = ", dropout off," if dropout else ""
    text = (
        f"**{name}**, epoch {epoch}: Keras logged a training loss of {_loss_word(logged)} "
        f"(the mean over the epoch's batches{on}); the weights after the epoch{off} have a "
        f"data loss of {_loss_word(data_)} on the training images"
        + (f" ({tphrase})" if tphrase else "")
        + f". On the validation images Keras logged {_loss_word(vlogged)}, the data loss is "
        f"{_loss_word(vdata)}" + (f" ({vphrase})" if vphrase else "")
    )
    clipped = backend != "tensorflow"
    explained = vword == "higher" and clipped
    if explained:
        text += (
            ": the data loss is computed from the logits, Keras's (backend "
            f"{backend}) from the probabilities clipped to at least 1e-7, so in Keras's "
            "number no image costs more than 16.1, however confidently wrong"
        )
    if dropout:
        text += (
            ". Keras's training loss of a network with dropout is not comparable with its "
            "validation loss (dropout is off there): the gaps are measured on the data loss"
        )
    return claims.Claim(
        text + ".",
        name=name,
        epoch=epoch,
        logged=logged,
        data_loss=data_,
        train=tword,
        val_logged=vlogged,
        val_data_loss=vdata,
        val=vword,
        dropout=dropout,
        clipping_explained=explained,
    )
