"""A CNN's forward pass by hand: Keras weights, numpy arithmetic, the same numbers.

:func:`forward` walks a Keras model layer by layer and recomputes every output in numpy
(convolutions through :func:`cnnviz.conv.conv2d`, pooling through
:func:`cnnviz.pooling.pool2d`), so the app can show that a CNN is nothing but sums,
maxima and a squashing function. :func:`compare` checks each layer against Keras.
The cookbook's toy problem (two 4×4 inputs, a 12-parameter CNN) is small enough to
write every number down: :func:`train_toy` and :func:`toy_walkthrough`.

>>> from cnnviz import models
>>> m = toy_model(seed=0)
>>> [name for name, _ in forward(m, TOY_X)]
['conv1', 'pool1', 'flatten', 'output']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import keras
import numpy as np

from cnnviz import claims, conv, data, models, pooling


class ToyError(ValueError):
    """A toy-problem setting (epochs, input index) is out of range; the message says which."""


class UnsupportedLayerError(ValueError):
    """:func:`forward` has no numpy version of a layer; the message names it and its type."""


# --- activations -------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x) without overflow


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # shifting by the max avoids overflow
    return e / e.sum(axis=axis, keepdims=True)


def _leaky_relu(x: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    return np.where(x >= 0, x, negative_slope * x)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "leaky_relu": _leaky_relu,  # Keras' default slope 0.2
    "sigmoid": _sigmoid,
    "softmax": _softmax,
    "tanh": np.tanh,
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
}


def _activation(layer, x: np.ndarray) -> np.ndarray:
    name = layer.get_config().get("activation", "linear")
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise UnsupportedLayerError(
            f"layer {layer.name!r} ({type(layer).__name__}) uses activation {name!r}, which "
            f"forward() does not implement; supported: {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name](x)


# --- one layer at a time ------------------------------------------------------------


def _w(variable) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=np.float64)


def _conv2d(layer, x: np.ndarray) -> np.ndarray:
    cfg = layer.get_config()
    if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("groups", 1) != 1:
        raise UnsupportedLayerError(
            f"layer {layer.name!r} (Conv2D) uses channels_first or groups > 1, which "
            "forward() does not implement"
        )
    kernel = _w(layer.kernel)  # (kh, kw, Cin, Cout)
    bias = _w(layer.bias) if layer.use_bias else None
    # conv2d takes one image (H, W, Cin); a batch is a handful of images, not pixels.
    out = np.stack(
        [
            conv.conv2d(
                img,
                kernel,
                bias,
                stride=tuple(cfg["strides"]),
                padding=cfg["padding"],
                dilation=tuple(cfg["dilation_rate"]),
            )
            for img in x
        ]
    )  # (N, Ho, Wo, Cout)
    return _activation(layer, out)


def _pool(layer, x: np.ndarray, mode: str) -> np.ndarray:
    cfg = layer.get_config()
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedLayerError(f"layer {layer.name!r} uses channels_first pooling")
    n, h, w, c = x.shape
    # Pooling is per channel, so the batch folds into the channels: one call for all.
    folded = x.transpose(1, 2, 0, 3).reshape(h, w, n * c)  # (H, W, N*C)
    out = pooling.pool2d(
        folded,
        size=tuple(cfg["pool_size"]),
        stride=tuple(cfg["strides"]) if cfg.get("strides") else None,
        padding=cfg["padding"],
        mode=mode,
    )  # (Ho, Wo, N*C)
    return out.reshape(out.shape[0], out.shape[1], n, c).transpose(2, 0, 1, 3)


def _batch_norm(layer, x: np.ndarray) -> np.ndarray:
    # Inference: the moving statistics, never the batch's own.
    axes = layer.axis if isinstance(layer.axis, list | tuple) else [layer.axis]
    shape = [1] * x.ndim
    for a in axes:
        shape[a % x.ndim] = x.shape[a]
    mean = _w(layer.moving_mean).reshape(shape)
    var = _w(layer.moving_variance).reshape(shape)
    out = (x - mean) / np.sqrt(var + layer.epsilon)
    if layer.scale:
        out = out * _w(layer.gamma).reshape(shape)
    if layer.center:
        out = out + _w(layer.beta).reshape(shape)
    return out


def _relu_layer(layer, x: np.ndarray) -> np.ndarray:
    cfg = layer.get_config()
    slope, thr, top = cfg.get("negative_slope", 0.0), cfg.get("threshold", 0.0), cfg["max_value"]
    out = np.where(x >= thr, x, slope * (x - thr))
    return out if top is None else np.minimum(out, top)


INFERENCE_IDENTITY = {  # inference-time no-ops: noise and augmentation switch off outside training
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "RandomContrast",
    "RandomBrightness",
    "ActivityRegularization",
}


def layer_forward(layer, x: np.ndarray) -> np.ndarray:
    """Run one Keras layer's inference in numpy.

    Parameters
    ----------
    layer : keras.layers.Layer
        One of the supported types (see :func:`forward`).
    x : np.ndarray
        float64 batch, e.g. ``(N, H, W, C)``.

    Returns
    -------
    np.ndarray
        float64, the layer's output for the batch.

    Raises
    ------
    UnsupportedLayerError
        The layer type (or its activation) has no numpy version here.
    """
    kind = type(layer).__name__
    if kind in INFERENCE_IDENTITY:
        return x
    if kind == "Conv2D":
        return _conv2d(layer, x)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return _pool(layer, x, "max" if kind.startswith("Max") else "avg")
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        out = x.mean(axis=(1, 2)) if "Average" in kind else x.max(axis=(1, 2))
        return out[:, None, None, :] if layer.get_config().get("keepdims") else out
    if kind == "Dense":
        out = x @ _w(layer.kernel)  # (N, units): acts on the last axis
        return _activation(layer, out + _w(layer.bias) if layer.use_bias else out)
    if kind == "Flatten":
        return x.reshape(len(x), -1)  # channels last: the same order as Keras
    if kind == "Reshape":
        return x.reshape((len(x), *layer.target_shape))
    if kind == "BatchNormalization":
        return _batch_norm(layer, x)
    if kind == "Activation":
        return _activation(layer, x)
    if kind == "ReLU":
        return _relu_layer(layer, x)
    if kind == "LeakyReLU":
        return _leaky_relu(x, layer.get_config().get("negative_slope", 0.3))
    if kind == "Softmax":
        return _softmax(x, axis=layer.get_config().get("axis", -1))
    if kind == "Rescaling":
        return x * layer.scale + layer.offset
    if kind == "ZeroPadding2D" and layer.get_config().get("data_format") != "channels_first":
        (top, bottom), (left, right) = layer.padding
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))  # zeros around
    raise UnsupportedLayerError(
        f"layer {layer.name!r} of type {kind} has no numpy version in forward(); supported: "
        "Conv2D, MaxPooling2D, AveragePooling2D, global pooling, Dense, Flatten, Reshape, "
        "Dropout, BatchNormalization, Activation, ReLU, LeakyReLU, Softmax, Rescaling, "
        "ZeroPadding2D"
    )


# --- a whole model ------------------------------------------------------------------


def steps(model) -> list[tuple[object, object, object]]:
    """(layer, its input tensor, its output tensor) in running order.

    Read from this model's own graph nodes (deepest first), not ``layer.input``: a layer
    rewired by :func:`cnnviz.models.to_functional` belongs to two graphs.
    """
    out = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            layer = node.operation
            if type(layer).__name__ == "InputLayer":
                continue
            if len(node.input_tensors) != 1 or len(node.outputs) != 1:
                raise UnsupportedLayerError(
                    f"layer {layer.name!r} of type {type(layer).__name__} has several inputs "
                    "or outputs; forward() runs only chains of single-input layers"
                )
            out.append((layer, node.input_tensors[0], node.outputs[0]))
    return out


def forward(model, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Run ``model``'s inference in numpy, layer by layer, with its own weights.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential, a chain of supported layers: Conv2D (any stride,
        padding, dilation), Max/AveragePooling2D, GlobalMax/AveragePooling2D, Dense,
        Flatten, Reshape, Dropout-like layers (identity at inference),
        BatchNormalization (moving statistics), Activation, ReLU, LeakyReLU, Softmax,
        Rescaling, ZeroPadding2D; activations in :data:`ACTIVATIONS`.
    x : np.ndarray
        One input ``(H, W, C)`` or a batch ``(N, H, W, C)``, floats as the model eats them.

    Returns
    -------
    list of (str, np.ndarray)
        ``(layer name, float64 output with the batch axis)`` for every layer but the
        input; the last output equals ``model.predict(x)`` to float32 precision.

    Raises
    ------
    UnsupportedLayerError
        For a layer or activation it cannot compute, naming the layer and its type.
    """
    return [(layer.name, out) for layer, _, out in forward_steps(model, x)]


def forward_steps(
    model, x: np.ndarray, unsupported: dict[str, str] | None = None
) -> list[tuple[object, np.ndarray, np.ndarray]]:
    """:func:`forward` with each layer's input too: ``(layer, input, output)`` in order.

    The one forward pass behind :func:`forward` and :mod:`cnnviz.network` (which explains
    any unit from its layer's input and weights). Arrays are float64 with the batch axis.

    Parameters
    ----------
    model, x
        As for :func:`forward`.
    unsupported : dict, optional
        When given, a layer with no numpy version does not stop the pass: its output is
        Keras's own (:func:`keras_outputs`, one batched call for the whole model) and
        ``unsupported[layer name]`` gets the reason.
    """
    model = models.to_functional(model)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == len(model.inputs[0].shape) - 1:
        x = x[None]  # one image -> a batch of one
    values = {id(model.inputs[0]): x}
    theirs = None  # Keras's outputs, only computed when a layer needs them
    out: list[tuple[object, np.ndarray, np.ndarray]] = []
    for layer, in_tensor, out_tensor in steps(model):
        in_id, out_id = id(in_tensor), id(out_tensor)
        if in_id not in values:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} ({type(layer).__name__}) takes an input that no "
                "earlier layer produced"
            )
        try:
            if isinstance(layer, keras.Model):  # a nested model: its last output
                values[out_id] = forward(layer, values[in_id])[-1][1]
            else:
                values[out_id] = layer_forward(layer, values[in_id])
        except UnsupportedLayerError as exc:
            if unsupported is None:
                raise
            if theirs is None:
                theirs = [np.asarray(o, np.float64) for _, o in keras_outputs(model, x)]
            values[out_id] = theirs[len(out)]
            unsupported[layer.name] = str(exc)
        out.append((layer, values[in_id], values[out_id]))
    return out


@dataclass(frozen=True)
class LayerDiff:
    """One row of the comparison table: numpy vs Keras for one layer."""

    layer: str
    kind: str
    shape: tuple[int, ...]
    max_abs_diff: float
    max_abs_value: float


def compare(model, x: np.ndarray) -> list[LayerDiff]:
    """Each layer's numpy output against Keras' own on the same input.

    Parameters
    ----------
    model : keras.Model
        As for :func:`forward`.
    x : np.ndarray
        ``(H, W, C)`` or ``(N, H, W, C)``.

    Returns
    -------
    list of LayerDiff
        One per layer of :func:`forward`, with the largest absolute difference.
    """
    model = models.to_functional(model)
    ours = forward(model, x)
    chain = steps(model)
    theirs = [out for _, out in keras_outputs(model, x)]
    return [
        LayerDiff(
            layer=name,
            kind=type(layer).__name__,
            shape=tuple(int(s) for s in mine.shape[1:]),
            max_abs_diff=float(np.abs(mine - np.asarray(ref, np.float64)).max()),
            max_abs_value=float(np.abs(mine).max()),
        )
        for (name, mine), (layer, _, _), ref in zip(ours, chain, theirs, strict=True)
    ]


def keras_outputs(model, x: np.ndarray) -> list[tuple[object, np.ndarray]]:
    """Every layer's output as Keras computes it, in one batched forward pass.

    Parameters
    ----------
    model : keras.Model
        As for :func:`forward` (only read: a second model over the same layers is built).
    x : np.ndarray
        ``(H, W, C)`` or ``(N, H, W, C)``.

    Returns
    -------
    list of (keras.layers.Layer, np.ndarray)
        In running order (see :func:`steps`), each output float32 with the batch axis.
    """
    model = models.to_functional(model)
    chain = steps(model)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == len(model.inputs[0].shape) - 1:
        x = x[None]
    # A read-only view of the same layers that returns every intermediate output.
    probe = keras.Model(model.inputs, [out for _, _, out in chain])
    outs = probe.predict_on_batch(x)
    outs = outs if isinstance(outs, list | tuple) else [outs]
    return [(layer, np.asarray(o)) for (layer, _, _), o in zip(chain, outs, strict=True)]


# --- the cookbook's toy problem ---------------------------------------------------------

# Two 4×4 "images": mostly positive -> class 0, mostly negative -> class 1, scaled by 1/8.
TOY_X = (
    np.array(
        [
            [[1, 2, 3, 4], [2, 3, 4, 5], [5, 6, 7, 8], [1, 3, 4, 5]],
            [[-1, 2, 3, -4], [2, -3, 4, 5], [-5, 6, -7, 8], [-1, -3, -4, -5]],
        ],
        dtype=np.float32,
    )[..., None]
    / 8
)  # (2, 4, 4, 1)
TOY_Y = np.array([0, 1], dtype=np.int64)


def toy_model(seed: int = 0) -> keras.Model:
    """The 12-parameter toy CNN with Glorot-uniform weights drawn from ``seed``.

    The weights come from a numpy generator, not Keras' global seed, so building a toy
    model never disturbs any other random state.
    """
    model = models.build("toy_4x4", (4, 4, 1), 1)
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.get_weights():
        if w.ndim == 1:
            weights.append(np.zeros_like(w))  # biases start at zero, as in Keras
        else:
            fan_in, fan_out = int(np.prod(w.shape[:-1])), int(w.shape[-1])
            if w.ndim == 4:  # conv: (kh, kw, Cin, Cout), fans include the window
                fan_in, fan_out = int(np.prod(w.shape[:3])), int(np.prod(w.shape[:2]) * w.shape[3])
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            weights.append(rng.uniform(-limit, limit, size=w.shape).astype(np.float32))
    model.set_weights(weights)
    return model


def train_toy(
    seed: int = 0, epochs: int = 300, learning_rate: float = 0.05
) -> tuple[keras.Model, list[float]]:
    """Train a fresh toy model on :data:`TOY_X` (full batch, Adam, binary cross-entropy).

    Returns
    -------
    model : keras.Model
        A new model (never a shared one).
    loss : list of float
        Training loss per epoch.
    """
    if epochs < 1:
        raise ToyError(f"epochs must be >= 1, got {epochs}")
    model = toy_model(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    y = TOY_Y.astype(np.float32)
    # One full-batch step per epoch; train_on_batch skips fit()'s per-epoch setup, which
    # costs ~100 ms for a 12-parameter model (300 epochs: 2 s instead of 30 s).
    loss = [float(model.train_on_batch(TOY_X, y)) for _ in range(epochs)]
    return model, loss


@dataclass(frozen=True)
class ToyTrace:
    """Every number of the toy CNN's forward pass for one 4×4 input."""

    x: np.ndarray  # (4, 4) input
    kernel: np.ndarray  # (3, 3) conv weights
    conv_bias: float
    windows: np.ndarray  # (2, 2, 3, 3): the input patch under each output cell
    conv: np.ndarray  # (2, 2) weighted sums + bias, before ReLU
    relu: np.ndarray  # (2, 2)
    pooled: float  # the max of the 2×2
    pooled_at: tuple[int, int]
    dense_w: float
    dense_b: float
    z: float  # dense_w * pooled + dense_b
    p: float  # sigmoid(z): P(class 1)
    model_p: float  # what model.predict says

    @claims.claim
    def sum_text(self, i: int, j: int) -> claims.Claim:
        """The (i, j) sum written out so that it can be checked by hand.

        Inputs are shown with 3 decimals (they are multiples of 1/8, so exactly), weights
        and the bias with :data:`WEIGHT_DIGITS`. The total after ``=`` is the sum of
        exactly the numbers shown, to :data:`SUM_DIGITS` decimals; when the unrounded
        weights give a different last digit (the value in the matrix), it follows in
        brackets. ``"0.125×0.3100 + … + (-0.0500) = 0.4120"``.
        """
        xs = [_fixed(a, 3) for a in self.windows[i, j].ravel()]
        ws = [_fixed(b, WEIGHT_DIGITS) for b in self.kernel.ravel()]
        bias = _fixed(self.conv_bias, WEIGHT_DIGITS)
        hand = sum((Decimal(a) * Decimal(b) for a, b in zip(xs, ws, strict=True)), Decimal(0))
        shown = _decimal(hand + Decimal(bias), SUM_DIGITS)
        true = _fixed(self.conv[i, j], SUM_DIGITS)
        terms = " + ".join(f"{a}×{_paren(b)}" for a, b in zip(xs, ws, strict=True))
        text = f"{terms} + {_paren(bias)} = {shown}"
        if shown != true:
            text += f" ({true} with the unrounded weights)"
        return claims.Claim(
            text,
            inputs=xs,
            weights=ws,
            bias=bias,
            total=shown,
            true_total=true,
            true_value=float(self.conv[i, j]),
        )


# Decimals the walk-through shows: weights (and every number fed to a sum), the sums, p.
WEIGHT_DIGITS = 4
SUM_DIGITS = 4
P_DIGITS = 6
SOLVED_LOSS = 0.05  # an input answered with at most this cross-entropy is "solved"
HIGH_LOSS = 0.6  # a trained model's loss above this: "still high" (a guess is ln 2 = 0.69)
_KERAS_EPS = 1e-7  # Keras clips probabilities to [eps, 1 - eps] in binary cross-entropy


def _fixed(v: float, digits: int) -> str:
    """``v`` to ``digits`` decimals, never ``-0.0000`` (a value that rounds to 0 is ``0``)."""
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def _decimal(v: Decimal, digits: int) -> str:
    """An exact Decimal rounded half-even to ``digits`` decimals, never ``-0.0000``."""
    q = v.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    s = f"{q:.{digits}f}"
    return s[1:] if s.startswith("-") and q == 0 else s


def _paren(s: str) -> str:
    """A negative number in brackets, as one writes it inside a sum."""
    return f"({s})" if s.startswith("-") else s


def input_loss(p: float, label: int) -> float:
    """Binary cross-entropy of answering ``p = P(class 1)`` for an input of class ``label``.

    Clipped as Keras clips it, so a certain right answer costs about 1e-7, not 0.
    """
    q = float(np.clip(p, _KERAS_EPS, 1 - _KERAS_EPS))
    return float(-np.log(q) if label else -np.log1p(-q))


def decide(p: float) -> tuple[int, bool]:
    """``(class, tie)``: class 1 when ``p > 0.5``; at exactly 0.5 a tie, which goes to 0.

    A sigmoid unit's two classes have probabilities ``(1 − p, p)``; argmax over them takes
    the first of two equal values, so a tie is class 0 (as ``int(p > 0.5)`` says too).
    """
    return int(p > 0.5), p == 0.5


def _class_words(p: float) -> str:
    """The decision in words: ``class **1**``, a named tie, or a near tie that rounds."""
    cls, tie = decide(p)
    if tie:
        return (
            "a **tie**: p is exactly 0.5, so both classes are equally likely; argmax over "
            "(1 − p, p) takes the first of equal values, so the answer is class **0**"
        )
    if _fixed(p, P_DIGITS) == _fixed(0.5, P_DIGITS):
        return (
            f"class **{cls}** (p is just {'above' if cls else 'below'} 0.5, although it "
            f"rounds to {_fixed(0.5, P_DIGITS)})"
        )
    return f"class **{cls}**"


def _small(v: float) -> str:
    """A small non-negative quantity (a loss): 4 decimals, or 2 significant digits."""
    return _fixed(v, 4) if v >= 1e-4 or v == 0 or not np.isfinite(v) else f"{v:.1e}"


@claims.claim
def filter_title(t: ToyTrace) -> claims.Claim:
    """The filter panel's title, with its bias to :data:`WEIGHT_DIGITS` decimals."""
    bias = _fixed(t.conv_bias, WEIGHT_DIGITS)
    return claims.Claim(f"2. filter w (bias {bias})", bias=bias, value=t.conv_bias)


@claims.claim
def output_steps(t: ToyTrace) -> claims.Claim:
    """Steps 5–7 of the walk-through (max-pooling, dense, sigmoid) as markdown.

    Each step is computed from the numbers the previous step shows, so every line can be
    checked by hand; when rounding makes that differ in the last digit from the unrounded
    computation, the unrounded value follows in brackets. Ties are named: several cells
    sharing the maximum, and ``p = 0.5`` (see :func:`decide`).
    """
    pooled = _fixed(t.pooled, SUM_DIGITS)  # as the ReLU matrix shows the cells
    cells = [(int(i), int(j)) for i, j in zip(*np.nonzero(t.relu == t.pooled), strict=True)]
    lead = "**5. Max-pooling** keeps the largest of the four:"
    if t.pooled == 0:
        pool = f"{lead} all four are 0 (the ReLU zeroed every sum), so it passes **{pooled}**."
    elif len(cells) == 1:
        pool = f"{lead} **{pooled}** (cell {cells[0]})."
    else:
        where = ", ".join(map(str, cells[:-1])) + f" and {cells[-1]}"
        pool = f"{lead} **{pooled}** (cells {where} tie: the same value whichever is taken)."
    w, b = _fixed(t.dense_w, WEIGHT_DIGITS), _fixed(t.dense_b, WEIGHT_DIGITS)
    z_hand = _decimal(Decimal(w) * Decimal(pooled) + Decimal(b), SUM_DIGITS)
    z_true = _fixed(t.z, SUM_DIGITS)
    dense = f"**6. Dense**: z = w × max + b = {_paren(w)} × {pooled} + {_paren(b)} = **{z_hand}**"
    if z_hand != z_true:
        dense += f" ({z_true} with the unrounded numbers)"
    p_hand = _fixed(float(_sigmoid(np.float64(float(z_hand)))), P_DIGITS)
    p_true = _fixed(t.p, P_DIGITS)
    sig = f"**7. Sigmoid**: p = 1 / (1 + e^(−z)) = **{p_hand}**"
    if p_hand != p_true:
        sig += f" ({p_true} with the unrounded z)"
    cls, tie = decide(t.p)
    text = f"{pool}\n\n{dense}\n\n{sig} → {_class_words(t.p)}"
    return claims.Claim(
        text,
        pooled=pooled,
        cells=cells,
        dense_w=w,
        dense_b=b,
        z=z_hand,
        z_true=z_true,
        p=p_hand,
        p_true=p_true,
        decided=cls,
        tie=tie,
    )


@claims.claim
def agreement(t: ToyTrace) -> claims.Claim:
    """Whether the hand computation and ``model.predict`` agree to :data:`P_DIGITS` decimals.

    They "agree" only when the two numbers shown (``facts["by_hand"]``, ``facts["keras"]``)
    are the same string.
    """
    hand, theirs = _fixed(t.p, P_DIGITS), _fixed(t.model_p, P_DIGITS)
    agree = hand == theirs
    if agree:
        text = f"The hand computation and Keras agree to {P_DIGITS} decimals."
    else:
        text = (
            f"The hand computation ({hand}) and Keras ({theirs}) differ in the last of "
            f"{P_DIGITS} decimals: Keras computes in float32, numpy here in float64 "
            f"(|difference| {abs(t.p - t.model_p):.1e})."
        )
    return claims.Claim(text, by_hand=hand, keras=theirs, agree=agree)


@claims.claim
def training_caption(
    seed: int, epochs: int, loss: Sequence[float], traces: Sequence[ToyTrace]
) -> claims.Claim:
    """What training did: the loss before the first step and the loss of the model shown.

    The last loss Keras reports is the one *before* the last step; the model shown has
    taken that step, so its loss is computed from the walk-throughs (the mean over the
    inputs of :func:`input_loss`).
    """
    first = float(loss[0]) if len(loss) else float("nan")
    final = float(np.mean([input_loss(t.p, int(TOY_Y[i])) for i, t in enumerate(traces)]))
    text = (
        f"Trained with seed {seed} for {epochs} full-batch epoch{'s' * (epochs != 1)}: binary "
        f"cross-entropy {_fixed(first, 3)} before the first step, {_small(final)} for the "
        "trained model shown."
    )
    return claims.Claim(text, seed=seed, epochs=epochs, first=first, final=final)


def toy_walkthrough(model, index: int = 0) -> ToyTrace:
    """Compute the toy model's output for ``TOY_X[index]`` step by step with its weights.

    Parameters
    ----------
    model : keras.Model
        Built by ``models.build("toy_4x4", (4, 4, 1), 1)`` (trained or not).
    index : int
        0 (the positive input) or 1 (the negative one).
    """
    if index not in (0, 1):
        raise ToyError(f"the toy problem has inputs 0 and 1, got {index}")
    by_name = {layer.name: layer for layer in model.layers}
    model_p = float(np.asarray(model.predict_on_batch(TOY_X[index : index + 1]))[0, 0])
    return toy_trace(
        index,
        _w(by_name["conv1"].kernel)[:, :, 0, 0],
        float(_w(by_name["conv1"].bias)[0]),
        float(_w(by_name["output"].kernel)[0, 0]),
        float(_w(by_name["output"].bias)[0]),
        model_p,
    )


def toy_trace(
    index: int,
    kernel: np.ndarray,
    conv_bias: float,
    dense_w: float,
    dense_b: float,
    model_p: float | None = None,
) -> ToyTrace:
    """The walk-through of ``TOY_X[index]`` from the toy CNN's 12 numbers (no Keras).

    Parameters
    ----------
    index : int
        0 or 1.
    kernel : np.ndarray
        ``(3, 3)`` filter; ``conv_bias``, ``dense_w``, ``dense_b`` the other three numbers.
    model_p : float, optional
        What ``model.predict`` said (defaults to the hand computation's own ``p``).
    """
    if index not in (0, 1):
        raise ToyError(f"the toy problem has inputs 0 and 1, got {index}")
    kernel = np.asarray(kernel, dtype=np.float64).reshape(3, 3)
    x = TOY_X[index, :, :, 0].astype(np.float64)  # (4, 4)
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3))  # (2, 2, 3, 3), display only
    pre = conv.conv2d(x, kernel, float(conv_bias))  # (2, 2)
    relu = np.maximum(pre, 0.0)
    at = np.unravel_index(int(relu.argmax()), relu.shape)
    pooled = float(pooling.pool2d(relu, 2, mode="max")[0, 0])
    z = float(dense_w) * pooled + float(dense_b)
    p = float(_sigmoid(np.float64(z)))
    return ToyTrace(
        x,
        kernel,
        float(conv_bias),
        windows,
        pre,
        relu,
        pooled,
        (int(at[0]), int(at[1])),
        float(dense_w),
        float(dense_b),
        z,
        p,
        p if model_p is None else float(model_p),
    )


def probe_input(
    input_shape: tuple[int, ...], images: np.ndarray | None = None, seed: int = 0
) -> tuple[np.ndarray, str]:
    """An input for the comparison table: a real image when one fits, else seeded noise.

    Parameters
    ----------
    input_shape : tuple of int
        The model's ``(H, W, C)``.
    images : np.ndarray, optional
        uint8 ``(N, H, W, C)`` candidates (e.g. the MNIST sample's test images).

    Returns
    -------
    x : np.ndarray
        float32 ``(1, H, W, C)`` in [0, 1].
    what : str
        Words for the page.
    """
    shape = tuple(int(s) for s in input_shape)
    if images is not None and tuple(images.shape[1:]) == shape:
        return data.prepare(images[:1]), "the first test image of the MNIST sample"
    rng = np.random.default_rng(seed)
    return rng.random((1, *shape)).astype(np.float32), f"uniform noise of shape {shape}"


def table(rows: list[LayerDiff]) -> list[dict]:
    """The comparison as records for a data frame (one dict per layer)."""
    return [
        {
            "layer": r.layer,
            "type": r.kind,
            "output shape": " × ".join(map(str, r.shape)),
            "max |numpy − Keras|": r.max_abs_diff,
            "largest |value|": r.max_abs_value,
        }
        for r in rows
    ]


@claims.claim
def relu_note(
    traces: Sequence[ToyTrace], loss: Sequence[float] | None = None
) -> claims.Claim | None:
    """The note under the toy walk-through, or ``None`` when there is nothing to say.

    ``facts["warn"]`` says whether it is a fault (shown as a warning) or an explanation
    (shown as information). Cases, by ``facts["kind"]``:

    - ``"dead"`` (warn): the ReLU outputs 0 in all four cells for every input, so
      max-pooling passes 0, the prediction is ``sigmoid(b)`` whatever the input and no
      gradient reaches the filter: training cannot fix it.
    - ``"solved_input"`` (no warning): for one input the ReLU outputs 0, but the model
      answers it right with a cross-entropy of at most :data:`SOLVED_LOSS` through the
      dense bias alone; the filter gets no gradient from it and needs none.
    - ``"dead_input"`` (warn): the same for an input the model does not answer well.
    - ``"high_loss"`` (warn): a trained model whose loss (of the model shown, mean over
      the inputs) is still above :data:`HIGH_LOSS` although the ReLU passes values; said
      too, and then a warning, after ``"solved_input"``.

    Parameters
    ----------
    traces : sequence of ToyTrace
        The walk-throughs of the inputs shown (index = input number = its label).
    loss : sequence of float, optional
        Training loss per epoch, when the model was trained.
    """
    dead = [i for i, t in enumerate(traces) if not np.any(t.relu > 0)]
    losses = [input_loss(t.p, int(TOY_Y[i])) for i, t in enumerate(traces)]
    final = float(np.mean(losses)) if losses else float("nan")  # the model shown
    base = {"dead": dead, "losses": losses}
    if traces and len(dead) == len(traces):
        worst = max(float(t.conv.max()) for t in traces)
        p = traces[0].p
        return claims.Claim(
            "Dead ReLU: for every input the filter's four sums are ≤ 0 (largest "
            f"{_fixed(worst, SUM_DIGITS)}), so the ReLU outputs 0, max-pooling passes 0 and "
            f"the prediction is sigmoid(b) = {_fixed(p, 4)} whatever the input "
            f"({_class_words(p)}). No gradient reaches the filter, so training cannot fix "
            "it: try another seed.",
            kind="dead",
            warn=True,
            largest_sum=worst,
            p=p,
            **base,
        )
    if dead:
        i = dead[0]
        t, label = traces[i], int(TOY_Y[i])
        cls, _ = decide(t.p)
        if cls == label and losses[i] <= SOLVED_LOSS:
            text = (
                f"For input #{i} the ReLU outputs 0 in all four cells, so the model answers "
                f"sigmoid(b) = {_fixed(t.p, 4)} for it: class {label}, right, with a "
                f"cross-entropy of {_small(losses[i])}. The filter gets no gradient from "
                "this input, and needs none: the dense layer's bias answers it on its own."
            )
            high = loss is not None and len(loss) > 0 and final > HIGH_LOSS
            if high:
                text += (
                    f" But the loss of the trained model, over both inputs, is still "
                    f"{_fixed(final, 3)}: train for more epochs or try another seed."
                )
            return claims.Claim(
                text,
                kind="solved_input",
                warn=high,
                input=i,
                p=t.p,
                input_loss=losses[i],
                final=final,
                **base,
            )
        return claims.Claim(
            f"For input #{i} the ReLU outputs 0 in all four cells: the model answers "
            f"sigmoid(b) = {_fixed(t.p, 4)} for it ({_class_words(t.p)}, label {label}, "
            f"cross-entropy {_small(losses[i])}), and the filter gets no gradient from it.",
            kind="dead_input",
            warn=True,
            input=i,
            p=t.p,
            input_loss=losses[i],
            **base,
        )
    if loss is not None and len(loss) and final > HIGH_LOSS:
        passed = ", ".join(_fixed(t.pooled, SUM_DIGITS) for t in traces)
        return claims.Claim(
            f"The loss of the trained model is still {_fixed(final, 3)} after {len(loss)} "
            f"epoch{'s' * (len(loss) != 1)} although the ReLU passes values (max-pooled: "
            f"{passed}): train for more epochs or try another seed.",
            kind="high_loss",
            warn=True,
            final=final,
            epochs=len(loss),
            **base,
        )
    return None
