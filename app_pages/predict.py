"""Predict: give the model your own digit (or piece of clothing) and see every preprocessing
step and its answer.

Learning goal: a model only understands inputs that look like its training data. MNIST
digits are white strokes on black, about 20 px tall, centred by centre of mass in 28×28;
Fashion-MNIST's clothes are product photos trimmed, shrunk to 28 px on their longest side,
centred and negated — so a photo or a drawing has to go through the same steps before the
model sees it. And a model always answers, even for an image that is no digit at all (or
for a sneaker shown to a digit model): the page says when not to believe it.
"""

import streamlit as st

from app_pages import _inside
from app_pages._canvas import draw_canvas
from app_pages._code import code_panel
from app_pages._shared import active_model_badge, show_error
from app_pages._state import keep_settings
from cnnviz import codegen_inside, imaging, novelty

st.title("Predict")
active = active_model_badge()
st.markdown(
    "The MNIST authors scanned handwriting, **inverted** it to white on black, **cropped** "
    "each digit, **scaled** its longer side to 20 px and **centred** its centre of mass in a "
    "28×28 frame. Your image gets the same treatment below, step by step (a photo's uneven "
    "paper and its noise are subtracted first), and then the model's answer. Fashion-MNIST "
    "did it its own way to Zalando's product photos: **trim** the background, shrink the "
    "**longest** side to 28 px, **centre** the product in the frame and **negate** it; that "
    "is the default for a model trained on Fashion-MNIST. Colour models (3 channels) get a "
    "plain crop-and-resize instead."
)
shape = _inside.model_shape(active) or (28, 28, 1)
dataset = _inside.dataset_of(active)
style_key = _inside.style_key(shape, dataset)
keep_settings(
    "predict_source", "predict_set", "predict_digit", "predict_garment", "predict_k", style_key,
    "predict_top_k",
)  # fmt: skip
CLASS_KEYS = {"digits": "predict_digit", "clothes": "predict_garment"}


def _use_sample() -> None:
    """Callback: the sample chosen (or the switch to samples) becomes the current image."""
    kind = st.session_state.get("predict_set", "digits")
    default = _inside.DEFAULT_SAMPLES[kind]
    index = st.session_state.get(CLASS_KEYS[kind], default[0])
    k = st.session_state.get("predict_k", default[1])
    _inside.set_current(imaging.load_sample(index, k, kind), _inside.sample_label(index, k, kind))


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
raw, label = _inside.current(active)
if source == "Bundled sample":
    # The controls show the sample the model looks at (also one chosen on another page,
    # or the default sample of the model's own data).
    shown = imaging.which_sample(raw)
    if shown is not None:
        kind, index, k = shown
        st.session_state["predict_set"] = kind
        st.session_state[CLASS_KEYS[kind]] = index
        st.session_state["predict_k"] = k
    else:  # an image sent here from another page (Where the classes live)
        st.caption(f"Showing {label}, sent from another page; pick a sample below to replace it.")
    for kind, (index, _) in _inside.DEFAULT_SAMPLES.items():
        st.session_state.setdefault(CLASS_KEYS[kind], index)
    own = "clothes" if _inside.subject_of(active) == "clothes" else "digits"
    st.session_state.setdefault("predict_set", own)
    c0, c1, c2 = st.columns([1, 1, 1])
    kind = c0.radio("Set", list(_inside.SET_NAMES), format_func=_inside.SET_NAMES.get,
                    key="predict_set", horizontal=True, on_change=_use_sample)  # fmt: skip
    names = _inside.SAMPLE_CLASSES[kind]
    c1.selectbox("Digit" if kind == "digits" else "Class", list(range(10)), key=CLASS_KEYS[kind],
                 format_func=names.__getitem__, on_change=_use_sample)  # fmt: skip
    c2.radio("Which one", [0, 1, 2], format_func=lambda i: f"#{i + 1}", key="predict_k",  # label
             horizontal=True, on_change=_use_sample)  # fmt: skip
elif source == "Upload":
    upload = st.file_uploader(
        "An image of one digit, or of one piece of clothing for a Fashion-MNIST model "
        "(PNG, JPEG, BMP, GIF, WebP, TIFF)",
        type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"],
        key="predict_upload",
        help="Up to 50 MB and 50 megapixels: any phone photo. Large images are drawn as "
        "smaller display copies; the model's preprocessing uses every pixel.",
    )
    if upload is not None:  # a bad file: one error sentence, and the current image stays
        if not _inside.set_current(upload.getvalue(), f"upload: {upload.name}", shape, dataset):
            st.caption(f"The model still looks at {label}.")
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
        _inside.set_current(drawing, "your drawing", shape, dataset)
    elif label == "your drawing":
        st.caption("Showing your last drawing; draw again to replace it.")
    else:
        st.caption(f"Nothing drawn yet: the model still looks at {label}.")

st.session_state.setdefault(style_key, _inside.default_style(shape, dataset))
style = st.radio(
    "Preprocessing",
    list(_inside.STYLES),
    format_func=_inside.STYLES.get,
    horizontal=True,
    key=style_key,  # one setting per channel count (and clothes), used by the other pages too
)
top_k = st.slider("Show the top k classes", 1, len(active.class_names), 5, key="predict_top_k")

# ------------------------------------------------------------------------------ result
prepared = _inside.prepared_current(active, style)
if prepared is not None:
    st.subheader("1 · Preprocessing, step by step")
    st.caption(
        f"Image: {_inside.current(active)[1]}. Each panel is drawn at the same size; the "
        "titles give the real sizes. A title that says *shown at* is a display copy of a "
        "large image (each pixel the mean of those it covers); every step ran at full "
        "resolution. The last panel is exactly what the model gets."
    )
    st.plotly_chart(_inside.figure("image_row", prepared.steps), key="predict_steps")
    st.subheader("2 · The model's answer")
    other = _inside.mismatch(active)
    if other:
        st.warning(other, icon=":material/swap_horiz:")
    probs, names, best = _inside.predict(active, prepared.array)
    fam = _inside.familiarity(probs, prepared.array, active)
    c1, c2 = st.columns([1, 3])
    c1.metric(
        "Prediction" if fam.trusted else "Best guess (not to be trusted)",
        names[best] if fam.trusted else f"{names[best]}?",
        f"{novelty.percent(probs[best])} sure", delta_color="off", delta_arrow="off",
    )  # fmt: skip
    c2.plotly_chart(_inside.figure("probability_bars", probs, names, top_k), key="predict_probs")
    if fam.trusted:
        st.caption(novelty.verdict(fam, names[best]))
    else:
        st.warning(novelty.verdict(fam, names[best]), icon=":material/help:")
    with st.expander("How the two cues are measured"):
        st.markdown(novelty.cues_explained(digits=_inside.digit_model(active)))

# -------------------------------------------------------------- the code behind this view
if prepared is not None:
    code_panel(
        codegen_inside.predict_code(
            _inside.model_file(active),
            prepared.array, names, image_label=_inside.current(active)[1],
            style=_inside.STYLES[style], top_k=top_k,
        ),
        "predict", "predict.py",
        "Loads the model, feeds it this image exactly as prepared above and prints the "
        "probabilities (last line: JSON).",
    )  # fmt: skip
