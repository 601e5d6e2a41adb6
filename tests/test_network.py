"""cnnviz.network: every layer's numbers are Keras's, and every unit's worked sum is its value.

- numpy == Keras, layer by layer (≤ 1e-5 of the layer's largest |value|), for every bundled
  model on a real MNIST test digit, every zoo model and a custom-built one with random
  weights, and a model holding every layer type the forward pass knows;
- for random units of every layer, :func:`network.explain`'s total equals the value the
  overview draws (and :meth:`Network.value`), and the stepper trace's grid agrees;
- each layer kind's worked lines, recomputed here from the layer's weights and input;
- a layer with no numpy version opens, says so in one sentence, and the rest explains;
- one conv unit's trace stays small (the shown channels, not the whole layer).
"""

from __future__ import annotations

import itertools
import json

import keras
import numpy as np
import pytest
from keras import layers
from randomised import randomise as _randomise

from cnnviz import conv, data, models, network, scratch
from cnnviz.network import NetworkError

KERAS_RTOL = 1e-5  # float32 Keras vs float64 numpy, relative to the layer's largest |value|
UNIT_RTOL = 1e-9  # the worked sum vs the forward pass: both float64
BUNDLED = models.bundled_names()

# Zoo models at the smallest input each takes (fast), with its textbook class count.
ZOO_SHAPES = {
    "book_mnist": (12, 12, 1),
    "dli_asl": (12, 12, 1),
    "fashion_leaky": (12, 12, 1),
    "fashion_leaky_dropout": (12, 12, 1),
    "cookbook_mlp": (8, 8, 1),
    "cookbook_cnn": (10, 10, 1),
    "global_pool_cnn": (12, 12, 1),
    "cifar_augment": (16, 16, 3),
    "chollet_small_data": (46, 46, 3),
    "cookbook_50_grey": (16, 16, 1),
    "toy_4x4": (4, 4, 1),
}
CUSTOM_SPEC = """conv filters=4 kernel=3 padding=same activation=leaky_relu
pool size=2 mode=avg
conv filters=6 kernel=3 stride=2 activation=tanh
batchnorm
pool size=2 padding=same
dropout rate=0.3
dense units=8 activation=sigmoid"""


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    """A real MNIST test digit ``(28, 28, 1)`` in [0, 1], as Predict prepares it."""
    return data.prepare(data.load_mnist_sample().x_test[:1])[0]


_BUNDLED_CACHE: dict[str, tuple] = {}


def _bundled(name: str, image: np.ndarray):
    """``(model, network)`` of a bundled model on the digit, loaded once per session."""
    if name not in _BUNDLED_CACHE:
        model = models.load(models.bundled(name))
        _BUNDLED_CACHE[name] = (model, network.run(model, image))
    return _BUNDLED_CACHE[name]


def _every_layer_model() -> keras.Model:
    """One chain holding every layer type the numpy forward pass knows (RGB, odd sizes)."""
    inputs = keras.Input((10, 9, 3), name="image")
    x = layers.Rescaling([0.5, 1.0, 2.0], offset=[0.0, -0.5, 0.25], name="rescale")(inputs)
    x = layers.RandomFlip(name="flip")(x)
    x = layers.RandomRotation(0.1, name="rotate")(x)
    x = layers.RandomZoom(0.1, name="zoom")(x)
    x = layers.RandomTranslation(0.1, 0.1, name="shift")(x)
    x = layers.RandomContrast(0.2, name="contrast")(x)
    x = layers.GaussianNoise(0.1, name="noise")(x)
    x = layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x)  # (13, 10, 3)
    x = layers.Conv2D(4, 3, strides=2, padding="same", activation="tanh", name="conv_s2")(x)
    x = layers.Conv2D(5, 2, dilation_rate=2, padding="same", use_bias=False, name="conv_d2")(x)
    x = layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.05, name="relu_capped")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.SpatialDropout2D(0.3, name="sdrop")(x)
    x = layers.AveragePooling2D(2, strides=1, name="avg")(x)  # (6, 4, 5)
    x = layers.Conv2D(6, 3, padding="same", activation="sigmoid", name="conv_sig")(x)
    x = layers.MaxPooling2D(2, padding="same", name="max_same")(x)  # (3, 2, 6)
    x = layers.Activation("elu", name="elu")(x)
    x = layers.LeakyReLU(negative_slope=0.3, name="leaky")(x)
    x = layers.GlobalMaxPooling2D(keepdims=True, name="gmp")(x)  # (1, 1, 6)
    x = layers.GlobalAveragePooling2D(name="gap")(x)  # (6,)
    x = layers.Reshape((2, 3), name="reshape")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(5, activation="swish", name="dense")(x)
    x = layers.Dropout(0.5, name="drop")(x)
    x = layers.Dense(4, name="logits")(x)
    x = layers.Softmax(name="softmax")(x)
    return _randomise(keras.Model(inputs, x, name="every_layer"), seed=3)


def _zoo(name: str) -> tuple[keras.Model, np.ndarray]:
    shape = ZOO_SHAPES[name]
    # The same weights on every run: float32 rounding is relative to the terms summed, so an
    # unlucky draw (a ReLU map whose one positive value is a near-cancellation) would fail
    # a tolerance relative to the result.
    keras.utils.set_random_seed(3)
    model = models.build(name, shape, models.ZOO[name].default_classes)
    image = np.random.default_rng(1).random(shape).astype("float32")
    return _randomise(model), image


def _custom() -> tuple[keras.Model, np.ndarray]:
    keras.utils.set_random_seed(3)
    model = models.build_custom(models.parse_blocks(CUSTOM_SPEC), (14, 14, 1), 10)
    return _randomise(model, seed=2), np.random.default_rng(4).random((14, 14, 1), "float32")


def _keras_outputs(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Keras's own output of every layer (no batch axis): keras.Model(inputs, layer.output)."""
    chain = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    probe = keras.Model(model.inputs, [layer.output for layer in chain])
    outs = probe.predict_on_batch(np.asarray(image, np.float32)[None])
    outs = outs if isinstance(outs, list | tuple) else [outs]
    return {layer.name: np.asarray(o, np.float64)[0] for layer, o in zip(chain, outs, strict=True)}


def _assert_equals_keras(model: keras.Model, image: np.ndarray) -> network.Network:
    net = network.run(model, image)
    theirs = _keras_outputs(model, image)
    assert [layer.name for layer in net.layers] == list(theirs)
    previous = np.asarray(image, np.float64)
    for layer in net.layers:
        ref = theirs[layer.name]
        assert layer.output.shape == ref.shape, layer.name
        assert layer.output.dtype == np.float64
        scale = max(float(np.abs(ref).max()), np.finfo(np.float32).tiny)
        err = float(np.abs(layer.output - ref).max())
        assert err <= KERAS_RTOL * scale, (layer.name, layer.kind, err, scale)
        np.testing.assert_array_equal(layer.input, previous)  # a chain: it reads the last one
        previous = layer.output
    np.testing.assert_allclose(
        net.probabilities, model.predict_on_batch(image[None])[0], rtol=0, atol=1e-6
    )
    return net


def _column(view: dict, name: str) -> dict:
    (col,) = [c for c in view["columns"] if c["name"] == name]
    return col


def _drawn(col: dict, unit: tuple[int, ...]) -> float:
    """The value the overview draws for ``unit`` of a column (``KeyError`` if not drawn)."""
    if col["type"] == "maps":
        maps = {m["index"]: m["values"] for m in col["maps"]}
        return maps[unit[2]][unit[0]][unit[1]]
    return col["values"][int(np.ravel_multi_index(unit, col["shape"]))]


def _random_units(shape, rng, k: int = 3) -> list[tuple[int, ...]]:
    return [tuple(int(rng.integers(0, s)) for s in shape) for _ in range(k)]


# ----------------------------------------------------------------------------- numpy == Keras
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_models_equal_keras_layer_by_layer_on_a_digit(name, digit):
    model, _ = _bundled(name, digit)
    net = _assert_equals_keras(model, digit)
    assert all(layer.note is None for layer in net.layers)  # every bundled layer explains
    assert abs(float(net.probabilities.sum()) - 1) < 1e-9


@pytest.mark.parametrize("name", list(models.ZOO))
def test_zoo_models_equal_keras_layer_by_layer(name):
    model, image = _zoo(name)
    net = _assert_equals_keras(model, image)
    assert net.layers[-1].output.shape == (models.ZOO[name].default_classes,)
    assert all(layer.note is None for layer in net.layers)


def test_custom_and_every_layer_type_equal_keras():
    model, image = _custom()
    net = _assert_equals_keras(model, image)
    assert [layer.kind for layer in net.layers] == [
        "Conv2D", "LeakyReLU", "AveragePooling2D", "Conv2D", "BatchNormalization",
        "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dense",
    ]  # fmt: skip
    image = np.random.default_rng(5).normal(0, 1, (10, 9, 3)).astype("float32")
    net = _assert_equals_keras(_every_layer_model(), image)
    kinds = {layer.kind for layer in net.layers}
    assert kinds >= network.EXPLAINED - scratch.INFERENCE_IDENTITY  # every explained kind
    assert all(layer.note is None for layer in net.layers)
    for layer in net.layers:  # augmentation and noise: identity at inference
        if layer.kind in scratch.INFERENCE_IDENTITY:
            np.testing.assert_array_equal(layer.output, layer.input)


def test_a_learners_saved_run_opens_and_explains(tmp_path, digit):
    from cnnviz import runs

    model = models.build_custom(models.parse_blocks(CUSTOM_SPEC), (28, 28, 1), 10)
    _randomise(model, seed=9)
    store = runs.RunStore(tmp_path / "runs")
    token = runs.new_token()
    record = runs.RunRecord(id="", number=0, model_name="custom", dataset="mnist-sample",
                            class_names=list(data.DIGITS), config={}, status="done",
                            message="", history={}, blocks=CUSTOM_SPEC)  # fmt: skip
    saved = store.save_run(token, record, model, card={"model": "custom"})
    loaded = store.load_model(token, saved.id)
    net = _assert_equals_keras(loaded, digit)
    np.testing.assert_array_equal(net.probabilities, network.run(model, digit).probabilities)
    assert _check_totals(net, seed=9, rows=2) == 2 * len(net.layers)


def test_forward_is_the_last_step_of_forward_steps(digit):
    model, _ = _bundled("handwriting_cnn", digit)
    steps = scratch.forward_steps(model, digit)
    named = scratch.forward(model, digit)
    assert [layer.name for layer, _, _ in steps] == [n for n, _ in named]
    for (_, x, y), (_, out) in zip(steps, named, strict=True):
        np.testing.assert_array_equal(y, out)
        assert x.shape[0] == y.shape[0] == 1  # the batch axis is kept
    for (_, _, y), (_, x, _) in itertools.pairwise(steps):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(steps[0][1][0], digit)
    np.testing.assert_allclose(named[-1][1], model.predict_on_batch(digit[None]), atol=1e-6)


# ------------------------------------------------------------ elementary total == overview
def _check_totals(net: network.Network, seed: int, rows: int = 3) -> int:
    """For ``rows`` random units of every layer: explain's total == the drawn value."""
    rng = np.random.default_rng(seed)
    widest = max(layer.output.shape[-1] for layer in net.layers)
    view = network.overview(net, max_maps=widest)  # every map drawn
    checked = 0
    for layer in net.layers:
        col = _column(view, layer.name)
        assert col["explained"] is (layer.note is None) and col["note"] == layer.note
        if layer.note is not None:
            continue
        assert col["shape"] == list(layer.output.shape)
        scale = max(float(np.abs(layer.output).max()), 1.0)
        for unit in _random_units(layer.output.shape, rng, rows):
            drawn = _drawn(col, unit)
            assert drawn == net.value(layer.name, unit) == float(layer.output[unit])
            u = network.explain(net, layer.name, unit)
            assert (u.layer, u.kind, u.unit) == (layer.name, layer.kind, unit)
            assert u.value == drawn
            assert abs(u.total - drawn) <= UNIT_RTOL * max(abs(drawn), scale), (layer.name, unit)
            assert u.lines and all(isinstance(line, str) for line in u.lines)
            checked += 1
    return checked


@pytest.mark.parametrize("name", BUNDLED)
def test_explained_total_is_the_value_the_overview_draws(name, digit):
    _, net = _bundled(name, digit)
    assert _check_totals(net, seed=sum(map(ord, name))) == 3 * len(net.layers)


def test_explained_totals_for_every_layer_type_and_zoo_models():
    image = np.random.default_rng(5).normal(0, 1, (10, 9, 3)).astype("float32")
    nets = [network.run(_every_layer_model(), image), network.run(*_custom())]
    nets += [network.run(*_zoo(name)) for name in ("dli_asl", "cifar_augment", "toy_4x4")]
    for i, net in enumerate(nets):
        assert _check_totals(net, seed=i, rows=4) == 4 * len(net.layers)


def test_overview_draws_a_selected_map_beyond_max_maps(digit):
    _, net = _bundled("handwriting_cnn", digit)
    rng = np.random.default_rng(7)
    for layer in net.layers:
        if layer.output.ndim != 3:
            continue
        n = layer.output.shape[2]
        unit = (int(rng.integers(layer.output.shape[0])), 0, n - 1)
        view = network.overview(net, max_maps=2, selected=(layer.name, unit))
        col = _column(view, layer.name)
        assert [m["index"] for m in col["maps"]] == [0, 1, n - 1]
        assert col["hidden"] == n - 3
        assert _drawn(col, unit) == net.value(layer.name, unit)
        assert view["selected"] == {"layer": layer.name, "unit": list(unit)}
    view = network.overview(net, class_names=[f"digit {i}" for i in range(10)])
    out = _column(view, "output")
    assert out["type"] == "probs" and out["labels"][3] == "digit 3"
    assert out["values"] == net.probabilities.tolist()
    first = view["columns"][0]
    assert first["name"] == net.input_name and first["kind"] == "InputLayer"
    assert first["maps"][0]["values"] == digit[..., 0].astype(np.float64).tolist()
    assert _column(view, "conv2")["title"] == "conv2 · 14×14×64"
    assert json.loads(json.dumps(view)) == view  # JSON-able as it is
    with pytest.raises(NetworkError, match="max_maps"):
        network.overview(net, max_maps=0)


def test_conv_trace_grid_and_steps_equal_the_overview(digit):
    rng = np.random.default_rng(11)
    for name in ("handwriting_cnn", "global_pool_cnn", "book_mnist"):
        _, net = _bundled(name, digit)
        view = network.overview(net, max_maps=200)
        for layer in net.layers:
            if layer.kind != "Conv2D":
                continue
            r, c, ch = _random_units(layer.output.shape, rng, 1)[0]
            trace = network.conv_unit_trace(net, layer.name, ch, (r, c))
            after = net.following(layer.name)
            shown = after if after is not None else layer  # where the map the learner sees is
            # a map larger than MAX_POSITIONS is replayed over a CROP × CROP square
            top, left = trace["origin"]
            assert trace["map_shape"] == list(layer.output.shape[:2])
            ho, wo = layer.output.shape[:2]
            if ho * wo > network.MAX_POSITIONS:
                ho, wo = min(ho, network.CROP), min(wo, network.CROP)
            else:
                assert (top, left) == (0, 0)
            assert trace["output_shape"] == [ho, wo]
            assert np.shape(trace["sums"]) == np.shape(trace["output"]) == (ho, wo)
            i, j = r - top, c - left
            assert 0 <= i < ho and 0 <= j < wo
            assert trace["output"][i][j] == _drawn(_column(view, shown.name), (r, c, ch))
            full = shown.output[top : top + ho, left : left + wo, ch]
            np.testing.assert_allclose(trace["output"], full, rtol=1e-12, atol=0)
            step = trace["steps"][i * wo + j]
            assert step["out"] == [i, j]
            assert step["output"] == trace["output"][i][j]
            pre = float(layer.output[r, c, ch]) if after is not None else None
            if pre is not None:  # a linear conv, a separate activation: sums = the conv's map
                assert trace["sums"][i][j] == pytest.approx(pre, rel=UNIT_RTOL, abs=1e-12)
            total_line = step["lines"][-1] if trace["activation"] is None else step["lines"][-2]
            assert total_line.facts["total"] == pytest.approx(step["value"], rel=1e-12, abs=0)
            if trace["activation"] is not None:
                assert step["lines"][-1].facts["post"] == step["output"]
                assert step["lines"][-1].facts["pre"] == step["value"]
            assert step["value"] == trace["sums"][i][j]
            assert trace["total_channels"] == layer.input.shape[2]


# ----------------------------------------------------------------------------- layer kinds
def _window(x: np.ndarray, r: int, c: int, k: int, pad: int) -> np.ndarray:
    """The ``k×k`` patch of ``(H, W, C)`` under output ``(r, c)``, stride 1, ``pad`` zeros."""
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    return xp[r : r + k, c : c + k]


def _keras_pre_activation(layer, x: np.ndarray) -> np.ndarray:
    """A Conv2D's sum + bias before its activation, from Keras's own convolution."""
    cfg = layer.get_config()
    y = keras.ops.conv(
        np.asarray(x, np.float32)[None],
        layer.kernel,
        strides=cfg["strides"],
        padding=cfg["padding"],
    )
    return np.asarray(y, np.float64)[0] + np.asarray(layer.bias.numpy(), np.float64)


def _check_conv_lines(u, patch, kernel, bias, names):
    sub = (patch * kernel).sum(axis=(0, 1))  # each input channel's Σ patch × kernel slice
    order = sorted(range(sub.size), key=lambda i: (-abs(sub[i]), i))
    top = order[: network.TOP_CHANNELS]
    shown_lines = u.lines[: len(top)]
    assert [line.facts["channel"] for line in shown_lines] == top
    for line, i in zip(shown_lines, top, strict=True):
        assert line.facts["subtotal"] == pytest.approx(sub[i], rel=1e-12, abs=1e-15)
        assert str(line).startswith(f"{names[i]}: ") and str(line).endswith(
            conv.format_number(sub[i])
        )
    sizes = [abs(line.facts["subtotal"]) for line in shown_lines]
    assert sizes == sorted(sizes, reverse=True)
    rest = sub[order[network.TOP_CHANNELS :]]
    total_line = next(line for line in u.lines if "total" in line.facts)
    if rest.size:
        folded = u.lines[len(top)]
        assert folded.facts["folded"] == rest.size
        assert folded.facts["folded_sum"] == pytest.approx(rest.sum(), rel=1e-12, abs=1e-15)
        assert all(abs(v) <= min(sizes) for v in rest)
    assert total_line.facts["bias"] == bias
    assert total_line.facts["total"] == pytest.approx(sub.sum() + bias, rel=1e-12, abs=1e-15)
    return total_line.facts["total"]


def test_conv_unit_with_a_separate_activation_layer(digit):
    _, net = _bundled("handwriting_cnn", digit)
    conv2, leaky2 = net.get("conv2"), net.get("leaky2")
    assert net.following("conv2") is leaky2 and net.following("leaky2") is None
    kernel = np.asarray(conv2.keras_layer.kernel.numpy(), np.float64)
    bias = np.asarray(conv2.keras_layer.bias.numpy(), np.float64)
    assert conv2.keras_layer.get_config()["padding"] == "same"
    slope = leaky2.keras_layer.get_config()["negative_slope"]
    names = [f"channel {i}" for i in range(conv2.input.shape[2])]
    rng = np.random.default_rng(0)
    signs = set()
    for r, c, ch in _random_units(conv2.output.shape, rng, 6):
        u = network.explain(net, "conv2", (r, c, ch))
        patch = _window(conv2.input, r, c, 3, 1)
        pre = _check_conv_lines(u, patch, kernel[..., ch], float(bias[ch]), names)
        assert u.total == pre == pytest.approx(u.value, rel=UNIT_RTOL)  # a linear conv
        assert "activation" not in u.lines[-1].facts
        assert u.sentence.facts["top"] == u.lines[0].facts["channel"]
        assert u.sentence.facts["channels"] == 32
        # the separate LeakyReLU: pre = conv2's value, post = the map's value
        a = network.explain(net, "leaky2", (r, c, ch))
        (line,) = a.lines
        assert line.facts["pre"] == u.value and line.facts["post"] == a.value
        want = u.value if u.value >= 0 else slope * u.value
        assert a.value == pytest.approx(want, rel=1e-6)
        assert a.inputs == [{"layer": "conv2", "unit": [r, c, ch], "value": u.value}]
        signs.add(u.value >= 0)
        if u.value < 0:
            assert f"scaled by {conv.format_number(slope)}" in line
    trace = network.conv_unit_trace(net, "conv2", 12, (5, 7))
    assert trace["activation"] == "LeakyReLU (leaky2)"
    assert trace["output"] == net.get("leaky2").output[..., 12].tolist()


def test_conv_unit_with_its_own_activation(digit):
    _, net = _bundled("global_pool_cnn", digit)
    layer = net.get("conv2")
    keras_layer = layer.keras_layer
    assert keras_layer.get_config()["activation"] == "relu"
    kernel = np.asarray(keras_layer.kernel.numpy(), np.float64)
    bias = np.asarray(keras_layer.bias.numpy(), np.float64)
    pre_map = _keras_pre_activation(keras_layer, layer.input)
    names = [f"channel {i}" for i in range(layer.input.shape[2])]
    negative = tuple(int(i) for i in np.argwhere(pre_map < -1e-3)[0])
    positive = tuple(int(i) for i in np.argwhere(pre_map > 1e-3)[0])
    for r, c, ch in (negative, positive):
        u = network.explain(net, "conv2", (r, c, ch))
        patch = _window(layer.input, r, c, 3, 1)
        pre = _check_conv_lines(u, patch, kernel[..., ch], float(bias[ch]), names)
        assert pre == pytest.approx(pre_map[r, c, ch], rel=1e-5)  # Keras's own sum + bias
        act = u.lines[-1]
        assert act.facts["activation"] == "relu" and act.facts["pre"] == pre
        assert act.facts["post"] == u.value == u.total == max(pre, 0.0)
        assert act.facts["zeroed"] == (pre < 0)
        assert ("so it becomes 0" in act) == (pre < 0)
    trace = network.conv_unit_trace(net, "conv2", negative[2], negative[:2])
    assert trace["activation"] == "ReLU"
    step = trace["steps"][negative[0] * layer.output.shape[1] + negative[1]]
    assert step["output"] == 0.0 and step["lines"][-1].facts["zeroed"] is True


def test_rgb_conv_names_red_green_blue():
    model, image = _zoo("cifar_augment")
    net = network.run(model, image)
    u = network.explain(net, "conv1_1", (3, 4, 5))
    named = {line.split(":")[0] for line in u.lines[:3]}
    assert named == {"red", "green", "blue"}
    assert not any("other" in line for line in u.lines)  # 3 channels: none folded
    relu = network.explain(net, "relu1_1", (3, 4, 5))
    assert relu.lines[0].facts["pre"] == u.value
    assert relu.value == max(u.value, 0.0)
    trace = network.conv_unit_trace(net, "conv1_1", 5, (3, 4))
    assert trace["activation"] == "Activation (relu1_1)"
    assert trace["output"] == net.get("relu1_1").output[..., 5].tolist()


def test_pooling_units(digit):
    _, net = _bundled("handwriting_cnn", digit)
    rng = np.random.default_rng(1)
    for name in ("pool1", "pool2", "pool3"):
        layer = net.get(name)
        h, w = layer.input.shape[:2]
        for r, c, ch in _random_units(layer.output.shape, rng, 4):
            window = layer.input[2 * r : min(2 * r + 2, h), 2 * c : min(2 * c + 2, w), ch]
            u = network.explain(net, name, (r, c, ch))
            assert u.value == u.total == window.max()
            (src,) = u.inputs
            assert src["layer"] == layer.source and src["value"] == window.max()
            assert layer.input[tuple(src["unit"])] == window.max()
            assert 2 * r <= src["unit"][0] < 2 * r + 2 and 2 * c <= src["unit"][1] < 2 * c + 2
    image = np.random.default_rng(5).normal(0, 1, (10, 9, 3)).astype("float32")
    net = network.run(_every_layer_model(), image)
    avg = net.get("avg")  # 2×2, stride 1, valid
    for r, c, ch in _random_units(avg.output.shape, rng, 4):
        u = network.explain(net, "avg", (r, c, ch))
        assert u.total == pytest.approx(avg.input[r : r + 2, c : c + 2, ch].mean(), rel=1e-12)
        assert u.inputs == []
    gap = net.get("gap")
    for ch in range(gap.output.shape[0]):
        u = network.explain(net, "gap", (ch,))
        (line,) = u.lines
        assert line.facts["total"] == pytest.approx(gap.input[..., ch].sum(), rel=1e-12)
        assert u.total == u.value == pytest.approx(gap.input[..., ch].mean(), rel=1e-12)
    gmp = net.get("gmp")  # keepdims: a (1, 1, C) map
    for ch in range(gmp.output.shape[2]):
        u = network.explain(net, "gmp", (0, 0, ch))
        assert u.total == u.value == gmp.input[..., ch].max()
        (src,) = u.inputs
        assert gmp.input[tuple(src["unit"])] == u.value and src["unit"][2] == ch
    trace = network.pool_unit_trace(net, "max_same", 2)
    assert trace["output"] == net.get("max_same").output[..., 2].tolist()
    with pytest.raises(NetworkError, match="not a pooling layer"):
        network.pool_unit_trace(net, "gap", 0)
    with pytest.raises(NetworkError, match="not a Conv2D"):
        network.conv_unit_trace(net, "avg", 0, (0, 0))


def test_global_max_pool_and_zero_padding(digit):
    _, net = _bundled("global_pool_cnn", digit)
    gp = net.get("global_pool")
    for ch in (0, 17, 127):
        u = network.explain(net, "global_pool", (ch,))
        (line,) = u.lines
        at = np.unravel_index(int(np.argmax(gp.input[..., ch])), gp.input.shape[:2])
        assert line.facts["at"] == tuple(int(i) for i in at) and line.facts["cells"] == 81
        assert u.total == u.value == gp.input[..., ch].max()
        assert u.inputs[0]["unit"] == [*line.facts["at"], ch]
    margin = net.get("margin")  # 4 px of zeros around the digit
    inside = network.explain(net, "margin", (4 + 10, 4 + 12, 0))
    assert inside.total == inside.value == float(digit[10, 12, 0])
    assert inside.inputs[0]["unit"] == [10, 12, 0]
    frame = network.explain(net, "margin", (2, 20, 0))
    assert frame.total == frame.value == 0.0 and frame.inputs == []
    assert margin.output.shape == (36, 36, 1)


def test_flatten_lands_at_row_times_w_c_plus_col_times_c_plus_channel(digit):
    _, net = _bundled("handwriting_cnn", digit)
    layer = net.get("flatten")
    _, w, c = layer.input.shape
    for row, col, ch in [(0, 0, 0), (3, 3, 127), (1, 2, 3), (2, 0, 64)]:
        index = row * w * c + col * c + ch
        u = network.explain(net, "flatten", (index,))
        (line,) = u.lines
        assert line.facts["position"] == (row, col, ch) and line.facts["index"] == index
        assert u.inputs == [
            {"layer": layer.source, "unit": [row, col, ch], "value": layer.input[row, col, ch]}
        ]
        assert u.total == u.value == layer.input[row, col, ch]


def test_dense_unit_terms(digit):
    for name, model_name, act in (("dense1", "handwriting_cnn", "linear"),
                                  ("dense1", "book_mnist", "relu")):  # fmt: skip
        _, net = _bundled(model_name, digit)
        layer = net.get(name)
        k = layer.keras_layer
        assert k.get_config()["activation"] == act
        rng = np.random.default_rng(2)
        for (i,) in _random_units(layer.output.shape, rng, 4):
            u = network.explain(net, name, (i,))
            x = layer.input
            w = np.asarray(k.kernel.numpy(), np.float64)[:, i]
            b = float(np.asarray(k.bias.numpy(), np.float64)[i])
            terms = x * w
            pos = [j for j in np.argsort(-terms, kind="stable") if terms[j] > 0][
                : network.TOP_TERMS
            ]
            neg = [j for j in np.argsort(terms, kind="stable") if terms[j] < 0][: network.TOP_TERMS]
            shown = [line for line in u.lines if "term" in line.facts]
            assert [line.facts["input"] for line in shown] == pos + neg
            for line in shown:
                j = line.facts["input"]
                assert (line.facts["x"], line.facts["w"], line.facts["term"]) == (
                    x[j],
                    w[j],
                    terms[j],
                )
            rest = np.setdiff1d(np.arange(x.size), pos + neg)
            folded = next(line for line in u.lines if "folded" in line.facts)
            assert folded.facts["folded"] == rest.size
            assert folded.facts["folded_sum"] == pytest.approx(terms[rest].sum(), rel=1e-12)
            total = next(line for line in u.lines if "total" in line.facts)
            assert total.facts["total"] == pytest.approx(terms.sum() + b, rel=1e-12, abs=1e-15)
            assert [row["input"] for row in u.table] == pos + neg
            if act == "linear":
                assert u.total == total.facts["total"]
            else:
                assert u.lines[-1].facts["post"] == u.value
                assert u.value == pytest.approx(max(total.facts["total"], 0.0), rel=1e-12)
            assert u.total == pytest.approx(u.value, rel=UNIT_RTOL, abs=1e-15)


def test_softmax_output_is_predict(digit):
    model, net = _bundled("handwriting_cnn", digit)
    predicted = model.predict_on_batch(digit[None])[0]
    classes = [f"digit {i}" for i in range(10)]
    out = net.get("output")
    z = out.input @ np.asarray(out.keras_layer.kernel.numpy(), np.float64)
    z = z + np.asarray(out.keras_layer.bias.numpy(), np.float64)
    for i in range(10):
        u = network.explain(net, "output", (i,), class_names=classes)
        assert u.total == pytest.approx(predicted[i], abs=1e-6)
        assert u.total == pytest.approx(u.value, rel=UNIT_RTOL, abs=1e-15)
        assert [row["probability"] for row in u.table] == out.output.tolist()
        assert sum(row["probability"] for row in u.table) == pytest.approx(1.0, abs=1e-12)
        assert [row["logit"] for row in u.table] == pytest.approx(z.tolist(), rel=1e-12)
        exp_line, sum_line, prob_line = u.lines[-3:]
        assert exp_line.facts["exp"] == pytest.approx(np.exp(z[i] - z.max()), rel=1e-12)
        assert sum_line.facts["exp_sum"] == pytest.approx(np.exp(z - z.max()).sum(), rel=1e-12)
        assert prob_line.facts["rank"] == 1 + int(np.sum(z > z[i]))
        assert str(prob_line).startswith(f"digit {i}: ")
        assert u.sentence.facts["probability"] == u.total
    image = np.random.default_rng(5).normal(0, 1, (10, 9, 3)).astype("float32")
    model = _every_layer_model()
    net = network.run(model, image)
    keras_p = model.predict_on_batch(image[None])[0]
    softmax = net.get("softmax")  # a Softmax layer of its own
    for i in range(4):
        u = network.explain(net, "softmax", (i,))
        assert u.total == pytest.approx(keras_p[i], abs=1e-6)
        assert u.lines[-1].facts["probability"] == pytest.approx(softmax.output[i], rel=1e-12)
    assert softmax.output.sum() == pytest.approx(1.0, abs=1e-12)


def test_batch_norm_uses_the_moving_statistics():
    model, image = _zoo("dli_asl")
    net = network.run(model, image)
    theirs = _keras_outputs(model, image)
    rng = np.random.default_rng(3)
    for name in ("bn1", "bn2", "bn3"):
        layer = net.get(name)
        k = layer.keras_layer
        for unit in _random_units(layer.output.shape, rng, 3):
            ch = unit[2]
            mean, var = float(k.moving_mean.numpy()[ch]), float(k.moving_variance.numpy()[ch])
            gamma, beta = float(k.gamma.numpy()[ch]), float(k.beta.numpy()[ch])
            x = layer.input[unit]
            want = gamma * (x - mean) / np.sqrt(var + k.epsilon) + beta
            u = network.explain(net, name, unit)
            (line,) = u.lines
            assert line.facts == {
                "x": x, "mean": mean, "var": var, "eps": k.epsilon, "gamma": gamma,
                "beta": beta, "out": u.total,
            }  # fmt: skip
            assert u.total == pytest.approx(want, rel=1e-12)
            assert u.total == pytest.approx(theirs[name][unit], rel=1e-5, abs=1e-6)
            assert {row["statistic"]: row["value"] for row in u.table}["moving variance"] == var


def test_dropout_and_augmentation_are_identity(digit):
    _, net = _bundled("handwriting_cnn", digit)
    for name, unit in (("dropout1", (3, 5, 7)), ("dropout4", (42,))):
        u = network.explain(net, name, unit)
        layer = net.get(name)
        assert u.total == u.value == layer.input[unit]
        assert u.lines[0].facts == {"value": layer.input[unit], "identity": True}
        assert u.inputs[0]["layer"] == layer.source
    image = np.random.default_rng(5).normal(0, 1, (10, 9, 3)).astype("float32")
    net = network.run(_every_layer_model(), image)
    for name in ("flip", "rotate", "zoom", "shift", "contrast", "noise", "sdrop", "drop"):
        layer = net.get(name)
        unit = tuple(s - 1 for s in layer.output.shape)
        u = network.explain(net, name, unit)
        assert u.total == u.value == layer.input[unit]
    rescale = net.get("rescale")  # per-channel scale and offset
    for ch, (s, o) in enumerate(((0.5, 0.0), (1.0, -0.5), (2.0, 0.25))):
        u = network.explain(net, "rescale", (2, 3, ch))
        assert u.total == u.value == pytest.approx(image[2, 3, ch] * s + o, rel=1e-6)
        assert rescale.output[2, 3, ch] == u.value


def test_dense_and_softmax_on_a_map_explain_one_position():
    inputs = keras.Input((4, 5, 2), name="image")
    x = layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = layers.Activation("softmax", name="act_softmax")(x)  # over the channels
    x = layers.Dense(6, activation="relu", name="dense_map")(x)  # on the last axis
    x = layers.Dense(4, activation="softmax", name="softmax_map")(x)
    x = layers.Softmax(name="softmax")(x)
    x = layers.Softmax(axis=1, name="softmax_rows")(x)  # over the rows: not explained
    x = layers.Conv2D(2, 1, activation="softmax", name="conv_softmax")(x)  # not explained
    model = _randomise(keras.Model(inputs, x), seed=8)
    image = np.random.default_rng(8).normal(0, 1, (4, 5, 2)).astype("float32")
    net = _assert_equals_keras(model, image)
    notes = {layer.name: layer.note for layer in net.layers if layer.note}
    assert notes == {
        "softmax_rows": network.unexplained_sentence(
            "softmax_rows", "Softmax over another axis than the last"
        ),
        "conv_softmax": network.unexplained_sentence("conv_softmax", "Conv2D with a softmax"),
    }
    assert _check_totals(net, seed=8, rows=5) == 5 * (len(net.layers) - 2)
    assert net.following("conv") is None  # softmax is no element-wise activation
    u = network.explain(net, "act_softmax", (1, 2, 0))
    assert u.lines[-1].facts["probability"] == u.value
    assert net.get("act_softmax").output[1, 2].sum() == pytest.approx(1.0, abs=1e-12)
    d = network.explain(net, "dense_map", (3, 4, 5))
    assert {tuple(src["unit"][:2]) for src in d.inputs} <= {(3, 4)}  # that position's inputs
    k = net.get("dense_map").keras_layer
    pre = net.get("dense_map").input[3, 4] @ np.asarray(k.kernel.numpy(), np.float64)[:, 5]
    total = next(line for line in d.lines if "total" in line.facts)
    assert total.facts["total"] == pytest.approx(pre + float(k.bias.numpy()[5]), rel=1e-12)
    s = network.explain(net, "softmax_map", (0, 1, 2))
    assert [row["probability"] for row in s.table] == net.get("softmax_map").output[0, 1].tolist()


def test_units_out_of_range_and_unknown_layers(digit):
    _, net = _bundled("handwriting_cnn", digit)
    shape = net.get("conv2").output.shape  # (14, 14, 64)
    assert network.check_unit(shape, (13, 0, 63)) == (13, 0, 63)
    for bad in [(14, 0, 0), (0, 14, 0), (0, 0, 64), (-1, 0, 0), (0, 0), (0, 0, 0, 0)]:
        with pytest.raises(NetworkError, match="14 × 14 × 64"):
            network.check_unit(shape, bad, "conv2")
        with pytest.raises(NetworkError):
            network.explain(net, "conv2", bad)
        with pytest.raises(NetworkError):
            net.value("conv2", bad)
    with pytest.raises(NetworkError, match="output is 10: a unit is"):
        network.explain(net, "output", (10,))
    with pytest.raises(NetworkError, match=r"no layer 'conv9'.*conv1, leaky1"):
        network.explain(net, "conv9", (0, 0, 0))
    with pytest.raises(NetworkError):
        network.conv_unit_trace(net, "conv2", 64, (0, 0))
    with pytest.raises(NetworkError):
        network.conv_unit_trace(net, "conv2", 0, (14, 0))
    assert issubclass(NetworkError, ValueError)


def test_strongest_is_the_largest_value(digit):
    _, net = _bundled("handwriting_cnn", digit)
    for layer in net.layers:
        out = layer.output
        unit = network.strongest(net, layer.name)
        assert out[unit] == out.max()  # the largest value, not the largest |value|
        assert unit == tuple(int(i) for i in np.unravel_index(np.argmax(out), out.shape))
        if out.ndim == 3:
            r, c, ch = network.strongest(net, layer.name, channel=5)
            assert ch == 5 and out[r, c, 5] == out[..., 5].max()
    out = net.get("conv2").output
    assert out.min() < 0 and -out.min() != out.max()  # |value| and value would differ


# ------------------------------------------------------------------- layers without numpy
def test_a_layer_without_numpy_opens_says_so_and_the_rest_explains():
    inputs = keras.Input((8, 8, 2), name="image")
    x = layers.Conv2D(3, 3, activation="relu", name="conv1")(inputs)  # (6, 6, 3)
    x = layers.LayerNormalization(name="norm")(x)  # no numpy version in scratch
    x = layers.MaxPooling2D(2, name="pool1")(x)  # (3, 3, 3)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4, activation="gelu", name="fancy")(x)  # an activation scratch lacks
    x = layers.Dense(3, activation="softmax", name="output")(x)
    model = _randomise(keras.Model(inputs, x), seed=6)
    image = np.random.default_rng(6).normal(0, 1, (8, 8, 2)).astype("float32")
    with pytest.raises(scratch.UnsupportedLayerError):
        scratch.forward(model, image)
    net = _assert_equals_keras(model, image)  # its output is Keras's own
    notes = {layer.name: layer.note for layer in net.layers}
    assert notes["norm"] == network.unexplained_sentence("norm", "LayerNormalization")
    assert notes["fancy"] == network.unexplained_sentence("fancy", "Dense")
    assert notes["norm"].count(".") == 1 and "norm" in notes["norm"]
    assert [n for n, note in notes.items() if note is None] == ["conv1", "pool1", "flatten",
                                                                "output"]  # fmt: skip
    view = network.overview(net)
    assert {c["name"]: c["explained"] for c in view["columns"][1:]} == {
        n: note is None for n, note in notes.items()
    }
    assert _column(view, "norm")["note"] == notes["norm"]
    for name in ("norm", "fancy"):
        with pytest.raises(NetworkError) as err:
            network.explain(net, name, (0,) * net.get(name).output.ndim)
        assert str(err.value) == notes[name]
    assert _check_totals(net, seed=0) == 3 * 4  # the four explained layers
    pool = network.explain(net, "pool1", (1, 2, 0))  # reads the Keras-computed norm
    assert pool.total == net.get("norm").output[2:4, 4:6, 0].max()


def test_run_refuses_a_model_that_is_not_a_chain():
    inputs = keras.Input((4,))
    a = layers.Dense(2, name="a")(inputs)
    b = layers.Dense(2, name="b")(inputs)
    model = keras.Model(inputs, layers.Add(name="sum")([a, b]))
    with pytest.raises(scratch.UnsupportedLayerError, match="several inputs"):
        network.run(model, np.zeros(4, "float32"))


# ----------------------------------------------------------------------------- data sent
def test_one_conv_unit_trace_is_small_and_holds_no_whole_layer(digit):
    _, net = _bundled("handwriting_cnn", digit)
    layer = net.get("conv2")
    h, w, cin = layer.input.shape  # (14, 14, 32)
    trace = network.conv_unit_trace(net, "conv2", 12, (5, 7))
    sent = json.dumps(trace)
    assert len(sent) < 1_000_000
    shown = network.SHOWN_CHANNELS
    assert len(trace["shown_channels"]) == shown and trace["total_channels"] == cin
    assert np.shape(trace["input"]) == (shown, h, w)  # 3 of the 32 input maps
    assert np.shape(trace["kernel"]) == (shown, 3, 3)
    assert np.shape(trace["partials"]) == (shown, 14, 14)
    assert np.shape(trace["steps"][0]["window"]) == (shown, 3, 3)
    whole_input = len(json.dumps(layer.input.tolist()))
    assert len(json.dumps(trace["input"])) < whole_input * shown / cin * 1.2
    # the shown channels are those contributing most at the clicked unit
    sub = net.get("conv2")
    kernel = np.asarray(sub.keras_layer.kernel.numpy(), np.float64)[..., 12]
    sums = (_window(sub.input, 5, 7, 3, 1) * kernel).sum(axis=(0, 1))
    assert trace["shown_channels"] == sorted(range(cin), key=lambda i: -abs(sums[i]))[:shown]
    # and the shown input maps are those channels (6 significant digits)
    for k, i in enumerate(trace["shown_channels"]):
        np.testing.assert_allclose(trace["input"][k], sub.input[..., i], rtol=1e-5, atol=1e-9)


def test_a_large_map_is_replayed_around_the_click_and_stays_small():
    """chollet_small_data reads 150×150×3: its conv1 map has 148×148 positions. The replay
    sends a CROP × CROP square around the clicked unit, equal to the network's map there."""

    keras.utils.set_random_seed(0)
    model = models.build("chollet_small_data", (150, 150, 3), 2)
    net = network.run(model, np.random.default_rng(0).random((150, 150, 3)))
    conv1 = next(layer for layer in net.layers if layer.kind == "Conv2D")
    for around in ((0, 0), (70, 90), (147, 147)):
        trace = network.conv_unit_trace(net, conv1.name, 3, around)
        top, left = trace["origin"]
        assert trace["output_shape"] == [network.CROP, network.CROP]
        assert top <= around[0] < top + network.CROP and left <= around[1] < left + network.CROP
        want = conv1.output[top : top + network.CROP, left : left + network.CROP, 3]
        np.testing.assert_allclose(trace["output"], want, rtol=1e-12, atol=0)
        assert len(json.dumps(trace)) < 1_000_000


def test_values_that_are_not_numbers_reach_the_browser_as_null():
    out = network.compact_overview(
        {"columns": [{"values": [1.0, float("nan"), float("inf")], "maps": None}]}
    )
    assert out["columns"][0]["values"] == [1.0, None, None]
    json.loads(json.dumps(out, allow_nan=False))
