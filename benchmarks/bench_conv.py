"""How fast is cnnviz.conv.conv2d, and how fast do the arithmetic pages rerun?

    .venv/bin/python benchmarks/bench_conv.py [--repeats 20]

Prints, measured in this run:
- ``conv2d`` on a 512×512 image with a 3×3 kernel vs ``tf.nn.conv2d`` (same input,
  float64 and float32) and vs a naive Python double loop over output pixels;
- the time to rerun each arithmetic page in AppTest after a warm-up run.
Targets: conv2d within 3× of tf.nn.conv2d, ≥ 50× faster than the naive loop, every
page rerun < 300 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from _timing import median_ms  # noqa: E402

from cnnviz import conv  # noqa: E402

PAGES = ["app_pages/convolution.py", "app_pages/stride_padding.py", "app_pages/pooling.py"]


def naive_conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The textbook double loop over output pixels (the baseline to beat)."""
    kh, kw = k.shape
    out = np.empty((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i : i + kh, j : j + kw] * k)
    return out


def bench_conv(repeats: int) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.random((512, 512))
    k = rng.normal(size=(3, 3))
    ours = median_ms(lambda: conv.conv2d(x, k), repeats)
    x64, k64 = tf.constant(x[None, :, :, None]), tf.constant(k[:, :, None, None])
    x32, k32 = tf.cast(x64, tf.float32), tf.cast(k64, tf.float32)
    tf64 = median_ms(lambda: tf.nn.conv2d(x64, k64, 1, "VALID").numpy(), repeats)
    tf32 = median_ms(lambda: tf.nn.conv2d(x32, k32, 1, "VALID").numpy(), repeats)
    # The naive loop takes seconds: time it on a 128×128 crop and scale by pixel count.
    crop = x[:130, :130]
    naive = median_ms(lambda: naive_conv(crop, k), 3) * (510 * 510) / (128 * 128)
    np.testing.assert_allclose(conv.conv2d(crop, k), naive_conv(crop, k))
    np.testing.assert_allclose(
        conv.conv2d(x, k), tf.nn.conv2d(x64, k64, 1, "VALID").numpy()[0, :, :, 0]
    )
    print("conv2d, 512×512 image, 3×3 kernel, valid padding (median ms)")
    print(f"  cnnviz.conv.conv2d (float64)      {ours:9.2f} ms")
    print(f"  tf.nn.conv2d float64              {tf64:9.2f} ms   ours/tf = {ours / tf64:5.2f}×")
    print(f"  tf.nn.conv2d float32              {tf32:9.2f} ms   ours/tf = {ours / tf32:5.2f}×")
    print(
        f"  naive double loop (extrapolated)  {naive:9.0f} ms   naive/ours = {naive / ours:5.0f}×"
    )
    ok_tf = ours <= 3 * min(tf32, tf64)
    ok_naive = naive / ours >= 50
    print(
        f"  target ≤ 3× tf.nn.conv2d: {'met' if ok_tf else 'MISSED'}; "
        f"≥ 50× naive: {'met' if ok_naive else 'MISSED'}"
    )


def bench_pages(repeats: int, label: str) -> dict[str, float]:
    """Median AppTest rerun (ms) of each arithmetic page after a warm-up run."""
    from streamlit.testing.v1 import AppTest

    print(f"AppTest rerun after warm-up, {label} (median ms, target < 300 ms)")
    times = {}
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        at.run()
        at.switch_page(page)
        at.run()  # warm-up: imports, caches
        assert not at.exception, [e.value for e in at.exception]
        times[page] = ms = median_ms(at.run, repeats)
        verdict = "ok" if ms < 300 else "SLOW"
        print(f"  {page:28s} {ms:7.1f} ms   {verdict}  ({ms / 300:.2f}× budget)")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description="conv2d and arithmetic-page speed")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    page_repeats = max(args.repeats // 2, 3)
    # 1. As a fresh app process that has only shown the arithmetic pages (no TensorFlow).
    base = bench_pages(page_repeats, "TensorFlow not imported")
    bench_conv(args.repeats)
    # 2. As an app that has already shown a model page: TensorFlow's ~300k Python objects
    #    make every full garbage collection slow, and reruns allocate enough to trigger them.
    loaded = bench_pages(page_repeats, "TensorFlow imported")
    gc.freeze()  # move everything alive now out of the collector's reach
    frozen = bench_pages(page_repeats, "TensorFlow imported, then gc.freeze()")
    for page in PAGES:
        print(
            f"  {page:28s} TF-imported / fresh = {loaded[page] / base[page]:5.1f}×, "
            f"after gc.freeze() = {frozen[page] / base[page]:5.1f}×"
        )


if __name__ == "__main__":
    main()
