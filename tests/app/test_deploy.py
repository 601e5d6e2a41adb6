"""deploy/ without Docker: the shipped nginx config in front of two `streamlit run` replicas.

Each learner must stay on one replica for their whole session (Streamlit keeps a session
in one process; an upload is an HTTP request that must reach the process holding the
websocket). The shipped template pins a learner by the ``cnnviz_route`` cookie; here two
replicas and nginx run for real (``scripts/replicas.py``, nginx from ``apt-get install -y
nginx``), an HTTP probe shows the cookie reaches both replicas and always the same one,
and learners in Chromium (one per replica, one with no cookie yet) open pages and upload
an image, each answered by one replica only, with no error on any page.
"""

from __future__ import annotations

import urllib.request

import pytest

from cnnviz import imaging


def _replica_of(base: str, route: str | None) -> tuple[str, str]:
    """(which replica answered, the route cookie nginx set) for one plain request."""
    request = urllib.request.Request(f"{base}/_stcore/health")
    if route is not None:
        request.add_header("Cookie", f"cnnviz_route={route}")
    with urllib.request.urlopen(request, timeout=10) as response:
        cookies = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or []]
        route = next((c.split("=", 1)[1] for c in cookies if c.startswith("cnnviz_route=")), "")
        return response.headers["X-Cnnviz-Replica"], route


def test_the_template_renders_to_a_config_nginx_accepts(replicas, tmp_path):
    text = replicas.render_conf(["127.0.0.1:1", "127.0.0.1:2"], 8080, tmp_path / "cache")
    assert "${" not in text  # every variable filled, as the nginx image's envsubst does
    assert "server 127.0.0.1:1; server 127.0.0.1:2;" in text
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n{text}\n}}\n"
    )
    import subprocess

    done = subprocess.run(
        [replicas.NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.browser
def test_two_replicas_behind_nginx_keep_every_learner_on_one(shots, replicas, tmp_path):
    with replicas.replicas(2) as ups, replicas.nginx(ups) as base:
        # The cookie decides, deterministically: 16 routes reach both replicas, and each
        # route reaches the same replica every time.
        seen = {route: _replica_of(base, route)[0] for route in (f"r{i}" for i in range(16))}
        assert set(seen.values()) == set(ups)
        assert all(_replica_of(base, route)[0] == up for route, up in seen.items())
        # A first visit without the cookie gets one, and it routes to where it landed.
        first, route = _replica_of(base, None)
        assert route and _replica_of(base, route)[0] == first

        upload = tmp_path / "seven.png"
        upload.write_bytes(imaging.load_sample(7, 0))
        pinned = {up: next(r for r, u in seen.items() if u == up) for up in ups}
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            chrome = pw.chromium.launch(
                executable_path=shots.CHROMIUM, args=shots.CHROMIUM_ARGS, headless=True
            )
            try:
                for want, route in [*pinned.items(), (None, None)]:
                    context = chrome.new_context(viewport={"width": 1300, "height": 900})
                    if route is not None:
                        context.add_cookies([{"name": "cnnviz_route", "value": route, "url": base}])
                    page = context.new_page()
                    answered: set[str] = set()

                    def note(response, answered=answered):
                        replica = response.headers.get("x-cnnviz-replica")
                        if replica:
                            answered.add(replica)

                    page.on("response", note)
                    shots.visit(page, base, "/convolution")
                    page.get_by_role("button", name="Next", exact=True).first.click()
                    shots.visit(page, base, "/predict")
                    page.get_by_text("Upload", exact=True).first.click()
                    shots.wait_idle(page)
                    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                        str(upload)
                    )
                    page.get_by_text("upload: seven.png").first.wait_for(timeout=60_000)
                    shots.wait_idle(page)
                    main = page.locator('[data-testid="stMain"]').inner_text()
                    assert "Prediction" in main or "Best guess" in main, main[:500]
                    shots.visit(page, base, "/heatmaps")
                    main = page.locator('[data-testid="stMain"]').inner_text()
                    assert "upload: seven.png" in main  # the upload is this session's
                    assert page.locator(shots.EXCEPTION).count() == 0
                    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
                    # every response of this learner (page, static files, upload, media)
                    # came from one replica: the one its cookie names
                    assert len(answered) == 1, answered
                    if want is not None:
                        assert answered == {want}
                    context.close()
            finally:
                chrome.close()
