"""One training run from start to stored result, the same in a worker process or in place.

The Train page does not train in the server's page thread: it hands a :class:`TrainRequest`
to the process-wide queue (:mod:`cnnviz.jobs`), which runs :func:`run` in a worker process
(:mod:`cnnviz.workers`) as soon as a trainer is free. :func:`run` builds a fresh model,
trains it (reporting :class:`cnnviz.training.Progress` for the live curves, stopping when
asked) and saves the run with its weights in the learner's folder of the run store
(:mod:`cnnviz.runs`). So a run finishes, and is kept, even if the learner's tab closed:
the next visit with the learner's link lists it.

Pure Python + keras; no streamlit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from cnnviz import claims, data, training
from cnnviz.claims import Claim
from cnnviz.runs import RunRecord, RunStore


@dataclass(frozen=True)
class TrainRequest:
    """Everything one run needs; picklable, so it can travel to a worker process.

    Attributes
    ----------
    dataset : data.Dataset
        The learner's data (uint8 images; a named dataset or their upload).
    model_name : str
        A zoo name, or ``"custom"`` with ``blocks``.
    blocks : str
        The custom builder's block list (``""`` for a zoo model).
    config : training.TrainConfig
        Hyperparameters and seed.
    subset : int
        Train on only this many images (0 = all).
    validate_on : str
        ``"seeded split"`` or ``"test set"`` (:func:`cnnviz.data.validation_data`).
    store_root : str
        The run store's folder (passed, not read from the environment: a worker process
        may have been started before the setting changed).
    token : str
        The learner's token: whose folder the run is saved in.
    """

    dataset: data.Dataset
    model_name: str
    blocks: str
    config: training.TrainConfig
    subset: int
    store_root: str
    token: str
    validate_on: str = "seeded split"

    @property
    @claims.claim
    def label(self) -> Claim:
        """What the queue shows: ``"book_mnist on mnist-sample, 3 epochs"`` (as set)."""
        epochs = self.config.epochs
        return Claim(
            f"{self.model_name} on {self.dataset.name}, {epochs} epoch{'s' * (epochs != 1)}",
            model=self.model_name,
            dataset=self.dataset.name,
            epochs=epochs,
        )


def build_model(ds: data.Dataset, model_name: str, blocks: str, seed: int):
    """A fresh model for ``ds`` (never a cached one), with the seed's initial weights."""
    import keras

    from cnnviz import models

    keras.utils.set_random_seed(seed)
    if model_name == "custom":
        return models.build_custom(models.parse_blocks(blocks), ds.input_shape, ds.num_classes)
    return models.build(model_name, ds.input_shape, ds.num_classes)


def save(
    store: RunStore,
    token: str,
    request: TrainRequest,
    ds: data.Dataset,
    result: training.TrainResult,
    model,
) -> RunRecord:
    """Store a finished (or stopped, or failed) run with its model (and its snapshots, when
    it recorded them: :mod:`cnnviz.snapshots`); return its record."""
    config = dataclasses.asdict(request.config)
    start = dataclasses.asdict(result.start) if result.start is not None else {}
    record = RunRecord(
        id="",
        number=0,
        model_name=request.model_name,
        dataset=ds.name,
        class_names=list(ds.class_names),
        config=config,
        status=result.status,
        message=result.message,
        history=result.history,
        points=result.points,
        start=start,
        notes=result.notes,
        images_per_sec=result.images_per_sec,
        seconds=result.seconds,
        device=result.device,
        subset=request.subset,
        blocks=request.blocks if request.model_name == "custom" else "",
        batches=result.batches,
        batches_done=result.batches_done,
    )
    card = {
        "model": request.model_name,
        "dataset": ds.name,
        "hyperparameters": {**config, "subset": request.subset},
        "history": result.history,
        "status": result.status,
        "class_names": list(ds.class_names),
    }
    # data that cannot be loaded again by name (the learner's upload) is kept with the run
    test = None if ds.name in data.DATASET_NAMES else (ds.x_test, ds.y_test)
    snaps = result.snapshots.to_bytes() if result.snapshots is not None else None
    return store.save_run(token, record, model, card, test, snapshots=snaps)


def run(
    request: TrainRequest,
    report: Callable[[training.Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunRecord:
    """Train the run ``request`` describes and store it; return the stored record.

    Raises
    ------
    training.TrainingError, models.ModelError, data.DataError
        For settings or data that cannot be used (one sentence).
    """
    config = request.config
    ds = request.dataset
    store = RunStore(request.store_root)
    failed = failed_rates(store, request.token, config.optimizer)
    if request.subset:
        ds = data.subset(ds, request.subset, None, seed=config.seed)
    model = build_model(ds, request.model_name, request.blocks, config.seed)
    x_val = y_val = None
    x_train, y_train = ds.x_train, ds.y_train
    if request.validate_on == "test set":
        x_train, y_train, x_val, y_val = data.validation_data(ds, "test set")
        x_val = data.prepare(x_val)
    result = training.train(
        model,
        data.prepare(x_train),
        y_train,
        config,
        x_val=x_val,
        y_val=y_val,
        on_progress=report,
        should_stop=should_stop,
        failed_rates=failed,
        class_names=ds.class_names,
    )
    return save(store, request.token, request, ds, result, model)


def failed_rates(store: RunStore, token: str, optimizer: str) -> list[float]:
    """The learning rates at which this learner's stored runs with ``optimizer`` diverged
    or hit NaN: a new failure's advice never suggests one of them."""
    return sorted(
        {
            float(r.config["learning_rate"])
            for r in store.list_runs(token)
            if r.status in ("nan", "diverged")
            and r.config.get("optimizer") == optimizer
            and isinstance(r.config.get("learning_rate"), int | float)
        }
    )
