"""Worker processes for long work, so a server's pages stay quick while it trains.

A training run in the server process would share the CPU, the Python interpreter lock and
TensorFlow's thread pools with every learner's page: on a small machine one run makes every
click slow. A :class:`WorkerPool` runs such work in separate processes instead:

- started with ``spawn`` (never ``fork``: a forked TensorFlow is not safe) and reused, so a
  process pays TensorFlow's import once, not once per run;
- at a lower scheduling priority (``nice``): when a learner's page needs the CPU, it wins;
- with TensorFlow's thread pools sized to its share of the cores
  (``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS``, set before TensorFlow loads), so
  several runs do not oversubscribe the machine;
- progress comes back through a pipe, a stop request goes out through an event, and the
  result (or one error sentence) comes back when the work ends. If a worker dies (out of
  memory, killed), the caller gets a :class:`WorkerError` and the pool starts a new one.

The work is any picklable module-level function ``fn(*args, report=..., should_stop=...)``.
Pure Python: no streamlit, no keras in the parent.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerError", "WorkerPool", "thread_budget"]

NICE = 10  # workers yield the CPU to the server's pages
DIED = (
    "The training process ended unexpectedly (out of memory?); "
    "try a smaller batch, model or dataset."
)


class WorkerError(RuntimeError):
    """The work failed or its process died; the message is one sentence for the learner."""


def thread_budget(workers: int, cores: int | None = None) -> int:
    """TensorFlow threads per worker: the cores shared out between the workers, at least 1.

    Examples
    --------
    >>> thread_budget(1, cores=2), thread_budget(4, cores=16), thread_budget(8, cores=4)
    (2, 4, 1)
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def _worker_main(conn, stop, threads: int, nice: int) -> None:
    """A worker's life: set priority and threads, then run requests until told to quit."""
    with contextlib.suppress(OSError):
        os.nice(nice)
    # Before TensorFlow is imported (the first request's unpickling imports it).
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(min(2, threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the server went away
        if message is None:
            return
        fn, args = message
        stop.clear()
        try:
            result = fn(
                *args,
                report=lambda value: conn.send(("progress", value)),
                should_stop=stop.is_set,
            )
            conn.send(("done", result))
        except Exception as exc:  # one sentence back to the learner, the worker lives on
            conn.send(("error", f"{exc}" or type(exc).__name__))


class _Worker:
    def __init__(self, ctx, threads: int, nice: int):
        self.conn, child = ctx.Pipe()
        self.stop = ctx.Event()
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, self.stop, threads, nice),
            name="cnnviz-worker",
            daemon=True,
        )
        self.process.start()
        child.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class WorkerPool:
    """Up to ``size`` worker processes, each running one call at a time.

    Parameters
    ----------
    size : int
        The most calls running at once (the caller's queue should allow no more).
    threads : int, optional
        TensorFlow threads per worker; by default :func:`thread_budget`.
    nice : int
        How much lower the workers' scheduling priority is than the server's.
    """

    def __init__(self, size: int, threads: int | None = None, nice: int = NICE):
        if int(size) != size or size < 1:
            raise ValueError(f"size must be a whole number >= 1, got {size}")
        self.size = int(size)
        self.threads = threads or thread_budget(self.size)
        self.nice = nice
        self._ctx = mp.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy = 0
        self._closed = False
        self._lock = threading.Condition()

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        report: Callable[[Any], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        poll_s: float = 0.2,
    ) -> Any:
        """Run ``fn(*args, report=…, should_stop=…)`` in a worker; return its result.

        Blocks until done. ``report`` receives each value the work reports;
        ``should_stop`` is polled every ``poll_s`` and, once true, the work is asked to
        stop (it ends at its next check). Raises :class:`WorkerError` with the work's
        own message if it raised, or a sentence if the process died.
        """
        worker = self._acquire()
        healthy = False
        try:
            worker.conn.send((fn, args))
            while True:
                if should_stop is not None and should_stop():
                    worker.stop.set()
                if not worker.conn.poll(poll_s):
                    if not worker.process.is_alive():
                        raise WorkerError(DIED)
                    continue
                kind, value = worker.conn.recv()
                if kind == "progress":
                    if report is not None:
                        report(value)
                elif kind == "done":
                    healthy = True
                    return value
                else:
                    healthy = True
                    raise WorkerError(value)
        except (EOFError, OSError) as exc:
            raise WorkerError(DIED) from exc
        finally:
            self._release(worker, healthy)

    def close(self) -> None:
        """End every idle worker now, and each busy one when its call returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def _acquire(self) -> _Worker:
        with self._lock:
            while self._busy >= self.size:
                self._lock.wait()
            self._busy += 1
            worker = self._idle.pop() if self._idle else None
        try:
            if worker is None or not worker.process.is_alive():
                worker = _Worker(self._ctx, self.threads, self.nice)
        except Exception:
            with self._lock:
                self._busy -= 1
                self._lock.notify()
            raise
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        keep = healthy and not self._closed and worker.process.is_alive()
        if not keep:
            worker.close()
        with self._lock:
            self._busy -= 1
            if keep:
                self._idle.append(worker)
            self._lock.notify()
