"""What several pages share: cached read-only assets, the session's active model, errors.

Rules (see STYLE.md): ``st.cache_resource`` holds only read-only pre-trained models that
every session shares and nobody trains; a learner's own model lives in that learner's
``st.session_state``; every function here is thin glue over ``cnnviz``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from cnnviz import data, models

DEFAULT_MODEL = "book_mnist"
_ACTIVE = "active_model"


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


@dataclass
class ActiveModel:
    """The model the 'Inside the model' and 'Experiments' pages look at.

    Attributes
    ----------
    model : keras.Model
        Functional; for a bundled model this is the shared cached object (read-only).
    label : str
        What the learner sees, e.g. ``"book_mnist (pre-trained)"``.
    class_names : tuple of str
        Names of the output units.
    card : dict
        Dataset, hyperparameters and metrics.
    bundled : bool
        ``True`` for a shared pre-trained model, ``False`` for the learner's own.
    """

    model: object
    label: str
    class_names: tuple[str, ...]
    card: dict = field(default_factory=dict)
    bundled: bool = True


def active_model() -> ActiveModel:
    """The learner's chosen model, or the bundled ``book_mnist`` until they choose one."""
    chosen = st.session_state.get(_ACTIVE)
    if chosen is not None:
        return chosen
    return ActiveModel(
        model=bundled_model(DEFAULT_MODEL),
        label=f"{DEFAULT_MODEL} (pre-trained on mnist-sample)",
        class_names=data.DIGITS,
        card=bundled_card(DEFAULT_MODEL),
        bundled=True,
    )


def set_active_model(active: ActiveModel) -> None:
    """Make ``active`` the model every later page of this session uses."""
    st.session_state[_ACTIVE] = active


def use_bundled(name: str) -> None:
    """Make a bundled pre-trained model the active one."""
    set_active_model(
        ActiveModel(
            model=bundled_model(name),
            label=f"{name} (pre-trained on mnist-sample)",
            class_names=data.DIGITS,
            card=bundled_card(name),
            bundled=True,
        )
    )


def active_model_badge() -> ActiveModel:
    """Show which model the page is using (with a hint how to change it) and return it."""
    active = active_model()
    acc = active.card.get("metrics", {}).get("test_accuracy")
    extra = f" · test accuracy {acc:.1%}" if isinstance(acc, int | float) else ""
    st.caption(f":material/neurology: Model: **{active.label}**{extra} — change it on *Evaluate*.")
    return active


def show_error(exc: Exception) -> None:
    """One clear sentence on the page for an error the learner caused; never a traceback."""
    st.error(str(exc), icon=":material/error:")
