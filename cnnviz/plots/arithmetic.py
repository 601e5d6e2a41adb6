"""Figures for the arithmetic pages: the stepper's data, stride grids, images, pooling.

Pages only display what these return. Every colour comes from :mod:`cnnviz.plots.style`.
The step-by-step view runs in the browser (``app_pages/_stepper.js``) from
:func:`stepper_data`; :func:`step_figure` is the same step as a static plotly figure (what
the page redrew on the server for every step before the stepper, kept for notebooks and as
the baseline of ``benchmarks/bench_stepper.py``). Grids use *input coordinates*: padding
cells sit at row/column ``-1``, ``H`` …, so a step's ``rows``/``cols`` index them directly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.conv import format_number, output_size, pad_amounts
from cnnviz.plots import style

__all__ = [
    "image_pair_figure",
    "pooled_pair_figure",
    "shift_demo_figure",
    "step_figure",
    "stepper_data",
    "stride_animation",
]

_CELL_PX = 34
_ACCENT_FILL = "rgba(214, 51, 108, 0.45)"  # style.ACCENT, see-through
_GRID_LINES = "#dee2e6"  # shows between cells (xgap/ygap), so white cells keep a border
_RGB = ["red", "green", "blue"]


# ----------------------------------------------------------------------------- stepper
def _scale(stops: list[list], limits: tuple[float, float]) -> dict:
    """A grid's scale as the stepper reads it: a name in ``style.palette()`` and limits."""
    name = "diverging" if stops is style.DIVERGING else "sequential"
    return {"scale": name, "limits": [float(limits[0]), float(limits[1])]}


def _all(trace: dict, field: str) -> np.ndarray:
    """Every number of one field of every step (None = padding left out)."""
    vals = np.array([v for s in trace["steps"] for v in np.ravel(s[field])], dtype=object)
    return np.asarray([v for v in vals if v is not None], dtype=np.float64)


def stepper_data(trace: dict, step: int = 0) -> dict:
    """What the in-browser stepper receives: the trace, the colour scale of each grid, an id.

    Parameters
    ----------
    trace : dict
        From :func:`cnnviz.conv.conv_trace` or :func:`cnnviz.pooling.pool_trace`.
    step : int
        The step to open on (0-based; clamped to the trace).

    Returns
    -------
    dict
        ``trace``; ``palette`` (:func:`cnnviz.plots.style.palette`); ``scales``: for each
        grid (``input``, ``kernel``, ``products``, ``partials``, ``output``) its scale name
        (``diverging``, ``sequential`` or ``channels``) and limits — signed grids on the
        diverging scale with symmetric limits, the kernel slices and the per-channel maps
        each on ONE shared scale; ``id`` (changes when the trace does); ``step``.
    """
    x = np.asarray(trace["input"], dtype=np.float64)  # (C, H, W)
    out = np.asarray(trace["output"], dtype=np.float64)
    if trace["channels"] == _RGB and x.min() >= 0:
        scales = {"input": {"scale": "channels", "limits": list(style.magnitude_limits(x))}}
    else:
        scales = {"input": _scale(*style.value_scale(x))}
    if trace["kind"] == "conv":
        sums = np.asarray(trace["sums"], dtype=np.float64)
        scales["kernel"] = _scale(style.DIVERGING, style.symmetric_limits(trace["kernel"]))
        scales["products"] = _scale(
            style.DIVERGING, style.symmetric_limits(_all(trace, "products"))
        )
        partials = np.asarray(trace["partials"], dtype=np.float64)
        scales["partials"] = _scale(style.DIVERGING, style.map_limits(partials, shared=True)[0])
        both = np.concatenate([sums.ravel(), out.ravel()])
        scales["output"] = _scale(style.DIVERGING, style.symmetric_limits(both))
    else:  # pooling keeps the input's unit: input and output share one scale
        both = _scale(*style.value_scale(np.concatenate([x.ravel(), out.ravel()])))
        scales = {"input": both, "output": both}
    digest = hashlib.sha1(json.dumps(trace, sort_keys=True).encode()).hexdigest()[:16]
    n = len(trace["steps"])
    return {
        "trace": trace,
        "palette": style.palette(),
        "scales": scales,
        "id": digest,
        "step": int(min(max(step, 0), n - 1)),
    }


# ----------------------------------------------------------------------------- static step
def _text(z: np.ndarray, blank: np.ndarray | None = None, fill: str = "") -> np.ndarray:
    """Cell labels for a heatmap; ``blank`` cells get ``fill`` instead of a number."""
    labels = np.array(
        [format_number(v) if np.isfinite(v) else fill for v in z.ravel()], dtype=object
    )
    labels = labels.reshape(z.shape)
    if blank is not None:
        labels[blank] = fill
    return labels


def _cells(z, text, rows, cols, stops, limits, **kw) -> go.Heatmap:
    """A grid of numbers: each cell coloured on ``stops`` and labelled with its value."""
    return go.Heatmap(
        z=z,
        x=cols,
        y=rows,
        text=text,
        texttemplate="%{text}",
        textfont={"size": 13},
        colorscale=stops,
        zmin=limits[0],
        zmax=limits[1],
        xgap=2,
        ygap=2,
        hoverinfo="skip",
        **{"showscale": False, **kw},
    )


def _box(fig: go.Figure, r: float, c: float, row: int, col: int, color=style.ACCENT, width=3):
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


def step_figure(
    x: np.ndarray,
    output: np.ndarray,
    step,
    pads: tuple[tuple[int, int], tuple[int, int]],
    kernel: np.ndarray | None = None,
    op: str = "convolution",
) -> go.Figure:
    """Input (with padding), kernel and output at one step, as one static plotly figure.

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
        Input on its value scale, kernel slices on ONE shared diverging scale, the output
        on a diverging scale with a colour bar (the same styles as the stepper).
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
    kw = kernel.shape[1] + 1 if has_k else 0
    fig = make_subplots(
        rows=c,
        cols=ncols,
        specs=specs,
        subplot_titles=titles,
        horizontal_spacing=0.06,
        vertical_spacing=0.08,
        column_widths=[len(cols), kw, wo + 1] if has_k else [len(cols), wo + 1],
    )
    in_scale = style.value_scale(x)
    if has_k:
        k_all = np.asarray(kernel, dtype=float)
        k_limits = style.symmetric_limits(k_all)  # one scale for every slice
    for i in range(c):
        padded = np.full((len(rows), len(cols)), np.nan)  # NaN = padding, drawn as background
        padded[top : top + h, left : left + w] = x[:, :, i]
        pad_text = "0" if has_k else ""
        fig.add_trace(_cells(padded, _text(padded, fill=pad_text), rows, cols, *in_scale), i + 1, 1)
        for r in step.rows:
            for col in step.cols:
                _box(fig, r, col, i + 1, 1)
        winner = getattr(step, "winner", None)
        if winner is not None:
            _box(fig, step.rows[winner[0]], step.cols[winner[1]], i + 1, 1, "#1b4332", 4)
        if has_k:
            k = k_all[:, :, i] if k_all.ndim == 3 else k_all
            kr, kc = np.arange(k.shape[0]), np.arange(k.shape[1])
            fig.add_trace(_cells(k, _text(k), kr, kc, style.DIVERGING, k_limits), i + 1, 2)
    shown = np.where(done, output, np.nan)
    out_stops, out_limits = (style.DIVERGING, style.symmetric_limits(output)) if has_k else in_scale
    fig.add_trace(
        _cells(
            shown,
            _text(shown, fill="?"),
            np.arange(ho),
            np.arange(wo),
            out_stops,
            out_limits,
            showscale=True,
            colorbar=style.colorbar("output"),
        ),
        1,
        ncols,
    )
    _box(fig, step.out_row, step.out_col, 1, ncols)
    style.image_axes(fig)
    tall = max(len(rows) * c, ho)
    fig.update_layout(
        height=min(120 + _CELL_PX * tall, 900),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor=style.PAD_BG,
        template=style.TEMPLATE,
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

    Input cells are grey, padding cells white with dotted borders, the output grid is
    drawn to the right; each frame shades the cells the kernel covers (accent) and the
    output cell it fills; filled cells turn darker. Play/pause and a step slider run in
    the browser (no reruns). The grid shows sizes only: the numbers are in the stepper.

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
            poly(cover, _ACCENT_FILL, style.ACCENT, name="kernel"),
            poly([(i, ox + j)], style.ACCENT, style.ACCENT, name="current output"),
            poly(done(step), style.MUTED, style.INK, name="done"),
        ]

    static = [
        poly(pad, "white", style.INK, "dot", "padding"),
        poly(real, style.PAD_BG, style.INK, name="input"),
        poly(outputs, "white", style.INK, name="output"),
    ]
    steps = out * out
    frames = [go.Frame(data=moving(s), traces=[3, 4, 5], name=str(s)) for s in range(steps)]
    fig = go.Figure(data=static + moving(0), frames=frames)
    label_y = max(total, out) + 0.7
    notes = [
        (total / 2, f"<b>Input</b> {n}×{n} (grey)"),
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
        template=style.TEMPLATE,
    )
    return fig


def image_pair_figure(
    image: np.ndarray, feature: np.ndarray, titles: tuple[str, str] = ("Input", "Feature map")
) -> go.Figure:
    """A picture as it is (gray ``(H, W)`` or RGB ``(H, W, 3)`` in [0, 1]) beside its feature map.

    The feature map is signed: diverging scale, symmetric limits (0 is white), colour bar.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.06)
    fig.add_trace(style.image_trace(np.asarray(image, dtype=float)), 1, 1)
    fig.add_trace(
        style.signed_heatmap(
            np.asarray(feature, dtype=float),
            colorbar_title="response",
            hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        ),
        1,
        2,
    )
    style.image_axes(fig)
    fig.update_layout(
        height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10}, template=style.TEMPLATE
    )
    return fig


def pooled_pair_figure(
    fmap: np.ndarray, pooled: np.ndarray, titles: tuple[str, str] = ("Feature map", "Pooled")
) -> go.Figure:
    """A feature map and its pooled version, each at its true size, on one shared scale.

    The panels' widths follow the maps' widths, so a pooled pixel is drawn as big as an
    input pixel and the output looks as small as it is. One colour bar: both maps share a
    scale (:func:`cnnviz.plots.style.value_scale` of both: pooling keeps the unit).
    """
    fmap, pooled = np.asarray(fmap, dtype=float), np.asarray(pooled, dtype=float)
    stops, limits = style.value_scale(np.concatenate([fmap.ravel(), pooled.ravel()]))
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=titles,
        column_widths=[fmap.shape[1], pooled.shape[1]],
        horizontal_spacing=0.04,
    )
    hover = "row %{y}, col %{x}: %{z:.3f}<extra></extra>"
    for col, z in ((1, fmap), (2, pooled)):
        trace = go.Heatmap(
            z=z,
            colorscale=stops,
            zmin=limits[0],
            zmax=limits[1],
            showscale=col == 2,
            colorbar=style.colorbar("value"),
            hovertemplate=hover,
        )
        fig.add_trace(trace, 1, col)
    style.image_axes(fig)
    # Both panels span the feature map's rows, so a pooled pixel is as big as an input
    # pixel and the pooled map sits top-left at its true size.
    for axis in ("yaxis", "yaxis2"):
        fig.layout[axis].update(autorange=False, range=[fmap.shape[0] - 0.5, -0.5])
    fig.layout.xaxis2.update(range=[-0.5, pooled.shape[1] - 0.5])
    fig.update_layout(
        height=int(80 + 560 * fmap.shape[0] / max(fmap.shape[1] + pooled.shape[1], 1)),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        template=style.TEMPLATE,
    )
    return fig


def shift_demo_figure(demo) -> go.Figure:
    """Each case of :func:`cnnviz.pooling.shift_demo` on one row: the strip, then its pooled map.

    Every window's boundary is drawn on the strip (dashed; the windows holding the pixel
    in the accent colour), the pooled map is drawn at its true size beside it, and each
    title says where the pixel is and whether the pooled map changed. One shared scale
    (the pixel is 1, so every value is in [0, 1]).
    """
    n = len(demo.inputs)
    h, w = demo.inputs[0].shape
    ho, wo = demo.outputs[0].shape
    titles = []
    for label, out, same in zip(demo.labels, demo.outputs, demo.unchanged, strict=True):
        verdict = "same as the original" if same else "CHANGED"
        titles += [label, f"pooled {out.shape[0]}×{out.shape[1]}: {verdict}"]
    fig = make_subplots(
        rows=n,
        cols=2,
        subplot_titles=titles,
        column_widths=[w, max(wo, 2)],
        horizontal_spacing=0.08,
        vertical_spacing=0.18 if n > 2 else 0.25,
    )
    limits = (0.0, 1.0)
    for i, (x, y, held) in enumerate(zip(demo.inputs, demo.outputs, demo.windows, strict=True)):
        text_x = np.where(x > 0, np.vectorize(format_number)(x), "")
        fig.add_trace(
            _cells(x, text_x, np.arange(h), np.arange(w), style.SEQUENTIAL, limits), i + 1, 1
        )
        fig.add_trace(
            _cells(
                y,
                _text(y),
                np.arange(ho),
                np.arange(wo),
                style.SEQUENTIAL,
                limits,
                showscale=i == 0,
                colorbar=style.colorbar("pixel value"),
            ),
            i + 1,
            2,
        )
        inset = 0.1 if demo.stride < demo.size else 0.0
        for k, (r0, c0) in enumerate(_window_corners(demo, h, w)):
            hot = k in held
            fig.add_shape(
                type="rect",
                # Overlapping windows (stride < size) are inset a little each, so every
                # boundary stays visible.
                x0=c0 - 0.5 + inset * (k % 3),
                x1=c0 + demo.size - 0.5 - inset * (k % 3),
                y0=r0 - 0.5 + inset * (k % 3),
                y1=r0 + demo.size - 0.5 - inset * (k % 3),
                line={
                    "color": style.ACCENT if hot else style.INK,
                    "width": 3 if hot else 1.5,
                    "dash": "solid" if hot else "dash",
                },
                row=i + 1,
                col=1,
            )
        for k in held:
            _box(fig, 0, k, i + 1, 2)
    style.image_axes(fig)
    for i in range(n):  # the pooled maps span the strip's rows: true size, top-aligned
        fig.layout[f"yaxis{2 * i + 2}"].update(autorange=False, range=[h - 0.5, -0.5])
        fig.layout[f"xaxis{2 * i + 2}"].update(range=[-0.5, max(wo, 2) - 0.5])
        blank = {"fillcolor": "white", "line_width": 0, "layer": "below", "row": i + 1, "col": 2}
        if h > ho:  # no grid-line colour where the pooled map has no cells
            fig.add_shape(
                type="rect", x0=-0.5, x1=max(wo, 2) - 0.5, y0=ho - 0.5, y1=h - 0.5, **blank
            )
        if wo < 2:
            fig.add_shape(type="rect", x0=wo - 0.5, x1=1.5, y0=-0.5, y1=h - 0.5, **blank)
    fig.update_annotations(font_size=13)
    fig.update_layout(
        height=60 + n * max(_CELL_PX * h + 70, 110),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor=_GRID_LINES,
        template=style.TEMPLATE,
    )
    return fig


def _window_corners(demo, h: int, w: int) -> list[tuple[int, int]]:
    """Top-left (row, col) of each window along the strip's first row of windows."""
    before = pad_amounts(w, demo.size, demo.stride, demo.padding)[0]
    top = pad_amounts(h, demo.size, demo.stride, demo.padding)[0]
    wo = output_size(w, demo.size, demo.stride, demo.padding)
    return [(-top, k * demo.stride - before) for k in range(wo)]
