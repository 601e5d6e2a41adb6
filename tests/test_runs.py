"""cnnviz.runs: the learners' runs on disk — atomic, per learner, safe for two processes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from cnnviz import models, runs
from cnnviz.runs import RunRecord, RunStore, RunStoreError

ROOT = Path(__file__).resolve().parent.parent


def _record(**kw) -> RunRecord:
    base = {
        "id": "",
        "number": 0,
        "model_name": "toy_4x4",
        "dataset": "mnist-sample",
        "class_names": ["no", "yes"],
        "config": {
            "epochs": 3,
            "batch_size": 64,
            "optimizer": "adam",
            "learning_rate": 0.001,
            "augmentation": None,
            "seed": 7,
        },
        "status": "done",
        "message": "Trained 3 epochs.",
        "history": {"loss": [0.9, 0.5, 0.4], "val_accuracy": [0.6, 0.8, 0.75]},
        "points": {"epoch": [0.5, 1.0], "loss": [1.0, 0.8], "accuracy": [0.5, 0.6]},
        "images_per_sec": 1234.4,
        "device": "CPU",
    }
    return RunRecord(**{**base, **kw})


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_default_root_and_max_age_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(runs.ENV_ROOT, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert runs.default_root() == tmp_path / "cache" / "cnnviz" / "runs"
    monkeypatch.setenv(runs.ENV_ROOT, str(tmp_path / "shared"))
    assert runs.default_root() == tmp_path / "shared"
    monkeypatch.setenv(runs.ENV_MAX_AGE, "7.5")
    assert runs.max_age_days() == 7.5
    for bad in ("soon", "-1", "0"):
        monkeypatch.setenv(runs.ENV_MAX_AGE, bad)
        assert runs.max_age_days() == runs.DEFAULT_MAX_AGE_DAYS


def test_tokens_are_random_and_checked(store):
    a, b = runs.new_token(), runs.new_token()
    assert a != b and runs.valid_token(a) and len(a) == 22
    for bad in ("", "short", "../../etc/passwd", "a" * 65, "abc def ghi jklmnop", None, 42):
        assert not runs.valid_token(bad)
    with pytest.raises(RunStoreError, match="learner token is not valid"):
        store.list_runs("../../etc/passwd_x")
    with pytest.raises(RunStoreError, match="is not a run id"):
        store.get_run(a, "../other")


def test_save_list_reload_and_delete_a_run_with_its_model(store, tmp_path):
    token = runs.new_token()
    assert store.list_runs(token) == []
    keras.utils.set_random_seed(0)
    model = models.build("toy_4x4", num_classes=1)
    x = np.random.default_rng(0).random((3, 4, 4, 1)).astype("float32")
    saved = store.save_run(token, _record(), model, card={"model": "toy_4x4"})
    assert saved.number == 1 and runs.RUN_ID_RE.fullmatch(saved.id) and saved.created
    assert saved.label == "#1 toy_4x4 · mnist-sample"
    # a second store object (another process, after a reload) reads the same run back
    again = RunStore(tmp_path / "runs")
    (listed,) = again.list_runs(token)
    assert listed == saved
    assert listed.best_val_accuracy == 0.8
    loaded = again.load_model(token, saved.id)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert models.read_card(again.model_path(token, saved.id))["model"] == "toy_4x4"
    assert again.load_test(token, saved.id) is None
    # numbers are never reused, even after a delete
    second = store.save_run(token, _record(status="diverged"), test=(x, np.array([0, 1, 1])))
    assert second.number == 2
    kept = store.load_test(token, second.id)
    np.testing.assert_array_equal(kept[0], x) and np.testing.assert_array_equal(kept[1], [0, 1, 1])
    assert store.delete_run(token, saved.id) is True
    assert store.delete_run(token, saved.id) is False  # already gone
    assert [r.number for r in store.list_runs(token)] == [2]
    assert store.save_run(token, _record()).number == 3
    with pytest.raises(RunStoreError, match="no saved model"):
        store.load_model(token, second.id)
    with pytest.raises(RunStoreError, match="is not there"):
        store.get_run(token, saved.id)
    # no hidden leftovers (temporary or trash folders) after the writes and deletes
    assert not [p for p in (store.root / token / "runs").iterdir() if p.name.startswith(".")]


def test_another_learner_sees_none_of_it(store):
    mine, theirs = runs.new_token(), runs.new_token()
    store.save_run(mine, _record())
    store.set_active(mine, {"bundled": "cookbook_cnn"})
    assert store.list_runs(theirs) == [] and store.get_active(theirs) is None
    assert len(store.list_runs(mine)) == 1


def test_nan_history_round_trips(store):
    token = runs.new_token()
    saved = store.save_run(token, _record(history={"loss": [1.0, math.nan]}, status="nan"))
    (back,) = store.list_runs(token)
    assert back.status == "nan" and math.isnan(back.history["loss"][1])
    assert back.id == saved.id


def test_unreadable_or_foreign_folders_are_skipped(store):
    token = runs.new_token()
    good = store.save_run(token, _record())
    folder = store.root / token / "runs"
    (folder / "20250101T000000-deadbeef").mkdir()  # half-deleted: no run.json
    (folder / "20250101T000001-deadbeef").mkdir()
    (folder / "20250101T000001-deadbeef" / "run.json").write_text("{not json")
    (folder / ".tmp-abc").mkdir()  # a write in progress
    (folder / "notes.txt").write_text("not a run")
    assert [r.id for r in store.list_runs(token)] == [good.id]


def test_record_reads_older_and_newer_files(store):
    raw = _record(id="20250101T000000-00000000", number=4).to_json()
    raw["a_future_field"] = 1
    del raw["notes"]
    back = RunRecord.from_json(json.loads(json.dumps(raw)))
    assert back.number == 4 and back.notes == []


def test_table_rows_have_the_hyperparameters_as_columns():
    rec = _record(number=3, config={**_record().config, "augmentation": {"rotation": 0.1,
                  "shift": 0.0, "zoom": 0.2, "flip": True}})  # fmt: skip
    (row,) = runs.table_rows([rec])
    assert row == {
        "run": "#3 toy_4x4 · mnist-sample · augmented",
        "status": "done",
        "learning rate": 0.001,
        "optimizer": "adam",
        "batch": 64,
        "epochs": "3 of 3",  # a record without batch counts: every epoch of a done run ran
        "augmentation": "rotation 0.1, zoom 0.2, flip",
        "seed": 7,
        "best val accuracy": 0.8,
        "images/s": 1234,
        "device": "CPU",
    }
    assert runs.describe_augmentation({"rotation": 0.0, "flip": False}) == "none"
    assert runs.table_rows([_record(history={"loss": [1.0]})])[0]["best val accuracy"] is None


def test_the_epochs_column_says_how_far_a_stopped_run_got():
    """The issue: a run stopped at batch 24 of 57 of epoch 2 (of 5) read "epochs 2"."""
    stopped = _record(status="stopped", config={**_record().config, "epochs": 5},
                      batches=57, batches_done=57 + 24)  # fmt: skip
    done = _record(batches=57, batches_done=3 * 57)
    old = _record(status="stopped", history={"loss": [1.0, 0.9]})  # stored before counting
    assert [r["epochs"] for r in runs.table_rows([stopped, done, old])] == [
        "1 of 5 (ended at batch 24 of 57 of epoch 2)",
        "3 of 3",
        "2 of 3 (the last may be partial)",
    ]
    # the counts survive the round trip through run.json
    back = RunRecord.from_json(json.loads(json.dumps(stopped.to_json())))
    assert (back.batches, back.batches_done) == (57, 81)


def test_active_choice_is_remembered_and_forgotten(store):
    token = runs.new_token()
    assert store.get_active(token) is None
    store.set_active(token, {"run": "20250101T000000-00000000"})
    assert RunStore(store.root).get_active(token) == {"run": "20250101T000000-00000000"}
    store.set_active(token, None)
    assert store.get_active(token) is None
    store.set_active(token, None)  # forgetting twice is fine


def test_cleanup_removes_only_old_learners(store):
    old, recent = runs.new_token(), runs.new_token()
    store.save_run(old, _record())
    store.save_run(recent, _record())
    now = time.time()
    stale = now - 31 * 86400
    os.utime(store.root / old / "last_used", (stale, stale))
    leftover = store.root / ".trash-gone-1234"
    leftover.mkdir()
    os.utime(leftover, (stale, stale))
    assert store.cleanup(30, now=now) == [old]
    assert store.list_runs(old) == [] and len(store.list_runs(recent)) == 1
    assert not leftover.exists()
    assert store.cleanup(30, now=now + 29 * 86400) == []  # recent is 29 days old: kept
    assert RunStore(store.root / "missing").cleanup(30) == []


# Each child waits for "go" so the two really write at the same time; it imports only
# cnnviz.runs (numpy), not Keras, so it starts in a fraction of a second.
CHILD = """
import json, pathlib, sys, time
from cnnviz.runs import RunRecord, RunStore
root, token, name = sys.argv[1:4]
(pathlib.Path(root) / f"ready-{name}").touch()
while not (pathlib.Path(root) / "go").exists():
    time.sleep(0.01)
store = RunStore(pathlib.Path(root) / "store")
record = RunRecord("", 0, "book_mnist", "mnist-sample", [], {}, "done", "", {})
print(json.dumps([store.save_run(token, record).number for _ in range(12)]))
"""


def test_two_processes_saving_at_once_never_share_a_number_or_a_folder(tmp_path):
    token = runs.new_token()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), token, name],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("a", "b")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{n}").exists() for n in ("a", "b")):
        assert time.monotonic() < deadline, "the children did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    numbers = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        numbers += json.loads(out)
    assert sorted(numbers) == list(range(1, 25))
    listed = RunStore(tmp_path / "store").list_runs(token)
    assert [r.number for r in listed] == list(range(1, 25))
    assert len({r.id for r in listed}) == 24
