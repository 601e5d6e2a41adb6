"""What several pages share: cached read-only assets, the learner, the active model, errors.

Rules (see STYLE.md): ``st.cache_resource`` holds only read-only pre-trained models that
every session shares and nobody trains; a learner's own model lives in that learner's
``st.session_state``; every function here is thin glue over ``cnnviz``.

The learner. Each learner has a random token kept in the URL (``?learner=…``); their
runs and their choice of model are stored on disk under it (:mod:`cnnviz.runs`), so a
reload, a bookmark or a shared link brings them back, and a different token (another
learner) sees none of it.
"""

from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass, field

import streamlit as st

from cnnviz import data, models, runs

LEARNER_PARAM = "learner"  # the URL query parameter that holds the learner token
_ACTIVE = "active_model"
_LEARNER = "learner_token"
_CLEANUP_EVERY_S = 3600


_warm = threading.Lock()
_warming: list[threading.Thread] = []
_frozen: list[bool] = []


def freeze_gc() -> None:
    """Move everything alive now out of the garbage collector's sight, once per process,
    as soon as TensorFlow is loaded.

    TensorFlow leaves ~400k long-lived Python objects behind; without this every full
    collection walks them and each rerun of every page slows down several-fold. (Asking
    ``gc.get_freeze_count()`` instead of keeping this flag walks them too: it cost ~150 ms
    of every page run with a class connected.)
    """
    if _frozen or "tensorflow" not in sys.modules:
        return
    _frozen.append(True)
    gc.freeze()


def warm_up() -> None:
    """Import TensorFlow, Keras and tf-keras-vis and run them once, in the background, once
    per process (:func:`cnnviz.explain.warm_up`).

    That one-time set-up costs several seconds of CPU here. The first page a learner opens
    (Welcome or the arithmetic pages) needs none of it, so by the time anyone asks for a
    prediction or a heatmap it is done and no learner's page run pays for it.
    """
    with _warm:
        if _warming:
            return

        def imports() -> None:
            from cnnviz import explain  # TensorFlow, Keras, tf-keras-vis

            explain.warm_up()
            gc.freeze()  # what the set-up left alive is long-lived (see freeze_gc)

        _warming.append(threading.Thread(target=imports, name="cnnviz-warm-up", daemon=True))
        _warming[0].start()


@st.cache_data(show_spinner=False)
def sample_dataset() -> data.Dataset:
    """The embedded MNIST sample (8,000 train / 2,000 test), loaded once per process."""
    return data.load_mnist_sample()


@st.cache_resource(show_spinner="Loading a pre-trained model…")
def bundled_model(name: str):
    """A pre-trained model from ``assets/models``. Shared by every session: never fit it."""
    return models.load(models.bundled(name))


@st.cache_data(show_spinner=False)
def bundled_card(name: str) -> dict:
    """The JSON card (dataset, hyperparameters, test accuracy) of a bundled model."""
    return models.read_card(models.bundled(name))


@st.cache_resource(show_spinner=False)
def run_store(root: str) -> runs.RunStore:
    """The run store at ``root`` (it only holds the path; every call reads the disk)."""
    return runs.RunStore(root)


@st.cache_resource(show_spinner=False, ttl=_CLEANUP_EVERY_S)
def _cleaned(root: str) -> list[str]:
    """Remove learner folders unused for ``$CNNVIZ_RUNS_MAX_AGE_DAYS``, once an hour."""
    return run_store(root).cleanup(runs.max_age_days())


def store() -> runs.RunStore:
    """This server's run store (``$CNNVIZ_RUNS_DIR``, read at each call so tests can move it)."""
    root = str(runs.default_root())
    _cleaned(root)
    return run_store(root)


def learner_token() -> str:
    """This learner's token, from the URL (``?learner=…``) or new; kept in the URL.

    A valid token in the URL wins (a reload or a shared link); otherwise the session's
    token, or a fresh one, is written into the URL so the next reload finds it.
    """
    token = st.query_params.get(LEARNER_PARAM)
    if runs.valid_token(token):
        if st.session_state.get(_LEARNER) != token:  # a new session (reload, shared link)
            st.session_state[_LEARNER] = token
            store().touch(token)
        return token
    token = st.session_state.get(_LEARNER) or runs.new_token()
    st.session_state[_LEARNER] = token
    st.query_params[LEARNER_PARAM] = token
    return token


@dataclass
class ActiveModel:
    """The model the 'Inside the model' and 'Experiments' pages look at.

    Attributes
    ----------
    model : keras.Model
        Functional; for a bundled model this is the shared cached object (read-only).
    label : str
        What the learner sees, e.g. ``"book_mnist (pre-trained on mnist-sample)"``.
    class_names : tuple of str
        Names of the output units.
    card : dict
        Dataset, hyperparameters and metrics.
    bundled : bool
        ``True`` for a shared pre-trained model, ``False`` for the learner's own.
    ref : dict, optional
        How to find it again after a reload: ``{"bundled": name}`` or ``{"run": id}``;
        ``None`` for an upload (not stored).
    """

    model: object
    label: str
    class_names: tuple[str, ...]
    card: dict = field(default_factory=dict)
    bundled: bool = True
    ref: dict | None = None


def bundled_label(name: str) -> str:
    """How a bundled model is named everywhere: ``"fashion_plain (pre-trained on
    fashion_mnist)"``, the dataset from its card."""
    dataset = bundled_card(name).get("dataset") or models.CARDLESS_DATASET
    return f"{name} (pre-trained on {dataset})"


def bundled_class_names(name: str) -> tuple[str, ...]:
    """A bundled model's class names, from its card (or its dataset's)."""
    card = bundled_card(name)
    dataset = card.get("dataset") or models.CARDLESS_DATASET
    return tuple(card.get("class_names") or data.CLASS_NAMES.get(dataset, data.DIGITS))


def _bundled_active(name: str) -> ActiveModel:
    card = dict(bundled_card(name))
    card.setdefault("dataset", models.CARDLESS_DATASET)  # the older cards do not say
    return ActiveModel(
        model=bundled_model(name),
        label=bundled_label(name),
        class_names=bundled_class_names(name),
        card=card,
        bundled=True,
        ref={"bundled": name},
    )


def run_model(token: str, run_id: str):
    """A stored run's model, loaded once per session (the learner's own: never shared)."""
    loaded = st.session_state.setdefault("run_models", {})
    if run_id not in loaded:
        loaded[run_id] = store().load_model(token, run_id)
    return loaded[run_id]


def _restore(token: str, ref: dict) -> ActiveModel | None:
    """The model ``ref`` names, or ``None`` when it is gone (deleted run, renamed asset)."""
    try:
        if "bundled" in ref:
            return _bundled_active(str(ref["bundled"]))
        if "transfer" in ref:  # a Transfer-page model, kept by app_pages._transfer
            from app_pages._transfer import restore_active

            return restore_active(token, ref)
        record = store().get_run(token, str(ref.get("run")))
        return ActiveModel(
            model=run_model(token, record.id),
            label=record.label,
            class_names=tuple(record.class_names),
            card={"model": record.model_name, "dataset": record.dataset},
            bundled=False,
            ref={"run": record.id},
        )
    except (models.ModelError, runs.RunStoreError):
        return None


def active_model() -> ActiveModel:
    """The learner's chosen model (remembered across reloads), else the bundled default."""
    chosen = st.session_state.get(_ACTIVE)
    if chosen is not None:
        return chosen
    token = learner_token()
    ref = store().get_active(token)
    restored = _restore(token, ref) if ref else None
    if restored is not None:
        st.session_state[_ACTIVE] = restored
        return restored
    active = _bundled_active(models.DEFAULT_BUNDLED)
    active.ref = None  # the default, not a choice
    return active


def set_active_model(active: ActiveModel) -> None:
    """Make ``active`` the model every later page uses, in this session and after a reload."""
    st.session_state[_ACTIVE] = active
    store().set_active(learner_token(), active.ref)


def use_bundled(name: str) -> None:
    """Make a bundled pre-trained model the active one."""
    set_active_model(_bundled_active(name))


def active_model_badge() -> ActiveModel:
    """Show which model the page is using (with a hint how to change it) and return it.

    It names the data its classes come from when the label does not already say it.
    """
    active = active_model()
    acc = active.card.get("metrics", {}).get("test_accuracy")
    extra = f" · test accuracy {acc:.1%}" if isinstance(acc, int | float) else ""  # label
    dataset = active.card.get("dataset")
    if dataset and str(dataset) not in active.label:
        extra += f" · classes of {dataset}"
    st.caption(f":material/neurology: Model: **{active.label}**{extra} — change it on *Evaluate*.")
    return active


def show_error(exc: Exception) -> None:
    """One clear sentence on the page for an error the learner caused; never a traceback."""
    st.error(str(exc), icon=":material/error:")
