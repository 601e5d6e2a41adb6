"""Session glue for the Data, Train and Evaluate pages: datasets, runs, stop requests.

Per-session state (never shared between learners):

- ``st.session_state["train_runs"]``: ``{label: Run}``, the runs of this session, each
  with its own ``keras.Model`` (built fresh for the run, never a cached one) saved with
  ``models.save`` into this session's own temporary folder.
- ``st.session_state["train_control"]``: a :class:`TrainControl`, the stop flag.

How *Stop* reaches the running loop. Streamlit runs the page top to bottom; a click
while ``training.train`` is running starts a new run of the page. With Streamlit's
default ``runner.fastReruns`` the new run starts at once in a new thread, while the old
one keeps training until its next Streamlit call. The Stop button's ``on_click`` (run
first in the new run) sets ``TrainControl.stop_requested`` on the object both threads
share through ``session_state``; ``should_stop`` in the old run reads it after each
execution of ``steps_per_execution`` batches and Keras stops there. If the old run
reaches a Streamlit call first (the progress update), Streamlit ends it there instead —
also after the current execution. Either way ``run_training``'s ``finally`` records the
run as stopped, with the history and weights it had, and sets ``TrainControl.finished``;
the new run waits on that event (:func:`wait_for_previous`) before drawing the runs.
Any other click during training ends the run the same way (Streamlit's rule: a click
reruns the page), recorded as "interrupted".
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from cnnviz import data, evaluation, models, training
from cnnviz.plots import training as plots

UPLOAD = "your file (CSV / zip)"
DATASET_OPTIONS = (*data.DATASET_NAMES, UPLOAD)
_RUNS = "train_runs"
_CONTROL = "train_control"


@dataclass
class TrainControl:
    """The per-session stop flag shared by the training run and the run that stops it."""

    stop_requested: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.finished.set()  # nothing is running yet


@dataclass
class Run:
    """One training run of this session."""

    label: str
    model_name: str
    dataset: str
    class_names: tuple[str, ...]
    config: training.TrainConfig
    model: object = field(repr=False)
    history: dict = field(default_factory=dict)
    status: str = "running"  # running | done | user | nan | early_stopping | interrupted
    message: str = ""
    path: str = ""
    images_per_sec: float = 0.0
    device: str = ""
    test: tuple = field(
        default=(), repr=False
    )  # (x_test uint8, y_test) of the data it was trained on
    evaluation: evaluation.Evaluation | None = None


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


def runs() -> dict[str, Run]:
    """This session's runs, oldest first."""
    return st.session_state.setdefault(_RUNS, {})


def control() -> TrainControl:
    """This session's stop flag."""
    return st.session_state.setdefault(_CONTROL, TrainControl())


def request_stop() -> None:
    """``on_click`` of the Stop button: seen by the running loop after its current batch."""
    control().stop_requested = True


def wait_for_previous(timeout: float = 30.0) -> None:
    """Let a run that a click interrupted finish its current batch and record itself."""
    ctl = control()
    ctl.finished.wait(timeout)
    last = list(runs().values())[-1:]
    if ctl.stop_requested and last and last[0].status == "interrupted":
        last[0].status = "user"  # Streamlit ended it before it saw the flag: same request


def session_dir() -> Path:
    """This session's private folder for saved models (under the system temp dir).

    A ``TemporaryDirectory`` held in the session state: when Streamlit drops an ended
    session, the object is collected and its folder removed, so a long-running server
    does not fill its temp dir with old learners' models.
    """
    if "train_dir" not in st.session_state:
        st.session_state["train_dir"] = tempfile.TemporaryDirectory(prefix="cnnviz-session-")
    return Path(st.session_state["train_dir"].name)


def run_training(
    ds: data.Dataset, model_name: str, blocks: str, config: training.TrainConfig, subset: int
) -> Run:
    """Build a fresh model, train it with live progress, save it; record it as a Run.

    The progress bar, status line and curves are placeholders updated from
    ``on_progress`` (after each execution and each epoch).
    """
    import keras

    ds = data.subset(ds, subset or None, None, seed=config.seed) if subset else ds
    keras.utils.set_random_seed(config.seed)  # same seed, same initial weights
    if model_name == "custom":
        model = models.build_custom(models.parse_blocks(blocks), ds.input_shape, ds.num_classes)
    else:
        model = models.build(model_name, ds.input_shape, ds.num_classes)
    label = f"#{len(runs()) + 1} {model_name} · {ds.name}"
    if config.augmentation is not None:
        label += " · augmented"
    run = Run(
        label, model_name, ds.name, ds.class_names, config, model, test=(ds.x_test, ds.y_test)
    )
    runs()[label] = run
    ctl = control()
    ctl.stop_requested = False
    ctl.finished.clear()
    bar = st.progress(0.0, text="Starting…")
    chart = st.empty()

    def on_progress(p: training.Progress) -> None:
        run.history = {k: list(v) for k, v in p.history.items()}
        done = ((p.epoch - 1) * p.batches + p.batch) / (p.epochs * p.batches)
        loss = p.logs.get("loss", float("nan"))
        bar.progress(min(done, 1.0), text=f"epoch {p.epoch}/{p.epochs} · loss {loss:.4f}")
        if p.kind == "epoch":
            chart.plotly_chart(plots.learning_curves({label: run.history}, p.epochs))

    try:
        result = training.train(
            model,
            data.prepare(ds.x_train),
            ds.y_train,
            config,
            on_progress=on_progress,
            should_stop=lambda: ctl.stop_requested,
        )
        run.history, run.message = result.history, result.message
        run.status = result.stopped or "done"
        run.images_per_sec, run.device = result.images_per_sec, result.device
        card = {
            "model": model_name,
            "dataset": ds.name,
            "hyperparameters": {
                "epochs": config.epochs,
                "batch_size": config.batch_size,
                "optimizer": config.optimizer,
                "learning_rate": config.learning_rate,
                "seed": config.seed,
                "subset": subset,
            },
            "history": result.history,
        }
        run.path = str(models.save(model, session_dir() / f"run{len(runs())}.keras", card))
        bar.progress(1.0, text=run.message)
    finally:
        if run.status == "running":  # a click ended this run of the page mid-training
            run.status = "user" if ctl.stop_requested else "interrupted"
            run.message = "Training stopped by a click; the model keeps the weights it had."
        ctl.finished.set()
    return run


def evaluate_run(run: Run) -> evaluation.Evaluation:
    """Test-set evaluation of a session run, computed once and kept with the run."""
    if run.evaluation is None:
        x_test, y_test = run.test
        run.evaluation = evaluation.evaluate(run.model, data.prepare(x_test), y_test)
    return run.evaluation


def runs_table(selected: list[str]) -> list[dict]:
    """One row per run for display: status, final accuracies, speed."""
    rows = []
    for r in runs().values():
        h = r.history
        rows.append(
            {
                "run": r.label,
                "status": r.status,
                "epochs": len(h.get("loss", [])),
                "train acc": h["accuracy"][-1] if h.get("accuracy") else np.nan,
                "val acc": h["val_accuracy"][-1] if h.get("val_accuracy") else np.nan,
                "images/s": round(r.images_per_sec),
                "compared": r.label in selected,
            }
        )
    return rows


# --- evaluation -----------------------------------------------------------------------------


@st.cache_data(show_spinner="Evaluating on the test set…")
def evaluate_bundled(name: str) -> evaluation.Evaluation:
    """Test-set evaluation of a bundled model on mnist-sample (the data it was trained for)."""
    from app_pages._shared import bundled_model

    ds = load_dataset("mnist-sample")
    return evaluation.evaluate(bundled_model(name), data.prepare(ds.x_test), ds.y_test)


def load_uploaded_model(filename: str, raw: bytes, input_shape: tuple[int, int, int]):
    """The learner's ``.keras`` upload, loaded safely into this session only.

    Raises ``ModelError`` for a corrupt file, unsafe code, or a different input shape.
    """
    uploads = st.session_state.setdefault("eval_uploads", {})
    key = (filename, hash(raw), input_shape)
    if key not in uploads:
        folder = session_dir() / f"upload-{len(uploads)}"
        folder.mkdir(exist_ok=True)
        path = folder / Path(filename).name  # the learner's name, for the error message
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
