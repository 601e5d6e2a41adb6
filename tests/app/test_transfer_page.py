"""AppTest of the Transfer learning page through the router, widgets by key, small settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import plotly.io as pio
import pytest

from cnnviz import transfer

PAGE = "app_pages/transfer.py"
APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def _charts(at) -> dict:
    """Plotly figures on the page by key."""
    out = {}
    for i, el in enumerate(at.get("plotly_chart")):
        key = el.proto.id.rsplit("-", 1)[-1] if el.proto.id else str(i)
        out[key] = pio.from_json(el.proto.spec)
    return out


def _train_small(at, base: str, epochs: int, fine_tune: int, scratch: int):
    """Set small epochs for this base's settings, press Train, return the session's run."""
    at.number_input(key=f"tl_epochs_{base}").set_value(epochs)
    at.number_input(key=f"tl_ft_epochs_{base}").set_value(fine_tune)
    at.number_input(key=f"tl_scratch_epochs_{base}").set_value(scratch)
    at.button(key="tl_train").click().run(timeout=240)
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state["tl_run"]


def test_page_opens_on_the_offline_base(open_page):
    at = open_page(PAGE)
    assert at.title[0].value.endswith("Transfer learning")
    assert at.selectbox(key="tl_base").value.startswith("digits 0–4")
    assert at.radio(key="tl_k").value == "20"
    card = transfer.DIGITS_BASE.with_suffix(".json")
    assert card.exists()
    caption = at.caption[0].value
    assert "fashion_leaky CNN (three conv blocks) trained on the sample's digits 0–4" in caption
    assert not at.error
    assert not at.button(key="tl_train").disabled
    assert not at.metric  # nothing trained before the button


def test_small_run_shows_three_contenders_then_serves_every_page(open_page):
    at = open_page(PAGE)
    at.radio(key="tl_k").set_value("5")
    run = _train_small(at, "digits", epochs=3, fine_tune=1, scratch=2)
    assert run.status == "done" and list(run.results) == list(transfer.CONTENDERS)
    assert all(r.finished for r in run.results.values())
    metrics = {m.label: m.value for m in at.metric}
    for name, r in run.results.items():  # the page shows the numbers the run measured
        assert metrics[f"{name} · test accuracy"] == f"{r.test_accuracy:.1%}"
    assert len(run.histories["fine-tuning"]["loss"]) == 4 and run.stage_epochs == 3
    assert len(run.histories["from scratch"]["loss"]) == 2
    said = transfer.advantage_sentence(run.results, run.contenders)
    assert said in [m.value for m in at.markdown] and said.startswith("With the pretrained base")
    assert not at.info  # nothing was stopped
    curves = _charts(at)["tl_curves"]
    names = {t.name for t in curves.data}
    # the curves are training (solid) and validation (dashed); test accuracy is not on them
    assert {"fine-tuning · training", "fine-tuning · validation"} <= names
    assert not any("test" in n for n in names)
    assert curves.layout.legend.title.text == "solid: training · dashed: validation"
    assert any("The accuracies above are on the test images, which no contender trained or "
               "validated on." in c.value for c in at.caption)  # fmt: skip
    timing = [c.value for c in at.caption if "This run took" in c.value]
    assert timing and f"{run.seconds:.0f} s" in timing[0]

    # what is frozen: feature extraction trained only its head
    at.radio(key="tl_pick").set_value("feature extraction").run()
    bars = _charts(at)["tl_frozen"]
    trained = dict(zip(bars.data[0].y, bars.data[0].x, strict=True))
    frozen = dict(zip(bars.data[1].y, bars.data[1].x, strict=True))
    assert trained["conv1"] == 0 and frozen["conv1"] == 320
    assert trained["output"] == 2048 * 5 + 5 and frozen["output"] == 0
    assert "frozen: conv1, conv2, conv3." in [m.value for m in at.markdown][-1]

    at.radio(key="tl_pick").set_value("fine-tuning").run()
    at.button(key="tl_use").click().run()
    active = at.session_state["active_model"]
    assert active.model is run.results["fine-tuning"].model
    assert active.class_names == ("5", "6", "7", "8", "9")
    assert any("now use **fine-tuning**" in s.value for s in at.success)
    for page in ("app_pages/predict.py", "app_pages/activations.py", "app_pages/heatmaps.py"):
        at.switch_page(page).run(timeout=120)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "fine-tuning · digits 5–9, k = 5" in at.caption[0].value  # the model badge


def test_settings_survive_leaving_the_page(open_page):
    at = open_page(PAGE)
    at.radio(key="tl_k").set_value("100").run()
    at.switch_page("app_pages/convolution.py").run()
    at.switch_page(PAGE).run()
    assert at.radio(key="tl_k").value == "100"


def test_imagenet_base_offline_says_so_in_one_sentence(open_page, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no weights cached
    app = transfer.APPLICATIONS["mobilenet_v2"]
    monkeypatch.setitem(  # a refused connection, as offline; never the real network
        transfer.APPLICATIONS,
        "mobilenet_v2",
        dataclasses.replace(app, url="http://127.0.0.1:9/weights_{size}.h5"),
    )
    at = open_page(PAGE)
    at.selectbox(key="tl_base").set_value("MobileNetV2 (ImageNet, downloaded once)").run()
    assert "are not on this machine yet" in at.info[0].value
    assert at.button(key="tl_train").disabled
    at.button(key="tl_download").click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("The ImageNet weights of MobileNetV2 (9.4 MB) could not be")
    assert "offline, use the digits 0–4 base" in error.value
    assert at.button(key="tl_train").disabled


@pytest.mark.parametrize("preset", ["cookbook CIFAR"])
def test_augmentation_preset_fills_the_settings(open_page, preset):
    at = open_page(PAGE)
    at.selectbox(key="tl_aug_preset").set_value(preset).run()
    assert at.slider(key="tl_aug_rotation").value == 20
    assert at.slider(key="tl_aug_wshift").value == pytest.approx(0.1)
    assert at.toggle(key="tl_aug_flip").value is True
    assert at.selectbox(key="tl_aug_fill").value == "nearest"
    assert any(
        c.value == "Augmentation: rotation ±20°, shift 10%, horizontal flip (fill: nearest)"
        for c in at.caption
    )


def test_imagenet_base_with_its_weights_takes_a_zip(open_page, fake_imagenet_weights, pets_zip):
    at = open_page(PAGE)
    at.number_input(key="tl_epochs_digits").set_value(60).run()
    at.selectbox(key="tl_base").set_value("MobileNetV2 (ImageNet, downloaded once)").run()
    at.selectbox(key="tl_img_size").set_value(96).run()
    assert not at.info  # the weights are here: no download offered
    assert at.button(key="tl_train").disabled  # ... but no images yet
    at.file_uploader(key="tl_zip").set_value(("pets.zip", pets_zip, "application/zip")).run()
    assert not at.exception and not at.error
    assert not at.button(key="tl_train").disabled
    # ImageNet bases have their own (smaller) epoch settings, not the digits' 60
    assert at.number_input(key="tl_epochs_mobilenet_v2").value == transfer.imagenet_config().epochs


def _sign_csv(rows_per_letter: int, seed: int) -> bytes:
    """Sign-Language-MNIST rows: every static letter, each a noisy bright band at its row."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = ["label," + ",".join(f"pixel{i}" for i in range(1, 785))]
    for letter in [c for c in range(25) if c != 9]:
        for _ in range(rows_per_letter):
            img = rng.integers(0, 40, (28, 28))
            img[letter, :] = 250  # where the band is tells the letter
            lines.append(",".join(map(str, [letter, *img.ravel()])))
    return ("\n".join(lines) + "\n").encode()


def test_sign_language_csvs_validated_on_their_test_file(open_page):
    at = open_page(PAGE)
    at.selectbox(key="tl_base").set_value("digits 0–4 → your Sign-Language CSVs").run()
    assert at.button(key="tl_train").disabled  # no CSV yet
    at.file_uploader(key="tl_csv_train").set_value(("train.csv", _sign_csv(8, 0), "text/csv"))
    at.file_uploader(key="tl_csv_test").set_value(("test.csv", _sign_csv(2, 1), "text/csv"))
    at.radio(key="tl_validate_on").set_value("test set")
    at.radio(key="tl_k").set_value("5").run()
    assert any("192 training and 48 test images (test set from the test CSV)" in c.value
               for c in at.caption)  # fmt: skip
    run = _train_small(at, "signs", epochs=3, fine_tune=1, scratch=1)
    assert run.label == "Sign-Language letters, k = 5" and len(run.class_names) == 24
    fe = run.results["feature extraction"]
    # validating on the test CSV: the last validation accuracy IS the test accuracy
    assert fe.history["val_accuracy"][-1] == pytest.approx(fe.test_accuracy, abs=1e-6)
    # ... and the page says so, instead of calling the validation images held out
    assert run.validation_is_test
    assert any("Validation here is the test CSV itself" in c.value for c in at.caption)


def test_a_comparison_waits_for_a_free_trainer(open_page, monkeypatch):
    """One limit for all training: with CNNVIZ_MAX_TRAINERS=1 and a Train-page run going,
    the comparison waits in the same line and starts when that run ends."""
    import threading

    from app_pages import _training as training_ui

    monkeypatch.setenv("CNNVIZ_MAX_TRAINERS", "1")
    at = open_page(PAGE)
    queue = training_ui.trainers().queue
    assert queue.max_running == 1
    release = threading.Event()
    other = queue.submit("another learner", lambda handle: release.wait(60), label="busy")
    assert other.state == "running"
    timer = threading.Timer(3.0, release.set)  # the other learner's run ends in 3 s
    timer.start()
    try:
        at.radio(key="tl_k").set_value("5")
        run = _train_small(at, "digits", epochs=1, fine_tune=1, scratch=1)
    finally:
        release.set()
        timer.cancel()
    assert run.status == "done" and list(run.results) == list(transfer.CONTENDERS)
    mine = [j for j in queue.jobs_of(at.session_state["learner_token"]) if j.label != "busy"]
    assert len(mine) == 1 and mine[0].state == "done"
    assert mine[0].started >= other.finished  # it waited for the busy trainer


def _stop_in_fine_tuning_epoch(epoch: int):
    """``transfer.compare`` as the page calls it, with Stop clicked in fine-tuning ``epoch``
    (an AppTest cannot click while the page runs; this is the same flag the click sets)."""
    import inspect

    real = transfer.compare

    def compare(*args, **kwargs):
        bound = inspect.signature(real).bind(*args, **kwargs)
        a = bound.arguments
        page_progress, page_stop = a.get("on_progress"), a.get("should_stop")
        clicked = []

        def on_progress(p):
            if p.contender == "fine-tuning" and p.epoch == epoch:
                clicked.append(True)
            if page_progress is not None:
                page_progress(p)

        a["on_progress"] = on_progress
        a["should_stop"] = lambda: bool(clicked) or bool(page_stop and page_stop())
        return real(*bound.args, **bound.kwargs)

    return compare


def test_a_stopped_run_says_who_finished_and_survives_a_reload(open_page, monkeypatch):
    """The issue: Stop in fine-tuning epoch 2 showed fine-tuning as if finished and said
    "nothing to compare"; a reload dropped the results and the model chosen for every page."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(transfer, "compare", _stop_in_fine_tuning_epoch(2))
    at = open_page(PAGE)
    at.radio(key="tl_k").set_value("5")
    run = _train_small(at, "digits", epochs=1, fine_tune=3, scratch=1)
    assert run.status == "stopped" and list(run.results) == ["feature extraction", "fine-tuning"]
    fe, ft = run.results["feature extraction"], run.results["fine-tuning"]
    assert fe.finished and not ft.finished
    assert (ft.stopped_at.stage, ft.stopped_at.epoch, ft.stopped_at.epochs) == ("fine-tuning", 2, 3)

    def shown(at) -> dict:
        return {
            "metrics": {m.label: m.value for m in at.metric},
            "info": [i.value for i in at.info],
            "markdown": [m.value for m in at.markdown],
        }

    page = shown(at)
    stop = ft.stopped_at
    # 25 labelled images, batches of 32: one batch per epoch, so epoch 2 ran whole
    assert (stop.batch, stop.batches) == (1, 1)
    assert page["metrics"] == {
        "feature extraction · test accuracy": f"{fe.test_accuracy:.1%}",
        "fine-tuning · stopped after fine-tuning epoch 2 of 3 · test accuracy so far":
            f"{ft.test_accuracy:.1%}",
    }  # fmt: skip
    assert page["info"] == [
        f"Stopped after {run.seconds:.0f} s of training: feature extraction finished; "
        "fine-tuning stopped after fine-tuning epoch 2 of 3; from scratch did not start."
    ]
    said = (
        f"Only feature extraction finished ({fe.test_accuracy:.1%} test accuracy); fine-tuning "
        f"was stopped after fine-tuning epoch 2 of 3 with {ft.test_accuracy:.1%} so far; from "
        "scratch did not start: there are not two finished contenders to compare."
    )
    assert said in page["markdown"] and not any("nothing to compare" in m for m in page["markdown"])
    # the stopped epoch's point sits where training stopped
    curves = _charts(at)["tl_curves"]
    ft_loss = next(t for t in curves.data if t.name == "fine-tuning · training" and t.xaxis == "x2")
    assert ft_loss.x[-1] == pytest.approx(1 + stop.epoch_fraction)

    # feature extraction is chosen for every page, then the learner reloads
    at.radio(key="tl_pick").set_value("feature extraction").run()
    at.button(key="tl_use").click().run()
    assert any("now use **feature extraction**" in s.value for s in at.success)
    token = at.session_state["learner_token"]
    frozen_before = [m.value for m in at.markdown][-1]

    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["learner"] = token  # the same link, a new session
    again.run()
    again.switch_page(PAGE).run()
    assert not again.exception, [e.value for e in again.exception]
    restored = again.session_state["tl_run"]
    assert restored.restored and restored.id == run.id
    assert shown(again) | {"markdown": None} == page | {"markdown": None}
    assert said in [m.value for m in again.markdown]
    assert any("kept for your link across reloads" in c.value for c in again.caption)
    # the curves and what was frozen come back too; the models do not (train again for those)
    assert {t.name for t in _charts(again)["tl_curves"].data} == {t.name for t in curves.data}
    again.radio(key="tl_pick").set_value("feature extraction").run()
    assert [m.value for m in again.markdown][-1] == frozen_before
    assert any("now use **feature extraction**" in s.value for s in again.success)
    again.radio(key="tl_pick").set_value("fine-tuning").run()
    assert again.button(key="tl_use").disabled
    assert any("not kept after a reload" in c.value for c in again.caption)
    # the model chosen for every page is that model, after the reload too
    again.switch_page("app_pages/predict.py").run(timeout=120)
    assert not again.exception, [e.value for e in again.exception]
    assert "feature extraction · digits 5–9, k = 5" in again.caption[0].value  # the badge
    active = again.session_state["active_model"]
    assert active.class_names == ("5", "6", "7", "8", "9") and not active.bundled
    assert [w.shape for w in active.model.weights] == [w.shape for w in fe.model.weights]
    assert all(
        (a == b).all()
        for a, b in zip(active.model.get_weights(), fe.model.get_weights(), strict=True)
    )
