"""A link to this view, and a teacher's simplified view (issue 23, parts 1–2).

AppTests read the link from the page's "Link to this view" panel (``st.code``), open it in
a new session (a new learner: no ``?learner=``) and compare settings and numbers; the
Chromium tests do the same across two browser contexts.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages import _links
from cnnviz import conv, runs

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
CONV, HEAT = "app_pages/convolution.py", "app_pages/heatmaps.py"
PRESET = "Textbook: 5×5 binary image, 3×3 binary filter"  # the second preset: slug 1


def _open_panel(at: AppTest) -> None:
    """Open "Link to this view" (drawn only while open), as a click on it does."""
    if not at.session_state[_links.PANEL]:
        at.session_state[_links.PANEL] = True
        at.run()


def _link(at: AppTest) -> str:
    """The URL in the page's "Link to this view" panel (its last code block)."""
    _open_panel(at)
    (panel,) = [p for p in at.get("popover") if p.proto.popover.label == "Link to this view"]
    return panel.code[0].value


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def _open_link(url: str, page: str, learner: str | None = None) -> AppTest:
    """A new session opening ``url`` on ``page`` (AppTest names the page by its file)."""
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in _query(url).items():
        at.query_params[name] = value
    if learner:
        at.query_params["learner"] = learner
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _sums(at: AppTest) -> np.ndarray:
    """The output numbers the Convolution page's stepper received on this run."""
    return np.array(json.loads(at.get("bidi_component")[0].proto.json)["trace"]["sums"])


def _edit(at: AppTest, key: str, row: int, col: int, value: str) -> None:
    """Type ``value`` into one cell of a data editor, as the browser reports it."""
    at.session_state[key] = {"edited_rows": {row: {str(col): value}}, "added_rows": [],
                             "deleted_rows": []}  # fmt: skip


def _styles(at: AppTest) -> str:
    """Every ``st.html`` body of the run (style-only ones live outside the main area)."""
    found = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            if type(child).__name__ == "Html":
                found.append(child.proto.body)
            walk(child)

    walk(at._tree)
    return "\n".join(found)


def test_a_view_encodes_compactly_and_anything_else_is_refused():
    values = {"conv_stride": 2, "conv_p": 1, "heat_methods": ["gradcam", "saliency"],
              "sp_range": {"__tuple__": [1, 3]}, "conv_kernel_1_cells": [["1", "-4"]]}  # fmt: skip
    text = _links.encode_view(values)
    assert _links.decode_view(text) == values
    assert urllib.parse.quote(text, safe="") == text  # URL-safe as it is
    for bad in ("", "not base64!", "AAAA", _links.encode_view([1])[:-1], "A" * 9000):
        with pytest.raises(_links.LinkError):
            _links.decode_view(bad)
    bomb = _links.encode_view({"x": "0" * 70_000})  # inflates past the limit
    with pytest.raises(_links.LinkError, match="inflates"):
        _links.decode_view(bomb)


def test_convolution_link_reopens_custom_matrix_stride_2_same_for_a_new_learner(open_page):
    at = open_page(CONV)
    teacher = at.query_params["learner"]
    _edit(at, "conv_kernel_1", 1, 1, "-4")  # the custom matrix: centre -4
    at.selectbox(key="conv_preset").set_value(PRESET).run()
    at.radio(key="conv_stride").set_value(2).run()
    at.radio(key="conv_padding").set_value("same").run()
    x, k = conv.PRESETS[PRESET]
    k = k.copy()
    k[1, 1] = -4
    want = conv.conv2d(x, k, stride=2, padding="same")
    np.testing.assert_allclose(_sums(at), want)  # what the teacher sees
    url = _link(at)
    assert url.startswith("/convolution?view=")
    assert "learner" not in _query(url) and teacher not in url  # shares no runs

    b = _open_link(url, CONV)
    assert b.selectbox(key="conv_preset").value == PRESET
    assert b.radio(key="conv_stride").value == 2
    assert b.radio(key="conv_padding").value == "same"
    np.testing.assert_allclose(_sums(b), want)  # the same numbers, custom -4 included
    assert not b.toast  # every value fitted
    student = b.query_params["learner"]
    assert runs.valid_token(student) and student != teacher  # a new learner
    assert "view" not in b.query_params  # applied once

    b.radio(key="conv_stride").set_value(1).run()  # the learner changes it, then reloads
    again = _open_link(f"/convolution?learner={student}", CONV)
    assert again.radio(key="conv_stride").value == 1  # the link is not applied again
    assert again.radio(key="conv_padding").value == "same"


def test_a_link_wins_over_the_learners_saved_settings_on_its_first_run(open_page):
    at = open_page(CONV)
    token = at.query_params["learner"]
    at.radio(key="conv_stride").set_value(3).run()  # saved in the learner's folder
    url = "/convolution?view=" + _links.encode_view({"conv_stride": 2})
    mine = _open_link(url, CONV, learner=token)  # the learner opens a link, as themselves
    assert mine.radio(key="conv_stride").value == 2
    assert mine.query_params["learner"] == token  # the learner's own link is untouched


def test_heatmaps_link_reopens_two_methods_the_class_and_the_sample(open_page):
    at = open_page(HEAT)
    at.selectbox(key="heat_image").set_value(7).run()  # a bundled sample: a reference
    at.multiselect(key="heat_methods").set_value(["gradcam", "saliency"]).run()
    at.selectbox(key="heat_class").set_value(8).run()
    assert not at.exception
    chart = next(c for c in at.get("plotly_chart") if "heat_maps" in c.proto.id)
    url = _link(at)
    assert "learner" not in _query(url)
    assert _links.decode_view(_query(url)["view"])["@image"] == ["digits", 7, 0]

    b = _open_link(url, HEAT)
    assert b.multiselect(key="heat_methods").value == ["gradcam", "saliency"]
    assert b.selectbox(key="heat_class").value == 8
    assert any("bundled sample: digit 7" in c.value for c in b.caption)
    assert any("explaining class **8**" in m.value for m in b.markdown)
    got = next(c for c in b.get("plotly_chart") if "heat_maps" in c.proto.id)
    mine, theirs = json.loads(chart.proto.spec), json.loads(got.proto.spec)
    assert len(theirs["data"]) == len(mine["data"])
    assert [a["text"] for a in theirs["layout"]["annotations"]][1:] == [
        "Grad-CAM · conv3 7×7, upsampled to 28×28", "Vanilla saliency · input 28×28",
    ]  # fmt: skip
    for t_mine, t_theirs in zip(mine["data"], theirs["data"], strict=True):
        assert t_mine.get("z") == t_theirs.get("z")  # the same numbers, trace by trace


def test_a_predict_link_carries_the_bundled_model_by_name_never_its_bytes():
    from app_pages._shared import ActiveModel
    from cnnviz import data, explain, imaging, models

    model = models.load(models.bundled("book_mnist"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["active_model"] = ActiveModel(
        model, "book_mnist (pre-trained on mnist)", data.DIGITS, {"dataset": "mnist"}, True,
        {"bundled": "book_mnist"},
    )  # fmt: skip
    at.switch_page("app_pages/predict.py").run()
    at.selectbox(key="predict_digit").set_value(7).run()
    assert not at.exception
    view = _links.decode_view(_query(_link(at))["view"])
    assert view["@model"] == "book_mnist" and view["@image"] == ["digits", 7, 0]
    assert view["predict_digit"] == 7 and len(_link(at)) < 400  # references, not bytes

    b = _open_link(_link(at), "app_pages/predict.py")
    assert any("Model: **book_mnist" in c.value for c in b.caption)
    probs = explain.predict_proba(model, imaging.prepare_image(imaging.load_sample(7, 0)).array)
    assert b.metric[0].value == str(int(np.argmax(probs))) == at.metric[0].value
    assert b.metric[0].delta == at.metric[0].delta  # the same certainty, from book_mnist


def test_a_teacher_link_hides_controls_and_sections_and_the_page_still_works(open_page):
    at = open_page(CONV)
    assert not at.get("popover")[0].children  # closed: nothing drawn
    _open_panel(at)
    at.multiselect(key="link_hide").set_value(["conv_stride", "conv_dilation"]).run()
    at.selectbox(key="link_menu").set_value("section").run()
    url = _link(at)
    q = _query(url)
    assert q["hide"] == "conv_stride,conv_dilation" and q["sections"] == "Arithmetic"
    assert "learner" not in q

    b = _open_link(url, CONV)
    assert ".st-key-conv_stride, .st-key-conv_dilation {display: none !important;}" in _styles(b)
    menu = [p.proto.label for p in b.sidebar.get("page_link")]
    assert menu == ["Convolution", "Stride & padding", "Pooling"]  # no Training section
    x, k = conv.PRESETS[next(iter(conv.PRESETS))]
    np.testing.assert_allclose(_sums(b), conv.conv2d(x, k))  # the page still computes
    b.query_params.clear()  # a sidebar link drops the query string; the view stays
    b.switch_page("app_pages/pooling.py").run()
    assert not b.exception
    assert b.query_params["hide"] == "conv_stride,conv_dilation"
    assert "display: none" in _styles(b)


def test_bad_values_in_a_link_are_ignored_with_one_sentence(open_page):
    open_page(CONV)  # the server has drawn the page once: it knows its controls' values
    view = {"conv_stride": 7, "conv_bias": "abc", "zzz": 1, "learner": "x" * 22,
            "conv_relu": True}  # fmt: skip
    b = _open_link("/convolution?view=" + _links.encode_view(view), CONV)
    (toast,) = b.toast
    assert "stride" in toast.value and "bias" in toast.value and "zzz" in toast.value
    assert b.radio(key="conv_stride").value == 1 and b.number_input(key="conv_bias").value == 0
    assert b.toggle(key="conv_relu").value is True  # the good one is applied
    assert b.query_params["learner"] != "x" * 22  # a view never sets the learner
    x, k = conv.PRESETS[next(iter(conv.PRESETS))]
    np.testing.assert_allclose(_sums(b), np.maximum(conv.conv2d(x, k), 0))

    # a value the control refuses by raising (a slider out of range) is undone
    out_of_range = {"conv_padding": "explicit", "conv_p": 99}
    c = _open_link("/convolution?view=" + _links.encode_view(out_of_range), CONV)
    assert len(c.toast) == 1 and "usual settings" in c.toast[0].value
    assert c.radio(key="conv_padding").value == "valid"
    np.testing.assert_allclose(_sums(c), conv.conv2d(x, k))

    garbage = _open_link("/convolution?view=%21%21", CONV)
    assert len(garbage.toast) == 1 and "could not be read" in garbage.toast[0].value


# ----------------------------------------------------------------------------- real browser
@pytest.fixture(scope="module")
def two_learners():
    """One served app for this module's browser tests, and ``fresh(url)``: the page opened
    in a FRESH browser context (a new learner: no cookies, no storage, no session)."""
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location(
        "cnnviz_screenshot", Path(APP).parent / "scripts" / "screenshot.py"
    )
    shots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shots)
    if not Path(shots.CHROMIUM).exists():
        if os.environ.get("CNNVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{shots.CHROMIUM} is missing and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip("install chromium (apt-get install -y chromium) to run this test")
    sync_api = pytest.importorskip("playwright.sync_api")
    with shots.serve() as base, sync_api.sync_playwright() as pw:
        chrome = pw.chromium.launch(
            executable_path=shots.CHROMIUM, args=shots.CHROMIUM_ARGS, headless=True
        )

        def fresh(url: str):
            page = chrome.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(url if url.startswith("http") else base + url, wait_until="domcontentloaded")
            shots.wait_idle(page)
            return page

        try:
            yield base, fresh
        finally:
            chrome.close()


def _copy_link(page, shots) -> str:
    """Open "Link to this view" and read the URL its code block shows (what Copy copies)."""
    page.get_by_text("Link to this view", exact=True).click()
    code = page.locator('[data-testid="stPopoverBody"] code')
    code.wait_for()
    url = code.inner_text().strip()
    page.keyboard.press("Escape")  # closing it reruns the page
    shots.wait_idle(page)
    return url


def _type_cell(page, shots, grid, shape: tuple[int, int], row: int, col: int, value: str):
    """Type into one cell of a data editor (a canvas: double-click its place until the cell
    editor opens, type, Enter) and wait until the grid shows it."""
    box = grid.bounding_box()
    header = box["height"] - 35 * shape[0]  # rows are 35 px high, under one header row
    where = {"x": (col + 0.5) * box["width"] / shape[1], "y": header + (row + 0.5) * 35}
    editor = page.locator("textarea.gdg-input, #portal textarea").first
    for _ in range(5):
        grid.dblclick(position=where)
        try:
            editor.wait_for(state="visible", timeout=2000)
            break
        except Exception:  # the grid was still drawing: try again
            page.wait_for_timeout(300)
    from playwright.sync_api import expect

    page.wait_for_timeout(300)  # the editor selects its text once it has opened
    editor.fill(value)
    expect(editor).to_have_value(value)
    page.keyboard.press("Enter")
    expect(grid.locator("td").nth(row * shape[1] + col)).to_have_text(value, timeout=30_000)
    shots.wait_idle(page)


def _outputs(page, steps: int = 9) -> dict[str, str]:
    """Every output cell of the stepper, after stepping to the last window (in the browser)."""
    for _ in range(steps - 1):
        page.get_by_role("button", name="Next", exact=True).click()
    cells = page.locator(".cz-out-cell").all()
    return {c.get_attribute("data-out"): c.text_content() for c in cells}


@pytest.mark.browser
def test_a_copied_convolution_link_opens_the_same_view_in_a_fresh_browser(two_learners, shots):
    base, fresh = two_learners
    x, k = conv.PRESETS[PRESET]
    k = k.copy()
    k[1, 1] = -4
    want = conv.conv2d(x, k, stride=2, padding="same")
    teacher = fresh("/convolution")
    teacher.get_by_test_id("stSelectbox").first.click()
    teacher.get_by_role("option", name=PRESET).click()
    shots.wait_idle(teacher)
    grid = teacher.locator('[data-testid="stDataFrame"]').nth(1)
    _type_cell(teacher, shots, grid, k.shape, 1, 1, "-4")
    for group, label in (("Stride", "2"), ("Padding", "same")):
        teacher.get_by_role("radiogroup", name=group).get_by_text(label, exact=True).click()
        shots.wait_idle(teacher)
    shown = {f"{i},{j}": conv.format_number(want[i, j]) for i in range(3) for j in range(3)}
    assert _outputs(teacher) == shown  # the teacher's view: custom -4, stride 2, same
    url = _copy_link(teacher, shots)
    assert url.startswith(base + "/convolution?view=") and "learner=" not in url

    student = fresh(url)
    assert student.url.split("?")[0] == base + "/convolution"
    assert "view=" not in student.url and "learner=" in student.url  # a new learner, once
    assert student.url.split("learner=")[1] not in teacher.url
    assert _outputs(student) == shown  # the same numbers
    for group, label in (("Stride", "2"), ("Padding", "same")):
        radio = student.get_by_role("radiogroup", name=group).get_by_role("radio", name=label)
        assert radio.is_checked()
    kernel = student.locator('[data-testid="stDataFrame"]').nth(1)
    assert kernel.locator("td").nth(4).inner_text() == "-4"  # the typed cell travelled
    assert student.locator(shots.EXCEPTION).count() == 0


@pytest.mark.browser
def test_a_copied_heatmaps_link_with_two_methods_opens_the_same_maps(two_learners, shots):
    _, fresh = two_learners
    teacher = fresh("/heatmaps")
    for name in ("Grad-CAM++", "Layer-CAM"):  # keep Grad-CAM and Vanilla saliency
        teacher.get_by_role("button", name=f"Remove {name}", exact=True).click()
        shots.wait_idle(teacher)
    url = _copy_link(teacher, shots)
    assert "learner=" not in url
    student = fresh(url)
    z = """() => document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot')
              .data.map(t => JSON.stringify([t.type, t.z]))"""
    mine, theirs = teacher.evaluate(z), student.evaluate(z)
    assert len(mine) == len(theirs) == 1 + 2 + 2 * 2  # input, 2 maps, 2 outlines each
    assert mine == theirs  # the same numbers
    tags = student.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]')
    assert [t.get_attribute("aria-label") for t in tags.all()] == ["Grad-CAM", "Vanilla saliency"]


@pytest.mark.browser
def test_a_teacher_link_hides_stride_in_the_browser(two_learners, shots):
    _, fresh = two_learners
    url = "/convolution?hide=conv_stride,conv_dilation&sections=Arithmetic"
    student = fresh(url)
    assert student.locator(".st-key-conv_stride").count() == 1
    assert not student.locator(".st-key-conv_stride").is_visible()
    assert student.locator(".st-key-conv_padding").is_visible()
    assert student.get_by_role("radiogroup", name="Stride").count() == 0 or not (
        student.get_by_role("radiogroup", name="Stride").is_visible()
    )
    x, k = conv.PRESETS[next(iter(conv.PRESETS))]
    want = conv.conv2d(x, k)  # the page still computes: every output cell, stepped to
    assert _outputs(student) == {f"{i},{j}": conv.format_number(want[i, j])
                                 for i in range(3) for j in range(3)}  # fmt: skip
    assert student.locator('a[data-testid="stSidebarNavLink"]').count() == 0
    links = student.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]')
    titles = [t.split("\n")[-1] for t in links.all_inner_texts()]  # after the icon's name
    assert titles == ["Convolution", "Stride & padding", "Pooling"]


@pytest.mark.browser
def test_the_code_behind_a_view_downloads_as_a_notebook_in_the_browser(two_learners, shots):
    import ast

    _, fresh = two_learners
    page = fresh("/convolution")
    page.get_by_role("radiogroup", name="Stride").get_by_text("2", exact=True).click()
    shots.wait_idle(page)
    page.get_by_text("The code behind this view", exact=True).click()
    shown = page.locator('[data-testid="stExpanderDetails"] [data-testid="stCode"] code')
    shown.wait_for()
    code = shown.inner_text()
    assert "bias, stride, dilation = 0, 2, 1" in code  # the page's settings
    with page.expect_download() as done:
        page.get_by_role("button", name="Download convolution.ipynb").click()
    assert done.value.suggested_filename == "convolution.ipynb"
    notebook = json.loads(Path(done.value.path()).read_text())
    assert notebook["nbformat"] == 4 and notebook["cells"][0]["cell_type"] == "markdown"
    cells = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
    tree = ast.parse(code)
    tree.body = tree.body[1:]  # the docstring: the notebook's first (Markdown) cell
    assert ast.dump(ast.parse("\n\n".join(cells))) == ast.dump(tree)  # the program shown
    assert page.locator(shots.EXCEPTION).count() == 0
