"""Cached glue for the Experiments pages. Thin wrappers over ``cnnviz``; no maths here.

Everything is keyed by bundled-model *names* (strings), never by model objects, so
``st.cache_data`` hashes cheaply and each sweep runs once per process.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import scratch, translation
from pages._shared import bundled_model, sample_dataset

# What the learner sees -> bundled model. Order is the order of bars and curves.
TRANSLATION_MODELS: dict[str, str] = {
    "MLP": "cookbook_mlp",
    "CNN": "cookbook_cnn",
    "CNN trained with shifts": "cookbook_cnn_shift",
}
AVERAGE_ONE = "Average of every 1 (the book's image)"
TEST_IMAGE = "One test image"


@st.cache_data(show_spinner=False)
def chosen_image(source: str, index: int) -> tuple[np.ndarray, int]:
    """The experiment's image, float32 ``(28, 28, 1)`` in [0, 1], and its true label."""
    ds = sample_dataset()
    if source == AVERAGE_ONE:
        return translation.average_image(ds.x_test, ds.y_test, 1), 1
    i = int(index) % len(ds.x_test)
    return ds.x_test[i].astype(np.float32) / 255.0, int(ds.y_test[i])


@st.cache_data(show_spinner=False)
def shifted_verdicts(source: str, index: int, dx: int, dy: int):
    """(moved image, verdicts, probabilities) of the three bundled models."""
    img, label = chosen_image(source, index)
    models_ = {k: bundled_model(v) for k, v in TRANSLATION_MODELS.items()}
    verdicts, probs = translation.verdicts(models_, img, label, dx, dy)
    return translation.shift(img, dx, dy), verdicts, probs


@st.cache_data(show_spinner=False)
def proba_curve(model_name: str, source: str, index: int, axis: str) -> np.ndarray:
    """P(true class) of one image against shift (-6…+6 px) for one bundled model."""
    img, label = chosen_image(source, index)
    shifts = translation.SWEEPS["horizontal shift"][0]
    return translation.proba_vs_shift(bundled_model(model_name), img, label, shifts, axis)


@st.cache_data(show_spinner="Sweeping the test images…")
def accuracy_sweep(model_name: str, kind: str, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of a bundled model over the first ``n_images`` test images, per sweep value."""
    ds = sample_dataset()
    return translation.sweep(
        bundled_model(model_name), ds.x_test[:n_images], ds.y_test[:n_images], kind
    )


# --- CNN from scratch ----------------------------------------------------------------


@st.cache_data(show_spinner=False)
def untrained_toy_traces(seed: int) -> list:
    """The walk-through of a seeded, untrained toy model for both inputs (before training)."""
    model = scratch.toy_model(seed)
    return [scratch.toy_walkthrough(model, i) for i in (0, 1)]


@st.cache_data(show_spinner="Running the model in numpy and in Keras…")
def layer_comparison(_model, label: str, token: int) -> tuple[list[dict], str]:
    """numpy-vs-Keras rows for the active model; ``token`` (its id) keys the cache."""
    x, what = scratch.probe_input(_model.input_shape[1:], sample_dataset().x_test)
    return scratch.table(scratch.compare(_model, x)), what
