"""Activations: what every layer of the model computes for one image.

Learning goal: a CNN turns pixels into a hierarchy of features. The first conv layer's maps
are filtered copies of the image (edges, strokes in one direction); pooling keeps the
strongest responses at a lower resolution; dense layers no longer have a "where", only a
"what", and the output layer is one score per class.
"""

import streamlit as st

from app_pages import _inside
from app_pages._shared import active_model_badge
from cnnviz import explain

st.title("Activations")
active = active_model_badge()
st.markdown(
    "Each **feature map** below is one filter's response over the whole image: bright "
    "where the pattern it detects is present. Conv and pooling layers keep the image's "
    "layout (height × width × maps); after `flatten` every value is just a number in a "
    "vector, drawn as bars. Each map is scaled to its own range; hover to read raw values."
)

# ---------------------------------------------------------------------------- controls
c1, c2 = st.columns([2, 1])
with c1:
    _inside.image_picker("act_image")
max_maps = c2.slider("Maps shown per layer", 4, 64, 16, step=4, key="act_max_maps")

# ------------------------------------------------------------------------------ result
prepared = _inside.prepared_current(active)
if prepared is not None:
    probs, names, best = _inside.predict(active, prepared.array)
    left, right = st.columns([1, 4])
    left.plotly_chart(
        _inside.figure("image_row", [("Model input", prepared.array)], 220), key="act_input"
    )
    left.metric(
        "Prediction", names[best], f"{probs[best]:.1%}", delta_color="off", delta_arrow="off"
    )
    if not explain.feature_map_layers(active.model):
        right.info(
            f"**{active.label}** has no convolutional or pooling layer: it flattens the "
            "image at once, so there are no feature maps — only the dense layers below. "
            "Compare with a CNN (e.g. `book_mnist`) on the Evaluate page.",
            icon=":material/info:",
        )
    figures = _inside.activation_figures(
        active.model, _inside.model_key(active), prepared.array, max_maps
    )
    with right:
        for i, (name, shape, fig) in enumerate(figures):
            st.markdown(f"**{i + 1}. `{name}`** — output shape ({shape})")
            if isinstance(fig, str):
                st.caption(fig)
            else:
                st.plotly_chart(fig, key=f"act_fig_{name}")
    st.caption(
        "Textbooks describe early layers as edge detectors and later ones as detectors of "
        "larger patterns. With one conv layer (book_mnist) you see the first step; models "
        "with more conv layers show maps that get smaller and more abstract with depth."
    )
