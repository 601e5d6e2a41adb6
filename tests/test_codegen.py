"""The code behind each view runs on its own and prints the numbers the page shows.

Every generated program is executed in a fresh Python subprocess (cwd a temporary folder,
no cnnviz import in the program) and its last line of JSON is compared with cnnviz's own
computation for the same settings: exactly for the arithmetic, the same parameter count
and layer shapes for models, the same first-epoch loss for a short training run. AppTests
check that each page's expander shows the code for its current settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import codegen, conv, data, evaluation, models, pooling, runs, training, trainjob

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
ENV = {
    **os.environ,
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
    "CUDA_VISIBLE_DEVICES": "",
    "PYTHONPATH": "",  # the programs must not need cnnviz
}
# Runs several programs one after another in one interpreter, each in its own namespace
# (runpy), and prints each one's last line: one TensorFlow start-up for all of them.
DRIVER = """
import contextlib, io, runpy, sys
for path in sys.argv[1:]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        runpy.run_path(path, run_name="__main__")
    print(buf.getvalue().strip().splitlines()[-1], flush=True)
"""


def _start(folder: Path, programs: list[str]) -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, text in enumerate(programs):
        assert "cnnviz" not in "\n".join(
            ln for ln in text.splitlines() if ln.startswith(("import", "from"))
        )
        path = folder / f"program_{i}.py"
        path.write_text(text)
        paths.append(str(path))
    (folder / "driver.py").write_text(DRIVER)
    return subprocess.Popen(
        [sys.executable, "driver.py", *paths],
        cwd=folder,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _results(proc: subprocess.Popen, n: int, timeout: float = 240) -> list[dict]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]
    return [json.loads(line) for line in out.strip().splitlines()[-n:]]


# ----------------------------------------------------------------------------- arithmetic
PRESET = list(conv.PRESETS.values())
CONV_CASES = [  # x, kernel, bias, relu, stride, padding, dilation
    (*PRESET[0], 1.0, True, 1, "same", 1),  # textbook, bias and ReLU
    (*PRESET[1], 0.0, False, 2, 1, 1),  # explicit padding: ZeroPadding2D + valid
    (*conv.stride_example(7, 3), 0.0, False, 2, 2, 2),  # Keras refuses stride 2 + dilation 2
    (*PRESET[2], -5.0, True, 1, "same", 2),  # dilation with 'same'
    (*conv.stride_example(6, 4), 0.0, False, 3, "valid", 1),
    (*conv.RGB_EXAMPLE, 0.0, False, 1, "valid", 1),  # three channels
]
POOL = pooling.PRESETS
POOL_CASES = [  # matrix, size, stride, padding, mode
    ("Textbook 4×4", 2, 2, "valid", "max"),
    ("5×5 (odd: try 'same' padding)", 3, 2, "same", "avg"),
    ("Random 6×6", 3, 1, "same", "sum"),
    ("5×5 (odd: try 'same' padding)", 2, 2, "same", "max"),
]
IMAGE = ROOT / "assets" / "samples" / "digit_7_0.png"
IMAGE_CASE = (conv.KERNELS["sobel x"], True, "valid")
BUNDLED = "handwriting_cnn"


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    """Every arithmetic, image, data and evaluation program, run in one subprocess."""
    programs = [codegen.conv_code(*case) for case in CONV_CASES]
    programs += [codegen.pool_code(POOL[m], *rest) for m, *rest in POOL_CASES]
    programs.append(codegen.conv_image_code(IMAGE, *IMAGE_CASE))
    programs.append(codegen.data_code("mnist-sample", 3))
    programs.append(codegen.evaluate_code(models.bundled(BUNDLED), "mnist-sample"))
    proc = _start(tmp_path_factory.mktemp("views"), programs)
    out = _results(proc, len(programs))
    n, m = len(CONV_CASES), len(POOL_CASES)
    return {
        "conv": out[:n],
        "pool": out[n : n + m],
        "image": out[n + m],
        "data": out[n + m + 1],
        "eval": out[n + m + 2],
    }


def test_convolution_programs_print_the_pages_output_exactly(views):
    for case, got in zip(CONV_CASES, views["conv"], strict=True):
        x, k, bias, relu, stride, padding, dilation = case
        trace = conv.conv_trace(x, k, bias, stride, padding, dilation, relu)
        np.testing.assert_array_equal(got["output"], trace["output"])  # numpy: exact
        assert got["output_shape"] == trace["output_shape"]
        if conv.keras_refusal(stride, dilation) is None:  # Keras in float64 agrees
            np.testing.assert_allclose(got["keras"], trace["output"], rtol=0, atol=1e-12)
        else:
            assert got["keras"] is None


def test_refused_settings_say_why_in_the_code():
    code = codegen.conv_code(*CONV_CASES[2])
    assert "Keras refuses a stride above 1 together with a dilation above 1" in code
    assert "keras_out = None" in code
    assert "ZeroPadding2D(1)" in codegen.conv_code(*CONV_CASES[1])  # explicit p in Keras
    assert "pads = ((0, 1), (0, 1))" in codegen.conv_code(*CONV_CASES[0])  # TF's 'same'


def test_pooling_programs_print_the_pages_output_exactly(views):
    for (m, size, stride, padding, mode), got in zip(POOL_CASES, views["pool"], strict=True):
        want = pooling.pool2d(POOL[m], size, stride, padding, mode)
        trace = pooling.pool_trace(POOL[m], size, stride, padding, mode)
        np.testing.assert_array_equal(got["output"], want)
        np.testing.assert_array_equal(got["output"], trace["output"])
        np.testing.assert_allclose(got["keras"], want, rtol=0, atol=1e-12)
    assert "Keras has no sum pooling" in codegen.pool_code(POOL["Random 6×6"], 3, 1, "same", "sum")


def test_image_program_gives_the_feature_map_the_page_draws(views):
    kernel, relu, padding = IMAGE_CASE
    fmap = conv.conv2d(conv.read_image(IMAGE.read_bytes()), kernel, padding=padding)
    fmap = conv.relu(fmap) if relu else fmap
    got = views["image"]
    assert got["shape"] == list(fmap.shape) == [26, 26]
    assert got["min"] == pytest.approx(fmap.min(), abs=1e-9)
    assert got["max"] == pytest.approx(fmap.max(), abs=1e-9)
    assert got["sum"] == pytest.approx(fmap.sum(), abs=1e-9)
    assert fmap[tuple(got["argmax"])] == pytest.approx(fmap.max(), abs=1e-9)


def test_data_program_counts_samples_and_histogram_as_the_page(views):
    ds = data.load("mnist-sample")
    got = views["data"]
    assert got["x_train"] == list(ds.x_train.shape) and got["x_test"] == list(ds.x_test.shape)
    assert got["dtype"] == "uint8"
    assert got["counts"] == data.class_counts(ds.y_train, ds.num_classes).tolist()
    idx = data.sample_indices(len(ds.x_train), 18, 3)
    assert got["samples"] == idx.tolist()
    assert got["sample_labels"] == ds.y_train[idx].tolist()
    assert got["histogram"] == data.pixel_histogram(ds.x_train)[0].tolist()


def test_evaluate_program_scores_the_bundled_model_as_the_page(views):
    ds = data.load("mnist-sample")
    ev = evaluation.evaluate(
        models.load(models.bundled(BUNDLED)), data.prepare(ds.x_test), ds.y_test
    )
    got = views["eval"]
    assert got["test_images"] == len(ds.y_test)
    assert got["test_accuracy"] == ev.accuracy
    assert got["test_loss"] == pytest.approx(ev.loss, abs=1e-5)
    assert got["confusion"] == ev.confusion.tolist()


def test_bad_settings_raise_the_page_errors():
    with pytest.raises(conv.ConvError):
        codegen.conv_code(np.ones((2, 2)), np.ones((3, 3)))  # no window fits
    with pytest.raises(pooling.PoolError):
        codegen.pool_code(np.ones((2, 2)), 3, 1, "valid", "max")
    inputs = keras.Input((8, 1))
    odd = keras.Model(inputs, keras.layers.Conv1D(2, 3)(inputs))
    with pytest.raises(codegen.CodegenError, match="Conv1D"):
        codegen.model_lines(odd)


# ----------------------------------------------------------------------------- models
CUSTOM = """conv filters=6 kernel=5 stride=2 padding=valid activation=tanh
pool size=3 stride=1 padding=same mode=avg
batchnorm momentum=0.8
dropout rate=0.1
dense units=16 activation=leaky_relu
dense units=8 activation=sigmoid"""


@pytest.mark.parametrize("name", [*models.ZOO, "custom", "example"])
def test_model_code_rebuilds_every_layer(name):
    if name in models.ZOO:
        model = models.build(name)
    else:
        spec = CUSTOM if name == "custom" else models.EXAMPLE_SPEC
        model = models.build_custom(models.parse_blocks(spec), (28, 28, 1), 10)
    namespace = {"keras": keras, "layers": keras.layers}
    exec("\n".join(codegen.model_lines(model)), namespace)
    rebuilt = namespace["model"]
    assert rebuilt.count_params() == model.count_params()
    assert rebuilt.name == model.name
    assert [type(a) for a in rebuilt.layers] == [type(b) for b in model.layers]
    for a, b in zip(rebuilt.layers, model.layers, strict=True):
        assert a.get_config() == b.get_config(), a.name
        assert tuple(a.output.shape) == tuple(b.output.shape)


# ----------------------------------------------------------------------------- training
def _reference(model_name: str, blocks: str, config: training.TrainConfig, subset: int):
    """cnnviz's own run (as cnnviz.trainjob.run trains it) and its model."""
    ds = data.subset(data.load("mnist-sample"), subset, None, seed=config.seed)
    model = trainjob.build_model(ds, model_name, blocks, config.seed)
    result = training.train(model, data.prepare(ds.x_train), ds.y_train, config)
    return result, model, ds


def _summary(model) -> tuple[int, list]:
    return model.count_params(), [[ly.name, list(ly.output.shape[1:])] for ly in model.layers]


def test_training_programs_start_from_the_same_run(tmp_path):
    shifts = training.AUGMENTATION_PRESETS["small digit shifts"]
    zoo = training.TrainConfig(
        epochs=1, batch_size=32, optimizer="sgd", learning_rate=0.03, augmentation=shifts,
        early_stopping_patience=2, seed=3, refresh_batchnorm=False,
    )  # fmt: skip
    custom = training.TrainConfig(epochs=1, batch_size=64, seed=1, refresh_batchnorm=False)
    record = runs.RunRecord(
        id="x", number=7, model_name="custom", dataset="mnist-sample",
        class_names=list(data.DIGITS), config=__import__("dataclasses").asdict(custom),
        status="done", message="", history={}, subset=240, blocks=models.EXAMPLE_SPEC,
    )  # fmt: skip
    # two subprocesses in parallel (each needs a fresh TensorFlow for the same seeds)
    zoo_code = codegen.train_code("mnist-sample", "book_mnist", "", zoo, (28, 28, 1), 10, 200)
    run_code = codegen.run_code(record, (28, 28, 1), 10)
    procs = [_start(tmp_path / "zoo", [zoo_code]), _start(tmp_path / "run", [run_code])]
    ref_zoo, model_zoo, _ = _reference("book_mnist", "", zoo, 200)
    ref_run, model_run, ds = _reference("custom", models.EXAMPLE_SPEC, custom, 240)
    got_zoo, got_run = (_results(p, 1)[0] for p in procs)

    for got, ref, model, config in (
        (got_zoo, ref_zoo, model_zoo, zoo),
        (got_run, ref_run, model_run, custom),
    ):
        assert (got["parameters"], got["layers"]) == _summary(model)
        assert got["optimizer"] == config.optimizer
        assert got["learning_rate"] == config.learning_rate
        assert got["batch_size"] == config.batch_size and got["epochs"] == config.epochs
        assert got["loss"] == "sparse_categorical_crossentropy"
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):  # same seed, same run
            np.testing.assert_allclose(got["history"][key], ref.history[key], rtol=1e-4)
    assert "RandomTranslation(0.1, 0.1, seed=SEED + 1" in zoo_code
    assert "EarlyStopping(" in zoo_code and "keras.optimizers.SGD(" in zoo_code
    ev = evaluation.evaluate(model_run, data.prepare(ds.x_test), ds.y_test)
    assert got_run["test_accuracy"] == pytest.approx(ev.accuracy, abs=2 / len(ds.y_test))
    assert got_run["test_loss"] == pytest.approx(ev.loss, rel=1e-3)


# ----------------------------------------------------------------------------- pages
def _page(page: str) -> AppTest:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _code(at: AppTest) -> str:
    assert "The code behind this view" in [e.label for e in at.expander]
    (code,) = [c.value for c in at.code if c.language == "python"]
    return code.rstrip("\n") + "\n"  # st.code drops the final newline


def test_arithmetic_pages_show_the_code_of_their_settings():
    at = _page("app_pages/convolution.py")
    x, k = PRESET[0]
    assert _code(at) == codegen.conv_code(x, k)
    at.radio(key="conv_stride").set_value(2)
    at.radio(key="conv_padding").set_value("same").run()
    code = _code(at)
    assert code == codegen.conv_code(x, k, 0.0, False, 2, "same", 1)
    assert "bias, stride, dilation = 0, 2, 1" in code

    at = _page("app_pages/stride_padding.py")
    at.slider(key="sp_stride").set_value(3).run()
    assert "bias, stride, dilation = 0, 3, 1" in _code(at)

    at = _page("app_pages/pooling.py")
    at.radio(key="pool_mode").set_value("sum").run()
    code = _code(at)
    assert code == codegen.pool_code(POOL["Textbook 4×4"], 2, 2, "valid", "sum")


def test_data_and_evaluate_pages_show_their_code():
    at = _page("app_pages/data.py")
    at.number_input(key="data_seed").set_value(5).run()
    assert _code(at) == codegen.data_code("mnist-sample", 5)
    at = _page("app_pages/evaluate.py")
    code = _code(at)
    assert "keras.saving.load_model(MODEL" in code
    assert str(models.bundled(models.DEFAULT_BUNDLED)) in code


def test_train_page_shows_the_code_of_its_settings():
    at = _page("app_pages/train.py")
    assert 'name="book_mnist")' in _code(at)  # the first zoo model, as the box shows
    at.selectbox(key="train_optimizer").set_value("sgd")
    at.select_slider(key="train_lr").set_value(0.01)
    at.number_input(key="train_seed").set_value(7).run()
    code = _code(at)
    assert "keras.optimizers.SGD(learning_rate=LEARNING_RATE)" in code
    assert "LEARNING_RATE = 0.01" in code and "SEED = 7" in code
    want = codegen.train_code(
        "mnist-sample", "book_mnist", "",
        training.TrainConfig(epochs=3, batch_size=128, optimizer="sgd", learning_rate=0.01, seed=7),
        (28, 28, 1), 10,
    )  # fmt: skip
    assert code == want
