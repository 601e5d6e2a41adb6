"""Predict: give the model your own digit and see every preprocessing step and its answer.

Learning goal: a model only understands inputs that look like its training data. MNIST
digits are white strokes on black, about 20 px tall, centred by centre of mass in 28×28 —
so a photo or a drawing has to go through the same steps before the model sees it.
"""

import streamlit as st

from app_pages import _inside
from app_pages._canvas import draw_canvas
from app_pages._shared import active_model_badge, show_error
from cnnviz import imaging

st.title("Predict")
active = active_model_badge()
st.markdown(
    "The MNIST authors scanned handwriting, **inverted** it to white on black, **cropped** "
    "each digit, **scaled** its longer side to 20 px and **centred** its centre of mass in a "
    "28×28 frame. Your image gets the same treatment below, step by step, and then the "
    "model's answer. Colour models (3 channels) get a plain crop-and-resize instead."
)

# ---------------------------------------------------------------------------- controls
source = st.radio(
    "Image source",
    ["Bundled sample", "Upload", "Draw"],
    horizontal=True,
    key="predict_source",
)
if source == "Bundled sample":
    c1, c2 = st.columns(2)
    digit = c1.selectbox("Digit", list(range(10)), index=3, key="predict_digit")
    k = c2.radio("Which one", [0, 1, 2], format_func=lambda i: f"#{i + 1}", key="predict_k",
                 horizontal=True)  # fmt: skip
    label = _inside.sample_label(digit, k)
    if _inside.current()[1] != label:
        _inside.set_current(imaging.load_sample(digit, k), label)
elif source == "Upload":
    upload = st.file_uploader(
        "An image of one digit (PNG, JPEG, BMP, GIF, WebP, TIFF)",
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
        key="predict_upload",
    )
    if upload is not None:
        _inside.set_current(upload.getvalue(), f"upload: {upload.name}")
    else:
        st.caption("No file yet: the model still looks at " + _inside.current()[1] + ".")
else:
    url = draw_canvas("predict_canvas")
    if url:
        try:
            _inside.set_current(imaging.decode_data_url(url), "your drawing")
        except imaging.ImageError as exc:
            show_error(exc)

shape = _inside.model_shape(active)
styles = {"mnist": "MNIST (invert, crop, 20 px, centre)", "rgb": "RGB (crop and resize)"}
style = st.radio(
    "Preprocessing",
    list(styles),
    index=list(styles).index(_inside.default_style(shape or (28, 28, 1))),
    format_func=styles.get,
    horizontal=True,
    key=f"predict_style_c{(shape or (0, 0, 1))[-1]}",  # a fresh default per channel count
)
top_k = st.slider("Show the top k classes", 1, len(active.class_names), 5, key="predict_top_k")

# ------------------------------------------------------------------------------ result
prepared = _inside.prepared_current(active, style)
if prepared is not None:
    st.subheader("1 · Preprocessing, step by step")
    st.caption(f"Image: {_inside.current()[1]}")
    st.plotly_chart(_inside.figure("image_row", prepared.steps), key="predict_steps")
    st.subheader("2 · The model's answer")
    probs, names, best = _inside.predict(active, prepared.array)
    c1, c2 = st.columns([1, 3])
    c1.metric(
        "Prediction", names[best], f"{probs[best]:.1%} sure", delta_color="off", delta_arrow="off"
    )
    c2.plotly_chart(_inside.figure("probability_bars", probs, names, top_k), key="predict_probs")
    st.caption(
        "Probabilities come from the softmax output for this one image. A confident answer "
        "on a badly centred or inverted image shows why the preprocessing matters."
    )
