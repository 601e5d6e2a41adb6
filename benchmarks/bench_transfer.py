"""Transfer learning: how long the digits 0–4 → 5–9 comparison takes, and what caching saves.

    .venv/bin/python benchmarks/bench_transfer.py [--labels-per-class 20] [--rounds 3]

Prints, for the CLI's settings, the seconds of each contender, and feature extraction
done both ways — the frozen base run once with its features cached (the fast variant)
against the base inside the training graph every epoch — with their ratio, measured in
the same run (median of ``--rounds``, the shared ``_timing`` timer). The two ways train
the same head (tested in tests/test_transfer.py); only the time differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from _timing import median_ms

    from cnnviz import data, training, transfer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ds = data.load_mnist_sample()
    base = transfer.load_digits_base()
    config = transfer.digits_config()
    print(f"device: {training.device_name()}, k = {args.labels_per_class}, {args.rounds} rounds")

    start = time.perf_counter()
    comparison, _ = transfer.digits_comparison(args.labels_per_class, config, base=base, ds=ds)
    total = time.perf_counter() - start
    for r in comparison.results.values():
        print(f"{r.line}  ({r.seconds:.1f} s)")
    print(transfer.timing_sentence(comparison.results, total))

    task = transfer.digits_task(ds, args.labels_per_class, config.seed)

    def feature_extraction(cached: bool) -> None:
        transfer.compare(
            transfer.split(base).base, task.x_train, task.y_train, task.x_test, task.y_test,
            len(transfer.NEW_DIGITS), transfer.replace_config(config, cache_features=cached),
            task.x_val, task.y_val, contenders=("feature extraction",),
        )  # fmt: skip

    cached = median_ms(lambda: feature_extraction(True), args.rounds, warmup=0) / 1000
    graph = median_ms(lambda: feature_extraction(False), args.rounds, warmup=0) / 1000
    print(f"feature extraction, cached features: {cached:.1f} s (median)")
    print(f"feature extraction, base in the graph: {graph:.1f} s (median)")
    print(f"ratio in-graph / cached: {graph / cached:.2f}x")


if __name__ == "__main__":
    main()
