"""Command line: list the zoo and datasets, train a model, evaluate a saved one.

python -m cnnviz models
python -m cnnviz datasets
python -m cnnviz train --dataset mnist-sample --model book_mnist --epochs 1 --out model.keras
python -m cnnviz evaluate model.keras --dataset mnist-sample
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter short


def _models(args: argparse.Namespace) -> int:
    from cnnviz import models

    for entry in models.ZOO.values():
        params = models.build(
            entry.name, entry.default_input_shape, entry.default_classes
        ).count_params()
        shape = "×".join(map(str, entry.default_input_shape))
        print(f"{entry.name:<22} {shape:>9}  {params:>10,} params  {entry.lesson}")
    bundled = ", ".join(models.bundled_names()) or "none"
    print(f"\npre-trained on mnist-sample (assets/models): {bundled}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from cnnviz import data

    for name in data.DATASET_NAMES:
        where = "embedded, offline" if name == "mnist-sample" else "downloaded once by Keras"
        print(f"{name:<14} {len(data.CLASS_NAMES[name]):>3} classes  ({where})")
    print("sign-language CSV: --csv PATH (label then 784 pixel columns)")
    print("zip of class folders: --zip PATH")
    return 0


def _dataset(args: argparse.Namespace):
    from cnnviz import data

    if getattr(args, "csv", None):
        ds = data.load_sign_language_csv(args.csv, seed=args.seed)
    elif getattr(args, "zip", None):
        ds = data.load_image_zip(args.zip, seed=args.seed)
    else:
        ds = data.load(args.dataset)
    if args.subset:
        ds = data.subset(ds, args.subset, None, seed=args.seed)
    return ds


def _train(args: argparse.Namespace) -> int:
    import keras

    from cnnviz import data, evaluation, models, training

    ds = _dataset(args)
    print(f"device: {training.device_name()} (Keras backend: {keras.backend.backend()})")
    print(
        f"dataset: {ds.name}, {len(ds.x_train):,} train / {len(ds.x_test):,} test, "
        f"shape {ds.input_shape}"
    )
    keras.utils.set_random_seed(args.seed)  # the same seed gives the same initial weights
    model = models.build(args.model, ds.input_shape, ds.num_classes)
    aug = training.Augmentation(args.rotation, args.shift, args.zoom, args.flip)
    config = training.TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        augmentation=aug if aug.active else None,
        early_stopping_patience=args.patience,
        validation_split=args.validation_split,
        seed=args.seed,
        mixed_precision=args.mixed_precision,
    )
    result = training.train(
        model, data.prepare(ds.x_train), ds.y_train, config, verbose=2 if args.quiet else 1
    )
    print(result.message)
    print(
        f"images/s: {result.images_per_sec:,.0f} on {result.device} "
        f"({result.seconds:.1f} s, steps_per_execution={result.steps_per_execution})"
    )
    ev = evaluation.evaluate(model, data.prepare(ds.x_test), ds.y_test)
    if args.out:
        card = {
            "model": args.model,
            "dataset": ds.name,
            "hyperparameters": {
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "optimizer": args.optimizer,
                "learning_rate": args.lr,
                "seed": args.seed,
            },
            "metrics": {"test_loss": round(ev.loss, 4), "test_accuracy": round(ev.accuracy, 4)},
            "class_names": list(ds.class_names),
            "built_by": "python -m cnnviz train",
        }
        path = models.save(model, args.out, card)
        print(f"saved: {path} (+ {models.card_path(path).name})")
    print(f"test loss: {ev.loss:.4f}")
    print(f"test accuracy: {ev.accuracy:.4f}")
    return 1 if result.stopped == "nan" else 0


def _evaluate(args: argparse.Namespace) -> int:
    from cnnviz import data, evaluation, models

    ds = _dataset(args)
    path = args.model if args.model.endswith(".keras") else models.bundled(args.model)
    model = models.load(path, expected_input_shape=ds.input_shape)
    ev = evaluation.evaluate(model, data.prepare(ds.x_test), ds.y_test)
    print(f"{'class':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for row in evaluation.classification_report(ev.confusion, ds.class_names):
        print(
            f"{row['class']:<14}{row['precision']:>10.3f}{row['recall']:>10.3f}"
            f"{row['f1']:>10.3f}{row['support']:>9}"
        )
    print(f"test loss: {ev.loss:.4f}")
    print(f"test accuracy: {ev.accuracy:.4f}")
    return 0


def _add_data_options(p: argparse.ArgumentParser) -> None:
    from cnnviz.data import DATASET_NAMES

    p.add_argument(
        "--dataset",
        default="mnist-sample",
        choices=DATASET_NAMES,
        help="dataset name (default: mnist-sample, embedded and offline)",
    )
    p.add_argument("--csv", help="a Sign-Language-MNIST CSV instead of --dataset")
    p.add_argument("--zip", help="a zip of class folders of images instead of --dataset")
    p.add_argument(
        "--subset", type=int, default=None, help="use only this many training images (quick runs)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for weights, split and shuffling")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m cnnviz`` argument parser, one sub-command per task.

    Builds without importing Keras, so ``--help`` is instant; model and optimizer names
    are checked by :mod:`cnnviz.models` and :mod:`cnnviz.training`.
    """
    parser = argparse.ArgumentParser(
        prog="python -m cnnviz",
        description="cnnviz: train and evaluate the textbook CNNs from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list the model zoo with parameter counts and lessons")
    p.set_defaults(func=_models)
    p = sub.add_parser("datasets", help="list the datasets and the file formats accepted")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("train", help="train a zoo model, print images/s and test accuracy")
    _add_data_options(p)
    p.add_argument(
        "--model",
        default="book_mnist",
        help="zoo model (default: book_mnist); `python -m cnnviz models` lists them",
    )
    p.add_argument("--epochs", type=int, default=5, help="passes over the data (default: 5)")
    p.add_argument("--batch-size", type=int, default=128, help="images per step (default: 128)")
    p.add_argument(
        "--optimizer",
        default="adam",
        choices=("adam", "rmsprop", "sgd"),
        help="the textbooks use Adam and Keras's default RMSprop (default: adam)",
    )
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 0.001)")
    p.add_argument(
        "--validation-split",
        type=float,
        default=0.1,
        help="fraction of training images held out for validation (default: 0.1)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="early stopping: epochs without val_loss improvement",
    )
    p.add_argument("--rotation", type=float, default=0.0, help="augment: rotation, turns")
    p.add_argument("--shift", type=float, default=0.0, help="augment: shift, fraction")
    p.add_argument("--zoom", type=float, default=0.0, help="augment: zoom, fraction")
    p.add_argument("--flip", action="store_true", help="augment: random horizontal flips")
    p.add_argument("--mixed-precision", action="store_true", help="bfloat16 maths (GPU only)")
    p.add_argument("--out", help="save the trained model here (.keras, with a .json card)")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="one Keras line per epoch instead of its progress bar",
    )
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="test loss, accuracy and per-class report of a model")
    p.add_argument("model", help="a .keras file, or the name of a bundled model")
    _add_data_options(p)
    p.set_defaults(func=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user's mistake prints one line and returns 2."""
    args = build_parser().parse_args(argv)  # before importing Keras: --help stays instant
    from cnnviz.data import DataError
    from cnnviz.models import ModelError
    from cnnviz.training import TrainingError

    try:
        return args.func(args)
    except (DataError, ModelError, TrainingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
