"""Convolution arithmetic in numpy: output sizes, ``conv2d`` and a step-by-step trace.

Everything here is the exact cross-correlation that ``keras.layers.Conv2D`` and
``tf.nn.conv2d`` compute (channels last), including TensorFlow's ``"same"`` rule that
puts the odd extra padding row/column at the bottom/right. No Python loop runs over
output pixels: windows come from :func:`numpy.lib.stride_tricks.sliding_window_view`
and are contracted with the kernel by :func:`numpy.einsum`.

>>> import numpy as np
>>> x = np.arange(1, 17).reshape(4, 4)
>>> conv2d(x, np.array([[1, 2], [3, 4]]))
array([[ 44.,  54.,  64.],
       [ 84.,  94., 104.],
       [124., 134., 144.]])
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnviz import claims
from cnnviz.claims import Claim

__all__ = [
    "KERNELS",
    "PRESETS",
    "RGB_EXAMPLE",
    "BadCellError",
    "ConvError",
    "ConvStep",
    "Coverage",
    "as_matrix",
    "bad_cells_sentence",
    "channel_names",
    "compare_paddings",
    "conv2d",
    "conv_steps",
    "conv_trace",
    "coverage",
    "coverage_sentence",
    "describe_kernel",
    "fill_bad_cells",
    "format_number",
    "frame_sentence",
    "keras_refusal",
    "keras_sizes_sentence",
    "output_size",
    "output_size_working",
    "pad_amounts",
    "padding_frame",
    "padding_words",
    "plural",
    "reached",
    "read_image",
    "relu",
    "relu_expression",
    "settings_sentence",
    "settings_verdict",
    "stride_example",
]


class ConvError(ValueError):
    """A bad argument to a convolution (the message names the bad value)."""


class BadCellError(ConvError):
    """Cells of a matrix a learner typed that are not plain numbers.

    Attributes
    ----------
    name : str
        What the learner calls the matrix ("input", "kernel").
    cells : tuple of ((int, int), object)
        Each bad cell's 0-based position (row, col) and what it holds, in reading order.
    partial : numpy.ndarray
        The matrix with every good cell read and NaN in each bad one.
    """

    def __init__(self, message: str, name: str, cells, partial: np.ndarray):
        super().__init__(message)
        self.name = name
        self.cells = tuple(cells)
        self.partial = partial


# Classic 3×3 image kernels (cross-correlation orientation, as Conv2D applies them).
KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
    "sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=float),
}

# Matrix presets for the Convolution page: name -> (input, kernel). The first two are the
# textbook examples (the binary one is the classic 5×5 image with an "X" filter).
PRESETS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "Textbook: 4×4 matrix 1..16, kernel [[1, 2], [3, 4]]": (
        np.arange(1, 17, dtype=float).reshape(4, 4),
        np.array([[1.0, 2.0], [3.0, 4.0]]),
    ),
    "Textbook: 5×5 binary image, 3×3 binary filter": (
        np.array(
            [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
            dtype=float,
        ),
        np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=float),
    ),
    "Vertical edge 6×6, Sobel x": (
        np.repeat([[0, 0, 0, 9, 9, 9]], 6, axis=0).astype(float),
        np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    ),
    "Blank 5×5, 3×3 (fill in your own)": (np.zeros((5, 5)), np.zeros((3, 3))),
}

# RGB mode: a 5×5×3 input (a red square on a blue background) and one 3×3×3 filter that
# likes red and dislikes blue, so the output is high where the red square is.
RGB_EXAMPLE: tuple[np.ndarray, np.ndarray] = (
    np.stack(
        [
            np.pad(np.ones((3, 3)), 1),  # red channel: a 3×3 square in the middle
            np.zeros((5, 5)),  # green: nothing
            1 - np.pad(np.ones((3, 3)), 1),  # blue: the background
        ],
        axis=-1,
    ),
    np.stack([np.ones((3, 3)), np.zeros((3, 3)), -np.ones((3, 3))], axis=-1),  # (3, 3, 3)
)


# ----------------------------------------------------------------------------- validation
def _pair(value: object, name: str) -> tuple[int, int]:
    """An int or a pair of ints, each >= 1, as a ``(rows, cols)`` pair."""
    items = value if isinstance(value, tuple | list) else (value, value)
    if len(items) != 2:
        raise ConvError(f"{name} must be an int or a pair of ints, got {value!r}.")
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise ConvError(f"{name} must be a whole number, got {item!r}.")
        if item < 1:
            raise ConvError(f"{name} must be >= 1, got {item!r}.")
        out.append(int(item))
    return out[0], out[1]


def _check_padding(padding: object) -> str | int:
    """``"valid"``, ``"same"`` (any case) or an int >= 0."""
    if isinstance(padding, str):
        low = padding.lower()
        if low in ("valid", "same"):
            return low
        raise ConvError(f"padding must be 'valid', 'same' or an int >= 0, got {padding!r}.")
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral):
        raise ConvError(f"padding must be 'valid', 'same' or an int >= 0, got {padding!r}.")
    if padding < 0:
        raise ConvError(f"padding must be >= 0, got {padding!r}.")
    return int(padding)


# A number as a learner types it in a matrix cell: optional sign, digits, optional decimals.
# No thousands separators, no decimal comma, no exponent: "2,5" or "1e3" is refused with a
# hint instead of being read as 25 or 13 (what a numeric grid editor would silently do).
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _cell_number(cell: object) -> float | None:
    """The float a cell holds, or None when it is empty, not a plain number or not finite."""
    if isinstance(cell, bool) or cell is None:
        return None
    if isinstance(cell, numbers.Real):
        value = float(cell)
    elif isinstance(cell, str) and _PLAIN_NUMBER.fullmatch(cell.strip().replace("−", "-")):
        value = float(cell.strip().replace("−", "-"))
    else:
        return None
    return value if np.isfinite(value) else None


def _bad_cell_hint(cell: object) -> str:
    """What the learner probably meant, for the error message ("" when nothing to add)."""
    if not isinstance(cell, str):
        return ""
    text = cell.strip()
    if re.fullmatch(r"[+-]?\d+,\d+", text):
        return f" (write decimals with a dot: {text.replace(',', '.')})"
    if re.fullmatch(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+", text):
        return f" (write the number in full: {format_number(float(text))})"
    return ""


def as_matrix(values: object, name: str = "matrix") -> np.ndarray:
    """Convert numbers (nested lists, an array, a DataFrame) to a float64 array.

    Text cells (what a learner types in a grid) must be plain decimal numbers: ``"2"``,
    ``"-1"``, ``"0.5"``. ``"2,5"``, ``"1e3"``, ``"abc"`` and empty cells are refused.

    Parameters
    ----------
    values : array_like
        Anything ``numpy.asarray`` understands; a pandas DataFrame from ``st.data_editor``
        works too.
    name : str
        What the learner calls it, used in the error message.

    Returns
    -------
    numpy.ndarray
        float64, same shape.

    Raises
    ------
    BadCellError
        If cells are empty, not plain numbers, or not finite; the message names every such
        cell by its 0-based (row, col), as the figures and the output cells are numbered.
    ConvError
        If there is nothing to read.

    Examples
    --------
    >>> as_matrix([["1", 2], [3, "-4.5"]])
    array([[ 1. ,  2. ],
           [ 3. , -4.5]])
    >>> try:
    ...     as_matrix([["1", "2,5"]], "kernel")
    ... except ConvError as exc:
    ...     print(str(exc)[-57:])
    cell (0, 1) holds '2,5' (write decimals with a dot: 2.5).
    """
    values = getattr(values, "values", values)
    if isinstance(values, list | tuple):
        # Nested lists keep each cell as typed (np.asarray would turn True into 1.0, or
        # every cell into text when one is text).
        raw = np.asarray(values, dtype=object)
    else:
        raw = np.asarray(values)
    if raw.dtype == object and raw.size:
        cells = raw.ravel()
        if all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in cells):
            raw = raw.astype(np.float64)
    if raw.dtype.kind in "biuf" and raw.size:
        # Already numbers (an image, a kernel): no per-cell work, only the finiteness check.
        out = np.array(raw, dtype=np.float64)  # a copy: callers may change it in place
        if np.all(np.isfinite(out)):
            return out
    if raw.size == 0:
        raise ConvError(f"The {name} is empty.")
    raw = np.asarray(raw, dtype=object)
    flat = raw.ravel()
    out = np.empty(flat.size)
    bad = []
    for i, cell in enumerate(flat):
        value = _cell_number(cell)
        if value is None:
            where = tuple(int(p) for p in np.unravel_index(i, raw.shape))
            bad.append((where, cell))
            value = np.nan
        out[i] = value
    out = out.reshape(raw.shape)
    if bad:
        said = _and([f"cell {_where(p)} holds {_shown(c)}" for p, c in bad])
        raise BadCellError(
            f"The {name} must contain only numbers like 2, -1 or 0.5, but {said}.",
            name,
            bad,
            out,
        )
    return out


def _and(items: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _where(position: Sequence[int]) -> str:
    """``(0, 1)``: a cell's 0-based position as the figures number it."""
    return "(" + ", ".join(str(int(p)) for p in position) + ")"


def _shown(cell: object) -> str:
    """What a bad cell holds, as the learner reads it, with a hint when there is one."""
    empty = cell is None or (isinstance(cell, str) and not cell.strip())
    empty = empty or (isinstance(cell, float) and np.isnan(cell))
    return ("an empty cell" if empty else repr(cell)) + _bad_cell_hint(cell)


def fill_bad_cells(error: BadCellError, fallback: object) -> np.ndarray | None:
    """The matrix cnnviz uses while cells are bad: the good cells as typed, each bad cell
    at its value in ``fallback`` (the last valid matrix); None without a usable fallback.

    Examples
    --------
    >>> try:
    ...     as_matrix([["1", "abc"]])
    ... except BadCellError as exc:
    ...     print(fill_bad_cells(exc, [[0, 2]]))
    [[1. 2.]]
    """
    if fallback is None:
        return None
    old = np.asarray(fallback, dtype=np.float64)
    if old.shape != error.partial.shape or not np.all(np.isfinite(old)):
        return None
    return np.where(np.isnan(error.partial), old, error.partial)


@claims.claim
def bad_cells_sentence(error: BadCellError, used: np.ndarray | None) -> Claim:
    """Which cells are not numbers, what they hold, and the value cnnviz uses meanwhile.

    Parameters
    ----------
    error : BadCellError
        From :func:`as_matrix`.
    used : numpy.ndarray or None
        What cnnviz computes with instead (:func:`fill_bad_cells`); None when nothing.

    Returns
    -------
    Claim
        Facts ``cells`` (positions), ``typed`` (what each holds), ``used`` (the value used
        at each bad cell, or None when nothing is computed).

    Examples
    --------
    >>> try:
    ...     as_matrix([["1", "abc"]])
    ... except BadCellError as exc:
    ...     print(bad_cells_sentence(exc, np.array([[1.0, 2.0]])))
    The matrix must contain only numbers like 2, -1 or 0.5, but cell (0, 1) holds 'abc'. \
Until it holds a number, cnnviz uses that cell's last valid value, 2.
    """
    positions = [p for p, _ in error.cells]
    typed = [c for _, c in error.cells]
    if used is None:
        tail = " Nothing is computed until " + (
            "it holds a number." if len(positions) == 1 else "they hold numbers."
        )
        values = None
    else:
        values = [float(np.asarray(used)[p]) for p in positions]
        if len(positions) == 1:
            tail = (
                " Until it holds a number, cnnviz uses that cell's last valid value, "
                f"{format_number(values[0])}."
            )
        else:
            each = _and(
                [
                    f"{format_number(v)} at {_where(p)}"
                    for p, v in zip(positions, values, strict=True)
                ]
            )
            tail = f" Until they hold numbers, cnnviz uses those cells' last valid values: {each}."
    return Claim(str(error) + tail, cells=positions, typed=typed, used=values)


# ----------------------------------------------------------------------------- sizes
def pad_amounts(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> tuple[int, int]:
    """Zero cells added before and after one spatial axis.

    ``"same"`` follows TensorFlow: total padding ``max((ceil(n/s)-1)·s + k_eff - n, 0)``,
    with the odd cell at the end (bottom/right).

    Examples
    --------
    >>> pad_amounts(4, 2, padding="same")
    (0, 1)
    """
    (stride, _), (dilation, _) = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _check_padding(padding)
    k_eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = max((-(-n // stride) - 1) * stride + k_eff - n, 0)
        return total // 2, total - total // 2
    return padding, padding


def output_size(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> int:
    """Length of the output along one axis: ``floor((n + 2p - k_eff) / s) + 1``.

    Parameters
    ----------
    n, kernel : int
        Input and kernel length (>= 1).
    stride, dilation : int
        >= 1. The kernel spans ``k_eff = (kernel - 1) * dilation + 1`` input cells.
    padding : {"valid", "same"} or int
        ``"same"`` gives ``ceil(n / stride)`` like Keras.

    Raises
    ------
    ConvError
        A value is out of range or the kernel is larger than the padded input.

    Examples
    --------
    >>> output_size(5, 3), output_size(5, 3, stride=2), output_size(7, 3, padding="same")
    (3, 2, 7)
    """
    for value, name in ((n, "input size"), (kernel, "kernel size")):
        _pair(value, name)
    (stride, _), (dilation, _) = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _check_padding(padding)
    if padding == "same":
        return -(-n // stride)
    before, after = pad_amounts(n, kernel, stride, padding, dilation)
    k_eff = (kernel - 1) * dilation + 1
    if k_eff > n + before + after:
        raise ConvError(
            f"The kernel spans {k_eff} cells but the padded input has only "
            f"{n + before + after}: kernel {kernel} (dilation {dilation}) is larger than "
            f"input {n} with padding {padding!r}."
        )
    return (n + before + after - k_eff) // stride + 1


@claims.claim
def output_size_working(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> Claim:
    """The output-size formula as LaTeX with the learner's numbers substituted.

    ``⌈n/s⌉`` for ``"same"`` (the formula Keras uses), else
    ``⌊(n + p_before + p_after − k_eff)/s⌋ + 1``.

    Returns
    -------
    Claim
        Facts ``out`` (the result), ``operations`` (``out²``: one kernel placement per output
        cell of a square input), ``before``/``after`` (padding), ``k_eff``, ``formula``
        (``"ceil"`` or ``"floor"``).

    Raises
    ------
    ConvError
        Same as :func:`output_size`.

    Examples
    --------
    >>> output_size_working(5, 3, stride=2).endswith("= 2")
    True
    """
    out = output_size(n, kernel, stride, padding, dilation)
    before, after = pad_amounts(n, kernel, stride, padding, dilation)
    k_eff = (kernel - 1) * dilation + 1
    facts = {"out": out, "operations": out * out, "before": before, "after": after}
    if _check_padding(padding) == "same":
        return Claim(
            rf"\left\lceil \frac{{n}}{{s}} \right\rceil"
            rf" = \left\lceil \frac{{{n}}}{{{stride}}} \right\rceil = {out}",
            k_eff=k_eff,
            formula="ceil",
            **facts,
        )
    k_sym, k_num = "k", str(kernel)
    if dilation != 1:
        k_sym = r"k_{eff}"
        k_num = f"{k_eff}"
    return Claim(
        rf"\left\lfloor \frac{{n + p_{{before}} + p_{{after}} - {k_sym}}}{{s}} \right\rfloor + 1"
        rf" = \left\lfloor \frac{{{n} + {before} + {after} - {k_num}}}{{{stride}}} \right\rfloor"
        rf" + 1 = {out}",
        k_eff=k_eff,
        formula="floor",
        **facts,
    )


def compare_paddings(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> dict:
    """Output size under Keras's ``"valid"`` and ``"same"`` (None where impossible).

    Examples
    --------
    >>> compare_paddings(5, 3, stride=2)
    {'valid': 2, 'same': 3}
    >>> compare_paddings(2, 3)
    {'valid': None, 'same': 2}
    """
    sizes: dict[str, int | None] = {}
    for mode in ("valid", "same"):
        try:
            sizes[mode] = output_size(n, kernel, stride, mode, dilation)
        except ConvError:
            sizes[mode] = None
    return sizes


# ----------------------------------------------------------------------------- conv2d
@dataclass(frozen=True)
class _Plan:
    """Validated inputs shared by :func:`conv2d` and :func:`conv_steps`."""

    x: np.ndarray  # (H, W, Cin)
    kernel: np.ndarray  # (kh, kw, Cin, Cout)
    bias: np.ndarray  # (Cout,)
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    out_shape: tuple[int, int]
    squeeze: bool


def _plan(x, kernel, bias, stride, padding, dilation) -> _Plan:
    x = as_matrix(x, "input")
    kernel = as_matrix(kernel, "kernel")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding = _check_padding(padding)
    squeeze = x.ndim == 2 and kernel.ndim == 2
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ConvError(f"The input must be (H, W) or (H, W, C), got shape {x.shape}.")
    if kernel.ndim == 2:
        kernel = np.repeat(kernel[:, :, None, None], x.shape[2], axis=2)
    elif kernel.ndim == 3:  # (kh, kw, Cin): one filter
        kernel = kernel[..., None]
    if kernel.ndim != 4:
        raise ConvError(
            f"The kernel must be (kh, kw) or (kh, kw, Cin, Cout), got shape {kernel.shape}."
        )
    if kernel.shape[2] != x.shape[2]:
        raise ConvError(
            f"The kernel has {kernel.shape[2]} input channels but the input has "
            f"{x.shape[2]}: they must match."
        )
    cout = kernel.shape[3]
    if bias is None:
        bias = np.zeros(cout)
    else:
        bias = as_matrix(np.atleast_1d(bias), "bias").ravel()
        if bias.size not in (1, cout):
            raise ConvError(f"bias must have 1 or {cout} values (one per filter), got {bias.size}.")
        bias = np.broadcast_to(bias, (cout,))
    pads = tuple(
        pad_amounts(n, k, s, padding, d)
        for n, k, s, d in zip(x.shape[:2], kernel.shape[:2], stride, dilation, strict=True)
    )
    out_shape = tuple(
        output_size(n, k, s, padding, d)
        for n, k, s, d in zip(x.shape[:2], kernel.shape[:2], stride, dilation, strict=True)
    )
    return _Plan(x, kernel, bias, stride, dilation, pads, out_shape, squeeze)


def _windows(plan: _Plan, fill: float = 0.0) -> np.ndarray:
    """Every window the kernel visits: ``(Ho, Wo, Cin, kh, kw)`` (a strided view)."""
    (sh, sw), (dh, dw) = plan.stride, plan.dilation
    kh, kw = plan.kernel.shape[:2]
    xp = np.pad(plan.x, (*plan.pads, (0, 0)), constant_values=fill)
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    win = sliding_window_view(xp, span, axis=(0, 1))  # (Hp-span+1, Wp-span+1, Cin, *span)
    ho, wo = plan.out_shape
    return win[: (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, :, ::dh, ::dw]


def conv2d(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | float | None = None,
    stride: int | tuple[int, int] = 1,
    padding: str | int = "valid",
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """2-D cross-correlation exactly as ``keras.layers.Conv2D`` computes it (no activation).

    Parameters
    ----------
    x : array_like
        ``(H, W)`` or ``(H, W, Cin)``.
    kernel : array_like
        ``(kh, kw)`` (applied to every input channel and summed, one output) or
        ``(kh, kw, Cin, Cout)`` like ``Conv2D.kernel``.
    bias : float or array_like of shape (Cout,), optional
    stride, dilation : int or (int, int)
    padding : {"valid", "same"} or int
        ``"same"`` uses TensorFlow's rule (extra cell bottom/right); an int pads zeros
        on every side.

    Returns
    -------
    numpy.ndarray
        float64 ``(Ho, Wo)`` for a 2-D input and kernel, else ``(Ho, Wo, Cout)``.

    Raises
    ------
    ConvError
        Stride/dilation < 1, bad padding, kernel larger than the padded input,
        mismatched channels or a non-numeric value.

    Examples
    --------
    >>> conv2d(np.ones((3, 3)), np.ones((2, 2)), bias=1, padding="same")
    array([[5., 5., 3.],
           [5., 5., 3.],
           [3., 3., 2.]])
    """
    plan = _plan(x, kernel, bias, stride, padding, dilation)
    (sh, sw), (dh, dw) = plan.stride, plan.dilation
    ho, wo = plan.out_shape
    kh, kw, cin, cout = plan.kernel.shape
    xp = np.pad(plan.x, (*plan.pads, (0, 0)))  # (Hp, Wp, Cin)
    out = np.empty((ho, wo, cout))
    out[...] = plan.bias
    # One pass per kernel cell (kh·kw passes), each vectorised over every output pixel:
    # the input cells that this kernel cell meets across all windows form one strided
    # slice, so the sum of products becomes kh·kw whole-array multiply-adds.
    for i in range(kh):
        for j in range(kw):
            patch = xp[
                i * dh : i * dh + (ho - 1) * sh + 1 : sh, j * dw : j * dw + (wo - 1) * sw + 1 : sw
            ]
            if cin == 1 and cout == 1:
                out[..., 0] += patch[..., 0] * plan.kernel[i, j, 0, 0]
            else:
                out += patch @ plan.kernel[i, j]  # (Ho, Wo, Cin) @ (Cin, Cout)
    return out[:, :, 0] if plan.squeeze else out


# ----------------------------------------------------------------------------- steps
@dataclass(frozen=True)
class ConvStep:
    """One placement of the kernel: what a learner sees at one step.

    Attributes
    ----------
    index : int
        Step number, 0-based, row-major over the output.
    out_row, out_col : int
        The output cell this step fills.
    rows, cols : tuple of int
        Input row/column under each kernel row/column; values < 0 or >= H/W are padding.
    padded : numpy.ndarray
        ``(kh, kw)`` bool, True where the kernel sits on a padding cell.
    window : numpy.ndarray
        ``(kh, kw)`` or ``(kh, kw, Cin)`` input values under the kernel (0 on padding).
    weights : numpy.ndarray
        The kernel, same shape as ``window``.
    products : numpy.ndarray
        ``window * weights``.
    bias : float
    value : float
        ``products.sum() + bias``.
    """

    index: int
    out_row: int
    out_col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    padded: np.ndarray
    window: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    bias: float
    value: float

    @property
    def subtotals(self) -> np.ndarray:
        """The sum of each input channel's products, ``(Cin,)`` (one value for a 2-D step)."""
        p = self.products
        return p.sum(axis=(0, 1)) if p.ndim == 3 else np.array([p.sum()])

    @claims.claim
    def worked(self, channels: Sequence[str] | None = None, max_terms: int = 30) -> list[Claim]:
        """The worked sum as lines, as CNN Explainer writes it for an RGB filter.

        One line (:meth:`expression`) for a single channel. For several channels, one line
        per channel with its subtotal, then the subtotals plus bias::

            red: 1×1 + 1×1 + … = 4
            green: 0×0 + … = 0
            blue: 0×(-1) + … = -5
            4 + 0 + (-5) = -1

        Parameters
        ----------
        channels : sequence of str, optional
            Channel names; ``red``, ``green``, ``blue`` for three, else ``channel 0`` ….
        max_terms : int
            Per line; longer sums keep the first and last terms with ``…`` between.

        Returns
        -------
        list of Claim
            Channel lines with facts ``channel`` and ``subtotal``; the last line with facts
            ``subtotals``, ``bias`` and ``value`` (a single channel: :meth:`expression`).
        """
        if self.window.ndim == 2 or self.window.shape[-1] == 1:
            return [self.expression(max_terms)]
        names = list(channels) if channels is not None else channel_names(self.window.shape[-1])
        lines = [
            Claim(
                f"{name}: {_terms(self.window[..., c], self.weights[..., c], max_terms)}"
                f" = {format_number(total)}",
                channel=name,
                subtotal=float(total),
            )
            for c, (name, total) in enumerate(zip(names, self.subtotals, strict=True))
        ]
        lines.append(
            Claim(
                " + ".join(_bracket(v) for v in self.subtotals)
                + _bias_text(self.bias)
                + f" = {format_number(self.value)}",
                subtotals=tuple(float(v) for v in self.subtotals),
                bias=self.bias,
                value=self.value,
            )
        )
        return lines

    @claims.claim
    def expression(self, max_terms: int = 30) -> Claim:
        """The worked sum, e.g. ``"1×0 + 0×(-1) + … + 1×1 = 5"``.

        For a multi-channel window the terms are grouped channel by channel (all red
        products, then green, then blue). Negative factors are bracketed.

        Parameters
        ----------
        max_terms : int
            Longer sums keep the first and last terms with ``…`` between.
        """
        # Channel-major order: (kh, kw, C) -> (C, kh, kw) before flattening.
        window = np.moveaxis(self.window, -1, 0) if self.window.ndim == 3 else self.window
        weights = np.moveaxis(self.weights, -1, 0) if self.weights.ndim == 3 else self.weights
        text = _terms(window, weights, max_terms) + _bias_text(self.bias)
        return Claim(
            f"{text} = {format_number(self.value)}",
            terms=int(window.size),
            elided=bool(window.size > max_terms),
            bias=self.bias,
            value=self.value,
        )


def _terms(window: np.ndarray, weights: np.ndarray, max_terms: int) -> str:
    """``"1×0 + 0×(-1) + …"``: one product per cell, row-major."""
    terms = [
        f"{_bracket(a)}×{_bracket(w)}" for a, w in zip(window.ravel(), weights.ravel(), strict=True)
    ]
    if len(terms) > max_terms:
        half = max_terms // 2
        terms = [*terms[:half], "…", *terms[-half:]]
    return " + ".join(terms)


def _bias_text(bias: float) -> str:
    """``" + 1 (bias)"``, ``" - 2 (bias)"``, or nothing for a zero bias."""
    if not bias:
        return ""
    return f" {'-' if bias < 0 else '+'} {format_number(abs(bias))} (bias)"


@claims.claim
def relu_expression(value: float) -> Claim:
    """The ReLU line of a worked sum.

    Examples
    --------
    >>> relu_expression(-1.5), relu_expression(2)
    ('ReLU: max(0, -1.5) = 0', 'ReLU: max(0, 2) = 2')
    """
    out = max(float(value), 0.0)
    return Claim(
        f"ReLU: max(0, {format_number(value)}) = {format_number(out)}", value=float(value), out=out
    )


def channel_names(n: int) -> list[str]:
    """What the learner calls the input channels: red/green/blue for 3, else numbered.

    Examples
    --------
    >>> channel_names(3), channel_names(2), channel_names(1)
    (['red', 'green', 'blue'], ['channel 0', 'channel 1'], [''])
    """
    if n == 1:
        return [""]
    return ["red", "green", "blue"] if n == 3 else [f"channel {i}" for i in range(n)]


def _bracket(v: float) -> str:
    """A factor in a product: negative numbers in brackets, ``2×(-1)``."""
    text = format_number(v)
    return f"({text})" if text.startswith("-") else text


def format_number(v: float) -> str:
    """A number as a learner writes it: ``3`` not ``3.0``, at most 3 decimals.

    A value too small for 3 decimals is not written as 0: it keeps 2 significant digits
    (``4.2e-5``), so a product or a probability that is not zero never reads as zero.
    ``app_pages/_stepper.js`` writes numbers with the same rule.

    Examples
    --------
    >>> format_number(3.0), format_number(-0.125), format_number(1 / 3)
    ('3', '-0.125', '0.333')
    >>> format_number(0.0000423), format_number(-0.0004), format_number(0.0004999)
    ('4.2e-5', '-4.0e-4', '5.0e-4')
    """
    v = float(v)
    if not np.isfinite(v):
        return str(v)
    if v == int(v):
        return str(int(v))
    if abs(v) < 0.0005:  # would round to 0 at 3 decimals
        mantissa, exponent = f"{v:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{v:.3f}".rstrip("0").rstrip(".")


def conv_steps(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | float | None = None,
    stride: int | tuple[int, int] = 1,
    padding: str | int = "valid",
    dilation: int | tuple[int, int] = 1,
    channel: int = 0,
) -> list[ConvStep]:
    """The kernel placements of :func:`conv2d`, in order, for one output channel.

    Same arguments as :func:`conv2d`, plus ``channel`` (which output channel to trace).
    ``steps[i].value`` equals ``conv2d(...)`` at ``(out_row, out_col)``.

    Examples
    --------
    >>> steps = conv_steps(np.arange(1, 17).reshape(4, 4), [[1, 2], [3, 4]])
    >>> len(steps), steps[0].expression()
    (9, '1×1 + 2×2 + 5×3 + 6×4 = 44')
    """
    plan = _plan(x, kernel, bias, stride, padding, dilation)
    if not 0 <= channel < plan.kernel.shape[3]:
        raise ConvError(f"channel must be in 0..{plan.kernel.shape[3] - 1}, got {channel!r}.")
    weights = plan.kernel[:, :, :, channel]  # (kh, kw, Cin)
    win = np.moveaxis(_windows(plan), 2, -1)  # (Ho, Wo, kh, kw, Cin)
    products = win * weights
    values = products.sum(axis=(2, 3, 4)) + plan.bias[channel]
    kh, kw = weights.shape[:2]
    (sh, sw), (dh, dw) = plan.stride, plan.dilation
    h, w = plan.x.shape[:2]
    ho, wo = plan.out_shape
    row_idx = np.arange(ho)[:, None] * sh - plan.pads[0][0] + np.arange(kh) * dh  # (Ho, kh)
    col_idx = np.arange(wo)[:, None] * sw - plan.pads[1][0] + np.arange(kw) * dw  # (Wo, kw)
    row_pad = (row_idx < 0) | (row_idx >= h)
    col_pad = (col_idx < 0) | (col_idx >= w)
    drop = (lambda a: a[..., 0]) if plan.squeeze else (lambda a: a)
    return [
        ConvStep(
            index=i * wo + j,
            out_row=i,
            out_col=j,
            rows=tuple(int(r) for r in row_idx[i]),
            cols=tuple(int(c) for c in col_idx[j]),
            padded=row_pad[i][:, None] | col_pad[j][None, :],
            window=drop(win[i, j]),
            weights=drop(weights),
            products=drop(products[i, j]),
            bias=float(plan.bias[channel]),
            value=float(values[i, j]),
        )
        for i in range(ho)
        for j in range(wo)
    ]


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` element-wise, the activation Conv2D layers usually apply."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def _nested(a: np.ndarray) -> list:
    """A float array as nested lists of Python floats (JSON-able: NaN becomes None)."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isfinite(a), a, None).tolist() if not np.isfinite(a).all() else a.tolist()


def conv_trace(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: float = 0.0,
    stride: int | tuple[int, int] = 1,
    padding: str | int = "valid",
    dilation: int | tuple[int, int] = 1,
    relu: bool = False,
) -> dict:
    """Everything the in-browser stepper shows, for one filter, as JSON-able lists.

    The stepper only draws what this returns: it does no arithmetic of its own, so every
    number a learner sees comes from :func:`conv_steps` / :func:`conv2d`.

    Parameters
    ----------
    x : array_like
        ``(H, W)`` or ``(H, W, Cin)``.
    kernel : array_like
        ``(kh, kw)``, ``(kh, kw, Cin)`` or ``(kh, kw, Cin, 1)``: one filter.
    bias : float
    stride, padding, dilation
        As for :func:`conv2d`.
    relu : bool
        Whether the output passes through ReLU.

    Returns
    -------
    dict
        ``kind`` ``"conv"``; ``channels`` (names); ``input`` ``(Cin, H, W)``; ``kernel``
        ``(Cin, kh, kw)``; ``bias``, ``relu``, ``stride``, ``dilation``, ``padding``,
        ``pads`` ``((top, bottom), (left, right))``; ``input_shape``, ``kernel_shape``,
        ``output_shape``; ``partials`` ``(Cin, Ho, Wo)`` (each channel's slice applied to
        that channel, no bias: CNN Explainer's intermediate maps); ``sums`` ``(Ho, Wo)``
        (their sum plus bias = :func:`conv2d`); ``output`` (after ReLU when ``relu``);
        ``reached`` (``rows``/``cols``: whether any window touches each input row/column);
        ``steps``: per output cell, row-major, ``out``, ``rows``, ``cols``, ``padded``,
        ``window`` and ``products`` ``(Cin, kh, kw)``, ``subtotals`` ``(Cin,)``, ``value``
        (sum + bias), ``output`` and ``lines`` (the worked sum, :meth:`ConvStep.worked`,
        plus the ReLU line).

    Raises
    ------
    ConvError
        As :func:`conv2d`, or a kernel with more than one filter.

    Examples
    --------
    >>> t = conv_trace(np.arange(1, 17).reshape(4, 4), [[1, 2], [3, 4]], stride=2)
    >>> t["output_shape"], t["steps"][1]["lines"]
    ([2, 2], ['3×1 + 4×2 + 7×3 + 8×4 = 64'])
    """
    plan = _plan(x, kernel, bias, stride, padding, dilation)
    if plan.kernel.shape[3] != 1:
        raise ConvError(
            f"The stepper shows one filter at a time, got {plan.kernel.shape[3]} filters."
        )
    steps = conv_steps(x, kernel, bias, stride, padding, dilation)
    cin = plan.x.shape[2]
    names = channel_names(cin)
    weights = plan.kernel[:, :, :, 0]  # (kh, kw, Cin)
    partials = np.stack(
        [
            conv2d(plan.x[:, :, c], weights[:, :, c], 0.0, stride, padding, dilation)
            for c in range(cin)
        ]
    )  # (Cin, Ho, Wo)
    sums = conv2d(plan.x, weights[..., None], plan.bias, stride, padding, dilation)[..., 0]
    out = np.maximum(sums, 0.0) if relu else sums

    def chw(a: np.ndarray) -> np.ndarray:  # (kh, kw[, Cin]) -> (Cin, kh, kw)
        return a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)

    (h, w), (kh, kw) = plan.x.shape[:2], weights.shape[:2]
    return {
        "kind": "conv",
        "channels": names,
        "input": _nested(np.moveaxis(plan.x, -1, 0)),
        "kernel": _nested(np.moveaxis(weights, -1, 0)),
        "bias": float(plan.bias[0]),
        "relu": bool(relu),
        "stride": list(plan.stride),
        "dilation": list(plan.dilation),
        "padding": _check_padding(padding),
        "pads": [list(p) for p in plan.pads],
        "input_shape": [h, w],
        "kernel_shape": [kh, kw],
        "output_shape": list(plan.out_shape),
        "partials": _nested(partials),
        "sums": _nested(sums),
        "output": _nested(out),
        "reached": {
            "rows": reached(h, kh, plan.stride[0], padding, plan.dilation[0]).tolist(),
            "cols": reached(w, kw, plan.stride[1], padding, plan.dilation[1]).tolist(),
        },
        "steps": [
            {
                "out": [s.out_row, s.out_col],
                "rows": list(s.rows),
                "cols": list(s.cols),
                "padded": s.padded.tolist(),
                "window": _nested(chw(s.window)),
                "products": _nested(chw(s.products)),
                "subtotals": _nested(s.subtotals),
                "value": s.value,
                "output": float(out[s.out_row, s.out_col]),
                "lines": s.worked(names) + ([relu_expression(s.value)] if relu else []),
            }
            for s in steps
        ],
    }


# ----------------------------------------------------------------------------- coverage
def reached(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> np.ndarray:
    """Which of the ``n`` input cells along one axis some kernel placement touches.

    With a stride larger than the kernel's span, or a dilation, or a last window that
    ends before the input does, some cells never meet a weight: they cannot change the
    output.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` bool.

    Examples
    --------
    >>> reached(6, 3, stride=2).tolist()
    [True, True, True, True, True, False]
    >>> reached(5, 3, dilation=2).tolist()
    [True, False, True, False, True]
    """
    out = output_size(n, kernel, stride, padding, dilation)
    before, _ = pad_amounts(n, kernel, stride, padding, dilation)
    idx = (np.arange(out)[:, None] * stride - before + np.arange(kernel) * dilation).ravel()
    hit = np.zeros(n, dtype=bool)
    hit[idx[(idx >= 0) & (idx < n)]] = True
    return hit


@dataclass(frozen=True)
class Coverage:
    """Which input cells along one axis the kernel touches, and why it misses the others.

    Indices are input positions counted from 0 (padding is < 0 or >= ``n``).

    Attributes
    ----------
    n, kernel, stride, dilation, k_eff : int
        The settings; ``k_eff = (kernel - 1)·dilation + 1`` cells under one window.
    mode : str
        ``"valid"``, ``"same"`` or ``"explicit"``.
    before, after : int
        Padding cells added before and after.
    windows : tuple of tuple of int
        Each window's taps (the input index under each kernel cell), in order.
    untouched : tuple of int
        Input cells under no tap of any window: they cannot change the output.
    in_holes : tuple of int
        Untouched cells inside a window's span, between its dilated taps.
    stepped_over : tuple of int
        Untouched cells between two windows' spans (the stride is longer than ``k_eff``).
    past_last : tuple of int
        Untouched cells after the last window's last tap.
    padding_only : tuple of int
        The windows (by index) whose taps all fall on padding.
    remainder : int or None
        For ``"valid"`` and explicit padding, what the ⌊ ⌋ drops: the remainder of
        ``(n + before + after − k_eff) / stride``, the padded cells after the last window.
        None for ``"same"`` (its formula is ``⌈n/s⌉``).
    """

    n: int
    kernel: int
    stride: int
    dilation: int
    k_eff: int
    mode: str
    before: int
    after: int
    windows: tuple[tuple[int, ...], ...]
    untouched: tuple[int, ...]
    in_holes: tuple[int, ...]
    stepped_over: tuple[int, ...]
    past_last: tuple[int, ...]
    padding_only: tuple[int, ...]
    remainder: int | None

    @property
    def last_tap(self) -> int:
        """The input index under the last window's last kernel cell."""
        return self.windows[-1][-1]


def coverage(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> Coverage:
    """Which input cells along one axis some window touches, and the reason for the rest.

    Raises
    ------
    ConvError
        As :func:`output_size` (the kernel does not fit).

    Examples
    --------
    >>> c = coverage(9, 2, stride=4, dilation=2)
    >>> c.untouched, c.in_holes, c.stepped_over, c.past_last, c.remainder
    ((1, 3, 5, 7, 8), (1, 5), (3,), (7, 8), 2)
    """
    out = output_size(n, kernel, stride, padding, dilation)
    before, after = pad_amounts(n, kernel, stride, padding, dilation)
    k_eff = (kernel - 1) * dilation + 1
    starts = np.arange(out) * stride - before  # (out,)
    taps = starts[:, None] + np.arange(kernel) * dilation  # (out, kernel)
    cells = np.arange(n)
    hit = reached(n, kernel, stride, padding, dilation)
    in_span = ((cells[:, None] >= starts) & (cells[:, None] <= starts + k_eff - 1)).any(axis=1)
    past = ~hit & (cells > taps[-1, -1])
    mode = padding if isinstance(padding, str) else "explicit"
    mode = _check_padding(mode) if mode != "explicit" else mode
    remainder = None
    if mode != "same":
        remainder = int((n + before + after - k_eff) % stride)

    def idx(mask: np.ndarray) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(mask))

    return Coverage(
        n=int(n),
        kernel=int(kernel),
        stride=int(stride),
        dilation=int(dilation),
        k_eff=int(k_eff),
        mode=mode,
        before=int(before),
        after=int(after),
        windows=tuple(tuple(int(t) for t in row) for row in taps),
        untouched=idx(~hit),
        in_holes=idx(~hit & in_span),
        stepped_over=idx(~hit & ~in_span & ~past),
        past_last=idx(past),
        padding_only=idx(((taps < 0) | (taps >= n)).all(axis=1)),
        remainder=remainder,
    )


def _cells(idx: Sequence[int]) -> str:
    """``"5"``, ``"2 and 3"``, ``"2, 3 and 6"``."""
    return _and([str(int(i)) for i in idx])


@claims.claim
def coverage_sentence(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> Claim:
    """Which input rows/columns the kernel never touches, and why; or that it touches all.

    Every reason is computed from the windows (:func:`coverage`): cells between two windows
    (the stride is longer than the kernel's span), cells between a dilated kernel's taps,
    cells past the last window (for ``"valid"``/explicit padding the ⌊ ⌋ of the formula
    drops them; for ``"same"``, whose formula is ⌈n/s⌉, the last of the ⌈n/s⌉ windows
    ends before them), and windows that sit entirely in the padding.

    Returns
    -------
    Claim
        Facts: ``untouched``, ``stepped_over``, ``in_holes``, ``past_last`` (input indices),
        ``last_tap`` (the last window's last input index), ``padding_only`` (window
        indices), ``windows`` (how many along one axis), ``k_eff``, ``mode``, ``formula``
        (``"floor"`` or ``"ceil"``) and ``remainder`` (what the ⌊ ⌋ drops; None for same).

    Raises
    ------
    ConvError
        As :func:`output_size`.

    Examples
    --------
    >>> print(coverage_sentence(6, 3, stride=2))  # doctest: +NORMALIZE_WHITESPACE
    The kernel never touches input rows and columns 5 (counted from 0), so they cannot
    change the output: 5 lies past the last window, which ends at 4: (6 + 0 + 0 − 3) / 2
    = 1 remainder 1, and the ⌊ ⌋ in the formula drops that remainder, the last cell of the
    input.
    >>> print(coverage_sentence(5, 1, stride=2, padding=1))  # doctest: +NORMALIZE_WHITESPACE
    The kernel never touches input rows and columns 0, 2 and 4 (counted from 0), so they
    cannot change the output: the stride (2) is longer than the kernel's span (1), so the
    windows jump over 0, 2 and 4. 2 of the 4 windows along each axis sit entirely in the
    padding: they see only zeros. (5 + 1 + 1 − 1) / 2 = 3 exactly, so the ⌊ ⌋ drops nothing.
    """
    c = coverage(n, kernel, stride, padding, dilation)
    reasons = []
    if c.stepped_over:
        reasons.append(
            f"the stride ({c.stride}) is longer than the kernel's span ({c.k_eff}), so the "
            f"windows jump over {_cells(c.stepped_over)}"
        )
    if c.in_holes:
        reasons.append(
            f"the dilation ({c.dilation}) leaves gaps between the kernel's taps at "
            f"{_cells(c.in_holes)}"
        )
    numerator = c.n + c.before + c.after - c.k_eff
    division = f"({c.n} + {c.before} + {c.after} − {c.k_eff}) / {c.stride}"
    if c.remainder:
        division += f" = {numerator // c.stride} remainder {c.remainder}"
    next_start = len(c.windows) * c.stride - c.before
    if c.past_last:
        verb = "lies" if len(c.past_last) == 1 else "lie"
        where = f"{_cells(c.past_last)} {verb} past the last window, which ends at {c.last_tap}"
        if c.mode == "same":
            reasons.append(
                f"{where}: 'same' makes ⌈{c.n}/{c.stride}⌉ = {len(c.windows)} windows and "
                f"needs no padding here, and a next window would start at {next_start}, "
                "past the input"
            )
        else:
            of = "input" if c.mode == "valid" else "padded input"
            last = "the last cell" if c.remainder == 1 else f"the last {c.remainder} cells"
            reasons.append(
                f"{where}: {division}, and the ⌊ ⌋ in the formula drops that remainder, "
                f"{last} of the {of}"
            )
    if c.untouched:
        text = (
            f"The kernel never touches input rows and columns {_cells(c.untouched)} "
            f"(counted from 0), so they cannot change the output: {'; '.join(reasons)}."
        )
    else:
        text = "Every input cell is under the kernel at least once, so each can change the output."
    if c.padding_only:
        m = len(c.padding_only)
        text += (
            f" {m} of the {plural(len(c.windows), 'window')} along each axis "
            f"{'sits' if m == 1 else 'sit'} entirely in the padding: "
            f"{'it sees' if m == 1 else 'they see'} only zeros."
        )
    if c.mode != "same" and not c.past_last:
        if c.remainder == 0:
            text += f" {division} = {numerator // c.stride} exactly, so the ⌊ ⌋ drops nothing."
        else:
            text += (
                f" {division}: the ⌊ ⌋ drops {plural(c.remainder, 'padded cell')} after "
                "the last window, only zeros."
            )
    return Claim(
        text,
        untouched=c.untouched,
        stepped_over=c.stepped_over,
        in_holes=c.in_holes,
        past_last=c.past_last,
        last_tap=c.last_tap,
        padding_only=c.padding_only,
        windows=len(c.windows),
        k_eff=c.k_eff,
        mode=c.mode,
        formula="ceil" if c.mode == "same" else "floor",
        remainder=c.remainder,
        next_start=next_start,
    )


# ----------------------------------------------------------------------------- Keras
@claims.claim
def keras_refusal(stride: int | tuple[int, int], dilation: int | tuple[int, int]) -> Claim | None:
    """The error ``keras.layers.Conv2D`` raises for this stride and dilation, or None.

    Keras (3.x) refuses any stride > 1 together with any dilation > 1; cnnviz computes
    that convolution anyway (it is well defined: PyTorch allows it).

    Returns
    -------
    Claim or None
        Keras's own message; facts ``strides`` and ``dilation_rate`` (the pairs it names).

    Examples
    --------
    >>> keras_refusal(2, 1) is None
    True
    >>> keras_refusal(2, 3)[-49:]
    'Received: strides=(2, 2) and dilation_rate=(3, 3)'
    """
    s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
    if max(s) > 1 and max(d) > 1:
        return Claim(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={s} and dilation_rate={d}",
            strides=s,
            dilation_rate=d,
        )
    return None


def _conv2d_call(kernel: int | Sequence[int], stride: object, dilation: object) -> str:
    """``Conv2D(1, 3, strides=2, dilation_rate=3)`` as the learner would write it."""
    return f"`Conv2D(1, {kernel}, strides={stride}, dilation_rate={dilation})`"


@claims.claim
def keras_sizes_sentence(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> Claim:
    """What Keras's ``valid`` and ``same`` give for these settings, or Keras's refusal.

    Returns
    -------
    Claim
        Facts ``refused`` (bool), ``valid`` and ``same`` (output sizes; None where Keras
        makes no output or refuses).

    Examples
    --------
    >>> keras_sizes_sentence(5, 3, stride=2)
    'With these n, k, s, d, Keras `valid` gives 2×2 and `same` gives 3×3.'
    >>> keras_sizes_sentence(12, 3, stride=4, dilation=3)[:60]
    'Keras refuses these settings whatever the padding: `Conv2D(1'
    """
    refusal = keras_refusal(stride, dilation)
    if refusal is not None:
        return Claim(
            "Keras refuses these settings whatever the padding: "
            f"{_conv2d_call(kernel, stride, dilation)} raises ValueError: {refusal}",
            refused=True,
            valid=None,
            same=None,
        )
    found = compare_paddings(n, kernel, stride, dilation)
    sizes = {
        mode: "no output (the kernel is larger than the input)" if v is None else f"{v}×{v}"
        for mode, v in found.items()
    }
    return Claim(
        f"With these n, k, s, d, Keras `valid` gives {sizes['valid']} "
        f"and `same` gives {sizes['same']}.",
        refused=False,
        valid=found["valid"],
        same=found["same"],
    )


def _fits(n: int, k: int, stride: int, padding: str | int, dilation: int) -> bool:
    try:
        output_size(n, k, stride, padding, dilation)
    except ConvError:
        return False
    return True


@claims.claim
def settings_verdict(
    x_shape: Sequence[int],
    k_shape: Sequence[int],
    stride: int = 1,
    padding: str | int = "valid",
    dilation: int = 1,
    resizable: bool = False,
    max_padding: int | None = None,
    max_input: int | None = None,
) -> Claim | None:
    """One message for settings cnnviz cannot compute or Keras refuses; None when both work.

    Either cnnviz computes the convolution (then, when Keras refuses the stride with the
    dilation, the message says so and that you can still step through it), or no window
    fits (then the message says why, with the numbers, and which single change makes it
    fit). It never says both.

    Parameters
    ----------
    x_shape, k_shape : sequence of int
        Input and kernel ``(rows, cols, ...)``; only the first two count.
    stride, padding, dilation
        As for :func:`conv2d` (one value for both axes).
    resizable : bool
        Also suggest a smaller kernel or a larger input (the learner can change them).
    max_padding, max_input : int, optional
        The largest explicit padding / input size the learner can choose (no suggestion
        beyond them).

    Returns
    -------
    Claim or None
        Facts ``computes``, ``keras_refuses``, ``output_shape`` (None when it does not
        compute), ``k_eff`` and ``padded`` (per axis), ``fixes``: each change that makes it
        fit, by setting (``"dilation"``: the largest that fits, ``"padding"``: the smallest
        explicit padding, ``"same"``, ``"kernel"``: the largest kernel, ``"input"``: the
        smallest input), None where there is none to suggest.

    Examples
    --------
    >>> print(settings_verdict((5, 5), (3, 3), stride=2, dilation=3))
    ... # doctest: +NORMALIZE_WHITESPACE
    The kernel spans 7 cells along each axis (3 weights, dilation 3) but the padded input has
    only 5, so no window fits: there is nothing to compute or step through. It fits with
    dilation 2 or less, with padding 1 or more, or with padding 'same'. (Keras also refuses
    stride 2 with dilation 3, whatever the padding.)
    """
    (h, w), (kh, kw) = tuple(x_shape[:2]), tuple(k_shape[:2])
    stride_, _ = _pair(stride, "stride")
    dilation_, _ = _pair(dilation, "dilation")
    padding = _check_padding(padding)
    axes = ((h, kh), (w, kw))
    k_eff = tuple((k - 1) * dilation_ + 1 for _, k in axes)
    padded = tuple(n + sum(pad_amounts(n, k, stride_, padding, dilation_)) for n, k in axes)
    refusal = keras_refusal(stride, dilation)
    kernel_arg = kh if kh == kw else (kh, kw)
    if all(_fits(n, k, stride_, padding, dilation_) for n, k in axes):
        out = tuple(output_size(n, k, stride_, padding, dilation_) for n, k in axes)
        if refusal is None:
            return None
        return Claim(
            "Keras refuses these settings whatever the padding: "
            f"{_conv2d_call(kernel_arg, stride, dilation)} raises ValueError: {refusal}. "
            "cnnviz still computes it (it is well defined), so you can step through it: "
            f"output {out[0]}×{out[1]}.",
            computes=True,
            keras_refuses=True,
            output_shape=out,
            k_eff=k_eff,
            padded=padded,
            fixes=None,
        )
    # No window fits along at least one axis.
    bad = [i for i, (n, k) in enumerate(axes) if not _fits(n, k, stride_, padding, dilation_)]
    how = f"dilation {dilation_}" if dilation_ > 1 else "no dilation"
    if len(bad) == 2 and k_eff[0] == k_eff[1] and padded[0] == padded[1] and kh == kw:
        what = (
            f"The kernel spans {k_eff[0]} cells along each axis ({kh} weights, {how}) but "
            f"the padded input has only {padded[0]}"
        )
    else:
        names, sizes = ("rows", "columns"), (kh, kw)
        what = "The kernel spans " + ", and ".join(
            f"{k_eff[i]} {names[i]} ({sizes[i]} weights, {how}) where the padded input has "
            f"only {padded[i]}"
            for i in bad
        )
    fixes: dict[str, object] = {
        "dilation": None,
        "padding": None,
        "same": None,
        "kernel": None,
        "input": None,
    }
    offers = []
    if dilation_ > 1:
        fit = [
            d
            for d in range(dilation_ - 1, 0, -1)
            if all(_fits(n, k, stride_, padding, d) for n, k in axes)
        ]
        if fit:
            fixes["dilation"] = fit[0]
            offers.append(f"with dilation {fit[0]} or less" if fit[0] > 1 else "without dilation")
    need = max(-(-(k_eff[i] - axes[i][0]) // 2) for i in range(2))
    need = max(need, 1)
    if (isinstance(padding, str) or need > padding) and (
        max_padding is None or need <= max_padding
    ):
        fixes["padding"] = need
        offers.append(f"with padding {need} or more")
    if padding != "same":
        fixes["same"] = True
        offers.append("with padding 'same'")
    if resizable and kh == kw and h == w:
        pad = padded[0] - h
        largest = (h + pad - 1) // dilation_ + 1
        fixes["kernel"] = largest
        offers.append(f"with a kernel of {largest} or less")
        if max_input is None or k_eff[0] - pad <= max_input:
            fixes["input"] = k_eff[0] - pad
            offers.append(f"with an input of {k_eff[0] - pad} or more")
    text = f"{what}, so no window fits: there is nothing to compute or step through."
    if offers:
        text += " It fits " + _and(offers).replace(" and with", ", or with") + "."
    if refusal is not None:
        text += (
            f" (Keras also refuses stride {stride} with dilation {dilation}, whatever the padding.)"
        )
    return Claim(
        text,
        computes=False,
        keras_refuses=refusal is not None,
        output_shape=None,
        k_eff=k_eff,
        padded=padded,
        fixes=fixes,
    )


def plural(n: int, noun: str) -> str:
    """``"1 window position"``, ``"4 window positions"``.

    Examples
    --------
    >>> plural(1, "filter operation"), plural(0, "filter operation")
    ('1 filter operation', '0 filter operations')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _size(shape: Sequence[int]) -> str:
    return "×".join(str(int(v)) for v in shape[:2])


@claims.claim
def padding_words(padding: str | int, pads: Sequence[Sequence[int]]) -> Claim:
    """How a padding setting reads in a sentence, with the zeros it adds.

    Returns
    -------
    Claim
        Facts ``pads`` (``((top, bottom), (left, right))``, as named) and ``padded``
        (whether any zero is added).

    Examples
    --------
    >>> padding_words("valid", ((0, 0), (0, 0)))
    'no padding'
    >>> padding_words("same", ((0, 1), (0, 1)))
    "padding 'same' (0 before, 1 after)"
    >>> padding_words(1, ((1, 1), (1, 1)))
    'padding 1 (1 zero on every side)'
    """
    padding = _check_padding(padding)
    (top, bottom), (left, right) = ((int(a), int(b)) for a, b in pads)
    facts = {"pads": ((top, bottom), (left, right)), "padded": bool(top + bottom + left + right)}
    if padding == "valid" or (isinstance(padding, int) and padding == 0):
        if facts["padded"]:
            raise ConvError(f"padding {padding!r} adds no zeros, got pads {pads!r}.")
        return Claim("no padding", **facts)
    if isinstance(padding, int):
        if {top, bottom, left, right} != {padding}:
            raise ConvError(f"padding {padding} adds {padding} on every side, got pads {pads!r}.")
        return Claim(f"padding {padding} ({plural(padding, 'zero')} on every side)", **facts)
    if (top, bottom) == (left, right):
        return Claim(f"padding 'same' ({top} before, {bottom} after)", **facts)
    return Claim(
        f"padding 'same' (rows {top} before, {bottom} after; columns {left} before, {right} after)",
        **facts,
    )


@claims.claim
def settings_sentence(trace: dict) -> Claim:
    """One line naming the sizes and settings of a :func:`conv_trace`.

    Returns
    -------
    Claim
        Facts ``input_shape``, ``kernel_shape``, ``output_shape`` (rows, cols),
        ``stride``, ``dilation`` (pairs), ``pads`` and ``operations`` (kernel placements).

    Examples
    --------
    >>> print(settings_sentence(conv_trace(np.ones((5, 5)), np.ones((3, 3)), stride=2, padding=1)))
    ... # doctest: +NORMALIZE_WHITESPACE
    Input 5×5, kernel 3×3, stride 2, padding 1 (1 zero on every side) → output 3×3 after
    9 filter operations.
    """
    (sh, sw), (dh, dw) = trace["stride"], trace["dilation"]
    stride = f"stride {sh}" if sh == sw else f"stride ({sh}, {sw})"
    dilation = "" if (dh, dw) == (1, 1) else f", dilation {dh if dh == dw else (dh, dw)}"
    n = len(trace["steps"])
    return Claim(
        f"Input {_size(trace['input_shape'])}, kernel {_size(trace['kernel_shape'])}, {stride}, "
        f"{padding_words(trace['padding'], trace['pads'])}{dilation} → output "
        f"{_size(trace['output_shape'])} after {plural(n, 'filter operation')}.",
        input_shape=tuple(int(v) for v in trace["input_shape"][:2]),
        kernel_shape=tuple(int(v) for v in trace["kernel_shape"][:2]),
        output_shape=tuple(int(v) for v in trace["output_shape"][:2]),
        stride=(int(sh), int(sw)),
        dilation=(int(dh), int(dw)),
        pads=tuple(tuple(int(v) for v in p) for p in trace["pads"]),
        operations=n,
    )


def stride_example(n: int, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """A small input of digits 0–9 and a kernel for the values view of the stride page.

    The input is seeded by its size (the same numbers every time). A kernel of size 2 or
    more is a vertical-edge kernel: +1 in its left columns, −1 in its right ones, 0 in the
    middle one. A 1×1 kernel has no left or right, so it is ``[[2]]``: it doubles each
    cell (:func:`describe_kernel` says what each one is).

    Examples
    --------
    >>> stride_example(4, 3)[1]
    array([[ 1.,  0., -1.],
           [ 1.,  0., -1.],
           [ 1.,  0., -1.]])
    >>> stride_example(4, 1)[1]
    array([[2.]])
    """
    x = np.random.default_rng(n).integers(0, 10, size=(n, n)).astype(np.float64)
    if kernel == 1:
        return x, np.array([[2.0]])
    cols = np.sign((kernel - 1) / 2 - np.arange(kernel))  # (k,): +1 … 0 … −1
    return x, np.tile(cols, (kernel, 1)) + 0.0


def _edge_side(kernel: np.ndarray) -> int:
    """+1 when the kernel is a vertical-edge kernel positive on its left, −1 when negative
    on its left, 0 when it is not one (mirror image with the sign flipped, and every
    weight of the left half of one sign, not all zero)."""
    if kernel.shape[1] < 2 or not np.array_equal(kernel, -kernel[:, ::-1]):
        return 0
    left = kernel[:, : kernel.shape[1] // 2]
    if (left >= 0).all() and (left > 0).any():
        return 1
    if (left <= 0).all() and (left < 0).any():
        return -1
    return 0


def _values(a: np.ndarray) -> str:
    """``"1"`` or ``"1, 2"``: the distinct values of an array, as a learner writes them."""
    return ", ".join(format_number(v) for v in np.unique(a))


@claims.claim
def describe_kernel(kernel: np.ndarray) -> Claim:
    """What a kernel does, in words that are true of its actual weights.

    Kinds (checked in this order): ``"zero"`` (every weight 0), ``"scale"`` (1×1),
    ``"vertical edge"`` (the left-right mirror image with the sign flipped, the left half of
    one sign), ``"horizontal edge"`` (the same top-bottom), ``"one cell"`` (a single
    non-zero weight), ``"constant"`` (one weight repeated: a sum, or a mean when it is
    1/size), ``"other"`` (weights named by range).

    Returns
    -------
    Claim
        Facts ``kind``, ``shape``, ``total`` (the sum of the weights) and, per kind,
        ``weight`` (scale, one cell, constant), ``at`` (one cell), ``positive``
        (``"left"``/``"right"``/``"top"``/``"bottom"``: the side with the positive
        weights) and ``magnitudes`` (edges), ``low``/``high`` (other).

    Examples
    --------
    >>> print(describe_kernel(np.array([[1.0, 0.0, -1.0]] * 3)))
    ... # doctest: +NORMALIZE_WHITESPACE
    a 3×3 vertical-edge kernel (+1 left, −1 right): it responds where brightness changes
    from left to right
    >>> print(describe_kernel(np.array([[2.0]])))
    a 1×1 kernel of 2: each output is one input cell times 2
    """
    k = as_matrix(kernel, "kernel")
    if k.ndim != 2:
        raise ConvError(f"describe_kernel needs a (kh, kw) kernel, got shape {k.shape}.")
    h, w = k.shape
    size = f"{h}×{w}"
    facts: dict[str, object] = {"shape": (h, w), "total": float(k.sum())}
    if not k.any():
        return Claim(
            f"an all-zero {size} kernel: every product is 0, so every output is 0 (plus the bias)",
            kind="zero",
            **facts,
        )
    if k.size == 1:
        v = float(k[0, 0])
        copy = " (a copy)" if v == 1 else ""
        return Claim(
            f"a 1×1 kernel of {format_number(v)}: each output is one input cell times "
            f"{format_number(v)}{copy}",
            kind="scale",
            weight=v,
            **facts,
        )
    for kind, arr, sides, change in (
        ("vertical edge", k, ("left", "right"), "from left to right"),
        ("horizontal edge", k.T, ("top", "bottom"), "from top to bottom"),
    ):
        sign = _edge_side(arr)
        if not sign:
            continue
        half = arr[:, : arr.shape[1] // 2]
        first, second = sides if sign > 0 else sides[::-1]
        mags = np.unique(np.abs(half[half != 0]))
        plus = _and([f"+{format_number(v)}" for v in mags])
        minus = _and([f"−{format_number(v)}" for v in mags])
        weights = f"{plus} {first}, {minus} {second}"
        if len(mags) > 1:
            weights = f"{plus} on the {first}, {minus} on the {second}"
        return Claim(
            f"a {size} {kind.replace(' ', '-')} kernel ({weights}): "
            f"it responds where brightness changes {change}",
            kind=kind,
            positive=first,
            magnitudes=tuple(float(v) for v in mags),
            **facts,
        )
    nonzero = np.argwhere(k != 0)
    if len(nonzero) == 1:
        (r, c), v = nonzero[0], float(k[tuple(nonzero[0])])
        centre = h % 2 == 1 and w % 2 == 1 and (r, c) == (h // 2, w // 2)
        where = "at its centre" if centre else f"at row {r}, column {c}"
        what = "the input cell under that weight"
        what += "" if v == 1 else f" times {format_number(v)}"
        return Claim(
            f"a {size} kernel with one non-zero weight, {format_number(v)} {where}: each output "
            f"is {what}" + (" (an identity)" if centre and v == 1 else ""),
            kind="one cell",
            weight=v,
            at=(int(r), int(c)),
            **facts,
        )
    if np.unique(k).size == 1:
        v = float(k[0, 0])
        what = f"{format_number(v)} × the sum of its window"
        if v == 1:
            what = "the sum of its window"
        elif np.isclose(v * k.size, 1.0):
            what = "the mean of its window (a blur)"
        return Claim(
            f"a {size} kernel with every weight {format_number(v)}: each output is {what}",
            kind="constant",
            weight=v,
            **facts,
        )
    return Claim(
        f"a {size} kernel with weights from {format_number(k.min())} to "
        f"{format_number(k.max())} (sum {format_number(k.sum())})",
        kind="other",
        low=float(k.min()),
        high=float(k.max()),
        **facts,
    )


# ----------------------------------------------------------------------------- images
def read_image(data: bytes, rgb: bool = False, max_side: int = 160) -> np.ndarray:
    """Decode uploaded image bytes to floats in [0, 1], shrunk to at most ``max_side``.

    Parameters
    ----------
    data : bytes
        PNG/JPEG/... file contents.
    rgb : bool
        ``True`` for ``(H, W, 3)``, else grayscale ``(H, W)``.
    max_side : int
        Longest side after shrinking (keeps the page fast).

    Raises
    ------
    ConvError
        The bytes are not an image Pillow can read.
    """
    from cnnviz import imaging  # Pillow only; checks size and refuses decompression bombs

    try:
        img = imaging.open_image(data)
    except imaging.ImageError as exc:
        raise ConvError(str(exc)) from None
    img = img.convert("RGB" if rgb else "L")
    img.thumbnail((max_side, max_side))
    return np.asarray(img, dtype=np.float64) / 255.0


def padding_frame(
    input_shape: Sequence[int],
    kernel_shape: Sequence[int],
    stride: int = 1,
    padding: str | int = "same",
    dilation: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Which output rows and columns have a window that overlaps the padding.

    An output cell lies in the padding's *frame* when its row or its column is marked.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(Ho,)`` and ``(Wo,)`` bool.

    Examples
    --------
    >>> rows, cols = padding_frame((4, 5), (3, 2))
    >>> rows.tolist(), cols.tolist()
    ([True, False, False, True], [False, False, False, False, True])
    """
    masks = []
    for n, k in zip(input_shape[:2], kernel_shape[:2], strict=True):
        out = output_size(n, k, stride, padding, dilation)
        before, _ = pad_amounts(n, k, stride, padding, dilation)
        taps = np.arange(out)[:, None] * stride - before + np.arange(k) * dilation  # (out, k)
        masks.append(((taps < 0) | (taps >= n)).any(axis=1))
    return masks[0], masks[1]


def _same_without_zeros(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The 'same' convolution with the picture's edge pixels repeated instead of zeros."""
    x = as_matrix(image, "image")
    k = as_matrix(kernel, "kernel")
    pads = [pad_amounts(n, kk, 1, "same") for n, kk in zip(x.shape[:2], k.shape[:2], strict=True)]
    xp = np.pad(x, pads + [(0, 0)] * (x.ndim - 2), mode="edge")
    return conv2d(xp, k, padding="valid")


@claims.claim
def frame_sentence(
    image: np.ndarray, kernel: np.ndarray, padding: str = "same", relu: bool = False
) -> Claim:
    """What the padding does to a picture's feature map, and whether its frame sets the colours.

    With ``"same"`` padding the outer rows and columns of the map come from windows that
    overlap the zero padding (:func:`padding_frame`). When the strongest response
    (largest ``|response|``, which sets the symmetric colour range) lies there and not
    inside, the sentence says so, gives both maxima, says whether the zeros make it (the
    same map with the picture's edge pixels repeated instead of zeros is computed for the
    comparison) and offers ``'valid'``, which leaves the frame out.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(H, W, C)`` picture.
    kernel : array_like
        ``(kh, kw)`` or ``(kh, kw, C)``: one filter, stride 1, no dilation.
    padding : {"same", "valid"}
    relu : bool
        Whether the map passes through ReLU (as drawn).

    Returns
    -------
    Claim
        Facts ``padding``, ``output_shape``, ``frame`` (cells in the frame), ``frame_max``
        and ``interior_max`` (largest ``|response|`` in and out of the frame; None where
        there is no such cell), ``limit`` (the colour range's end, the largest
        ``|response|``), ``in_frame`` (the frame's maximum beats the interior's),
        ``from_zeros`` (the frame's maximum with edge pixels repeated is smaller; None when
        not ``in_frame``) and ``without_zeros`` (that maximum).

    Examples
    --------
    >>> x = np.full((5, 5), 1.0)
    >>> print(frame_sentence(x, KERNELS["sobel x"]))  # doctest: +NORMALIZE_WHITESPACE
    Padding 'same' keeps the feature map the size of the input (5×5) by adding zeros around
    it. The strongest responses (up to 4 in size) lie in its frame, the outer rows and
    columns whose windows overlap the zero padding, and the zeros make them: with the
    picture's edge pixels repeated instead of zeros, the frame's strongest would be 0. They
    set the colour range (±4); inside the frame the strongest is 0. Choose padding 'valid'
    to leave the frame out.
    """
    padding = _check_padding(padding)
    if padding not in ("same", "valid"):
        raise ConvError(f"padding must be 'same' or 'valid' here, got {padding!r}.")
    x, k = as_matrix(image, "image"), as_matrix(kernel, "kernel")
    fmap = conv2d(x, k if k.ndim != 3 else k[..., None], padding=padding)
    fmap = fmap[..., 0] if fmap.ndim == 3 else fmap
    fmap = np.maximum(fmap, 0.0) if relu else fmap
    h, w = x.shape[:2]
    ho, wo = fmap.shape
    magnitude = np.abs(fmap)
    limit = float(magnitude.max())
    facts: dict[str, object] = {
        "padding": padding,
        "output_shape": (ho, wo),
        "limit": limit,
        "frame": 0,
        "frame_max": None,
        "interior_max": limit,
        "in_frame": False,
        "from_zeros": None,
        "without_zeros": None,
    }
    if padding == "valid":
        return Claim(
            f"Padding 'valid' adds no zeros, so the feature map ({ho}×{wo}) is {h - ho} "
            f"{'row' if h - ho == 1 else 'rows'} and {w - wo} "
            f"{'column' if w - wo == 1 else 'columns'} smaller than the input and has no "
            "padding frame.",
            **facts,
        )
    rows, cols = padding_frame(x.shape, k.shape)
    frame = rows[:, None] | cols[None, :]
    text = (
        f"Padding 'same' keeps the feature map the size of the input ({ho}×{wo}) by adding "
        "zeros around it."
    )
    if not frame.any():
        facts["interior_max"] = limit
        return Claim(text + " With this kernel no window overlaps the padding.", **facts)
    frame_max = float(magnitude[frame].max())
    interior_max = float(magnitude[~frame].max()) if (~frame).any() else None
    facts.update(frame=int(frame.sum()), frame_max=frame_max, interior_max=interior_max)
    if interior_max is not None and frame_max <= interior_max:
        return Claim(text, **facts)
    edge = _same_without_zeros(x, k if k.ndim != 3 else k[..., None])
    edge = edge[..., 0] if edge.ndim == 3 else edge
    edge = np.maximum(edge, 0.0) if relu else edge
    without = float(np.abs(edge)[frame].max())
    from_zeros = without < frame_max
    facts.update(in_frame=True, from_zeros=from_zeros, without_zeros=without)
    if interior_max is None:
        return Claim(
            text + " Every output cell's window overlaps the zero padding: the whole map is "
            "its frame, and it sets the colour range "
            f"(±{format_number(frame_max)}). The picture is too small for this kernel "
            "without padding ('valid' leaves no output).",
            **facts,
        )
    cause = (
        "and the zeros make them: with the picture's edge pixels repeated instead of zeros, "
        f"the frame's strongest would be {format_number(without)}"
        if from_zeros
        else "but not because of the zeros: with the picture's edge pixels repeated instead, "
        f"the frame's strongest would be {format_number(without)}"
    )
    return Claim(
        text + f" The strongest responses (up to {format_number(frame_max)} in size) lie in "
        "its frame, the outer rows and columns whose windows overlap the zero padding, "
        f"{cause}. They set the colour range (±{format_number(frame_max)}); inside the frame "
        f"the strongest is {format_number(interior_max)}. Choose padding 'valid' to leave the "
        "frame out.",
        **facts,
    )
