"""A whole class on one server: K learners in headless Chromium, all at once.

    .venv/bin/python benchmarks/bench_classroom.py                  # K = 1, 10, 30
    .venv/bin/python benchmarks/bench_classroom.py --learners 10 --train
    .venv/bin/python benchmarks/bench_classroom.py --learners 10 --replicas 2
    .venv/bin/python benchmarks/bench_classroom.py --learners 10 --direct   # no nginx
    .venv/bin/python benchmarks/bench_classroom.py --learners 10 --pace free

For each K it starts the app as ``deploy/`` ships it: ``streamlit run`` (``--replicas`` of
them) behind nginx with ``deploy/nginx/cnnviz.conf.template`` (``--direct``: one
``streamlit run``, no proxy). A teacher opens the app once on every server (what a process
computes once is reported separately: the before-class figure); then K browser contexts
(K separate sessions) open at the same moment and every learner walks the same path: open
Convolution, press Next three times, open Heatmaps, open Predict (and, with ``--train``,
train a small run on the Train page and wait for it).

Pace (``--pace``): ``together`` (the default) moves the class as a teacher does: everyone
opens a page at the same moment, and the next step starts when the whole class has the
page in front of them ("now everyone press Next"). ``free`` lets every learner walk on as
soon as their own page is ready, so one learner's Next lands while the others' browsers
are still loading pages; on one machine those K browsers share the server's cores, and
the Next they time is mostly how long the other browsers keep the CPU, not the server
(``Next, in the page`` times the same press inside the page, without that wait).

It prints, per step, the median and
90th-percentile latency the learners saw; the servers' CPU seconds per page run (from
``/proc``, page runs counted by the app's ``CNNVIZ_RUN_LOG``); resident memory before, at
the peak and after every learner left; and errors (exceptions, error boxes, timeouts).
Ratios are against K = 1 in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"cnnviz_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shots = _script("screenshot")
replicas = _script("replicas")

# --- the server side --------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (training workers are child processes)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their descendants."""
    total = 0.0
    for pid in {p for root in pids for p in _tree(root)}:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return total


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, from ``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICK  # user … steal; guest time is already in user


def rss_mb(pids: list[int]) -> float:
    """Resident memory (MB) of these processes and their descendants."""
    total = 0
    for pid in {p for root in pids for p in _tree(root)}:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class MemorySampler:
    """Samples the servers' RSS every 0.2 s in a thread; ``peak`` is the largest seen."""

    def __init__(self, pids: list[int]):
        self.pids, self.peak, self._stop = pids, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_mb(self.pids))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def page_runs(log: Path) -> list[tuple[str, float, float]]:
    """``(page, wall s, script-thread CPU s)`` for every page run the servers logged."""
    if not log.exists():
        return []
    rows = []
    for line in log.read_text().splitlines():
        page, wall, cpu = line.split("\t")
        rows.append((page, float(wall), float(cpu)))
    return rows


# --- one learner --------------------------------------------------------------------------

IDLE = shots.IDLE
ERRORS = f'{shots.EXCEPTION}, [data-testid="stAlertContentError"]'


async def _idle(page, timeout_ms: int) -> None:
    """The script has run and the page is quiet (as screenshot.wait_idle, async)."""
    await page.wait_for_selector(IDLE, timeout=timeout_ms)
    quiet_since, deadline = time.monotonic(), time.monotonic() + timeout_ms / 1000
    while time.monotonic() - quiet_since < 0.3 and time.monotonic() < deadline:
        if await page.locator(IDLE).count() == 0:
            quiet_since = time.monotonic()
        await page.wait_for_timeout(50)
    await page.wait_for_selector("h1", timeout=timeout_ms)


# What a learner must see before a page counts as open: the script's idle state comes
# before the front end has drawn the stepper (a component) or a chart, and a learner who
# clicks before then waits for it anyway.
READY = {
    "/convolution": ".cz-next",
    "/heatmaps": ".js-plotly-plot .main-svg",
    "/predict": ".js-plotly-plot .main-svg",
}


async def _open(page, base: str, path: str, timeout_ms: int) -> None:
    link = page.locator(f'a[data-testid="stSidebarNavLink"][href="{base}{path}"]')
    if page.url.startswith(base) and await link.count() == 1:
        await link.click()
        # the query string (the learner token, ?learner=…) travels with the learner
        url = re.compile(re.escape(base + path) + r"(\?.*)?$")
        await page.wait_for_url(url, timeout=timeout_ms)
        await page.wait_for_timeout(50)  # let the front end mark the new run
    else:
        await page.goto(base + path, wait_until="domcontentloaded", timeout=timeout_ms)
    await _idle(page, timeout_ms)
    if path in READY:
        await page.locator(READY[path]).first.wait_for(timeout=timeout_ms)


async def _next(page, timeout_ms: int) -> None:
    """Press the stepper's Next and wait until its "step k of N" label changes.

    The stepper lives in the page (a Streamlit v2 component, inside a shadow root), so
    Playwright's locators reach it where ``document.querySelectorAll`` would not. The
    button is found by its class, not by ``get_by_role``: Playwright computes the whole
    page's accessibility tree for a role (~0.1 s of the browser's CPU per press here),
    work of the test harness that no learner's click does.
    """
    from playwright.async_api import expect

    label = page.locator(".cz-label").first
    before = await label.inner_text(timeout=timeout_ms)
    await page.locator(".cz-next").first.click(timeout=timeout_ms)
    await expect(label).not_to_have_text(before, timeout=timeout_ms)


async def _next_in_page(page, timeout_ms: int) -> float:
    """Press Next from inside the page; seconds from the click to the new label.

    What a learner's own computer spends on a Next, without the time this machine's
    shared CPU makes the browser wait before it even sees the click."""
    button = page.locator(".cz-next").first
    return await button.evaluate(
        """(b) => {
             const label = b.closest('.cz-stepper').querySelector('.cz-label');
             const before = label.textContent, t = performance.now();
             b.click();
             if (label.textContent === before) throw new Error('the label did not change');
             return (performance.now() - t) / 1000;
           }""",
        timeout=timeout_ms,
    )


async def _train(page, base: str, timeout_ms: int) -> None:
    """Train the smallest sensible run on the Train page and wait until it has ended."""
    await _open(page, base, "/train", timeout_ms)
    await page.get_by_role("button", name="Train", exact=True).first.click(timeout=timeout_ms)
    await page.wait_for_selector(
        "text=/Trained|stopped|diverged|failed|finished/i", timeout=max(timeout_ms, 600_000)
    )


PACES = ("together", "free")


async def learner(
    browser,
    base: str,
    index: int,
    train: bool,
    timeout_ms: int,
    times: dict,
    errors: list,
    together: asyncio.Barrier | None = None,
) -> None:
    """One learner's walk; adds each step's latency (s) to ``times[step]``.

    With ``together`` (a barrier of the whole class) each step starts when every learner
    has finished the one before: the class moves as its teacher says."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()

    async def step(name: str, action, timed: bool = True) -> None:
        if together is not None:
            await together.wait()
        start = time.perf_counter()
        try:
            await action()
            if timed:
                times[name].append(time.perf_counter() - start)
            if await page.locator(ERRORS).count():
                text = await page.locator(ERRORS).first.inner_text()
                errors.append(f"learner {index}, {name}: {text[:160]}")
        except Exception as exc:  # a timeout or a missing element is an error, not a crash
            errors.append(f"learner {index}, {name}: {type(exc).__name__}: {str(exc)[:160]}")

    async def next_in_page() -> None:  # the same press, timed inside the browser
        times["Next, in the page"].append(await _next_in_page(page, timeout_ms))

    try:
        await step("open Convolution", lambda: _open(page, base, "/convolution", timeout_ms))
        for _ in range(3):
            await step("Next", lambda: _next(page, timeout_ms))
        await step("Next in the page", next_in_page, timed=False)
        await step("open Heatmaps", lambda: _open(page, base, "/heatmaps", timeout_ms))
        await step("open Predict", lambda: _open(page, base, "/predict", timeout_ms))
        if train:
            await step("train a run", lambda: _train(page, base, timeout_ms))
    finally:
        await context.close()


# --- one class ----------------------------------------------------------------------------


def _chromium() -> str:
    """Chromium at the lowest priority: in a real class every learner's browser runs on
    their own computer, so here the K browsers get only the CPU the server leaves idle and
    do not slow the server they are measuring (their own page rendering still does)."""
    wrapper = Path(tempfile.gettempdir()) / "cnnviz-bench-chromium"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n 19 {shots.CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def _teacher(bases: list[str], timeout_ms: int) -> list[str]:
    """Before class the teacher opens the app once on every server: Convolution, Heatmaps,
    Predict. Whatever a server computes once per process (imports, the bundled model, the
    default sample's heatmaps) is paid here, not by the first learner."""
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=_chromium(), args=shots.CHROMIUM_ARGS, headless=True
        )
        try:
            for base in bases:
                page = await browser.new_page()
                for path in ("/convolution", "/heatmaps", "/predict"):
                    try:
                        await _open(page, base, path, timeout_ms)
                    except Exception as exc:
                        errors.append(f"teacher, {path}: {type(exc).__name__}: {str(exc)[:160]}")
                await page.close()
        finally:
            await browser.close()
    return errors


async def _class(base: str, k: int, train: bool, timeout_ms: int, pace: str) -> tuple[dict, list]:
    from playwright.async_api import async_playwright

    times: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    together = asyncio.Barrier(k) if pace == "together" else None
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=_chromium(), args=shots.CHROMIUM_ARGS, headless=True
        )
        try:
            await asyncio.gather(
                *(
                    learner(browser, base, i, train, timeout_ms, times, errors, together)
                    for i in range(k)
                )
            )
        finally:
            await browser.close()
    return times, errors


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f}ms" if seconds < 0.1 else f"{seconds:.2f}s"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_class(
    k: int, train: bool, n_replicas: int, timeout_ms: int, direct: bool, pace: str = "together"
) -> dict:
    """Serve, run K learners, measure; returns the figures of this class."""
    with tempfile.TemporaryDirectory(prefix="cnnviz-classroom-") as tmp:
        log = Path(tmp) / "runs.log"
        env = {
            "CNNVIZ_RUN_LOG": str(log),
            "CNNVIZ_RUNS_DIR": str(Path(tmp) / "runs"),
            "STREAMLIT_SERVER_COOKIE_SECRET": "cnnviz-classroom-benchmark",  # as compose.yaml
        }
        with contextlib.ExitStack() as stack:
            pids: list[int] = []
            if direct:
                info: dict = {}
                base = stack.enter_context(shots.serve(env=env, info=info))
                pids = [info["pid"]]
                servers = [base]
            else:  # as deployed: nginx with the shipped config in front of the replicas
                infos = [{} for _ in range(n_replicas)]
                ups = [
                    stack.enter_context(shots.serve(env=env, info=info)).removeprefix("http://")
                    for info in infos
                ]
                proxy: dict = {}
                base = stack.enter_context(replicas.nginx(ups, info=proxy))
                pids = [info["pid"] for info in infos] + [proxy["pid"]]
                servers = [f"http://{u}" for u in ups] + [base]  # + nginx's static cache
            time.sleep(2)
            before = rss_mb(pids)
            cpu0, wall0 = cpu_seconds(pids), time.perf_counter()
            setup_errors = asyncio.run(_teacher(servers, timeout_ms))
            setup = {"cpu_s": cpu_seconds(pids) - cpu0, "wall_s": time.perf_counter() - wall0,
                     "runs": len(page_runs(log)), "errors": setup_errors}  # fmt: skip
            cpu0, runs0 = cpu_seconds(pids), len(page_runs(log))
            wall0, machine0 = time.perf_counter(), machine_cpu_seconds()
            with MemorySampler(pids) as mem:
                times, errors = asyncio.run(_class(base, k, train, timeout_ms, pace))
            wall, machine = time.perf_counter() - wall0, machine_cpu_seconds() - machine0
            cpu1, runs = cpu_seconds(pids), page_runs(log)[runs0:]
            time.sleep(5)  # sessions end once their websockets close
            after = rss_mb(pids)
    n_runs = len(runs)
    return {
        "k": k,
        "setup": setup,
        "times": dict(times),
        "errors": errors,
        "cpu_per_run_ms": 1000 * (cpu1 - cpu0) / max(n_runs, 1),
        "script_cpu_per_run_ms": 1000 * statistics.fmean([r[2] for r in runs]) if runs else 0.0,
        "runs": n_runs,
        "wall_s": wall,
        "server_cpu_s": cpu1 - cpu0,
        "machine_cpu_s": machine,
        "rss_before": before,
        "rss_peak": max(mem.peak, before),
        "rss_after": after,
        "per_page": {
            page: (
                1000 * statistics.fmean([r[1] for r in runs if r[0] == page]),
                sum(r[0] == page for r in runs),
            )
            for page in sorted({r[0] for r in runs})
        },
    }


def report(result: dict, base: dict | None) -> None:
    k = result["k"]
    print(f"\n== {k} learner{'s' if k > 1 else ''} ({result['wall_s']:.0f} s) ==")
    print(f"{'step':<18}{'median':>9}{'p90':>9}{'n':>5}" + ("   p90 vs K=1" if base else ""))
    for name, values in result["times"].items():
        med, p90 = _pct(values, 0.5), _pct(values, 0.9)
        ratio = ""
        if base and base["times"].get(name):
            ratio = f"   {p90 / _pct(base['times'][name], 0.9):6.1f}x"
        print(f"{name:<18}{_fmt(med):>9}{_fmt(p90):>9}{len(values):>5}{ratio}")
    ratio = ""
    if base:
        ratio = f"  ({result['cpu_per_run_ms'] / base['cpu_per_run_ms']:.2f}x K=1)"
    print(
        f"server CPU per page run: {result['cpu_per_run_ms']:.0f} ms over {result['runs']} runs"
        f"{ratio}; the script thread's own: {result['script_cpu_per_run_ms']:.0f} ms"
    )
    cores, server = os.cpu_count() or 1, result["server_cpu_s"]
    others = max(result["machine_cpu_s"] - server, 0.0)
    print(
        f"the machine's {cores} cores during the class: {result['machine_cpu_s']:.0f} s busy of "
        f"{cores * result['wall_s']:.0f} s; the server {server:.1f} s, the learners' browsers "
        f"(and anything else running) {others:.0f} s"
    )
    per_page = ", ".join(f"{p} {ms:.0f} ms × {n}" for p, (ms, n) in result["per_page"].items())
    print(f"page runs (mean wall time × count): {per_page}")
    print("  (one convolution run per learner: Next is drawn in the browser, never a page run)")
    print(
        f"server memory: {result['rss_before']:.0f} MB before, {result['rss_peak']:.0f} MB peak, "
        f"{result['rss_after']:.0f} MB after everyone left"
    )
    setup = result["setup"]
    all_runs = result["runs"] + setup["runs"]
    all_cpu = result["cpu_per_run_ms"] * result["runs"] / 1000 + setup["cpu_s"]
    print(
        f"before class, the teacher's one visit per server: {setup['wall_s']:.1f} s, "
        f"{setup['cpu_s']:.1f} s of server CPU (imports, bundled model, default heatmaps; "
        f"once per process); counting it, {1000 * all_cpu / max(all_runs, 1):.0f} ms per page run"
    )
    for line in setup["errors"]:
        print(f"  error before class: {line}")
    print(f"errors: {len(result['errors'])}")
    for line in result["errors"][:10]:
        print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--train", action="store_true", help="each learner trains one run")
    parser.add_argument("--replicas", type=int, default=1, help="servers behind nginx (1)")
    parser.add_argument(
        "--direct", action="store_true",
        help="learners talk to one `streamlit run` directly, without the shipped nginx",
    )  # fmt: skip
    parser.add_argument(
        "--pace", choices=PACES, default="together",
        help="together: each step starts when the whole class is ready (default); "
        "free: every learner walks on at their own pace",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=180, help="per step, seconds (180)")
    args = parser.parse_args(argv)
    if not Path(shots.CHROMIUM).exists():
        print(f"{shots.CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    where = (
        "one `streamlit run`, no proxy"
        if args.direct
        else (f"{args.replicas} `streamlit run` replica(s) behind nginx with deploy/'s config")
    )
    print(f"cnnviz classroom benchmark on {os.cpu_count()} cores: {where}")
    print("server CPU counts every server process (and nginx, and training workers)")
    print(
        "pace: the class moves together (each step starts when every learner is ready)"
        if args.pace == "together"
        else "pace: free (each learner walks on as soon as their own page is ready)"
    )
    base = None
    for k in args.learners:
        result = run_class(
            k, args.train, args.replicas, int(args.timeout * 1000), args.direct, args.pace
        )
        report(result, base)
        base = base or result
    return 0


if __name__ == "__main__":
    sys.exit(main())
