"""Datasets: the embedded MNIST sample, the Keras downloads, and the learner's own files.

Every loader returns a :class:`Dataset` whose images are ``uint8`` of shape
``(N, H, W, C)`` and whose labels are ``int64`` class indices; :func:`prepare` turns them
into what a textbook model eats (``float32`` in [0, 1], one-hot or sparse labels).
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from cnnviz import claims

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


# --- the Keras downloads ------------------------------------------------------------

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
DATASET_NAMES = ("mnist-sample", *KERAS_DATASETS)
_SOURCES = {
    "mnist": "MNIST (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0) via keras.datasets",
    "fashion_mnist": "Fashion-MNIST (Zalando SE; MIT licence) via keras.datasets",
    "cifar10": "CIFAR-10 (A. Krizhevsky, 2009) via keras.datasets",
}

# Debian ships Fashion-MNIST whole: `apt-get install dataset-fashion-mnist` puts the four
# original IDX files (60,000 + 10,000 images, 30 MB) here. Read before Keras's cache and
# before any download, so the data set works offline.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
ENV_FASHION_MNIST = "CNNVIZ_FASHION_MNIST_DIR"  # a folder with the same four files
FASHION_FILES = tuple(
    f"{part}-{kind}-idx{dims}-ubyte.gz"
    for part in ("train", "t10k")
    for kind, dims in (("images", 3), ("labels", 1))
)
FASHION_INSTALL = "sudo apt-get install dataset-fashion-mnist"


def fashion_mnist_dir() -> Path | None:
    """The folder whose IDX files :func:`load` reads Fashion-MNIST from, or ``None``.

    ``$CNNVIZ_FASHION_MNIST_DIR`` when set, else Debian's package folder
    (:data:`DEBIAN_FASHION_MNIST`), when all four files are there.

    Raises
    ------
    DataError
        ``$CNNVIZ_FASHION_MNIST_DIR`` is set but lacks some of the four files.
    """
    chosen = os.environ.get(ENV_FASHION_MNIST)
    folder = Path(chosen) if chosen else DEBIAN_FASHION_MNIST
    missing = [f for f in FASHION_FILES if not (folder / f).is_file()]
    if chosen and missing:
        raise DataError(
            f"${ENV_FASHION_MNIST} is {chosen}, but it lacks {', '.join(missing)} "
            "(the four original Fashion-MNIST IDX files)."
        )
    return None if missing else folder


def where(name: str) -> str:
    """Where :func:`load` finds data set ``name`` on this machine now, in a few words."""
    if name == "mnist-sample":
        return f"embedded in {MNIST_SAMPLE.relative_to(ASSETS.parent)}, offline"
    if name not in KERAS_DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}.")
    if name == "fashion_mnist":
        try:
            folder = fashion_mnist_dir()
        except DataError as exc:
            return str(exc)
        if folder is not None:
            debian = folder == DEBIAN_FASHION_MNIST
            return f"{folder} ({'Debian package' if debian else '$' + ENV_FASHION_MNIST}), offline"
    if _cached_keras_arrays(name, keras_cache_dir(), probe=True) is not None:
        return f"Keras's cache, {keras_cache_dir()}, offline"
    offline = f"; or offline: {FASHION_INSTALL}" if name == "fashion_mnist" else ""
    return f"not here yet: downloaded once by Keras into {keras_cache_dir()}{offline}"


def keras_cache_dir() -> Path:
    """The folder where Keras caches its downloads: ``$KERAS_HOME/datasets``.

    Read from the environment at call time (Keras itself reads it once, at import), with
    Keras's own default ``~/.keras`` and its fallback ``/tmp/.keras`` when that is
    read-only.
    """
    home = Path(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")))
    if home.exists() and not os.access(home, os.W_OK):
        home = Path(tempfile.gettempdir()) / ".keras"
    return home / "datasets"


def _cached_keras_arrays(name: str, cache: Path, probe: bool = False):
    """Read ``name`` from Keras's on-disk cache format, or return ``None`` if absent.

    The file names and formats are exactly those ``keras.datasets.<name>.load_data``
    writes: ``mnist.npz``; ``fashion-mnist/*-idx?-ubyte.gz``;
    ``cifar-10-batches-py-target/cifar-10-batches-py/{data_batch_1..5,test_batch}``.
    With ``probe`` only whether the files are there: ``()`` if so.
    """
    if name == "mnist":
        path = cache / "mnist.npz"
        if not path.exists():
            return None
        if probe:
            return ()
        with np.load(path, allow_pickle=False) as z:
            return z["x_train"], z["y_train"], z["x_test"], z["y_test"]
    if name == "fashion_mnist":
        return _read_fashion(cache / "fashion-mnist", probe)
    folder = cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    files = [folder / f"data_batch_{i}" for i in range(1, 6)] + [folder / "test_batch"]
    if not all(f.exists() for f in files):
        return None
    if probe:
        return ()
    from keras.src.datasets.cifar import load_batch  # Keras's restricted unpickler

    parts = [load_batch(str(f)) for f in files]  # each (n, 3, 32, 32) uint8, labels
    x_train = np.concatenate([p[0] for p in parts[:5]]).transpose(0, 2, 3, 1)
    y_train = np.concatenate([np.asarray(p[1]) for p in parts[:5]])
    x_test = np.asarray(parts[5][0]).transpose(0, 2, 3, 1)
    return x_train, y_train, x_test, np.asarray(parts[5][1])


def _read_fashion(folder: Path, probe: bool = False):
    """The four Fashion-MNIST IDX files of ``folder`` as arrays, or ``None`` if one is absent."""
    files = [folder / f for f in FASHION_FILES]
    if not all(f.is_file() for f in files):
        return None
    return () if probe else tuple(read_idx(f) for f in files)


def _download_keras(name: str):
    """Download (or read from Keras's own cache) through ``keras.datasets``."""
    import keras

    module = getattr(keras.datasets, name)
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return x_train, y_train, x_test, y_test


def load(name: str) -> Dataset:
    """Load a dataset by name: the embedded sample or one of the Keras downloads.

    Parameters
    ----------
    name : str
        ``"mnist-sample"`` (embedded, offline), ``"mnist"``, ``"fashion_mnist"`` or
        ``"cifar10"`` (downloaded once by Keras into ``$KERAS_HOME/datasets``).
        Fashion-MNIST is read first from ``$CNNVIZ_FASHION_MNIST_DIR`` or Debian's
        package (:func:`fashion_mnist_dir`), offline.

    Returns
    -------
    Dataset
        ``uint8`` images ``(N, H, W, C)`` and ``int64`` labels.

    Raises
    ------
    DataError
        Unknown name, or the download failed (e.g. no network) and nothing is cached.
    """
    if name == "mnist-sample":
        return load_mnist_sample()
    if name not in KERAS_DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}.")
    source = _SOURCES[name]
    try:
        arrays = None
        if name == "fashion_mnist" and (folder := fashion_mnist_dir()) is not None:
            arrays = _read_fashion(folder)
            where_from = (
                "Debian's dataset-fashion-mnist package"
                if (folder == DEBIAN_FASHION_MNIST)
                else f"${ENV_FASHION_MNIST}"
            )
            source = f"Fashion-MNIST (Zalando SE; MIT licence) from {where_from}, {folder}"
        if arrays is None:
            arrays = _cached_keras_arrays(name, keras_cache_dir())
        if arrays is None:
            arrays = _download_keras(name)
    except DataError:
        raise
    except Exception as exc:  # urllib, hash and unpickling errors all mean the same here
        offline = (
            f" — or, offline, install Debian's copy: {FASHION_INSTALL}"
            if name == "fashion_mnist"
            else " — use mnist-sample offline"
        )
        raise DataError(
            f"{name} is not on this machine and could not be downloaded: it needs the "
            f"internet once (Keras keeps it in {keras_cache_dir()}){offline}."
        ) from exc
    x_train, y_train, x_test, y_test = arrays
    return Dataset(
        name=name,
        x_train=_as_nhwc(np.asarray(x_train, dtype=np.uint8)),
        y_train=np.asarray(y_train).reshape(-1).astype(np.int64),
        x_test=_as_nhwc(np.asarray(x_test, dtype=np.uint8)),
        y_test=np.asarray(y_test).reshape(-1).astype(np.int64),
        class_names=CLASS_NAMES[name],
        source=source,
    )


def _as_nhwc(x: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` grey images get a channel axis: ``(N, H, W, 1)``."""
    return x[..., None] if x.ndim == 3 else x


# --- the learner's own files ----------------------------------------------------------

SIGN_LANGUAGE_PIXELS = 28 * 28
MAX_MEMBER_BYTES = 5_000_000  # one image in a zip; a photo this large is not a 28×28 digit
MAX_TOTAL_BYTES = 200_000_000  # everything a zip may unpack to (zip bombs)
MAX_MEMBERS = 20_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def sign_language_label_to_index(labels: np.ndarray) -> np.ndarray:
    """Alphabet index (0–24, never 9 = J) → class index 0–23 into :data:`SIGN_LANGUAGE`."""
    labels = np.asarray(labels, dtype=np.int64)
    return labels - (labels > 9)


def _read_source(source: bytes | str | Path, what: str) -> bytes:
    """The bytes of an upload (``bytes``) or of a file path."""
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"no {what} file at {path}.")
    return path.read_bytes()


def parse_sign_language_csv(source: bytes | str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse a CSV in the Sign-Language-MNIST format: ``label`` then 784 pixel columns.

    Parameters
    ----------
    source : bytes or str or Path
        The uploaded bytes, or a path.

    Returns
    -------
    x : np.ndarray
        ``uint8`` images ``(N, 28, 28, 1)``.
    y : np.ndarray
        ``int64`` class indices 0–23 (J and Z, which need motion, are absent).

    Raises
    ------
    DataError
        Empty file, wrong column count, a non-numeric cell, a pixel outside 0–255, or a
        label that is not a static letter (outside 0–24, or 9 = J).
    """
    text = _read_source(source, "CSV").decode("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError("the CSV file is empty.")
    header = [c.strip().lower() for c in lines[0].split(",")]
    if header[0] == "label":
        lines = lines[1:]
    if not lines:
        raise DataError("the CSV file has a header but no rows.")
    rows = [ln.split(",") for ln in lines]
    widths = np.array([len(r) for r in rows])
    bad = np.flatnonzero(widths != SIGN_LANGUAGE_PIXELS + 1)
    if bad.size:
        raise DataError(
            f"row {bad[0] + 1} has {widths[bad[0]]} columns; expected {SIGN_LANGUAGE_PIXELS + 1} "
            "(label then 784 pixels)."
        )
    cells = np.array(rows, dtype=object)
    try:
        values = cells.astype(np.float64)
    except ValueError:
        flat = cells.ravel()
        for i, cell in enumerate(flat):  # only reached on error, to name the bad cell
            try:
                float(cell)
            except ValueError:
                r, c = divmod(i, cells.shape[1])
                raise DataError(
                    f"cell {cell.strip()!r} in row {r + 1}, column {c + 1} is not a number."
                ) from None
        raise
    labels, pixels = values[:, 0], values[:, 1:]
    bad_label = (labels != np.round(labels)) | (labels < 0) | (labels > 24) | (labels == 9)
    if bad_label.any():
        i = int(np.argmax(bad_label))
        raise DataError(
            f"label {labels[i]:g} in row {i + 1} is not a static letter (0–24 without 9 = J)."
        )
    bad_px = (pixels < 0) | (pixels > 255) | ~np.isfinite(pixels)
    if bad_px.any():
        r, c = np.argwhere(bad_px)[0]
        raise DataError(f"pixel {pixels[r, c]:g} in row {r + 1} is outside 0–255.")
    x = np.round(pixels).astype(np.uint8).reshape(-1, 28, 28, 1)
    return x, sign_language_label_to_index(labels.astype(np.int64))


def load_sign_language_csv(
    train: bytes | str | Path,
    test: bytes | str | Path | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """A Sign-Language-MNIST dataset from its CSV(s), as the notebook reads them.

    Parameters
    ----------
    train : bytes or str or Path
        ``sign_mnist_train.csv`` (or any file in that format).
    test : bytes or str or Path, optional
        ``sign_mnist_test.csv``: the notebook's separate test set, used as it is. Without
        it, a seeded ``test_fraction`` of ``train`` is held out instead.
    test_fraction, seed : float, int
        The split used when there is no test file.

    Returns
    -------
    Dataset
        ``extra["test_from"]`` says where the test images came from: ``"test CSV"`` or
        ``"seeded split"``.

    Raises
    ------
    DataError
        Either file is malformed; the message says which file.
    """
    try:
        x, y = parse_sign_language_csv(train)
    except DataError as exc:
        raise DataError(f"the training CSV: {exc}" if test is not None else str(exc)) from None
    if test is not None:
        try:
            x_test, y_test = parse_sign_language_csv(test)
        except DataError as exc:
            raise DataError(f"the test CSV: {exc}") from None
        test_from = "test CSV"
    else:
        x, y, x_test, y_test = train_val_split(x, y, test_fraction, seed)
        test_from = "seeded split"
    return Dataset(
        name="sign_language",
        x_train=x,
        y_train=y,
        x_test=x_test,
        y_test=y_test,
        class_names=SIGN_LANGUAGE,
        source=f"Sign Language MNIST CSV (your file; test set: {test_from})",
        extra={"test_from": test_from},
    )


VALIDATION_CHOICES = ("seeded split", "test set")


def validation_data(
    ds: Dataset, on: str = "seeded split", fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training images and the images to validate on after each epoch.

    Parameters
    ----------
    ds : Dataset
        Any dataset.
    on : str
        ``"seeded split"``: hold out a seeded ``fraction`` of the training images (the
        usual way; the test set stays unseen until the end). ``"test set"``: train on every
        training image and validate on the test set, as the Sign-Language notebook does
        (``validation_data=(x_test, y_test)``); the validation curve is then the test
        curve, so choosing epochs by it tunes on the test set.
    fraction, seed : float, int
        The held-out share and the seed of the split.

    Returns
    -------
    x_train, y_train, x_val, y_val : np.ndarray
        ``uint8`` images and ``int64`` labels.
    """
    if on not in VALIDATION_CHOICES:
        raise DataError(f"validate on one of {', '.join(VALIDATION_CHOICES)}, got {on!r}.")
    if on == "test set":
        return ds.x_train, ds.y_train, ds.x_test, ds.y_test
    return train_val_split(ds.x_train, ds.y_train, fraction, seed)


MAX_IMAGE_SIDE = 512  # pixels; 224 is what the ImageNet models take, 150 Chollet's convnet
IMAGE_CHANNELS = (1, 3)  # grey or RGB


def image_size_pair(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """``150`` or ``(150, 150)`` → ``(150, 150)``, checked: each side in 8..512 pixels."""
    pair = (image_size, image_size) if isinstance(image_size, int | np.integer) else image_size
    try:
        h, w = (int(v) for v in pair)
    except (TypeError, ValueError):
        raise DataError(
            f"image size must be one number or (height, width), got {image_size!r}."
        ) from None
    if not (8 <= h <= MAX_IMAGE_SIDE and 8 <= w <= MAX_IMAGE_SIDE):
        raise DataError(
            f"image size must be between 8 and {MAX_IMAGE_SIDE} pixels a side, got {h}×{w}."
        )
    return h, w


def load_image_zip(
    source: bytes | str | Path,
    image_size: int | tuple[int, int] = (28, 28),
    channels: int = 1,
    test_fraction: float = 0.2,
    seed: int = 0,
    max_member_bytes: int = MAX_MEMBER_BYTES,
) -> Dataset:
    """A dataset from a zip of class folders: ``cats/1.png``, ``dogs/7.jpg`` …

    The class of an image is the name of the folder that holds it; classes are sorted by
    name. Images are converted to grey (``channels=1``) or RGB (``channels=3``) and
    resized to ``image_size`` (``150`` means 150×150, Chollet's cats vs dogs; 224 the
    ImageNet models').

    Raises
    ------
    DataError
        Not a zip, empty, a member whose path escapes the zip's folder (``../x``,
        ``/etc/x``), a member that is not an image, a member larger than
        ``max_member_bytes``, fewer than two classes, a size outside 8–512 pixels or
        channels other than 1 or 3.
    """
    from PIL import Image, UnidentifiedImageError

    image_size = image_size_pair(image_size)
    if channels not in IMAGE_CHANNELS:
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels}.")
    raw = _read_source(source, "zip")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise DataError("the file is not a zip archive.") from None
    with archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir()
            and not m.filename.startswith("__MACOSX/")
            and not PurePosixPath(m.filename).name.startswith(".")
        ]
        if not members:
            raise DataError("the zip archive is empty.")
        if len(members) > MAX_MEMBERS:
            raise DataError(f"the zip holds {len(members)} files; at most {MAX_MEMBERS} allowed.")
        total = 0
        for m in members:
            p = PurePosixPath(m.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or ":" in p.parts[0]:
                raise DataError(f"member {m.filename!r} has a path escaping the zip's folder.")
            if m.file_size > max_member_bytes:
                raise DataError(
                    f"member {m.filename!r} is {m.file_size:,} bytes; at most "
                    f"{max_member_bytes:,} allowed."
                )
            total += m.file_size
            if len(p.parts) < 2:
                raise DataError(f"member {m.filename!r} is not inside a class folder.")
        if total > MAX_TOTAL_BYTES:
            raise DataError(f"the zip unpacks to {total:,} bytes; at most {MAX_TOTAL_BYTES:,}.")
        mode = "L" if channels == 1 else "RGB"
        images, classes = [], []
        from cnnviz import imaging  # the one pixel limit for every image a learner gives

        for m in members:
            try:
                with Image.open(io.BytesIO(archive.read(m))) as im:
                    too_many = im.width * im.height > imaging.MAX_PIXELS  # from the header
                    if not too_many:
                        im = im.convert(mode).resize(image_size[::-1], Image.Resampling.BILINEAR)
                        images.append(np.asarray(im, dtype=np.uint8).reshape(*image_size, channels))
            except Image.DecompressionBombError:
                too_many = True
            except (UnidentifiedImageError, OSError, ValueError):
                raise DataError(f"member {m.filename!r} is not an image.") from None
            if too_many:
                raise DataError(
                    f"member {m.filename!r} has more than {imaging.MAX_PIXELS:,} pixels, the "
                    "limit for one image, so it is refused before decoding."
                )
            classes.append(PurePosixPath(m.filename.replace("\\", "/")).parts[-2])
    names = tuple(sorted(set(classes)))
    if len(names) < 2:
        raise DataError(f"the zip has {len(names)} class folder; at least 2 are needed.")
    y = np.searchsorted(np.array(names), np.array(classes)).astype(np.int64)
    x = np.stack(images)  # (N, H, W, C)
    x_train, y_train, x_test, y_test = train_val_split(x, y, test_fraction, seed)
    return Dataset(
        name="image_zip",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=names,
        source=f"your zip of class folders ({image_size[0]}×{image_size[1]}×{channels})",
    )


# --- preparation as the textbooks do it ------------------------------------------------


def prepare(x_uint8: np.ndarray) -> np.ndarray:
    """Images as a model eats them: ``float32`` ``(N, H, W, C)`` in [0, 1].

    Examples
    --------
    >>> prepare(np.array([[[0, 255]]], dtype=np.uint8)).tolist()
    [[[[0.0], [1.0]]]]
    """
    x = np.asarray(x_uint8)
    if x.ndim == 3:
        x = x[..., None]  # (N, H, W) -> (N, H, W, 1)
    if x.ndim != 4:
        raise DataError(f"images must be (N, H, W) or (N, H, W, C), got shape {x.shape}.")
    return x.astype(np.float32) / 255.0


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Sparse labels ``(N,)`` → one-hot ``float32`` ``(N, num_classes)``."""
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"labels must lie in 0..{num_classes - 1}, got {y.min()}..{y.max()}.")
    return np.eye(num_classes, dtype=np.float32)[y]


def sparse(y_one_hot: np.ndarray) -> np.ndarray:
    """One-hot ``(N, K)`` → class indices ``(N,)`` ``int64``."""
    return np.argmax(np.asarray(y_one_hot), axis=-1).astype(np.int64)


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and hold out ``val_fraction`` of the examples.

    Returns
    -------
    x_train, y_train, x_val, y_val : np.ndarray
        Same seed, same split; ``len(x_val) == round(val_fraction * len(x))``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    if len(x) != len(y):
        raise DataError(f"x has {len(x)} examples but y has {len(y)}.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(val_fraction * len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def subset(ds: Dataset, n_train: int | None, n_test: int | None = None, seed: int = 0) -> Dataset:
    """The first ``n_train`` / ``n_test`` examples after a seeded shuffle (for quick runs)."""
    rng = np.random.default_rng(seed)
    tr = rng.permutation(len(ds.x_train))[: n_train or None]
    te = rng.permutation(len(ds.x_test))[: n_test or None]
    return Dataset(
        name=ds.name,
        x_train=ds.x_train[tr],
        y_train=ds.y_train[tr],
        x_test=ds.x_test[te],
        y_test=ds.y_test[te],
        class_names=ds.class_names,
        source=ds.source,
        extra=dict(ds.extra),
    )


def class_counts(y: np.ndarray, num_classes: int) -> np.ndarray:
    """How many examples of each class: ``(num_classes,)`` ``int64``."""
    return np.bincount(np.asarray(y, dtype=np.int64), minlength=num_classes)


def pixel_histogram(x: np.ndarray, bins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of every pixel value of ``uint8`` images over 0–255.

    Returns
    -------
    counts : np.ndarray
        ``(bins,)`` ``int64``.
    edges : np.ndarray
        ``(bins + 1,)`` from 0 to 256.
    """
    counts, edges = np.histogram(np.asarray(x).ravel(), bins=bins, range=(0, 256))
    return counts.astype(np.int64), edges


BACKGROUND_SHARE = 0.25  # the most common value range holds this share or more: a background


def _share(x: float, middle: float | None = None) -> str:
    """A share as a whole percent, never "100 %" below 1 nor "0 %" above 0; with
    ``middle``, with the decimals it takes to show which side of it ``x`` is on."""
    if 0 < x and round(100 * x) == 0:
        return "< 1 %"
    if x < 1 and round(100 * x) == 100:
        return "> 99 %"
    for d in range(0, 17):
        text = f"{100 * x:.{d}f}"
        if middle is None or np.sign(float(text) - 100 * middle) == np.sign(x - middle):
            return f"{text} %"
    return f"{100 * x!r} %"


@claims.claim
def pixel_caption(counts: np.ndarray, edges: np.ndarray) -> claims.Claim:
    """What the pixel histogram shows about background and ink, read from its counts.

    The most common value range is the background when it holds at least
    :data:`BACKGROUND_SHARE` of the pixels (dark, grey or light: the lower, middle or
    upper third of 0–255); the ink is the rest, lighter or darker than the background by
    majority. MNIST is white strokes on black; a zip of dark drawings on paper is the
    opposite.

    Examples
    --------
    >>> counts = np.zeros(32, int); counts[0], counts[31] = 80, 20
    >>> print(pixel_caption(counts, np.linspace(0, 256, 33)))  # doctest: +NORMALIZE_WHITESPACE
    The background is dark: the most common values, 0–7, hold 80 % of the pixels. The rest
    (the ink and its edges) are all lighter, most often 248–255: light strokes on a dark
    background, as in MNIST (background 0, ink up to 255).
    """
    counts = np.asarray(counts, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.float64)
    total = int(counts.sum())
    if total == 0:
        return claims.Claim("There are no pixels to count.", background=None, ink=None)
    m = int(np.argmax(counts))
    lo, hi = int(edges[m]), int(edges[m + 1]) - 1
    share = float(counts[m] / total)
    facts = dict(mode_range=(lo, hi), mode_share=share, background=None, ink=None)
    if share < BACKGROUND_SHARE:
        return claims.Claim(
            f"Here no single range of values dominates: the most common, {lo}–{hi}, holds "
            f"{_share(share, BACKGROUND_SHARE)} of the pixels, under the "
            f"{_share(BACKGROUND_SHARE)} a plain background would: more like photos than "
            "strokes on a page.",
            **facts,
        )
    mid = (edges[m] + edges[m + 1]) / 2
    background = "dark" if mid < 256 / 3 else "light" if mid > 512 / 3 else "grey"
    facts["background"] = background
    text = (
        f"The background is {background}: the most common values, {lo}–{hi}, hold "
        f"{_share(share)} of the pixels."
    )
    rest = total - int(counts[m])
    if rest == 0:
        return claims.Claim(text + " Every pixel lies in that range: there is no ink.", **facts)
    lighter = float(counts[m + 1 :].sum() / rest)
    ink = "lighter" if lighter > 0.5 else "darker" if lighter < 0.5 else None
    facts.update(lighter_share=lighter, ink=ink)
    if ink is None:
        return claims.Claim(
            text + " The rest is half lighter, half darker than the background.", **facts
        )
    side = slice(m + 1, None) if ink == "lighter" else slice(0, m)
    k = int(np.argmax(counts[side])) + (m + 1 if ink == "lighter" else 0)
    facts["ink_range"] = (int(edges[k]), int(edges[k + 1]) - 1)
    part = lighter if ink == "lighter" else 1 - lighter
    much = "all" if part == 1 else f"mostly ({_share(part, 0.5)})"
    text += (
        f" The rest (the ink and its edges) are {much} {ink}, most often "
        f"{facts['ink_range'][0]}–{facts['ink_range'][1]}"
    )
    if background == "dark" and ink == "lighter":
        text += ": light strokes on a dark background, as in MNIST (background 0, ink up to 255)."
    elif background == "light" and ink == "darker":
        text += ": dark strokes on a light background, the opposite of MNIST's white on black."
    else:
        text += "."
    return claims.Claim(text, **facts)


@claims.claim
def class_balance(counts: np.ndarray, names: tuple[str, ...] | list[str]) -> claims.Claim:
    """The smallest and largest classes of ``counts`` (ties named together), and their ratio.

    >>> print(class_balance(np.array([721, 903, 800]), ("0", "1", "2")))
    Smallest class: 0 (721 images); largest: 1 (903 images), 1.25× the smallest.
    """
    counts = np.asarray(counts, dtype=np.int64)
    lo, hi = int(counts.min()), int(counts.max())
    small = tuple(names[i] for i in np.flatnonzero(counts == lo))
    large = tuple(names[i] for i in np.flatnonzero(counts == hi))
    facts = dict(smallest=lo, largest=hi, smallest_classes=small, largest_classes=large)
    if lo == hi:
        return claims.Claim(
            f"Balanced: every class has {lo:,} images.", balanced=True, ratio=1.0, **facts
        )
    if lo == 0:
        return claims.Claim(
            f"Smallest class: {', '.join(small)} (0 images: it has no images to learn from); "
            f"largest: {', '.join(large)} ({hi:,} images).",
            balanced=False, ratio=None, **facts,
        )  # fmt: skip
    return claims.Claim(
        f"Smallest class: {', '.join(small)} ({lo:,} images); largest: {', '.join(large)} "
        f"({hi:,} images), {hi / lo:.2f}× the smallest.",
        balanced=False, ratio=hi / lo, **facts,
    )  # fmt: skip


def sample_indices(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` distinct indices out of ``n`` (all of them if ``n <= k``), chosen with ``seed``."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:k])
