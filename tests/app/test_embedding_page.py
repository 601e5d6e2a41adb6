"""AppTest: 'Where the classes live' for a bundled model, a learner's runs and a Fashion model.

Every number the page states (nearest-neighbour accuracies, the projection's points, the
explained variance) is checked against a direct computation with :mod:`cnnviz.embedding` on
the same test images; each sentence against the registered claim that writes it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import keras
import numpy as np
import pytest
from plotly_json import arr as _arr
from plotly_json import spec as _spec
from streamlit.testing.v1 import AppTest

from app_pages._shared import ActiveModel
from cnnviz import data, embedding, models, runs

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
PAGE = "app_pages/embedding.py"


def _points(spec: dict) -> dict[int, np.ndarray]:
    """``test-set index -> (x, y)`` of every point drawn in a scatter."""
    out = {}
    for trace in spec["data"]:
        for i, (px, py) in enumerate(zip(_arr(trace["x"]), _arr(trace["y"]), strict=True)):
            if trace.get("customdata"):
                out[int(trace["customdata"][i][0])] = np.array([px, py])
    return out


def _texts(at) -> str:
    parts = [*at.caption, *at.success, *at.info, *at.markdown, *at.error]
    return "\n".join(p.value for p in parts)


def _direct(model, x_uint8, y, method="pca", layer=None):
    idx = embedding.pick(len(y), embedding.DEFAULT_IMAGES)
    return embedding.embed(model, data.prepare(x_uint8[idx]), y[idx], layer, method, index=idx)


def _open_run(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["learner"] = token
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _save_run(model, dataset: str, names, test=None) -> str:
    """Save ``model`` as the learner's run #1, make it the active model; the token."""
    token = runs.new_token()
    store = runs.RunStore(runs.default_root())
    record = runs.RunRecord(
        id="", number=0, model_name="custom", dataset=dataset, class_names=list(names),
        config={}, status="done", message="", history={},
    )  # fmt: skip
    saved = store.save_run(token, record, model, card={"dataset": dataset}, test=test)
    store.set_active(token, {"run": saved.id})
    return token


# ------------------------------------------------------------------------ a bundled model


def test_bundled_model_three_panels_and_both_numbers_on_the_page(open_page):
    at = open_page(PAGE)  # handwriting_cnn, 1,000 of mnist-sample's test digits, PCA
    ds = data.load_mnist_sample()
    cnn = models.load(models.bundled(models.DEFAULT_BUNDLED))
    trained = _direct(cnn, ds.x_test, ds.y_test)
    fresh = _direct(embedding.untrained(cnn), ds.x_test, ds.y_test)
    mlp = _direct(models.load(models.bundled("cookbook_mlp")), ds.x_test, ds.y_test)
    assert at.selectbox(key="emb_layer").value == "leaky4"
    said = embedding.separation_sentence(
        trained.knn_features, fresh.knn_features, 5, 1000, embedding.where(128, "leaky4")
    )
    assert [s.value for s in at.success] == [said]
    assert said.facts["higher"] == "trained"  # the "done when": and both numbers shown
    assert trained.knn_features > fresh.knn_features
    for shown in said.facts["shown"]:
        assert shown in at.success[0].value
    captions = [c.value for c in at.caption]
    for view in (trained, fresh, mlp):
        assert embedding.knn_caption(view.knn_features, view.knn_plane, view.dims, 5, 1000) in (
            captions
        )
    assert embedding.mlp_sentence(trained.knn_features, mlp.knn_features, 5, 1000) in [
        i.value for i in at.info
    ]
    p = trained.projection
    axes = embedding.projection_caption("pca", p.explained, None, None, 128, 0)
    assert any(c.startswith(axes) for c in captions)
    assert "of 1,000 images for 3 panels took" in _texts(at)
    # the drawn points are the projection's, each at its test image's place
    for chart, view in (("emb_fig_model", trained), ("emb_fig_untrained", fresh)):
        drawn = _points(_spec(at, chart))
        assert sorted(drawn) == sorted(int(i) for i in view.index)
        for row, i in enumerate(view.index[:50]):
            np.testing.assert_allclose(drawn[int(i)], view.projection.coords[row], rtol=1e-4)
    assert "of the variance" in _spec(at, "emb_fig_model")["layout"]["xaxis"]["title"]["text"]


def test_another_layer_and_a_click_that_opens_predict(open_page):
    at = open_page(PAGE)
    at.selectbox(key="emb_layer").set_value("pool3").run()
    assert not at.exception
    ds = data.load_mnist_sample()
    cnn = models.load(models.bundled(models.DEFAULT_BUNDLED))
    trained = _direct(cnn, ds.x_test, ds.y_test, layer="pool3")
    fresh = _direct(embedding.untrained(cnn), ds.x_test, ds.y_test, layer="pool3")
    where = embedding.where(4 * 4 * 128, "pool3")
    assert embedding.separation_sentence(
        trained.knn_features, fresh.knn_features, 5, 1000, where
    ) in _texts(at)
    assert "the 2,048 features of pool3" in _texts(at)
    assert not any("MLP trained on the same data" in i.value for i in at.info)  # not comparable
    # a click on a dot (what the chart's on_select callback stores) shows its image
    i = int(trained.index[3])
    at.session_state["emb_picked"] = ("mnist-sample", i)
    at.run()
    truth = data.DIGITS[ds.y_test[i]]
    guess = data.DIGITS[trained.predicted[3]]
    assert f"True class: **{truth}**" in _texts(at)
    assert f"says {guess}" in _texts(at)
    title = _spec(at, "emb_image")["layout"]["title"]["text"]
    assert title == f"Test image #{i} (28×28)"
    at.button(key="emb_open").click().run()
    assert not at.exception
    assert at.title[0].value == "Predict"
    raw, label = at.session_state["inside_image"]
    assert raw == embedding.image_png(ds.x_test[i])
    assert label == embedding.image_label(i, "mnist-sample", truth)
    assert any(label in c.value for c in at.caption)


# ------------------------------------------------------------------------ a learner's runs


def test_a_learners_run_gets_the_same_projection_as_computed_directly():
    keras.utils.set_random_seed(0)
    model = models.build("book_mnist")
    token = _save_run(model, "mnist-sample", data.DIGITS)
    at = _open_run(token)
    assert "#1 custom · mnist-sample" in at.caption[0].value  # the badge names the run
    saved = runs.RunStore(runs.default_root())
    run_model = saved.load_model(token, saved.list_runs(token)[0].id)
    ds = data.load_mnist_sample()
    mine = _direct(run_model, ds.x_test, ds.y_test)
    fresh = _direct(embedding.untrained(run_model), ds.x_test, ds.y_test)
    captions = [c.value for c in at.caption]
    assert embedding.knn_caption(mine.knn_features, mine.knn_plane, 128, 5, 1000) in captions
    assert embedding.knn_caption(fresh.knn_features, fresh.knn_plane, 128, 5, 1000) in captions
    where = embedding.where(128, "dense1")
    said = embedding.separation_sentence(mine.knn_features, fresh.knn_features, 5, 1000, where)
    assert said in _texts(at)
    drawn = _points(_spec(at, "emb_fig_model"))
    np.testing.assert_allclose(drawn[int(mine.index[0])], mine.projection.coords[0], rtol=1e-4)
    assert len(at.get("plotly_chart")) == 3  # the bundled MLP of mnist-sample beside it


def test_a_run_on_own_data_uses_its_kept_test_set_and_t_sne():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 50)
    x = np.zeros((150, 8, 8, 1), np.uint8)
    for c in range(3):  # three classes: a bright bar in a different row each
        x[y == c, 2 * c + 1 : 2 * c + 3, :, 0] = 200
    x = np.clip(x + rng.integers(0, 60, x.shape), 0, 255).astype(np.uint8)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.Dense(8, activation="relu", name="hidden")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))
    token = _save_run(model, "bars.zip", ["top", "middle", "bottom"], test=(x, y))
    at = _open_run(token)
    assert "No MLP: the training images of this run were not kept." in _texts(at)
    at.radio(key="emb_method").set_value("tsne").run()
    assert not at.exception and not at.error
    run_model = runs.RunStore(runs.default_root()).load_model(
        token, runs.RunStore(runs.default_root()).list_runs(token)[0].id
    )
    mine = _direct(run_model, x, y, "tsne")
    assert mine.n == 150  # all the kept test images (fewer than 1,000)
    caption = embedding.knn_caption(mine.knn_features, mine.knn_plane, 8, 5, 150)
    assert caption in [c.value for c in at.caption]
    texts = _texts(at)
    assert "t-SNE (perplexity 30, seed 0, started from PCA): its axes mean nothing" in texts
    assert "The features and t-SNE of 150 images for 2 panels took" in texts
    layout = _spec(at, "emb_fig_model")["layout"]
    assert layout["xaxis"]["showticklabels"] is False
    assert layout["xaxis"]["title"]["text"] == "t-SNE 1 (no meaning)"


def test_a_model_without_known_test_images_gets_one_sentence():
    at = AppTest.from_file(APP, default_timeout=60)
    upload = models.build("book_mnist")
    at.session_state["active_model"] = ActiveModel(upload, "my.keras", data.DIGITS, {}, False)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.get("plotly_chart")
    assert "test images of the data **my.keras** was trained on" in at.info[0].value


# ---------------------------------------------------------------- a Fashion-MNIST model


def _idx(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


@pytest.fixture
def small_fashion(tmp_path, monkeypatch):
    """Fashion-MNIST's four IDX files, small (400 train / 200 test images): written here."""
    ds = data.load_mnist_sample()  # images with classes; the page does not care what they show
    parts = {"train": (ds.x_train[:400, ..., 0], ds.y_train[:400]),
             "t10k": (ds.x_test[:200, ..., 0], ds.y_test[:200])}  # fmt: skip
    for prefix, (x, y) in parts.items():
        (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(x)))
        (tmp_path / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(y)))
    monkeypatch.setenv(data.ENV_FASHION_MNIST, str(tmp_path))
    return data.load("fashion_mnist")


def test_a_fashion_model_trains_its_mlp_only_when_asked(small_fashion):
    name = "fashion_plain"
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["active_model"] = ActiveModel(
        models.load(models.bundled(name)), f"{name} (pre-trained on fashion_mnist)",
        models.bundled_class_names(name), models.read_card(models.bundled(name)), True,
        {"bundled": name},
    )  # fmt: skip
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # no MLP until the learner asks
    assert any(embedding.MLP_RECIPE in i.value for i in at.info)
    at.button(key="emb_train_mlp").click().run()
    assert not at.exception and len(at.get("plotly_chart")) == 3
    ds = small_fashion
    mlp = _direct(embedding.train_mlp(ds.x_train, ds.y_train, 10), ds.x_test, ds.y_test)
    assert embedding.knn_caption(mlp.knn_features, mlp.knn_plane, 1000, 5, 200) in [
        c.value for c in at.caption
    ]


# --------------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_clicking_a_dot_in_chromium_shows_its_image_and_opens_predict(shots, tmp_path):
    """What AppTest cannot do: plotly's own click, through st.plotly_chart's on_select."""
    with (
        shots.serve(env={"CNNVIZ_RUNS_DIR": str(tmp_path / "runs")}) as base,
        shots.browser() as page,
    ):
        shots.visit(page, base, "/embedding", 180_000)
        dots = page.locator('[data-testid="stPlotlyChart"]').first.locator(".scatterlayer .point")
        assert dots.count() == embedding.DEFAULT_IMAGES
        dots.nth(10).click(force=True)
        shots.wait_idle(page)
        body = page.inner_text("body")
        assert "The image you clicked" in body
        title = next(line for line in body.splitlines() if line.startswith("Test image #"))
        i = int(title.split("#")[1].split(" ")[0])
        assert i in embedding.pick(2000, embedding.DEFAULT_IMAGES)
        page.get_by_role("button", name="Open in Predict").click()
        shots.wait_idle(page)
        assert "/predict" in page.url
        truth = data.DIGITS[data.load_mnist_sample().y_test[i]]
        assert embedding.image_label(i, "mnist-sample", truth) in page.inner_text("body")
