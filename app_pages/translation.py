"""Translation lab: move a digit two pixels and watch an MLP change its mind.

Learning goal: a dense network (MLP) learns *which pixels* light up for each digit, so a
small shift breaks it; a CNN's sliding filters and pooling make it more tolerant, and a
CNN trained on shifted digits is the most robust. The learner runs the cookbook's
experiment on our own pre-trained models, reads OUR numbers, then measures accuracy
against shift, rotation and zoom over the test set.
"""

import streamlit as st

from app_pages import _experiments as ex
from app_pages._shared import show_error
from cnnviz import data, translation
from cnnviz.plots import experiments as plots

st.title(":material/swap_horiz: Translation lab: MLP vs CNN")
st.markdown(
    """
The cookbook trains an MLP and a CNN on MNIST, averages every **1** in the test set and
slides that average a few pixels. The book reports that the MLP still says 1 (0.63) after a
1-pixel *left* shift but says **3** after a 2-pixel *right* shift, while the CNN keeps 1 at
0.95. Below, the same experiment runs on models bundled with cnnviz (trained on the
8,000-image MNIST sample, 8 epochs) — plus a third CNN trained on randomly shifted digits.
Pixels that leave the frame are lost; new ones are black (zero fill, no wrap-around).
"""
)
names = list(ex.TRANSLATION_MODELS)

# --- the book's experiment, our numbers ---------------------------------------------
st.subheader("The book's experiment with our models")
for col, book_dx in zip(st.columns(2), (-1, 2), strict=True):
    _, book, _ = ex.shifted_verdicts(ex.BUNDLED, ex.AVERAGE_ONE, 0, book_dx, 0)
    col.markdown("\n".join(f"- {translation.sentence(v, data.DIGITS, 1)}." for v in book))
    col.caption(translation.who_holds(book, 1))

# --- controls -------------------------------------------------------------------------
st.subheader("Try it")
with st.expander("Retrain the three models yourself", icon=":material/model_training:"):
    r1, r2, r3, r4 = st.columns([1, 1, 1, 1])
    n_train = int(r1.number_input("Training images", 100, 8000, 8000, 500, key="tr_n_train"))
    epochs = int(r2.number_input("Epochs", 1, 30, 3, key="tr_epochs"))
    seed = int(r3.number_input("Seed", 0, 9999, 0, key="tr_seed"))
    if r4.button("Retrain", key="tr_retrain", type="primary"):
        bar = st.progress(0.0, text="Starting…")
        try:
            trained = translation.retrain(
                n_train, epochs, seed, lambda f, text: bar.progress(f, text=text)
            )
        except ValueError as exc:
            show_error(exc)
        else:
            ex.store_retrained(trained, {"n_train": n_train, "epochs": epochs, "seed": seed})
            st.session_state["tr_models"] = "retrained by you"
    st.caption(
        "MLP, CNN and CNN with ±3-px random shifts, Adam, batch 128 (8,000 × 3 "
        "epochs: about a minute on a CPU). Your models stay in this session only."
    )
own = ex.retrained()
choice = st.radio(
    "Models",
    ["pre-trained (bundled)"] + (["retrained by you"] if own else []),
    key="tr_models",
    horizontal=True,
)
token = own["token"] if own and choice == "retrained by you" else ex.BUNDLED
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
source = c1.radio("Image", [ex.AVERAGE_ONE, ex.TEST_IMAGE], key="tr_source", horizontal=True)
index = c2.number_input(
    "Test image #", 0, 1999, 0, key="tr_index", disabled=source == ex.AVERAGE_ONE
)
dx = c3.slider("Shift right (px)", -6, 6, 2, key="tr_dx")
dy = c4.slider("Shift down (px)", -6, 6, 0, key="tr_dy")

# --- result ---------------------------------------------------------------------------
moved, verdicts, probs = ex.shifted_verdicts(token, source, int(index), int(dx), int(dy))
_, label = ex.chosen_image(source, int(index))
left, right = st.columns([1, 2])
left.plotly_chart(
    plots.image(moved, f"{translation.describe_shift(dx, dy)} · true class {label}"),
    key="tr_image_fig",
)
right.plotly_chart(plots.proba_bars(probs, names, data.DIGITS), key="tr_bars")
st.markdown("\n".join(f"- {translation.sentence(v, data.DIGITS, label)}." for v in verdicts))

st.subheader("Beyond the book")
st.markdown(
    "**P(true class) of this image** as it slides across the frame. The dashed line is "
    "your slider. A flat curve means the model does not care where the digit is."
)
axis = st.radio(
    "Direction",
    ["x", "y"],
    key="tr_axis",
    horizontal=True,
    format_func={"x": "left ↔ right", "y": "up ↕ down"}.get,
)
shifts = translation.SWEEPS["horizontal shift"][0]
p_true = ex.proba_curves(token, source, int(index), axis)
st.plotly_chart(
    plots.curves(
        shifts, p_true, "shift (pixels)", f"P({label})", marker_x=dx if axis == "x" else dy
    ),
    key="tr_proba_curve",
)

st.markdown(
    "**Accuracy over the test set** when *every* image is moved the same way. Pick what "
    "to do to the digits; each sweep is computed once and then cached."
)
k1, k2 = st.columns([2, 1])
kind = k1.radio("Transform", list(translation.SWEEPS), key="tr_kind", horizontal=True)
n_images = k2.select_slider("Test images", [250, 500, 1000, 2000], 500, key="tr_n")
params, acc = ex.accuracy_sweeps(token, kind, n_images)
st.plotly_chart(
    plots.curves(params, acc, translation.SWEEPS[kind][1], "accuracy"), key="tr_acc_curve"
)
st.caption(translation.sweep_summary(kind, acc, params))
