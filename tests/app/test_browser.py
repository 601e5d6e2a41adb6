"""Real-browser smoke test: `streamlit run` + headless Chromium over every page.

Skipped when ``/usr/bin/chromium`` is missing, unless ``CNNVIZ_REQUIRE_BROWSER=1`` (CI),
where it fails instead. Screenshots land in pytest's ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser


def _screenshot_module():
    """scripts/screenshot.py holds the server/browser mechanics (shared with the README shot)."""
    spec = importlib.util.spec_from_file_location(
        "cnnviz_screenshot", ROOT / "scripts" / "screenshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _url_path(page_file: str, default: bool) -> str:
    """st.navigation names a page's URL after its file stem; the default page is ``/``."""
    return "/" if default else "/" + Path(page_file).stem


def test_every_page_renders_without_exception(tmp_path):
    shots = _screenshot_module()
    if not Path(shots.CHROMIUM).exists():
        if os.environ.get("CNNVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{shots.CHROMIUM} is missing and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip("install chromium (apt-get install -y chromium) to run the browser test")
    pytest.importorskip("playwright.sync_api")
    from streamlit_app import PAGES

    problems: list[str] = []
    with shots.serve() as base, shots.browser() as page:
        # A bookmarked deep link as the very first request of a fresh server still goes
        # through the router (a folder named pages/ would make Streamlit bypass it).
        shots.visit(page, base, "/convolution")
        assert page.locator('a[data-testid="stSidebarNavLink"]').count() == len(PAGES)
        assert page.get_by_text("Arithmetic", exact=True).count() >= 1
        for _section, file, title, _icon in PAGES:
            path = _url_path(file, file == "app_pages/home.py")
            shot = tmp_path / f"{Path(file).stem}.png"
            shots.visit(page, base, path)  # clicks the sidebar link once the app is loaded
            assert page.url.split("?")[0] == base + path  # ?learner=… may follow
            shots.shoot(page, shot)
            assert shot.stat().st_size > 10_000, f"{path}: empty screenshot"
            link = page.locator(f'a[data-testid="stSidebarNavLink"][href="{base}{path}"]')
            if link.count() != 1:
                problems.append(f"{path}: no sidebar link with that URL")
            if not page.get_by_text(title, exact=True).count():
                problems.append(f"{path}: title {title!r} not on the page")
            exceptions = page.locator(shots.EXCEPTION)
            if exceptions.count():
                problems.append(f"{path}: exception: {exceptions.first.inner_text()[:300]}")
            errors = page.locator('[data-testid="stAlertContentError"]')
            if errors.count():
                problems.append(f"{path}: st.error: {errors.first.inner_text()[:300]}")
            body = page.locator('[data-testid="stMain"]').inner_text()
            if "Traceback (most recent call last)" in body:
                problems.append(f"{path}: a traceback is printed")
            if file == "app_pages/translation.py":  # the lab's five sections, all drawn
                charts = page.locator(".js-plotly-plot").count()
                if "5 · Conclusion" not in body or "keeps its accuracy" not in body or charts < 7:
                    problems.append(f"{path}: sections missing ({charts} charts drawn)")
    assert not problems, "\n".join(problems)
    assert len(list(tmp_path.glob("*.png"))) == len(PAGES)
