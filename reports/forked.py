"""One piece of report work in a forked second process, beside this one.

A report of 100,000 resources is CPU-bound Python on one core while the machine has two
(or more): loading and linting the catalog does not need the database, and the
resource pages split in two halves by link. `fork` lets the child start at once with
the parent's view model already in memory (copy-on-write); `spawn` would first
re-import the caller's main module (the CLI imports Prefect) and pickle the view
model, costing more than it saves. Elsewhere than on Linux, or with one core, the
work simply runs here when its result is asked for.

The child only computes and writes files of its own; it touches no lock or connection
of the parent (a database engine must be `dispose(close=False)`d first: `child_setup`),
and says no progress (`catalog.progress.silence`): the terminal is the parent's.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from catalog.progress import silence

__all__ = ["Forked", "can_fork"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Jobs by key, with what the child must do first: the child finds them here (inherited at
#: fork), so nothing but the key is pickled on the way in; only the result on the way out.
_JOBS: dict[int, tuple[Callable[[], object] | None, Callable[[], Any]]] = {}
_KEYS = itertools.count()


def can_fork() -> bool:
    """Linux only: macOS offers fork, but system libraries there may crash in the child."""
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


def _run(key: int) -> Any:
    silence()  # the parent's terminal, and its progress bar, are the parent's to draw on
    setup, job = _JOBS[key]
    if setup is not None:
        setup()
    return job()


class Forked(Generic[T]):
    """`job()` started in a forked child when `enabled` and fork is possible; `result()`
    waits for it. A child that dies (killed, out of memory) is not fatal: the job runs
    again here. An exception the job raises in the child is raised by `result()`.
    `child_setup` runs in the child only, before the job (drop the parent's connections)."""

    def __init__(
        self,
        job: Callable[[], T],
        *,
        enabled: bool = True,
        child_setup: Callable[[], object] | None = None,
    ) -> None:
        self._job = job
        self._key = next(_KEYS)
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future[T] | None = None
        if enabled and can_fork():
            _JOBS[self._key] = (child_setup, job)
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            with warnings.catch_warnings():  # Python 3.12+ warns about fork with threads
                warnings.simplefilter("ignore", DeprecationWarning)
                self._future = self._pool.submit(_run, self._key)

    @property
    def in_child(self) -> bool:
        return self._future is not None

    def result(self) -> T:
        try:
            if self._future is not None:
                try:
                    return self._future.result()
                except BrokenProcessPool:
                    log.warning("the second report process died; doing its work here")
            return self._job()
        finally:
            self.close()

    def close(self) -> None:
        _JOBS.pop(self._key, None)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
