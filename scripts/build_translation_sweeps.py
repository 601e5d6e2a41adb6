"""Rebuild ``assets/translation_sweeps.json``: every bundled model's accuracy over shifts.

For each model in ``assets/models`` that reads 28×28×1 digits into 10 classes, the
whole MNIST-sample test split (2,000 images) is moved by every ``(dx, dy)`` in
−4…4 × −4…4 px (zero fill) and classified: one batched forward pass per cell. The
Translation lab shows these numbers at once (and a learner's own model live). Each
entry records the SHA-256 of the weights it came from: when a bundled model is
retrained, the lab recomputes that model live until this script is run again::

    .venv/bin/python scripts/build_translation_sweeps.py              # every bundled model
    .venv/bin/python scripts/build_translation_sweeps.py --only book_mnist
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cnnviz import data, models, translation


def main() -> None:
    """Sweep the chosen bundled models and write the asset (other entries are kept)."""
    names = models.bundled_names("mnist-sample")  # the lab moves digits: digit models only
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=names, help="re-sweep only these models")
    p.add_argument("--n-images", type=int, default=2000, help="test images (first N)")
    args = p.parse_args()
    ds = data.load_mnist_sample()
    x, y = ds.x_test[: args.n_images], ds.y_test[: args.n_images]
    loaded = translation.load_sweeps()
    entries = dict(loaded[1]) if loaded and args.only else {}
    # Entries of models that are no longer bundled are dropped.
    entries = {k: v for k, v in entries.items() if k in names}
    for name in args.only or names:
        path = models.bundled(name)
        model = models.load(path)
        try:
            translation.check_digit_model(model)
        except translation.TransformError as exc:
            print(f"skipped {name}: {exc}")
            continue
        start = time.perf_counter()
        grid = translation.accuracy_grid(model, x, y, translation.SHIFTS)
        entries[name] = translation.sweep_entry(
            grid, translation.SHIFTS, len(y), translation.weights_digest(model)
        )
        summary = translation.summarize(name, grid, translation.SHIFTS, len(y))
        print(f"{time.perf_counter() - start:6.1f} s  {translation.describe_shifts(summary)}")
    settings = {
        "dataset": "mnist-sample test split",
        "n_images": len(y),
        "shifts": list(translation.SHIFTS),
        "fill": "zero (no wrap-around)",
        "built_by": "scripts/build_translation_sweeps.py",
    }
    print("wrote", translation.save_sweeps(dict(sorted(entries.items())), settings))


if __name__ == "__main__":
    main()
