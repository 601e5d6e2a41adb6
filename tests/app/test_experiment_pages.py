"""AppTest for the Experiments pages: translation lab, CNN from scratch, overfitting lab."""

from __future__ import annotations

import re

import numpy as np


def _bars(at) -> dict[str, list[float]]:
    """Model name -> the ten probabilities drawn on the translation page's bar chart."""
    import json

    chart = next(c for c in at.get("plotly_chart") if "tr_bars" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    return {t["name"]: [float(v) for v in t["y"]] for t in spec["data"]}


def test_translation_shift_slider_changes_probabilities(open_page):
    at = open_page("app_pages/translation.py")
    text = " ".join(m.value for m in at.markdown)
    # The book's experiment is stated in words with our numbers.
    assert "After a 2-px right shift the MLP says" in text
    assert "After a 1-px left shift the CNN says" in text
    before = _bars(at)
    assert set(before) == {"MLP", "CNN", "CNN trained with shifts"}
    np.testing.assert_allclose([sum(v) for v in before.values()], 1, atol=1e-4)

    at.slider(key="tr_dx").set_value(0).run()
    assert not at.exception
    after = _bars(at)
    assert not np.allclose(before["MLP"], after["MLP"], atol=1e-3)
    # Unshifted, every model recognises the average 1.
    assert all(int(np.argmax(p)) == 1 for p in after.values())
    assert any("With no shift the MLP says **1**" in m.value for m in at.markdown)

    # A test image and another sweep: the page follows the controls without errors.
    at.radio(key="tr_source").set_value("One test image").run()
    at.radio(key="tr_kind").set_value("rotation")
    at.select_slider(key="tr_n").set_value(250).run()
    assert not at.exception and not at.error
    assert any(re.search(r"After an 18° rotation the MLP keeps", c.value) for c in at.caption)


def _metric(at, label: str) -> float:
    return float(next(m for m in at.metric if m.label == label).value)


def test_scratch_toy_trained_on_button_matches_model(open_page):
    at = open_page("app_pages/scratch.py")
    assert any("random starting weights" in i.value for i in at.info)
    untrained = _metric(at, "model.predict")
    assert _metric(at, "By hand (numpy)") == untrained
    # The active model's layer table: book_mnist's layers, all tiny differences.
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["conv1", "pool1", "flatten", "dense1", "dropout1", "output"]
    assert (table["max |numpy − Keras|"] < 1e-4).all()

    at.number_input(key="sc_epochs").set_value(100)
    at.button(key="sc_train").click().run()
    assert not at.exception and not at.error
    assert not at.info  # the "not trained yet" prompt is gone
    hand, keras_p = _metric(at, "By hand (numpy)"), _metric(at, "model.predict")
    assert hand == keras_p != untrained
    assert hand < 0.5  # input #0 is mostly positive: class 0
    assert any("agree to 6 decimals" in s.value for s in at.success)
    code = at.code[0].value
    assert code.count("out[") == 4 and "0.125×" in code  # the four 3×3 sums written out

    at.radio(key="sc_input").set_value(1).run()  # the negative input, same trained model
    assert _metric(at, "By hand (numpy)") == _metric(at, "model.predict") > 0.5


def test_overfitting_precomputed_then_tiny_live_run(open_page):
    at = open_page("app_pages/overfitting.py")
    # The bundled curves show the lesson at once, with the gap stated in words.
    assert at.radio(key="of_source").value == "precomputed"
    text = " ".join(m.value for m in at.markdown)
    assert "plain: after" in text and "The smallest gap is" in text
    before = text

    at.multiselect(key="of_runs").set_value(["plain"])
    at.number_input(key="of_n_train").set_value(20)
    at.number_input(key="of_n_val").set_value(20)
    at.number_input(key="of_epochs").set_value(1)
    at.button(key="of_train").click().run(timeout=180)
    assert not at.exception and not at.error
    assert at.radio(key="of_source").value == "your run"
    assert any("Your run: 20 training and 20 validation images" in c.value for c in at.caption)
    live = [m.value for m in at.markdown if m.value.startswith("- plain: after 1 epoch validation")]
    assert live and live[0] not in before
    assert "dropout" not in " ".join(m.value for m in at.markdown if m.value.startswith("- "))

    at.radio(key="of_metric").set_value("accuracy").run()  # switching metric keeps the run
    assert at.radio(key="of_source").value == "your run" and not at.exception


def test_translation_retrain_button_switches_to_the_learners_models(open_page):
    at = open_page("app_pages/translation.py")
    assert [o for o in at.radio(key="tr_models").options] == ["pre-trained (bundled)"]
    bundled = _bars(at)
    at.number_input(key="tr_n_train").set_value(100)
    at.number_input(key="tr_epochs").set_value(1)
    at.button(key="tr_retrain").click().run(timeout=180)
    assert not at.exception and not at.error
    assert at.radio(key="tr_models").value == "retrained by you"
    mine = _bars(at)
    assert set(mine) == set(bundled)
    np.testing.assert_allclose([sum(v) for v in mine.values()], 1, atol=1e-4)
    assert not np.allclose(mine["CNN"], bundled["CNN"], atol=1e-3)  # 1 epoch on 100 images
    # The book's experiment above always reports the bundled models.
    assert any("After a 2-px right shift the MLP says" in m.value for m in at.markdown)
    at.radio(key="tr_models").set_value("pre-trained (bundled)").run()
    np.testing.assert_allclose(_bars(at)["CNN"], bundled["CNN"], atol=1e-6)
