"""The code behind a view: complete, runnable Python for a page's current settings.

Each function returns the text of one self-contained program in the style of the seeds
(Keras 3 ``import keras``, numpy): a learner copies it into a notebook, or downloads it,
and gets the numbers the page shows. Every program ends by printing those numbers as one
line of JSON, so ``tests/test_codegen.py`` runs it in a subprocess and compares them with
cnnviz's own.

No program imports cnnviz. Where a view uses data or a model that only cnnviz ships (the
MNIST sample, the bundled ``.keras`` models), the program loads that file with plain
numpy / keras from its path in the cnnviz repository, and a comment says so.

Pure Python; never imports streamlit.
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from cnnviz import conv, data, models, training

ROOT = Path(__file__).resolve().parent.parent


class CodegenError(ValueError):
    """A setting that no program can be written for (e.g. a layer codegen does not know)."""


# ----------------------------------------------------------------------------- helpers
def _num(v: float) -> str:
    """A number as a literal: ``3`` for 3.0, else the shortest repr (``0.1111111111111111``)."""
    v = float(v)
    if not np.isfinite(v):
        return f'float("{v}")'
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _array(a: np.ndarray) -> str:
    """``np.array([...], dtype=float)`` with one row per line for a matrix."""
    a = np.asarray(a, dtype=np.float64)

    def lit(x) -> str:
        if np.ndim(x) == 0:
            return _num(x)
        return "[" + ", ".join(lit(v) for v in x) + "]"

    if a.ndim == 1:
        return f"np.array({lit(a)}, dtype=float)"
    rows = "".join(f"        {lit(r)},\n" for r in a)
    return f"np.array(\n    [\n{rows}    ],\n    dtype=float,\n)"


def _q(s: str) -> str:
    """A string literal in double quotes, as ruff formats them."""
    return json.dumps(str(s))


def _path(p: str | Path) -> str:
    """A file's absolute path as a string literal."""
    return _q(Path(p).resolve())


def _imports(*extra: str) -> list[str]:
    """The import block every program starts with (json, keras, numpy, then ``extra``)."""
    return ["", "import json", "", "import keras", "import numpy as np", *extra, ""]


def _program(lines: Sequence[str]) -> str:
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- convolution
def conv_code(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: float = 0.0,
    relu: bool = False,
    stride: int = 1,
    padding: str | int = "valid",
    dilation: int = 1,
) -> str:
    """The program for one convolution on the Convolution / Stride & padding pages.

    numpy computes every output cell as a window times the kernel, summed, plus the bias;
    then ``keras.layers.Conv2D`` (in float64) computes the same output, unless Keras
    refuses the settings (stride > 1 with dilation > 1), which a comment then says.

    Parameters
    ----------
    x : array_like
        ``(H, W)`` or ``(H, W, C)``.
    kernel : array_like
        ``(kh, kw)`` or ``(kh, kw, C)``: one filter.
    bias, relu, stride, padding, dilation
        As the page's controls (:func:`cnnviz.conv.conv_trace`).

    Returns
    -------
    str
        The program; it prints ``{"output": [[...]], "keras": [[...]] or null,
        "output_shape": [Ho, Wo]}``.

    Raises
    ------
    ConvError
        Settings cnnviz cannot compute (as :func:`cnnviz.conv.conv2d`).
    """
    x = conv.as_matrix(x, "input")
    kernel = conv.as_matrix(kernel, "kernel")
    conv.conv2d(
        x, kernel if kernel.ndim != 3 else kernel[..., None], bias, stride, padding, dilation
    )
    channels = x.ndim == 3
    (h, w), (kh, kw) = x.shape[:2], kernel.shape[:2]
    pads = [conv.pad_amounts(n, k, stride, padding, dilation) for n, k in ((h, kh), (w, kw))]
    if channels and kernel.ndim == 2:  # one 2-D kernel for every channel, as cnnviz reads it
        kernel = np.repeat(kernel[:, :, None], x.shape[2], axis=2)
    c = x.shape[2] if channels else 1
    pad_words = {
        "valid": "'valid' adds none",
        "same": "'same' follows TensorFlow: an odd one goes bottom/right",
    }.get(padding, "an explicit p puts p on every side")  # type: ignore[arg-type]
    shape_x = "(H, W, C)" if channels else "(H, W)"
    shape_k = "(kh, kw, C)" if channels else "(kh, kw)"
    lines = [
        '"""A convolution (cross-correlation, as Keras computes it), by hand and with Keras."""',
        *_imports(),
        f"x = {_array(x)}  # {shape_x} input",
        f"kernel = {_array(kernel)}  # {shape_k}",
        f"bias, stride, dilation = {_num(bias)}, {stride}, {dilation}",
        f"# zeros added (top, bottom), (left, right); {pad_words}",
        f"pads = ({tuple(pads[0])}, {tuple(pads[1])})",
        "",
        "# --- numpy: slide the kernel, multiply, add ---------------------------------",
        "xp = np.pad(x, pads" + (" + ((0, 0),)" if channels else "") + ")  # the padded input",
        "kh, kw = kernel.shape[:2]",
        "span_h, span_w = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1  # k_eff",
        "ho = (xp.shape[0] - span_h) // stride + 1",
        "wo = (xp.shape[1] - span_w) // stride + 1",
        "out = np.zeros((ho, wo))",
        "for i in range(ho):",
        "    for j in range(wo):",
        "        r, c = i * stride, j * stride",
        "        window = xp[r : r + span_h : dilation, c : c + span_w : dilation]",
        "        out[i, j] = np.sum(window * kernel) + bias",
    ]
    if relu:
        lines.append("out = np.maximum(out, 0.0)  # ReLU: negative -> 0")
    lines += ["", "# --- Keras: the same layer, with these weights ------------------------------"]
    if conv.keras_refusal(stride, dilation) is not None:
        lines += [
            "# Keras refuses a stride above 1 together with a dilation above 1 (Conv2D raises",
            "# ValueError whatever the padding), so only the numpy above computes this.",
            "keras_out = None",
        ]
    else:
        layer_pad = '"same"' if padding == "same" else '"valid"'
        act = ', activation="relu"' if relu else ""
        lines.append(f"inputs = keras.Input(({h}, {w}, {c}))  # (batch, H, W, channels)")
        y = "inputs"
        if isinstance(padding, int) and padding:
            lines.append(
                f"padded = keras.layers.ZeroPadding2D({padding})(inputs)  # p on every side"
            )
            y = "padded"
        lines += [
            f"layer = keras.layers.Conv2D(1, ({kh}, {kw}), strides={stride}, padding={layer_pad}, "
            f'dilation_rate={dilation}{act}, dtype="float64")',
            f"model = keras.Model(inputs, layer({y}))",
            f"layer.set_weights([kernel.reshape({kh}, {kw}, {c}, 1), np.array([bias])])",
            f"keras_out = model.predict(x.reshape(1, {h}, {w}, {c}), verbose=0)[0, :, :, 0]",
            'assert np.allclose(keras_out, out), "Keras and numpy disagree"',
            "keras_out = keras_out.tolist()",
        ]
    lines += [
        "",
        "print(out)",
        'print(json.dumps({"output": out.tolist(), "keras": keras_out, '
        '"output_shape": list(out.shape)}))',
    ]
    return _program(lines)


def conv_image_code(
    image_path: str | Path, kernel: np.ndarray, relu: bool, padding: str = "same", rgb: bool = False
) -> str:
    """The program for the Convolution page's Image mode: a picture and one 3×3 kernel.

    The picture is read as cnnviz reads it: grey (or RGB), shrunk to at most 160 px a
    side, divided by 255; the feature map comes from ``keras.layers.Conv2D`` in float64.

    Returns
    -------
    str
        The program; it prints ``{"shape": [Ho, Wo], "min", "max", "argmax": [r, c],
        "sum"}`` of the feature map.
    """
    kernel = conv.as_matrix(kernel, "kernel")
    if padding not in ("same", "valid"):
        raise conv.ConvError(f"padding must be 'same' or 'valid', got {padding!r}")
    kh, kw = kernel.shape[:2]
    c = 3 if rgb else 1
    weights = (
        f"kernel.reshape({kh}, {kw}, {c}, 1)"
        if kernel.ndim == 3
        else f"np.repeat(kernel[:, :, None, None], {c}, axis=2)"
    )
    act = ', activation="relu"' if relu else ""
    lines = [
        '"""A classic kernel on a picture: its feature map, computed by keras.layers.Conv2D."""',
        *_imports("from PIL import Image, ImageOps"),
        f"IMAGE = {_path(image_path)}  # the picture the page shows",
        f"kernel = {_array(kernel)}",
        "",
        "img = ImageOps.exif_transpose(Image.open(IMAGE))  # upright, as the camera meant it",
        f'img = img.convert("{"RGB" if rgb else "L"}")',
        "img.thumbnail((160, 160))  # at most 160 px a side, as the page shows it",
        f"x = np.asarray(img, dtype=np.float64) / 255.0  # (H, W{', 3' if rgb else ''}) in [0, 1]",
        "",
        f'layer = keras.layers.Conv2D(1, ({kh}, {kw}), padding="{padding}"{act}, dtype="float64")',
        f"layer.build((None, None, None, {c}))",
        f"layer.set_weights([{weights}, np.zeros(1)])",
        f"fmap = np.asarray(layer(x.reshape(1, *x.shape[:2], {c})))[0, :, :, 0]  # (Ho, Wo)",
        "",
        "r, c = np.unravel_index(np.argmax(fmap), fmap.shape)",
        "print(json.dumps({",
        '    "shape": list(fmap.shape), "min": float(fmap.min()), "max": float(fmap.max()),',
        '    "argmax": [int(r), int(c)], "sum": float(fmap.sum()),',
        "}))",
    ]
    return _program(lines)


# ----------------------------------------------------------------------------- pooling
def pool_code(x: np.ndarray, size: int, stride: int, padding: str, mode: str) -> str:
    """The program for the Pooling page's step-by-step matrix.

    numpy takes each window's max / mean / sum (padded cells never count); then Keras's
    ``MaxPooling2D`` / ``AveragePooling2D`` gives the same output. Keras has no sum
    pooling: a comment says so and a ``Conv2D`` with a kernel of ones sums instead.

    Returns
    -------
    str
        The program; it prints ``{"output": [[...]], "keras": [[...]], "output_shape"}``.

    Raises
    ------
    PoolError
        Settings cnnviz cannot compute (as :func:`cnnviz.pooling.pool2d`).
    """
    from cnnviz import pooling

    pooling.pool2d(x, size, stride, padding, mode)  # raises for impossible settings
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape
    pads = [conv.pad_amounts(n, size, stride, padding) for n in (h, w)]
    reduce = {"max": "np.max", "avg": "np.mean", "sum": "np.sum"}[mode]
    lines = [
        f'"""{mode} pooling, by hand and with Keras."""',
        *_imports(),
        f"x = {_array(x)}  # (H, W)",
        f"size, stride = {size}, {stride}",
        f"pads = ({tuple(pads[0])}, {tuple(pads[1])})  # (top, bottom), (left, right): '{padding}'",
        "",
        "# --- numpy: one number per window; padded cells (NaN) never count ------------",
        "xp = np.pad(x, pads, constant_values=np.nan)",
        "ho = (xp.shape[0] - size) // stride + 1",
        "wo = (xp.shape[1] - size) // stride + 1",
        "out = np.zeros((ho, wo))",
        "for i in range(ho):",
        "    for j in range(wo):",
        "        window = xp[i * stride : i * stride + size, j * stride : j * stride + size]",
        f"        out[i, j] = {reduce}(window[~np.isnan(window)])",
        "",
        "# --- Keras ------------------------------------------------------------------",
        f"inputs = keras.Input(({h}, {w}, 1))  # (batch, H, W, channels)",
    ]
    if mode == "sum":
        lines += [
            "# Keras has no sum pooling: a Conv2D whose kernel is all ones sums each window",
            "# (its zero padding adds nothing).",
            f'layer = keras.layers.Conv2D(1, size, strides=stride, padding="{padding}",',
            '    use_bias=False, kernel_initializer="ones", dtype="float64")',
        ]
    else:
        cls = "MaxPooling2D" if mode == "max" else "AveragePooling2D"
        lines.append(
            f'layer = keras.layers.{cls}(size, strides=stride, padding="{padding}", '
            'dtype="float64")'
        )
    lines += [
        "model = keras.Model(inputs, layer(inputs))",
        f"keras_out = model.predict(x.reshape(1, {h}, {w}, 1), verbose=0)[0, :, :, 0]",
        'assert np.allclose(keras_out, out), "Keras and numpy disagree"',
        "",
        "print(out)",
        'print(json.dumps({"output": out.tolist(), "keras": keras_out.tolist(), '
        '"output_shape": list(out.shape)}))',
    ]
    return _program(lines)


# ----------------------------------------------------------------------------- data
_KERAS_DATA = {"mnist", "fashion_mnist", "cifar10"}


def _load_lines(dataset: str) -> list[str]:
    """Lines that leave ``x_train, y_train, x_test, y_test`` (uint8 NHWC, int64 labels)."""
    if dataset == "mnist-sample":
        return [
            "# cnnviz's bundled sample: 8,000 train / 2,000 test MNIST digits. Only cnnviz ships",
            "# this file (assets/mnist_sample.npz in its repository): point DATA at your copy.",
            f"DATA = {_path(data.MNIST_SAMPLE)}",
            "with np.load(DATA) as z:",
            '    x_train, y_train = z["x_train"][..., None], z["y_train"].astype("int64")',
            '    x_test, y_test = z["x_test"][..., None], z["y_test"].astype("int64")',
        ]
    if dataset in _KERAS_DATA:
        return [
            f"(x_train, y_train), (x_test, y_test) = keras.datasets.{dataset}.load_data()",
            "x_train = x_train.reshape(*x_train.shape[:3], -1)  # (N, H, W, C): C = 1 for grey",
            "x_test = x_test.reshape(*x_test.shape[:3], -1)",
            'y_train = y_train.reshape(-1).astype("int64")  # class indices (N,)',
            'y_test = y_test.reshape(-1).astype("int64")',
        ]
    return [
        f"# {dataset}: your own data, which only you have. Save it as my_data.npz with",
        "# x_train, y_train, x_test, y_test (uint8 images (N, H, W, C), int labels).",
        'with np.load("my_data.npz") as z:',
        '    x_train, y_train = z["x_train"], z["y_train"].astype("int64")',
        '    x_test, y_test = z["x_test"], z["y_test"].astype("int64")',
    ]


def data_code(dataset: str, seed: int = 0, n_samples: int = 18) -> str:
    """The program for the Data page: shapes, class counts, the sample and the histogram.

    Returns
    -------
    str
        The program; it prints ``{"x_train", "x_test" (shapes), "dtype", "counts",
        "samples" (indices), "sample_labels", "histogram"}`` as the page shows them.
    """
    lines = [
        '"""Look at the data: shapes, images per class, a few samples, pixel values."""',
        *_imports(),
        f"SEED = {int(seed)}  # the page's sample seed",
        "",
        *_load_lines(dataset),
        "",
        'print("x_train", x_train.dtype, x_train.shape, " y_train", y_train.shape)',
        "counts = np.bincount(y_train, minlength=y_train.max() + 1)  # training images per class",
        f"samples = np.sort(np.random.default_rng(SEED).permutation(len(x_train))[:{n_samples}])",
        "histogram, edges = np.histogram(x_train.ravel(), bins=32, range=(0, 256))",
        "",
        "# as the textbooks prepare them: float32 in [0, 1]",
        'x_train_ready = x_train.astype("float32") / 255.0',
        "",
        "print(json.dumps({",
        '    "x_train": list(x_train.shape), "x_test": list(x_test.shape),',
        '    "dtype": str(x_train.dtype), "counts": counts.tolist(),',
        '    "samples": samples.tolist(), "sample_labels": y_train[samples].tolist(),',
        '    "histogram": histogram.tolist(),',
        "}))",
    ]
    return _program(lines)


# ----------------------------------------------------------------------------- models
def _args(*positional: str, **named: str | None) -> str:
    return ", ".join([*positional, *(f"{k}={v}" for k, v in named.items() if v is not None)])


def _size(v) -> str:
    """``3`` for ``(3, 3)``, ``(3, 5)`` otherwise."""
    v = tuple(v) if isinstance(v, list | tuple) else (v,)
    return str(v[0]) if len(set(v)) == 1 else str(tuple(v))


def _layer_call(layer) -> str:
    """``layers.Conv2D(28, 3, name="conv1")``: the constructor call that rebuilds ``layer``."""
    cfg = layer.get_config()
    kind = type(layer).__name__
    name = _q(cfg["name"])
    if kind == "Conv2D":
        reg = cfg.get("kernel_regularizer")
        reg_code = None
        if reg:
            l2 = reg.get("config", {}).get("l2")
            if reg.get("class_name") != "L2" or l2 is None:
                raise CodegenError(f"{layer.name}: regularizer {reg!r} is not known to codegen")
            reg_code = f"keras.regularizers.L2({_num(l2)})"
        return (
            "layers.Conv2D("
            + _args(
                str(cfg["filters"]),
                _size(cfg["kernel_size"]),
                strides=None if set(cfg["strides"]) == {1} else _size(cfg["strides"]),
                padding=None if cfg["padding"] == "valid" else _q(cfg["padding"]),
                dilation_rate=None
                if set(cfg["dilation_rate"]) == {1}
                else _size(cfg["dilation_rate"]),
                activation=None if cfg["activation"] == "linear" else _q(cfg["activation"]),
                use_bias=None if cfg["use_bias"] else "False",
                kernel_regularizer=reg_code,
                name=name,
            )
            + ")"
        )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        same_stride = tuple(cfg["strides"]) == tuple(cfg["pool_size"])
        return (
            f"layers.{kind}("
            + _args(
                _size(cfg["pool_size"]),
                strides=None if same_stride else _size(cfg["strides"]),
                padding=None if cfg["padding"] == "valid" else _q(cfg["padding"]),
                name=name,
            )
            + ")"
        )
    if kind in ("GlobalMaxPooling2D", "GlobalAveragePooling2D", "Flatten"):
        return f"layers.{kind}(name={name})"
    if kind == "ZeroPadding2D":
        pad = cfg["padding"]
        flat = {v for pair in pad for v in pair}
        return f"layers.ZeroPadding2D({flat.pop() if len(flat) == 1 else pad}, name={name})"
    if kind == "Dense":
        act = cfg["activation"]
        return (
            "layers.Dense("
            + _args(str(cfg["units"]), activation=None if act == "linear" else _q(act), name=name)
            + ")"
        )
    if kind == "Dropout":
        return f"layers.Dropout({_num(cfg['rate'])}, name={name})"
    if kind == "BatchNormalization":
        return f"layers.BatchNormalization(momentum={_num(cfg['momentum'])}, name={name})"
    if kind == "LeakyReLU":
        return f"layers.LeakyReLU(negative_slope={_num(cfg['negative_slope'])}, name={name})"
    if kind == "Activation":
        return f"layers.Activation({_q(cfg['activation'])}, name={name})"
    raise CodegenError(f"{layer.name}: codegen does not know how to write a {kind} layer")


def model_lines(model) -> list[str]:
    """Functional Keras code that rebuilds ``model`` layer by layer (same names, shapes and
    parameter count), leaving it in ``model``. Works for a chain of layers, as every zoo
    model and every custom-builder model is."""
    out = []
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        if type(layer).__name__ == "InputLayer":
            out.append(f"inputs = keras.Input({shape}, name={_q(layer.name)})")
            prev = "inputs"
            continue
        out.append(f"x = {_layer_call(layer)}({prev})  # (batch, {', '.join(map(str, shape))})")
        prev = "x"
    out.append(f"model = keras.Model(inputs, x, name={_q(model.name)})")
    return out


# ----------------------------------------------------------------------------- training
def _augmentation_lines(aug: training.Augmentation, seed: str) -> list[str]:
    """Keras preprocessing layers for ``aug`` (as :func:`cnnviz.training.augmentation_layers`)."""
    fill = f'fill_mode="{aug.fill_mode}", fill_value=0.0'
    out = []
    if aug.rotation:
        out.append(
            f"x = layers.RandomRotation({_num(aug.rotation_factor)}, seed={seed}, {fill})(x)"
            "  # degrees / 360"
        )
    h, w = aug.shifts
    if h or w:
        out.append(
            f"x = layers.RandomTranslation({_num(h)}, {_num(w)}, seed={seed} + 1, {fill})(x)"
        )
    if aug.zoom:
        out.append(f"x = layers.RandomZoom({_num(aug.zoom)}, seed={seed} + 2, {fill})(x)")
    if aug.flip:
        out.append(f'x = layers.RandomFlip("horizontal", seed={seed} + 3)(x)')
    return out


def _as_config(config: training.TrainConfig | Mapping) -> training.TrainConfig:
    if isinstance(config, training.TrainConfig):
        return config
    raw = dict(config)
    aug = raw.get("augmentation")
    if isinstance(aug, Mapping):
        raw["augmentation"] = training.Augmentation(**aug)
    names = set(training.TrainConfig.__dataclass_fields__)
    return training.TrainConfig(**{k: v for k, v in raw.items() if k in names})


def build_for(model_name: str, blocks: str, input_shape, num_classes: int):
    """The model the Train page builds for these settings (fresh, untrained)."""
    if model_name == "custom":
        return models.build_custom(models.parse_blocks(blocks), tuple(input_shape), num_classes)
    return models.build(model_name, tuple(input_shape), num_classes)


@functools.lru_cache(maxsize=32)
def _model_facts(
    model_name: str, blocks: str, input_shape: tuple[int, ...], num_classes: int
) -> tuple[tuple[str, ...], bool, bool]:
    """``(model_lines, binary, has_batchnorm)`` for these settings, built once (a page
    asks on every rerun; the model itself is not kept)."""
    model = build_for(model_name, blocks, input_shape, num_classes)
    has_bn = any(type(layer).__name__ == "BatchNormalization" for layer in model.layers)
    return tuple(model_lines(model)), model.output_shape[-1] == 1, has_bn


def train_code(
    dataset: str,
    model_name: str,
    blocks: str,
    config: training.TrainConfig | Mapping,
    input_shape: Sequence[int],
    num_classes: int,
    subset: int = 0,
    validate_on: str = "seeded split",
    evaluate: bool = False,
) -> str:
    """The program for the Train page: data, the model as Functional Keras code, ``compile``
    and ``fit`` with the learner's hyperparameters, seed and augmentation.

    Parameters
    ----------
    dataset : str
        A :data:`cnnviz.data.DATASET_NAMES` name (else the program loads ``my_data.npz``).
    model_name, blocks : str
        A zoo name, or ``"custom"`` with the block list.
    config : TrainConfig or dict
        As the page sets it (a run's stored ``config`` dict works too).
    input_shape, num_classes
        The dataset's ``(H, W, C)`` and number of classes.
    subset : int
        Train on this many images (0 = all), picked as cnnviz picks them.
    validate_on : str
        ``"seeded split"`` or ``"test set"``.
    evaluate : bool
        Also evaluate on the test set at the end (a run's download).

    Returns
    -------
    str
        The program; it prints ``{"parameters", "layers" ([name, shape] each),
        "optimizer", "learning_rate", "loss", "batch_size", "epochs", "history"}`` (and
        ``"test_accuracy"``, ``"test_loss"`` with ``evaluate``).

    Raises
    ------
    ModelError
        The model cannot be built for this input.
    """
    config = _as_config(config)
    shape = tuple(int(v) for v in input_shape)
    body, binary, has_bn = _model_facts(model_name, blocks or "", shape, int(num_classes))
    loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
    opt = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}[config.optimizer]
    aug = config.augmentation
    augmented = aug is not None and aug.active
    what = f"custom blocks:\n{blocks.strip()}" if model_name == "custom" else f"{model_name}"
    lines = [
        f'"""Train {model_name} on {dataset} with the Train page\'s settings."""',
        *_imports("from keras import layers"),
        f"SEED = {config.seed}",
        f"EPOCHS = {config.epochs}",
        f"BATCH_SIZE = {config.batch_size}",
        f"LEARNING_RATE = {_num(config.learning_rate)}",
        f"VALIDATION_SPLIT = {_num(config.validation_split)}"
        + ("  # not used: validation is on the test set" if validate_on == "test set" else ""),
        "",
        *_load_lines(dataset),
    ]
    if subset:
        lines += [
            f"keep = np.random.default_rng(SEED).permutation(len(x_train))[:{int(subset)}]"
            "  # cnnviz's subset",
            "x_train, y_train = x_train[keep], y_train[keep]",
        ]
    lines += [
        'x_train = x_train.astype("float32") / 255.0  # (N, H, W, C) in [0, 1]',
        'x_test = x_test.astype("float32") / 255.0',
        "",
        f"# --- the model: {what}".replace("\n", "\n# "),
        "keras.utils.set_random_seed(SEED)  # the same initial weights as cnnviz's run",
        *body,
        "model.summary()",
        "",
        "keras.utils.set_random_seed(SEED)  # shuffling, dropout and augmentation",
    ]
    if validate_on == "test set":
        lines.append("x_val, y_val = x_test, y_test  # validate on the test set")
    elif config.validation_split > 0:
        lines += [
            "order = np.random.default_rng(SEED).permutation(len(x_train))  # a seeded hold-out",
            "n_val = round(VALIDATION_SPLIT * len(x_train))",
            "x_val, y_val = x_train[order[:n_val]], y_train[order[:n_val]]",
            "x_train, y_train = x_train[order[n_val:]], y_train[order[n_val:]]",
        ]
    else:
        lines.append("x_val = y_val = None  # no validation")
    fit_model = "model"
    if augmented:
        lines += [
            "",
            f"# augmentation: {aug.describe()}",
            "# on training batches only (the layers pass images through unchanged otherwise)",
            'inputs = keras.Input(model.input_shape[1:], name="image")',
            "x = inputs",
            *_augmentation_lines(aug, "SEED"),
            "train_model = keras.Model(inputs, model(x))",
        ]
        fit_model = "train_model"
    callbacks = "[]"
    if config.early_stopping_patience:
        callbacks = "[early_stopping]"
        lines_es = [
            "early_stopping = keras.callbacks.EarlyStopping(",
            f'    monitor="val_loss", patience={config.early_stopping_patience}, '
            "restore_best_weights=True",
            ")",
        ]
    val = "None if x_val is None else (x_val, y_val)"
    lines += [
        "",
        f"{fit_model}.compile(",
        f"    optimizer=keras.optimizers.{opt}(learning_rate=LEARNING_RATE),",
        f'    loss="{loss}",',
        '    metrics=["accuracy"],',
        ")",
    ]
    if has_bn and config.refresh_batchnorm:
        lines += [
            "# cnnviz also recomputes batch norm's statistics before each validation (the",
            "# Advanced toggle); Keras keeps its moving averages, so val_loss may differ.",
        ]
    if config.early_stopping_patience:
        lines += lines_es
    lines += [
        f"history = {fit_model}.fit(",
        "    x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True,",
        f"    validation_data={val}, callbacks={callbacks}, verbose=2,",
        ")",
        "",
        "result = {",
        '    "parameters": model.count_params(),',
        '    "layers": [[layer.name, list(layer.output.shape[1:])] for layer in model.layers],',
        f'    "optimizer": "{config.optimizer}", "learning_rate": LEARNING_RATE,',
        f'    "loss": "{loss}", "batch_size": BATCH_SIZE, "epochs": EPOCHS,',
        '    "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},',
        "}",
    ]
    if evaluate:
        lines += [
            "probs = model.predict(x_test, batch_size=500, verbose=0)",
            *_score_lines(binary),
            "result.update(test_accuracy=accuracy, test_loss=loss)",
        ]
    lines.append("print(json.dumps(result))")
    return _program(lines)


def _score_lines(binary: bool) -> list[str]:
    """Lines that turn ``probs`` and ``y_test`` into ``y_pred``, ``accuracy`` and ``loss``."""
    if binary:
        return [
            "p = np.clip(probs[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)  # as Keras clips",
            "y_pred = (probs[:, 0] >= 0.5).astype(np.int64)",
            "loss = float(np.mean(-(y_test * np.log(p) + (1 - y_test) * np.log(1 - p))))",
            "accuracy = float(np.mean(y_pred == y_test))",
        ]
    return [
        "p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)  # as Keras clips",
        "y_pred = probs.argmax(axis=-1)",
        "loss = float(np.mean(-np.log(p[np.arange(len(y_test)), y_test])))  # cross-entropy",
        "accuracy = float(np.mean(y_pred == y_test))",
    ]


# ----------------------------------------------------------------------------- evaluation
def evaluate_code(model_path: str | Path, dataset: str, bundled: bool = True) -> str:
    """The program for the Evaluate page: load the model, predict the test set, score it.

    Parameters
    ----------
    model_path : str or Path
        The ``.keras`` file (a bundled model's path, or the learner's upload's name).
    dataset : str
        The data the model was trained on (its test split is evaluated).
    bundled : bool
        Whether only cnnviz ships the file (a comment says so).

    Returns
    -------
    str
        The program; it prints ``{"test_accuracy", "test_loss", "test_images",
        "confusion"}``.
    """
    where = (
        [
            "# A model only cnnviz ships (assets/models/ in its repository): point MODEL at",
            "# your copy.",
            f"MODEL = {_path(model_path)}",
        ]
        if bundled
        else [f"MODEL = {_q(Path(model_path).name)}  # your .keras file"]
    )
    lines = [
        '"""Evaluate a model on its test set: accuracy, loss and the confusion matrix."""',
        *_imports(),
        *where,
        "",
        *_load_lines(dataset),
        'x_test = x_test.astype("float32") / 255.0  # (N, H, W, C) in [0, 1]',
        "",
        "model = keras.saving.load_model(MODEL, compile=False)",
        "probs = model.predict(x_test, batch_size=500, verbose=0)  # (N, classes)",
        "binary = probs.shape[-1] == 1",
        "if binary:  # one sigmoid unit",
        *("    " + s for s in _score_lines(True)),
        "else:",
        *("    " + s for s in _score_lines(False)),
        "k = max(2, probs.shape[-1])",
        "confusion = np.bincount(y_test * k + y_pred, minlength=k * k).reshape(k, k)",
        "print(confusion)  # rows: true class, columns: predicted",
        "print(json.dumps({",
        '    "test_accuracy": accuracy, "test_loss": loss, "test_images": len(y_test),',
        '    "confusion": confusion.tolist(),',
        "}))",
    ]
    return _program(lines)


def run_code(record, input_shape: Sequence[int], num_classes: int) -> str:
    """A stored run (:class:`cnnviz.runs.RunRecord`) as a program that retrains it from
    its settings and evaluates it on the test set (see :func:`train_code`).

    ``input_shape`` and ``num_classes`` are the run's model's (``model.input_shape[1:]``,
    ``model.output_shape[-1]``: 1 for one sigmoid unit). A run keeps no record of where it
    validated, so the program holds out the seeded split.
    """
    return train_code(
        record.dataset,
        record.model_name,
        record.blocks,
        record.config,
        tuple(input_shape),
        int(num_classes),
        subset=record.subset,
        evaluate=True,
    )


# ---------------------------------------------------------------------------- notebooks
def _cell(kind: str, text: str, number: int) -> dict:
    """One nbformat 4.5 cell (a code cell starts unexecuted, with no outputs)."""
    cell = {"cell_type": kind, "id": f"cell-{number}", "metadata": {}, "source": text}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _section_title(line: str) -> str | None:
    """``# --- the model: book_mnist ------`` -> ``the model: book_mnist``; else ``None``."""
    if not line.startswith("# ---"):
        return None
    return line[5:].strip(" -") or None


def _imports_only(*texts: str) -> bool:
    """Whether each text holds import statements and nothing else."""
    bodies = [ast.parse(text).body for text in texts]
    return all(b and all(isinstance(n, ast.Import | ast.ImportFrom) for n in b) for b in bodies)


def as_notebook(code: str) -> str:
    """A program from this module as a Jupyter notebook (nbformat 4.5 JSON text).

    The module docstring becomes a Markdown cell; the code is cut into one cell per
    paragraph (top-level statements between blank lines, never inside a statement: a
    ``def`` with blank lines in it stays whole); a ``# --- title ---`` line becomes a
    Markdown heading over its cell. Run top to bottom, the cells do exactly what the
    program does and print the same lines.

    Raises
    ------
    CodegenError
        If ``code`` is not valid Python.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise CodegenError(f"This is not a Python program (line {exc.lineno}).") from exc
    lines = code.splitlines()
    inside = set()  # lines (0-based) within a multi-line statement: never cut there
    for node in tree.body:
        inside.update(range(node.lineno, node.end_lineno))
    cells: list[tuple[str, str]] = []
    start = 0
    doc = ast.get_docstring(tree, clean=True)  # None unless the first statement is one
    if doc is not None:
        title, _, rest = doc.partition("\n")
        if title.strip():
            cells.append(("markdown", f"# {title}\n\n{rest.strip()}".strip()))
        start = tree.body[0].end_lineno
    paragraph: list[str] = []

    def close() -> None:
        while paragraph and paragraph[0].strip() == "":
            paragraph.pop(0)
        if paragraph:
            title = _section_title(paragraph[0])
            if title is not None:
                cells.append(("markdown", f"## {title[0].upper()}{title[1:]}"))
                paragraph.pop(0)
        text = "\n".join(paragraph).strip("\n")
        if text:
            cells.append(("code", text))
        paragraph.clear()

    for i in range(start, len(lines)):
        if lines[i].strip() == "" and i not in inside:
            close()
        elif _section_title(lines[i]) is not None and i not in inside:
            close()  # a heading always opens a new cell
            paragraph.append(lines[i])
        else:
            paragraph.append(lines[i])
    close()
    merged: list[tuple[str, str]] = []
    for kind, text in cells:  # the import paragraphs: one cell
        if merged and kind == "code" == merged[-1][0] and _imports_only(text, merged[-1][1]):
            merged[-1] = ("code", merged[-1][1] + "\n\n" + text)
        else:
            merged.append((kind, text))
    notebook = {
        "cells": [_cell(kind, text, n) for n, (kind, text) in enumerate(merged)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
