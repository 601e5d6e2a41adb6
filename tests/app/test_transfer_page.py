"""AppTest of the Transfer learning page through the router, widgets by key, small settings."""

from __future__ import annotations

import dataclasses

import plotly.io as pio
import pytest

from cnnviz import transfer

PAGE = "app_pages/transfer.py"


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
    metrics = {m.label: m.value for m in at.metric}
    for name, r in run.results.items():  # the page shows the numbers the run measured
        assert metrics[f"{name} · test accuracy"] == f"{r.test_accuracy:.1%}"
    assert len(run.histories["fine-tuning"]["loss"]) == 4 and run.stage_epochs == 3
    assert len(run.histories["from scratch"]["loss"]) == 2
    assert transfer.advantage_sentence(run.results) in [m.value for m in at.markdown]
    curves = _charts(at)["tl_curves"]
    names = {t.name for t in curves.data}
    acc = run.results["fine-tuning"].test_accuracy
    assert f"fine-tuning · test {acc:.1%} (validation)" in names
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
