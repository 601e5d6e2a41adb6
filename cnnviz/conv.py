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

__all__ = [
    "KERNELS",
    "PRESETS",
    "RGB_EXAMPLE",
    "ConvError",
    "ConvStep",
    "as_matrix",
    "channel_names",
    "compare_paddings",
    "conv2d",
    "conv_steps",
    "conv_trace",
    "coverage_sentence",
    "format_number",
    "keras_refusal",
    "keras_sizes_sentence",
    "output_size",
    "output_size_working",
    "pad_amounts",
    "padding_words",
    "plural",
    "reached",
    "read_image",
    "relu",
    "relu_expression",
    "settings_sentence",
    "stride_example",
]


class ConvError(ValueError):
    """A bad argument to a convolution (the message names the bad value)."""


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
    ConvError
        If a cell is empty, not a plain number, or not finite; the message names the cell
        by its 0-based (row, col), as the figures and the output cells are numbered.

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
    try:
        raw = np.asarray(values)
    except ValueError:  # ragged nested lists
        raw = np.asarray(values, dtype=object)
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
    for i, cell in enumerate(flat):
        value = _cell_number(cell)
        if value is None:
            where = ", ".join(str(int(p)) for p in np.unravel_index(i, raw.shape))
            empty = cell is None or (isinstance(cell, str) and not cell.strip())
            empty = empty or (isinstance(cell, float) and np.isnan(cell))
            shown = "an empty cell" if empty else repr(cell)
            raise ConvError(
                f"The {name} must contain only numbers like 2, -1 or 0.5, but cell ({where}) "
                f"holds {shown}{_bad_cell_hint(cell)}."
            )
        out[i] = value
    return out.reshape(raw.shape)


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


def output_size_working(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> str:
    """The output-size formula as LaTeX with the learner's numbers substituted.

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
    if _check_padding(padding) == "same":
        return (
            rf"\left\lceil \frac{{n}}{{s}} \right\rceil"
            rf" = \left\lceil \frac{{{n}}}{{{stride}}} \right\rceil = {out}"
        )
    before, after = pad_amounts(n, kernel, stride, padding, dilation)
    k_sym, k_num = "k", str(kernel)
    if dilation != 1:
        k_sym = r"k_{eff}"
        k_num = f"{(kernel - 1) * dilation + 1}"
    return (
        rf"\left\lfloor \frac{{n + p_{{before}} + p_{{after}} - {k_sym}}}{{s}} \right\rfloor + 1"
        rf" = \left\lfloor \frac{{{n} + {before} + {after} - {k_num}}}{{{stride}}} \right\rfloor"
        rf" + 1 = {out}"
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

    def worked(self, channels: Sequence[str] | None = None, max_terms: int = 30) -> list[str]:
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
        """
        if self.window.ndim == 2 or self.window.shape[-1] == 1:
            return [self.expression(max_terms)]
        names = list(channels) if channels is not None else channel_names(self.window.shape[-1])
        lines = [
            f"{name}: {_terms(self.window[..., c], self.weights[..., c], max_terms)}"
            f" = {format_number(total)}"
            for c, (name, total) in enumerate(zip(names, self.subtotals, strict=True))
        ]
        lines.append(
            " + ".join(_bracket(v) for v in self.subtotals)
            + _bias_text(self.bias)
            + f" = {format_number(self.value)}"
        )
        return lines

    def expression(self, max_terms: int = 30) -> str:
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
        return f"{text} = {format_number(self.value)}"


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


def relu_expression(value: float) -> str:
    """The ReLU line of a worked sum.

    Examples
    --------
    >>> relu_expression(-1.5), relu_expression(2)
    ('ReLU: max(0, -1.5) = 0', 'ReLU: max(0, 2) = 2')
    """
    return f"ReLU: max(0, {format_number(value)}) = {format_number(max(float(value), 0.0))}"


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

    Examples
    --------
    >>> format_number(3.0), format_number(-0.125), format_number(1 / 3)
    ('3', '-0.125', '0.333')
    """
    v = float(v)
    if v == int(v):
        return str(int(v))
    return f"{v:.3f}".rstrip("0")


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


def coverage_sentence(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> str | None:
    """Which input rows/columns the kernel never touches, and why; None when it touches all.

    Examples
    --------
    >>> coverage_sentence(6, 3, stride=2)[:68]
    'The kernel never touches input rows and columns 5 (counted from 0): '
    >>> coverage_sentence(5, 3, stride=2) is None
    True
    """
    hit = reached(n, kernel, stride, padding, dilation)
    if hit.all():
        return None
    missed = np.flatnonzero(~hit)
    last = np.flatnonzero(hit).max()
    reasons = []
    if (missed < last).any():
        if stride > 1 and dilation > 1:
            reasons.append("the stride and the dilation step over them")
        elif dilation > 1:
            reasons.append("the dilated kernel skips them")
        else:
            reasons.append("the stride steps over them")
    if (missed > last).any():
        reasons.append("they lie past the last window (the ⌊ ⌋ in the formula drops them)")
    cells = ", ".join(str(int(i)) for i in missed)
    return (
        f"The kernel never touches input rows and columns {cells} (counted from 0): "
        f"{'; '.join(reasons)}, so they cannot change the output."
    )


# ----------------------------------------------------------------------------- Keras
def keras_refusal(stride: int | tuple[int, int], dilation: int | tuple[int, int]) -> str | None:
    """The error ``keras.layers.Conv2D`` raises for this stride and dilation, or None.

    Keras (3.x) refuses any stride > 1 together with any dilation > 1; cnnviz computes
    that convolution anyway (it is well defined: PyTorch allows it).

    Examples
    --------
    >>> keras_refusal(2, 1) is None
    True
    >>> keras_refusal(2, 3)[-49:]
    'Received: strides=(2, 2) and dilation_rate=(3, 3)'
    """
    s, d = _pair(stride, "stride"), _pair(dilation, "dilation")
    if max(s) > 1 and max(d) > 1:
        return (
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={s} and dilation_rate={d}"
        )
    return None


def keras_sizes_sentence(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> str:
    """What Keras's ``valid`` and ``same`` give for these settings, or Keras's refusal.

    Examples
    --------
    >>> keras_sizes_sentence(5, 3, stride=2)
    'With these n, k, s, d, Keras `valid` gives 2×2 and `same` gives 3×3.'
    >>> keras_sizes_sentence(12, 3, stride=4, dilation=3)[:60]
    'Keras refuses these settings whatever the padding: `Conv2D(1'
    """
    refusal = keras_refusal(stride, dilation)
    if refusal is not None:
        return (
            "Keras refuses these settings whatever the padding: "
            f"`Conv2D(1, {kernel}, strides={stride}, dilation_rate={dilation})` raises "
            f"ValueError: {refusal}"
        )
    sizes = {
        mode: "no output (the kernel is larger than the input)" if v is None else f"{v}×{v}"
        for mode, v in compare_paddings(n, kernel, stride, dilation).items()
    }
    return (
        f"With these n, k, s, d, Keras `valid` gives {sizes['valid']} "
        f"and `same` gives {sizes['same']}."
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


def padding_words(padding: str | int, pads: Sequence[Sequence[int]]) -> str:
    """How a padding setting reads in a sentence, with the zeros it adds.

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
    (top, bottom), (left, right) = pads
    if padding == "valid" or (isinstance(padding, int) and padding == 0):
        return "no padding"
    if isinstance(padding, int):
        return f"padding {padding} ({plural(padding, 'zero')} on every side)"
    if (top, bottom) == (left, right):
        return f"padding 'same' ({top} before, {bottom} after)"
    return (
        f"padding 'same' (rows {top} before, {bottom} after; columns {left} before, {right} after)"
    )


def settings_sentence(trace: dict) -> str:
    """One line naming the sizes and settings of a :func:`conv_trace`.

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
    return (
        f"Input {_size(trace['input_shape'])}, kernel {_size(trace['kernel_shape'])}, {stride}, "
        f"{padding_words(trace['padding'], trace['pads'])}{dilation} → output "
        f"{_size(trace['output_shape'])} after {plural(n, 'filter operation')}."
    )


def stride_example(n: int, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """A small input of digits 0–9 and a vertical-edge kernel of +1/0/−1, for the values view.

    The input is seeded by its size (the same numbers every time); the kernel has +1 in
    its left columns, −1 in its right ones and 0 in the middle one.

    Examples
    --------
    >>> stride_example(4, 3)[1]
    array([[ 1.,  0., -1.],
           [ 1.,  0., -1.],
           [ 1.,  0., -1.]])
    """
    x = np.random.default_rng(n).integers(0, 10, size=(n, n)).astype(np.float64)
    cols = np.sign((kernel - 1) / 2 - np.arange(kernel))  # (k,): +1 … 0 … −1
    return x, np.tile(cols, (kernel, 1)) + 0.0


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
