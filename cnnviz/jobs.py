"""Long work shared fairly by everyone on one server: a queue with a limit on running jobs.

A classroom runs one app process for many learners. Training is the expensive thing they
do, so a :class:`JobQueue` lets at most ``max_running`` jobs run at once (by default half
the cores, at least one); later jobs wait in order and know their place ("you are number
3"), and anyone can leave the queue or stop a running job. Each job runs in its own
thread, independent of the browser tab that asked for it: if the learner closes the tab,
the job still finishes and whatever the job function stores (the run, on disk) is kept.

Pure Python: no streamlit, no keras. The app keeps one queue per process
(``st.cache_resource``); the tests use their own small ones.

>>> q = JobQueue(max_running=1)
>>> job = q.submit("learner-a", lambda handle: 6 * 7, label="answer")
>>> job.wait(5)
True
>>> job.state, job.result
('done', 42)
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cnnviz import claims
from cnnviz.claims import Claim

__all__ = ["Job", "JobError", "JobHandle", "JobQueue", "default_max_running"]

STATES = ("queued", "running", "done", "failed", "cancelled")
_FINISHED = ("done", "failed", "cancelled")


class JobError(ValueError):
    """A queue setting or request cannot be used; the message names the bad value."""


def default_max_running(cores: int | None = None) -> int:
    """How many training runs may run at once by default: half the cores, at least 1.

    ``CNNVIZ_MAX_TRAINERS`` overrides it (a whole number ≥ 1).

    Examples
    --------
    >>> default_max_running(cores=2), default_max_running(cores=16)
    (1, 8)
    """
    env = os.environ.get("CNNVIZ_MAX_TRAINERS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise JobError(f"CNNVIZ_MAX_TRAINERS must be a whole number >= 1, got {env!r}")
        return int(env)
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, cores // 2)


@dataclass
class Job:
    """One piece of queued work and everything a page needs to show about it.

    Attributes
    ----------
    id : int
        Unique in its queue, increasing in submission order.
    owner : str
        Who asked (the learner token): a page shows only its learner's jobs.
    label : str
        What it is, in words ("book_mnist on mnist-sample, 3 epochs").
    state : str
        ``"queued"``, ``"running"``, ``"done"``, ``"failed"`` or ``"cancelled"``.
    progress : Any
        The latest value the job reported (e.g. a ``training.Progress``), or ``None``.
    result : Any
        The job function's return value once ``state == "done"``.
    error : str
        One sentence when ``state == "failed"``.
    """

    id: int
    owner: str
    label: str
    fn: Callable[[JobHandle], Any] = field(repr=False)
    state: str = "queued"
    progress: Any = None
    result: Any = None
    error: str = ""
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished_ok(self) -> bool:
        """Whether the job ran to the end without an error."""
        return self.state == "done"

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ("queued", "running")

    @property
    def stop_requested(self) -> bool:
        """Whether someone asked this job to stop (the job checks it between steps)."""
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or ``timeout`` seconds); ``True`` if finished."""
        return self._done.wait(timeout)


@dataclass
class JobHandle:
    """What a job function gets: report progress, and ask whether to stop."""

    job: Job

    def report(self, progress: Any) -> None:
        """Publish the latest progress (pages poll ``job.progress``)."""
        self.job.progress = progress

    def should_stop(self) -> bool:
        """``True`` once the job was asked to stop; the job should end soon after."""
        return self.job.stop_requested


class JobQueue:
    """At most ``max_running`` jobs at once; the rest wait first-come, first-served.

    Parameters
    ----------
    max_running : int, optional
        Defaults to :func:`default_max_running`.
    keep_finished : int
        How many finished jobs to remember (for pages that poll them), oldest dropped.
    """

    def __init__(self, max_running: int | None = None, keep_finished: int = 200):
        max_running = default_max_running() if max_running is None else max_running
        if int(max_running) != max_running or max_running < 1:
            raise JobError(f"max_running must be a whole number >= 1, got {max_running}")
        self.max_running = int(max_running)
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._queued: list[Job] = []
        self._running: list[Job] = []
        self._finished: list[Job] = []

    # --- asking -----------------------------------------------------------------------

    def submit(self, owner: str, fn: Callable[[JobHandle], Any], label: str = "") -> Job:
        """Queue ``fn(handle)`` for ``owner``; it starts as soon as a slot is free.

        Returns the :class:`Job` at once (``state`` is ``"running"`` if a slot was free).
        """
        job = Job(id=next(self._ids), owner=str(owner), label=label, fn=fn)
        with self._lock:
            self._queued.append(job)
            self._start_ready()
        return job

    def cancel(self, job: Job) -> None:
        """Leave the queue (a queued job never runs) or ask a running job to stop."""
        job._stop.set()
        with self._lock:
            if job in self._queued:
                self._queued.remove(job)
                self._finish(job, "cancelled")

    # --- looking ----------------------------------------------------------------------

    def position(self, job: Job) -> int:
        """A queued job's place in line (1 = next to start); 0 when it is not waiting."""
        with self._lock:
            return self._queued.index(job) + 1 if job in self._queued else 0

    @claims.claim
    def place_sentence(self, job: Job) -> Claim:
        """What a waiting learner reads: their place, and how busy the trainers are.

        ``facts``: ``place`` (1 = next), ``running`` (jobs running now) and
        ``max_running``; ``place`` is 0 and the text ``""`` once ``job`` is not waiting.

        Examples
        --------
        ``"Waiting for a free trainer — you are number 3. 2 runs are training on this
        server (at most 2 at once)."``
        """
        with self._lock:
            busy = len(self._running)
            if job not in self._queued:
                return Claim("", place=0, running=busy, max_running=self.max_running)
            place = self._queued.index(job) + 1
        runs = f"{busy} run{'s are' if busy != 1 else ' is'}"
        return Claim(
            f"Waiting for a free trainer — you are number {place}. {runs} training on this "
            f"server (at most {self.max_running} at once).",
            place=place,
            running=busy,
            max_running=self.max_running,
        )

    def running(self) -> list[Job]:
        """The jobs running now, oldest first."""
        with self._lock:
            return list(self._running)

    def waiting(self) -> list[Job]:
        """The jobs waiting, in the order they will start."""
        with self._lock:
            return list(self._queued)

    def jobs_of(self, owner: str) -> list[Job]:
        """Every job of ``owner`` this queue still knows, oldest first."""
        with self._lock:
            every = self._finished + self._running + self._queued
        return sorted((j for j in every if j.owner == owner), key=lambda j: j.id)

    def get(self, job_id: int) -> Job | None:
        """The job with this id, if the queue still knows it."""
        with self._lock:
            every = self._finished + self._running + self._queued
        return next((j for j in every if j.id == job_id), None)

    # --- inside -----------------------------------------------------------------------

    def _start_ready(self) -> None:
        """Start queued jobs while slots are free (called with the lock held)."""
        while self._queued and len(self._running) < self.max_running:
            job = self._queued.pop(0)
            job.state, job.started = "running", time.monotonic()
            self._running.append(job)
            threading.Thread(
                target=self._run, args=(job,), name=f"cnnviz-job-{job.id}", daemon=True
            ).start()

    def _run(self, job: Job) -> None:
        state = "done"
        try:
            job.result = job.fn(JobHandle(job))
        except Exception as exc:  # a job's failure is reported, never kills the server
            state, job.error = "failed", str(exc) or type(exc).__name__
        with self._lock:
            if job in self._running:
                self._running.remove(job)
            self._finish(job, state)
            self._start_ready()

    def _finish(self, job: Job, state: str) -> None:
        job.state, job.finished = state, time.monotonic()
        self._finished.append(job)
        del self._finished[: max(0, len(self._finished) - self.keep_finished)]
        job._done.set()
