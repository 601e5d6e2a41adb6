"""Train: fit a textbook CNN on a dataset and watch it learn, batch by batch.

Learning goal: training is a loop of small weight updates; the loss falls and accuracy
rises on the training data, while the *validation* curves tell you whether the network
generalises — compare runs with and without dropout or augmentation to see overfitting,
and with too large a learning rate to see training fail.
"""

import streamlit as st

from app_pages import _training as T
from app_pages._code import code_panel
from app_pages._datasets_ui import augmentation_controls
from app_pages._shared import learner_token, show_error, store
from app_pages._state import keep_settings
from cnnviz import codegen, models, runs, snapshots, training, trainjob
from cnnviz.plots import training as plots

st.title(":material/model_training: Train a CNN")
st.markdown(
    """
Pick a dataset and a model, set the hyperparameters, and press **Train**. Each epoch the
network sees every training image once, in batches; after each batch the optimizer nudges
every weight against the gradient of the loss. The curves update as it trains: faint dots
are the training loss of each group of batches, the solid line their smoothed trend (a
moving average of the loss's *log*, so one early spike does not hold it up), the
**diamond** where the training loss ended (the mean of the last 10 % of the dots: the
number the run's sentence quotes), and the **dashed** line the validation data the
network never trains on, measured before training (epoch 0) and after every epoch (or
where a stopped run stopped). Runs train on the server, one after another when many
learners train at once; yours goes on (and is kept) even if you close the tab.
"""
)
T.report_ended(T.ended_jobs())  # a run that failed or left the queue since the last look

# --- controls -------------------------------------------------------------------------
left, right = st.columns([1, 1])
with left:
    ds = T.dataset_picker("train", validation=True)
    zoo = [n for n in models.ZOO if n != "toy_4x4"]
    model_name = st.selectbox("Model", [*zoo, "custom"], key="train_model")
    blocks = ""
    if model_name == "custom":
        blocks = st.text_area(
            "Blocks, one per line (conv / pool / batchnorm / dropout / dense, key=value)",
            models.EXAMPLE_SPEC,
            height=190,
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
        aug = augmentation_controls("train")
    with st.expander("Advanced"):
        subset = st.number_input(
            "Use only this many training images (0 = all)", 0, 60_000, 0, 100, key="train_subset"
        )
        val = st.slider("Validation fraction", 0.05, 0.5, 0.1, 0.05, key="train_val")
        refresh = st.toggle(
            "Recompute batch-norm statistics before each validation",
            True,
            key="train_bn_refresh",
            help="Batch norm answers in inference mode with moving averages of each channel's "
            "mean and variance; after a short run they lag behind the weights. Switch this "
            "off (and try `batchnorm momentum=0.99`) to see the model disagree with itself.",
        )
        record_snaps = st.toggle(
            f"Take up to {snapshots.N_SNAPSHOTS} snapshots of the network while it trains",  # label
            True,
            key="train_snapshots",
            help="Kernels, feature maps and Grad-CAM of one probe image, and histograms of "
            "every layer's weights and gradients, shown live and replayed afterwards.",
        )
    st.badge(f"Device: {T.device()}", icon=":material/memory:", color="blue")

if ds is not None:
    try:
        table = T.summary_table(model_name, ds.input_shape, ds.num_classes, blocks)
        with st.expander(f"{model_name}: {table['parameters'].iloc[-1]:,} parameters"):  # label
            st.dataframe(table, hide_index=True, key="train_summary")
    except models.ModelError as exc:
        show_error(exc)
        ds = None

busy = T.active_job()
b1, s1, s2 = st.columns([1, 3, 2], vertical_alignment="bottom")
start = b1.button(
    "Train",
    type="primary",
    disabled=ds is None or busy is not None,
    key="train_start",
    help="One run at a time: wait for yours to end, or stop it." if busy else None,
)
smoothing = s1.slider("Smoothing of the training curve", 0.0, 0.95, 0.6, 0.05, key="train_smooth")
log_loss = s2.toggle("Loss on a log scale", False, key="train_log")
keep_settings(
    *(f"train_{k}" for k in ("dataset", "model", "blocks", "epochs", "batch", "optimizer", "lr")),
    *(f"train_{k}" for k in ("seed", "patience", "subset", "val", "bn_refresh", "smooth", "log")),
    "train_snapshots",
    "train_compare",
)

# --- result -------------------------------------------------------------------------
# These settings, as the run the Train button would start (and the code below writes).
config = training.TrainConfig(
    epochs=int(epochs),
    batch_size=int(batch),
    optimizer=optimizer,
    learning_rate=float(lr),
    augmentation=aug,
    early_stopping_patience=int(patience) or None,
    validation_split=float(val),
    seed=int(seed),
    refresh_batchnorm=refresh,
    snapshots=snapshots.N_SNAPSHOTS if record_snaps else 0,
)
if start and ds is not None and busy is None:
    T.submit(
        trainjob.TrainRequest(
            dataset=ds,
            model_name=model_name,
            blocks=blocks,
            config=config,
            subset=int(subset),
            store_root=str(store().root),
            token=learner_token(),
            validate_on=T.validate_on("train"),
        )
    )
    st.rerun()  # draw the page again with the job: Train greyed out, the live panel on
T.live_panel(smoothing, log_loss)

records = T.runs()
deleted = T.just_deleted()
if deleted:
    st.info(f"Deleted run {deleted}.", icon=":material/delete:")
if not records and busy is None:
    st.info("You have no runs yet: press **Train** to make one.", icon=":material/info:")
if records:
    st.subheader("Your runs")
    latest = list(records.values())[-1]
    shout = {"nan": st.error, "diverged": st.error, "stopped": st.info}.get(latest.status)
    (shout or st.success)(f"{latest.label}: {latest.message}")
    for note in latest.notes:
        st.warning(note, icon=":material/warning:")
    labels = list(records)
    T.update_overlay(records)  # every new run (a stopped one too) joins the overlay
    chosen = st.multiselect("Overlay runs", labels, key="train_compare")
    if chosen:
        overlay = T.curves([records[k] for k in chosen])
        st.plotly_chart(
            plots.learning_curves(overlay, smoothing=smoothing, log_loss=log_loss),
            key="train_curves",
        )
    else:
        st.info("No run is overlaid: pick runs above to draw their curves.")
    if not log_loss and any(records[k].status in ("nan", "diverged") for k in chosen):
        st.caption("A failed run's huge loss flattens the others: turn on *Loss on a log scale*.")
    st.dataframe(
        T.runs_table(list(records.values()), chosen),
        hide_index=True,
        key="train_runs_table",
        column_config={
            "run": st.column_config.TextColumn(width="medium"),
            "learning rate": st.column_config.NumberColumn(format="%g"),
            "best val accuracy": st.column_config.NumberColumn(format="percent"),
            "images/s": st.column_config.NumberColumn(
                format="localized",
                help="Training images per second of training time (validation excluded, "
                "compiling included): the figure the progress line showed at the end.",
            ),
            "epochs": st.column_config.TextColumn(
                help="Completed epochs of those set, and where a partial one ended."
            ),
            **{c: st.column_config.Column(width="small") for c in ("batch", "seed")},
        },
    )
    T.delete_controls(records)
    st.caption(
        "Click a column header to sort. Evaluate a run, and make it the model the other "
        "pages use, on *Evaluate*. Your runs are saved under the link in the address bar "
        "(`?learner=…`): bookmark it to come back; anyone with the link sees them. "
        + runs.retention_sentence(runs.max_age_days())
    )
    T.replay(records)

# --- the code behind this view ----------------------------------------------------------
if ds is not None:
    code = codegen.train_code(
        ds.name, model_name, blocks, config, ds.input_shape, ds.num_classes, int(subset),
        T.validate_on("train"),
    )  # fmt: skip
    code_panel(code, "train", "train.py")  # the model, compile and fit with these settings
