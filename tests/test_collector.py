"""A flow's process freezes what it imported out of the collector's walks, once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# In a process of its own: the settings are process-wide and must not leak into the tests.
_PROBE = """
import gc, json, weakref
from flows.collector import YOUNG_GENERATION, settle_collector
imported = [object() for _ in range(1000)]
first = settle_collector()
frozen = gc.get_freeze_count()
later = [object() for _ in range(1000)]
second = settle_collector()

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after the freeze is still found
gone = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({
    "first": first, "second": second, "frozen": frozen,
    "frozen_after_second": gc.get_freeze_count(),
    "young": gc.get_threshold()[0], "expected_young": YOUNG_GENERATION,
    "cycle_collected": gone() is None,
}))
"""


def test_settle_collector_freezes_once_and_cycles_are_still_collected() -> None:
    import json

    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["first"] is True and seen["second"] is False
    assert seen["frozen"] > 1000  # the modules and what they made, and the list above
    assert seen["frozen_after_second"] == seen["frozen"], "a second call froze again"
    assert seen["young"] == seen["expected_young"]
    assert seen["cycle_collected"]
