"""Figures for the Training pages: data overview, learning curves, evaluation.

Colours come from :mod:`cnnviz.plots.style`: counts on the confusion matrix are
magnitudes (``SEQUENTIAL``), pictures are drawn as stored (``image_trace``), each run
on the learning curves has one ``CATEGORICAL`` colour.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz import claims
from cnnviz.claims import Claim
from cnnviz.evaluation import confusion_colour_values
from cnnviz.plots import style
from cnnviz.training import ending, smooth

RAW_OPACITY = 0.35  # the per-batch points under the smoothed line, as in TensorBoard


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    kw.setdefault("margin", {"t": 40, "b": 40, "l": 50, "r": 10})
    fig.update_layout(height=height, template=style.TEMPLATE, **kw)
    return fig


def learning_curves(
    runs: Mapping[str, Mapping],
    epochs: int | None = None,
    smoothing: float = 0.6,
    log_loss: bool = False,
) -> go.Figure:
    """Loss and accuracy: training per batch (faint) and smoothed, validation per epoch.

    The loss's trend is smoothed in log space (:func:`cnnviz.training.smooth` with
    ``log=True``), so one early spike does not hold it up; accuracy's is a plain moving
    average. Validation sits where it was measured (``points["val_epoch"]``: a run
    stopped mid-epoch validated there), after epoch 0. Where the training loss *ended*
    (:func:`cnnviz.training.ending`, the measure the run's sentences use) is drawn on the
    loss panel as a diamond over the points it averages (``"<label> · ended at"``).

    Parameters
    ----------
    runs : mapping
        Run label -> ``{"history": …, "points": …, "start": …}``: the per-epoch Keras
        history, the live per-batch points (``epoch`` fractional, ``loss``, ``accuracy``,
        ``val_epoch``; see :class:`cnnviz.training.Progress`) and the epoch-0 figures
        (``loss``, ``accuracy``). A plain Keras history is accepted too (then training is
        drawn per epoch).
    epochs : int, optional
        Fix the x range to ``0..epochs`` so a live plot does not rescale every batch.
    smoothing : float
        TensorBoard's smoothing weight in [0, 1) for the training line (0 = raw).
    log_loss : bool
        Draw the loss on a log axis (a diverged run's 10⁵ then does not flatten the rest).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for i, (label, run) in enumerate(runs.items()):
        colour = style.CATEGORICAL[i % len(style.CATEGORICAL)]
        hist = run.get("history", run) or {}
        points = run.get("points") or {}
        start = run.get("start") or {}
        for col, metric in ((1, "loss"), (2, "accuracy")):
            raw = points.get(metric) or []
            if raw:
                x = points["epoch"]
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=raw,
                        mode="markers",
                        marker={"color": colour, "size": 5},
                        opacity=RAW_OPACITY,
                        name=f"{label} · train (each point: one execution's batches)",
                        legendgroup=label,
                        showlegend=False,
                        hovertemplate=f"epoch %{{x:.2f}}: {metric} %{{y:.4f}}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
                y, name = smooth(raw, smoothing, log=metric == "loss"), f"{label} · train"
            else:
                x = np.arange(1, len(hist.get(metric) or []) + 1)
                y, name = hist.get(metric) or [], f"{label} · train"
            if len(y):
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="lines" if raw else "lines+markers",
                        line={"color": colour},
                        name=name,
                        legendgroup=label,
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
            val = list(hist.get("val_" + metric) or [])
            vx = list(points.get("val_epoch") or [])
            if len(vx) != len(val):  # stored before validation's place was recorded
                vx = list(range(1, len(val) + 1))
            if val and metric in start:
                vx, val = [0, *vx], [start[metric], *val]  # epoch 0: before training
            if val:
                fig.add_trace(
                    go.Scatter(
                        x=vx,
                        y=val,
                        mode="lines+markers",
                        line={"color": colour, "dash": "dash"},
                        marker={"size": 7},
                        name=f"{label} · validation",
                        legendgroup=label,
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
        end = ending(hist, points) if points.get("loss") else None
        if end is not None and np.isfinite(end.loss):
            fig.add_trace(
                go.Scatter(
                    x=[end.first_epoch, end.last_epoch],
                    y=[end.loss, end.loss],
                    mode="lines+markers",
                    line={"color": colour, "width": 3},
                    marker={"color": colour, "size": 11, "symbol": "diamond"},
                    name=f"{label} · ended at",
                    legendgroup=label,
                    showlegend=False,
                    hovertemplate=f"ended at %{{y:.4g}}: {end.measure}<extra></extra>",
                ),
                row=1,
                col=1,
            )
    fig.update_xaxes(title_text="epoch", dtick=1 if not epochs or epochs <= 20 else None)
    if epochs:
        fig.update_xaxes(range=[-0.1, epochs + 0.1])
    fig.update_yaxes(type="log" if log_loss else "linear", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    return _layout(fig, 380, legend={"orientation": "h", "y": -0.25})


_SCALE_TITLES = {"counts": "images", "log": "images (log)", "row": "share of true class"}


def confusion_heatmap(
    confusion: np.ndarray, class_names: tuple[str, ...], scale: str = "log"
) -> go.Figure:
    """Confusion matrix: every cell shows its count; the colour follows ``scale``.

    ``scale`` is one of :data:`cnnviz.evaluation.CONFUSION_SCALES`: ``"counts"``,
    ``"log"`` (so the few mistakes show beside the large diagonal) or ``"row"`` (share of
    the true class). Rows are the true class, columns the predicted one.
    """
    cm = np.asarray(confusion)
    names = [str(c) for c in class_names]
    z = confusion_colour_values(cm, scale)
    share = confusion_colour_values(cm, "row")
    heat = style.magnitude_heatmap(
        z,
        colorbar_title=_SCALE_TITLES[scale],
        x=names,
        y=names,
        text=cm,
        texttemplate="%{text}",
        customdata=share,
        hovertemplate=(
            "true %{y}, predicted %{x}: %{text} images "
            "(%{customdata:.1%} of the true %{y})<extra></extra>"
        ),
    )
    if scale == "log":  # label the colour bar in images, not in log10 units
        top = max(1, int(cm.max()))
        ticks = [t for t in (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000) if t <= top]
        heat.colorbar.update(tickvals=np.log10(1 + np.array(ticks)), ticktext=ticks)
    fig = go.Figure(heat)
    fig.update_xaxes(type="category", title_text="predicted", showgrid=False)
    fig.update_yaxes(type="category", title_text="true", autorange="reversed", showgrid=False)
    return _layout(fig, 460)


def image_grid(images: np.ndarray, titles: list[str], cols: int = 3) -> go.Figure:
    """Small multiples of ``uint8`` images ``(n, H, W, C)`` (grey or RGB), as stored."""
    n = len(images)
    rows = max(1, -(-n // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles or None,
        horizontal_spacing=0.02,
        vertical_spacing=0.08,
    )
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        fig.add_trace(style.image_trace(img, hoverinfo="skip"), row=r + 1, col=c + 1)
    style.image_axes(fig)
    fig.update_annotations(font_size=12)
    return _layout(fig, 150 * rows + 40, margin={"t": 30, "b": 10, "l": 10, "r": 10})


def class_counts_bar(counts: np.ndarray, class_names: tuple[str, ...], title: str) -> go.Figure:
    """How many examples each class has."""
    fig = go.Figure(go.Bar(x=[str(c) for c in class_names], y=counts, marker_color=style.ACCENT))
    fig.update_xaxes(type="category", title_text="class")
    fig.update_yaxes(title_text="images")
    return _layout(fig, 300, title=title)


def pixel_histogram(counts: np.ndarray, edges: np.ndarray) -> go.Figure:
    """Histogram of pixel values 0–255 (log scale: the background dominates)."""
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(edges), marker_color=style.ACCENT))
    fig.update_xaxes(title_text="pixel value (0 = black, 255 = white)")
    fig.update_yaxes(title_text="pixels (log scale)", type="log", dtick=1)  # 1, 10, 100…
    return _layout(fig, 300, margin={"t": 20, "b": 40, "l": 50, "r": 10})


def prediction_grid(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: tuple[str, ...],
    confidence: np.ndarray | None = None,
    cols: int = 3,
) -> go.Figure:
    """Images titled with the model's answer, its probability and the truth.

    ``"said 3 (87%) · true 5"``; without ``confidence`` just ``"said 3 · true 5"``.
    """
    titles = [
        prediction_title(
            class_names[p], class_names[t], None if confidence is None else confidence[k]
        )
        for k, (p, t) in enumerate(zip(np.asarray(y_pred), np.asarray(y_true), strict=True))
    ]
    if max((len(str(n)) for n in class_names), default=0) > 3:  # "T-shirt/top": two lines
        titles = [str(t).replace(" · ", "<br>") for t in titles]
    return image_grid(images, titles, cols)


@claims.claim
def prediction_title(said: str, true: str, confidence: float | None = None) -> Claim:
    """One image's title: ``"said 3 (86.6 %) · true 5"`` (the probability of its own
    answer, as :func:`cnnviz.novelty.percent` shows probabilities on every page: never
    "100 %" below 1).

    Examples
    --------
    >>> prediction_title("3", "5", 0.866), prediction_title("3", "3")
    ('said 3 (86.6 %) · true 5', 'said 3 · true 3')
    """
    from cnnviz.novelty import percent

    sure = f" ({percent(confidence)})" if confidence is not None else ""
    return Claim(
        f"said {said}{sure} · true {true}",
        said=str(said),
        true=str(true),
        confidence=None if confidence is None else float(confidence),
    )
