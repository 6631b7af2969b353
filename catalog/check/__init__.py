"""The check stage: fetch each target politely and say what was found.

Input: `Target`s (or a `Batch`) and `CheckSettings`. Output: one `Observation` per target.
Parts: `fetch` gathers facts, `classify` judges them, `retry` and `politeness` shape the
requests, `content`/`soft404`/`safety` read pages and guard addresses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.check.checker import (
        check_batch,
        check_targets,
        refused_unasked,
        unasked_verdict,
    )
    from catalog.check.classify import Verdict, blocked_reason, classify

__all__ = [
    "Verdict",
    "blocked_reason",
    "check_batch",
    "check_targets",
    "classify",
    "refused_unasked",
    "unasked_verdict",
]

#: Where each name of `__all__` lives, imported on first use (PEP 562): the commands that
#: only read the database (`status`, `report`, `export`) use the stage's small modules
#: (`contacts`, `redirects`, `content`), and importing its checker with it (aiohttp,
#: httpx, the page readers) cost each of them ~0.2 s of start-up (`export` 0.85 -> 0.66 s).
_HOMES = {
    "check_batch": "catalog.check.checker",
    "check_targets": "catalog.check.checker",
    "refused_unasked": "catalog.check.checker",
    "unasked_verdict": "catalog.check.checker",
    "Verdict": "catalog.check.classify",
    "blocked_reason": "catalog.check.classify",
    "classify": "catalog.check.classify",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
