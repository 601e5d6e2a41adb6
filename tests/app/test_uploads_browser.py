"""Camera-sized uploads on Predict in a real browser: `streamlit run` + headless Chromium.

A 12-megapixel phone photo (4032×3024 JPEG of a dark hand-drawn "7" on cream paper, with
uneven light and sensor noise) and a 6000×6000 PNG of a scanned 4, both made at test time
into ``tmp_path`` by ``scripts/make_test_image.py`` (nothing big is committed), go through
the real file uploader. Before, the photo's preprocessing steps were sent at full
resolution (a 230 MB ``MessageSizeError``); now every panel is a display copy titled with
the original size. Then a text file named ``.png`` is refused with one sentence and the
photo stays the current image. The seconds from upload to the drawn answer are printed
(no timing assertion: speed is ``benchmarks/bench_upload.py``'s).

Skipped without ``/usr/bin/chromium``, unless ``CNNVIZ_REQUIRE_BROWSER=1`` (CI), where it
fails instead (the ``shots`` fixture).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

WAIT_MS = 300_000  # generous: two shared CPU cores prepare 36 megapixels in seconds to tens


def _upload(shots, page, path: Path, expect: str) -> float:
    """Give ``path`` to Predict's uploader; seconds until the page shows ``expect`` drawn."""
    start = time.perf_counter()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.wait_for_function(  # the step row drawn with the new image's titles
        """(expect) => [...document.querySelectorAll('[data-testid="stPlotlyChart"] text')]
                 .some(t => t.textContent.includes(expect))""",
        arg=expect,
        timeout=WAIT_MS,
    )
    shots.wait_idle(page, WAIT_MS)
    return time.perf_counter() - start


def _problems(shots, page) -> list[str]:
    """Exceptions, st.error boxes and a MessageSizeError anywhere on the page."""
    problems = []
    exceptions = page.locator(shots.EXCEPTION)
    if exceptions.count():
        problems.append(f"exception: {exceptions.first.inner_text()[:300]}")
    errors = page.locator('[data-testid="stAlertContentError"]')
    if errors.count():
        problems.append(f"st.error: {errors.first.inner_text()[:300]}")
    body = page.locator("body").inner_text()
    for bad in ("MessageSizeError", "Traceback (most recent call last)"):
        if bad in body:
            problems.append(f"{bad} on the page")
    return problems


def _step_titles(page) -> list[str]:
    """The titles of the preprocessing panels (plotly annotations; their lines joined)."""
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    return chart.evaluate(
        """c => [...c.querySelectorAll('text.annotation-text')].map(t => {
                 const lines = [...t.querySelectorAll('tspan.line')].map(s => s.textContent);
                 return lines.length ? lines.join(' ') : t.textContent; })"""
    )


def _panels_drawn(page) -> int:
    """How many image panels the step chart has drawn (plotly heatmap/image layers)."""
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    return chart.evaluate("c => c.querySelectorAll('.cartesianlayer image').length")


def _metric(page) -> str:
    return page.locator('[data-testid="stMetricValue"]').first.inner_text().strip()


def test_phone_photo_and_huge_png_on_predict_then_a_bad_file(tmp_path, shots, test_images):
    make = test_images
    photo = tmp_path / "seven_phone.jpg"
    photo.write_bytes(make.phone_photo())  # 4032×3024, ~2.4 MB
    scan = tmp_path / "four_6000.png"
    scan.write_bytes(make.big_digit_png(6000, digit=4))  # 6000×6000, 36 megapixels
    text = tmp_path / "notes.png"
    text.write_bytes(b"These are my notes, not a picture.\n")

    seconds = {}
    with shots.serve(timeout=120) as base, shots.browser(width=1400, height=1000) as page:
        shots.visit(page, base, "/predict", timeout_ms=WAIT_MS)
        assert _metric(page) == "3"  # the bundled sample, before any upload
        source = page.locator('[data-testid="stRadio"]').filter(has_text="Image source")
        source.get_by_text("Upload", exact=True).click()
        page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached")
        shots.wait_idle(page, WAIT_MS)

        for path, size, digit in ((photo, "4032×3024", "7"), (scan, "6000×6000", "4")):
            seconds[path.name] = _upload(shots, page, path, f"{size}")
            print(f"upload → drawn answer: {path.name}: {seconds[path.name]:.1f} s")
            assert _problems(shots, page) == [], path.name
            assert _metric(page) == digit, (path.name, _metric(page))
            titles = " ".join(_step_titles(page))
            assert f"Original ({size}" in titles and "shown at 1000×" in titles, titles
            assert "Centred (28×28)" in titles
            assert _panels_drawn(page) >= 6  # every step's panel is drawn
            caption = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
            assert any(f"Image: upload: {path.name}" in c for c in caption), caption

        # a text file named .png: one sentence, and the 6000×6000 scan stays the current image
        text_start = time.perf_counter()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(text))
        page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=WAIT_MS)
        shots.wait_idle(page, WAIT_MS)
        seconds[text.name] = time.perf_counter() - text_start
        errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
        assert [e.strip().splitlines()[-1] for e in errors] == [  # after the icon's name
            "This file is text, not a PNG, JPEG, BMP, GIF, WebP or TIFF image."
        ]
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert f"The model still looks at upload: {scan.name}." in body
        assert f"Image: upload: {scan.name}" in body and _metric(page) == "4"
        assert page.locator(shots.EXCEPTION).count() == 0 and "MessageSizeError" not in body

        # the current image survives a visit to another Inside page and back
        shots.visit(page, base, "/activations", timeout_ms=WAIT_MS)
        assert scan.name in page.locator('[data-testid="stMain"]').inner_text()
    print(f"bad file → error sentence: {seconds[text.name]:.1f} s")
