"""Training speed: the seed notebooks' ``model.fit`` vs cnnviz's ``training.train``.

    .venv/bin/python benchmarks/bench_train.py                  # headline, book_mnist, CPU
    .venv/bin/python benchmarks/bench_train.py --rounds 1       # a third of the time
    KERAS_BACKEND=jax .venv/bin/python benchmarks/bench_train.py --throughput   # on a GPU

Headline: **time to accuracy** on mnist-sample. Both contenders train the same model
from the same seed on the same 7,200 images and validate on the same 800 after every
epoch; the figure is the wall-clock time from the start of training until validation
accuracy first reaches ``--target`` (95 %), everything included (compilation, the
trainer's epoch-0 measurement, validation). The baseline is the seed notebooks:
``compile("adam")`` (learning rate 1e-3) and ``fit(batch_size=32)``, Keras defaults. The
trainer runs twice: with the baseline's own settings (batch 32, Adam 1e-3 — the same
maths, hence the same validation curve: the ratio is pure execution speed) and with the
app's (batch 128, Adam at ``--lr`` 3e-3: 4× the batch, 3× the step, the usual
companion). The contenders alternate for ``--rounds`` rounds (this VM's epoch times
swing up to 2×) and each figure is the median over rounds; the ratio is baseline /
cnnviz, measured in the same run.

Then images/s over the first ``--epochs`` epochs and the steady epoch time, as before.

``--throughput`` (for a GPU, e.g. under ``KERAS_BACKEND=jax``): images/s of a plain
Keras ``fit`` and of ``training.train`` at batch sizes ``--batches`` (32, 256, 1024) on
``--images`` images (mnist-sample tiled: throughput does not depend on the pictures),
median epoch time after a warm-up epoch, both in the same run. The GPU target is
≥ 400,000 images/s at batch 1024 for ``book_mnist``.
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

from cnnviz import data, models, training

GPU_TARGET = 400_000  # images/s at batch 1024 (book_mnist)


class _Clock(keras.callbacks.Callback):
    """Wall time and validation accuracy at each epoch's end; stop once ``target`` is met."""

    def __init__(self, t0: float, target: float | None = None):
        super().__init__()
        self.t0, self.target = t0, target
        self.times: list[float] = []
        self.val_acc: list[float] = []
        self.epoch_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._e0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._e0)
        self.times.append(now - self.t0)
        self.val_acc.append(float((logs or {}).get("val_accuracy", float("nan"))))
        if self.target is not None and self.val_acc[-1] >= self.target:
            self.model.stop_training = True


def _reached(times: list[float], accs: list[float], target: float) -> tuple[float, int] | None:
    """``(seconds, epoch)`` of the first epoch whose validation accuracy is >= ``target``."""
    for i, (t, a) in enumerate(zip(times, accs, strict=True)):
        if a >= target:
            return t, i + 1
    return None


def baseline(name, split, epochs, seed, batch_size=32, target=None):
    """The seed notebooks: ``compile("adam")`` and ``fit(batch_size=32)``, Keras defaults."""
    x_tr, y_tr, x_val, y_val = split
    keras.utils.set_random_seed(seed)
    model = models.build(name, x_tr.shape[1:], 10)
    t0 = time.perf_counter()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = _Clock(t0, target)
    model.fit(
        x_tr,
        y_tr,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=[clock],
        verbose=0,
    )
    return clock


def cnnviz_trainer(name, split, epochs, seed, lr, batch_size=128, target=None):
    """``training.train``: batch 128, steps_per_execution, no XLA on CPU, Adam at ``lr``."""
    x_tr, y_tr, x_val, y_val = split
    keras.utils.set_random_seed(seed)
    model = models.build(name, x_tr.shape[1:], 10)
    clock = _Clock(0.0)
    reached = []

    def on_progress(p: training.Progress) -> None:
        if p.kind == "epoch":
            clock.times.append(time.perf_counter() - t0)
            clock.val_acc.append(p.history["val_accuracy"][-1])
            if target is not None and clock.val_acc[-1] >= target:
                reached.append(True)

    t0 = time.perf_counter()
    result = training.train(
        model,
        x_tr,
        y_tr,
        training.TrainConfig(
            epochs=epochs, batch_size=batch_size, seed=seed, learning_rate=lr, validation_split=0
        ),
        x_val=x_val,
        y_val=y_val,
        on_progress=on_progress,
        should_stop=lambda: bool(reached),
    )
    clock.epoch_seconds = result.epoch_seconds
    return clock, result


def time_to_accuracy(args, split) -> None:
    """The headline: seconds until validation accuracy >= target, for each contender.

    Two trainer settings race the baseline: the baseline's own (batch 32, Adam 1e-3: the
    same maths, so the same validation curve, and the ratio is pure execution speed) and
    the app's (batch 128, Adam ``--lr``).
    """
    print(f"\n== time to {args.target:.0%} validation accuracy ({args.rounds} alternating rounds)")
    contenders = {
        "baseline fit (batch 32, lr 0.001)": lambda: baseline(
            args.model, split, args.max_epochs, args.seed, target=args.target
        ),
        "cnnviz train (batch 32, lr 0.001)": lambda: cnnviz_trainer(
            args.model, split, args.max_epochs, args.seed, 1e-3, 32, args.target
        )[0],
        f"cnnviz train (batch 128, lr {args.lr:g})": lambda: cnnviz_trainer(
            args.model, split, args.max_epochs, args.seed, args.lr, 128, args.target
        )[0],
    }
    got: dict[str, list] = {name: [] for name in contenders}
    for r in range(args.rounds):
        print(f"  round {r + 1}:")
        for name, run in contenders.items():
            clock = run()
            got[name].append(_reached(clock.times, clock.val_acc, args.target))
            print(f"    {name:<36} {_fmt(got[name][-1])}   val acc {_accs(clock.val_acc)}")
    medians = {
        name: statistics.median(g[0] for g in gs) if all(gs) else None for name, gs in got.items()
    }
    base_name = next(iter(contenders))
    base = medians[base_name]
    for name, med in list(medians.items())[1:]:
        if base is None or med is None:
            print(f"HEADLINE {name}: not measured (not reached in every round; --max-epochs)")
            continue
        print(
            f"HEADLINE time to {args.target:.0%} on mnist-sample ({args.model}): "
            f"{base_name} {base:.1f} s, {name} {med:.1f} s -> {base / med:.2f}x faster "
            f"(median of {args.rounds})"
        )


def _fmt(reached) -> str:
    return "not reached" if reached is None else f"{reached[0]:6.1f} s (epoch {reached[1]})"


def _accs(accs) -> str:
    return " ".join(f"{a:.3f}" for a in accs)


def images_per_second(args, split) -> None:
    """images/s over ``--epochs`` epochs and the steady (median) epoch time."""
    n = len(split[0])
    print(f"\n== images/s over {args.epochs} epochs ({args.rounds} alternating rounds)")
    sec_b, sec_t = [], []
    for _ in range(args.rounds):
        sec_b.append(baseline(args.model, split, args.epochs, args.seed).epoch_seconds)
        clock, res = cnnviz_trainer(args.model, split, args.epochs, args.seed, args.lr)
        sec_t.append(clock.epoch_seconds)
    rows = []
    for label, secs in (
        ("baseline model.fit (batch 32)", sec_b),
        (f"cnnviz train (b128, spe {res.steps_per_execution}, lr {args.lr:g})", sec_t),
    ):
        per_epoch = [statistics.median(r[i] for r in secs) for i in range(args.epochs)]
        ips = n * args.epochs / sum(per_epoch)
        steady = statistics.median(per_epoch[1:]) if args.epochs > 1 else per_epoch[0]
        print(
            f"{label:<40} {ips:>9,.0f} img/s   epoch {steady:6.2f} s (first {per_epoch[0]:5.2f} s)"
        )
        rows.append((ips, steady))
    (ips_b, ep_b), (ips_t, ep_t) = rows
    print(f"ratio images/s (cnnviz / baseline): {ips_t / ips_b:.2f}x")
    print(f"ratio steady epoch time (baseline / cnnviz): {ep_b / ep_t:.2f}x")


def throughput(args) -> None:
    """Images/s of plain ``fit`` vs ``training.train`` at several batch sizes (for a GPU)."""
    ds = data.load_mnist_sample()
    reps = -(-args.images // len(ds.x_train))
    x = np.concatenate([data.prepare(ds.x_train)] * reps)[: args.images]
    y = np.concatenate([ds.y_train] * reps)[: args.images]
    split = (x, y, x[:1000], y[:1000])
    print(f"\n== throughput on {len(x):,} images, {args.tp_epochs} epochs (first = warm-up)")
    print(f"{'batch':>6} {'keras fit img/s':>16} {'cnnviz img/s':>14} {'ratio':>7}")
    for batch in args.batches:
        keras.utils.set_random_seed(args.seed)
        model = models.build(args.model, x.shape[1:], 10)
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        clock = _Clock(time.perf_counter())
        model.fit(x, y, batch_size=batch, epochs=args.tp_epochs, callbacks=[clock], verbose=0)
        plain = len(x) / statistics.median(clock.epoch_seconds[1:])
        _, res = cnnviz_trainer(args.model, split, args.tp_epochs, args.seed, 1e-3, batch)
        ours = len(x) / statistics.median(res.epoch_seconds[1:])
        print(f"{batch:>6} {plain:>16,.0f} {ours:>14,.0f} {ours / plain:>6.2f}x")
        if batch == 1024:
            verdict = "meets" if ours >= GPU_TARGET else "misses"
            print(f"       cnnviz at batch 1024 {verdict} the GPU target of {GPU_TARGET:,} img/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="book_mnist")
    parser.add_argument("--target", type=float, default=0.95, help="validation accuracy")
    parser.add_argument("--max-epochs", type=int, default=10, help="cap for the headline")
    parser.add_argument("--epochs", type=int, default=3, help="epochs for images/s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lr",
        type=float,
        default=3e-3,
        help="trainer's Adam learning rate: 4× the batch, so ~3× the baseline's 1e-3",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (noise)")
    parser.add_argument("--skip-ips", action="store_true", help="only the headline")
    parser.add_argument(
        "--throughput", action="store_true", help="only plain fit vs train at --batches"
    )
    parser.add_argument(
        "--batches", type=lambda s: [int(b) for b in s.split(",")], default=[32, 256, 1024]
    )
    parser.add_argument("--images", type=int, default=60_000, help="for --throughput")
    parser.add_argument("--tp-epochs", type=int, default=4, help="for --throughput")
    args = parser.parse_args()

    print(
        f"device: {training.device_name()}  backend: {keras.backend.backend()}  model: {args.model}"
    )
    if args.throughput:
        throughput(args)
        return
    ds = data.load_mnist_sample()
    split = data.train_val_split(data.prepare(ds.x_train), ds.y_train, 0.1, args.seed)
    print(f"data: mnist-sample, {len(split[0]):,} train / {len(split[2]):,} validation")
    time_to_accuracy(args, split)
    if not args.skip_ips:
        images_per_second(args, split)


if __name__ == "__main__":
    main()
