"""Latency of the 'Inside the model' computations on a bundled model, after warm-up.

Run: ``.venv/bin/python benchmarks/bench_explain.py`` (about a minute on 2 CPU cores) for
the pages' default model (handwriting_cnn), ``--model book_mnist`` for another bundled one
(``--model fashion_plain``: a Fashion-MNIST model, timed on a bundled sneaker).

Baseline: one plain forward pass ``model(x, training=False)`` of the same image in the same
process. Prints the median of several runs per method and its ratio to the baseline, the
ten class dreams with ``explain.maximize``'s defaults, then the Activations and Heatmaps
pages' rerun times through AppTest. Targets on a CPU: Grad-CAM < 50 ms,
Score-CAM < 2 s, Activations page rerun < 300 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _timing import median_ms  # noqa: E402

from cnnviz import explain, imaging, models  # noqa: E402

REPEATS = {"forward pass": 30, "activations": 30, "scorecam": 5, "smoothgrad": 5}
DREAM_REPEATS = 2  # activation maximisation of the ten classes with maximize's defaults
TARGETS_MS = {"gradcam": 50, "scorecam": 2000, "Activations page rerun": 300}


def page_rerun_ms(page: str, repeats: int = 5, post_gc: bool = True) -> float:
    """Median time of an AppTest rerun of ``page`` with nothing changed (caches warm).

    ``post_gc=False`` turns off Streamlit's ``gc.collect()`` after every script run
    (``runner.postScriptGC``), which walks TensorFlow's whole heap.
    """
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    config.set_option("runner.postScriptGC", post_gc)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return median_ms(at.run, repeats, warmup=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=models.DEFAULT_BUNDLED, choices=models.bundled_names(),
        help="bundled model for the method timings (the page reruns use the pages' default)",
    )  # fmt: skip
    name = parser.parse_args(argv).model
    model = models.load(models.bundled(name))
    if models.subject(models.bundled_dataset(name)) == "clothes":  # a sneaker for clothes
        image = imaging.prepare_image(imaging.load_sample(7, 0, "clothes"), style="fashion").array
    else:
        image = imaging.prepare_image(imaging.load_sample(3, 0)).array  # (28, 28, 1)
    batch = image[None]
    forward = lambda: model(batch, training=False)  # noqa: E731
    rows: list[tuple[str, float]] = [
        ("forward pass", median_ms(forward, REPEATS["forward pass"], 2)),
        ("activations", median_ms(lambda: explain.activations(model, image), 30, 2)),
    ]
    for method in explain.METHODS:
        fn = lambda m=method: explain.heatmap(model, image, m)  # noqa: E731
        rows.append((method, median_ms(fn, REPEATS.get(method, 15), 2)))
    ten = list(range(10))
    dream = lambda: explain.maximize(model, ten)  # noqa: E731
    rows.append(("dreams, 10 classes", median_ms(dream, DREAM_REPEATS, 1)))
    rows.append(("Welcome page rerun (floor)", page_rerun_ms("app_pages/home.py")))
    rows.append(("Activations page rerun", page_rerun_ms("app_pages/activations.py")))
    rows.append(
        ("  same, postScriptGC off", page_rerun_ms("app_pages/activations.py", post_gc=False))
    )
    rows.append(("Heatmaps page rerun", page_rerun_ms("app_pages/heatmaps.py")))
    rows.append(("  same, postScriptGC off", page_rerun_ms("app_pages/heatmaps.py", post_gc=False)))

    base = rows[0][1]
    print(f"{name}, one 28×28 image, median after warm-up (baseline: forward pass)\n")
    print(f"{'what':<28}{'ms':>10}{'× forward':>12}   target")
    for what, ms in rows:
        target = TARGETS_MS.get(what)
        verdict = "" if target is None else f"< {target} ms: {'met' if ms < target else 'MISSED'}"
        print(f"{what:<28}{ms:>10.1f}{ms / base:>12.1f}   {verdict}")


if __name__ == "__main__":
    main()
