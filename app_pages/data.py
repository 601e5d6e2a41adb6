"""Data: look at a dataset before training on it.

Learning goal: the "analyse the data" step of every tutorial — how many images, of what
shape, how many per class, what they look like, and which pixel values occur — and how
the textbooks prepare them (reshape to ``(N, 28, 28, 1)``, divide by 255).
"""

import streamlit as st

from app_pages import _training as T
from app_pages._code import code_panel
from app_pages._state import keep_settings
from cnnviz import codegen

st.title(":material/dataset: Look at the data")
st.markdown(
    """
A network learns only what its data shows it. Before training, check the **shapes**
(a CNN wants `(N, height, width, channels)`), the **classes** and whether they are
balanced, a few **samples** with their labels, and the **pixel values**. The textbooks
then prepare the images: `float32`, divided by 255 so every pixel lies in [0, 1], and
labels as class indices (sparse) or one-hot vectors.
"""
)

# --- controls -------------------------------------------------------------------------
left, right = st.columns([2, 1])
with left:
    ds = T.dataset_picker("data")
with right:
    seed = st.number_input("Sample seed", 0, 10_000, 0, key="data_seed")
keep_settings("data_dataset", "data_seed")

# --- result -------------------------------------------------------------------------
if ds is not None:
    figs = T.data_figures(ds, int(seed))
    st.caption(ds.source)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Training images", f"{len(ds.x_train):,}")  # label
    c2.metric("Test images", f"{len(ds.x_test):,}")  # label
    c3.metric("Image shape (H, W, C)", " × ".join(map(str, ds.input_shape)))
    c4.metric("Classes", ds.num_classes)
    st.markdown(
        f"`x_train`: `{ds.x_train.dtype}` array of shape `{ds.x_train.shape}`, values 0–255; "
        f"`y_train`: class indices of shape `{ds.y_train.shape}`. After "
        f"`cnnviz.data.prepare`: `float32` of the same shape in [0, 1]."
    )
    if ds.class_names != tuple(str(i) for i in range(ds.num_classes)):  # digits name themselves
        st.markdown(
            "**Class names:** " + ", ".join(f"{i} = {c}" for i, c in enumerate(ds.class_names))
        )
    st.plotly_chart(figs["counts"], key="data_counts")
    st.caption(figs["balance"])
    st.subheader("Samples with their labels")
    st.plotly_chart(figs["samples"], key="data_samples")
    st.subheader("Pixel values")
    st.plotly_chart(figs["histogram"], key="data_histogram")
    st.caption(
        figs["pixel_caption"] + " Dividing by 255 keeps the inputs small, which keeps the "
        "first layer's gradients well scaled."
    )

# --- the code behind this view ----------------------------------------------------------
if ds is not None:
    code_panel(codegen.data_code(ds.name, int(seed)), "data", "data.py")
