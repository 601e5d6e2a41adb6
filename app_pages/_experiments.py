"""Cached glue for the Experiments pages. Thin wrappers over ``cnnviz``; no maths here.

Caches are keyed by strings, never by model objects: the translation lab's by a *token*
(``"bundled"`` for the shared pre-trained trio — computed once per process — or a fresh
uuid per retraining in one session), so ``st.cache_data`` hashes cheaply.
"""

from __future__ import annotations

import uuid

import numpy as np
import streamlit as st

from app_pages._shared import bundled_model, sample_dataset
from cnnviz import data, scratch, translation

# What the learner sees -> bundled model. Order is the order of bars and curves.
TRANSLATION_MODELS: dict[str, str] = {
    "MLP": "cookbook_mlp",
    "CNN": "cookbook_cnn",
    "CNN trained with shifts": "cookbook_cnn_shift",
}
AVERAGE_ONE = "Average of every 1 (the book's image)"
TEST_IMAGE = "One test image"
BUNDLED = "bundled"
_OWN = "tr_own"  # session_state: {"token": str, "models": {label: keras.Model}, ...}


def lab_models(token: str) -> dict:
    """Label -> model for ``token``: the bundled trio, or this session's retrained one."""
    own = st.session_state.get(_OWN)
    if token != BUNDLED and own is not None and own["token"] == token:
        return own["models"]
    return {k: bundled_model(v) for k, v in TRANSLATION_MODELS.items()}


def store_retrained(models_: dict, settings: dict) -> str:
    """Keep this session's retrained models; return the token that keys their caches."""
    token = uuid.uuid4().hex  # unique, so no other session's cache entry can match
    st.session_state[_OWN] = {"token": token, "models": models_, "settings": settings}
    return token


def retrained() -> dict | None:
    """This session's retrained models and settings, or ``None``."""
    return st.session_state.get(_OWN)


@st.cache_data(show_spinner=False)
def chosen_image(source: str, index: int) -> tuple[np.ndarray, int]:
    """The experiment's image, float32 ``(28, 28, 1)`` in [0, 1], and its true label."""
    ds = sample_dataset()
    if source == AVERAGE_ONE:
        return translation.average_image(ds.x_test, ds.y_test, 1), 1
    i = int(index) % len(ds.x_test)
    return data.prepare(ds.x_test[i : i + 1])[0], int(ds.y_test[i])


@st.cache_data(show_spinner=False)
def shifted_verdicts(token: str, source: str, index: int, dx: int, dy: int):
    """(moved image, verdicts, probabilities) of the three models."""
    img, label = chosen_image(source, index)
    verdicts, probs = translation.verdicts(lab_models(token), img, label, dx, dy)
    return translation.shift(img, dx, dy), verdicts, probs


@st.cache_data(show_spinner=False)
def proba_curves(token: str, source: str, index: int, axis: str) -> dict[str, np.ndarray]:
    """Label -> P(true class) of one image against shift (-6…+6 px)."""
    img, label = chosen_image(source, index)
    shifts = translation.SWEEPS["horizontal shift"][0]
    return {
        k: translation.proba_vs_shift(m, img, label, shifts, axis)
        for k, m in lab_models(token).items()
    }


@st.cache_data(show_spinner="Sweeping the test images…")
def accuracy_sweeps(token: str, kind: str, n_images: int) -> tuple[np.ndarray, dict]:
    """(parameter values, label -> accuracy) over the first ``n_images`` test images."""
    ds = sample_dataset()
    x, y = ds.x_test[:n_images], ds.y_test[:n_images]
    out = {k: translation.sweep(m, x, y, kind) for k, m in lab_models(token).items()}
    return next(iter(out.values()))[0], {k: acc for k, (_, acc) in out.items()}


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
