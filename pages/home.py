"""Welcome: what cnnviz teaches and where to start."""

import streamlit as st

st.title(":material/visibility: How a convolutional network sees")
st.markdown(
    """
cnnviz walks you from the arithmetic of one convolution to the inside of a trained
network — with **real numbers** at every step: everything shown here is computed by the
`cnnviz` Python package and checked against Keras/TensorFlow in its tests.

| Section | You will… |
|---|---|
| **Arithmetic** | step through a convolution number by number; see how stride, padding and dilation set the output size; pool a feature map. |
| **Training** | look at a dataset, train a textbook CNN on CPU or GPU while its curves grow, then evaluate it. |
| **Inside the model** | draw or upload a digit, watch every layer's activations, the filters, and Grad-CAM-style heatmaps. |
| **Experiments** | see an MLP fail and a CNN succeed when a digit moves two pixels; run a CNN by hand; watch overfitting happen. |

The app starts with small models pre-trained on an embedded MNIST sample, so everything
works offline from the first click. Train your own on **Train** and make it the active
model on **Evaluate**.
"""
)
c1, c2, c3 = st.columns(3)
c1.page_link("pages/convolution.py", label="Start with a convolution", icon=":material/grid_on:")
c2.page_link("pages/train.py", label="Train a CNN", icon=":material/model_training:")
c3.page_link("pages/translation.py", label="MLP vs CNN", icon=":material/swap_horiz:")
