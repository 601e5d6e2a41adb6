"""The overfitting lab: one small training set, four ways to train, the gap measured.

Overfitting is the gap between how well a model does on the images it trained on and
on images it has never seen. With only a few hundred training images a CNN memorises
them within a few epochs: training loss keeps falling while validation loss turns
up. Dropout, data augmentation and an L2 penalty each narrow that gap; this module
trains the same network the four ways (through :func:`cnnviz.training.train`) and
measures the gap from the histories.

>>> g = measure_gap({"loss": [1.0, 0.2], "val_loss": [1.1, 0.9],
...                  "accuracy": [0.6, 0.99], "val_accuracy": [0.55, 0.8]})
>>> round(g.loss_gap, 3), round(g.accuracy_gap, 3)
(0.7, 0.19)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from cnnviz import data, models, training

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
        ``val_accuracy``).
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
        report = None if on_progress is None else (lambda p, n=name: on_progress(n, p))
        result = training.train(model, x_tr, y_tr, config, x_va, y_va, on_progress=report)
        out[name] = {k: [float(v) for v in vs] for k, vs in result.history.items()}
    return out


# --- measuring the gap ----------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """How far validation lags training at the end of a run."""

    train_loss: float
    val_loss: float
    loss_gap: float  # final val_loss - train_loss
    train_accuracy: float
    val_accuracy: float
    accuracy_gap: float  # final accuracy - val_accuracy
    best_epoch: int  # 1-based epoch of the lowest validation loss
    best_val_loss: float
    epochs: int


def measure_gap(history: Mapping[str, Sequence[float]]) -> Gap:
    """Measure the train/validation gap of one Keras history.

    Parameters
    ----------
    history : mapping
        ``loss`` and ``val_loss`` lists (one per epoch); ``accuracy`` and
        ``val_accuracy`` optional (NaN when missing).

    Returns
    -------
    Gap
        Final-epoch values and gaps, and where validation loss was lowest.
    """
    loss, val = list(history.get("loss", [])), list(history.get("val_loss", []))
    if not loss or len(loss) != len(val):
        raise OverfittingError(
            f"a history needs loss and val_loss of equal non-zero length, got {len(loss)} "
            f"and {len(val)}"
        )
    acc = list(history.get("accuracy", [])) or [float("nan")]
    vacc = list(history.get("val_accuracy", [])) or [float("nan")]
    best = int(np.argmin(val))
    return Gap(
        train_loss=float(loss[-1]),
        val_loss=float(val[-1]),
        loss_gap=float(val[-1] - loss[-1]),
        train_accuracy=float(acc[-1]),
        val_accuracy=float(vacc[-1]),
        accuracy_gap=float(acc[-1] - vacc[-1]),
        best_epoch=best + 1,
        best_val_loss=float(val[best]),
        epochs=len(loss),
    )


def _gap_words(gap: float) -> str:
    """The loss gap in words that stay right for negative values."""
    if gap < 0:
        return f"gap {gap:.2f}: validation loss below training loss"
    return f"gap {gap:.2f}"


def describe_gap(name: str, gap: Gap) -> str:
    """One sentence: the gap of run ``name`` in loss and accuracy, and the turn-up epoch.

    Examples
    --------
    >>> describe_gap("plain", measure_gap({"loss": [1.0, 0.1, 0.05],
    ...     "val_loss": [0.9, 0.5, 0.7], "accuracy": [0.7, 0.98, 1.0],
    ...     "val_accuracy": [0.72, 0.85, 0.86]}))  # doctest: +ELLIPSIS
    'plain: after 3 epochs validation loss is 0.70 vs 0.05 in training (gap 0.65); ...'
    """
    s = (
        f"{name}: after {gap.epochs} epoch{'s' * (gap.epochs != 1)} validation loss is "
        f"{gap.val_loss:.2f} vs "
        f"{gap.train_loss:.2f} in training ({_gap_words(gap.loss_gap)})"
    )
    if np.isfinite(gap.accuracy_gap):
        s += (
            f"; accuracy {100 * gap.val_accuracy:.1f} % vs {100 * gap.train_accuracy:.1f} % "
            f"(gap {100 * gap.accuracy_gap:.1f} points)"
        )
    if gap.best_epoch < gap.epochs:
        s += f"; validation loss was lowest at epoch {gap.best_epoch} and rose afterwards"
    return s + "."


# Thresholds of the verdict. A loss gap within ±NO_GAP is "no gap"; accuracies closer than
# max(MIN_POINTS, two validation images) are "about the same".
NO_GAP = 0.05
MIN_POINTS = 0.01
LEARNED = 0.05  # validation accuracy this far above guessing, at least, to count as learned


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _points(v: float) -> str:
    n = round(100 * v)
    return f"{n} point{'s' * (n != 1)}"


def _names(keys: Sequence[str]) -> str:
    bold = [f"**{k}**" for k in keys]
    return bold[0] if len(bold) == 1 else ", ".join(bold[:-1]) + " and " + bold[-1]


def _state(name: str, g: Gap) -> str:
    """What one run's own curves say: overfits, no gap, or a negative gap."""
    if g.loss_gap > NO_GAP:
        return (
            f"**{name}** overfits: its validation loss ends {g.loss_gap:.2f} above its "
            f"training loss (accuracy {_pct(g.val_accuracy)} on validation, "
            f"{_pct(g.train_accuracy)} on training)."
        )
    if g.loss_gap < -NO_GAP:
        return (
            f"**{name}** shows no overfitting: its validation loss is even {-g.loss_gap:.2f} "
            "below its training loss."
        )
    return f"**{name}** shows no gap between training and validation ({g.loss_gap:+.2f})."


def _against(name: str, g: Gap, base: Gap, base_name: str, tol: float) -> str:
    """How run ``name`` compares with the baseline: its gap, then its validation accuracy."""
    if g.loss_gap < -NO_GAP:
        gap = f"closes the gap (its validation loss is even {-g.loss_gap:.2f} below training)"
    elif g.loss_gap <= NO_GAP:
        gap = f"closes the gap ({g.loss_gap:+.2f})"
    elif g.loss_gap < base.loss_gap:
        gap = f"narrows the gap from {base.loss_gap:.2f} to {g.loss_gap:.2f}"
    else:
        gap = f"does not narrow the gap ({g.loss_gap:.2f} vs {base.loss_gap:.2f})"
    d = g.val_accuracy - base.val_accuracy
    if not np.isfinite(d):
        return f"**{name}** {gap}."
    was = f"{_pct(base.val_accuracy)} → {_pct(g.val_accuracy)}"
    if d < -tol and g.loss_gap < base.loss_gap:
        return (
            f"**{name}** {gap}, but its validation accuracy falls ({was}): it underfits — "
            "the gap shrank because training got worse, not because new images got better."
        )
    if d < -tol:
        return f"**{name}** {gap}, and its validation accuracy falls ({was})."
    if d > tol:
        return f"**{name}** {gap}, and its validation accuracy rises ({was})."
    return f"**{name}** {gap}, with about the same validation accuracy ({was})."


def verdict(
    gaps: Mapping[str, Gap],
    baseline: str = "plain",
    n_train: int | None = None,
    n_val: int | None = None,
    num_classes: int = 10,
) -> str:
    """What the runs show, in sentences that stay true for any histories.

    Covered: runs at chance level (their gap means nothing), negative gaps (validation
    below training: no overfitting, never "narrowed to -0.18"), no gap at all, a
    regularised run that closes the gap by doing worse on new images (underfitting), and
    tiny runs where one validation image is several points.

    Parameters
    ----------
    gaps : mapping
        Run name -> :class:`Gap`.
    baseline : str
        The run the others are compared with (when present and learned).
    n_train, n_val : int, optional
        Training and validation images, for the "tiny run" warning and the noise level.
    num_classes : int
        For the accuracy of guessing.
    """
    if not gaps:
        raise OverfittingError("no runs to compare")
    chance = 1 / num_classes
    # Accuracy differences up to tol are noise (1e-9: rounding of the differences themselves).
    tol = (max(MIN_POINTS, 2 / n_val) if n_val else MIN_POINTS) + 1e-9
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
    learned = {
        k: g
        for k, g in gaps.items()
        if not np.isfinite(g.val_accuracy) or g.val_accuracy > chance + max(LEARNED, tol)
    }
    if stuck := [k for k in gaps if k not in learned]:
        accs = ", ".join(_pct(gaps[k].val_accuracy) for k in stuck)
        one = len(stuck) == 1
        parts.append(
            f"{_names(stuck)} {'has' if one else 'have'} not learned the task yet (validation "
            f"accuracy {accs}; guessing gives {_pct(chance)}): {'its' if one else 'their'} "
            "gap says nothing about overfitting. Train longer or on more images."
        )
    if not learned:
        return " ".join(parts)
    if baseline in learned:
        base = learned[baseline]
        parts.append(_state(baseline, base))
        others = [_against(k, g, base, baseline, tol) for k, g in learned.items() if k != baseline]
        if others and base.loss_gap > NO_GAP:
            parts.append(f"Against the {baseline} run:")
            parts.extend(others)
        elif others:
            parts.append(f"With no overfitting in the {baseline} run there is nothing to cure.")
            parts.extend(_state(k, g) for k, g in learned.items() if k != baseline)
    else:
        parts.extend(_state(k, g) for k, g in learned.items())
    accs = {k: g.val_accuracy for k, g in learned.items() if np.isfinite(g.val_accuracy)}
    if len(accs) > 1:
        top = max(accs.values())
        near = [k for k, v in accs.items() if top - v <= tol]
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
    return " ".join(parts)


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
