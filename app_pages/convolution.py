"""Convolution: slide a small kernel over an input, multiply, add — one output cell per step.

Learning goal: compute a convolution (really a cross-correlation, as Keras does) by hand,
with stride, padding and dilation; see what bias and ReLU do to it; see what classic
kernels find in a real image; and see that a colour filter has one slice per channel,
each making its own map, and that the output is their sum plus the bias.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages import _arithmetic as A
from app_pages._code import code_panel
from app_pages._state import keep_settings
from app_pages._stepper import stepper
from cnnviz import codegen, conv

keep_settings(
    "conv_mode",
    "conv_preset",
    "conv_bias",
    "conv_relu",
    "conv_kernel",
    "conv_img_relu",
    "conv_img_padding",
)
st.title("Convolution")
st.markdown(
    "A **convolution layer** slides a small grid of weights — the **kernel** — over its "
    "input. At each position it multiplies the kernel with the input cells under it, "
    "**adds all the products** (plus a bias) and writes that one number into the output. "
    "Edit the matrices, then step through the positions: **Next**, the arrow keys, "
    "**Play**, or hover an output cell."
)

st.page_link(
    "app_pages/network.py",
    label="The same arithmetic in a trained network: click any unit of a real CNN and "
    "step through how it was computed",
    icon=":material/account_tree:",
)

mode = st.segmented_control(
    "What to convolve",
    ["Matrix", "Image", "RGB"],
    default="Matrix",
    required=True,
    key="conv_mode",
)

if mode == "Matrix":
    preset = st.selectbox("Preset", list(conv.PRESETS), key="conv_preset")
    slug = list(conv.PRESETS).index(preset)
    x0, k0 = conv.PRESETS[preset]
    left, right, opts = st.columns([3, 2, 2])
    with left:
        x = A.matrix_input(x0, f"conv_input_{slug}", "Input (edit any cell)", "input")
    with right:
        k = A.matrix_input(k0, f"conv_kernel_{slug}", "Kernel", "kernel")
    with opts:
        bias = st.number_input("Bias", value=0.0, step=1.0, key="conv_bias")
        relu = st.toggle("Apply ReLU  (negative → 0)", key="conv_relu")
    stride, padding, dilation = A.conv_settings("conv")
    if x is not None and k is not None:
        fits = A.verdict(conv.settings_verdict(x.shape, k.shape, stride, padding, dilation))
        try:
            view = A.conv_view(x, k, float(bias), relu, stride, padding, dilation) if fits else None
        except conv.ConvError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            if view is not None:
                st.caption(conv.settings_sentence(view["trace"]))
                stepper(view, "conv_stepper")

elif mode == "Image":
    st.markdown(
        "The same operation on a real picture: each pixel of the **feature map** is the "
        "kernel's sum around that pixel. Red = strong positive response, blue = negative, "
        "white = 0. Edge kernels light up where brightness changes; blur averages; sharpen "
        "boosts differences."
    )
    left, right = st.columns([1, 1])
    with left:
        image = A.image_source("conv_img")
        name = st.selectbox("Kernel", [*conv.KERNELS, "custom"], key="conv_kernel")
        relu = st.toggle("Apply ReLU", key="conv_img_relu")
        pad = st.radio(
            "Padding",
            ["same", "valid"],
            horizontal=True,
            key="conv_img_padding",
            help="'same' adds zeros around the picture (Keras's padding) so the map keeps "
            "its size; 'valid' adds none, so the map is smaller.",
        )
    with right:
        start = conv.KERNELS["sobel x"] if name == "custom" else conv.KERNELS[name]
        custom = name == "custom"
        hint = "edit the cells" if custom else "pick 'custom' to edit"
        kernel = A.matrix_input(
            np.round(start, 3),
            f"conv_kernel_{name}",
            f"Kernel: {name} ({hint})",
            "kernel",
            not custom,
        )
        kernel = kernel if custom else start
        if kernel is not None:
            st.caption(f"This is {conv.describe_kernel(kernel)}.")
    if image is not None and kernel is not None:
        try:
            note = A.frame_note(image, kernel, relu, pad)
        except conv.ConvError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            (h, w), (ho, wo) = image.shape[:2], note.facts["output_shape"]
            titles = (f"Input {h}×{w} (as it is)", f"Feature map {ho}×{wo} ({name}, {pad})")
            fig = A.feature_fig(image, kernel, relu, titles, pad)
            st.plotly_chart(fig, key="conv_img_fig")
            if note.facts["in_frame"]:  # the padding's frame sets the colours: say so
                st.warning(note, icon=":material/crop_free:")
            else:
                st.caption(note)

else:
    st.markdown(
        "A colour image has **3 channels** (red, green, blue), so a filter has one 3×3 "
        "slice per channel: a **3×3×3** filter. As CNN Explainer shows it, each slice makes "
        "its own map from its own channel; the output is **the sum of the three maps plus "
        "the bias**. This filter likes red (+1, red) and dislikes blue (−1, blue), so the "
        "output peaks on the red square."
    )
    x, k = conv.RGB_EXAMPLE
    view = A.conv_view(x, k, 0.0, False)
    st.caption(conv.settings_sentence(view["trace"]))
    stepper(view, "rgb_stepper")
    with st.expander("The same 3×3×3 filter on a colour photo"):
        image = A.image_source("rgb_img", rgb=True)
        if image is not None:
            h, w = image.shape[:2]
            titles = (f"Input {h}×{w} (RGB)", f"Feature map {h}×{w}: red − blue")
            st.plotly_chart(A.feature_fig(image, k, False, titles), key="rgb_img_fig")
            st.caption(A.frame_note(image, k, False))

# --- the code behind this view ----------------------------------------------------------
code = None
try:
    if mode == "Matrix" and x is not None and k is not None and fits:
        code = codegen.conv_code(x, k, float(bias), relu, stride, padding, dilation)
    elif mode == "Image" and image is not None and kernel is not None:
        picture = A.IMAGES.get(st.session_state.get("conv_img_src"), "your_image.png")
        code = codegen.conv_image_code(picture, kernel, relu, pad)
    elif mode == "RGB":
        code = codegen.conv_code(*conv.RGB_EXAMPLE)
except conv.ConvError:
    code = None  # the page already says why
if code:
    code_panel(code, "conv", "convolution.py")  # no caption: the page's own stays last
