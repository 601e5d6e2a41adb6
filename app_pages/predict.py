"""Predict: give the model your own digit and see every preprocessing step and its answer.

Learning goal: a model only understands inputs that look like its training data. MNIST
digits are white strokes on black, about 20 px tall, centred by centre of mass in 28×28 —
so a photo or a drawing has to go through the same steps before the model sees it. And a
model always answers, even for an image that is no digit at all: two cues say when not to
believe it.
"""

import streamlit as st

from app_pages import _inside
from app_pages._canvas import draw_canvas
from app_pages._shared import active_model_badge, show_error
from app_pages._state import keep_settings
from cnnviz import imaging, novelty

st.title("Predict")
active = active_model_badge()
st.markdown(
    "The MNIST authors scanned handwriting, **inverted** it to white on black, **cropped** "
    "each digit, **scaled** its longer side to 20 px and **centred** its centre of mass in a "
    "28×28 frame. Your image gets the same treatment below, step by step (a photo's uneven "
    "paper and its noise are subtracted first), and then the model's answer. Colour models "
    "(3 channels) get a plain crop-and-resize instead."
)
shape = _inside.model_shape(active) or (28, 28, 1)
style_key = _inside.style_key(shape)
keep_settings("predict_source", "predict_digit", "predict_k", style_key, "predict_top_k")


def _use_sample() -> None:
    """Callback: the sample chosen (or the switch to samples) becomes the current image."""
    digit = st.session_state.get("predict_digit", _inside.DEFAULT_SAMPLE[0])
    k = st.session_state.get("predict_k", _inside.DEFAULT_SAMPLE[1])
    _inside.set_current(imaging.load_sample(digit, k), _inside.sample_label(digit, k))


def _on_source() -> None:
    if st.session_state["predict_source"] == "Bundled sample":
        _use_sample()


# ---------------------------------------------------------------------------- controls
source = st.radio(
    "Image source",
    ["Bundled sample", "Upload", "Draw"],
    horizontal=True,
    key="predict_source",
    on_change=_on_source,
)
label = _inside.current()[1]
if source == "Bundled sample":
    c1, c2 = st.columns(2)
    c1.selectbox("Digit", list(range(10)), index=3, key="predict_digit", on_change=_use_sample)
    c2.radio("Which one", [0, 1, 2], format_func=lambda i: f"#{i + 1}", key="predict_k",
             horizontal=True, on_change=_use_sample)  # fmt: skip
elif source == "Upload":
    upload = st.file_uploader(
        "An image of one digit (PNG, JPEG, BMP, GIF, WebP, TIFF)",
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
        key="predict_upload",
    )
    if upload is not None:
        _inside.set_current(upload.getvalue(), f"upload: {upload.name}")
    elif label.startswith("upload: "):
        st.caption(f"Showing your last upload, {label[8:]}; choose another file to replace it.")
    else:
        st.caption(f"No file yet: the model still looks at {label}.")
else:
    url = draw_canvas("predict_canvas")
    try:
        drawing = imaging.decode_data_url(url) if url else b""
    except imaging.ImageError as exc:
        drawing = b""
        show_error(exc)
    if drawing:
        _inside.set_current(drawing, "your drawing")
    elif label == "your drawing":
        st.caption("Showing your last drawing; draw again to replace it.")
    else:
        st.caption(f"Nothing drawn yet: the model still looks at {label}.")

style = st.radio(
    "Preprocessing",
    list(_inside.STYLES),
    index=list(_inside.STYLES).index(_inside.default_style(shape)),
    format_func=_inside.STYLES.get,
    horizontal=True,
    key=style_key,  # one setting per channel count, used by Activations and Heatmaps too
)
top_k = st.slider("Show the top k classes", 1, len(active.class_names), 5, key="predict_top_k")

# ------------------------------------------------------------------------------ result
prepared = _inside.prepared_current(active, style)
if prepared is not None:
    st.subheader("1 · Preprocessing, step by step")
    st.caption(
        f"Image: {_inside.current()[1]}. Each panel is drawn at the same size; the titles "
        "give the real sizes. The last panel is exactly what the model gets."
    )
    st.plotly_chart(_inside.figure("image_row", prepared.steps), key="predict_steps")
    st.subheader("2 · The model's answer")
    probs, names, best = _inside.predict(active, prepared.array)
    fam = _inside.familiarity(probs, prepared.array)
    c1, c2 = st.columns([1, 3])
    c1.metric(
        "Prediction" if fam.trusted else "Best guess (not to be trusted)",
        names[best] if fam.trusted else f"{names[best]}?",
        f"{probs[best]:.1%} sure", delta_color="off", delta_arrow="off",
    )  # fmt: skip
    c2.plotly_chart(_inside.figure("probability_bars", probs, names, top_k), key="predict_probs")
    if fam.trusted:
        st.caption(novelty.verdict(fam, names[best]))
    else:
        st.warning(novelty.verdict(fam, names[best]), icon=":material/help:")
    with st.expander("How the two cues are measured"):
        st.markdown(
            f"- **The model's doubt:** its top probability (below "
            f"{novelty.UNSURE_PROBABILITY:.0%} is a guess) and the entropy of its "
            f"probabilities (above {novelty.UNSURE_ENTROPY:.0%} of the maximum: spread out).\n"
            f"- **Looks like the training digits?** The 8,000 training digits are summarised "
            f"by their mean and {novelty.N_COMPONENTS} principal components (the directions "
            "in which digits vary most). Your image is rebuilt from those alone; a digit "
            "is rebuilt closely, noise or a photo of a cup is not. Above the error that "
            f"{novelty.PERCENTILE:g} % of training digits stay under, the image is unfamiliar "
            "(28×28 grayscale models only). A model trained on digits has no idea what "
            "else exists: it always picks one of its classes."
        )
