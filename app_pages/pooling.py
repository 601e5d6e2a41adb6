"""Pooling: shrink a feature map by summarising each window with one number.

Learning goal: compute max / average / sum pooling by hand, see how size, stride and
padding set the output size, see pooling on a real feature map, and see why max pooling
makes a network a little tolerant to small shifts (and only to small ones).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages import _arithmetic as A
from cnnviz import conv, pooling
from cnnviz.plots import arithmetic as plots

MATRICES = pooling.PRESETS
NAMES = {"max": "max pooling", "avg": "average pooling", "sum": "sum pooling"}


@st.cache_data(show_spinner=False, max_entries=32)
def pooled_fig(image: np.ndarray, size: int, stride: int, padding: str, mode: str):
    """An edge map of the image beside its pooled version."""
    edges = conv.relu(conv.conv2d(image, conv.KERNELS["edge"], padding="same"))
    out = pooling.pool2d(edges, size, stride, padding, mode)
    titles = (f"Feature map (edges) {edges.shape[0]}×{edges.shape[1]}", f"After {NAMES[mode]}")
    return plots.image_pair_figure(edges, out, titles)


@st.cache_data(show_spinner=False, max_entries=8)
def shift_fig(size: int):
    """The shift-invariance demo figure and its result flags."""
    demo = pooling.shift_demo(size, grid=3 * size)
    return plots.shift_demo_figure(demo.inputs, demo.outputs, demo.labels, demo.unchanged)


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
    x = A.parsed(A.matrix_editor(MATRICES[name], f"pool_input_{slug}", "Input (editable)"), "input")
    if x is not None:
        try:
            out, steps, pads = A.pool_trace(x, size, stride, padding, mode)
        except pooling.PoolError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.caption(
                f"{x.shape[0]}×{x.shape[1]} → **{out.shape[0]}×{out.shape[1]}** "
                f"in {len(steps)} window positions."
            )
            tag = f"{size}-{stride}-{padding}-{mode}"

            def draw(i: int) -> None:
                s = steps[i]
                fig = A.step_fig(x, out, steps, i, pads, None, NAMES[mode], tag)
                st.plotly_chart(fig, key="pool_step_fig")
                st.markdown(f"**Output cell ({s.out_row}, {s.out_col})** — step {i + 1}")
                st.code(s.expression(), language=None, wrap_lines=True)

            A.stepper(len(steps), "pool_step", draw)

with tab_image:
    image = A.image_source("pool_img")
    if image is not None:
        try:
            st.plotly_chart(pooled_fig(image, size, stride, padding, mode), key="pool_img_fig")
        except pooling.PoolError as exc:
            st.error(str(exc), icon=":material/error:")
        st.caption("Pooling keeps the strong edges while the map gets much smaller.")

with tab_shift:
    demo_size = max(size, 2)
    st.markdown(
        f"One bright pixel, {demo_size}×{demo_size} max pooling. Moving it **1 pixel** keeps "
        "it inside the same window: the pooled map is **unchanged**. Moving it "
        f"**{demo_size} pixels** crosses into the next window: the pooled map **changes**. "
        "So pooling gives a *little* translation tolerance, not full invariance."
    )
    st.plotly_chart(shift_fig(demo_size), key="pool_shift_fig")
