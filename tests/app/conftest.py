"""AppTest helpers: open the real router at a page, with a generous first-run timeout."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")


@pytest.fixture
def open_page():
    """``open_page("app_pages/convolution.py")`` returns a run AppTest on that page."""

    def _open(page: str, timeout: float = 60) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=timeout)
        at.run()
        at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return _open


def _script(name: str):
    """``scripts/<name>.py`` as a module (scripts/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _need(path: str, install: str) -> None:
    """Skip without ``path``, except in CI (``CNNVIZ_REQUIRE_BROWSER=1``) where it fails."""
    import os
    from pathlib import Path

    if not Path(path).exists():
        if os.environ.get("CNNVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{path} is missing and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{install} to run this test")


@pytest.fixture
def shots():
    """``scripts/screenshot.py`` (serve / browser / visit / shoot) for a real-browser test;
    skips without ``/usr/bin/chromium``, except in CI (``CNNVIZ_REQUIRE_BROWSER=1``)."""
    module = _script("screenshot")
    _need(module.CHROMIUM, "install chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    return module


@pytest.fixture
def test_images():
    """``scripts/make_test_image.py``: camera-sized uploads (``phone_photo()``,
    ``big_digit_png()``) made at test time."""
    return _script("make_test_image")


@pytest.fixture
def replicas():
    """``scripts/replicas.py`` (replicas / nginx / render_conf); skips without nginx,
    except in CI (``CNNVIZ_REQUIRE_BROWSER=1``)."""
    module = _script("replicas")
    _need(module.NGINX, "install nginx (apt-get install -y nginx)")
    return module
