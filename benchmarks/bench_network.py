"""Network, unit by unit: in-page step and hover times, and the page's rerun time.

    .venv/bin/python benchmarks/bench_network.py [--presses 40] [--hovers 200]

In one headless Chromium (``/usr/bin/chromium``) on one ``streamlit run``:

- **step** — pressing the stepper's Next on the network page (``handwriting_cnn``'s
  ``conv2``, 14×14 maps from 32 channels, and ``conv1``, 28×28), from the click to the DOM
  showing the next step and to the next frame; **baseline**: the same stepper on the
  Convolution page, measured in the same run;
- **hover** — the overview's work for one pointer move over a tile (find the unit, outline
  it and what it is computed from, draw the kernel slices, write the status line), timed
  inside the page for units of every column.

Then, in this process (Streamlit's AppTest, no browser), the network page's **rerun** after
warm-up (every layer's output cached per model and image) against its first, cold run.
Targets (issue 20): ≤ 16 ms per step and per hover, warm rerun ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shots = _load("shots", ROOT / "scripts" / "screenshot.py")
stepper_bench = _load("bench_stepper", ROOT / "benchmarks" / "bench_stepper.py")

# One pointer move per unit, synchronously: locate + hover, as the mousemove handler and
# its animation frame do. Units: a grid of points over every tile, strip and bar.
_HOVER = """
async ([root, n]) => {
  const st = root.__nv;
  const where = ".nv-tile img.nv-base, .nv-strip img.nv-base, .nv-bar";
  const targets = [...root.querySelectorAll(where)];
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const times = [];
  const frames = [];
  const byKind = {};
  for (let i = 0; i < n; i++) {
    const el = targets[i % targets.length];
    const box = el.getBoundingClientRect();
    const fx = ((i * 7) % 10 + 0.5) / 10, fy = ((i * 3) % 10 + 0.5) / 10;
    const x = box.left + fx * box.width, y = box.top + fy * box.height;
    const ev = { target: el, clientX: x, clientY: y };
    await frame();
    const t0 = performance.now();
    st.view.hover(st.view.locate(ev));
    const dt = performance.now() - t0;
    await frame();
    frames.push(performance.now() - t0);
    times.push(dt);
    const kind = el.closest(".nv-column").dataset.kind;
    (byKind[kind] = byKind[kind] || []).push(dt);
  }
  st.view.hover(null);
  return [times, byKind, frames];
}
"""


def _median(times: list[float]) -> float:
    return statistics.median(times)


def _p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]


def browser_figures(presses: int, hovers: int) -> dict:
    out = {}
    with shots.serve() as base, shots.browser(1400, 1000) as page:
        shots.visit(page, base, "/convolution")
        nxt = page.get_by_role("button", name="Next", exact=True)
        nxt.wait_for()
        root = page.locator(".cz-stepper")
        args = [nxt.element_handle(), root.element_handle()]
        page.evaluate(stepper_bench._IN_BROWSER, [*args, 5])
        out["convolution"] = page.evaluate(stepper_bench._IN_BROWSER, [*args, presses])

        shots.visit(page, base, "/network")
        page.wait_for_selector(".nv-column", timeout=60_000)
        overview = page.locator(".nv-overview")
        page.evaluate(_HOVER, [overview.element_handle(), 20])  # warm-up
        out["hover"] = page.evaluate(_HOVER, [overview.element_handle(), hovers])
        for layer, size in (("conv2", 14), ("conv1", 28)):
            tile = page.locator(
                f'.nv-column[data-layer="{layer}"] .nv-tile[data-map="0"] img.nv-base'
            )
            tile.first.scroll_into_view_if_needed()
            box = tile.first.bounding_box()
            cell = box["width"] / size
            page.mouse.click(box["x"] + 2.5 * cell, box["y"] + 2.5 * cell)
            shots.wait_idle(page)
            page.get_by_text(f"{layer} (Conv2D) · map 0, row 2, column 2").first.wait_for()
            nxt = page.get_by_role("button", name="Next", exact=True)
            root = page.locator(".cz-stepper")
            args = [nxt.element_handle(), root.element_handle()]
            page.evaluate(stepper_bench._IN_BROWSER, [*args, 5])
            out[layer] = page.evaluate(stepper_bench._IN_BROWSER, [*args, presses])
    return out


def rerun_figures(reruns: int) -> tuple[float, float]:
    """(cold first run of the network page, median warm rerun), milliseconds."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.run()
    at.switch_page("app_pages/network.py")
    t0 = time.perf_counter()
    at.run()
    cold = (time.perf_counter() - t0) * 1000
    assert not at.exception, [e.value for e in at.exception]
    warm = []
    for _ in range(reruns):
        t0 = time.perf_counter()
        at.run()
        warm.append((time.perf_counter() - t0) * 1000)
    return cold, _median(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--hovers", type=int, default=200)
    parser.add_argument("--reruns", type=int, default=10)
    args = parser.parse_args()
    fig = browser_figures(args.presses, args.hovers)
    base_frame, base_dom = (_median(t) for t in fig["convolution"])
    print(f"Next on the stepper, headless Chromium, {args.presses} presses (median, p90):")
    print(
        f"  Convolution page (baseline)       DOM {base_dom:6.1f} ms   "
        f"next frame {base_frame:6.1f} ms   p90 {_p90(fig['convolution'][0]):6.1f} ms"
    )
    for layer, what in (("conv2", "14×14, 32 channels"), ("conv1", "28×28, 1 channel")):
        frame, dom = (_median(t) for t in fig[layer])
        print(
            f"  network page, {layer} ({what})  DOM {dom:6.1f} ms   next frame {frame:6.1f} ms"
            f"   p90 {_p90(fig[layer][0]):6.1f} ms   DOM ratio to baseline {dom / base_dom:4.2f}×"
        )
    times, by_kind, frames = fig["hover"]
    print(f"Hovering the overview: {len(times)} pointer moves over every column")
    print(
        f"  work   median {_median(times):5.2f} ms   p90 {_p90(times):5.2f} ms"
        f"   max {max(times):5.2f} ms"
    )
    print(f"  to the next frame: median {_median(frames):5.1f} ms   p90 {_p90(frames):5.1f} ms")
    for kind, t in sorted(by_kind.items()):
        print(
            f"    {kind:<22} median {_median(t):5.2f} ms   max {max(t):5.2f} ms   ({len(t)} moves)"
        )
    cold, warm = rerun_figures(args.reruns)
    print("The network page's server run (AppTest, handwriting_cnn, the default image):")
    print(f"  first run (cold, baseline) {cold:7.1f} ms")
    print(f"  rerun after warm-up        {warm:7.1f} ms   cold / warm = {cold / warm:5.1f}×")
    worst = max(_median(fig["conv2"][1]), _median(fig["conv1"][1]), _p90(times))
    print(
        f"  targets: step and hover ≤ 16 ms ({'met' if worst <= 16 else 'MISSED'}: worst "
        f"{worst:.1f} ms), warm rerun ≤ 300 ms ({'met' if warm <= 300 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
