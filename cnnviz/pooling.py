"""Pooling in numpy: ``pool2d`` (max / avg / sum), ``global_pool`` and a step trace.

Matches ``keras.layers.MaxPooling2D`` / ``AveragePooling2D`` (channels last), including
``"same"`` padding, where padded cells never win a max and are left out of an average.

>>> import numpy as np
>>> x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
>>> pool2d(x)
array([[6., 8.],
       [3., 4.]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnviz import claims, translation
from cnnviz.claims import Claim
from cnnviz.conv import (
    _check_padding,
    _nested,
    _pair,
    as_matrix,
    format_number,
    output_size,
    pad_amounts,
    padding_words,
    plural,
    reached,
)

__all__ = [
    "MODES",
    "PRESETS",
    "PoolError",
    "PoolStep",
    "ShiftDemo",
    "global_pool",
    "pool2d",
    "pool_steps",
    "pool_trace",
    "shift",
    "shift_demo",
    "size_sentence",
]

MODES = ("max", "avg", "sum")


class PoolError(ValueError):
    """A bad argument to a pooling operation (the message names the bad value)."""


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise PoolError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    return str(mode)


@dataclass(frozen=True)
class _Plan:
    x: np.ndarray  # (H, W, C)
    size: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    out_shape: tuple[int, int]
    squeeze: bool


def _plan(x, size, stride, padding) -> _Plan:
    try:
        x = as_matrix(x, "input")
        size = _pair(size, "pool size")
        stride = size if stride is None else _pair(stride, "stride")
        padding = _check_padding(padding)
    except ValueError as exc:
        raise PoolError(str(exc)) from None
    squeeze = x.ndim == 2
    if squeeze:
        x = x[:, :, None]
    if x.ndim != 3:
        raise PoolError(f"The input must be (H, W) or (H, W, C), got shape {x.shape}.")
    if isinstance(padding, int) and padding >= min(size):
        raise PoolError(
            f"padding must be smaller than the pool size {min(size)}, got {padding}: "
            "a window made only of padding has nothing to pool."
        )
    try:
        pads = tuple(
            pad_amounts(n, k, s, padding) for n, k, s in zip(x.shape[:2], size, stride, strict=True)
        )
        out_shape = tuple(
            output_size(n, k, s, padding) for n, k, s in zip(x.shape[:2], size, stride, strict=True)
        )
    except ValueError as exc:
        raise PoolError(str(exc).replace("kernel", "pool window")) from None
    return _Plan(x, size, stride, pads, out_shape, squeeze)


def _windows(plan: _Plan, arr: np.ndarray, fill: float) -> np.ndarray:
    """Every pooling window of ``arr`` (H, W, C): ``(Ho, Wo, C, ph, pw)`` strided view."""
    (sh, sw), (ho, wo) = plan.stride, plan.out_shape
    ap = np.pad(arr, (*plan.pads, (0, 0)), constant_values=fill)
    win = sliding_window_view(ap, plan.size, axis=(0, 1))
    return win[: (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw]


def _reduce(plan: _Plan, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Pooled values ``(Ho, Wo, C)`` and the per-window count of real (unpadded) cells."""
    real = _windows(plan, np.ones((*plan.x.shape[:2], 1)), 0.0).sum(axis=(3, 4))  # (Ho,Wo,1)
    if mode == "max":
        return _windows(plan, plan.x, -np.inf).max(axis=(3, 4)), real
    total = _windows(plan, plan.x, 0.0).sum(axis=(3, 4))
    return (total / real if mode == "avg" else total), real


def pool2d(
    x: np.ndarray,
    size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str | int = "valid",
    mode: str = "max",
) -> np.ndarray:
    """Max, average or sum pooling of each channel separately.

    Parameters
    ----------
    x : array_like
        ``(H, W)`` or ``(H, W, C)``.
    size : int or (int, int)
        Pool window.
    stride : int or (int, int), optional
        Defaults to ``size`` (windows side by side, like Keras).
    padding : {"valid", "same"} or int
        ``"same"`` follows TensorFlow; padded cells are ignored by max and avg.
    mode : {"max", "avg", "sum"}

    Returns
    -------
    numpy.ndarray
        float64 ``(Ho, Wo)`` or ``(Ho, Wo, C)``.

    Raises
    ------
    PoolError
        Bad size/stride/padding/mode, a window larger than the input, non-numeric values.

    Examples
    --------
    >>> pool2d(np.arange(9).reshape(3, 3), mode="avg", padding="same")
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    mode = _check_mode(mode)
    plan = _plan(x, size, stride, padding)
    out, _ = _reduce(plan, mode)
    return out[:, :, 0] if plan.squeeze else out


def global_pool(x: np.ndarray, mode: str = "avg") -> np.ndarray | float:
    """Pool over the whole spatial extent (``GlobalMaxPooling2D`` / ``GlobalAveragePooling2D``).

    Returns a float for ``(H, W)`` input, a ``(C,)`` array for ``(H, W, C)``.

    Examples
    --------
    >>> global_pool(np.arange(4).reshape(2, 2), "max")
    3.0
    """
    mode = _check_mode(mode)
    try:
        x = as_matrix(x, "input")
    except ValueError as exc:
        raise PoolError(str(exc)) from None
    if x.ndim not in (2, 3):
        raise PoolError(f"The input must be (H, W) or (H, W, C), got shape {x.shape}.")
    fn = {"max": np.max, "avg": np.mean, "sum": np.sum}[mode]
    out = fn(x, axis=(0, 1))
    return float(out) if x.ndim == 2 else out


@dataclass(frozen=True)
class PoolStep:
    """One placement of the pooling window (for one channel).

    Attributes
    ----------
    index, out_row, out_col : int
        Step number and the output cell it fills.
    rows, cols : tuple of int
        Input rows/columns under the window; < 0 or >= H/W means padding.
    padded : numpy.ndarray
        ``(ph, pw)`` bool, True on padding cells.
    window : numpy.ndarray
        ``(ph, pw)`` values (NaN on padding: they take no part).
    mode : str
    value : float
    winner : tuple of int or None
        ``(r, c)`` inside the window of the max (first one on ties); None for avg/sum.
    """

    index: int
    out_row: int
    out_col: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    padded: np.ndarray
    window: np.ndarray
    mode: str
    value: float
    winner: tuple[int, int] | None

    @claims.claim
    def expression(self) -> Claim:
        """E.g. ``"max(1, 1, 5, 6) = 6"`` or ``"(1 + 1 + 5 + 6) / 4 = 3.25"``.

        Facts ``mode``, ``cells`` (the real cells it names, padding left out), ``count``
        and ``value``.
        """
        real = self.window[~self.padded]
        cells = [format_number(v) for v in real]
        facts = {
            "mode": self.mode,
            "cells": tuple(float(v) for v in real),
            "count": len(cells),
            "value": self.value,
        }
        if self.mode == "max":
            return Claim(f"max({', '.join(cells)}) = {format_number(self.value)}", **facts)
        text = " + ".join(cells)
        if self.mode == "avg":
            return Claim(f"({text}) / {len(cells)} = {format_number(self.value)}", **facts)
        return Claim(f"{text} = {format_number(self.value)}", **facts)


def pool_steps(
    x: np.ndarray,
    size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str | int = "valid",
    mode: str = "max",
    channel: int = 0,
) -> list[PoolStep]:
    """The window placements of :func:`pool2d`, in row-major order, for one channel.

    Examples
    --------
    >>> [s.expression() for s in pool_steps([[1, 2], [3, 4]], mode="avg")]
    ['(1 + 2 + 3 + 4) / 4 = 2.5']
    """
    mode = _check_mode(mode)
    plan = _plan(x, size, stride, padding)
    if not 0 <= channel < plan.x.shape[2]:
        raise PoolError(f"channel must be in 0..{plan.x.shape[2] - 1}, got {channel!r}.")
    values = _reduce(plan, mode)[0][:, :, channel]
    win = _windows(plan, plan.x[:, :, channel : channel + 1], np.nan)[:, :, 0]  # (Ho,Wo,ph,pw)
    ph, pw = plan.size
    ho, wo = plan.out_shape
    flat = np.where(np.isnan(win), -np.inf, win).reshape(ho, wo, -1).argmax(axis=-1)
    row_idx = np.arange(ho)[:, None] * plan.stride[0] - plan.pads[0][0] + np.arange(ph)
    col_idx = np.arange(wo)[:, None] * plan.stride[1] - plan.pads[1][0] + np.arange(pw)
    return [
        PoolStep(
            index=i * wo + j,
            out_row=i,
            out_col=j,
            rows=tuple(int(r) for r in row_idx[i]),
            cols=tuple(int(c) for c in col_idx[j]),
            padded=np.isnan(win[i, j]),
            window=win[i, j].copy(),
            mode=mode,
            value=float(values[i, j]),
            winner=(int(flat[i, j] // pw), int(flat[i, j] % pw)) if mode == "max" else None,
        )
        for i in range(ho)
        for j in range(wo)
    ]


# Matrices for the Pooling page; the first is the textbook 4×4 → 2×2 max-pool example.
PRESETS: dict[str, np.ndarray] = {
    "Textbook 4×4": np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], float),
    "Random 6×6": np.random.default_rng(0).integers(0, 10, size=(6, 6)).astype(float),
    "5×5 (odd: try 'same' padding)": np.arange(25, dtype=float).reshape(5, 5),
}


def shift(x: np.ndarray, dy: int = 0, dx: int = 0) -> np.ndarray:
    """Move an image by whole pixels, filling the uncovered border with zeros.

    Used by the shift-invariance demo: pooling's output survives a shift that stays
    inside each pooling window.

    Examples
    --------
    >>> shift(np.eye(2), dx=1)
    array([[0., 1.],
           [0., 0.]])
    """
    return translation.shift(as_matrix(x, "input"), dx=dx, dy=dy)


@claims.claim
def size_sentence(trace: dict) -> Claim:
    """The sizes of a :func:`pool_trace`: ``"4×4, 2×2 max windows, stride 2, no padding →
    **2×2** in 4 window positions."`` (singular for one).

    Returns
    -------
    Claim
        Facts ``input_shape``, ``window``, ``stride``, ``pads``, ``output_shape`` and
        ``positions`` (window placements).

    Examples
    --------
    >>> print(size_sentence(pool_trace(np.arange(16).reshape(4, 4), 4)))
    4×4, 4×4 max windows, stride 4, no padding → **1×1** in 1 window position.
    """
    (h, w), (ph, pw) = trace["input_shape"], trace["size"]
    (sh, sw), (ho, wo) = trace["stride"], trace["output_shape"]
    n = len(trace["steps"])
    stride = f"stride {sh}" if sh == sw else f"stride ({sh}, {sw})"
    op = {"max": "max", "avg": "average", "sum": "sum"}[trace["mode"]]
    padding = trace["padding"]
    if isinstance(padding, int) and padding > 0:  # padded cells are not zeros here
        words = f"padding {padding} on every side (padded cells take no part)"
    else:
        words = padding_words(padding, trace["pads"])
    return Claim(
        f"{h}×{w}, {ph}×{pw} {op} windows, {stride}, {words} → **{ho}×{wo}** in "
        f"{plural(n, 'window position')}.",
        input_shape=(int(h), int(w)),
        window=(int(ph), int(pw)),
        stride=(int(sh), int(sw)),
        pads=tuple(tuple(int(v) for v in p) for p in trace["pads"]),
        output_shape=(int(ho), int(wo)),
        positions=n,
    )


def pool_trace(
    x: np.ndarray,
    size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: str | int = "valid",
    mode: str = "max",
) -> dict:
    """Everything the in-browser stepper shows for a pooling of a 2-D input, JSON-able.

    Same layout as :func:`cnnviz.conv.conv_trace` (``kind`` ``"pool"``, one channel):
    ``input`` ``(1, H, W)``, ``size``, ``stride``, ``padding``, ``pads``, ``mode``,
    ``input_shape``, ``kernel_shape`` (the window), ``output_shape``, ``output``,
    ``reached`` and ``steps`` with ``out``, ``rows``, ``cols``, ``padded``, ``window``
    ``(1, ph, pw)`` (None on padding: it takes no part), ``winner`` (``[r, c]`` inside
    the window, max only, else None), ``value``, ``output`` and ``lines``.

    Raises
    ------
    PoolError
        As :func:`pool2d`, or an input that is not 2-D.

    Examples
    --------
    >>> t = pool_trace([[1, 2], [3, 4]], mode="max")
    >>> t["steps"][0]["lines"], t["steps"][0]["winner"]
    (['max(1, 2, 3, 4) = 4'], [1, 1])
    """
    mode = _check_mode(mode)
    plan = _plan(x, size, stride, padding)
    if not plan.squeeze:
        raise PoolError(f"The stepper shows a 2-D input, got shape {plan.x.shape}.")
    steps = pool_steps(x, size, stride, padding, mode)
    out = pool2d(x, size, stride, padding, mode)
    (h, w), (ph, pw) = plan.x.shape[:2], plan.size
    padding = _check_padding(padding)
    return {
        "kind": "pool",
        "mode": mode,
        "channels": [""],
        "input": _nested(plan.x[None, :, :, 0]),
        "size": [ph, pw],
        "stride": list(plan.stride),
        "dilation": [1, 1],
        "padding": padding,
        "pads": [list(p) for p in plan.pads],
        "input_shape": [h, w],
        "kernel_shape": [ph, pw],
        "output_shape": list(plan.out_shape),
        "output": _nested(out),
        "reached": {
            "rows": reached(h, ph, plan.stride[0], padding).tolist(),
            "cols": reached(w, pw, plan.stride[1], padding).tolist(),
        },
        "steps": [
            {
                "out": [s.out_row, s.out_col],
                "rows": list(s.rows),
                "cols": list(s.cols),
                "padded": s.padded.tolist(),
                "window": _nested(s.window[None]),
                "winner": None if s.winner is None else list(s.winner),
                "value": s.value,
                "output": s.value,
                "lines": [s.expression()],
            }
            for s in steps
        ],
    }


@dataclass(frozen=True)
class ShiftDemo:
    """One bright pixel pooled where it starts, moved 1 pixel, and moved a window's width.

    Attributes
    ----------
    inputs, outputs : tuple of numpy.ndarray
        The strips (``(size, W)``) and their pooled maps, one per case.
    moves : tuple of int
        Pixels moved right in each case (0 first).
    windows : tuple of tuple of int
        For each case, the pooled-map columns whose window holds the pixel.
    unchanged : tuple of bool
        Whether each pooled map equals the original's.
    labels : tuple of str
        One title per case, saying where the pixel is now.
    size, stride : int
    mode, padding : str
    """

    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]
    moves: tuple[int, ...]
    windows: tuple[tuple[int, ...], ...]
    unchanged: tuple[bool, ...]
    labels: tuple[str, ...]
    size: int
    stride: int
    mode: str
    padding: str

    @claims.claim
    def summary(self) -> Claim:
        """What the demo shows, in a few sentences built from its own results.

        Facts ``size``, ``stride``, ``mode``, ``padding``, ``moves``, ``unchanged`` (per
        move after the first: whether the pooled map equals the original's) and
        ``overlap`` (``stride < size``).
        """
        op = {"max": "max", "avg": "average", "sum": "sum"}[self.mode]
        pad = "no padding" if self.padding == "valid" else f"padding '{self.padding}'"
        text = (
            f"One bright pixel in a strip of {self.size}×{self.size} windows "
            f"(stride {self.stride}, {pad}), moved right. "
        )
        name = f"{self.size}×{self.size} {op} pooling, stride {self.stride},"
        one = self.unchanged[1]
        text += f"With {name} moving the pixel 1 px "
        text += "leaves the pooled map unchanged" if one else "already changes the pooled map"
        if len(self.moves) > 2:
            far = self.moves[2]
            verb = "leaves it unchanged" if self.unchanged[2] else "changes it"
            text += f", and moving it {far} px {verb}"
        text += "."
        facts = {
            "size": self.size,
            "stride": self.stride,
            "mode": self.mode,
            "padding": self.padding,
            "moves": self.moves[1:],
            "unchanged": self.unchanged[1:],
            "overlap": self.stride < self.size,
        }
        if one:
            return Claim(
                text + " Pooling tolerates a shift that stays inside a window, not a larger "
                "one: a little translation tolerance, not invariance.",
                **facts,
            )
        if self.size == 1:
            return Claim(
                text + " A 1×1 window pools nothing, so there is no tolerance to shifts.",
                **facts,
            )
        if self.stride < self.size:
            return Claim(
                text + f" The windows overlap (stride {self.stride} < size {self.size}), so a "
                "1 px move already enters another window: no tolerance to shifts with these "
                "settings.",
                **facts,
            )
        return Claim(
            text + " The 1 px move leaves the pixel's window: no tolerance to shifts with "
            "these settings.",
            **facts,
        )


@claims.claim
def _where(before: tuple[int, ...], after: tuple[int, ...]) -> Claim:
    """Where the pixel went, relative to the windows that held it before.

    Facts ``before`` and ``after`` (the windows holding it) and ``relation``.
    """
    facts = {"before": tuple(before), "after": tuple(after)}
    if not after:
        return Claim("in no window (the stride skips it)", relation="none", **facts)
    if after == before:
        text = "still in the same window" if len(after) == 1 else "still in the same windows"
        return Claim(text, relation="same", **facts)
    if not set(after) & set(before):
        return Claim("now in another window", relation="other", **facts)
    return Claim("also in another window (overlap)", relation="overlap", **facts)


def shift_demo(
    size: int = 2, stride: int | None = None, mode: str = "max", padding: str = "valid"
) -> ShiftDemo:
    """A single bright pixel in a strip of pooling windows, pooled before and after moving.

    The strip is ``size`` rows tall and wide enough for three window positions; the
    pixel starts in the first column. It moves 1 px (inside its window when the window
    is wider than 1) and ``size`` px (out of its window). Every flag and label comes from
    the real pooled maps (:func:`pool2d`) and window positions (:func:`pool_steps`).

    Parameters
    ----------
    size : int
        Pool window (square), >= 1.
    stride : int, optional
        Defaults to ``size``.
    mode : {"max", "avg", "sum"}
    padding : {"valid", "same"}

    Examples
    --------
    >>> demo = shift_demo(2)
    >>> demo.moves, demo.unchanged, demo.windows
    ((0, 1, 2), (True, True, False), ((0,), (0,), (1,)))
    >>> shift_demo(2, stride=1).unchanged
    (True, False, False)
    """
    mode = _check_mode(mode)
    (size, _), (stride, _) = (
        _pair(size, "pool size"),
        _pair(size if stride is None else stride, "stride"),
    )
    moves = (0, 1, size) if size > 1 else (0, 1)
    width = max(size + 2 * stride, size + 1)
    row = size // 2
    base = np.zeros((size, width))  # (size, W): one window tall
    base[row, 0] = 1.0
    inputs = tuple(shift(base, dx=m) for m in moves)
    outputs = tuple(pool2d(v, size, stride, padding, mode) for v in inputs)
    steps = pool_steps(base, size, stride, padding, mode)
    holders = tuple(
        tuple(sorted({s.out_col for s in steps if row in s.rows and m in s.cols})) for m in moves
    )
    labels = ["original: the pixel in column 0"] + [
        f"moved {m} px: {_where(holders[0], held)}"
        for m, held in zip(moves[1:], holders[1:], strict=True)
    ]
    return ShiftDemo(
        inputs=inputs,
        outputs=outputs,
        moves=moves,
        windows=holders,
        unchanged=tuple(bool(np.array_equal(o, outputs[0])) for o in outputs),
        labels=tuple(labels),
        size=size,
        stride=stride,
        mode=mode,
        padding=str(padding),
    )
