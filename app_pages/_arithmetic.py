"""Widgets and caches shared by the Convolution, Stride & padding and Pooling pages.

Thin glue over ``cnnviz.conv`` / ``cnnviz.pooling`` / ``cnnviz.plots.arithmetic``: every
array or figure is built in a ``st.cache_data`` function keyed on all its inputs, so a
rerun after warm-up only redraws.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from cnnviz import conv, pooling
from cnnviz.plots import arithmetic as plots

ROOT = Path(__file__).resolve().parent.parent
IMAGES = {
    "Landscape (bundled)": ROOT / "assets" / "images" / "scene.png",
    "Handwritten 7 (MNIST)": ROOT / "assets" / "samples" / "digit_7_0.png",
    "Handwritten 3 (MNIST)": ROOT / "assets" / "samples" / "digit_3_0.png",
}
UPLOAD = "Upload your own"
AUTOPLAY_SECONDS = 1.0


# ----------------------------------------------------------------------------- caches
@st.cache_data(show_spinner=False, max_entries=64)
def conv_trace(x: np.ndarray, k: np.ndarray, bias: float, relu: bool, padding="valid"):
    """(output after optional ReLU, steps, pads) for a small matrix convolution."""
    out = conv.conv2d(x, k, bias=bias, padding=padding)
    out = conv.relu(out) if relu else out
    steps = conv.conv_steps(x, k, bias=bias, padding=padding)
    pads = tuple(
        conv.pad_amounts(n, kk, 1, padding) for n, kk in zip(x.shape[:2], k.shape[:2], strict=True)
    )
    return out[..., 0] if out.ndim == 3 else out, steps, pads


@st.cache_data(show_spinner=False, max_entries=64)
def pool_trace(x: np.ndarray, size: int, stride: int, padding: str, mode: str):
    """(output, steps, pads) for a small matrix pooling."""
    out = pooling.pool2d(x, size, stride, padding, mode)
    steps = pooling.pool_steps(x, size, stride, padding, mode)
    pads = tuple(conv.pad_amounts(n, size, stride, padding) for n in x.shape[:2])
    return out, steps, pads


@st.cache_data(show_spinner=False, max_entries=128)
def step_fig(x, output, _steps, index: int, pads, kernel=None, op="convolution", key=""):
    """The step figure; ``key`` stands in for the (unhashed) step list."""
    return plots.step_figure(x, output, _steps[index], pads, kernel, op)


@st.cache_data(show_spinner=False)
def image_bytes(name: str) -> bytes:
    """Contents of a bundled image."""
    return IMAGES[name].read_bytes()


@st.cache_data(show_spinner=False, max_entries=32)
def load_image(data: bytes, rgb: bool) -> np.ndarray:
    """Decoded image in [0, 1], ``(H, W)`` or ``(H, W, 3)``."""
    img = conv.read_image(data, rgb=rgb)
    if rgb or img.mean() <= 0.5:
        return img
    return 1.0 - img  # MNIST samples are dark ink on white: show the ink as bright


@st.cache_data(show_spinner=False, max_entries=32)
def feature_fig(image: np.ndarray, kernel: np.ndarray, relu: bool, titles: tuple[str, str]):
    """Image beside its feature map ("same" padding, so both are the same size)."""
    fmap = conv.conv2d(image, kernel, padding="same")
    fmap = conv.relu(fmap) if relu else fmap
    return plots.image_pair_figure(image, fmap[..., 0] if fmap.ndim == 3 else fmap, titles)


# ----------------------------------------------------------------------------- widgets
def matrix_editor(values: np.ndarray, key: str, label: str, disabled: bool = False) -> pd.DataFrame:
    """An editable grid of numbers; returns the edited frame (may hold bad cells)."""
    st.caption(label)
    frame = pd.DataFrame(values, columns=[str(c) for c in range(values.shape[1])])
    return st.data_editor(
        frame, key=key, hide_index=True, num_rows="fixed", width="content", disabled=disabled
    )


def parsed(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    """The frame as floats, or None after one ``st.error`` sentence naming the bad cell."""
    try:
        return conv.as_matrix(frame, name)
    except conv.ConvError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def image_source(key: str, rgb: bool = False) -> np.ndarray | None:
    """Pick a bundled image or upload one; returns it in [0, 1] (None if nothing yet)."""
    choice = st.selectbox("Image", [*IMAGES, UPLOAD], key=f"{key}_src")
    if choice != UPLOAD:
        return load_image(image_bytes(choice), rgb)
    upload = st.file_uploader("PNG or JPEG", type=["png", "jpg", "jpeg"], key=f"{key}_upload")
    if upload is None:
        st.info("Upload an image, or pick a bundled one.")
        return None
    try:
        return load_image(upload.getvalue(), rgb)
    except conv.ConvError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def _move(key: str, delta: int, n: int) -> None:
    st.session_state[key] = min(max(st.session_state.get(key, 1) + delta, 1), n)


def _tick(key: str, n: int) -> None:
    """Auto-play: advance one step (looping) if a full interval has passed."""
    now = time.monotonic()
    if now - st.session_state.get(f"{key}_tick", 0.0) >= AUTOPLAY_SECONDS * 0.9:
        st.session_state[f"{key}_tick"] = now
        st.session_state[key] = st.session_state.get(key, 1) % n + 1


def stepper(n: int, key: str, draw: Callable[[int], None]) -> None:
    """Step controls (auto-play, previous, next, slider), then ``draw(step)`` (0-based).

    The controls and the drawing live in one fragment, so stepping reruns only them;
    with auto-play on the fragment reruns itself every second and advances one step.
    The 1-based step is ``st.session_state[key]``.
    """
    if st.session_state.get(key, 1) > n:
        st.session_state[key] = n  # the input shrank: stay on the last step
    playing = st.toggle("Auto-play", key=f"{key}_play", disabled=n < 2) and n > 1

    @st.fragment(run_every=AUTOPLAY_SECONDS if playing else None, key=f"{key}_view")
    def view() -> None:
        if playing:
            _tick(key, n)
        prev, nxt, _ = st.columns([1, 1, 3])
        prev.button("◀ Previous", key=f"{key}_prev", on_click=_move, args=(key, -1, n))
        nxt.button("Next ▶", key=f"{key}_next", on_click=_move, args=(key, 1, n))
        if n > 1:
            st.slider(f"Step (of {n})", 1, n, key=key)
        draw(st.session_state.get(key, 1) - 1)

    view()
