"""A learner's link and choices survive page changes and reloads (AppTest).

A reload or a bookmark is a new Streamlit session with the same ``?learner=`` link: every
page must keep the link in the URL, and what the learner chose (the Train form, the
overlay, the current image, the active model) comes back from their folder on disk.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz import imaging, runs
from streamlit_app import PAGES

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def _reload(token: str, page: str) -> AppTest:
    """A new session (a reload, a bookmark) of the learner ``token`` on ``page``."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["learner"] = token
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_every_page_keeps_the_learners_link_even_when_the_url_lost_it(open_page):
    at = open_page("app_pages/home.py")
    token = at.query_params["learner"]
    assert runs.valid_token(token)
    for _section, file, _title, _icon in PAGES:
        if file == "app_pages/train.py":
            continue  # the Train page itself is checked by the training tests
        at.query_params.pop("learner", None)  # a sidebar link drops the query string
        at.switch_page(file).run()
        assert not at.exception, (file, [e.value for e in at.exception])
        assert at.query_params.get("learner") == token, file  # the same learner, not a new one
        if file != "app_pages/home.py":  # the README: every page ends with its code
            assert "The code behind this view" in [e.label for e in at.expander], file
            downloads = [d.proto.label for d in at.get("download_button")]
            py = [d for d in downloads if d.endswith(".py")]
            assert py and py[-1][:-3] + ".ipynb" in downloads, (file, downloads)  # and a notebook


def test_the_train_form_and_overlay_survive_a_reload(open_page):
    at = open_page("app_pages/train.py")
    token = at.query_params["learner"]
    at.selectbox(key="train_model").set_value("cookbook_cnn").run()
    at.number_input(key="train_epochs").set_value(7).run()
    at.select_slider(key="train_lr").set_value(0.1).run()
    at.toggle(key="train_log").set_value(True).run()
    at.slider(key="train_smooth").set_value(0.3).run()
    assert not at.exception

    again = _reload(token, "app_pages/predict.py")  # the reload lands on another page first
    again.switch_page("app_pages/train.py").run()
    assert not again.exception
    assert again.selectbox(key="train_model").value == "cookbook_cnn"
    assert again.number_input(key="train_epochs").value == 7
    assert again.select_slider(key="train_lr").value == 0.1
    assert again.toggle(key="train_log").value is True
    assert again.slider(key="train_smooth").value == 0.3

    # another learner starts from the defaults
    other = open_page("app_pages/train.py")
    assert other.query_params["learner"] != token
    assert other.number_input(key="train_epochs").value == 3
    assert other.toggle(key="train_log").value is False


def _jpeg_of_sample(digit: int) -> bytes:
    img = Image.open(io.BytesIO(imaging.load_sample(digit, 1))).convert("RGB")
    buf = io.BytesIO()
    img.resize((112, 112)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _metric(at: AppTest) -> str:
    return at.metric[0].value


def test_the_current_image_and_its_source_survive_a_reload(open_page):
    at = open_page("app_pages/predict.py")
    token = at.query_params["learner"]
    at.radio(key="predict_source").set_value("Upload").run()
    at.file_uploader(key="predict_upload").set_value(
        ("five.jpg", _jpeg_of_sample(5), "image/jpeg")
    ).run()
    assert _metric(at) == "5"

    again = _reload(token, "app_pages/activations.py")
    assert _metric(again) == "5"  # the learner's image, not the bundled 3
    again.switch_page("app_pages/predict.py").run()
    assert again.radio(key="predict_source").value == "Upload"
    assert _metric(again) == "5"
    assert any("five.jpg" in c.value for c in again.caption)

    fresh = open_page("app_pages/activations.py")  # another learner: the default sample
    assert _metric(fresh) == "3"


def test_settings_are_saved_in_the_learners_folder_only(open_page):
    at = open_page("app_pages/convolution.py")
    token = at.query_params["learner"]
    store = runs.RunStore(runs.default_root())
    saved = store.get_state(token, "settings")
    assert saved is not None and all(isinstance(k, str) for k in saved)
    other = runs.new_token()
    assert store.get_state(other, "settings") is None
    assert np.all([k.startswith("_") is False for k in saved])  # widget keys, no internals
