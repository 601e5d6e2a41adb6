"""Welcome: what cnnviz teaches, in what order, and where to start."""

import streamlit as st

SECTIONS = [
    (
        "Arithmetic",
        "Step through a convolution number by number, see how stride, padding and "
        "dilation set the output size, and pool a feature map.",
        [
            ("app_pages/convolution.py", "Convolution"),
            ("app_pages/stride_padding.py", "Stride & padding"),
            ("app_pages/pooling.py", "Pooling"),
        ],
    ),
    (
        "Training",
        "Look at a dataset, train a textbook CNN on CPU or GPU while its curves grow, "
        "then find out what it gets wrong — and reuse a trained one when labels are few.",
        [
            ("app_pages/data.py", "Data"),
            ("app_pages/train.py", "Train"),
            ("app_pages/evaluate.py", "Evaluate"),
            ("app_pages/transfer.py", "Transfer learning"),
        ],
    ),
    (
        "Inside the model",
        "Draw or upload a digit and watch every layer's activations, click any number in "
        "the network to see how it was computed, see where the classes live, the filters, "
        "and where Grad-CAM and friends say the model looked.",
        [
            ("app_pages/predict.py", "Predict"),
            ("app_pages/activations.py", "Activations"),
            ("app_pages/network.py", "Network, unit by unit"),
            ("app_pages/embedding.py", "Where the classes live"),
            ("app_pages/filters.py", "Filters"),
            ("app_pages/heatmaps.py", "Heatmaps"),
        ],
    ),
    (
        "Experiments",
        "Move a digit 4 pixels and watch the MLP and the book's CNN lose it while a "
        "global-pooling CNN holds on — and find the layer where the position comes back; "
        "run a CNN by hand; make overfitting happen, then cure it.",
        [
            ("app_pages/translation.py", "Translation lab"),
            ("app_pages/scratch.py", "CNN from scratch"),
            ("app_pages/overfitting.py", "Overfitting lab"),
        ],
    ),
]

st.title(":material/visibility: How a convolutional network sees")
st.markdown(
    "cnnviz takes you from the arithmetic of one convolution to the inside of a trained "
    "network, with **real numbers** at every step: everything shown here is computed by "
    "the `cnnviz` Python package and checked against Keras/TensorFlow in its tests."
)
for column, (section, blurb, links) in zip(st.columns(len(SECTIONS)), SECTIONS, strict=True):
    with column.container(border=True):
        st.subheader(section)
        st.caption(blurb)
        for path, label in links:
            st.page_link(path, label=label)
st.info(
    "The app starts with small models pre-trained on an embedded MNIST sample, so it works "
    "offline from the first click. Train your own on **Train** and make it the model every "
    "page uses on **Evaluate**.",
    icon=":material/school:",
)
