"""Look inside a trained model: layer outputs, class-activation heatmaps, dreamed inputs.

Built on tf-keras-vis (which needs Functional models; every cnnviz model is one). Nothing
here mutates the caller's model: methods that need a linear output work on a clone whose
softmax is replaced by a linear activation, made once per model and weights.

>>> import numpy as np
>>> from cnnviz import explain, models
>>> m = models.build("toy_4x4", (4, 4, 1), 2)
>>> [name for name in explain.activations(m, np.zeros((4, 4, 1), np.float32))]
['conv1', 'pool1', 'flatten', 'output']

This is the one part of cnnviz that uses TensorFlow directly (tf-keras-vis is TF-only).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
import weakref
from dataclasses import dataclass

import keras
import numpy as np
from scipy.stats import spearmanr

from cnnviz import claims
from cnnviz.novelty import percent, shown

METHODS: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "scorecam": "Score-CAM",
    "layercam": "Layer-CAM",
    "saliency": "Vanilla saliency",
    "smoothgrad": "SmoothGrad",
}
CAM_METHODS = ("gradcam", "gradcam++", "scorecam", "layercam")  # need a conv layer
_CONV_TYPES = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Conv2DTranspose,
)
# Separate activation layers: a conv followed by one of these is weighed after it.
_ACTIVATION_TYPES = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
)
IMAGENET_INPUT = (224, 224, 3)


class ExplainError(ValueError):
    """A model, layer, class or method cannot be explained; the message says why."""


# ---------------------------------------------------------------------------- model facts


def fingerprint(model: keras.Model) -> str:
    """A short hash of a model's name, architecture and weights: a cheap cache key.

    Two models with the same layers and the same weight values share a fingerprint; any
    training step changes it.
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(model.name.encode())
    for w in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(w.value))
        digest.update(f"{w.path}{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def image_shape(model: keras.Model) -> tuple[int, int, int]:
    """The ``(H, W, C)`` image a model takes; :class:`ExplainError` if it takes no image."""
    if len(model.inputs) != 1:
        raise ExplainError(f"Model {model.name!r} has {len(model.inputs)} inputs; expected one.")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or None in shape or shape[-1] not in (1, 3):
        raise ExplainError(f"Model {model.name!r} takes {shape}, not an (H, W, 1|3) image.")
    return tuple(int(s) for s in shape)


def conv_layers(model: keras.Model) -> list[str]:
    """Names of the convolutional layers, input first (empty for a plain MLP)."""
    return [layer.name for layer in model.layers if isinstance(layer, _CONV_TYPES)]


def cam_maps_layer(model: keras.Model, layer: str) -> str:
    """The layer whose maps the CAM methods weigh for conv ``layer``.

    Class-activation maps weigh a conv layer's *activated* maps (Selvaraju et al.: the
    rectified feature maps). A conv with its own activation gives them directly; a linear
    conv followed by a separate activation layer (``Conv2D`` → ``LeakyReLU``, as in the
    zoo's Fashion-MNIST CNNs) gives them one layer later. Measured on the default model:
    on the raw conv output, Score-CAM's rectified weighted sum was blank for every class.
    """
    out = model.get_layer(layer).output
    for other in model.layers:
        if isinstance(other, _ACTIVATION_TYPES) and other.input is out:
            return other.name
    return layer


def feature_map_layers(model: keras.Model) -> list[str]:
    """Names of the layers whose output is a stack of 2-D maps ``(batch, h, w, c)``."""
    return [
        layer.name
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4
    ]


def is_probability_output(model: keras.Model) -> bool:
    """Whether the model's last layer outputs probabilities (a softmax, or one sigmoid)."""
    act = getattr(model.layers[-1], "activation", None)
    return act in (keras.activations.softmax, keras.activations.sigmoid)


def _batch(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Validate one ``(H, W, C)`` image against the model and add the batch axis."""
    expected = image_shape(model)
    image = np.asarray(image, dtype=np.float32)
    if image.shape != expected:
        raise ExplainError(f"The image has shape {image.shape}; the model expects {expected}.")
    return image[None]  # (1, H, W, C)


def predict_proba(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Class probabilities ``(K,)`` for one image.

    Through ``predict_on_batch``: the model's compiled predict step, traced once per model
    (measured on the default model: 2.2 ms, where a direct eager call walks its 18 layers
    in Python in 14–22 ms and ``predict`` adds its data pipeline). A one-unit sigmoid model
    returns ``[1 - p, p]``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # keras: input structure name mismatch
        out = np.asarray(model.predict_on_batch(_batch(model, image)))[0]
    out = out.astype(np.float64)
    return np.array([1 - out[0], out[0]]) if out.shape == (1,) else out


def warm_up() -> None:
    """Run each kind of computation once on a tiny model, so that a server pays TensorFlow's
    one-time set-up (kernels, gradient machinery, tf-keras-vis) before a learner asks."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalMaxPooling2D()(x)
    tiny = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    image = np.zeros((8, 8, 1), np.float32)
    predict_proba(tiny, image)
    activations(tiny, image)
    for method in ("gradcam", "saliency"):
        evidence(tiny, image, method, "conv")


# --------------------------------------------------------------------------- activations

_EXTRACTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _extractor(model: keras.Model) -> tuple[list[str], keras.Model]:
    """One model that returns every layer's output, built once per model object."""
    if model not in _EXTRACTORS:
        names = [ly.name for ly in model.layers if not isinstance(ly, keras.layers.InputLayer)]
        outputs = [model.get_layer(n).output for n in names]
        _EXTRACTORS[model] = (names, keras.Model(model.inputs, outputs))
    return _EXTRACTORS[model]


def activations(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for one image, in layer order.

    Parameters
    ----------
    model : keras.Model
        A Functional model taking ``(H, W, C)`` images.
    image : np.ndarray
        ``float32`` ``(H, W, C)`` in the model's input range.

    Returns
    -------
    dict of str to np.ndarray
        ``{layer_name: output}`` without the batch axis, e.g. ``conv1`` -> ``(26, 26, 28)``.
    """
    names, extractor = _extractor(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # keras: input structure name mismatch
        outs = extractor(_batch(model, image), training=False)
    return {n: keras.ops.convert_to_numpy(o)[0] for n, o in zip(names, outs, strict=True)}


def passthrough_note(model: keras.Model, name: str) -> str | None:
    """A sentence for layers that add nothing to see at inference (None for the others).

    ``Flatten`` only reshapes its input into a vector and ``Dropout`` is the identity at
    inference, so drawing their output again would show no new information.
    """
    layer = model.get_layer(name)
    if isinstance(layer, keras.layers.Flatten):
        return passthrough_sentence("flatten", int(np.prod(layer.output.shape[1:])))
    if isinstance(layer, keras.layers.Dropout):
        return passthrough_sentence("dropout")
    return None


@claims.claim
def passthrough_sentence(kind: str, size: int | None = None) -> claims.Claim:
    """The note for a ``"flatten"`` layer (of ``size`` outputs) or a ``"dropout"`` layer.

    >>> passthrough_sentence("flatten", 2048)
    "Flatten only lines up the previous layer's values into one vector of 2048 values."
    """
    if kind == "flatten":
        return claims.Claim(
            f"Flatten only lines up the previous layer's values into one vector of {size} "
            "values.",
            kind=kind, size=size,
        )  # fmt: skip
    if kind == "dropout":
        return claims.Claim(
            "Dropout is switched off when predicting: its output equals its input.", kind=kind
        )
    raise ValueError(f"kind must be 'flatten' or 'dropout', got {kind!r}")


def kernels(model: keras.Model, layer: str | None = None) -> np.ndarray:
    """A conv layer's kernels ``(kh, kw, c_in, c_out)`` (the first conv layer by default)."""
    names = conv_layers(model)
    if not names:
        raise ExplainError(f"Model {model.name!r} has no convolutional layer, so no filters.")
    layer = layer or names[0]
    if layer not in names:
        raise ExplainError(f"{layer!r} is not a convolutional layer of {model.name!r}.")
    return keras.ops.convert_to_numpy(model.get_layer(layer).kernel)


# ------------------------------------------------------------------------------ heatmaps


@dataclass
class _Linear:
    """A clone of a model with a linear output, for gradient methods (cached per model)."""

    fingerprint: str
    model: keras.Model


_LINEAR: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def linear_clone(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose output activation is linear; the original is untouched.

    Gradients of a softmax output for one class depend on every other class; tf-keras-vis
    recommends explaining the pre-softmax score. Rebuilt when the weights change.
    """
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

    key = fingerprint(model)
    cached = _LINEAR.get(model)
    if cached is None or cached.fingerprint != key:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        ReplaceToLinear()(clone)
        _LINEAR[model] = cached = _Linear(key, clone)
    return cached.model


def _check_class(model: keras.Model, class_index: int | None, x: np.ndarray) -> int:
    """Resolve ``None`` to the predicted class and validate an explicit index."""
    probs = predict_proba(model, x[0])
    if class_index is None:
        return int(np.argmax(probs))
    n_classes = len(probs)  # a one-unit sigmoid model has two classes
    if not 0 <= int(class_index) < n_classes:
        raise ExplainError(f"class_index must be in 0..{n_classes - 1}, got {class_index}.")
    return int(class_index)


def _explain_batch(
    model: keras.Model,
    image: np.ndarray,
    method: str,
    classes: list[int],
    layer: str | None,
    smooth_samples: int,
    smooth_noise: float,
    normalize: bool,
) -> np.ndarray:
    """One method's maps ``(len(classes), H, W)`` for one image, all classes as one batch."""
    import tensorflow as tf
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    if method not in METHODS:
        raise ExplainError(f"method must be one of {list(METHODS)}, got {method!r}.")
    x = _batch(model, image)  # (1, H, W, C)
    if model.outputs[0].shape[-1] > 1:
        score = CategoricalScore(list(classes))
    else:  # one sigmoid unit: its logit is evidence for class 1, its negative for class 0
        signs = tf.constant([1.0 if c == 1 else -1.0 for c in classes])

        def score(out):
            return signs * out[:, 0]

    convs = conv_layers(model)
    if method in CAM_METHODS:
        if not convs:
            raise ExplainError(
                f"Model {model.name!r} has no convolutional layer, so {METHODS[method]} "
                "does not apply; try vanilla saliency or SmoothGrad."
            )
        layer = layer or convs[-1]
        if layer not in convs:
            raise ExplainError(f"{layer!r} is not a convolutional layer of {model.name!r}.")
        layer = cam_maps_layer(model, layer)
    if method == "scorecam" and model.outputs[0].shape[-1] == 1:
        raise ExplainError(
            "Score-CAM weighs masks by a softmax over classes, so it needs several output "
            "units; this model has one sigmoid unit."
        )
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")  # keras input-structure and scipy deprecation notes
        seed = tf.constant(np.repeat(x, len(classes), axis=0))  # (n, H, W, C)
        if method == "scorecam":
            # Score-CAM weighs masked copies by softmax scores: it wants the original model.
            cam = Scorecam(model)(
                score, seed, penultimate_layer=layer, seek_penultimate_conv_layer=False,
                normalize_cam=normalize,
            )  # fmt: skip
        elif method in ("saliency", "smoothgrad"):
            samples = smooth_samples if method == "smoothgrad" else 0
            cam = Saliency(linear_clone(model))(
                score, seed, smooth_samples=samples, smooth_noise=smooth_noise,
                normalize_map=normalize,
            )  # fmt: skip
        else:
            cls_ = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "layercam": Layercam}
            linear = linear_clone(model)
            cam = cls_[method](linear)(
                score, seed, penultimate_layer=layer, seek_penultimate_conv_layer=False,
                normalize_cam=normalize,
            )  # fmt: skip
            if method == "gradcam++" and not normalize:
                # Grad-CAM++ differentiates exp(score), so its raw map carries a factor
                # exp(score): e^21 ≈ 10^9 for a sure digit, a colour bar in billions.
                # Divided out, its values are in the score's units, as Grad-CAM's are.
                logits = np.asarray(score(linear(seed, training=False)), np.float64)
                cam = np.asarray(cam, np.float64) / np.exp(logits).reshape(-1, 1, 1)
    cam = np.nan_to_num(np.asarray(cam, dtype=np.float32)).reshape(len(classes), *x.shape[1:3])
    return np.clip(cam, 0, 1) if normalize else np.maximum(cam, 0)


def heatmap(
    model: keras.Model,
    image: np.ndarray,
    method: str = "gradcam",
    class_index: int | None = None,
    layer: str | None = None,
    *,
    smooth_samples: int = 20,
    smooth_noise: float = 0.2,
) -> np.ndarray:
    """Where in ``image`` the evidence for a class lies, as an ``(H, W)`` map in [0, 1].

    Parameters
    ----------
    model : keras.Model
        Functional model with one image input and a class-score output. Not modified.
    image : np.ndarray
        ``float32`` ``(H, W, C)``, as the model eats it.
    method : str
        One of :data:`METHODS`: ``gradcam``, ``gradcam++``, ``scorecam``, ``layercam``
        (class-activation maps at ``layer``), ``saliency`` or ``smoothgrad`` (pixel gradients).
    class_index : int or None
        The class to explain; ``None`` explains the predicted class.
    layer : str or None
        The conv layer for CAM methods; ``None`` uses the last one.
    smooth_samples, smooth_noise : int, float
        SmoothGrad's number of noisy copies and noise level (fraction of the input range).

    Returns
    -------
    np.ndarray
        ``float32`` ``(H, W)`` in [0, 1] at the input's resolution, stretched from its own
        minimum to its own maximum (all zeros when the method finds no positive evidence).
        :func:`evidence` gives the unstretched values, to compare classes.
    """
    cls = _check_class(model, class_index, _batch(model, image))
    return _explain_batch(
        model, image, method, [cls], layer, smooth_samples, smooth_noise, normalize=True
    )[0]


def evidence(
    model: keras.Model,
    image: np.ndarray,
    method: str = "gradcam",
    layer: str | None = None,
    *,
    smooth_samples: int = 20,
    smooth_noise: float = 0.2,
) -> np.ndarray:
    """Every class's map for one method, in the method's own units: ``(K, H, W)``, ≥ 0.

    Unlike :func:`heatmap`, nothing is stretched, so the maps of different classes can be
    put on one scale: the evidence for "1" in a 7 is then visibly weaker than for "7".
    The units differ between methods (a weighted sum of feature maps for the CAMs, a
    gradient for saliency), so scales are shared across classes, not across methods.

    Parameters
    ----------
    model, image, method, layer, smooth_samples, smooth_noise
        As for :func:`heatmap`.

    Returns
    -------
    np.ndarray
        ``float32`` ``(K, H, W)``: row ``k`` is the evidence for class ``k`` (``K`` = 2 for
        a one-unit sigmoid model).
    """
    n_classes = len(predict_proba(model, image))
    return _explain_batch(
        model, image, method, list(range(n_classes)), layer, smooth_samples, smooth_noise,
        normalize=False,
    )  # fmt: skip


def display_limits(maps: np.ndarray, index: int, shared: bool) -> tuple[float, float]:
    """Colour limits ``(0, top)`` for map ``index`` of ``maps`` ``(K, H, W)``.

    ``shared=False``: its own maximum (every map reaches full colour: compare *where*);
    ``shared=True``: the maximum over all maps (compare *how strong*). ``top`` is 1 for
    an all-zero map or stack, so "no evidence" is drawn white, not stretched noise.

    Examples
    --------
    >>> maps = np.array([[[0.0, 2.0]], [[0.5, 0.0]]])   # class 0 strong, class 1 weak
    >>> display_limits(maps, 1, shared=False), display_limits(maps, 1, shared=True)
    ((0.0, 0.5), (0.0, 2.0))
    """
    top = float(np.max(maps) if shared else np.max(maps[index]))
    return 0.0, (top if top > 0 else 1.0)


EVIDENCE_MEASURE = "largest value of each class's map, one scale per method"


def _g_pair(a: float, b: float, sig: int = 3) -> tuple[str, str]:
    """``a`` and ``b`` to ``sig`` (or more) significant digits, as many as it takes for
    the shown numbers to compare as the real ones do."""
    for d in range(sig, 18):
        x, y = f"{a:.{d}g}", f"{b:.{d}g}"
        if np.sign(float(x) - float(y)) == np.sign(a - b):
            return x, y
    return repr(a), repr(b)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@claims.claim
def evidence_summary(
    maps: dict[str, np.ndarray], names: tuple[str, ...] | list[str], predicted: int
) -> claims.Claim:
    """What the shared colour scale compares, and its numbers, for each method.

    ``maps`` holds, per method name, :func:`evidence` ``(K, H, W)``. The measure is the
    :data:`EVIDENCE_MEASURE`: each class's map's largest value, compared within a method.
    That is not how much evidence the *model* has for a class: the maps are rectified
    (only positive values kept; saliency keeps a gradient's size, not its sign) and not
    normalised per class, so a class the model rejects can reach a higher value in one
    spot. When that happens the sentence says so; it never calls a peak "more evidence".

    Examples
    --------
    >>> ev = np.zeros((3, 2, 2)); ev[1, 0, 0] = 2.0; ev[2, 1, 1] = 1.0
    >>> text = evidence_summary({"Score-CAM": ev}, "abc", 2)
    >>> print(text)  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    Each method's colour bar runs to the largest value of any of the 3 classes' maps ...
    Score-CAM 2 for b, above 1 for the predicted c. A map's largest value is not ...
    """
    peaks_of, tops, agrees, shown_peaks, said = {}, {}, {}, {}, []
    for method, ev in maps.items():
        ev = np.nan_to_num(np.asarray(ev, dtype=np.float64), nan=0.0)
        peaks = ev.reshape(len(ev), -1).max(axis=1)  # (K,)
        peaks_of[method] = tuple(float(v) for v in peaks)
        if not peaks.max() > 0:
            tops[method] = agrees[method] = None
            said.append(f"{method} finds no positive value for any class")
            continue
        top = tuple(int(i) for i in np.flatnonzero(peaks == peaks.max()))
        tops[method], agrees[method] = top, predicted in top
        hi, own = _g_pair(float(peaks.max()), float(peaks[predicted]))
        shown_peaks[method] = (hi, own)
        if predicted in top:
            others = [names[i] for i in top if i != predicted]
            tie = f", tied with {_join(others)}" if others else ""
            said.append(f"{method} {own} for the predicted {names[predicted]}, the largest{tie}")
        else:
            said.append(
                f"{method} {hi} for {_join([names[i] for i in top])}, above {own} for the "
                f"predicted {names[predicted]}"
            )
    text = (
        "Each method's colour bar runs to the largest value of any of the "
        f"{len(names)} classes' maps for this image, so a class whose map peaks lower looks "
        "paler; the methods measure in different units, so compare classes within a "
        "method, not methods. The "
        f"{EVIDENCE_MEASURE}: " + ("; ".join(said) if said else "no method was run") + "."
    )
    if any(a is False for a in agrees.values()):
        text += (
            " A map's largest value is not the model's evidence for the class: the maps "
            "are rectified (only positive values are kept; saliency keeps a gradient's "
            "size, not its sign) and not normalised per class, so a class the model "
            "rejects can reach a higher value in one spot while the rest of its map counts "
            "against it. The model's answer is its probability; each map's own scale "
            "shows *where* a method looks."
        )
    return claims.Claim(
        text, measure=EVIDENCE_MEASURE, peaks=peaks_of, top=tops, agrees=agrees,
        shown=shown_peaks, predicted=int(predicted), n_classes=len(names),
    )  # fmt: skip


@claims.claim
def target_sentence(
    probs: np.ndarray, names: tuple[str, ...] | list[str], explained: int
) -> claims.Claim:
    """ "Predicted **7** (> 99.9 %); explaining class **3**." (probability as :func:`percent`).

    >>> target_sentence(np.array([0.2, 0.8]), ("a", "b"), 0)
    'Predicted **b** (80.0 %); explaining class **a**.'
    """
    probs = np.asarray(probs, dtype=np.float64)
    best = int(np.argmax(probs))
    return claims.Claim(
        f"Predicted **{names[best]}** ({percent(probs[best])}); explaining class "
        f"**{names[explained]}**.",
        predicted=best, probability=float(probs[best]), explained=int(explained),
    )  # fmt: skip


def map_title(model: keras.Model, method: str, layer: str | None = None) -> str:
    """A heatmap's title: the method, the layer it reads and that layer's real size.

    ``"Grad-CAM · conv3 7×7, upsampled to 28×28"``; ``"Vanilla saliency · input 28×28"``
    (saliency maps are gradients at the input pixels).
    """
    h, w = image_shape(model)[:2]
    convs = conv_layers(model)
    if method not in CAM_METHODS or not convs:
        return f"{METHODS[method]} · input {h}×{w}"
    layer = layer or convs[-1]
    mh, mw = (int(v) for v in model.get_layer(cam_maps_layer(model, layer)).output.shape[1:3])
    up = "" if (mh, mw) == (h, w) else f", upsampled to {h}×{w}"
    return f"{METHODS[method]} · {layer} {mh}×{mw}{up}"


# ---------------------------------------------------------------------- sanity check


def randomized_clone(model: keras.Model, seed: int = 0) -> keras.Model:
    """A copy of ``model`` with every kernel re-drawn at random (Adebayo et al., 2018).

    Kernels get Glorot-uniform values from ``seed``; biases and normalisation statistics
    keep their fresh initial values. A heatmap method whose map barely changes on this
    model is not explaining what the model learned.
    """
    clone = keras.models.clone_model(model)
    rng = np.random.default_rng(seed)
    for w in clone.weights:
        if len(w.shape) >= 2:  # kernels: (kh, kw, c_in, c_out) or (n_in, n_out)
            fan_in = int(np.prod(w.shape[:-1]))
            fan_out = int(w.shape[-1]) * int(np.prod(w.shape[:-2]) if len(w.shape) > 2 else 1)
            limit = np.sqrt(6 / (fan_in + fan_out))
            w.assign(rng.uniform(-limit, limit, size=tuple(w.shape)).astype(w.dtype))
    return clone


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (1: same ordering of pixels; 0: unrelated)."""
    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


SANITY_THRESHOLD = 0.5  # rank correlation at or above this: the map barely changed


@claims.claim
def sanity_verdict(rho: float, threshold: float = SANITY_THRESHOLD) -> claims.Claim:
    """The sanity check's verdict on one method, with the comparison it makes.

    The size of the correlation counts, in either direction: a strong *negative* rank
    correlation means the map on random weights ranks the pixels largely in reverse,
    so it still follows the image rather than what the model learned.

    Parameters
    ----------
    rho : float
        Spearman rank correlation between the method's map on the trained model and on a
        copy with random weights (:func:`rank_correlation`); NaN when a map is blank.
    threshold : float
        At or above it, ``|rho|`` is called suspicious.

    Examples
    --------
    >>> print(sanity_verdict(0.651))
    suspicious: |ρ| = 0.65 ≥ 0.5 (ρ = 0.65): the map barely changed when the weights were randomised
    >>> print(sanity_verdict(-0.1))
    passes: |ρ| = 0.10 < 0.5 (ρ = −0.10): the map changed with the weights
    """
    rho, threshold = float(rho), float(threshold)
    if not np.isfinite(rho):
        return claims.Claim(
            "cannot tell: one of the maps is blank (no ranking to compare)",
            verdict="cannot tell", rho=rho, size=abs(rho), threshold=threshold,
        )  # fmt: skip
    limit = f"{threshold:g}" if float(f"{threshold:g}") == threshold else repr(threshold)
    size = abs(rho)
    number = shown(size, threshold)
    signed = f"{'−' if rho < 0 else ''}{number}"
    facts = dict(rho=rho, size=size, threshold=threshold, comparison="|rho| >= threshold")
    if size >= threshold:
        if rho < 0:
            detail = (
                f"(ρ = {signed}, a strong negative correlation): the map on random weights "
                "ranks the pixels largely in reverse, so it still follows the image more "
                "than what the model learned"
            )
        else:
            detail = f"(ρ = {signed}): the map barely changed when the weights were randomised"
        return claims.Claim(
            f"suspicious: |ρ| = {number} ≥ {limit} {detail}", verdict="suspicious", **facts
        )
    return claims.Claim(
        f"passes: |ρ| = {number} < {limit} (ρ = {signed}): the map changed with the weights",
        verdict="passes", **facts,
    )  # fmt: skip


@claims.claim
def sanity_rule(threshold: float = SANITY_THRESHOLD) -> claims.Claim:
    """The sanity check's rule in one sentence, to print next to its verdicts."""
    return claims.Claim(
        "Rule: a method passes when the size |ρ| of the Spearman rank correlation between "
        f"its map on the trained model and on a copy with random weights is below "
        f"{threshold:g}; at {threshold:g} or above, in either direction, the map barely "
        "depends on what the model learned (a strong negative ρ: the random model's map "
        "ranks the same pixels in reverse, still following the image). After Adebayo et "
        "al., 2018.",
        threshold=threshold,
    )


def sanity_table(
    trained: dict[str, np.ndarray],
    randomized: dict[str, np.ndarray],
    threshold: float = SANITY_THRESHOLD,
) -> dict[str, list]:
    """Per method, the rank correlation between its map on the trained and random model.

    Returns columns ``{"method": [...], "rank correlation": [...], "verdict": [...]}``;
    a blank map (all one value) has no ranking, so its correlation is NaN and its
    verdict says it cannot tell.
    """
    methods = [m for m in trained if m in randomized]
    rhos = []
    for m in methods:
        blank = np.ptp(trained[m]) == 0 or np.ptp(randomized[m]) == 0
        rhos.append(
            float("nan") if blank else round(rank_correlation(trained[m], randomized[m]), 3)
        )
    verdicts = [sanity_verdict(r, threshold) for r in rhos]
    return {"method": methods, "rank correlation": rhos, "verdict": verdicts}


def mass_fraction(cam: np.ndarray, mask: np.ndarray) -> float:
    """The share of a heatmap's total mass inside a boolean ``mask`` (0 for an empty map)."""
    total = float(cam.sum())
    return float(cam[mask].sum()) / total if total > 0 else 0.0


# -------------------------------------------------------------- activation maximisation

# Defaults of :func:`maximize`, chosen on the bundled MNIST models (see the test that the
# ten class dreams of the default model and of book_mnist are read as their class by
# another model too).
DREAM_STEPS = 100
DREAM_MARGIN = 2  # pixels around a filter's receptive field in Dream.view


@dataclass
class Dream:
    """An input optimised to excite one target, with what it took.

    Attributes
    ----------
    image : np.ndarray
        ``float32`` ``(H, W, C)`` in [0, 1].
    scores : list of float
        The target's value on the image after each optimisation step (class score before
        softmax, or the filter's response at the centre of its map).
    box : tuple of int or None
        For a filter, ``(top, left, bottom, right)`` (bottom/right exclusive) of the pixels
        its centre unit sees (its receptive field), where the dream lives; ``None`` for a
        class, which sees the whole image.
    """

    image: np.ndarray
    scores: list[float]
    box: tuple[int, int, int, int] | None = None

    def view(self, margin: int = DREAM_MARGIN) -> np.ndarray:
        """The part worth looking at: the whole image, or a filter's field plus ``margin``."""
        if self.box is None:
            return self.image
        top, left, bottom, right = self.box
        h, w = self.image.shape[:2]
        return self.image[
            max(0, top - margin) : min(h, bottom + margin),
            max(0, left - margin) : min(w, right + margin),
        ]


def neutral_value(model: keras.Model) -> float:
    """The input that says nothing: black (0) for grayscale models, mid-grey for colour ones.

    Grayscale image data (MNIST, Fashion-MNIST) is drawn white on black, so an empty black
    page is its blank; colour photos have no such background, so mid-grey is.
    """
    return 0.0 if image_shape(model)[-1] == 1 else 0.5


def _unit_model(model: keras.Model, layer: str, all_linear: bool = False) -> keras.Model:
    """A model from the input to ``layer``'s output *before* its activation.

    A ReLU unit that is silent at the start has no gradient, so the ascent would never
    move; its pre-activation always has one. ``all_linear``: every layer's activation is
    dropped, not only the target's. Built on a clone: ``model`` is untouched.
    """
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    target = clone.get_layer(layer)
    for inner in clone.layers if all_linear else [target]:
        if getattr(inner, "activation", None) is not None:
            inner.activation = keras.activations.linear
    return keras.Model(clone.inputs, target.output)


def receptive_field(model: keras.Model, layer: str) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` of the input pixels the centre unit of ``layer`` sees.

    Found by gradients rather than by formula, so any stack of conv, pooling and padding
    layers works: the input pixels whose change moves the centre unit of any channel, for
    a few random inputs (max pooling passes gradient to one pixel per window, so one input
    is not enough), through a copy whose layer activations are linear (a ReLU that is
    silent for those inputs would hide its part of the field).

    Examples
    --------
    >>> from cnnviz import models
    >>> m = models.build("toy_4x4", (4, 4, 1), 2)   # one 3×3 conv: a 2×2 map
    >>> receptive_field(m, "conv1")   # its unit (1, 1) sees rows and columns 1–3
    (1, 1, 4, 4)
    """
    import tensorflow as tf

    sub = _unit_model(model, layer, all_linear=True)  # a silent ReLU passes no gradient
    h, w = sub.outputs[0].shape[1:3]
    x = tf.Variable(np.random.default_rng(0).random((4, *image_shape(model)), np.float32))
    with tf.GradientTape() as tape:
        out = sub(x, training=False)  # (4, h, w, c)
        centre = tf.reduce_sum(out[:, h // 2, w // 2, :])
    grad = np.abs(tape.gradient(centre, x).numpy()).sum(axis=(0, 3))  # (H, W)
    rows, cols = np.flatnonzero(grad.any(axis=1)), np.flatnonzero(grad.any(axis=0))
    if not len(rows):
        return 0, 0, *grad.shape
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _random_transforms(
    n: int, rng: np.random.Generator, size: tuple[int, int], jitter: int, rotation: float,
    scale: float,
) -> np.ndarray:  # fmt: skip
    """``(n, 8)`` projective transforms (output -> input pixel) for keras.ops.image."""
    h, w = size
    angles = np.deg2rad(rng.uniform(-rotation, rotation, n))
    zooms = rng.uniform(1 - scale, 1 + scale, n)
    shifts = rng.integers(-jitter, jitter + 1, (n, 2)) if jitter else np.zeros((n, 2))
    cy, cx = (h - 1) / 2, (w - 1) / 2
    out = np.zeros((n, 8), np.float32)
    for i, (a, z, (dy, dx)) in enumerate(zip(angles, zooms, shifts, strict=True)):
        c, s = np.cos(a) / z, np.sin(a) / z  # rotate and zoom about the centre, then shift
        out[i, :6] = [c, -s, cx - c * cx + s * cy - dx, s, c, cy - s * cx - c * cy - dy]
    return out


def _blur_kernel(sigma: float, channels: int) -> np.ndarray:
    """A ``(k, k, channels, 1)`` Gaussian for a depthwise convolution (identity if 0)."""
    if sigma <= 0:
        return np.ones((1, 1, channels, 1), np.float32)
    r = np.arange(-int(np.ceil(3 * sigma)), int(np.ceil(3 * sigma)) + 1)
    g = np.exp(-(r**2) / (2 * sigma**2))
    k = np.outer(g, g) / np.outer(g, g).sum()
    return np.repeat(k[:, :, None, None], channels, axis=2).astype(np.float32)


def maximize(
    model: keras.Model,
    targets: int | list[int],
    layer: str | None = None,
    *,
    steps: int = DREAM_STEPS,
    tv_weight: float = 0.5,
    norm_weight: float = 0.5,
    jitter: int | None = None,
    rotation: float | None = None,
    scale: float | None = None,
    blur: float = 0.8,
    learning_rate: float = 0.02,
    seed: int = 0,
) -> list[Dream]:
    """Activation maximisation: the inputs that most excite classes or filters.

    Projected gradient ascent on the input. Each step

    1. draws the current image through a Gaussian ``blur`` (the dream is made of smooth
       strokes, not single-pixel noise),
    2. moves it by a random ``jitter`` (pixels), ``rotation`` (degrees) and ``scale``
       (fraction), so that only features that survive small moves and turns pay off
       (what a network reads as a digit does; adversarial pixel noise does not),
    3. follows the gradient of the target minus the total-variation (``tv_weight``:
       smoothness) and L2-norm (``norm_weight``: little ink far from the
       :func:`neutral_value`) penalties,
    4. clips the image back to the valid range [0, 1].

    It starts from the neutral value (plus faint noise), not from random noise. All
    targets are optimised together as one batch, so ten classes cost about as much as one.

    A class is scored before softmax. A filter is scored at the centre of its map, before
    its activation (a silent ReLU gives no gradient), divided by its steepest slope at the
    start (weak filters get the same contrast as strong ones), from a mid-grey start so
    it can ask for darker and brighter pixels; its dream lives in that unit's receptive
    field (:attr:`Dream.box`), so filters move by at most one pixel and do not turn. The
    recorded scores are the raw responses.

    Parameters
    ----------
    model : keras.Model
        Functional image model (not modified: the work is done on clones).
    targets : int or list of int
        Class indices (``layer=None``) or filter indices of conv ``layer``.
    layer : str or None
        A conv layer to dream filters of; ``None`` dreams output classes.
    steps : int
        Gradient-ascent steps (1–2000).
    tv_weight, norm_weight : float
        Total-variation and L2-norm penalty weights (0 switches one off).
    jitter, rotation, scale : int, float, float or None
        Random moves per step; ``None``: 2 px, 10°, ±10 % for classes, 1 px, 0°, 0 for
        filters.
    blur : float
        Sigma in pixels of the Gaussian the image is drawn through (0: none).
    learning_rate : float
        Adam's step size, in units of the [0, 1] pixel range.
    seed : int
        Seed of the starting noise and of the random moves.

    Returns
    -------
    list of Dream
        One per target: the image in [0, 1] and the target's value after each step.
    """
    import tensorflow as tf

    shape = image_shape(model)
    targets = [int(t) for t in np.atleast_1d(targets)]
    if not 1 <= steps <= 2000:
        raise ExplainError(f"steps must be between 1 and 2000, got {steps}.")
    if not targets:
        raise ExplainError("Choose at least one class or filter to visualise.")
    for name, value in (("tv_weight", tv_weight), ("norm_weight", norm_weight), ("blur", blur)):
        if not value >= 0:
            raise ExplainError(f"{name} must be 0 or more, got {value}.")
    if layer is None:
        net, n_units, what = linear_clone(model), int(model.outputs[0].shape[-1]), "class index"
        start, box, moves = neutral_value(model), None, (2, 10.0, 0.1)
    else:
        if layer not in conv_layers(model):
            raise ExplainError(f"{layer!r} is not a convolutional layer of {model.name!r}.")
        net = _unit_model(model, layer)
        n_units, what = int(net.outputs[0].shape[-1]), f"filter of {layer}"
        start, box, moves = 0.5, receptive_field(model, layer), (1, 0.0, 0.0)
    bad = [t for t in targets if not 0 <= t < n_units]
    if bad:
        raise ExplainError(f"{what} must be in 0..{n_units - 1}, got {bad[0]}.")
    jitter = moves[0] if jitter is None else int(jitter)
    rotation = moves[1] if rotation is None else float(rotation)
    scale = moves[2] if scale is None else float(scale)

    n = len(targets)
    rng = np.random.default_rng(seed)
    picks = tf.constant(np.eye(n_units, dtype=np.float32)[targets])  # (n, units) one-hot
    kernel = tf.constant(_blur_kernel(blur, shape[-1]))
    x = tf.Variable(np.clip(start + rng.normal(0, 0.02, (n, *shape)), 0, 1).astype(np.float32))
    optimizer = keras.optimizers.Adam(learning_rate)

    def score(images):
        out = net(images, training=False)
        if layer is not None:  # (n, h, w, c): the centre unit of each chosen channel
            out = out[:, out.shape[1] // 2, out.shape[2] // 2, :]
        return tf.reduce_sum(out * picks, axis=-1)  # (n,)

    def draw(v):
        return tf.nn.depthwise_conv2d(v, kernel, [1, 1, 1, 1], "SAME")  # (n, H, W, C)

    gain = tf.ones(n)
    if layer is not None:
        # A filter's response is divided by its steepest slope at the start, so weak and
        # strong filters meet the same penalties and are drawn with the same contrast.
        with tf.GradientTape() as tape:
            first = score(draw(x))
        slope = tf.reduce_max(tf.abs(tape.gradient(first, x)), axis=(1, 2, 3))  # (n,)
        gain = 1.0 / tf.maximum(slope, 1e-8)

    @tf.function(reduce_retracing=True)
    def step(transforms):
        with tf.GradientTape() as tape:
            drawn = draw(x)
            moved = keras.ops.image.affine_transform(
                drawn, transforms, interpolation="bilinear", fill_mode="constant",
                fill_value=start,
            )  # fmt: skip
            tv = tf.reduce_mean(tf.abs(drawn[:, 1:] - drawn[:, :-1]), axis=(1, 2, 3))
            tv += tf.reduce_mean(tf.abs(drawn[:, :, 1:] - drawn[:, :, :-1]), axis=(1, 2, 3))
            norm = tf.sqrt(tf.reduce_mean(tf.square(drawn - start), axis=(1, 2, 3)) + 1e-12)
            # Penalties are per-pixel means; x10 puts them on the scale of a class score.
            penalty = 10 * (tv_weight * tv + norm_weight * norm)
            loss = -tf.reduce_sum(gain * score(moved) - penalty)
        optimizer.apply_gradients([(tape.gradient(loss, x), x)])
        x.assign(tf.clip_by_value(x, 0.0, 1.0))  # projected: stay a valid image
        return score(draw(x))

    sink = io.StringIO()
    history = []
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")  # keras: input structure name mismatch
        for _ in range(steps):
            moves_ = _random_transforms(n, rng, shape[:2], jitter, rotation, scale)
            history.append(step(tf.constant(moves_)).numpy())
        images = np.clip(draw(x).numpy(), 0, 1)  # (n, H, W, C)
    curves = np.stack(history, axis=1)  # (n, steps)
    return [Dream(images[i], [float(v) for v in curves[i]], box) for i in range(n)]


@claims.claim
def curves_verdict(scores: dict[str, list[float]]) -> claims.Claim:
    """One true sentence about activation-maximisation curves: did each target rise?

    A curve *rose* when its last value is above its first. The sentence names the
    targets that did not, so a caption never claims a rise the curves do not show, and
    it prints each pair of numbers with the digits it takes to show their order.

    Examples
    --------
    >>> print(curves_verdict({"class 3": [0.1, 2.0], "class 8": [0.5, 4.0]}))
    Both curves rose: each target fires more strongly than at the start (on average 0.3 → 3).
    >>> print(curves_verdict({"class 3": [0.1, 2.0], "class 8": [4.0, 1.0]}))
    1 of 2 curves rose; class 8 (4 → 1) did not: try more steps or weaker penalties.
    """
    if not scores:
        return claims.Claim("There are no curves to read.", verdict="empty")
    if any(len(v) < 2 for v in scores.values()):
        return claims.Claim(
            "One step is not a curve: run at least two steps to see whether the targets rise.",
            verdict="too short",
        )
    firsts = np.array([v[0] for v in scores.values()], dtype=np.float64)
    lasts = np.array([v[-1] for v in scores.values()], dtype=np.float64)
    if not (np.isfinite(firsts).all() and np.isfinite(lasts).all()):
        return claims.Claim(
            "Some values are not finite numbers: the ascent diverged; try a smaller step.",
            verdict="diverged",
        )
    rose = lasts > firsts
    n = len(rose)
    names_rose = tuple(k for k, r in zip(scores, rose, strict=True) if r)
    names_failed = tuple(k for k, r in zip(scores, rose, strict=True) if not r)
    facts = dict(
        rose=names_rose, failed=names_failed, first_mean=float(firsts.mean()),
        last_mean=float(lasts.mean()),
    )  # fmt: skip
    if rose.all():
        lead = {1: "The curve rose", 2: "Both curves rose"}.get(n, f"All {n} curves rose")
        who = "the target fires" if n == 1 else "each target fires"
        a, b = _g_pair(facts["first_mean"], facts["last_mean"], 2)
        return claims.Claim(
            f"{lead}: {who} more strongly than at the start (on average {a} → {b}).",
            verdict="rose", **facts,
        )  # fmt: skip
    failed = []
    for k in names_failed:
        a, b = _g_pair(float(scores[k][0]), float(scores[k][-1]), 2)
        failed.append(f"{k} ({a} → {b})")
    return claims.Claim(
        f"{int(rose.sum())} of {n} curves rose; {', '.join(failed)} did not: "
        "try more steps or weaker penalties.",
        verdict="mixed", **facts,
    )  # fmt: skip


@claims.claim
def dream_label(target: str, probs: np.ndarray, names: tuple[str, ...] | list[str]) -> claims.Claim:
    """A class dream's title: what the model reads it as, with :func:`percent`.

    >>> dream_label("3", np.array([0.1, 0.9]), ("3", "8"))
    'class 3 (read as 8, 90.0 %)'
    """
    probs = np.asarray(probs, dtype=np.float64)
    best = int(np.argmax(probs))
    return claims.Claim(
        f"class {target} (read as {names[best]}, {percent(probs[best])})",
        target=target, read_as=best, probability=float(probs[best]),
    )  # fmt: skip


@claims.claim
def second_opinion_sentence(
    other: str,
    targets: list[int] | tuple[int, ...],
    read_as: list[int] | tuple[int, ...],
    names: tuple[str, ...] | list[str],
) -> claims.Claim:
    """What a second model, trained apart on the same data, reads the class dreams as.

    ``targets[i]`` is the class dream ``i`` was made for, ``read_as[i]`` the second model's
    top class for it. A dream both models read as its class shows what the class looks
    like to a CNN; one only its own model reads so may be noise that fools that network.

    Examples
    --------
    >>> str(second_opinion_sentence("m2", [0, 1], [0, 0], ("a", "b")))[:60]
    'm2, a second model trained apart on the same data, reads 1 o'
    """
    targets = [int(t) for t in targets]
    read_as = [int(r) for r in read_as]
    if not targets or len(targets) != len(read_as):
        raise ValueError(
            f"need one reading per dream, got {len(targets)} dreams and {len(read_as)} readings"
        )
    n = len(targets)
    misread = tuple((t, r) for t, r in zip(targets, read_as, strict=True) if t != r)
    agreed = n - len(misread)
    who = f"{other}, a second model trained apart on the same data,"
    if not misread and n == 1:
        text = (
            f"{who} reads this dream as {names[targets[0]]}: it shows what the class "
            "looks like to a CNN, not noise that fools one network."
        )
    elif not misread:
        text = (
            f"{who} reads all {n} dreams as their class: they show what the classes "
            "look like to a CNN, not noise that fools one network."
        )
    else:
        which = "; ".join(f"the {names[t]} dream as {names[r]}" for t, r in misread)
        text = (
            f"{who} reads {agreed} of {n} dream{'s' if n != 1 else ''} as "
            f"{'its' if n == 1 else 'their'} class (it "
            f"reads {which}): a dream only one model reads as its class may be noise that "
            "fools that one network."
        )
    return claims.Claim(text, other=other, n=n, agreed=agreed, misread=misread)


@claims.claim
def filter_view_caption(box: tuple[int, int, int, int], margin: int = 2) -> claims.Claim:
    """The caption under filter dreams: the receptive field (``box``) they are cut to."""
    top, left, bottom, right = box
    h, w = int(bottom - top), int(right - left)
    return claims.Claim(
        f"Each filter is shown in the {h}×{w} pixels its centre unit sees (its receptive "
        f"field) plus a {margin}-pixel margin, on mid-grey: white where it wants "
        "brightness, black where it wants darkness. For a first conv layer this is the "
        "kernel's pattern; deeper filters combine several.",
        field=(h, w), margin=margin,
    )  # fmt: skip


# ------------------------------------------------------------------------ ImageNet model


def imagenet_model(weights: str | None = "imagenet") -> keras.Model:
    """MobileNetV2 trained on ImageNet, taking ``(224, 224, 3)`` images in [0, 1].

    The [-1, 1] rescaling MobileNetV2 expects is a layer inside the model, so heatmaps
    and activations work on [0, 1] images. The weights (14 MB) are downloaded once into
    ``~/.keras/models``.

    Raises
    ------
    ExplainError
        When the weights cannot be downloaded (offline) or read.
    """
    inputs = keras.Input(IMAGENET_INPUT, name="image")  # (batch, 224, 224, 3) in [0, 1]
    scaled = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(inputs)
    try:
        return keras.applications.MobileNetV2(weights=weights, input_tensor=scaled)
    except Exception as exc:
        raise ExplainError(
            "The ImageNet weights for MobileNetV2 could not be downloaded (no internet access?); "
            f"the ImageNet heatmaps need them once ({type(exc).__name__})."
        ) from exc


def imagenet_labels(probs: np.ndarray, top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` ImageNet class names with probabilities (indices if names are offline)."""
    order = np.argsort(probs)[::-1][:top]
    try:
        decoded = keras.applications.mobilenet_v2.decode_predictions(probs[None], top=top)[0]
        return [(name.replace("_", " "), float(p)) for _, name, p in decoded]
    except Exception:
        return [(f"class {i}", float(probs[i])) for i in order]
