"""python -m cnnviz: help, models, train (tiny), evaluate, and a user's mistake."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnviz import cli, models

ROOT = Path(__file__).resolve().parent.parent


def test_help_documents_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "cnnviz", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("models", "datasets", "train", "evaluate", "transfer"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--help"])
    assert exc.value.code == 0


def test_models_lists_the_zoo_with_counts(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^cookbook_cnn\s+28×28×1\s+1,701,110 params", out, re.M)
    assert re.search(r"^dli_asl\s+28×28×1\s+264,049 params", out, re.M)
    assert re.search(r"^toy_4x4\s+4×4×1\s+12 params", out, re.M)
    assert re.search(r"^chollet_small_data\s+150×150×3\s+3,453,121 params", out, re.M)
    assert re.search(r"^cookbook_50_grey\s+50×50×1\s+388,098 params", out, re.M)


def test_train_then_evaluate(tmp_path, capsys):
    out_path = tmp_path / "m.keras"
    argv = ["train", "--model", "book_mnist", "--epochs", "1", "--subset", "600"]
    assert cli.main([*argv, "--out", str(out_path)]) == 0
    out = capsys.readouterr().out
    assert "device: CPU" in out
    assert re.search(r"images/s: [\d,]+ on CPU", out)
    assert "accuracy:" in out and "loss:" in out  # Keras's own progress line
    assert re.search(r"^status: done — Trained 1 epoch: the training loss ended at", out, re.M)
    acc_line = out.strip().splitlines()[-1]
    assert re.fullmatch(r"test accuracy: 0\.\d{4}", acc_line)
    card = models.read_card(out_path)
    assert card["model"] == "book_mnist" and card["hyperparameters"]["epochs"] == 1
    assert f"{card['metrics']['test_accuracy']:.4f}" == acc_line.split()[-1]

    assert cli.main(["evaluate", str(out_path)]) == 0
    report = capsys.readouterr().out
    assert report.strip().splitlines()[-1] == acc_line  # same model, same test set
    assert re.search(r"^macro avg\s+0\.\d{3}", report, re.M)
    assert re.search(r"^most confused \(true -> predicted\): \d -> \d \d+", report, re.M)


def test_user_mistake_is_one_line(tmp_path, capsys):
    code = cli.main(["train", "--csv", str(tmp_path / "missing.csv"), "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no CSV file at") and err.count("\n") == 1


def test_a_diverged_run_says_so_and_fails(capsys):
    argv = ["train", "--epochs", "1", "--subset", "600", "--lr", "1", "--quiet"]
    assert cli.main(argv) == 1  # a diverged run is a failure, not a success
    out = capsys.readouterr().out
    assert re.search(r"^status: diverged — Training diverged: ", out, re.M)
    assert "try the Keras default for adam, 0.001." in out


def _sign_csv(path, labels, value_of=lambda c: c * 9):
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    rows = [",".join([str(c)] + [str(value_of(c))] * 784) for c in labels]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_train_on_sign_language_with_its_test_csv_validating_on_it(tmp_path, capsys):
    train = _sign_csv(tmp_path / "sign_mnist_train.csv", [0, 1, 2, 3] * 15)
    test = _sign_csv(tmp_path / "sign_mnist_test.csv", [0, 1, 2, 3] * 5)
    argv = ["train", "--csv", str(train), "--test-csv", str(test), "--validate-on-test"]
    assert cli.main([*argv, "--model", "dli_asl", "--epochs", "1", "--batch-size", "16"]) == 0
    out = capsys.readouterr().out
    assert "dataset: sign_language, 60 train / 20 test" in out  # the test file, untouched
    assert "validating on the test set (20 images)" in out
    # the last validation pass is the test set itself: the same accuracy, to the digit
    val = float(re.search(r"validation accuracy is ([\d.]+)%", out).group(1)) / 100
    test_acc = float(re.search(r"^test accuracy: ([01]\.\d{4})$", out, re.M).group(1))
    assert test_acc == pytest.approx(val, abs=6e-5)
    assert cli.main(["train", "--test-csv", str(test)]) == 2
    assert "--test-csv needs --csv" in capsys.readouterr().err


def test_train_on_a_zip_at_its_own_size(tmp_path, capsys):
    import io
    import zipfile

    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(6):
            for name, value in (("cats", 200), ("dogs", 40)):
                img = io.BytesIO()
                Image.new("L", (80, 64), value).save(img, format="PNG")
                z.writestr(f"{name}/{i}.png", img.getvalue())
    path = tmp_path / "pets.zip"
    path.write_bytes(buf.getvalue())
    argv = ["train", "--zip", str(path), "--image-size", "50", "--channels", "1"]
    assert cli.main([*argv, "--model", "cookbook_50_grey", "--epochs", "1"]) == 0
    assert "shape (50, 50, 1)" in capsys.readouterr().out


def test_augmentation_flags_in_the_textbooks_units():
    def aug(*flags):
        return cli._augmentation(cli.build_parser().parse_args(["train", *flags]))

    assert not aug().active
    cifar = aug("--augment", "cookbook-cifar")
    assert (cifar.rotation, cifar.shifts, cifar.flip, cifar.fill_mode) == (
        20, (0.1, 0.1), True, "nearest",
    )  # fmt: skip
    changed = aug("--augment", "cookbook-cifar", "--rotation", "30", "--height-shift", "0.2")
    assert changed.rotation == 30 and changed.shifts == (0.2, 0.1) and changed.flip
    own = aug("--rotation", "20", "--shift", "0.1", "--zoom", "0.2", "--fill-mode", "reflect")
    assert (own.rotation, own.shifts, own.zoom, own.fill_mode) == (20, (0.1, 0.1), 0.2, "reflect")


def test_bad_augmentation_is_one_line(capsys):
    assert cli.main(["train", "--rotation", "400", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: augmentation rotation is an angle in degrees")
        and err.count("\n") == 1
    )


def test_transfer_prints_one_line_per_contender(capsys):
    argv = ["transfer", "--labels-per-class", "5", "--epochs", "3"]
    assert cli.main([*argv, "--fine-tune-epochs", "1", "--scratch-epochs", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    found = [ln for ln in lines if re.fullmatch(r"(from scratch|feature extraction|fine-tuning): "
                                                r"[01]\.\d{4}", ln)]  # fmt: skip
    assert [ln.split(":")[0] for ln in found] == [
        "from scratch", "feature extraction", "fine-tuning",
    ]  # fmt: skip
    assert "new task: digits 5–9, 25 labelled images (5 per class)" in out
    assert re.search(r"^With the pretrained base, .* on the same test images\.$", out, re.M)
    assert re.search(r"^time: [\d.]+ s$", out, re.M)


def test_transfer_mistakes_are_one_line(capsys):
    assert cli.main(["transfer", "--base", "mobilenet_v2"]) == 2
    assert "needs --zip" in capsys.readouterr().err
    assert cli.main(["transfer", "--zip", "x.zip"]) == 2
    assert "--zip needs an ImageNet base" in capsys.readouterr().err


def test_cli_names_match_the_package_without_importing_keras():
    from cnnviz import training, transfer

    presets = tuple(k.replace(" ", "-").lower() for k in training.AUGMENTATION_PRESETS)
    assert cli.AUGMENT_PRESETS == presets
    assert cli.FILL_MODES == training.FILL_MODES
    assert cli.TRANSFER_BASES == ("digits_0_4", *transfer.APPLICATIONS)
    code = "import sys; from cnnviz import cli; cli.build_parser(); print('keras' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"  # --help stays instant


def test_transfer_on_an_imagenet_base_and_a_zip(tmp_path, capsys, fake_imagenet_weights, pets_zip):
    path = tmp_path / "pets.zip"
    path.write_bytes(pets_zip)
    argv = ["transfer", "--base", "mobilenet_v2", "--zip", str(path), "--image-size", "96"]
    assert cli.main([*argv, "--epochs", "1", "--fine-tune-epochs", "1"]) == 0
    captured = capsys.readouterr()
    assert "downloading MobileNetV2 ImageNet weights:" in captured.err  # the progress
    out = captured.out
    assert "new task: cats, dogs; 13 training, 3 validation, 4 test images at 96×96×3" in out
    found = re.findall(r"^(feature extraction|fine-tuning): [01]\.\d{4}$", out, re.M)
    assert found == ["feature extraction", "fine-tuning"]  # no from scratch unless asked
