"""Figures for the 'Inside the model' pages: images, probabilities, maps, kernels, heatmaps.

Every colour comes from :mod:`cnnviz.plots.style`: pictures on the gray scale as stored,
signed values (feature maps, kernels) on the diverging scale with symmetric limits and a
colour bar, magnitudes (heatmaps, probabilities) on the sequential scale.

Many small maps are drawn as ONE heatmap of a mosaic (maps tiled with a blank gap) rather
than dozens of subplots: the figure builds in milliseconds and hover still shows which
map and which raw value is under the cursor.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.novelty import percent
from cnnviz.plots import style


def mosaic(maps: np.ndarray, cols: int | None = None, gap: int = 1) -> tuple[np.ndarray, int]:
    """Tile ``(h, w, n)`` maps into one ``(rows*(h+gap)-gap, cols*(w+gap)-gap)`` array.

    Gaps and unused tiles are NaN (drawn blank). Returns the mosaic and ``cols``.

    Examples
    --------
    >>> m, c = mosaic(np.arange(8.0).reshape(2, 2, 2), cols=2)
    >>> m  # map 0 is [[0, 2], [4, 6]], map 1 is [[1, 3], [5, 7]]
    array([[ 0.,  2., nan,  1.,  3.],
           [ 4.,  6., nan,  5.,  7.]])
    """
    h, w, n = maps.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    tiles = np.full((rows * cols, h + gap, w + gap), np.nan)
    tiles[:n, :h, :w] = np.moveaxis(maps, -1, 0)  # (n, h, w)
    grid = tiles.reshape(rows, cols, h + gap, w + gap).transpose(0, 2, 1, 3)
    full = grid.reshape(rows * (h + gap), cols * (w + gap))
    return full[: full.shape[0] - gap, : full.shape[1] - gap], cols  # drop the last gap


def tile_index(shape: tuple[int, int], h: int, w: int, cols: int, gap: int = 1) -> np.ndarray:
    """For each mosaic pixel, the index of the map it belongs to (NaN in gaps)."""
    r, c = np.indices(shape)
    idx = (r // (h + gap)) * cols + c // (w + gap)
    return np.where((r % (h + gap) < h) & (c % (w + gap) < w), idx, np.nan)


def _layout(fig: go.Figure, height: int, top: int = 40) -> go.Figure:
    fig.update_layout(height=height, template=style.TEMPLATE, margin=dict(l=10, r=10, t=top, b=10))
    return fig


def _grid_height(shape: tuple[int, int], width: int = 620) -> int:
    """Figure height for a mosaic drawn ``width`` px wide with square pixels, plus a title."""
    return int(70 + width * shape[0] / shape[1])


def _square_box(fig: go.Figure, shape: tuple[int, int], row: int | None, col: int | None):
    """Put an ``(h, w)`` image in a square box, so every panel has one size.

    Centred across, at the top of the box: a landscape photo sits right under its title.
    """
    h, w = shape
    side = max(h, w)
    pad_x = (side - w) / 2
    fig.update_xaxes(range=[-0.5 - pad_x, w - 0.5 + pad_x], row=row, col=col)
    fig.update_yaxes(range=[side - 0.5, -0.5], autorange=False, row=row, col=col)


def _image_panel(img: np.ndarray, size: tuple[int, int] | None):
    """A picture's trace; a display copy (``size`` = the original's) in original pixels.

    A shrunk copy is stretched over the original's pixel grid (``x0``/``dx``), so hover
    says where in the real image the cursor is, and that the value is a block's mean.
    """
    shown = img.shape[:2]
    if size is None or tuple(size) == shown:
        return style.image_trace(img), shown
    dy, dx = size[0] / shown[0], size[1] / shown[1]
    place = {"x0": (dx - 1) / 2, "dx": dx, "y0": (dy - 1) / 2, "dy": dy}
    where = "around row %{y:.0f}, col %{x:.0f}"
    block = f"mean of {dy:.1f}×{dx:.1f} pixels"
    if img.ndim == 3 and img.shape[-1] == 3:
        value = "R %{color[0]}, G %{color[1]}, B %{color[2]} of 255"
    else:
        value = "%{color[0]} of 255"
    hover = f"{where}: {value} ({block})<extra></extra>"
    # a display copy goes as an 8-bit PNG: a fraction of the bytes, drawn by the browser
    return style.image_trace(img, png=True, hovertemplate=hover, **place), tuple(size)


def image_row(images: list[tuple], height: int = 260) -> go.Figure:
    """Images side by side with titles (e.g. each preprocessing step), all at one size.

    Each image sits in an equal square panel, whatever its pixel size (the titles give
    the sizes), so a 28×28 input is drawn as large as the photo it came from. Items are
    ``(title, image)`` or display copies ``(title, image, original (height, width))``
    (:class:`cnnviz.imaging.DisplayCopy`): those are drawn on the original's pixel grid.
    Every panel has the one frame (:data:`cnnviz.plots.style.FRAME`).
    """
    panels = [
        _image_panel(np.asarray(item[1]), item[2] if len(item) > 2 else None) for item in images
    ]
    if len(images) == 1:  # no subplot grid needed (make_subplots costs ~30 ms)
        ((trace, size),) = panels
        fig = go.Figure(trace)
        fig.update_layout(title=images[0][0])
        style.image_axes(fig)
        _square_box(fig, size, None, None)
        return _layout(fig, height)
    # sizes on a second line, "shown at …" on a third
    titles = [t[0].replace(" (", "<br>(").replace(", shown at", ",<br>shown at") for t in images]
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=titles)
    for i, (trace, _) in enumerate(panels, start=1):
        fig.add_trace(trace, row=1, col=i)
    fig.update_annotations(font_size=12)
    style.image_axes(fig)
    for i, (_, size) in enumerate(panels, start=1):
        _square_box(fig, size, 1, i)
    fig.update_yaxes(constraintoward="top")  # each square right under its title
    shrunk = any(", shown at" in t[0] for t in images)
    return _layout(fig, height + (14 if shrunk else 0), top=64 if shrunk else 50)


def probability_bars(probs: np.ndarray, class_names: tuple[str, ...], top_k: int = 5) -> go.Figure:
    """The ``top_k`` classes as horizontal bars, most likely on top."""
    order = np.argsort(probs)[::-1][:top_k]
    fig = go.Figure(
        go.Bar(
            x=probs[order], y=[class_names[i] for i in order], orientation="h",
            text=[percent(p) for p in probs[order]], textposition="auto",
            marker_color=[style.ACCENT] + [style.MUTED] * (len(order) - 1),
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category", title="class")
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="probability")
    fig.update_layout(
        height=60 + 36 * len(order), template=style.TEMPLATE, margin=dict(l=10, r=10, t=10, b=40)
    )
    return fig


def feature_maps(
    maps: np.ndarray, title: str, max_maps: int = 64, cols: int = 8, shared: bool = True
) -> go.Figure:
    """A layer's ``(h, w, c)`` output as a grid of maps on the diverging scale.

    ``shared=True``: one symmetric scale for the whole layer (compare how strongly maps
    respond); ``shared=False``: each map divided by its own largest ``|value|`` (compare
    shapes; the colour bar then reads as a fraction). Hover shows the map number and the
    raw activation either way.
    """
    maps = maps[..., :max_maps]
    h, w, n = maps.shape
    if shared:
        shown, bar = maps, "activation"
    else:
        peak = np.abs(maps).max(axis=(0, 1))  # (n,)
        shown, bar = maps / np.where(peak > 0, peak, 1), "share of map's max |value|"
    cols = min(cols, n)
    tiled, _ = mosaic(shown, cols)
    raw, _ = mosaic(maps, cols)
    index = tile_index(tiled.shape, h, w, cols)
    fig = go.Figure(
        style.signed_heatmap(
            tiled, style.symmetric_limits(shown), bar,
            customdata=np.dstack([raw, index]),
            hovertemplate="map %{customdata[1]}: %{customdata[0]:.3f}<extra></extra>",
        )
    )  # fmt: skip
    # One invisible marker at the centre of each map: plotly reports clicks (selections)
    # on points, not on heatmap cells, so this is what a click on a map selects.
    rows, cols_ = np.divmod(np.arange(n), cols)
    fig.add_trace(
        go.Scatter(
            x=cols_ * (w + 1) + (w - 1) / 2, y=rows * (h + 1) + (h - 1) / 2, mode="markers",
            marker={"size": 28, "symbol": "square", "opacity": 0}, customdata=np.arange(n),
            hoverinfo="none", showlegend=False,
        )
    )  # fmt: skip
    scale = "one scale for the layer" if shared else "each map on its own scale"
    fig.update_layout(title=f"{title} · {scale}", clickmode="event+select")
    style.image_axes(fig)
    return _layout(fig, _grid_height(tiled.shape))


def feature_map_large(values: np.ndarray, title: str, limits: tuple[float, float] | None = None):
    """One ``(h, w)`` map, large, every value written in its cell (diverging scale)."""
    h, w = values.shape
    text = h * w <= 32 * 32
    fig = go.Figure(
        style.signed_heatmap(
            values, limits, "activation",
            texttemplate="%{z:.2f}" if text else None, textfont={"size": 8},
            hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(title=title)
    style.image_axes(fig)
    return _layout(fig, 640)


def dense_bars(
    values: np.ndarray,
    title: str,
    names: tuple[str, ...] | None = None,
    probabilities: bool = False,
) -> go.Figure:
    """A dense layer's ``(units,)`` output as bars.

    ``probabilities=True`` (the softmax output): one bar per class name with its
    probability written on it, the most likely class highlighted.
    """
    named = names is not None and len(names) == len(values)
    x = list(names) if named else [str(i) for i in range(len(values))]
    if probabilities:
        top = int(np.argmax(values))
        bar = go.Bar(
            x=x, y=values, text=[percent(v) for v in values], textposition="outside",
            marker_color=[style.ACCENT if i == top else style.MUTED for i in range(len(x))],
            hovertemplate="class %{x}: %{y:.2%}<extra></extra>",
        )  # fmt: skip
        axes = dict(xaxis_title="class", yaxis_title="probability", yaxis_range=[0, 1.15])
        axes["yaxis_tickformat"] = ".0%"
    else:
        bar = go.Bar(
            x=x, y=values, marker_color=style.MUTED,
            hovertemplate="unit %{x}: %{y:.3f}<extra></extra>",
        )  # fmt: skip
        axes = dict(xaxis_title="unit", yaxis_title="activation")
    fig = go.Figure(bar)
    fig.update_xaxes(type="category")
    fig.update_layout(title=title, bargap=0.05, **axes)
    return _layout(fig, 260 if probabilities else 230)


def kernel_grid(kernels: np.ndarray, cols: int = 8) -> go.Figure:
    """Conv kernels ``(kh, kw, c_in, c_out)`` as a grid, weights on hover.

    With several input channels each tile is the mean over them (the title says so).
    Blue is negative, red positive, white zero, on one symmetric scale for all kernels.
    """
    kh, kw, c_in, c_out = kernels.shape
    tiles = kernels.mean(axis=2)  # (kh, kw, c_out)
    cols = min(cols, c_out)
    tiled, _ = mosaic(tiles, cols)
    index = tile_index(tiled.shape, kh, kw, cols)
    fig = go.Figure(
        style.signed_heatmap(
            tiled, style.symmetric_limits(tiles), "weight", customdata=index,
            hovertemplate="filter %{customdata}: weight %{z:.3f}<extra></extra>",
        )
    )  # fmt: skip
    extra = f", mean over {c_in} input channels" if c_in > 1 else ""
    fig.update_layout(title=f"{c_out} kernels of {kh}×{kw}{extra}")
    style.image_axes(fig)
    return _layout(fig, _grid_height(tiled.shape))


OUTLINE_COLOURS = (("#ffffff", 3.0), ("#000000", 1.5))  # a black line on a white edge


def outline_level(image: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The brightness an outline follows: ``(H, W)`` (the mean over channels) and the
    level halfway between its darkest and brightest pixel; ``None`` for a flat image.

    >>> outline_level(np.array([[0.0, 1.0], [0.2, 0.0]]))[1]
    0.5
    """
    gray = np.asarray(image, dtype=np.float64)
    gray = gray.mean(axis=-1) if gray.ndim == 3 else gray
    lo, hi = float(np.nanmin(gray)), float(np.nanmax(gray))
    return (gray, (lo + hi) / 2) if hi > lo else None


def heatmap_overlays(
    image: np.ndarray,
    cams: dict[str, np.ndarray],
    outline: float = 0.8,
    limits: dict[str, tuple[float, float]] | None = None,
    cols: int = 3,
    panel: int = 380,
    unit: str = "map value",
) -> go.Figure:
    """The input as it is, then each ``(H, W)`` map with the input's outline on top.

    Every map is drawn opaque on the sequential scale, so each cell has exactly the
    colour its value has on the colour bar (white = 0, darkest red = the bar's top):
    nothing is blended with the picture. The picture is the first panel, and on each
    map a line follows its outline (where its brightness crosses halfway between its
    darkest and brightest pixel; black on a white edge, so it shows on white and on red).

    Parameters
    ----------
    image : np.ndarray
        ``(H, W, C)`` model input, drawn as it is.
    cams : dict of str to np.ndarray
        Title -> ``(H, W)`` map (≥ 0).
    outline : float
        Opacity of the outline (0: none).
    limits : dict of str to (float, float), optional
        Per title, the colour limits (e.g. shared across classes). Default: each map's
        own ``(0, max)``.
    cols, panel : int
        Panels per row (the input counts as one) and each panel's height in pixels.
    unit : str
        What the colour bar measures.
    """
    h, w = np.shape(image)[:2]
    titles = [f"Input {h}×{w}", *cams]
    cols = max(1, min(cols, len(titles)))
    rows = int(np.ceil(len(titles) / cols))
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.09,
        vertical_spacing=0.12 / rows,
    )  # fmt: skip
    fig.add_trace(style.image_trace(image), row=1, col=1)
    level = outline_level(image) if outline > 0 else None
    for i, name in enumerate(cams, start=1):
        r, c = i // cols + 1, i % cols + 1
        lo, hi = (limits or {}).get(name) or style.magnitude_limits(cams[name])
        x_dom = fig.get_subplot(r, c).xaxis.domain
        y_dom = fig.get_subplot(r, c).yaxis.domain
        trace = style.magnitude_heatmap(
            cams[name], (lo, hi), unit,
            hovertemplate=f"{name}<br>row %{{y}}, col %{{x}}: %{{z:.3g}}<extra></extra>",
        )  # fmt: skip
        height = 0.9 * (y_dom[1] - y_dom[0])
        trace.colorbar.update(x=x_dom[1] + 0.005, y=sum(y_dom) / 2, len=height)
        fig.add_trace(trace, row=r, col=c)
        if level is not None:
            gray, at = level
            for colour, width in OUTLINE_COLOURS:
                fig.add_trace(
                    go.Contour(
                        z=gray, contours=dict(start=at, end=at, size=1, coloring="none"),
                        line=dict(color=colour, width=width), opacity=outline,
                        showscale=False, showlegend=False, hoverinfo="skip",
                        name="outline of the input",
                    ),
                    row=r, col=c,
                )  # fmt: skip
    fig.update_annotations(font_size=12)
    style.image_axes(fig)
    return _layout(fig, 40 + panel * rows, top=50)


def score_curves(curves: dict[str, list[float]], title: str = "Target value per step") -> go.Figure:
    """How each optimised target grew during activation maximisation, one line each."""
    fig = go.Figure([go.Scatter(y=v, mode="lines", name=k) for k, v in curves.items()])
    fig.update_layout(title=title, xaxis_title="step", yaxis_title="value")
    return _layout(fig, 300)
