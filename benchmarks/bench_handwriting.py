"""Real handwriting, photographed: accuracy through the upload path vs a naive resize.

Run: ``.venv/bin/python benchmarks/bench_handwriting.py`` (about a minute on 2 CPU cores).

The test set is ``assets/handwriting/optdigits_photos.npz``: 1,000 JPEG photos of digits
written by 13 people outside MNIST (UCI optdigits, via scikit-learn), on unevenly lit
paper at random sizes and places (``scripts/build_handwriting.py``). No bundled model saw
any of them. Each photo goes to each bundled digit model (not the Fashion-MNIST ones)
two ways, in the same run:

- **upload path**: :func:`cnnviz.imaging.prepare_image`, what Predict does to an upload
  (invert, even out the paper, crop, thin a thick pen, 20 px, centre of mass);
- **naive path** (the baseline): the photo squashed to 28×28 gray as it is.

It prints both accuracies, their ratio, the default model's accuracy per class, and the
time per photo of each path. Target: the default model (``models.DEFAULT_BUNDLED``,
handwriting_cnn) ≥ 0.90 through the upload path.

``--set validation`` runs the same on the 797 other digits of the source, photographed
with another seed (``optdigits_validation.npz``): choose preprocessing constants and
training recipes there, and report the test set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from cnnviz import imaging, models  # noqa: E402

DEFAULT = models.DEFAULT_BUNDLED  # the model Predict starts with
TARGET = 0.90


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set", choices=["test", "validation"], default="test",
        help="the test photos (default) or the validation photos to tune on",
    )  # fmt: skip
    chosen = parser.parse_args(argv).set
    path = imaging.HANDWRITING if chosen == "test" else imaging.HANDWRITING_VALIDATION
    photos, labels = imaging.load_handwriting(path)
    start = time.perf_counter()
    upload = np.stack([imaging.prepare_image(p).array for p in photos])  # (N, 28, 28, 1)
    upload_ms = (time.perf_counter() - start) * 1000 / len(photos)
    start = time.perf_counter()
    naive = np.stack([imaging.naive_input(p) for p in photos])
    naive_ms = (time.perf_counter() - start) * 1000 / len(photos)

    per = np.bincount(labels).min()
    print(f"{len(photos)} {chosen} photos of handwriting not in MNIST (≥ {per} per class)\n")
    print(f"{'model':<22}{'upload path':>12}{'naive resize':>14}{'ratio':>8}   MNIST test (card)")
    digit_models = models.bundled_names("mnist-sample")  # handwriting: the digit models only
    names = [DEFAULT] + [n for n in digit_models if n != DEFAULT]
    per_class = None
    for name in names:
        path = models.bundled(name)
        model = models.load(path)
        card = models.read_card(path).get("metrics", {}).get("test_accuracy", float("nan"))
        pred_up = model.predict(upload, verbose=0, batch_size=250).argmax(axis=1)
        pred_nv = model.predict(naive, verbose=0, batch_size=250).argmax(axis=1)
        acc_up, acc_nv = float(np.mean(pred_up == labels)), float(np.mean(pred_nv == labels))
        print(f"{name:<22}{acc_up:>12.3f}{acc_nv:>14.3f}{acc_up / acc_nv:>7.1f}×   {card:.4f}")
        if name == DEFAULT:
            per_class = [float(np.mean(pred_up[labels == c] == c)) for c in range(10)]
            default_acc = acc_up
    print(f"\n{DEFAULT} per class (upload path): " + ", ".join(
        f"{c}: {a:.2f}" for c, a in enumerate(per_class)
    ))  # fmt: skip
    verdict = "met" if default_acc >= TARGET else "MISSED"
    where = "" if chosen == "test" else " (on the validation set; the target is the test set's)"
    print(
        f"target {DEFAULT} ≥ {TARGET:.2f} through the upload path: {verdict} "
        f"({default_acc:.3f}){where}"
    )
    print(
        f"\ntime per photo: upload path {upload_ms:.2f} ms, naive {naive_ms:.2f} ms "
        f"({upload_ms / naive_ms:.1f}× the baseline)"
    )


if __name__ == "__main__":
    main()
