"""Heatmaps: where in the image is the evidence for a class?

Learning goal: class-activation maps (Grad-CAM and relatives) weight a conv layer's maps by
how much each matters for one class; saliency maps take the gradient of the class score
with respect to each pixel. A faithful map must depend on what the model learned: the
sanity check (Adebayo et al., 2018) randomises the weights and the map should change.
"""

import streamlit as st

from app_pages import _inside
from app_pages._code import code_panel
from app_pages._shared import active_model_badge, show_error
from app_pages._state import keep_settings
from cnnviz import codegen_inside, explain, imaging
from cnnviz.plots import inside as plots

st.title("Heatmaps")
active = active_model_badge()
st.markdown(
    "**Grad-CAM** averages the class score's gradient over each map of a conv layer and sums "
    "the maps with those weights; **Grad-CAM++** and **Layer-CAM** weight positions more "
    "finely; **Score-CAM** masks the image with each map and watches the score (no "
    "gradients). **Saliency** is the gradient for each pixel; **SmoothGrad** averages it "
    "over noisy copies. Each map is drawn on the sequential scale, exactly as its colour bar "
    "reads (white = 0; the darker the red, the larger the method's value there), with the "
    "input's outline on top. A large value marks where the method finds the chosen class's "
    "score depends on the image; what the values mean, and how they compare between "
    "classes, differs by method (see below the maps)."
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
keep_settings(
    "heat_methods", "heat_class", "heat_layer", "heat_scale", "heat_layout", "heat_big",
    "heat_opacity", "heat_sanity",
)  # fmt: skip
_inside.image_picker("heat_image", active)
fast = [m for m in ("gradcam", "gradcam++", "layercam", "saliency") if m in available]
methods = st.multiselect(
    "Methods", available, default=fast, format_func=explain.METHODS.get, key="heat_methods",
    help="Score-CAM (one forward pass per map) and SmoothGrad (20 noisy copies) are slower.",
)  # fmt: skip
c1, c2, c3 = st.columns(3)
n_out = int(active.model.outputs[0].shape[-1])
names = _inside.class_names(active, max(n_out, 2))
class_choice = c1.selectbox(
    "Class to explain",
    ["predicted", *range(len(names))],
    format_func=lambda c: "The predicted class" if c == "predicted" else f"Class {names[c]}",
    key="heat_class",
)
layer = (
    c2.selectbox(
        "Conv layer (for CAMs)",
        convs,
        index=len(convs) - 1,
        key="heat_layer",
        help="The CAMs weigh this layer's maps after its activation (for a linear conv "
        "followed by a LeakyReLU layer, the LeakyReLU's maps). Deeper layers: coarser "
        "maps of larger patterns.",
    )
    if convs
    else None
)
scales = {
    "own": "Each map to its own maximum (where is the evidence?)",
    "shared": "One scale across all classes (how strong is it, compared?)",
}
scale = c3.radio("Colour scale", list(scales), format_func=scales.get, key="heat_scale")
c1, c2, c3 = st.columns(3)
layouts = {"grid": "Side by side", "big": "One method large"}
layout = c1.radio("Layout", list(layouts), format_func=layouts.get, key="heat_layout",
                  horizontal=True)  # fmt: skip
big = (
    c2.selectbox("Method shown large", methods, format_func=explain.METHODS.get, key="heat_big")
    if layout == "big" and methods
    else None
)
opacity = c3.slider(
    "Outline of the input", 0.0, 1.0, 0.8, 0.05, key="heat_opacity",
    help="Opacity of the line drawn over each map where the input's brightness crosses "
    "halfway between its darkest and brightest pixel (0: no line).",
)  # fmt: skip
sanity = st.toggle("Sanity check: also explain a copy with random weights", key="heat_sanity")

# ------------------------------------------------------------------------------ result
prepared = _inside.prepared_current(active)
if prepared is not None and methods:
    st.caption(_inside.image_caption(active, prepared.array.shape))
    probs, names, best = _inside.predict(active, prepared.array)
    cls = best if class_choice == "predicted" else int(class_choice)
    key = _inside.model_key(active)
    st.markdown(explain.target_sentence(probs, names, cls))
    shown = [big] if big else methods
    try:
        evidence = {m: _inside.evidence(active.model, key, prepared.array, m, layer) for m in shown}
        titles = {m: explain.map_title(active.model, m, layer) for m in shown}
        cams = {titles[m]: evidence[m][cls] for m in shown}
        limits = {
            titles[m]: explain.display_limits(evidence[m], cls, scale == "shared") for m in shown
        }
        cols, panel = (2, 560) if big else (3, 380)
        st.plotly_chart(
            _inside.figure("heatmap_overlays", prepared.array, cams, opacity, limits, cols, panel),
            key="heat_maps",
        )
        st.caption(
            "The first panel is the input as the model gets it. Each map is opaque, in exactly "
            "its colour bar's colours, and is computed at the size its title gives: a CAM at "
            "its conv layer's resolution, upsampled to the input's; saliency at the input "
            "pixels. The black-and-white line is the input's outline."
        )
        if scale == "shared":
            st.caption(
                explain.evidence_summary(
                    {explain.METHODS[m]: evidence[m] for m in shown}, names, best
                )
            )
        else:
            st.caption(
                "Each map is stretched to its own maximum: good for seeing *where* a method "
                "looks, silent about how large its values are (a class the model rejects "
                "looks as red as the one it picks). Switch to one scale per method to "
                "compare the classes' values."
            )
        if sanity:
            random_model = _inside.randomized(active.model, key)
            trained, rand = {}, {}
            for m in methods:
                name = explain.METHODS[m]
                trained[name] = _inside.heatmap(active.model, key, prepared.array, m, cls, layer)
                rand[name] = _inside.heatmap(
                    random_model, key + ":random", prepared.array, m, cls, layer
                )
            st.subheader("Same methods, randomised weights")
            rand_maps = {
                explain.map_title(active.model, m, layer): rand[explain.METHODS[m]] for m in methods
            }
            st.plotly_chart(
                _inside.figure(
                    "heatmap_overlays",
                    prepared.array,
                    rand_maps,
                    opacity,
                    unit="share of the map's max",
                ),
                key="heat_rand",
            )
            st.markdown(explain.sanity_rule())
            st.dataframe(
                explain.sanity_table(trained, rand), hide_index=True, key="heat_sanity_table"
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
            raw = photo.getvalue() if photo is not None else _inside.current(active)[0]
            x = imaging.prepare_image(raw, explain.IMAGENET_INPUT, "rgb").array
            top = explain.imagenet_labels(explain.predict_proba(net, x))
            cam = explain.heatmap(net, x, "gradcam")
            title = f"{explain.map_title(net, 'gradcam')} · {top[0][0]}"
            st.plotly_chart(plots.heatmap_overlays(x, {title: cam}, opacity),
                            key="heat_imagenet_map")  # fmt: skip
            st.dataframe({"class": [t for t, _ in top], "probability": [p for _, p in top]},
                         hide_index=True, key="heat_imagenet_top")  # fmt: skip
        except (explain.ExplainError, imaging.ImageError) as exc:
            show_error(exc)

# -------------------------------------------------------------- the code behind this view
if prepared is not None and methods:
    code_panel(
        codegen_inside.heatmaps_code(
            _inside.model_file(active),
            prepared.array, methods, None if class_choice == "predicted" else int(class_choice),
            layer, explain.cam_maps_layer(active.model, layer) if layer else None,
            n_outputs=n_out, image_label=_inside.current(active)[1],
            style=_inside.STYLES[_inside.chosen_style(prepared.array.shape,
                                                      _inside.dataset_of(active))],
        ),
        "heat", "heatmaps.py",
        "Each chosen method's map for the chosen class, with tf-keras-vis, on one scale "
        "across classes (last line: JSON).",
    )  # fmt: skip
