"""AppTest for the Experiments pages: translation lab, CNN from scratch, overfitting lab."""

from __future__ import annotations

import base64
import json
import re

import keras
import numpy as np
import pytest

TRANSLATION = "app_pages/translation.py"


def _chart(at, key: str) -> dict:
    """The plotly spec of the chart whose element id contains ``key``."""
    chart = next(c for c in at.get("plotly_chart") if key in c.proto.id)
    return json.loads(chart.proto.spec)


def _bars(at) -> dict[str, list[float]]:
    """Model name -> the ten probabilities drawn on the translation page's bar chart."""
    return {t["name"]: [float(v) for v in t["y"]] for t in _chart(at, "tr_bars")["data"]}


def _array(v) -> np.ndarray:
    """A plotly JSON array: a plain list, or numpy's base64 form ``{"dtype", "bdata", "shape"}``."""
    if isinstance(v, dict):
        flat = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return flat.reshape([int(n) for n in str(v.get("shape", len(flat))).split(",")])
    return np.asarray(v)


def _text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_translation_every_section_renders_with_real_numbers(open_page):
    at = open_page(TRANSLATION, timeout=300)
    assert not at.error
    heads = [h.value for h in at.subheader]
    assert [h.split(" · ")[0] for h in heads] == ["1", "2", "3", "4", "5"]
    # 1. The book's experiment: four models, the book's two code shifts and a true one.
    table = at.dataframe[0].value
    assert list(table["model"]) == ["MLP", "Book CNN", "Global-pooling CNN", "Shift-trained CNN"]
    assert list(table.columns)[1:] == [
        "no shift",
        "book's “1 px left”",
        "book's “2 px right”",
        "true 2 px right",
    ]
    assert table["no shift"].str.startswith("✓ 1").all()  # unshifted, all see the average 1
    assert any(re.search(r"“2 px right” code by \+(0\.9\d|1\.0\d) px", c.value) for c in at.caption)
    # 2. Equivariance: the identity holds inside the outline, said with the numbers.
    assert any("equals the moved map" in c.value for c in at.caption)
    eq = _chart(at, "tr_eq")["data"]
    heat = [t["colorscale"][0][1] for t in eq if t["type"] == "heatmap"]
    assert heat == ["#000000"] * 2 + ["#053061"] * 4  # two gray images, four signed maps
    # 3. Where the position comes back: three models, the book CNN's Flatten named.
    layers = _chart(at, "tr_layers")
    titles = [a["text"] for a in layers["layout"]["annotations"]]
    assert titles == ["MLP", "Book CNN", "Global-pooling CNN"]
    text = _text(at)
    assert "`flatten` (Flatten, which lines the map up position by position)" in text
    assert "`global_pool` (GlobalMaxPooling2D, which keeps no positions)" in text
    # 4. Accuracy against shift: the stated worst accuracies, curves and dx × dy maps.
    worst = {m.label.split(":")[0]: float(m.value.rstrip("%")) for m in at.metric}
    assert worst["Global-pooling CNN"] >= 95.0 and worst["MLP"] <= 60.0
    # each delta is the difference of the two percentages shown, in points
    for m in at.metric:
        delta = re.fullmatch(r"([-+]?\d+\.\d) points from (\d+\.\d) % unshifted", m.delta)
        assert delta, m.delta
        shown = float(m.value.rstrip(" %"))
        assert float(delta[1]) == pytest.approx(shown - float(delta[2]), abs=1e-9)
    # section 3 defines the change it plots, and explains values over 100 %
    assert "‖after − before‖ / ‖before‖" in text
    assert _chart(at, "tr_layers")["layout"]["yaxis"]["title"]["text"] == "change, % of ‖before‖"
    assert len(_chart(at, "tr_heatmaps")["data"]) == 4
    # 5. The conclusion, generated from the same numbers.
    assert "**Global-pooling CNN** keeps its accuracy" in text
    assert "**MLP** collapses" in text and "Most tolerant of shifts:" in text

    at.slider(key="tr_eq_dx").set_value(-4)
    at.select_slider(key="tr_layer_px").set_value(1)
    at.radio(key="tr_layer_dir").set_value("down").run()
    assert not at.exception and not at.error
    assert "cannot follow a shift that is not a whole number" in _text(at)


def test_translation_move_a_digit_yourself(open_page):
    at = open_page(TRANSLATION, timeout=300)
    before = _bars(at)
    assert set(before) == {"MLP", "Book CNN", "Global-pooling CNN", "Shift-trained CNN"}
    np.testing.assert_allclose([sum(v) for v in before.values()], 1, atol=1e-4)
    at.slider(key="tr_dx").set_value(0).run()
    after = _bars(at)
    assert not np.allclose(before["MLP"], after["MLP"], atol=1e-3)
    assert all(int(np.argmax(p)) == 1 for p in after.values())
    assert "With no shift the MLP says **1**" in _text(at)
    at.radio(key="tr_source").set_value("One test image").run()
    at.toggle(key="tr_beyond").set_value(True).run()
    at.select_slider(key="tr_n").set_value(250).run()
    assert not at.exception and not at.error
    beyond = next(c.value for c in at.caption if "after an 18° rotation the MLP keeps" in c.value)
    # its sample is stated, and its untouched numbers are set against section 4's
    assert beyond.startswith("On the first 250 test images: after an 18° rotation")
    assert "section 4 measures all 2,000 test images: a different sample" in beyond
    assert _chart(at, "tr_acc_curve")["layout"]["yaxis"]["tickformat"] == ".0%"


@pytest.fixture(scope="module")
def tiny_model():
    """A small global-pooling CNN trained for one epoch on 500 digits (a few seconds)."""
    from cnnviz import data

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.GlobalMaxPooling2D(name="global_pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name="tiny")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ds = data.load_mnist_sample()
    model.fit(data.prepare(ds.x_train[:500]), ds.y_train[:500], epochs=1, verbose=0)
    return model


def _make_active(at, model, label: str) -> None:
    from app_pages import _shared
    from cnnviz import data

    at.session_state[_shared._ACTIVE] = _shared.ActiveModel(
        model=model, label=label, class_names=data.DIGITS, card={}, bundled=False
    )


def test_translation_recomputes_for_the_learners_model(open_page, tiny_model):
    at = open_page(TRANSLATION, timeout=300)
    assert len(at.metric) == 4  # the lab's models only, until the toggle
    _make_active(at, tiny_model, "tiny run")
    at.run()
    at.toggle(key="tr_mine").set_value(True).run(timeout=300)
    assert not at.exception and not at.error
    mine = "tiny run (yours)"
    assert [m.label.split(":")[0] for m in at.metric][-1] == mine
    titles = [a["text"] for a in _chart(at, "tr_layers")["layout"]["annotations"]]
    assert titles[-1] == mine and len(titles) == 4
    assert len(_chart(at, "tr_heatmaps")["data"]) == 5
    assert f"**{mine}**" in _text(at)
    # Its grid really is this model's: the unshifted cell equals its own test accuracy.
    from cnnviz import data, translation

    ds = data.load_mnist_sample()
    own = translation.accuracy_vs_shift(tiny_model, ds.x_test, ds.y_test, [0])[0]
    metric = next(m for m in at.metric if m.label.startswith(mine))
    worst = float(metric.value.rstrip("%")) / 100
    assert worst <= own + 1e-9
    heat = _array(_chart(at, "tr_heatmaps")["data"][-1]["z"])
    assert heat[4, 4] == pytest.approx(100 * own, abs=1e-6)

    at.toggle(key="tr_mine").set_value(False).run()
    assert len(at.metric) == 4


def test_translation_refuses_a_model_for_other_images(open_page):
    from cnnviz import models

    at = open_page(TRANSLATION, timeout=300)
    _make_active(at, models.build("cifar_augment"), "cifar")
    at.run()
    at.toggle(key="tr_mine").set_value(True).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "cifar_augment takes images of shape (32, 32, 3); the lab's digits are (28, 28, 1)"
    ]
    assert len(at.metric) == 4


def test_experiment_settings_survive_navigation(open_page):
    at = open_page(TRANSLATION, timeout=300)
    at.select_slider(key="tr_layer_px").set_value(2).run()
    at.switch_page("app_pages/scratch.py")
    at.run()
    at.number_input(key="sc_seed").set_value(5).run()
    at.switch_page("app_pages/overfitting.py")
    at.run()
    at.number_input(key="of_n_train").set_value(700).run()
    at.switch_page("app_pages/home.py")
    at.run()
    at.switch_page(TRANSLATION)
    at.run()
    assert at.select_slider(key="tr_layer_px").value == 2
    at.switch_page("app_pages/scratch.py")
    at.run()
    assert at.number_input(key="sc_seed").value == 5
    at.switch_page("app_pages/overfitting.py")
    at.run()
    assert at.number_input(key="of_n_train").value == 700


def _metric(at, label: str) -> float:
    return float(next(m for m in at.metric if m.label == label).value)


def test_scratch_toy_trained_on_button_matches_model(open_page):
    at = open_page("app_pages/scratch.py")
    assert any("random starting weights" in i.value for i in at.info)
    assert not at.warning  # seed 0: the ReLU passes values for both inputs
    untrained = _metric(at, "model.predict")
    assert _metric(at, "By hand (numpy)") == untrained
    # The active model's layer table: the default model's layers, all tiny differences.
    table = at.dataframe[0].value
    blocks = [f"{kind}{i}" for i in (1, 2, 3) for kind in ("conv", "leaky", "pool", "dropout")]
    tail = ["flatten", "dense1", "leaky4", "dropout4", "output"]
    assert list(table["layer"]) == [*blocks, *tail]
    assert (table["max |numpy − Keras|"] < 1e-4).all()
    # The matrices speak the diverging language: negative blue, zero white.
    spec = _chart(at, "sc_k")
    assert spec["data"][0]["colorscale"][0][1] == "#053061"
    assert spec["data"][0]["zmin"] == -spec["data"][0]["zmax"]

    at.number_input(key="sc_epochs").set_value(100)
    at.button(key="sc_train").click().run()
    assert not at.exception and not at.error
    assert not any("random starting weights" in i.value for i in at.info)  # prompt gone
    # Seed 0 solves input #0 through the dense bias alone (its ReLU outputs 0): said as an
    # explanation, not as a fault.
    assert not at.warning
    solved = [i.value for i in at.info if i.value.startswith("For input #0 the ReLU outputs 0")]
    assert len(solved) == 1 and "class 0, right" in solved[0] and "needs none" in solved[0]
    hand, keras_p = _metric(at, "By hand (numpy)"), _metric(at, "model.predict")
    assert hand == keras_p != untrained
    assert hand < 0.5  # input #0 is mostly positive: class 0
    assert any("agree to 6 decimals" in s.value for s in at.success)
    assert not any("Dead ReLU" in w.value for w in at.warning)
    code = at.code[0].value
    assert code.count("out[") == 4 and "0.125×" in code  # the four 3×3 sums written out
    assert "-0.0000" not in code and not re.search(r"×\(?-?\d\.\d{3}\b\)?", code)  # 4 decimals
    assert "→ class **0**" in " ".join(m.value for m in at.markdown)

    at.radio(key="sc_input").set_value(1).run()  # the negative input, same trained model
    assert _metric(at, "By hand (numpy)") == _metric(at, "model.predict") > 0.5


def test_scratch_warns_only_about_a_relu_that_really_outputs_zero(open_page):
    at = open_page("app_pages/scratch.py")
    at.number_input(key="sc_seed").set_value(2).run()  # untrained seed 2: input #0 is dead
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and warnings[0].startswith("For input #0 the ReLU outputs 0")
    assert "Dead ReLU" not in warnings[0]
    # untrained, the dense bias is 0: the model answers sigmoid(0) = 0.5 for it, a tie
    assert "sigmoid(b) = 0.5000" in warnings[0] and "**tie**" in warnings[0]
    at.radio(key="sc_input").set_value(0).run()
    steps = " ".join(m.value for m in at.markdown)
    assert "**0.500000** → a **tie**" in steps and "class **0**" in steps


def test_overfitting_precomputed_then_tiny_live_run(open_page):
    at = open_page("app_pages/overfitting.py")
    # The bundled curves show the lesson at once, with the gap stated in words.
    assert at.radio(key="of_source").value == "precomputed"
    text = _text(at)
    # one sign convention, stated: positive = worse on validation, for loss and accuracy
    assert "*loss gap* = validation minus training data loss" in text
    assert "*accuracy gap* = training minus validation accuracy" in text
    assert "- **plain**, after 20 epochs: data loss 0.28 on validation" in text
    assert "(accuracy gap +4.8 points)" in text and "**plain** overfits" in text
    # L2 narrows the (penalty-free) loss gap but not the accuracy gap: said, not hidden
    assert "**L2** narrows the loss gap from 0.28 to 0.22, but leaves the accuracy gap" in text
    assert "**dropout** narrows the loss gap" in text and "smallest" not in text
    assert text.count("the two measures disagree") == 2  # dropout and L2
    before = text
    curves = _chart(at, "of_curves")
    # the Train page's convention: one colour per run, training solid, validation dashed
    from cnnviz.plots import style

    assert {(t["name"], t["line"]["color"], t["line"]["dash"]) for t in curves["data"]} == {
        (f"{run} · {who}", style.CATEGORICAL[i], dash)
        for i, run in enumerate(("plain", "dropout", "augmentation", "L2"))
        for who, dash in (("training", "solid"), ("validation", "dash"))
    }
    assert curves["layout"]["yaxis"]["title"]["text"] == "data loss (no L2 penalty)"
    # the curves drawn are the numbers the gaps are measured on
    from cnnviz import overfitting

    runs = overfitting.load_curves()[1]
    l2 = next(t for t in curves["data"] if t["name"] == "L2 · validation" and t["xaxis"] == "x4")
    assert _array(l2["y"]) == pytest.approx(runs["L2"]["val_data_loss"])

    at.multiselect(key="of_runs").set_value(["plain"])
    at.number_input(key="of_n_train").set_value(20)
    at.number_input(key="of_n_val").set_value(20)
    at.number_input(key="of_epochs").set_value(1)
    at.button(key="of_train").click().run(timeout=180)
    assert not at.exception and not at.error
    assert at.radio(key="of_source").value == "your run"
    assert any("Your run: 20 training and 20 validation images" in c.value for c in at.caption)
    live = [
        m.value for m in at.markdown if m.value.startswith("- **plain**, after 1 epoch: data loss")
    ]
    assert live and live[0] not in before
    quick = [m.value for m in at.markdown if m.value.startswith("- **")][-1]  # below the full data
    assert quick == live[0] and "dropout" not in quick
    # A 20-image run: the verdict says how little its numbers can tell.
    assert "one validation image is worth 5.0 points" in _text(at)

    at.radio(key="of_metric").set_value("accuracy").run()  # switching metric keeps the run
    assert at.radio(key="of_source").value == "your run" and not at.exception


def test_overfitting_full_data_experiment_comes_first(open_page):
    """The tutorial's experiment on all 60,000 images: the JSON's numbers, then the verdict."""
    from cnnviz import overfitting

    at = open_page("app_pages/overfitting.py")
    assert not at.error
    assert [h.value for h in at.header] == [
        "The tutorial's experiment, on all 60,000 training images",
        "Run it yourself: four ways to train on a few hundred MNIST digits",
    ]
    blob = json.loads(overfitting.TUTORIAL.read_text())
    source = at.caption[0].value
    assert "benchmarks/bench_fashion_tutorial.py --json` on NVIDIA H200 (Keras backend jax)" in (
        source
    )
    assert "48,000 training and 12,000 validation images" in source
    # the curves are the JSON's data losses and accuracies, training solid, validation dashed
    full = _chart(at, "of_full_curves")
    for name in ("plain", "dropout"):
        h = blob[name]["fit"]["history"]
        for who, dash, key in (("training", "solid", ""), ("validation", "dash", "val_")):
            for axis, metric in (("x", "data_loss"), ("x2", "data_accuracy")):
                tr = next(
                    t for t in full["data"] if t["name"] == f"{name} · {who}" and t["xaxis"] == axis
                )
                assert tr["line"]["dash"] == dash
                assert _array(tr["y"]) == pytest.approx(h[f"{key}{metric}"])
    # the table: both networks' final numbers equal to the JSON's, beside the tutorial's
    table = at.table[0].value
    cells = {(r["network"], r["measure"]): r for r in table.to_dict("records")}
    for name in ("plain", "dropout"):
        fit = blob[name]["fit"]
        assert cells[name, "test accuracy"]["ours"] == f"{100 * fit['test_accuracy']:.2f} %"
        assert cells[name, "test loss"]["ours"] == f"{fit['test_loss']:.4f}"
        assert cells[name, "validation loss, epoch 20"]["ours"] == (
            f"{fit['history']['val_loss'][-1]:.4f}"
        )
        assert cells[name, "validation accuracy, epoch 20"]["ours"] == (
            f"{100 * fit['history']['val_accuracy'][-1]:.2f} %"
        )
    assert cells["plain", "test accuracy"]["tutorial"] == "91.84 %"
    assert cells["plain", "test accuracy"]["difference"] == "0.37 points below the tutorial's"
    assert cells["dropout", "test accuracy"]["tutorial"] == "92.30 %"
    assert cells["dropout", "validation loss, epoch 20"]["tutorial"] == "—"
    # the sentences: the registered ones, on these numbers, in this order
    t = overfitting.load_tutorial_runs()
    gaps = overfitting.measure_gaps(t.histories)
    texts = [m.value for m in at.markdown]
    lines = "\n".join(f"- {overfitting.describe_gap(k, g)}" for k, g in gaps.items())
    verdict = overfitting.verdict(gaps, n_train=48_000, n_val=12_000)
    assert texts.index(lines) < texts.index(verdict)
    assert "lowest at epoch 8 (0.226) and then rose to 0.470 by epoch 20" in lines
    assert "lowest at epoch 15 (0.210) and ended 0.005 above it" in lines
    assert (
        verdict.startswith("**plain** overfits") and "**dropout** narrows the loss gap" in verdict
    )
    notes = " ".join(c.value for c in at.caption)
    assert "training loss of 0.194 (the mean over the epoch's batches, with dropout on)" in notes
    # the quick experiment still renders below, with its own curves
    assert (
        _chart(at, "of_curves")["layout"]["yaxis"]["title"]["text"] == "data loss (no L2 penalty)"
    )
