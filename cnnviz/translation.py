"""The translation experiment: does a network still recognise a digit that moved?

The cookbook trains an MLP and a CNN on MNIST, averages every "1", shifts that average a
few pixels and reads both models' probabilities: the MLP, which sees pixels at fixed
positions, changes its mind after a 2-pixel shift; the CNN, whose filters slide and whose
pooling forgets exact positions, keeps saying "1". This module moves images (shift,
rotation, scaling — zero fill, no wrap-around, numpy only) and measures what models say.

>>> import numpy as np
>>> shift(np.arange(9).reshape(3, 3), dx=1, dy=0)
array([[0, 0, 1],
       [0, 3, 4],
       [0, 6, 7]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


class TransformError(ValueError):
    """An image or a transform parameter cannot be used; the message names the bad value."""


# --- moving images ------------------------------------------------------------------


def _check_image(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim not in (2, 3, 4):
        raise TransformError(
            f"expected an image (H, W), (H, W, C) or a batch (N, H, W, C), got shape {img.shape}"
        )
    return img


def _hw_axes(img: np.ndarray) -> tuple[int, int]:
    """Axes of height and width: (0, 1) for (H, W[, C]); (1, 2) for a batch (N, H, W, C)."""
    return (1, 2) if img.ndim == 4 else (0, 1)


def shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move an image ``dx`` pixels right and ``dy`` pixels down, filling with zeros.

    Parameters
    ----------
    img : np.ndarray
        ``(H, W)``, ``(H, W, C)`` or a batch ``(N, H, W, C)``; any dtype.
    dx, dy : int
        Pixels to the right (negative: left) and down (negative: up). Content that leaves
        the frame is lost (no wrap-around); a shift of the whole width gives zeros.

    Returns
    -------
    np.ndarray
        Same shape and dtype as ``img``.

    Examples
    --------
    >>> shift(np.array([[1, 2], [3, 4]]), dx=0, dy=-1)
    array([[3, 4],
           [0, 0]])
    """
    img = _check_image(img)
    if int(dx) != dx or int(dy) != dy:
        raise TransformError(f"shifts must be whole pixels, got dx={dx}, dy={dy}")
    dx, dy = int(dx), int(dy)
    ay, ax = _hw_axes(img)
    h, w = img.shape[ay], img.shape[ax]
    out = np.zeros_like(img)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    # One slice copy: the source window that stays in the frame lands at its new place.
    src = [slice(None)] * img.ndim
    dst = [slice(None)] * img.ndim
    src[ay], dst[ay] = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src[ax], dst[ax] = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[tuple(dst)] = img[tuple(src)]
    return out


def affine(img: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Warp an image about its centre with a 2×2 matrix (bilinear, zero outside).

    Parameters
    ----------
    img : np.ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
    matrix : np.ndarray
        ``(2, 2)`` acting on ``(x, y)`` offsets from the image centre: output pixel ``p``
        takes the input value at ``centre + inv(matrix) @ (p - centre)``.

    Returns
    -------
    np.ndarray
        ``float64``, same shape as ``img``.
    """
    img = _check_image(img)
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (2, 2) or not np.isfinite(matrix).all():
        raise TransformError(f"matrix must be a finite 2×2 array, got {matrix!r}")
    if abs(np.linalg.det(matrix)) < 1e-9:
        raise TransformError("matrix must be invertible, got a determinant of 0")
    ay, ax = _hw_axes(img)
    h, w = img.shape[ay], img.shape[ax]
    # Move H, W to the front so one fancy index gathers every image and channel at once.
    x = np.moveaxis(img.astype(np.float64), (ay, ax), (0, 1))  # (H, W, ...)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)  # (H, W) output coordinates
    inv = np.linalg.inv(matrix)
    sx = cx + inv[0, 0] * (xx - cx) + inv[0, 1] * (yy - cy)  # (H, W) source x
    sy = cy + inv[1, 0] * (xx - cx) + inv[1, 1] * (yy - cy)  # (H, W) source y
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    out = np.zeros_like(x)
    for oy, ox, wgt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (0, 1, fx * (1 - fy)),
        (1, 0, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):  # the four bilinear neighbours; source pixels outside the frame count as zero
        py, px = y0 + oy, x0 + ox
        inside = (py >= 0) & (py < h) & (px >= 0) & (px < w)
        vals = x[np.clip(py, 0, h - 1), np.clip(px, 0, w - 1)]  # (H, W, ...)
        wgt = np.where(inside, wgt, 0.0).reshape((h, w) + (1,) * (x.ndim - 2))
        out += wgt * vals
    return np.moveaxis(out, (0, 1), (ay, ax))


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate an image ``degrees`` anticlockwise about its centre (bilinear, zero fill).

    Examples
    --------
    >>> rotate(np.array([[1.0, 2.0], [3.0, 4.0]]), 90)
    array([[2., 4.],
           [1., 3.]])
    """
    if not np.isfinite(degrees):
        raise TransformError(f"rotation must be a finite number of degrees, got {degrees}")
    t = np.deg2rad(degrees)
    # Image y points down, so an anticlockwise turn on screen has this sign pattern.
    m = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    out = affine(img, m)
    return np.round(out, 12) if float(degrees) % 90 == 0 else out


def scale(img: np.ndarray, factor: float) -> np.ndarray:
    """Zoom an image by ``factor`` about its centre (> 1 larger, < 1 smaller, zero fill)."""
    if not np.isfinite(factor) or factor <= 0:
        raise TransformError(f"scale factor must be a positive number, got {factor}")
    return affine(img, np.eye(2) * float(factor))


# --- what the models say ------------------------------------------------------------


def _as_batch(x: np.ndarray) -> np.ndarray:
    """Float32 ``(N, H, W, C)`` in [0, 1]; uint8 input is divided by 255."""
    x = np.asarray(x)
    scale_ = 1 / 255.0 if x.dtype == np.uint8 else 1.0
    x = x.astype(np.float32) * np.float32(scale_)
    if x.ndim == 2:
        x = x[None, ..., None]
    elif x.ndim == 3:
        x = x[None]
    return x


def predict_proba(model, x: np.ndarray) -> np.ndarray:
    """Class probabilities of ``model`` for images ``x`` (one batched forward pass).

    Parameters
    ----------
    model : keras.Model
        Softmax output.
    x : np.ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``; uint8 is scaled to [0, 1].

    Returns
    -------
    np.ndarray
        ``(N, classes)`` float.
    """
    xb = _as_batch(x)
    return np.asarray(model.predict_on_batch(xb), dtype=np.float64)


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((predict_proba(model, x).argmax(axis=1) == np.asarray(y)).mean())


def accuracy_vs_shift(
    model, x: np.ndarray, y: np.ndarray, shifts: Sequence[int], axis: str = "x"
) -> np.ndarray:
    """Test accuracy of ``model`` when every image is shifted by each of ``shifts``.

    Parameters
    ----------
    model : keras.Model
        Softmax classifier.
    x : np.ndarray
        ``(N, H, W, C)`` images (uint8 or float in [0, 1]).
    y : np.ndarray
        ``(N,)`` class indices.
    shifts : sequence of int
        Pixels; positive is right (``axis="x"``) or down (``axis="y"``).
    axis : {"x", "y"}
        Direction of the shift.

    Returns
    -------
    np.ndarray
        ``(len(shifts),)`` accuracies in [0, 1]; one batched forward pass per shift.
    """
    if axis not in ("x", "y"):
        raise TransformError(f"axis must be 'x' or 'y', got {axis!r}")
    return accuracy_vs_transform(
        model, x, y, lambda b, s: shift(b, s, 0) if axis == "x" else shift(b, 0, s), shifts
    )


def accuracy_vs_transform(
    model,
    x: np.ndarray,
    y: np.ndarray,
    transform: Callable[[np.ndarray, float], np.ndarray],
    params: Sequence[float],
) -> np.ndarray:
    """Accuracy of ``model`` on ``transform(x, p)`` for each ``p`` in ``params``.

    ``transform`` takes the whole batch ``(N, H, W, C)`` and one parameter, e.g.
    :func:`rotate` with degrees or :func:`scale` with a factor.
    """
    x = _as_batch(x)  # (N, H, W, C) float32
    y = np.asarray(y)
    if len(x) != len(y):
        raise TransformError(f"got {len(x)} images but {len(y)} labels")
    return np.array([_accuracy(model, transform(x, p), y) for p in params])


def proba_vs_shift(
    model, img: np.ndarray, label: int, shifts: Sequence[int], axis: str = "x"
) -> np.ndarray:
    """P(``label``) for one image shifted by each of ``shifts`` (one forward pass).

    Returns
    -------
    np.ndarray
        ``(len(shifts),)`` probabilities of the true class.
    """
    if axis not in ("x", "y"):
        raise TransformError(f"axis must be 'x' or 'y', got {axis!r}")
    one = _as_batch(img)[0]  # (H, W, C)
    batch = np.stack([shift(one, s, 0) if axis == "x" else shift(one, 0, s) for s in shifts])
    return predict_proba(model, batch)[:, int(label)]


def average_image(x: np.ndarray, y: np.ndarray, digit: int) -> np.ndarray:
    """The mean image of class ``digit``, float32 in [0, 1], shape ``(H, W, C)``.

    The cookbook's "average 1" is this over the test images of digit 1.
    """
    mask = np.asarray(y) == digit
    if not mask.any():
        raise TransformError(f"no image of class {digit} in the data")
    return _as_batch(x[mask]).mean(axis=0)


@dataclass(frozen=True)
class Verdict:
    """What one model says about one (shifted) image."""

    model: str
    dx: int
    dy: int
    predicted: int
    confidence: float
    p_true: float


def verdicts(
    models_: dict[str, object], img: np.ndarray, label: int, dx: int, dy: int
) -> tuple[list[Verdict], np.ndarray]:
    """Each model's prediction for ``img`` shifted by ``(dx, dy)``.

    Returns
    -------
    verdicts : list of Verdict
        One per model, in the order of ``models_``.
    probs : np.ndarray
        ``(len(models_), classes)`` probabilities.
    """
    moved = shift(_as_batch(img), dx, dy)  # (1, H, W, C)
    probs = np.stack([predict_proba(m, moved)[0] for m in models_.values()])
    out = [
        Verdict(name, dx, dy, int(p.argmax()), float(p.max()), float(p[label]))
        for name, p in zip(models_, probs, strict=True)
    ]
    return out, probs


def describe_shift(dx: int, dy: int) -> str:
    """In words: ``"a 2-px right shift"``, ``"no shift"`` or ``"a 1-px left, 3-px up shift"``.

    Examples
    --------
    >>> describe_shift(-1, 3)
    'a 1-px left, 3-px down shift'
    """
    parts = []
    if dx:
        parts.append(f"{abs(dx)}-px {'right' if dx > 0 else 'left'}")
    if dy:
        parts.append(f"{abs(dy)}-px {'down' if dy > 0 else 'up'}")
    return f"a {', '.join(parts)} shift" if parts else "no shift"


def sentence(verdict: Verdict, class_names: Sequence[str], true_label: int) -> str:
    """One sentence for the page, e.g. "After a 2-px right shift the MLP says 3 (0.71) …"."""
    where = describe_shift(verdict.dx, verdict.dy)
    lead = "With no shift" if where == "no shift" else f"After {where}"
    said = class_names[verdict.predicted]
    tail = (
        "— still right"
        if verdict.predicted == true_label
        else f"— wrong: P({class_names[true_label]}) is {verdict.p_true:.2f}"
    )
    return f"{lead} the {verdict.model} says **{said}** ({verdict.confidence:.2f}) {tail}"


# --- the sweeps the Translation lab plots -------------------------------------------

# kind -> (parameter values, axis label). ±6 px is where even a shift-trained CNN struggles.
SWEEPS: dict[str, tuple[tuple[float, ...], str]] = {
    "horizontal shift": (tuple(range(-6, 7)), "shift to the right (pixels)"),
    "vertical shift": (tuple(range(-6, 7)), "shift down (pixels)"),
    "rotation": (tuple(range(-45, 46, 9)), "rotation anticlockwise (degrees)"),
    "scale": ((0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4), "zoom factor"),
}


def sweep(model, x: np.ndarray, y: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of ``model`` over one of :data:`SWEEPS`.

    Parameters
    ----------
    model : keras.Model
        Softmax classifier.
    x, y : np.ndarray
        ``(N, H, W, C)`` images and ``(N,)`` labels.
    kind : str
        A key of :data:`SWEEPS`.

    Returns
    -------
    params : np.ndarray
        The parameter values.
    accuracy : np.ndarray
        Accuracy at each value.
    """
    if kind not in SWEEPS:
        raise TransformError(f"unknown sweep {kind!r}; choose one of {', '.join(SWEEPS)}")
    params = SWEEPS[kind][0]
    if kind == "horizontal shift":
        acc = accuracy_vs_shift(model, x, y, params, axis="x")
    elif kind == "vertical shift":
        acc = accuracy_vs_shift(model, x, y, params, axis="y")
    elif kind == "rotation":
        acc = accuracy_vs_transform(model, x, y, rotate, params)
    else:
        acc = accuracy_vs_transform(model, x, y, scale, params)
    return np.asarray(params, dtype=np.float64), acc


# Where a sweep's summary reads the curves: the untouched value and a "small" change.
_SUMMARY_AT = {
    "horizontal shift": (0, 2, "a 2-px right shift"),
    "vertical shift": (0, 2, "a 2-px downward shift"),
    "rotation": (0, 18, "an 18° rotation"),
    "scale": (1.0, 0.8, "shrinking to 80 %"),
}


def sweep_summary(kind: str, accuracies: dict[str, np.ndarray], params: np.ndarray) -> str:
    """State a sweep in words: each model's accuracy untouched and after a small change.

    Examples
    --------
    >>> sweep_summary("horizontal shift", {"MLP": np.array([0.5, 0.9, 0.6])},
    ...               np.array([-2, 0, 2]))
    'After a 2-px right shift the MLP keeps 60.0 % accuracy (90.0 % untouched, -30.0 points).'
    """
    if kind not in _SUMMARY_AT:
        raise TransformError(f"unknown sweep {kind!r}; choose one of {', '.join(_SUMMARY_AT)}")
    base, at, words = _SUMMARY_AT[kind]
    params = np.asarray(params, dtype=np.float64)
    i0, i1 = int(np.abs(params - base).argmin()), int(np.abs(params - at).argmin())
    parts = [
        f"the {name} keeps {acc[i1]:.1%} accuracy ({acc[i0]:.1%} untouched, "
        f"{100 * (acc[i1] - acc[i0]):+.1f} points)"
        for name, acc in accuracies.items()
    ]
    return f"After {words} " + "; ".join(parts).replace("%", " %") + "."


def who_holds(verdicts_: Sequence[Verdict], true_label: int) -> str:
    """Which models still name the true class and which changed their mind, in words.

    Examples
    --------
    >>> v = [Verdict("MLP", 2, 0, 3, 0.6, 0.1), Verdict("CNN", 2, 0, 1, 0.9, 0.9)]
    >>> who_holds(v, 1)
    'Still right: CNN. Changed its mind: MLP.'
    """
    right = [v.model for v in verdicts_ if v.predicted == true_label]
    wrong = [v.model for v in verdicts_ if v.predicted != true_label]
    parts = []
    if right:
        parts.append(f"Still right: {', '.join(right)}.")
    if wrong:
        parts.append(f"Changed {'its' if len(wrong) == 1 else 'their'} mind: {', '.join(wrong)}.")
    return " ".join(parts)


# --- retraining the three models -----------------------------------------------------

# What the lab compares: label -> (zoo model, random shift in pixels during training).
LAB_MODELS: dict[str, tuple[str, int]] = {
    "MLP": ("cookbook_mlp", 0),
    "CNN": ("cookbook_cnn", 0),
    "CNN trained with shifts": ("cookbook_cnn", 3),
}


def retrain(
    n_train: int = 8000,
    epochs: int = 3,
    seed: int = 0,
    on_progress: Callable[[float, str], None] | None = None,
) -> dict[str, object]:
    """Train fresh copies of the lab's three models on the MNIST sample.

    Parameters
    ----------
    n_train : int
        Training images (the first ``n_train`` of the sample's 8,000).
    epochs, seed : int
        Adam 1e-3, batch 128; the same seed for all three.
    on_progress : callable, optional
        Called with ``(fraction done in [0, 1], "MLP: epoch 2/3")`` for a progress bar.

    Returns
    -------
    dict
        Label -> trained ``keras.Model`` (new objects, never the bundled ones).
    """
    from cnnviz import data, models, training  # heavy imports only when retraining

    if not 10 <= n_train <= 8000:
        raise TransformError(f"training images must be 10…8000, got {n_train}")
    ds = data.load_mnist_sample()
    x, y = data.prepare(ds.x_train[:n_train]), ds.y_train[:n_train]  # (N, 28, 28, 1)
    out = {}
    for i, (label, (zoo, px)) in enumerate(LAB_MODELS.items()):
        model = models.build(zoo, (28, 28, 1), 10)
        aug = training.Augmentation(shift=px / 28) if px else None
        config = training.TrainConfig(
            epochs=epochs, augmentation=aug, validation_split=0.0, seed=seed
        )

        def report(p, i=i, label=label) -> None:
            done = (i + (p.epoch - 1 + p.batch / max(p.batches, 1)) / p.epochs) / len(LAB_MODELS)
            if on_progress is not None:
                on_progress(min(1.0, done), f"{label}: epoch {p.epoch}/{p.epochs}")

        training.train(model, x, y, config, on_progress=report)
        out[label] = model
    return out
