"""Translation lab: convolution is equivariant, Flatten ties features to places, global
pooling forgets them.

Learning goal: a CNN is not shift-invariant by itself. Its convolutions are
*equivariant* (move the digit, the feature map moves with it); max-pooling tolerates a
little; **Flatten + Dense tie every feature to a position again**, so the cookbook's CNN
loses the digit when it moves a few pixels, almost like the MLP. A network that ends in
**global pooling** keeps only how strongly each feature fired, not where, and holds up.
The learner reruns the book's experiment, sees the equivariance, finds where the
position comes back, and reads accuracy against shift for the bundled models and their own.
"""

import pandas as pd
import streamlit as st

from app_pages import _experiments as ex
from app_pages._code import code_panel
from app_pages._shared import show_error
from app_pages._state import keep_settings
from cnnviz import codegen_inside, data, translation
from cnnviz.plots import experiments as plots

keep_settings(
    *("tr_mine", "tr_source", "tr_index", "tr_dx", "tr_dy", "tr_eq_model"),
    *(f"tr_eq_filter_{label}" for label in ex.CONV_LAB),
    *("tr_eq_index", "tr_eq_dx", "tr_eq_dy", "tr_layer_px", "tr_layer_dir", "tr_beyond"),
    *("tr_kind", "tr_n"),
)
st.title(":material/swap_horiz: Translation lab")
st.markdown(
    """
Move a digit a few pixels: does the network still see it? The cookbook says an MLP gets
lost and a CNN copes. Measured on 2,000 test digits, **both** the MLP and the book's CNN
collapse at 4 px; a CNN that ends in **global pooling** instead of Flatten does not. Why:
a convolution's map *moves with* the digit (section 2) — it is **equivariant**, not
invariant — and Flatten then reads each feature at a fixed place (section 3).
"""
)
subjects = ex.lab_subjects()
mine = ex.learners_subject()
if (other := ex.not_a_digit_model()) is not None:
    st.caption(
        f"Your active model, **{other}**, was not trained on digits, so the lab does not "
        "offer it: it moves digits, and a model of other images has no digit to keep."
    )
if mine is not None and st.toggle(
    f"Add your active model, **{mine.label}**, to sections 3–5",
    key="tr_mine",
    help="Pick it on *Evaluate* with “Use this model everywhere”.",
):
    try:
        translation.check_digit_model(mine.model)
    except translation.TransformError as exc:
        show_error(exc)
    else:
        subjects.append(mine)

# --- 1 ---------------------------------------------------------------------------------
st.subheader("1 · The book's experiment, reproduced")
st.markdown(
    "The book averages every **1**, then runs `pic[:,i]=pic[:,i+1]` (“1 pixel to the left”) "
    "and `pic[:,i]=pic2[:,(i-1)]` (“2 pixels to the right”); its MLP still says 1, then "
    "says 3. Here is the same code on our average 1, with our models (✓ right, ✗ wrong; "
    "predicted class · its probability), and a true 2-px shift for comparison."
)
with st.expander("The book's code", icon=":material/code:"):
    left, right = st.columns(2)
    left.code(translation.BOOK_CODE["left"], language="python")
    right.code(translation.BOOK_CODE["right"], language="python")
images, rows, caption = ex.book_experiment()
st.plotly_chart(ex.figure("book", 0, lambda: plots.image_row(images)), key="tr_book_images")
st.dataframe(pd.DataFrame(rows), key="tr_book_table", hide_index=True)
st.caption(caption)
with st.expander("Move a digit yourself", icon=":material/open_with:"):
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    source = c1.radio("Image", [ex.AVERAGE_ONE, ex.TEST_IMAGE], key="tr_source", horizontal=True)
    index = int(c2.number_input("Test image #", 0, 1999, 0, key="tr_index"))
    dx = int(c3.slider("Right (px)", -6, 6, 2, key="tr_dx"))
    dy = int(c4.slider("Down (px)", -6, 6, 0, key="tr_dy"))
    moved, verdicts, probs = ex.shifted_verdicts(source, index, dx, dy)
    label = ex.chosen_image(source, index)[1]
    left, right = st.columns([1, 2])
    title = f"{translation.describe_shift(dx, dy)} · true class {label}"
    key = (source, index, dx, dy)
    left.plotly_chart(
        ex.figure("moved", key, lambda: plots.image(moved, title)), key="tr_image_fig"
    )
    bars = ex.figure("bars", key, lambda: plots.proba_bars(probs, list(ex.LAB), data.DIGITS))
    right.plotly_chart(bars, key="tr_bars")
    st.markdown("\n".join(f"- {translation.sentence(v, data.DIGITS, label)}." for v in verdicts))

# --- 2 ---------------------------------------------------------------------------------
st.subheader("2 · Convolution is equivariant: the map moves with the digit")
st.markdown(
    "One filter of a first convolution layer, on a test digit **A** and on **B**, the same "
    "digit moved. Its map of B (**D**) is its map of A moved the same way (**E**): the "
    "difference **D − E** is zero wherever the filter saw the whole digit."
)
e1, e2, e3, e4, e5 = st.columns([2, 1, 1, 1, 1])
eq_model = e1.radio("First conv layer of", ex.CONV_LAB, key="tr_eq_model", horizontal=True)
n_filters, busiest = ex.filters_of(eq_model)
eq_filter = int(  # one widget per model: they have different numbers of filters
    e2.number_input("Filter", 0, n_filters - 1, busiest, key=f"tr_eq_filter_{eq_model}")
)
eq_index = int(e3.number_input("Test image #", 0, 1999, 0, key="tr_eq_index"))
eq_dx = int(e4.slider("Right (px)", -4, 4, 3, key="tr_eq_dx"))
eq_dy = int(e5.slider("Down (px)", -4, 4, 2, key="tr_eq_dy"))
eq_key = (eq_model, eq_index, eq_dx, eq_dy, eq_filter)
eq = ex.equivariance_demo(*eq_key)
st.plotly_chart(
    ex.figure("equivariance", eq_key, lambda: plots.equivariance_figure(eq)), key="tr_eq"
)
st.caption(translation.describe_equivariance(eq))

# --- 3 ---------------------------------------------------------------------------------
st.subheader("3 · Where the position comes back")
st.markdown(
    "Every layer's output for 200 test digits, before and after the move. A *map* is "
    "compared after moving it back by the same shift (bars): a small bar means it only "
    "moved. Flat vectors (Flatten, Dense, global pooling) have no places to move, so they "
    "are compared entry by entry. Shifts of 4 px are whole cells of every pooling layer. "
    f"Each bar is a {translation.CHANGE_DEFINITION} (over all 200 digits): 0 % = unchanged, "
    "100 % = a difference as large as the output itself; two same-sized copies that no "
    "longer overlap differ by 141 %. The dotted line is the 20 % the sentences below call "
    "“only moves”."
)
l1, l2 = st.columns([1, 3])
px = int(l1.select_slider("Shift (px)", [1, 2, 3, 4], 4, key="tr_layer_px"))
way = l2.radio("Direction", ["right", "down"], key="tr_layer_dir", horizontal=True)
ldx, ldy = (px, 0) if way == "right" else (0, px)
picked = [s for s in subjects if s.label in ex.LAYER_LAB or s is mine]
try:
    changes = {s.label: ex.layer_rows(s.token, ldx, ldy, s.model) for s in picked}
except (translation.TransformError, ValueError) as exc:
    show_error(exc)
else:
    layer_key = (tuple(s.token for s in picked), ldx, ldy)
    fig = ex.figure("layers", layer_key, lambda: plots.layer_changes(changes, tol=0.2))
    st.plotly_chart(fig, key="tr_layers")
    st.markdown(
        "\n".join(f"- {translation.where_position_returns(k, v)}" for k, v in changes.items())
    )

# --- 4 ---------------------------------------------------------------------------------
st.subheader("4 · Accuracy against shift, over the 2,000 test digits")
summaries = [ex.summary(s) for s in subjects]
for col, s in zip(st.columns(len(summaries)), summaries, strict=True):
    worst = translation.worst_metric(s)
    col.metric(f"{s.name}: worst, ±4 px", worst, worst.facts["delta"])
tokens = tuple(s.token for s in subjects)
curves = ex.figure("curves", tokens, lambda: plots.shift_curves(summaries, chance=0.1))
st.plotly_chart(curves, key="tr_curves")
st.plotly_chart(
    ex.figure("heat", tokens, lambda: plots.shift_heatmaps(summaries)), key="tr_heatmaps"
)
st.caption(
    "Every image moved by the same (dx, dy), zero fill; one forward pass per cell. The "
    "bundled models' numbers were computed by `scripts/build_translation_sweeps.py` from "
    "these very model files; a model of yours is swept live, once per session."
)

# --- 5 ---------------------------------------------------------------------------------
st.subheader("5 · Conclusion, from these numbers")
st.markdown("\n\n".join(translation.conclusion(summaries)))
st.info(
    "Convolution only moves the features; max-pooling follows whole cells only; Flatten + "
    "Dense read every feature at a fixed place. End in global pooling — or train on shifted "
    "digits — and a moved digit is still recognised: section 4 has the numbers.",
    icon=":material/lightbulb:",
)

with st.expander("Beyond shifts: rotation and zoom", icon=":material/rotate_right:"):
    if st.toggle("Measure them (a few seconds)", key="tr_beyond"):
        k1, k2 = st.columns([2, 1])
        kind = k1.radio("Transform", list(translation.SWEEPS), key="tr_kind", horizontal=True)
        n_images = k2.select_slider("Test images", [250, 500, 1000, 2000], 500, key="tr_n")
        params, acc = ex.beyond_sweeps(kind, n_images)
        axis_label = translation.SWEEPS[kind][1]
        fig = plots.curves(params, acc, axis_label, "test accuracy", percent=True)
        st.plotly_chart(fig, key="tr_acc_curve")
        ns = {s.n_images for s in summaries}
        st.caption(
            translation.sweep_summary(
                kind,
                acc,
                params,
                n_images,
                {s.name: s.base for s in summaries},
                ns.pop() if len(ns) == 1 else None,
            )
        )

# -------------------------------------------------------------- the code behind this view

code_panel(
    codegen_inside.translation_code(
        {k: codegen_inside.bundled_path(v) for k, v in ex.LAB.items()},
        source == ex.AVERAGE_ONE, index, dx, dy,
    ),
    "tr", "translation.py",
    "“Move a digit yourself”: the same digit, the same shift, every lab model's "
    "probabilities (last line: JSON).",
)  # fmt: skip
