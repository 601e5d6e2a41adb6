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
