"""The translation experiment: does a network still recognise a digit that moved, and why?

The cookbook trains an MLP and a CNN on MNIST, averages every "1", shifts that average a
pixel or two and reads both models' probabilities. Measured over a whole test set the
story is sharper than the book's, and this module measures each step of it:

1. Convolution is **equivariant**: shift the input and the feature map shifts with it,
   value for value, away from the borders (:func:`equivariance`).
2. Pooling adds a little local tolerance; **Flatten + Dense tie every feature to a
   position again**, so a CNN that ends that way is fragile; **global pooling** forgets
   the position altogether (:func:`layer_changes`, :func:`where_position_returns`).
3. Hence accuracy against shift (:func:`accuracy_grid`, one batched forward pass per
   ``(dx, dy)``), summed up in words that stay true for any model (:func:`conclusion`).

Images move with zero fill and no wrap-around (numpy only); the book's own column-copy
code is reproduced by :func:`book_shift`.

>>> import numpy as np
>>> shift(np.arange(9).reshape(3, 3), dx=1, dy=0)
array([[0, 0, 1],
       [0, 3, 4],
       [0, 6, 7]])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnviz import claims


class TransformError(ValueError):
    """An image or a transform parameter cannot be used; the message names the bad value."""


def _fixed(v: float, digits: int = 1) -> str:
    """``v`` to ``digits`` decimals, never ``-0.0``."""
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def _signed(v: float, digits: int = 1) -> str:
    """``+1.00`` / ``-1.00``; a value that rounds to zero is ``0.00`` (no sign)."""
    s = f"{v:+.{digits}f}"
    return s[1:] if float(s) == 0 else s


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
    predicted: int  # argmax: the first of several classes tied at the top
    confidence: float
    p_true: float
    tied: tuple[int, ...] = ()  # every class sharing the top probability, when several do


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
    out = []
    for name, p in zip(models_, probs, strict=True):
        top = tuple(int(k) for k in np.flatnonzero(p == p.max()))
        tied = top if len(top) > 1 else ()
        out.append(Verdict(name, dx, dy, int(p.argmax()), float(p.max()), float(p[label]), tied))
    return out, probs


@claims.claim
def describe_shift(dx: int, dy: int) -> claims.Claim:
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
    text = f"a {', '.join(parts)} shift" if parts else "no shift"
    return claims.Claim(text, dx=int(dx), dy=int(dy))


@claims.claim
def sentence(verdict: Verdict, class_names: Sequence[str], true_label: int) -> claims.Claim:
    """One sentence for the page, e.g. "After a 2-px right shift the MLP says 3 (0.71) …".

    A tie at the top is named as one (with the class argmax takes); "right" means the
    class argmax takes is the true one.
    """
    where = describe_shift(verdict.dx, verdict.dy)
    lead = "With no shift" if where == "no shift" else f"After {where}"
    said = class_names[verdict.predicted]
    right = verdict.predicted == true_label
    if right:
        tail = "— right" if where == "no shift" else "— still right"
    else:
        tail = f"— wrong: P({class_names[true_label]}) is {verdict.p_true:.2f}"
    if verdict.tied:
        names = ", ".join(f"**{class_names[k]}**" for k in verdict.tied[:-1])
        text = (
            f"{lead} the {verdict.model} is torn between {names} and "
            f"**{class_names[verdict.tied[-1]]}** ({verdict.confidence:.2f} each): argmax "
            f"takes the first, **{said}** {tail}"
        )
    else:
        text = f"{lead} the {verdict.model} says **{said}** ({verdict.confidence:.2f}) {tail}"
    return claims.Claim(
        text,
        predicted=verdict.predicted,
        confidence=verdict.confidence,
        right=right,
        tied=verdict.tied,
        p_true=None if right else verdict.p_true,
    )


# --- the book's code, reproduced ----------------------------------------------------

# What the cookbook runs on its 28×28 average "1" (``pic``), and what its text calls it.
BOOK_CODE: dict[str, str] = {
    "left": "for i in range(pic.shape[0]):\n    if i<20:\n        pic[:,i]=pic[:,i+1]",
    "right": (
        "pic2=np.copy(pic)\nfor i in range(pic.shape[0]):\n"
        "    if ((i>6) and (i<26)):\n        pic[:,i]=pic2[:,(i-1)]"
    ),
}
BOOK_CLAIM: dict[str, str] = {"left": "1 px left", "right": "2 px right"}


def book_shift(img: np.ndarray, direction: str) -> np.ndarray:
    """The cookbook's column-copy "shift" of a 28-wide image, exactly as its code does it.

    ``"left"`` copies column ``i + 1`` into column ``i`` for ``i < 20`` (reading each
    column before it is overwritten: a 1-px left move of columns 1…20, column 20 kept);
    ``"right"`` copies column ``i - 1`` of an untouched copy into column ``i`` for
    ``6 < i < 26``: a **1-px** right move of columns 6…24, although the book calls it a
    2-pixel shift. Columns outside those ranges are left as they were.

    Parameters
    ----------
    img : np.ndarray
        ``(H, W)`` or ``(H, W, C)`` with ``W >= 26``.
    direction : {"left", "right"}

    Returns
    -------
    np.ndarray
        A new array, same shape and dtype.

    Examples
    --------
    >>> row = np.arange(28)[None]
    >>> book_shift(row, "right")[0, 5:10]
    array([5, 6, 6, 7, 8])
    """
    a = _check_image(img)
    if a.ndim == 4 or a.shape[1] < 26:
        raise TransformError(f"the book's code needs one image at least 26 wide, got {a.shape}")
    out = a.copy()
    if direction == "left":
        out[:, 0:20] = a[:, 1:21]
    elif direction == "right":
        out[:, 7:26] = a[:, 6:25]
    else:
        raise TransformError(f"direction must be 'left' or 'right', got {direction!r}")
    return out


def ink_centre(img: np.ndarray) -> tuple[float, float]:
    """Centre of mass ``(x, y)`` of an image's ink, in pixels (columns, rows).

    Examples
    --------
    >>> ink_centre(np.array([[0, 0, 2], [0, 0, 2]]))
    (2.0, 0.5)
    """
    a = _check_image(img).astype(np.float64)
    if a.ndim == 4:
        raise TransformError(f"expected one image, got a batch of shape {a.shape}")
    a = a.reshape(a.shape[0], a.shape[1], -1).sum(axis=2)  # (H, W)
    total = a.sum()
    if total <= 0:
        raise TransformError("the image has no ink (all zero): it has no centre")
    ys, xs = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    return float((xs * a).sum() / total), float((ys * a).sum() / total)


def book_images(avg: np.ndarray) -> dict[str, np.ndarray]:
    """The book's experiment: the average image, its two column-copy shifts, a true 2 px.

    Returns
    -------
    dict
        Column title -> ``(H, W, C)`` image, in display order.
    """
    return {
        "no shift": avg,
        "book's “1 px left”": book_shift(avg, "left"),
        "book's “2 px right”": book_shift(avg, "right"),
        "true 2 px right": shift(avg, 2, 0),
    }


@claims.claim
def book_caption(avg: np.ndarray) -> claims.Claim:
    """Say, with the measured ink movement, how far the book's two code shifts really go.

    Examples
    --------
    >>> img = np.zeros((28, 28)); img[5:20, 13:15] = 1.0
    >>> print(book_caption(img))  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    Measured on this image: the book's “1 px left” code moves the ink by -1.00 px and its
    “2 px right” code by +1.00 px — ...
    """
    x0 = ink_centre(avg)[0]

    def move(img: np.ndarray) -> float | None:
        """How far the ink's centre moved, or None when no ink is left in the frame."""
        return ink_centre(img)[0] - x0 if np.asarray(img).sum() > 0 else None

    def by(v: float | None) -> str:
        return "out of the frame altogether" if v is None else f"by {_signed(v, 2)} px"

    left, right = move(book_shift(avg, "left")), move(book_shift(avg, "right"))
    true2 = move(shift(avg, 2, 0))
    text = (
        f"Measured on this image: the book's “{BOOK_CLAIM['left']}” code moves the ink "
        f"{by(left)} and its “{BOOK_CLAIM['right']}” code {by(right)} — its loop copies "
        "column i−1 into column i for 6 < i < 26, a 1-pixel move of columns 6…24. A true "
        f"2-px shift moves it {by(true2)}."
    )
    return claims.Claim(text, left=left, right=right, true_two=true2)


@claims.claim
def book_table(
    models_: Mapping[str, object], images: Mapping[str, np.ndarray], label: int
) -> list[dict[str, str]]:
    """Each model's answer for each image, one batched forward pass per model.

    Returns
    -------
    list of dict
        One row per model: ``{"model": name, column: "✓ 1 · 0.98" or "✗ 3 · 0.44"}``
        (mark, predicted class, its probability). Each cell is a
        :class:`cnnviz.claims.Claim` with facts ``predicted`` (argmax: the first of tied
        classes), ``p``, ``right`` and ``tied``; a tie at the top is marked "(tie)".
    """
    batch = np.concatenate([_as_batch(img) for img in images.values()])  # (len(images), ...)
    rows = []
    for name, model in models_.items():
        probs = predict_proba(model, batch)  # (len(images), classes)
        row = {"model": name}
        for col, p in zip(images, probs, strict=True):
            k = int(p.argmax())
            tied = int((p == p[k]).sum()) > 1
            text = f"{'✓' if k == label else '✗'} {k} · {p[k]:.2f}" + (" (tie)" if tied else "")
            row[col] = claims.Claim(text, predicted=k, p=float(p[k]), right=k == label, tied=tied)
        rows.append(row)
    return rows


# --- 1. convolution is equivariant ----------------------------------------------------


@dataclass(frozen=True)
class Equivariance:
    """One feature map of a digit and of its shifted copy, and how they relate."""

    layer: str
    channel: int
    dx: int
    dy: int
    image: np.ndarray  # (H, W) the digit
    moved: np.ndarray  # (H, W) the digit shifted by (dx, dy)
    fmap: np.ndarray  # (Ho, Wo) the feature map of the digit (Keras)
    fmap_of_moved: np.ndarray  # (Ho, Wo) the feature map of the moved digit (Keras)
    moved_fmap: np.ndarray  # (Ho, Wo) the digit's feature map, shifted by (dx, dy)
    difference: np.ndarray  # fmap_of_moved - moved_fmap
    inside: np.ndarray  # (Ho, Wo) bool: away from the borders, where the two must agree
    max_error: float  # max |difference| inside, Keras (float32)
    numpy_max_error: float  # the same identity computed with cnnviz.conv.conv2d (float64)
    keras_vs_numpy: float  # max |Keras map - conv2d map| over both maps


def first_conv(model) -> tuple[object, object, list]:
    """The model's first ``Conv2D``, which must see the image itself (zero padding aside).

    Returns
    -------
    layer : keras.layers.Conv2D
    output : KerasTensor
        Its output tensor in ``model``'s graph.
    before : list of keras.layers.ZeroPadding2D
        The padding layers between the input and the convolution, in order.

    Raises
    ------
    TransformError
        No convolution (an MLP), other layers before it, or a stride other than 1.
    """
    from cnnviz import scratch  # keras only when a model is involved

    before = []
    for layer, _, out_tensor in scratch.steps(model):
        kind = type(layer).__name__
        if kind == "ZeroPadding2D":
            before.append(layer)
            continue
        if kind != "Conv2D":
            if any(type(x).__name__ == "Conv2D" for x in model.layers):
                raise TransformError(
                    f"the first convolution of {model.name} comes after {layer.name} "
                    f"({kind}), so it does not see the image itself"
                )
            break
        if tuple(layer.get_config()["strides"]) != (1, 1):
            raise TransformError(
                f"{layer.name} moves {layer.get_config()['strides']} pixels per step; the "
                "equivariance demo needs a stride of 1"
            )
        return layer, out_tensor, before
    raise TransformError(f"{model.name} has no convolution layer (it sees pixels, not maps)")


def equivariance(model, img: np.ndarray, dx: int, dy: int, channel: int = 0) -> Equivariance:
    """Feature map of the shifted digit vs the shifted feature map of the digit.

    Convolution slides the same filter everywhere, so moving the input moves the output
    by the same amount: ``conv(shift(x)) == shift(conv(x))`` wherever the filter window
    sees no pixel that the shift pushed out of the frame, and the moved map comes from a
    real output rather than the zero fill. Both sides are computed with the model's real
    first ``Conv2D`` (Keras) and again with :func:`cnnviz.conv.conv2d` (numpy, through
    :func:`cnnviz.scratch.layer_forward`).

    Parameters
    ----------
    model : keras.Model
        Its first layer after the input (and any ``ZeroPadding2D``) is a stride-1
        ``Conv2D`` with any padding and dilation.
    img : np.ndarray
        One image ``(H, W)`` or ``(H, W, C)`` of the model's input size (uint8 or [0, 1]).
    dx, dy : int
        Shift right and down in pixels.
    channel : int
        Which filter's map to return.

    Returns
    -------
    Equivariance
        Maps, their difference, the "inside" mask and the largest errors inside it.
    """
    import keras

    from cnnviz import conv, scratch

    layer, out_tensor, before = first_conv(model)
    x = _as_batch(img)  # (1, H, W, C)
    if x.shape[1:] != tuple(model.input_shape[1:]):
        raise TransformError(f"{model.name} takes {model.input_shape[1:]}, got {x.shape[1:]}")
    n_filters = int(out_tensor.shape[-1])
    if not 0 <= channel < n_filters:
        raise TransformError(f"{layer.name} has filters 0…{n_filters - 1}, got {channel}")
    both = np.concatenate([x, shift(x, dx, dy)])  # (2, H, W, C): the digit, the moved digit
    keras_maps = np.asarray(keras.Model(model.inputs, out_tensor).predict_on_batch(both))
    # The pixels the shift pushes out of the frame, on the canvas the filter slides over.
    lost = 1.0 - shift(shift(np.ones((1, *x.shape[1:3], 1)), dx, dy), -dx, -dy)  # (1, H, W, 1)
    canvas = both.astype(np.float64)
    for pad in before:
        canvas, lost = scratch.layer_forward(pad, canvas), scratch.layer_forward(pad, lost)
    numpy_maps = scratch.layer_forward(layer, canvas)  # (2, Ho, Wo, F) via conv.conv2d
    cfg = layer.get_config()
    reach = conv.conv2d(
        lost[0, ..., 0],
        np.ones(cfg["kernel_size"]),
        padding=cfg["padding"],
        dilation=cfg["dilation_rate"],
    )  # (Ho, Wo): > 0 where the window touches a lost pixel
    # Where the identity must hold: the source window lost nothing and the moved map
    # comes from a real output, not from the shift's zero fill.
    inside = shift((reach == 0).astype(np.float64), dx, dy) > 0.5

    def identity_error(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        moved_map = shift(maps[0], dx, dy)  # (Ho, Wo, F)
        diff = maps[1] - moved_map
        err = float(np.abs(diff[inside]).max()) if inside.any() else 0.0
        return moved_map, diff, err

    moved_map, diff, err = identity_error(keras_maps)
    _, _, numpy_err = identity_error(numpy_maps)
    return Equivariance(
        layer=layer.name,
        channel=int(channel),
        dx=int(dx),
        dy=int(dy),
        image=both[0, ..., 0],
        moved=both[1, ..., 0],
        fmap=keras_maps[0, ..., channel],
        fmap_of_moved=keras_maps[1, ..., channel],
        moved_fmap=moved_map[..., channel],
        difference=diff[..., channel],
        inside=inside,
        max_error=err,
        numpy_max_error=numpy_err,
        keras_vs_numpy=float(np.abs(numpy_maps - keras_maps).max()),
    )


@claims.claim
def describe_equivariance(e: Equivariance, tol: float = 1e-5) -> claims.Claim:
    """The equivariance demo in words, with its measured errors (true whatever they are).

    "equals" only when both the Keras and the numpy identity errors inside the outline
    are at most ``tol``; the cells are counted from ``e.inside``.
    """
    inside = int(e.inside.sum())
    outside = e.difference[~e.inside]
    out_err = float(np.abs(outside).max()) if outside.size else 0.0
    facts = {"inside": inside, "cells": int(e.inside.size), "outside_error": out_err}
    if not inside:
        return claims.Claim(
            "This shift leaves no cell whose filter window stays clear of the borders, so "
            "there is nowhere the two maps must agree.",
            agree=None,
            **facts,
        )
    agree = max(e.max_error, e.numpy_max_error) <= tol
    lead = (
        f"Inside the dashed outline ({inside} of {e.inside.size} cells) the map of the moved "
        f"digit {'equals' if agree else 'differs from'} the moved map: largest |difference| "
        f"{e.max_error:.1e} with Keras's `{e.layer}`, {e.numpy_max_error:.1e} with "
        f"`cnnviz.conv.conv2d` (which matches Keras to {e.keras_vs_numpy:.1e})."
    )
    if out_err > tol:
        text = (
            f"{lead} Outside it the filter read pixels that left the frame, or the moved "
            f"map is only the shift's zero fill: differences up to {out_err:.2g}."
        )
    else:
        text = f"{lead} Outside it they happen to agree too (up to {out_err:.1e})."
    return claims.Claim(text, agree=agree, tol=tol, **facts)


# --- 2. where the position comes back, layer by layer -----------------------------------


@dataclass(frozen=True)
class LayerChange:
    """How much one layer's output changes when the input moves.

    ``plain`` compares the two outputs position by position (what Flatten and Dense do);
    ``aligned`` first moves the unshifted map by the same shift, counted in this layer's
    cells (``stride`` input pixels per cell), and compares where both maps exist. Flat
    outputs have no positions, so only ``plain`` is defined.
    """

    layer: str
    kind: str
    stride: int | None  # input pixels per cell; None for flat outputs (no positions)
    plain: float
    aligned: float | None
    exact: bool  # the shift is a whole number of cells: the alignment is exact

    @property
    def change(self) -> float:
        """What the model downstream can notice: aligned for maps, plain for vectors."""
        return self.plain if self.aligned is None else self.aligned


def relative_change(before: np.ndarray, after: np.ndarray) -> float:
    """``‖after − before‖ / ‖before‖`` over all values: 0 = unchanged, 1 = as big as the signal.

    Examples
    --------
    >>> relative_change(np.array([3.0, 4.0]), np.array([3.0, 4.0]))
    0.0
    >>> relative_change(np.array([3.0, 4.0]), np.array([0.0, 0.0]))
    1.0
    """
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    num, den = float(np.linalg.norm(after - before)), float(np.linalg.norm(before))
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return num / den


def _aligned_change(before: np.ndarray, after: np.ndarray, ox: int, oy: int) -> float:
    """Relative change of ``after`` vs ``before`` moved by ``(ox, oy)`` cells, on the overlap.

    ``before`` and ``after`` are ``(N, H, W, C)``; cells that only one of them has (the
    strip the shift uncovered) are left out rather than zero-filled.
    """
    _, h, w, _ = before.shape
    if abs(ox) >= w or abs(oy) >= h:
        return relative_change(before, after)  # nothing overlaps: it is all new
    a = after[:, max(oy, 0) : h + min(oy, 0), max(ox, 0) : w + min(ox, 0)]
    b = before[:, max(-oy, 0) : h - max(oy, 0), max(-ox, 0) : w - max(ox, 0)]
    return relative_change(b, a)


def _strides(layer) -> tuple[int, int]:
    """How many cells of its input one step of a Conv2D/pooling layer moves: ``(sy, sx)``."""
    cfg = layer.get_config()
    kind = type(layer).__name__
    if kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        return tuple(int(s) for s in cfg["strides"])
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        st = cfg.get("strides") or cfg["pool_size"]
        return tuple(int(s) for s in st)
    return (1, 1)


def layer_changes(model, x: np.ndarray, dx: int, dy: int) -> list[LayerChange]:
    """For a shift of ``(dx, dy)``, how much every layer's output changes (batch-wide).

    Parameters
    ----------
    model : keras.Model
        A chain of single-input layers (every zoo and custom model).
    x : np.ndarray
        ``(N, H, W, C)`` images (uint8 or [0, 1]); more images give steadier numbers.
    dx, dy : int
        Pixels right and down.

    Returns
    -------
    list of LayerChange
        The input image first (named ``"image"``), then every layer but the ones that do
        nothing at inference (Dropout and friends). A map is aligned by ``dx / stride``
        cells; when that is not a whole number, by the nearest whole numbers of cells that
        fit best (``exact`` is then ``False``).
    """
    from cnnviz import scratch

    xb = _as_batch(x)
    if xb.shape[1:] != tuple(model.input_shape[1:]):
        raise TransformError(f"{model.name} takes {model.input_shape[1:]}, got {xb.shape[1:]}")
    both = scratch.keras_outputs(model, np.concatenate([xb, shift(xb, dx, dy)]))
    n = len(xb)
    rows = [_change("image", "InputLayer", xb, shift(xb, dx, dy), (1, 1), dx, dy)]
    stride_of = {id(model.inputs[0]): (1, 1)}
    for (layer, in_t, out_t), (_, out) in zip(scratch.steps(model), both, strict=True):
        sy, sx = _strides(layer)
        iy, ix = stride_of.get(id(in_t), (1, 1))
        stride_of[id(out_t)] = (iy * sy, ix * sx)
        kind = type(layer).__name__
        if kind in scratch.INFERENCE_IDENTITY:
            continue
        rows.append(_change(layer.name, kind, out[:n], out[n:], stride_of[id(out_t)], dx, dy))
    return rows


def _change(name, kind, before, after, stride, dx, dy) -> LayerChange:
    """One row of :func:`layer_changes`: ``before``/``after`` are the layer's outputs."""
    plain = relative_change(before, after)
    if before.ndim != 4:  # (N, features): no positions to align
        return LayerChange(name, kind, None, plain, None, False)
    sy, sx = stride
    oy, ox = dy / sy, dx / sx
    exact = float(oy).is_integer() and float(ox).is_integer()
    # A shift of half a cell has no exact alignment: take the whole-cell move that fits best.
    aligned = min(
        _aligned_change(before, after, int(cx), int(cy))
        for cy in {np.floor(oy), np.ceil(oy)}
        for cx in {np.floor(ox), np.ceil(ox)}
    )
    return LayerChange(name, kind, int(max(sy, sx)), plain, aligned, exact)


def _pct0(v: float) -> str:
    """A relative change in whole per cent; an infinite one (from all zeros) in words."""
    if np.isinf(v):
        return "from nothing (all zeros before the shift) to something"
    return f"{_fixed(100 * v, 0)} %"


CHANGE_DEFINITION = (
    "change = ‖after − before‖ / ‖before‖, the size of the difference as a percentage of "
    "the size of the unshifted output"
)


@claims.claim
def where_position_returns(
    model_name: str, changes: Sequence[LayerChange], tol: float = 0.2
) -> claims.Claim:
    """In words: which maps only move with the digit, and what the first flat layer does.

    A map "only moves" when, moved back by the shift, it changes by at most ``tol``
    (relative L2, :func:`relative_change`: 0.2 = 20 %). Every number in the sentence is
    one of ``changes``. When one is above 100 % the sentence says what that means.

    Examples
    --------
    >>> rows = [LayerChange("image", "InputLayer", 1, 1.2, 0.0, True),
    ...         LayerChange("flatten", "Flatten", None, 1.2, None, False),
    ...         LayerChange("output", "Dense", None, 0.9, None, False)]
    >>> print(where_position_returns("MLP", rows))  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
    The MLP has no convolution: its first layer `flatten` sees the image pixel by pixel and
    changes by 120 %; the output (the probabilities) changes by 90 %. (Change = ‖after − before‖
    / ‖before‖, ... above 100 % ...)
    """
    layers_ = [c for c in changes if c.kind != "InputLayer"]
    if not layers_:
        raise TransformError("no layers to describe")
    maps = [c for c in layers_ if c.aligned is not None]
    flat = next((c for c in layers_ if c.aligned is None), None)
    out = layers_[-1]
    parts = []
    stated: dict[str, float] = {}  # layer -> the change the sentence states for it
    steady: list[LayerChange] = []
    jump = None
    if not maps:
        stated[layers_[0].layer] = layers_[0].plain
        parts.append(
            f"The {model_name} has no convolution: its first layer `{layers_[0].layer}` sees "
            f"the image pixel by pixel and changes by {_pct0(layers_[0].plain)}"
        )
    else:
        jump = next((c for c in maps if not c.change <= tol), None)  # NaN counts as a jump
        steady = maps[: maps.index(jump)] if jump is not None else maps
        if steady:
            if len(steady) == 1:
                span = (
                    f"the map `{steady[0].layer}` only moves with the digit: moved back by the "
                    "shift it"
                )
            else:
                span = (
                    f"the maps `{steady[0].layer}` … `{steady[-1].layer}` only move with the "
                    "digit: moved back by the shift they"
                )
            most = max(c.change for c in steady)
            parts.append(
                f"In the {model_name} {span} change{'s' * (len(steady) == 1)} by at most "
                f"{_pct0(most)}"
            )
        if jump is not None:
            stated[jump.layer] = jump.change
            lead = "" if steady else f"In the {model_name} "
            parts.append(
                f"{lead}`{jump.layer}` changes by {_pct0(jump.change)} even moved back by the shift"
                if jump.exact
                else f"{lead}`{jump.layer}` cannot follow a shift that is not a whole number of "
                f"its {jump.stride}-px cells: moved back as well as it can be, it changes by "
                f"{_pct0(jump.change)}"
            )
        if flat is not None and flat is not out:
            stated[flat.layer] = flat.plain
            what = {
                "Flatten": ", which lines the map up position by position",
                "GlobalMaxPooling2D": ", which keeps no positions",
                "GlobalAveragePooling2D": ", which keeps no positions",
            }.get(flat.kind, "")
            parts.append(f"`{flat.layer}` ({flat.kind}{what}) changes by {_pct0(flat.plain)}")
    parts.append(f"the output (the probabilities) changes by {_pct0(out.plain)}")
    text = "; ".join(parts) + "."
    shown = [*stated.values(), out.plain] + ([max(c.change for c in steady)] if steady else [])
    over = any(v > 1 for v in shown)  # inf and > 100 % alike
    if over:
        text += (
            f" ({CHANGE_DEFINITION[0].upper()}{CHANGE_DEFINITION[1:]}: above 100 % the "
            "shifted output differs from the unshifted one by more than the unshifted "
            "output's own size, as two same-sized copies that no longer overlap do — they "
            "differ by 141 %.)"
        )
    return claims.Claim(
        text,
        steady=[c.layer for c in steady],
        steady_most=max((c.change for c in steady), default=None),
        jump=None if jump is None else jump.layer,
        stated=stated,
        output=out.plain,
        tol=tol,
        explains_over_100=over,
    )


# --- 3. accuracy against shift ------------------------------------------------------------

SHIFTS: tuple[int, ...] = tuple(range(-4, 5))  # pixels: MNIST digits keep ~4 px of margin


def check_digit_model(model, input_shape=(28, 28, 1), num_classes: int = 10) -> None:
    """Raise :class:`TransformError` unless ``model`` reads MNIST-sized digits into 10 classes.

    The lab measures every model on the MNIST sample's test digits; a model trained on
    other images (sign language, CIFAR-10) cannot be scored on them.
    """
    got_in = tuple(model.input_shape[1:])
    got_out = model.output_shape[-1]
    if got_in != tuple(input_shape):
        raise TransformError(
            f"{model.name} takes images of shape {got_in}; the lab's digits are "
            f"{tuple(input_shape)}"
        )
    if got_out != num_classes:
        raise TransformError(
            f"{model.name} has {got_out} output classes; the lab's digits need {num_classes}"
        )


def accuracy_grid(
    model,
    x: np.ndarray,
    y: np.ndarray,
    shifts: Sequence[int] = SHIFTS,
    on_progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """Accuracy with every image moved by each ``(dx, dy)`` of ``shifts × shifts``.

    Parameters
    ----------
    model : keras.Model
        Softmax classifier taking ``x``'s image shape.
    x : np.ndarray
        ``(N, H, W, C)`` images (uint8 or [0, 1]).
    y : np.ndarray
        ``(N,)`` class indices.
    shifts : sequence of int
        Pixels, used for both ``dx`` (right) and ``dy`` (down).
    on_progress : callable, optional
        Called with ``(fraction done, "dx = 2, dy = -1")`` after each cell.

    Returns
    -------
    np.ndarray
        ``(len(shifts), len(shifts))``: row ``i`` is ``dy = shifts[i]``, column ``j`` is
        ``dx = shifts[j]``. One batched forward pass per cell.
    """
    xb = _as_batch(x)  # (N, H, W, C) float32
    y = np.asarray(y)
    if len(xb) != len(y) or not len(y):
        raise TransformError(f"got {len(xb)} images but {len(y)} labels")
    if tuple(model.input_shape[1:]) != xb.shape[1:]:
        raise TransformError(
            f"{model.name} takes images of shape {tuple(model.input_shape[1:])}; "
            f"these are {xb.shape[1:]}"
        )
    shifts = [int(s) for s in shifts]
    grid = np.zeros((len(shifts), len(shifts)))
    cells = [(i, j) for i in range(len(shifts)) for j in range(len(shifts))]
    for k, (i, j) in enumerate(cells, start=1):
        grid[i, j] = _accuracy(model, shift(xb, shifts[j], shifts[i]), y)
        if on_progress is not None:
            on_progress(k / len(cells), f"dx = {shifts[j]:+d}, dy = {shifts[i]:+d}")
    return grid


@dataclass(frozen=True)
class ShiftSummary:
    """What one model's accuracy grid says (all accuracies in [0, 1])."""

    name: str
    shifts: tuple[int, ...]
    grid: np.ndarray  # (len(shifts), len(shifts)): rows dy, columns dx
    n_images: int
    num_classes: int = 10

    @property
    def _zero(self) -> int:
        return self.shifts.index(0)

    @property
    def base(self) -> float:
        """Accuracy unshifted."""
        return float(self.grid[self._zero, self._zero])

    @property
    def horizontal(self) -> np.ndarray:
        """Accuracy against ``dx`` (``dy = 0``)."""
        return self.grid[self._zero]

    @property
    def vertical(self) -> np.ndarray:
        """Accuracy against ``dy`` (``dx = 0``)."""
        return self.grid[:, self._zero]

    @property
    def worst(self) -> tuple[float, int, int]:
        """Lowest accuracy over the horizontal and vertical shifts, and its ``(dx, dy)``."""
        jx, iy = int(self.horizontal.argmin()), int(self.vertical.argmin())
        if self.horizontal[jx] <= self.vertical[iy]:
            return float(self.horizontal[jx]), self.shifts[jx], 0
        return float(self.vertical[iy]), 0, self.shifts[iy]

    @property
    def worst_2d(self) -> tuple[float, int, int]:
        """Lowest accuracy anywhere on the grid (diagonal moves too), and its ``(dx, dy)``."""
        i, j = np.unravel_index(int(self.grid.argmin()), self.grid.shape)
        return float(self.grid[i, j]), self.shifts[j], self.shifts[i]


def summarize(
    name: str,
    grid: np.ndarray,
    shifts: Sequence[int] = SHIFTS,
    n_images: int = 0,
    num_classes: int = 10,
) -> ShiftSummary:
    """Check a grid from :func:`accuracy_grid` (or the asset) and wrap it for reading."""
    shifts = tuple(int(s) for s in shifts)
    grid = np.asarray(grid, dtype=np.float64)
    if 0 not in shifts:
        raise TransformError(f"the shifts must include 0 (no shift), got {shifts}")
    if grid.shape != (len(shifts), len(shifts)) or not np.isfinite(grid).all():
        raise TransformError(
            f"expected a finite {len(shifts)}×{len(shifts)} grid of accuracies, got {grid.shape}"
        )
    if grid.min() < 0 or grid.max() > 1:
        raise TransformError("accuracies must lie in [0, 1]")
    return ShiftSummary(name, shifts, grid, int(n_images), int(num_classes))


# Thresholds of the generated sentences, in accuracy (0.02 = 2 points).
KEEPS = 0.02  # a drop this small is "keeps its accuracy"
CHANCE_MARGIN = 0.05  # within this of chance unshifted: the model has not learned the task


def _where(dx: int, dy: int) -> str:
    """``"4 px left"``, ``"2 px down"``, ``"4 px right, 4 px up"`` or ``"no shift"``."""
    parts = [f"{abs(dx)} px {'right' if dx > 0 else 'left'}"] if dx else []
    parts += [f"{abs(dy)} px {'down' if dy > 0 else 'up'}"] if dy else []
    return ", ".join(parts) or "no shift"


def _pct(v: float) -> str:
    return f"{_fixed(100 * v, 1)} %"


def _shown(v: float) -> float:
    """An accuracy as the page shows it: per cent, one decimal."""
    return float(_fixed(100 * v, 1))


def _points_between(a: float, b: float) -> str:
    """``a − b`` in signed points, computed from the two values *as shown* (one decimal),
    so a reader subtracting the shown percentages gets the shown difference."""
    return f"{_signed(_shown(a) - _shown(b), 1)} points"


def is_chance_level(s: ShiftSummary) -> bool:
    """Unshifted accuracy within :data:`CHANCE_MARGIN` of guessing (1 / classes)."""
    return s.base <= 1 / s.num_classes + CHANCE_MARGIN


@claims.claim
def describe_shifts(s: ShiftSummary) -> claims.Claim:
    """One model's accuracy against shift in one or two sentences that are true for any grid.

    Cases (``facts["verdict"]``): ``"chance"`` at chance level unshifted (then the sweep
    says nothing about invariance); ``"keeps"`` (worst drop ≤ :data:`KEEPS`);
    ``"collapses"`` (loses at least half of what it had above chance); otherwise
    ``"loses"`` some points. The dx × dy worst follows. Differences in points are
    computed from the percentages as shown.
    """
    chance = 1 / s.num_classes
    few = f" (on only {s.n_images} test images)" if 0 < s.n_images < 200 else ""
    if is_chance_level(s):
        return claims.Claim(
            f"**{s.name}** is at chance level even unshifted ({_pct(s.base)} right; guessing "
            f"gives {_pct(chance)}){few}: there is nothing for a shift to break, so its "
            "curve says nothing about invariance.",
            verdict="chance",
            base=s.base,
            chance=chance,
        )
    worst, dx, dy = s.worst
    w2, dx2, dy2 = s.worst_2d
    reach = max(abs(v) for v in s.shifts)
    if s.base - worst <= KEEPS:
        kind = "keeps"
        verdict = (
            f"**{s.name}** keeps its accuracy: {_pct(s.base)} unshifted and never below "
            f"{_pct(worst)} for horizontal or vertical shifts up to {reach} px"
        )
    elif worst - chance <= (s.base - chance) / 2:
        kind = "collapses"
        verdict = (
            f"**{s.name}** collapses: from {_pct(s.base)} unshifted to {_pct(worst)} at "
            f"{_where(dx, dy)} (guessing gives {_pct(chance)})"
        )
    else:
        kind = "loses"
        lost = _points_between(s.base, worst).lstrip("+")
        verdict = (
            f"**{s.name}** loses {lost}: {_pct(s.base)} unshifted, {_pct(worst)} at "
            f"{_where(dx, dy)}"
        )
    if w2 < worst and _pct(w2) != _pct(worst):
        diag = f"Moved diagonally as well, its worst is {_pct(w2)} ({_where(dx2, dy2)})."
    elif w2 < worst:
        diag = f"Moved diagonally as well, its worst is also {_pct(w2)} ({_where(dx2, dy2)})."
    else:
        diag = "No diagonal move does worse."
    return claims.Claim(
        f"{verdict}{few}. {diag}",
        verdict=kind,
        base=s.base,
        worst=worst,
        worst_at=(dx, dy),
        worst_2d=w2 if w2 < worst else None,
        chance=chance,
        few=bool(few),
    )


@claims.claim
def compare_worst(summaries: Sequence[ShiftSummary]) -> claims.Claim:
    """Which models hold up best and worst under shift (ties named as ties).

    Chance-level models are left out: they are not tolerant, only bad. Worst
    accuracies are compared as shown, to 0.1 %. Empty when fewer than two remain.
    """
    ranked = [s for s in summaries if not is_chance_level(s)]
    if len(ranked) < 2:
        return claims.Claim("", ranked=[s.name for s in ranked], best=[], least=[])
    shown = {s.name: _shown(s.worst[0]) for s in ranked}
    hi, lo = max(shown.values()), min(shown.values())
    best = [n for n, w in shown.items() if w == hi]
    least = [n for n, w in shown.items() if w == lo]
    facts = {"ranked": list(shown), "best": best, "least": least, "hi": hi, "lo": lo}
    if hi == lo:
        return claims.Claim(
            f"All {len(ranked)} models have the same worst accuracy, {hi:.1f} %.", **facts
        )

    def names(who: list[str]) -> str:
        bold = [f"**{n}**" for n in who]
        return bold[0] if len(bold) == 1 else ", ".join(bold[:-1]) + " and " + bold[-1]

    def tie(who: list[str]) -> str:
        return " (a tie)" if len(who) > 1 else ""

    return claims.Claim(
        f"Most tolerant of shifts: {names(best)}{tie(best)}, never below {hi:.1f} %. "
        f"Least: {names(least)}{tie(least)}, down to {lo:.1f} %.",
        **facts,
    )


@claims.claim
def worst_metric(s: ShiftSummary) -> claims.Claim:
    """Section 4's metric of one model: its worst accuracy over horizontal and vertical
    shifts (the text) and, as ``facts["delta"]``, the change from unshifted in points."""
    worst, dx, dy = s.worst
    delta = f"{_points_between(worst, s.base)} from {_pct(s.base)} unshifted"
    return claims.Claim(_pct(worst), worst=worst, base=s.base, at=(dx, dy), delta=delta)


def conclusion(summaries: Sequence[ShiftSummary]) -> list[str]:
    """The lab's conclusion: one paragraph per model, then the comparison (if any)."""
    if not summaries:
        raise TransformError("no models to conclude about")
    out = [describe_shifts(s) for s in summaries]
    if cmp := compare_worst(summaries):
        out.append(cmp)
    return out


# --- the precomputed sweeps of the bundled models ------------------------------------------

SWEEPS_FILE = Path(__file__).resolve().parent.parent / "assets" / "translation_sweeps.json"


def weights_digest(model) -> str:
    """SHA-256 of a model's weights: ties precomputed numbers to the exact weights they came
    from (a rebuild that reproduces the same weights keeps it; any retraining changes it)."""
    h = hashlib.sha256()
    for w in model.get_weights():
        a = np.ascontiguousarray(w)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_sweeps(
    entries: Mapping[str, Mapping], settings: Mapping, path: str | Path = SWEEPS_FILE
) -> Path:
    """Write ``{"settings": …, "models": {name: entry}}`` (entries from :func:`sweep_entry`)."""
    path = Path(path)
    blob = {"settings": dict(settings), "models": {k: dict(v) for k, v in entries.items()}}
    path.write_text(json.dumps(blob, indent=1) + "\n")
    return path


def load_sweeps(path: str | Path = SWEEPS_FILE) -> tuple[dict, dict] | None:
    """``(settings, models)`` from :func:`save_sweeps`, or ``None`` when missing/unreadable."""
    path = Path(path)
    try:
        blob = json.loads(path.read_text())
        return dict(blob["settings"]), dict(blob["models"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sweep_entry(grid: np.ndarray, shifts: Sequence[int], n_images: int, digest: str) -> dict:
    """One model's record for :func:`save_sweeps` (1-D curves are the grid's middle lines)."""
    s = summarize("", grid, shifts, n_images)
    return {
        "shifts": list(s.shifts),
        "grid": np.round(s.grid, 6).tolist(),
        "horizontal": np.round(s.horizontal, 6).tolist(),
        "vertical": np.round(s.vertical, 6).tolist(),
        "n_images": int(n_images),
        "weights_sha256": digest,
    }


# --- beyond shifts: rotation and zoom --------------------------------------------------

# kind -> (parameter values, axis label).
SWEEPS: dict[str, tuple[tuple[float, ...], str]] = {
    "rotation": (tuple(range(-45, 46, 9)), "rotation anticlockwise (degrees)"),
    "scale": ((0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4), "zoom factor"),
}


def sweep(model, x: np.ndarray, y: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of ``model`` over one of :data:`SWEEPS`.

    Returns
    -------
    params : np.ndarray
        The parameter values.
    accuracy : np.ndarray
        Accuracy at each value (one batched forward pass each).
    """
    if kind not in SWEEPS:
        raise TransformError(f"unknown sweep {kind!r}; choose one of {', '.join(SWEEPS)}")
    params = SWEEPS[kind][0]
    acc = accuracy_vs_transform(model, x, y, rotate if kind == "rotation" else scale, params)
    return np.asarray(params, dtype=np.float64), acc


# Where a sweep's summary reads the curves: the untouched value and a "small" change.
_SUMMARY_AT = {"rotation": (0, 18, "an 18° rotation"), "scale": (1.0, 0.8, "shrinking to 80 %")}


@claims.claim
def sweep_summary(
    kind: str,
    accuracies: Mapping[str, np.ndarray],
    params: np.ndarray,
    n_images: int,
    reference: Mapping[str, float] | None = None,
    reference_images: int | None = None,
) -> claims.Claim:
    """State a sweep in words: its sample, each model's accuracy untouched and after a
    small change, and how the untouched accuracy relates to the page's other figure.

    Parameters
    ----------
    kind : {"rotation", "scale"}
    accuracies : mapping
        Model name -> accuracy at each of ``params``.
    params : np.ndarray
        The sweep's parameter values (they must include the untouched one).
    n_images : int
        How many test images the sweep used (the first ``n_images``).
    reference : mapping, optional
        Model name -> its unshifted accuracy elsewhere on the page (section 4).
    reference_images : int, optional
        How many images ``reference`` was measured on.

    Examples
    --------
    >>> print(sweep_summary("rotation", {"MLP": np.array([0.5, 0.9, 0.6])},
    ...                     np.array([-18, 0, 18]), 500))  # doctest: +NORMALIZE_WHITESPACE
    On the first 500 test images: after an 18° rotation the MLP keeps 60.0 % accuracy
    (90.0 % untouched, -30.0 points).
    """
    if kind not in _SUMMARY_AT:
        raise TransformError(f"unknown sweep {kind!r}; choose one of {', '.join(_SUMMARY_AT)}")
    base, at, words = _SUMMARY_AT[kind]
    params = np.asarray(params, dtype=np.float64)
    if not np.any(params == base) or not np.any(params == at):
        raise TransformError(f"the {kind} sweep must include {base} and {at}, got {params}")
    i0, i1 = int(np.flatnonzero(params == base)[0]), int(np.flatnonzero(params == at)[0])
    parts = []
    differs = {}
    for name, acc in accuracies.items():
        part = (
            f"the {name} keeps {_pct(acc[i1])} accuracy ({_pct(acc[i0])} untouched, "
            f"{_points_between(acc[i1], acc[i0])})"
        )
        parts.append(part)
        if reference is not None and name in reference:
            differs[name] = _pct(reference[name]) != _pct(acc[i0])
    sample = f"On the first {n_images:,} test images"
    text = f"{sample}: after {words} " + "; ".join(parts) + "."
    if reference is not None and differs:
        if not any(differs.values()):
            same = "the same images" if reference_images == n_images else "more images"
            text += f" Untouched, they match section 4's unshifted accuracies (on {same})."
        else:
            refs = ", ".join(f"{_pct(reference[k])} for the {k}" for k, d in differs.items() if d)
            if reference_images is not None and reference_images != n_images:
                text += (
                    f" Untouched accuracies differ from section 4's ({refs}) because section "
                    f"4 measures all {reference_images:,} test images: a different sample, "
                    "not a different model."
                )
            else:
                text += f" Untouched accuracies differ from section 4's ({refs})."
    return claims.Claim(
        text,
        kind=kind,
        n_images=n_images,
        untouched={k: float(a[i0]) for k, a in accuracies.items()},
        changed={k: float(a[i1]) for k, a in accuracies.items()},
        differs=differs,
    )
