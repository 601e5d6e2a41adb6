"""The learners' training runs on disk: weights, card and history, under a learner token.

A learner is a random token (kept in the app's URL, so a reload or a shared link brings
their runs back). Everything of one learner lives in one folder::

    <root>/                       $CNNVIZ_RUNS_DIR, default ~/.cache/cnnviz/runs
      <token>/
        runs/<run id>/            one run, written whole or not at all
          run.json                what the run list shows: settings, status, history …
          model.keras, model.json the trained model and its card (models.save)
          test.npz                the test images, only for a learner's own uploaded data
          snapshots.npz           kernels, maps, Grad-CAM, histograms at ~30 moments of
                                  the run (cnnviz.snapshots), when it recorded them
        numbers/<n>               run numbers (#n) claimed so far
        active.json               the model the learner chose for every page
        state/<name>.json         what they chose on the pages (settings, Transfer results)
        state/<name>.bin          their current image (Predict's upload or drawing)
        last_used                 touched on each visit; its age decides the clean-up

Several server processes may share ``<root>`` (e.g. on a shared volume), so every
change is atomic and nothing is ever half-visible:

- a run is assembled in a hidden folder (``.tmp-…``) beside the others and renamed into
  place; a rename within one filesystem is atomic, so a reader sees all of it or none;
- a JSON file is written to a hidden temporary file and ``os.replace``-d;
- a run (or a learner's folder) is deleted by renaming it to a hidden name first, then
  removing that;
- run ids are a timestamp plus random bits, and run numbers are claimed by creating
  ``numbers/<n>`` with ``O_CREAT | O_EXCL``, so two processes never take the same one;
- listing skips hidden names and any run whose ``run.json`` cannot be read.

Pure Python + numpy (and :mod:`cnnviz.models` for the weights); no Streamlit.

>>> import tempfile
>>> store = RunStore(tempfile.mkdtemp())
>>> token = new_token()
>>> store.list_runs(token)
[]
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from cnnviz import claims
from cnnviz.claims import Claim

ENV_ROOT = "CNNVIZ_RUNS_DIR"
ENV_MAX_AGE = "CNNVIZ_RUNS_MAX_AGE_DAYS"
DEFAULT_MAX_AGE_DAYS = 30.0
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
RUN_ID_RE = re.compile(r"\d{8}T\d{6}-[0-9a-f]{8}")
STATE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class RunStoreError(ValueError):
    """A token or run id is not valid, or a run is not there; the message says which."""


def default_root() -> Path:
    """Where runs are kept: ``$CNNVIZ_RUNS_DIR``, else ``$XDG_CACHE_HOME/cnnviz/runs``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``. Never inside the repository: runs are
    the learners' data, not the app's.
    """
    configured = os.environ.get(ENV_ROOT)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "cnnviz" / "runs"


def max_age_days() -> float:
    """Days after its last use that a learner's folder is removed (``$CNNVIZ_RUNS_MAX_AGE_DAYS``).

    Defaults to 30; a value that is not a positive number falls back to the default.
    """
    try:
        days = float(os.environ.get(ENV_MAX_AGE, DEFAULT_MAX_AGE_DAYS))
    except ValueError:
        return DEFAULT_MAX_AGE_DAYS
    return days if days > 0 else DEFAULT_MAX_AGE_DAYS


def new_token() -> str:
    """A fresh learner token: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def valid_token(token: object) -> bool:
    """Whether ``token`` can name a learner folder (16–64 of ``A-Z a-z 0-9 _ -``).

    Examples
    --------
    >>> valid_token("../../etc"), valid_token("abcdefghijklmnop")
    (False, True)
    """
    return isinstance(token, str) and TOKEN_RE.fullmatch(token) is not None


@dataclasses.dataclass
class RunRecord:
    """One finished run, as stored in ``run.json``.

    Attributes
    ----------
    id : str
        ``YYYYMMDDTHHMMSS-xxxxxxxx`` (UTC time of saving + random bits).
    number : int
        The learner's run number, shown as ``#number``; never reused.
    model_name, dataset : str
        Zoo name (or ``"custom"``) and dataset name.
    class_names : list of str
        Names of the output units.
    config : dict
        The :class:`cnnviz.training.TrainConfig` as a dict (augmentation as a dict).
    status, message : str
        How it ended (:data:`cnnviz.training.STATUSES`) and the sentence saying so.
    history : dict
        Per-epoch Keras history.
    points : dict
        The live curve: ``epoch`` (fractional), ``loss``, ``accuracy``.
    start : dict
        Loss and accuracy before training (epoch 0), chance, uniform-guess loss.
    notes : list of str
        Warnings (near chance, a spike, batch norm).
    images_per_sec : float
        Training images per second of training time (validation excluded): the figure
        the live progress line showed last (see :mod:`cnnviz.training`).
    batches, batches_done : int
        Batches per epoch and batches trained in all (0, 0 for runs stored before they
        were counted): see :func:`trained_text`.
    snapshot_bytes : int
        The size of the run's ``snapshots.npz`` (0: none were recorded).
    """

    id: str
    number: int
    model_name: str
    dataset: str
    class_names: list[str]
    config: dict
    status: str
    message: str
    history: dict
    points: dict = dataclasses.field(default_factory=dict)
    start: dict = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    images_per_sec: float = 0.0
    seconds: float = 0.0
    device: str = ""
    subset: int = 0
    blocks: str = ""  # the custom builder's block list
    created: str = ""  # ISO 8601, UTC
    batches: int = 0  # per epoch (0: not recorded)
    batches_done: int = 0  # over the whole run, a partial last epoch included
    snapshot_bytes: int = 0  # size of snapshots.npz (cnnviz.snapshots); 0: none

    @property
    def label(self) -> str:
        """``"#3 book_mnist · mnist-sample"`` (``· augmented`` when it was)."""
        aug = " · augmented" if self.config.get("augmentation") else ""
        return f"#{self.number} {self.model_name} · {self.dataset}{aug}"

    @property
    def best_val_accuracy(self) -> float | None:
        """The highest validation accuracy of any epoch (``None`` without validation)."""
        accs = [a for a in self.history.get("val_accuracy") or [] if a == a]  # drop NaN
        return max(accs) if accs else None

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> RunRecord:
        """The record from ``run.json`` (unknown keys ignored, for older/newer files)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


@claims.claim
def describe_augmentation(aug: dict | None) -> Claim:
    """A short text of the augmentation settings that are on, e.g. ``"rotation 0.1, flip"``.

    Works from the dict of any augmentation dataclass (its fields may change): every
    setting that is on is named as stored (its key, then its value; a switch by its key
    alone), in the dict's order; ``"none"`` when nothing is on.

    Examples
    --------
    >>> describe_augmentation({"rotation": 0.1, "shift": 0.0, "flip": True})
    'rotation 0.1, flip'
    >>> describe_augmentation(None)
    'none'
    """
    on = {k: v for k, v in (aug or {}).items() if v not in (None, False, 0, 0.0, "")}
    parts = [
        k if v is True else f"{k} {v:g}" if isinstance(v, int | float) else f"{k} {v}"
        for k, v in on.items()
    ]
    return Claim(", ".join(parts) or "none", settings=on)


@claims.claim
def trained_text(batches_done: int, batches: int, epochs: int) -> Claim:
    """How much of a run trained, for the run table: ``"1 of 5 (ended at batch 24 of 57 of
    epoch 2)"``, ``"3 of 3"``.

    The first number counts *completed* epochs (``batches_done // batches``); a partial
    epoch (a run stopped or failed mid-epoch) is named by the batch it ended at.
    ``batches = 0`` is a run stored before batches were counted: then ``batches_done``
    is the number of epochs that ran, and the last of them may have been cut short.

    Examples
    --------
    >>> trained_text(81, 57, 5), trained_text(171, 57, 3)
    ('1 of 5 (ended at batch 24 of 57 of epoch 2)', '3 of 3')
    """
    batches_done, batches, epochs = int(batches_done), int(batches), int(epochs)
    if batches <= 0:
        maybe = " (the last may be partial)" if batches_done else ""
        return Claim(
            f"{batches_done} of {epochs}{maybe}",
            completed=None,
            ran=batches_done,
            partial=None,
            epochs=epochs,
        )
    completed, partial = divmod(batches_done, batches)
    text = f"{completed} of {epochs}"
    if partial:
        text += f" (ended at batch {partial} of {batches} of epoch {completed + 1})"
    return Claim(text, completed=completed, partial=partial, batches=batches, epochs=epochs)


@claims.claim
def retention_sentence(days: float) -> Claim:
    """How long runs are kept: ``"Runs unused for 30 days are removed."``.

    Examples
    --------
    >>> retention_sentence(7.5)
    'Runs unused for 7.5 days are removed.'
    """
    unit = "day" if days == 1 else "days"
    return Claim(f"Runs unused for {days:g} {unit} are removed.", days=float(days))


def _epochs_column(r: RunRecord) -> Claim:
    """The run table's ``epochs``: completed of set, and where a partial epoch ended."""
    epochs = int(r.config.get("epochs") or 0)
    if r.batches > 0:
        return trained_text(r.batches_done, r.batches, epochs)
    ran = len(r.history.get("loss") or [])
    if r.status in ("done", "early_stopping"):  # every epoch that ran, ran to its end
        return trained_text(ran, 1, epochs)
    return trained_text(ran, 0, epochs)


def table_rows(records: list[RunRecord]) -> list[dict]:
    """One row per run with its hyperparameters as columns, for a sortable table.

    Columns: run, status, learning rate, optimizer, batch, epochs (completed of set, and
    where a partial one ended: :func:`trained_text`), augmentation, seed, best val
    accuracy, images/s (training images per second of training time), device.
    """
    rows = []
    for r in records:
        c = r.config
        rows.append(
            {
                "run": r.label,
                "status": r.status,
                "learning rate": c.get("learning_rate"),
                "optimizer": c.get("optimizer"),
                "batch": c.get("batch_size"),
                "epochs": str(_epochs_column(r)),
                "augmentation": str(describe_augmentation(c.get("augmentation"))),
                "seed": c.get("seed"),
                "best val accuracy": r.best_val_accuracy,
                "images/s": round(r.images_per_sec),
                "device": r.device,
            }
        )
    return rows


def _json_default(value):
    """numpy scalars and arrays in a record become plain numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a hidden temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_json_atomic(path: Path, payload: dict) -> None:
    """Write ``payload`` as JSON to ``path`` atomically (:func:`_write_atomic`)."""
    # NaN/inf (a diverged run's loss) are written as JSON's non-standard NaN, which
    # json.loads reads back
    _write_atomic(path, json.dumps(payload, default=_json_default).encode())


def _remove_atomic(path: Path) -> bool:
    """Rename ``path`` to a hidden name beside it, then delete it; ``False`` if it was gone."""
    trash = path.with_name(f".trash-{path.name}-{secrets.token_hex(4)}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


class RunStore:
    """The runs of every learner under one root folder (see the module docstring).

    Parameters
    ----------
    root : str or Path, optional
        Defaults to :func:`default_root`. Created on first write.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    # --- paths -----------------------------------------------------------------------

    def learner_dir(self, token: str) -> Path:
        """The folder of one learner (not created)."""
        if not valid_token(token):
            raise RunStoreError("that learner token is not valid; open the app without it")
        return self.root / token

    def _run_dir(self, token: str, run_id: str) -> Path:
        if not isinstance(run_id, str) or RUN_ID_RE.fullmatch(run_id) is None:
            raise RunStoreError(f"{run_id!r} is not a run id")
        return self.learner_dir(token) / "runs" / run_id

    def model_path(self, token: str, run_id: str) -> Path:
        """Where a run's ``model.keras`` is."""
        return self._run_dir(token, run_id) / "model.keras"

    def snapshots_path(self, token: str, run_id: str) -> Path:
        """Where a run's ``snapshots.npz`` is (:func:`cnnviz.snapshots.load_run` reads it)."""
        return self._run_dir(token, run_id) / "snapshots.npz"

    # --- runs --------------------------------------------------------------------------

    def _claim_number(self, token: str) -> int:
        """The next run number of this learner, claimed so no other process takes it."""
        folder = self.learner_dir(token) / "numbers"
        folder.mkdir(parents=True, exist_ok=True)
        taken = [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
        n = max(taken, default=0) + 1
        while True:
            try:
                os.close(os.open(folder / str(n), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                return n
            except FileExistsError:  # another process took it a moment ago
                n += 1

    def save_run(
        self,
        token: str,
        record: RunRecord,
        model=None,
        card: dict | None = None,
        test: tuple[np.ndarray, np.ndarray] | None = None,
        snapshots: bytes | None = None,
    ) -> RunRecord:
        """Write one run atomically and return its record with ``id``/``number``/``created``.

        Parameters
        ----------
        token : str
            The learner.
        record : RunRecord
            Everything but ``id``, ``number`` and ``created`` (filled in here).
        model : keras.Model, optional
            Saved as ``model.keras`` with ``card`` beside it.
        test : (x, y), optional
            The test images and labels, for data that cannot be loaded again by name.
        snapshots : bytes, optional
            The run's snapshots (:meth:`cnnviz.snapshots.Snapshots.to_bytes`), kept as
            ``snapshots.npz``; their size goes into ``snapshot_bytes``.
        """
        now = _dt.datetime.now(_dt.UTC)
        record = dataclasses.replace(
            record,
            id=f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}",
            number=self._claim_number(token),
            created=now.isoformat(timespec="seconds"),
            snapshot_bytes=len(snapshots) if snapshots is not None else 0,
        )
        runs = self.learner_dir(token) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=runs))
        try:
            if model is not None:
                from cnnviz import models  # Keras only when there is a model to save

                models.save(model, tmp / "model.keras", card or {})
            if test is not None:
                np.savez_compressed(tmp / "test.npz", x=test[0], y=test[1])
            if snapshots is not None:
                (tmp / "snapshots.npz").write_bytes(snapshots)
            _write_json_atomic(tmp / "run.json", record.to_json())
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; the run is an ordinary folder
            os.rename(tmp, runs / record.id)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self.touch(token)
        return record

    def list_runs(self, token: str) -> list[RunRecord]:
        """The learner's runs, oldest first (by number); unreadable runs are skipped."""
        runs = self.learner_dir(token) / "runs"
        if not runs.is_dir():
            return []
        out = []
        for folder in runs.iterdir():
            if folder.name.startswith(".") or RUN_ID_RE.fullmatch(folder.name) is None:
                continue
            try:
                out.append(RunRecord.from_json(json.loads((folder / "run.json").read_text())))
            except (OSError, ValueError, TypeError):  # being deleted, or not ours
                continue
        return sorted(out, key=lambda r: (r.number, r.id))

    def get_run(self, token: str, run_id: str) -> RunRecord:
        """One run's record; :class:`RunStoreError` if it is not there."""
        path = self._run_dir(token, run_id) / "run.json"
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RunStoreError(f"run {run_id} is not there (deleted?)") from exc
        return RunRecord.from_json(raw)

    def load_model(self, token: str, run_id: str):
        """The run's trained model (``keras.Model``); :class:`RunStoreError` if missing."""
        from cnnviz import models

        path = self.model_path(token, run_id)
        if not path.exists():
            raise RunStoreError(f"run {run_id} has no saved model (deleted?)")
        return models.load(path)

    def load_test(self, token: str, run_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The test images and labels saved with a run, or ``None`` when it has none."""
        path = self._run_dir(token, run_id) / "test.npz"
        if not path.exists():
            return None
        with np.load(path) as z:
            return z["x"], z["y"]

    def delete_run(self, token: str, run_id: str) -> bool:
        """Remove a run (atomically hidden first); ``False`` if it was already gone."""
        return _remove_atomic(self._run_dir(token, run_id))

    # --- the learner's choice of model ----------------------------------------------

    def set_active(self, token: str, choice: dict | None) -> None:
        """Remember which model this learner uses everywhere (``None`` forgets it)."""
        path = self.learner_dir(token) / "active.json"
        if choice is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        _write_json_atomic(path, choice)

    def get_active(self, token: str) -> dict | None:
        """The remembered choice, or ``None``."""
        try:
            raw = json.loads((self.learner_dir(token) / "active.json").read_text())
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) else None

    # --- what the learner chose on the pages (forms, results) ----------------------------

    def _state_path(self, token: str, name: str) -> Path:
        if not STATE_NAME_RE.fullmatch(str(name)):
            raise RunStoreError(f"not a state name: {name!r} (letters, digits, _ and -)")
        return self.learner_dir(token) / "state" / f"{name}.json"

    def set_state(self, token: str, name: str, payload: dict | None) -> None:
        """Keep a JSON-able ``payload`` (a page's settings, a comparison's results) under
        ``name`` for this learner, atomically; ``None`` forgets it."""
        path = self._state_path(token, name)
        if payload is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        _write_json_atomic(path, payload)

    def get_state(self, token: str, name: str) -> dict | None:
        """What :meth:`set_state` kept under ``name``, or ``None``."""
        try:
            raw = json.loads(self._state_path(token, name).read_text())
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) else None

    def set_file(self, token: str, name: str, content: bytes | None) -> None:
        """Keep raw bytes (the learner's current image) under ``name``; ``None`` forgets."""
        path = self._state_path(token, name).with_suffix(".bin")
        if content is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        _write_atomic(path, content)

    def get_file(self, token: str, name: str) -> bytes | None:
        """What :meth:`set_file` kept under ``name``, or ``None``."""
        try:
            return self._state_path(token, name).with_suffix(".bin").read_bytes()
        except OSError:
            return None

    # --- age and clean-up --------------------------------------------------------------

    def touch(self, token: str) -> None:
        """Mark the learner as seen now (only when they have a folder already)."""
        folder = self.learner_dir(token)
        if folder.is_dir():
            (folder / "last_used").touch()

    def last_used(self, token: str) -> float | None:
        """When the learner was last seen (``time.time()`` seconds), ``None`` if unknown."""
        folder = self.learner_dir(token)
        for p in (folder / "last_used", folder):
            with contextlib.suppress(OSError):
                return p.stat().st_mtime
        return None

    def cleanup(self, max_age_days: float, now: float | None = None) -> list[str]:
        """Remove every learner folder unused for more than ``max_age_days``; their tokens.

        Also removes hidden leftovers (``.tmp-…``, ``.trash-…``) older than a day, from a
        process that died while writing or deleting.
        """
        if not self.root.is_dir():
            return []
        now = time.time() if now is None else now
        removed = []
        for folder in self.root.iterdir():
            if valid_token(folder.name):
                seen = self.last_used(folder.name)
                if seen is not None and now - seen > max_age_days * 86400:
                    if _remove_atomic(folder):
                        removed.append(folder.name)
        for leftover in [*self.root.glob(".trash-*"), *self.root.glob("*/runs/.t*")]:
            with contextlib.suppress(OSError):
                if now - leftover.stat().st_mtime > 86400:
                    shutil.rmtree(leftover, ignore_errors=True)
        return removed
