"""AppTest of the Data, Train and Evaluate pages through the router, widgets by key."""

from __future__ import annotations

import base64
import gc
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest

from cnnviz import data, evaluation, models

CSV_HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))


def _charts(at) -> dict:
    """Plotly figures on the page by key (charts without a key under their index)."""
    out = {}
    for i, el in enumerate(at.get("plotly_chart")):
        key = el.proto.id.rsplit("-", 1)[-1] if el.proto.id else str(i)
        out[key] = pio.from_json(el.proto.spec)  # decodes plotly's base64 arrays
    return out


def _array(value) -> np.ndarray:
    """A plotly array as numpy, decoding the ``{"bdata", "dtype", "shape"}`` form."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value.get("shape", len(flat))).split(",")])
    return np.asarray(value)


def _trace_names(fig) -> list[str]:
    return [t.name for t in fig.data]


@pytest.fixture
def folder_goes_with_session():
    """Check that a session's model folder goes away with the session.

    The tests' own references are the last ones to an ended AppTest session: once they
    are dropped, the ``TemporaryDirectory`` in its state is collected with its folder.
    """
    apps = []
    yield apps.append
    folders = [
        Path(at.session_state["train_dir"].name) for at in apps if "train_dir" in at.session_state
    ]
    assert all(f.is_dir() and f.name.startswith("cnnviz-session-") for f in folders)
    apps.clear()
    gc.collect()
    assert not [f for f in folders if f.exists()]


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_data_page_overview_and_upload(open_page):
    at = open_page("app_pages/data.py")
    assert _metrics(at)["Training images"] == "8,000"
    assert _metrics(at)["Classes"] == "10"
    assert len(at.get("plotly_chart")) == 3  # counts, samples, histogram
    assert at.caption[0].value.startswith("MNIST test set")
    # the learner's CSV: 5 rows of "D" -> 4 train / 1 test, 24 classes
    at.selectbox(key="data_dataset").set_value("your file (CSV / zip)").run()
    rows = "\n".join(",".join(["3"] + ["0"] * 784) for _ in range(5))
    at.file_uploader(key="data_upload").set_value(
        ("signs.csv", f"{CSV_HEADER}\n{rows}\n".encode(), "text/csv")
    ).run()
    assert not at.exception
    assert _metrics(at)["Training images"] == "4" and _metrics(at)["Classes"] == "24"
    # a malformed CSV: one sentence, no traceback
    at.file_uploader(key="data_upload").set_value(
        ("bad.csv", f"{CSV_HEADER}\n1,2,3\n".encode(), "text/csv")
    ).run()
    assert not at.exception
    assert at.error[0].value == "row 1 has 3 columns; expected 785 (label then 784 pixels)."


def test_data_page_keras_dataset_offline_is_one_error(open_page, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty cache: Keras must download
    at = open_page("app_pages/data.py")
    at.selectbox(key="data_dataset").set_value("fashion_mnist").run()
    assert not at.exception
    assert len(at.error) == 1 and "needs the internet once" in at.error[0].value
    assert not at.metric  # nothing shown for data that is not there


def test_train_tiny_run_then_compare_and_evaluate_it(open_page, folder_goes_with_session):
    at = open_page("app_pages/train.py", timeout=180)
    folder_goes_with_session(at)
    assert any("Device: CPU" in m.value for m in at.markdown)  # the device badge
    at.number_input(key="train_subset").set_value(300)
    at.number_input(key="train_epochs").set_value(1)
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value.startswith("Trained 1 epoch")
    runs = at.session_state["train_runs"]
    (label,) = runs
    run = runs[label]
    assert run.status == "done" and len(run.history["val_accuracy"]) == 1
    assert run.path.endswith(".keras") and "cnnviz-session-" in run.path
    assert models.read_card(run.path)["hyperparameters"]["subset"] == 300
    curves = _charts(at)["train_curves"]
    assert sorted(_trace_names(curves)) == sorted(
        [f"{label} · train", f"{label} · validation"] * 2  # loss and accuracy panels
    )
    acc_trace = [t for t in curves.data if t.name.endswith("train")][1]
    assert list(acc_trace.y) == pytest.approx(run.history["accuracy"])

    # a second run (other seed, SGD) joins the overlay; deselecting it removes its curves
    at.number_input(key="train_seed").set_value(1)
    at.selectbox(key="train_optimizer").set_value("sgd")
    at.button(key="train_start").click().run()
    assert not at.exception
    labels = list(at.session_state["train_runs"])
    assert len(labels) == 2 and at.multiselect(key="train_compare").value == labels
    assert len(_charts(at)["train_curves"].data) == 8
    at.multiselect(key="train_compare").set_value(labels[:1]).run()
    assert len(_charts(at)["train_curves"].data) == 4

    # Evaluate the first run: the page shows exactly what a direct computation gives
    at.switch_page("app_pages/evaluate.py").run()
    at.selectbox(key="eval_model").set_value(labels[0]).run()
    assert not at.exception
    ds = data.load_mnist_sample()
    direct = evaluation.evaluate(run.model, data.prepare(ds.x_test), ds.y_test)
    assert _metrics(at)["Test accuracy"] == f"{direct.accuracy:.2%}"
    at.button(key="eval_use").click().run()
    assert at.session_state["active_model"].model is run.model
    assert at.session_state["active_model"].bundled is False

    # A second learner, in another session at the same time, sees neither these runs
    # nor this active model: the app still shows them the bundled default.
    other = open_page("app_pages/evaluate.py")
    assert labels[0] not in other.selectbox(key="eval_model").options
    assert "active_model" not in other.session_state
    assert "book_mnist (pre-trained" in other.caption[0].value


def test_train_custom_blocks_error_disables_training(open_page):
    at = open_page("app_pages/train.py")
    at.selectbox(key="train_model").set_value("custom").run()
    assert not at.error
    at.text_area(key="train_blocks").set_value("conv filters=8 kernel=3\npool size=40").run()
    assert not at.exception
    assert len(at.error) == 1 and "cannot take input" in at.error[0].value
    assert at.button(key="train_start").disabled


def test_evaluate_bundled_accuracy_equals_direct_computation(open_page):
    at = open_page("app_pages/evaluate.py")
    ds = data.load_mnist_sample()
    x = data.prepare(ds.x_test)
    for name in ("book_mnist", "cookbook_mlp"):
        at.selectbox(key="eval_model").set_value(f"{name} (pre-trained)").run()
        assert not at.exception
        ev = evaluation.evaluate(models.load(models.bundled(name)), x, ds.y_test)
        assert _metrics(at)["Test accuracy"] == f"{ev.accuracy:.2%}"
        assert _metrics(at)["Test loss"] == f"{ev.loss:.4f}"
        heat = _array(_charts(at)["eval_confusion"].to_plotly_json()["data"][0]["z"])
        np.testing.assert_array_equal(heat, ev.confusion)
        assert at.caption[-1].value.startswith(f"{ev.errors:,} of 2,000")
    at.button(key="eval_use").click().run()
    assert at.session_state["active_model"].label == "cookbook_mlp (pre-trained)"
    assert "cookbook_mlp" in at.caption[0].value  # the badge at the top now says so


def test_evaluate_upload_bad_and_good(open_page, folder_goes_with_session):
    at = open_page("app_pages/evaluate.py")
    folder_goes_with_session(at)
    at.selectbox(key="eval_model").set_value("upload a .keras file").run()
    at.file_uploader(key="eval_upload").set_value(
        ("broken.keras", b"not a zip", "application/octet-stream")
    ).run()
    assert not at.exception
    assert at.error[0].value.startswith("broken.keras is not a Keras 3 model file")
    raw = models.bundled("cookbook_cnn").read_bytes()
    at.file_uploader(key="eval_upload").set_value(
        ("mine.keras", raw, "application/octet-stream")
    ).run()
    assert not at.exception and not at.error
    card = models.read_card(models.bundled("cookbook_cnn"))
    assert _metrics(at)["Test accuracy"] == f"{card['metrics']['test_accuracy']:.2%}"


@pytest.mark.browser
def test_stop_button_stops_a_running_training_in_a_real_browser():
    """The Stop click reaches the running loop (see app_pages/_training.py for how)."""
    import importlib.util
    import os

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("shots", root / "scripts" / "screenshot.py")
    shots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shots)
    if not Path(shots.CHROMIUM).exists():
        if os.environ.get("CNNVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{shots.CHROMIUM} is missing and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip("install chromium to run the browser tests")
    pytest.importorskip("playwright.sync_api")
    with shots.serve() as base, shots.browser() as page:
        shots.visit(page, base, "/train")
        epochs = page.get_by_label("Epochs")
        epochs.fill("30")
        epochs.press("Enter")
        shots.wait_idle(page)
        page.locator(".st-key-train_start button").click()
        page.get_by_text("epoch 2/30").first.wait_for(timeout=120_000)
        page.locator(".st-key-train_stop button").click()
        page.get_by_text("Runs of this session").wait_for(timeout=60_000)
        shots.wait_idle(page)
        info = page.locator('[data-testid="stAlertContentInfo"]').inner_text()
        assert "#1 book_mnist" in info and "stopped" in info.lower()
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert "Trained 30 epochs" not in body  # it did not run to the end
        assert not page.locator(shots.EXCEPTION).count()
