"""Figures for the Experiments pages: translation lab, CNN from scratch, overfitting lab.

Every builder takes plain arrays/dicts (or the dataclasses of :mod:`cnnviz.translation`)
and returns a ``go.Figure``; pages only display. Colours come from :mod:`.style`: images
in gray, signed maps and differences on the diverging scale, accuracies on the
sequential one, one categorical colour per model (the same position in every chart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots import style

_MARGIN = dict(l=40, r=10, t=40, b=40)


def _colour(i: int) -> str:
    return style.CATEGORICAL[i % len(style.CATEGORICAL)]


def _size(a: np.ndarray) -> str:
    return "×".join(str(s) for s in np.shape(a)[:2])


def image(img: np.ndarray, title: str = "", height: int = 260) -> go.Figure:
    """One gray image as stored (ink bright on black, as the model sees it).

    Parameters
    ----------
    img : np.ndarray
        ``(H, W)`` or ``(H, W, 1)`` floats in [0, 1].
    """
    fig = go.Figure(style.image_trace(img))
    fig.update_layout(
        title=title, height=height, margin=dict(l=5, r=5, t=35, b=5), template=style.TEMPLATE
    )
    return style.image_axes(fig)


def image_row(images: Mapping[str, np.ndarray], height: int = 210) -> go.Figure:
    """Several gray images side by side, each titled with its name and size."""
    names = list(images)
    fig = make_subplots(
        rows=1,
        cols=len(names),
        subplot_titles=[f"{n} · {_size(np.squeeze(images[n]))}" for n in names],
        horizontal_spacing=0.02,
    )
    for j, n in enumerate(names, start=1):
        fig.add_trace(style.image_trace(images[n]), row=1, col=j)
    fig.update_layout(height=height, margin=dict(l=5, r=5, t=30, b=5), template=style.TEMPLATE)
    fig.update_annotations(font_size=12)
    return style.image_axes(fig)


def proba_bars(
    probs: np.ndarray, model_names: Sequence[str], class_names: Sequence[str]
) -> go.Figure:
    """Grouped bars: each model's probability for each class.

    Parameters
    ----------
    probs : np.ndarray
        ``(len(model_names), len(class_names))``.
    """
    fig = go.Figure()
    for i, (name, p) in enumerate(zip(model_names, np.asarray(probs), strict=True)):
        fig.add_bar(
            x=list(class_names),
            y=p.tolist(),  # plain lists: the figure's JSON stays readable
            name=name,
            marker_color=_colour(i),
            text=[f"{v:.2f}" if v >= 0.05 else "" for v in p],
            textposition="outside",
        )
    fig.update_layout(
        barmode="group",
        yaxis=dict(range=[0, 1.12], title="probability"),
        xaxis=dict(title="class", type="category"),
        height=320,
        margin=dict(l=40, r=10, t=30, b=40),
        legend=dict(orientation="h", y=1.12),
        template=style.TEMPLATE,
    )
    return fig


def curves(
    x: Sequence[float],
    ys: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    marker_x: float | None = None,
    percent: bool = True,
) -> go.Figure:
    """Lines of one value per model against a transform parameter (shift, angle, scale).

    Parameters
    ----------
    x : sequence of float
        The parameter values.
    ys : mapping of str to sequence of float
        Model name -> values, each ``len(x)`` long, in [0, 1].
    marker_x : float, optional
        Draw a dashed vertical line here (the slider's current value).
    percent : bool
        Label the y axis in per cent (the values stay fractions), like the lab's other
        accuracy charts.
    """
    fig = go.Figure()
    fmt = ".1%" if percent else ".3f"
    for i, (name, y) in enumerate(ys.items()):
        fig.add_scatter(
            x=list(x),
            y=[float(v) for v in y],
            mode="lines+markers",
            name=name,
            line=dict(color=_colour(i)),
            hovertemplate=f"{name}: %{{y:{fmt}}} at %{{x}}<extra></extra>",
        )
    if marker_x is not None:
        fig.add_vline(x=marker_x, line_dash="dash", line_color=style.MUTED)
    fig.update_layout(
        title=title,
        xaxis_title=xlabel,
        yaxis=dict(title=ylabel, range=[0, 1.02], tickformat=".0%" if percent else None),
        height=330,
        margin=_MARGIN,
        legend=dict(orientation="h", y=-0.25),
        template=style.TEMPLATE,
    )
    return fig


# --- the Translation lab's story ------------------------------------------------------------


def equivariance_figure(e) -> go.Figure:
    """The equivariance demo in six lettered panels, so each difference can be read off.

    Top: A the digit, B the digit moved, and D − E. Bottom: C the map of A, D the map of
    B, E the map of A moved. Images are gray; maps share one diverging scale; the
    difference has its own, with the cells where D must equal E outlined (dashed): there
    the filter read no pixel that left the frame and E is not the shift's zero fill.

    Parameters
    ----------
    e : cnnviz.translation.Equivariance
    """
    move = f"{e.dx:+d} px right, {e.dy:+d} px down"
    titles = [
        f"A · the digit · {_size(e.image)}",
        f"B · A moved {move}",
        f"D − E · {_size(e.difference)}",
        f"C · map of A ({e.layer}, filter {e.channel})",
        "D · map of B",
        "E · map of A, moved",
    ]
    fig = make_subplots(
        rows=2, cols=3, subplot_titles=titles, horizontal_spacing=0.06, vertical_spacing=0.1
    )
    fig.add_trace(style.image_trace(e.image), row=1, col=1)
    fig.add_trace(style.image_trace(e.moved), row=1, col=2)
    limits = style.symmetric_limits(np.concatenate([e.fmap.ravel(), e.fmap_of_moved.ravel()]))
    hover = "row %{y}, col %{x}: %{z:.4f}<extra></extra>"
    for j, z in enumerate((e.fmap, e.fmap_of_moved, e.moved_fmap), start=1):
        bar = dict(y=0.22, len=0.42, x=1.02)
        trace = style.signed_heatmap(z, limits, "activation", showscale=j == 3, hovertemplate=hover)
        trace.colorbar.update(bar)
        fig.add_trace(trace, row=2, col=j)
    diff = style.signed_heatmap(
        e.difference,
        colorbar_title="difference",
        hovertemplate="row %{y}, col %{x}: %{z:.2e}<extra></extra>",
    )
    diff.colorbar.update(y=0.78, len=0.42, x=1.02)
    fig.add_trace(diff, row=1, col=3)
    if e.inside.any() and not e.inside.all():
        # A zero border lets the outline close along the map's own edges.
        ring = np.pad(e.inside.astype(float), 1)
        fig.add_trace(
            go.Contour(
                z=ring,
                x=np.arange(-1, ring.shape[1] - 1),
                y=np.arange(-1, ring.shape[0] - 1),
                contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                line=dict(color=style.ACCENT, dash="dash", width=2),
                showscale=False,
                hoverinfo="skip",
            ),
            row=1,
            col=3,
        )
    fig.update_layout(height=560, margin=dict(l=5, r=60, t=30, b=5), template=style.TEMPLATE)
    fig.update_annotations(font_size=12)
    return style.image_axes(fig)


def layer_changes(
    changes: Mapping[str, Sequence], tol: float | None = None, height: int = 380
) -> go.Figure:
    """For each model, how much each layer's output changes when the input moves.

    Bars are what the next layer can notice: for maps (blue), the change after moving the
    unshifted map by the same shift; for flat vectors (accent), the plain change. Gray
    diamonds show the maps' plain change (position by position): the map did move.

    Parameters
    ----------
    changes : mapping
        Model name -> list of :class:`cnnviz.translation.LayerChange`.
    tol : float, optional
        Draw the threshold the generated sentence uses, as a dashed line.
    """
    names = list(changes)
    fig = make_subplots(
        rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True, horizontal_spacing=0.03
    )
    top = 1.0
    for j, name in enumerate(names, start=1):
        rows = list(changes[name])
        for is_map, colour, what in (
            (True, style.CATEGORICAL[0], "map, after moving it back by the shift"),
            (False, style.ACCENT, "vector, entry by entry (no places to move)"),
        ):
            picked = [c for c in rows if (c.aligned is not None) == is_map]
            fig.add_bar(
                x=[c.layer for c in picked],
                y=[100 * c.change for c in picked],
                marker_color=colour,
                name=what,
                legendgroup=what,
                showlegend=j == 1,
                hovertemplate="%{x}: %{y:.1f} %<extra></extra>",
                row=1,
                col=j,
            )
        maps = [c for c in rows if c.aligned is not None]
        fig.add_scatter(
            x=[c.layer for c in maps],
            y=[100 * c.plain for c in maps],
            mode="markers",
            marker=dict(symbol="diamond", size=9, color=style.MUTED),
            name="map, position by position (it did move)",
            legendgroup="plain",
            showlegend=j == 1,
            hovertemplate="%{x} without moving back: %{y:.1f} %<extra></extra>",
            row=1,
            col=j,
        )
        fig.update_xaxes(categoryorder="array", categoryarray=[c.layer for c in rows], row=1, col=j)
        top = max(top, *(c.plain for c in rows if np.isfinite(c.plain)))
        if tol is not None:
            fig.add_hline(y=100 * tol, line_dash="dot", line_color=style.MUTED, row=1, col=j)
    fig.update_yaxes(range=[0, 105 * top], title_text="change, % of ‖before‖", row=1, col=1)
    fig.update_xaxes(tickangle=-40, type="category")
    fig.update_layout(
        height=height,
        barmode="overlay",
        margin=dict(l=50, r=10, t=30, b=10),
        legend=dict(orientation="h", y=-0.35),
        template=style.TEMPLATE,
    )
    fig.update_annotations(font_size=12)
    return fig


def shift_curves(summaries: Sequence, chance: float | None = None) -> go.Figure:
    """Accuracy against horizontal (left) and vertical (right) shift, one line per model.

    Parameters
    ----------
    summaries : sequence of cnnviz.translation.ShiftSummary
    chance : float, optional
        Draw the accuracy of guessing as a dotted line.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        subplot_titles=("moved left (−) or right (+)", "moved up (−) or down (+)"),
        horizontal_spacing=0.04,
    )
    for i, s in enumerate(summaries):
        for col, ys in ((1, s.horizontal), (2, s.vertical)):
            fig.add_scatter(
                x=list(s.shifts),
                y=[float(v) for v in ys],
                mode="lines+markers",
                name=s.name,
                legendgroup=s.name,
                showlegend=col == 1,
                line=dict(color=_colour(i)),
                hovertemplate=f"{s.name}: %{{y:.1%}} at %{{x}} px<extra></extra>",
                row=1,
                col=col,
            )
    if chance is not None:
        fig.add_hline(
            y=chance,
            line_dash="dot",
            line_color=style.MUTED,
            annotation_text="guessing",
            annotation_position="top left",
        )
    fig.update_xaxes(title_text="shift (pixels)", dtick=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", title_text="test accuracy", row=1, col=1)
    fig.update_layout(
        height=360, margin=_MARGIN, legend=dict(orientation="h", y=-0.25), template=style.TEMPLATE
    )
    return fig


def shift_heatmaps(summaries: Sequence) -> go.Figure:
    """One dx × dy accuracy map per model (sequential scale 0…100 %, one colour bar)."""
    fig = make_subplots(
        rows=1,
        cols=len(summaries),
        subplot_titles=[s.name for s in summaries],
        horizontal_spacing=0.02,
        shared_yaxes=True,
    )
    for j, s in enumerate(summaries, start=1):
        g = np.asarray(s.grid)
        fig.add_trace(
            style.magnitude_heatmap(
                100 * g,
                (0.0, 100.0),
                "accuracy (%)",
                showscale=j == len(summaries),
                x=list(s.shifts),
                y=list(s.shifts),
                text=np.round(100 * g).astype(int),
                texttemplate="%{text}",
                textfont=dict(size=9),
                hovertemplate="dx %{x}, dy %{y}: %{z:.1f} %<extra></extra>",
            ),
            row=1,
            col=j,
        )
    fig.update_xaxes(title_text="dx (right →)", dtick=2, showgrid=False, zeroline=False)
    fig.update_yaxes(autorange="reversed", dtick=2, showgrid=False, zeroline=False)
    fig.update_yaxes(title_text="dy (down ↓)", row=1, col=1)
    fig.for_each_yaxis(lambda ax: ax.update(scaleanchor=ax.anchor or "x"))
    fig.update_layout(height=300, margin=dict(l=50, r=10, t=40, b=40), template=style.TEMPLATE)
    fig.update_annotations(font_size=12)
    return fig


# --- CNN from scratch and the overfitting lab --------------------------------------------------


def _no_negative_zero(s: str) -> str:
    """``"-0.0000"`` (a tiny negative value rounded) written as ``"0.0000"``."""
    return s[1:] if s.startswith("-") and not s.strip("-0.") else s


def matrix(values: np.ndarray, title: str = "", fmt: str = ".3f", height: int = 220) -> go.Figure:
    """A small signed matrix with every number written in its cell (the toy walk-through)."""
    a = np.atleast_2d(np.asarray(values, dtype=np.float64))
    text = [[_no_negative_zero(format(v, fmt)) for v in row] for row in a]
    fig = go.Figure(
        style.signed_heatmap(
            a, text=text, texttemplate="%{text}", hovertemplate="%{text}<extra></extra>"
        )
    )
    fig.update_layout(
        title=f"{title} · {_size(a)}" if title else "",
        height=height,
        margin=dict(l=5, r=5, t=35, b=5),
        template=style.TEMPLATE,
    )
    return style.image_axes(fig)


# The overfitting lab's runs keep one colour in every chart (plain blue, dropout orange, …),
# as each run has one colour on the Train page's learning curves.
RUN_ORDER = ("plain", "dropout", "augmentation", "L2")


def _run_colour(name: str, i: int) -> str:
    return _colour(RUN_ORDER.index(name) if name in RUN_ORDER else i)


def _train_val_pair(
    fig: go.Figure,
    hist: Mapping,
    key: str,
    name: str,
    colour: str,
    row: int,
    col: int,
    legend: bool,
) -> None:
    """Training solid, validation dashed, in the run's colour (the Train page's convention)."""
    for k, who, dash in ((key, "training", "solid"), (f"val_{key}", "validation", "dash")):
        y = [float(v) for v in hist.get(k, [])]
        fig.add_scatter(
            x=list(range(1, len(y) + 1)),
            y=y,
            mode="lines+markers",
            name=f"{name} · {who}",
            line=dict(color=colour, dash=dash),
            marker=dict(size=5),
            showlegend=legend,
            legendgroup=f"{name} · {who}",
            row=row,
            col=col,
        )


def train_val(runs: Mapping[str, Mapping[str, Sequence[float]]], metric: str = "loss") -> go.Figure:
    """Side-by-side panels, one per run: training vs validation ``metric`` per epoch.

    When every run recorded them, the curves are the ones the Overfitting lab's gaps are
    measured on (:data:`cnnviz.overfitting.MEASURED`: ``data_<metric>`` and
    ``val_data_<metric>``, no L2 penalty, dropout off); otherwise Keras's logged
    ``metric`` and ``val_<metric>``. The y axis says which. Each run has its colour
    (:data:`RUN_ORDER`); training is solid, validation dashed, as on the Train page.

    Parameters
    ----------
    runs : mapping
        Run name -> Keras-style history.
    metric : {"loss", "accuracy"}
    """
    names = list(runs)
    measured = bool(runs) and all(
        f"data_{metric}" in h and f"val_data_{metric}" in h for h in runs.values()
    )
    key = f"data_{metric}" if measured else metric
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=names, shared_yaxes=True)
    for i, name in enumerate(names):
        _train_val_pair(fig, runs[name], key, name, _run_colour(name, i), 1, i + 1, True)
        fig.update_xaxes(title_text="epoch", row=1, col=i + 1)
    title = {
        ("loss", True): "data loss (no L2 penalty)",
        ("loss", False): "loss (as Keras logs it)",
        ("accuracy", True): "accuracy (after each epoch)",
        ("accuracy", False): "accuracy (as Keras logs it)",
    }.get((metric, measured), metric)
    fig.update_yaxes(title_text=title, row=1, col=1)
    if metric == "accuracy":
        fig.update_yaxes(tickformat=".0%")
    fig.update_layout(
        height=340,
        margin=_MARGIN,
        legend=dict(y=-0.3, orientation="h"),
        template=style.TEMPLATE,
    )
    return fig


def tutorial_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    n_train: int | None = None,
    n_val: int | None = None,
) -> go.Figure:
    """The full-data experiment: every network's data loss and accuracy per epoch.

    Two panels (data loss, accuracy), the networks together so they compare at a glance:
    one colour per network (:data:`RUN_ORDER`), training solid, validation dashed (the
    Train page's convention); an open diamond marks each network's lowest validation data
    loss. The curves are :data:`cnnviz.overfitting.MEASURED`: the weights after each
    epoch, dropout off, on the training and on the validation images.

    Parameters
    ----------
    histories : mapping
        Network -> history with ``data_loss``, ``val_data_loss``, ``data_accuracy``,
        ``val_data_accuracy``.
    n_train, n_val : int, optional
        Image counts, for the title.
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Data loss (dropout off)", "Accuracy (dropout off)")
    )
    for i, (name, hist) in enumerate(histories.items()):
        colour = _run_colour(name, i)
        _train_val_pair(fig, hist, "data_loss", name, colour, 1, 1, True)
        _train_val_pair(fig, hist, "data_accuracy", name, colour, 1, 2, False)
        val = np.asarray(hist.get("val_data_loss", []), dtype=np.float64)
        if np.isfinite(val).any():
            k = int(np.nanargmin(np.where(np.isfinite(val), val, np.nan)))
            fig.add_scatter(
                x=[k + 1],
                y=[float(val[k])],
                mode="markers",
                marker=dict(color=colour, size=13, symbol="diamond-open", line=dict(width=2)),
                name=f"{name} · lowest validation loss",
                hovertemplate=f"{name}: lowest validation data loss %{{y:.3f}} at epoch "
                "%{x}<extra></extra>",
                row=1,
                col=1,
            )
    for col in (1, 2):
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", tickformat=".0%", row=1, col=2)
    size = f", {n_train:,} training / {n_val:,} validation images" if n_train and n_val else ""
    fig.update_layout(
        title=f"Fashion-MNIST{size}, measured after each epoch",
        height=380,
        margin=dict(l=50, r=10, t=70, b=40),
        legend=dict(y=-0.25, orientation="h"),
        template=style.TEMPLATE,
    )
    return fig


def loss_curve(loss: Sequence[float], title: str = "training loss") -> go.Figure:
    """One loss value per epoch (the toy problem's training)."""
    fig = go.Figure(
        go.Scatter(
            x=list(range(1, len(loss) + 1)),
            y=list(loss),
            mode="lines",
            line=dict(color=style.CATEGORICAL[0]),
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="epoch",
        yaxis_title="binary cross-entropy",
        height=260,
        margin=_MARGIN,
        template=style.TEMPLATE,
    )
    return fig
