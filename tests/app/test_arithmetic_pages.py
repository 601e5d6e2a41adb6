"""AppTest for the Convolution, Stride & padding and Pooling pages (through the router).

Every test drives widgets by key and checks that what the page shows changes with them.
"""

from __future__ import annotations

import base64
import gc
import io
import json

import numpy as np
import pytest

CONV, STRIDE, POOL = (
    "app_pages/convolution.py",
    "app_pages/stride_padding.py",
    "app_pages/pooling.py",
)


@pytest.fixture(autouse=True, scope="module")
def _frozen_gc():
    """Other tests import TensorFlow (~300k Python objects); freezing what exists keeps each
    AppTest rerun's garbage collections cheap (see benchmarks/bench_conv.py)."""
    gc.freeze()
    yield
    gc.unfreeze()


def _figure(at, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def _z(trace: dict) -> np.ndarray:
    """A trace's z, decoding plotly's typed-array form."""
    z = trace["z"]
    if isinstance(z, dict):
        shape = [int(v) for v in str(z["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.asarray(z, dtype=float)


def _codes(at) -> list[str]:
    return [c.value for c in at.code]


def _png(shape: tuple[int, ...]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full(shape, 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- convolution
def test_convolution_steps_fill_the_output(open_page):
    at = open_page(CONV)
    assert _codes(at) == ["1×1 + 2×2 + 5×3 + 6×4 = 44"]
    assert _figure(at)["data"][2]["text"][0] == ["44", "?", "?"]
    at.button(key="conv_step_next").click().run()
    assert _codes(at) == ["2×1 + 3×2 + 6×3 + 7×4 = 54"]
    assert any("Output cell (0, 1)" in m.value for m in at.markdown)
    assert _figure(at)["data"][2]["text"][0] == ["44", "54", "?"]
    at.slider(key="conv_step").set_value(9).run()
    assert _codes(at)[0].endswith("= 144")
    assert _figure(at)["data"][2]["text"][2] == ["124", "134", "144"]
    at.button(key="conv_step_prev").click().run()
    assert _codes(at)[0].endswith("= 134")


def test_convolution_binary_preset_bias_and_relu(open_page):
    at = open_page(CONV)
    at.selectbox(key="conv_preset").select_index(1).run()
    assert any("9 filter operations" in c.value for c in at.caption)
    assert _codes(at)[0].endswith("= 4")
    at.number_input(key="conv_bias").set_value(-5.0).run()
    assert _codes(at)[0].endswith("- 5 (bias) = -1")
    at.toggle(key="conv_relu").set_value(True).run()
    assert any("ReLU: max(0, -1) = **0**" in m.value for m in at.markdown)


def test_convolution_bad_cell_is_one_error_sentence(open_page):
    at = open_page(CONV)
    edits = {"edited_rows": {0: {"1": None}}, "added_rows": [], "deleted_rows": []}
    at.session_state["conv_input_0"] = edits
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The input must contain only numbers, but cell (1, 2) holds an empty cell."
    ]
    edits["edited_rows"] = {0: {"1": 7}}
    at.session_state["conv_input_0"] = edits
    at.run()
    assert not at.error and _codes(at) == ["1×1 + 7×2 + 5×3 + 6×4 = 54"]


def test_convolution_autoplay_advances(open_page):
    at = open_page(CONV)
    at.toggle(key="conv_step_play").set_value(True).run()
    assert at.session_state["conv_step"] == 2
    assert _codes(at)[0].endswith("= 54")


def test_convolution_image_mode_kernels_and_upload(open_page):
    at = open_page(CONV)
    at.segmented_control(key="conv_mode").set_value("Image").run()
    assert not at.exception
    ident = _z(_figure(at)["data"][1])
    assert ident.shape == (128, 128)
    at.selectbox(key="conv_kernel").set_value("sobel x").run()
    sobel = _z(_figure(at)["data"][1])
    assert not np.allclose(ident, sobel) and sobel.min() < 0
    at.selectbox(key="conv_kernel").set_value("custom").run()
    np.testing.assert_allclose(_z(_figure(at)["data"][1]), sobel)  # custom starts as Sobel x
    at.session_state["conv_kernel_custom"] = {
        "edited_rows": {1: {"1": None}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert "cell (2, 2) holds an empty cell" in at.error[0].value and not at.exception
    at.session_state["conv_kernel_custom"] = {
        "edited_rows": {},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.selectbox(key="conv_kernel").set_value("identity").run()
    at.selectbox(key="conv_img_src").set_value("Upload your own").run()
    at.file_uploader(key="conv_img_upload").set_value(("a.png", _png((30, 40)), "image/png"))
    at.run()
    assert _z(_figure(at)["data"][1]).shape == (30, 40)
    at.file_uploader(key="conv_img_upload").set_value(("b.png", b"junk", "image/png")).run()
    assert not at.exception and "not a PNG, JPEG" in at.error[0].value


def test_convolution_rgb_mode_sums_27_products(open_page):
    at = open_page(CONV)
    at.segmented_control(key="conv_mode").set_value("RGB").run()
    first = _codes(at)[0]
    assert first.count("×") == 27 and first.endswith("= -1")
    at.button(key="rgb_step_next").click().run()
    assert _codes(at)[0].endswith("= 3")
    assert len(_figure(at)["data"]) == 7  # 3 channels + 3 kernel slices + output


# ----------------------------------------------------------------------------- stride
def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_stride_changes_output_size_and_operations(open_page):
    at = open_page(STRIDE)
    assert _metrics(at)["Output size"] == "3×3" and _metrics(at)["Filter operations"] == "9"
    assert len(_figure(at)["frames"]) == 9
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


def test_impossible_setting_is_explained_not_a_crash(open_page):
    at = open_page(STRIDE)
    at.slider(key="sp_k").set_value(7).run()
    assert not at.exception
    assert len(at.error) == 1 and "larger than input 5" in at.error[0].value
    assert not at.metric
    at.radio(key="sp_padding").set_value("same").run()
    assert not at.error and _metrics(at)["Output size"] == "5×5"


# ----------------------------------------------------------------------------- pooling
def test_pooling_textbook_steps_and_modes(open_page):
    at = open_page(POOL)
    assert _codes(at) == ["max(1, 1, 5, 6) = 6"]
    at.button(key="pool_step_next").click().run()
    assert _codes(at) == ["max(2, 4, 7, 8) = 8"]
    at.slider(key="pool_step").set_value(4).run()
    out_text = _figure(at)["data"][1]["text"]
    assert out_text == [["6", "8"], ["3", "4"]]
    at.radio(key="pool_mode").set_value("avg").run()
    assert _codes(at) == ["(1 + 0 + 3 + 4) / 4 = 2"]
    at.slider(key="pool_size").set_value(3).run()
    assert any("4×4 → **1×1**" in c.value for c in at.caption)


@pytest.mark.parametrize("size", [2, 3])
def test_pooling_shift_demo(open_page, size):
    at = open_page(POOL)
    at.slider(key="pool_size").set_value(size).run()
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    shift = figures[-1]  # the last tab
    titles = [a["text"] for a in shift["layout"]["annotations"]]
    assert titles[-3:] == ["pooled: same as original"] * 2 + ["pooled: CHANGED"]
    assert np.asarray(_z(shift["data"][0])).shape == (3 * size, 3 * size)


def test_pooling_real_image_and_bad_cell(open_page):
    at = open_page(POOL)
    edges, pooled = (_z(t) for t in _figure(at, 1)["data"])
    assert edges.shape == (128, 128) and pooled.shape == (64, 64)
    at.slider(key="pool_size").set_value(4).run()
    at.slider(key="pool_stride").set_value(4).run()
    assert _z(_figure(at, 1)["data"][1]).shape == (32, 32)
    at.session_state["pool_input_0"] = {
        "edited_rows": {1: {"0": None}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The input must contain only numbers, but cell (2, 1) holds an empty cell."
    ]
