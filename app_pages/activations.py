"""Activations: what every layer of the model computes for one image.

Learning goal: a CNN turns pixels into a hierarchy of features. The first conv layer's maps
are filtered copies of the image (edges, strokes in one direction); pooling keeps the
strongest responses at a lower resolution; dense layers no longer have a "where", only a
"what", and the output layer is one probability per class.
"""

import functools

import streamlit as st

from app_pages import _inside, _network
from app_pages._code import code_panel
from app_pages._shared import active_model_badge
from app_pages._state import keep_settings
from cnnviz import codegen_inside, explain, models, novelty
from cnnviz.plots.inside import tile_index

st.title("Activations")
active = active_model_badge()
keep_settings("act_max_maps", "act_scale", "act_zoom_layer", "act_zoom_map")
st.markdown(
    "Each **feature map** below is one filter's response over the whole image: red where "
    "the pattern it looks for is present, blue where its opposite is, white for zero. Conv "
    "and pooling layers keep the image's layout (height × width × maps); after `flatten` "
    "every value is just a number in a vector, drawn as bars. **Click a map** to see it "
    "large with its numbers."
)

# ---------------------------------------------------------------------------- controls
c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    _inside.image_picker("act_image", active)
max_maps = c2.slider("Maps shown per layer", 4, 64, 16, step=4, key="act_max_maps")
scales = {"layer": "One scale per layer", "map": "Each map its own scale"}
scale = c3.radio(
    "Colour scale", list(scales), format_func=scales.get, key="act_scale",
    help="One scale per layer compares how strongly maps respond; each map on its own "
    "scale shows the shape of weak maps too.",
)  # fmt: skip

# ------------------------------------------------------------------------------ result
prepared = _inside.prepared_current(active)
if prepared is not None:
    shape = prepared.array.shape
    st.caption(_inside.image_caption(active, shape))
    probs, names, best = _inside.predict(active, prepared.array)
    key = _inside.model_key(active)
    left, right = st.columns([1, 4])
    left.plotly_chart(
        _inside.figure("image_row", [("Model input", prepared.array)], 240), key="act_input"
    )
    left.metric(
        "Prediction",
        names[best],
        novelty.percent(probs[best]),
        delta_color="off",
        delta_arrow="off",
    )
    map_layers = explain.feature_map_layers(active.model)
    if not map_layers:
        right.info(
            f"**{active.label}** has no convolutional or pooling layer: it flattens the "
            "image at once, so there are no feature maps — only the dense layers below. "
            "Compare with a CNN (e.g. `book_mnist`) on the Evaluate page.",
            icon=":material/info:",
        )
    figures = _inside.activation_figures(
        active.model, key, prepared.array, max_maps, scale == "layer", names
    )

    def _zoom(layer: str, h: int, w: int, cols: int) -> None:
        """Callback: a click on a map of ``layer`` opens that map in a close-up."""
        points = st.session_state[f"act_fig_{layer}"].selection.points
        if points:
            p = points[0]
            idx = tile_index((int(p["y"]) + 1, int(p["x"]) + 1), h, w, cols)[-1, -1]
            if idx == idx:  # not a gap between maps (NaN)
                st.session_state["act_zoom_layer"] = layer
                st.session_state["act_zoom_map"] = int(idx)
                st.session_state["act_zoom_open"] = True

    def close_up(layer: str, index: int, chart_key: str) -> None:
        values = _inside.layer_output(active.model, key, prepared.array, layer)
        title = f"{layer}, map {index} ({values.shape[0]}×{values.shape[1]}), values written in"
        fig = _inside.figure("feature_map_large", values[..., index], title)
        st.plotly_chart(fig, key=chart_key)
        if st.button(
            "How was this computed?", key=f"{chart_key}_how", icon=":material/account_tree:",
            help="Open this map on *Network, unit by unit*: its strongest unit, computed "
            "step by step from the layer before with the network's own weights.",
        ):  # fmt: skip
            _network.open_map(layer, index)

    if map_layers:
        with st.expander("Look closer: one map, large, with its values", expanded=False):
            z1, z2 = st.columns([1, 3])
            layer = z1.selectbox("Layer", map_layers, key="act_zoom_layer")
            n_maps = int(active.model.get_layer(layer).output.shape[-1])
            if st.session_state.get("act_zoom_map", 0) >= n_maps:
                st.session_state["act_zoom_map"] = 0
            index = z1.number_input("Map", 0, n_maps - 1, 0, key="act_zoom_map")
            with z2:
                close_up(layer, int(index), "act_zoom_fig")
        if st.session_state.pop("act_zoom_open", False):
            st.dialog(f"{layer}, map {index}", width="large")(close_up)(
                layer, int(index), "act_dialog_fig"
            )

    with right:
        for i, (name, dims, fig) in enumerate(figures):
            st.markdown(f"**{i + 1}. `{name}`** — output shape ({dims})")  # label
            if isinstance(fig, str):
                st.caption(fig)
            elif name in map_layers:
                h, w, n = (int(v) for v in dims.split("×"))
                st.plotly_chart(
                    fig, key=f"act_fig_{name}", selection_mode="points",
                    on_select=functools.partial(_zoom, name, h, w, min(8, n, max_maps)),
                )  # fmt: skip
            else:
                st.plotly_chart(fig, key=f"act_fig_{name}")
    st.caption(
        "Textbooks describe early layers as edge detectors and later ones as detectors of "
        "larger patterns. In a model with several conv blocks (the default, "
        f"`{models.DEFAULT_BUNDLED}`) the maps get smaller and more abstract with depth; "
        "`book_mnist`, with one conv layer, shows only the first step."
    )

# -------------------------------------------------------------- the code behind this view
if prepared is not None:
    code_panel(
        codegen_inside.activations_code(
            _inside.model_file(active),
            prepared.array, image_label=_inside.current(active)[1],
            style=_inside.STYLES[_inside.chosen_style(shape, _inside.dataset_of(active))],
            layer=layer if map_layers else None, index=int(index) if map_layers else 0,
        ),
        "act", "activations.py",
        "Every layer's output for this image, and the map shown large (last line: JSON).",
    )  # fmt: skip
