"""The code behind the Inside-the-model and Experiments pages runs and gives the page's numbers.

Every program :mod:`cnnviz.codegen_inside` writes is executed in a fresh Python (no
``cnnviz`` on its path, a temporary working folder) and its printed JSON is compared with
what ``cnnviz`` computes for the same settings: the same probabilities (≤ 1e-5) on
Predict, the same layer shapes and map values on Activations, the same heatmaps (≤ 1e-4 of
their maximum) on Heatmaps, the same kernels, the same unit value on Network, the same
moved image and probabilities in the Translation lab, the same forward pass and training
losses for the toy CNN, the same model, split and first-epoch losses in the Overfitting
lab, the same model and trainable layers for Transfer learning, the same nearest-neighbour
accuracies and PCA shares (t-SNE: to one image) on Where the classes live. The programs all
start at once (one subprocess each) and run while the page tests below run. Then an AppTest
per page: the expander "The code behind this view" is there and follows the page's settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import codegen_inside as cg
from cnnviz import data, explain, imaging, models, network, overfitting, scratch, transfer

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
HW = "handwriting_cnn"
CAMS = ["gradcam", "gradcam++", "scorecam", "layercam", "saliency"]
LAB = {"MLP": "cookbook_mlp", "Book CNN": "cookbook_cnn"}


def _image() -> np.ndarray:
    """The default image of the inside pages: the first bundled 3, MNIST preprocessing."""
    return imaging.prepare_image(imaging.load_sample(3, 0), (28, 28, 1), "mnist").array


def _programs() -> dict[str, str]:
    x, path = _image(), cg.bundled_path(HW)
    model = models.load(path)
    return {
        "predict": cg.predict_code(path, x, data.DIGITS, image_label="digit 3", top_k=3),
        "activations": cg.activations_code(path, x, layer="conv2", index=3),
        "heatmaps": cg.heatmaps_code(
            path, x, CAMS, 8, "conv3", explain.cam_maps_layer(model, "conv3")
        ),
        "filters": cg.filters_code(path, "conv2", targets=[3, 7], steps=5, seed=2),
        "filter_dreams": cg.filters_code(
            path, "conv1", targets=[0, 5], dream_layer="conv2", steps=3, tv_weight=0.3
        ),
        "unit_conv": cg.network_code(path, x, "conv2", "Conv2D", (0, 0, 5)),
        "unit_dense": cg.network_code(path, x, "output", "Dense", (3,)),
        "translation": cg.translation_code(
            {k: cg.bundled_path(v) for k, v in LAB.items()}, False, 5, -3, 2
        ),
        "overfitting": cg.overfitting_code("dropout", 20, 20, 1, 0),
        "scratch": cg.scratch_code(3, 50, 1, trained=True),
        "transfer": cg.transfer_code(5, 0, 1, 1, 2),
        "embedding": cg.embedding_code(
            path,
            "mnist-sample",
            "leaky4",
            "pca",
            1000,
            mlp_path=cg.bundled_path("cookbook_mlp"),
            mlp_layer="dense1",
        ),
        "embedding_tsne": cg.embedding_code(
            cg.bundled_path("book_mnist"), "mnist-sample", "pool1", "tsne", 1000
        ),
    }


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """Every program started at once in its own Python; ``wait(name)`` gives its JSON."""
    folder = tmp_path_factory.mktemp("codegen")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    codes = _programs()
    procs = {}
    for name, code in codes.items():
        (folder / f"{name}.py").write_text(code)
        procs[name] = subprocess.Popen(
            [sys.executable, f"{name}.py"], cwd=folder, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def wait(name: str) -> dict:
        out, err = procs[name].communicate(timeout=300)
        assert procs[name].returncode == 0, err[-3000:]
        return cg.as_json_line(out)

    yield codes, wait
    for p in procs.values():
        if p.poll() is None:
            p.kill()


def test_programs_start_and_need_no_cnnviz(launched):
    codes, _ = launched
    for name, code in codes.items():
        assert "import cnnviz" not in code and "from cnnviz" not in code, name
        compile(code, f"{name}.py", "exec")  # valid Python, whatever the settings
        assert code.rstrip().splitlines()[-1].endswith(")"), name


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[0.1, 1 / 3], [0, 1e-30]], np.float32)[..., None],
        np.random.default_rng(0).random((28, 28, 1), np.float32),
        np.random.default_rng(1).normal(size=(32, 32, 3)).astype(np.float32),  # base64
    ],
)
def test_an_image_is_written_into_the_code_bit_for_bit(arr):
    scope: dict = {}
    exec("import base64\nimport numpy as np\n" + cg.array_literal("x", arr, "x"), scope)
    assert scope["x"].dtype == np.float32 and scope["x"].shape == arr.shape
    assert np.array_equal(scope["x"].view(np.uint32), arr.view(np.uint32))


def test_a_learners_upload_asks_for_its_model_file():
    code = cg.predict_code(None, _image(), data.DIGITS)
    assert 'MODEL_PATH = "model.keras"' in code and 'model.save("model.keras")' in code
    assert cg.model_file(None, {"run": "r7"}, lambda r: f"/runs/{r}/model.keras") == (
        "/runs/r7/model.keras"
    )
    assert cg.model_file("book_mnist").endswith("assets/models/book_mnist.keras")


def test_a_one_unit_model_scores_its_logit_and_refuses_unknown_methods():
    code = cg.heatmaps_code("m.keras", _image(), ["gradcam"], 1, "c", "c", n_outputs=1)
    assert "CategoricalScore" not in code and "out[:, 0]" in code
    with pytest.raises(ValueError, match="method must be one of"):
        cg.heatmaps_code("m.keras", _image(), ["nope"], None, "c", "c")


# ------------------------------------------------------------------ the pages' panels


def _open(page: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _code(at: AppTest) -> str:
    """The code in the page's expander "The code behind this view"."""
    assert any(e.label == "The code behind this view" for e in at.expander)
    (panel,) = [e for e in at.expander if e.label == "The code behind this view"]
    (block,) = panel.code
    return block.value


def test_predict_panel_follows_the_top_k_and_sample():
    at = _open("app_pages/predict.py")
    code = _code(at)
    assert "handwriting_cnn.keras" in code and "TOP_K = 5" in code and "digit 3 (#1)" in code
    at.slider(key="predict_top_k").set_value(3)
    at.selectbox(key="predict_digit").set_value(7).run()
    code = _code(at)
    assert "TOP_K = 3" in code and "digit 7 (#1)" in code


def test_activations_and_filters_panels_follow_the_chosen_layer():
    at = _open("app_pages/activations.py")
    assert "LAYER, MAP = 'conv1', 0" in _code(at)
    at.selectbox(key="act_zoom_layer").set_value("conv2")
    at.number_input(key="act_zoom_map").set_value(4).run()
    assert "LAYER, MAP = 'conv2', 4" in _code(at)
    at.switch_page("app_pages/filters.py").run()
    assert "LAYER = 'conv1'" in _code(at)
    assert "TARGETS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in _code(at)
    at.selectbox(key="filt_kernel_layer").set_value("conv3")
    at.slider(key="filt_steps").set_value(30).run()
    code = _code(at)
    assert "LAYER = 'conv3'" in code and "STEPS, TV, NORM, SEED = 30, 0.5, 0.5, 0" in code


def test_heatmaps_panel_follows_methods_class_and_layer():
    at = _open("app_pages/heatmaps.py")
    code = _code(at)
    assert "CLASS = best" in code and "LAYER = 'leaky3'" in code  # conv3's activated maps
    at.multiselect(key="heat_methods").set_value(["gradcam", "saliency"])
    at.selectbox(key="heat_class").set_value(7)
    at.selectbox(key="heat_layer").set_value("conv2").run()
    code = _code(at)
    assert "METHODS = ['gradcam', 'saliency']" in code and "CLASS = 7" in code
    assert "LAYER = 'leaky2'" in code and "Gradcam(linear)" in code and "Scorecam" not in code


def test_network_panel_names_the_unit_shown():
    at = _open("app_pages/network.py")
    layer = at.selectbox(key="net_layer").value
    assert f"LAYER = {layer!r}" in _code(at)
    at.number_input(key="net_row").set_value(2).run()
    assert "ROW, COL, MAP = 2," in _code(at) or "INDEX =" in _code(at)


def test_embedding_panel_follows_layer_method_and_images():
    at = _open("app_pages/embedding.py")
    code = _code(at)
    assert "LAYER = 'leaky4'" in code and "METHOD = 'pca'" in code
    assert "N_IMAGES, SEED, K = 1000, 0, 5" in code and "cookbook_mlp.keras" in code
    at.selectbox(key="emb_layer").set_value("pool2")
    at.slider(key="emb_n").set_value(1250).run()
    code = _code(at)
    assert "LAYER = 'pool2'" in code and "N_IMAGES, SEED, K = 1250, 0, 5" in code


def test_experiment_panels_follow_their_settings():
    at = _open("app_pages/translation.py")
    assert "DX, DY = 2, 0" in _code(at)
    at.slider(key="tr_dx").set_value(-3).run()
    assert "DX, DY = -3, 0" in _code(at)
    at.switch_page("app_pages/overfitting.py").run()
    assert "N_TRAIN, N_VAL, EPOCHS, SEED = 300, 300, 10, 0" in _code(at)
    at.number_input(key="of_seed").set_value(5).run()
    assert "EPOCHS, SEED = 300, 300, 10, 5" in _code(at)
    at.switch_page("app_pages/scratch.py").run()
    assert "SEED, EPOCHS, INPUT = 0, 300, 0" in _code(at) and "not trained" in _code(at)
    at.number_input(key="sc_seed").set_value(4).run()
    assert "SEED, EPOCHS, INPUT = 4, 300, 0" in _code(at)
    at.switch_page("app_pages/transfer.py").run()
    assert "TOP_BLOCKS = ['conv3', 'leaky3', 'pool3']" in _code(at)
    at.number_input(key="tl_blocks").set_value(2).run()
    assert "TOP_BLOCKS = ['conv2', 'leaky2', 'pool2', 'conv3'" in _code(at)


# ------------------------------------------------------------ the programs' numbers


def test_predict_program_gives_the_pages_probabilities(launched):
    out = launched[1]("predict")
    probs = explain.predict_proba(models.load(models.bundled(HW)), _image())
    assert out["index"] == int(np.argmax(probs)) == 3 and out["prediction"] == "3"
    np.testing.assert_allclose(out["probabilities"], probs, atol=1e-5)


def test_activations_program_gives_every_layers_shape_and_the_close_up(launched):
    out = launched[1]("activations")
    acts = explain.activations(models.load(models.bundled(HW)), _image())
    assert out["shapes"] == {k: list(v.shape) for k, v in acts.items()}
    np.testing.assert_allclose(out["close_up"], acts["conv2"][..., 3], atol=1e-5)
    assert out["prediction"] == 3


def test_heatmaps_program_gives_the_pages_maps(launched):
    out = launched[1]("heatmaps")
    model = models.load(models.bundled(HW))
    assert out["class"] == 8
    for method in CAMS:
        page = explain.evidence(model, _image(), method, "conv3")[8]  # what the page draws
        got = np.array(out["maps"][method]["map"])
        np.testing.assert_allclose(got, page, atol=1e-4 * max(page.max(), 1e-12), err_msg=method)
        assert out["maps"][method]["argmax"] == list(np.unravel_index(page.argmax(), page.shape))


def test_filters_program_gives_the_kernels_and_the_class_dreams(launched):
    out = launched[1]("filters")
    model = models.load(models.bundled(HW))
    kernels = explain.kernels(model, "conv2")
    assert out["shape"] == list(kernels.shape)
    np.testing.assert_array_equal(np.array(out["kernels"], np.float32), kernels)
    dreams = explain.maximize(model, [3, 7], None, steps=5, seed=2)
    np.testing.assert_allclose(out["dreams"], [d.image for d in dreams], atol=1e-5)
    np.testing.assert_allclose(out["scores"], [d.scores for d in dreams], rtol=1e-4)
    assert out["box"] is None


def test_filters_program_dreams_filters_in_their_receptive_field(launched):
    out = launched[1]("filter_dreams")
    model = models.load(models.bundled(HW))
    dreams = explain.maximize(model, [0, 5], "conv2", steps=3, tv_weight=0.3)
    assert tuple(out["box"]) == dreams[0].box
    np.testing.assert_allclose(out["dreams"], [d.image for d in dreams], atol=1e-5)
    np.testing.assert_allclose(out["scores"], [d.scores for d in dreams], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("name", "layer", "unit"), [("unit_conv", "conv2", (0, 0, 5)),
                                                     ("unit_dense", "output", (3,))])  # fmt: skip
def test_network_program_computes_the_unit_in_numpy(launched, name, layer, unit):
    out = launched[1](name)
    net = network.run(models.load(models.bundled(HW)), _image())
    assert out["layer"] == layer and out["unit"] == list(unit)
    assert out["value"] == pytest.approx(net.value(layer, unit), abs=1e-5)
    assert out["keras"] == pytest.approx(net.value(layer, unit), abs=1e-6)


def test_translation_program_moves_the_digit_and_asks_the_models(launched):
    from cnnviz import translation

    out = launched[1]("translation")
    ds = data.load_mnist_sample()
    img = data.prepare(ds.x_test[5:6])[0]
    lab = {k: models.load(models.bundled(v)) for k, v in LAB.items()}
    _, probs = translation.verdicts(lab, img, int(ds.y_test[5]), -3, 2)
    assert out["label"] == int(ds.y_test[5])
    np.testing.assert_array_equal(out["moved"], translation.shift(img, -3, 2)[..., 0])
    np.testing.assert_allclose(list(out["probabilities"].values()), probs, atol=1e-5)


def test_scratch_program_trains_and_recomputes_the_toy_cnn(launched):
    out = launched[1]("scratch")
    model, loss = scratch.train_toy(3, 50)
    trace = scratch.toy_walkthrough(model, 1)
    np.testing.assert_allclose(out["loss"], loss, rtol=1e-5)
    np.testing.assert_allclose(out["kernel"], trace.kernel, atol=1e-6)
    np.testing.assert_allclose(out["conv"], trace.conv, atol=1e-6)
    assert out["by_hand"] == pytest.approx(trace.model_p, abs=1e-6)
    assert out["keras"] == pytest.approx(trace.model_p, abs=1e-6)


def test_overfitting_program_starts_as_the_lab_does(launched):
    out = launched[1]("overfitting")
    spec = overfitting.RUNS["dropout"]
    model = overfitting.build_run_model(spec)
    assert out["params"] == model.count_params()
    assert out["shapes"] == {ly.name: list(ly.output.shape[1:]) for ly in model.layers}
    ref = overfitting.run_all(["dropout"], 20, 20, 1, 0)["dropout"]
    # Same split, seed and compile settings: the same first epoch (CPU, deterministic).
    np.testing.assert_allclose(out["history"]["loss"], ref["loss"], rtol=1e-4)
    np.testing.assert_allclose(out["history"]["val_loss"], ref["val_loss"], rtol=1e-4)


def test_overfitting_l2_and_augmentation_runs_say_so_in_code():
    l2 = cg.overfitting_code("L2", 20, 20, 1, 0)
    assert l2.count("kernel_regularizer=keras.regularizers.L2(0.001)") == 5  # 3 conv, 2 dense
    aug = cg.overfitting_code("augmentation", 20, 20, 1, 0)
    assert "keras.layers.RandomRotation(factor=0.03, fill_mode='constant'" in aug
    assert "RandomZoom(height_factor=0.1" in aug
    with pytest.raises(ValueError, match="run must be one of"):
        cg.overfitting_code("nope", 20, 20, 1, 0)


def test_transfer_program_builds_the_same_model_and_unfreezes_the_same_blocks(launched):
    out = launched[1]("transfer")
    cfg = transfer.digits_config()
    tm = transfer.transfer_model(transfer.split(transfer.load_digits_base()).base, 5, cfg.head)
    assert out["params"] == tm.model.count_params()
    assert out["shapes"] == {ly.name: list(ly.output.shape[1:]) for ly in tm.model.layers}
    assert out["trainable"] == [*transfer.unfreeze_top(tm, 2), "output"]
    assert set(out["history"]) == {"head", "fine_tune"}
    assert len(out["history"]["head"]["loss"]) == 1 and 0 <= out["test_accuracy"] <= 1


def _embedding_matches(out: dict, model, layer: str, method: str, mlp=None) -> None:
    from cnnviz import embedding

    ds = data.load_mnist_sample()
    idx = embedding.pick(len(ds.y_test), 1000)
    x, y = data.prepare(ds.x_test[idx]), ds.y_test[idx]
    nets = {"model": (model, layer), "untrained": (embedding.untrained(model), layer)}
    if mlp is not None:
        nets["mlp"] = (mlp, None)
    assert out["images"] == 1000 and out["method"] == method and set(out["panels"]) == set(nets)
    for name, (net, net_layer) in nets.items():
        page, got = embedding.embed(net, x, y, net_layer, method), out["panels"][name]
        assert got["layer"] == page.layer and got["features"] == page.dims, name
        assert got["mistakes"] == int(np.sum(page.predicted != page.labels)), name
        assert got["knn_features"] == page.knn_features, name
        if method == "pca":
            assert got["knn_plane"] == page.knn_plane, name
            np.testing.assert_allclose(got["explained"], page.projection.explained, rtol=1e-9)
        else:  # t-SNE: the same seeded run; allow one image's vote to differ in 2-D
            assert got["knn_plane"] == pytest.approx(page.knn_plane, abs=1 / 1000), name
            assert got["explained"] is None


def test_embedding_program_gives_the_pages_accuracies_for_every_panel(launched):
    out = launched[1]("embedding")
    model, mlp = models.load(models.bundled(HW)), models.load(models.bundled("cookbook_mlp"))
    _embedding_matches(out, model, "leaky4", "pca", mlp)
    assert out["panels"]["mlp"]["layer"] == "dense1"
    assert out["panels"]["model"]["knn_features"] == 0.992  # the README's 99.2 %


def test_embedding_program_with_t_sne(launched):
    out = launched[1]("embedding_tsne")
    _embedding_matches(out, models.load(models.bundled("book_mnist")), "pool1", "tsne")


def test_embedding_program_trains_an_mlp_when_the_page_did():
    code = cg.embedding_code(None, "fashion_mnist", "dense1", "pca", 1000, train_mlp=True)
    assert 'MODEL_PATH = "model.keras"' in code and "keras.datasets.fashion_mnist" in code
    assert "epochs=2" in code and "batch_size=128" in code and 'panels["mlp"]' in code
    compile(code, "embedding.py", "exec")
    with pytest.raises(ValueError, match="method must be one of"):
        cg.embedding_code(None, "mnist-sample", "dense1", "umap", 1000)
