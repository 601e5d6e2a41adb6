"""Session glue for the Transfer learning page: cached base and task, runs, stop, downloads.

Per-session state (never shared between learners):

- ``st.session_state["tl_run"]``: the latest :class:`TransferRun` of this session, with
  the three trained models (fresh copies, never the cached base).
- ``st.session_state["tl_control"]``: the stop flag.

The comparison is a job in the server's training queue (``app_pages._training.trainers``:
one limit on concurrent training per process, shared with the Train page); it trains in a
thread of this process while this run of the page shows its place in line, then its
progress. Stopping: a click during training starts a new run of the page and Streamlit
ends the old one at its next Streamlit call; on the way out it cancels the job (or takes
it out of the line), which ends after the current batch. The run object is updated as
training goes (curves after each epoch, each contender as soon as it is tested), so the
contenders that finished before the click keep their results; the new run of the page
waits for the old one to finish (:func:`wait_for_previous`) before drawing them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from app_pages import _training as training_ui
from app_pages._datasets_ui import image_size_controls, zip_upload
from app_pages._shared import ActiveModel, learner_token, set_active_model
from cnnviz import data, jobs, models, transfer
from cnnviz.plots import transfer as plots

DIGITS = "digits 0–4 (bundled, works offline)"
SIGNS = "digits 0–4 → your Sign-Language CSVs"
BASES = {DIGITS: None, SIGNS: "signs"} | {
    f"{a.title} (ImageNet, downloaded once)": a.name for a in transfer.APPLICATIONS.values()
}
K_CHOICES = ("5", "20", "100", "all")
_RUN = "tl_run"
_CONTROL = "tl_control"
_ACTIVE_KEY = "active_model"  # app_pages._shared's key for the model every page uses


@dataclass
class Control:
    """The per-session stop flag shared by the training run and the run that stops it."""

    stop_requested: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.finished.set()  # nothing is running yet


@dataclass
class TransferRun:
    """One comparison of this session, filled in while it trains."""

    label: str
    class_names: tuple[str, ...]
    contenders: tuple[str, ...]
    histories: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)  # name -> transfer.ContenderResult
    status: str = "running"  # running | done | stopped
    seconds: float = 0.0
    stage_epochs: int | None = None


def control() -> Control:
    """This session's stop flag."""
    return st.session_state.setdefault(_CONTROL, Control())


def request_stop() -> None:
    """``on_click`` of the Stop button."""
    control().stop_requested = True


def wait_for_previous(timeout: float = 30.0) -> None:
    """Let a run that a click interrupted record itself before the page draws it."""
    control().finished.wait(timeout)


def last_run() -> TransferRun | None:
    """The latest comparison of this session, if any."""
    return st.session_state.get(_RUN)


@st.cache_resource(show_spinner="Loading the digits 0–4 base…")
def digits_base():
    """The bundled base, shared by every session: read-only (``split`` copies it)."""
    return transfer.load_digits_base()


@st.cache_data(show_spinner=False)
def digits_base_card() -> dict:
    """The base's card: architecture, training, test accuracy on digits 0–4."""
    return models.read_card(transfer.DIGITS_BASE)


@st.cache_data(show_spinner="Drawing the labelled images…", max_entries=8)
def digits_task(k: str, seed: int) -> transfer.DigitsTask:
    """Digits 5–9 with ``k`` labels per class (``"all"``: every one), seeded."""
    ds = data.load_mnist_sample()
    return transfer.digits_task(ds, None if k == "all" else int(k), seed)


def base_caption(choice: str | None) -> str:
    """What the chosen base is and where its numbers come from, for the page."""
    if choice not in (None, "signs"):
        return (
            f"{transfer.APPLICATIONS[choice].title} learnt ImageNet's 1,000 classes of photos. "
            "Upload a zip of your own class folders (cats/…, dogs/…): it trains feature "
            "extraction, then fine-tuning; from scratch would take hours on a CPU."
        )
    card = digits_base_card()
    acc = card.get("metrics", {}).get("test_accuracy", float("nan"))
    text = (
        f"Base: the zoo's {card.get('model', '?')} CNN (three conv blocks) trained on the "
        f"sample's digits 0–4 only ({acc:.1%} test accuracy on 0–4)."
    )
    if choice is None:
        return f"{text} Validation: {transfer.VAL_PER_CLASS} other labelled images per class."
    return f"{text} Letters are new to it too: hands, not strokes."


def download(name: str, size: int) -> bool:
    """Download an ImageNet base's weights with a progress bar; one error sentence on failure."""
    app = transfer.APPLICATIONS[name]
    bar = st.progress(0.0, text=f"Downloading the {app.title} weights…")

    def on_progress(done: int, total: int) -> None:
        frac = done / total if total else 0.0
        bar.progress(min(frac, 1.0), text=f"{app.title}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    try:
        transfer.download_weights(name, size, on_progress)
    except transfer.TransferError as exc:
        bar.empty()
        st.error(str(exc), icon=":material/cloud_off:")
        return False
    bar.progress(1.0, text=f"{app.title} weights ready.")
    return True


def run_comparison(
    base,
    x_train,
    y_train,
    x_test,
    y_test,
    class_names: tuple[str, ...],
    config: transfer.TransferConfig,
    label: str,
    x_val=None,
    y_val=None,
    contenders: tuple[str, ...] = transfer.CONTENDERS,
) -> TransferRun:
    """Train the contenders with a live progress bar and curves; keep the run in the session."""
    run = TransferRun(label, class_names, contenders)
    st.session_state[_RUN] = run
    ctl = control()
    ctl.stop_requested = False
    ctl.finished.clear()
    latest: dict = {}

    def on_progress(p: transfer.TransferProgress) -> None:
        run.histories[p.contender] = p.history
        if p.contender == "fine-tuning":
            run.stage_epochs = len(run.histories.get("feature extraction", {}).get("loss", []))
        latest["p"] = p

    def on_result(r: transfer.ContenderResult) -> None:
        done = {**run.results, r.name: r}
        run.results = {c: done[c] for c in transfer.CONTENDERS if c in done}  # page order
        run.histories[r.name] = r.history
        if r.stage_epochs is not None:
            run.stage_epochs = r.stage_epochs

    def work(handle: jobs.JobHandle) -> transfer.Comparison:
        def should_stop() -> bool:
            return handle.should_stop() or ctl.stop_requested

        return transfer.compare(
            base, x_train, y_train, x_test, y_test, len(class_names), config, x_val, y_val,
            contenders, on_progress, should_stop, on_result,
        )  # fmt: skip

    # The comparison waits for a free trainer like every Train-page run: one limit per server
    # process (CNNVIZ_MAX_TRAINERS). It trains in a thread of this process (the cached base
    # is shared, read-only), while this run of the page shows its place, then its progress.
    queue = training_ui.trainers().queue
    job = queue.submit(learner_token(), work, label=f"transfer learning: {label}")
    bar = st.progress(0.0, text="Starting…")
    chart = st.empty()
    shown = {"epoch": None, "at": 0.0}
    start = time.perf_counter()
    try:
        while not job.wait(0.3):
            if job.state == "queued":
                bar.progress(0.0, text=f"{queue.place_sentence(job)} Stop leaves the line.")
                continue
            p = latest.get("p")
            if p is None:
                bar.progress(0.0, text="Starting…")  # (a Streamlit call: a click can end us)
                continue
            bar.progress(p.done, text=f"{p.contender}: epoch {p.epoch}/{p.epochs}")
            now = time.perf_counter()
            # the curves after an epoch, at most once a second: drawing is not free
            if shown["epoch"] != (p.contender, p.epoch) and now - shown["at"] > 1.0:
                shown["epoch"], shown["at"] = (p.contender, p.epoch), now
                chart.plotly_chart(
                    plots.comparison_curves(run.histories, stage_epochs=run.stage_epochs),
                    key=f"tl_live_{p.contender}_{p.epoch}",
                )
        if job.state == "failed":
            raise transfer.TransferError(job.error)
        stopped = job.state == "cancelled" or (job.result is not None and job.result.stopped)
        run.status = "stopped" if stopped else "done"
        bar.empty()
        chart.empty()
    finally:
        if job.active:  # a click (Stop, or any other) ended this run of the page
            queue.cancel(job)
            job.wait(60)  # the contender in training ends after its current batch
        run.seconds = time.perf_counter() - start
        if run.status == "running":
            run.status = "stopped"
        ctl.finished.set()
    return run


def use_everywhere(run: TransferRun, name: str) -> None:
    """``on_click``: make one contender's model the model of every other page."""
    r = run.results[name]
    card = {
        "model": f"{name} ({run.label})",
        "dataset": run.label,
        "metrics": {"test_accuracy": round(r.test_accuracy, 4)},
    }
    set_active_model(
        ActiveModel(r.model, f"{name} · {run.label}", run.class_names, card, bundled=False)
    )


def is_active(run: TransferRun, name: str) -> bool:
    """Whether this contender's model is the one every page uses now."""
    active = st.session_state.get(_ACTIVE_KEY)
    return active is not None and active.model is run.results[name].model


def imagenet_controls(name: str, col) -> tuple[data.Dataset | None, int]:
    """Image size, the weights (download with progress) and the learner's zip, in ``col``.

    Returns the dataset (``None`` until the weights are here and a good zip is uploaded)
    and the image size.
    """
    app = transfer.APPLICATIONS[name]
    with col:
        size, _ = image_size_controls("tl", channels=3, sizes=app.sizes)
    if not transfer.weights_available(name, size):
        with col:
            st.info(
                f"{app.title}'s ImageNet weights ({app.megabytes:g} MB) are not on this "
                "machine yet; they are downloaded once.",
                icon=":material/cloud_download:",
            )
            if st.button(f"Download {app.title}", key="tl_download"):
                download(name, size)
    if not transfer.weights_available(name, size):
        return None, size
    with col:
        return zip_upload("tl", size, 3), size


def run_digits(k: str, config: transfer.TransferConfig) -> TransferRun:
    """The offline demonstration: the bundled base, digits 5–9 with ``k`` labels per class."""
    task = digits_task(k, config.seed)
    base = transfer.split(digits_base()).base  # a copy: the cached base is never trained
    return run_comparison(
        base, task.x_train, task.y_train, task.x_test, task.y_test, task.class_names,
        config, f"digits 5–9, k = {k}", task.x_val, task.y_val,
    )  # fmt: skip


def run_sign_language(
    ds: data.Dataset, validate_on: str, k: str, config: transfer.TransferConfig
) -> TransferRun:
    """The digits 0–4 base on the learner's Sign-Language letters, ``k`` labels per letter.

    Validation as the learner chose: a seeded tenth of the training CSV, or the test CSV
    itself (the notebook's way). The labelled images are then drawn from the rest.
    """
    x_tr, y_tr, x_val, y_val = data.validation_data(ds, validate_on, 0.1, config.seed)
    if k != "all":
        x_tr, y_tr = transfer.per_class(x_tr, y_tr, int(k), config.seed)
    base = transfer.split(digits_base()).base
    return run_comparison(
        base, data.prepare(x_tr), y_tr, data.prepare(ds.x_test), ds.y_test, ds.class_names,
        config, f"Sign-Language letters, k = {k}", data.prepare(x_val), y_val,
    )  # fmt: skip


def run_imagenet(
    name: str, size: int, ds: data.Dataset, config: transfer.TransferConfig
) -> TransferRun:
    """Feature extraction then fine-tuning of an ImageNet base on the learner's zip."""
    base = transfer.application_base(name, transfer.weights_path(name, size), size)
    x_tr, y_tr, x_val, y_val = data.validation_data(ds, "seeded split", 0.2, config.seed)
    return run_comparison(
        base, data.prepare(x_tr), y_tr, data.prepare(ds.x_test), ds.y_test, ds.class_names,
        config, f"your zip on {transfer.APPLICATIONS[name].title}", data.prepare(x_val), y_val,
        ("feature extraction", "fine-tuning"),
    )  # fmt: skip
