"""Worker processes: results, progress, stopping, errors, a dead worker, priority, threads.

The work functions live at module level so a spawned worker can import them by name.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from cnnviz import workers


def _count(n: int, report, should_stop):
    """Report 1..n; stop early when asked. Returns how far it got and the worker's pid."""
    done = 0
    for i in range(1, n + 1):
        if should_stop():
            break
        report(i)
        done = i
        time.sleep(0.05)
    return done, os.getpid()


def _fail(report, should_stop):
    raise ValueError("the learning rate must be positive, got -1")


def _die(report, should_stop):
    os._exit(3)  # as if the kernel killed it for memory


def _settings(report, should_stop):
    return os.nice(0), os.environ["TF_NUM_INTRAOP_THREADS"]


def _sleep(seconds: float, report, should_stop):
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


@pytest.fixture
def pool():
    p = workers.WorkerPool(1, threads=1)
    yield p
    p.close()


def test_result_progress_and_the_same_process_reused(pool):
    seen = []
    done, pid = pool.call(_count, 5, report=seen.append)
    assert done == 5 and seen == [1, 2, 3, 4, 5]
    assert pid != os.getpid()  # it ran in another process
    assert pool.call(_count, 1)[1] == pid  # … which is kept for the next call


def test_stop_request_ends_the_work_early(pool):
    seen: list[int] = []
    done, _ = pool.call(_count, 200, report=seen.append, should_stop=lambda: len(seen) >= 3)
    assert 3 <= done < 200 and done == seen[-1]


def test_an_error_is_one_sentence_and_the_worker_lives_on(pool):
    first = pool.call(_count, 1)[1]
    with pytest.raises(workers.WorkerError, match=r"^the learning rate must be positive, got -1$"):
        pool.call(_fail)
    assert pool.call(_count, 1)[1] == first


def test_a_dead_worker_is_reported_and_replaced(pool):
    first = pool.call(_count, 1)[1]
    with pytest.raises(workers.WorkerError, match="ended unexpectedly"):
        pool.call(_die)
    assert pool.call(_count, 1)[1] != first  # a fresh process took its place


def test_workers_run_at_lower_priority_with_their_thread_budget():
    p = workers.WorkerPool(1, threads=3, nice=7)
    try:
        niceness, threads = p.call(_settings)
    finally:
        p.close()
    assert niceness >= os.nice(0) + 7 and threads == "3"


def test_a_pool_of_one_runs_one_call_at_a_time(pool):
    spans = []
    threads = [
        threading.Thread(target=lambda: spans.append(pool.call(_sleep, 0.5))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    (_a0, a1), (b0, _b1) = sorted(spans)
    assert b0 >= a1  # the second started after the first ended


def test_thread_budget_and_bad_size():
    assert workers.thread_budget(1, cores=2) == 2
    assert workers.thread_budget(3, cores=16) == 5
    assert workers.thread_budget(4, cores=2) == 1
    with pytest.raises(ValueError, match="size must be a whole number >= 1, got 0"):
        workers.WorkerPool(0)
