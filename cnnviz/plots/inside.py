"""Figures for the 'Inside the model' pages: images, probabilities, maps, kernels, heatmaps.

Many small maps are drawn as ONE heatmap of a mosaic (maps tiled with a blank gap) rather
than dozens of subplots: the figure builds in milliseconds and hover still shows which
map and which raw value is under the cursor.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_GRAY = [[0, "black"], [1, "white"]]
_DIVERGING = "RdBu_r"
# No plotly template: the default one is validated again each time a cached figure is
# unpickled (~90 ms for a feature-map grid instead of ~2 ms); Streamlit themes it anyway.
_TEMPLATE = "none"


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


def _tile_index(shape: tuple[int, int], h: int, w: int, cols: int, gap: int) -> np.ndarray:
    """For each mosaic pixel, the index of the map it belongs to (NaN in gaps)."""
    r, c = np.indices(shape)
    idx = (r // (h + gap)) * cols + c // (w + gap)
    return np.where((r % (h + gap) < h) & (c % (w + gap) < w), idx, np.nan)


def _image_axes(fig: go.Figure, height: int) -> go.Figure:
    """Square pixels (each y axis tied to its own x axis), y pointing down, no ticks."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(
        showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
        constrain="domain",
    )  # fmt: skip
    fig.for_each_yaxis(lambda ax: ax.update(scaleanchor=ax.anchor or "x"))
    fig.update_layout(height=height, template=_TEMPLATE, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def _grid_height(shape: tuple[int, int], width: int = 560) -> int:
    """Figure height for a mosaic drawn ``width`` px wide with square pixels, plus a title."""
    return int(70 + width * shape[0] / shape[1])


def _image_trace(img: np.ndarray) -> go.BaseTraceType:
    """A grayscale ``(h, w)`` heatmap or an RGB ``(h, w, 3)`` image, values in [0, 1]."""
    if img.ndim == 3 and img.shape[-1] == 3:
        return go.Image(z=np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
    img = img[..., 0] if img.ndim == 3 else img
    return go.Heatmap(
        z=img, colorscale=_GRAY, zmin=0, zmax=1, showscale=False,
        hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>",
    )  # fmt: skip


def image_row(images: list[tuple[str, np.ndarray]], height: int = 260) -> go.Figure:
    """Images side by side with titles (e.g. each preprocessing step)."""
    if len(images) == 1:  # no subplot grid needed (make_subplots costs ~30 ms)
        fig = go.Figure(_image_trace(np.asarray(images[0][1])))
        fig.update_layout(title=images[0][0])
        return _image_axes(fig, height)
    titles = [t.replace(" (", "<br>(") for t, _ in images]  # sizes on a second line
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=titles)
    for i, (_, img) in enumerate(images, start=1):
        fig.add_trace(_image_trace(np.asarray(img)), row=1, col=i)
    fig.update_annotations(font_size=12)
    return _image_axes(fig, height)


def probability_bars(probs: np.ndarray, class_names: tuple[str, ...], top_k: int = 5) -> go.Figure:
    """The ``top_k`` classes as horizontal bars, most likely on top."""
    order = np.argsort(probs)[::-1][:top_k]
    fig = go.Figure(
        go.Bar(
            x=probs[order], y=[class_names[i] for i in order], orientation="h",
            text=[f"{p:.1%}" for p in probs[order]], textposition="auto",
            marker_color=["#d6336c"] + ["#adb5bd"] * (len(order) - 1),
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed", type="category", title="class")
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="probability")
    fig.update_layout(
        height=60 + 36 * len(order), template=_TEMPLATE, margin=dict(l=10, r=10, t=10, b=40)
    )
    return fig


def feature_maps(maps: np.ndarray, title: str, max_maps: int = 64, cols: int = 8) -> go.Figure:
    """A layer's ``(h, w, c)`` output as a grid of maps, each scaled to its own range.

    Hover shows the map number and the raw activation.
    """
    maps = maps[..., :max_maps]
    h, w, n = maps.shape
    lo, hi = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))
    scaled = (maps - lo) / np.where(hi > lo, hi - lo, 1)  # each map to [0, 1]
    cols = min(cols, n)
    tiled, _ = mosaic(scaled, cols)
    raw, _ = mosaic(maps, cols)
    index = _tile_index(tiled.shape, h, w, cols, 1)
    fig = go.Figure(
        go.Heatmap(
            z=tiled, customdata=np.dstack([raw, index]), colorscale="Viridis", showscale=False,
            hovertemplate="map %{customdata[1]}: %{customdata[0]:.3f}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(title=title)
    return _image_axes(fig, _grid_height(tiled.shape))


def dense_bars(values: np.ndarray, title: str, names: tuple[str, ...] | None = None) -> go.Figure:
    """A dense layer's ``(units,)`` output as bars (unit number on the x axis)."""
    x = list(names) if names is not None and len(names) == len(values) else np.arange(len(values))
    fig = go.Figure(go.Bar(x=x, y=values, marker_color="#495057"))
    fig.update_layout(
        title=title, height=230, template=_TEMPLATE, margin=dict(l=10, r=10, t=40, b=30),
        bargap=0.05, xaxis_title="unit", yaxis_title="activation",
    )  # fmt: skip
    return fig


def kernel_grid(kernels: np.ndarray, cols: int = 8) -> go.Figure:
    """Conv kernels ``(kh, kw, c_in, c_out)`` as a grid, weights on hover.

    With several input channels each tile is the mean over them (the title says so).
    Blue is negative, red positive, white zero, on one symmetric scale for all kernels.
    """
    kh, kw, c_in, c_out = kernels.shape
    tiles = kernels.mean(axis=2)  # (kh, kw, c_out)
    cols = min(cols, c_out)
    tiled, _ = mosaic(tiles, cols)
    index = _tile_index(tiled.shape, kh, kw, cols, 1)
    bound = float(np.abs(tiles).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=tiled, customdata=index, colorscale=_DIVERGING, zmin=-bound, zmax=bound,
            hovertemplate="filter %{customdata}: weight %{z:.3f}<extra></extra>",
        )
    )  # fmt: skip
    extra = f", mean over {c_in} input channels" if c_in > 1 else ""
    fig.update_layout(title=f"{c_out} kernels of {kh}×{kw}{extra}")
    return _image_axes(fig, _grid_height(tiled.shape))


def heatmap_overlays(
    image: np.ndarray, cams: dict[str, np.ndarray], opacity: float = 0.5, height: int = 300
) -> go.Figure:
    """The input with each ``(H, W)`` map in [0, 1] laid over it, side by side."""
    titles = list(cams)
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles)
    for i, name in enumerate(titles, start=1):
        fig.add_trace(_image_trace(image), row=1, col=i)
        fig.add_trace(
            go.Heatmap(
                z=cams[name], zmin=0, zmax=1, colorscale="Jet", opacity=opacity,
                showscale=i == len(titles),
                hovertemplate=f"{name}<br>row %{{y}}, col %{{x}}: %{{z:.2f}}<extra></extra>",
            ),
            row=1, col=i,
        )  # fmt: skip
    return _image_axes(fig, height)


def score_curves(curves: dict[str, list[float]], title: str = "Target value per step") -> go.Figure:
    """How each optimised target grew during activation maximisation, one line each."""
    fig = go.Figure([go.Scatter(y=v, mode="lines", name=k) for k, v in curves.items()])
    fig.update_layout(
        title=title, height=280, xaxis_title="step", yaxis_title="value",
        template=_TEMPLATE, margin=dict(l=10, r=10, t=40, b=30),
    )  # fmt: skip
    return fig
