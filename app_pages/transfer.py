"""Transfer learning: reuse a network trained on one task to learn another from few images.

Learning goal: the convolutional base of a trained network has learnt to see strokes,
edges and shapes; a new task with only a handful of labelled images can reuse it. Three
contenders train on the same few images: from scratch, feature extraction (the base
frozen, only a new head trained) and fine-tuning (then the top block unfrozen at a lower
learning rate). With few labels the pretrained base wins; with many the gap closes.
"""

import streamlit as st

from app_pages import _transfer as T
from app_pages._code import code_panel
from app_pages._datasets_ui import augmentation_controls, sign_language_upload
from app_pages._shared import show_error
from app_pages._state import keep_settings
from cnnviz import codegen_inside, data, transfer
from cnnviz.plots import transfer as plots

st.title(":material/move_up: Transfer learning")
st.markdown(
    """
A network trained on digits **0–4** never saw a 5, 6, 7, 8 or 9 — but its convolutional
**base** has learnt strokes, curves and loops. Can it learn digits **5–9** from only *k*
labelled images per class? Three contenders train on the same images and are scored on the
same test digits: **from scratch** (random weights), **feature extraction** (the base
frozen, only a new head trained) and **fine-tuning** (then the top block unfrozen, at a
lower learning rate). Batch-norm layers stay frozen throughout, as Keras recommends.
"""
)
T.wait_for_previous()  # a Stop click: let the interrupted run record itself first

# --- controls -------------------------------------------------------------------------
choice = st.selectbox("Base", list(T.BASES), key="tl_base")
app_name = T.BASES[choice]
b = app_name or "digits"  # each choice keeps its own epochs: 60 for digits, 5 for ImageNet
keep_settings("tl_base", "tl_k", "tl_blocks", "tl_seed")
keep_settings(f"tl_epochs_{b}", f"tl_ft_epochs_{b}", f"tl_scratch_epochs_{b}")
left, right = st.columns([3, 2])
ds, digits_base = None, app_name in (None, "signs")
if digits_base:
    task = "digits 5–9" if app_name is None else "letters"
    k = left.radio(
        f"Labelled images per class ({task})", T.K_CHOICES, 1, horizontal=True, key="tl_k"
    )
    if app_name == "signs":
        with left:
            ds, validate_on = sign_language_upload("tl")
    defaults = transfer.digits_config()
else:
    ds, size = T.imagenet_controls(app_name, left)
    defaults = transfer.imagenet_config()
left.caption(T.base_caption(app_name))
with right.expander("Settings", icon=":material/tune:"):
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Head epochs", 1, 200, defaults.epochs, key=f"tl_epochs_{b}")
    ft = c2.number_input(
        "Fine-tune epochs", 1, 100, defaults.fine_tune_epochs, key=f"tl_ft_epochs_{b}"
    )
    blocks = c1.number_input("Blocks to unfreeze", 1, 5, 1, key="tl_blocks")
    seed = c2.number_input("Seed", 0, 10_000, 0, key="tl_seed")
    scratch = defaults.total_scratch_epochs  # ImageNet bases: no from-scratch run on a CPU
    if digits_base:
        scratch = c1.number_input(
            "From-scratch epochs", 1, 300, scratch, key=f"tl_scratch_epochs_{b}"
        )
    with st.popover("Augmentation", icon=":material/transform:"):
        aug = augmentation_controls("tl")

ready = app_name is None or ds is not None
b1, b2, _ = st.columns([1, 1, 8])
start = b1.button("Train", type="primary", disabled=not ready, key="tl_train")
b2.button("Stop", on_click=T.request_stop, key="tl_stop")

# --- result -------------------------------------------------------------------------
if start:
    try:
        config = transfer.replace_config(
            defaults, epochs=int(epochs), fine_tune_epochs=int(ft), scratch_epochs=int(scratch),
            unfreeze_blocks=int(blocks), seed=int(seed), augmentation=aug,
        )  # fmt: skip
        if app_name is None:
            T.run_digits(k, config)
        elif app_name == "signs":
            T.run_sign_language(ds, validate_on, k, config)
        else:
            T.run_imagenet(app_name, size, ds, config)
    except (transfer.TransferError, data.DataError) as exc:
        show_error(exc)

run = T.last_run()  # this session's, or after a reload the learner's last comparison
if run is not None and run.status == "stopped":
    st.info(
        transfer.stop_sentence(run.results, run.contenders, run.seconds),
        icon=":material/stop_circle:",
    )
if run is not None and run.results:
    st.subheader(f"Results: {run.label}")
    if run.restored:
        st.caption(":material/history: Your last comparison, kept for your link across reloads.")
    for col, r in zip(st.columns(len(run.results)), run.results.values(), strict=True):
        col.metric(transfer.contender_label(r), transfer.contender_accuracy(r))
    st.markdown(transfer.advantage_sentence(run.results, run.contenders))
    st.plotly_chart(
        plots.comparison_curves(run.histories, run.stage_epochs, run.partial), key="tl_curves"
    )
    st.caption(T.curves_caption(run))
    st.caption(f":material/timer: {transfer.timing_sentence(run.results, run.seconds)}")

    st.subheader("Use a model everywhere, and see what was frozen")
    names = list(run.results)  # from scratch, feature extraction, fine-tuning: the last
    pick = st.radio("Model", names, len(names) - 1, horizontal=True, key="tl_pick")
    kept = run.results[pick].model is not None  # a reloaded run's models were not kept
    st.button(
        "Use this model everywhere", type="primary", key="tl_use", disabled=not kept,
        on_click=T.use_everywhere, args=(run, pick),
    )  # fmt: skip
    if T.is_active(run, pick):
        st.success(f"Predict, Activations and Heatmaps now use **{pick}** ({run.label}).")
    elif not kept:
        st.caption("The trained models are not kept after a reload: train again to use one.")
    rows = run.frozen.get(pick)
    if rows is None and kept:
        rows = transfer.trainable_counts(run.results[pick].model, weighted_only=True)
    if rows:
        st.markdown(transfer.frozen_sentence(rows))
        left, right = st.columns(2)
        left.plotly_chart(plots.frozen_bars(rows), key="tl_frozen")
        right.dataframe(rows, hide_index=True, key="tl_frozen_table")

# -------------------------------------------------------------- the code behind this view
if app_name is None:  # the offline demonstration; the other bases need your own data
    code_panel(
        codegen_inside.transfer_code(
            None if k == "all" else int(k), int(seed), int(epochs), int(ft), int(blocks),
            learning_rate=defaults.learning_rate,
            fine_tune_learning_rate=defaults.fine_tune_learning_rate,
            batch_size=defaults.batch_size, head_dropout=defaults.head.dropout,
            augmentation=aug,
        ),
        "tl", "transfer_learning.py",
        "The fine-tuning contender with these settings: the base, the new head, feature "
        "extraction then fine-tuning (last line: JSON).",
    )  # fmt: skip
