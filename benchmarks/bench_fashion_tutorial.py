"""The Fashion-MNIST tutorial, reproduced offline: its two networks, its settings, our numbers.

    .venv/bin/python benchmarks/bench_fashion_tutorial.py                 # 20 epochs, both
    .venv/bin/python benchmarks/bench_fashion_tutorial.py --epochs 3 --networks plain
    KERAS_BACKEND=jax python benchmarks/bench_fashion_tutorial.py --throughput   # on a GPU

Data: all 70,000 Fashion-MNIST images from Debian's package (``apt-get install
dataset-fashion-mnist``; :func:`cnnviz.data.fashion_mnist_dir`), split as the tutorial
does (``train_test_split(test_size=0.2, random_state=13)``: 48,000 train / 12,000
validation; :func:`cnnviz.tutorial.tutorial_split`), batch 64, 20 epochs, Adam.

For each network (``plain`` = ``fashion_leaky``, ``dropout`` = ``fashion_leaky_dropout``)
two contenders train from the same seed in the same run: **fit**, ``compile`` + ``fit`` as
the tutorial writes them (one-hot labels; the baseline), and **cnnviz**, the app's
``training.train`` with the same settings. Printed: each epoch's loss / accuracy /
validation loss / validation accuracy beside the tutorial's published numbers, seconds per
epoch, the test loss and accuracy on the 10,000 test images, the epoch of the lowest
validation loss, and what the tutorial's ``np.argmax(np.round(…))`` does to the test
predictions. The ratio is fit's seconds per epoch / cnnviz's (> 1: cnnviz is faster).

The fit contender also measures, after each epoch, the data loss and accuracy with dropout
off on the training and validation images (``cnnviz.overfitting.MEASURED``; not counted in
its seconds): the Overfitting lab compares the two networks on these.

``--json PATH`` writes every history (``--json assets/fashion_tutorial.json`` is the
Overfitting lab's full-data experiment, shipped); ``--save-models DIR``
saves cnnviz's two trained networks with their cards (``scripts/build_assets.py`` ships
them as ``fashion_plain`` and ``fashion_dropout``).

``--markdown PATH`` prints the README's tables from such a JSON file.

``--throughput``: images/s of plain ``fit`` and of ``training.train`` at batch sizes
``--batches`` (64, 256, 1024) for the plain network on the 48,000 training images, the
median of the epochs after a warm-up epoch, both in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import numpy as np

from cnnviz import data, evaluation, models, training, tutorial


class _Clock(keras.callbacks.Callback):
    """Seconds of each epoch."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t)


def _split(subset: int | None):
    ds = data.load("fashion_mnist")
    x, y = data.prepare(ds.x_train), ds.y_train
    if subset:
        x, y = x[:subset], y[:subset]
    x_tr, x_val, y_tr, y_val = tutorial.tutorial_split(x, y)
    return ds, x_tr, x_val, y_tr, y_val, data.prepare(ds.x_test), ds.y_test


def _fmt(v) -> str:
    return "   —  " if v is None else f"{v:.4f}"


def _table(name: str, runs: dict) -> None:
    """Per epoch: the tutorial's published numbers, then each contender's."""
    published = tutorial.PUBLISHED[name]["epochs"]
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    n = max(len(r["history"]["loss"]) for r in runs.values())
    head = "epoch | tutorial loss/acc/val_loss/val_acc"
    for who in runs:
        head += f" | {who} loss/acc/val_loss/val_acc (s)"
    print(head)
    for e in range(1, n + 1):
        row = f"{e:>5} | " + " ".join(_fmt(v) for v in published.get(e, (None,) * 4))
        for r in runs.values():
            h = r["history"]
            vals = [h[k][e - 1] if e - 1 < len(h.get(k, [])) else None for k in keys]
            secs = r["epoch_seconds"][e - 1] if e - 1 < len(r["epoch_seconds"]) else None
            row += " | " + " ".join(_fmt(v) for v in vals) + f" ({secs:.1f})"
        print(row)


def _figures(model, run, ds, x_te, y_te) -> dict:
    """One contender's history, seconds, test loss/accuracy and rounding-trap counts."""
    ev = evaluation.evaluate(model, x_te, y_te)
    trap = tutorial.rounding_trap(ev.probs, y_te, ds.class_names[0])
    return {
        "history": run.history,
        "epoch_seconds": run.epoch_seconds,
        "images_per_sec": run.images_per_sec,
        "test_loss": ev.loss,
        "test_accuracy": ev.accuracy,
        "rounding": trap.__dict__,
    }


def run_network(name: str, split, epochs: int, seed: int, save_dir: Path | None) -> dict:
    """Both contenders on one network; returns their histories, seconds and test figures."""
    ds, x_tr, x_val, y_tr, y_val, x_te, y_te = split
    zoo = tutorial.NETWORKS[name]
    out: dict[str, dict] = {}

    keras.utils.set_random_seed(seed)
    model = models.build(zoo, x_tr.shape[1:], 10)
    fit = tutorial.fit_as_tutorial(
        model, x_tr, y_tr, x_val, y_val, epochs, tutorial.BATCH_SIZE, measure_data=True
    )
    out["fit"] = _figures(model, fit, ds, x_te, y_te)

    model, res = tutorial.train_network(name, x_tr, y_tr, x_val, y_val, epochs, seed)
    ours = out["cnnviz"] = {**_figures(model, res, ds, x_te, y_te), "status": res.status}
    if save_dir is not None:
        built_by = (
            f"benchmarks/bench_fashion_tutorial.py on {training.device_name()} (Keras backend "
            f"{keras.backend.backend()}); scripts/build_assets.py --only fashion_{name} rebuilds it"
        )
        trap = tutorial.RoundingTrap(**ours["rounding"])
        card = tutorial.card(name, res, ours["test_loss"], ours["test_accuracy"], trap,
                             len(x_tr), len(x_val), ds.class_names, built_by)  # fmt: skip
        save_dir.mkdir(parents=True, exist_ok=True)
        models.save(model, save_dir / f"fashion_{name}.keras", card, include_optimizer=False)
    return out


def report(name: str, runs: dict) -> None:
    pub = tutorial.PUBLISHED[name]
    print(f"\n== {name} ({tutorial.NETWORKS[name]})")
    _table(name, runs)
    print(f"tutorial: test loss {pub['test_loss']:.4f}, test accuracy {pub['test_accuracy']:.4f}")
    for who, r in runs.items():
        val = r["history"]["val_loss"]
        best = int(np.argmin(val)) + 1
        later = r["epoch_seconds"][1:] or r["epoch_seconds"]
        print(
            f"{who:>7}: test loss {r['test_loss']:.4f}, test accuracy {r['test_accuracy']:.4f} "
            f"({100 * (r['test_accuracy'] - pub['test_accuracy']):+.2f} points vs the "
            f"tutorial); lowest val_loss {min(val):.4f} at epoch {best}, last {val[-1]:.4f}; "
            f"{statistics.median(later):.1f} s/epoch, {r['images_per_sec']:,.0f} images/s; "
            f"np.round changes {r['rounding']['changed']} of {r['rounding']['n']:,} "
            f"predictions ({r['rounding']['correct_argmax'] - r['rounding']['correct_rounded']}"
            " fewer correct)"
        )
    f, c = runs["fit"], runs["cnnviz"]
    ratio = statistics.median(f["epoch_seconds"][1:] or f["epoch_seconds"]) / statistics.median(
        c["epoch_seconds"][1:] or c["epoch_seconds"]
    )
    print(f"seconds per epoch, fit / cnnviz: {ratio:.2f}x (> 1: cnnviz faster)")


def throughput(args, split) -> dict:
    _, x_tr, x_val, y_tr, y_val, _, _ = split
    print(f"\n== throughput, plain network, {len(x_tr):,} images, {args.tp_epochs} epochs each")
    print(f"{'batch':>6} {'keras fit img/s':>16} {'cnnviz img/s':>14} {'ratio':>7}")
    out = {}
    for batch in args.batches:
        keras.utils.set_random_seed(args.seed)
        model = models.build("fashion_leaky", x_tr.shape[1:], 10)
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        clock = _Clock()
        model.fit(x_tr, y_tr, batch_size=batch, epochs=args.tp_epochs, callbacks=[clock],
                  verbose=0)  # fmt: skip
        plain = len(x_tr) / statistics.median(clock.seconds[1:])
        keras.utils.set_random_seed(args.seed)
        model = models.build("fashion_leaky", x_tr.shape[1:], 10)
        cfg = training.TrainConfig(epochs=args.tp_epochs, batch_size=batch, seed=args.seed)
        res = training.train(model, x_tr, y_tr, cfg, x_val[:1000], y_val[:1000])
        ours = len(x_tr) / statistics.median(res.epoch_seconds[1:])
        out[batch] = {"fit": plain, "cnnviz": ours}
        print(f"{batch:>6} {plain:>16,.0f} {ours:>14,.0f} {ours / plain:>6.2f}x", flush=True)
    return out


def markdown(results: dict) -> None:
    """README tables from a ``--json`` file: per epoch, the tutorial's numbers and ours."""
    for name in ("plain", "dropout"):
        if name not in results:
            continue
        fit, ours = results[name]["fit"], results[name]["cnnviz"]
        same = all(
            np.allclose(fit["history"][k], ours["history"][k], rtol=1e-4)
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
        )
        pub = tutorial.PUBLISHED[name]
        print(f"\n**{name}** (`{tutorial.NETWORKS[name]}`)" + (
            ": `fit` and cnnviz's trainer gave the same numbers (same seed, same maths)"
            if same else ""
        ) + "\n")  # fmt: skip
        print("| epoch | tutorial: loss / acc / val_loss / val_acc | ours: loss / acc / "
              "val_loss / val_acc | s/epoch: fit · cnnviz |")  # fmt: skip
        print("|---|---|---|---|")
        h = fit["history"]
        for e in range(1, len(h["loss"]) + 1):
            t = " / ".join(_fmt(v).strip() for v in pub["epochs"].get(e, (None,) * 4))
            o = " / ".join(f"{h[k][e - 1]:.4f}" for k in ("loss", "accuracy", "val_loss",
                                                           "val_accuracy"))  # fmt: skip
            secs = f"{fit['epoch_seconds'][e - 1]:.1f} · {ours['epoch_seconds'][e - 1]:.1f}"
            print(f"| {e} | {t} | {o} | {secs} |")
        best = int(np.argmin(h["val_loss"])) + 1
        print(
            f"| test | {pub['test_loss']:.4f} / {pub['test_accuracy']:.4f} | "
            f"{fit['test_loss']:.4f} / {fit['test_accuracy']:.4f} "
            f"({100 * (fit['test_accuracy'] - pub['test_accuracy']):+.2f} points) | "
            f"lowest val_loss at epoch {best} |"
        )
    if "throughput" in results:
        print(f"\nimages/s on {results['device']} (Keras backend {results['backend']}):\n")
        print("| batch | Keras `fit` | cnnviz | ratio |\n|---|---|---|---|")
        for batch, v in results["throughput"].items():
            print(f"| {batch} | {v['fit']:,.0f} | {v['cnnviz']:,.0f} | "
                  f"{v['cnnviz'] / v['fit']:.2f}× |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=tutorial.EPOCHS)
    parser.add_argument("--networks", default="plain,dropout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subset", type=int, default=None, help="first N training images")
    parser.add_argument("--json", type=Path, help="write every history and figure here")
    parser.add_argument("--save-models", type=Path, help="save cnnviz's trained networks here")
    parser.add_argument("--throughput", action="store_true", help="also images/s per batch")
    parser.add_argument("--only-throughput", action="store_true")
    parser.add_argument(
        "--batches", type=lambda s: [int(b) for b in s.split(",")], default=[64, 256, 1024]
    )
    parser.add_argument("--tp-epochs", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="print README tables from a --json file")
    args = parser.parse_args()
    if args.markdown:
        markdown(json.loads(args.markdown.read_text()))
        return

    print(f"device: {training.device_name()}  backend: {keras.backend.backend()}", flush=True)
    split = _split(args.subset)
    print(f"data: {split[0].source}; {len(split[1]):,} train / {len(split[2]):,} validation / "
          f"{len(split[5]):,} test")  # fmt: skip
    results: dict = {"device": training.device_name(), "backend": keras.backend.backend()}
    if args.throughput or args.only_throughput:
        results["throughput"] = throughput(args, split)
    if not args.only_throughput:
        for name in args.networks.split(","):
            runs = run_network(name, split, args.epochs, args.seed, args.save_models)
            results[name] = runs
            report(name, runs)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
