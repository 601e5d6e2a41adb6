"""Plotly figures for the arithmetic pages: convolution / pooling steps, stride grids, images.

Pages only display what these return. Grids use *input coordinates*: padding cells sit
at row/column ``-1``, ``H`` …, so a step's ``rows``/``cols`` index the figure directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.conv import format_number, output_size, pad_amounts

__all__ = [
    "image_pair_figure",
    "matrix_figure",
    "shift_demo_figure",
    "step_figure",
    "stride_animation",
]

ACCENT = "#d6336c"  # the theme's primary colour: what the learner should look at
PAD_BG = "#e9ecef"  # padding cells are left empty (NaN) and show this background
_CELL_PX = 34


def _text(z: np.ndarray, blank: np.ndarray | None = None, fill: str = "") -> np.ndarray:
    """Cell labels for a heatmap; ``blank`` cells get ``fill`` instead of a number."""
    labels = np.array(
        [format_number(v) if np.isfinite(v) else fill for v in z.ravel()], dtype=object
    )
    labels = labels.reshape(z.shape)
    if blank is not None:
        labels[blank] = fill
    return labels


def _heatmap(z, text, rows, cols, colorscale="Blues", zmin=None, zmax=None, **kw) -> go.Heatmap:
    return go.Heatmap(
        z=z,
        x=cols,
        y=rows,
        text=text,
        texttemplate="%{text}",
        textfont={"size": 13},
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        showscale=False,
        xgap=2,
        ygap=2,
        hoverinfo="skip",
        **kw,
    )


def _box(fig: go.Figure, r: int, c: int, row: int, col: int, color=ACCENT, width=3) -> None:
    """Outline one cell at data coordinates (r, c) in subplot (row, col)."""
    fig.add_shape(
        type="rect",
        x0=c - 0.5,
        x1=c + 0.5,
        y0=r - 0.5,
        y1=r + 0.5,
        line={"color": color, "width": width},
        row=row,
        col=col,
    )


def _square_axes(fig: go.Figure, n_axes: int) -> None:
    """Matrix orientation (row 0 on top), square cells, no tick clutter."""
    for i in range(1, n_axes + 1):
        suffix = "" if i == 1 else str(i)
        fig.layout[f"yaxis{suffix}"].update(
            autorange="reversed", scaleanchor=f"x{suffix}", showticklabels=False, showgrid=False
        )
        fig.layout[f"xaxis{suffix}"].update(
            showticklabels=False, showgrid=False, zeroline=False, constrain="domain"
        )
        fig.layout[f"yaxis{suffix}"].update(zeroline=False)


def matrix_figure(z: np.ndarray, title: str = "", colorscale: str = "Blues") -> go.Figure:
    """One annotated grid of numbers (e.g. a kernel or a pooled output).

    Parameters
    ----------
    z : numpy.ndarray
        ``(H, W)`` values.
    title : str
    colorscale : str
    """
    z = np.asarray(z, dtype=float)
    fig = go.Figure(_heatmap(z, _text(z), np.arange(z.shape[0]), np.arange(z.shape[1]), colorscale))
    _square_axes(fig, 1)
    fig.update_layout(
        title=title,
        height=60 + _CELL_PX * z.shape[0] + 40,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="white",
    )
    return fig


def step_figure(
    x: np.ndarray,
    output: np.ndarray,
    step,
    pads: tuple[tuple[int, int], tuple[int, int]],
    kernel: np.ndarray | None = None,
    op: str = "convolution",
) -> go.Figure:
    """Input (with padding), kernel and output at one step of a convolution or pooling.

    Parameters
    ----------
    x : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` input; one row of panels per channel.
    output : numpy.ndarray
        ``(Ho, Wo)`` full result; cells after ``step`` are shown as ``?``.
    step : cnnviz.conv.ConvStep or cnnviz.pooling.PoolStep
        The current placement (``rows``, ``cols``, ``index``, ``out_row``, ``out_col``).
    pads : ((top, bottom), (left, right))
    kernel : numpy.ndarray, optional
        ``(kh, kw)`` or ``(kh, kw, C)``; omitted for pooling.
    op : str
        Word used in the titles.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    x = np.asarray(x, dtype=float)
    x = x[:, :, None] if x.ndim == 2 else x  # (H, W, C)
    h, w, c = x.shape
    (top, bottom), (left, right) = pads
    rows, cols = np.arange(-top, h + bottom), np.arange(-left, w + right)
    has_k = kernel is not None
    ncols = 3 if has_k else 2
    output = np.asarray(output, dtype=float)
    ho, wo = output.shape
    done = (np.arange(ho * wo) <= step.index).reshape(ho, wo)
    names = ("red", "green", "blue") if c == 3 else tuple(str(i) for i in range(c))
    chan = [f" · {names[i]}" if c > 1 else "" for i in range(c)]
    titles = []
    for i in range(c):
        titles.append(f"Input {h}×{w}{chan[i]}" + (" (grey = padding)" if top + left else ""))
        if has_k:
            titles.append(f"Kernel{chan[i]}")
        if i == 0:
            titles.append(f"Output {ho}×{wo} ({op})")
    specs = [[{} for _ in range(ncols)] for _ in range(c)]
    specs[0][-1] = {"rowspan": c}
    for i in range(1, c):
        specs[i][-1] = None
    fig = make_subplots(
        rows=c,
        cols=ncols,
        specs=specs,
        subplot_titles=titles,
        horizontal_spacing=0.06,
        vertical_spacing=0.08,
        column_widths=[len(cols), kernel.shape[1] + 1, wo + 1] if has_k else [len(cols), wo + 1],
    )
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    for i in range(c):
        padded = np.full((len(rows), len(cols)), np.nan)  # NaN = padding, drawn as background
        padded[top : top + h, left : left + w] = x[:, :, i]
        pad_text = "0" if has_k else ""
        fig.add_trace(
            _heatmap(padded, _text(padded, fill=pad_text), rows, cols, "Blues", lo, hi), i + 1, 1
        )
        for r in step.rows:
            for col in step.cols:
                _box(fig, r, col, i + 1, 1)
        winner = getattr(step, "winner", None)
        if winner is not None:
            _box(fig, step.rows[winner[0]], step.cols[winner[1]], i + 1, 1, "#1b4332", 4)
        if has_k:
            k = np.asarray(kernel, dtype=float)
            k = k[:, :, i] if k.ndim == 3 else k
            kr, kc = np.arange(k.shape[0]), np.arange(k.shape[1])
            fig.add_trace(_heatmap(k, _text(k), kr, kc, "Oranges"), i + 1, 2)
    shown = np.where(done, output, np.nan)
    fig.add_trace(
        _heatmap(shown, _text(shown, fill="?"), np.arange(ho), np.arange(wo), "Greens"),
        1,
        ncols,
    )
    _box(fig, step.out_row, step.out_col, 1, ncols)
    _square_axes(fig, c * (ncols - 1) + 1)
    tall = max(len(rows) * c, ho)
    fig.update_layout(
        height=min(120 + _CELL_PX * tall, 900),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor=PAD_BG,
    )
    return fig


def _rects(cells: Sequence[tuple[float, ...]]) -> tuple[list, list]:
    """Closed outlines of boxes as one scatter path (None-separated).

    Each box is ``(row, col)`` for a unit cell or ``(row, col, height, width)``.
    """
    xs: list = []
    ys: list = []
    for r, c, *size in cells:
        h, w = size if size else (1, 1)
        xs += [c, c + w, c + w, c, c, None]
        ys += [r, r, r + h, r + h, r, None]
    return xs, ys


def stride_animation(
    n: int, kernel: int, stride: int = 1, padding: str | int = "valid", dilation: int = 1
) -> go.Figure:
    """A conv_arithmetic-style animation: the kernel sliding over a padded input.

    Input cells are blue, padding cells white with dashed borders, the output grid is
    drawn to the right; each frame shades the cells the kernel covers and the output
    cell it fills. Play/pause and a step slider run in the browser (no reruns).

    Parameters
    ----------
    n, kernel, stride, dilation : int
        Square input, kernel, stride and dilation.
    padding : {"valid", "same"} or int

    Raises
    ------
    cnnviz.conv.ConvError
        The settings are impossible (e.g. kernel larger than the padded input).
    """
    out = output_size(n, kernel, stride, padding, dilation)
    before, after = pad_amounts(n, kernel, stride, padding, dilation)
    total = n + before + after
    gap = 2.0
    ox = total + gap  # output grid starts here (x)
    inputs = [(r, c) for r in range(total) for c in range(total)]
    real = [(r, c) for r, c in inputs if before <= r < before + n and before <= c < before + n]
    pad = [(r, c) for r, c in inputs if (r, c) not in set(real)]
    outputs = [(r, ox + c) for r in range(out) for c in range(out)]

    def poly(cells, fill, line, dash="solid", name=""):
        xs, ys = _rects(cells)
        return go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            fill="toself",
            fillcolor=fill,
            line={"color": line, "width": 1.5, "dash": dash},
            hoverinfo="skip",
            name=name,
            showlegend=False,
        )

    def done(step: int) -> list[tuple[int, ...]]:
        """Output cells already computed: full rows as one box, the current row as another
        (two boxes per frame whatever the size, so the figure stays small)."""
        i, j = divmod(step, out)
        return [box for box in ((0, ox, i, out), (i, ox, 1, j)) if box[2] and box[3]]

    def moving(step: int) -> list[go.Scatter]:
        i, j = divmod(step, out)
        cover = [
            (i * stride + a * dilation, j * stride + b * dilation)
            for a in range(kernel)
            for b in range(kernel)
        ]
        return [
            poly(cover, "rgba(214,51,108,0.55)", ACCENT, name="kernel"),
            poly([(i, ox + j)], "rgba(214,51,108,0.75)", ACCENT, name="current output"),
            poly(done(step), "rgba(47,158,68,0.45)", "#2b8a3e", name="done"),
        ]

    static = [
        poly(pad, "white", "#868e96", "dot", "padding"),
        poly(real, "#74c0fc", "#1864ab", name="input"),
        poly(outputs, "#d3f9d8", "#2b8a3e", name="output"),
    ]
    steps = out * out
    frames = [go.Frame(data=moving(s), traces=[3, 4, 5], name=str(s)) for s in range(steps)]
    fig = go.Figure(data=static + moving(0), frames=frames)
    label_y = max(total, out) + 0.7
    notes = [
        (total / 2, f"<b>Input</b> {n}×{n} (blue)"),
        (ox + out / 2, f"<b>Output</b> {out}×{out}"),
    ]
    if before + after:
        notes.append((total / 2, f"<i>padding</i> (dotted): {before} before, {after} after"))
    annotations = [
        # Input and output labels on one line under their grids; padding on the next.
        {"x": x, "y": label_y + 0.9 * (k // 2), "text": t, "showarrow": False, "font": {"size": 14}}
        for k, (x, t) in enumerate(notes)
    ]
    slider = {
        "active": 0,
        "currentvalue": {"prefix": "Step "},
        "x": 0.22,
        "len": 0.78,
        "pad": {"t": 10},
        "steps": [
            {
                "label": str(s + 1),
                "method": "animate",
                "args": [[str(s)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}],
            }
            for s in range(steps)
        ],
    }
    play = {
        "type": "buttons",
        "showactive": False,
        "direction": "left",
        "x": 0,
        "y": 0,
        "xanchor": "left",
        "yanchor": "top",
        "pad": {"t": 30},
        "buttons": [
            {
                "label": "▶ Play",
                "method": "animate",
                "args": [None, {"frame": {"duration": 600, "redraw": True}, "fromcurrent": True}],
            },
            {
                "label": "❚❚ Pause",
                "method": "animate",
                "args": [[None], {"mode": "immediate", "frame": {"duration": 0}}],
            },
        ],
    }
    width = ox + out
    fig.update_layout(
        annotations=annotations,
        sliders=[slider],
        updatemenus=[play],
        xaxis={"visible": False, "range": [-0.5, width + 0.5]},
        yaxis={
            "visible": False,
            "scaleanchor": "x",
            "range": [label_y + 0.9 * len(notes), -0.5],  # reversed: row 0 on top
        },
        height=max(320, 40 * (total + len(notes)) + 140),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        plot_bgcolor="white",
    )
    return fig


def image_pair_figure(
    image: np.ndarray, feature: np.ndarray, titles: tuple[str, str] = ("Input", "Feature map")
) -> go.Figure:
    """An image (gray ``(H, W)`` or RGB ``(H, W, 3)`` in [0, 1]) beside a feature map.

    The feature map uses a diverging scale centred on 0, so negative responses (blue) and
    positive ones (red) are both visible.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.04)
    image = np.asarray(image, dtype=float)
    if image.ndim == 3:
        fig.add_trace(go.Image(z=np.clip(image * 255, 0, 255).astype(np.uint8)), 1, 1)
    else:
        # [0, 1] for a photo; wider when the left panel is itself a feature map.
        lo, hi = min(0.0, float(np.nanmin(image))), max(1.0, float(np.nanmax(image)))
        gray = [[0, "black"], [1, "white"]]
        fig.add_trace(go.Heatmap(z=image, colorscale=gray, showscale=False, zmin=lo, zmax=hi), 1, 1)
    fig.add_trace(
        go.Heatmap(
            z=feature,
            colorscale="RdBu_r",
            zmid=0,
            colorbar={"len": 0.8, "thickness": 12},
            hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        ),
        1,
        2,
    )
    _square_axes(fig, 2)
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def shift_demo_figure(
    inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    labels: Sequence[str],
    unchanged: Sequence[bool],
) -> go.Figure:
    """Inputs on the top row, their max-pooled maps below, each pooled map marked
    "same as original" or "changed"."""
    n = len(inputs)
    below = [f"pooled: {'same as original' if u else 'CHANGED'}" for u in unchanged]
    fig = make_subplots(rows=2, cols=n, subplot_titles=[*labels, *below], vertical_spacing=0.12)
    for i, (x, y) in enumerate(zip(inputs, outputs, strict=True)):
        x, y = np.asarray(x, float), np.asarray(y, float)
        fig.add_trace(
            _heatmap(x, _text(x), np.arange(x.shape[0]), np.arange(x.shape[1]), "Blues", 0, 1),
            1,
            i + 1,
        )
        fig.add_trace(
            _heatmap(y, _text(y), np.arange(y.shape[0]), np.arange(y.shape[1]), "Greens", 0, 1),
            2,
            i + 1,
        )
    _square_axes(fig, 2 * n)
    fig.update_layout(height=520, margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor=PAD_BG)
    return fig
