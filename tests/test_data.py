"""cnnviz.data: loaders (embedded, Keras cache, CSV, zip), preparation, split, helpers."""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile

import numpy as np
import pytest
from PIL import Image

from cnnviz import data
from cnnviz.data import DataError

# --- the Keras datasets, offline, from files written in Keras's cache format --------------


def _idx(arr: np.ndarray) -> bytes:
    """IDX bytes: magic 0,0,8,ndim then big-endian dims then uint8 data."""
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    # the Keras-cache tests must not find Debian's Fashion-MNIST package first
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")
    monkeypatch.delenv(data.ENV_FASHION_MNIST, raising=False)
    return tmp_path / "datasets"


def _write_fashion(folder, train_labels=(7, 9), test_labels=(0, 1)):
    """The four Fashion-MNIST IDX files (tiny) in ``folder``; returns the image array."""
    folder.mkdir(parents=True, exist_ok=True)
    x = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    for prefix, labels in (("train", train_labels), ("t10k", test_labels)):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(x)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(_idx(np.array(labels)))
        )
    return x


def test_load_mnist_from_keras_cache(keras_home):
    rng = np.random.default_rng(0)
    x_tr = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    x_te = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    keras_home.mkdir(parents=True)
    np.savez(
        keras_home / "mnist.npz",
        x_train=x_tr,
        y_train=np.array([0, 1, 2, 3, 9], np.uint8),
        x_test=x_te,
        y_test=np.array([4, 5, 6], np.uint8),
    )
    ds = data.load("mnist")
    assert ds.x_train.shape == (5, 28, 28, 1) and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_train[..., 0], x_tr)
    np.testing.assert_array_equal(ds.y_test, [4, 5, 6])
    assert ds.y_train.dtype == np.int64 and ds.class_names == data.DIGITS


def test_load_fashion_mnist_from_keras_cache(keras_home):
    _write_fashion(keras_home / "fashion-mnist")
    ds = data.load("fashion_mnist")
    assert ds.x_test.shape == (2, 28, 28, 1)
    assert ds.x_train[1, 0, 0, 0] == (28 * 28) % 256
    assert [ds.class_names[i] for i in ds.y_train] == ["Sneaker", "Ankle boot"]
    assert "via keras.datasets" in ds.source
    assert data.where("fashion_mnist").startswith("Keras's cache")


def test_fashion_mnist_from_debians_package_comes_before_keras(keras_home, tmp_path, monkeypatch):
    _write_fashion(keras_home / "fashion-mnist", train_labels=(7, 9))
    debian = tmp_path / "usr-share-datasets-fashion-mnist"
    _write_fashion(debian, train_labels=(3, 4))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", debian)
    monkeypatch.setattr(data, "_download_keras", lambda name: pytest.fail("no download"))
    ds = data.load("fashion_mnist")
    assert list(ds.y_train) == [3, 4]  # Debian's files, not Keras's cache
    assert "Debian's dataset-fashion-mnist package" in ds.source and str(debian) in ds.source
    assert data.where("fashion_mnist") == f"{debian} (Debian package), offline"


def test_fashion_mnist_folder_from_the_environment(keras_home, tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    _write_fashion(mine, train_labels=(1, 2))
    monkeypatch.setenv(data.ENV_FASHION_MNIST, str(mine))
    assert data.fashion_mnist_dir() == mine
    assert list(data.load("fashion_mnist").y_train) == [1, 2]
    (mine / "t10k-labels-idx1-ubyte.gz").unlink()  # a folder missing a file: say which
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz"):
        data.load("fashion_mnist")


def test_without_the_package_and_offline_fashion_mnist_says_how_to_get_it(keras_home, monkeypatch):
    def offline(name):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(data, "_download_keras", offline)
    with pytest.raises(DataError, match=r"apt-get install dataset-fashion-mnist") as err:
        data.load("fashion_mnist")
    assert str(err.value).count(".") >= 1 and "\n" not in str(err.value)  # one sentence
    assert "apt-get install dataset-fashion-mnist" in data.where("fashion_mnist")


def test_the_real_fashion_mnist_from_debian():
    """All 70,000 images of Debian's package (in CI it must be installed: .ci/run does)."""
    import os

    if data.fashion_mnist_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("dataset-fashion-mnist is not installed, and CI must have it")
        pytest.skip("sudo apt-get install dataset-fashion-mnist to run this test")
    ds = data.load("fashion_mnist")
    assert ds.x_train.shape == (60_000, 28, 28, 1) and ds.x_test.shape == (10_000, 28, 28, 1)
    np.testing.assert_array_equal(data.class_counts(ds.y_train, 10), [6000] * 10)
    np.testing.assert_array_equal(data.class_counts(ds.y_test, 10), [1000] * 10)
    assert ds.class_names[ds.y_train[0]] == "Ankle boot"  # the data set's first image
    assert ds.class_names[ds.y_test[0]] == "Ankle boot"


def test_load_cifar10_from_keras_cache(keras_home):
    folder = keras_home / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    # CIFAR stores each image as 3072 bytes: all red, then green, then blue (channels first).
    img = np.zeros((3, 32, 32), np.uint8)
    img[0], img[1], img[2] = 10, 20, 30
    flat = img.reshape(1, 3072)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": flat, b"labels": [3]}, f, protocol=4)
    ds = data.load("cifar10")
    assert ds.x_train.shape == (5, 32, 32, 3)  # channels last
    np.testing.assert_array_equal(ds.x_train[0, 5, 7], [10, 20, 30])
    assert ds.class_names[ds.y_test[0]] == "cat"


def test_keras_download_failure_is_a_clear_error(keras_home, monkeypatch):
    def offline(name):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(data, "_download_keras", offline)
    with pytest.raises(DataError, match="internet once"):
        data.load("cifar10")


def test_unknown_dataset():
    with pytest.raises(DataError, match="'nope'"):
        data.load("nope")


def test_mnist_sample_through_load():
    ds = data.load("mnist-sample")
    assert ds.x_train.shape == (8000, 28, 28, 1) and ds.x_test.shape == (2000, 28, 28, 1)
    assert data.class_counts(ds.y_train, 10).sum() == 8000


# --- Sign-Language CSV ----------------------------------------------------------------------


def _csv(rows: list[list]) -> bytes:
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    return (header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n").encode()


def test_sign_language_csv_good(tmp_path):
    rows = [[3] + [0] * 783 + [255], [10] + [7] * 784, [24] + [1] * 784]
    x, y = data.parse_sign_language_csv(_csv(rows))
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.uint8
    assert x[0, 27, 27, 0] == 255 and x[1, 5, 5, 0] == 7
    # alphabet index -> class index: D stays 3, K (10) becomes 9 (no J), Y (24) becomes 23
    np.testing.assert_array_equal(y, [3, 9, 23])
    assert [data.SIGN_LANGUAGE[i] for i in y] == ["D", "K", "Y"]
    path = tmp_path / "sign.csv"
    path.write_bytes(_csv(rows * 4))
    ds = data.load_sign_language_csv(path, test_fraction=0.25, seed=1)
    assert len(ds.x_train) == 9 and len(ds.x_test) == 3 and ds.num_classes == 24


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([[1] + [0] * 783], "row 1 has 784 columns"),
        ([[1] + [0] * 783 + ["abc"]], "'abc'.*row 1, column 785"),
        ([[25] + [0] * 784], "label 25"),
        ([[9] + [0] * 784], "label 9"),
        ([[-1] + [0] * 784], "label -1"),
        ([[2] + [0] * 783 + [256]], "pixel 256"),
    ],
)
def test_sign_language_csv_malformed(rows, match):
    with pytest.raises(DataError, match=match):
        data.parse_sign_language_csv(_csv(rows))


def test_sign_language_csv_empty_and_missing(tmp_path):
    with pytest.raises(DataError, match="empty"):
        data.parse_sign_language_csv(b"")
    with pytest.raises(DataError, match="no rows"):
        data.parse_sign_language_csv(b"label,pixel1\n")
    with pytest.raises(DataError, match="no CSV file"):
        data.parse_sign_language_csv(tmp_path / "missing.csv")


# --- zip of class folders ---------------------------------------------------------------------


def _png(value: int, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format="PNG")
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


def test_image_zip_good():
    members = {f"data/cats/{i}.png": _png(200) for i in range(5)}
    members |= {f"data/dogs/{i}.png": _png(50) for i in range(5)}
    members["__MACOSX/data/cats/._0.png"] = b"junk"  # macOS metadata is ignored
    ds = data.load_image_zip(_zip(members), test_fraction=0.2, seed=0)
    assert ds.class_names == ("cats", "dogs")
    assert ds.x_train.shape == (8, 28, 28, 1) and len(ds.x_test) == 2
    # every cat is 200 everywhere, every dog 50: labels follow their folders
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_array_equal(x[:, 14, 14, 0], np.where(y == 0, 200, 50))


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ({}, "empty"),
        ({"a/1.png": _png(1), "../evil/2.png": _png(2)}, "escaping"),
        ({"a/1.png": _png(1), "/abs/2.png": _png(2)}, "escaping"),
        ({"a/1.png": _png(1), "b/notes.txt": b"hello"}, "'b/notes.txt' is not an image"),
        ({"a/1.png": _png(1), "a/2.png": _png(2)}, "at least 2"),
        ({"a/1.png": _png(1), "loose.png": _png(2)}, "not inside a class folder"),
    ],
)
def test_image_zip_malformed(members, match):
    with pytest.raises(DataError, match=match):
        data.load_image_zip(_zip(members))


def test_image_zip_not_a_zip_and_huge_member():
    with pytest.raises(DataError, match="not a zip"):
        data.load_image_zip(b"PK? not really")
    big = _zip({"a/1.png": _png(1), "b/2.png": b"\0" * 5000})
    with pytest.raises(DataError, match=r"'b/2\.png' is 5,000 bytes"):
        data.load_image_zip(big, max_member_bytes=1000)


def test_image_zip_at_150x150x3_keeps_colour():
    def rgb(colour):
        buf = io.BytesIO()
        Image.new("RGB", (200, 120), colour).save(buf, format="JPEG", quality=95)
        return buf.getvalue()

    members = {f"cats/{i}.jpg": rgb((200, 30, 30)) for i in range(3)}
    members |= {f"dogs/{i}.jpg": rgb((20, 40, 220)) for i in range(2)}
    ds = data.load_image_zip(_zip(members), image_size=150, channels=3, test_fraction=0.2)
    assert ds.input_shape == (150, 150, 3) and ds.x_train.dtype == np.uint8
    assert len(ds.x_train) == 4 and len(ds.x_test) == 1
    x = np.concatenate([ds.x_train, ds.x_test]).astype(int)
    y = np.concatenate([ds.y_train, ds.y_test])
    red = x[y == 0][:, 75, 75]  # the cats are red, the dogs blue, after the resize too
    blue = x[y == 1][:, 75, 75]
    assert (np.abs(red - [200, 30, 30]) <= 3).all() and (np.abs(blue - [20, 40, 220]) <= 3).all()
    assert "150×150×3" in ds.source
    grey = data.load_image_zip(_zip(members), image_size=(50, 60), channels=1)
    assert grey.input_shape == (50, 60, 1)


@pytest.mark.parametrize(
    ("size", "channels", "match"),
    [
        (4, 1, "between 8 and 512 pixels a side, got 4×4"),
        ((28, 1000), 1, "got 28×1000"),
        ("big", 1, "one number or"),
        (28, 2, "channels must be 1 .grey. or 3 .RGB., got 2"),
    ],
)
def test_image_zip_bad_size_or_channels(size, channels, match):
    members = {"a/1.png": _png(1), "b/2.png": _png(2)}
    with pytest.raises(DataError, match=match):
        data.load_image_zip(_zip(members), image_size=size, channels=channels)


def test_sign_language_separate_test_csv_and_validating_on_it(tmp_path):
    train_rows = [[c] + [c * 10] * 784 for c in (0, 1, 2, 3)] * 3  # 12 training images
    test_rows = [[5] + [99] * 784, [24] + [7] * 784]  # 2 test images, as given
    ds = data.load_sign_language_csv(_csv(train_rows), _csv(test_rows), seed=0)
    assert len(ds.x_train) == 12 and len(ds.x_test) == 2  # nothing held out of the train CSV
    np.testing.assert_array_equal(ds.y_test, [5, 23])  # F and Y
    assert ds.x_test[0, 0, 0, 0] == 99 and ds.extra["test_from"] == "test CSV"
    # the notebook's "validate on the test set": every training image trains
    x_tr, y_tr, x_val, y_val = data.validation_data(ds, "test set")
    assert len(x_tr) == len(y_tr) == 12 and x_val is ds.x_test and y_val is ds.y_test
    # the usual way: a seeded split of the training images, the test set untouched
    x_tr, y_tr, x_val, y_val = data.validation_data(ds, "seeded split", 0.25, seed=3)
    assert len(x_tr) == len(y_tr) == 9 and len(x_val) == 3
    again = data.validation_data(ds, "seeded split", 0.25, seed=3)
    np.testing.assert_array_equal(again[3], y_val)
    with pytest.raises(DataError, match="validate on one of"):
        data.validation_data(ds, "the moon")
    # without a test file: a seeded split, said so
    alone = data.load_sign_language_csv(_csv(train_rows), test_fraction=0.25)
    assert len(alone.x_test) == 3 and alone.extra["test_from"] == "seeded split"


def test_sign_language_bad_test_csv_names_the_file():
    good = _csv([[1] + [0] * 784])
    with pytest.raises(DataError, match=r"^the test CSV: row 1 has 784 columns"):
        data.load_sign_language_csv(good, _csv([[1] + [0] * 783]))
    with pytest.raises(DataError, match=r"^the training CSV: label 25"):
        data.load_sign_language_csv(_csv([[25] + [0] * 784]), good)


# --- preparation ---------------------------------------------------------------------------


def test_prepare_one_hot_sparse():
    x = np.array([[[0, 51], [255, 102]]], dtype=np.uint8)  # (1, 2, 2)
    p = data.prepare(x)
    assert p.dtype == np.float32 and p.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(p[0, :, :, 0], [[0.0, 0.2], [1.0, 0.4]], rtol=1e-6)
    oh = data.one_hot(np.array([2, 0]), 3)
    np.testing.assert_array_equal(oh, [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(data.sparse(oh), [2, 0])
    with pytest.raises(DataError, match=r"0\.\.2"):
        data.one_hot(np.array([3]), 3)
    with pytest.raises(DataError, match="shape"):
        data.prepare(np.zeros((2, 3), np.uint8))


def test_train_val_split_seeded_and_disjoint():
    x = np.arange(20).reshape(20, 1)
    y = np.arange(20)
    a = data.train_val_split(x, y, 0.25, seed=3)
    b = data.train_val_split(x, y, 0.25, seed=3)
    c = data.train_val_split(x, y, 0.25, seed=4)
    assert len(a[2]) == 5 and len(a[0]) == 15
    np.testing.assert_array_equal(a[2], b[2])
    assert not np.array_equal(a[2], c[2])
    assert sorted(np.concatenate([a[1], a[3]]).tolist()) == list(range(20))
    np.testing.assert_array_equal(a[0][:, 0], a[1])  # x and y stay paired
    with pytest.raises(DataError, match=r"1\.5"):
        data.train_val_split(x, y, 1.5, 0)


def test_class_counts_histogram_subset():
    np.testing.assert_array_equal(data.class_counts(np.array([0, 2, 2]), 4), [1, 0, 2, 0])
    counts, edges = data.pixel_histogram(np.array([0, 0, 7, 8, 255], np.uint8), bins=32)
    assert counts[0] == 3 and counts[1] == 1 and counts[-1] == 1 and counts.sum() == 5
    assert edges[0] == 0 and edges[-1] == 256
    ds = data.subset(data.load_mnist_sample(), 100, 20, seed=0)
    assert len(ds.x_train) == 100 and len(ds.y_test) == 20
