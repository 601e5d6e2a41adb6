"""cnnviz.models: zoo parameter counts, custom builder, summary table, save/load."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from cnnviz import models
from cnnviz.models import ModelError

# name -> (input shape, classes, total parameters: the textbooks' own numbers)
COUNTS = {
    "book_mnist": ((28, 28, 1), 10, 607_394),
    "dli_asl": ((28, 28, 1), 24, 264_049),
    "fashion_leaky": ((28, 28, 1), 10, 356_234),
    "fashion_leaky_dropout": ((28, 28, 1), 10, 356_234),
    "cookbook_mlp": ((28, 28, 1), 10, 795_010),
    "cookbook_cnn": ((28, 28, 1), 10, 1_701_110),
    # 32·(9+1) + 64·(9·32+1) + 128·(9·64+1) + 10·(128+1): no Flatten, so no huge Dense
    "global_pool_cnn": ((28, 28, 1), 10, 93_962),
    "cifar_augment": ((32, 32, 3), 10, 309_290),
    "toy_4x4": ((4, 4, 1), 1, 12),
    # Deep Learning with Python (1st ed.), listing 5.6's model.summary(): 3,453,121
    # (listing 5.5's convnet; listing 5.13's dropout has no weights).
    "chollet_small_data": ((150, 150, 3), 1, 3_453_121),
    # 320 + 18,496 + 73,856 + 147,584 (four 3×3 convs) + 147,584 (Dense 128 on 3×3×128)
    # + 258 (two softmax units): counted by hand from the layers.
    "cookbook_50_grey": ((50, 50, 1), 2, 388_098),
}


@pytest.mark.parametrize("name", list(COUNTS))
def test_zoo_parameter_counts_and_summary_agree_with_keras(name):
    shape, k, total = COUNTS[name]
    model = models.build(name, shape, k)
    assert model.count_params() == total
    rows = models.summary(model)
    assert [r["layer"] for r in rows] == [layer.name for layer in model.layers]
    for row, layer in zip(rows, model.layers, strict=True):
        assert row["parameters"] == layer.count_params()
        if row["parameters"]:
            # the explanation's arithmetic, evaluated, equals Keras's count
            lhs, rhs = row["how"].rsplit("=", 1)
            assert int(rhs.replace(",", "")) == layer.count_params()
            nums = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", lhs)]
            if row["type"] == "Conv2D":
                f, kh, kw, cin, one = nums
                assert f * (kh * kw * cin + one) == layer.count_params()
            elif row["type"] == "Dense":
                units, fan_in, one = nums
                assert units * (fan_in + one) == layer.count_params()
            elif row["type"] == "BatchNormalization":
                assert nums[0] * nums[1] == layer.count_params()
        else:
            assert row["how"] == "no weights"
    assert sum(r["parameters"] for r in rows) == total


def test_summary_text_of_cookbook_conv_and_output_shapes():
    rows = {r["layer"]: r for r in models.summary(models.build("cookbook_cnn"))}
    assert rows["conv1"]["how"] == "10 filters × (3×3×1 + 1) = 100"
    assert rows["conv1"]["output shape"] == "26×26×10"
    assert rows["flatten"]["output shape"] == "1690"
    frame = models.summary_frame(models.build("cookbook_cnn"))
    assert frame.iloc[-1]["parameters"] == 1_701_110


def test_summary_of_batchnorm_without_scale():
    inputs = keras.Input((4, 4, 3))
    out = keras.layers.BatchNormalization(scale=False, name="bn")(inputs)
    row = models.summary(keras.Model(inputs, out))[1]
    assert row["parameters"] == 9 and row["how"] == "3 × 3 channels (β, mean, variance) = 9"


def test_custom_builder_from_text():
    blocks = models.parse_blocks(
        """# a small net
        conv filters=8 kernel=3 padding=same activation=leaky_relu
        batchnorm
        pool size=2
        dropout rate=0.1
        conv filters=4 kernel=3 stride=2
        dense units=16 activation=tanh"""
    )
    assert [b["kind"] for b in blocks] == ["conv", "batchnorm", "pool", "dropout", "conv", "dense"]
    model = models.build_custom(blocks, (28, 28, 1), 10)
    names = [layer.name for layer in model.layers]
    assert names[:3] == ["image", "conv1", "leaky1"] and "flatten" in names
    # conv1 8×(9+1)=80, bn 4×8=32, conv2 4×(9×8+1)=292, 14→(14-3)//2+1=6: 6×6×4=144,
    # dense 16×(144+1)=2320, output 10×(16+1)=170
    assert model.count_params() == 80 + 32 + 292 + 2320 + 170
    assert model.get_layer("conv2").output.shape[1:] == (6, 6, 4)
    assert isinstance(model.get_layer("leaky1"), keras.layers.LeakyReLU)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("cnv filters=3", "unknown block 'cnv'"),
        ("conv filters=x", "filters='x' is not a number"),
        ("conv size=3", "'size=3' is not a conv setting"),
        ("", "empty"),
    ],
)
def test_parse_blocks_errors(text, match):
    with pytest.raises(ModelError, match=match):
        models.parse_blocks(text)


@pytest.mark.parametrize(
    ("blocks", "match"),
    [
        ([{"kind": "conv", "filters": 0, "kernel": 3}], "filters must be >= 1, got 0"),
        ([{"kind": "conv", "filters": 2, "kernel": 3, "activation": "swish"}], "'swish'"),
        ([{"kind": "dropout", "rate": 1.5}], r"rate must be in \[0, 1\), got 1.5"),
        (
            [{"kind": "conv", "filters": 2, "kernel": 40, "stride": 1, "padding": "valid"}],
            r"^block 1 \(conv\): the image is only 28×28 there, smaller than its 40×40 window "
            "— use a smaller kernel or padding=same.$",
        ),
        (
            [
                {"kind": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": "valid"},
                {"kind": "pool", "size": 40, "stride": 0, "padding": "valid", "mode": "max"},
            ],
            r"^block 2 \(pool\): the image is only 26×26 there, smaller than its 40×40",
        ),
        ([{"kind": "batchnorm", "momentum": 1.0}], r"momentum must be in \[0, 1\), got 1.0"),
        (
            [
                {"kind": "dense", "units": 4},
                {"kind": "pool", "size": 2, "stride": 0, "padding": "valid", "mode": "max"},
            ],
            "cannot follow a dense block",
        ),
    ],
)
def test_build_custom_errors(blocks, match):
    with pytest.raises(ModelError, match=match):
        models.build_custom(blocks, (28, 28, 1), 10)


def test_atomic_save_failure_leaves_no_file(tmp_path, monkeypatch):
    model = models.build("toy_4x4", num_classes=1)
    target = tmp_path / "m.keras"

    def broken_save(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PK half a file")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        models.save(model, target, {"model": "toy_4x4"})
    assert list(tmp_path.iterdir()) == []


def test_save_load_roundtrip_with_card(tmp_path):
    model = models.build("toy_4x4", num_classes=1)
    path = models.save(model, tmp_path / "toy.keras", {"model": "toy_4x4"})
    assert models.read_card(path)["model"] == "toy_4x4"
    again = models.load(path, expected_input_shape=(4, 4, 1))
    x = np.random.default_rng(0).random((3, 4, 4, 1)).astype("float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ModelError, match="expects input"):
        models.load(path, expected_input_shape=(28, 28, 1))
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a Keras 3 model"):
        models.load(tmp_path / "bad.keras")


def test_load_converts_a_sequential_model_to_functional(tmp_path):
    seq = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = models.save(seq, tmp_path / "seq.keras")
    loaded = models.load(path, expected_input_shape=(28, 28, 1))
    assert not isinstance(loaded, keras.Sequential)
    assert [layer.name for layer in loaded.layers][1:] == [layer.name for layer in seq.layers]
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), seq.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ModelError, match=r"expects input \(28, 28, 1\), but the data is"):
        models.load(path, expected_input_shape=(32, 32, 3))


def test_custom_batchnorm_momentum_defaults_to_short_run_value():
    model = models.build_custom(
        models.parse_blocks("conv filters=2\nbatchnorm\nbatchnorm momentum=0.99")
    )
    assert model.get_layer("bn1").momentum == models.BN_MOMENTUM == 0.9
    assert model.get_layer("bn2").momentum == 0.99
    assert "batchnorm momentum=0.9" in models.EXAMPLE_SPEC  # the default spec shows the option
    for name, shape, classes in (("dli_asl", (28, 28, 1), 24), ("cifar_augment", (32, 32, 3), 10)):
        bns = [la for la in models.build(name, shape, classes).layers if "bn" in la.name]
        assert bns and {la.momentum for la in bns} == {0.9}


def test_shrinking_errors_are_one_plain_sentence():
    for spec in ("pool size=2\n" * 5, "conv kernel=3 stride=30\nconv kernel=3"):
        with pytest.raises(ModelError) as exc:
            models.build_custom(models.parse_blocks(spec))
        text = str(exc.value)
        assert "Exception encountered" not in text and "\n" not in text
        assert text.endswith("or padding=same.")


def test_small_data_convnets_take_their_own_image_sizes():
    entry = models.ZOO["chollet_small_data"]
    chollet = models.build("chollet_small_data", num_classes=entry.default_classes)
    assert chollet.input_shape == (None, 150, 150, 3)
    assert chollet.get_layer("pool4").output.shape[1:] == (7, 7, 128)  # 148→74→36→17→7
    assert chollet.output_shape == (None, 1)  # cats vs dogs: one sigmoid unit, as the book
    grey = models.build("cookbook_50_grey", num_classes=2)
    assert grey.input_shape == (None, 50, 50, 1) and grey.output_shape == (None, 2)
    assert grey.get_layer("flatten").output.shape[1:] == (3 * 3 * 128,)
    assert models.ZOO["chollet_small_data"].default_classes == 1


# --------------------------------------------------------------- the bundled models' data


def test_bundled_models_are_listed_by_the_dataset_their_card_names():
    everything = models.bundled_names()
    digits = models.bundled_names("mnist-sample")
    clothes = models.bundled_names("fashion_mnist")
    assert clothes == ["fashion_dropout", "fashion_plain"]
    assert models.DEFAULT_BUNDLED in digits and "book_mnist" in digits
    assert sorted(digits + clothes) == everything  # every model is one or the other
    assert models.bundled_names("cifar10") == []
    for name in everything:  # the older cards have no "dataset": they learned mnist-sample
        card = models.read_card(models.bundled(name))
        assert models.bundled_dataset(name) == card.get("dataset", "mnist-sample")
    assert models.bundled_class_names("fashion_plain")[7] == "Sneaker"
    assert models.bundled_class_names("book_mnist") == tuple("0123456789")


def test_the_second_opinion_is_a_model_of_the_same_data():
    assert models.second_opinion("fashion_plain") == "fashion_dropout"
    assert models.second_opinion("fashion_dropout") == "fashion_plain"
    assert models.second_opinion(models.DEFAULT_BUNDLED) == "book_mnist"
    for name in models.bundled_names():
        other = models.second_opinion(name)
        assert other != name and models.bundled_dataset(other) == models.bundled_dataset(name)


def test_the_fashion_pair_reads_each_others_class_dreams():
    """Filters' second opinion for a Fashion-MNIST model is the other one, never a digit
    model: with maximize's defaults fashion_plain's ten dreams are read as their class by
    itself and by fashion_dropout (measured: 10 of 10 each)."""
    from cnnviz import explain

    plain = models.load(models.bundled("fashion_plain"))
    other = models.load(models.bundled(models.second_opinion("fashion_plain")))
    images = np.stack([d.image for d in explain.maximize(plain, list(range(10)))])
    assert (plain.predict(images, verbose=0).argmax(axis=1) == np.arange(10)).sum() >= 9
    assert (other.predict(images, verbose=0).argmax(axis=1) == np.arange(10)).sum() >= 9
