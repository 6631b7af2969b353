"""A cap of two glibc malloc arenas in a flow's process (what `MALLOC_ARENA_MAX=2` does).

Why: glibc gives each new thread that allocates its own arena, up to eight per core.
The checking thread (`catalog.check.loop`; one per batch before) allocates page bodies and
text samples beyond pymalloc's 512-byte limit through malloc into an arena of its own: the
memory the sync freed on the flow's thread is not reused by it, and every arena keeps its
own free pages. At 100,000 URLs the flow process peaked at 319 MB, and at 285-303 MB with
two arenas (bench/RESULTS.md). The GIL already serialises the Python code, so two arenas
cost no measurable time.

Set from the flow itself, so every way of running one (the command line, `linkhealth
serve`, a Prefect worker) gets it. glibc only reads the cap while a process has at most
eight arenas, so this must run before the checking thread starts; the arenas Prefect's own
threads made by then stay (a check run ends with 3 arenas instead of 7). An operator's
own `MALLOC_ARENA_MAX` wins; other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["ARENA_LIMIT", "cap_malloc_arenas", "is_glibc"]

ARENA_LIMIT = 2
#: `M_ARENA_MAX` in glibc's <malloc.h>.
_M_ARENA_MAX = -8


def cap_malloc_arenas(limit: int = ARENA_LIMIT) -> bool:
    """Cap this process's malloc arenas at `limit`; False when not glibc or already set."""
    if "MALLOC_ARENA_MAX" in os.environ or not is_glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, limit))


def is_glibc() -> bool:
    """True under glibc: the cap and its arenas are glibc's (musl and others have neither)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # the name is unknown outside glibc
        return False
