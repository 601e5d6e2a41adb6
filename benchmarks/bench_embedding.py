"""How long does 'Where the classes live' take for 2,000 images, cold and cached?

    .venv/bin/python benchmarks/bench_embedding.py [--images 2000] [--repeats 5]

Part 1, :mod:`cnnviz.embedding` alone on ``handwriting_cnn`` and mnist-sample's 2,000 test
digits: the features (one forward pass), PCA, t-SNE and the two nearest-neighbour measures.
Part 2, the page itself in AppTest (the real script, three panels: the model, the same
layers untrained, the MLP): the first run with a method computes everything; a rerun (any
widget change that leaves model, layer, set, size and method alone) reads the cache.
Prints the cold time, the median warm rerun and their ratio, for PCA and for t-SNE.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _timing  # noqa: E402


def _once(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return (time.perf_counter() - start) * 1000, out


def bench_library(n: int, repeats: int) -> None:
    from cnnviz import data, embedding, models

    ds = data.load_mnist_sample()
    idx = embedding.pick(len(ds.y_test), n)
    x, y = data.prepare(ds.x_test[idx]), ds.y_test[idx]
    cnn = models.load(models.bundled(models.DEFAULT_BUNDLED))
    embedding.features(cnn, x[:8])  # build the extractor once, as a warm server has
    feats_ms = _timing.median_ms(lambda: embedding.features(cnn, x), repeats)
    feats = embedding.features(cnn, x)
    pca_ms = _timing.median_ms(lambda: embedding.project(feats, "pca"), repeats)
    tsne_ms, tsne = _once(lambda: embedding.project(feats, "tsne"))
    knn_ms = _timing.median_ms(lambda: embedding.knn_accuracy(feats, y), repeats)
    print(f"cnnviz.embedding, {models.DEFAULT_BUNDLED}, {len(y):,} test digits, leaky4 (128):")
    print(f"  features (forward pass)   {feats_ms:8.1f} ms  (median of {repeats})")
    print(f"  PCA                       {pca_ms:8.1f} ms  (median of {repeats})")
    print(f"  t-SNE                     {tsne_ms:8.1f} ms  (once; seed fixed)")
    print(f"  kNN, 128 features         {knn_ms:8.1f} ms  (median of {repeats})")
    print(f"  t-SNE / PCA               {tsne_ms / pca_ms:8.0f} ×")
    plane = embedding.knn_accuracy(tsne.coords, y)
    print(f"  (5-NN accuracy: features {embedding.knn_accuracy(feats, y):.4f}, t-SNE {plane:.4f})")


def bench_page(n: int, repeats: int) -> None:
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    # the router re-assigns kept settings on every run (app_pages/_state.py): not news here
    config.set_option("global.disableWidgetStateDuplicationWarning", True)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.run()
    at.switch_page("app_pages/embedding.py").run()  # 1,000 images, PCA: warms TF and caches
    print(f"The page (AppTest, three panels, {n:,} images):")
    for method in ("pca", "tsne"):
        if method == "pca":
            at.slider(key="emb_n").set_value(n)
        else:
            at.radio(key="emb_method").set_value(method)
        cold_ms, _ = _once(at.run)
        assert not at.exception, [e.value for e in at.exception]
        warm_ms = _timing.median_ms(at.run, repeats, warmup=0)
        said = [c.value for c in at.caption if "to compute, once" in c.value]
        print(f"  {method:5s} first run (computes)  {cold_ms:9.1f} ms")
        print(f"  {method:5s} rerun (cached)        {warm_ms:9.1f} ms  (median of {repeats})")
        print(f"  {method:5s} cold / warm           {cold_ms / warm_ms:9.0f} ×")
        print(f"        the page says: {said[0] if said else '(nothing)'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bench_library(args.images, args.repeats)
    bench_page(args.images, args.repeats)


if __name__ == "__main__":
    main()
