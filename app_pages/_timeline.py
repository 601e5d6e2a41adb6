"""The snapshot timeline: a Streamlit custom component (components v2, no build step).

It receives every snapshot of a run at once (``cnnviz.snapshots.view_data``: kernels,
maps, probe and Grad-CAM as colour levels over stated limits; probabilities, histogram
counts and gradient norms as numbers; the run's loss curve) and replays them client-side
(``_timeline.js`` / ``_timeline.css``, shipped beside this file and inlined): the slider,
Previous / Next / Play and the arrow keys redraw the canvases and move the marker on the
loss curve without a server round trip. The live panel uses the same component with the
latest snapshot only (``live``: no slider). The browser tab remembers the position
(``sessionStorage``, per ``key``).
"""

from __future__ import annotations

import streamlit as st

from app_pages._component import assets

_HTML = """
<div class="tl-root" tabindex="0"
     aria-label="Snapshots of the run: the slider, Previous and Next, or the arrow keys">
  <div class="tl-controls">
    <button type="button" class="tl-prev">Previous</button>
    <button type="button" class="tl-next">Next</button>
    <button type="button" class="tl-play">Play</button>
    <input type="range" class="tl-slider" min="1" max="1" value="1" aria-label="Snapshot">
  </div>
  <div class="tl-label" aria-live="polite"></div>
  <div class="tl-top"></div>
  <div class="tl-maps"></div>
  <div class="tl-hists"></div>
  <div class="tl-legend"></div>
</div>
"""

_component = st.components.v2.component(
    "cnnviz_timeline",
    html=_HTML,
    **assets("timeline"),
)


def timeline(view: dict, key: str) -> None:
    """Show the snapshots of ``view`` (from ``cnnviz.snapshots.view_data``).

    Parameters
    ----------
    view : dict
        ``view_data(snaps, class_names, points, live)``; with ``live`` the latest
        snapshot alone, without the slider.
    key : str
        Widget key; the browser remembers this timeline's position under it.
    """
    _component(key=key, data={**view, "key": key})
