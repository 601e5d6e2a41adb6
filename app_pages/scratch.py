"""CNN from scratch: a trained network is sums, a max and a sigmoid — check every number.

Learning goal: after training, a CNN's prediction can be recomputed by hand from its
weights. The cookbook's toy CNN (12 parameters) is trained on a button, then its
forward pass is written out number by number and ends on exactly what
``model.predict`` says. The same numpy forward pass then runs on the active model and is
compared with Keras layer by layer.
"""

import pandas as pd
import streamlit as st

from app_pages import _experiments as ex
from app_pages._code import code_panel
from app_pages._shared import active_model_badge, show_error
from app_pages._state import keep_settings
from cnnviz import codegen_inside, scratch
from cnnviz.plots import experiments as plots

keep_settings("sc_seed", "sc_epochs", "sc_input")
st.title(":material/calculate: A CNN from scratch")
st.markdown(
    """
The cookbook's toy problem: two 4×4 "images" (the numbers below are already divided by 8).
The first is mostly **positive → class 0**, the second mostly **negative → class 1**. The
network: one 3×3 convolution with ReLU → 2×2 max-pooling → one sigmoid unit. That is
9 + 1 weights in the filter and 1 + 1 in the dense layer: **12 parameters**, few enough to
write every step of the forward pass by hand.
"""
)

# --- controls -------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
seed = int(c1.number_input("Seed", 0, 9999, 0, key="sc_seed"))
epochs = int(c2.number_input("Epochs", 1, 2000, 300, step=50, key="sc_epochs"))
c3.write("")
train = c3.button("Train the toy CNN", key="sc_train", type="primary")
which = c4.radio(
    "Input",
    [0, 1],
    key="sc_input",
    horizontal=True,
    format_func=lambda i: f"#{i}: mostly {'negative' if i else 'positive'} (label {i})",
)
if train:
    with st.spinner(f"Training for {epochs} full-batch epochs…"):
        model, loss = scratch.train_toy(seed, epochs)
        traces = [scratch.toy_walkthrough(model, i) for i in (0, 1)]
    st.session_state["sc_toy"] = {"seed": seed, "epochs": epochs, "loss": loss, "traces": traces}

# --- result: the walk-through -----------------------------------------------------------
toy = st.session_state.get("sc_toy")
if toy is None:
    st.info(
        f"Not trained yet: these are the **random starting weights** of seed {seed}. "
        "Press *Train the toy CNN* and watch the same steps give the right answers."
    )
    t = ex.untrained_toy_traces(seed)[which]
else:
    t = toy["traces"][which]
    st.caption(scratch.training_caption(toy["seed"], toy["epochs"], toy["loss"], toy["traces"]))
    with st.expander("Training loss"):
        st.plotly_chart(plots.loss_curve(toy["loss"]), key="sc_loss")

m1, m2, m3 = st.columns(3)
m1.plotly_chart(plots.matrix(t.x, "1. input x (÷ 8)"), key="sc_x")
m2.plotly_chart(plots.matrix(t.kernel, scratch.filter_title(t), fmt=".4f"), key="sc_k")
m3.plotly_chart(plots.matrix(t.conv, "3. the four 3×3 sums", fmt=".4f"), key="sc_conv")
st.markdown(
    "**3. Convolution**: each output cell is Σ x·w over its 3×3 window, plus the bias. "
    "The sums below add up exactly the numbers shown (weights to 4 decimals); where the "
    "unrounded weights give another last digit, that value (the one in the matrix) follows "
    "in brackets."
)
st.code(
    "\n".join(f"out[{i},{j}] = {t.sum_text(i, j)}" for i in (0, 1) for j in (0, 1)),
    language=None,
    wrap_lines=True,
)
r1, r2 = st.columns(2)
r1.plotly_chart(plots.matrix(t.relu, "4. ReLU: negatives → 0", fmt=".4f"), key="sc_relu")
r2.markdown(scratch.output_steps(t))
agree = scratch.agreement(t)
k1, k2 = st.columns(2)
k1.metric("By hand (numpy)", agree.facts["by_hand"])
k2.metric("model.predict", agree.facts["keras"])
if agree.facts["agree"]:
    st.success(agree, icon=":material/check:")
else:
    st.warning(agree, icon=":material/warning:")
shown = toy["traces"] if toy is not None else ex.untrained_toy_traces(seed)
if note := scratch.relu_note(shown, toy["loss"] if toy is not None else None):
    if note.facts["warn"]:
        st.warning(note, icon=":material/warning:")
    else:
        st.info(note, icon=":material/info:")

# --- the active model, layer by layer ----------------------------------------------------
st.subheader("Your active model, layer by layer")
st.markdown(
    "`cnnviz.scratch.forward` runs any supported Keras model in plain numpy "
    "(convolutions via `cnnviz.conv`, pooling via `cnnviz.pooling`). The table shows the "
    "largest difference from Keras at every layer — float32 rounding, nothing more."
)
active = active_model_badge()
try:
    rows, what = ex.layer_comparison(active.model, active.label, id(active.model))
except scratch.UnsupportedLayerError as exc:
    show_error(exc)
else:
    st.caption(f"Input: {what}.")
    st.dataframe(
        pd.DataFrame(rows),
        key="sc_table",
        hide_index=True,
        column_config={"max |numpy − Keras|": st.column_config.NumberColumn(format="%.2e")},
    )

# -------------------------------------------------------------- the code behind this view

code_panel(
    codegen_inside.scratch_code(
        toy["seed"] if toy else seed, toy["epochs"] if toy else epochs, which, toy is not None
    ),
    "sc", "cnn_from_scratch.py",
    "The toy CNN with these weights (trained as above, or not yet), its forward pass by hand "
    "and model.predict (last line: JSON).",
)  # fmt: skip
