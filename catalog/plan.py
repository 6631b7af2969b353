"""Stage "plan": this run's targets, grouped by host into batches.

Input: the `Target`s of a run (one per distinct link). Output: `Batch`es, the
unit of one coarse Prefect task. A host's URLs are never split across batches,
so per-host politeness (concurrency, rate, back-off) is enforced inside one
task without any cross-task coordination.

Why pack by time, not by URL count: inside a batch every host runs at once, each
held to its own rate, so a batch lasts about as long as its slowest host, and a
run can end no sooner than its busiest host (the politeness floor). Small batches
of a few big hosts each queue behind one another on the few workers and the run
takes several times the floor. So the plan makes as few batches as `batch_size`
(the most URLs in one batch) allows but one per parallel worker when the catalog has
`MIN_SPLIT_URLS` per worker, and

- when every URL fits into `workers` batches: hosts go longest-estimated-time first
  onto the least-loaded batch, so the heaviest hosts sit in different batches and
  all start at t = 0, each batch's scheduler keeping its own busiest host busy (grouping
  similar hosts was tried: the batches of many small hosts then took 3-6x their hosts'
  time, held back by their share of the concurrency, which workers then held while backing off);
- otherwise (more URLs than `workers * batch_size`): hosts go longest first into the
  first batch with room, so the heaviest hosts share batches and run side by side
  instead of filling one batch each, and the long batches come first.

Batches are returned longest first (the task runner starts them in this order). The
batches running at once draw on one pool of global concurrency (`catalog.check.loop`), so a
batch of a few big hosts, held to their per-host limits, leaves the rest to the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from catalog.model import Batch, Target
from catalog.settings import CheckSettings

#: Batches checked at once by the flow's task runner (`flows.check_flow.BATCH_WORKERS`
#: is this value; a test keeps them equal).
PARALLEL_BATCHES = 4

#: A catalog is split into parallel batches only this many URLs per batch at least: a
#: smaller one finishes in seconds anyway, keeps its workers pooled, and its outage
#: verdict (`catalog.outage`, per stored batch) sees several hosts together.
MIN_SPLIT_URLS = 500

#: Seconds one request takes, for estimates only: a host's time is bounded by its
#: rate or, for slow hosts allowed little concurrency, by latency / concurrency.
TYPICAL_LATENCY = 0.25


@dataclass(frozen=True)
class _Host:
    name: str
    targets: list[Target]
    seconds: float


def host_seconds(urls: int, concurrency: int, rate: float) -> float:
    """Least time `urls` URLs of one host take under its politeness (one request each)."""
    by_rate = urls / rate if rate > 0 else 0.0
    return max(by_rate, urls * TYPICAL_LATENCY / max(1, concurrency))


def plan_batches(
    targets: Sequence[Target],
    batch_size: int,
    *,
    check: CheckSettings | None = None,
    workers: int = PARALLEL_BATCHES,
) -> list[Batch]:
    """Whole hosts into batches of at most `batch_size` URLs (a bigger host gets its own).

    `check` gives each host's politeness (`policy_for`); without it the defaults apply.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    check = check or CheckSettings()
    by_host: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_host[target.host].append(target)
    hosts = []
    for name, host_targets in by_host.items():
        concurrency, rate = check.policy_for(name)
        seconds = host_seconds(len(host_targets), concurrency, rate)
        hosts.append(_Host(name, host_targets, seconds))
    hosts.sort(key=lambda h: (-h.seconds, -len(h.targets), h.name))
    if len(targets) <= workers * batch_size:
        count = min(workers, len(hosts), -(-len(targets) // MIN_SPLIT_URLS))
        bins = _spread(hosts, batch_size, count)
    else:
        bins = _first_fit(hosts, batch_size)
    bins.sort(key=lambda b: (-max(h.seconds for h in b), -_urls(b), b[0].name))
    return [
        Batch(index=i, targets=tuple(t for h in b for t in h.targets)) for i, b in enumerate(bins)
    ]


def _urls(bin_: list[_Host]) -> int:
    return sum(len(h.targets) for h in bin_)


def _spread(hosts: list[_Host], batch_size: int, count: int) -> list[list[_Host]]:
    """Longest processing time first onto the least-loaded of `count` batches."""
    bins: list[list[_Host]] = [[] for _ in range(count)]
    loads = [0.0] * count
    sizes = [0] * count
    for host in hosts:
        fits = [i for i in range(len(bins)) if sizes[i] + len(host.targets) <= batch_size]
        fits = fits or [i for i in range(len(bins)) if not bins[i]]
        if not fits:
            bins.append([])
            loads.append(0.0)
            sizes.append(0)
            fits = [len(bins) - 1]
        best = min(fits, key=lambda i: (loads[i], sizes[i], i))
        bins[best].append(host)
        loads[best] += host.seconds
        sizes[best] += len(host.targets)
    return [b for b in bins if b]


def _first_fit(hosts: list[_Host], batch_size: int) -> list[list[_Host]]:
    """Longest first into the first batch with room: heavy hosts share batches."""
    bins: list[list[_Host]] = []
    sizes: list[int] = []
    for host in hosts:
        for i, size in enumerate(sizes):
            if size + len(host.targets) <= batch_size:
                bins[i].append(host)
                sizes[i] += len(host.targets)
                break
        else:
            bins.append([host])
            sizes.append(len(host.targets))
    return bins
