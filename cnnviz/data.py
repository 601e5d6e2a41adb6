"""Datasets: the embedded MNIST sample, the Keras downloads, and the learner's own files.

Every loader returns a :class:`Dataset` whose images are ``uint8`` of shape
``(N, H, W, C)`` and whose labels are ``int64`` class indices; :func:`prepare` turns them
into what a textbook model eats (``float32`` in [0, 1], one-hot or sparse labels).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MNIST_SAMPLE = ASSETS / "mnist_sample.npz"

DIGITS = tuple(str(i) for i in range(10))
FASHION_MNIST = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10 = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# Sign Language MNIST: static hand shapes A–Y; J and Z need motion so they are absent.
# Labels in the CSV keep the letter's alphabet index (0–24, 9 never occurs); see
# `sign_language_label_to_index`.
SIGN_LANGUAGE = tuple(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXY" if c != "J")

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": DIGITS,
    "mnist-sample": DIGITS,
    "fashion_mnist": FASHION_MNIST,
    "cifar10": CIFAR10,
    "sign_language": SIGN_LANGUAGE,
}


class DataError(ValueError):
    """A dataset file the learner gave cannot be used; the message says why in one sentence."""


@dataclass
class Dataset:
    """Images and labels, split into train and test.

    Attributes
    ----------
    name : str
        Registry name (``"mnist-sample"``) or a description of the learner's file.
    x_train, x_test : np.ndarray
        ``uint8`` images, ``(N, H, W, C)``.
    y_train, y_test : np.ndarray
        ``int64`` class indices, ``(N,)``.
    class_names : tuple of str
        One name per class index.
    source : str
        Where the data came from, with its licence, for the Data page.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of one image."""
        return tuple(int(s) for s in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        """How many classes the labels can name."""
        return len(self.class_names)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not.

    Parameters
    ----------
    path : str or Path
        ``*-idx3-ubyte[.gz]`` (images) or ``*-idx1-ubyte[.gz]`` (labels).

    Returns
    -------
    np.ndarray
        ``uint8`` array shaped by the header: ``(N, 28, 28)`` for images, ``(N,)`` labels.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path.name} is not an unsigned-byte IDX file.")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise DataError(
            f"{path.name} should hold {expected} bytes of data for shape {dims}, "
            f"got {len(raw) - offset}."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def load_mnist_sample(path: str | Path = MNIST_SAMPLE) -> Dataset:
    """The embedded default: 8,000 train / 2,000 test MNIST digits, no network needed.

    Derived by ``scripts/build_assets.py`` from the MNIST test set (Y. LeCun, C. Cortes,
    C. J. C. Burges, CC BY-SA 3.0) with a fixed, stratified split.

    Examples
    --------
    >>> ds = load_mnist_sample()
    >>> ds.x_train.shape, ds.x_test.shape
    ((8000, 28, 28, 1), (2000, 28, 28, 1))
    """
    with np.load(path) as z:
        return Dataset(
            name="mnist-sample",
            x_train=z["x_train"][..., None],
            y_train=z["y_train"].astype(np.int64),
            x_test=z["x_test"][..., None],
            y_test=z["y_test"].astype(np.int64),
            class_names=DIGITS,
            source="MNIST test set (LeCun, Cortes, Burges; CC BY-SA 3.0), "
            "split 8,000 / 2,000 by cnnviz",
        )
