"""The Welcome page links every other page, in the router's sections."""

from __future__ import annotations

from pathlib import Path

from streamlit_app import PAGES


def test_home_links_every_page_by_section(open_page):
    at = open_page("app_pages/home.py")
    links = at.get("page_link")
    targets = [link.proto.page for link in links]  # the URL path: the file stem
    others = [Path(p).stem for _s, p, _t, _i in PAGES if not p.endswith("home.py")]
    assert sorted(targets) == sorted(others)
    headers = [h.value for h in at.subheader]
    assert headers == ["Arithmetic", "Training", "Inside the model", "Experiments"]
