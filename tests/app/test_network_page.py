"""AppTest and Chromium for "Network, unit by unit" (app_pages/network.py).

The page runs the active model in numpy layer by layer (``cnnviz.network``) for the current
image, draws every layer in the overview component and explains one unit. These tests
check that what the page writes is the network's own numbers: the heading's value is
Keras's intermediate output at that unit, for every bundled model, every layer switched
to, a learner's stored run and an RGB model; the Chromium test clicks a ``conv2`` unit of
``handwriting_cnn`` in the overview, steps to another position and reads the stepper's
total equal to the value the overview shows for that unit.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages._shared import ActiveModel
from cnnviz import conv, data, imaging, models, network, runs

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
PAGE = "app_pages/network.py"
HEADING = re.compile(r"^\*\*(\S+) \((\w+)\) · (.+) · value (\S+)\*\*$")


def _open(active: ActiveModel | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if active is not None:
        at.session_state["active_model"] = active
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _heading(at) -> tuple[str, str, str, str]:
    found = [m.value for m in at.markdown if HEADING.match(m.value)]
    assert len(found) == 1, [m.value for m in at.markdown]
    return HEADING.match(found[0]).groups()


def _unit(at, shape) -> tuple[int, ...]:
    if len(shape) == 3:
        return tuple(int(at.number_input(key=k).value) for k in ("net_row", "net_col", "net_map"))
    return (int(at.number_input(key="net_index").value),)


def _keras_outputs(model, image: np.ndarray) -> dict[str, np.ndarray]:
    outs = [
        layer.output for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)
    ]
    names = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe = keras.Model(model.inputs, outs)
    values = probe.predict(image[None].astype("float32"), verbose=0)
    return {n: np.asarray(v)[0] for n, v in zip(names, values, strict=True)}


def _check_every_layer(at, model, image: np.ndarray) -> int:
    """Switch to every layer; the heading's value is Keras's output at the unit shown."""
    expected = _keras_outputs(model, image)
    layers = at.selectbox(key="net_layer").options
    checked = 0
    for option in layers:
        name = option.split(" (")[0]
        at.selectbox(key="net_layer").set_value(name).run()
        assert not at.exception, (name, [e.value for e in at.exception])
        layer, _kind, _where, shown = _heading(at)
        assert layer == name
        unit = _unit(at, expected[name].shape)
        want = float(expected[name][unit])
        assert shown == conv.format_number(want) or float(shown) == pytest.approx(
            want, rel=1e-4, abs=1e-3
        ), (name, unit, shown, want)
        checked += 1
    return checked


@pytest.mark.parametrize("name", models.bundled_names())
def test_the_page_explains_every_layer_of_every_bundled_model(name):
    model = models.load(models.bundled(name))
    label = f"{name} (pre-trained)"  # label
    active = ActiveModel(model, label, models.bundled_class_names(name), {}, True)
    at = _open(active)
    # no card: the page shows the first bundled 3 with MNIST preprocessing
    image = imaging.prepare_image(imaging.load_sample(3, 0)).array
    assert _check_every_layer(at, model, image) == len(model.layers) - 1
    assert not at.error


def test_the_default_opens_conv2_at_its_strongest_unit_with_the_stepper():
    at = _open()
    layer, kind, _where, value = _heading(at)
    assert (layer, kind) == ("conv2", "Conv2D")
    model = models.load(models.bundled(models.DEFAULT_BUNDLED))
    image = imaging.prepare_image(imaging.load_sample(3, 0)).array
    conv2 = _keras_outputs(model, image)["conv2"]
    unit = _unit(at, conv2.shape)
    assert unit[:2] == np.unravel_index(np.argmax(conv2[..., unit[2]]), conv2.shape[:2])
    assert float(value) == pytest.approx(conv2[unit], abs=1e-3)
    # the caption names the channel that contributes most, and the written-out lines end
    # at the same value
    caption = [c.value for c in at.caption if "contributes most" in c.value]
    assert len(caption) == 1 and caption[0].endswith(f"the sum is {value}.")
    code = [c.value for c in at.code]
    assert any(line.split("= ")[-1] == value for c in code for line in c.splitlines())


def test_follow_it_back_opens_the_input_unit_it_names():
    at = _open()
    buttons = [b for b in at.button if b.key and b.key.startswith("net_back_")]
    assert buttons, "no follow-it-back buttons"
    label = buttons[0].label  # "dropout1 · map 22, row 8, column 8 = 0.123"
    buttons[0].click().run()
    assert not at.exception
    layer, _kind, where, value = _heading(at)
    assert label.startswith(f"{layer} · {where}")
    assert label.endswith(f"= {value}")


def test_a_link_from_activations_opens_that_map(open_page):
    at = open_page("app_pages/activations.py")
    at.selectbox(key="act_zoom_layer").set_value("pool1").run()
    at.number_input(key="act_zoom_map").set_value(5).run()
    how = [b for b in at.button if b.key and b.key.endswith("_how")]
    assert len(how) == 1
    how[0].click().run()
    assert not at.exception
    layer, kind, where, _value = _heading(at)
    assert (layer, kind) == ("pool1", "MaxPooling2D") and where.startswith("map 5,")


def test_a_learners_stored_run_opens_and_explains_its_batch_norm():
    keras.utils.set_random_seed(0)
    spec = "conv filters=4 kernel=3 activation=relu\nbatchnorm\npool size=2\ndense units=8"
    model = models.build_custom(models.parse_blocks(spec), (28, 28, 1), 10)
    token = runs.new_token()
    store = runs.RunStore(runs.default_root())
    record = runs.RunRecord(
        id="", number=0, model_name="custom", dataset="mnist-sample",
        class_names=list(data.DIGITS), config={"epochs": 1}, status="done",
        message="Trained 1 epoch.", history={"loss": [1.0]}, points={}, blocks=spec,
    )  # fmt: skip
    saved = store.save_run(token, record, model, card={"model": "custom"})
    store.set_active(token, {"run": saved.id})
    at = _open(query={runs_param(): token})
    assert "#1 custom" in at.caption[0].value, [c.value for c in at.caption]
    stored = store.load_model(token, saved.id)
    image = imaging.prepare_image(imaging.load_sample(3, 0)).array
    assert _check_every_layer(at, stored, image) == len(model.layers) - 1
    bn = next(la.name for la in model.layers if isinstance(la, keras.layers.BatchNormalization))
    at.selectbox(key="net_layer").set_value(bn).run()
    assert any("moving mean" in c.value for c in at.code), [c.value for c in at.code]
    table = at.dataframe[0].value
    assert list(table["statistic"])[:2] == ["moving mean", "moving variance"]
    moving = np.asarray(stored.get_layer(bn).moving_mean.numpy())
    assert float(table["value"][0]) == pytest.approx(float(moving[_unit(at, (1, 1, 1))[2]]))


def runs_param() -> str:
    from app_pages._shared import LEARNER_PARAM

    return LEARNER_PARAM


def test_an_rgb_model_opens_with_three_input_channels():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    rgb = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x))
    names = tuple(f"c{i}" for i in range(10))
    at = _open(ActiveModel(rgb, "my CIFAR model", names, {}, False))
    layer, kind, _where, _value = _heading(at)
    assert (layer, kind) == ("conv1", "Conv2D")  # the only conv: its strongest unit
    caption = [c.value for c in at.caption if "input channel" in c.value or "red" in c.value]
    assert caption, [c.value for c in at.caption]
    # the three colour channels each give a line of the sum
    code = "\n".join(c.value for c in at.code)
    assert all(channel in code for channel in ("red", "green", "blue")), code
    at.selectbox(key="net_layer").set_value("output").run()
    assert not at.exception
    assert any("softmax" in c.value for c in at.caption)


def test_a_layer_without_a_numpy_version_says_so_and_the_rest_works():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.LayerNormalization(name="norm")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x))
    at = _open(ActiveModel(model, "mine", tuple(data.DIGITS), {}, False))
    at.selectbox(key="net_layer").set_value("norm").run()
    assert not at.exception
    assert len(at.info) == 1 and "norm" in at.info[0].value
    at.selectbox(key="net_layer").set_value("output").run()
    assert not at.exception and not at.info
    expected = _keras_outputs(model, imaging.prepare_image(imaging.load_sample(3, 0)).array)
    _layer, _kind, _where, value = _heading(at)
    unit = _unit(at, expected["output"].shape)
    assert float(value) == pytest.approx(float(expected["output"][unit]), abs=1e-3)


def test_the_overview_view_holds_every_layer_with_the_networks_values():
    at = _open()
    model = models.load(models.bundled(models.DEFAULT_BUNDLED))
    image = imaging.prepare_image(imaging.load_sample(3, 0)).array
    net = network.run(model, image)
    view = network.overview(net, 8)
    assert [c["name"] for c in view["columns"]] == ["image", *[la.name for la in net.layers]]
    expected = _keras_outputs(model, image)
    for col in view["columns"][1:]:
        want = expected[col["name"]]
        if col["type"] == "maps":
            for m in col["maps"]:
                np.testing.assert_allclose(m["values"], want[..., m["index"]], rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_allclose(col["values"], want, rtol=1e-5, atol=1e-5)
    assert at.slider(key="net_max_maps").value == 8


# ------------------------------------------------------------------------------ Chromium
@pytest.mark.browser
def test_clicking_a_conv2_unit_in_chromium_steps_to_the_same_total(shots, tmp_path):
    """Click a conv2 unit in the overview, step once, and read the stepper's total (the
    last line of the worked sum) equal to the value the overview shows for that unit."""
    with shots.serve() as base, shots.browser(1280, 800) as page:
        shots.visit(page, base, "/network")
        page.wait_for_selector(".nv-column", timeout=60_000)
        tile = page.locator('.nv-column[data-layer="conv2"] .nv-tile[data-map="5"] img.nv-base')
        tile.scroll_into_view_if_needed()
        box = tile.bounding_box()
        cell = box["width"] / 14  # conv2 maps are 14×14
        x, y = box["x"] + 6.5 * cell, box["y"] + 4.5 * cell  # row 4, column 6
        page.mouse.move(x, y, steps=2)
        status = page.locator(".nv-status")
        page.wait_for_function(
            "() => { const s = [...document.querySelectorAll('*')].flatMap(e => e.shadowRoot ?"
            " [...e.shadowRoot.querySelectorAll('.nv-status')] : []); return s.some(e =>"
            " e.dataset.unit === '4,6,5'); }",
            timeout=10_000,
        )
        assert status.get_attribute("data-layer") == "conv2"
        clicked = float(status.get_attribute("data-value"))
        assert status.inner_text().startswith(
            f"conv2 · map 5 · row 4, col 6 = {conv.format_number(clicked)}"
        )
        page.mouse.click(x, y)
        shots.wait_idle(page)
        heading = page.get_by_text(re.compile(r"^conv2 \(Conv2D\) · map 5, row 4, column 6")).first
        heading.wait_for(timeout=30_000)
        worked = page.locator(".cz-worked")
        worked.wait_for(timeout=30_000)

        def total() -> str:  # the worked sum's total: "… + (-0.067) (bias) = 1.833"
            lines = worked.inner_text().strip().splitlines()
            return next(line for line in lines if "(bias) = " in line).split("= ")[-1]

        assert total() == conv.format_number(clicked)
        # one step on: the next position, whose value the overview also shows
        page.locator(".cz-next").click()
        label = page.locator(".cz-label").inner_text()
        row, col = divmod(int(label.split()[1]) - 1, 14)
        assert (row, col) == (4, 7)
        tile.scroll_into_view_if_needed()  # the page has rerun: find the tile again
        box = tile.bounding_box()
        page.mouse.move(box["x"] + 7.5 * cell, box["y"] + 4.5 * cell, steps=2)
        page.wait_for_timeout(300)
        assert status.get_attribute("data-unit") == "4,7,5"
        assert total() == conv.format_number(float(status.get_attribute("data-value")))
        # the stepper's last line is the value after LeakyReLU: leaky2's map at that unit
        leaky = page.locator('.nv-column[data-layer="leaky2"] .nv-tile[data-map="5"] img.nv-base')
        lbox = leaky.bounding_box()
        page.mouse.move(lbox["x"] + 7.5 * cell, lbox["y"] + 4.5 * cell, steps=2)
        page.wait_for_timeout(300)
        assert status.get_attribute("data-layer") == "leaky2"
        assert status.get_attribute("data-unit") == "4,7,5"
        last = worked.inner_text().strip().splitlines()[-1]
        assert last.split()[-1] == conv.format_number(float(status.get_attribute("data-value")))
        shots.shoot(page, tmp_path / "network.png")
