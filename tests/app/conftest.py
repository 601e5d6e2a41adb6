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


@pytest.fixture
def shots():
    """``scripts/screenshot.py`` (serve / browser / visit / shoot) for a real-browser test;
    skips without ``/usr/bin/chromium``, except in CI (``CNNVIZ_REQUIRE_BROWSER=1``)."""
    import importlib.util
    import os
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("shots", ROOT / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not Path(module.CHROMIUM).exists():
        if os.environ.get("CNNVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{module.CHROMIUM} is missing and CNNVIZ_REQUIRE_BROWSER=1")
        pytest.skip("install chromium (apt-get install -y chromium) to run the browser tests")
    pytest.importorskip("playwright.sync_api")
    return module
