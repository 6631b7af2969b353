"""Stage "plan": this run's targets, grouped by host into batches.

Input: the `Target`s of a run (one per distinct link). Output: `Batch`es, the
unit of one coarse Prefect task. A host's URLs are never split across batches,
so per-host politeness (concurrency, rate, back-off) is enforced inside one
task without any cross-task coordination. Batches are packed first-fit by
decreasing host size and returned largest first, so the busiest host — the
run's lower bound — starts at once instead of queuing behind small batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from catalog.model import Batch, Target


def plan_batches(targets: Sequence[Target], batch_size: int) -> list[Batch]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    by_host: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_host[target.host].append(target)
    hosts = sorted(by_host.items(), key=lambda item: (-len(item[1]), item[0]))
    bins: list[list[Target]] = []
    for _host, host_targets in hosts:
        for bin_ in bins:
            if len(bin_) + len(host_targets) <= batch_size:
                bin_.extend(host_targets)
                break
        else:
            bins.append(list(host_targets))
    bins.sort(key=len, reverse=True)
    return [Batch(index=i, targets=tuple(b)) for i, b in enumerate(bins)]
