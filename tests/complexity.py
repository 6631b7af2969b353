"""How a cost grows with its input, without asserting a speed.

Speed is the benchmark's business (`bench/`); a test that says "under 0.5 s" fails on a
busy or slow machine and passes a regression on a fast one. What users rely on is that a
hostile or huge page costs in proportion to its size, so that no page can stall the
checking loop every batch shares: quadratic decoding, a regex that backtracks, a search
that restarts at every offset. `growth` measures that: the CPU time of the large input
over the small one, divided by how much larger it is. Linear work gives about 1; work
quadratic in the size gives about `size_ratio`.

Both inputs are timed alternately and the best of several tries is kept, in this thread's
CPU time, so other processes and a slower machine change both timings alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def growth(
    run: Callable[[T], object], small: T, large: T, *, size_ratio: float, repeat: int = 5
) -> float:
    """(time of `large` / time of `small`) / `size_ratio`, how much larger `large` is."""
    best_small = best_large = float("inf")
    run(small)  # warm up: imports, compiled patterns, caches
    for _ in range(repeat):
        best_small = min(best_small, _cpu_seconds(run, small))
        best_large = min(best_large, _cpu_seconds(run, large))
    return (best_large / best_small) / size_ratio


def _cpu_seconds(run: Callable[[T], object], value: T) -> float:
    started = time.thread_time()
    run(value)
    # A floor of one microsecond: a clock tick of 0 would divide by zero, not say "fast".
    return max(time.thread_time() - started, 1e-6)
