"""One learner's UI state that outlives a page change. Light: imports only streamlit.

Streamlit forgets a widget's value as soon as a run does not draw that widget, i.e. on
every other page. A page lists its settings with :func:`keep_settings` (sliders, selects,
toggles, text inputs: never buttons or uploaders, whose values cannot be set); the router
calls :func:`restore_settings` before every page, which re-stores them through the
Session State API so they survive the pages that do not draw them (Streamlit's
"interrupt the widget clean-up" recipe for multipage apps).
"""

from __future__ import annotations

import streamlit as st

_KEPT = "_kept_settings"  # the widget keys whose values outlive a page change


def keep_settings(*keys: str) -> None:
    """Keep these widgets' values when the learner leaves the page and comes back."""
    st.session_state.setdefault(_KEPT, set()).update(keys)


def restore_settings() -> None:
    """Re-store every kept setting of this session (the router calls this every run)."""
    for key in st.session_state.get(_KEPT, ()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
