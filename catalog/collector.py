"""What lives through a long step, kept out of the cyclic garbage collector's full walks.

Why: a full collection walks every tracked object of the oldest generation, and both long
steps of linkhealth hold many objects for their whole length while short-lived ones keep
setting off full collections. A check run holds its imports (Prefect, SQLAlchemy,
pydantic, aiohttp: ~190,000 objects) for its whole length and its prepared targets until
their batch is submitted, while the observations in flight, alive a few seconds each,
reach the oldest generation; a report holds its view model (millions of objects) while
pages are rendered. Frozen (`gc.freeze`), what is alive when the step starts is skipped
by those walks; refcounting still frees it the moment it is let go, and only a reference
cycle among it waits until the step ends and unfreezes it, so a long-lived process
(`linkhealth serve`, the tests) keeps nothing.

A setting that makes collections rarer instead (a larger young generation) kept a check
run's cyclic garbage waiting and cost its 100k peak 55 MB (bench/RESULTS.md). The report
uses both (`reports.publish`): its objects live until it is written, so none waits.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_done", "frozen_while"]


@contextmanager
def frozen_while() -> Iterator[None]:
    """Freeze what is alive now for the block's length, after collecting what is already
    cyclic garbage (frozen, it would be kept for the block).

    The freeze is the process's: a block ending inside another (a report rendered while a
    run checks in the same process) unfreezes both, which costs the outer its saving,
    never memory."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def collector_done() -> None:
    """As the process ends: freeze what is alive, so that the collector's passes while the
    interpreter shuts down skip it (~0.45 CPU-s of `linkhealth check`'s main thread with
    Prefect, SQLAlchemy and aiohttp loaded, over half a million objects). The teardown
    still frees every object reference counting reaches; what only a reference cycle keeps
    is left to the operating system, which takes the whole process back anyway. So
    whatever must happen at exit is done by the caller before, never by a finalizer (the
    database's connections: `catalog.db.close_engines`)."""
    gc.freeze()
