"""The in-browser stepper: a Streamlit custom component (components v2, no build step).

It receives a whole convolution or pooling trace once (``cnnviz.plots.arithmetic.
stepper_data``) and animates it client-side (``_stepper.js`` / ``_stepper.css``, shipped
beside this file and inlined): Previous / Next / slider / Play and speed / arrow keys /
hovering an output cell, with no server round trip. The server reruns only when the
inputs change: the browser tab remembers the step (``sessionStorage``, per ``key``), so it
survives a change of mode or page and a reload without costing the server anything.
"""

from __future__ import annotations

import streamlit as st

from app_pages._component import assets

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
    **assets("stepper"),
)


def stepper(view: dict, key: str) -> None:
    """Show the stepper for ``view`` (from ``stepper_data``).

    Parameters
    ----------
    view : dict
        ``cnnviz.plots.arithmetic.stepper_data(trace)``; its ``step`` is where a tab that
        has not stepped this stepper yet opens.
    key : str
        Widget key; the browser remembers this stepper's step under it.
    """
    _component(key=key, data={**view, "key": key})
