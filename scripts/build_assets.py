"""Rebuild everything in ``assets/`` from ``../shared/datasets/mnist`` (no network).

    python scripts/build_assets.py            # sample data, sample images and models
    python scripts/build_assets.py --only data
    python scripts/build_assets.py --only global_pool_cnn   # retrain one model only

Reproducible: the split and every model use fixed seeds; retraining on the same
machine and library versions gives the same weights (within float round-off across
machines). Each model's card records its test accuracy on the 2,000-image test split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist"
SEED = 0
N_TRAIN = 8000
SAMPLES_PER_CLASS = 3
# name -> (zoo model, epochs, augment with random shifts of up to this many pixels)
MODELS = {
    "book_mnist": ("book_mnist", 8, 0),
    "cookbook_mlp": ("cookbook_mlp", 8, 0),
    "cookbook_cnn": ("cookbook_cnn", 8, 0),
    "cookbook_cnn_shift": ("cookbook_cnn", 8, 3),
    # The Translation lab's invariant network: same recipe, no augmentation.
    "global_pool_cnn": ("global_pool_cnn", 8, 0),
}


def build_data() -> None:
    """Split the 10,000 MNIST test digits into 8,000 train / 2,000 test, fixed seed."""
    from PIL import Image

    from cnnviz.data import MNIST_SAMPLE, read_idx

    x = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")  # (10000, 28, 28) uint8
    y = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")  # (10000,) uint8
    order = np.random.default_rng(SEED).permutation(len(x))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    MNIST_SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        MNIST_SAMPLE, x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test]
    )
    print(f"wrote {MNIST_SAMPLE.relative_to(ROOT)}: {len(train)} train / {len(test)} test")

    samples = ROOT / "assets" / "samples"
    samples.mkdir(exist_ok=True)
    for old in samples.glob("digit_*.png"):
        old.unlink()
    xt, yt = x[test], y[test]
    for c in range(10):
        for k, i in enumerate(np.flatnonzero(yt == c)[:SAMPLES_PER_CLASS]):
            # Stored as a learner would scan one: dark ink on white paper.
            Image.fromarray(255 - xt[i]).save(samples / f"digit_{c}_{k}.png")
    print(f"wrote {10 * SAMPLES_PER_CLASS} sample digits to assets/samples/")


def random_shift(x: np.ndarray, max_px: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each image of ``x`` (N, H, W, C) by up to ``max_px`` pixels, zero fill."""
    from cnnviz.translation import shift

    dys = rng.integers(-max_px, max_px + 1, len(x))
    dxs = rng.integers(-max_px, max_px + 1, len(x))
    return np.stack([shift(img, int(dx), int(dy)) for img, dx, dy in zip(x, dxs, dys, strict=True)])


def build_models(names: list[str]) -> None:
    """Train the bundled models on the sample and save them with their cards."""
    import keras

    from cnnviz import data, models

    ds = data.load_mnist_sample()
    x_train = data.prepare(ds.x_train)  # (8000, 28, 28, 1) float32 in [0, 1]
    x_test = data.prepare(ds.x_test)  # (2000, 28, 28, 1)
    for name in names:
        zoo_name, epochs, shift = MODELS[name]
        keras.utils.set_random_seed(SEED)
        model = models.build(zoo_name, (28, 28, 1), 10)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        rng = np.random.default_rng(SEED)
        for _ in range(epochs):
            xs = random_shift(x_train, shift, rng) if shift else x_train
            model.fit(xs, ds.y_train, batch_size=128, epochs=1, shuffle=True, verbose=2)
        loss, acc = model.evaluate(x_test, ds.y_test, verbose=0)
        card = {
            "name": name,
            "model": zoo_name,
            "dataset": "mnist-sample",
            "hyperparameters": {
                "epochs": epochs,
                "batch_size": 128,
                "optimizer": "adam",
                "learning_rate": 1e-3,
                "seed": SEED,
                "augmentation": f"random shift up to {shift} px" if shift else "none",
            },
            "metrics": {"test_loss": round(float(loss), 4), "test_accuracy": round(float(acc), 4)},
            "built_by": "scripts/build_assets.py",
        }
        path = models.save(
            model, models.MODELS_DIR / f"{name}.keras", card, include_optimizer=False
        )
        print(f"wrote {path.relative_to(ROOT)}: test accuracy {acc:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["data", "models", *MODELS],
        help="rebuild only these parts: data, models (all of them) or named models",
    )
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    only = set(args.only or ["data", "models"])
    if "data" in only:
        build_data()
    named = [n for n in MODELS if n in only]  # --only NAME …: these models, nothing else
    if named or "models" in only:
        build_models(named or args.models)


if __name__ == "__main__":
    main()
