"""Glue shared by Predict, Activations, Filters and Heatmaps: the current image and caches.

The *current image* is what the learner last chose on Predict (sample, upload or drawing):
its raw bytes, a label and where it came from, kept in ``st.session_state`` so it survives
navigation. Its *preprocessing* is the one chosen on Predict (the ``predict_style_c{C}``
setting, kept across pages; ``predict_style_c{C}_fashion`` for a model trained on
Fashion-MNIST, whose default is Fashion-MNIST's own procedure); Activations and Heatmaps
prepare the same bytes the same way, so every page shows the model the same input. Until
the learner chooses an image, it is a bundled sample of what the model was trained on (a 3
for a digit model, a sneaker for a Fashion-MNIST one). Every cached function takes the model as
``_model`` (not hashed) plus ``key``, the model's label and weights fingerprint, so a
retrained model never gets a stale answer.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages._shared import ActiveModel, learner_token, show_error, store
from cnnviz import codegen_inside, data, explain, imaging, models, novelty
from cnnviz.plots import inside as plots

CURRENT = "inside_image"  # session_state: (raw image bytes, label)
DEFAULT_SAMPLE = (3, 0)  # a digit model's first image: the first bundled 3
DEFAULT_SAMPLES = {"digits": DEFAULT_SAMPLE, "clothes": (7, 0)}  # … a clothes model's: a sneaker
STYLES = {
    "mnist": "MNIST (invert, crop, 20 px, centre)",
    "rgb": "RGB (crop and resize)",
    "fashion": "Fashion-MNIST (trim, longest side 28 px, centre, invert)",
}
SET_NAMES = {"digits": "Digits", "clothes": "Clothes"}  # the bundled sample sets, as shown
SAMPLE_CLASSES = {"digits": data.DIGITS, "clothes": data.FASHION_MNIST}


def model_key(active: ActiveModel) -> str:
    """A cache key for the active model: its name for a bundled one, else a weights hash."""
    if active.bundled:
        return active.label
    return f"{active.label}:{explain.fingerprint(active.model)}"


def dataset_of(active: ActiveModel) -> str | None:
    """The dataset the active model was trained on, from its card (``None`` if unknown)."""
    return active.card.get("dataset") or None


def subject_of(active: ActiveModel) -> str | None:
    """``"digits"``, ``"clothes"`` or ``None``: what the active model was trained on."""
    return models.subject(dataset_of(active))


def sample_label(index: int, k: int, kind: str = "digits") -> str:
    """How a bundled sample is named in the UI ("digit 3 (#1)", "Sneaker (#2)")."""
    if kind == "clothes":
        return f"bundled sample: {data.FASHION_MNIST[index]} (#{k + 1})"  # label
    return f"bundled sample: digit {index} (#{k + 1})"  # label


def default_sample(active: ActiveModel | None = None) -> tuple[bytes, str]:
    """The image a page shows before the learner picks one: a sample of the model's data."""
    kind = "clothes" if active is not None and subject_of(active) == "clothes" else "digits"
    index, k = DEFAULT_SAMPLES[kind]
    return imaging.load_sample(index, k, kind), sample_label(index, k, kind)


def set_current(
    raw: bytes, label: str, shape: tuple[int, int, int] | None = None, dataset: str | None = None
) -> bool:
    """Make ``raw`` (an encoded image file) the image every 'Inside' page looks at.

    Only an image that can be read: a bad file (not an image, truncated, empty, over the
    size limits) gets one error sentence, returns ``False`` and leaves the learner's current
    image as it was. With the model's ``shape`` (and ``dataset``) it is checked by preparing
    it as Predict will (cached: the page's own call then costs nothing); without, by
    decoding it.

    Kept in the learner's folder too (``state/inside_image``), so a reload or the learner's
    bookmark finds the same image.
    """
    if st.session_state.get(CURRENT) == (raw, label):
        return True  # the uploader hands the same file back on every run: nothing to save
    try:
        if shape is not None:
            prepare(raw, shape, chosen_style(shape, dataset))
        else:
            readable(raw)
    except imaging.ImageError as exc:
        show_error(exc)
        return False
    st.session_state[CURRENT] = (raw, label)
    token = learner_token()
    store().set_file(token, CURRENT, raw)
    store().set_state(token, CURRENT, {"label": label})
    return True


@st.cache_data(show_spinner=False, max_entries=16)
def readable(raw: bytes) -> tuple[int, int]:
    """The ``(width, height)`` of an image file that decodes (raises ``ImageError`` if not)."""
    return imaging.open_image(raw).size


def current(active: ActiveModel | None = None) -> tuple[bytes, str]:
    """The current image's bytes and label; until the learner picks one, a bundled sample
    of what ``active`` was trained on (:func:`default_sample`)."""
    if CURRENT not in st.session_state:
        token = learner_token()
        saved, raw = store().get_state(token, CURRENT), store().get_file(token, CURRENT)
        if saved and raw:  # a new session of a learner who chose an image before
            st.session_state[CURRENT] = (raw, str(saved.get("label", "your image")))
            return st.session_state[CURRENT]
        return default_sample(active)
    return st.session_state[CURRENT]


def default_style(shape: tuple[int, int, int], dataset: str | None = None) -> str:
    """Fashion-MNIST's procedure for a grayscale model trained on Fashion-MNIST, MNIST
    preprocessing for other grayscale models, resize-and-scale for colour ones."""
    if shape[-1] != 1:
        return "rgb"
    return "fashion" if models.subject(dataset) == "clothes" else "mnist"


def style_key(shape: tuple[int, int, int], dataset: str | None = None) -> str:
    """The Predict setting that holds the preprocessing for models with this many channels
    (one more for grayscale models trained on clothes: their default differs, and each
    keeps the learner's own choice)."""
    extra = "_fashion" if default_style(shape, dataset) == "fashion" else ""
    return f"predict_style_c{shape[-1]}{extra}"


def chosen_style(shape: tuple[int, int, int], dataset: str | None = None) -> str:
    """The preprocessing the learner chose on Predict (the default until they choose)."""
    return st.session_state.get(style_key(shape, dataset)) or default_style(shape, dataset)


def mismatch(active: ActiveModel):
    """The sentence for a model looking at the other kind of bundled sample, else ``None``
    (:func:`cnnviz.models.mismatch_sentence`)."""
    sample = imaging.which_sample(current(active)[0])
    return models.mismatch_sentence(sample and sample[0], subject_of(active), active.label)


def image_caption(active: ActiveModel, shape: tuple[int, int, int]) -> str:
    """Which image and which preprocessing a page shows (both chosen on *Predict*), and
    when the model was trained on the other kind of image, that too."""
    style = STYLES[chosen_style(shape, dataset_of(active))]
    text = f"Image: {current(active)[1]} · preprocessing: {style} (both chosen on *Predict*)"
    other = mismatch(active)
    return f"{text}. {other}" if other else text


@st.cache_data(show_spinner="Preparing your image…", max_entries=16)
def prepare(raw: bytes, shape: tuple[int, int, int], style: str) -> imaging.PreparedImage:
    """Cached :func:`cnnviz.imaging.prepare_image`, with display copies as its steps.

    The model's input is the full-resolution preparation's; the steps kept (and pickled
    by the cache on every run) are display copies at most ``imaging.DISPLAY_SIDE`` pixels
    a side: a few MB for a 12-megapixel photo instead of ~250 MB.
    """
    return imaging.prepare_image(raw, shape, style).for_display()


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
    raw, _ = current(active)
    try:
        prepared = prepare(raw, shape, style or chosen_style(shape, dataset_of(active)))
    except imaging.ImageError as exc:
        show_error(exc)
        return None
    if prepared.warning:
        st.warning(prepared.warning, icon=":material/warning:")
    return prepared


def _picked(choice) -> tuple[str, int]:
    """A picker option as ``(set, class index)``: ``3`` is the digit 3, ``"clothes:7"`` a
    sneaker."""
    if isinstance(choice, str) and ":" in choice:
        kind, index = choice.split(":", 1)
        return kind, int(index)
    return "digits", int(choice)


def _pick_sample(key: str) -> None:
    """Callback: a sample chosen in the picker becomes the current image."""
    choice = st.session_state[key]
    if choice != "current":
        kind, index = _picked(choice)
        set_current(imaging.load_sample(index, 0, kind), sample_label(index, 0, kind))
        st.session_state[key] = "current"


def _option_text(choice, label: str) -> str:
    if choice == "current":
        return f"Current — {label}"
    kind, index = _picked(choice)
    return f"Sample digit {index}" if kind == "digits" else f"Sample {data.FASHION_MNIST[index]}"


def image_picker(key: str, active: ActiveModel | None = None) -> None:
    """A selectbox to keep the current image or switch to a bundled sample: digits and
    clothes, those of what ``active`` was trained on first."""
    _, label = current(active)
    digits = list(range(10))
    clothes = [f"clothes:{c}" for c in range(10)]
    first_clothes = active is not None and subject_of(active) == "clothes"
    samples = clothes + digits if first_clothes else digits + clothes
    st.selectbox(
        "Image",
        ["current", *samples],
        format_func=lambda o: _option_text(o, label),
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


def digit_model(active: ActiveModel) -> bool:
    """Whether the digit-space cue applies: a model trained on digits, or one whose data
    is not known (no card); never one trained on clothes, signs, CIFAR-10…"""
    return dataset_of(active) is None or subject_of(active) == "digits"


def familiarity(
    probs: np.ndarray, image: np.ndarray, active: ActiveModel | None = None
) -> novelty.Familiarity:
    """How far to trust a prediction (:func:`cnnviz.novelty.assess`); the distance to the
    training digits only for a model trained on digits (:func:`digit_model`), and never
    trusted when the current image is a bundled sample of the other kind (:func:`mismatch`)."""
    digits = active is None or digit_model(active)
    foreign = active is not None and mismatch(active) is not None
    space = _digit_space() if digits and image.shape == novelty.DIGIT_SHAPE else None
    return novelty.assess(probs, image, space, digits=digits, foreign=foreign)


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


def bundled_name(active: ActiveModel) -> str | None:
    """The bundled model's file name (``"fashion_plain"``) when the active model is one."""
    if not active.bundled:
        return None
    name = (active.ref or {}).get("bundled") or active.label.split(" (pre-trained")[0]
    return name if name in models.bundled_names() else None


def second_reads(active: ActiveModel, images: list[np.ndarray]) -> tuple[str, list[int]] | None:
    """``(name, top class of each image)`` by a second bundled model trained on the same
    data as the active one (:func:`cnnviz.models.second_opinion`); ``None`` when there is
    none (the learner's own model, or a bundled one alone with its data)."""
    name = bundled_name(active)
    other = models.second_opinion(name) if name else None
    if other is None:
        return None
    from app_pages._shared import bundled_label, bundled_model

    model = bundled_model(other)
    key = bundled_label(other)
    return other, [int(np.argmax(probabilities(model, key, image))) for image in images]


@st.cache_data(show_spinner="Optimising inputs (a few seconds)…", max_entries=32)
def dreams(_model, key: str, targets: tuple[int, ...], layer: str | None, **settings):
    """Cached activation maximisation."""
    return explain.maximize(_model, list(targets), layer, **settings)


@st.cache_resource(show_spinner="Loading MobileNetV2 (ImageNet)…")
def imagenet_model():
    """The shared, read-only ImageNet model (raises ExplainError offline; not cached then)."""
    return explain.imagenet_model()


def model_file(active: ActiveModel) -> str | None:
    """Where the active model's file is, as the code behind a view loads it (a bundled
    model's file in the package, a learner's run under their token; ``None`` for an
    upload, whose program asks for the file)."""
    return codegen_inside.model_file(
        bundled_name(active), active.ref, lambda run: store().model_path(learner_token(), run)
    )
