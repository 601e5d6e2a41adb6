"""Where the classes live: a layer's features for many test images, projected to 2-D.

Every test image gives one feature vector at a chosen layer (by default the last one
before the output: what the final Dense layer reads). Those vectors are projected to a
plane with PCA or t-SNE (scikit-learn, seed fixed) and drawn coloured by true class, so a
learner sees whether the network has pulled the classes apart. The same projection for the
same network *untrained* (same layers, fresh weights from a fixed seed) and for an MLP
trained on the same data shows what training and convolution did.

How apart the classes are is measured, not eyeballed: :func:`knn_accuracy` is the
share of images whose class wins the vote of their ``k`` nearest neighbours (the image
itself left out) — in the full feature space and in the 2-D picture.

What the axes mean:

- **PCA**: the horizontal axis is the direction in feature space along which the images
  vary most, the vertical one the next (at right angles); each holds a share of the
  variance (``Projection.explained``). The picture is a shadow: points close here may be
  far apart along the directions left out.
- **t-SNE**: the axes mean nothing. t-SNE keeps who is near whom; the sizes of clusters
  and the distances between them are not meaningful, and another seed puts them elsewhere.
  Before t-SNE, features with more than :data:`TSNE_PCA_DIMS` dimensions are reduced to
  that many by PCA (van der Maaten's and scikit-learn's advice; it also makes it fast).

>>> pts = np.array([[0.0, 0], [0, 1], [1, 0], [9, 9], [9, 8], [8, 9]])
>>> knn_accuracy(pts, np.array([0, 0, 0, 1, 1, 1]), k=2)
1.0
"""

from __future__ import annotations

import copy
import io
import itertools
import math
import time
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import plotly.graph_objects as go

from cnnviz import claims
from cnnviz.claims import Claim
from cnnviz.plots import style

METHODS = {"pca": "PCA", "tsne": "t-SNE"}
K = 5  # neighbours asked by knn_accuracy
PERPLEXITY = 30.0  # t-SNE's usual default; needs more than 3 × perplexity images
TSNE_PCA_DIMS = 50  # t-SNE runs on this many principal components of wider features
SEED = 0
DEFAULT_IMAGES = 1000
MAX_IMAGES = 2000
# The MLP beside the CNN: the cookbook's (Flatten → Dense 1000 ReLU → softmax). For data
# with no bundled MLP it is trained here once, on the data's training images, with this
# recipe (about 20 s on 2 CPU cores for Fashion-MNIST's 60,000 images; 0.870 test accuracy).
MLP = "cookbook_mlp"
MLP_EPOCHS = 2
MLP_BATCH = 128
MLP_RECIPE = (
    f"{MLP} (Flatten → Dense 1000 ReLU → softmax), {MLP_EPOCHS} epochs of Adam "
    f"(batch {MLP_BATCH}, seed {SEED}) on the data's training images"
)
# Ten classes, ten colours: style.CATEGORICAL's first five (Tableau 10) and the other five
# of Tableau 10; class c is CLASS_COLOURS[c % 10] on every panel.
CLASS_COLOURS: tuple[str, ...] = (
    *style.CATEGORICAL[:5],
    "#d62728",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_SKIPPED = (keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout)


class EmbeddingError(ValueError):
    """The features cannot be taken or projected; the message says why in one sentence."""


# --- features ------------------------------------------------------------------------


def _producer(tensor) -> keras.layers.Layer:
    """The layer whose output ``tensor`` (a symbolic Keras tensor) is."""
    return tensor._keras_history[0]


def default_layer(model: keras.Model) -> str:
    """The last layer before the output: the one whose output the final Dense layer reads.

    Layers that are the identity at inference (dropout, noise) are skipped back to what
    they pass on, so the name is the layer that computes those numbers.

    Examples
    --------
    >>> from cnnviz import models
    >>> default_layer(models.build("book_mnist"))  # dense1 → dropout1 → output
    'dense1'
    """
    layer = _producer(model.outputs[0])
    while not isinstance(layer, keras.layers.Dense):
        if isinstance(layer, keras.layers.InputLayer):
            raise EmbeddingError(
                f"{model.name} does not end in a Dense layer: choose the layer to look at."
            )
        layer = _producer(layer.input)
    layer = _producer(layer.input)
    while isinstance(layer, _SKIPPED):
        layer = _producer(layer.input)
    if isinstance(layer, keras.layers.InputLayer):
        raise EmbeddingError(
            f"{model.name}'s output layer reads the image itself: it has no hidden layer."
        )
    return layer.name


def layer_choices(model: keras.Model) -> list[str]:
    """Every layer whose output can be taken as features, in order (not the input)."""
    return [ly.name for ly in model.layers if not isinstance(ly, keras.layers.InputLayer)]


def _dims(model: keras.Model, layer: str) -> int:
    shape = model.get_layer(layer).output.shape[1:]
    return int(np.prod([int(s) for s in shape])) if all(s is not None for s in shape) else 0


def feature_dims(model: keras.Model, layer: str) -> int:
    """How many numbers ``layer`` computes for one image (its features)."""
    return _dims(model, layer)


_EXTRACTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _extractor(model: keras.Model, layer: str) -> keras.Model:
    """``image -> (layer output, model output)``, built once per model and layer."""
    per_model = _EXTRACTORS.setdefault(model, {})
    if layer not in per_model:
        found = model.get_layer(layer)
        # a nested model's .output is its own graph's; its call in this graph is a node
        tensors = [found.output] + [n.outputs[0] for n in reversed(found._inbound_nodes)]
        for tensor in tensors:
            try:
                per_model[layer] = keras.Model(model.inputs, [tensor, model.outputs[0]])
                break
            except ValueError:  # not connected to this model's input
                continue
        else:
            raise EmbeddingError(f"layer {layer!r} is not on the path from {model.name}'s input.")
    return per_model[layer]


def _check_layer(model: keras.Model, layer: str | None) -> str:
    layer = default_layer(model) if layer is None else layer
    names = [ly.name for ly in model.layers]
    if layer not in names:
        raise EmbeddingError(f"{model.name} has no layer {layer!r}; its layers are {names}.")
    if isinstance(model.get_layer(layer), keras.layers.InputLayer):
        raise EmbeddingError(
            f"{layer!r} is the input: it computes no features. Choose a layer after it."
        )
    if _dims(model, layer) == 0:
        raise EmbeddingError(f"layer {layer!r} has no features (its output has no numbers).")
    return layer


def _check_images(model: keras.Model, images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    want = tuple(int(s) for s in model.inputs[0].shape[1:])
    if x.ndim != 4 or tuple(x.shape[1:]) != want:
        raise EmbeddingError(f"images must be (N, {', '.join(map(str, want))}), got {x.shape}.")
    if len(x) == 0:
        raise EmbeddingError("there are no images to take features of.")
    return x


def features_and_predictions(
    model: keras.Model, images: np.ndarray, layer: str | None = None, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """``(features (N, D) float32, predicted class (N,))`` in one forward pass.

    Features are ``layer``'s output for each image, flattened (a map ``(h, w, c)``
    becomes ``h·w·c`` numbers); the default layer is :func:`default_layer`. Inference mode
    (dropout off, batch norm on its moving statistics), as a prediction is made.
    """
    layer = _check_layer(model, layer)
    x = _check_images(model, images)
    extractor, parts = _extractor(model, layer), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # keras: input structure name mismatch
        for start in range(0, len(x), batch_size):  # called, not .predict: no retracing
            f, o = extractor(x[start : start + batch_size], training=False)
            parts.append((keras.ops.convert_to_numpy(f), keras.ops.convert_to_numpy(o)))
    feats = np.concatenate([f.reshape(len(f), -1) for f, _ in parts]).astype(np.float32)
    out = np.concatenate([o.reshape(len(o), -1) for _, o in parts])  # (N, D), (N, K)
    pred = (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
    return feats, pred


def features(model: keras.Model, images: np.ndarray, layer: str | None = None) -> np.ndarray:
    """``layer``'s output for each image, flattened: ``(N, D)`` ``float32``.

    Parameters
    ----------
    model : keras.Model
        Functional, taking ``(H, W, C)`` images.
    images : np.ndarray
        ``(N, H, W, C)`` in the model's input range (``data.prepare``).
    layer : str, optional
        A layer name; default :func:`default_layer` (what the final Dense layer reads).

    Raises
    ------
    EmbeddingError
        Unknown layer, the input layer, a layer without numbers, or images of another shape.
    """
    return features_and_predictions(model, images, layer)[0]


def untrained(model: keras.Model, seed: int = SEED) -> keras.Model:
    """The same architecture with fresh weights: ``keras.models.clone_model`` with each
    layer's own initialisers seeded (``seed``, ``seed + 1``, … in layer order).

    Same seed, same weights, on every machine and in every session; the caller's model is
    not touched. Batch-norm layers start with their fresh statistics (mean 0, variance 1).
    """
    counter = itertools.count(seed)

    def fresh(layer):
        if isinstance(layer, keras.Model):  # a nested base model: re-initialise it too
            return untrained(layer, next(counter) * 1000)
        config = layer.get_config()
        for key, value in list(config.items()):
            if (
                key.endswith("_initializer")
                and isinstance(value, dict)
                and "seed" in (value.get("config") or {})
            ):
                value = copy.deepcopy(value)
                value["config"]["seed"] = next(counter)
                config[key] = value
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=fresh)


# --- projections ------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Points in 2-D and what their axes mean.

    Attributes
    ----------
    coords : np.ndarray
        ``(N, 2)`` ``float32``.
    method : str
        ``"pca"`` or ``"tsne"``.
    explained : tuple of float or None
        PCA: the share of the features' variance along each axis; ``None`` for t-SNE.
    perplexity : float or None
        t-SNE's perplexity; ``None`` for PCA.
    reduced_to : int or None
        t-SNE: the principal components it ran on (``None`` when it ran on the features).
    seed : int
    seconds : float
        The projection's computing time.
    """

    coords: np.ndarray
    method: str
    explained: tuple[float, float] | None
    perplexity: float | None
    reduced_to: int | None
    seed: int
    seconds: float


def _check_features(feats: np.ndarray) -> np.ndarray:
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2:
        raise EmbeddingError(f"features must be (N, D), got shape {x.shape}.")
    if x.shape[0] < 3:
        raise EmbeddingError(f"a projection needs at least 3 images, got {x.shape[0]}.")
    if x.shape[1] < 2:
        raise EmbeddingError(
            f"a layer with {x.shape[1]} feature cannot be spread over 2 axes; choose a wider one."
        )
    if not np.isfinite(x).all():
        raise EmbeddingError(
            "the features hold NaN or infinite values (did the run diverge?): they cannot be "
            "projected."
        )
    if np.ptp(x, axis=0).max() == 0:
        raise EmbeddingError(
            f"every image gets the same {x.shape[1]} features here (a dead layer?): they "
            "would all land on one point."
        )
    return x


def project(
    feats: np.ndarray, method: str = "pca", seed: int = SEED, perplexity: float = PERPLEXITY
) -> Projection:
    """``(N, D)`` features to ``(N, 2)`` points with PCA or t-SNE (scikit-learn).

    PCA is ``sklearn.decomposition.PCA(2, svd_solver="full")``: the centred features on
    their first two right singular vectors (signs fixed by scikit-learn). t-SNE is
    ``sklearn.manifold.TSNE(2, perplexity, init="pca", learning_rate="auto",
    random_state=seed)`` on the first :data:`TSNE_PCA_DIMS` principal components when the
    features have more dimensions.

    Raises
    ------
    EmbeddingError
        Unknown method, fewer than 3 images (t-SNE: not more than ``3 × perplexity``),
        fewer than 2 features, NaN/infinite features or the same features for every image.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method not in METHODS:
        raise EmbeddingError(f"method must be one of {tuple(METHODS)}, got {method!r}.")
    x = _check_features(feats)
    start = time.perf_counter()
    if method == "pca":
        pca = PCA(n_components=2, svd_solver="full", random_state=seed)
        coords = pca.fit_transform(x)
        ratio = pca.explained_variance_ratio_
        return Projection(
            coords.astype(np.float32), "pca", (float(ratio[0]), float(ratio[1])), None, None,
            seed, time.perf_counter() - start,
        )  # fmt: skip
    n = x.shape[0]
    if not perplexity > 0 or n <= 3 * perplexity:
        raise EmbeddingError(
            f"t-SNE with perplexity {perplexity:g} needs more than {3 * perplexity:g} images, "
            f"got {n}; use more images or PCA."
        )
    reduced_to = None
    if x.shape[1] > TSNE_PCA_DIMS and n > TSNE_PCA_DIMS:
        x = PCA(n_components=TSNE_PCA_DIMS, svd_solver="full", random_state=seed).fit_transform(x)
        reduced_to = TSNE_PCA_DIMS
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        learning_rate="auto",
        random_state=seed,
    )
    coords = tsne.fit_transform(x)
    return Projection(
        coords.astype(np.float32), "tsne", None, float(perplexity), reduced_to, seed,
        time.perf_counter() - start,
    )  # fmt: skip


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = K) -> float:
    """Leave-one-out ``k``-nearest-neighbour accuracy: the share of points whose label
    wins the vote of their ``k`` nearest other points (Euclidean).

    A vote tie goes to the smallest label (as ``sklearn.neighbors.KNeighborsClassifier``
    does). ``NaN`` when there are not more than ``k`` points (no ``k`` others to ask).

    Examples
    --------
    >>> knn_accuracy(np.array([[0.0], [1], [3], [10], [11]]), np.array([0, 0, 1, 1, 1]), k=1)
    0.8
    """
    from sklearn.neighbors import NearestNeighbors

    x = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(x) != len(y):
        raise EmbeddingError(f"{len(x)} points but {len(y)} labels.")
    if k < 1:
        raise EmbeddingError(f"k must be >= 1, got {k}.")
    if len(x) <= k:
        return float("nan")
    if y.min() < 0:
        raise EmbeddingError(f"labels must be >= 0, got {y.min()}.")
    # kneighbors() without X: each point's neighbours among the others (itself left out)
    _, idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors()
    votes = np.zeros((len(y), int(y.max()) + 1), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(y)), k), y[idx].ravel()), 1)
    return float(np.mean(votes.argmax(axis=1) == y))


def pick(total: int, n: int, seed: int = SEED) -> np.ndarray:
    """``min(n, total)`` indices of a test set, drawn with ``seed``, in the set's order."""
    if total < 1 or n < 1:
        raise EmbeddingError(f"need images to pick from: total {total}, asked for {n}.")
    return np.sort(np.random.default_rng(seed).permutation(total)[: min(n, total)])


@dataclass(frozen=True)
class Embedding:
    """One panel: the points, their classes and how apart those are.

    Attributes
    ----------
    projection : Projection
    labels, predicted : np.ndarray
        True and predicted class of each point ``(N,)``.
    index : np.ndarray
        Each point's index in the test set ``(N,)``.
    layer : str
    dims : int
        Features per image at ``layer``.
    knn_features, knn_plane : float
        :func:`knn_accuracy` with :data:`K` in the features and in the picture.
    seconds : float
        Features, projection and both measures, all together.
    """

    projection: Projection
    labels: np.ndarray
    predicted: np.ndarray
    index: np.ndarray
    layer: str
    dims: int
    knn_features: float
    knn_plane: float
    seconds: float

    @property
    def n(self) -> int:
        return len(self.labels)


def embed(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    layer: str | None = None,
    method: str = "pca",
    index: np.ndarray | None = None,
    seed: int = SEED,
    k: int = K,
) -> Embedding:
    """Features of ``images`` at ``layer``, projected with ``method``, and both measures."""
    start = time.perf_counter()
    layer = _check_layer(model, layer)
    feats, pred = features_and_predictions(model, images, layer)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    proj = project(feats, method, seed)
    return Embedding(
        projection=proj,
        labels=labels,
        predicted=pred,
        index=np.arange(len(labels)) if index is None else np.asarray(index),
        layer=layer,
        dims=int(feats.shape[1]),
        knn_features=knn_accuracy(feats, labels, k),
        knn_plane=knn_accuracy(proj.coords, labels, k),
        seconds=time.perf_counter() - start,
    )


# --- the MLP beside the CNN -------------------------------------------------------------


def train_mlp(
    x_train: np.ndarray, y_train: np.ndarray, num_classes: int, seed: int = SEED
) -> keras.Model:
    """The :data:`MLP` trained with :data:`MLP_RECIPE` on ``uint8`` images ``(N, H, W, C)``.

    For data with no bundled MLP; the caller keeps the result (it is never trained again).
    """
    from cnnviz import data, models

    keras.utils.set_random_seed(seed)
    model = models.build(MLP, tuple(int(s) for s in x_train.shape[1:]), num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    model.fit(
        data.prepare(x_train), np.asarray(y_train).astype(np.int64), batch_size=MLP_BATCH,
        epochs=MLP_EPOCHS, verbose=0,
    )  # fmt: skip
    return model


def bundled_mlp(dataset: str | None) -> str | None:
    """The bundled :data:`MLP` trained on ``dataset`` (``"cookbook_mlp"`` for
    ``"mnist-sample"``), or ``None`` when none was."""
    from cnnviz import models

    if not dataset:
        return None
    for name in models.bundled_names(dataset):
        if models.read_card(models.bundled(name)).get("model") == MLP:
            return name
    return None


def is_mlp(model: keras.Model) -> bool:
    """Whether ``model`` has no convolution (only dense layers after the pixels)."""
    from cnnviz import explain

    return not explain.conv_layers(model) and not any(
        isinstance(ly, keras.Model) for ly in model.layers
    )


# --- the picture ---------------------------------------------------------------------------


def image_png(image: np.ndarray) -> bytes:
    """A test image as a PNG file stored the way the bundled samples are (dark on white
    for grayscale, RGB as it is), so Predict prepares it like any sample or photo."""
    from PIL import Image

    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.round(pixels * 255 if pixels.max() <= 1 else pixels), 0, 255)
        pixels = pixels.astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    img = Image.fromarray(255 - pixels) if pixels.ndim == 2 else Image.fromarray(pixels, "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_label(index: int, dataset: str, true_name: str) -> str:
    """How Predict names an image sent from this page."""
    return f"test image #{int(index)} of {dataset} ({true_name})"


def _axis_title(proj: Projection, axis: int) -> str:
    if proj.method == "pca" and proj.explained is not None:
        return f"PC {axis + 1} · {_pct(proj.explained[axis])} of the variance"
    return f"t-SNE {axis + 1} (no meaning)"


def scatter(emb: Embedding, class_names: Sequence[str], title: str, height: int = 460):
    """The points of one panel coloured by true class (:data:`CLASS_COLOURS`), a mistake
    (predicted ≠ true) drawn as an ✕ instead of a dot; hover names the image.

    Per class three traces in one legend group: its legend entry (a dot), its dots, then
    (above every class's dots) its ✕. ``customdata`` of each point is ``[test-set index,
    true class, predicted class]``.
    """
    coords, y, pred = emb.projection.coords, emb.labels, emb.predicted
    names = list(class_names)

    def name(c: int) -> str:
        return names[c] if 0 <= c < len(names) else str(c)

    keys, dots, crosses = [], [], []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        colour = CLASS_COLOURS[int(c) % len(CLASS_COLOURS)]
        keys.append(  # the legend's dot, also for a class with no point right
            go.Scatter(
                x=[None], y=[None], mode="markers", name=name(int(c)), legendgroup=str(c),
                marker=dict(color=colour, symbol="circle", size=7), hoverinfo="skip",
            )
        )  # fmt: skip
        for wrong, out in ((False, dots), (True, crosses)):
            part = rows[(pred[rows] != c) == wrong]
            out.append(
                go.Scatter(
                    x=coords[part, 0], y=coords[part, 1], mode="markers", name=name(int(c)),
                    legendgroup=str(c), showlegend=False,
                    marker=dict(
                        color=colour,
                        symbol="x" if wrong else "circle", size=8 if wrong else 5,
                        opacity=0.9 if wrong else 0.7, line=dict(width=0),
                    ),
                    customdata=[[int(emb.index[r]), name(int(c)), name(int(pred[r]))]
                                for r in part],
                    hovertemplate="test image #%{customdata[0]}<br>true: %{customdata[1]}"
                    "<br>predicted: %{customdata[2]}<extra></extra>",
                )
            )  # fmt: skip
    fig = go.Figure([*keys, *dots, *crosses])
    fig.add_trace(
        go.Scatter(
            x=[None], y=[None], mode="markers", name="✕ a mistake",
            marker=dict(color=style.INK, symbol="x", size=8), hoverinfo="skip",
        )
    )  # fmt: skip
    tsne = emb.projection.method == "tsne"
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)), height=height, template=style.TEMPLATE,
        margin=dict(l=10, r=10, t=40, b=10), clickmode="event+select", dragmode="pan",
        legend=dict(orientation="h", y=-0.2, yanchor="top", font=dict(size=10)),
    )  # fmt: skip
    fig.update_xaxes(
        title_text=_axis_title(emb.projection, 0), showticklabels=not tsne, zeroline=False,
        showgrid=False,
    )  # fmt: skip
    fig.update_yaxes(
        title_text=_axis_title(emb.projection, 1), showticklabels=not tsne, zeroline=False,
        showgrid=False,
    )  # fmt: skip
    if not tsne:  # one unit is one unit on both axes: distances on the plane are honest
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def predicted_for(emb: Embedding, index: int) -> int | None:
    """The class ``emb``'s network predicted for test image ``index`` (``None`` if that
    image is not among its points)."""
    where_ = np.flatnonzero(emb.index == index)
    return int(emb.predicted[where_[0]]) if where_.size else None


def point_of(fig_customdata_point: dict) -> int | None:
    """The test-set index of a point clicked in :func:`scatter` (``None`` if not a point)."""
    data = fig_customdata_point.get("customdata")
    if isinstance(data, list | tuple) and data:
        try:
            return int(data[0])
        except (TypeError, ValueError):
            return None
    return None


# --- sentences ---------------------------------------------------------------------------


def _pct(v: float, decimals: int = 1) -> str:
    """A share as a percentage with ``decimals`` decimals, more (up to 6) where that is
    what it takes never to show a share below 1 as 100 % or one above 0 as 0 %."""
    for d in range(decimals, 7):
        text = f"{100 * v:.{d}f}"
        if not (v < 1 and float(text) >= 100) and not (v > 0 and float(text) <= 0):
            break
    return f"{text} %"


def _pct_pair(a: float, b: float) -> tuple[str, str]:
    """Both as percentages, with as many decimals (1 to 4) as it takes to tell them apart
    when they differ; equal strings then mean "equal at the precision shown"."""
    for d in range(1, 5):
        sa, sb = _pct(a, d), _pct(b, d)
        if float(sa[:-2]) != float(sb[:-2]):
            return sa, sb
    longer = max(sa, sb, key=len)  # the same number: one string for both
    return longer, longer


def _measure(k: int, n: int) -> str:
    return (
        f"{k}-nearest-neighbour accuracy (the share of the {n:,} images whose class wins "
        f"the vote of their {k} nearest other images)"
    )


def _is_share(v: float) -> bool:
    return math.isfinite(v) and 0.0 <= v <= 1.0


def _compare(a: float, b: float, n: int, k: int) -> tuple[str | None, tuple[str, ...]]:
    """``("a" | "b" | "equal", (shown a, shown b))``, or ``(None, ())`` when not measured
    (not a share in [0, 1], or not more than ``k`` images). ``"equal"`` when the values
    are equal or too close to tell apart at 4 decimals of a percent."""
    if not (_is_share(a) and _is_share(b)) or n <= k:
        return None, ()
    sa, sb = _pct_pair(a, b)
    if sa == sb:
        return "equal", (sa, sb)
    return ("a" if a > b else "b"), (sa, sb)


def _not_measured(a: float, b: float, k: int, n: int) -> str:
    if n <= k:
        return f"with {n:,} images there are not {k} others to ask"
    bad = [v for v in (a, b) if not _is_share(v)]
    return f"{bad[0]} is not a share between 0 and 1"


def where(dims: int, layer: str) -> str:
    """The space a measure was taken in: ``"the 128 features of leaky4"``."""
    unit = "feature" if dims == 1 else "features"
    return f"the {dims:,} {unit} of {layer}"


@claims.claim
def separation_sentence(
    trained: float, untrained: float, k: int = K, n: int = DEFAULT_IMAGES, space: str = ""
) -> Claim:
    """Trained vs untrained: both :func:`knn_accuracy` values, and which is higher only
    when it is.

    ``space`` names where they were measured (:func:`where`).

    Examples
    --------
    >>> s = separation_sentence(0.985, 0.9, 5, 1000, where(128, "leaky4"))
    >>> s.facts["higher"], "98.5 %" in s and "90.0 %" in s
    ('trained', True)
    """
    a, b = float(trained), float(untrained)
    space = f" in {space}" if space else ""
    which, shown = _compare(a, b, n, k)
    higher = {"a": "trained", "b": "untrained", "equal": "equal", None: None}[which]
    if higher is None:
        text = f"The classes' separation cannot be compared{space}: {_not_measured(a, b, k, n)}."
        return Claim(text, trained=a, untrained=b, higher=None, k=k, n=n, shown=())
    sa, sb = shown
    head = (
        f"{_measure(k, n)}{space}: {sa} for the trained network, {sb} for the same network "
        "untrained"
    )
    tail = {
        "trained": " — training pulled the classes apart.",
        "untrained": " — the untrained network separates them better here: training did not "
        "pull these classes further apart at this layer.",
        "equal": " — the same at the precision shown: training did not change how apart the "
        "classes are here.",
    }[higher]
    return Claim(head + tail, trained=a, untrained=b, higher=higher, k=k, n=n, shown=shown)


@claims.claim
def mlp_sentence(cnn: float, mlp: float, k: int = K, n: int = DEFAULT_IMAGES) -> Claim:
    """The CNN's features vs the MLP's (each at its own last hidden layer): both values,
    and which separates the classes better only when it does.

    Examples
    --------
    >>> mlp_sentence(0.98, 0.95, 5, 1000).facts["higher"]
    'cnn'
    """
    a, b = float(cnn), float(mlp)
    which, shown = _compare(a, b, n, k)
    higher = {"a": "cnn", "b": "mlp", "equal": "equal", None: None}[which]
    if higher is None:
        text = f"The CNN and the MLP cannot be compared: {_not_measured(a, b, k, n)}."
        return Claim(text, cnn=a, mlp=b, higher=None, k=k, n=n, shown=())
    sa, sb = shown
    head = (
        f"At the layer before the output, {k}-nearest-neighbour accuracy is {sa} for the CNN "
        f"and {sb} for the MLP trained on the same data"
    )
    tail = {
        "cnn": " — the CNN's features keep the classes further apart.",
        "mlp": " — the MLP's features keep the classes further apart here.",
        "equal": " — the same for both, at the precision shown.",
    }[higher]
    return Claim(head + tail, cnn=a, mlp=b, higher=higher, k=k, n=n, shown=shown)


@claims.claim
def knn_caption(
    features_acc: float, plane_acc: float, dims: int, k: int = K, n: int = DEFAULT_IMAGES
) -> Claim:
    """One panel's two measures: in its ``dims`` features and in its 2-D picture.

    Examples
    --------
    >>> knn_caption(0.97, 0.8, 128, 5, 1000)[:40]
    '5-nearest-neighbour accuracy: 97.0 % in '
    """
    a, b = float(features_acc), float(plane_acc)

    def shown(v: float) -> str:
        return _pct(v) if _is_share(v) and n > k else "not measured"

    sa, sb = shown(a), shown(b)
    unit = "feature" if dims == 1 else "features"
    text = (
        f"{k}-nearest-neighbour accuracy: {sa} in the {dims:,} {unit}, {sb} in this 2-D "
        f"picture ({n:,} images, each left out of its own neighbours)."
    )
    return Claim(text, features_acc=a, plane_acc=b, dims=dims, k=k, n=n, shown=(sa, sb))


@claims.claim
def projection_caption(
    method: str,
    explained: tuple[float, float] | None = None,
    perplexity: float | None = None,
    reduced_to: int | None = None,
    dims: int = 0,
    seed: int = SEED,
) -> Claim:
    """What the shown projection's axes mean, and what they do not.

    Examples
    --------
    >>> c = projection_caption("pca", (0.25, 0.125), dims=128)
    >>> c.facts["total"], c.facts["axes_meaningful"]
    (0.375, True)
    >>> projection_caption("tsne", perplexity=30, reduced_to=50).facts["axes_meaningful"]
    False
    """
    if method == "pca":
        e1, e2 = (float(v) for v in (explained or (math.nan, math.nan)))
        total = e1 + e2
        if not (_is_share(e1) and _is_share(e2) and total <= 1 + 1e-9):
            text = (
                "PCA: the horizontal axis is the direction in which the features vary most, "
                "the vertical one the next, at right angles; how much of the variance each "
                "holds is not known here."
            )
            return Claim(text, method="pca", explained=(e1, e2), total=total,
                         axes_meaningful=True, shown=())  # fmt: skip
        s1, s2, st_ = _pct(e1), _pct(e2), _pct(total)
        rest = _pct(max(0.0, 1 - total))
        text = (
            f"PCA of the {dims:,} features: the horizontal axis is the direction in which "
            f"the images' features vary most ({s1} of the variance), the vertical one the "
            f"next, at right angles ({s2}); together {st_}. The other {rest} lies along "
            "directions not drawn, so points close here may still be far apart in the "
            "features; points far apart here are far apart there too."
        )
        return Claim(text, method="pca", explained=(e1, e2), total=total,
                     axes_meaningful=True, shown=(s1, s2, st_))  # fmt: skip
    if method != "tsne":
        raise EmbeddingError(f"method must be one of {tuple(METHODS)}, got {method!r}.")
    p = float(perplexity) if perplexity is not None else math.nan
    how = f"perplexity {p:g}, " if math.isfinite(p) else ""
    first = f", run on the first {reduced_to} principal components" if reduced_to else ""
    text = (
        f"t-SNE ({how}seed {seed}, started from PCA{first}): its axes mean nothing — only "
        "who is near whom does. The sizes of the clusters and the distances between them "
        "are not meaningful, and another seed puts the clusters elsewhere."
    )
    return Claim(text, method="tsne", explained=None, total=None, axes_meaningful=False,
                 perplexity=p, reduced_to=reduced_to, shown=())  # fmt: skip


@claims.claim
def time_sentence(seconds: float, method: str, n: int, panels: int = 1) -> Claim:
    """How long the shown panels took (features, projection and measures; computed
    once, then kept).

    Examples
    --------
    >>> time_sentence(12.345, "tsne", 2000)[:61]
    'The features and t-SNE of 2,000 images took 12.3 s to compute'
    """
    s = float(seconds)
    if not (math.isfinite(s) and s >= 0):
        took = "an unknown time"
    elif s < 0.05:
        took = "under 0.1 s"
    else:
        took = f"{s:.1f} s"
    which = "" if panels == 1 else f" for {panels} panels"
    text = (
        f"The features and {METHODS.get(method, method)} of {n:,} images{which} took {took} "
        "to compute, once: kept for this model, layer, test set and number of images."
    )
    return Claim(text, seconds=s, shown=took, n=n, method=method, panels=panels)
