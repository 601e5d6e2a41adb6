"""Train: fit a textbook CNN on a dataset and watch it learn, epoch by epoch.

Learning goal: training is a loop of small weight updates; the loss falls and accuracy
rises on the training data, while the *validation* curves tell you whether the network
generalises — compare runs with and without dropout or augmentation to see overfitting.
"""

import streamlit as st

from app_pages import _training as T
from app_pages._shared import show_error
from cnnviz import models, training
from cnnviz.plots import training as plots

st.title(":material/model_training: Train a CNN")
st.markdown(
    """
Pick a dataset and a model, set the hyperparameters, and press **Train**. Each epoch the
network sees every training image once, in batches; after each batch the optimizer nudges
every weight against the gradient of the loss. The curves update after every epoch:
**solid** = training data, **dashed** = validation data the network never trains on.
Runs stay in your session (and only yours) — select two to overlay their curves.
"""
)
T.wait_for_previous()  # a Stop click: let the interrupted run record itself first

# --- controls -------------------------------------------------------------------------
left, right = st.columns([1, 1])
with left:
    ds = T.dataset_picker("train")
    zoo = [n for n in models.ZOO if n != "toy_4x4"]
    model_name = st.selectbox("Model", [*zoo, "custom"], key="train_model")
    blocks = ""
    if model_name == "custom":
        blocks = st.text_area(
            "Blocks, one per line (conv / pool / batchnorm / dropout / dense, key=value)",
            models.EXAMPLE_SPEC,
            height=170,
            key="train_blocks",
        )
    else:
        st.caption(f"**Lesson:** {models.ZOO[model_name].lesson}")
with right:
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Epochs", 1, 50, 3, key="train_epochs")
    batch = c2.selectbox("Batch size", [32, 64, 128, 256], index=2, key="train_batch")
    optimizer = c1.selectbox("Optimizer", training.OPTIMIZERS, key="train_optimizer")
    lr = c2.select_slider(
        "Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0], 1e-3, key="train_lr"
    )
    seed = c1.number_input("Seed", 0, 10_000, 0, key="train_seed")
    patience = c2.number_input("Early-stopping patience (0 = off)", 0, 20, 0, key="train_patience")
    with st.expander("Augmentation (training batches only)"):
        a1, a2 = st.columns(2)
        rotation = a1.slider("Rotation (turns)", 0.0, 0.25, 0.0, 0.01, key="train_rotation")
        shift = a2.slider("Shift (fraction)", 0.0, 0.3, 0.0, 0.01, key="train_shift")
        zoom = a1.slider("Zoom (fraction)", 0.0, 0.3, 0.0, 0.01, key="train_zoom")
        flip = a2.toggle("Horizontal flip", False, key="train_flip")
    with st.expander("Advanced"):
        subset = st.number_input(
            "Use only this many training images (0 = all)", 0, 60_000, 0, 100, key="train_subset"
        )
        val = st.slider("Validation fraction", 0.05, 0.5, 0.1, 0.05, key="train_val")
    st.badge(f"Device: {T.device()}", icon=":material/memory:", color="blue")

if ds is not None:
    try:
        table = T.summary_table(model_name, ds.input_shape, ds.num_classes, blocks)
        with st.expander(f"{model_name}: {table['parameters'].iloc[-1]:,} parameters"):
            st.dataframe(table, hide_index=True, key="train_summary")
    except models.ModelError as exc:
        show_error(exc)
        ds = None

b1, b2, _ = st.columns([1, 1, 4])
start = b1.button("Train", type="primary", disabled=ds is None, key="train_start")
b2.button("Stop", on_click=T.request_stop, key="train_stop")

# --- result -------------------------------------------------------------------------
if start and ds is not None:
    aug = training.Augmentation(rotation, shift, zoom, flip)
    config = training.TrainConfig(
        epochs=int(epochs),
        batch_size=int(batch),
        optimizer=optimizer,
        learning_rate=float(lr),
        augmentation=aug if aug.active else None,
        early_stopping_patience=int(patience) or None,
        validation_split=float(val),
        seed=int(seed),
    )
    try:
        run = T.run_training(ds, model_name, blocks, config, int(subset))
        (st.warning if run.status == "nan" else st.success)(run.message)
    except (training.TrainingError, models.ModelError) as exc:
        show_error(exc)

runs = T.runs()
if runs:
    st.subheader("Runs of this session")
    labels = list(runs)
    last = runs[labels[-1]]
    if last.status in ("user", "interrupted") and not start:
        st.info(f"{last.label}: {last.message}", icon=":material/stop_circle:")
    if start or "train_compare" not in st.session_state:
        st.session_state["train_compare"] = labels[-2:]  # a new run joins the overlay
    chosen = st.multiselect("Overlay runs", labels, key="train_compare")
    st.plotly_chart(plots.learning_curves({k: runs[k].history for k in chosen}), key="train_curves")
    st.dataframe(T.runs_table(chosen), hide_index=True, key="train_runs_table")
    st.caption("Evaluate a run, and make it the model the other pages use, on *Evaluate*.")
