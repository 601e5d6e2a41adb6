"""The network overview: a Streamlit custom component (components v2, no build step).

It receives one view (``cnnviz.network.overview``, compacted) and draws the whole network
for one image, input on the left, answer on the right: conv and pooling layers as columns
of map tiles, dense layers as strips of cells, the output as probability bars. Everything
interactive runs in the browser (``_overview.js`` / ``_overview.css``, shipped beside this
file and inlined): hovering a tile names the unit under the pointer and its value, and
outlines what it is computed from (for a conv map: the window in every drawn map of the
layer before, and that map's kernel slice beside each); only a **click** goes to the
server, as a ``pick`` trigger ``{"layer": name, "unit": [row, col, map] | [index]}``.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app_pages._component import assets

_HTML = """
<div class="nv-overview" aria-label="The whole network for this image: hover a tile to see
what it is computed from, click a unit to see how it was computed">
  <div class="nv-status" aria-live="polite"></div>
  <div class="nv-columns"></div>
</div>
"""

_component = st.components.v2.component(
    "cnnviz_overview",
    html=_HTML,
    **assets("overview"),
)


def overview(view: dict, key: str, on_pick: Callable[[], None] | None = None):
    """Draw the network overview for ``view`` (from :func:`cnnviz.network.overview`).

    Parameters
    ----------
    view : dict
        The columns to draw; the browser redraws only when its ``id`` changes.
    key : str
        Widget key; ``st.session_state[key].pick`` holds the last click.
    on_pick : callable, optional
        Called (as a widget callback, before the page reruns) when a unit is clicked.
    """
    return _component(key=key, data=view, on_pick_change=on_pick or (lambda: None))
