"""Rebuild everything in ``assets/`` from ``../shared/datasets/mnist`` and Debian's
Fashion-MNIST package (``apt-get install dataset-fashion-mnist``), with no network.

    python scripts/build_assets.py                    # sample data, sample images and models
    python scripts/build_assets.py --only data
    python scripts/build_assets.py --only handwriting_cnn book_mnist  # chosen models only
    python scripts/build_assets.py --only digits_0_4   # one model, nothing else
    python scripts/build_assets.py --only fashion_plain fashion_dropout fashion_samples

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
# name -> (zoo model, epochs, augmentation: random shifts of up to N pixels, or a recipe)
# The Translation lab's subjects (cookbook_mlp, cookbook_cnn) stay unaugmented, as in the
# book. handwriting_cnn, the default model of Predict/Activations/Filters/Heatmaps
# (models.DEFAULT_BUNDLED), and book_mnist learn from digits turned, scaled, shifted,
# sheared and written with thinner or thicker pens, so that they hold up on real
# handwriting (benchmarks/bench_handwriting.py). The three conv blocks of handwriting_cnn
# read the handwriting validation photos far better than book_mnist's one (0.92 vs 0.84):
# its architecture and epochs were chosen there, not on the test photos.
MODELS = {
    "handwriting_cnn": ("fashion_leaky_dropout", 30, "handwriting"),
    "book_mnist": ("book_mnist", 20, "handwriting"),
    "cookbook_mlp": ("cookbook_mlp", 8, 0),
    "cookbook_cnn": ("cookbook_cnn", 8, 0),
    "cookbook_cnn_shift": ("cookbook_cnn", 8, 3),
    # The Translation lab's invariant network: same recipe, no augmentation.
    "global_pool_cnn": ("global_pool_cnn", 8, 0),
}
# The "handwriting" recipe (each epoch draws new random changes for every image).
ROTATION_DEG = 15  # turned by up to ±15°
ZOOM = 0.2  # scaled by 0.8–1.2
ASPECT = 0.15  # width/height changed by up to ±15 % (narrow and wide writers)
SHEAR = 0.2  # slanted by up to ±0.2 (about ±11°)
SHIFT_PX = 2  # moved by up to ±2 px
PEN = ("thinner", "same", "thicker", "much thicker")  # grey erosion 2×2 / - / dilation 2×2, 3×3


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


def describe_augmentation(kind: int | str) -> str:
    """The card's one-line description of a model's augmentation."""
    if kind == "handwriting":
        return (
            f"each epoch: rotation ±{ROTATION_DEG}°, scale ±{ZOOM:.0%}, aspect ±{ASPECT:.0%}, "
            f"shear ±{SHEAR}, shift ±{SHIFT_PX} px, pen {'/'.join(PEN)} (equal chance)"
        )
    return f"random shift up to {kind} px" if kind else "none"


def random_shift(x: np.ndarray, max_px: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each image of ``x`` (N, H, W, C) by up to ``max_px`` pixels, zero fill."""
    from cnnviz.translation import shift

    dys = rng.integers(-max_px, max_px + 1, len(x))
    dxs = rng.integers(-max_px, max_px + 1, len(x))
    return np.stack([shift(img, int(dx), int(dy)) for img, dx, dy in zip(x, dxs, dys, strict=True)])


def handwriting_augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each ``(N, 28, 28)`` image turned, scaled, stretched, sheared, shifted, re-inked.

    One random affine map per image about the frame's centre (bilinear, zero fill), then
    one of :data:`PEN` with equal chance: the stroke thickness of another pen.
    """
    from scipy import ndimage

    n = len(x)
    angle = np.deg2rad(rng.uniform(-ROTATION_DEG, ROTATION_DEG, n))
    zoom = rng.uniform(1 - ZOOM, 1 + ZOOM, n)
    aspect = rng.uniform(1 - ASPECT, 1 + ASPECT, n)
    shear = rng.uniform(-SHEAR, SHEAR, n)
    shift = rng.uniform(-SHIFT_PX, SHIFT_PX, (n, 2))
    centre = np.array([13.5, 13.5])
    out = np.empty_like(x)
    for i in range(n):
        c, s = np.cos(angle[i]), np.sin(angle[i])
        forward = (
            np.array([[c, -s], [s, c]])
            @ np.array([[1, shear[i]], [0, 1]])
            @ np.diag([zoom[i] * aspect[i], zoom[i] / aspect[i]])
        )  # (row, col) of the digit -> (row, col) in the new image, about the centre
        back = np.linalg.inv(forward)  # affine_transform maps output to input pixels
        offset = centre - back @ (centre + shift[i])
        out[i] = ndimage.affine_transform(x[i], back, offset=offset, order=1, mode="constant")
    pen = rng.integers(0, len(PEN), n)
    for kind, op, size in ((0, ndimage.grey_erosion, 2), (2, ndimage.grey_dilation, 2),
                           (3, ndimage.grey_dilation, 3)):  # fmt: skip
        chosen = pen == kind
        if chosen.any():
            out[chosen] = op(out[chosen], size=(1, size, size))
    return out


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
            if shift == "handwriting":
                xs = handwriting_augment(x_train[..., 0], rng)[..., None]
            else:
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
                "augmentation": describe_augmentation(shift),
            },
            "metrics": {"test_loss": round(float(loss), 4), "test_accuracy": round(float(acc), 4)},
            "built_by": "scripts/build_assets.py",
        }
        path = models.save(
            model, models.MODELS_DIR / f"{name}.keras", card, include_optimizer=False
        )
        print(f"wrote {path.relative_to(ROOT)}: test accuracy {acc:.4f}")


# The transfer-learning base (issue 13): trained on digits 0–4 only, so that the Transfer
# page can teach it digits 5–9 from a few labels. Augmented, as a base meant to be reused:
# its features then hold up on digits it never saw.
DIGITS_BASE = {
    "model": "fashion_leaky",
    "epochs": 20,
    "augmentation": {"rotation": 15, "shift": 0.15, "zoom": 0.15},
}


def build_digits_base() -> None:
    """Train the zoo's fashion_leaky CNN on the sample's digits 0–4 and bundle it."""
    import keras

    from cnnviz import data, models, training, transfer

    ds = data.load_mnist_sample()
    x, y = transfer.digit_subset(ds.x_train, ds.y_train, transfer.OLD_DIGITS)  # ~4,100 images
    x_test, y_test = transfer.digit_subset(ds.x_test, ds.y_test, transfer.OLD_DIGITS)
    keras.utils.set_random_seed(SEED)
    model = models.build(DIGITS_BASE["model"], (28, 28, 1), len(transfer.OLD_DIGITS))
    aug = training.Augmentation(**DIGITS_BASE["augmentation"])
    config = training.TrainConfig(
        epochs=DIGITS_BASE["epochs"], augmentation=aug, validation_split=0.0, seed=SEED
    )
    training.train(model, data.prepare(x), y, config, verbose=2)
    acc = transfer.accuracy(model, data.prepare(x_test), y_test)
    card = {
        "name": "digits_0_4",
        "model": DIGITS_BASE["model"],
        "dataset": "mnist-sample, digits 0–4 only",
        "classes": [str(d) for d in transfer.OLD_DIGITS],
        "hyperparameters": {
            "epochs": DIGITS_BASE["epochs"],
            "batch_size": config.batch_size,
            "optimizer": "adam",
            "learning_rate": config.learning_rate,
            "seed": SEED,
            "augmentation": aug.describe(),
        },
        "metrics": {"test_accuracy": round(acc, 4), "test_images": len(x_test)},
        "built_by": "scripts/build_assets.py --only digits_0_4",
    }
    path = models.save(model, transfer.DIGITS_BASE, card, include_optimizer=False)
    print(f"wrote {path.relative_to(ROOT)}: test accuracy on digits 0–4 {acc:.4f}")


def build_fashion(name: str) -> None:
    """Train one of the Fashion-MNIST tutorial's networks on Debian's full data set and
    bundle it (``fashion_plain``, ``fashion_dropout``; see :mod:`cnnviz.tutorial`).

    The tutorial's recipe: the 60,000 training images split 48,000 / 12,000 as
    ``train_test_split(test_size=0.2, random_state=13)``, batch 64, 20 epochs, Adam, seed 0;
    the card records the 10,000 test images' loss and accuracy and the history. About 15
    minutes per network on 2 CPU cores; the shipped files were trained on a GPU under JAX
    (``benchmarks/bench_fashion_tutorial.py --save-models``, same code, same settings).
    """
    import keras

    from cnnviz import data, evaluation, models, training, tutorial

    network = tutorial.BUNDLED[name]
    ds = data.load("fashion_mnist")  # Debian's dataset-fashion-mnist package
    x_tr, x_val, y_tr, y_val = tutorial.tutorial_split(data.prepare(ds.x_train), ds.y_train)
    model, result = tutorial.train_network(network, x_tr, y_tr, x_val, y_val, seed=SEED)
    ev = evaluation.evaluate(model, data.prepare(ds.x_test), ds.y_test)
    trap = tutorial.rounding_trap(ev.probs, ds.y_test, ds.class_names[0])
    built_by = (
        f"scripts/build_assets.py --only {name} on {training.device_name()} "
        f"(Keras backend {keras.backend.backend()})"
    )
    card = tutorial.card(network, result, ev.loss, ev.accuracy, trap, len(x_tr), len(x_val),
                         ds.class_names, built_by)  # fmt: skip
    card["name"] = name
    path = models.save(model, models.MODELS_DIR / f"{name}.keras", card, include_optimizer=False)
    print(f"wrote {path.relative_to(ROOT)}: test accuracy {ev.accuracy:.4f}")


def build_fashion_samples() -> None:
    """Three test images of each Fashion-MNIST class as product photos (dark on white)."""
    from PIL import Image

    from cnnviz import data

    ds = data.load("fashion_mnist")
    samples = ROOT / "assets" / "samples"
    for old in samples.glob("fashion_*.png"):
        old.unlink()
    for c in range(10):
        for k, i in enumerate(np.flatnonzero(ds.y_test == c)[:SAMPLES_PER_CLASS]):
            # Fashion-MNIST's images are negated product photos: store the photo back.
            Image.fromarray(255 - ds.x_test[i, ..., 0]).save(samples / f"fashion_{c}_{k}.png")
    print(f"wrote {10 * SAMPLES_PER_CLASS} Fashion-MNIST samples to assets/samples/")


EXTRA = {  # built by their own functions
    "digits_0_4": build_digits_base,
    "fashion_plain": lambda: build_fashion("fashion_plain"),
    "fashion_dropout": lambda: build_fashion("fashion_dropout"),
    "fashion_samples": build_fashion_samples,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="extend", nargs="+", choices=["data", "models", *MODELS, *EXTRA],
        help="rebuild only these: the data, all models, or models by name",
    )  # fmt: skip
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    only = set(args.only or ["data", "models", *EXTRA])
    if "data" in only:
        build_data()
    chosen = args.models if "models" in only else [m for m in MODELS if m in only]
    if chosen:
        build_models(chosen)
    for name, build in EXTRA.items():
        if name in only:
            build()


if __name__ == "__main__":
    main()
