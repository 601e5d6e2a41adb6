"""Glue for the Data, Train and Evaluate pages: datasets, the trainers, the learner's runs.

Training happens off the page. *Train* hands a :class:`cnnviz.trainjob.TrainRequest` to
the server's one queue (:func:`trainers`, shared by every learner): at most
``CNNVIZ_MAX_TRAINERS`` runs train at once (default: half the cores), each in a worker
process at a lower priority than the pages (:mod:`cnnviz.workers`); later runs wait and
their learners see their place in line. The page draws the learner's queued or running
job in a fragment that redraws itself every :data:`LIVE_EVERY_S` seconds (progress, the
live curves, Stop / Leave the queue) and reruns the whole page once the job has ended.
The run is stored by the worker (:mod:`cnnviz.runs`, under the learner token of
:func:`app_pages._shared.learner_token`), so it completes and is kept even if the tab
was closed; a reload or the learner's link lists it.

While it trains, the latest snapshot of the network (:mod:`cnnviz.snapshots`) is drawn
beside the curves; a stored run's snapshots are replayed by the timeline component
(:mod:`app_pages._timeline`) under the run list, in the browser, with no rerun.

``CNNVIZ_TRAIN_IN_PROCESS=1`` trains in a thread of the server instead of worker
processes (for debugging; the queue and its limit still apply).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from app_pages import _datasets_ui as ui
from app_pages._shared import learner_token, run_model, store
from app_pages._timeline import timeline
from cnnviz import data, evaluation, jobs, models, snapshots, training, trainjob, workers
from cnnviz.plots import training as plots
from cnnviz.runs import RunRecord, RunStoreError, table_rows

SIGN_LANGUAGE = "Sign-Language-MNIST (your CSV files)"
ZIP = "your images (a zip of class folders)"
DATASET_OPTIONS = (*data.DATASET_NAMES, SIGN_LANGUAGE, ZIP)
LIVE_EVERY_S = 1.5  # the live panel redraws itself this often while a job is queued/running
_WATCHED = "train_watched_jobs"  # ids of this session's jobs not yet reported as ended


# --- datasets -------------------------------------------------------------------------------


@st.cache_data(show_spinner="Loading the dataset…", max_entries=4)
def load_dataset(name: str) -> data.Dataset:
    """A named dataset (downloads the Keras ones once; raises ``DataError`` offline)."""
    return data.load(name)


def dataset_picker(prefix: str, validation: bool = False) -> data.Dataset | None:
    """Dataset select box (+ the uploaders of the learner's own data).

    Shows one error sentence and returns ``None`` on failure. With ``validation`` the
    Sign-Language choice also asks where to validate (``st.session_state[prefix +
    "_validate_on"]``, see :func:`validate_on`).
    """
    name = st.selectbox("Dataset", DATASET_OPTIONS, key=f"{prefix}_dataset")
    try:
        if name == SIGN_LANGUAGE:
            return ui.sign_language_upload(prefix, validation=validation)[0]
        if name == ZIP:
            size, channels = ui.image_size_controls(prefix)
            return ui.zip_upload(prefix, size, channels)
        return load_dataset(name)
    except data.DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def validate_on(prefix: str) -> str:
    """Where the chosen data validates: ``"test set"`` only for Sign-Language when asked."""
    if st.session_state.get(f"{prefix}_dataset") != SIGN_LANGUAGE:
        return "seeded split"
    return st.session_state.get(f"{prefix}_validate_on", "seeded split")


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


# --- the trainers ---------------------------------------------------------------------------


@dataclass
class Trainers:
    """The server's training queue and the worker processes that run its jobs."""

    queue: jobs.JobQueue
    pool: workers.WorkerPool | None  # None: train in a thread of this process

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


@st.cache_resource(show_spinner=False, on_release=Trainers.close)
def trainers() -> Trainers:
    """One queue per server process, shared by every learner (its limit is the point)."""
    limit = jobs.default_max_running()
    in_process = os.environ.get("CNNVIZ_TRAIN_IN_PROCESS") == "1"
    return Trainers(jobs.JobQueue(limit), None if in_process else workers.WorkerPool(limit))


def submit(request: trainjob.TrainRequest) -> jobs.Job:
    """Queue ``request``; this session watches the job until it has ended."""
    t = trainers()
    if t.pool is None:

        def work(handle: jobs.JobHandle):
            return trainjob.run(request, handle.report, handle.should_stop)

    else:

        def work(handle: jobs.JobHandle):
            return t.pool.call(
                trainjob.run, request, report=handle.report, should_stop=handle.should_stop
            )

    job = t.queue.submit(request.token, work, label=request.label)
    st.session_state.setdefault(_WATCHED, set()).add(job.id)
    return job


def active_job() -> jobs.Job | None:
    """This learner's queued or running job (from any tab or session), if any."""
    return next((j for j in trainers().queue.jobs_of(learner_token()) if j.active), None)


def ended_jobs() -> list[jobs.Job]:
    """Jobs this session watched that have ended since; they are no longer watched."""
    watched = st.session_state.get(_WATCHED, set())
    queue = trainers().queue
    ended = [j for j in map(queue.get, sorted(watched)) if j is not None and not j.active]
    watched.difference_update(j.id for j in ended)
    return ended


def report_ended(ended: list[jobs.Job]) -> None:
    """One sentence for each ended job that left no run behind (a failure, a left queue).

    A job that stored a run says nothing here: the run list below shows how it ended.
    """
    for job in ended:
        if job.state == "failed":
            st.error(f"{job.label}: {job.error}", icon=":material/error:")
        elif job.state == "cancelled":
            st.info(f"You left the queue; {job.label} was not trained.", icon=":material/info:")


def _live(job: jobs.Job, smoothing: float, log_loss: bool) -> None:
    """A queued job's place in line, or a running job's progress and live curves."""
    queue = trainers().queue
    if job.state == "queued":
        st.info(
            f"{queue.place_sentence(job)} Yours starts when one ends.",
            icon=":material/hourglass_top:",
        )
        st.button("Leave the queue", on_click=queue.cancel, args=(job,), key="train_leave")
        return
    p: training.Progress | None = job.progress
    stopping = job.stop_requested
    if p is None:
        st.progress(0.0, text="Starting a trainer and measuring the untrained model (epoch 0)…")
    else:
        done = p.images_seen / max(p.images_total, 1)
        text = training.progress_text(p) + (" · stopping after this batch…" if stopping else "")
        st.progress(min(done, 1.0), text=text)
        start = dataclasses.asdict(p.start) if p.start is not None else {}
        run = {"history": p.history, "points": p.points, "start": start}
        fig = plots.learning_curves({f"{job.label} (training)": run}, p.epochs, smoothing, log_loss)
        if p.snapshot is None:
            st.plotly_chart(fig, key="train_live")
        else:  # the latest snapshot beside the curves
            left, right = st.columns([3, 2])
            left.plotly_chart(fig, key="train_live")
            with right:
                timeline(snapshots.view_data(p.snapshot, live=True), key="train_live_snapshot")
    st.button("Stop", on_click=queue.cancel, args=(job,), key="train_stop", disabled=stopping)


def live_panel(smoothing: float, log_loss: bool) -> None:
    """This learner's queued or running job, redrawn every :data:`LIVE_EVERY_S` seconds.

    Once the job has ended the whole page reruns, so the run list shows it.
    """
    job = active_job()
    if job is None:
        return
    st.session_state.setdefault(_WATCHED, set()).add(job.id)  # e.g. found after a reload

    @st.fragment(run_every=LIVE_EVERY_S)
    def panel() -> None:
        current = trainers().queue.get(job.id)
        if current is None or not current.active:
            st.rerun()  # the whole page: the run list gains the run
        _live(current, smoothing, log_loss)

    panel()


# --- runs -------------------------------------------------------------------------------


def runs() -> dict[str, RunRecord]:
    """This learner's runs, oldest first, by label (read from the run store)."""
    return {r.label: r for r in store().list_runs(learner_token())}


def curves(records: list[RunRecord]) -> dict[str, dict]:
    """What :func:`cnnviz.plots.training.learning_curves` draws for these runs."""
    return {r.label: {"history": r.history, "points": r.points, "start": r.start} for r in records}


@st.cache_data(show_spinner=False, max_entries=8)
def snapshot_view(token: str, run_id: str, points: dict) -> dict | None:
    """The timeline's data for a stored run (a run never changes once stored), or ``None``
    for a run stored without snapshots."""
    snaps = snapshots.load_run(store(), token, run_id)
    if snaps is None:
        return None
    return snapshots.view_data(snaps, points=points)


@st.cache_data(show_spinner=False, max_entries=8)
def snapshot_sentences(token: str, run_id: str, nbytes: int) -> list[str]:
    """What the snapshots of a stored run say, one claim each (:mod:`cnnviz.snapshots`)."""
    s = snapshots.load_run(store(), token, run_id)
    if s is None:
        return []
    names = s.class_names or [str(i) for i in range(s.probs.shape[-1])]
    out = [snapshots.probe_sentence(s.steps, s.probs, s.probe_label, names)]
    if s.kernels is not None:
        out.append(snapshots.kernels_settled_sentence(s.steps, s.kernel_rates(), s.kernel_layer))
    out.append(snapshots.gradient_health_sentence(s.steps, s.layers, s.grad_norms, s.grad_reason))
    if s.cam_reason:
        out.append(s.cam_reason)
    out.append(snapshots.stored_sentence(len(s), nbytes))
    return [str(x) for x in out]


def replay(records: dict[str, RunRecord]) -> None:
    """Replay a stored run's snapshots: the timeline, and what they say underneath."""
    kept = {label: r for label, r in records.items() if r.snapshot_bytes}
    if not kept:
        return
    st.subheader("Replay a run, snapshot by snapshot")
    st.markdown(
        "While a run trains it takes snapshots of the network, more often at the start where "
        "most changes: the first layer's kernels, the first maps of every conv layer for one "
        "probe image the network never trains on, what it calls the probe and where it looks "
        "(Grad-CAM), and a histogram of every layer's weights and gradients. Drag the slider: "
        "the marker on the loss curve shows the moment. Edges appear in the kernels while the "
        "loss drops; a diverged run shows which layers died or exploded."
    )
    labels = list(kept)
    label = st.selectbox("Run to replay", labels, index=len(labels) - 1, key="train_replay")
    record = kept[label]
    token = learner_token()
    try:
        view = snapshot_view(token, record.id, {k: record.points.get(k) for k in ("epoch", "loss")})
        sentences = snapshot_sentences(token, record.id, record.snapshot_bytes)
    except (snapshots.SnapshotError, RunStoreError) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if view is None:
        st.info("This run was stored without its snapshots.", icon=":material/info:")
        return
    timeline(view, key=f"train_timeline_{record.id}")
    for sentence in sentences:
        st.caption(sentence)


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


_DOOMED = "train_delete_pending"  # the run id the learner asked to delete, until they answer
_DELETED = "train_deleted"  # the label of the run just deleted, said once


def ask_delete(run_id: str) -> None:
    """``on_click`` of Delete…: ask before anything is removed."""
    st.session_state[_DOOMED] = run_id


def cancel_delete() -> None:
    """``on_click`` of Cancel: nothing is removed."""
    st.session_state.pop(_DOOMED, None)


def delete_run(run_id: str) -> None:
    """``on_click`` of the confirmed Delete: remove the run from disk and this session.

    The overlay keeps the runs that are left; if it overlaid only the deleted run, it
    shows the newest run left instead (never an empty chart while runs are left).
    """
    token = learner_token()
    st.session_state.pop(_DOOMED, None)
    try:
        label = store().get_run(token, run_id).label
    except RunStoreError:
        label = ""
    store().delete_run(token, run_id)
    for cache in ("run_models", "run_evaluations"):
        st.session_state.get(cache, {}).pop(run_id, None)
    active = st.session_state.get("active_model")
    if active is not None and (active.ref or {}).get("run") == run_id:
        del st.session_state["active_model"]  # back to the default model
        store().set_active(token, None)
    left = [r.label for r in store().list_runs(token)]
    chosen = [c for c in st.session_state.get("train_compare", []) if c in left]
    st.session_state["train_compare"] = chosen or left[-1:]
    st.session_state[_DELETED] = label


def delete_controls(records: dict[str, RunRecord]) -> None:
    """Delete a run: pick it, press Delete…, then confirm (or cancel) — nothing goes at once."""
    pending = st.session_state.get(_DOOMED)
    record = next((r for r in records.values() if r.id == pending), None)
    with st.expander("Delete a run", expanded=record is not None):
        if record is None:
            labels = list(records)
            d1, d2 = st.columns([3, 1], vertical_alignment="bottom")
            doomed = d1.selectbox("Run", labels, index=len(labels) - 1, key="train_delete_choice")
            d2.button(
                "Delete…", key="train_delete", on_click=ask_delete, args=(records[doomed].id,)
            )
            return
        st.warning(f"Delete run {record.label}? This cannot be undone.", icon=":material/delete:")
        c1, c2, _ = st.columns([1, 1, 4])
        c1.button(
            "Delete",
            type="primary",
            key="train_delete_confirm",
            on_click=delete_run,
            args=(record.id,),
        )
        c2.button("Cancel", key="train_delete_cancel", on_click=cancel_delete)


def just_deleted() -> str:
    """The label of the run deleted by the last click ("" if none); said once."""
    return st.session_state.pop(_DELETED, "")


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


def option_of(active, bundled: dict[str, str], records: dict[str, RunRecord], upload: str) -> str:
    """The Evaluate box's option for the active model (the badge's): a bundled model, a
    run of this learner, or the upload; the default bundled model when nothing matches."""
    ref = active.ref or {}
    by_name = {name: option for option, name in bundled.items()}
    if "bundled" in ref and ref["bundled"] in by_name:
        return by_name[ref["bundled"]]
    run = next((label for label, r in records.items() if r.id == ref.get("run")), None)
    if run is not None:
        return run
    if not ref and not active.bundled:
        return upload
    return by_name.get(models.DEFAULT_BUNDLED, next(iter(bundled), upload))


@st.cache_resource(show_spinner="Loading the test images…", max_entries=2)
def bundled_test_set(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x_test uint8, y_test)`` of the data a bundled model was trained on, read once per
    process and shared read-only (Fashion-MNIST's 10,000 test images: 7.8 MB, not pickled
    on every run as ``st.cache_data`` would). Raises ``DataError`` when it is missing."""
    ds = data.load(dataset)
    x, y = ds.x_test, ds.y_test
    x.flags.writeable = y.flags.writeable = False
    return x, y


@st.cache_data(show_spinner="Evaluating on the test set…")
def evaluate_bundled(name: str) -> evaluation.Evaluation:
    """Test-set evaluation of a bundled model on the test split of the data it was trained
    on, from its card: mnist-sample's 2,000 digits, or Fashion-MNIST's 10,000 images (about
    3 s on a CPU, once per process). Raises ``DataError`` when that data is missing."""
    from app_pages._shared import bundled_card, bundled_model

    dataset = bundled_card(name).get("dataset") or models.CARDLESS_DATASET
    x, y = bundled_test_set(dataset)
    return evaluation.evaluate(bundled_model(name), data.prepare(x), y)


def missing_test_set(name: str, dataset: str, exc: data.DataError) -> str:
    """One sentence when a bundled model's test images are not on this machine: how to get
    them, and that the model still works on the pages that look inside it."""
    if dataset == "fashion_mnist":
        how = (
            f"`{data.FASHION_INSTALL}` installs Debian's copy (or point "
            f"${data.ENV_FASHION_MNIST} at a folder with its four files)"
        )
    else:
        how = str(exc).rstrip(".")
    return (
        f"{name} cannot be evaluated here because the {dataset} test images are not on this "
        f"machine: {how}; the model still works on Predict, Activations, Filters and "
        "Heatmaps (Use this model everywhere)."
    )


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
    pixels = data.pixel_histogram(ds.x_train)  # (counts, edges): the histogram and its caption
    return {
        "counts": plots.class_counts_bar(counts, ds.class_names, "Training images per class"),
        "samples": plots.image_grid(ds.x_train[idx], titles, cols=6),
        "histogram": plots.pixel_histogram(*pixels),
        "pixel_caption": data.pixel_caption(*pixels),
        "balance": data.class_balance(counts, ds.class_names),
    }
