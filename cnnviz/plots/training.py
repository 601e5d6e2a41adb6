"""Figures for the Training pages: data overview, learning curves, evaluation."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def learning_curves(
    runs: dict[str, dict[str, list[float]]], epochs: int | None = None
) -> go.Figure:
    """Loss and accuracy per epoch, train (solid) vs validation (dashed), runs overlaid.

    Parameters
    ----------
    runs : dict
        Run label -> Keras-style history (``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy``; missing or empty keys are skipped).
    epochs : int, optional
        Fix the x range to ``1..epochs`` so a live plot does not rescale every epoch.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for i, (label, hist) in enumerate(runs.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        for col, metric in ((1, "loss"), (2, "accuracy")):
            for prefix, dash, part in (("", "solid", "train"), ("val_", "dash", "validation")):
                values = hist.get(prefix + metric) or []
                if not values:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=np.arange(1, len(values) + 1),
                        y=values,
                        mode="lines+markers",
                        name=f"{label} · {part}",
                        legendgroup=label,
                        showlegend=col == 1,
                        line={"color": colour, "dash": dash},
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text="epoch", dtick=1)
    if epochs:
        fig.update_xaxes(range=[0.8, epochs + 0.2])
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(height=360, margin={"t": 40, "b": 40, "l": 40, "r": 10})
    return fig


def confusion_heatmap(confusion: np.ndarray, class_names: tuple[str, ...]) -> go.Figure:
    """Confusion matrix as a heatmap with counts; rows true class, columns predicted."""
    names = [str(c) for c in class_names]
    fig = go.Figure(
        go.Heatmap(
            z=confusion,
            x=names,
            y=names,
            colorscale="Blues",
            text=confusion,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="predicted",
        yaxis_title="true",
        yaxis_autorange="reversed",
        height=460,
        margin={"t": 20, "b": 40, "l": 40, "r": 10},
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig


def image_grid(images: np.ndarray, titles: list[str], cols: int = 3) -> go.Figure:
    """Small multiples of ``uint8`` images ``(n, H, W, C)`` (grey or RGB) with titles."""
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
        if img.shape[-1] == 1:
            trace = go.Heatmap(
                z=img[..., 0], colorscale="gray_r", showscale=False, hoverinfo="skip"
            )
        else:
            trace = go.Image(z=img, hoverinfo="skip")
        fig.add_trace(trace, row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(height=150 * rows + 40, margin={"t": 30, "b": 10, "l": 10, "r": 10})
    return fig


def class_counts_bar(counts: np.ndarray, class_names: tuple[str, ...], title: str) -> go.Figure:
    """How many examples each class has."""
    fig = go.Figure(go.Bar(x=[str(c) for c in class_names], y=counts))
    fig.update_layout(
        title=title, height=300, xaxis_type="category", margin={"t": 40, "b": 40, "l": 40, "r": 10}
    )
    return fig


def pixel_histogram(counts: np.ndarray, edges: np.ndarray) -> go.Figure:
    """Histogram of pixel values 0–255 (log scale: the background dominates)."""
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(edges)))
    fig.update_layout(
        xaxis_title="pixel value",
        yaxis_title="pixels",
        yaxis_type="log",
        height=300,
        margin={"t": 20, "b": 40, "l": 40, "r": 10},
    )
    return fig


def prediction_grid(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: tuple[str, ...],
    cols: int = 3,
) -> go.Figure:
    """Images titled with what the model said and the truth: ``"pred 3 · true 5"``."""
    titles = [
        f"pred {class_names[p]} · true {class_names[t]}"
        for p, t in zip(np.asarray(y_pred), np.asarray(y_true), strict=True)
    ]
    return image_grid(images, titles, cols)
