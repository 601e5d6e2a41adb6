"""The server-side stepper that the in-browser one replaced: the baseline of bench_stepper.py.

This is how the Convolution page stepped before: Previous / Next are Streamlit buttons in
a fragment, so every press is a round trip to the server, which reruns the fragment and
sends back a (cached) plotly figure of the step and the worked sum. Not part of the app.

    .venv/bin/streamlit run benchmarks/server_stepper_app.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cnnviz import conv
from cnnviz.plots import arithmetic as plots

X, K = conv.PRESETS[next(iter(conv.PRESETS))]  # the Convolution page's first preset
STEPS = conv.conv_steps(X, K)
OUT = conv.conv2d(X, K)


@st.cache_data(show_spinner=False)
def step_fig(i: int):
    """The step figure, cached as the page cached it."""
    return plots.step_figure(X, OUT, STEPS[i], ((0, 0), (0, 0)), K)


def _move(delta: int) -> None:
    st.session_state["step"] = (st.session_state.get("step", 0) + delta) % len(STEPS)


@st.fragment
def view() -> None:
    prev, nxt, _ = st.columns([1, 1, 3])
    prev.button("Previous", key="prev", on_click=_move, args=(-1,))
    nxt.button("Next", key="next", on_click=_move, args=(1,))
    i = st.session_state.get("step", 0)
    st.plotly_chart(step_fig(i), key="fig")
    st.markdown(f"step {i + 1} of {len(STEPS)}")
    st.code(STEPS[i].expression(), language=None)


st.title("Server-side stepper (baseline)")
view()
