"""Follow any number through a real network: every layer's output, and how each unit is made.

:func:`run` computes every layer's input and output for one image with
:func:`cnnviz.scratch.forward_steps` (numpy, the model's own weights; the same forward pass
as *CNN from scratch*). :func:`overview` turns that into what the network overview draws,
and :func:`explain` writes how one unit of one layer was computed, with the layer's real
numbers: a conv unit as each input channel's patch × kernel slice, the per-channel sums,
the bias and the activation; a pooling window and its winner; where a flattened value came
from; a dense unit's largest ``w·x`` terms; softmax's logits, exponentials and their sum;
batch norm's moving statistics; dropout's identity. :func:`conv_unit_trace` and
:func:`pool_unit_trace` hand the in-browser stepper (the Convolution page's) a trace of one
map, so a learner steps over its positions without a server round trip.

Every total :func:`explain` writes equals the value :func:`overview` draws for that unit
(both are the numpy outputs of :func:`run`), and those equal Keras's own to float32
precision (``tests/test_network.py``).

>>> from cnnviz import scratch
>>> net = run(scratch.toy_model(seed=0), scratch.TOY_X[0])
>>> [layer.name for layer in net.layers]
['conv1', 'pool1', 'flatten', 'output']
>>> u = explain(net, "pool1", (0, 0, 0))
>>> u.total == net.value("pool1", (0, 0, 0))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cnnviz import claims, conv, models, novelty, pooling, scratch
from cnnviz.claims import Claim
from cnnviz.conv import format_number as fmt

# Layer types whose units explain() can write out; any other still runs (numpy or Keras)
# and is drawn, with a sentence saying it is not explained yet.
ACTIVATION_LAYERS = {"Activation", "ReLU", "LeakyReLU", "Softmax"}
EXPLAINED = {
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Reshape",
    "Dense",
    "BatchNormalization",
    "ZeroPadding2D",
    "Rescaling",
    *ACTIVATION_LAYERS,
    *scratch.INFERENCE_IDENTITY,
}
TOP_CHANNELS = 4  # channel lines written out per conv step; the rest fold into one line
TOP_TERMS = 5  # dense: the largest positive and the largest negative w·x terms
SHOWN_CHANNELS = 3  # input channels the stepper draws for a conv unit


class NetworkError(ValueError):
    """A layer name or unit that the network does not have; the message says which."""


# ----------------------------------------------------------------------------- running
@dataclass(frozen=True)
class Layer:
    """One layer of a :class:`Network` run: what it read and what it wrote, no batch axis.

    Attributes
    ----------
    index : int
        Position in running order (0 = the first layer after the input).
    name, kind : str
        The layer's name and Keras type (``"Conv2D"``).
    source : str
        The layer whose output this one reads (the input's name for the first).
    input, output : numpy.ndarray
        float64, e.g. ``(H, W, C)`` or ``(N,)``.
    note : str or None
        Why its units are not explained (``None`` when they are).
    keras_layer : keras.layers.Layer
        The layer itself (weights are read from it, never changed).
    """

    index: int
    name: str
    kind: str
    source: str
    input: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)
    note: str | None
    keras_layer: object = field(repr=False, compare=False)


@dataclass(frozen=True)
class Network:
    """Every layer's input and output for one image (see :func:`run`)."""

    input_name: str
    image: np.ndarray = field(repr=False)
    layers: tuple[Layer, ...]

    def get(self, name: str) -> Layer:
        """The layer called ``name`` (``NetworkError`` naming the layers if there is none)."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = ", ".join(layer.name for layer in self.layers)
        raise NetworkError(f"The model has no layer {name!r}; its layers are: {names}.")

    def value(self, name: str, unit: Sequence[int]) -> float:
        """The value of one unit of a layer's output, as the overview draws it."""
        layer = self.get(name)
        return float(layer.output[check_unit(layer.output.shape, unit, name)])

    @property
    def probabilities(self) -> np.ndarray:
        """The last layer's output ``(K,)``."""
        return self.layers[-1].output

    def following(self, name: str) -> Layer | None:
        """The activation layer right after ``name`` (a separate LeakyReLU, ReLU …), if any."""
        layer = self.get(name)
        nxt = self.layers[layer.index + 1] if layer.index + 1 < len(self.layers) else None
        if nxt is not None and nxt.kind in ACTIVATION_LAYERS and not _is_softmax(nxt):
            return nxt if nxt.source == name else None
        return None


def _is_softmax(layer: Layer) -> bool:
    """A Softmax layer or ``Activation("softmax")``: over a whole vector, not one value."""
    return layer.kind in ACTIVATION_LAYERS and activation_of(layer.keras_layer)[0] == "softmax"


def run(model, image: np.ndarray) -> Network:
    """Every layer's input and output for one image, in numpy with the model's weights.

    Parameters
    ----------
    model : keras.Model
        Any model :func:`cnnviz.models.to_functional` accepts, a chain of layers. A layer
        with no numpy version takes Keras's own output (its units are then not explained).
    image : np.ndarray
        ``(H, W, C)``, prepared as the model eats it.

    Returns
    -------
    Network

    Raises
    ------
    cnnviz.scratch.UnsupportedLayerError
        A layer with several inputs or outputs (not a chain).
    """
    model = models.to_functional(model)
    unsupported: dict[str, str] = {}
    steps = scratch.forward_steps(model, image, unsupported=unsupported)
    input_name = source = _tensor_owner(model.inputs[0])
    layers = []
    for i, (keras_layer, x, y) in enumerate(steps):
        kind = type(keras_layer).__name__
        note = None
        if keras_layer.name in unsupported or kind not in EXPLAINED:
            note = unexplained_sentence(keras_layer.name, kind)
        if (
            note is None
            and kind == "Softmax"
            and keras_layer.get_config().get("axis", -1)
            not in (
                -1,
                y.ndim - 1,
            )
        ):
            note = unexplained_sentence(keras_layer.name, "Softmax over another axis than the last")
        if note is None and kind == "Conv2D":
            cfg = keras_layer.get_config()
            if cfg.get("groups", 1) != 1:
                note = unexplained_sentence(keras_layer.name, "grouped Conv2D")
            elif cfg.get("activation") == "softmax":  # over the channels, not one value
                note = unexplained_sentence(keras_layer.name, "Conv2D with a softmax")
        layers.append(Layer(i, keras_layer.name, kind, source, x[0], y[0], note, keras_layer))
        source = keras_layer.name
    return Network(input_name=input_name, image=np.asarray(image, np.float64), layers=tuple(layers))


def _tensor_owner(tensor) -> str:
    history = getattr(tensor, "_keras_history", None)
    op = getattr(history, "operation", None)
    return getattr(op, "name", None) or getattr(tensor, "name", "input")


def unexplained_sentence(name: str, kind: str) -> str:
    """The one sentence for a layer whose units cannot be explained yet."""
    return (
        f"cnnviz cannot explain a {kind} layer ({name}) unit by unit yet: its output is "
        "Keras's own, drawn as it is, and every other layer still explains its units."
    )


def check_unit(shape: Sequence[int], unit: Sequence[int], name: str = "layer") -> tuple[int, ...]:
    """``unit`` as an index into an output of ``shape``: ``(row, col, channel)`` for maps,
    ``(i,)`` for vectors. ``NetworkError`` names the shape when it does not fit."""
    unit = tuple(int(u) for u in unit)
    if len(unit) != len(shape) or any(not 0 <= u < s for u, s in zip(unit, shape, strict=False)):
        what = "(row, col, channel)" if len(shape) == 3 else "(index,)"
        raise NetworkError(
            f"{name}'s output is {' × '.join(str(s) for s in shape)}: a unit is {what} "
            f"inside it, got {unit}."
        )
    return unit


def strongest(net: Network, name: str, channel: int | None = None) -> tuple[int, ...]:
    """The unit with the largest value in a layer (in ``channel``'s map when given): where
    the elementary view opens before the learner clicks."""
    out = net.get(name).output
    if out.ndim == 3 and channel is not None:
        r, c = np.unravel_index(int(np.argmax(out[..., channel])), out.shape[:2])
        return int(r), int(c), int(channel)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(out)), out.shape))


# ----------------------------------------------------------------------------- overview
def _limits(values: np.ndarray, signed: bool) -> list[float]:
    a = np.asarray(values, np.float64)
    a = a[np.isfinite(a)]
    m = float(np.abs(a).max()) if a.size else 0.0
    m = m if m > 0 else 1.0
    return [-m, m] if signed else [0.0, m]


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(int(s)) for s in shape)


def _sources(layer: Layer) -> str:
    if layer.kind in ("Conv2D", "Dense", "Flatten", "Reshape", "Softmax"):
        return "all"
    if layer.output.ndim == 1 and layer.input.ndim == 3:  # global pooling: map i -> unit i
        return "same"
    return "same"


def overview(
    net: Network,
    max_maps: int = 8,
    selected: tuple[str, Sequence[int]] | None = None,
    class_names: Sequence[str] | None = None,
    palette: dict | None = None,
) -> dict:
    """What the network overview draws: one column per layer, input first (JSON-able).

    Parameters
    ----------
    net : Network
    max_maps : int
        Maps drawn per conv/pooling column (the selected map is added when beyond).
    selected : (layer name, unit), optional
        The unit the elementary view explains (outlined).
    class_names : sequence of str, optional
        Labels of the output's units.
    palette : dict, optional
        :func:`cnnviz.plots.style.palette`, passed through for the browser.

    Returns
    -------
    dict
        ``id``, ``palette``, ``selected`` and ``columns`` (see ``app_pages/_overview.py``):
        each column's ``name``, ``kind``, ``title``, ``type`` (``maps``, ``vector`` or
        ``probs``), ``shape``, ``scale``, ``limits``, ``maps`` (index and values) or
        ``values``/``labels``, ``hidden``, ``sources``, ``kernels``, ``explained``, ``note``.
    """
    if max_maps < 1:
        raise NetworkError(f"max_maps must be >= 1, got {max_maps}.")
    sel_layer, sel_unit = (
        (selected[0], tuple(int(u) for u in selected[1])) if selected else (None, None)
    )
    image = net.image if net.image.ndim == 3 else net.image[..., None]
    columns = [
        {
            "name": net.input_name,
            "kind": "InputLayer",
            "title": f"{net.input_name} · {_shape_text(image.shape)}",  # label
            "type": "maps",
            "shape": list(image.shape),
            "scale": "sequential" if image.min() >= 0 else "diverging",
            "limits": _limits(image, bool(image.min() < 0)),
            "maps": [{"index": c, "values": image[..., c].tolist()} for c in range(image.shape[2])],
            "hidden": 0,
            "sources": "none",
            "kernels": None,
            "window": None,
            "explained": True,
            "note": None,
        }
    ]
    drawn_before = list(range(image.shape[2]))
    last = len(net.layers) - 1
    for layer in net.layers:
        out = layer.output
        col = {
            "name": layer.name,
            "kind": layer.kind,
            "title": f"{layer.name} · {_shape_text(out.shape)}",  # label
            "shape": list(out.shape),
            "sources": _sources(layer),
            "kernels": None,
            "window": None,
            "explained": layer.note is None,
            "note": layer.note,
            "hidden": 0,
        }
        if out.ndim == 3:
            n = out.shape[2]
            drawn = list(range(min(max_maps, n)))
            if sel_layer == layer.name and sel_unit and sel_unit[-1] not in drawn:
                drawn.append(sel_unit[-1])
            col.update(
                type="maps",
                scale="diverging",
                limits=_limits(out, True),
                maps=[{"index": c, "values": out[..., c].tolist()} for c in drawn],
                hidden=n - len(drawn),
            )
            col["window"] = _window(layer)
            if layer.kind == "Conv2D" and layer.note is None:
                kernel = np.asarray(layer.keras_layer.kernel.numpy(), np.float64)
                col["kernels"] = {
                    str(c): {
                        str(s): kernel[:, :, s, c].tolist()
                        for s in drawn_before
                        if s < kernel.shape[2]
                    }
                    for c in drawn
                }
            drawn_before = drawn
        else:
            flat = out.ravel()
            probs = layer.index == last and _is_distribution(flat)
            labels = None
            if probs:
                names = list(class_names or [])
                labels = names if len(names) == flat.size else [str(i) for i in range(flat.size)]
            col.update(
                type="probs" if probs else "vector",
                scale="sequential" if probs else "diverging",
                limits=[0.0, 1.0] if probs else _limits(flat, True),
                values=flat.tolist(),
                labels=labels,
            )
            drawn_before = list(range(flat.size)) if flat.size <= max_maps else drawn_before
        columns.append(col)
    view = {
        "palette": palette or {},
        "selected": {"layer": sel_layer, "unit": list(sel_unit)} if sel_layer else None,
        "columns": columns,
    }
    digest = hashlib.sha1(
        repr((sel_layer, sel_unit, max_maps, [c["title"] for c in columns])).encode()
        + net.image.tobytes()
        + b"".join(layer.output.tobytes() for layer in net.layers)
    ).hexdigest()[:16]
    return {"id": digest, **view}


def _window(layer: Layer) -> dict | None:
    """Where a conv or pooling unit reads its input (the overview outlines it on hover)."""
    try:
        if layer.kind == "Conv2D":
            cfg = _conv_config(layer)
            size = tuple(int(s) for s in layer.keras_layer.kernel.shape[:2])
        elif layer.kind in ("MaxPooling2D", "AveragePooling2D"):
            cfg = _pool_config(layer)
            size = cfg["size"]
            cfg["stride"] = cfg["stride"] or size
            cfg["dilation"] = (1, 1)
        else:
            return None
    except (AttributeError, KeyError, TypeError):
        return None
    return {
        "size": [int(s) for s in size],
        "stride": [int(s) for s in cfg["stride"]],
        "dilation": [int(s) for s in cfg["dilation"]],
        "padding": str(cfg["padding"]),
    }


def _is_distribution(p: np.ndarray) -> bool:
    return bool(p.size > 1 and np.all(p >= 0) and abs(float(p.sum()) - 1.0) < 1e-4)


# ----------------------------------------------------------------------------- sentences
def _signed(v: float) -> str:
    text = fmt(v)
    return text if text.startswith("-") else f"+{text}"


def _bracket(v: float) -> str:
    text = fmt(v)
    return f"({text})" if text.startswith("-") else text


def _fold_and_total(
    values: np.ndarray, shown: Sequence[int], rest: np.ndarray, bias: float, noun: str
) -> list[Claim]:
    """The tail of a folded sum: one line for the ``rest`` (when any) and the total line.

    The folded line has facts ``folded`` and ``folded_sum``; the total line ``shown``,
    ``folded_sum``, ``bias`` and ``total`` (every value + bias, the folded ones included).
    """
    lines = []
    folded_sum = float(values[rest].sum()) if rest.size else 0.0
    parts = [_bracket(values[i]) for i in shown]
    if rest.size:
        lines.append(
            Claim(
                f"the other {rest.size} {noun if rest.size == 1 else noun + 's'}: "
                f"{fmt(folded_sum)}",
                folded=int(rest.size),
                folded_sum=folded_sum,
            )
        )
        parts.append(_bracket(folded_sum))
    total = float(values.sum() + bias)
    bias_text = f" + {_bracket(bias)} (bias)" if bias else ""
    lines.append(
        Claim(
            (" + ".join(parts) or "0") + f"{bias_text} = {fmt(total)}",
            shown=tuple(int(i) for i in shown),
            folded_sum=folded_sum,
            bias=float(bias),
            total=total,
        )
    )
    return lines


@claims.claim
def channel_sum_lines(
    names: Sequence[str],
    subtotals: Sequence[float],
    bias: float,
    top: int = TOP_CHANNELS,
    expansions: Sequence[str] | None = None,
) -> list[Claim]:
    """A conv unit's sum over its input channels, the largest first, the rest folded.

    Parameters
    ----------
    names : sequence of str
        One per input channel (``"channel 7"``).
    subtotals : sequence of float
        Each channel's ``Σ patch × kernel slice``.
    bias : float
    top : int
        Channel lines written out; the others fold into one line with their exact sum.
    expansions : sequence of str or None, optional
        Each channel's products written out (``"0.1×0.2 + …"``), shown before its sum
        (``None`` for a channel whose products are not written out).

    Returns
    -------
    list of Claim
        One line per shown channel (facts ``channel``, ``subtotal``), one folded line
        (facts ``folded`` — how many —, ``folded_sum``) when any are folded, and the total
        line (facts ``shown``, ``folded_sum``, ``bias``, ``total``: the pre-activation).

    Examples
    --------
    >>> [str(s) for s in channel_sum_lines(["a", "b", "c"], [0.5, -2, 0.25], 1, top=2)]
    ['b: -2', 'a: 0.5', 'the other 1 channel: 0.25', '(-2) + 0.5 + 0.25 + 1 (bias) = -0.25']
    """
    sub = np.asarray(subtotals, np.float64)
    if len(names) != sub.size:
        raise NetworkError(f"{len(names)} names for {sub.size} channel sums.")
    if top < 1:
        raise NetworkError(f"top must be >= 1, got {top}.")
    order = np.argsort(-np.abs(sub), kind="stable")
    shown, rest = order[:top], order[top:]
    lines = []
    for c in shown:
        expansion = f"{expansions[c]} = " if expansions is not None and expansions[c] else ""
        lines.append(
            Claim(f"{names[c]}: {expansion}{fmt(sub[c])}", channel=int(c), subtotal=float(sub[c]))
        )
    lines += _fold_and_total(sub, [int(c) for c in shown], rest, bias, "channel")
    return lines


@claims.claim
def contribution_sentence(names: Sequence[str], subtotals: Sequence[float], bias: float) -> Claim:
    """Which input channel pushes a conv unit most, and what the sum comes to.

    Facts: ``channels`` (how many), ``top`` (index of the largest ``|sum|``, the first on a
    tie; ``None`` when every sum is 0 or one is not a number), ``tied`` (how many channels
    share that largest ``|sum|``), ``top_sum``, ``share`` (its ``|sum|`` over the sum of
    all ``|sums|``, written as :func:`cnnviz.novelty.percent` writes it: never 100 % unless
    it is all, never 0 % unless it is none), ``total`` (sums + bias).

    Examples
    --------
    >>> s = contribution_sentence(["channel 0", "channel 1"], [0.5, -2.0], 0.25)
    >>> s.facts["top"], s.facts["share"], s.facts["total"]
    (1, 0.8, -1.25)
    """
    sub = np.asarray(subtotals, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # huge sums overflow to ±inf, as floats do
        total = float(sub.sum() + bias)
    size = np.abs(sub)
    tail = f"with the bias {fmt(bias)} the sum is {fmt(total)}."
    n = int(sub.size)
    if n == 1:
        text = f"The one input channel gives {fmt(sub[0])}; {tail}"
        return Claim(text, channels=1, top=0, tied=1, top_sum=float(sub[0]), share=1.0, total=total)
    if np.isnan(size).any():  # a diverged model: no channel can be said to push most
        text = f"Some of the {n} input channels' sums are not numbers; {tail}"
        return Claim(text, channels=n, top=None, tied=0, top_sum=np.nan, share=np.nan, total=total)
    if not size.any():  # their sums are 0, not every product: products may cancel
        text = f"Each of the {n} input channels sums to 0; {tail}"
        return Claim(text, channels=n, top=None, tied=n, top_sum=0.0, share=0.0, total=total)
    top = int(np.argmax(size))
    tied = int(np.sum(size == size[top]))
    with np.errstate(invalid="ignore", over="ignore"):  # relative sizes never overflow
        share = float(1.0 / (size / size[top]).sum()) if np.isfinite(size[top]) else np.nan
    if share == 1.0 and np.count_nonzero(size) > 1:  # 1 - 1e-17 rounds to 1: it is not all
        share = float(np.nextafter(1.0, 0.0))
    pct = "" if np.isnan(share) else f", {novelty.percent(share)} of the total size of the sums"
    who = f"{names[top]} contributes most" if tied == 1 else (
        f"{names[top]} and {tied - 1} other{'s' * (tied > 2)} contribute most, as much each"
    )  # fmt: skip
    text = f"Of the {n} input channels, {who} ({fmt(sub[top])}{pct}); {tail}"
    return Claim(
        text, channels=n, top=top, tied=tied, top_sum=float(sub[top]), share=share, total=total
    )


def activation_of(keras_layer) -> tuple[str, dict]:
    """``(name, parameters)`` of the activation a layer applies: the ``activation`` of a
    Conv2D/Dense/Activation layer (``"linear"`` for none), ``"leaky_relu"`` with its
    ``negative_slope`` for LeakyReLU, ``"relu"`` with ``negative_slope``, ``threshold`` and
    ``max_value`` for a ReLU layer, ``"softmax"`` for Softmax."""
    kind = type(keras_layer).__name__
    cfg = keras_layer.get_config()
    if kind == "LeakyReLU":
        return "leaky_relu", {"negative_slope": float(cfg.get("negative_slope", 0.3))}
    if kind == "ReLU":
        top = cfg.get("max_value")
        params = {
            "negative_slope": float(cfg.get("negative_slope", 0.0)),
            "threshold": float(cfg.get("threshold", 0.0)),
            "max_value": None if top is None else float(top),
        }
        return "relu", params
    if kind == "Softmax":
        return "softmax", {}
    name = cfg.get("activation", "linear")
    if name == "leaky_relu":
        return "leaky_relu", {"negative_slope": 0.2}
    return (name if isinstance(name, str) else "linear"), {}


@claims.claim
def activation_line(name: str, pre: float, post: float, params: dict | None = None) -> Claim:
    """The activation step of a worked sum, with its numbers.

    Parameters
    ----------
    name : str
        ``"relu"``, ``"leaky_relu"``, ``"sigmoid"``, ``"tanh"`` … (:func:`activation_of`).
    pre, post : float
        The value before and after (computed by the forward pass, never here).
    params : dict, optional
        ``negative_slope`` (LeakyReLU, ReLU layer), ``threshold``, ``max_value``.

    Returns
    -------
    Claim
        Facts ``activation``, ``pre``, ``post``, ``changed`` (``post != pre``) and
        ``zeroed`` (``post == 0 != pre``).

    Examples
    --------
    >>> activation_line("relu", -1.5, 0.0)
    'ReLU: -1.5 < 0, so it becomes 0'
    >>> activation_line("leaky_relu", -1.0, -0.2, {"negative_slope": 0.2})
    'LeakyReLU: -1 < 0, so it is scaled by 0.2: 0.2 × (-1) = -0.2'
    """
    params = params or {}
    changed, zeroed = bool(post != pre), bool(post == 0 and pre != 0)
    facts = {"activation": name, "pre": float(pre), "post": float(post)}
    facts.update(changed=changed, zeroed=zeroed)
    slope = float(params.get("negative_slope", 0.2 if name == "leaky_relu" else 0.0))
    threshold = float(params.get("threshold", 0.0))
    top = params.get("max_value")
    label = {"relu": "ReLU", "leaky_relu": "LeakyReLU"}.get(name, name)
    if name in ("relu", "leaky_relu") and not np.isnan([pre, post]).any():  # NaN: no "<"
        if top is not None and post == top and pre > top:
            text = f"{label}: {fmt(pre)} > {fmt(top)}, so it is capped at {fmt(post)}"
        elif pre >= threshold:
            text = f"{label}: {fmt(pre)} ≥ {fmt(threshold)}, so it stays {fmt(post)}"
        elif slope == 0:
            text = f"{label}: {fmt(pre)} < {fmt(threshold)}, so it becomes {fmt(post)}"
        else:
            shift = f"({fmt(pre)} − {fmt(threshold)})" if threshold else _bracket(pre)
            text = (
                f"{label}: {fmt(pre)} < {fmt(threshold)}, so it is scaled by {fmt(slope)}: "
                f"{fmt(slope)} × {shift} = {fmt(post)}"
            )
        return Claim(text, **facts)
    if name == "linear":
        return Claim(f"no activation (linear): the value stays {fmt(post)}", **facts)
    return Claim(f"{label}({fmt(pre)}) = {fmt(post)}", **facts)


@claims.claim
def dense_lines(
    inputs: Sequence[float],
    weights: Sequence[float],
    bias: float,
    labels: Sequence[str] | None = None,
    top: int = TOP_TERMS,
) -> list[Claim]:
    """A dense unit's ``Σ x·w + bias``: its largest positive and negative terms, the rest
    folded into one line with their exact sum.

    Returns
    -------
    list of Claim
        One line per shown term (facts ``input``, ``x``, ``w``, ``term``), the folded line
        (facts ``folded``, ``folded_sum``) when any are folded, and the total (facts
        ``shown``, ``folded_sum``, ``bias``, ``total``).

    Examples
    --------
    >>> for line in dense_lines([1.0, 2.0, 0.5], [0.5, -1.0, 2.0], 0.0, top=1):
    ...     print(line)
    x[2] × w = 0.5 × 2 = 1
    x[1] × w = 2 × (-1) = -2
    the other 1 term: 0.5
    1 + (-2) + 0.5 = -0.5
    """
    x, w = np.asarray(inputs, np.float64), np.asarray(weights, np.float64)
    if x.shape != w.shape:
        raise NetworkError(f"{x.size} inputs for {w.size} weights.")
    if top < 1:
        raise NetworkError(f"top must be >= 1, got {top}.")
    terms = x * w
    pos = [int(i) for i in np.argsort(-terms, kind="stable") if terms[i] > 0][:top]
    neg = [int(i) for i in np.argsort(terms, kind="stable") if terms[i] < 0][:top]
    shown = pos + neg
    names = list(labels) if labels is not None else [f"x[{i}]" for i in range(x.size)]
    lines = [
        Claim(
            f"{names[i]} × w = {fmt(x[i])} × {_bracket(w[i])} = {fmt(terms[i])}",
            input=i,
            x=float(x[i]),
            w=float(w[i]),
            term=float(terms[i]),
        )
        for i in shown
    ]
    rest = np.setdiff1d(np.arange(x.size), shown)
    lines += _fold_and_total(terms, shown, rest, bias, "term")
    return lines


@claims.claim
def softmax_lines(logits: Sequence[float], index: int, labels: Sequence[str]) -> list[Claim]:
    """Softmax for one class: the logits, shifted by their max, exponentiated, divided.

    Returns
    -------
    list of Claim
        The exponential line (facts ``logit``, ``max``, ``exp``), the sum line (facts
        ``exp_sum``) and the probability (facts ``index``, ``probability``, ``rank``: 1
        for the largest, ties ranked by index).

    Examples
    --------
    >>> [str(s) for s in softmax_lines([0.0, 0.0], 1, ["a", "b"])]
    ['b: e^(0 − 0) = 1', 'sum over the 2 classes: 1 + 1 = 2', 'b: 1 / 2 = 0.5 = 50.0 %']
    """
    z = np.asarray(logits, np.float64)
    m = float(z.max())
    e = np.exp(z - m)  # shifting by the max changes nothing and cannot overflow
    s = float(e.sum())
    p = float(e[index] / s)
    rank = int(1 + np.sum(e > e[index]) + np.sum(e[:index] == e[index]))
    shown = " + ".join(fmt(v) for v in e) if z.size <= 10 else f"{fmt(e[0])} + … + {fmt(e[-1])}"
    return [
        Claim(
            f"{labels[index]}: e^({fmt(z[index])} − {fmt(m)}) = {fmt(e[index])}",
            logit=float(z[index]),
            max=m,
            exp=float(e[index]),
        ),
        Claim(f"sum over the {z.size} classes: {shown} = {fmt(s)}", exp_sum=s),
        Claim(
            f"{labels[index]}: {fmt(e[index])} / {fmt(s)} = {fmt(p)} = {novelty.percent(p)}",
            index=int(index),
            probability=p,
            rank=rank,
        ),
    ]


@claims.claim
def batch_norm_line(
    x: float, mean: float, var: float, eps: float, gamma: float, beta: float, out: float
) -> Claim:
    """Batch norm at inference, with the layer's moving statistics.

    Facts: every input and ``out`` (computed by the forward pass).

    Examples
    --------
    >>> batch_norm_line(2.0, 1.0, 4.0, 0.0, 3.0, 0.5, 2.0)
    '(x − moving mean) / √(moving variance + ε) × γ + β = (2 − 1) / √(4 + 0) × 3 + 0.5 = 2'
    """
    facts = dict(x=x, mean=mean, var=var, eps=eps, gamma=gamma, beta=beta, out=out)
    return Claim(
        "(x − moving mean) / √(moving variance + ε) × γ + β = "
        f"({fmt(x)} − {_bracket(mean)}) / √({fmt(var)} + {fmt(eps)}) × {_bracket(gamma)} + "
        f"{_bracket(beta)} = {fmt(out)}",
        **{k: float(v) for k, v in facts.items()},
    )


@claims.claim
def flatten_line(position: Sequence[int], shape: Sequence[int], index: int, value: float) -> Claim:
    """Where ``(row, col, channel)`` of a ``(H, W, C)`` input lands in the flat vector.

    Facts: ``position``, ``shape``, ``index`` (``(row·W + col)·C + channel``, channels
    last as Keras flattens), ``value``.

    Examples
    --------
    >>> flatten_line((1, 2, 3), (4, 4, 8), 51, 0.5)
    '(row 1, col 2, channel 3) → index (1·4 + 2)·8 + 3 = 51: the value 0.5 is copied, unchanged'
    """
    r, c, ch = (int(v) for v in position)
    h, w, n = (int(v) for v in shape)
    if not (0 <= r < h and 0 <= c < w and 0 <= ch < n) or index != (r * w + c) * n + ch:
        raise NetworkError(
            f"({r}, {c}, {ch}) of a {h}×{w}×{n} input does not land at index {index}."
        )
    return Claim(
        f"(row {r}, col {c}, channel {ch}) → index ({r}·{w} + {c})·{n} + {ch} = {index}: "
        f"the value {fmt(value)} is copied, unchanged",
        position=(r, c, ch),
        shape=(int(shape[0]), w, n),
        index=int(index),
        value=float(value),
    )


@claims.claim
def global_pool_line(values: np.ndarray, mode: str, out: float) -> Claim:
    """Global pooling of one map: its max (and where) or its mean over all its cells.

    Facts: ``mode``, ``cells``, ``out`` and, for max, ``at`` (the first cell holding it,
    row-major) or, for the mean, ``total`` (the sum of the cells).

    Examples
    --------
    >>> global_pool_line(np.array([[1.0, 3.0], [3.0, 0.0]]), "max", 3.0)
    'the largest of the 4 values is 3, at (0, 1)'
    """
    v = np.asarray(values, np.float64)
    if mode not in ("max", "avg"):
        raise NetworkError(f"mode must be 'max' or 'avg', got {mode!r}.")
    if mode == "max":
        r, c = (int(i) for i in np.unravel_index(int(np.argmax(v)), v.shape))
        return Claim(
            f"the largest of the {v.size} values is {fmt(out)}, at ({r}, {c})",
            mode="max",
            cells=int(v.size),
            out=float(out),
            at=(r, c),
        )
    total = float(v.sum())
    return Claim(
        f"the mean of the {v.size} values: {fmt(total)} / {v.size} = {fmt(out)}",
        mode="avg",
        cells=int(v.size),
        out=float(out),
        total=total,
    )


def place(unit: Sequence[int]) -> str:
    """A unit as the learner reads it: ``"map 12, row 5, column 7"`` or ``"unit 3"``."""
    unit = tuple(int(u) for u in unit)
    if len(unit) == 3:
        return f"map {unit[2]}, row {unit[0]}, column {unit[1]}"
    return f"unit {unit[0]}" if len(unit) == 1 else f"unit {unit}"


@claims.claim
def unit_heading(name: str, kind: str, unit: Sequence[int], value: float) -> Claim:
    """The elementary view's heading: which unit, and its value in the layer's output.

    Facts: ``layer``, ``unit``, ``value``.

    Examples
    --------
    >>> unit_heading("conv2", "Conv2D", (5, 7, 12), 0.7341)
    'conv2 (Conv2D) · map 12, row 5, column 7 · value 0.734'
    """
    unit = tuple(int(u) for u in unit)
    return Claim(
        f"{name} ({kind}) · {place(unit)} · value {fmt(value)}",
        layer=name,
        unit=unit,
        value=float(value),
    )


@claims.claim
def source_label(name: str, unit: Sequence[int], value: float) -> Claim:
    """A "follow it back" button: the source unit and its value.

    Facts: ``layer``, ``unit``, ``value``.

    Examples
    --------
    >>> source_label("pool1", (6, 8, 15), 0.3)
    'pool1 · map 15, row 6, column 8 = 0.3'
    """
    unit = tuple(int(u) for u in unit)
    return Claim(
        f"{name} · {place(unit)} = {fmt(value)}", layer=name, unit=unit, value=float(value)
    )


# ----------------------------------------------------------------------------- explain
@dataclass(frozen=True)
class Unit:
    """How one unit of one layer was computed (see :func:`explain`).

    Attributes
    ----------
    layer, kind : str
    unit : tuple of int
        ``(row, col, channel)`` or ``(i,)``.
    value : float
        The unit's value in the layer's output: what the overview draws.
    total : float
        What the worked lines add up to (equals ``value``).
    lines : list of Claim
        The worked computation, one step per line; the last ends ``= total``.
    sentence : Claim or str
        One sentence saying what happened.
    inputs : list of dict
        Where the numbers came from: ``{"layer": name, "unit": [...], "value": v}`` for the
        source units named (a pooling winner, a flattened value, a dense unit's top terms).
    table : list of dict
        Rows for a table (dense terms, softmax classes, batch-norm statistics), may be empty.
    """

    layer: str
    kind: str
    unit: tuple[int, ...]
    value: float
    total: float
    lines: list
    sentence: str
    inputs: list = field(default_factory=list)
    table: list = field(default_factory=list)


def explain(net: Network, name: str, unit: Sequence[int], class_names: Sequence[str] = ()) -> Unit:
    """How one unit of layer ``name`` was computed, with the network's real numbers.

    Parameters
    ----------
    net : Network
    name : str
        The layer.
    unit : sequence of int
        ``(row, col, channel)`` for a map, ``(i,)`` for a vector.
    class_names : sequence of str
        Labels of the output's units (softmax).

    Returns
    -------
    Unit

    Raises
    ------
    NetworkError
        Unknown layer, a unit outside its output, or a layer that cannot be explained
        (the message is the one sentence the page shows).
    """
    layer = net.get(name)
    unit = check_unit(layer.output.shape, unit, name)
    if layer.note is not None:
        raise NetworkError(layer.note)
    value = float(layer.output[unit])
    kind = layer.kind
    if kind == "Conv2D":
        return _explain_conv(net, layer, unit, value)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return _explain_pool(layer, unit, value)
    if kind in ("GlobalMaxPooling2D", "GlobalAveragePooling2D"):
        ch = unit[-1]
        mode = "max" if "Max" in kind else "avg"
        line = global_pool_line(layer.input[..., ch], mode, value)
        src = [*line.facts["at"], ch] if mode == "max" else None
        inputs = [{"layer": layer.source, "unit": src, "value": value}] if src else []
        sentence = f"{layer.name} reduces map {ch} of {layer.source} to one number."
        return Unit(name, kind, unit, value, value, [line], sentence, inputs)
    if kind in ("Flatten", "Reshape"):
        index = int(np.ravel_multi_index(unit, layer.output.shape))
        pos = tuple(int(p) for p in np.unravel_index(index, layer.input.shape))
        src_value = float(layer.input[pos])
        if layer.input.ndim == 3:
            line = flatten_line(pos, layer.input.shape, index, src_value)
        else:
            line = moved_line(pos, unit, src_value)
        sentence = f"{kind} only rearranges: no arithmetic, the value moves to a new place."
        inputs = [{"layer": layer.source, "unit": list(pos), "value": src_value}]
        return Unit(name, kind, unit, value, src_value, [line], sentence, inputs)
    if kind == "Dense":
        return _explain_dense(net, layer, unit, value, class_names)
    if _is_softmax(layer):  # over the last axis: a vector, or one position of a map
        logits, probs = layer.input[unit[:-1]], layer.output[unit[:-1]]
        labels = _labels(class_names, probs.size)
        lines = softmax_lines(logits, unit[-1], labels)
        sentence = "Softmax turns the scores into probabilities that add up to 1."
        table = _softmax_table(logits, probs, labels)
        total = lines[-1].facts["probability"]
        return Unit(name, kind, unit, value, total, lines, sentence, table=table)
    if kind in ACTIVATION_LAYERS:
        act, params = activation_of(layer.keras_layer)
        pre = float(layer.input[unit])
        line = activation_line(act, pre, value, params)
        inputs = [{"layer": layer.source, "unit": list(unit), "value": pre}]
        return Unit(name, kind, unit, value, value, [line], line, inputs)
    if kind == "BatchNormalization":
        return _explain_batch_norm(layer, unit, value)
    if kind in scratch.INFERENCE_IDENTITY:
        src = float(layer.input[unit])
        line = identity_line(kind, src)
        inputs = [{"layer": layer.source, "unit": list(unit), "value": src}]
        sentence = f"{kind} acts only while training; when predicting it changes nothing."
        return Unit(name, kind, unit, value, src, [line], sentence, inputs)
    if kind == "ZeroPadding2D":
        (top, _), (left, _) = layer.keras_layer.padding
        r, c, ch = unit[0] - top, unit[1] - left, unit[2]
        h, w = layer.input.shape[:2]
        if 0 <= r < h and 0 <= c < w:
            src = float(layer.input[r, c, ch])
            line = padding_line((r, c, ch), src)
            inputs = [{"layer": layer.source, "unit": [r, c, ch], "value": src}]
        else:
            src, inputs = 0.0, []
            line = padding_line(None, 0.0)
        return Unit(name, kind, unit, value, src, [line], "Padding adds a frame of zeros.", inputs)
    if kind == "Rescaling":
        src = float(layer.input[unit])
        scale, offset = (  # a float, or one per channel: the unit's own
            float(np.broadcast_to(np.asarray(v, np.float64), layer.output.shape)[unit])
            for v in (layer.keras_layer.scale, layer.keras_layer.offset)
        )
        line = rescaling_line(src, scale, offset)
        total = line.facts["total"]
        return Unit(name, kind, unit, value, total, [line], "Rescaling changes the units.")
    raise NetworkError(unexplained_sentence(name, kind))  # pragma: no cover - EXPLAINED


@claims.claim
def moved_line(source: Sequence[int], unit: Sequence[int], value: float) -> Claim:
    """A Reshape's unit: where its value comes from (facts ``source``, ``unit``, ``value``).

    >>> moved_line((1, 2), (5,), 0.25)
    'input (1, 2) → output (5,): 0.25, unchanged'
    """
    src, dst = tuple(int(i) for i in source), tuple(int(i) for i in unit)
    return Claim(
        f"input {src} → output {dst}: {fmt(value)}, unchanged",
        source=src,
        unit=dst,
        value=float(value),
    )


@claims.claim
def identity_line(kind: str, value: float) -> Claim:
    """A layer that is the identity at inference (Dropout, noise, augmentation).

    >>> identity_line("Dropout", -1.5)
    'Dropout at inference passes the value through unchanged: -1.5'
    """
    return Claim(
        f"{kind} at inference passes the value through unchanged: {fmt(value)}",
        value=float(value),
        identity=True,
    )


@claims.claim
def padding_line(source: Sequence[int] | None, value: float) -> Claim:
    """A ZeroPadding2D unit: copied from ``source`` = (row, col, map) of the input, or a
    padding cell (``source`` ``None``: the value is 0). Facts ``source``, ``value``, ``padding``.

    >>> padding_line((0, 3, 1), 0.5), padding_line(None, 0.0)
    ('copied from (0, 3) of map 1: 0.5', 'a padding cell: 0, added around the input')
    """
    if source is None:
        return Claim("a padding cell: 0, added around the input", source=None, value=0.0,
                     padding=True)  # fmt: skip
    r, c, ch = (int(i) for i in source)
    return Claim(
        f"copied from ({r}, {c}) of map {ch}: {fmt(value)}",
        source=(r, c, ch),
        value=float(value),
        padding=False,
    )


@claims.claim
def rescaling_line(x: float, scale: float, offset: float) -> Claim:
    """A Rescaling unit: ``x × scale + offset`` (facts ``x``, ``scale``, ``offset``, ``total``).

    >>> rescaling_line(255.0, 1 / 255, 0.0)
    '255 × 0.004 + 0 = 1'
    """
    total = float(x) * float(scale) + float(offset)
    return Claim(
        f"{fmt(x)} × {_bracket(scale)} + {_bracket(offset)} = {fmt(total)}",
        x=float(x),
        scale=float(scale),
        offset=float(offset),
        total=total,
    )


@claims.claim
def logit_sentence(label: str, logit: float, n: int, probability_line: Claim) -> Claim:
    """A Dense output unit with softmax inside: its score and its probability.

    ``probability_line`` is :func:`softmax_lines`'s last line (fact ``probability``).
    Facts ``logit``, ``classes``, ``probability``.
    """
    return Claim(
        f"The score (logit) of {label} is {fmt(logit)}; softmax turns all {int(n)} scores "
        f"into probabilities: {probability_line}.",
        logit=float(logit),
        classes=int(n),
        probability=float(probability_line.facts["probability"]),
    )


def _labels(class_names: Sequence[str], n: int) -> list[str]:
    names = list(class_names)
    return names if len(names) == n else [f"class {i}" for i in range(n)]


def _softmax_table(logits: np.ndarray, probs: np.ndarray, labels: Sequence[str]) -> list[dict]:
    e = np.exp(logits - logits.max())
    return [
        {"class": labels[i], "logit": float(z), "exp": float(x), "probability": float(p)}
        for i, (z, x, p) in enumerate(zip(logits, e, probs, strict=True))
    ]


def channel_name(i: int, n: int) -> str:
    """An input channel as the learner calls it: red/green/blue for an RGB input, else
    ``"channel 7"``; ``"the input"`` for a single channel."""
    if n == 1:
        return "the input"
    return conv.channel_names(n)[i] if n == 3 else f"channel {i}"


def _conv_config(layer: Layer) -> dict:
    cfg = layer.keras_layer.get_config()
    return {
        "stride": tuple(cfg["strides"]),
        "padding": cfg["padding"],
        "dilation": tuple(cfg["dilation_rate"]),
    }


def _kernel_bias(layer: Layer, channel: int) -> tuple[np.ndarray, float]:
    k = layer.keras_layer
    kernel = np.asarray(k.kernel.numpy(), np.float64)[:, :, :, channel]  # (kh, kw, Cin)
    bias = float(np.asarray(k.bias.numpy(), np.float64)[channel]) if k.use_bias else 0.0
    return kernel, bias


def _explain_conv(net: Network, layer: Layer, unit: tuple[int, ...], value: float) -> Unit:
    r, c, ch = unit
    kernel, bias = _kernel_bias(layer, ch)
    steps = conv.conv_steps(layer.input, kernel[..., None], bias, **_conv_config(layer))
    step = steps[r * layer.output.shape[1] + c]
    cin = layer.input.shape[2]
    names = [channel_name(i, cin) for i in range(cin)]
    sub = step.subtotals
    lines = channel_sum_lines(names, sub, bias, expansions=_expansions(step))
    pre = lines[-1].facts["total"]
    act, params = activation_of(layer.keras_layer)
    total = pre
    if act != "linear":
        lines.append(activation_line(act, pre, value, params))
        total = value
    sentence = contribution_sentence(names, sub, bias)
    order = np.argsort(-np.abs(sub), kind="stable")[:TOP_CHANNELS]
    table = [
        {"channel": names[i], "sum": float(sub[i])} for i in np.argsort(-np.abs(sub), kind="stable")
    ]
    # Follow it back: the centre of each top channel's patch (inside the input).
    rows, cols = step.rows[len(step.rows) // 2], step.cols[len(step.cols) // 2]
    h, w = layer.input.shape[:2]
    inputs = [
        {
            "layer": layer.source,
            "unit": [rows, cols, int(i)],
            "value": float(layer.input[rows, cols, i]),
        }
        for i in order
        if 0 <= rows < h and 0 <= cols < w
    ]
    return Unit(layer.name, layer.kind, unit, value, total, lines, sentence, inputs, table)


def _expansions(step: conv.ConvStep) -> list[str]:
    window = step.window if step.window.ndim == 3 else step.window[..., None]
    return [_expansion(step, i) for i in range(window.shape[-1])]


def _expansion(step: conv.ConvStep, i: int) -> str:
    """Input channel ``i``'s products at one step, written out (``0.1×0.2 + …``)."""
    window = step.window if step.window.ndim == 3 else step.window[..., None]
    weights = step.weights if step.weights.ndim == 3 else step.weights[..., None]
    return " + ".join(
        f"{_bracket(a)}×{_bracket(w)}"
        for a, w in zip(window[..., i].ravel(), weights[..., i].ravel(), strict=True)
    )


def _pool_config(layer: Layer) -> dict:
    cfg = layer.keras_layer.get_config()
    return {
        "size": tuple(cfg["pool_size"]),
        "stride": tuple(cfg["strides"]) if cfg.get("strides") else None,
        "padding": cfg["padding"],
        "mode": "max" if layer.kind.startswith("Max") else "avg",
    }


def _explain_pool(layer: Layer, unit: tuple[int, ...], value: float) -> Unit:
    r, c, ch = unit
    cfg = _pool_config(layer)
    steps = pooling.pool_steps(layer.input[..., ch], **cfg)
    step = steps[r * layer.output.shape[1] + c]
    line = step.expression()
    inputs = []
    if cfg["mode"] == "max" and step.winner is not None:
        a, b = step.winner
        src = [int(step.rows[a]), int(step.cols[b]), ch]
        inputs = [{"layer": layer.source, "unit": src, "value": float(layer.input[tuple(src)])}]
    what = "keeps the largest" if cfg["mode"] == "max" else "averages the"
    sentence = f"{layer.name} {what} values of one window of map {ch} of {layer.source}."
    return Unit(layer.name, layer.kind, unit, value, float(step.value), [line], sentence, inputs)


def _explain_dense(
    net: Network, layer: Layer, unit: tuple[int, ...], value: float, class_names: Sequence[str]
) -> Unit:
    lead, i = unit[:-1], unit[-1]  # Dense acts on the last axis (lead = () for a vector)
    k = layer.keras_layer
    x = layer.input[lead]
    w = np.asarray(k.kernel.numpy(), np.float64)[:, i]
    bias = float(np.asarray(k.bias.numpy(), np.float64)[i]) if k.use_bias else 0.0
    lines = dense_lines(x, w, bias)
    pre = lines[-1].facts["total"]
    act, params = activation_of(k)
    shown = lines[-1].facts["shown"]
    table = [
        {"input": int(j), "x": float(x[j]), "w": float(w[j]), "x·w": float(x[j] * w[j])}
        for j in shown
    ]
    inputs = [{"layer": layer.source, "unit": [*lead, j], "value": float(x[j])} for j in shown]
    if act == "softmax":
        labels = _labels(class_names, layer.output.shape[-1])
        logits = x @ np.asarray(k.kernel.numpy(), np.float64)
        if k.use_bias:
            logits = logits + np.asarray(k.bias.numpy(), np.float64)
        soft = softmax_lines(logits, i, labels)
        lines = [*lines, *soft]
        sentence = logit_sentence(labels[i], pre, logits.size, soft[-1])
        total = soft[-1].facts["probability"]
        table = _softmax_table(logits, layer.output[lead], labels)
        return Unit(layer.name, layer.kind, unit, value, total, lines, sentence, inputs, table)
    total = pre
    if act != "linear":
        lines.append(activation_line(act, pre, value, params))
        total = value
    sentence = (
        f"{layer.name} unit {i} adds up {x.size} inputs, each times its own weight, plus a bias."
    )
    return Unit(layer.name, layer.kind, unit, value, total, lines, sentence, inputs, table)


def _explain_batch_norm(layer: Layer, unit: tuple[int, ...], value: float) -> Unit:
    k = layer.keras_layer
    ch = unit[-1]

    def at(variable, default: float) -> float:
        return (
            float(np.asarray(variable.numpy(), np.float64)[ch]) if variable is not None else default
        )

    mean, var = at(k.moving_mean, 0.0), at(k.moving_variance, 1.0)
    gamma = at(k.gamma, 1.0) if k.scale else 1.0
    beta = at(k.beta, 0.0) if k.center else 0.0
    x = float(layer.input[unit])
    total = (x - mean) / np.sqrt(var + k.epsilon) * gamma + beta
    line = batch_norm_line(x, mean, var, float(k.epsilon), gamma, beta, float(total))
    table = [{"statistic": s, "value": v} for s, v in
             [("moving mean", mean), ("moving variance", var), ("ε", float(k.epsilon)),
              ("γ (scale)", gamma), ("β (shift)", beta)]]  # fmt: skip
    sentence = (
        "At inference, batch norm uses the mean and variance it averaged over training, "
        "never the current batch's."
    )
    inputs = [{"layer": layer.source, "unit": list(unit), "value": x}]
    return Unit(layer.name, layer.kind, unit, value, float(total), [line], sentence, inputs, table)


# ----------------------------------------------------------------------------- stepper traces
def conv_unit_trace(
    net: Network, name: str, channel: int, around: tuple[int, int], shown: int = SHOWN_CHANNELS
) -> dict:
    """One conv map as the Convolution page's stepper shows it, with the network's numbers.

    The stepper draws ``shown`` input channels (those contributing most, by ``|sum|``, at
    ``around``: the unit the learner clicked) with their kernel slices and partial maps;
    each step's worked lines cover ALL input channels (the largest written out, the rest
    folded with their exact sum), the bias and the activation (inside the conv, or the
    separate activation layer right after it), so every step's last line is the value in
    the map.

    Returns
    -------
    dict
        :func:`cnnviz.conv.conv_trace`'s layout, plus ``total_channels``, ``shown_channels``
        (their indices), ``activation`` (a label such as ``"LeakyReLU (leaky2)"``, or
        ``None``), ``layer``, ``map``, ``source`` and ``sums`` = the pre-activation (the
        conv's value when it has no activation of its own).
    """
    layer = net.get(name)
    if layer.kind != "Conv2D" or layer.note is not None:
        raise NetworkError(f"{name} is not a Conv2D layer this view can replay.")
    r0, c0, _ = check_unit(layer.output.shape, (*around, channel), name)
    kernel, bias = _kernel_bias(layer, channel)
    cfg = _conv_config(layer)
    cin = layer.input.shape[2]
    names = [channel_name(i, cin) for i in range(cin)]
    # A large map is replayed over a square of positions around the clicked unit (its input
    # window cut out, the padding made explicit): what is sent stays small on any layer.
    x, (top, left), crop = _crop_for(layer, kernel.shape[:2], cfg, (r0, c0))
    if crop is not None:
        cfg = {**cfg, "padding": "valid"}
    steps = conv.conv_steps(x, kernel[..., None], bias, **cfg)
    ho, wo = (crop[2], crop[3]) if crop is not None else layer.output.shape[:2]
    clicked = steps[(r0 - top) * wo + (c0 - left)].subtotals
    drawn = [int(i) for i in np.argsort(-np.abs(clicked), kind="stable")[:shown]]
    # The drawn channels' own trace (their input maps, kernel slices, partial maps), with
    # the bias: conv_trace's per-step numbers for those channels.
    base = conv.conv_trace(x[..., drawn], kernel[..., drawn], bias, **cfg)
    own_act, own_params = activation_of(layer.keras_layer)
    after = net.following(name)
    pre = np.array([s.value for s in steps]).reshape(ho, wo)  # all channels + bias
    rows, cols = slice(top, top + ho), slice(left, left + wo)
    if own_act != "linear":
        act_name, act_params, label, out_map = (
            own_act,
            own_params,
            own_act,
            layer.output[rows, cols, channel],
        )
    elif after is not None:
        act_name, act_params = activation_of(after.keras_layer)
        label = f"{type(after.keras_layer).__name__} ({after.name})"
        out_map = after.output[rows, cols, channel]
    else:
        act_name, act_params, label, out_map = "linear", {}, None, layer.output[rows, cols, channel]
    label = {"relu": "ReLU", "leaky_relu": "LeakyReLU"}.get(label, label) if label else None
    for s, t in zip(steps, base["steps"], strict=True):
        i, j = s.out_row, s.out_col
        # The drawn channels' products written out, as on the Convolution page (the panels'
        # cells are too small for them on a large map); the others' lines are their sums.
        expansions = [None] * cin
        for d in drawn:
            expansions[d] = _expansion(s, d)
        lines = channel_sum_lines(names, s.subtotals, bias, expansions=expansions)
        if act_name != "linear":
            lines.append(
                activation_line(act_name, float(pre[i, j]), float(out_map[i, j]), act_params)
            )
        t["lines"] = lines
        t["value"] = float(pre[i, j])
        t["output"] = float(out_map[i, j])
    for t in base["steps"]:  # display-only arrays: 6 significant digits keep them small
        for k in ("window", "products", "subtotals"):
            t[k] = _compact(t[k])
    for k in ("input", "kernel", "partials"):
        base[k] = _compact(base[k])
    base.update(
        channels=[names[i] for i in drawn] if cin > 1 else [""],
        sums=pre.tolist(),
        output=np.asarray(out_map, np.float64).tolist(),
        relu=False,
        activation=label,
        total_channels=int(cin),
        shown_channels=drawn,
        layer=name,
        map=int(channel),
        source=layer.source,
        input_label=layer.source,
        output_label=f"{after.name if after is not None and own_act == 'linear' else name} "
        f"map {channel}",  # label
        origin=[int(top), int(left)],
        map_shape=[int(n) for n in layer.output.shape[:2]],
    )
    if crop is not None:
        base["output_label"] += (
            f", rows {top}–{top + ho - 1}, columns {left}–{left + wo - 1} of "  # label
            f"{_shape_text(layer.output.shape[:2])}"  # label
        )
        base["input_label"] = f"{layer.source} (the part these positions read)"  # label
    return base


MAX_POSITIONS = 28 * 28  # a map with more positions is replayed over a CROP × CROP square
CROP = 20


def _crop_for(layer: Layer, size, cfg: dict, at: tuple[int, int]):
    """The input a replay reads: the whole input, or for a map larger than
    :data:`MAX_POSITIONS` the window of a ``CROP × CROP`` square of positions around ``at``
    (zeros where the layer pads). Returns ``(input, (top, left), crop)``: ``crop`` is
    ``None`` for the whole map, else ``(top, left, rows, cols)`` of the positions kept."""
    ho, wo = layer.output.shape[:2]
    if ho * wo <= MAX_POSITIONS:
        return layer.input, (0, 0), None
    h, w = layer.input.shape[:2]
    (sh, sw), (dh, dw) = cfg["stride"], cfg["dilation"]
    span = ((size[0] - 1) * dh + 1, (size[1] - 1) * dw + 1)
    pads = []
    for n, out, s, k in ((h, ho, sh, span[0]), (w, wo, sw, span[1])):
        total = max((out - 1) * s + k - n, 0) if cfg["padding"] == "same" else 0
        pads.append((total // 2, total - total // 2))
    padded = np.pad(layer.input, (*pads, (0, 0)))
    nr, nc = min(CROP, ho), min(CROP, wo)
    top = int(np.clip(at[0] - nr // 2, 0, ho - nr))
    left = int(np.clip(at[1] - nc // 2, 0, wo - nc))
    x = padded[
        top * sh : (top + nr - 1) * sh + span[0],
        left * sw : (left + nc - 1) * sw + span[1],
    ]
    return x, (top, left), (top, left, nr, nc)


def compact_overview(view: dict) -> dict:
    """``view`` (from :func:`overview`) with every drawn value rounded to 6 significant
    digits: what the browser needs (it writes at most 3 decimals), in under half the bytes.

    >>> compact_overview({"columns": [{"values": [0.123456789], "maps": None}]})["columns"]
    [{'values': [0.123457], 'maps': None}]
    """
    columns = []
    for col in view["columns"]:
        col = dict(col)
        if col.get("values") is not None:
            col["values"] = _compact(col["values"])
        if col.get("maps"):
            col["maps"] = [{**m, "values": _compact(m["values"])} for m in col["maps"]]
        if col.get("kernels"):
            col["kernels"] = {
                c: {s: _compact(k) for s, k in slices.items()}
                for c, slices in col["kernels"].items()
            }
        columns.append(col)
    return {**view, "columns": columns}


def _compact(values) -> list:
    """Nested float lists rounded to 6 significant digits (the stepper shows at most 3
    decimals): a replayed map is sent to the browser in a fraction of the bytes."""
    a = np.asarray(values, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.where(a == 0, 0, 5 - np.floor(np.log10(np.abs(a)))).astype(int)
    scale = 10.0 ** np.clip(digits, -300, 300)
    out = np.round(a * scale) / scale
    if np.all(np.isfinite(out)):
        return out.tolist()
    # NaN and ±inf (a diverged run) are not JSON: the browser gets null, drawn as "no value"
    return np.where(np.isfinite(out), out, None).tolist()


def pool_unit_trace(net: Network, name: str, channel: int) -> dict:
    """One map of a pooling layer as the stepper shows it (:func:`cnnviz.pooling.pool_trace`
    on that channel of the layer's input, with the layer's size, stride and padding)."""
    layer = net.get(name)
    if layer.kind not in ("MaxPooling2D", "AveragePooling2D") or layer.note is not None:
        raise NetworkError(f"{name} is not a pooling layer this view can replay.")
    check_unit(layer.output.shape, (0, 0, channel), name)
    trace = pooling.pool_trace(layer.input[..., channel], **_pool_config(layer))
    trace.update(
        layer=name,
        map=int(channel),
        source=layer.source,
        input_label=f"{layer.source} map {channel}",  # label
        output_label=f"{name} map {channel}",  # label
    )
    return trace
