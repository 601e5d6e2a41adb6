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


def feature_map_layers(model: keras.Model) -> list[str]:
    """Names of the layers whose output is a stack of 2-D maps ``(batch, h, w, c)``."""
    return [
        layer.name
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4
    ]


def _batch(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Validate one ``(H, W, C)`` image against the model and add the batch axis."""
    expected = image_shape(model)
    image = np.asarray(image, dtype=np.float32)
    if image.shape != expected:
        raise ExplainError(f"The image has shape {image.shape}; the model expects {expected}.")
    return image[None]  # (1, H, W, C)


def predict_proba(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Class probabilities ``(K,)`` for one image (a direct call: far faster than predict).

    A one-unit sigmoid model returns ``[1 - p, p]``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # keras: input structure name mismatch
        out = keras.ops.convert_to_numpy(model(_batch(model, image), training=False))[0]
    out = out.astype(np.float64)
    return np.array([1 - out[0], out[0]]) if out.shape == (1,) else out


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
        size = int(np.prod(layer.output.shape[1:]))
        return f"Flatten only lines up the previous layer's values into one vector of {size}."
    if isinstance(layer, keras.layers.Dropout):
        return "Dropout is switched off when predicting: its output equals its input."
    return None


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
        ``float32`` ``(H, W)`` in [0, 1] at the input's resolution (all zeros when the
        method finds no positive evidence).
    """
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
    cls = _check_class(model, class_index, x)
    if model.outputs[0].shape[-1] > 1:
        score = CategoricalScore([cls])
    else:  # one sigmoid unit: its logit is evidence for class 1, its negative for class 0
        sign = 1.0 if cls == 1 else -1.0

        def score(out):
            return sign * out[:, 0]

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
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")  # keras input-structure and scipy deprecation notes
        seed = tf.constant(x)
        if method == "scorecam" and model.outputs[0].shape[-1] == 1:
            raise ExplainError(
                "Score-CAM weighs masks by a softmax over classes, so it needs several output "
                "units; this model has one sigmoid unit."
            )
        if method == "scorecam":
            # Score-CAM weighs masked copies by softmax scores: it wants the original model.
            cam = Scorecam(model)(score, seed, penultimate_layer=layer)
        elif method in ("saliency", "smoothgrad"):
            samples = smooth_samples if method == "smoothgrad" else 0
            cam = Saliency(linear_clone(model))(
                score, seed, smooth_samples=samples, smooth_noise=smooth_noise
            )
        else:
            cls_ = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "layercam": Layercam}
            cam = cls_[method](linear_clone(model))(
                score, seed, penultimate_layer=layer, seek_penultimate_conv_layer=False
            )
    cam = np.nan_to_num(np.asarray(cam, dtype=np.float32)[0])  # (H, W)
    return np.clip(cam, 0, 1)


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


def sanity_table(
    trained: dict[str, np.ndarray], randomized: dict[str, np.ndarray]
) -> dict[str, list]:
    """Per method, the rank correlation between its map on the trained and random model.

    Returns columns ``{"method": [...], "rank correlation": [...], "verdict": [...]}``.
    """
    methods = [m for m in trained if m in randomized]
    rhos = [round(rank_correlation(trained[m], randomized[m]), 3) for m in methods]
    verdicts = [
        "changed: depends on the weights" if r < 0.5 else "similar: suspicious" for r in rhos
    ]
    return {"method": methods, "rank correlation": rhos, "verdict": verdicts}


def mass_fraction(cam: np.ndarray, mask: np.ndarray) -> float:
    """The share of a heatmap's total mass inside a boolean ``mask`` (0 for an empty map)."""
    total = float(cam.sum())
    return float(cam[mask].sum()) / total if total > 0 else 0.0


# -------------------------------------------------------------- activation maximisation


@dataclass
class Dream:
    """An input optimised to excite one target, with what it took.

    Attributes
    ----------
    image : np.ndarray
        ``float32`` ``(H, W, C)`` in [0, 1].
    scores : list of float
        The target's value after each optimisation step.
    """

    image: np.ndarray
    scores: list[float]


def maximize(
    model: keras.Model,
    targets: int | list[int],
    layer: str | None = None,
    *,
    steps: int = 50,
    tv_weight: float = 0.3,
    norm_weight: float = 0.1,
    jitter: int = 1,
    seed: int = 0,
) -> list[Dream]:
    """Activation maximisation: the inputs that most excite classes or filters.

    All targets are optimised together as one batch, so ten classes cost about as much
    as one.

    Parameters
    ----------
    model : keras.Model
        Functional image model (not modified: tf-keras-vis works on a clone).
    targets : int or list of int
        Class indices (``layer=None``) or filter indices of conv ``layer``.
    layer : str or None
        A conv layer to dream filters of; ``None`` dreams output classes (pre-softmax).
    steps : int
        Gradient-ascent steps.
    tv_weight, norm_weight : float
        Total-variation (smoothness) and L2-norm (small values) regularisation weights.
    jitter : int
        Random shift in pixels applied before each step (makes the result robust).
    seed : int
        Seed of the starting noise and of the jitter.

    Returns
    -------
    list of Dream
        One per target: the image in [0, 1] and the target's value per step.
    """
    import tensorflow as tf
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.activation_maximization.callbacks import Callback
    from tf_keras_vis.activation_maximization.input_modifiers import Jitter
    from tf_keras_vis.activation_maximization.regularizers import (
        Norm,
        TotalVariation2D,
    )
    from tf_keras_vis.utils.model_modifiers import (
        ExtractIntermediateLayer,
        ReplaceToLinear,
    )

    shape = image_shape(model)
    targets = [int(t) for t in np.atleast_1d(targets)]
    if not 1 <= steps <= 2000:
        raise ExplainError(f"steps must be between 1 and 2000, got {steps}.")
    if not targets:
        raise ExplainError("Choose at least one class or filter to visualise.")
    if layer is None:
        n_units, what = int(model.outputs[0].shape[-1]), "class index"
        modifiers = [ReplaceToLinear()]
    else:
        if layer not in conv_layers(model):
            raise ExplainError(f"{layer!r} is not a convolutional layer of {model.name!r}.")
        n_units, what = int(model.get_layer(layer).output.shape[-1]), f"filter of {layer}"
        modifiers = [ExtractIntermediateLayer(layer)]
    bad = [t for t in targets if not 0 <= t < n_units]
    if bad:
        raise ExplainError(f"{what} must be in 0..{n_units - 1}, got {bad[0]}.")
    picks = tf.constant(np.eye(n_units, dtype=np.float32)[targets])  # (n, units) one-hot

    def score(out):
        if layer is None:  # (n, classes): each sample's own class score
            return tf.reduce_sum(out * picks, axis=-1)
        # (n, h, w, c): mean of each sample's map's positive part (a linear filter's
        # plain mean is nearly flat in the input, so it gives no picture).
        maps = tf.reduce_sum(out * picks[:, None, None, :], axis=-1)  # (n, h, w)
        return tf.reduce_mean(tf.nn.relu(maps), axis=(1, 2))

    history: list[np.ndarray] = []

    class _Record(Callback):
        def __call__(self, i, values, grads, scores, *args, **kwargs):
            history.append(np.ravel(keras.ops.convert_to_numpy(scores[0])))  # (n,)

    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 1, size=(len(targets), *shape)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf.random.set_seed(seed)  # Jitter draws from TF's RNG
        viz = ActivationMaximization(model, model_modifier=modifiers)
        result = viz(
            score,
            seed_input=tf.constant(start),
            input_range=(0.0, 1.0),
            input_modifiers=[Jitter(jitter=jitter)] if jitter else [],
            regularizers=[TotalVariation2D(weight=tv_weight), Norm(weight=norm_weight, p=2)],
            steps=steps,
            optimizer=keras.optimizers.Adam(learning_rate=0.05),
            callbacks=[_Record()],
        )
    images = np.clip(np.asarray(result, dtype=np.float32), 0, 1)  # (n, H, W, C)
    curves = np.stack(history, axis=1) if history else np.zeros((len(targets), 0))  # (n, steps)
    return [Dream(images[i], [float(v) for v in curves[i]]) for i in range(len(targets))]


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
