"""Command line: list the zoo and datasets, train a model, evaluate a saved one.

python -m cnnviz models
python -m cnnviz datasets
python -m cnnviz train --dataset mnist-sample --model book_mnist --epochs 1 --out model.keras
python -m cnnviz evaluate model.keras --dataset mnist-sample
python -m cnnviz transfer --labels-per-class 20
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
    for dataset in ("mnist-sample", "fashion_mnist"):
        bundled = ", ".join(models.bundled_names(dataset)) or "none"
        print(f"\npre-trained on {dataset} (assets/models): {bundled}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from cnnviz import data

    for name in data.DATASET_NAMES:
        print(f"{name:<14} {len(data.CLASS_NAMES[name]):>3} classes  ({data.where(name)})")
    print("sign-language CSV: --csv PATH (label then 784 pixel columns) [--test-csv PATH]")
    print("zip of class folders: --zip PATH [--image-size 150 --channels 3]")
    return 0


def _dataset(args: argparse.Namespace):
    from cnnviz import data

    if getattr(args, "test_csv", None) and not getattr(args, "csv", None):
        raise data.DataError("--test-csv needs --csv (the training CSV) as well.")
    if getattr(args, "csv", None):
        ds = data.load_sign_language_csv(args.csv, args.test_csv, seed=args.seed)
    elif getattr(args, "zip", None):
        ds = data.load_image_zip(args.zip, args.image_size, args.channels, seed=args.seed)
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
    aug = _augmentation(args)
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
        refresh_batchnorm=not args.no_bn_refresh,
    )
    x_val = y_val = None
    if args.validate_on_test:  # as the Sign-Language notebook: validation_data=(x_test, y_test)
        x_val, y_val = data.prepare(ds.x_test), ds.y_test
        print(f"validating on the test set ({len(ds.x_test):,} images)")
    result = training.train(
        model,
        data.prepare(ds.x_train),
        ds.y_train,
        config,
        x_val,
        y_val,
        verbose=2 if args.quiet else 1,
    )
    print(f"status: {result.status} — {result.message}")
    for note in result.notes:
        print(f"warning: {note}")
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
            "status": result.status,
            "metrics": {"test_loss": round(ev.loss, 4), "test_accuracy": round(ev.accuracy, 4)},
            "class_names": list(ds.class_names),
            "built_by": "python -m cnnviz train",
        }
        path = models.save(model, args.out, card)
        print(f"saved: {path} (+ {models.card_path(path).name})")
    print(f"test loss: {ev.loss:.4f}")
    print(f"test accuracy: {ev.accuracy:.4f}")
    return 1 if result.failed else 0  # a diverged or NaN run is a failure


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
    pairs = evaluation.confused_pairs(ev.confusion, ds.class_names, 5)
    if pairs:
        print(
            "most confused (true -> predicted): "
            + ", ".join(f"{p['true']} -> {p['predicted']} {p['count']}" for p in pairs)
        )
    print(f"test loss: {ev.loss:.4f}")
    print(f"test accuracy: {ev.accuracy:.4f}")
    return 0


# Named here, not imported, so that ``--help`` does not import Keras (tests keep them equal
# to cnnviz.training.AUGMENTATION_PRESETS / FILL_MODES and cnnviz.transfer.APPLICATIONS).
AUGMENT_PRESETS = ("none", "cookbook-cifar", "chollet-cats-vs-dogs", "small-digit-shifts")
FILL_MODES = ("nearest", "constant", "reflect")
TRANSFER_BASES = ("digits_0_4", "mobilenet_v2", "efficientnet_b0")


def _augmentation(args: argparse.Namespace):
    """A preset (``--augment``) with the flags given on top of it."""
    from dataclasses import replace

    from cnnviz import training

    presets = {k.replace(" ", "-").lower(): v for k, v in training.AUGMENTATION_PRESETS.items()}
    aug = presets[args.augment]
    given = {
        "rotation": args.rotation,
        "shift": args.shift,
        "width_shift": args.width_shift,
        "height_shift": args.height_shift,
        "zoom": args.zoom,
        "fill_mode": args.fill_mode,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if args.flip:
        changes["flip"] = True
    if args.shift is not None:  # --shift sets both, replacing the preset's two
        changes.setdefault("width_shift", None)
        changes.setdefault("height_shift", None)
    return replace(aug, **changes)


def _add_augmentation_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "augmentation (training batches only; in ImageDataGenerator's units)",
        "e.g. --rotation 20 --width-shift 0.1 --height-shift 0.1 --flip --fill-mode nearest",
    )
    g.add_argument(
        "--augment",
        default="none",
        choices=AUGMENT_PRESETS,
        help="a preset; the flags below change it (cookbook-cifar: rotation 20°, shifts "
        "0.1, flip, nearest fill)",
    )
    g.add_argument("--rotation", type=float, help="rotation_range: up to ± this many degrees")
    g.add_argument("--shift", type=float, help="width and height shift, fraction of the image")
    g.add_argument("--width-shift", type=float, help="width_shift_range, fraction of the width")
    g.add_argument("--height-shift", type=float, help="height_shift_range, fraction of the height")
    g.add_argument("--zoom", type=float, help="zoom_range: 0.2 zooms between 80%% and 120%%")
    g.add_argument("--flip", action="store_true", help="horizontal_flip: random mirror images")
    g.add_argument(
        "--fill-mode",
        choices=FILL_MODES,
        help="what fills pixels moved in from outside (default constant = black)",
    )


def _transfer(args: argparse.Namespace) -> int:
    import time

    import keras

    from cnnviz import data, models, training, transfer

    start = time.perf_counter()
    k = args.labels_per_class or ("20" if args.base == "digits_0_4" else "all")
    k = None if k == "all" else int(k)
    print(f"device: {training.device_name()} (Keras backend: {keras.backend.backend()})")
    aug = _augmentation(args)
    overrides = {
        "epochs": args.epochs,
        "fine_tune_epochs": args.fine_tune_epochs,
        "scratch_epochs": args.scratch_epochs,
        "unfreeze_blocks": args.unfreeze_blocks,
        "augmentation": aug if aug.active else None,
        "seed": args.seed,
    }
    overrides = {key: v for key, v in overrides.items() if v is not None}
    if args.base == "digits_0_4":
        if args.zip:
            raise transfer.TransferError(
                "--zip needs an ImageNet base (--base mobilenet_v2 or efficientnet_b0); the "
                "digits 0–4 base is for digits 5–9"
            )
        config = transfer.digits_config(**overrides)
        card = models.read_card(transfer.DIGITS_BASE)
        base_acc = card.get("metrics", {}).get("test_accuracy")
        print(
            f"base: digits 0–4 ({card.get('model', '?')}, test accuracy on digits 0–4: {base_acc})"
        )
        ds = data.load_mnist_sample()
        task = transfer.digits_task(ds, k, config.seed)
        print(
            f"new task: digits 5–9, {len(task.x_train):,} labelled images "
            f"({'all there are' if k is None else f'{k} per class'}), "
            f"{len(task.x_val):,} for validation, "
            f"{len(task.x_test):,} test images"
        )
        base = transfer.split(transfer.load_digits_base()).base
        x_tr, y_tr, x_val, y_val = task.x_train, task.y_train, task.x_val, task.y_val
        x_te, y_te, n_classes = task.x_test, task.y_test, len(transfer.NEW_DIGITS)
        contenders = transfer.CONTENDERS
    else:
        if not args.zip:
            raise transfer.TransferError(
                f"--base {args.base} needs --zip: a zip of class folders (cats/…, dogs/…)"
            )
        app = transfer.APPLICATIONS[args.base]
        size = args.image_size or app.sizes[0]
        config = transfer.imagenet_config(**overrides)
        ds = data.load_image_zip(args.zip, size, 3, seed=args.seed)
        x_tr, y_tr, x_val, y_val = data.validation_data(ds, "seeded split", 0.2, args.seed)
        if k is not None:
            x_tr, y_tr = transfer.per_class(x_tr, y_tr, k, args.seed)
        x_tr, x_val = data.prepare(x_tr), data.prepare(x_val)
        x_te, y_te, n_classes = data.prepare(ds.x_test), ds.y_test, ds.num_classes
        print(
            f"new task: {', '.join(ds.class_names)}; {len(x_tr):,} training, "
            f"{len(x_val):,} validation, {len(x_te):,} test images at {size}×{size}×3"
        )

        def progress(done: int, total: int) -> None:
            mb = f"{done / 1e6:.1f} / {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
            print(f"\rdownloading {app.title} ImageNet weights: {mb}", end="", file=sys.stderr)

        base = transfer.application_base(args.base, "imagenet", size, progress)
        print(file=sys.stderr)
        contenders = ("feature extraction", "fine-tuning")
        if args.with_scratch:
            contenders = transfer.CONTENDERS
    keras.utils.set_random_seed(config.seed)
    comparison = transfer.compare(
        base, x_tr, y_tr, x_te, y_te, n_classes, config, x_val, y_val, contenders
    )
    for result in comparison.results.values():
        print(result.line)
    if "from scratch" in comparison.results:
        print(transfer.advantage_sentence(comparison.results))
    if args.out:
        best = comparison.results["fine-tuning"]
        path = models.save(best.model, args.out, {"built_by": "python -m cnnviz transfer"})
        print(f"saved the fine-tuned model: {path}")
    print(f"time: {time.perf_counter() - start:.1f} s")
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
    p.add_argument(
        "--test-csv",
        help="the separate Sign-Language test CSV (sign_mnist_test.csv); without it "
        "a seeded 20%% of --csv is the test set",
    )
    p.add_argument("--zip", help="a zip of class folders of images instead of --dataset")
    p.add_argument(
        "--image-size",
        type=int,
        default=28,
        help="--zip images are resized to this many pixels a side (default: 28; "
        "Chollet's cats vs dogs: 150)",
    )
    p.add_argument(
        "--channels",
        type=int,
        default=1,
        choices=(1, 3),
        help="--zip images in grey (1, default) or colour (3)",
    )
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

    p = sub.add_parser(
        "train",
        help="train a zoo model, print how it ended, images/s and test accuracy "
        "(exit 1 if it diverged)",
    )
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
    p.add_argument(
        "--validate-on-test",
        action="store_true",
        help="validate on the test set after each epoch, as the Sign-Language notebook does, "
        "instead of a seeded split",
    )
    _add_augmentation_options(p)
    p.add_argument("--mixed-precision", action="store_true", help="bfloat16 maths (GPU only)")
    p.add_argument(
        "--no-bn-refresh",
        action="store_true",
        help="keep batch norm's moving statistics as training left them (by default they "
        "are recomputed from 1,024 training images before each validation)",
    )
    p.add_argument("--out", help="save the trained model here (.keras, with a .json card)")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="one Keras line per epoch instead of its progress bar",
    )
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "transfer",
        help="reuse a trained base: from scratch vs feature extraction vs fine-tuning",
        description="Train three contenders on the same few labelled images and print each "
        "one's test accuracy. Offline: a base trained on digits 0–4 learns digits 5–9. "
        "Online: an ImageNet model learns your zip of class folders.",
    )
    p.add_argument(
        "--labels-per-class",
        choices=("5", "20", "100", "all"),
        help="labelled training images per class (default: 20 per digit 5–9; all of a zip)",
    )
    p.add_argument(
        "--base",
        default="digits_0_4",
        choices=TRANSFER_BASES,
        help="digits_0_4 (bundled, offline) or an ImageNet model (downloaded once)",
    )
    p.add_argument("--zip", help="your zip of class folders (ImageNet bases)")
    p.add_argument(
        "--image-size", type=int, help="ImageNet bases: input side (default: the model's 224)"
    )
    p.add_argument("--epochs", type=int, help="feature-extraction epochs (the head alone)")
    p.add_argument(
        "--fine-tune-epochs", type=int, help="fine-tuning epochs with the top block unfrozen"
    )
    p.add_argument("--scratch-epochs", type=int, help="epochs of the from-scratch contender")
    p.add_argument("--unfreeze-blocks", type=int, help="top blocks to unfreeze (default: 1)")
    p.add_argument(
        "--with-scratch", action="store_true", help="ImageNet bases: also train from scratch"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for the labelled set and weights")
    p.add_argument("--out", help="save the fine-tuned model here (.keras)")
    _add_augmentation_options(p)
    p.set_defaults(func=_transfer)

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
    from cnnviz.transfer import TransferError

    try:
        return args.func(args)
    except (DataError, ModelError, TrainingError, TransferError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
