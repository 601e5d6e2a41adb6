"""How fast does pressing Next show the next step? In-browser stepper vs the server round trip.

    .venv/bin/python benchmarks/bench_stepper.py [--presses 40]

Starts ``streamlit run`` twice on loopback ports (the app, and
``benchmarks/server_stepper_app.py``: the server-side stepper the component replaced,
Streamlit buttons in a fragment redrawing a plotly figure) and drives both in one headless
Chromium (``/usr/bin/chromium``). For each press it measures, inside the page, the time
from the click to the next animation frame after the page shows the next step's worked
sum: for the app the stepper's own Next button on the Convolution page, for the baseline
the Streamlit button and the server's answer. Prints both medians and their ratio.
Target: in-browser Next ≤ 100 ms median (≤ 50 ms aimed for).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_spec = importlib.util.spec_from_file_location("shots", ROOT / "scripts" / "screenshot.py")
shots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shots)

# Press the stepper's Next `n` times (back to step 1 with Home when at the end); each time
# from the click to the first animation frame once the worked sum has changed.
_IN_BROWSER = """
async ([next, root, n]) => {
  const worked = root.querySelector(".cz-worked");
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const times = [];
  const dom = [];
  for (let i = 0; i < n; i++) {
    if (next.disabled) {
      root.dispatchEvent(new KeyboardEvent("keydown", { key: "Home", bubbles: true }));
      await frame();
    }
    const before = worked.textContent;
    const t0 = performance.now();
    next.click();
    while (worked.textContent === before) await frame();
    dom.push(performance.now() - t0);
    await frame();
    times.push(performance.now() - t0);
  }
  return [times, dom];
}
"""

# Press Streamlit's Next button `n` times; each time until the server's answer shows the
# next worked sum (st.code) and a frame has been drawn.
_ROUND_TRIP = """
async ([n]) => {
  const code = () => document.querySelector('[data-testid="stCode"]').textContent;
  const button = () => [...document.querySelectorAll("button")].find(
    (b) => b.textContent.trim() === "Next");
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  const times = [];
  for (let i = 0; i < n; i++) {
    const before = code();
    const t0 = performance.now();
    button().click();
    while (code() === before) await new Promise((r) => setTimeout(r, 2));
    await frame();
    times.push(performance.now() - t0);
  }
  return times;
}
"""


def in_browser(presses: int) -> tuple[list[float], list[float]]:
    """Next on the Convolution page's stepper: (to the next frame, to the DOM update)."""
    with shots.serve() as base, shots.browser() as page:
        shots.visit(page, base, "/convolution")
        nxt = page.get_by_role("button", name="Next", exact=True)
        nxt.wait_for()
        root = page.locator(".cz-stepper")
        page.evaluate(_IN_BROWSER, [nxt.element_handle(), root.element_handle(), 5])  # warm-up
        return page.evaluate(_IN_BROWSER, [nxt.element_handle(), root.element_handle(), presses])


def round_trip(presses: int) -> list[float]:
    """Next on the server-side baseline (a Streamlit button, a fragment rerun, a figure)."""
    with shots.serve(script="benchmarks/server_stepper_app.py") as base, shots.browser() as page:
        page.goto(base, wait_until="domcontentloaded")
        shots.wait_idle(page)
        page.evaluate(_ROUND_TRIP, [9])  # warm-up: every step's figure in the cache
        return page.evaluate(_ROUND_TRIP, [presses])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()
    ours, dom = in_browser(args.presses)
    base = round_trip(args.presses)
    mine, theirs = statistics.median(ours), statistics.median(base)
    p90 = lambda t: statistics.quantiles(t, n=10)[-1]  # noqa: E731
    print(f"Pressing Next on the Convolution page, headless Chromium, {args.presses} presses")
    print(f"  in-browser stepper (component)   median {mine:7.1f} ms   p90 {p90(ours):7.1f} ms")
    drawn = statistics.median(dom)
    print(f"    of which drawing the step (click → DOM updated): median {drawn:5.1f} ms")
    print(f"  server round trip (baseline)     median {theirs:7.1f} ms   p90 {p90(base):7.1f} ms")
    print(f"  round trip / in-browser = {theirs / mine:5.1f}×")
    verdict = (
        "met"
        if mine <= 50
        else ("met (≤ 100 ms), above the 50 ms aim" if mine <= 100 else "MISSED")
    )
    print(f"  target in-browser ≤ 100 ms median (aim ≤ 50 ms): {verdict}")


if __name__ == "__main__":
    main()
