"""One learner's UI state that outlives a page change and a reload.

Streamlit forgets a widget's value as soon as a run does not draw that widget, i.e. on
every other page, and a reload starts a new session with every widget at its default. A
page lists its settings with :func:`keep_settings` (sliders, selects, toggles, text
inputs: never buttons or uploaders, whose values cannot be set); the router calls
:func:`restore_settings` before every page, which

- keeps ``?learner=`` in the URL on every page (Streamlit drops the query string when the
  learner follows a sidebar link), so a reload anywhere finds the same learner;
- re-stores every kept setting through the Session State API, so it survives the pages
  that do not draw it (Streamlit's "interrupt the widget clean-up" recipe);
- saves the kept settings in the learner's folder (:meth:`cnnviz.runs.RunStore.set_state`,
  ``settings``) whenever one changed, and puts them back when a new session (a reload, a
  bookmark) opens the learner's link.
"""

from __future__ import annotations

import json

import streamlit as st

from app_pages._shared import learner_token, store

_KEPT = "_kept_settings"  # the widget keys whose values outlive a page change
_PAGE = "_page_settings"  # the keys the page now running listed (a link carries them)
_PENDING = "_link_pending"  # a link's values waiting for their page to list them
_SAVED = "_saved_settings"  # (token, {key: encoded value}) as last read from / written to disk
STATE_NAME = "settings"  # the learner's saved settings: <learner>/state/settings.json


def keep_settings(*keys: str) -> None:
    """Keep these widgets' values when the learner leaves the page, comes back or reloads.

    Call it before drawing the widgets: a link to the view (:mod:`app_pages._links`) sets
    their values here, the first time its page lists them.
    """
    st.session_state.setdefault(_KEPT, set()).update(keys)
    st.session_state.setdefault(_PAGE, set()).update(keys)
    if st.session_state.get(_PENDING):
        from app_pages._links import apply_pending

        apply_pending(keys)


def begin_page() -> None:
    """Forget which settings the last page listed (the router calls this before a page)."""
    st.session_state[_PAGE] = set()


def page_settings() -> set[str]:
    """The keys the page now running (or just run) listed with :func:`keep_settings`."""
    return set(st.session_state.get(_PAGE, ()))


def encode(value: object) -> object:
    """A JSON value for a widget value (tuples tagged); ``TypeError`` if it has none."""
    return _encode(value)


def decode(value: object) -> object:
    """The widget value :func:`encode` wrote (tuples back from their tag)."""
    return _decode(value)


def _encode(value: object) -> object:
    """A JSON value for a widget value (tuples, e.g. a range slider's, are tagged)."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    json.dumps(value)  # TypeError for anything a widget value should not be
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"__tuple__"}:
        return tuple(_decode(v) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _current(keys) -> dict:
    """The kept settings that have a value now, encoded (values that are not JSON skipped)."""
    out = {}
    for key in sorted(keys):
        if key in st.session_state:
            try:
                out[key] = _encode(st.session_state[key])
            except (TypeError, ValueError):
                continue
    return out


def restore_settings() -> None:
    """Keep the learner's link and settings (the router calls this before every page)."""
    token = learner_token()  # also writes ?learner= into the URL when a page change lost it
    kept = st.session_state.setdefault(_KEPT, set())
    saved = st.session_state.get(_SAVED)
    if saved is None or saved[0] != token:  # a new session (reload, bookmark) or new learner
        on_disk = store().get_state(token, STATE_NAME) or {}
        for key, value in on_disk.items():
            if saved is not None or key not in st.session_state:
                st.session_state[key] = _decode(value)
        kept.update(on_disk)
        saved = (token, on_disk)
        st.session_state[_SAVED] = saved
    for key in kept:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    save_settings()


def save_settings() -> None:
    """Write the kept settings to the learner's folder if one changed since the last write
    (the router calls this before and after every page run)."""
    saved = st.session_state.get(_SAVED)
    if saved is None:
        return
    now = _current(st.session_state.get(_KEPT, ()))
    if now != saved[1]:
        store().set_state(saved[0], STATE_NAME, now)
        st.session_state[_SAVED] = (saved[0], now)
