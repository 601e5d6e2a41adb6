"""Filters: what the model has learned to look for.

Learning goal: a conv layer's kernels are small learned weight patterns (the first layer's
can be read directly); deeper units and output classes can only be visualised indirectly,
by *activation maximisation*: start from noise and change the input by gradient ascent
until the unit fires strongly ("what the model thinks a 3 looks like").
"""

import streamlit as st

from app_pages import _inside
from app_pages._shared import active_model_badge, show_error
from cnnviz import explain

st.title("Filters")
active = active_model_badge()
convs = explain.conv_layers(active.model)
key = _inside.model_key(active)

# ------------------------------------------------------------------- 1. kernels as weights
st.subheader("1 · The kernels, as numbers")
st.markdown(
    "Each tile is one 3×3 (or larger) kernel of a conv layer: red weights add the pixel "
    "under them, blue ones subtract it. A tile with red on one side and blue on the other "
    "is an **edge detector** in that direction. Hover to read each weight."
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
    "Gradient ascent on the **input**: start from noise, then repeatedly nudge every pixel "
    "in the direction that raises the chosen class score (before softmax) or the chosen "
    "filter's mean positive response. **Total variation** keeps the image smooth and the "
    "**L2 norm** keeps it faint; without them the result is high-frequency noise."
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
steps = c1.slider("Steps", 10, 300, 50, step=10, key="filt_steps")
tv = c2.slider("Total variation weight", 0.0, 3.0, 0.3, 0.1, key="filt_tv")
norm = c3.slider("L2 norm weight", 0.0, 3.0, 0.1, 0.1, key="filt_norm")
seed = c4.number_input("Seed", 0, 10_000, 0, key="filt_seed")
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
    labels = [f"class {names[t]}" if layer_done is None else f"filter {t}" for t in done]
    pairs = list(zip(labels, result, strict=True))
    st.plotly_chart(
        _inside.figure("image_row", [(lb, d.image) for lb, d in pairs], 220),
        key="filt_dreams",
    )
    st.plotly_chart(
        _inside.figure("score_curves", {lb: d.scores for lb, d in pairs}),
        key="filt_curves",
    )
    st.caption(
        "The curves should rise: the optimiser makes each target fire more strongly. "
        "Results are cached per model and settings; change the seed for a new start."
    )
else:
    st.caption("Choose targets and press **Run** (a few seconds on a CPU).")
