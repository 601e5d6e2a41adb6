"""AppTest: a bundled Fashion-MNIST model on Evaluate and on every 'Inside' page.

Each number a page shows is checked against a direct computation on the same inputs (the
bundled models, the bundled samples, Debian's Fashion-MNIST test set); each sentence about a
model looking at the other kind of image against :func:`cnnviz.models.mismatch_sentence`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from plotly_json import arr as _arr
from plotly_json import spec as _spec
from streamlit.testing.v1 import AppTest

from app_pages._shared import ActiveModel
from cnnviz import data, evaluation, explain, imaging, models, novelty, tutorial

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
PLAIN = "fashion_plain"
PLAIN_LABEL = "fashion_plain (pre-trained on fashion_mnist)"
DIGIT_LABEL = f"{models.DEFAULT_BUNDLED} (pre-trained on mnist-sample)"


def _style_problems(at) -> list[str]:
    """tests/test_plots_style.py's visual-language walker on every figure of the page."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "test_plots_style.py"
    spec = importlib.util.spec_from_file_location("_visual_language", path)
    walker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(walker)
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert figures
    return [p for fig in figures for p in walker.figure_problems(fig)]


def _fashion_active(name: str = PLAIN) -> ActiveModel:
    """The active model as Evaluate's "Use this model everywhere" makes it."""
    return ActiveModel(
        models.load(models.bundled(name)), f"{name} (pre-trained on fashion_mnist)",
        models.bundled_class_names(name), models.read_card(models.bundled(name)), True,
        {"bundled": name},
    )  # fmt: skip


def _open_with(page: str, active: ActiveModel) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["active_model"] = active
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _need_fashion_mnist() -> None:
    if data.fashion_mnist_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("dataset-fashion-mnist is not installed, and CI must have it")
        pytest.skip("sudo apt-get install dataset-fashion-mnist to run this test")


# ------------------------------------------------------------------------------ Predict


def test_a_fashion_model_on_predict_reads_a_bundled_sneaker_as_sneaker():
    active = _fashion_active()
    at = _open_with("app_pages/predict.py", active)
    # the first image is a sample of the model's own data, prepared Fashion-MNIST's way
    assert at.radio(key="predict_set").value == "clothes"
    assert at.selectbox(key="predict_garment").value == 7
    assert at.radio(key="predict_style_c1_fashion").value == "fashion"
    steps = _spec(at, "predict_steps")["layout"]["annotations"]
    titles = [a["text"].replace("<br>", " ") for a in steps]
    assert titles[1].startswith("Trimmed to the product") and titles[2].startswith("Longest side")
    assert titles[-2] == "Negated (light on black; 28×28)"
    x = imaging.prepare_image(imaging.load_sample(7, 0, "clothes"), style="fashion").array
    probs = explain.predict_proba(active.model, x)
    assert int(probs.argmax()) == 7
    assert at.metric[0].value == "Sneaker"  # a class name, not a unit number
    assert at.metric[0].delta == f"{novelty.percent(probs[7])} sure"
    bars = _spec(at, "predict_probs")["data"][0]
    assert bars["y"][0] == "Sneaker" and set(bars["y"]) <= set(data.FASHION_MNIST)
    verdict = next(c.value for c in at.caption if "sure of" in c.value)
    assert verdict.startswith(f'The model is {novelty.percent(probs[7])} sure of "Sneaker"')
    assert "digit" not in verdict  # no digit-space cue for a model of clothes
    assert any(m.value.startswith("- **The model's doubt") and "Not measured" in m.value
               for m in at.markdown)  # fmt: skip
    assert f"Model: **{PLAIN_LABEL}** · test accuracy 91.1%" in at.caption[0].value
    assert not at.warning  # a clothes model on clothes: nothing to warn about
    assert _style_problems(at) == []
    # a digit for the clothes model: the page says so, in one sentence
    at.radio(key="predict_set").set_value("digits").run()
    assert not at.exception
    assert at.selectbox(key="predict_digit").value == 3
    assert at.warning[0].value == models.mismatch_sentence("digits", "clothes", PLAIN_LABEL)
    assert at.metric[0].value.endswith("?")  # it still answers clothes, not to be trusted
    assert at.metric[0].value.rstrip("?") in data.FASHION_MNIST
    at.selectbox(key="predict_digit").set_value(7).run()
    assert imaging.which_sample(at.session_state["inside_image"][0]) == ("digits", 7, 0)


def test_a_digit_model_looking_at_clothes_says_so_on_predict_and_the_other_pages(open_page):
    at = open_page("app_pages/predict.py")
    assert at.radio(key="predict_set").value == "digits" and not at.warning
    at.radio(key="predict_set").set_value("clothes").run()
    at.selectbox(key="predict_garment").set_value(1).run()  # a trouser
    at.radio(key="predict_k").set_value(2).run()
    assert not at.exception
    assert imaging.which_sample(at.session_state["inside_image"][0]) == ("clothes", 1, 2)
    assert "bundled sample: Trouser (#3)" in " ".join(c.value for c in at.caption)
    wanted = models.mismatch_sentence("clothes", "digits", DIGIT_LABEL)
    assert wanted is not None and at.warning[0].value == wanted
    assert at.radio(key="predict_style_c1").value == "mnist"  # the digit model's default
    assert at.metric[0].label == "Best guess (not to be trusted)"
    assert at.metric[0].value.rstrip("?") in data.DIGITS
    verdict = at.warning[1].value  # never "nothing suggests it is out of its depth"
    assert verdict.startswith("Do not trust this") and "not of the kind the model" in verdict
    for page in ("app_pages/activations.py", "app_pages/heatmaps.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        caption = next(c.value for c in at.caption if c.value.startswith("Image: "))
        assert caption.endswith(f". {wanted}"), page
    # the Heatmaps picker offers the clothes too; a digit puts the sentence away
    options = at.selectbox(key="heat_image").options
    assert "Sample digit 3" in options and "Sample Sneaker" in options
    at.selectbox(key="heat_image").set_value(3).run()
    caption = next(c.value for c in at.caption if c.value.startswith("Image: "))
    assert caption.startswith("Image: bundled sample: digit 3 (#1)") and wanted not in caption


# --------------------------------------------------------------- Activations, Heatmaps, Filters


def test_a_fashion_model_on_activations_heatmaps_and_filters():
    active = _fashion_active()
    x = imaging.prepare_image(imaging.load_sample(7, 0, "clothes"), style="fashion").array
    at = _open_with("app_pages/activations.py", active)
    assert at.metric[0].value == "Sneaker"
    output = _spec(at, "act_fig_output")["data"][0]
    assert output["x"] == list(data.FASHION_MNIST)
    np.testing.assert_allclose(_arr(output["y"]), explain.predict_proba(active.model, x), atol=1e-5)
    np.testing.assert_allclose(_arr(_spec(at, "act_input")["data"][0]["z"]), x[..., 0], atol=1e-6)
    assert any(c.value.startswith("Image: bundled sample: Sneaker (#1) · preprocessing: "
                                  "Fashion-MNIST (trim") for c in at.caption)  # fmt: skip
    # Heatmaps: the classes by name, the evidence of the model for the sneaker
    at.switch_page("app_pages/heatmaps.py").run()
    assert not at.exception and not at.error
    options = at.selectbox(key="heat_class").options
    assert options == ["The predicted class", *(f"Class {n}" for n in data.FASHION_MNIST)]
    assert any("**Sneaker**" in m.value for m in at.markdown)
    assert at.selectbox(key="heat_image").options[1] == "Sample T-shirt/top"  # clothes first
    cam = _arr(_spec(at, "heat_maps")["data"][1]["z"])
    layer = explain.conv_layers(active.model)[-1]
    want = explain.evidence(active.model, x, "gradcam", layer)[7]
    np.testing.assert_allclose(cam, want, rtol=1e-4, atol=1e-6)
    assert _style_problems(at) == []
    # Filters: the dreams are titled by name and read by the other Fashion-MNIST model
    at.switch_page("app_pages/filters.py").run()
    assert not at.exception
    at.multiselect(key="filt_classes").set_value([7, 9])
    at.slider(key="filt_steps").set_value(20)
    at.button(key="filt_run").click().run()
    assert not at.exception
    titles = [a["text"].split("<br>")[0] for a in _spec(at, "filt_dreams")["layout"]["annotations"]]
    assert titles == ["class Sneaker", "class Ankle boot"]
    assert _style_problems(at) == []
    _, _, targets, dreams = at.session_state["filt_result"]
    other = models.load(models.bundled("fashion_dropout"))
    reads = [int(explain.predict_proba(other, d.image).argmax()) for d in dreams]
    sentence = explain.second_opinion_sentence(
        "fashion_dropout", targets, reads, data.FASHION_MNIST
    )
    assert sentence.startswith("fashion_dropout, a second model trained apart on the same data")
    assert any(sentence in c.value for c in at.caption)


# ------------------------------------------------------------------------------- Evaluate


def test_evaluate_a_fashion_model_on_the_fashion_mnist_test_set_and_its_rounding_trap(open_page):
    _need_fashion_mnist()
    at = open_page("app_pages/evaluate.py")
    assert PLAIN_LABEL in at.selectbox(key="eval_model").options
    at.selectbox(key="eval_model").set_value(PLAIN_LABEL).run(timeout=120)
    assert not at.exception and not at.error
    ds = data.load("fashion_mnist")
    ev = evaluation.evaluate(models.load(models.bundled(PLAIN)), data.prepare(ds.x_test), ds.y_test)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == evaluation.headline(ev)  # 91.12 % of 10,000, as the card says
    assert ev.accuracy == pytest.approx(0.9112) and metrics["Test images"] == "10,000"
    report = next(f.value for f in at.dataframe if "precision" in f.value.columns)
    assert list(report["class"])[:10] == list(data.FASHION_MNIST)
    pairs = next(f.value for f in at.dataframe if "predicted" in f.value.columns)
    assert pairs.to_dict("records") == evaluation.confused_pairs(ev.confusion, data.FASHION_MNIST)
    trap = tutorial.rounding_trap(ev.probs, ev.y_true, data.FASHION_MNIST[0])
    captions = [c.value for c in at.caption]
    assert tutorial.rounding_sentence(trap) in captions
    assert trap.changed == 17 and trap.correct_rounded == 9109  # the card's numbers
    case = evaluation.tutorial_rounding_case(9188, 0.9230, 10_000)
    assert case in captions and case.facts["lost"] == 42
    assert _style_problems(at) == []
    at.button(key="eval_use").click().run()
    assert at.session_state["active_model"].label == PLAIN_LABEL
    assert at.session_state["active_model"].class_names == data.FASHION_MNIST
    at.switch_page("app_pages/predict.py").run()
    assert not at.exception and at.metric[0].value == "Sneaker"


def test_evaluate_without_the_fashion_mnist_package_says_how_to_get_it(
    open_page, tmp_path, monkeypatch
):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")
    monkeypatch.delenv(data.ENV_FASHION_MNIST, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # and no download (no network)
    at = open_page("app_pages/evaluate.py")
    at.selectbox(key="eval_model").set_value(PLAIN_LABEL).run()
    assert not at.exception and not at.error
    info = [i.value for i in at.info]
    assert len(info) == 1 and data.FASHION_INSTALL in info[0]
    assert info[0].startswith("fashion_plain cannot be evaluated here")
    assert not at.metric  # no numbers without the test set
    at.button(key="eval_use").click().run()  # the model still works everywhere else
    assert at.session_state["active_model"].label == PLAIN_LABEL
    at.switch_page("app_pages/predict.py").run()
    assert not at.exception and at.metric[0].value == "Sneaker"


# --------------------------------------------------------------------------- Translation


def test_the_translation_lab_does_not_offer_a_fashion_model_as_a_digit_model():
    at = _open_with("app_pages/translation.py", _fashion_active())
    assert not [t for t in at.toggle if t.key == "tr_mine"]
    assert any(
        c.value.startswith(f"Your active model, **{PLAIN_LABEL}**, was not trained on digits")
        for c in at.caption
    )
    assert len(at.metric) == 4  # the lab's four digit models only
