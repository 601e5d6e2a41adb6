"""Pooling: shrink a feature map by summarising each window with one number.

Learning goal: compute max / average / sum pooling by hand, see how size, stride and
padding set the output size, see pooling on a real feature map, and see why pooling
makes a network a little tolerant to small shifts (and only to small ones).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages import _arithmetic as A
from app_pages._code import code_panel
from app_pages._state import keep_settings
from app_pages._stepper import stepper
from cnnviz import codegen, conv, pooling
from cnnviz.plots import arithmetic as plots

MATRICES = pooling.PRESETS
NAMES = {"max": "max pooling", "avg": "average pooling", "sum": "sum pooling"}
keep_settings("pool_mode", "pool_size", "pool_stride", "pool_padding", "pool_matrix")


@st.cache_data(show_spinner=False, max_entries=32)
def pooled_fig(image: np.ndarray, size: int, stride: int, padding: str, mode: str):
    """An edge map of the image beside its pooled version, each at its true size."""
    edges = conv.relu(conv.conv2d(image, conv.KERNELS["edge"], padding="same"))
    out = pooling.pool2d(edges, size, stride, padding, mode)
    titles = (
        f"Feature map (edges) {edges.shape[0]}×{edges.shape[1]}",
        f"After {NAMES[mode]} {out.shape[0]}×{out.shape[1]}",
    )
    return plots.pooled_pair_figure(edges, out, titles)


@st.cache_data(show_spinner=False, max_entries=64)
def shift_demo(size: int, stride: int, mode: str):
    """The shift demo for the page's size, stride and operation: its sentence and figure."""
    demo = pooling.shift_demo(size, stride, mode)
    return demo.summary(), plots.shift_demo_figure(demo)


st.title("Pooling")
st.markdown(
    "A **pooling** layer slides a window over each channel and replaces the cells under it "
    "by **one** number: the **max** (keeps the strongest response), the **average**, or "
    "the **sum**. It has no weights to learn. With the usual 2×2 window and stride 2, a "
    "feature map loses ¾ of its cells — later layers see a coarser, smaller map."
)

c1, c2, c3 = st.columns(3)
mode = c1.radio("Operation", list(NAMES), format_func=NAMES.get, key="pool_mode")
size = c2.slider("Window size", 1, 4, 2, key="pool_size")
stride = c2.slider("Stride", 1, 4, 2, key="pool_stride")
padding = c3.radio("Padding", ["valid", "same"], horizontal=True, key="pool_padding")
c3.caption("'same' pads the edges; padded cells never win a max and don't count in an average.")

tab_matrix, tab_image, tab_shift = st.tabs(["Step by step", "On a real image", "Shift a pixel"])
with tab_matrix:
    name = st.selectbox("Input", list(MATRICES), key="pool_matrix")
    slug = list(MATRICES).index(name)
    x = A.matrix_input(MATRICES[name], f"pool_input_{slug}", "Input (editable)", "input")
    if x is not None:
        try:
            view = A.pool_view(x, size, stride, padding, mode)
        except pooling.PoolError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.caption(pooling.size_sentence(view["trace"]))
            stepper(view, "pool_stepper")

with tab_image:
    image = A.image_source("pool_img")
    if image is not None:
        try:
            st.plotly_chart(pooled_fig(image, size, stride, padding, mode), key="pool_img_fig")
        except pooling.PoolError as exc:
            st.error(str(exc), icon=":material/error:")
        st.caption(
            "Both maps are drawn at their true size on one colour scale: pooling keeps the "
            "strong edges while the map gets much smaller."
        )

with tab_shift:
    summary, figure = shift_demo(size, stride, mode)
    st.markdown(summary)
    st.plotly_chart(figure, key="pool_shift_fig")

# --- the code behind this view ----------------------------------------------------------
if x is not None:
    try:
        code = codegen.pool_code(x, size, stride, padding, mode)
    except pooling.PoolError:
        code = None  # the page already says why
    if code:
        code_panel(code, "pool", "pooling.py")  # the step-by-step matrix
