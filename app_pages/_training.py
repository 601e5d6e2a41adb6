"""Glue for the Data, Train and Evaluate pages: datasets, the learner's runs, stop requests.

The learner's runs live on disk (:mod:`cnnviz.runs`, under the learner token of
:func:`app_pages._shared.learner_token`): each finished run's weights, card, history
and live points, so a reload or a shared link brings them back. Per session there is
only a cache of the models loaded from there (``st.session_state["run_models"]``) and
of their test-set evaluations, and the stop flag:

- ``st.session_state["train_control"]``: a :class:`TrainControl`.

How *Stop* reaches the running loop. Streamlit runs the page top to bottom; a click
while ``training.train`` is running starts a new run of the page. With Streamlit's
default ``runner.fastReruns`` the new run starts at once in a new thread, while the old
one keeps training until its next Streamlit call. The Stop button's ``on_click`` (run
first in the new run) sets ``TrainControl.stop_requested`` on the object both threads
share through ``session_state``; ``should_stop`` in the old run reads it after each
execution of ``steps_per_execution`` batches and Keras stops there. If the old run
reaches a Streamlit call first (the progress update), Streamlit ends it there instead —
also after the current execution. Either way ``run_training``'s ``finally`` saves the
run as stopped, with the curves, weights and images/s it had
(:func:`cnnviz.training.result_from_progress`), and sets ``TrainControl.finished``; the
new run waits on that event (:func:`wait_for_previous`) before drawing the runs. Any
other click during training ends the run the same way (Streamlit's rule: a click
reruns the page).
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app_pages._shared import learner_token, run_model, store
from cnnviz import data, evaluation, models, training
from cnnviz.plots import training as plots
from cnnviz.runs import RunRecord, table_rows

UPLOAD = "your file (CSV / zip)"
DATASET_OPTIONS = (*data.DATASET_NAMES, UPLOAD)
_CONTROL = "train_control"
LIVE_EVERY_S = 1.5  # redraw the live chart at most this often (and at every epoch's end)


@dataclass
class TrainControl:
    """The per-session stop flag shared by the training run and the run that stops it."""

    stop_requested: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.finished.set()  # nothing is running yet


# --- datasets -------------------------------------------------------------------------------


@st.cache_data(show_spinner="Loading the dataset…", max_entries=4)
def load_dataset(name: str) -> data.Dataset:
    """A named dataset (downloads the Keras ones once; raises ``DataError`` offline)."""
    return data.load(name)


@st.cache_data(show_spinner="Reading your file…", max_entries=4)
def load_upload(filename: str, raw: bytes) -> data.Dataset:
    """The learner's Sign-Language CSV or zip of class folders, from its bytes."""
    if filename.lower().endswith(".zip"):
        return data.load_image_zip(raw)
    return data.load_sign_language_csv(raw)


def dataset_picker(prefix: str) -> data.Dataset | None:
    """Dataset select box (+ uploader); shows one error sentence and returns None on failure."""
    name = st.selectbox("Dataset", DATASET_OPTIONS, key=f"{prefix}_dataset")
    try:
        if name != UPLOAD:
            return load_dataset(name)
        up = st.file_uploader(
            "Sign-Language-MNIST CSV (label + 784 pixels) or a zip of class folders",
            type=["csv", "zip"],
            key=f"{prefix}_upload",
        )
        return None if up is None else load_upload(up.name, up.getvalue())
    except data.DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


@st.cache_data(show_spinner=False, max_entries=16)
def summary_table(name: str, shape: tuple, classes: int, blocks: str = ""):
    """The summary table of a zoo model (or custom blocks) for this data."""
    if name == "custom":
        model = models.build_custom(models.parse_blocks(blocks), shape, classes)
    else:
        model = models.build(name, shape, classes)
    return models.summary_frame(model)


@st.cache_data(show_spinner=False)
def device() -> str:
    """The device the trainer will use."""
    return training.device_name()


# --- runs -------------------------------------------------------------------------------


def runs() -> dict[str, RunRecord]:
    """This learner's runs, oldest first, by label (read from the run store)."""
    return {r.label: r for r in store().list_runs(learner_token())}


def curves(records: list[RunRecord]) -> dict[str, dict]:
    """What :func:`cnnviz.plots.training.learning_curves` draws for these runs."""
    return {r.label: {"history": r.history, "points": r.points, "start": r.start} for r in records}


def runs_table(records: list[RunRecord], overlaid: list[str]) -> list[dict]:
    """The run list: hyperparameters as columns, status, best accuracy, speed."""
    rows = table_rows(records)
    for row in rows:
        row["overlaid"] = row["run"] in overlaid
    return rows


def update_overlay(records: dict[str, RunRecord]) -> None:
    """Set the overlay's choice before it is drawn: kept runs that still exist, plus runs
    this session has not seen yet (a new, stopped or other-tab run); the two newest on a
    session's first look."""
    labels = list(records)
    known = st.session_state.get("train_known")
    if known is None:
        chosen = labels[-2:]
    else:
        chosen = [c for c in st.session_state.get("train_compare", []) if c in records]
        chosen += [k for k in labels if records[k].id not in known and k not in chosen]
    st.session_state["train_known"] = {r.id for r in records.values()}
    st.session_state["train_compare"] = chosen


def control() -> TrainControl:
    """This session's stop flag."""
    return st.session_state.setdefault(_CONTROL, TrainControl())


def request_stop() -> None:
    """``on_click`` of the Stop button: seen by the running loop after its current batch."""
    control().stop_requested = True


def wait_for_previous(timeout: float = 30.0) -> None:
    """Let a run that a click interrupted finish its current batch and save itself."""
    control().finished.wait(timeout)


def delete_run(run_id: str) -> None:
    """``on_click`` of Delete: remove the run from disk and from this session's caches."""
    token = learner_token()
    store().delete_run(token, run_id)
    for cache in ("run_models", "run_evaluations"):
        st.session_state.get(cache, {}).pop(run_id, None)
    active = st.session_state.get("active_model")
    if active is not None and (active.ref or {}).get("run") == run_id:
        del st.session_state["active_model"]  # back to the default model
        store().set_active(token, None)


def _save(
    where: tuple,
    ds: data.Dataset,
    model_name: str,
    blocks: str,
    config: training.TrainConfig,
    subset: int,
    result: training.TrainResult,
    model,
) -> RunRecord:
    """Save a finished (or stopped) run with its model; return its stored record.

    ``where`` is ``(store, token)``, looked up before training: this also runs in the
    ``finally`` of a page run that Streamlit is ending, where any Streamlit call (even
    reading ``st.query_params``) raises again.
    """
    start = dataclasses.asdict(result.start) if result.start is not None else {}
    record = RunRecord(
        id="",
        number=0,
        model_name=model_name,
        dataset=ds.name,
        class_names=list(ds.class_names),
        config=dataclasses.asdict(config),
        status=result.status,
        message=result.message,
        history=result.history,
        points=result.points,
        start=start,
        notes=result.notes,
        images_per_sec=result.images_per_sec,
        seconds=result.seconds,
        device=result.device,
        subset=subset,
        blocks=blocks if model_name == "custom" else "",
    )
    card = {
        "model": model_name,
        "dataset": ds.name,
        "hyperparameters": {**record.config, "subset": subset},
        "history": result.history,
        "status": result.status,
        "class_names": list(ds.class_names),
    }
    # data that cannot be loaded again by name (the learner's upload) is kept with the run
    test = None if ds.name in data.DATASET_NAMES else (ds.x_test, ds.y_test)
    runs_store, token = where
    return runs_store.save_run(token, record, model, card, test)


def build_model(ds: data.Dataset, model_name: str, blocks: str, seed: int):
    """A fresh model for ``ds`` (never a cached one), with the seed's initial weights."""
    import keras

    keras.utils.set_random_seed(seed)
    if model_name == "custom":
        return models.build_custom(models.parse_blocks(blocks), ds.input_shape, ds.num_classes)
    return models.build(model_name, ds.input_shape, ds.num_classes)


def run_training(
    ds: data.Dataset,
    model_name: str,
    blocks: str,
    config: training.TrainConfig,
    subset: int,
    smoothing: float,
    log_loss: bool,
) -> RunRecord:
    """Build a fresh model, train it with live progress and curves, and save the run.

    The progress bar and the live chart are placeholders, updated from ``on_progress``
    (the chart at most every :data:`LIVE_EVERY_S` and at each epoch's end) and removed
    when the run ends: the runs section below then shows it, once.
    """
    ds = data.subset(ds, subset or None, None, seed=config.seed) if subset else ds
    model = build_model(ds, model_name, blocks, config.seed)
    where = (store(), learner_token())  # no Streamlit calls once a click may end this run
    ctl = control()
    ctl.stop_requested = False
    ctl.finished.clear()
    bar = st.progress(0.0, text="Measuring the untrained model (epoch 0)…")
    chart = st.empty()
    live = {"last": None, "drawn": 0.0}
    label = f"this run ({model_name})"
    result = None

    def on_progress(p: training.Progress) -> None:
        live["last"] = p
        done = p.images_seen / max(p.images_total, 1)
        bar.progress(min(done, 1.0), text=training.progress_text(p))
        now = time.monotonic()
        if p.kind == "epoch" or now - live["drawn"] >= LIVE_EVERY_S:
            live["drawn"] = now
            start = dataclasses.asdict(p.start) if p.start is not None else {}
            run = {"history": p.history, "points": p.points, "start": start}
            chart.plotly_chart(plots.learning_curves({label: run}, p.epochs, smoothing, log_loss))

    try:
        result = training.train(
            model,
            data.prepare(ds.x_train),
            ds.y_train,
            config,
            on_progress=on_progress,
            should_stop=lambda: ctl.stop_requested,
        )
        bar.empty()
        chart.empty()
    finally:
        try:
            if result is None:  # a click ended this run of the page mid-training
                result = training.result_from_progress(
                    live["last"], config, training.device_name(), ctl.stop_requested
                )
            record = _save(where, ds, model_name, blocks, config, subset, result, model)
        finally:
            ctl.finished.set()
    return record


def test_set(token: str, record: RunRecord) -> tuple:
    """The test images and labels of the data a run was trained on."""
    if record.dataset in data.DATASET_NAMES:
        ds = load_dataset(record.dataset)
        return ds.x_test, ds.y_test
    kept = store().load_test(token, record.id)
    if kept is None:
        raise data.DataError("the test images of this run were not kept; train it again.")
    return kept


def evaluate_run(record: RunRecord) -> evaluation.Evaluation:
    """Test-set evaluation of a stored run, computed once per session."""
    cache = st.session_state.setdefault("run_evaluations", {})
    if record.id not in cache:
        token = learner_token()
        x_test, y_test = test_set(token, record)
        model = run_model(token, record.id)
        cache[record.id] = evaluation.evaluate(model, data.prepare(x_test), y_test)
    return cache[record.id]


# --- evaluation -----------------------------------------------------------------------------


@st.cache_data(show_spinner="Evaluating on the test set…")
def evaluate_bundled(name: str) -> evaluation.Evaluation:
    """Test-set evaluation of a bundled model on mnist-sample (the data it was trained for)."""
    from app_pages._shared import bundled_model

    ds = load_dataset("mnist-sample")
    return evaluation.evaluate(bundled_model(name), data.prepare(ds.x_test), ds.y_test)


def load_uploaded_model(filename: str, raw: bytes, input_shape: tuple[int, int, int]):
    """The learner's ``.keras`` upload, loaded safely into this session only.

    Written to a temporary folder only for as long as Keras reads it. Raises
    ``ModelError`` for a corrupt file, unsafe code, or a different input shape.
    """
    uploads = st.session_state.setdefault("eval_uploads", {})
    key = (filename, hash(raw), input_shape)
    if key not in uploads:
        with tempfile.TemporaryDirectory(prefix="cnnviz-upload-") as folder:
            path = Path(folder) / Path(filename).name  # the learner's name, for errors
            path.write_bytes(raw)
            uploads[key] = models.load(path, expected_input_shape=input_shape)
    return uploads[key]


def evaluate_upload(model, ds: data.Dataset) -> evaluation.Evaluation:
    """Evaluate an uploaded model on ``ds``'s test set (kept in this session)."""
    cache = st.session_state.setdefault("eval_upload_results", {})
    key = (id(model), ds.name, len(ds.x_test))
    if key not in cache:
        if model.output_shape[-1] not in (1, ds.num_classes):
            raise models.ModelError(
                f"the model has {model.output_shape[-1]} outputs but {ds.name} has "
                f"{ds.num_classes} classes"
            )
        cache[key] = evaluation.evaluate(model, data.prepare(ds.x_test), ds.y_test)
    return cache[key]


# --- the Data page ------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=8)
def data_figures(ds: data.Dataset, seed: int) -> dict:
    """Class counts, a grid of 18 samples, and the pixel histogram of ``ds``'s train split."""
    idx = data.sample_indices(len(ds.x_train), 18, seed)
    titles = [ds.class_names[c] for c in ds.y_train[idx]]
    counts = data.class_counts(ds.y_train, ds.num_classes)
    return {
        "counts": plots.class_counts_bar(counts, ds.class_names, "Training images per class"),
        "samples": plots.image_grid(ds.x_train[idx], titles, cols=6),
        "histogram": plots.pixel_histogram(*data.pixel_histogram(ds.x_train)),
        "balance": (int(counts.min()), int(counts.max())),
    }
