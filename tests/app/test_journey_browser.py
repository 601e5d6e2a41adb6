"""One learner's ordinary day, in a real browser (`streamlit run` + headless Chromium).

The learner clicks through every page in the sidebar; uploads a 12-megapixel phone photo
of a "7" on Predict and sees 7; looks at it on Activations and Heatmaps; chooses a model
on Evaluate; trains a tiny run; then reloads on every page and finds the same link, the
same runs, the same image and the same chosen model. Nothing on any page is an exception,
an error box or a traceback.

Skipped without ``/usr/bin/chromium``, except in CI (``CNNVIZ_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamlit_app import PAGES

pytestmark = pytest.mark.browser

CHOSEN = "book_mnist"  # the model the learner chooses on Evaluate (not the default)
RUN = "#1 book_mnist · mnist-sample"


def _path(file: str) -> str:
    return "/" if file == "app_pages/home.py" else "/" + Path(file).stem


def _token(url: str) -> str:
    match = re.search(r"[?&]learner=([A-Za-z0-9_-]+)", url)
    assert match, f"no ?learner= in {url}"
    return match.group(1)


def _problems(shots, page, where: str) -> list[str]:
    """Exceptions, error boxes and tracebacks on the page now."""
    out = []
    if page.locator(shots.EXCEPTION).count():
        out.append(f"{where}: exception: {page.locator(shots.EXCEPTION).first.inner_text()[:300]}")
    errors = page.locator('[data-testid="stAlertContentError"]')
    if errors.count():
        out.append(f"{where}: st.error: {errors.first.inner_text()[:300]}")
    main = page.locator('[data-testid="stMain"]').inner_text()
    if "Traceback (most recent call last)" in main or "MessageSizeError" in main:
        out.append(f"{where}: a traceback or MessageSizeError is printed")
    return out


def _metric(page) -> str:
    value = page.locator('[data-testid="stMetricValue"]').first
    value.wait_for(timeout=90_000)
    return value.inner_text().strip()


def _main(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _fill(shots, page, label: str, value) -> None:
    box = page.get_by_label(label)
    box.fill(str(value))
    box.press("Enter")
    shots.wait_idle(page)


def _choose(shots, page, key: str, option: str) -> None:
    """Pick ``option`` in the selectbox with widget key ``key``."""
    page.locator(f".st-key-{key} input[role='combobox']").click()  # a react-aria combobox
    page.get_by_role("option", name=option, exact=True).click()
    shots.wait_idle(page)


def test_a_learners_day_in_a_real_browser(shots, test_images, tmp_path):
    images = test_images
    photo = tmp_path / "seven.jpg"
    photo.write_bytes(images.phone_photo())

    problems: list[str] = []
    with shots.serve() as base, shots.browser(width=1280, height=800) as page:
        shots.visit(page, base, "/")
        token = _token(page.url)

        # 1. Every page in the sidebar, in order: the link keeps the learner
        for _section, file, title, _icon in PAGES:
            shots.visit(page, base, _path(file))
            assert _token(page.url) == token, f"{file}: the link lost the learner"
            assert page.get_by_text(title, exact=True).count(), f"{file}: no title {title!r}"
            problems += _problems(shots, page, file)

        # 2. The phone photo on Predict: the model reads a 7, every panel is drawn
        shots.visit(page, base, "/predict")
        page.locator(".st-key-predict_source").get_by_text("Upload", exact=True).click()
        shots.wait_idle(page)
        page.locator('.st-key-predict_upload input[type="file"]').set_input_files(str(photo))
        page.get_by_text("seven.jpg").first.wait_for(timeout=90_000)
        shots.wait_idle(page)
        assert _metric(page) == "7"
        assert "4032×3024" in _main(page) or page.get_by_text("4032×3024").count()
        problems += _problems(shots, page, "predict with the phone photo")
        for path in ("/activations", "/heatmaps"):
            shots.visit(page, base, path)
            assert "seven.jpg" in _main(page), f"{path}: not the learner's photo"
            problems += _problems(shots, page, f"{path} with the phone photo")
        shots.visit(page, base, "/activations")
        assert _metric(page) == "7"

        # 3. Choose a model for every page (Evaluate), and train a tiny run (Train)
        shots.visit(page, base, "/evaluate")
        _choose(shots, page, "eval_model", f"{CHOSEN} (pre-trained on mnist-sample)")
        page.locator(".st-key-eval_use button").click()
        shots.wait_idle(page)
        assert f"Model: {CHOSEN}" in _main(page)
        shots.visit(page, base, "/train")
        _fill(shots, page, "Epochs", 1)
        page.get_by_text("Advanced").click()
        _fill(shots, page, "Use only this many training images (0 = all)", 300)
        page.locator(".st-key-train_start button").click()
        page.get_by_text("Your runs", exact=True).wait_for(timeout=180_000)
        shots.wait_idle(page)
        assert RUN in _main(page)

        # 4. A reload on every page: the same link, runs, image and chosen model
        for _section, file, _title, _icon in PAGES:
            shots.visit(page, base, _path(file))
            page.reload()
            shots.wait_idle(page)
            assert _token(page.url) == token, f"{file}: a reload started a new learner"
            problems += _problems(shots, page, f"{file} after a reload")
            main = _main(page)
            if file in ("app_pages/predict.py", "app_pages/activations.py"):
                assert "seven.jpg" in main, f"{file}: the photo is gone after a reload"
            if file in (
                "app_pages/predict.py",
                "app_pages/activations.py",
                "app_pages/heatmaps.py",
                "app_pages/evaluate.py",
            ):
                assert f"Model: {CHOSEN}" in main, f"{file}: the chosen model is gone"
            if file == "app_pages/train.py":
                cell = page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=RUN)
                cell.first.wait_for(state="attached", timeout=30_000)
                assert "Your runs" in main
    assert not problems, "\n".join(problems)
