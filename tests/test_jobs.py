"""The job queue: a limit on running jobs, places in line, leaving, stopping, failures."""

from __future__ import annotations

import threading

import pytest

from cnnviz import jobs


def _gate_job(gate: threading.Event, log: list, name: str):
    """A job that records when it starts and ends, and waits for ``gate`` in between."""

    def fn(handle: jobs.JobHandle):
        log.append(f"{name} start")
        handle.report({"step": 1})
        while not gate.wait(0.01):
            if handle.should_stop():
                log.append(f"{name} stopped")
                return "stopped"
        log.append(f"{name} end")
        return name

    return fn


def test_second_job_waits_for_the_first_when_the_limit_is_one():
    q = jobs.JobQueue(max_running=1)
    gate_a, gate_b, log = threading.Event(), threading.Event(), []
    a = q.submit("learner-a", _gate_job(gate_a, log, "a"), label="run a")
    b = q.submit("learner-b", _gate_job(gate_b, log, "b"), label="run b")
    assert a.state == "running" and b.state == "queued"
    assert q.position(b) == 1 and q.position(a) == 0
    assert [j.id for j in q.waiting()] == [b.id]
    gate_a.set()
    assert a.wait(5) and a.result == "a" and a.state == "done"
    gate_b.set()
    assert b.wait(5) and b.result == "b"
    # b started only after a had ended: the limit held.
    assert log == ["a start", "a end", "b start", "b end"]
    assert a.progress == {"step": 1}


def test_places_in_line_move_up_and_a_learner_can_leave_the_queue():
    q = jobs.JobQueue(max_running=1)
    gates = [threading.Event() for _ in range(4)]
    log: list[str] = []
    running = q.submit("t0", _gate_job(gates[0], log, "j0"))
    waiting = [q.submit(f"t{i}", _gate_job(gates[i], log, f"j{i}")) for i in (1, 2, 3)]
    assert [q.position(j) for j in waiting] == [1, 2, 3]
    q.cancel(waiting[0])  # the first in line leaves
    assert waiting[0].state == "cancelled" and waiting[0].wait(0)
    assert [q.position(j) for j in waiting[1:]] == [1, 2]
    assert q.place_sentence(waiting[2]) == (
        "Waiting for a free trainer — you are number 2. 1 run is training on this server "
        "(at most 1 at once)."
    )
    assert q.place_sentence(running) == q.place_sentence(waiting[0]) == ""  # not waiting
    for g in gates:
        g.set()
    assert all(j.wait(5) for j in [running, *waiting[1:]])
    assert "j1 start" not in log  # the cancelled job never ran


def test_two_slots_run_two_jobs_at_once():
    q = jobs.JobQueue(max_running=2)
    gate, log = threading.Event(), []
    a = q.submit("a", _gate_job(gate, log, "a"))
    b = q.submit("b", _gate_job(gate, log, "b"))
    c = q.submit("c", _gate_job(gate, log, "c"))
    assert (a.state, b.state, c.state) == ("running", "running", "queued")
    assert len(q.running()) == 2
    gate.set()
    assert all(j.wait(5) for j in (a, b, c))


def test_stopping_a_running_job_and_a_failing_job():
    q = jobs.JobQueue(max_running=1)
    gate, log = threading.Event(), []
    a = q.submit("a", _gate_job(gate, log, "a"))
    q.cancel(a)  # running: asks it to stop; it ends on its own terms
    assert a.wait(5) and a.result == "stopped" and a.state == "done"

    def boom(handle):
        raise RuntimeError("the learning rate diverged")

    b = q.submit("b", boom)
    assert b.wait(5)
    assert b.state == "failed" and b.error == "the learning rate diverged"
    # The queue still works after a failure.
    c = q.submit("b", lambda h: 1)
    assert c.wait(5) and c.result == 1
    assert [j.id for j in q.jobs_of("b")] == [b.id, c.id]
    assert q.get(c.id) is c and q.get(10_000) is None


def test_a_job_finishes_without_anyone_watching():
    """Nothing polls the job (the learner's tab closed): it still runs to the end."""
    q = jobs.JobQueue(max_running=1)
    stored = {}
    job = q.submit("gone", lambda h: stored.setdefault("run", "saved"))
    assert job.wait(5) and stored == {"run": "saved"}


def test_default_limit_and_bad_settings(monkeypatch):
    monkeypatch.delenv("CNNVIZ_MAX_TRAINERS", raising=False)
    assert jobs.default_max_running(cores=1) == 1
    assert jobs.default_max_running(cores=2) == 1
    assert jobs.default_max_running(cores=8) == 4
    monkeypatch.setenv("CNNVIZ_MAX_TRAINERS", "3")
    assert jobs.default_max_running(cores=2) == 3
    monkeypatch.setenv("CNNVIZ_MAX_TRAINERS", "zero")
    with pytest.raises(jobs.JobError, match="CNNVIZ_MAX_TRAINERS must be a whole number"):
        jobs.default_max_running()
    with pytest.raises(jobs.JobError, match="max_running must be a whole number >= 1, got 0"):
        jobs.JobQueue(max_running=0)


def test_the_place_sentence_counts_the_runs_in_the_plural():
    q = jobs.JobQueue(max_running=2)
    gate, log = threading.Event(), []
    first = [q.submit(f"t{i}", _gate_job(gate, log, f"j{i}")) for i in (0, 1)]
    third = q.submit("t2", _gate_job(gate, log, "j2"))
    assert q.place_sentence(third) == (
        "Waiting for a free trainer — you are number 1. 2 runs are training on this server "
        "(at most 2 at once)."
    )
    gate.set()
    assert all(j.wait(5) for j in [*first, third])
