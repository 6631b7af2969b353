"""The check stage: fetch each target politely and say what was found.

Input: `Target`s (or a `Batch`) and `CheckSettings`. Output: one `Observation` per target.
Parts: `fetch` gathers facts, `classify` judges them, `retry` and `politeness` shape the
requests, `content`/`soft404`/`safety` read pages and guard addresses.
"""

from catalog.check.checker import check_batch, check_targets
from catalog.check.classify import Verdict, blocked_reason, classify

__all__ = ["Verdict", "blocked_reason", "check_batch", "check_targets", "classify"]
