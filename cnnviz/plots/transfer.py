"""Figures for the Transfer learning page: the three contenders' curves, what is frozen.

Colours come from :mod:`cnnviz.plots.style`: fine-tuning gets the accent (the recipe the
page teaches), feature extraction the blue, training from scratch the grey. Line styles
mean what they mean on the Train page (:func:`cnnviz.plots.training.learning_curves`):
training solid, validation dashed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.plots import style

TRAIN_DASH = "solid"  # the Train page's convention: training solid ...
VALIDATION_DASH = "dash"  # ... validation dashed
LINE_STYLE_NOTE = "solid: training · dashed: validation"

CONTENDER_COLOURS = {
    "fine-tuning": style.ACCENT,
    "feature extraction": style.CATEGORICAL[0],
    "from scratch": style.CATEGORICAL[1],
}


def contender_colour(name: str) -> str:
    """The colour of a contender on every figure of the page."""
    return CONTENDER_COLOURS.get(name, style.MUTED)


def comparison_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    stage_epochs: int | None = None,
    partial: Mapping[str, float] | None = None,
) -> go.Figure:
    """Accuracy and loss per epoch of each contender: training solid, validation dashed.

    The same convention as the Train page; the legend's title says it. Test accuracy is
    not on this figure: it is measured once, on the test images, after training.

    Parameters
    ----------
    histories : mapping
        Contender name → Keras-style history (``accuracy``, ``val_accuracy``, ``loss``,
        ``val_loss``; missing keys are skipped).
    stage_epochs : int, optional
        Epochs of feature extraction before fine-tuning starts: a grey dotted line there
        (a marker, not a curve), and the fine-tuning curves start there (before it they
        are feature extraction's).
    partial : mapping, optional
        Contender name → how far its last (stopped) epoch got, in epochs (1.5 = half way
        through epoch 2, :attr:`cnnviz.transfer.StopPoint.epoch_fraction`, counted from the
        start of its stage): its last point is drawn there, not at a whole epoch.
    """
    partial = partial or {}
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Accuracy", "Loss"))
    for name, hist in histories.items():
        colour = contender_colour(name)
        for col, metric in ((1, "accuracy"), (2, "loss")):
            for prefix, dash, part in (
                ("", TRAIN_DASH, "training"),
                ("val_", VALIDATION_DASH, "validation"),
            ):
                values = list(hist.get(prefix + metric) or [])
                x = np.arange(1, len(values) + 1, dtype=float)
                if name in partial and len(values):
                    # the stopped epoch's point where training got to (its stage's offset)
                    offset = stage_epochs if name == "fine-tuning" and stage_epochs else 0
                    x[-1] = max(offset + float(partial[name]), x[-2] if len(x) > 1 else 0.0)
                if name == "fine-tuning" and stage_epochs and len(values) > stage_epochs:
                    # its first stage is feature extraction's curve: draw from the join on
                    x, values = x[stage_epochs - 1 :], values[stage_epochs - 1 :]
                if not values:
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=[float(v) for v in x],
                        y=values,
                        mode="lines+markers" if len(values) == 1 else "lines",
                        name=f"{name} · {part}",
                        legendgroup=name,
                        showlegend=col == 1,
                        line={"color": colour, "dash": dash, "width": 2},
                        hovertemplate=f"{name}, {part}<br>epoch %{{x:.2f}}: %{{y:.4f}}"
                        "<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    if stage_epochs:
        for col in (1, 2):
            # at the end of feature extraction's last epoch, where fine-tuning's curve joins
            fig.add_vline(
                x=stage_epochs, line={"color": style.MUTED, "dash": "dot"}, row=1, col=col
            )
        fig.add_annotation(
            x=stage_epochs,
            y=0.05,
            xref="x",
            yref="y domain",
            text="fine-tuning starts ▸",
            showarrow=False,
            xanchor="right",
            font={"size": 11, "color": style.ACCENT},
        )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], row=1, col=1)
    fig.update_layout(
        template=style.TEMPLATE,
        height=380,
        margin={"t": 40, "b": 40, "l": 50, "r": 10},
        legend={"orientation": "h", "y": -0.25, "title": {"text": LINE_STYLE_NOTE}},
    )
    return fig


def test_accuracy_bars(
    test_accuracy: Mapping[str, float], stopped: Sequence[str] = ()
) -> go.Figure:
    """One bar per contender: its accuracy on the test images, written on the bar.

    A contender in ``stopped`` did not finish: its bar is hatched and faint and says
    "so far".
    """
    names = list(test_accuracy)
    values = [test_accuracy[n] for n in names]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=[contender_colour(n) for n in names],
            marker_pattern_shape=["/" if n in stopped else "" for n in names],
            marker_opacity=[0.5 if n in stopped else 1.0 for n in names],
            text=[
                f"{v:.1%} so far (stopped)" if n in stopped else f"{v:.1%}"
                for n, v in zip(names, values, strict=True)
            ],
            textposition="auto",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        template=style.TEMPLATE,
        height=60 + 45 * len(names),
        xaxis={"range": [0, 1], "title": "test accuracy", "tickformat": ".0%"},
        yaxis={"autorange": "reversed"},
        margin={"t": 10, "b": 40, "l": 130, "r": 10},
    )
    return fig


def frozen_bars(rows: Sequence[Mapping]) -> go.Figure:
    """Per layer, trainable parameters (accent) stacked on frozen ones (grey).

    Parameters
    ----------
    rows : sequence of mapping
        :func:`cnnviz.transfer.trainable_counts`: ``layer``, ``trainable``,
        ``non-trainable``. Layers without weights are left out.
    """
    rows = [r for r in rows if r["trainable"] or r["non-trainable"]]
    names = [r["layer"] for r in rows]
    fig = go.Figure()
    for key, colour, label in (
        ("trainable", style.ACCENT, "trained"),
        ("non-trainable", style.MUTED, "frozen"),
    ):
        fig.add_trace(
            go.Bar(
                x=[r[key] for r in rows],
                y=names,
                orientation="h",
                name=label,
                marker_color=colour,
                hovertemplate=f"%{{y}}: %{{x:,}} {label} parameters<extra></extra>",
            )
        )
    fig.update_layout(
        template=style.TEMPLATE,
        barmode="stack",
        height=80 + 22 * len(names),
        xaxis={"title": "parameters", "type": "log" if len(names) > 12 else "linear"},
        yaxis={"autorange": "reversed", "type": "category"},
        margin={"t": 10, "b": 40, "l": 150, "r": 10},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
    )
    return fig
