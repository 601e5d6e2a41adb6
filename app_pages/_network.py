"""Glue for the network page: cached runs of :mod:`cnnviz.network`, the chosen unit, links.

The page's state is one unit: a layer (``net_layer``) and, for a map, ``net_map``,
``net_row``, ``net_col``; for a vector, ``net_index``. A click in the overview, a "follow
it back" button and the links from Convolution and Activations all choose a unit the same
way, through :func:`goto` (a hand-off read before the widgets are drawn, so it works from
another page and from a callback).
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from app_pages._shared import ActiveModel
from cnnviz import network
from cnnviz.plots import style

PAGE = "app_pages/network.py"
_GOTO = "net_goto"  # (layer, unit) to open on the next run of the network page
UNIT_KEYS = ("net_layer", "net_map", "net_row", "net_col", "net_index")


def digest(image: np.ndarray) -> str:
    """A short fingerprint of a prepared image (cache keys; the image itself is hashed once)."""
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


@st.cache_resource(show_spinner="Computing every layer's output…", max_entries=16)
def run(_model, key: str, image_key: str, _image: np.ndarray) -> network.Network:
    """Every layer's input and output for one image: once per (model, image), shared and
    read-only (:func:`cnnviz.network.run`)."""
    return network.run(_model, _image)


@st.cache_data(show_spinner=False, max_entries=32)
def overview(
    _net: network.Network,
    key: str,
    image_key: str,
    max_maps: int,
    selected: tuple[str, tuple[int, ...]] | None,
    names: tuple[str, ...],
) -> dict:
    """Cached :func:`cnnviz.network.overview` (with the palette)."""
    view = network.overview(_net, max_maps, selected, names, style.palette())
    return network.compact_overview(view)


@st.cache_data(show_spinner=False, max_entries=64)
def explain(
    _net: network.Network, key: str, image_key: str, layer: str, unit: tuple, names: tuple
) -> network.Unit:
    """Cached :func:`cnnviz.network.explain`."""
    return network.explain(_net, layer, unit, names)


@st.cache_data(show_spinner="Replaying every position of this map…", max_entries=32)
def conv_view(
    _net: network.Network, key: str, image_key: str, layer: str, channel: int, around: tuple
) -> dict:
    """What the stepper receives for one conv map (:func:`cnnviz.network.conv_unit_trace`)."""
    from cnnviz.plots.arithmetic import stepper_data

    trace = network.conv_unit_trace(_net, layer, channel, around)
    top, left = trace["origin"]  # a large map is replayed around the clicked unit
    return stepper_data(trace, (around[0] - top) * len(trace["output"][0]) + around[1] - left)


@st.cache_data(show_spinner=False, max_entries=32)
def pool_view(
    _net: network.Network, key: str, image_key: str, layer: str, channel: int, around: tuple
) -> dict:
    """What the stepper receives for one pooling map (:func:`cnnviz.network.pool_unit_trace`)."""
    from cnnviz.plots.arithmetic import stepper_data

    trace = network.pool_unit_trace(_net, layer, channel)
    return stepper_data(trace, around[0] * len(trace["output"][0]) + around[1])


def goto(layer: str, unit) -> None:
    """Open ``unit`` of ``layer`` on the network page's next run (any page, any callback).

    ``unit`` may be ``(None, None, channel)``: that map's strongest unit."""
    st.session_state[_GOTO] = (str(layer), tuple(None if u is None else int(u) for u in unit))


def open_map(layer: str, channel: int) -> None:
    """Switch to the network page on ``layer``'s map ``channel``, at its strongest unit."""
    goto(layer, (None, None, channel))
    st.switch_page(PAGE)


def pick(key: str) -> None:
    """Callback of the overview: the clicked unit becomes the chosen one."""
    state = st.session_state.get(key)
    picked = state.get("pick") if isinstance(state, dict) else getattr(state, "pick", None)
    if picked:
        goto(picked["layer"], picked["unit"])


def default_unit(net: network.Network) -> tuple[str, tuple[int, ...]]:
    """Where the page opens before any click: the strongest unit of the second conv layer
    (the first whose inputs are themselves maps), else the first conv, else the output."""
    convs = [layer.name for layer in net.layers if layer.kind == "Conv2D" and layer.note is None]
    name = convs[1] if len(convs) > 1 else convs[0] if convs else net.layers[-1].name
    return name, network.strongest(net, name)


def chosen(net: network.Network) -> tuple[str, tuple[int, ...]]:
    """The unit the page shows, from the hand-off or the unit widgets, kept inside ``net``
    (a unit of another model or layer is moved into range, never an error)."""
    handoff = st.session_state.pop(_GOTO, None)
    names = [layer.name for layer in net.layers]
    if handoff is None and st.session_state.get("net_layer") in names:
        layer = st.session_state["net_layer"]
        shape = net.get(layer).output.shape
        if len(shape) == 3:
            keys = ("net_row", "net_col", "net_map")
        else:
            keys = ("net_index",)
        unit = tuple(int(st.session_state.get(k, 0)) for k in keys)
        handoff = (layer, unit)
    if handoff is None or handoff[0] not in names:
        handoff = default_unit(net)
    layer, unit = handoff
    shape = net.get(layer).output.shape
    if len(unit) == 3 and unit[0] is None:  # a map chosen elsewhere: its strongest unit
        unit = network.strongest(net, layer, min(max(int(unit[2]), 0), shape[-1] - 1))
    unit = tuple(min(max(int(u), 0), s - 1) for u, s in zip(unit, shape, strict=False))
    if len(unit) != len(shape):
        unit = network.strongest(net, layer)
    st.session_state["net_layer"] = layer
    if len(shape) == 3:
        st.session_state["net_row"], st.session_state["net_col"], st.session_state["net_map"] = unit
    else:
        st.session_state["net_index"] = unit[0]
    return layer, unit


def class_names(active: ActiveModel, n: int) -> tuple[str, ...]:
    """The output's labels (unit numbers when the model's names do not fit)."""
    names = tuple(active.class_names)
    return names if len(names) == n else tuple(str(i) for i in range(n))
