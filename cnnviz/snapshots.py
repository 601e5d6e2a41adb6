"""Snapshots of a run: what the network looked like at ~30 moments while it trained.

The curves say *that* a network learns; snapshots show *what* it learns. While a run
trains (in its worker process, inside Keras's ``fit``), :class:`SnapshotRecorder` records
at a fixed schedule of moments, for one fixed **probe** image (the first validation
image: the network never trains on it):

- the first conv layer's kernels ``(kh, kw, c_in, c_out)``, exactly (``float32``);
- the first :data:`MAPS_PER_LAYER` maps of every conv layer for the probe, after its
  activation (maps wider than :data:`MAP_SIDE` are averaged down in blocks);
- the class probabilities of the probe and its Grad-CAM map for the predicted class (the
  last conv layer's activated maps weighed by the mean gradient of the class's
  pre-softmax score, as :func:`cnnviz.explain.heatmap` computes it with tf-keras-vis);
- per layer with weights, a histogram of its weights and one of its gradients in fixed
  bins (counts, not values: every weight counted exactly once) and its gradient norm.

**When.** Keras hands control back to callbacks once per *execution*
(``steps_per_execution`` batches, :mod:`cnnviz.training`), so those are the moments
there are (:func:`moments`: step 0 before any update, then each execution's end). Of
them :func:`schedule` picks at most :data:`N_SNAPSHOTS`, log-spaced (most change happens
early), always the first and the last; a run that stops early (Stop, NaN, early stopping)
gets a last snapshot where it stopped. A snapshot costs about as much as training a few
dozen images, so a short run takes fewer: at most one per :data:`IMAGES_PER_SNAPSHOT`
training images (:func:`budget`; the default 3-epoch run on mnist-sample takes 16).
Between those moments the recorder does nothing but compare one integer, so recording
costs under 10 % of the run's images/s (``benchmarks/bench_snapshots.py``).

**Histograms.** Weights: :data:`WEIGHT_BINS` equal bins over ``±WEIGHT_RANGE ×`` the
layer's largest ``|weight|`` at step 0, fixed for the run; a weight beyond goes into the
edge bin. Gradients: signed decades of ``|g|`` from 10⁻⁹ to 10³ (:data:`GRAD_EDGES`, the
same for every layer and run), a middle bin for ``|g| < 10⁻⁹`` (0 included), the outer bins
open to ±∞. NaN is counted on its own (``*_nan``), so ``counts.sum() + nan`` is the
layer's number of trainable weights at every snapshot.

**Gradients** are those of the mean training loss on a fixed batch of
:data:`GRAD_IMAGES` training images, with the model in inference mode (dropout off, batch
norm on its moving statistics): measuring must not change the run, and training mode
would update batch norm's statistics and draw dropout's random numbers. They need
TensorFlow's ``GradientTape`` (as Grad-CAM does); under another Keras backend a run records
everything else, and its gradients and Grad-CAM are ``None`` with the reason.

**Stored** with the run as ``snapshots.npz`` (:meth:`Snapshots.to_bytes`: kernels
``float32``, maps and Grad-CAM ``float16``, counts ``int32``): 66 kB for the default run,
312 kB for 30 snapshots of the zoo's widest conv stack (``cifar_augment``), under 2 MB
(:func:`stored_size`; the run's ``snapshot_bytes``); :func:`load_run` reads it back.

Pure keras + numpy (TensorFlow only for the gradients); no streamlit.
"""

from __future__ import annotations

import base64
import io
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from cnnviz import claims, explain
from cnnviz.claims import Claim

N_SNAPSHOTS = 30  # moments per run at most (fewer in a short run: see budget)
IMAGES_PER_SNAPSHOT = 1536  # a run takes at most one snapshot per this many training images
MAPS_PER_LAYER = 4  # the first maps of each conv layer
MAP_SIDE = 28  # maps wider or taller than this are averaged down in blocks
CAM_SIDE = 64  # Grad-CAM at the probe's resolution, at most this many pixels a side
GRAD_IMAGES = 16  # the fixed batch of training images the gradients are measured on
WEIGHT_BINS = 24
WEIGHT_RANGE = 2.0  # weight bins span ± this × the layer's largest |weight| at step 0
GRAD_DECADES = (-9, 3)  # gradient bins: one per decade of |g| from 1e-9 to 1e3
# The inner edges of the gradient bins, powers of ten:
# -1e3, -1e2, …, -1e-9, 1e-9, …, 1e3 (26 edges, 27 bins; the outer two open to ±inf).
_DECADES = [10.0**k for k in range(GRAD_DECADES[0], GRAD_DECADES[1] + 1)]
GRAD_EDGES = np.array([-d for d in reversed(_DECADES)] + _DECADES, dtype=np.float64)
GRAD_BINS = len(GRAD_EDGES) + 1
# "stopped changing": from a snapshot on, the kernels change by less than this per step
# (‖K_i − K_{i−1}‖ / ‖K_{i−1}‖ between two snapshots, divided by the steps between them)
SETTLED_RATE = 0.001  # 0.1 % of their size per training step
# "exploding": a gradient norm above this × the layer's norm at step 0 (or NaN/inf)
HUGE_GRADIENT = 100.0
FORMAT_VERSION = 1
FILE_NAME = "snapshots.npz"


class SnapshotError(ValueError):
    """Snapshots cannot be recorded or read; the message says why."""


# ------------------------------------------------------------------------------ schedule


def moments(
    batches: int,
    epochs: int,
    steps_per_execution: int,
    batch_size: int | None = None,
    n_train: int | None = None,
) -> np.ndarray:
    """The global steps at which Keras hands control to callbacks: 0, then each execution's end.

    An epoch of ``batches`` batches runs in executions of ``steps_per_execution``; the last
    one may be short (Keras still numbers it as full: it ends at the epoch's end). When it
    holds less than half an execution's images (``batch_size`` and ``n_train`` count them;
    without them every batch counts as full), the end before it is left out, exactly as the
    live curve merges such a stub into the point before (:mod:`cnnviz.training`): every
    moment is then a point of the curve, and no two show nearly the same picture.

    Examples
    --------
    >>> moments(5, 2, 2).tolist()
    [0, 2, 4, 5, 7, 9, 10]
    >>> moments(57, 1, 8).tolist()
    [0, 8, 16, 24, 32, 40, 48, 57]
    """
    if batches < 1 or epochs < 1 or steps_per_execution < 1:
        raise SnapshotError(
            f"batches, epochs and steps_per_execution must be >= 1, got {batches}, {epochs}, "
            f"{steps_per_execution}"
        )
    spe = steps_per_execution
    ends = np.unique(np.minimum(np.arange(spe, batches + spe, spe), batches))
    size = batch_size or 1
    total = n_train if n_train is not None else batches * size
    if len(ends) > 1 and 2 * (total - ends[-2] * size) < spe * size:
        ends = np.delete(ends, -2)  # a stub: the epoch's end stands for both
    per_epoch = (np.arange(epochs)[:, None] * batches + ends[None, :]).ravel()
    return np.concatenate([[0], per_epoch]).astype(np.int64)


def pick(count: int, n: int = N_SNAPSHOTS) -> np.ndarray:
    """Indices of ``min(n, count)`` of ``count`` moments: log-spaced, the first and the last.

    Index ``i`` of ``n`` goes near ``(count - 1) ** (i / (n - 1))`` (with index 0 first), so
    the moments are dense at the start; neighbours that would round to the same index are
    pushed apart, so the indices are distinct and increasing.

    Examples
    --------
    >>> pick(100, 6).tolist()
    [0, 1, 3, 10, 31, 99]
    >>> pick(4, 30).tolist()
    [0, 1, 2, 3]
    """
    if count < 1:
        raise SnapshotError(f"there must be at least one moment, got {count}")
    if n < 1:
        raise SnapshotError(f"the number of snapshots must be >= 1, got {n}")
    m = min(int(n), int(count))
    if m == count:
        return np.arange(count, dtype=np.int64)
    if m == 1:
        return np.array([count - 1], dtype=np.int64)
    last = count - 1
    raw = np.rint(np.geomspace(1, last, m - 1)).astype(np.int64)
    idx = np.concatenate([[0], raw])
    for i in range(1, m):  # distinct: at least one more than the one before …
        idx[i] = max(idx[i], idx[i - 1] + 1)
    for i in range(m - 2, 0, -1):  # … and room left for the ones after
        idx[i] = min(idx[i], idx[i + 1] - 1)
    idx[-1] = last
    return idx


def budget(n: int, images: int, per: int | None = None) -> int:
    """How many snapshots a run of ``images`` training images (over all epochs) takes when
    ``n`` are asked for: at most one per ``per`` (:data:`IMAGES_PER_SNAPSHOT`) images after
    the first, and never fewer than 2 (before and after training).

    Examples
    --------
    >>> budget(30, 3 * 7200), budget(30, 20 * 7200), budget(30, 540)
    (16, 30, 2)
    """
    per = IMAGES_PER_SNAPSHOT if per is None else per
    return max(min(int(n), 2), min(int(n), 1 + math.ceil(int(images) / per)))


def schedule(all_moments: Sequence[int], n: int = N_SNAPSHOTS) -> np.ndarray:
    """The steps to record: :func:`pick` of ``all_moments`` (which start at step 0)."""
    all_moments = np.asarray(all_moments, dtype=np.int64)
    return all_moments[pick(len(all_moments), n)]


def curve_x(steps, batches: int, batch_size: int, n_train: int) -> np.ndarray:
    """Where global ``steps`` sit on the learning curves' x axis (epochs, fractional).

    The same measure as :class:`cnnviz.training.Progress`'s points: after batch ``b`` of
    epoch ``e`` (0-based) the curve is at ``e + min(b × batch_size, n_train) / n_train``,
    so an epoch's end is a whole number and step 0 is 0.

    Examples
    --------
    >>> curve_x([0, 8, 57, 65], batches=57, batch_size=128, n_train=7200).round(4).tolist()
    [0.0, 0.1422, 1.0, 1.1422]
    """
    steps = np.asarray(steps, dtype=np.int64)
    epoch = np.where(steps > 0, (steps - 1) // batches, 0)
    within = steps - epoch * batches
    return epoch + np.minimum(within * batch_size, n_train) / n_train


def nearest_points(x, points_x) -> np.ndarray:
    """For each snapshot position ``x``, the index of the nearest curve point (``-1``: none)."""
    x = np.asarray(x, dtype=np.float64)
    px = np.asarray(points_x, dtype=np.float64)
    if px.size == 0:
        return np.full(x.shape, -1, dtype=np.int64)
    return np.abs(x[:, None] - px[None, :]).argmin(axis=1).astype(np.int64)


# ---------------------------------------------------------------------------- histograms


def weight_edges(values: np.ndarray, bins: int = WEIGHT_BINS) -> np.ndarray:
    """The ``bins + 1`` fixed edges of a layer's weight histogram, from its step-0 weights.

    ``±WEIGHT_RANGE ×`` the largest finite ``|weight|`` (``±1`` when that is 0).

    Examples
    --------
    >>> weight_edges(np.array([-0.5, 0.25]), bins=4).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    a = np.abs(np.asarray(values, dtype=np.float64).ravel())
    a = a[np.isfinite(a)]
    top = float(a.max()) if a.size else 0.0
    top = WEIGHT_RANGE * top if top > 0 else 1.0
    return np.linspace(-top, top, bins + 1).astype(np.float32)


def weight_histogram(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts of ``values`` in the equal bins of ``edges``, and how many are NaN.

    The bins are ``edges[0] + i·step ≤ v < edges[0] + (i + 1)·step`` with ``step = (edges[-1]
    − edges[0]) / bins``; a value below the first bin (``-inf`` included) is counted in it,
    one at or beyond the last (``+inf`` included) in the last, so every value is counted
    once: ``counts.sum() + nan == values.size``. The arithmetic is TensorFlow's
    ``histogram_fixed_width`` (what the recorder runs), step by step, so the two agree
    exactly.

    Examples
    --------
    >>> counts, nan = weight_histogram(np.array([-9.0, 0.1, 0.5, np.nan, np.inf]), np.array([-1, 0, 1.0]))
    >>> counts.tolist(), nan
    ([1, 3], 1)
    """  # noqa: E501
    v = np.asarray(values, dtype=np.float32).ravel()
    edges = np.asarray(edges, dtype=np.float32)
    bins = len(edges) - 1
    lo, hi = edges[0], edges[-1]
    bad = np.isnan(v)
    step = (np.float64(hi) - np.float64(lo)) / bins  # in double, as TensorFlow does
    with np.errstate(all="ignore"):
        offset = np.maximum(v[~bad], lo).astype(np.float64) - np.float64(lo)
        idx = np.minimum(offset / step, bins - 1).astype(np.int64)
    return np.bincount(idx, minlength=bins).astype(np.int64), int(bad.sum())


# the lower bound of each |g| band: 0, then 1e-9 … 1e3
_LOWER = np.concatenate([[0.0], GRAD_EDGES[len(GRAD_EDGES) // 2 :]])


def grad_histogram(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Counts of gradients in the signed decades of :func:`grad_edges`, and how many are NaN.

    ``|g|`` falls in band ``k`` of ``0 ≤ |g| < 1e-9``, ``1e-9 ≤ |g| < 1e-8``, …,
    ``|g| ≥ 1e3`` (the real powers of ten: ``float32(1e-5)`` is just below ``1e-5``);
    band 0 is the middle bin (13), band ``k`` of a positive ``g`` is bin ``13 + k`` and of a
    negative one ``13 − k`` (mirror images: ``-1e-8 < g ≤ -1e-9`` is bin 12). ``±inf`` go
    to the outer bins; ``counts.sum() + nan == values.size``.

    Examples
    --------
    >>> counts, nan = grad_histogram(np.array([0.0, 2e-9, -5.0, np.inf, np.nan]))
    >>> [int(i) for i in np.flatnonzero(counts)], counts[counts > 0].tolist(), nan
    ([3, 13, 14, 26], [1, 1, 1, 1], 1)
    """
    v = np.asarray(values, dtype=np.float32).ravel()
    bad = np.isnan(v)
    v = v[~bad]
    band = np.searchsorted(_LOWER, np.abs(v).astype(np.float64), side="right") - 1  # 0 … 13
    middle = len(GRAD_EDGES) // 2
    idx = np.where(v > 0, middle + band, middle - band)
    return np.bincount(idx, minlength=GRAD_BINS).astype(np.int64), int(bad.sum())


def tf_weight_histogram(values, lo: float, hi: float, bins: int):
    """:func:`weight_histogram` in TensorFlow (inside the recorder's graph): ``(counts, nan)``.

    ``tf.histogram_fixed_width`` puts a value below ``lo`` in bin 0 and one at or above
    ``hi`` in the last; a NaN is parked at ``lo`` and then taken out of bin 0.
    """
    import tensorflow as tf

    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    bad = tf.math.is_nan(values)
    nan = tf.reduce_sum(tf.cast(bad, tf.int64))
    counts = tf.histogram_fixed_width(tf.where(bad, lo, values), [lo, hi], bins)
    return tf.cast(counts, tf.int64) - tf.one_hot(0, bins, dtype=tf.int64) * nan, nan


def tf_grad_histogram(values):
    """:func:`grad_histogram` in TensorFlow (inside the recorder's graph): ``(counts, nan,
    norm)``, ``norm`` the L2 norm of ``values`` (NaN when one is NaN).

    In double precision, ``floor(log10|g| + 1e-12)`` is the decade of every float32 ``g``
    exactly (no float32 lies within 1e-12 of a power of ten but the powers themselves, 1 to
    1000, which the 1e-12 lifts over the log's last-digit error); ``histogram_fixed_width``
    then counts the bins, as fast as a sum (a search over the edges is ten times slower).
    """
    import tensorflow as tf

    values = tf.reshape(tf.cast(values, tf.float32), [-1])
    bad = tf.math.is_nan(values)
    nan = tf.reduce_sum(tf.cast(bad, tf.int64))
    a = tf.abs(tf.cast(tf.where(bad, 0.0, values), tf.float64))
    decade = tf.floor(tf.math.log(a) / math.log(10.0) + 1e-12)
    band = tf.clip_by_value(decade - GRAD_DECADES[0] + 1, 0.0, float(len(_LOWER) - 1))
    middle = float(len(GRAD_EDGES) // 2)
    sign = tf.where(values > 0, tf.constant(1.0, tf.float64), tf.constant(-1.0, tf.float64))
    centre = middle + 0.5 + band * sign
    span = tf.constant([0.0, float(GRAD_BINS)], tf.float64)
    counts = tf.histogram_fixed_width(tf.cast(centre, tf.float64), span, GRAD_BINS)
    counts = tf.cast(counts, tf.int64) - tf.one_hot(int(middle), GRAD_BINS, dtype=tf.int64) * nan
    norm = tf.sqrt(tf.reduce_sum(a * a))  # in double: a norm of 1e20 is not infinite
    return counts, nan, tf.where(nan > 0, tf.constant(math.nan, tf.float64), norm)


def grad_edges() -> np.ndarray:
    """The gradient histogram's edges, ``-inf`` and ``+inf`` at the ends (28 edges)."""
    return np.concatenate([[-np.inf], GRAD_EDGES.astype(np.float64), [np.inf]])


# ----------------------------------------------------------------------------- the record


@dataclass
class Snapshots:
    """Everything recorded at ``n`` moments of one run (arrays lead with the moment axis).

    Attributes
    ----------
    steps : np.ndarray
        ``(n,)`` global batch steps (0: before any update).
    x : np.ndarray
        ``(n,)`` where each sits on the learning curves (epochs, :func:`curve_x`).
    probe : np.ndarray
        ``(H, W, C)`` the probe image as the model ate it; ``probe_label`` its class.
    kernel_layer, kernels
        The first conv layer and its kernels ``(n, kh, kw, c_in, c_out)`` ``float32``
        (``None`` for a model without convolutions).
    map_layers, maps
        Each conv layer and its first maps for the probe, ``(n, c, h, w)`` ``float16``.
    probs : np.ndarray
        ``(n, K)`` the probe's class probabilities.
    cam, cam_reason
        ``(n, h, w)`` Grad-CAM of the predicted class in [0, 1] (``float16``), or ``None``
        and one sentence saying why not.
    layers, layer_sizes
        The layers with trainable weights and how many each has.
    weight_edges, weight_counts, weight_nan
        ``(L, B + 1)`` each layer's fixed edges; ``(n, L, B)`` counts; ``(n, L)`` NaNs.
    grad_counts, grad_nan, grad_norms, grad_reason
        ``(n, L, 27)`` counts in :func:`grad_edges`; ``(n, L)`` NaNs; ``(n, L)`` the L2
        norm of each layer's gradient; or ``None`` and why not.
    class_names : list of str
        Names of the output units (empty when the recorder was not told them).
    """

    steps: np.ndarray
    x: np.ndarray
    probe: np.ndarray
    probe_label: int
    probs: np.ndarray
    layers: list[str]
    layer_sizes: np.ndarray
    weight_edges: np.ndarray
    weight_counts: np.ndarray
    weight_nan: np.ndarray
    kernel_layer: str | None = None
    kernels: np.ndarray | None = None
    map_layers: list[str] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)
    cam: np.ndarray | None = None
    cam_reason: str | None = None
    grad_counts: np.ndarray | None = None
    grad_nan: np.ndarray | None = None
    grad_norms: np.ndarray | None = None
    grad_reason: str | None = None
    grad_images: int = 0
    class_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)

    def kernel_rates(self) -> np.ndarray:
        """``(n - 1,)`` how fast the first layer's kernels changed between each two
        snapshots, per training step: ``‖K_i − K_{i−1}‖ / ‖K_{i−1}‖ / (s_i − s_{i−1})``
        (Frobenius norms; the size at least 1e-12). Per step, so that the schedule's growing
        gaps do not make late changes look bigger. Empty without kernels."""
        if self.kernels is None or len(self) < 2:
            return np.zeros(0)
        k = self.kernels.reshape(len(self), -1).astype(np.float64)
        gaps = np.maximum(np.diff(np.asarray(self.steps, np.float64)), 1.0)
        with np.errstate(all="ignore"):
            diff = np.linalg.norm(np.diff(k, axis=0), axis=1)
            size = np.maximum(np.linalg.norm(k[:-1], axis=1), 1e-12)
            return diff / size / gaps

    def to_bytes(self) -> bytes:
        """The compressed ``.npz`` stored with the run (no pickles: ``allow_pickle=False``)."""
        arrays: dict[str, np.ndarray] = {
            "steps": np.asarray(self.steps, np.int64),
            "x": np.asarray(self.x, np.float64),
            "probe": np.asarray(self.probe, np.float16),
            "probs": np.asarray(self.probs, np.float32),
            "layer_sizes": np.asarray(self.layer_sizes, np.int64),
            "weight_edges": np.asarray(self.weight_edges, np.float32),
            "weight_counts": np.asarray(self.weight_counts, np.int32),
            "weight_nan": np.asarray(self.weight_nan, np.int32),
        }
        if self.kernels is not None:
            arrays["kernels"] = np.asarray(self.kernels, np.float32)
        for i, m in enumerate(self.maps):
            arrays[f"map_{i}"] = _compact(m)
        if self.cam is not None:
            arrays["cam"] = np.asarray(self.cam, np.float16)
        if self.grad_counts is not None:
            arrays["grad_counts"] = np.asarray(self.grad_counts, np.int32)
            arrays["grad_nan"] = np.asarray(self.grad_nan, np.int32)
            arrays["grad_norms"] = np.asarray(self.grad_norms, np.float64)
        meta = {
            "version": FORMAT_VERSION,
            "probe_label": int(self.probe_label),
            "layers": list(self.layers),
            "kernel_layer": self.kernel_layer,
            "map_layers": list(self.map_layers),
            "cam_reason": self.cam_reason,
            "grad_reason": self.grad_reason,
            "grad_images": int(self.grad_images),
            "class_names": [str(c) for c in self.class_names],
        }
        arrays["meta"] = np.array(json.dumps(meta))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Snapshots:
        """Read what :meth:`to_bytes` wrote; :class:`SnapshotError` if it is not that."""
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError) as exc:
            raise SnapshotError(f"the snapshots file cannot be read: {exc}") from exc
        if meta.get("version") != FORMAT_VERSION:
            raise SnapshotError(f"snapshots format {meta.get('version')} is not {FORMAT_VERSION}")
        maps = [arrays[f"map_{i}"] for i in range(len(meta["map_layers"]))]
        return cls(
            steps=arrays["steps"],
            x=arrays["x"],
            probe=arrays["probe"].astype(np.float32),
            probe_label=int(meta["probe_label"]),
            probs=arrays["probs"],
            layers=list(meta["layers"]),
            layer_sizes=arrays["layer_sizes"],
            weight_edges=arrays["weight_edges"],
            weight_counts=arrays["weight_counts"].astype(np.int64),
            weight_nan=arrays["weight_nan"].astype(np.int64),
            kernel_layer=meta["kernel_layer"],
            kernels=arrays.get("kernels"),
            map_layers=list(meta["map_layers"]),
            maps=maps,
            cam=arrays.get("cam"),
            cam_reason=meta["cam_reason"],
            grad_counts=(
                arrays["grad_counts"].astype(np.int64) if "grad_counts" in arrays else None
            ),
            grad_nan=arrays["grad_nan"].astype(np.int64) if "grad_nan" in arrays else None,
            grad_norms=arrays.get("grad_norms"),
            grad_reason=meta["grad_reason"],
            grad_images=int(meta["grad_images"]),
            class_names=list(meta.get("class_names") or []),
        )


def stored_size(snaps: Snapshots) -> int:
    """Bytes the snapshots take on disk (the ``.npz`` of :meth:`Snapshots.to_bytes`)."""
    return len(snaps.to_bytes())


def load_run(store, token: str, run_id: str) -> Snapshots | None:
    """A stored run's snapshots (:meth:`cnnviz.runs.RunStore.snapshots_path`), or ``None``
    for a run stored without them; :class:`SnapshotError` for a file that cannot be read."""
    path = store.snapshots_path(token, run_id)
    if not path.exists():
        return None
    return Snapshots.from_bytes(path.read_bytes())


# ------------------------------------------------------------------------------ measuring


def _block_mean(maps: np.ndarray, side: int) -> np.ndarray:
    """``(c, h, w)`` maps averaged in ``f × f`` blocks so neither side exceeds ``side``."""
    c, h, w = maps.shape
    f = max(1, math.ceil(max(h, w) / side))
    if f == 1:
        return maps
    h2, w2 = h // f, w // f
    return maps[:, : h2 * f, : w2 * f].reshape(c, h2, f, w2, f).mean(axis=(2, 4))


def cam_from(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A Grad-CAM ``(h, w)`` (ReLU of the weighted maps) as tf-keras-vis finishes it:
    zoomed to ``size`` (linear interpolation), stretched to [0, 1] by its own minimum and
    maximum (``+1e-7``), NaN as 0."""
    from scipy.ndimage import zoom

    raw = np.asarray(raw, np.float32)[None]  # (1, h, w)
    factor = (1.0, size[0] / raw.shape[1], size[1] / raw.shape[2])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cam = zoom(raw, factor, order=1)
        lo, hi = np.min(cam), np.max(cam)
        cam = (cam - lo) / (hi - lo + 1e-7)
    return np.clip(np.nan_to_num(cam[0]), 0, 1).astype(np.float32)


class _Meter:
    """Measures one snapshot of ``model`` on the probe (and the gradient batch).

    Built once per run: one extractor model (every conv layer's activated maps and the
    input of the output layer), and under TensorFlow one ``tf.function`` that computes
    maps, probabilities, Grad-CAM, gradients and every histogram in a single call.
    """

    def __init__(self, model, probe, x_batch, y_batch):
        self.model = model
        shape = explain.image_shape(model)
        probe = np.asarray(probe, np.float32)
        if probe.shape != shape:
            raise SnapshotError(f"the probe has shape {probe.shape}; the model expects {shape}")
        self.probe = probe
        self.x = np.concatenate([probe[None], np.asarray(x_batch, np.float32)])  # (1+B, H, W, C)
        self.y = np.asarray(y_batch).reshape(-1)
        convs = explain.conv_layers(model)
        self.kernel_layer = convs[0] if convs else None
        self.map_layers = convs
        last = model.layers[-1]
        act = getattr(last, "activation", None)
        self.binary = model.output_shape[-1] == 1
        self.head = (
            last
            if isinstance(last, keras.layers.Dense)
            and act in (keras.activations.softmax, keras.activations.sigmoid)
            else None
        )
        outputs = [model.get_layer(explain.cam_maps_layer(model, c)).output for c in convs]
        outputs.append(last.input if self.head is not None else model.outputs[0])
        self.extractor = keras.Model(model.inputs, outputs)
        self.groups = [
            (layer.name, list(layer.trainable_weights))
            for layer in model.layers
            if layer.trainable_weights
        ]
        self.sizes = np.array(
            [sum(int(np.prod(v.shape)) for v in vs) for _, vs in self.groups], np.int64
        )
        self.tf = keras.backend.backend() == "tensorflow"
        self.cam_reason = None
        if not convs:
            self.cam_reason = "The model has no convolutional layer, so no Grad-CAM."
        elif self.head is None:
            self.cam_reason = (
                "Grad-CAM needs the pre-softmax class scores, and the model's last layer is "
                "not a Dense softmax or sigmoid layer."
            )
        elif not self.tf:
            self.cam_reason = (
                f"Grad-CAM needs TensorFlow's gradients; this run used the "
                f"{keras.backend.backend()} backend."
            )
        self.grad_reason = None
        if not self.tf:
            self.grad_reason = (
                f"Gradients were not recorded: they need TensorFlow, and this run used the "
                f"{keras.backend.backend()} backend."
            )
        elif len(self.y) == 0:
            self.grad_reason = "Gradients were not recorded: there were no training images."
        self.edges: np.ndarray | None = None  # (L, B + 1), fixed at the first measure
        self._fn = None

    def _values(self, variables) -> np.ndarray:
        return np.concatenate(
            [keras.ops.convert_to_numpy(v.value).astype(np.float32).ravel() for v in variables]
        )

    def _fix_edges(self) -> None:
        self.edges = np.stack([weight_edges(self._values(vs)) for _, vs in self.groups])

    def _build_tf(self):
        """One graph for the whole snapshot (traced once per run, then one call a moment)."""
        import tensorflow as tf

        head, binary, groups = self.head, self.binary, self.groups
        flat = [v for _, vs in groups for v in vs]
        splits = np.cumsum([0] + [len(vs) for _, vs in groups])
        ranges = [(float(e[0]), float(e[-1])) for e in self.edges]
        bins = self.edges.shape[1] - 1
        n_maps = len(self.map_layers)
        with_cam = self.cam_reason is None
        with_grads = self.grad_reason is None
        extractor = self.extractor

        def flat_of(tensors):
            return tf.concat([tf.reshape(tf.cast(t, tf.float32), [-1]) for t in tensors], 0)

        @tf.function(reduce_retracing=True, autograph=False)  # plain Python loops
        def measure(x, y):
            with tf.GradientTape(persistent=True) as tape:
                outs = extractor(x, training=False)
                outs = list(outs) if isinstance(outs, list | tuple) else [outs]
                maps = [tf.cast(o, tf.float32) for o in outs[:n_maps]]
                last = tf.cast(outs[-1], tf.float32)
                if head is not None:
                    logits = tf.matmul(last, tf.cast(head.kernel, tf.float32))
                    if head.use_bias:
                        logits = logits + tf.cast(head.bias, tf.float32)
                    probs = tf.sigmoid(logits) if binary else tf.nn.softmax(logits)
                else:
                    logits, probs = last, last
                if binary:
                    loss = keras.losses.binary_crossentropy(
                        tf.cast(tf.reshape(y, [-1, 1]), tf.float32), probs[1:]
                    )
                    score = logits[0, 0] * tf.where(probs[0, 0] >= 0.5, 1.0, -1.0)
                else:
                    loss = keras.losses.sparse_categorical_crossentropy(y, probs[1:])
                    score = tf.gather(logits[0], tf.argmax(logits[0]))
                loss = tf.reduce_mean(loss)
            out = {"probs": probs[0], "maps": [m[0, :, :, :MAPS_PER_LAYER] for m in maps]}
            if with_cam:  # the gradient at the maps the score was computed from (bfloat16
                # under mixed precision: the float32 copy is not on the score's path)
                g = tf.cast(tape.gradient(score, outs[n_maps - 1])[0], tf.float32)  # (h, w, c)
                weights = tf.reduce_mean(g, axis=(0, 1))  # (c,): Grad-CAM's channel weights
                out["cam"] = tf.nn.relu(tf.reduce_sum(maps[-1][0] * weights, axis=-1))
            grads = None
            if with_grads:
                zero = tf.UnconnectedGradients.ZERO
                grads = tape.gradient(loss, flat, unconnected_gradients=zero)
            del tape
            w_counts, w_nan, g_counts, g_nan, norms = [], [], [], [], []
            for i in range(len(groups)):
                part = slice(splits[i], splits[i + 1])
                c, n = tf_weight_histogram(flat_of([v.value for v in flat[part]]), *ranges[i], bins)
                w_counts.append(c)
                w_nan.append(n)
                if grads is not None:
                    c, n, norm = tf_grad_histogram(flat_of(grads[part]))
                    g_counts.append(c)
                    g_nan.append(n)
                    norms.append(norm)
            out["w_counts"], out["w_nan"] = tf.stack(w_counts), tf.stack(w_nan)
            if grads is not None:
                out["g_counts"], out["g_nan"] = tf.stack(g_counts), tf.stack(g_nan)
                out["norms"] = tf.stack(norms)
            return out

        return measure

    def _numpy(self) -> dict:
        """The same measures without gradients, for backends other than TensorFlow."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # keras: input structure name
            outs = self.extractor(self.x[:1], training=False)
        outs = list(outs) if isinstance(outs, list | tuple) else [outs]
        outs = [keras.ops.convert_to_numpy(o).astype(np.float32) for o in outs]
        last = outs[-1][0]
        if self.head is not None:
            logits = last @ keras.ops.convert_to_numpy(self.head.kernel).astype(np.float32)
            if self.head.use_bias:
                logits = logits + keras.ops.convert_to_numpy(self.head.bias).astype(np.float32)
            if self.binary:
                probs = 1.0 / (1.0 + np.exp(-logits))
            else:
                e = np.exp(logits - logits.max())
                probs = e / e.sum()
        else:
            probs = last
        w = [
            weight_histogram(self._values(vs), edges)
            for (_, vs), edges in zip(self.groups, self.edges, strict=True)
        ]
        return {
            "probs": probs,
            "maps": [o[0, :, :, :MAPS_PER_LAYER] for o in outs[:-1]],
            "w_counts": np.stack([c for c, _ in w]),
            "w_nan": np.array([n for _, n in w]),
        }

    def measure(self) -> dict:
        """One snapshot's measures as numpy arrays (see :class:`Snapshots`)."""
        if self.edges is None:
            self._fix_edges()
        if self.tf:
            import tensorflow as tf

            if self._fn is None:
                self._fn = self._build_tf()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                raw = self._fn(tf.constant(self.x), tf.constant(self.y.astype(np.int64)))
            out = {
                k: ([np.asarray(m) for m in v] if k == "maps" else np.asarray(v))
                for k, v in raw.items()
            }
        else:
            out = self._numpy()
        out["maps"] = [_block_mean(np.moveaxis(m, -1, 0), MAP_SIDE) for m in out["maps"]]
        if "cam" in out:
            h, w = self.probe.shape[:2]
            f = max(1, math.ceil(max(h, w) / CAM_SIDE))
            out["cam"] = cam_from(out["cam"], (h // f, w // f))
        if self.kernel_layer is not None:
            out["kernels"] = explain.kernels(self.model, self.kernel_layer).astype(np.float32)
        return out


# ------------------------------------------------------------------------------ recording


def _compact(maps: np.ndarray) -> np.ndarray:
    """``float16`` when every finite value fits (±65,504), else ``float32`` (a diverging
    run's maps can be huge, and must not be stored as infinite)."""
    maps = np.asarray(maps)
    finite = np.abs(maps[np.isfinite(maps)])
    if maps.dtype == np.float16 or (finite.size and finite.max() > np.finfo(np.float16).max):
        return maps if maps.dtype == np.float16 else maps.astype(np.float32)
    return maps.astype(np.float16)


class SnapshotRecorder(keras.callbacks.Callback):
    """A Keras callback that records :class:`Snapshots` of ``model`` at scheduled moments.

    Parameters
    ----------
    model : keras.Model
        The model being trained (the plain one, not an augmentation wrapper around it).
    probe : np.ndarray
        ``(H, W, C)`` the fixed image every snapshot looks at; ``probe_label`` its class.
    x_batch, y_batch : np.ndarray
        The fixed training images and labels the gradients are measured on.
    batches, epochs, steps_per_execution : int
        The run's shape (:func:`moments`): batches per epoch, epochs, and the batches Keras
        runs between two calls to its callbacks.
    batch_size, n_train : int
        To place each snapshot on the curves (:func:`curve_x`).
    n : int
        How many snapshots at most (:data:`N_SNAPSHOTS`); a short run takes fewer
        (:func:`budget`).
    class_names : sequence of str
        Names of the output units, kept with the snapshots.
    """

    def __init__(
        self,
        model,
        probe: np.ndarray,
        probe_label: int,
        x_batch: np.ndarray,
        y_batch: np.ndarray,
        *,
        batches: int,
        epochs: int,
        steps_per_execution: int,
        batch_size: int,
        n_train: int,
        n: int = N_SNAPSHOTS,
        class_names: Sequence[str] = (),
    ):
        super().__init__()
        self.class_names = [str(c) for c in class_names]
        self.net = model
        self.meter = _Meter(model, probe, x_batch, y_batch)
        self.probe_label = int(probe_label)
        self.batches, self.batch_size, self.n_train = int(batches), int(batch_size), int(n_train)
        every = moments(batches, epochs, steps_per_execution, batch_size, n_train)
        self.due = set(schedule(every, budget(n, epochs * n_train)).tolist())
        self.records: list[dict] = []
        self.step = 0  # the global step trained so far
        self._latest: Snapshots | None = None
        self._epoch = 0

    def _record(self) -> None:
        # Keras's ``Callback.model`` brings the weights back into the model's variables on
        # backends that keep them elsewhere while fitting (JAX); ours are the same ones
        _ = self.model
        out = self.meter.measure()
        out["step"] = self.step
        self.records.append(out)
        self._latest = None

    def on_train_begin(self, logs=None):
        if not self.records:
            self._record()  # step 0: before any update

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.step = self._epoch * self.batches + min(batch + 1, self.batches)
        if self.step in self.due and self.records[-1]["step"] != self.step:
            self._record()

    def on_train_end(self, logs=None):
        if not self.records or self.records[-1]["step"] != self.step:
            self._record()  # where the run ended (stopped, NaN, early stopping)

    @property
    def latest(self) -> Snapshots | None:
        """The last snapshot so far, as a one-moment :class:`Snapshots` (for the live view)."""
        if self._latest is None and self.records:
            self._latest = self._stack(self.records[-1:])
        return self._latest

    def result(self) -> Snapshots | None:
        """Every snapshot recorded (``None`` before the first)."""
        return self._stack(self.records) if self.records else None

    def _stack(self, records: list[dict]) -> Snapshots:
        m = self.meter
        steps = np.array([r["step"] for r in records], np.int64)
        grads = m.grad_reason is None
        return Snapshots(
            steps=steps,
            x=curve_x(steps, self.batches, self.batch_size, self.n_train),
            probe=m.probe,
            probe_label=self.probe_label,
            probs=np.stack([r["probs"] for r in records]).astype(np.float32),
            layers=[name for name, _ in m.groups],
            layer_sizes=m.sizes,
            weight_edges=m.edges,
            weight_counts=np.stack([r["w_counts"] for r in records]).astype(np.int64),
            weight_nan=np.stack([r["w_nan"] for r in records]).astype(np.int64),
            kernel_layer=m.kernel_layer,
            kernels=(
                np.stack([r["kernels"] for r in records]) if m.kernel_layer is not None else None
            ),
            map_layers=list(m.map_layers),
            maps=[
                _compact(np.stack([r["maps"][i] for r in records]))
                for i in range(len(m.map_layers))
            ],
            cam=(
                np.stack([r["cam"] for r in records]).astype(np.float16)
                if m.cam_reason is None
                else None
            ),
            cam_reason=m.cam_reason,
            grad_counts=np.stack([r["g_counts"] for r in records]).astype(np.int64)
            if grads
            else None,
            grad_nan=np.stack([r["g_nan"] for r in records]).astype(np.int64) if grads else None,
            grad_norms=np.stack([r["norms"] for r in records]).astype(np.float64)
            if grads
            else None,
            grad_reason=m.grad_reason,
            grad_images=len(m.y) if grads else 0,
            class_names=self.class_names,
        )


# ------------------------------------------------------------------------------ sentences


def _pct(fraction: float) -> str:
    """A fraction as a percentage with 3 significant digits: ``0.0123 -> "1.23 %"``."""
    return f"{100 * fraction:.3g} %"


@claims.claim
def kernels_settled_sentence(
    steps: Sequence[int],
    rates: Sequence[float],
    layer: str = "conv1",
    threshold: float = SETTLED_RATE,
) -> Claim:
    """Whether (and when) a layer's kernels stopped changing, from the snapshots.

    ``rates[i]`` is how fast the kernels changed from the snapshot at ``steps[i]`` to the
    one at ``steps[i + 1]``, per training step (:meth:`Snapshots.kernel_rates`). **Stopped
    changing after step S** means: from the snapshot at S to the last, the kernels changed
    by less than ``threshold`` per step between every two snapshots, and before S they did
    not (the change that ended at S was at least ``threshold``). ``facts["verdict"]``:
    ``"settled"``, ``"unchanged"`` (below the threshold from the first snapshot on),
    ``"still_changing"`` (the last rate is not below it), ``"nan"`` (a rate is NaN or
    infinite: the kernels broke; ``broken_step`` is the first snapshot where) or
    ``"unknown"`` (one snapshot).

    Examples
    --------
    >>> kernels_settled_sentence([0, 8, 40, 171], [0.05, 0.002, 0.0004])
    "conv1's kernels stopped changing after step 40: from there to step 171 they changed by less than 0.1 % of their size per training step (‖ΔK‖ / ‖K‖ between two snapshots, over the steps between them)."
    """  # noqa: E501
    steps = [int(s) for s in steps]
    c = np.asarray(rates, dtype=np.float64).reshape(-1)
    n = len(steps)
    if n >= 1 and len(c) != n - 1:
        raise SnapshotError(f"need one rate between each two snapshots: {n} steps, {len(c)} rates")
    facts = {"layer": layer, "threshold": float(threshold), "settled_step": None}
    measure = "(‖ΔK‖ / ‖K‖ between two snapshots, over the steps between them)"
    limit = _pct(threshold)
    if n < 2:
        return Claim(
            f"One snapshot cannot say whether {layer}'s kernels stopped changing.",
            verdict="unknown",
            last_rate=None,
            **facts,
        )
    bad = ~np.isfinite(c)
    last = float(c[-1])
    if bad.any():
        i = int(np.argmax(bad))
        return Claim(
            f"{layer}'s kernels became NaN or infinite between step {steps[i]} and step "
            f"{steps[i + 1]}.",
            verdict="nan",
            last_rate=last,
            broken_step=steps[i + 1],
            **facts,
        )
    small = c < threshold
    tail = len(c) if small.all() else int(np.argmin(small[::-1]))  # the trailing small rates
    if tail == 0:
        return Claim(
            f"{layer}'s kernels were still changing at the end: from step {steps[-2]} to step "
            f"{steps[-1]} by {_pct(last)} of their size per training step {measure}, not less "
            f"than {limit}.",
            verdict="still_changing",
            last_rate=last,
            **facts,
        )
    if tail == len(c):
        return Claim(
            f"{layer}'s kernels hardly changed: from step {steps[0]} to step {steps[-1]} they "
            f"changed by less than {limit} of their size per training step {measure}.",
            verdict="unchanged",
            last_rate=last,
            **facts,
        )
    since = steps[len(c) - tail]
    facts["settled_step"] = since
    return Claim(
        f"{layer}'s kernels stopped changing after step {since}: from there to step "
        f"{steps[-1]} they changed by less than {limit} of their size per training step "
        f"{measure}.",
        verdict="settled",
        last_rate=last,
        **facts,
    )


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@claims.claim
def gradient_health_sentence(
    steps: Sequence[int],
    layers: Sequence[str],
    norms: np.ndarray | None,
    reason: str | None = None,
    factor: float = HUGE_GRADIENT,
) -> Claim:
    """Dead and exploding layers, from each layer's gradient norm at each snapshot.

    A layer **explodes** at a snapshot when its gradient norm is NaN or infinite, or above
    ``factor ×`` its norm at the first snapshot (when that was finite and above 0); the
    sentence names the first snapshot where any layer does, and those layers. A layer is
    **dead** when its gradient is exactly zero at the last snapshot: on the measured batch
    no weight of it would move. ``facts["verdict"]``: ``"healthy"``, ``"exploding"``,
    ``"dead"``, ``"both"`` or ``"unknown"`` (no gradients recorded; ``reason`` says why).

    Examples
    --------
    >>> gradient_health_sentence([0, 9], ["conv1", "output"], np.array([[0.2, 0.5], [0.0, 0.4]]))
    'At the last snapshot (step 9), conv1 had an all-zero gradient: its weights no longer move (a dead layer).'
    """  # noqa: E501
    steps = [int(s) for s in steps]
    layers = list(layers)
    facts = {"factor": float(factor), "exploding_layers": [], "exploding_step": None}
    if norms is None or not steps or not layers:
        return Claim(
            reason or "Gradients were not recorded.",
            verdict="unknown",
            dead_layers=[],
            dead_step=None,
            **facts,
        )
    g = np.asarray(norms, dtype=np.float64).reshape(len(steps), len(layers))
    base = g[0]
    with np.errstate(all="ignore"):
        grown = np.isfinite(base) & (base > 0) & (g > factor * base)
    exploding = ~np.isfinite(g) | grown
    parts = []
    if exploding.any():
        i = int(np.argmax(exploding.any(axis=1)))
        names = [layers[j] for j in np.flatnonzero(exploding[i])]
        facts.update(exploding_layers=names, exploding_step=steps[i])
        why = []
        for j in np.flatnonzero(exploding[i]):
            if not np.isfinite(g[i, j]):
                why.append(f"{layers[j]} (NaN or infinite)")
            else:
                times = g[i, j] / base[j]
                why.append(
                    f"{layers[j]} (norm {g[i, j]:.3g}, {times:,.0f}× its norm at step {steps[0]})"
                )
        parts.append(f"At step {steps[i]} the gradients exploded: {_join(why)}.")
    dead = [layers[j] for j in np.flatnonzero(g[-1] == 0)]
    if dead:
        has = "had an all-zero gradient" if len(dead) == 1 else "had all-zero gradients"
        its = "their weights no longer move (dead layers)"
        if len(dead) == 1:
            its = "its weights no longer move (a dead layer)"
        parts.append(f"At the last snapshot (step {steps[-1]}), {_join(dead)} {has}: {its}.")
    verdict = {(False, False): "healthy", (True, False): "exploding", (False, True): "dead"}.get(
        (bool(facts["exploding_layers"]), bool(dead)), "both"
    )
    if verdict == "healthy":
        parts.append(
            f"Every layer's gradient stayed finite, not all zero and within {factor:g}× its "
            f"norm at step {steps[0]}, at every snapshot."
        )
    return Claim(
        " ".join(parts),
        verdict=verdict,
        dead_layers=dead,
        dead_step=steps[-1] if dead else None,
        **facts,
    )


@claims.claim
def probe_sentence(
    steps: Sequence[int], probs: np.ndarray, label: int, class_names: Sequence[str]
) -> Claim:
    """What the network called the probe at the first and at the last snapshot.

    ``facts``: ``first`` and ``last`` (the class with the highest probability, ``None``
    when the probabilities are not numbers), ``first_p``/``last_p`` its probability, and
    ``right`` (whether the last call is the probe's class; ``None`` when unknown).

    Examples
    --------
    >>> probe_sentence([0, 171], np.array([[0.6, 0.4], [0.01, 0.99]]), 1, ["cat", "dog"])
    'The probe (a validation image of dog) was called cat (60.0 %) at step 0 and dog (99.0 %) at step 171: right.'
    """  # noqa: E501
    from cnnviz.novelty import percent

    p = np.asarray(probs, dtype=np.float64)
    p = p.reshape(len(steps), -1) if len(steps) else p.reshape(0, max(1, len(class_names)))
    names = list(class_names)
    label = int(label)
    true = names[label] if 0 <= label < len(names) else str(label)

    def call(row: np.ndarray) -> tuple[int | None, float | None, str]:
        if not row.size or not np.isfinite(row).all():
            return None, None, "nothing (its probabilities were not numbers)"
        k = int(np.argmax(row))
        name = names[k] if k < len(names) else str(k)
        return k, float(row[k]), f"{name} ({percent(row[k])})"

    if not len(steps):
        none = dict.fromkeys(("first", "last", "first_p", "last_p", "right"))
        return Claim("No snapshot of the probe was recorded.", **none)
    first, first_p, first_text = call(p[0])
    last, last_p, last_text = call(p[-1])
    right = None if last is None else last == label
    verdict = "" if right is None else (": right." if right else ": wrong.")
    if len(steps) == 1:
        text = f"The probe (a validation image of {true}) is called {last_text} at step "
        text += str(steps[0])
    else:
        text = (
            f"The probe (a validation image of {true}) was called {first_text} at step "
            f"{steps[0]} and {last_text} at step {steps[-1]}"
        )
    return Claim(
        text + (verdict or "."),
        first=first,
        last=last,
        first_p=first_p,
        last_p=last_p,
        right=right,
    )


@claims.claim
def stored_sentence(count: int, nbytes: int) -> Claim:
    """How many snapshots a run keeps and their size on disk.

    Examples
    --------
    >>> stored_sentence(25, 412_345), stored_sentence(1, 999)
    ('25 snapshots, 412.3 kB stored with the run.', '1 snapshot, 1.0 kB stored with the run.')
    """
    count, nbytes = int(count), int(nbytes)
    size = f"{nbytes / 1e6:.2f} MB" if nbytes >= 999_950 else f"{nbytes / 1e3:.1f} kB"
    noun = "snapshot" if count == 1 else "snapshots"
    return Claim(f"{count:,} {noun}, {size} stored with the run.", count=count, nbytes=nbytes)


# ------------------------------------------------------------------------------ the view


def levels(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Colour levels for the browser: ``0..254`` over ``[lo, hi]`` (clipped), ``255`` for
    NaN or ±inf. The view draws pictures from these; numbers it prints are sent as numbers.

    Examples
    --------
    >>> levels(np.array([-1.0, 0.0, 1.0, 5.0, np.nan]), -1.0, 1.0).tolist()
    [0, 127, 254, 254, 255]
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    span = hi - lo if hi > lo else 1.0
    with np.errstate(all="ignore"):
        t = np.clip((np.where(ok, v, lo) - lo) / span, 0.0, 1.0)
    return np.where(ok, np.rint(t * 254), 255).astype(np.uint8)


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def _finite_max(a: np.ndarray) -> float:
    a = np.abs(np.asarray(a, dtype=np.float64))
    a = a[np.isfinite(a)]
    m = float(a.max()) if a.size else 0.0
    return m if m > 0 else 1.0


def _num_or_none(values) -> list:
    """Floats for JSON: NaN and ±inf become ``None`` (JSON has no NaN)."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, np.float64).ravel()]


def kernel_view(snaps: Snapshots) -> np.ndarray | None:
    """``(n, c_out, kh, kw)``: the first layer's kernels as drawn (the mean over the input
    channels when there are several)."""
    if snaps.kernels is None:
        return None
    k = np.asarray(snaps.kernels, np.float32)  # (n, kh, kw, cin, cout)
    return np.transpose(k.mean(axis=3), (0, 3, 1, 2))


def view_data(
    snaps: Snapshots,
    class_names: Sequence[str] | None = None,
    points: dict | None = None,
    live: bool = False,
    key: str = "",
) -> dict:
    """Everything the timeline component draws, sent to the browser once (JSON).

    Pictures (probe, kernels, maps, Grad-CAM) travel as :func:`levels` (one byte a value,
    base64) over limits that are sent too; numbers the view prints (steps, probabilities,
    counts, norms) travel as numbers. Kernels share one symmetric scale over every
    snapshot, each conv layer's maps one scale over every snapshot (signed when any map
    value is negative), so a colour means the same value all along the run.

    Parameters
    ----------
    snaps : Snapshots
        The run's snapshots (one, for the live view).
    class_names : sequence of str, optional
        Names of the output units; by default the snapshots' own (else their indices).
    points : dict, optional
        The run's live points (``epoch``, ``loss``): the view's own loss curve, with a
        marker at each snapshot's place (:func:`curve_x`).
    live : bool
        The live panel (the latest snapshot, no slider).
    """
    from cnnviz.plots import style

    n = len(snaps)
    probe = np.asarray(snaps.probe, np.float32)
    k = np.asarray(snaps.probs).shape[-1]
    names = list(class_names or snaps.class_names or [str(i) for i in range(max(k, 2))])
    out: dict = {
        "key": key,
        "live": bool(live),
        "n": n,
        "steps": [int(s) for s in snaps.steps],
        "x": [round(float(v), 6) for v in snaps.x],
        "classes": [str(c) for c in names],
        "label": int(snaps.probe_label),
        "probs": [
            [round(float(v), 6) if math.isfinite(v) else None for v in row] for row in snaps.probs
        ],
        "probe": {
            "h": probe.shape[0],
            "w": probe.shape[1],
            "c": probe.shape[2],
            "levels": _b64(levels(probe, 0.0, 1.0)),
        },
        "kernels": None,
        "maps": [],
        "cam": None,
        "cam_reason": snaps.cam_reason,
        "palette": style.palette(),
    }
    kv = kernel_view(snaps)
    if kv is not None:
        m = _finite_max(kv)
        out["kernels"] = {
            "layer": snaps.kernel_layer,
            "cout": kv.shape[1],
            "kh": kv.shape[2],
            "kw": kv.shape[3],
            "cin": int(snaps.kernels.shape[3]),
            "limit": m,
            "levels": [_b64(levels(k, -m, m)) for k in kv],
        }
    for name, maps in zip(snaps.map_layers, snaps.maps, strict=True):
        maps = np.asarray(maps, np.float32)  # (n, c, h, w)
        signed = bool(np.nanmin(maps) < 0) if np.isfinite(maps).any() else False
        m = _finite_max(maps)
        lo = -m if signed else 0.0
        out["maps"].append(
            {
                "layer": name,
                "c": maps.shape[1],
                "h": maps.shape[2],
                "w": maps.shape[3],
                "signed": signed,
                "limit": m,
                "levels": [_b64(levels(a, lo, m)) for a in maps],
            }
        )
    if snaps.cam is not None:
        cam = np.asarray(snaps.cam, np.float32)
        out["cam"] = {
            "h": cam.shape[1],
            "w": cam.shape[2],
            "levels": [_b64(levels(c, 0.0, 1.0)) for c in cam],
        }
    out["weights"] = {
        "layers": list(snaps.layers),
        "sizes": [int(s) for s in snaps.layer_sizes],
        "edges": [[float(f"{e:.4g}") for e in row] for row in snaps.weight_edges],
        "counts": np.asarray(snaps.weight_counts).tolist(),
        "nan": np.asarray(snaps.weight_nan).tolist(),
    }
    out["grads"] = None
    if snaps.grad_counts is not None:
        out["grads"] = {
            "edges": [f"{'-' if e < 0 else ''}1e{round(math.log10(abs(e)))}" for e in GRAD_EDGES],
            "counts": np.asarray(snaps.grad_counts).tolist(),
            "nan": np.asarray(snaps.grad_nan).tolist(),
            "norms": [_num_or_none(row) for row in snaps.grad_norms],
            "images": int(snaps.grad_images),
        }
    out["grad_reason"] = snaps.grad_reason
    if points and points.get("epoch"):
        out["curve"] = {"x": _num_or_none(points["epoch"]), "loss": _num_or_none(points["loss"])}
    else:
        out["curve"] = None
    digest = hashlib_digest(out)
    out["id"] = digest
    return out


def hashlib_digest(payload: dict) -> str:
    """A short hash of a view's data: the component redraws only when it changes."""
    import hashlib

    raw = json.dumps({k: v for k, v in payload.items() if k != "palette"}, sort_keys=True)
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()
