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
    for command in ("models", "datasets", "train", "evaluate"):
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


def test_train_then_evaluate(tmp_path, capsys):
    out_path = tmp_path / "m.keras"
    argv = ["train", "--model", "book_mnist", "--epochs", "1", "--subset", "600"]
    assert cli.main([*argv, "--out", str(out_path)]) == 0
    out = capsys.readouterr().out
    assert "device: CPU" in out
    assert re.search(r"images/s: [\d,]+ on CPU", out)
    assert "accuracy:" in out and "loss:" in out  # Keras's own progress line
    assert re.search(r"^status: done — Trained 1 epoch, validation accuracy", out, re.M)
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
    assert re.search(
        r"^status: diverged — Training diverged: the training loss ended at", out, re.M
    )
    assert "try a smaller one (e.g. 0.1)" in out
