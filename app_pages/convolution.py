"""Convolution: slide a small kernel over an input, multiply, add — one output cell per step.

Learning goal: compute a convolution (really a cross-correlation, as Keras does) by hand,
see what bias and ReLU do to it, see what classic kernels find in a real image, and see
that a colour filter has one 3×3 slice per channel whose products are all summed.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages import _arithmetic as A
from cnnviz import conv

st.title("Convolution")
st.markdown(
    "A **convolution layer** slides a small grid of weights — the **kernel** — over its "
    "input. At each position it multiplies the kernel with the input cells under it, "
    "**adds all the products** (plus a bias) and writes that one number into the output. "
    "Edit the matrices, then step through the positions."
)

mode = st.segmented_control(
    "What to convolve",
    ["Matrix", "Image", "RGB"],
    default="Matrix",
    required=True,
    key="conv_mode",
)


def show_step(x, k, out, steps, pads, relu: bool, key: str):
    """Draw step ``i``: the figure and the worked sum."""

    def draw(i: int) -> None:
        s = steps[i]
        st.plotly_chart(A.step_fig(x, out, steps, i, pads, k, "convolution", key), key=f"{key}_fig")
        worked = s.expression()
        st.markdown(f"**Output cell ({s.out_row}, {s.out_col})** — step {i + 1} of {len(steps)}")
        st.code(worked, language=None, wrap_lines=True)
        if relu:
            before, after = conv.format_number(s.value), conv.format_number(out.flat[i])
            st.markdown(f"ReLU: max(0, {before}) = **{after}**")

    A.stepper(len(steps), key, draw)


if mode == "Matrix":
    preset = st.selectbox("Preset", list(conv.PRESETS), key="conv_preset")
    slug = list(conv.PRESETS).index(preset)
    x0, k0 = conv.PRESETS[preset]
    left, right, opts = st.columns([3, 2, 2])
    with left:
        x_frame = A.matrix_editor(x0, f"conv_input_{slug}", "Input (edit any cell)")
    with right:
        k_frame = A.matrix_editor(k0, f"conv_kernel_{slug}", "Kernel")
    with opts:
        bias = st.number_input("Bias", value=0.0, step=1.0, key="conv_bias")
        relu = st.toggle("Apply ReLU  (negative → 0)", key="conv_relu")
    x, k = A.parsed(x_frame, "input"), A.parsed(k_frame, "kernel")
    if x is not None and k is not None:
        try:
            out, steps, pads = A.conv_trace(x, k, float(bias), relu)
        except conv.ConvError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.caption(
                f"Input {x.shape[0]}×{x.shape[1]}, kernel {k.shape[0]}×{k.shape[1]}, "
                f"stride 1, no padding → output {out.shape[0]}×{out.shape[1]} after "
                f"**{len(steps)} filter operations**."
            )
            show_step(x, k, out, steps, pads, relu, "conv_step")

elif mode == "Image":
    st.markdown(
        "The same operation on a real picture: each pixel of the **feature map** is the "
        "kernel's sum around that pixel. Red = strong positive response, blue = negative. "
        "Edge kernels light up where brightness changes; blur averages; sharpen boosts "
        "differences."
    )
    left, right = st.columns([1, 1])
    with left:
        image = A.image_source("conv_img")
        name = st.selectbox("Kernel", [*conv.KERNELS, "custom"], key="conv_kernel")
        relu = st.toggle("Apply ReLU", key="conv_img_relu")
    with right:
        start = conv.KERNELS["sobel x"] if name == "custom" else conv.KERNELS[name]
        custom = name == "custom"
        hint = "edit the cells" if custom else "pick 'custom' to edit"
        frame = A.matrix_editor(
            np.round(start, 3), f"conv_kernel_{name}", f"Kernel: {name} ({hint})", not custom
        )
        kernel = A.parsed(frame, "kernel") if custom else start
    if image is not None and kernel is not None:
        titles = (f"Input {image.shape[0]}×{image.shape[1]}", f"Feature map ({name})")
        st.plotly_chart(A.feature_fig(image, kernel, relu, titles), key="conv_img_fig")
        st.caption("Padding 'same' keeps the feature map the size of the input.")

else:
    st.markdown(
        "A colour image has **3 channels** (red, green, blue), so a filter has one 3×3 "
        "slice per channel: a **3×3×3** filter. At each position all **27** products are "
        "added into **one** output number. This filter likes red (+1) and dislikes blue "
        "(−1), so the output peaks on the red square."
    )
    x, k = conv.RGB_EXAMPLE
    out, steps, pads = A.conv_trace(x, k, 0.0, False)
    show_step(x, k, out, steps, pads, False, "rgb_step")
    with st.expander("The same 3×3×3 filter on a colour photo"):
        image = A.image_source("rgb_img", rgb=True)
        if image is not None:
            st.plotly_chart(
                A.feature_fig(image, k, False, ("Input (RGB)", "Feature map: red − blue")),
                key="rgb_img_fig",
            )
