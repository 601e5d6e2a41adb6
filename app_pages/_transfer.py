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

Across reloads (per learner, in their folder of :class:`cnnviz.runs.RunStore`):

- ``state/transfer.json``: the last comparison's results (histories, accuracies, which
  contenders finished and where the others stopped, settings, seconds, what was frozen),
  written when it ends and read back when a new session (a reload, the learner's link)
  opens the page. The trained models are not kept with it: after a reload the results are
  shown, and training again is what gives models to use.
- ``state/transfer_active.bin``: the one model the learner chose to "use everywhere"
  (a ``.keras`` file), so it stays the model of every page after a reload
  (:func:`restore_active`; ``app_pages._shared`` calls it for a ``{"transfer": …}`` choice).
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app_pages import _training as training_ui
from app_pages._datasets_ui import image_size_controls, zip_upload
from app_pages._shared import ActiveModel, learner_token, set_active_model, store
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
STATE = "transfer"  # the learner's last comparison: <learner>/state/transfer.json
ACTIVE_FILE = "transfer_active"  # the model chosen to use everywhere: ….bin (a .keras zip)


@dataclass
class Control:
    """The per-session stop flag shared by the training run and the run that stops it."""

    stop_requested: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.finished.set()  # nothing is running yet


@dataclass
class TransferRun:
    """One comparison of this session, filled in while it trains.

    ``seconds`` is the training time (from the moment a trainer took the job), not the
    wait in line. ``frozen`` holds, per contender, :func:`cnnviz.transfer.trainable_counts`
    of its model, so what was frozen can be shown without the model (after a reload).
    ``restored`` is ``True`` for a run read back from the learner's folder: its results
    have no models (``result.model is None``).
    """

    label: str
    class_names: tuple[str, ...]
    contenders: tuple[str, ...]
    histories: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)  # name -> transfer.ContenderResult
    status: str = "running"  # running | done | stopped
    seconds: float = 0.0
    stage_epochs: int | None = None
    settings: dict = field(default_factory=dict)  # the TransferConfig, as JSON values
    validation_is_test: bool = False  # the Sign-Language notebook's way: validate on test
    frozen: dict = field(default_factory=dict)  # name -> trainable_counts rows
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    restored: bool = False

    @property
    def partial(self) -> dict[str, float]:
        """Contender → how far its stopped last epoch got (for the curves)."""
        return {
            n: r.stopped_at.epoch_fraction
            for n, r in self.results.items()
            if r.stopped_at is not None and r.stopped_at.epoch > 0
        }

    def to_json(self) -> dict:
        """The run as JSON values, without models (see :meth:`from_json`)."""
        return {
            "version": 1,
            "id": self.id,
            "label": self.label,
            "class_names": list(self.class_names),
            "contenders": list(self.contenders),
            "histories": {
                n: {k: [float(v) for v in vs] for k, vs in h.items()}
                for n, h in self.histories.items()
            },
            "results": {n: r.to_json() for n, r in self.results.items()},
            "status": self.status,
            "seconds": float(self.seconds),
            "stage_epochs": self.stage_epochs,
            "settings": self.settings,
            "validation_is_test": self.validation_is_test,
            "frozen": self.frozen,
        }

    @classmethod
    def from_json(cls, raw: dict) -> TransferRun:
        """The run :meth:`to_json` wrote (``restored``; its results have no models)."""
        return cls(
            label=str(raw["label"]),
            class_names=tuple(raw["class_names"]),
            contenders=tuple(raw["contenders"]),
            histories=dict(raw.get("histories") or {}),
            results={
                n: transfer.ContenderResult.from_json(r)
                for n, r in (raw.get("results") or {}).items()
            },
            status=str(raw.get("status", "done")),
            seconds=float(raw.get("seconds") or 0.0),
            stage_epochs=raw.get("stage_epochs"),
            settings=dict(raw.get("settings") or {}),
            validation_is_test=bool(raw.get("validation_is_test")),
            frozen=dict(raw.get("frozen") or {}),
            id=str(raw.get("id") or secrets.token_hex(6)),
            restored=True,
        )


def _settings(config: transfer.TransferConfig) -> dict:
    """The comparison's settings as JSON values (augmentation as a dict, or ``None``)."""
    return {
        k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
        for k, v in vars(config).items()
    }


def save_run(run: TransferRun, token: str | None = None) -> None:
    """Keep ``run``'s results in the learner's folder, for the next session (a reload)."""
    store().set_state(token or learner_token(), STATE, run.to_json())


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
    """The latest comparison of this session; in a new session, the learner's last one.

    A payload that cannot be read back (an older or damaged file) is ignored.
    """
    run = st.session_state.get(_RUN)
    if run is not None:
        return run
    raw = store().get_state(learner_token(), STATE)
    if raw is None:
        return None
    try:
        run = TransferRun.from_json(raw)
    except (KeyError, TypeError, ValueError):
        return None
    st.session_state[_RUN] = run
    return run


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
    acc = card.get("metrics", {}).get("test_accuracy")
    return transfer.digits_base_sentence(
        str(card.get("model", "?")),
        acc if isinstance(acc, int | float) else None,
        "digits" if choice is None else "signs",
    )


def curves_caption(run: TransferRun) -> str:
    """What the curves are measured on, and what the accuracies above them are."""
    lines = f"Curves: {plots.LINE_STYLE_NOTE}, per epoch, as on the Train page."
    if run.validation_is_test:
        return (
            f"{lines} Validation here is the test CSV itself (the notebook's way): the "
            "validation curve is the test curve, and the test accuracies above are its last "
            "points, so choosing epochs by it tunes on the test set."
        )
    return (
        f"{lines} Validation: images held out of training. The accuracies above are on the "
        "test images, which no contender trained or validated on."
    )


def download(name: str, size: int) -> bool:
    """Download an ImageNet base's weights with a progress bar; one error sentence on failure."""
    app = transfer.APPLICATIONS[name]
    bar = st.progress(0.0, text=f"Downloading the {app.title} weights…")

    def on_progress(done: int, total: int) -> None:
        said = transfer.download_sentence(name, done, total)
        bar.progress(said.facts["fraction"], text=said)

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
    validation_is_test: bool = False,
) -> TransferRun:
    """Train the contenders with a live progress bar and curves; keep the run in the session
    and, when it ends (finished or stopped), in the learner's folder."""
    run = TransferRun(
        label, class_names, contenders, settings=_settings(config),
        validation_is_test=validation_is_test,
    )  # fmt: skip
    st.session_state[_RUN] = run
    token = learner_token()
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

        t0 = time.perf_counter()  # training time: the wait in line is not counted
        try:
            return transfer.compare(
                base, x_train, y_train, x_test, y_test, len(class_names), config, x_val, y_val,
                contenders, on_progress, should_stop, on_result,
            )  # fmt: skip
        finally:
            run.seconds = time.perf_counter() - t0

    # The comparison waits for a free trainer like every Train-page run: one limit per server
    # process (CNNVIZ_MAX_TRAINERS). It trains in a thread of this process (the cached base
    # is shared, read-only), while this run of the page shows its place, then its progress.
    queue = training_ui.trainers().queue
    job = queue.submit(token, work, label=f"transfer learning: {label}")
    bar = st.progress(0.0, text="Starting…")
    chart = st.empty()
    shown = {"epoch": None, "at": 0.0}
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
        if run.status == "running":
            run.status = "stopped"
        try:
            run.frozen = {
                n: transfer.trainable_counts(r.model, weighted_only=True)
                for n, r in run.results.items()
                if r.model is not None
            }
            save_run(run, token)  # a reload shows these results again
        finally:
            ctl.finished.set()
    return run


def use_everywhere(run: TransferRun, name: str) -> None:
    """``on_click``: make one contender's model the model of every other page.

    The model is also written to the learner's folder (:data:`ACTIVE_FILE`), so it stays
    the model of every page after a reload (:func:`restore_active`).
    """
    r = run.results[name]
    if r.model is None:  # a restored run: its models were not kept
        return
    card = {
        "model": f"{name} ({run.label})",
        "dataset": run.label,
        "metrics": {"test_accuracy": round(r.test_accuracy, 4)},
        "finished": r.finished,
    }
    ref = {
        "transfer": name,
        "comparison": run.id,
        "label": f"{name}{'' if r.finished else ' (stopped)'} · {run.label}",
        "class_names": list(run.class_names),
        "card": card,
    }
    token = learner_token()
    with tempfile.TemporaryDirectory() as tmp:
        path = models.save(r.model, Path(tmp) / "model.keras", card, include_optimizer=False)
        store().set_file(token, ACTIVE_FILE, path.read_bytes())
    set_active_model(ActiveModel(r.model, ref["label"], run.class_names, card, False, ref))


def restore_active(token: str, ref: dict) -> ActiveModel | None:
    """The model :func:`use_everywhere` kept for this learner, or ``None`` if it is gone.

    ``app_pages._shared`` calls this for a remembered choice ``{"transfer": …}``.
    """
    content = store().get_file(token, ACTIVE_FILE)
    if content is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(content)
        try:
            model = models.load(path)
        except models.ModelError:
            return None
    return ActiveModel(
        model,
        str(ref.get("label", ref.get("transfer", "transfer learning"))),
        tuple(ref.get("class_names") or ()),
        dict(ref.get("card") or {}),
        bundled=False,
        ref=ref,
    )


def is_active(run: TransferRun, name: str) -> bool:
    """Whether this contender's model is the one every page uses now (also after a reload:
    the remembered choice names the comparison and the contender)."""
    active = st.session_state.get(_ACTIVE_KEY)
    if active is None:  # a new session: the remembered choice, without loading its model
        ref = store().get_active(learner_token()) or {}
    else:
        model = run.results[name].model
        if model is not None and active.model is model:
            return True
        ref = active.ref or {}
    return ref.get("transfer") == name and ref.get("comparison") == run.id


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
            st.info(transfer.weights_missing_sentence(name), icon=":material/cloud_download:")
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
        validation_is_test=validate_on == "test set",
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
