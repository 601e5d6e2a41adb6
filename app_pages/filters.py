"""Filters: what the model has learned to look for.

Learning goal: a conv layer's kernels are small learned weight patterns (the first layer's
can be read directly); deeper units and output classes can only be visualised indirectly,
by *activation maximisation*: start from noise and change the input by gradient ascent
until the unit fires strongly ("what the model thinks a 3 looks like").
"""

import streamlit as st

from app_pages import _inside
from app_pages._code import code_panel
from app_pages._shared import active_model_badge, show_error
from app_pages._state import keep_settings
from cnnviz import codegen_inside, explain

st.title("Filters")
active = active_model_badge()
convs = explain.conv_layers(active.model)
key = _inside.model_key(active)

# ------------------------------------------------------------------- 1. kernels as weights
st.subheader("1 · The kernels, as numbers")
st.markdown(
    "Each tile is one 3×3 (or larger) kernel of a conv layer: red weights add the pixel "
    "under them, blue ones subtract it, white ones ignore it (the colour bar gives the "
    "numbers). A tile with red on one side and blue on the other is an **edge detector** "
    "in that direction. Hover to read each weight."
)
if not convs:
    st.info(
        f"**{active.label}** has no convolutional layer, so there are no kernels to show; "
        "its first dense layer looks at all pixels at once. Activation maximisation of the "
        "output classes (below) still works.",
        icon=":material/info:",
    )
else:
    kernel_layer = st.selectbox("Conv layer", convs, key="filt_kernel_layer")
    st.plotly_chart(
        _inside.figure("kernel_grid", explain.kernels(active.model, kernel_layer)),
        key="filt_kernels",
    )

# ------------------------------------------------------- 2. activation maximisation
st.subheader("2 · Activation maximisation")
st.markdown(
    "Gradient ascent on the **input**: start from a blank page, then repeatedly nudge every "
    "pixel in the direction that raises the chosen class score (before softmax) or the "
    "chosen filter's response. Each step the image is also **moved, turned and scaled a "
    "little** at random, so only what the model recognises wherever it appears pays off; "
    "**total variation** keeps the strokes smooth, the **L2 norm** keeps ink away from where "
    "it is not needed, and pixels stay in the valid range 0–1. Without these, the result "
    "is high-frequency noise that only this one model likes."
)
kinds = ["Output classes", "Filters of a conv layer"] if convs else ["Output classes"]
kind = st.radio("Visualise", kinds, horizontal=True, key="filt_kind")
n_out = int(active.model.outputs[0].shape[-1])
names = _inside.class_names(active, n_out)
if kind == "Output classes":
    layer = None
    targets = st.multiselect(
        "Classes", list(range(n_out)), default=list(range(min(n_out, 10))),
        format_func=lambda c: names[c], key="filt_classes",
    )  # fmt: skip
else:
    layer = st.selectbox("Layer", convs, key="filt_am_layer")
    n_filters = int(active.model.get_layer(layer).output.shape[-1])
    targets = st.multiselect(
        "Filters", list(range(n_filters)), default=list(range(min(n_filters, 8))),
        key="filt_filters",
    )  # fmt: skip
c1, c2, c3, c4 = st.columns(4)
steps = c1.slider("Steps", 10, 400, explain.DREAM_STEPS, step=10, key="filt_steps")
tv = c2.slider("Total variation weight", 0.0, 3.0, 0.5, 0.1, key="filt_tv")
norm = c3.slider("L2 norm weight", 0.0, 3.0, 0.5, 0.1, key="filt_norm")
seed = c4.number_input("Seed", 0, 10_000, 0, key="filt_seed")
keep_settings(
    "filt_kernel_layer", "filt_kind", "filt_classes", "filt_am_layer", "filt_filters",
    "filt_steps", "filt_tv", "filt_norm", "filt_seed",
)  # fmt: skip
run = st.button("Run activation maximisation", type="primary", key="filt_run")

if run:
    settings = dict(steps=steps, tv_weight=tv, norm_weight=norm, seed=int(seed))
    try:
        result = _inside.dreams(active.model, key, tuple(targets), layer, **settings)
        st.session_state["filt_result"] = (key, layer, tuple(targets), result)
    except explain.ExplainError as exc:
        show_error(exc)
saved = st.session_state.get("filt_result")
if saved and saved[0] == key:
    _, layer_done, done, result = saved
    if layer_done is None:
        labels = [
            explain.dream_label(names[t], _inside.probabilities(active.model, key, d.image), names)
            for t, d in zip(done, result, strict=True)
        ]
        second = _inside.second_reads(active, [d.image for d in result])
        st.caption(
            "Each dream is fed back to the model: the title says what it reads. "
            + (
                explain.second_opinion_sentence(second[0], done, second[1], names)
                if second
                else "A dream that another model, trained apart on the same data, also "
                "reads as its class is a picture of what the class looks like to a CNN, "
                "not noise that fools one network (the tests check the bundled models')."
            )
        )
    else:
        labels = [f"filter {t}" for t in done]
        st.caption(explain.filter_view_caption(result[0].box, explain.DREAM_MARGIN))
    pairs = list(zip(labels, result, strict=True))
    st.plotly_chart(
        _inside.figure(
            "image_row", [(lb.replace(" (", "<br>("), d.view()) for lb, d in pairs], 240
        ),
        key="filt_dreams",
    )
    curves = {lb.split(" (")[0]: d.scores for lb, d in pairs}
    st.plotly_chart(_inside.figure("score_curves", curves), key="filt_curves")
    st.caption(
        explain.curves_verdict(curves) + " Results are cached per model and settings; "
        "change the seed for a new start."
    )
else:
    st.caption("Choose targets and press **Run** (a few seconds on a CPU).")

# -------------------------------------------------------------- the code behind this view
code_panel(
    codegen_inside.filters_code(
        _inside.model_file(active),
        kernel_layer if convs else None, targets=targets, dream_layer=layer, steps=steps,
        tv_weight=tv, norm_weight=norm, seed=int(seed),
    ),
    "filt", "filters.py",
    "The kernels of section 1 and activation maximisation with the settings of section 2 "
    "(last line: JSON).",
)  # fmt: skip
