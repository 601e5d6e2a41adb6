"""A camera-sized upload on Predict: preparing it, drawing it, and what goes to the browser.

    .venv/bin/python benchmarks/bench_upload.py          # about a minute on 2 CPU cores

Two uploads made here (``scripts/make_test_image.py``, nothing downloaded): a 12-megapixel
phone photo (4032×3024 JPEG of a dark "7" on cream paper) and a 6000×6000 PNG of a digit.
For each, measured in this run:

- ``prepare_image``: the model's input at full resolution (unchanged by the display work);
- the **display figure**, as Predict builds it now: display copies of the steps (longer
  side ≤ ``imaging.DISPLAY_SIDE``), the figure, and its JSON (what ``st.plotly_chart``
  sends): seconds and bytes;
- the **baseline**, the figure as the old code built it from the full-resolution steps
  (the 230 MB ``MessageSizeError`` of the issue): seconds and bytes, and the ratios;
- what the cache hands back on every later run of the page: the pickled prepared image
  (full-resolution steps before, display copies now), bytes and seconds to unpickle.

Target: upload to drawn answer within 5 s on this machine (measured end to end in
``tests/app/test_uploads_browser.py``, which prints it).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import plotly.io as pio  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from cnnviz import imaging  # noqa: E402
from cnnviz.plots import inside, style  # noqa: E402


def _make_test_image():
    spec = importlib.util.spec_from_file_location(
        "make_test_image", ROOT / "scripts" / "make_test_image.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def old_image_row(images: list[tuple[str, np.ndarray]], height: int = 260) -> go.Figure:
    """The baseline: ``inside.image_row`` as it was, every step at full resolution.

    RGB as raw ``uint8`` ``z``, gray as a ``float`` heatmap, no display copies, no frame.
    """
    titles = [t.replace(" (", "<br>(") for t, _ in images]
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=titles)
    for i, (_, img) in enumerate(images, start=1):
        img = np.asarray(img)
        if img.ndim == 3 and img.shape[-1] == 3:
            trace = go.Image(z=np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
        else:
            trace = go.Heatmap(z=img, colorscale=style.GRAY, zmin=0, zmax=1, showscale=False)
        fig.add_trace(trace, row=1, col=i)
    fig.update_layout(height=height, template=style.TEMPLATE)
    return fig


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def measure(name: str, raw: bytes) -> None:
    prepared, t_prep = _timed(lambda: imaging.prepare_image(raw))

    def display() -> str:
        shown = prepared.for_display()
        return pio.to_json(inside.image_row(shown.steps), validate=False)

    new_json, t_new = _timed(display)
    old_json, t_old = _timed(lambda: pio.to_json(old_image_row(prepared.steps), validate=False))
    shown = prepared.for_display()
    np.testing.assert_array_equal(shown.array, prepared.array)  # the model's input: unchanged
    old_pickle = pickle.dumps(prepared)
    new_pickle = pickle.dumps(shown)
    _, t_old_load = _timed(lambda: pickle.loads(old_pickle))
    _, t_new_load = _timed(lambda: pickle.loads(new_pickle))
    mb = 1e6
    h, w = prepared.steps[0][1].shape[:2]
    print(f"\n{name}: {w}×{h}, {len(raw) / mb:.1f} MB file")
    print(f"  prepare_image (model input, full resolution)   {t_prep:6.2f} s")
    print(
        f"  display figure: copies + figure + JSON          {t_new:6.2f} s  "
        f"{len(new_json) / mb:7.1f} MB"
    )
    print(
        f"  baseline: full-resolution figure + JSON (old)   {t_old:6.2f} s  "
        f"{len(old_json) / mb:7.1f} MB"
    )
    print(
        f"  ratio old / new                                 {t_old / t_new:6.1f}×   "
        f"{len(old_json) / len(new_json):6.1f}× fewer bytes"
    )
    print(
        f"  cached result per later run (pickle): old {len(old_pickle) / mb:.0f} MB in "
        f"{t_old_load:.2f} s, now {len(new_pickle) / mb:.1f} MB in {t_new_load:.3f} s"
    )
    print(
        f"  upload → figure on the server now: {t_prep + t_new:.2f} s (target: answer drawn ≤ 5 s)"
    )


def main() -> None:
    make = _make_test_image()
    uploads = {
        "phone photo (JPEG, 12 MP)": make.phone_photo(),
        "6000×6000 PNG (36 MP)": make.big_digit_png(),
    }
    imaging.prepare_image(make.big_digit_png(64))  # imports and first-call costs, untimed
    for name, raw in uploads.items():
        measure(name, raw)


if __name__ == "__main__":
    main()
