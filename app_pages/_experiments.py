"""Cached glue for the Experiments pages. Thin wrappers over ``cnnviz``; no maths here.

Caches are keyed by strings, never by model objects: a *token* names each model the
Translation lab measures (``"bundled:<name>"`` for the shared pre-trained models —
computed once per process — or ``"active:<label>:<id>"`` for the learner's own), so
``st.cache_data`` hashes cheaply and one learner never sees another's numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app_pages._shared import active_model, bundled_model, sample_dataset
from cnnviz import data, models, scratch, translation

# What the learner sees -> bundled model, in the order of every chart and table.
LAB: dict[str, str] = {
    "MLP": "cookbook_mlp",
    "Book CNN": "cookbook_cnn",
    "Global-pooling CNN": "global_pool_cnn",
    "Shift-trained CNN": "cookbook_cnn_shift",
}
LAYER_LAB = ("MLP", "Book CNN", "Global-pooling CNN")  # section 3 compares these three
CONV_LAB = ("Book CNN", "Global-pooling CNN")  # section 2 needs a first Conv2D
AVERAGE_ONE = "Average of every 1 (the book's image)"
TEST_IMAGE = "One test image"
LAYER_IMAGES = 200  # test images averaged over in the layer-by-layer measure
_GRIDS = "tr_grids"  # session_state: token -> accuracy grid computed live in this session


@dataclass(frozen=True)
class Subject:
    """One model the lab measures."""

    label: str
    token: str
    model: object
    bundled: str | None = None  # the bundled model's name, when it is one


def lab_subjects() -> list[Subject]:
    """The lab's four bundled models."""
    return [Subject(k, f"bundled:{v}", bundled_model(v), v) for k, v in LAB.items()]


def not_a_digit_model() -> str | None:
    """The active model's label when it was trained on something other than digits (a
    Fashion-MNIST model): the lab moves digits, so it is not offered. ``None`` otherwise."""
    active = active_model()
    dataset = active.card.get("dataset")
    return active.label if dataset and models.subject(dataset) != "digits" else None


def learners_subject() -> Subject | None:
    """The session's active model (chosen on Evaluate), unless it is one of the lab's or
    was not trained on digits (:func:`not_a_digit_model`)."""
    active = active_model()
    if not_a_digit_model() is not None:
        return None
    name = active.card.get("name") if active.bundled else None  # a bundled model's card names it
    name = name if name in models.bundled_names(models.CARDLESS_DATASET) else None
    if name in LAB.values():
        return None
    if name is not None:
        return Subject(name, f"bundled:{name}", bundled_model(name), name)
    token = f"active:{active.label}:{id(active.model)}"
    return Subject(f"{active.label} (yours)", token, active.model)


@st.cache_resource(show_spinner=False, max_entries=200)
def figure(name: str, key: Hashable, _build: Callable):
    """``_build()``'s figure, built once per ``(name, key)``: ``key`` must name every input.

    A shared, read-only object (``st.plotly_chart`` only reads it): building a figure
    with subplots, or unpickling one from ``st.cache_data``, costs 5–20 ms each because
    plotly validates every property again; with nine charts that alone was over half of
    the page's rerun budget.
    """
    return _build()


# --- 1. the book's experiment ---------------------------------------------------------------


@st.cache_data(show_spinner=False)
def chosen_image(source: str, index: int) -> tuple[np.ndarray, int]:
    """The experiment's image, float32 ``(28, 28, 1)`` in [0, 1], and its true label."""
    ds = sample_dataset()
    if source == AVERAGE_ONE:
        return translation.average_image(ds.x_test, ds.y_test, 1), 1
    i = int(index) % len(ds.x_test)
    return data.prepare(ds.x_test[i : i + 1])[0], int(ds.y_test[i])


@st.cache_data(show_spinner=False)
def book_experiment() -> tuple[dict, list[dict], str]:
    """(images, one row per lab model, the caption measuring the book's shifts)."""
    avg, label = chosen_image(AVERAGE_ONE, 0)
    images = translation.book_images(avg)
    lab = {s.label: s.model for s in lab_subjects()}
    return images, translation.book_table(lab, images, label), translation.book_caption(avg)


@st.cache_data(show_spinner=False)
def shifted_verdicts(source: str, index: int, dx: int, dy: int):
    """(moved image, verdicts, probabilities) of the lab's models."""
    img, label = chosen_image(source, index)
    lab = {s.label: s.model for s in lab_subjects()}
    verdicts, probs = translation.verdicts(lab, img, label, dx, dy)
    return translation.shift(img, dx, dy), verdicts, probs


# --- 2. equivariance --------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def equivariance_demo(label: str, index: int, dx: int, dy: int, channel: int):
    """:func:`cnnviz.translation.equivariance` for a lab model and a test image."""
    img, _ = chosen_image(TEST_IMAGE, index)
    return translation.equivariance(bundled_model(LAB[label]), img, dx, dy, channel)


@st.cache_data(show_spinner=False)
def filters_of(label: str) -> tuple[int, int]:
    """(number of filters of a lab model's first convolution, the one with the largest bias).

    That filter is the default: its map is relu(bias) > 0 on the blank background, so the
    strip the shift's zero fill leaves shows in the difference.
    """
    layer, out, _ = translation.first_conv(bundled_model(LAB[label]))
    return int(out.shape[-1]), int(np.argmax(np.asarray(layer.bias)))


# --- 3. layer by layer --------------------------------------------------------------------------


@st.cache_data(show_spinner="Running the test digits through every layer…")
def layer_rows(token: str, dx: int, dy: int, _model) -> list:
    """:func:`cnnviz.translation.layer_changes` on the first test digits; ``token`` keys it."""
    x = sample_dataset().x_test[:LAYER_IMAGES]
    return translation.layer_changes(_model, x, dx, dy)


# --- 4. accuracy against shift ------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def _asset() -> dict:
    loaded = translation.load_sweeps()
    return loaded[1] if loaded else {}


@st.cache_data(show_spinner=False)
def _digest(name: str) -> str:
    return translation.weights_digest(bundled_model(name))


def precomputed(subject: Subject) -> dict | None:
    """The asset's entry for a bundled model, if it was computed with these very weights."""
    if subject.bundled is None:
        return None
    entry = _asset().get(subject.bundled)
    return entry if entry and entry.get("weights_sha256") == _digest(subject.bundled) else None


def summary(subject: Subject) -> translation.ShiftSummary:
    """The model's dx × dy accuracy: precomputed, or swept now (once per session, with
    a progress bar; the Stop button in the app's menu interrupts it)."""
    entry = precomputed(subject)
    if entry is not None:
        return translation.summarize(
            subject.label, entry["grid"], entry["shifts"], entry["n_images"]
        )
    ds = sample_dataset()
    grids = st.session_state.setdefault(_GRIDS, {})
    if subject.token not in grids:
        bar = st.progress(0.0, text=f"Sweeping {subject.label} over 81 shifts…")
        grids[subject.token] = translation.accuracy_grid(
            subject.model,
            ds.x_test,
            ds.y_test,
            translation.SHIFTS,
            lambda f, where: bar.progress(f, text=f"Sweeping {subject.label}: {where}"),
        )
        bar.empty()
    return translation.summarize(
        subject.label, grids[subject.token], translation.SHIFTS, len(ds.y_test)
    )


@st.cache_data(show_spinner="Sweeping the test images…")
def beyond_sweeps(kind: str, n_images: int) -> tuple[np.ndarray, dict]:
    """(parameter values, label -> accuracy) of the lab's models for rotation or zoom."""
    ds = sample_dataset()
    x, y = ds.x_test[:n_images], ds.y_test[:n_images]
    out = {s.label: translation.sweep(s.model, x, y, kind) for s in lab_subjects()}
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
