"""The in-browser stepper: a Streamlit custom component (components v2, no build step).

It receives a whole convolution or pooling trace once (``cnnviz.plots.arithmetic.
stepper_data``) and animates it client-side (``_stepper.js`` / ``_stepper.css``, shipped
beside this file and inlined): Previous / Next / slider / Play and speed / arrow keys /
hovering an output cell, with no server round trip. The server reruns only when the
inputs change, plus one small fragment rerun when the learner pauses (or moves the
pointer away) to remember the step in session state, so it survives a change of mode
or page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_HERE = Path(__file__).resolve().parent

_HTML = """
<div class="cz-stepper" tabindex="0"
     aria-label="Step-by-step view: Previous and Next, or the left and right arrow keys">
  <div class="cz-controls">
    <button type="button" class="cz-prev">Previous</button>
    <button type="button" class="cz-next">Next</button>
    <button type="button" class="cz-play">Play</button>
    <label>Speed <select class="cz-speed"></select></label>
    <input type="range" class="cz-slider" min="1" max="1" value="1" aria-label="Step">
    <span class="cz-label" aria-live="polite"></span>
  </div>
  <div class="cz-panels"></div>
  <div class="cz-worked"></div>
  <div class="cz-legend"></div>
</div>
"""

_component = st.components.v2.component(
    "cnnviz_stepper",
    html=_HTML,
    css=(_HERE / "_stepper.css").read_text(encoding="utf-8"),
    js=(_HERE / "_stepper.js").read_text(encoding="utf-8"),
)


def saved_key(key: str) -> str:
    """The plain session-state key where the stepper ``key`` remembers its step."""
    return f"{key}_saved"


def _remember(key: str) -> None:
    """The browser reported a step. Runs at the start of the next run of any kind, even
    one that does not draw the stepper (the learner switched mode right after stepping)."""
    value = st.session_state.get(key)
    step = value.get("step") if hasattr(value, "get") else None
    if isinstance(step, int):
        st.session_state[saved_key(key)] = step


def stepper(view: dict, key: str) -> None:
    """Show the stepper for ``view`` (from ``stepper_data``), opening on the remembered step.

    Parameters
    ----------
    view : dict
        ``cnnviz.plots.arithmetic.stepper_data(trace)``; its ``step`` is replaced by the
        step this learner last looked at (clamped to the trace).
    key : str
        Widget key; the step is remembered under :func:`saved_key` of it.
    """
    n = len(view["trace"]["steps"])
    step = min(max(int(st.session_state.get(saved_key(key), 0)), 0), n - 1)

    @st.fragment
    def mount() -> None:
        # In a fragment: the step report reruns only this, not the whole page.
        result = _component(
            key=key, data={**view, "step": step}, on_step_change=lambda: _remember(key)
        )
        reported = getattr(result, "step", None)
        if isinstance(reported, int):
            # Widget state is dropped when the stepper is not drawn (another mode or
            # page); a plain key keeps the step until the learner comes back.
            st.session_state[saved_key(key)] = reported

    mount()
