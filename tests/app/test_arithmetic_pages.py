"""AppTest for the Convolution, Stride & padding and Pooling pages (through the router).

Every test drives widgets by key and checks what the page shows: the plotly figures, and
the data the in-browser stepper receives (the component's JSON), which must equal
``conv_steps`` / ``pool_steps`` for the same settings. Stepping itself runs in the
browser; the real-browser test at the end clicks through it in Chromium.
"""

from __future__ import annotations

import base64
import gc
import io
import json
from pathlib import Path

import numpy as np
import pytest

from cnnviz import conv, pooling

CONV, STRIDE, POOL = (
    "app_pages/convolution.py",
    "app_pages/stride_padding.py",
    "app_pages/pooling.py",
)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def _frozen_gc():
    """Other tests import TensorFlow (~300k Python objects); freezing what exists keeps each
    AppTest rerun's garbage collections cheap (see benchmarks/bench_conv.py)."""
    gc.freeze()
    yield
    gc.unfreeze()


def _figure(at, key: str) -> dict:
    (chart,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    return json.loads(chart.proto.spec)


def _z(trace: dict) -> np.ndarray:
    """A trace's z, decoding plotly's typed-array form."""
    z = trace["z"]
    if isinstance(z, dict):
        shape = [int(v) for v in str(z["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.asarray(z, dtype=float)


def _stepper(at, index: int = 0) -> dict:
    """What the in-browser stepper received on this run."""
    return json.loads(at.get("bidi_component")[index].proto.json)


def _png(shape: tuple[int, ...], value: int = 200) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full(shape, value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _edit(at, key: str, row: int, col: int, value) -> None:
    """Type ``value`` into one cell of a data editor, as the browser reports it."""
    at.session_state[key] = {
        "edited_rows": {row: {str(col): value}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()


def _assert_conv_trace(data: dict, x, k, bias=0.0, stride=1, padding="valid", dilation=1):
    steps = conv.conv_steps(x, k, bias, stride, padding, dilation)
    out = conv.conv2d(x, k, bias, stride, padding, dilation)
    trace = data["trace"]
    np.testing.assert_allclose(trace["sums"], out[..., 0] if out.ndim == 3 else out)
    assert [s["value"] for s in trace["steps"]] == [s.value for s in steps]
    assert [s["rows"] for s in trace["steps"]] == [list(s.rows) for s in steps]
    assert [s["cols"] for s in trace["steps"]] == [list(s.cols) for s in steps]
    assert [s["padded"] for s in trace["steps"]] == [s.padded.tolist() for s in steps]
    for got, want in zip(trace["steps"], steps, strict=True):
        products = want.products if want.products.ndim == 3 else want.products[..., None]
        np.testing.assert_allclose(got["products"], np.moveaxis(products, -1, 0))
        np.testing.assert_allclose(got["subtotals"], products.sum(axis=(0, 1)))


# ----------------------------------------------------------------------------- convolution
def test_convolution_stepper_receives_the_textbook_trace(open_page):
    at = open_page(CONV)
    data = _stepper(at)
    x, k = conv.PRESETS[next(iter(conv.PRESETS))]
    _assert_conv_trace(data, x, k)
    assert data["step"] == 0 and data["trace"]["steps"][0]["lines"] == [
        "1×1 + 2×2 + 5×3 + 6×4 = 44"
    ]
    assert data["palette"]["diverging"][5] == [0.5, "#ffffff"]
    assert any("output 3×3 after 9 filter operations" in c.value for c in at.caption)


def test_convolution_stride_padding_dilation_with_values(open_page):
    at = open_page(CONV)
    x, k = conv.PRESETS["Textbook: 5×5 binary image, 3×3 binary filter"]
    at.selectbox(key="conv_preset").select_index(1).run()
    at.radio(key="conv_stride").set_value(2).run()
    at.radio(key="conv_padding").set_value("same").run()
    _assert_conv_trace(_stepper(at), x, k, stride=2, padding="same")
    assert any(
        "stride 2, padding 'same' (1 before, 1 after) → output 3×3 after 9" in c.value
        for c in at.caption
    )
    at.radio(key="conv_padding").set_value("explicit").run()
    at.slider(key="conv_p").set_value(2).run()
    _assert_conv_trace(_stepper(at), x, k, stride=2, padding=2)
    at.radio(key="conv_stride").set_value(1).run()
    at.radio(key="conv_dilation").set_value(2).run()
    _assert_conv_trace(_stepper(at), x, k, padding=2, dilation=2)
    assert not at.warning
    # Keras refuses stride > 1 with dilation > 1: said as Keras says it; cnnviz still steps.
    at.radio(key="conv_stride").set_value(2).run()
    assert len(at.warning) == 1 and conv.keras_refusal(2, 2) in at.warning[0].value
    assert "you can step through it: output 3×3" in at.warning[0].value and not at.error
    _assert_conv_trace(_stepper(at), x, k, stride=2, padding=2, dilation=2)


def test_convolution_refused_and_impossible_is_one_error_not_a_promise(open_page):
    """The issue: binary preset, stride 2, dilation 3 showed "cnnviz still computes it … step
    through it" above "the kernel spans 7 cells but the padded input has only 5"."""
    at = open_page(CONV)
    at.selectbox(key="conv_preset").select_index(1).run()
    at.radio(key="conv_stride").set_value(2).run()
    at.radio(key="conv_dilation").set_value(3).run()
    assert not at.exception and not at.warning and not at.get("bidi_component")
    assert (
        [e.value for e in at.error]
        == [conv.settings_verdict((5, 5), (3, 3), 2, "valid", 3)]
        == [
            "The kernel spans 7 cells along each axis (3 weights, dilation 3) but the padded input "
            "has only 5, so no window fits: there is nothing to compute or step through. It fits "
            "with dilation 2 or less, with padding 1 or more, or with padding 'same'. (Keras also "
            "refuses stride 2 with dilation 3, whatever the padding.)"
        ]
    )
    # Each suggested change makes it compute (and step), with Keras's refusal as a warning.
    at.radio(key="conv_padding").set_value("same").run()
    assert not at.error and "you can step through it" in at.warning[0].value
    x, k = conv.PRESETS["Textbook: 5×5 binary image, 3×3 binary filter"]
    _assert_conv_trace(_stepper(at), x, k, stride=2, padding="same", dilation=3)
    at.radio(key="conv_padding").set_value("explicit").run()
    at.slider(key="conv_p").set_value(1).run()
    assert not at.error and len(at.warning) == 1
    _assert_conv_trace(_stepper(at), x, k, stride=2, padding=1, dilation=3)


def test_convolution_bias_and_relu_in_the_worked_sum(open_page):
    at = open_page(CONV)
    at.selectbox(key="conv_preset").select_index(1).run()
    at.number_input(key="conv_bias").set_value(-5.0).run()
    at.toggle(key="conv_relu").set_value(True).run()
    first = _stepper(at)["trace"]["steps"][0]
    assert first["lines"][0].endswith("- 5 (bias) = -1")
    assert first["lines"][1] == "ReLU: max(0, -1) = 0" and first["output"] == 0


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("abc", "'abc'"),
        ("2,5", "'2,5' (write decimals with a dot: 2.5)"),
        ("1e3", "'1e3' (write the number in full: 1000)"),
        (None, "an empty cell"),
    ],
)
def test_a_bad_cell_is_refused_by_its_0_based_position_and_the_figure_stays(
    open_page, typed, shown
):
    at = open_page(CONV)
    before = _stepper(at)["trace"]
    _edit(at, "conv_input_0", 0, 1, typed)  # row 0, col 1: where the figure shows "2"
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"The input must contain only numbers like 2, -1 or 0.5, but cell (0, 1) holds {shown}."
        " Until it holds a number, cnnviz uses that cell's last valid value, 2."
    ]
    assert _stepper(at)["trace"] == before  # the value it names is the one drawn
    assert _stepper(at)["trace"]["input"][0][0][1] == 2
    _edit(at, "conv_input_0", 0, 1, "7")
    assert not at.error
    assert _stepper(at)["trace"]["steps"][0]["lines"] == ["1×1 + 7×2 + 5×3 + 6×4 = 54"]


def test_a_bad_cell_never_freezes_the_other_cells(open_page):
    """With one cell bad, an edit of another cell is used at once (and the bad one's value
    is the one the sentence names)."""
    at = open_page(CONV)
    key = "conv_input_0"
    at.session_state[key] = {
        "edited_rows": {0: {"1": "abc"}, 1: {"0": "-3"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert len(at.error) == 1 and at.error[0].value.endswith("last valid value, 2.")
    trace = _stepper(at)["trace"]
    assert trace["input"][0][0][1] == 2 and trace["input"][0][1][0] == -3
    assert trace["steps"][0]["lines"] == ["1×1 + 2×2 + (-3)×3 + 6×4 = 20"]


def test_edits_and_mode_survive_a_mode_switch_and_a_page_change(open_page):
    """Edits and settings are the server's; the step is the browser tab's (it remembers it
    under the stepper's key, so stepping never costs a rerun: see the Chromium test)."""
    at = open_page(CONV)
    _edit(at, "conv_kernel_0", 1, 1, "-4")
    at.radio(key="conv_stride").set_value(2).run()
    at.segmented_control(key="conv_mode").set_value("Image").run()
    assert not at.get("bidi_component")
    at.segmented_control(key="conv_mode").set_value("Matrix").run()
    data = _stepper(at)
    x = conv.PRESETS[next(iter(conv.PRESETS))][0]
    _assert_conv_trace(data, x, [[1, 2], [3, -4]], stride=2)
    assert data["key"] == "conv_stepper" and data["step"] == 0
    at.switch_page(POOL).run()
    at.switch_page(CONV).run()
    assert at.radio(key="conv_stride").value == 2
    _assert_conv_trace(_stepper(at), x, [[1, 2], [3, -4]], stride=2)
    at.segmented_control(key="conv_mode").set_value("RGB").run()
    at.switch_page(STRIDE).run()
    at.switch_page(CONV).run()
    assert at.segmented_control(key="conv_mode").value == "RGB"


def test_reset_goes_back_to_the_preset(open_page):
    at = open_page(CONV)
    assert not at.button  # nothing edited: no Reset
    _edit(at, "conv_input_0", 0, 1, "7")
    at.button(key="conv_input_0_reset").click().run()
    assert _stepper(at)["trace"]["steps"][0]["lines"] == ["1×1 + 2×2 + 5×3 + 6×4 = 44"]
    assert not at.button
    at.toggle(key="conv_relu").set_value(True).run()  # the edit does not come back
    assert _stepper(at)["trace"]["steps"][0]["lines"][0] == "1×1 + 2×2 + 5×3 + 6×4 = 44"


def test_convolution_image_mode_shows_pictures_as_they_are(open_page):
    from PIL import Image

    at = open_page(CONV)
    at.segmented_control(key="conv_mode").set_value("Image").run()
    fig = _figure(at, "conv_img_fig")
    picture, feature = (_z(t) for t in fig["data"])
    landscape = Image.open(ROOT / "assets" / "images" / "scene.png").convert("L")
    np.testing.assert_allclose(picture, np.asarray(landscape) / 255.0)  # the sun stays bright
    assert picture.mean() > 0.5
    np.testing.assert_allclose(feature, picture, atol=1e-12)  # identity kernel
    assert "keeps the feature map the size of the input (128×128)" in at.caption[-1].value
    at.selectbox(key="conv_kernel").set_value("sobel x").run()
    sobel = _figure(at, "conv_img_fig")["data"][1]
    assert _z(sobel).min() < 0 and sobel["zmin"] == -sobel["zmax"]
    assert any("This is a 3×3 vertical-edge kernel" in c.value for c in at.caption)
    # The issue: the strongest responses are the frame the zero padding makes; they set the
    # colour range, and the page says so with the numbers the figure uses.
    fmap = np.abs(_z(sobel))
    frame_max, inside = fmap.max(), fmap[1:-1, 1:-1].max()
    assert frame_max > inside and sobel["zmax"] == frame_max
    (warning,) = at.warning
    assert f"They set the colour range (±{conv.format_number(frame_max)})" in warning.value
    assert f"inside the frame the strongest is {conv.format_number(inside)}" in warning.value
    assert "the zeros make them" in warning.value and "padding 'valid'" in warning.value
    at.radio(key="conv_img_padding").set_value("valid").run()  # the fix it offers
    valid = _figure(at, "conv_img_fig")
    assert _z(valid["data"][1]).shape == (126, 126) and not at.warning
    np.testing.assert_allclose(np.abs(_z(valid["data"][1])).max(), inside)
    assert valid["layout"]["annotations"][1]["text"] == "Feature map 126×126 (sobel x, valid)"
    assert any("126×126) is 2 rows and 2 columns smaller" in c.value for c in at.caption)
    at.radio(key="conv_img_padding").set_value("same").run()
    at.selectbox(key="conv_img_src").set_value("Upload your own").run()
    white = _png((30, 40), 250)  # a white-background upload stays white
    at.file_uploader(key="conv_img_upload").set_value(("w.png", white, "image/png")).run()
    np.testing.assert_allclose(_z(_figure(at, "conv_img_fig")["data"][0]), 250 / 255)
    at.file_uploader(key="conv_img_upload").set_value(("b.png", b"junk", "image/png")).run()
    assert not at.exception and "not a PNG, JPEG" in at.error[0].value


def test_convolution_custom_kernel_bad_cell(open_page):
    at = open_page(CONV)
    at.segmented_control(key="conv_mode").set_value("Image").run()
    at.selectbox(key="conv_kernel").set_value("custom").run()
    _edit(at, "conv_kernel_custom", 1, 1, "2,5")
    assert "cell (1, 1) holds '2,5'" in at.error[0].value and not at.exception
    assert _figure(at, "conv_img_fig")  # the last valid kernel is still applied


def test_convolution_rgb_has_per_channel_maps_and_subtotals(open_page):
    at = open_page(CONV)
    at.segmented_control(key="conv_mode").set_value("RGB").run()
    data = _stepper(at)
    x, k = conv.RGB_EXAMPLE
    _assert_conv_trace(data, x, k)
    trace = data["trace"]
    assert trace["channels"] == ["red", "green", "blue"]
    partials = np.asarray(trace["partials"])
    np.testing.assert_allclose(partials.sum(axis=0), trace["sums"])
    assert trace["steps"][1]["lines"][-1] == "6 + 0 + (-3) = 3"
    assert data["scales"]["kernel"] == {"scale": "diverging", "limits": [-1.0, 1.0]}


# ----------------------------------------------------------------------------- stride
def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_stride_changes_output_size_and_operations(open_page):
    at = open_page(STRIDE)
    assert _metrics(at)["Output size"] == "3×3" and _metrics(at)["Filter operations"] == "9"
    assert len(_figure(at, "sp_animation")["frames"]) == 9
    at.slider(key="sp_stride").set_value(2).run()
    assert _metrics(at)["Output size"] == "2×2" and _metrics(at)["Filter operations"] == "4"
    assert "{5 + 0 + 0 - 3}{2}" in at.latex[0].value
    at.radio(key="sp_padding").set_value("same").run()
    assert (
        _metrics(at)["Output size"] == "3×3" and _metrics(at)["Padding (before, after)"] == "1, 1"
    )
    at.radio(key="sp_padding").set_value("explicit").run()
    at.slider(key="sp_p").set_value(2).run()
    assert "{5 + 2 + 2 - 3}{2}" in at.latex[0].value and _metrics(at)["Output size"] == "4×4"


def test_stride_page_values_view_equals_conv_steps(open_page):
    at = open_page(STRIDE)
    at.slider(key="sp_n").set_value(7).run()
    at.slider(key="sp_stride").set_value(2).run()
    at.radio(key="sp_padding").set_value("same").run()
    x, k = conv.stride_example(7, 3)
    _assert_conv_trace(_stepper(at), x, k, stride=2, padding="same")
    assert any("Keras `valid` gives 3×3 and `same` gives 4×4" in c.value for c in at.caption)


def test_stride_page_states_kerass_refusal_and_unreached_cells(open_page):
    at = open_page(STRIDE)
    at.slider(key="sp_n").set_value(12).run()
    at.slider(key="sp_stride").set_value(4).run()
    at.slider(key="sp_dilation").set_value(3).run()
    assert len(at.warning) == 1 and conv.keras_refusal(4, 3) in at.warning[0].value
    assert not any("gives" in c.value for c in at.caption)  # no size Keras would not give
    assert any(c.value == conv.coverage_sentence(12, 3, 4, "valid", 3) for c in at.caption)
    x, k = conv.stride_example(12, 3)
    _assert_conv_trace(_stepper(at), x, k, stride=4, dilation=3)


def test_stride_page_coverage_for_the_issues_cases(open_page):
    at = open_page(STRIDE)
    at.slider(key="sp_n").set_value(11).run()
    at.slider(key="sp_k").set_value(2).run()
    at.slider(key="sp_stride").set_value(4).run()
    at.radio(key="sp_padding").set_value("explicit").run()
    at.slider(key="sp_p").set_value(4).run()
    (said,) = [c.value for c in at.caption if "never touches" in c.value]
    assert said == conv.coverage_sentence(11, 2, 4, 4)
    assert "windows jump over 2, 3, 6, 7 and 10" in said and "past the last window" not in said
    assert "2 of the 5 windows along each axis sit entirely in the padding" in said
    assert _metrics(at)["Output size"] == "5×5" and _metrics(at)["Filter operations"] == "25"
    # n=5, k=1, s=2, p=1: nothing is dropped; the 1×1 kernel is said to be what it is.
    at.slider(key="sp_n").set_value(5).run()
    at.slider(key="sp_k").set_value(1).run()
    at.slider(key="sp_stride").set_value(2).run()
    at.slider(key="sp_p").set_value(1).run()
    (said,) = [c.value for c in at.caption if "never touches" in c.value]
    assert "(5 + 1 + 1 − 1) / 2 = 3 exactly, so the ⌊ ⌋ drops nothing" in said
    assert not any("edge kernel" in m.value for m in at.markdown)
    assert any(
        "a 1×1 kernel of 2: each output is one input cell times 2" in m.value for m in at.markdown
    )
    x, k = conv.stride_example(5, 1)
    _assert_conv_trace(_stepper(at), x, k, stride=2, padding=1)
    # 'same' names ⌈n/s⌉, and the sentence never blames a ⌊ ⌋.
    at.slider(key="sp_n").set_value(6).run()
    at.radio(key="sp_padding").set_value("same").run()
    assert r"\left\lceil \frac{6}{2} \right\rceil = 3" in at.latex[0].value
    (said,) = [c.value for c in at.caption if "never touches" in c.value]
    assert "⌊" not in said and "'same' makes ⌈6/2⌉ = 3 windows" in said


def test_impossible_setting_is_explained_not_a_crash(open_page):
    at = open_page(STRIDE)
    at.slider(key="sp_k").set_value(7).run()
    assert not at.exception and not at.warning
    assert [e.value for e in at.error] == [
        "The kernel spans 7 cells along each axis (7 weights, no dilation) but the padded "
        "input has only 5, so no window fits: there is nothing to compute or step through. It "
        "fits with padding 1 or more, with padding 'same', with a kernel of 5 or less, or with "
        "an input of 7 or more."
    ]
    assert not at.metric and not at.get("bidi_component")
    at.radio(key="sp_padding").set_value("same").run()
    assert not at.error and _metrics(at)["Output size"] == "5×5"


# ----------------------------------------------------------------------------- pooling
def test_pooling_stepper_receives_pool_steps(open_page):
    at = open_page(POOL)
    x = pooling.PRESETS["Textbook 4×4"]
    trace = _stepper(at)["trace"]
    assert [s["lines"] for s in trace["steps"]] == [
        ["max(1, 1, 5, 6) = 6"],
        ["max(2, 4, 7, 8) = 8"],
        ["max(3, 2, 1, 2) = 3"],
        ["max(1, 0, 3, 4) = 4"],
    ]
    assert trace["output"] == [[6, 8], [3, 4]] and trace["steps"][0]["winner"] == [1, 1]
    at.radio(key="pool_mode").set_value("avg").run()
    at.radio(key="pool_padding").set_value("same").run()
    at.slider(key="pool_size").set_value(3).run()
    trace = _stepper(at)["trace"]
    steps = pooling.pool_steps(x, 3, 2, "same", "avg")
    assert [s["lines"] for s in trace["steps"]] == [[s.expression()] for s in steps]
    assert trace["steps"][0]["padded"] == steps[0].padded.tolist()
    at.radio(key="pool_padding").set_value("valid").run()
    assert any(
        c.value == "4×4, 3×3 average windows, stride 2, no padding → **1×1** in 1 window position."
        for c in at.caption
    )


def test_pooling_real_image_true_size_and_bad_cell(open_page):
    at = open_page(POOL)
    fig = _figure(at, "pool_img_fig")
    edges, pooled = (_z(t) for t in fig["data"])
    assert edges.shape == (128, 128) and pooled.shape == (64, 64)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["Feature map (edges) 128×128", "After max pooling 64×64"]
    at.slider(key="pool_size").set_value(4).run()
    at.slider(key="pool_stride").set_value(4).run()
    assert _z(_figure(at, "pool_img_fig")["data"][1]).shape == (32, 32)
    _edit(at, "pool_input_0", 1, 0, None)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The input must contain only numbers like 2, -1 or 0.5, but cell (1, 0) holds an "
        "empty cell. Until it holds a number, cnnviz uses that cell's last valid value, 5."
    ]
    assert _stepper(at)["trace"]["input"][0][1][0] == 5  # the value it names is the one used


@pytest.mark.parametrize(("size", "stride", "mode"), [(2, 2, "max"), (4, 4, "avg"), (2, 1, "sum")])
def test_pooling_shift_demo_follows_the_controls(open_page, size, stride, mode):
    at = open_page(POOL)
    at.slider(key="pool_size").set_value(size).run()
    at.slider(key="pool_stride").set_value(stride).run()
    at.radio(key="pool_mode").set_value(mode).run()
    at.radio(key="pool_padding").set_value("same").run()  # the demo stays unpadded
    demo = pooling.shift_demo(size, stride, mode)
    fig = _figure(at, "pool_shift_fig")
    for i, x in enumerate(demo.inputs):
        np.testing.assert_array_equal(_z(fig["data"][2 * i]), x)
        np.testing.assert_array_equal(_z(fig["data"][2 * i + 1]), demo.outputs[i])
    assert any(demo.summary() in m.value for m in at.markdown)


# ----------------------------------------------------------------------------- real browser
@pytest.mark.browser
def test_stepping_a_padded_strided_convolution_in_chromium(tmp_path, shots):
    """`streamlit run` + headless Chromium: set stride 2 and 'same' padding on the binary
    preset, press Next through every step of the component, and read the output cells."""
    name = "Textbook: 5×5 binary image, 3×3 binary filter"
    x, k = conv.PRESETS[name]
    want = conv.conv2d(x, k, stride=2, padding="same")  # 3×3, padded by 1 on every side
    with shots.serve() as base, shots.browser() as page:
        shots.visit(page, base, "/convolution")
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name=name).click()
        shots.wait_idle(page)
        for group, label in (("Stride", "2"), ("Padding", "same")):
            page.get_by_role("radiogroup", name=group).get_by_text(label, exact=True).click()
            shots.wait_idle(page)
        label = page.locator(".cz-label")
        assert label.inner_text() == "step 1 of 9"
        nxt = page.get_by_role("button", name="Next", exact=True)
        for k_step in range(2, 10):
            nxt.click()
            assert label.inner_text() == f"step {k_step} of 9"  # no server round trip
        cells = page.locator(".cz-out-cell")
        shown = {c.get_attribute("data-out"): c.text_content() for c in cells.all()}
        assert shown == {
            f"{i},{j}": conv.format_number(want[i, j]) for i in range(3) for j in range(3)
        }
        padded = page.locator(".cz-panel", has_text="padded to 7×7")
        assert padded.count() == 1  # the padding is drawn
        page.get_by_role("button", name="Previous", exact=True).click()
        assert label.inner_text() == "step 8 of 9"
        page.keyboard.press("ArrowRight")
        assert label.inner_text() == "step 9 of 9"
        cells.first.hover()  # hovering an output cell jumps to its window
        assert label.inner_text() == "step 1 of 9"
        page.mouse.move(0, 0)
        for _ in range(3):
            nxt.click()
        shots.shoot(page, tmp_path / "stepper.png")
        # The tab remembers the step (the server never hears of it): it survives Image
        # mode and back, and a page switch straight after a click, which once raced a
        # step report and left the next page blank.
        page.get_by_text("Image", exact=True).first.click()
        shots.wait_idle(page)
        page.get_by_text("Matrix", exact=True).first.click()
        shots.wait_idle(page)
        assert page.locator(".cz-label").inner_text() == "step 4 of 9"
        nxt.click()
        shots.visit(page, base, "/pooling")
        assert page.locator("h1").inner_text() == "Pooling"
        assert page.locator(".cz-label").count() == 1  # its own stepper drew
        shots.visit(page, base, "/convolution")
        assert page.locator(".cz-label").inner_text() == "step 5 of 9"
        assert page.locator(shots.EXCEPTION).count() == 0
