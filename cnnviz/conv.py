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
    "compare_paddings",
    "conv2d",
    "conv_steps",
    "format_number",
    "output_size",
    "output_size_working",
    "pad_amounts",
    "read_image",
    "relu",
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


def as_matrix(values: object, name: str = "matrix") -> np.ndarray:
    """Convert numbers (nested lists, an array, a DataFrame) to a float64 array.

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
        If a cell is empty, not a number, or not finite; the message names the cell.

    Examples
    --------
    >>> as_matrix([["1", 2], [3, 4.5]])
    array([[1. , 2. ],
           [3. , 4.5]])
    """
    values = getattr(values, "values", values)
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf" and values.size:
        # Already numbers (an image, a kernel): no per-cell work, only the finiteness check.
        out = np.array(values, dtype=np.float64)  # a copy: callers may change it in place
        if np.all(np.isfinite(out)):
            return out
    raw = np.asarray(values, dtype=object)
    if raw.size == 0:
        raise ConvError(f"The {name} is empty.")
    flat = raw.ravel()
    try:
        out = np.asarray(flat.tolist(), dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if out is None or not np.all(np.isfinite(out)):
        # Only reached on bad input: find the first offending cell to name it.
        for i, cell in enumerate(flat):
            try:
                ok = np.isfinite(float(cell))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                where = np.unravel_index(i, raw.shape)
                pos = ", ".join(str(int(p) + 1) for p in where)
                empty = cell is None or cell == "" or (isinstance(cell, float) and np.isnan(cell))
                shown = "an empty cell" if empty else repr(cell)
                raise ConvError(
                    f"The {name} must contain only numbers, but cell ({pos}) holds {shown}."
                )
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
        terms = [
            f"{_bracket(a)}×{_bracket(w)}"
            for a, w in zip(window.ravel(), weights.ravel(), strict=True)
        ]
        if len(terms) > max_terms:
            half = max_terms // 2
            terms = [*terms[:half], "…", *terms[-half:]]
        text = " + ".join(terms)
        if self.bias:
            sign = "-" if self.bias < 0 else "+"
            text += f" {sign} {format_number(abs(self.bias))} (bias)"
        return f"{text} = {format_number(self.value)}"


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
