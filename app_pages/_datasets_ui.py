"""Reusable widgets for the learner's own data and for augmentation (Train, Transfer pages).

Thin glue over :mod:`cnnviz.data` and :class:`cnnviz.training.Augmentation`: the widgets
collect settings, ``cnnviz`` checks them and raises one-sentence errors. Every widget has
a key built from the caller's ``prefix`` and keeps its value across pages.
"""

from __future__ import annotations

import streamlit as st

from app_pages._state import keep_settings
from cnnviz import data, training

_PRESETS = training.AUGMENTATION_PRESETS


def _apply_preset(prefix: str) -> None:
    """``on_change`` of the preset box: copy the preset's settings into the widgets."""
    aug = _PRESETS[st.session_state[f"{prefix}_aug_preset"]]
    h, w = aug.shifts
    st.session_state[f"{prefix}_aug_rotation"] = int(aug.rotation)
    st.session_state[f"{prefix}_aug_wshift"] = float(w)
    st.session_state[f"{prefix}_aug_hshift"] = float(h)
    st.session_state[f"{prefix}_aug_zoom"] = float(aug.zoom)
    st.session_state[f"{prefix}_aug_flip"] = bool(aug.flip)
    st.session_state[f"{prefix}_aug_fill"] = aug.fill_mode


def augmentation_controls(prefix: str, flip_default: bool = False) -> training.Augmentation | None:
    """Preset + the textbooks' augmentation settings; ``None`` when all are off.

    Rotation is in degrees (``rotation_range``), shifts and zoom are fractions, as in
    Keras's ``ImageDataGenerator``. Picking a preset fills the settings, which can then be
    changed one by one.
    """
    keys = [f"{prefix}_aug_{k}" for k in ("preset", "rotation", "wshift", "hshift")]
    keys += [f"{prefix}_aug_{k}" for k in ("zoom", "flip", "fill")]
    keep_settings(*keys)
    st.selectbox(
        "Preset",
        list(_PRESETS),
        key=f"{prefix}_aug_preset",
        on_change=_apply_preset,
        args=(prefix,),
        help="cookbook CIFAR: rotation_range=20, 10 % shifts, horizontal flips",
    )
    c1, c2 = st.columns(2)
    rotation = c1.slider("Rotation (± degrees)", 0, 90, 0, 1, key=f"{prefix}_aug_rotation")
    zoom = c2.slider("Zoom (± fraction)", 0.0, 0.5, 0.0, 0.05, key=f"{prefix}_aug_zoom")
    wshift = c1.slider("Width shift (fraction)", 0.0, 0.5, 0.0, 0.05, key=f"{prefix}_aug_wshift")
    hshift = c2.slider("Height shift (fraction)", 0.0, 0.5, 0.0, 0.05, key=f"{prefix}_aug_hshift")
    fill = c1.selectbox(
        "Fill mode",
        training.FILL_MODES,
        index=training.FILL_MODES.index("constant"),
        key=f"{prefix}_aug_fill",
        help="What fills the pixels that come in from outside: the nearest edge pixel, "
        "black (constant) or a mirror image (reflect).",
    )
    flip = c2.toggle("Horizontal flip", flip_default, key=f"{prefix}_aug_flip")
    aug = training.Augmentation(
        rotation=float(rotation),
        zoom=float(zoom),
        flip=bool(flip),
        fill_mode=fill,
        width_shift=float(wshift),
        height_shift=float(hshift),
    )
    st.caption(f"Augmentation: {aug.describe()}")
    return aug if aug.active else None


def image_size_controls(
    prefix: str, size: int = 28, channels: int = 1, sizes: tuple[int, ...] | None = None
) -> tuple[int, int]:
    """Size (pixels a side) and channels that a zip's images are resized to.

    ``sizes`` restricts the size to a model's sizes (an ImageNet base); ``channels`` is then
    fixed by the caller (3) and shown, not asked.
    """
    keep_settings(f"{prefix}_img_size", f"{prefix}_img_channels")
    c1, c2 = st.columns(2)
    if sizes:
        side = c1.selectbox("Image size (pixels a side)", sizes, key=f"{prefix}_img_size")
    else:
        side = c1.number_input(
            "Image size (pixels a side)",
            8,
            data.MAX_IMAGE_SIDE,
            size,
            key=f"{prefix}_img_size",
            help="28: MNIST-like; 50: the cookbook's grey CNN; 150: Chollet's cats vs dogs",
        )
    labels = {1: "grey (1 channel)", 3: "colour (3 channels)"}
    if sizes:
        c2.text_input("Channels", labels[channels], disabled=True, key=f"{prefix}_img_fixed")
        return int(side), channels
    picked = c2.radio(
        "Channels", (1, 3), index=(1, 3).index(channels), format_func=labels.get,
        key=f"{prefix}_img_channels", horizontal=True,
    )  # fmt: skip
    return int(side), int(picked)


@st.cache_data(show_spinner="Reading your zip…", max_entries=4)
def load_zip(raw: bytes, size: int, channels: int, seed: int = 0) -> data.Dataset:
    """The learner's zip of class folders at ``size``×``size``×``channels``."""
    return data.load_image_zip(raw, size, channels, seed=seed)


def zip_upload(prefix: str, size: int, channels: int, seed: int = 0) -> data.Dataset | None:
    """Uploader for a zip of class folders; one error sentence and ``None`` on failure."""
    up = st.file_uploader(
        "A zip of class folders (cats/…, dogs/…)", type=["zip"], key=f"{prefix}_zip"
    )
    if up is None:
        return None
    try:
        return load_zip(up.getvalue(), size, channels, seed)
    except data.DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


@st.cache_data(show_spinner="Reading your CSV files…", max_entries=4)
def load_sign_language(train: bytes, test: bytes | None, seed: int = 0) -> data.Dataset:
    """Sign-Language-MNIST from its training CSV and, optionally, its separate test CSV."""
    return data.load_sign_language_csv(train, test, seed=seed)


def sign_language_upload(
    prefix: str, seed: int = 0, validation: bool = True
) -> tuple[data.Dataset | None, str]:
    """The notebook's two CSV files and (``validation=True``) where to validate.

    Returns
    -------
    (Dataset or None, str)
        The dataset (``None`` until a training CSV is uploaded or on a bad file, after one
        error sentence) and ``"seeded split"`` or ``"test set"`` (see
        :func:`cnnviz.data.validation_data`).
    """
    keep_settings(f"{prefix}_validate_on")
    c1, c2 = st.columns(2)
    train = c1.file_uploader(
        "Training CSV (sign_mnist_train.csv)", type=["csv"], key=f"{prefix}_csv_train"
    )
    test = c2.file_uploader(
        "Test CSV (sign_mnist_test.csv, optional)", type=["csv"], key=f"{prefix}_csv_test"
    )
    on = data.VALIDATION_CHOICES[0]
    if validation:
        on = st.radio(
            "Validate after each epoch on",
            data.VALIDATION_CHOICES,
            key=f"{prefix}_validate_on",
            horizontal=True,
            help="The notebook validates on the test set (validation_data=(x_test, y_test)); "
            "a seeded split of the training images keeps the test set unseen until the end.",
        )
    if train is None:
        return None, on
    try:
        ds = load_sign_language(train.getvalue(), None if test is None else test.getvalue(), seed)
    except data.DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return None, on
    st.caption(training.split_sentence(len(ds.x_train), len(ds.x_test), ds.extra["test_from"]))
    return ds, on
