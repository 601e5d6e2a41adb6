"""Training speed: the seed notebooks' ``model.fit`` (batch 32, defaults) vs ``training.train``.

    .venv/bin/python benchmarks/bench_train.py                 # book_mnist, mnist-sample
    .venv/bin/python benchmarks/bench_train.py --epochs 3 --model cookbook_cnn
    KERAS_BACKEND=jax .venv/bin/python benchmarks/bench_train.py   # on a GPU machine

Both runs see the same 8,000 mnist-sample images (10% held out for validation, as the
trainer does), the same model and seed, in one process. Reported per run: images/s over
the first ``--epochs`` epochs (first epoch includes compilation), the steady epoch time
(median of epochs 2+), test accuracy after ``--epochs`` epochs, and the wall-clock time
the trainer needs to reach the baseline's final test accuracy (test evaluation after
each epoch is not counted). The trainer uses Adam at 3e-3 (``--lr``): a 4× larger batch
takes 4× fewer steps, so a larger step size is the usual companion. On this CPU the
targets are >= 2× the images/s and the baseline's accuracy in <= half its time.
Takes ~2 minutes on 2 CPU cores (three alternating rounds; `--rounds 1` a third of that).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import numpy as np

from cnnviz import data, evaluation, models, training


class _EpochClock(keras.callbacks.Callback):
    """Baseline: epoch wall times, then test accuracy (not timed) after each epoch."""

    def __init__(self, x_test, y_test):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.seconds: list[float] = []
        self.test_acc: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)
        probs = self.model.predict(self.x_test, batch_size=500, verbose=0)
        self.test_acc.append(float(np.mean(evaluation.predict_classes(probs) == self.y_test)))


def baseline(name, x, y, x_test, y_test, epochs, seed):
    """The seed notebooks: ``compile("adam")`` and ``fit(batch_size=32)``, Keras defaults."""
    keras.utils.set_random_seed(seed)
    model = models.build(name, x.shape[1:], 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_tr, y_tr, x_val, y_val = data.train_val_split(x, y, 0.1, seed)
    clock = _EpochClock(x_test, y_test)
    model.fit(
        x_tr,
        y_tr,
        batch_size=32,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=[clock],
        verbose=0,
    )
    return len(x_tr), clock.seconds, clock.test_acc


def cnnviz_trainer(name, x, y, x_test, y_test, epochs, seed, lr):
    """``training.train``: batch 128, steps_per_execution, no XLA on CPU, learning rate ``lr``."""
    keras.utils.set_random_seed(seed)
    model = models.build(name, x.shape[1:], 10)
    test_acc: list[float] = []

    def on_progress(p: training.Progress) -> None:
        if p.kind == "epoch":  # runs after the trainer has stopped its epoch clock
            probs = model.predict(x_test, batch_size=500, verbose=0)
            test_acc.append(float(np.mean(evaluation.predict_classes(probs) == y_test)))

    result = training.train(
        model,
        x,
        y,
        training.TrainConfig(epochs=epochs, seed=seed, learning_rate=lr),
        on_progress=on_progress,
    )
    return round(len(x) * 0.9), result.epoch_seconds, test_acc, result


def _summary(label, n, seconds, acc, epochs):
    t = sum(seconds[:epochs])
    steady = statistics.median(seconds[1:epochs]) if epochs > 1 else seconds[0]
    ips = n * epochs / t
    print(
        f"{label:<34} {ips:>9,.0f} img/s   epoch {steady:6.2f} s (first {seconds[0]:5.2f} s)"
        f"   test acc after {epochs}: {acc[epochs - 1]:.4f}"
    )
    return ips, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="book_mnist")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--extra", type=int, default=3, help="trainer epochs beyond --epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lr",
        type=float,
        default=3e-3,
        help="trainer's Adam learning rate: 4× the batch, so ~3× the baseline's 1e-3 "
        "(the usual scaling; it does not change images/s)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (noise)")
    args = parser.parse_args()

    ds = data.load("mnist-sample")
    x, x_test = data.prepare(ds.x_train), data.prepare(ds.x_test)
    print(
        f"device: {training.device_name()}  backend: {keras.backend.backend()}  "
        f"model: {args.model}  data: {len(x):,} train / {len(x_test):,} test, "
        f"{args.epochs} epochs"
    )
    # This VM's epoch times swing by up to 2× between identical epochs, so the two
    # contenders alternate for --rounds rounds and each epoch's time is the median over
    # rounds (accuracies are from the first round; the seed makes them repeat).
    runs_b, runs_t = [], []
    for _ in range(args.rounds):
        runs_b.append(
            baseline(args.model, x, ds.y_train, x_test, ds.y_test, args.epochs, args.seed)
        )
        runs_t.append(
            cnnviz_trainer(
                args.model,
                x,
                ds.y_train,
                x_test,
                ds.y_test,
                args.epochs + args.extra,
                args.seed,
                args.lr,
            )
        )
    n_b, acc_b = runs_b[0][0], runs_b[0][2]
    sec_b = [statistics.median(r[1][i] for r in runs_b) for i in range(args.epochs)]
    n_t, acc_t, res = runs_t[0][0], runs_t[0][2], runs_t[0][3]
    sec_t = [statistics.median(r[1][i] for r in runs_t) for i in range(len(runs_t[0][1]))]
    print(f"median epoch times over {args.rounds} alternating rounds:")
    ips_b, ep_b = _summary("baseline model.fit (batch 32)", n_b, sec_b, acc_b, args.epochs)
    label = f"cnnviz train (b128, spe {res.steps_per_execution}, lr {args.lr:g})"
    ips_t, ep_t = _summary(label, n_t, sec_t, acc_t, args.epochs)

    print(f"ratio images/s (cnnviz / baseline): {ips_t / ips_b:.2f}×   (target >= 2×)")
    print(f"ratio steady epoch time (baseline / cnnviz): {ep_b / ep_t:.2f}×")
    target = acc_b[args.epochs - 1]
    time_b = sum(sec_b[: args.epochs])
    reached = [i for i, a in enumerate(acc_t) if a >= target]
    if reached:
        time_t = sum(sec_t[: reached[0] + 1])
        print(
            f"time to the baseline's {args.epochs}-epoch test accuracy {target:.4f}: "
            f"baseline {time_b:.1f} s, cnnviz {time_t:.1f} s after {reached[0] + 1} epochs "
            f"= {time_t / time_b:.2f} of the baseline's time   (target <= 0.5)"
        )
    else:
        print(
            f"cnnviz did not reach the baseline's {target:.4f} in {len(acc_t)} epochs "
            f"(best {max(acc_t):.4f}, {sum(sec_t):.1f} s vs baseline {time_b:.1f} s)"
        )


if __name__ == "__main__":
    main()
