"""The cyclic garbage collector of a flow's process: what was imported frozen out of its
walks, and a larger young generation.

Why: a check run allocates millions of short-lived objects (requests, answers, rows), and
every full collection walked every object alive, most of them what Prefect, SQLAlchemy,
pydantic and aiohttp leave behind at import. A first run of 10,000 URLs spent 2.5 of its
~30 CPU-s in the collector (12 full collections of ~140 ms), an unchanged night 1.9 of
~19. With what exists at the run's start frozen (`gc.freeze`: a generation the collector
never walks) and a young generation of 10,000 objects instead of 700, 0.6 s each
(`bench/RESULTS.md`). Refcounting frees objects as ever; only reference cycles wait a
little longer to be found.

Called from the flow itself, like `flows.malloc_arenas`, so that every way of running one
(the command line, `linkhealth serve`'s subprocesses, a Prefect worker) gets it. Once per
process: a frozen object is never collected, so freezing at every run of a long-lived
process (the tests, an in-process runner) would keep each run's leftovers for good.
"""

from __future__ import annotations

import gc
import os
import threading

__all__ = ["YOUNG_GENERATION", "settle_collector"]

#: Allocations (net of frees) before a young collection; CPython's default is 700.
YOUNG_GENERATION = 10_000

_settled_pid = 0
_lock = threading.Lock()


def settle_collector() -> bool:
    """Freeze what is alive now and enlarge the young generation, once per process; True
    when this call did it."""
    global _settled_pid
    with _lock:
        if _settled_pid == os.getpid():
            return False
        _settled_pid = os.getpid()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_GENERATION, gc.get_threshold()[0]), middle, old)
    return True
