"""The textbook model zoo, always built as Functional ``keras.Model`` s.

Functional (``keras.Model(inputs, outputs)``), never ``Sequential``: tf-keras-vis needs a
Functional model, and every page that looks inside a model can then address each layer's
output by name.

>>> from cnnviz import models
>>> models.build("cookbook_cnn", (28, 28, 1), 10).count_params()
1701110
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from cnnviz.claims import Claim, claim


class ModelError(ValueError):
    """A model name, shape or file cannot be used; the message says why."""


# Batch norm's moving averages move (1 - momentum) of the way to each batch's statistics.
# Keras's default 0.99 suits the textbooks' runs of thousands of steps; the app's runs are
# a few hundred (mnist-sample at batch 128: 57 steps an epoch), after which 0.99 still
# holds a third of its starting values and inference-mode answers are wrong or unsure.
# 0.9 (PyTorch's default) has caught up after ~30 steps. See training.BatchNormCheck.
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class ZooEntry:
    """One textbook model: how to build it and the lesson it teaches."""

    name: str
    title: str
    lesson: str
    source: str
    default_input_shape: tuple[int, int, int]
    builder: Callable[[tuple[int, int, int], int], keras.Model]
    default_classes: int = 10  # the textbook's task: 1 = one sigmoid unit (two classes)


def _head(x, num_classes: int):
    """Softmax over ``num_classes``, or one sigmoid unit for a binary problem."""
    if num_classes == 1:
        return layers.Dense(1, activation="sigmoid", name="output")(x)
    return layers.Dense(num_classes, activation="softmax", name="output")(x)


def _book_mnist(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")  # (batch, 28, 28, 1)
    # The tutorial's conv layer has no activation: it is linear; the ReLU comes in Dense.
    x = layers.Conv2D(28, 3, name="conv1")(inputs)  # (batch, 26, 26, 28)
    x = layers.MaxPooling2D(2, name="pool1")(x)  # (batch, 13, 13, 28)
    x = layers.Flatten(name="flatten")(x)  # (batch, 4732)
    x = layers.Dense(128, activation="relu", name="dense1")(x)
    x = layers.Dropout(0.2, name="dropout1")(x)
    return keras.Model(inputs, _head(x, num_classes), name="book_mnist")


def _dli_asl(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")  # (batch, 28, 28, 1)
    x = layers.Conv2D(75, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn1")(x)
    x = layers.MaxPooling2D(2, strides=2, padding="same", name="pool1")(x)  # (batch, 14, 14, 75)
    x = layers.Conv2D(50, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.Dropout(0.2, name="dropout1")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn2")(x)
    x = layers.MaxPooling2D(2, strides=2, padding="same", name="pool2")(x)  # (batch, 7, 7, 50)
    x = layers.Conv2D(25, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn3")(x)
    x = layers.MaxPooling2D(2, strides=2, padding="same", name="pool3")(x)  # (batch, 4, 4, 25)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(512, activation="relu", name="dense1")(x)
    x = layers.Dropout(0.3, name="dropout2")(x)
    return keras.Model(inputs, _head(x, num_classes), name="dli_asl")


def _fashion(input_shape, num_classes, dropout: bool, name: str):
    rates = (0.25, 0.25, 0.4, 0.3) if dropout else (None,) * 4
    inputs = keras.Input(input_shape, name="image")  # (batch, 28, 28, 1)
    x = inputs
    for i, filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(filters, 3, padding="same", name=f"conv{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.1, name=f"leaky{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
        if rates[i - 1]:
            x = layers.Dropout(rates[i - 1], name=f"dropout{i}")(x)
    x = layers.Flatten(name="flatten")(x)  # (batch, 4 * 4 * 128) for 28×28 input
    x = layers.Dense(128, name="dense1")(x)
    x = layers.LeakyReLU(negative_slope=0.1, name="leaky4")(x)
    if rates[3]:
        x = layers.Dropout(rates[3], name="dropout4")(x)
    return keras.Model(inputs, _head(x, num_classes), name=name)


def _cookbook_mlp(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(inputs)  # (batch, 784): every pixel is one input
    x = layers.Dense(1000, activation="relu", name="dense1")(x)
    return keras.Model(inputs, _head(x, num_classes), name="cookbook_mlp")


def _cookbook_cnn(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")  # (batch, 28, 28, 1)
    x = layers.Conv2D(10, 3, activation="relu", name="conv1")(inputs)  # (batch, 26, 26, 10)
    x = layers.MaxPooling2D(2, name="pool1")(x)  # (batch, 13, 13, 10)
    x = layers.Flatten(name="flatten")(x)  # (batch, 1690)
    x = layers.Dense(1000, activation="relu", name="dense1")(x)
    return keras.Model(inputs, _head(x, num_classes), name="cookbook_cnn")


def _global_pool_cnn(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")  # (batch, 28, 28, 1)
    # A 4-px zero margin: a digit moved up to 4 px towards an edge still lies wholly
    # inside every map, instead of having its deep features cut off by the frame.
    x = layers.ZeroPadding2D(4, name="margin")(inputs)  # (batch, 36, 36, 1)
    for i, filters in enumerate((32, 64, 128), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        if i < 3:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)  # 36 -> 18 -> 9
    # (batch, 9, 9, 128) -> (batch, 128): the strongest response of each filter, wherever
    # it is. No Flatten, so nothing downstream knows the position.
    x = layers.GlobalMaxPooling2D(name="global_pool")(x)
    return keras.Model(inputs, _head(x, num_classes), name="global_pool_cnn")


def _cifar_augment(input_shape, num_classes, weight_decay: float = 1e-4):
    inputs = keras.Input(input_shape, name="image")  # (batch, 32, 32, 3)
    x = inputs
    for block, (filters, rate) in enumerate(((32, 0.2), (64, 0.3), (128, 0.4)), start=1):
        for j in (1, 2):
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                kernel_regularizer=keras.regularizers.L2(weight_decay),
                name=f"conv{block}_{j}",
            )(x)
            x = layers.Activation("relu", name=f"relu{block}_{j}")(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{block}_{j}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        x = layers.Dropout(rate, name=f"dropout{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, _head(x, num_classes), name="cifar_augment")


def _chollet_small_data(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")  # (batch, 150, 150, 3)
    x = inputs
    # Four conv + pool blocks halve the image four times: 148→74, 72→36, 34→17, 15→7.
    for i, filters in enumerate((32, 64, 128, 128), start=1):
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)  # (batch, 7 * 7 * 128 = 6272) for 150×150
    x = layers.Dropout(0.5, name="dropout1")(x)  # listing 5.13
    x = layers.Dense(512, activation="relu", name="dense1")(x)
    return keras.Model(inputs, _head(x, num_classes), name="chollet_small_data")


def _cookbook_50_grey(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")  # (batch, 50, 50, 1)
    x = inputs
    # 'same' padding, so only the pooling shrinks the image: 50→25→12→6→3.
    for i, filters in enumerate((32, 64, 128, 128), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)  # (batch, 3 * 3 * 128 = 1152) for 50×50
    x = layers.Dense(128, activation="relu", name="dense1")(x)
    x = layers.Dropout(0.5, name="dropout1")(x)
    return keras.Model(inputs, _head(x, num_classes), name="cookbook_50_grey")


def _toy_4x4(input_shape, num_classes):
    inputs = keras.Input(input_shape, name="image")  # (batch, 4, 4, 1)
    x = layers.Conv2D(1, 3, activation="relu", name="conv1")(inputs)  # (batch, 2, 2, 1)
    x = layers.MaxPooling2D(2, name="pool1")(x)  # (batch, 1, 1, 1)
    x = layers.Flatten(name="flatten")(x)  # (batch, 1)
    return keras.Model(inputs, _head(x, num_classes), name="toy_4x4")


ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry(
            "book_mnist",
            "Book MNIST CNN",
            "One convolution and one pooling layer are already enough for ~98% on MNIST.",
            "The classic Keras MNIST tutorial: Conv2D 28 3×3 → MaxPool → Dense 128 → Dropout.",
            (28, 28, 1),
            _book_mnist,
        ),
        ZooEntry(
            "dli_asl",
            "NVIDIA DLI sign-language CNN",
            "Stacking conv + batch-norm + pooling blocks shrinks the image while widening "
            "its features.",
            "NVIDIA Deep Learning Institute, ASL alphabet notebook.",
            (28, 28, 1),
            _dli_asl,
            24,
        ),
        ZooEntry(
            "fashion_leaky",
            "Fashion-MNIST CNN (LeakyReLU)",
            "Three conv blocks fit the training set so well that validation loss climbs: "
            "overfitting.",
            "DataCamp's Fashion-MNIST CNN tutorial, first model.",
            (28, 28, 1),
            lambda s, n: _fashion(s, n, dropout=False, name="fashion_leaky"),
        ),
        ZooEntry(
            "fashion_leaky_dropout",
            "Fashion-MNIST CNN + dropout",
            "The same network with dropout keeps train and validation curves together.",
            "DataCamp's Fashion-MNIST CNN tutorial, with dropout.",
            (28, 28, 1),
            lambda s, n: _fashion(s, n, dropout=True, name="fashion_leaky_dropout"),
        ),
        ZooEntry(
            "cookbook_mlp",
            "Cookbook MLP",
            "A plain dense network sees pixels, not shapes: move the digit and it gets lost.",
            "Deep-learning cookbook, translation experiment (MLP).",
            (28, 28, 1),
            _cookbook_mlp,
        ),
        ZooEntry(
            "cookbook_cnn",
            "Cookbook CNN",
            "Ten 3×3 filters slide over the image, but Flatten + Dense 1000 tie every "
            "feature to its place again: move the digit 4 px and it is lost.",
            "Deep-learning cookbook, translation experiment (CNN).",
            (28, 28, 1),
            _cookbook_cnn,
        ),
        ZooEntry(
            "global_pool_cnn",
            "Global-pooling CNN",
            "Global max pooling instead of Flatten keeps how strongly each filter fired, "
            "not where: a digit moved 4 px is still recognised.",
            "cnnviz's answer to the cookbook's translation experiment: a 4-px zero margin, "
            "Conv 32 → pool → Conv 64 → pool → Conv 128 → GlobalMaxPooling2D → Dense 10.",
            (28, 28, 1),
            _global_pool_cnn,
        ),
        ZooEntry(
            "cifar_augment",
            "Cookbook CIFAR-10 CNN",
            "On colour photos, L2, batch-norm, dropout and augmentation fight overfitting "
            "together.",
            "Deep-learning cookbook, CIFAR-10 with data augmentation.",
            (32, 32, 3),
            _cifar_augment,
        ),
        ZooEntry(
            "chollet_small_data",
            "Chollet's small-data convnet (cats vs dogs)",
            "With 2,000 photos, four conv blocks and dropout learn cats vs dogs from scratch; "
            "augmentation and a pretrained base do better.",
            "Deep Learning with Python (F. Chollet, 1st ed.), listing 5.5 with the dropout of "
            "listing 5.13; 3,453,121 parameters for one sigmoid output, as the book's summary.",
            (150, 150, 3),
            _chollet_small_data,
            1,
        ),
        ZooEntry(
            "cookbook_50_grey",
            "Cookbook 50×50 grey CNN",
            "Shrinking photos to 50×50 grey makes them cheap enough to train four conv blocks "
            "on a CPU.",
            "Deep-learning cookbook, cats vs dogs on 50×50 greyscale images (four 3×3 conv + "
            "2×2 max-pool blocks, Dense 128, dropout 0.5).",
            (50, 50, 1),
            _cookbook_50_grey,
            2,
        ),
        ZooEntry(
            "toy_4x4",
            "Toy 4×4 CNN",
            "Twelve parameters, small enough to compute every number by hand.",
            "Deep-learning cookbook, CNN from scratch.",
            (4, 4, 1),
            _toy_4x4,
            1,
        ),
    )
}


def build(
    name: str,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int = 10,
) -> keras.Model:
    """Build one zoo model, untrained, as a Functional ``keras.Model``.

    Parameters
    ----------
    name : str
        A key of :data:`ZOO`.
    input_shape : tuple of int, optional
        ``(H, W, C)``; defaults to the model's textbook input.
    num_classes : int
        Output units: softmax for >= 2, one sigmoid unit for 1.

    Returns
    -------
    keras.Model
        Fresh weights; compile it (or use :mod:`cnnviz.training`) before training.
    """
    if name not in ZOO:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(ZOO)}")
    if num_classes < 1:
        raise ModelError(f"num_classes must be >= 1, got {num_classes}")
    entry = ZOO[name]
    shape = tuple(int(s) for s in (input_shape or entry.default_input_shape))
    if len(shape) != 3 or min(shape) < 1:
        raise ModelError(f"input_shape must be (height, width, channels), got {shape}")
    try:
        return entry.builder(shape, num_classes)
    except ValueError as exc:  # e.g. an input too small for three pooling blocks
        raise ModelError(f"{name} cannot take input {shape}: {exc}") from exc


# --- saving and loading -------------------------------------------------------------

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
# The bundled model the "inside the model" pages start with (Predict, Activations, Filters,
# Heatmaps): the one that reads real handwriting best (assets/README.md,
# benchmarks/bench_handwriting.py).
DEFAULT_BUNDLED = "handwriting_cnn"


def to_functional(model: keras.Model) -> keras.Model:
    """Return a Functional model computing the same thing, sharing ``model``'s weights.

    A ``Sequential`` model is rewired as ``keras.Model(inputs, outputs)`` over the same
    layer objects (no copy, no change to the original); a Functional model is returned
    as it is. Subclassed models cannot be rewired and raise :class:`ModelError`.
    """
    if isinstance(model, keras.Sequential):
        try:
            shape = model.input_shape[1:]
        except (AttributeError, ValueError) as exc:
            raise ModelError("this Sequential model has no input shape; build it first") from exc
        inputs = keras.Input(shape, name="image")
        x = inputs
        for layer in model.layers:
            x = layer(x)
        return keras.Model(inputs, x, name=model.name)
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth"):
        return model
    raise ModelError(f"expected a Sequential or Functional Keras model, got {type(model).__name__}")


def card_path(model_path: str | Path) -> Path:
    """Where the JSON card of ``model.keras`` lives: ``model.json`` beside it."""
    return Path(model_path).with_suffix(".json")


def save(
    model: keras.Model,
    path: str | Path,
    card: dict | None = None,
    include_optimizer: bool = True,
) -> Path:
    """Write ``model`` to ``path`` (``.keras``) atomically, with its JSON card beside it.

    The model is written to a temporary file in the same folder and renamed into place,
    so a save that fails (disk full, interrupted) leaves the previous file, or nothing,
    never half a file.

    Parameters
    ----------
    model : keras.Model
        Any Keras model.
    path : str or Path
        Destination ending in ``.keras``; its folder is created.
    card : dict, optional
        JSON-serialisable facts: dataset, model, hyperparameters, metrics. ``saved_at``
        (UTC, ISO 8601) is added.
    include_optimizer : bool
        ``False`` writes weights and architecture only (a third of the size after Adam),
        for models that will only be used, not trained further.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"a model file must end in .keras, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.keras", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o644)  # mkstemp makes it private; a saved model is an ordinary file
    card_tmp = None
    try:
        if not include_optimizer:
            # clone_model would carry the compiled optimizer over; from_config does not.
            bare = keras.Model.from_config(model.get_config())
            bare.set_weights(model.get_weights())
            model = bare
        model.save(tmp_path)
        if card is not None:
            full = {**card, "saved_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
            card_tmp = tmp_path.with_suffix(".json")
            card_tmp.write_text(json.dumps(full, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp_path, path)
        if card_tmp is not None:
            os.replace(card_tmp, card_path(path))
    finally:
        for leftover in (tmp_path, card_tmp):
            if leftover is not None and leftover.exists():
                leftover.unlink()
    return path


def read_card(model_path: str | Path) -> dict:
    """The JSON card saved beside a model, or ``{}`` when there is none."""
    p = card_path(model_path)
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def load(
    path: str | Path,
    expected_input_shape: tuple[int, ...] | None = None,
) -> keras.Model:
    """Load a ``.keras`` file safely and return it as a Functional model.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` zip written by Keras 3.
    expected_input_shape : tuple of int, optional
        ``(H, W, C)`` the model must accept (``None`` entries match anything).

    Raises
    ------
    ModelError
        The file is missing, not a Keras 3 model, corrupt, uses code that ``safe_mode``
        refuses (a Lambda layer), or takes a different input shape.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"no model file at {path}")
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path.name} is not a Keras 3 model file (.keras is a zip; "
            "old .h5 files must be re-saved with Keras 3)"
        )
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file; report one
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path.name} could not be loaded as a Keras model: {reason}") from exc
    model = to_functional(model)
    if expected_input_shape is not None:
        got = tuple(model.input_shape[1:])
        want = tuple(expected_input_shape)
        if len(got) != len(want) or any(
            g is not None and w is not None and g != w for g, w in zip(got, want, strict=False)
        ):
            raise ModelError(f"{path.name} expects input {got}, but the data is {want}")
    return model


def bundled(name: str) -> Path:
    """Path of a pre-trained model shipped in ``assets/models`` (see its README)."""
    path = MODELS_DIR / f"{name}.keras"
    if not path.exists():
        raise ModelError(f"no bundled model {name!r}; run scripts/build_assets.py")
    return path


# A bundled model's card names the data it was trained on; the older cards, from before
# there was more than one, have none: those models learned the embedded MNIST sample.
CARDLESS_DATASET = "mnist-sample"
# What a model was trained on, by its card's dataset: handwritten digits or clothes
# (Fashion-MNIST). Pages use it to pick samples, preprocessing and the sentences that
# warn when a digit model looks at clothes (or the other way round).
SUBJECTS = {"mnist-sample": "digits", "mnist": "digits", "fashion_mnist": "clothes"}
# The second opinion on a model's class dreams (Filters): another bundled model trained on
# the same data, apart. Measured (tests/test_explain.py, tests/test_models.py): the second
# model reads the first one's class dreams as their class.
SECOND_OPINIONS = {
    DEFAULT_BUNDLED: "book_mnist",
    "book_mnist": "cookbook_cnn",
    "fashion_plain": "fashion_dropout",
    "fashion_dropout": "fashion_plain",
}


def bundled_dataset(name: str) -> str:
    """The dataset a bundled model was trained on, from its card (:data:`CARDLESS_DATASET`
    when the card does not say)."""
    return str(read_card(bundled(name)).get("dataset") or CARDLESS_DATASET)


def bundled_names(dataset: str | None = None) -> list[str]:
    """Names of the pre-trained models shipped in ``assets/models``.

    Parameters
    ----------
    dataset : str, optional
        Only the models whose card names this dataset (``"mnist-sample"``,
        ``"fashion_mnist"``); all of them when ``None``.

    Examples
    --------
    >>> bundled_names("fashion_mnist")
    ['fashion_dropout', 'fashion_plain']
    """
    names = sorted(p.stem for p in MODELS_DIR.glob("*.keras"))
    if dataset is None:
        return names
    return [n for n in names if bundled_dataset(n) == dataset]


def bundled_class_names(name: str) -> tuple[str, ...]:
    """A bundled model's class names: its card's ``class_names``, else its dataset's."""
    from cnnviz import data

    card = read_card(bundled(name))
    if card.get("class_names"):
        return tuple(str(c) for c in card["class_names"])
    return data.CLASS_NAMES.get(bundled_dataset(name), data.DIGITS)


def subject(dataset: str | None) -> str | None:
    """``"digits"`` or ``"clothes"``: what a model trained on ``dataset`` has seen.

    ``None`` for any other dataset (CIFAR-10, signs, the learner's own images) or none
    known. A dataset that only narrows one of these (``"mnist-sample, digits 0–4 only"``,
    the transfer base's) counts as it.

    Examples
    --------
    >>> subject("mnist-sample"), subject("fashion_mnist"), subject("cifar10"), subject(None)
    ('digits', 'clothes', None, None)
    """
    if not dataset:
        return None
    head = str(dataset).split(",")[0].strip()
    return SUBJECTS.get(head)


_SEEN = {"digits": "handwritten digits", "clothes": "Fashion-MNIST's clothes"}
_IMAGE = {"digits": "a handwritten digit", "clothes": "a Fashion-MNIST photo of clothing"}
_ANSWERS = {"digits": "a digit", "clothes": "one of its ten kinds of clothing"}


@claim
def mismatch_sentence(image: str | None, model: str | None, label: str) -> Claim | None:
    """The one sentence a page shows when a model looks at the other kind of image.

    ``image`` is what the picture is (``"digits"`` or ``"clothes"``, e.g. a bundled
    sample's set, :func:`cnnviz.imaging.which_sample`), ``model`` what the model ``label``
    was trained on (:func:`subject`). ``None`` when they agree or either is unknown.

    Examples
    --------
    >>> s = mismatch_sentence("clothes", "digits", "handwriting_cnn")
    >>> s[:76]
    'This image is a Fashion-MNIST photo of clothing, but handwriting_cnn was tra'
    >>> mismatch_sentence("digits", "digits", "book_mnist") is None
    True
    """
    if image not in _SEEN or model not in _SEEN or image == model:
        return None
    text = (
        f"This image is {_IMAGE[image]}, but {label} was trained on {_SEEN[model]}: it can "
        f"only answer with {_ANSWERS[model]}, so its answer says nothing about what the "
        "picture shows."
    )
    return Claim(text, image=image, model=model, label=label, mismatch=True)


def second_opinion(name: str) -> str | None:
    """Another bundled model trained on the same data as ``name``, to read its dreams.

    :data:`SECOND_OPINIONS` first, else the first other bundled model of the same
    dataset; ``None`` when ``name`` is the only one. Never a model of other data: a
    digit model has nothing to say about a dream of a sneaker.

    Examples
    --------
    >>> second_opinion("fashion_plain"), second_opinion("book_mnist")
    ('fashion_dropout', 'cookbook_cnn')
    """
    same = [n for n in bundled_names(bundled_dataset(name)) if n != name]
    preferred = SECOND_OPINIONS.get(name)
    if preferred in same:
        return preferred
    return same[0] if same else None


# --- the custom builder -----------------------------------------------------------------

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear")
BLOCK_KINDS = ("conv", "pool", "batchnorm", "dropout", "dense")
_BLOCK_KEYS = {
    "conv": {"filters": int, "kernel": int, "stride": int, "padding": str, "activation": str},
    "pool": {"size": int, "stride": int, "padding": str, "mode": str},
    "batchnorm": {"momentum": float},
    "dropout": {"rate": float},
    "dense": {"units": int, "activation": str},
}
_BLOCK_DEFAULTS = {
    "conv": {"filters": 32, "kernel": 3, "stride": 1, "padding": "valid", "activation": "relu"},
    "pool": {"size": 2, "stride": 0, "padding": "valid", "mode": "max"},
    "batchnorm": {"momentum": BN_MOMENTUM},
    "dropout": {"rate": 0.25},
    "dense": {"units": 128, "activation": "relu"},
}
EXAMPLE_SPEC = """conv filters=32 kernel=3 padding=same activation=leaky_relu
pool size=2
conv filters=64 kernel=3 padding=same activation=relu
batchnorm momentum=0.9
pool size=2
dropout rate=0.25
dense units=128 activation=relu"""


def parse_blocks(text: str) -> list[dict]:
    """Parse a learner's block list, one block per line: ``kind key=value …``.

    Kinds: ``conv`` (filters, kernel, stride, padding, activation), ``pool`` (size,
    stride, padding, mode=max|avg), ``batchnorm`` (momentum, default :data:`BN_MOMENTUM`),
    ``dropout`` (rate), ``dense`` (units, activation). Missing keys take defaults; blank
    lines and ``#`` comments are ignored.

    Examples
    --------
    >>> parse_blocks("conv filters=10 kernel=3")[0]["filters"]
    10
    """
    blocks = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        kind = tokens[0].lower()
        if kind not in _BLOCK_KEYS:
            raise ModelError(
                f"line {lineno}: unknown block {kind!r}; use one of {', '.join(BLOCK_KINDS)}"
            )
        block = {"kind": kind, **_BLOCK_DEFAULTS[kind]}
        for tok in tokens[1:]:
            key, sep, value = tok.partition("=")
            if not sep or key not in _BLOCK_KEYS[kind]:
                allowed = ", ".join(_BLOCK_KEYS[kind]) or "no settings"
                raise ModelError(f"line {lineno}: {tok!r} is not a {kind} setting ({allowed})")
            try:
                block[key] = _BLOCK_KEYS[kind][key](value)
            except ValueError:
                raise ModelError(f"line {lineno}: {key}={value!r} is not a number") from None
        blocks.append(block)
    if not blocks:
        raise ModelError("the block list is empty; add at least one conv or dense block")
    return blocks


def _check_block(i: int, b: dict) -> None:
    kind = b.get("kind")
    if kind not in _BLOCK_KEYS:
        raise ModelError(f"block {i}: unknown kind {kind!r}")
    for key in ("filters", "kernel", "units", "size"):
        if key in b and b[key] < 1:
            raise ModelError(f"block {i}: {key} must be >= 1, got {b[key]}")
    if b.get("stride", 1) < 0:
        raise ModelError(f"block {i}: stride must be >= 1, got {b['stride']}")
    if "padding" in b and b["padding"] not in ("valid", "same"):
        raise ModelError(f"block {i}: padding must be 'valid' or 'same', got {b['padding']!r}")
    if "activation" in b and b["activation"] not in ACTIVATIONS:
        raise ModelError(
            f"block {i}: activation {b['activation']!r} is not one of {', '.join(ACTIVATIONS)}"
        )
    if "mode" in b and b["mode"] not in ("max", "avg"):
        raise ModelError(f"block {i}: pool mode must be 'max' or 'avg', got {b['mode']!r}")
    if "rate" in b and not 0.0 <= b["rate"] < 1.0:
        raise ModelError(f"block {i}: dropout rate must be in [0, 1), got {b['rate']}")
    if "momentum" in b and not 0.0 <= b["momentum"] < 1.0:
        raise ModelError(f"block {i}: batchnorm momentum must be in [0, 1), got {b['momentum']}")


def build_custom(
    blocks: list[dict],
    input_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    name: str = "custom",
) -> keras.Model:
    """Build a Functional model from block specs (see :func:`parse_blocks`).

    A ``Flatten`` is inserted before the first dense block (and before the output when
    there is none); ``leaky_relu`` becomes its own ``LeakyReLU(0.1)`` layer, as in the
    Fashion-MNIST tutorial. Layers are named ``conv1``, ``pool1``, ``dense1`` … so every
    page can find them.

    Raises
    ------
    ModelError
        A bad setting, or blocks that shrink the image below 1×1.
    """
    for i, b in enumerate(blocks, start=1):
        _check_block(i, b)
    counts: dict[str, int] = {}

    def named(kind: str) -> str:
        counts[kind] = counts.get(kind, 0) + 1
        return f"{kind}{counts[kind]}"

    def activate(x, act: str):
        if act == "leaky_relu":
            return layers.LeakyReLU(negative_slope=0.1, name=named("leaky"))(x)
        return x

    try:
        inputs = keras.Input(tuple(input_shape), name="image")
        x = inputs
        flat = False
        for i, b in enumerate(blocks, start=1):
            kind = b["kind"]
            act = b.get("activation", "linear")
            keras_act = None if act in ("leaky_relu", "linear") else act
            if kind in ("conv", "pool") and flat:
                raise ModelError(f"a {kind} block cannot follow a dense block (the image is flat)")
            window = b.get("kernel", b.get("size"))
            h, w = (x.shape[1], x.shape[2]) if len(x.shape) == 4 else (None, None)
            if kind in ("conv", "pool") and b["padding"] == "valid" and min(h, w) < window:
                setting = "kernel" if kind == "conv" else "size"
                raise ModelError(
                    f"block {i} ({kind}): the image is only {h}×{w} there, smaller than its "
                    f"{window}×{window} window — use a smaller {setting} or padding=same."
                )
            if kind == "conv":
                x = layers.Conv2D(
                    b["filters"],
                    b["kernel"],
                    strides=max(1, b["stride"]),
                    padding=b["padding"],
                    activation=keras_act,
                    name=named("conv"),
                )(x)
                x = activate(x, act)
            elif kind == "pool":
                cls = layers.MaxPooling2D if b["mode"] == "max" else layers.AveragePooling2D
                x = cls(
                    b["size"], strides=b["stride"] or None, padding=b["padding"], name=named("pool")
                )(x)
            elif kind == "batchnorm":
                momentum = b.get("momentum", BN_MOMENTUM)
                x = layers.BatchNormalization(momentum=momentum, name=named("bn"))(x)
            elif kind == "dropout":
                x = layers.Dropout(b["rate"], name=named("dropout"))(x)
            elif kind == "dense":
                if not flat:
                    x = layers.Flatten(name="flatten")(x)
                    flat = True
                x = layers.Dense(b["units"], activation=keras_act, name=named("dense"))(x)
                x = activate(x, act)
            if kind in ("conv", "pool") and min(x.shape[1:3]) < 1:
                raise ModelError(f"the image shrinks to {tuple(x.shape[1:3])} after {kind}")
        if not flat:
            x = layers.Flatten(name="flatten")(x)
        return keras.Model(inputs, _head(x, num_classes), name=name)
    except ModelError:
        raise
    except ValueError as exc:  # Keras's own message: keep its first plain sentence
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        plain = [ln for ln in lines if not ln.startswith("Exception encountered")]
        reason = (plain or [type(exc).__name__])[0].split(" Received")[0].rstrip(".")
        raise ModelError(f"these blocks cannot take input {tuple(input_shape)}: {reason}.") from exc


# --- the summary table -------------------------------------------------------------------


def _dims(shape) -> str:
    return "×".join("?" if s is None else str(s) for s in shape)


def _explain(layer) -> str:
    """How ``layer``'s parameter count is computed, ending in ``= count``."""
    n = layer.count_params()
    if isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.Conv2DTranspose):
        kh, kw, cin, cout = layer.kernel.shape
        bias = " + 1" if layer.use_bias else ""
        return f"{cout} filters × ({kh}×{kw}×{cin}{bias}) = {n:,}"
    if isinstance(layer, layers.Dense):
        fan_in, units = layer.kernel.shape
        bias = " + 1" if layer.use_bias else ""
        return f"{units} units × ({fan_in:,} inputs{bias}) = {n:,}"
    if isinstance(layer, layers.BatchNormalization):
        c = layer.moving_mean.shape[0]
        names = ["γ"] * layer.scale + ["β"] * layer.center + ["mean", "variance"]
        return f"{len(names)} × {c} channels ({', '.join(names)}) = {n:,}"
    if n == 0:
        return "no weights"
    parts = " + ".join(f"{_dims(w.shape)}" for w in layer.weights)
    return f"{parts} = {n:,}"


def summary(model: keras.Model) -> list[dict]:
    """One row per layer: name, type, output shape, parameters, and how they are counted.

    The counts are Keras's own (``layer.count_params()``, trainable and not, so
    BatchNorm's moving mean and variance count as in ``model.summary()``); the
    explanation re-derives each from the layer's settings, e.g.
    ``"10 filters × (3×3×1 + 1) = 100"``.

    Returns
    -------
    list of dict
        Keys ``layer``, ``type``, ``output shape``, ``parameters``, ``how``.
    """
    rows = []
    for layer in model.layers:
        try:
            out = layer.output.shape
        except (AttributeError, ValueError):
            out = getattr(layer, "output_shape", ())
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": _dims(out[1:]) if out else "",
                "parameters": int(layer.count_params()),
                "how": _explain(layer),
            }
        )
    return rows


def summary_frame(model: keras.Model):
    """:func:`summary` as a ``pandas.DataFrame`` with a total row, for display."""
    import pandas as pd

    rows = summary(model)
    total = sum(r["parameters"] for r in rows)
    rows.append({"layer": "total", "type": "", "output shape": "", "parameters": total, "how": ""})
    return pd.DataFrame(rows)
