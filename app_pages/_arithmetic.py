"""Widgets and caches shared by the Convolution, Stride & padding and Pooling pages.

Thin glue over ``cnnviz.conv`` / ``cnnviz.pooling`` / ``cnnviz.plots.arithmetic``: every
trace or figure is built in a ``st.cache_data`` function keyed on all its inputs, so a
rerun after warm-up only redraws. Stepping itself happens in the browser (``_stepper``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._state import keep_settings
from cnnviz import conv, imaging, pooling
from cnnviz.plots import arithmetic as plots

ROOT = Path(__file__).resolve().parent.parent
IMAGES = {
    "Landscape (bundled)": ROOT / "assets" / "images" / "scene.png",
    "Handwritten 7 (MNIST)": ROOT / "assets" / "samples" / "digit_7_0.png",
    "Handwritten 3 (MNIST)": ROOT / "assets" / "samples" / "digit_3_0.png",
}
UPLOAD = "Upload your own"
PADDINGS = ["valid", "same", "explicit"]


# ----------------------------------------------------------------------------- caches
@st.cache_data(show_spinner=False, max_entries=64)
def conv_view(
    x: np.ndarray,
    k: np.ndarray,
    bias: float,
    relu: bool,
    stride: int = 1,
    padding: str | int = "valid",
    dilation: int = 1,
) -> dict:
    """What the stepper draws for a small convolution (raises ``ConvError``)."""
    return plots.stepper_data(conv.conv_trace(x, k, bias, stride, padding, dilation, relu))


@st.cache_data(show_spinner=False, max_entries=64)
def pool_view(x: np.ndarray, size: int, stride: int, padding: str, mode: str) -> dict:
    """What the stepper draws for a small pooling (raises ``PoolError``)."""
    return plots.stepper_data(pooling.pool_trace(x, size, stride, padding, mode))


@st.cache_data(show_spinner=False)
def image_bytes(name: str) -> bytes:
    """Contents of a bundled image."""
    return IMAGES[name].read_bytes()


@st.cache_data(show_spinner=False, max_entries=32)
def load_image(data: bytes, rgb: bool) -> np.ndarray:
    """Decoded image in [0, 1], ``(H, W)`` or ``(H, W, 3)``, exactly as stored: a picture
    is never inverted for display (the MNIST rule belongs to model inputs only)."""
    return conv.read_image(data, rgb=rgb)


@st.cache_data(show_spinner=False, max_entries=32)
def upload_size(data: bytes) -> tuple[int, int]:
    """An upload's upright ``(height, width)``, read from its header (no pixels decoded)."""
    return imaging.header_size(data)


@st.cache_data(show_spinner=False, max_entries=32)
def feature_fig(
    image: np.ndarray,
    kernel: np.ndarray,
    relu: bool,
    titles: tuple[str, str],
    padding: str = "same",
):
    """Image beside its feature map ('same': the input's size; 'valid': smaller, no frame)."""
    fmap = conv.conv2d(image, kernel, padding=padding)
    fmap = conv.relu(fmap) if relu else fmap
    return plots.image_pair_figure(image, fmap[..., 0] if fmap.ndim == 3 else fmap, titles)


@st.cache_data(show_spinner=False, max_entries=32)
def frame_note(image: np.ndarray, kernel: np.ndarray, relu: bool, padding: str = "same"):
    """What the padding does to this feature map (:func:`cnnviz.conv.frame_sentence`)."""
    return conv.frame_sentence(image, kernel, padding, relu)


# ----------------------------------------------------------------------------- widgets
def _cells_text(values: np.ndarray) -> list[list[str]]:
    """A matrix as the text a learner would type in each cell."""
    return [[conv.format_number(v) for v in row] for row in np.asarray(values, dtype=float)]


def _reset(key: str) -> None:
    """Back to the preset: forget the edits, and give the editor a new key (the browser's
    grid keeps its own edits for a key it has seen)."""
    for k in (f"{key}_cells", f"{key}_good"):
        st.session_state.pop(k, None)
    st.session_state[f"{key}_version"] = st.session_state.get(f"{key}_version", 0) + 1


def matrix_input(
    start: np.ndarray, key: str, label: str, name: str, disabled: bool = False
) -> np.ndarray | None:
    """An editable grid of numbers that keeps the learner's edits; returns it as floats.

    Cells are text, so what the learner types reaches :func:`cnnviz.conv.as_matrix`
    unchanged ("2,5" is not silently read as 25). The edits live in a plain session
    key, so they survive a change of mode or page. A bad cell gets one ``st.error``
    naming it in 0-based (row, col) and the last valid matrix is returned, so the
    figure stays.
    """
    cells, good = f"{key}_cells", f"{key}_good"
    st.caption(label)
    text = st.session_state.get(cells) or _cells_text(start)
    frame = pd.DataFrame(text, columns=[str(c) for c in range(len(text[0]))], dtype=object)
    version = st.session_state.get(f"{key}_version", 0)
    edited = st.data_editor(
        frame,
        key=key if not version else f"{key}_v{version}",
        hide_index=True,
        num_rows="fixed",
        width="content",
        disabled=disabled,
        column_config={c: st.column_config.TextColumn(c) for c in frame.columns},
    )
    if not disabled:
        st.session_state[cells] = edited.to_numpy(dtype=object).tolist()
        if st.session_state[cells] != _cells_text(start):
            st.button(
                "Reset to the preset",
                key=f"{key}_reset",
                on_click=_reset,
                args=(key,),
                icon=":material/restart_alt:",
                type="tertiary",
            )
    try:
        values = conv.as_matrix(edited, name)
    except conv.BadCellError as exc:
        # The good cells count as typed; each bad one keeps its last valid value, and the
        # sentence names it, so nothing is kept silently.
        values = conv.fill_bad_cells(exc, st.session_state.get(good))
        st.error(conv.bad_cells_sentence(exc, values), icon=":material/error:")
    except conv.ConvError as exc:
        st.error(str(exc), icon=":material/error:")
        return st.session_state.get(good)
    if values is not None:
        st.session_state[good] = values
    return values


def conv_settings(prefix: str) -> tuple[int, str | int, int]:
    """Stride, padding (valid / same / explicit p) and dilation controls, side by side."""
    keep_settings(f"{prefix}_stride", f"{prefix}_padding", f"{prefix}_p", f"{prefix}_dilation")
    c1, c2, c3 = st.columns([1, 2, 1])
    stride = c1.radio("Stride", [1, 2, 3], horizontal=True, key=f"{prefix}_stride")
    mode = c2.radio("Padding", PADDINGS, horizontal=True, key=f"{prefix}_padding")
    padding = mode
    if mode == "explicit":
        padding = c2.slider("Zeros on each side p", 0, 3, 1, key=f"{prefix}_p")
    dilation = c3.radio("Dilation", [1, 2, 3], horizontal=True, key=f"{prefix}_dilation")
    return stride, padding, dilation


def verdict(claim) -> bool:
    """Show :func:`cnnviz.conv.settings_verdict` as one message; True when it computes.

    An error when no window fits (why, and what to change), a warning when Keras refuses
    what cnnviz still computes, nothing when both work.
    """
    if claim is None:
        return True
    if not claim.facts["computes"]:
        st.error(claim, icon=":material/block:")
        return False
    st.warning(claim, icon=":material/warning:")
    return True


def image_source(key: str, rgb: bool = False) -> np.ndarray | None:
    """Pick a bundled image or upload one; returns it in [0, 1] (None if nothing yet)."""
    keep_settings(f"{key}_src")
    choice = st.selectbox("Image", [*IMAGES, UPLOAD], key=f"{key}_src")
    if choice != UPLOAD:
        return load_image(image_bytes(choice), rgb)
    upload = st.file_uploader(
        "PNG or JPEG (up to 50 MB and 50 megapixels)", type=["png", "jpg", "jpeg"],
        key=f"{key}_upload",
    )  # fmt: skip
    if upload is None:
        st.info("Upload an image, or pick a bundled one.")
        return None
    try:
        image = load_image(upload.getvalue(), rgb)
        size = upload_size(upload.getvalue())
    except (conv.ConvError, imaging.ImageError) as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    st.caption(imaging.working_copy_sentence(size, image.shape[:2]))
    return image
