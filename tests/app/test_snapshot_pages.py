"""The Train page's snapshots: live beside the curves, then replayed by a timeline.

AppTests read what the timeline component receives (its JSON) and check it against the
run's stored snapshots; the Chromium test moves the slider in a real browser and sees the
kernels redrawn, with no rerun of the server.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import data, runs, snapshots, training, trainjob

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def _timelines(at) -> dict[str, dict]:
    """What each timeline component received on this run, by its key."""
    out = {}
    for el in at.get("bidi_component"):
        if el.proto.component_name.endswith("cnnviz_timeline"):
            payload = json.loads(el.proto.json)
            out[payload["key"]] = payload
    return out


def _store_runs(at) -> list:
    return runs.RunStore(runs.default_root()).list_runs(at.query_params["learner"])


def _jobs(at) -> list:
    from app_pages import _training

    return _training.trainers().queue.jobs_of(at.query_params["learner"])


def _levels(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), np.uint8)


def test_the_live_panel_shows_the_latest_snapshot_beside_the_curves(open_page):
    at = open_page("app_pages/train.py", timeout=180)
    assert at.toggle(key="train_snapshots").value is True  # on by default
    at.number_input(key="train_subset").set_value(2000)
    at.number_input(key="train_epochs").set_value(30)
    at.button(key="train_start").click().run()
    (job,) = _jobs(at)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until a snapshot after the first update came in
        p = job.progress
        if p is not None and p.snapshot is not None and p.snapshot.steps[0] > 0:
            break
        time.sleep(0.2)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    live = _timelines(at)["train_live_snapshot"]
    assert "train_live" in [el.proto.id.rsplit("-", 1)[-1] for el in at.get("plotly_chart")]
    at.button(key="train_stop").click().run()
    assert job.wait(300)
    at.run()
    (run,) = _store_runs(at)
    assert run.status == "stopped" and run.snapshot_bytes > 0
    kept = snapshots.load_run(
        runs.RunStore(runs.default_root()), at.query_params["learner"], run.id
    )
    # the live view showed one snapshot the run kept, exactly as recorded
    assert live["live"] is True and live["n"] == 1 and live["curve"] is None
    (step,) = live["steps"]
    assert step > 0 and step in kept.steps.tolist()
    i = kept.steps.tolist().index(step)
    kv = snapshots.kernel_view(kept)[i]
    m = float(np.abs(kv).max())  # the live view's scale: that snapshot's own
    assert live["kernels"]["limit"] == pytest.approx(m)
    np.testing.assert_array_equal(
        _levels(live["kernels"]["levels"][0]), snapshots.levels(kv, -m, m).ravel()
    )
    assert live["probs"][0] == pytest.approx(kept.probs[i].tolist(), abs=1e-6)
    assert live["grads"]["norms"][0] == pytest.approx(kept.grad_norms[i].tolist())
    assert live["classes"] == list(data.DIGITS)


def test_the_timeline_replays_a_stored_run_and_survives_a_reload(open_page):
    at = open_page("app_pages/train.py", timeout=180)
    at.number_input(key="train_subset").set_value(2000)  # 1,800 training images, 2 epochs:
    at.number_input(key="train_epochs").set_value(2)  # 4 snapshots (snapshots.budget)
    at.button(key="train_start").click().run()
    for job in _jobs(at):
        assert job.wait(300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (run,) = _store_runs(at)
    token = at.query_params["learner"]
    store = runs.RunStore(runs.default_root())
    kept = snapshots.load_run(store, token, run.id)
    assert run.config["snapshots"] == snapshots.N_SNAPSHOTS
    assert len(kept) == snapshots.budget(snapshots.N_SNAPSHOTS, 2 * 1800) == 4
    key = f"train_timeline_{run.id}"
    shown = _timelines(at)[key]
    points = {k: run.points[k] for k in ("epoch", "loss")}
    want = json.loads(json.dumps({**snapshots.view_data(kept, points=points), "key": key}))
    assert shown == want  # every snapshot, once, as stored
    assert shown["steps"][0] == 0 and shown["steps"][-1] == run.batches_done
    assert at.selectbox(key="train_replay").options == [run.label]
    # the sentences under it are the claims of those snapshots
    captions = [c.value for c in at.caption]
    names = list(data.DIGITS)
    for claim in (
        snapshots.probe_sentence(kept.steps, kept.probs, kept.probe_label, names),
        snapshots.kernels_settled_sentence(kept.steps, kept.kernel_rates(), "conv1"),
        snapshots.gradient_health_sentence(kept.steps, kept.layers, kept.grad_norms),
        snapshots.stored_sentence(len(kept), run.snapshot_bytes),
    ):
        assert claim in captions

    # a reload (a new session with the learner's link) replays the same snapshots
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["learner"] = token
    again.run()
    again.switch_page("app_pages/train.py").run()
    assert not again.exception
    assert _timelines(again)[key] == want

    # a run without snapshots stores none and is not offered for replay
    at.toggle(key="train_snapshots").set_value(False)
    at.button(key="train_start").click().run()
    for job in _jobs(at):
        assert job.wait(300)
    at.run()
    first, second = _store_runs(at)
    assert second.snapshot_bytes == 0 and second.config["snapshots"] == 0
    assert snapshots.load_run(store, token, second.id) is None
    assert at.selectbox(key="train_replay").options == [first.label]


@pytest.mark.browser
def test_moving_the_timeline_redraws_the_kernels_in_the_browser(shots, monkeypatch):
    """A stored run opened by its learner link: the slider moves to the first snapshot,
    the kernels' canvas is drawn anew (its pixels change), and the server does not rerun."""
    token = runs.new_token()
    config = training.TrainConfig(epochs=1, batch_size=32, seed=0, snapshots=10)
    request = trainjob.TrainRequest(
        data.load_mnist_sample(), "book_mnist", "", config, 300, str(runs.default_root()), token
    )
    monkeypatch.setattr(snapshots, "IMAGES_PER_SNAPSHOT", 1)  # 10 snapshots of a tiny run
    record = trainjob.run(request)
    with shots.serve() as base, shots.browser() as page:
        page.goto(f"{base}/train?learner={token}", wait_until="domcontentloaded")
        shots.wait_idle(page)
        root = page.locator(".tl-root:not(.tl-live)")
        root.wait_for(timeout=60_000)
        n = len(snapshots.load_run(runs.RunStore(runs.default_root()), token, record.id))
        assert root.get_attribute("data-snapshot") == str(n - 1)  # opens at the end
        kernels = root.locator("canvas.tl-kernels")
        before = kernels.get_attribute("data-hash")
        label = root.locator(".tl-label")
        assert label.inner_text().startswith(f"Snapshot {n} of {n}: step {record.batches_done}")
        # watch the app's script state: a rerun of the server would show as "running"
        page.evaluate(
            """() => {
              const app = document.querySelector('[data-testid="stApp"]');
              window.__reruns = 0;
              new MutationObserver(() => {
                if (app.dataset.testScriptState === "running") window.__reruns++;
              }).observe(app, { attributes: true });
            }"""
        )
        slider = root.locator("input.tl-slider")
        slider.focus()
        slider.press("Home")  # the range input's own key: its input event redraws at once
        assert root.get_attribute("data-snapshot") == "0"
        assert root.get_attribute("data-step") == "0"
        assert label.inner_text().startswith(f"Snapshot 1 of {n}: step 0")
        after = kernels.get_attribute("data-hash")
        assert after and before and after != before  # the pixels drawn changed
        slider.press("End")
        assert kernels.get_attribute("data-hash") == before  # and back to the last
        page.wait_for_timeout(800)
        assert page.evaluate("() => window.__reruns") == 0  # no server round trip
        page.get_by_text("Loss on a log scale").click()  # a widget does rerun: seen
        page.wait_for_function("() => window.__reruns > 0", timeout=30_000)
        assert not page.locator(shots.EXCEPTION).count()
