"""Where the classes live: a layer's features for 1,000–2,000 test images, drawn in 2-D.

Learning goal: a trained network maps images of one class close together. Each dot is one
test image, placed by the numbers a layer computes for it (by default the last layer
before the output), projected to a plane with PCA or t-SNE. Beside it, the same network
untrained and an MLP trained on the same data: how far apart the classes lie is measured
(nearest-neighbour accuracy) in each, so the learner sees what training and convolution
did. A point opens on Predict.
"""

import functools

import streamlit as st

from app_pages import _inside, _training
from app_pages._code import code_panel
from app_pages._shared import active_model_badge, bundled_model, learner_token, show_error, store
from app_pages._state import keep_settings
from cnnviz import codegen_inside, data, embedding, runs

st.title("Where the classes live")
active = active_model_badge()
keep_settings("emb_layer", "emb_method", "emb_n")
st.markdown(
    "Every test image makes a layer compute a list of numbers, its **features**. Below, "
    "each dot is one test image placed by those features, squashed from hundreds of "
    "dimensions onto a plane, and coloured by its **true** class; an **✕** is an image the "
    "network gets wrong. Left: the model; middle: the **same layers untrained** (fresh "
    "random weights, seed 0); right: an **MLP** (no convolution) trained on the same data. "
    "Under each panel, how well the classes separate: the share of images whose class wins "
    "the vote of their 5 nearest neighbours. **Click a dot** to see its image."
)

dataset = _inside.dataset_of(active)
ref = active.ref or {}


@st.cache_resource(show_spinner="Loading the test images…", max_entries=4)
def _run_test_set(token: str, run_id: str):
    """The test set kept with a learner's run (its data cannot be loaded by name); read-only,
    not pickled on every run."""
    x, y = _training.test_set(token, store().get_run(token, run_id))
    x.flags.writeable = y.flags.writeable = False
    return x, y


def test_set():
    """``(x uint8, y, set key)`` of the data the active model was trained on, or ``None``."""
    try:
        if dataset in data.DATASET_NAMES:
            x, y = _training.bundled_test_set(dataset)
            return x, y, dataset
        if "run" in ref:
            x, y = _run_test_set(learner_token(), str(ref["run"]))
            return x, y, f"run {ref['run']}"
    except (data.DataError, runs.RunStoreError) as exc:
        show_error(exc)
        return None
    st.info(
        f"This page needs the test images of the data **{active.label}** was trained on, "
        "and they are not known for it. Choose a bundled model or one of your runs on "
        "*Evaluate*.",
        icon=":material/info:",
    )
    return None


@st.cache_resource(show_spinner="Re-initialising a copy of the model…", max_entries=4)
def _untrained(_model, key: str):
    """The same layers with fresh weights (seed 0); read-only once made."""
    return embedding.untrained(_model, embedding.SEED)


@st.cache_resource(show_spinner="Training the MLP once (about 20 s on a CPU)…", max_entries=2)
def _trained_mlp(name: str):
    """An MLP trained once per process on ``name``'s training images; read-only."""
    ds = data.load(name)
    return embedding.train_mlp(ds.x_train, ds.y_train, ds.num_classes)


@st.cache_data(show_spinner=False, max_entries=48)
def _panel(_model, key: str, set_key: str, _x, _y, n: int, layer: str | None, method: str):
    """One panel's :class:`cnnviz.embedding.Embedding` (cached per model, set, n, layer,
    method)."""
    idx = embedding.pick(len(_y), n)
    return embedding.embed(_model, data.prepare(_x[idx]), _y[idx], layer, method, index=idx)


@st.cache_resource(show_spinner=False, max_entries=48)
def _figure(_emb, key: tuple, names: tuple[str, ...], title: str):
    return embedding.scatter(_emb, names, title)


def _pick(chart: str, set_key: str) -> None:
    """Callback: a click on a dot of ``chart`` shows that image (of ``set_key``) below."""
    points = st.session_state[chart].selection.points
    index = embedding.point_of(points[0]) if points else None
    if index is not None:
        st.session_state["emb_picked"] = (set_key, index)


# ---------------------------------------------------------------------------- controls
model = active.model
choices = embedding.layer_choices(model)
try:
    default = embedding.default_layer(model)
except embedding.EmbeddingError:
    default = choices[-1]
if st.session_state.get("emb_layer") not in choices:
    st.session_state["emb_layer"] = default
c1, c2, c3 = st.columns([2, 1, 2])
layer = c1.selectbox(
    "Layer", choices, key="emb_layer",
    format_func=lambda n: f"{n} ({embedding.feature_dims(model, n)} features)",  # label
    help="The default is the last layer before the output: what the final Dense layer reads.",
)  # fmt: skip
method = c2.radio(
    "Projection", list(embedding.METHODS), format_func=embedding.METHODS.get, key="emb_method",
    help="PCA: fast, axes = directions of largest variance. t-SNE: slower (seconds per panel, "
    "once), keeps neighbourhoods; its axes mean nothing.",
)  # fmt: skip
n = c3.slider("Test images", 1000, embedding.MAX_IMAGES, embedding.DEFAULT_IMAGES, 250,
              key="emb_n")  # fmt: skip

# ------------------------------------------------------------------------------ result
found = test_set()
if found is not None:
    x, y, set_key = found
    key = _inside.model_key(active)
    names = _inside.class_names(active, int(model.outputs[0].shape[-1]))
    panels = [("emb_fig_model", "The model, trained", model, key, layer)]
    panels.append(("emb_fig_untrained", "The same layers, untrained", _untrained(model, key),
                   f"{key}:untrained", layer))  # fmt: skip
    mlp_name, mlp_note, offer = embedding.bundled_mlp(dataset), None, False
    if embedding.is_mlp(model):
        mlp_note = f"**{active.label}** is an MLP itself: choose a CNN on *Evaluate* to compare."
    elif mlp_name is not None:
        panels.append(("emb_fig_mlp", f"An MLP: {mlp_name}", bundled_model(mlp_name), mlp_name,
                       None))  # fmt: skip
    elif dataset in data.DATASET_NAMES and st.session_state.get(f"emb_mlp_{dataset}"):
        try:
            mlp = _trained_mlp(dataset)
            panels.append(("emb_fig_mlp", "An MLP, trained here", mlp, f"mlp:{dataset}", None))
        except data.DataError as exc:
            mlp_note = str(exc)
    elif dataset in data.DATASET_NAMES:
        mlp_note, offer = f"No bundled MLP learned {dataset}. Train: {embedding.MLP_RECIPE}.", True
    else:
        mlp_note = "No MLP: the training images of this run were not kept."
    views, columns = {}, st.columns(3)
    with st.spinner(f"Taking features and projecting ({embedding.METHODS[method]})…"):
        for (chart, title, net, net_key, net_layer), col in zip(panels, columns, strict=False):
            try:
                views[chart] = _panel(net, net_key, set_key, x, y, n, net_layer, method)
            except embedding.EmbeddingError as exc:
                col.error(str(exc), icon=":material/error:")
                continue
            emb = views[chart]
            col.plotly_chart(
                _figure(emb, (net_key, set_key, n, emb.layer, method), names, title),
                key=chart, selection_mode="points",
                on_select=functools.partial(_pick, chart, set_key),
            )  # fmt: skip
            col.caption(embedding.knn_caption(emb.knn_features, emb.knn_plane, emb.dims,
                                              embedding.K, emb.n))  # fmt: skip
    if mlp_note is not None:
        columns[2].info(mlp_note, icon=":material/info:")
        if offer and columns[2].button("Train the MLP", key="emb_train_mlp"):
            st.session_state[f"emb_mlp_{dataset}"] = True
            st.rerun()
    trained, untrained = views.get("emb_fig_model"), views.get("emb_fig_untrained")
    if trained is not None and untrained is not None:
        where = embedding.where(trained.dims, trained.layer)
        said = embedding.separation_sentence(trained.knn_features, untrained.knn_features,
                                             embedding.K, trained.n, where)  # fmt: skip
        (st.success if said.facts["higher"] == "trained" else st.info)(said)
    if trained is not None and "emb_fig_mlp" in views and layer == default:
        mlp_view = views["emb_fig_mlp"]
        st.info(embedding.mlp_sentence(trained.knn_features, mlp_view.knn_features,
                                       embedding.K, trained.n))  # fmt: skip
    if trained is not None:
        p = trained.projection
        axes = embedding.projection_caption(method, p.explained, p.perplexity, p.reduced_to,
                                            trained.dims, p.seed)  # fmt: skip
        own = " (The model's panel; each panel's axis titles give its own shares.)"
        st.caption(axes + own if method == "pca" else axes)
        seconds = sum(v.seconds for v in views.values())
        st.caption(embedding.time_sentence(seconds, method, trained.n, len(views)))

    # ------------------------------------------------------------------ the clicked image
    picked_set, i = st.session_state.get("emb_picked") or (None, -1)
    if picked_set == set_key and 0 <= i < len(y):
        st.subheader("The image you clicked")
        left, right = st.columns([1, 3])
        image = data.prepare(x[i : i + 1])[0]
        title = f"Test image #{i} ({image.shape[1]}×{image.shape[0]})"  # label
        left.plotly_chart(_inside.figure("image_row", [(title, image)], 220), key="emb_image")
        said = [
            f"**{title}** says {names[guess]}"
            for chart, title, *_ in panels
            if chart in views and (guess := embedding.predicted_for(views[chart], i)) is not None
        ]
        truth = names[y[i]]
        right.markdown(f"True class: **{truth}** · " + " · ".join(said))
        if right.button("Open in Predict", key="emb_open", icon=":material/draw:"):
            label = embedding.image_label(i, set_key, truth)
            if _inside.set_current(embedding.image_png(x[i]), label):
                st.switch_page("app_pages/predict.py")

# -------------------------------------------------------------- the code behind this view

mlp_path = mlp_layer = None
if not embedding.is_mlp(model) and (bundled := embedding.bundled_mlp(dataset)) is not None:
    mlp_path = codegen_inside.bundled_path(bundled)
    mlp_layer = embedding.default_layer(bundled_model(bundled))
code_panel(
    codegen_inside.embedding_code(
        _inside.model_file(active), dataset or "your data", layer, method, n,
        mlp_path=mlp_path, mlp_layer=mlp_layer,
        train_mlp=mlp_path is None and bool(st.session_state.get(f"emb_mlp_{dataset}")),
        seed=embedding.SEED, k=embedding.K,
    ),
    "emb", "where_the_classes_live.py",
    "The panels' features, projection and 5-nearest-neighbour accuracies, computed again "
    "(last line: JSON).",
)  # fmt: skip
