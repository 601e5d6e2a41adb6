"""Rebuild ``assets/overfitting_curves.json``: the Overfitting lab's precomputed curves.

The page shows these at once; its button reruns the same experiment live. Each history
holds Keras's logged values and, per epoch, the data loss and accuracy on the training
and validation images without the L2 penalty (:data:`cnnviz.overfitting.MEASURED`), which
the lab's gaps are measured on. Run from the repository root (CPU is fine: about 3–4
minutes on two cores)::

    .venv/bin/python scripts/build_overfitting_curves.py [--epochs 20] [--n-train 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cnnviz import overfitting, training


def main() -> None:
    """Train the four runs of :data:`cnnviz.overfitting.RUNS` and save their histories."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=500)
    p.add_argument("--n-val", type=int, default=500)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    settings = {
        "dataset": "mnist-sample",
        "n_train": args.n_train,
        "n_val": args.n_val,
        "epochs": args.epochs,
        "seed": args.seed,
        "batch_size": 64,
        "optimizer": "adam 1e-3",
        "device": training.device_name(),
        "built_by": "scripts/build_overfitting_curves.py",
    }
    runs = {}
    for name in overfitting.RUNS:
        start = time.perf_counter()
        runs.update(overfitting.run_all([name], args.n_train, args.n_val, args.epochs, args.seed))
        gap = overfitting.measure_gap(runs[name], overfitting.DATA_LOSS)
        print(f"{time.perf_counter() - start:5.1f} s  {overfitting.describe_gap(name, gap)}")
    print("wrote", overfitting.save_curves(runs, settings))


if __name__ == "__main__":
    main()
