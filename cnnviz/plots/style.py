"""The app's one visual language: every colour scale and image-panel rule comes from here.

A learner compares views, so every view speaks the same way (STYLE.md, after CNN Explainer):

- **Signed values** (kernels, weights, feature maps, activations, differences, gradients):
  :data:`DIVERGING` — negative blue, zero white, positive red — always with symmetric
  limits (:func:`symmetric_limits`) so that 0 is white, and always with a colour bar.
- **Magnitudes** (heatmaps, probabilities, counts, anything ≥ 0): :data:`SEQUENTIAL`,
  white at 0 rising to the same dark red, with a colour bar.
- **Images** (pixels): :data:`GRAY`, 0 black → 1 white, exactly as stored. Never inverted
  for display; RGB images are drawn as RGB.
- Image panels have no tick marks, tick labels, grid or zero lines, and a thin frame
  (:data:`FRAME`) that hugs each picture or map, so a white image or a column of zeros
  is still visibly a panel on the white page (:func:`image_axes`, :func:`image_frames`).
- Several maps of one layer can share one scale (``shared=True``: compare strengths, as
  CNN Explainer does) or each get their own (compare shapes); the figure says which
  (:func:`map_limits`, :func:`scale_note`).
- A grid of numbers that may be either (an editable input matrix) takes its scale from
  its values (:func:`value_scale`): any negative value makes it signed.
- One channel of an RGB picture is drawn in its own colour, black (0) to pure red, green
  or blue (1) (:data:`CHANNELS`): the picture's channel as it is.
- The in-browser stepper (``app_pages/_stepper.js``) gets these same stops from
  :func:`palette`, so the one source holds for the HTML views too.

Every figure builder in :mod:`cnnviz.plots` takes its scales from this module, and
``tests/test_plots_style.py`` walks the figures each page builds to check it.

>>> symmetric_limits(np.array([[-2.0, 0.5], [1.0, 0.0]]))
(-2.0, 2.0)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "ACCENT",
    "CATEGORICAL",
    "CHANNELS",
    "DIVERGING",
    "FRAME",
    "GRAY",
    "INK",
    "MUTED",
    "PAD_BG",
    "PNG_ABOVE",
    "SEQUENTIAL",
    "colorbar",
    "image_axes",
    "image_frames",
    "image_trace",
    "magnitude_heatmap",
    "magnitude_limits",
    "magnitude_overlay",
    "map_limits",
    "palette",
    "scale_note",
    "signed_heatmap",
    "symmetric_limits",
    "value_scale",
]

# ColorBrewer RdBu (11 classes), reversed so negative is blue, with a pure white centre.
DIVERGING: list[list] = [
    [0.0, "#053061"],
    [0.1, "#2166ac"],
    [0.2, "#4393c3"],
    [0.3, "#92c5de"],
    [0.4, "#d1e5f0"],
    [0.5, "#ffffff"],
    [0.6, "#fddbc7"],
    [0.7, "#f4a582"],
    [0.8, "#d6604d"],
    [0.9, "#b2182b"],
    [1.0, "#67001f"],
]
# The positive half of DIVERGING: 0 is white and "more" is the same red everywhere.
SEQUENTIAL: list[list] = [[0.0, "#ffffff"]] + [
    [round((v - 0.5) * 2, 6), c] for v, c in DIVERGING if v > 0.5
]
GRAY: list[list] = [[0.0, "#000000"], [1.0, "#ffffff"]]  # pixel value 0 black, 1 white
# One channel of an RGB picture, as it is: 0 black, 1 the pure channel colour.
CHANNELS: dict[str, list[list]] = {
    "red": [[0.0, "#000000"], [1.0, "#ff0000"]],
    "green": [[0.0, "#000000"], [1.0, "#00ff00"]],
    "blue": [[0.0, "#000000"], [1.0, "#0000ff"]],
}

ACCENT = "#d6336c"  # the theme's primary colour: what the learner should look at
MUTED = "#adb5bd"  # everything else in a bar chart or a legend
PAD_BG = "#e9ecef"  # padding cells (drawn dashed by the figures that show them)
INK = "#495057"  # outlines that are structure, not data: window boundaries, padding borders
# The frame around every picture or map panel: thin, and the colour of structure, not data.
FRAME: dict = {"color": INK, "width": 1}
# Lines or bars that stand for different things (models, runs), never for values; the
# same position means the same thing on every chart of a page (runs: in order of the run).
CATEGORICAL: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", ACCENT)

# No plotly template: the default one is validated again each time a cached figure is
# unpickled (~90 ms for a feature-map grid instead of ~2 ms); Streamlit themes it anyway.
TEMPLATE = "none"


def symmetric_limits(values: np.ndarray | Iterable[float]) -> tuple[float, float]:
    """``(-m, m)`` with ``m`` the largest finite ``|value|``; ``(-1, 1)`` for all zeros.

    Symmetric limits put 0 at the white centre of :data:`DIVERGING`, so a colour means
    the same sign and the same fraction of the largest magnitude in every panel.

    Examples
    --------
    >>> symmetric_limits([0.0, 0.0])
    (-1.0, 1.0)
    >>> symmetric_limits([3.0, -1.0, float("nan")])
    (-3.0, 3.0)
    """
    a = np.abs(np.asarray(values, dtype=np.float64))
    a = a[np.isfinite(a)]
    m = float(a.max()) if a.size else 0.0
    m = m if m > 0 else 1.0
    return -m, m


def magnitude_limits(values: np.ndarray | Iterable[float]) -> tuple[float, float]:
    """``(0, max)`` for values ≥ 0 drawn on :data:`SEQUENTIAL`; ``(0, 1)`` when all are 0.

    Examples
    --------
    >>> magnitude_limits([0.2, 0.5])
    (0.0, 0.5)
    """
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    m = float(a.max()) if a.size else 0.0
    return 0.0, (m if m > 0 else 1.0)


def value_scale(values: np.ndarray | Iterable[float]) -> tuple[list[list], tuple[float, float]]:
    """The scale and limits for numbers that may be signed or not (an editable matrix).

    Any negative value makes them signed: :data:`DIVERGING` with symmetric limits;
    otherwise they are magnitudes: :data:`SEQUENTIAL` from 0.

    Examples
    --------
    >>> scale, limits = value_scale([0, 3, 1])
    >>> scale is SEQUENTIAL, limits
    (True, (0.0, 3.0))
    >>> value_scale([2, -1])[1]
    (-2.0, 2.0)
    """
    a = np.asarray(values, dtype=np.float64)
    if np.nanmin(a, initial=0.0) < 0:
        return DIVERGING, symmetric_limits(a)
    return SEQUENTIAL, magnitude_limits(a)


def map_limits(
    maps: Iterable[np.ndarray], shared: bool = True, signed: bool = True
) -> list[tuple[float, float]]:
    """Colour limits for several maps of one layer: one shared scale, or one per map.

    A shared scale compares strengths across maps (a weak map looks pale, as in CNN
    Explainer); per-map scales show each map's pattern at full contrast.

    Parameters
    ----------
    maps : iterable of numpy.ndarray
    shared : bool
        One scale for all maps (True) or each its own.
    signed : bool
        Symmetric limits on :data:`DIVERGING` (True) or ``(0, max)`` on :data:`SEQUENTIAL`.

    Returns
    -------
    list of (float, float)
        One ``(lo, hi)`` per map.

    Examples
    --------
    >>> map_limits([np.array([1.0, -2.0]), np.array([0.5])])
    [(-2.0, 2.0), (-2.0, 2.0)]
    >>> map_limits([np.array([1.0, -2.0]), np.array([0.5])], shared=False)
    [(-2.0, 2.0), (-0.5, 0.5)]
    """
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    limits = symmetric_limits if signed else magnitude_limits
    if shared:
        both = limits(np.concatenate([m.ravel() for m in maps])) if maps else limits([])
        return [both] * len(maps)
    return [limits(m) for m in maps]


def scale_note(shared: bool) -> str:
    """The sentence a figure with several maps shows about its colour scale."""
    if shared:
        return "One colour scale for all maps: a pale map is a weak map."
    return "Each map has its own colour scale: compare patterns, not strengths."


def palette() -> dict:
    """Every colour scale and accent as plain JSON, for views drawn in the browser.

    Examples
    --------
    >>> palette()["diverging"][5]
    [0.5, '#ffffff']
    """
    return {
        "diverging": [list(stop) for stop in DIVERGING],
        "sequential": [list(stop) for stop in SEQUENTIAL],
        "gray": [list(stop) for stop in GRAY],
        "channels": {name: [list(stop) for stop in stops] for name, stops in CHANNELS.items()},
        "accent": ACCENT,
        "muted": MUTED,
        "pad_bg": PAD_BG,
        "ink": INK,
    }


def colorbar(title: str = "", **kw) -> dict:
    """The one colour-bar style: thin, beside the panel, titled with what it measures."""
    bar = {
        "thickness": 12,
        "len": 0.8,
        "outlinewidth": 0,
        "title": {"text": title, "side": "right"},
    }
    bar.update(kw)
    return bar


def signed_heatmap(
    z: np.ndarray,
    limits: tuple[float, float] | None = None,
    colorbar_title: str = "value",
    showscale: bool = True,
    **kw,
) -> go.Heatmap:
    """A heatmap of signed values: :data:`DIVERGING`, symmetric limits, a colour bar.

    Parameters
    ----------
    z : np.ndarray
        ``(H, W)`` values (NaN cells are drawn blank).
    limits : (float, float), optional
        Shared limits for several panels (from :func:`symmetric_limits` over all of them);
        by default this panel's own symmetric limits.
    colorbar_title : str
        What the numbers are ("weight", "activation", "difference").
    showscale : bool
        ``False`` only for a panel whose neighbour already shows the same (shared) scale.
    **kw
        Passed to ``go.Heatmap`` (``hovertemplate``, ``text``, ``x``/``y`` …).
    """
    lo, hi = limits if limits is not None else symmetric_limits(z)
    if not np.isclose(lo, -hi):
        raise ValueError(f"signed values need symmetric limits, got ({lo}, {hi})")
    return go.Heatmap(
        z=z,
        colorscale=DIVERGING,
        zmin=lo,
        zmax=hi,
        showscale=showscale,
        colorbar=colorbar(colorbar_title),
        **kw,
    )


def magnitude_heatmap(
    z: np.ndarray,
    limits: tuple[float, float] | None = None,
    colorbar_title: str = "",
    showscale: bool = True,
    **kw,
) -> go.Heatmap:
    """A heatmap of magnitudes (≥ 0): :data:`SEQUENTIAL` from 0 (white), with a colour bar."""
    lo, hi = limits if limits is not None else magnitude_limits(z)
    return go.Heatmap(
        z=z,
        colorscale=SEQUENTIAL,
        zmin=lo,
        zmax=hi,
        showscale=showscale,
        colorbar=colorbar(colorbar_title),
        **kw,
    )


def magnitude_overlay(
    z: np.ndarray,
    limits: tuple[float, float] | None = None,
    opacity: float = 0.6,
    colorbar_title: str = "",
    showscale: bool = True,
    **kw,
) -> go.Heatmap:
    """Magnitudes laid over an image: :data:`SEQUENTIAL`, but 0 is transparent, not white.

    The colour's opacity rises with the value (from 30 % of ``opacity`` for the faintest
    evidence to ``opacity`` at the top of the scale), so the picture shows through where
    there is nothing and the colour bar still reads as the sequential scale.
    """
    scale = []
    for v, colour in SEQUENTIAL:
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        alpha = opacity * (0.3 + 0.7 * v) if v > 0 else 0.0  # faint evidence still shows
        scale.append([v, f"rgba({r},{g},{b},{alpha:.3f})"])
    trace = magnitude_heatmap(z, limits, colorbar_title, showscale, **kw)
    trace.colorscale = scale
    return trace


# An RGB picture with more pixels than this goes to the browser as a lossless PNG (the same
# 8-bit values): plotly's JSON writes each "/" of base64 as six characters, so a white
# page's raw pixels ("////…") would grow six-fold.
PNG_ABOVE = 256 * 256


def _png_source(pixels: np.ndarray) -> str:
    """A ``uint8`` ``(H, W)`` or ``(H, W, 3)`` array as a PNG data URI (lossless)."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB").save(
        buf, format="PNG", compress_level=1
    )
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_trace(img: np.ndarray, png: bool | None = None, **kw) -> go.BaseTraceType:
    """A picture as it is: gray ``(H, W)`` / ``(H, W, 1)`` on :data:`GRAY`, or RGB ``(H, W, 3)``.

    Values are in [0, 1] (uint8 is divided by 255); nothing is inverted or stretched.

    ``png=True`` sends the picture as a lossless 8-bit PNG (an ``Image`` trace drawn
    exactly as :data:`GRAY` draws it: 0 black, 1 white), for display copies of large
    images: a fraction of the bytes, drawn natively by the browser; hover then reads the
    8-bit level (``%{color[0]}`` of 255). By default only RGB pictures over
    :data:`PNG_ABOVE` pixels go as PNG.
    """
    img = np.asarray(img)
    if img.dtype == np.uint8:
        img = img.astype(np.float64) / 255.0
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    rgb = img.ndim == 3 and img.shape[-1] == 3
    if png is None:
        png = rgb and img.shape[0] * img.shape[1] > PNG_ABOVE
    if png:
        pixels = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
        return go.Image(source=_png_source(pixels), **kw)
    if rgb:
        return go.Image(z=np.round(np.clip(img, 0, 1) * 255).astype(np.uint8), **kw)
    if img.ndim == 3:
        img = img[..., 0]
    kw.setdefault("hovertemplate", "row %{y}, col %{x}: %{z:.2f}<extra></extra>")
    return go.Heatmap(z=img, colorscale=GRAY, zmin=0, zmax=1, showscale=False, **kw)


def image_axes(fig: go.Figure) -> go.Figure:
    """Image panels: square pixels, row 0 on top, no ticks, labels, grid or zero lines."""
    fig.update_xaxes(
        showticklabels=False, ticks="", showgrid=False, zeroline=False, constrain="domain"
    )
    fig.update_yaxes(
        showticklabels=False,
        ticks="",
        showgrid=False,
        zeroline=False,
        autorange="reversed",
        constrain="domain",
    )
    fig.for_each_yaxis(lambda ax: ax.update(scaleanchor=ax.anchor or "x"))
    return image_frames(fig)


def _pixel_edges(trace) -> tuple[float, float, float, float] | None:
    """``(left, right, top, bottom)`` edges of a picture or map trace's pixels, in data units.

    ``None`` for other traces and for grids that place their cells by explicit ``x``/``y``
    (number matrices with gaps between cells draw their own cell borders).
    """
    if trace.type not in ("heatmap", "image"):
        return None
    if getattr(trace, "x", None) is not None or getattr(trace, "y", None) is not None:
        return None
    shape = np.shape(trace.z) if trace.z is not None else _source_shape(trace)
    if len(shape) < 2 or 0 in shape[:2]:
        return None
    h, w = shape[0], shape[1]
    x0 = float(trace.x0 if trace.x0 is not None else 0)
    y0 = float(trace.y0 if trace.y0 is not None else 0)
    dx = float(trace.dx if trace.dx is not None else 1)
    dy = float(trace.dy if trace.dy is not None else 1)
    return (x0 - dx / 2, x0 + (w - 0.5) * dx, y0 - dy / 2, y0 + (h - 0.5) * dy)


def _source_shape(trace) -> tuple[int, ...]:
    """``(H, W)`` of an image trace drawn from a PNG data URI (``source``), else ``()``."""
    src = getattr(trace, "source", None)
    if not src or not str(src).startswith("data:image/png;base64,"):
        return ()
    import base64
    import struct

    head = base64.b64decode(str(src).split(",", 1)[1][:44])  # the signature and IHDR
    width, height = struct.unpack(">II", head[16:24])
    return (height, width)


def image_frames(fig: go.Figure) -> go.Figure:
    """Draw :data:`FRAME` around the pixels of every picture or map in ``fig``.

    The frame hugs the image itself, not its panel's padded range, so a white picture on
    the white page, a map of zeros, or one pooled cell beside a large map all show where
    they end. A map drawn over a picture on the same axes (an overlay) shares its frame.

    Examples
    --------
    >>> fig = go.Figure(image_trace(np.ones((2, 3))))
    >>> [(s.x0, s.x1, s.y0, s.y1) for s in image_frames(fig).layout.shapes]
    [(-0.5, 2.5, -0.5, 1.5)]
    """
    seen, frames = set(), []
    for trace in fig.data:
        edges = _pixel_edges(trace)
        if edges is None:
            continue
        xref, yref = trace.xaxis or "x", trace.yaxis or "y"
        key = (xref, yref, *edges)
        if key in seen:
            continue
        seen.add(key)
        left, right, top, bottom = edges
        frames.append(
            {
                "type": "rect", "xref": xref, "yref": yref, "x0": left, "x1": right,
                "y0": top, "y1": bottom, "line": dict(FRAME), "fillcolor": "rgba(0,0,0,0)",
                "layer": "above",
            }
        )  # fmt: skip
    if frames:
        fig.update_layout(shapes=[*fig.layout.shapes, *frames])
    return fig
