"""Screenshot app pages in headless Chromium (used for the README and the browser test).

    .venv/bin/python scripts/screenshot.py                     # -> docs/screenshot.png
    .venv/bin/python scripts/screenshot.py --page /pooling --next 0 --out /tmp/pooling.png

It starts ``streamlit run streamlit_app.py`` on a free loopback port, waits for
``/_stcore/health``, opens the page with Playwright + ``/usr/bin/chromium`` and waits
until the app is idle (no running indicator) before taking a full-page screenshot.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The app root says whether a script run is in progress; exceptions render as this.
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(proc, base: str, timeout: float, name: str, output) -> None:
    """Wait until ``base/_stcore/health`` answers 200 (through a proxy, the app behind it).

    Raises ``RuntimeError`` with ``output()`` (the process's log) if ``proc`` exits first,
    ``TimeoutError`` after ``timeout`` seconds. Shared by :func:`serve` and
    ``scripts/replicas.py``'s nginx.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{output()}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not become healthy within {timeout} s")
        time.sleep(0.2)


def terminate(proc) -> None:
    """Stop a server process: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def serve(
    port: int | None = None,
    timeout: float = 90,
    env: dict[str, str] | None = None,
    info: dict | None = None,
    script: str = "streamlit_app.py",
) -> Iterator[str]:
    """Run ``streamlit run <script>`` (the app by default); yields the base URL.

    ``env`` adds environment variables for the server (e.g. ``CNNVIZ_RUNS_DIR``);
    ``info``, if given, receives the server's ``"pid"`` (benchmarks read ``/proc``).
    """
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    # The server's output goes to a file, not a pipe: nobody reads a pipe while the
    # server runs, and a full pipe would block the server mid-benchmark.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    if info is not None:
        info["pid"] = proc.pid
    base = f"http://127.0.0.1:{port}"

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")[-3000:]

    try:
        wait_healthy(proc, base, timeout, "streamlit", output)
        yield base
    finally:
        terminate(proc)
        log.close()


@contextlib.contextmanager
def browser(width: int = 1400, height: int = 1000):
    """A Playwright Chromium page (sync API) with the project's launch flags."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = chrome.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            chrome.close()


def wait_idle(page, timeout_ms: int = 90_000, quiet_s: float = 0.6) -> None:
    """Wait until the script has run and the app is idle, with every chart drawn.

    Streamlit marks the app root with ``data-test-script-state`` (``initial`` before
    the first run, ``running`` while a script runs, ``notRunning`` when done); idle means
    ``notRunning`` continuously for ``quiet_s``, so a quick follow-up rerun is waited for.
    """
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet_s:
        if page.locator(IDLE).count() == 0:
            quiet_since = time.monotonic()
        page.wait_for_timeout(100)
    page.wait_for_selector("h1", timeout=timeout_ms)
    # A fresh browser downloads a chart's code (Plotly: 4.7 MB) only when the first chart
    # arrives; until then the chart is a skeleton with no stPlotlyChart at all. Wait until
    # every element has its code, then until Plotly, which draws after the script ends,
    # has given every chart its SVG.
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stSkeleton"]')
                 && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                    .every(c => c.querySelector('.main-svg'))""",
        timeout=timeout_ms,
    )


def visit(page, base: str, path: str, timeout_ms: int = 90_000) -> None:
    """Show the page at URL ``path`` and wait until idle.

    Once the app is loaded, pages are opened by clicking their sidebar link (as a
    learner does; no reload of the front end), which also checks that the link's URL
    is ``path``. The first visit loads ``base + path``.
    """
    link = page.locator(f'a[data-testid="stSidebarNavLink"][href="{base}{path}"]')
    if page.url.startswith(base) and link.count() == 1:
        link.click()
        # the query string (the learner token, ?learner=…) travels with the learner
        page.wait_for_url(re.compile(re.escape(base + path) + r"(\?.*)?$"), timeout=timeout_ms)
    else:
        page.goto(base + path, wait_until="domcontentloaded", timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def shoot(page, path: Path, max_height: int = 6000) -> None:
    """Save a full-page PNG of what the browser shows now to ``path``.

    Streamlit scrolls inside its main container, so "full page" means growing the
    viewport to the container's scroll height first.
    """
    height = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll('[data-testid="stMain"], body')]
                 .map(e => e.scrollHeight))"""
    )
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, max_height)})
    page.wait_for_timeout(400)  # plotly relayouts on resize
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 1000})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", default="/convolution", help="URL path, e.g. /pooling")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument(
        "--next", type=int, default=4, help="click the page's first 'Next' button N times"
    )
    args = parser.parse_args()
    with serve() as base, browser(width=args.width) as page:
        visit(page, base, args.page)
        for _ in range(args.next):  # part-filled output reads better than step 1
            page.get_by_role("button", name="Next", exact=True).first.click()  # in the browser
        shoot(page, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
