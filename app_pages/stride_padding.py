"""Stride, padding and dilation: how big is the output, and why?

Learning goal: predict a convolution's output size from input size n, kernel k, stride s,
padding p and dilation d with ``floor((n + 2p - k_eff) / s) + 1``; know what Keras's
``valid`` and ``same`` mean; see why some settings are impossible (and which ones Keras
refuses); step through the same settings with real numbers.
"""

from __future__ import annotations

import streamlit as st

from app_pages import _arithmetic as A
from app_pages._code import code_panel
from app_pages._state import keep_settings
from app_pages._stepper import stepper
from cnnviz import codegen, conv
from cnnviz.plots import arithmetic as plots

keep_settings("sp_n", "sp_k", "sp_stride", "sp_dilation", "sp_padding", "sp_p")


@st.cache_data(show_spinner=False, max_entries=128)
def animation(n: int, k: int, s: int, p: str | int, d: int):
    """The conv_arithmetic-style animation (cached: it has one frame per step)."""
    return plots.stride_animation(n, k, s, p, d)


st.title("Stride & padding")
st.markdown(
    "**Stride** is how far the kernel jumps between positions. **Padding** adds a border "
    "of zeros so the kernel can also sit on the edges. **Dilation** spreads the kernel's "
    "cells apart (a 3×3 kernel with dilation 2 covers 5×5 cells: "
    "k_eff = (k − 1)·d + 1). Together they decide the output size."
)
with st.expander("What Keras's `padding='valid'` and `padding='same'` mean"):
    st.markdown(
        "- **valid** — no padding. The kernel only visits positions where it fits entirely, "
        "so the output shrinks: ⌊(n − k_eff) / s⌋ + 1.\n"
        "- **same** — Keras (TensorFlow) adds just enough zeros that the output is "
        "⌈n / s⌉ (with stride 1: the *same* size as the input). When the padding needed is "
        "odd, the extra row/column goes at the **bottom/right**.\n"
        "- An explicit number p (PyTorch style) puts p zeros on every side."
    )

c1, c2, c3 = st.columns(3)
n = c1.slider("Input size n", 1, 12, 5, key="sp_n")
k = c1.slider("Kernel size k", 1, 7, 3, key="sp_k")
s = c2.slider("Stride s", 1, 4, 1, key="sp_stride")
d = c2.slider("Dilation d", 1, 3, 1, key="sp_dilation")
pad_mode = c3.radio("Padding", A.PADDINGS, horizontal=True, key="sp_padding")
p = c3.slider("Zeros on each side p", 0, 4, 1, key="sp_p") if pad_mode == "explicit" else pad_mode

note = conv.settings_verdict((n, n), (k, k), s, p, d, resizable=True, max_padding=4, max_input=12)
if A.verdict(note):
    working = conv.output_size_working(n, k, s, p, d)
    size, before, after = (working.facts[f] for f in ("out", "before", "after"))
    st.latex(working)
    m1, m2, m3 = st.columns(3)
    m1.metric("Output size", f"{size}×{size}")
    m2.metric(
        "Filter operations",
        str(working.facts["operations"]),
        help="Kernel positions = output cells.",
    )
    m3.metric("Padding (before, after)", f"{before}, {after}")
    st.caption(conv.coverage_sentence(n, k, s, p, d))
    if not conv.keras_refusal(s, d):  # a refusal is already the warning above
        st.caption(conv.keras_sizes_sentence(n, k, s, d))
    tab_sizes, tab_values = st.tabs(["Sizes", "With values"])
    with tab_sizes:
        st.markdown(
            f"**Output size: {size}×{size}.** Grey = input, dotted = zero padding, right = "
            "output; press ▶ Play or drag the step slider to move the kernel (pink)."
        )
        st.plotly_chart(animation(n, k, s, p, d), key="sp_animation")
    with tab_values:
        x, kernel = conv.stride_example(n, k)
        st.markdown(
            f"The same settings on a small input of digits and {conv.describe_kernel(kernel)}: "
            "every product and every sum, step by step."
        )
        view = A.conv_view(x, kernel, 0.0, False, s, p, d)
        st.caption(conv.settings_sentence(view["trace"]))
        stepper(view, "sp_stepper")

# --- the code behind this view ----------------------------------------------------------
if note is None or note.facts["computes"]:
    code = codegen.conv_code(*conv.stride_example(n, k), 0.0, False, s, p, d)
    code_panel(code, "sp", "stride_padding.py")  # the values tab's convolution
