"""The flow process keeps to two glibc malloc arenas however many threads allocate."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flows.malloc_arenas import ARENA_LIMIT, is_glibc

ROOT = Path(__file__).resolve().parent.parent

# Six threads alive at once, each allocating blocks too big for pymalloc (so from malloc),
# then glibc's own account of its arenas (malloc_stats prints one "Arena n:" per arena).
_CHURN = """
import ctypes, sys, threading
from flows.malloc_arenas import cap_malloc_arenas
print(cap_malloc_arenas() if sys.argv[1] == "cap" else None, flush=True)
ready = threading.Barrier(6)
def churn():
    ready.wait()
    kept = [bytearray(4096) for _ in range(200)]
    ready.wait()
threads = [threading.Thread(target=churn) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", _CHURN, mode],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), len(re.findall(r"^Arena \d+:", done.stderr, re.MULTILINE))


@pytest.mark.skipif(not is_glibc(), reason="malloc arenas are glibc's")
def test_threads_share_two_arenas_once_capped() -> None:
    said, uncapped = _arenas("plain")
    assert uncapped > ARENA_LIMIT  # the threads each got one: the test can see the cap
    said, capped = _arenas("cap")
    assert (said, capped) == ("True", ARENA_LIMIT)


@pytest.mark.skipif(not is_glibc(), reason="malloc arenas are glibc's")
def test_an_operators_malloc_arena_max_wins() -> None:
    said, arenas = _arenas("cap", MALLOC_ARENA_MAX="3")
    assert (said, arenas) == ("False", 3)
