"""What do snapshots cost? Training speed with and without them, and the timeline's redraw.

    .venv/bin/python benchmarks/bench_snapshots.py                 # both parts
    .venv/bin/python benchmarks/bench_snapshots.py --rounds 1 --no-browser

**Recording.** The Train page's default run (``book_mnist`` on mnist-sample: 7,200
training and 800 validation images, 3 epochs at batch 128, Adam, seed 0) is trained with
``TrainConfig(snapshots=0)`` and with ``snapshots=30`` (what the page asks for), the two
alternating for ``--rounds`` rounds in one process after an untimed warm-up run (this VM's
epoch times swing), each figure the median over rounds. It prints the run's **images/s**
(the app's one figure: training images per second of training time, compiling included,
validation excluded) and the **wall-clock** time of the whole ``train()`` call (everything:
the epoch-0 measurement, the step-0 snapshot and the tracing of the snapshot graph,
validation), each with its ratio. Target: recording costs at most 10 % of images/s
(ratio ≥ 0.90). It also prints the recorder's own time per snapshot and the stored size.

**Replaying.** The same run stored in a temporary run store, opened in headless Chromium
(``/usr/bin/chromium``) by its learner link; in the page, ``--moves`` slider moves, each
timed with ``performance.now()`` from setting the slider (its ``input`` event) to the
next animation frame once the timeline shows the new snapshot. Target ≤ 100 ms median,
no server round trip. For comparison: a rerun of the Train page by the server (the
*Loss on a log scale* toggle), click to idle.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from cnnviz import data, models, runs, snapshots, training, trainjob  # noqa: E402

N = snapshots.N_SNAPSHOTS


def _run(x, y, count: int, epochs: int) -> tuple[training.TrainResult, float, list[float]]:
    """One training run; its result, wall-clock seconds and each snapshot's own time."""
    keras.utils.set_random_seed(0)
    model = models.build("book_mnist", x.shape[1:], 10)
    took: list[float] = []
    measure = snapshots._Meter.measure

    def timed(self):
        t0 = time.perf_counter()
        try:
            return measure(self)
        finally:
            took.append(time.perf_counter() - t0)

    snapshots._Meter.measure = timed
    try:
        t0 = time.perf_counter()
        result = training.train(model, x, y, training.TrainConfig(epochs=epochs, snapshots=count))
        return result, time.perf_counter() - t0, took
    finally:
        snapshots._Meter.measure = measure


def recording(rounds: int, epochs: int) -> None:
    ds = data.load_mnist_sample()
    x, y = data.prepare(ds.x_train), ds.y_train
    _run(x, y, 0, 1)  # warm-up: TensorFlow's one-time set-up, not timed
    speed = {0: [], N: []}
    wall = {0: [], N: []}
    per, first, size, count = [], [], 0, 0
    for _ in range(rounds):
        for n in (0, N):
            result, seconds, took = _run(x, y, n, epochs)
            speed[n].append(result.images_per_sec)
            wall[n].append(seconds)
            if n:
                first.append(took[0])
                per.extend(took[1:])
                size, count = snapshots.stored_size(result.snapshots), len(result.snapshots)
    med = {k: statistics.median(v) for k, v in speed.items()}
    wmed = {k: statistics.median(v) for k, v in wall.items()}
    print(
        f"Recording: book_mnist on mnist-sample, {epochs} epochs at batch 128, CPU, "
        f"median of {rounds} round(s), alternating"
    )
    print(f"  images/s   without snapshots {med[0]:8,.0f}   with {count} snapshots {med[N]:8,.0f}")
    ratio = med[N] / med[0]
    print(f"    with / without = {ratio:.3f}  (cost {100 * (1 - ratio):.1f} % of images/s)")
    print(
        f"  wall-clock without snapshots {wmed[0]:8.2f} s  with {count} snapshots {wmed[N]:8.2f} s"
    )
    wratio = wmed[0] / wmed[N]
    print(f"    without / with = {wratio:.3f}  (cost {100 * (1 - wratio):.1f} % of the run's time)")
    print(
        f"  each snapshot during training: median {1000 * statistics.median(per):.1f} ms; "
        f"the first (step 0, tracing the graph): {1000 * statistics.median(first):.0f} ms"
    )
    print(f"  stored: {snapshots.stored_sentence(count, size)}")
    verdict = "met" if ratio >= 0.90 else "MISSED"
    print(f"  target: at most 10 % of images/s (ratio ≥ 0.90): {verdict}")


_MOVES = """
async ([root, n]) => {
  const slider = root.querySelector("input.tl-slider");
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const count = Number(slider.max);
  const times = [];
  const handler = [];
  for (let i = 0; i < n; i++) {
    const k = (Number(slider.value) + 7) % count + 1;  // hop around: 1-based position
    const before = root.dataset.snapshot;
    const t0 = performance.now();
    slider.value = String(k);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    handler.push(performance.now() - t0);
    while (root.dataset.snapshot === before) await frame();
    await frame();
    times.push(performance.now() - t0);
  }
  return [times, handler];
}
"""


def replaying(moves: int, epochs: int) -> None:
    spec = importlib.util.spec_from_file_location("shots", ROOT / "scripts" / "screenshot.py")
    shots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shots)
    with tempfile.TemporaryDirectory(prefix="cnnviz-bench-runs-") as folder:
        token = runs.new_token()
        config = training.TrainConfig(epochs=epochs, snapshots=N)
        record = trainjob.run(
            trainjob.TrainRequest(
                data.load_mnist_sample(), "book_mnist", "", config, 0, folder, token
            )
        )
        env = {"CNNVIZ_RUNS_DIR": folder}
        with shots.serve(env=env) as base, shots.browser() as page:
            page.goto(f"{base}/train?learner={token}", wait_until="domcontentloaded")
            shots.wait_idle(page)
            root = page.locator(".tl-root:not(.tl-live)")
            root.wait_for(timeout=60_000)
            handle = root.element_handle()
            page.evaluate(_MOVES, [handle, 5])  # warm-up
            times, handler = page.evaluate(_MOVES, [handle, moves])
            reruns = []
            toggle = page.get_by_text("Loss on a log scale")
            for _ in range(5):
                t0 = time.perf_counter()
                toggle.click()
                shots.wait_idle(page, quiet_s=0.05)
                reruns.append(time.perf_counter() - t0)
    p90 = lambda t: statistics.quantiles(t, n=10)[-1]  # noqa: E731
    mine = statistics.median(times)
    print(
        f"Replaying: the timeline of that run ({record.snapshot_bytes:,} bytes of snapshots), "
        f"headless Chromium, {moves} slider moves"
    )
    print(f"  slider move → next frame   median {mine:6.1f} ms   p90 {p90(times):6.1f} ms")
    print(
        f"    of which redrawing (the input handler): median {statistics.median(handler):5.1f} ms"
    )
    base = 1000 * statistics.median(reruns)
    print(f"  a server rerun of the page (click → idle, for comparison): median {base:6.0f} ms")
    print(f"    rerun / slider move = {base / mine:5.1f}×")
    verdict = "met" if mine <= 100 else "MISSED"
    print(f"  target: ≤ 100 ms median, no server round trip: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    args = parser.parse_args()
    recording(args.rounds, args.epochs)
    if not args.no_browser:
        replaying(args.moves, args.epochs)


if __name__ == "__main__":
    main()
