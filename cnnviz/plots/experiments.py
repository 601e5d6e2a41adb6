"""Figures for the Experiments pages: translation lab, CNN from scratch, overfitting lab.

Every builder takes plain arrays/dicts and returns a ``go.Figure``; pages only display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# One colour per model so the same model looks the same on every chart.
COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def image(img: np.ndarray, title: str = "", height: int = 260) -> go.Figure:
    """A grey image (ink bright on dark, as the model sees it).

    Parameters
    ----------
    img : np.ndarray
        ``(H, W)`` or ``(H, W, 1)`` floats in [0, 1].
    """
    a = np.asarray(img, dtype=np.float64)
    a = a[..., 0] if a.ndim == 3 else a  # (H, W)
    fig = go.Figure(go.Heatmap(z=a, colorscale="gray", zmin=0, zmax=1, showscale=False))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(title=title, height=height, margin=dict(l=5, r=5, t=35, b=5))
    return fig


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
            marker_color=COLOURS[i % len(COLOURS)],
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
    )
    return fig


def curves(
    x: Sequence[float],
    ys: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    marker_x: float | None = None,
) -> go.Figure:
    """Lines of one value per model against a transform parameter (shift, angle, scale).

    Parameters
    ----------
    x : sequence of float
        The parameter values.
    ys : mapping of str to sequence of float
        Model name -> values, each ``len(x)`` long.
    marker_x : float, optional
        Draw a dashed vertical line here (the slider's current value).
    """
    fig = go.Figure()
    for i, (name, y) in enumerate(ys.items()):
        fig.add_scatter(
            x=list(x),
            y=list(y),
            mode="lines+markers",
            name=name,
            line=dict(color=COLOURS[i % len(COLOURS)]),
        )
    if marker_x is not None:
        fig.add_vline(x=marker_x, line_dash="dash", line_color="grey")
    fig.update_layout(
        title=title,
        xaxis_title=xlabel,
        yaxis=dict(title=ylabel, range=[0, 1.02]),
        height=330,
        margin=dict(l=40, r=10, t=40, b=40),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def matrix(values: np.ndarray, title: str = "", fmt: str = ".3f", height: int = 220) -> go.Figure:
    """A small matrix with every number written in its cell (the toy walk-through)."""
    a = np.atleast_2d(np.asarray(values, dtype=np.float64))
    text = [[format(v, fmt) for v in row] for row in a]
    fig = go.Figure(
        go.Heatmap(
            z=a,
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=0,
            showscale=False,
        )
    )
    fig.update_yaxes(autorange="reversed", showticklabels=False, scaleanchor="x")
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(title=title, height=height, margin=dict(l=5, r=5, t=35, b=5))
    return fig


def train_val(runs: Mapping[str, Mapping[str, Sequence[float]]], metric: str = "loss") -> go.Figure:
    """Side-by-side panels, one per run: training vs validation ``metric`` per epoch.

    Parameters
    ----------
    runs : mapping
        Run name -> Keras-style history with ``metric`` and ``val_<metric>`` lists.
    metric : {"loss", "accuracy"}
    """
    names = list(runs)
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=names, shared_yaxes=True)
    for i, name in enumerate(names, start=1):
        hist = runs[name]
        for key, colour, dash in (
            (metric, COLOURS[1], "solid"),
            (f"val_{metric}", COLOURS[0], "dash"),
        ):
            y = list(hist.get(key, []))
            fig.add_scatter(
                x=list(range(1, len(y) + 1)),
                y=y,
                mode="lines+markers",
                name="validation" if key.startswith("val_") else "training",
                line=dict(color=colour, dash=dash),
                showlegend=i == 1,
                legendgroup=key,
                row=1,
                col=i,
            )
        fig.update_xaxes(title_text="epoch", row=1, col=i)
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_layout(
        height=340, margin=dict(l=40, r=10, t=40, b=40), legend=dict(y=-0.3, orientation="h")
    )
    return fig


def loss_curve(loss: Sequence[float], title: str = "training loss") -> go.Figure:
    """One loss value per epoch (the toy problem's training)."""
    fig = go.Figure(go.Scatter(x=list(range(1, len(loss) + 1)), y=list(loss), mode="lines"))
    fig.update_layout(
        title=title,
        xaxis_title="epoch",
        yaxis_title="binary cross-entropy",
        height=260,
        margin=dict(l=40, r=10, t=40, b=40),
    )
    return fig
