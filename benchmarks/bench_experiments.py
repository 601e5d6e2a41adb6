"""How fast do the Experiments pages rerun, and what does a live shift sweep cost?

    .venv/bin/python benchmarks/bench_experiments.py [--repeats 10]

Prints, measured in this run:
- the AppTest rerun of each Experiments page after a warm-up run (caches full), next to
  the Welcome page's rerun as the baseline (a page with no figures);
- the Translation lab's live dx × dy sweep of a learner's model (81 forward passes over
  the 2,000 test digits) against one forward pass, for the global-pooling CNN.
Target: every page rerun < 300 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _timing import median_ms  # noqa: E402

PAGES = ["app_pages/translation.py", "app_pages/scratch.py", "app_pages/overfitting.py"]
BASELINE = "app_pages/home.py"


def page_rerun_ms(page: str, repeats: int) -> float:
    """Median AppTest rerun (ms) of ``page`` after a warm-up run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.run()
    at.switch_page(page)
    at.run()  # warm-up: imports, models, caches
    assert not at.exception, [e.value for e in at.exception]
    return median_ms(at.run, repeats)


def bench_pages(repeats: int) -> None:
    base = page_rerun_ms(BASELINE, repeats)
    print(f"AppTest rerun after warm-up (median of {repeats}, target < 300 ms)")
    print(f"  {BASELINE:28s} {base:7.1f} ms   (baseline: no figures)")
    for page in PAGES:
        ms = page_rerun_ms(page, repeats)
        verdict = "ok" if ms < 300 else "SLOW"
        print(
            f"  {page:28s} {ms:7.1f} ms   {verdict}  ({ms / 300:.2f}× budget, "
            f"{ms / base:.1f}× the baseline)"
        )


def bench_sweep() -> None:
    from cnnviz import data, models, translation

    ds = data.load_mnist_sample()
    model = models.load(models.bundled("global_pool_cnn"))
    x = data.prepare(ds.x_test)
    one = median_ms(lambda: model.predict_on_batch(x), 3)
    start = time.perf_counter()
    translation.accuracy_grid(model, ds.x_test, ds.y_test)
    grid = (time.perf_counter() - start) * 1000
    cells = len(translation.SHIFTS) ** 2
    print("Live dx × dy sweep of global_pool_cnn over 2,000 test digits")
    print(f"  one forward pass        {one:9.1f} ms")
    print(f"  {cells} cells (the sweep)   {grid:9.1f} ms   sweep / pass = {grid / one:5.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description="Experiments pages and sweep speed")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    bench_pages(args.repeats)
    gc.freeze()  # as the router does once TensorFlow is loaded
    bench_sweep()


if __name__ == "__main__":
    main()
