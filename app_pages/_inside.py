"""Glue shared by Predict, Activations, Filters and Heatmaps: the current image and caches.

The *current image* is what the learner last chose on Predict (sample, upload or drawing):
its raw bytes, a label and where it came from, kept in ``st.session_state`` so it survives
navigation. Its *preprocessing* is the one chosen on Predict (the ``predict_style_c{C}``
setting, kept across pages); Activations and Heatmaps prepare the same bytes the same way,
so every page shows the model the same input. Every cached function takes the model as
``_model`` (not hashed) plus ``key``, the model's label and weights fingerprint, so a
retrained model never gets a stale answer.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages._shared import ActiveModel, show_error
from cnnviz import explain, imaging, novelty
from cnnviz.plots import inside as plots

CURRENT = "inside_image"  # session_state: (raw image bytes, label)
DEFAULT_SAMPLE = (3, 0)
STYLES = {"mnist": "MNIST (invert, crop, 20 px, centre)", "rgb": "RGB (crop and resize)"}


def model_key(active: ActiveModel) -> str:
    """A cache key for the active model: its name for a bundled one, else a weights hash."""
    if active.bundled:
        return active.label
    return f"{active.label}:{explain.fingerprint(active.model)}"


def sample_label(digit: int, k: int) -> str:
    """How a bundled sample is named in the UI."""
    return f"bundled sample: digit {digit} (#{k + 1})"


def set_current(raw: bytes, label: str) -> None:
    """Make ``raw`` (an encoded image file) the image every 'Inside' page looks at."""
    st.session_state[CURRENT] = (raw, label)


def current() -> tuple[bytes, str]:
    """The current image's bytes and label (a bundled 3 until the learner picks one)."""
    if CURRENT not in st.session_state:
        return imaging.load_sample(*DEFAULT_SAMPLE), sample_label(*DEFAULT_SAMPLE)
    return st.session_state[CURRENT]


def default_style(shape: tuple[int, int, int]) -> str:
    """MNIST preprocessing for grayscale models, resize-and-scale for colour ones."""
    return "mnist" if shape[-1] == 1 else "rgb"


def style_key(shape: tuple[int, int, int]) -> str:
    """The Predict setting that holds the preprocessing for models with this many channels."""
    return f"predict_style_c{shape[-1]}"


def chosen_style(shape: tuple[int, int, int]) -> str:
    """The preprocessing the learner chose on Predict (the default until they choose)."""
    return st.session_state.get(style_key(shape)) or default_style(shape)


def image_caption(shape: tuple[int, int, int]) -> str:
    """Which image and which preprocessing a page shows (both chosen on Predict)."""
    return (
        f"Image: {current()[1]} · preprocessing: {STYLES[chosen_style(shape)]} "
        "(both chosen on *Predict*)"
    )


@st.cache_data(show_spinner=False, max_entries=64)
def prepare(raw: bytes, shape: tuple[int, int, int], style: str) -> imaging.PreparedImage:
    """Cached :func:`cnnviz.imaging.prepare_image`."""
    return imaging.prepare_image(raw, shape, style)


def model_shape(active: ActiveModel) -> tuple[int, int, int] | None:
    """The model's ``(H, W, C)`` image input, or ``None`` (with an error) if it has none."""
    try:
        return explain.image_shape(active.model)
    except explain.ExplainError as exc:
        show_error(exc)
        return None


def prepared_current(active: ActiveModel, style: str | None = None):
    """The current image prepared for ``active`` as chosen on Predict; ``None`` on error."""
    shape = model_shape(active)
    if shape is None:
        return None
    raw, _ = current()
    try:
        prepared = prepare(raw, shape, style or chosen_style(shape))
    except imaging.ImageError as exc:
        show_error(exc)
        return None
    if prepared.warning:
        st.warning(prepared.warning, icon=":material/warning:")
    return prepared


def _pick_sample(key: str) -> None:
    """Callback: a sample chosen in the picker becomes the current image."""
    choice = st.session_state[key]
    if choice != "current":
        set_current(imaging.load_sample(int(choice), 0), sample_label(int(choice), 0))
        st.session_state[key] = "current"


def image_picker(key: str) -> None:
    """A selectbox to keep the current image or switch to a bundled sample digit."""
    _, label = current()
    st.selectbox(
        "Image",
        ["current", *range(10)],
        format_func=lambda o: f"Current — {label}" if o == "current" else f"Sample digit {o}",
        key=key,
        on_change=_pick_sample,
        args=(key,),
        help="Upload or draw your own image on the Predict page.",
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def figure(builder: str, *args, **kwargs):
    """A cached figure from ``cnnviz.plots.inside.<builder>(*args, **kwargs)``.

    One shared, read-only object per input (``st.plotly_chart`` only reads it): from
    ``st.cache_data`` every page run unpickled a copy, and plotly validated each property
    again, the largest part of a warm page run's CPU (benchmarks/bench_classroom.py).
    """
    return getattr(plots, builder)(*args, **kwargs)


@st.cache_data(show_spinner=False, max_entries=64)
def probabilities(_model, key: str, image: np.ndarray) -> np.ndarray:
    """Cached class probabilities ``(K,)`` for one image."""
    return explain.predict_proba(_model, image)


def class_names(active: ActiveModel, n: int) -> tuple[str, ...]:
    """The active model's class names, or unit numbers if they do not match its output."""
    names = tuple(active.class_names)
    return names if len(names) == n else tuple(str(i) for i in range(n))


def predict(active: ActiveModel, image: np.ndarray) -> tuple[np.ndarray, tuple[str, ...], int]:
    """Probabilities, class names and the predicted index for one prepared image."""
    probs = probabilities(active.model, model_key(active), image)
    return probs, class_names(active, len(probs)), int(np.argmax(probs))


@st.cache_data(show_spinner="Computing every layer's output…", max_entries=32)
def activation_figures(
    _model, key: str, image, max_maps: int, shared: bool, names: tuple[str, ...]
) -> list[tuple[str, str, object]]:
    """``(layer name, shape text, figure or note)`` for every layer, in order."""
    out = []
    output = _model.layers[-1].name
    for name, value in explain.activations(_model, image).items():
        shape = "×".join(str(s) for s in value.shape)
        note = explain.passthrough_note(_model, name)
        if note is not None:
            fig = note
        elif value.ndim == 3:
            h, w, n = value.shape
            shown = f", first {max_maps} shown" if n > max_maps else ""
            title = f"{name}: {n} maps of {h}×{w}{shown}"
            fig = plots.feature_maps(value, title, max_maps, shared=shared)
        elif value.ndim == 1 and name == output and explain.is_probability_output(_model):
            fig = plots.dense_bars(value, f"{name}: class probabilities", names, True)
        elif value.ndim == 1:
            fig = plots.dense_bars(value, f"{name}: {value.shape[0]} units")
        else:
            fig = "This layer's output is not a map or a vector; nothing to draw."
        out.append((name, shape, fig))
    return out


@st.cache_data(show_spinner=False, max_entries=64)
def layer_output(_model, key: str, image, layer: str) -> np.ndarray:
    """One layer's output for one image (cached)."""
    return explain.activations(_model, image)[layer]


@st.cache_data(show_spinner="Computing the evidence for every class…", max_entries=64)
def evidence(_model, key: str, image, method: str, layer: str | None) -> np.ndarray:
    """Cached :func:`cnnviz.explain.evidence`: ``(K, H, W)`` for one method."""
    return explain.evidence(_model, image, method, layer)


def familiarity(probs: np.ndarray, image: np.ndarray) -> novelty.Familiarity:
    """How far to trust a prediction (:func:`cnnviz.novelty.assess`)."""
    space = _digit_space() if image.shape == novelty.DIGIT_SHAPE else None
    return novelty.assess(probs, image, space)


@st.cache_resource(show_spinner="Summarising the training digits…")
def _digit_space() -> novelty.DigitSpace:
    return novelty.digit_space()


@st.cache_data(show_spinner="Computing heatmaps…", max_entries=64)
def heatmap(_model, key: str, image, method: str, class_index: int | None, layer: str | None):
    """Cached :func:`cnnviz.explain.heatmap`."""
    return explain.heatmap(_model, image, method, class_index, layer)


@st.cache_resource(show_spinner="Randomising a copy of the model…", max_entries=4)
def randomized(_model, key: str, seed: int = 0):
    """A weight-randomised clone (read-only once made) for the sanity check."""
    return explain.randomized_clone(_model, seed)


@st.cache_data(show_spinner="Optimising inputs (a few seconds)…", max_entries=32)
def dreams(_model, key: str, targets: tuple[int, ...], layer: str | None, **settings):
    """Cached activation maximisation."""
    return explain.maximize(_model, list(targets), layer, **settings)


@st.cache_resource(show_spinner="Loading MobileNetV2 (ImageNet)…")
def imagenet_model():
    """The shared, read-only ImageNet model (raises ExplainError offline; not cached then)."""
    return explain.imagenet_model()
