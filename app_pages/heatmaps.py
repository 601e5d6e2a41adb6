"""Heatmaps: where in the image is the evidence for a class?

Learning goal: class-activation maps (Grad-CAM and relatives) weight a conv layer's maps by
how much each matters for one class; saliency maps take the gradient of the class score
with respect to each pixel. A faithful map must depend on what the model learned: the
sanity check (Adebayo et al., 2018) randomises the weights and the map should change.
"""

import streamlit as st

from app_pages import _inside
from app_pages._shared import active_model_badge, show_error
from cnnviz import explain, imaging
from cnnviz.plots import inside as plots

st.title("Heatmaps")
active = active_model_badge()
st.markdown(
    "**Grad-CAM** averages the class score's gradient over each map of a conv layer and sums "
    "the maps with those weights; **Grad-CAM++** and **Layer-CAM** weight positions more "
    "finely; **Score-CAM** masks the image with each map and watches the score (no "
    "gradients). **Saliency** is the gradient for each pixel; **SmoothGrad** averages it "
    "over noisy copies. Red is strong evidence for the chosen class."
)

# ---------------------------------------------------------------------------- controls
convs = explain.conv_layers(active.model)
available = list(explain.METHODS) if convs else ["saliency", "smoothgrad"]
if not convs:
    st.info(
        f"**{active.label}** has no convolutional layer, so the class-activation maps "
        "(Grad-CAM, Grad-CAM++, Score-CAM, Layer-CAM) do not apply; saliency maps still do.",
        icon=":material/info:",
    )
_inside.image_picker("heat_image")
c1, c2, c3 = st.columns(3)
fast = [m for m in ("gradcam", "gradcam++", "layercam", "saliency") if m in available]
methods = c1.multiselect(
    "Methods", available, default=fast, format_func=explain.METHODS.get, key="heat_methods",
    help="Score-CAM (one forward pass per map) and SmoothGrad (20 noisy copies) are slower.",
)  # fmt: skip
n_out = int(active.model.outputs[0].shape[-1])
names = _inside.class_names(active, max(n_out, 2))
class_choice = c2.selectbox(
    "Class to explain",
    ["predicted", *range(len(names))],
    format_func=lambda c: "The predicted class" if c == "predicted" else f"Class {names[c]}",
    key="heat_class",
)
layer = (
    c3.selectbox("Conv layer (for CAMs)", convs, index=len(convs) - 1, key="heat_layer")
    if convs
    else None
)
opacity = st.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="heat_opacity")
sanity = st.toggle("Sanity check: also explain a copy with random weights", key="heat_sanity")

# ------------------------------------------------------------------------------ result
prepared = _inside.prepared_current(active)
if prepared is not None and methods:
    probs, names, best = _inside.predict(active, prepared.array)
    cls = best if class_choice == "predicted" else int(class_choice)
    key = _inside.model_key(active)
    st.markdown(
        f"Predicted **{names[best]}** ({probs[best]:.1%}); explaining class **{names[cls]}**."
    )
    try:
        cams = {
            explain.METHODS[m]: _inside.heatmap(active.model, key, prepared.array, m, cls, layer)
            for m in methods
        }
        st.plotly_chart(
            _inside.figure("heatmap_overlays", prepared.array, cams, opacity), key="heat_maps"
        )
        if sanity:
            random_model = _inside.randomized(active.model, key)
            rand = {
                name: _inside.heatmap(random_model, key + ":random", prepared.array, m, cls, layer)
                for m, name in zip(methods, cams, strict=True)
            }
            st.subheader("Same methods, randomised weights")
            st.plotly_chart(
                _inside.figure("heatmap_overlays", prepared.array, rand, opacity),
                key="heat_rand",
            )
            st.dataframe(explain.sanity_table(cams, rand), hide_index=True, key="heat_sanity_table")
            st.caption(
                "Rank correlation near 1 means the map hardly changed when the learned "
                "weights were destroyed: that method shows the image more than the model."
            )
    except explain.ExplainError as exc:
        show_error(exc)
elif prepared is not None:
    st.info("Choose at least one method.", icon=":material/info:")

# ------------------------------------------------------------------------ ImageNet photos
with st.expander("Colour photos with an ImageNet model (MobileNetV2)"):
    st.markdown(
        "MobileNetV2 was trained on 1.2 million photos of 1,000 classes. Its weights (14 MB) "
        "are downloaded once from Google's servers; without internet this part is unavailable."
    )
    photo = st.file_uploader("A photo", type=["png", "jpg", "jpeg", "webp"], key="heat_photo")
    if st.button("Explain with MobileNetV2", key="heat_imagenet_run"):
        try:
            net = _inside.imagenet_model()
            raw = photo.getvalue() if photo is not None else _inside.current()[0]
            x = imaging.prepare_image(raw, explain.IMAGENET_INPUT, "rgb").array
            top = explain.imagenet_labels(explain.predict_proba(net, x))
            cam = explain.heatmap(net, x, "gradcam")
            st.plotly_chart(plots.heatmap_overlays(x, {f"Grad-CAM: {top[0][0]}": cam}, opacity),
                            key="heat_imagenet_map")  # fmt: skip
            st.dataframe({"class": [t for t, _ in top], "probability": [p for _, p in top]},
                         hide_index=True, key="heat_imagenet_top")  # fmt: skip
        except (explain.ExplainError, imaging.ImageError) as exc:
            show_error(exc)
