"""AppTest of the Data, Train and Evaluate pages through the router, widgets by key."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import data, evaluation, models, novelty, runs, training

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
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


def _store_runs(at) -> list:
    """This AppTest learner's runs, read straight from the run store."""
    return runs.RunStore(runs.default_root()).list_runs(at.query_params["learner"])


def _table(at, column: str):
    """The first st.dataframe on the page with this column (keys are not exposed for them)."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise KeyError(column)


def _by_name(fig) -> dict[str, list]:
    out: dict[str, list] = {}
    for t in fig.data:
        out.setdefault(t.name, []).append(t)
    return out


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _jobs(at) -> list:
    """This AppTest learner's jobs in the server's training queue."""
    from app_pages import _training

    return _training.trainers().queue.jobs_of(at.query_params["learner"])


def _train(at, timeout: float = 300) -> None:
    """Press Train, wait until the queued run has ended, and draw the page again."""
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    for job in _jobs(at):
        assert job.wait(timeout), f"{job.label} did not end in {timeout} s"
    at.run()


def test_data_page_overview_and_upload(open_page):
    at = open_page("app_pages/data.py")
    assert _metrics(at)["Training images"] == "8,000"
    assert _metrics(at)["Classes"] == "10"
    assert len(at.get("plotly_chart")) == 3  # counts, samples, histogram
    assert at.caption[0].value.startswith("MNIST test set")
    # the learner's CSV: 5 rows of "D" -> 4 train / 1 test, 24 classes
    at.selectbox(key="data_dataset").set_value("Sign-Language-MNIST (your CSV files)").run()
    assert not at.radio  # where to validate is asked on Train, not here
    rows = "\n".join(",".join(["3"] + ["0"] * 784) for _ in range(5))
    at.file_uploader(key="data_csv_train").set_value(
        ("signs.csv", f"{CSV_HEADER}\n{rows}\n".encode(), "text/csv")
    ).run()
    assert not at.exception
    assert _metrics(at)["Training images"] == "4" and _metrics(at)["Classes"] == "24"
    # a malformed CSV: one sentence, no traceback
    at.file_uploader(key="data_csv_train").set_value(
        ("bad.csv", f"{CSV_HEADER}\n1,2,3\n".encode(), "text/csv")
    ).run()
    assert not at.exception
    assert at.error[0].value == "row 1 has 3 columns; expected 785 (label then 784 pixels)."


def _paper_zip() -> bytes:
    """A zip of dark shapes on light paper: ``ring/`` and ``bar/``, 6 drawings each."""
    import io
    import zipfile

    from PIL import Image, ImageDraw

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(6):
            for name in ("ring", "bar"):
                im = Image.new("L", (40, 40), 235)  # light paper
                pen = ImageDraw.Draw(im)
                if name == "ring":
                    pen.ellipse((8 + i, 8, 30, 30), outline=20, width=3)  # dark ink
                else:
                    pen.rectangle((16, 6 + i, 22, 34), fill=20)
                png = io.BytesIO()
                im.save(png, format="PNG")
                z.writestr(f"shapes/{name}/{i}.png", png.getvalue())
    return buf.getvalue()


def test_data_page_reads_background_and_ink_from_the_data_shown(open_page):
    """The issue: dark shapes on light paper were captioned "most pixels are background
    (0 in MNIST); the ink is near 255". The caption now reads the histogram it sits under."""
    at = open_page("app_pages/data.py")
    pixels = " ".join(c.value for c in at.caption)
    counts, edges = data.pixel_histogram(data.load_mnist_sample().x_train)
    assert data.pixel_caption(counts, edges) in pixels
    assert "The background is dark: the most common values, 0–7" in pixels
    assert "as in MNIST" in pixels
    balance = data.class_counts(data.load_mnist_sample().y_train, 10)
    assert f"{balance.min():,} images" in pixels and f"{balance.max():,} images" in pixels
    at.selectbox(key="data_dataset").set_value("your images (a zip of class folders)").run()
    at.file_uploader(key="data_zip").set_value(("shapes.zip", _paper_zip(), "application/zip"))
    at.run()
    assert not at.exception and not at.error
    ds = data.load_image_zip(_paper_zip(), 28, 1, seed=0)
    counts, edges = data.pixel_histogram(ds.x_train)
    caption = data.pixel_caption(counts, edges)
    assert caption.facts["background"] == "light" and caption.facts["ink"] == "darker"
    text = " ".join(c.value for c in at.caption)
    assert caption in text and "the opposite of MNIST" in text
    assert "0 in MNIST" not in text and "as in MNIST" not in text
    hist = _charts(at)["data_histogram"]
    np.testing.assert_array_equal(_array(hist.data[0].y), counts)  # the counts it reads


def test_data_page_keras_dataset_offline_is_one_error(open_page, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty cache: Keras must download
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-package")  # not installed
    monkeypatch.delenv(data.ENV_FASHION_MNIST, raising=False)
    at = open_page("app_pages/data.py")
    at.selectbox(key="data_dataset").set_value("fashion_mnist").run()
    assert not at.exception
    assert len(at.error) == 1 and "needs the internet once" in at.error[0].value
    assert "apt-get install dataset-fashion-mnist" in at.error[0].value  # the offline way
    assert not at.metric  # nothing shown for data that is not there


def test_train_tiny_run_then_compare_and_evaluate_it(open_page):
    at = open_page("app_pages/train.py", timeout=180)
    assert any("Device: CPU" in m.value for m in at.markdown)  # the device badge
    at.number_input(key="train_subset").set_value(300)
    at.number_input(key="train_epochs").set_value(2)
    _train(at)
    assert not at.exception, [e.value for e in at.exception]
    (success,) = at.success  # one message, and one chart: the live one is gone
    assert success.value.startswith("#1 book_mnist · mnist-sample: Trained 2 epochs")
    assert len(at.get("plotly_chart")) == 1
    (run,) = _store_runs(at)  # saved on disk under the learner token of the URL
    assert run.status == "done" and len(run.history["val_accuracy"]) == 2
    label = run.label
    # per-batch curves: 270 training images at batch 128 = 3 batches an epoch, one point
    # each (faint; an epoch's last batch of 14 images merged into the one before), a
    # smoothed line over them, and validation at epochs 0, 1 and 2
    curves = _by_name(_charts(at)["train_curves"])
    raw_loss, raw_acc = curves[f"{label} · train (each point: one execution's batches)"]
    np.testing.assert_allclose(_array(raw_loss.x), run.points["epoch"])
    assert len(run.points["epoch"]) == 4 and run.points["epoch"][-1] == 2.0
    np.testing.assert_allclose(_array(raw_loss.y), run.points["loss"])
    np.testing.assert_allclose(_array(raw_acc.y), run.points["accuracy"])
    assert raw_loss.opacity < 0.5
    smoothed = curves[f"{label} · train"][0]
    np.testing.assert_allclose(
        _array(smoothed.y), training.smooth(run.points["loss"], 0.6, log=True)
    )
    # the diamond: where the loss ended, the number the run's sentence quotes
    (ended,) = curves[f"{label} · ended at"]
    end = training.ending(run.history, run.points)
    assert _array(ended.y)[0] == pytest.approx(end.loss) and end.points == 1
    assert f"ended at {training._num(end.loss)} ({end.measure})" in success.value
    val_loss, val_acc = curves[f"{label} · validation"]
    assert list(_array(val_loss.x)) == [0, 1, 2]
    np.testing.assert_allclose(_array(val_loss.y), [run.start["loss"], *run.history["val_loss"]])
    np.testing.assert_allclose(_array(val_acc.y)[1:], run.history["val_accuracy"])
    # the log toggle and the smoothing slider redraw the same run
    at.toggle(key="train_log").set_value(True).run()
    assert _charts(at)["train_curves"].layout.yaxis.type == "log"
    at.slider(key="train_smooth").set_value(0.0).run()
    smoothed = _by_name(_charts(at)["train_curves"])[f"{label} · train"][0]
    np.testing.assert_allclose(_array(smoothed.y), run.points["loss"])
    # the run list: hyperparameters as columns
    table = _table(at, "learning rate")
    assert list(table.columns) == [
        "run", "status", "learning rate", "optimizer", "batch", "epochs",
        "augmentation", "seed", "best val accuracy", "images/s", "device", "overlaid",
    ]  # fmt: skip
    row = table.iloc[0]
    assert (row["learning rate"], row["optimizer"], row["batch"], row["seed"]) == (
        0.001, "adam", 128, 0
    )  # fmt: skip
    assert row["best val accuracy"] == pytest.approx(max(run.history["val_accuracy"]))
    assert row["epochs"] == "2 of 2"
    assert row["images/s"] > 0 and row["device"] == "CPU" and row["augmentation"] == "none"

    # a second run at learning rate 1.0 diverges: shown as a failure, never as a success
    at.select_slider(key="train_lr").set_value(1.0)
    _train(at)
    assert not at.exception
    assert not at.success
    (error,) = at.error
    assert error.value.startswith("#2 book_mnist · mnist-sample: Training diverged:")
    # the advice is Keras's default, never a rate known to fail (as 0.1 is, on the issue)
    assert error.value.endswith(
        "the learning rate 1 is too large for adam; try the Keras default for adam, 0.001."
    )
    first, second = _store_runs(at)
    assert second.status == "diverged"
    labels = [first.label, second.label]
    assert at.multiselect(key="train_compare").value == labels  # the new run joins
    assert len(_charts(at)["train_curves"].data) == 14  # 7 traces a run
    at.multiselect(key="train_compare").set_value(labels[:1]).run()
    assert len(_charts(at)["train_curves"].data) == 7
    assert list(_table(at, "learning rate")["status"]) == ["done", "diverged"]

    # Evaluate: the box starts at the model the badge names (the default, so far)
    at.switch_page("app_pages/evaluate.py").run()
    default = f"{models.DEFAULT_BUNDLED} (pre-trained on mnist-sample)"
    assert at.selectbox(key="eval_model").value == default
    assert f"Model: **{models.DEFAULT_BUNDLED} (pre-trained" in at.caption[0].value
    ds = data.load_mnist_sample()
    token = at.query_params["learner"]
    # the diverged run: a warning with its numbers whenever it is at chance, and "Use this
    # model everywhere" only behind an explicit tick
    at.selectbox(key="eval_model").set_value(labels[1]).run()
    assert not at.exception
    bad = runs.RunStore(runs.default_root()).load_model(token, second.id)
    ev_bad = evaluation.evaluate(bad, data.prepare(ds.x_test), ds.y_test)
    warning = evaluation.chance_warning(ev_bad.y_true, ev_bad.y_pred, data.DIGITS)
    assert [w.value for w in at.warning] == ([warning] if warning else [])
    assert at.button(key="eval_use").disabled is bool(warning)
    # the first run: the page shows exactly what a direct computation gives
    at.selectbox(key="eval_model").set_value(labels[0]).run()
    assert not at.exception
    model = runs.RunStore(runs.default_root()).load_model(token, first.id)
    direct = evaluation.evaluate(model, data.prepare(ds.x_test), ds.y_test)
    assert _metrics(at)["Test accuracy"] == f"{direct.accuracy:.2%}"
    at.button(key="eval_use").click().run()
    assert at.session_state["active_model"].ref == {"run": first.id}
    assert at.session_state["active_model"].bundled is False

    # A reload (a new session with the same link) finds the runs and the chosen model
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["learner"] = token
    again.run()
    again.switch_page("app_pages/train.py").run()
    assert not again.exception
    assert list(_table(again, "learning rate")["run"]) == labels
    assert again.multiselect(key="train_compare").value == labels  # the two newest
    again.switch_page("app_pages/evaluate.py").run()
    assert f"Model: **{first.label}**" in again.caption[0].value  # the badge
    assert again.selectbox(key="eval_model").value == first.label  # … and the box

    # A second learner (no token: a new one) sees neither these runs nor this model
    other = open_page("app_pages/evaluate.py")
    assert other.query_params["learner"] != token
    assert labels[0] not in other.selectbox(key="eval_model").options
    assert f"{models.DEFAULT_BUNDLED} (pre-trained" in other.caption[0].value  # the default

    # Delete the diverged run: the page asks first, Cancel keeps it
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="train_delete_choice").set_value(labels[1])
    at.button(key="train_delete").click().run()
    assert not at.exception
    assert f"Delete run {labels[1]}? This cannot be undone." in [w.value for w in at.warning]
    assert [r.label for r in _store_runs(at)] == labels  # nothing deleted yet
    at.button(key="train_delete_cancel").click().run()
    assert [r.label for r in _store_runs(at)] == labels
    assert "train_delete_cancel" not in [b.key for b in at.button]
    at.selectbox(key="train_delete_choice").set_value(labels[1])
    at.button(key="train_delete").click().run()
    at.button(key="train_delete_confirm").click().run()
    assert not at.exception
    assert [r.label for r in _store_runs(at)] == labels[:1]
    assert list(_table(at, "learning rate")["run"]) == labels[:1]
    assert f"Deleted run {labels[1]}." in [i.value for i in at.info]
    assert at.multiselect(key="train_compare").value == labels[:1]
    assert len(_charts(at)["train_curves"].data) == 7  # the run left, never an empty chart
    # the last run: afterwards the page says there are none, and draws no chart
    at.button(key="train_delete").click().run()
    at.button(key="train_delete_confirm").click().run()
    assert not at.exception and _store_runs(at) == []
    assert "train_curves" not in _charts(at)
    assert any("You have no runs yet" in i.value for i in at.info)


def test_a_stopped_run_keeps_its_curves_and_joins_the_overlay(open_page):
    """Stop reaches the worker: the run ends early, is stored as stopped, and is drawn."""
    import time

    at = open_page("app_pages/train.py", timeout=180)
    at.number_input(key="train_subset").set_value(4000)
    at.number_input(key="train_epochs").set_value(30)
    at.button(key="train_start").click().run()
    (job,) = _jobs(at)
    deadline = time.monotonic() + 300
    while (job.progress is None or job.progress.kind != "epoch") and time.monotonic() < deadline:
        time.sleep(0.2)  # until the first epoch has ended: curves with validation
    at.run()  # the live panel: progress and the Stop button
    assert any("epoch" in p.proto.text for p in at.get("progress"))
    at.button(key="train_stop").click().run()
    assert job.wait(300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (run,) = _store_runs(at)
    assert run.status == "stopped" and run.message.startswith("Training stopped")
    assert 1 <= len(run.history["val_accuracy"]) < 30 and run.images_per_sec > 0
    (info,) = at.info
    assert info.value == f"{run.label}: {run.message}"
    assert at.multiselect(key="train_compare").value == [run.label]
    curves = _by_name(_charts(at)["train_curves"])
    raw = curves[f"{run.label} · train (each point: one execution's batches)"][0]
    np.testing.assert_allclose(_array(raw.x), run.points["epoch"])
    row = _table(at, "learning rate").iloc[0]
    assert row["status"] == "stopped" and row["images/s"] == round(run.images_per_sec) > 0
    # the table counts completed epochs and names where the partial one ended
    assert row["epochs"] == runs.trained_text(run.batches_done, run.batches, 30)
    assert row["epochs"].startswith(f"{run.batches_done // run.batches} of 30")
    # validation drawn where it was measured (the last one: where the run stopped)
    (val_loss, _) = curves[f"{run.label} · validation"]
    np.testing.assert_allclose(_array(val_loss.x)[1:], run.points["val_epoch"])
    completed, partial = divmod(run.batches_done, run.batches)  # 3,600 images, 29 batches
    where = completed + min(partial * 128, 3600) / 3600 if partial else completed
    assert run.batches == 29 and run.points["val_epoch"][-1] == pytest.approx(where)


def test_one_trainer_a_second_learner_waits_and_a_closed_tab_keeps_its_run(open_page, monkeypatch):
    """CNNVIZ_MAX_TRAINERS=1: the second learner's run waits with its place in line and
    starts when the first ends; the first learner's tab is gone by then, yet its run
    completes and is stored under its token."""
    monkeypatch.setenv("CNNVIZ_MAX_TRAINERS", "1")
    first = open_page("app_pages/train.py", timeout=180)
    first.number_input(key="train_subset").set_value(2000)
    first.number_input(key="train_epochs").set_value(3)
    first.button(key="train_start").click().run()
    token = first.query_params["learner"]
    (job_a,) = _jobs(first)
    del first  # the first learner closes the tab

    second = open_page("app_pages/train.py", timeout=180)
    second.number_input(key="train_subset").set_value(300)
    second.number_input(key="train_epochs").set_value(1)
    second.button(key="train_start").click().run()
    (job_b,) = _jobs(second)
    if job_a.active:  # (on a very fast machine the first run may already be over)
        assert job_b.state == "queued"
        assert any(
            i.value.startswith("Waiting for a free trainer — you are number 1.")
            for i in second.info
        )
        assert second.button(key="train_leave")  # … and can leave the queue
        assert second.button(key="train_start").disabled  # one run at a time per learner
    assert job_a.wait(300) and job_b.wait(300)
    assert job_a.state == job_b.state == "done"
    assert job_b.started >= job_a.finished  # it started only when the first had ended
    (kept,) = runs.RunStore(runs.default_root()).list_runs(token)  # nobody was watching
    assert kept.status == "done" and len(kept.history["val_accuracy"]) == 3
    second.run()
    (run,) = _store_runs(second)
    assert run.id != kept.id and second.success[0].value.startswith(f"{run.label}: Trained")


def test_leaving_the_queue_trains_nothing(open_page, monkeypatch):
    monkeypatch.setenv("CNNVIZ_MAX_TRAINERS", "1")
    import threading

    from app_pages import _training

    at = open_page("app_pages/train.py", timeout=180)
    at.number_input(key="train_subset").set_value(300)
    at.number_input(key="train_epochs").set_value(1)
    gate = threading.Event()
    queue = _training.trainers().queue
    hold = queue.submit("someone-else", lambda h: gate.wait(60))  # another learner's run
    at.button(key="train_start").click().run()
    (job,) = _jobs(at)
    assert job.state == "queued" and queue.position(job) == 1
    at.button(key="train_leave").click().run()
    assert job.state == "cancelled"
    assert [i.value for i in at.info] == [
        "You left the queue; book_mnist on mnist-sample, 1 epoch was not trained.",
        "You have no runs yet: press **Train** to make one.",
    ]
    assert not at.button(key="train_start").disabled  # free to train again
    gate.set()
    assert hold.wait(60)
    assert _store_runs(at) == []


def test_train_settings_survive_leaving_the_page(open_page):
    at = open_page("app_pages/train.py")
    at.selectbox(key="train_model").set_value("custom").run()
    at.text_area(key="train_blocks").set_value("conv filters=4\ndense units=8").run()
    at.number_input(key="train_epochs").set_value(7).run()
    at.switch_page("app_pages/data.py").run()
    at.switch_page("app_pages/train.py").run()
    assert at.selectbox(key="train_model").value == "custom"
    assert at.text_area(key="train_blocks").value == "conv filters=4\ndense units=8"
    assert at.number_input(key="train_epochs").value == 7


def test_train_custom_blocks_error_disables_training(open_page):
    at = open_page("app_pages/train.py")
    at.selectbox(key="train_model").set_value("custom").run()
    assert not at.error
    at.text_area(key="train_blocks").set_value("conv filters=8 kernel=3\npool size=40").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "block 2 (pool): the image is only 26×26 there, smaller than its 40×40 window — use "
        "a smaller size or padding=same."
    ]
    assert at.button(key="train_start").disabled


def test_evaluate_bundled_accuracy_equals_direct_computation(open_page):
    at = open_page("app_pages/evaluate.py")
    ds = data.load_mnist_sample()
    x = data.prepare(ds.x_test)
    for name in ("book_mnist", "cookbook_mlp"):
        at.selectbox(key="eval_model").set_value(f"{name} (pre-trained on mnist-sample)").run()
        assert not at.exception
        ev = evaluation.evaluate(models.load(models.bundled(name)), x, ds.y_test)
        assert _metrics(at)["Test accuracy"] == f"{ev.accuracy:.2%}"
        assert _metrics(at)["Test loss"] == f"{ev.loss:.4f}"
        heat = _charts(at)["eval_confusion"].to_plotly_json()["data"][0]
        np.testing.assert_array_equal(_array(heat["text"]), ev.confusion)  # counts shown
        # the default colour scale is logarithmic, so the 1–6 mistakes per cell show
        np.testing.assert_allclose(_array(heat["z"]), np.log10(1 + ev.confusion))
        assert at.caption[-1].value.startswith(f"{ev.errors:,} of 2,000")
        pairs = _table(at, "predicted")
        assert pairs.to_dict("records") == evaluation.confused_pairs(ev.confusion, data.DIGITS, 5)
    # the scale toggle: share of each true class, then plain counts
    at.radio(key="eval_scale").set_value("row").run()
    heat = _charts(at)["eval_confusion"].to_plotly_json()["data"][0]
    np.testing.assert_allclose(_array(heat["z"]).sum(axis=1), 1.0)
    np.testing.assert_array_equal(_array(heat["text"]), ev.confusion)
    at.radio(key="eval_scale").set_value("counts").run()
    heat = _charts(at)["eval_confusion"].to_plotly_json()["data"][0]
    np.testing.assert_array_equal(_array(heat["z"]), ev.confusion)
    # every mistake is titled with the probability the model gave its answer
    mistakes = _charts(at)["eval_grid_False"].layout.annotations
    sure = evaluation.predicted_probability(ev.probs, ev.y_pred)
    idx = evaluation.pick_examples(ev.y_true, ev.y_pred, False, 9, 0)
    assert [a.text for a in mistakes] == [
        f"said {ev.y_pred[i]} ({novelty.percent(sure[i])}) · true {ev.y_true[i]}" for i in idx
    ]
    at.button(key="eval_use").click().run()
    assert at.session_state["active_model"].label == "cookbook_mlp (pre-trained on mnist-sample)"
    assert "cookbook_mlp" in at.caption[0].value  # the badge at the top now says so
    # the choice survives a reload (same learner link) and every page uses it
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["learner"] = at.query_params["learner"]
    again.run()
    again.switch_page("app_pages/predict.py").run()
    assert "cookbook_mlp (pre-trained on mnist-sample)" in again.caption[0].value


def test_evaluate_upload_bad_and_good(open_page):
    at = open_page("app_pages/evaluate.py")
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


def test_evaluate_warns_about_a_model_at_chance_and_asks_before_using_it(open_page, tmp_path):
    """The issue: a model at 9.15 % that says "9" for all 2,000 images got no warning and
    was offered "Use this model everywhere". Here: a model that always answers 9."""
    import keras

    keras.utils.set_random_seed(0)
    nine = models.build("book_mnist")
    out = nine.get_layer("output")
    kernel, bias = out.get_weights()
    bias[:] = 0.0
    bias[9] = 5.0
    out.set_weights([np.zeros_like(kernel), bias])  # softmax of the bias alone: always 9
    path = models.save(nine, tmp_path / "nine.keras", {})
    at = open_page("app_pages/evaluate.py")
    at.selectbox(key="eval_model").set_value("upload a .keras file").run()
    at.file_uploader(key="eval_upload").set_value(
        ("nine.keras", path.read_bytes(), "application/octet-stream")
    ).run()
    assert not at.exception
    y = data.load_mnist_sample().y_test
    want = evaluation.chance_warning(y, np.full(len(y), 9), data.DIGITS)
    assert want.facts["verdict"] == "both"
    assert [w.value for w in at.warning] == [want]
    assert f"predicts 9 for {len(y):,} of {len(y):,} test images" in want
    assert _metrics(at)["Test accuracy"] == f"{want.facts['accuracy']:.2%}"  # as the page says
    assert at.button(key="eval_use").disabled  # not without the explicit tick
    at.checkbox(key="eval_use_anyway upload a .keras file").check().run()
    assert not at.button(key="eval_use").disabled
    at.button(key="eval_use").click().run()
    assert at.session_state["active_model"].label == "upload a .keras file"


def _shots():
    """scripts/screenshot.py (server + Chromium helpers); skips without Chromium."""
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
    return shots


def _fill(shots, page, label: str, value) -> None:
    box = page.get_by_label(label)
    box.fill(str(value))
    box.press("Enter")
    shots.wait_idle(page)


def _seen(page) -> tuple[list[str], list[str]]:
    """The run table's first column and the curves' legend, as the browser shows them."""
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_text_contents()
    legend = page.locator('[data-testid="stPlotlyChart"] .legendtext').all_text_contents()
    return [c for c in cells if c.startswith("#")], legend


@pytest.mark.browser
def test_runs_survive_a_reload_and_belong_to_their_learner_in_a_real_browser():
    """Train a tiny run, reload the page: curves and table are back; another learner's
    link (another token) and a link without one see none of it."""
    shots = _shots()
    with shots.serve() as base, shots.browser() as page:
        shots.visit(page, base, "/train")
        _fill(shots, page, "Epochs", 1)
        page.get_by_text("Advanced").click()
        _fill(shots, page, "Use only this many training images (0 = all)", 300)
        page.locator(".st-key-train_start button").click()
        page.get_by_text("Your runs", exact=True).wait_for(timeout=120_000)
        shots.wait_idle(page)
        url = page.url
        assert "?learner=" in url
        label = "#1 book_mnist · mnist-sample"
        before = _seen(page)
        assert before == ([label], [f"{label} · train", f"{label} · validation"])

        page.reload()  # a new session: only the link's token connects it to the run
        shots.wait_idle(page)
        assert page.url == url
        # the table's cells are drawn on a canvas; their accessible copies can come a moment
        # after the script has finished
        cell = page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=label)
        cell.first.wait_for(state="attached", timeout=30_000)
        assert _seen(page) == before
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert f"{label}: Trained 1 epoch" in main
        assert not page.locator(shots.EXCEPTION).count()

        for other in (url.replace(url.split("=")[-1], "a" * 22), base + "/train"):
            page.goto(other, wait_until="domcontentloaded")
            shots.wait_idle(page)
            main = page.locator('[data-testid="stMain"]').inner_text()
            assert "Your runs" not in main and label not in main
            assert _seen(page) == ([], [])
            assert "?learner=" in page.url and page.url != url  # a token of its own


@pytest.mark.browser
def test_stop_button_stops_a_running_training_in_a_real_browser():
    """The Stop click reaches the running loop (see app_pages/_training.py for how)."""
    shots = _shots()
    with shots.serve() as base, shots.browser() as page:
        shots.visit(page, base, "/train")
        epochs = page.get_by_label("Epochs")
        epochs.fill("30")
        epochs.press("Enter")
        shots.wait_idle(page)
        page.locator(".st-key-train_start button").click()
        page.get_by_text("epoch 2/30").first.wait_for(timeout=120_000)
        page.locator(".st-key-train_stop button").click()
        page.get_by_text("Your runs", exact=True).wait_for(timeout=60_000)
        shots.wait_idle(page)
        info = page.locator('[data-testid="stAlertContentInfo"]').inner_text()
        assert "#1 book_mnist" in info and "stopped" in info.lower()
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert "Trained 30 epochs" not in body  # it did not run to the end
        assert not page.locator(shots.EXCEPTION).count()
