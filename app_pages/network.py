"""Network, unit by unit: follow any number of the real network back to the arithmetic.

Learning goal: every value in a trained CNN is the Convolution page's arithmetic with the
network's own numbers. A conv unit is each input channel's patch × that channel's kernel
slice, summed over the channels, plus a bias, through an activation; pooling keeps a
window's largest value; flatten only moves values; a dense unit adds up its inputs times
weights; softmax turns the last scores into the probabilities Predict shows.
"""

import streamlit as st

from app_pages import _inside
from app_pages import _network as N
from app_pages._code import code_panel
from app_pages._overview import overview
from app_pages._shared import active_model_badge
from app_pages._state import keep_settings
from app_pages._stepper import stepper
from cnnviz import codegen_inside, network

st.title("Network, unit by unit")
active = active_model_badge()
keep_settings("net_max_maps", *N.UNIT_KEYS)
st.markdown(
    "The whole network for one image, input on the left, answer on the right: every "
    "column is a layer, every tile one of its maps (red positive, blue negative, one scale "
    "per layer). **Hover** a tile to see what it is computed from; **click** any unit to "
    "see below exactly how the network computed it, with its own weights. The same "
    "arithmetic, on numbers you edit, is on the *Convolution* page."
)
c1, c2 = st.columns([3, 1])
with c1:
    _inside.image_picker("net_image", active)
max_maps = c2.slider("Maps drawn per layer", 2, 32, 8, step=2, key="net_max_maps")

prepared = _inside.prepared_current(active)
if prepared is None:
    st.stop()
image = prepared.array
st.caption(_inside.image_caption(active, image.shape))
key, image_key = _inside.model_key(active), N.digest(image)
try:
    net = N.run(active.model, key, image_key, image)
except network.scratch.UnsupportedLayerError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
names = N.class_names(active, net.probabilities.size)
layer_name, unit = N.chosen(net)
view = N.overview(net, key, image_key, max_maps, (layer_name, unit), names)
overview(view, "net_overview", on_pick=lambda: N.pick("net_overview"))

# ---------------------------------------------------------------- the elementary view
st.subheader("How was this number computed?")
layers = [layer.name for layer in net.layers]
kinds = {layer.name: layer.kind for layer in net.layers}


def _layer_changed() -> None:
    chosen = st.session_state["net_layer"]
    N.goto(chosen, network.strongest(net, chosen))


a, b, c, d = st.columns([2, 1, 1, 1])
a.selectbox(
    "Layer", layers, key="net_layer", on_change=_layer_changed,
    format_func=lambda n: f"{n} ({kinds[n]})",
)  # fmt: skip
layer = net.get(layer_name)
if layer.output.ndim == 3:
    h, w, n = layer.output.shape
    b.number_input("Map", 0, n - 1, key="net_map")
    c.number_input("Row", 0, h - 1, key="net_row")
    d.number_input("Column", 0, w - 1, key="net_col")
else:
    b.number_input("Unit", 0, layer.output.size - 1, key="net_index")

heading = network.unit_heading(layer_name, layer.kind, unit, net.value(layer_name, unit))
st.markdown(f"**{heading}**")
if layer.note is not None:
    st.info(layer.note, icon=":material/construction:")
    st.stop()
u = N.explain(net, key, image_key, layer_name, unit, names)
st.caption(u.sentence)
if layer.kind == "Conv2D":
    st.markdown(
        "Step over every position of this map (**Next**, the arrow keys, **Play**, or hover "
        "a cell of the map): each step is one unit, computed from the input channels drawn "
        "on the left and all the others, folded into one line."
    )
    view = N.conv_view(net, key, image_key, layer_name, unit[2], unit[:2])
    stepper(view, f"net_step_{key}_{image_key}_{layer_name}_{unit[2]}")
elif layer.kind in ("MaxPooling2D", "AveragePooling2D"):
    view = N.pool_view(net, key, image_key, layer_name, unit[2], unit[:2])
    stepper(view, f"net_step_{key}_{image_key}_{layer_name}_{unit[2]}")
else:
    st.code("\n".join(u.lines), language=None, wrap_lines=True)
    if u.table:
        st.dataframe(u.table, hide_index=True, key="net_table")
if layer.kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
    with st.expander(f"The unit at {network.place(unit)}, written out"):
        st.code("\n".join(u.lines), language=None, wrap_lines=True)

# Follow the number back: the units it came from.
if u.inputs:
    st.markdown("**Follow it back** — the numbers it was made from:")
    cols = st.columns(min(len(u.inputs), 4))
    for i, src in enumerate(u.inputs[:8]):
        if "unit" not in src or src.get("unit") is None:
            continue
        label = network.source_label(src["layer"], src["unit"], src["value"])
        cols[i % len(cols)].button(
            label, key=f"net_back_{i}", on_click=N.goto, args=(src["layer"], src["unit"])
        )

# -------------------------------------------------------------- the code behind this view

code_panel(
    codegen_inside.network_code(
        _inside.model_file(active),
        image, layer_name, layer.kind, unit, image_label=_inside.current(active)[1],
        style=_inside.STYLES[_inside.chosen_style(image.shape, _inside.dataset_of(active))],
    ),
    "net", "network_unit.py",
    "This unit computed in numpy from what its layer reads, beside Keras's value "
    "(last line: JSON).",
)  # fmt: skip
