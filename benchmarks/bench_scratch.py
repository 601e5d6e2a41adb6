"""numpy ``scratch.forward`` vs Keras ``model.predict`` latency for every zoo model.

Run: ``.venv/bin/python benchmarks/bench_scratch.py [--repeats 5]``. For each model of
``cnnviz.models.ZOO`` (default input shape, random weights) and batches of 1 and 32, it
prints the median seconds of both and the ratio numpy / Keras (> 1: numpy is slower).
``model.predict`` is the baseline, measured in the same process on the same inputs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from _timing import median_ms

from cnnviz import models, scratch

CLASSES = {"toy_4x4": 1, "dli_asl": 24}


def main() -> None:
    """Print one line per (model, batch) with both latencies and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'model':24s} {'batch':>5s} {'numpy (s)':>10s} {'predict (s)':>11s} {'ratio':>7s}")
    ratios = []
    for name, entry in models.ZOO.items():
        model = models.build(name, entry.default_input_shape, CLASSES.get(name, 10))
        for batch in (1, 32):
            x = rng.random((batch, *entry.default_input_shape)).astype("float32")
            ours = median_ms(lambda m=model, x=x: scratch.forward(m, x), args.repeats) / 1000
            keras_s = (
                median_ms(
                    lambda m=model, x=x: m.predict(x, verbose=0, batch_size=len(x)), args.repeats
                )
                / 1000
            )
            ratios.append(ours / keras_s)
            print(f"{name:24s} {batch:5d} {ours:10.4f} {keras_s:11.4f} {ours / keras_s:6.2f}x")
    geo = float(np.exp(np.mean(np.log(ratios))))
    print(f"geometric mean ratio numpy / predict: {geo:.2f}x over {len(ratios)} cases")


if __name__ == "__main__":
    main()
