"""The health trend over past runs, and the per-publisher and per-host figures."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from catalog.check.classify import NO_ANSWER
from catalog.outcomes import Outcome, Severity
from catalog.queries import ResourceRow, RunInfo
from reports.context import (
    GroupStats,
    Priority,
    Row,
    Trend,
    TrendPoint,
    count_of,
    host_page_path,
    publisher_page_path,
    when,
)

#: Outcomes of a run that reached no site: the offline tries, and the verdicts given without
#: a request (an address that is not a web address, or a private IP address).
_NO_REQUEST_NEEDED = frozenset(
    o.value for o in (Outcome.NETWORK_UNAVAILABLE, Outcome.INVALID_URL, Outcome.PRIVATE_ADDRESS)
)


def health_trend(runs: Sequence[RunInfo], now: datetime, days: int = 90) -> Trend | None:
    points = []
    for run in runs:
        buckets: Counter[str] = Counter()
        # The tries not sent (their host held) are stored as their host's answer, a silent
        # host's as `timeout`: no check of their links, which keep their state.
        counts = Counter(run.counts)
        counts.subtract(run.unsent)
        counts = +counts  # more held than stored (a summary edited by hand) is none
        for key, count in counts.items():
            try:
                severity = Outcome(key).severity
            except ValueError:
                severity = Severity.UNKNOWN
            buckets[severity.value] += count
        checked = sum(buckets[s.value] for s in Severity if s is not Severity.UNKNOWN)
        if run.network_unavailable and set(counts) <= _NO_REQUEST_NEEDED:
            # Offline: the only verdicts are those reached without asking any site (an
            # invalid URL), which would draw the night as 100% failing.
            checked = 0
        # A page that answers but no longer holds its resource is no working link: its
        # row says "Page no longer matches", and so does its run's point.
        drifted = min(run.drifted or 0, buckets[Severity.OK.value])
        points.append(
            TrendPoint(
                run_id=run.id,
                at=when(run.finished_at or run.started_at, now),
                checked=checked,
                ok=buckets[Severity.OK.value] - drifted,
                broken=buckets[Severity.BROKEN.value],
                attention=buckets[Severity.UPDATE.value] + buckets[Severity.LOOK.value] + drifted,
                unknown=buckets[Severity.UNKNOWN.value],
                network_unavailable=run.network_unavailable,
                unsent=sum(min(n, run.counts.get(k, 0)) for k, n in run.unsent.items()),
            )
        )
    if not points:
        return None
    useful = [p for p in points if p.checked]
    span = f"{count_of(len(points), 'run')} from {points[0].at.date} to {points[-1].at.date}"
    if len(useful) > 1:
        first, last = useful[0], useful[-1]
        description = (
            f"{span}: links OK {_moved(first.ok_pct, last.ok_pct)}, "
            f"failing {_moved(first.broken_pct, last.broken_pct)}."
        )
    elif useful:  # a change needs two runs that checked something
        (only,) = useful
        shares = f"{only.ok_pct:.0f}% of links OK, {only.broken_pct:.0f}% failing"
        if len(points) == 1:
            description = f"1 run, on {only.at.date}: {shares}."
        else:
            description = f"{span}; only run {only.run_id} could check links: {shares}."
    elif len(points) == 1:
        description = f"1 run, on {points[0].at.date}, which could not check any link."
    else:
        description = f"{len(points)} runs, none of which could check any link."
    return Trend(days=days, points=tuple(points), description=description)


def group_stats(
    kind: str, sources: Sequence[ResourceRow], rows: Sequence[Row]
) -> tuple[GroupStats, ...]:
    groups: dict[str, list[tuple[ResourceRow, Row]]] = defaultdict(list)
    for source, row in zip(sources, rows, strict=True):
        name = source.publisher if kind == "publisher" else source.host
        if name:
            groups[name].append((source, row))
    page = publisher_page_path if kind == "publisher" else host_page_path
    stats = []
    for name, members in groups.items():
        checked = [
            s for s, _ in members if s.outcome is not None and s.outcome.severity.value != "unknown"
        ]
        # Response times of the checks the site answered at the first try (`MEDIAN_NOTE`).
        times = [s.elapsed_ms for s in checked if s.elapsed_ms is not None and at_once(s)]
        stats.append(
            GroupStats(
                kind=kind,
                name=name,
                page=page(name),
                resources=len(members),
                checked=len(checked),
                # Working as each row's badge says: a page that no longer matches its
                # entry answers 200, but is badged "Page no longer matches".
                ok=sum(
                    s.outcome is not None and s.outcome.is_ok and r.priority is not Priority.DRIFT
                    for s, r in members
                ),
                # In the queue's "Confirmed broken", as the summary counts them: a soft 404
                # has a group of its own, a snoozed or ignored break is set aside. Counting
                # every link in state broken, the column summed to 21 beside 13.
                broken=sum(r.queued and r.priority is Priority.BROKEN for _, r in members),
                # As the index's queue counts them: snoozed and ignored ones are left
                # out of "need attention" and counted apart.
                attention=sum(r.queued for _, r in members),
                set_aside=sum(r.set_aside for _, r in members),
                median_ms=round(statistics.median(times)) if times else None,
                unanswered=sum(s.http_status is None for s in checked),
                late=sum(s.http_status is not None and not at_once(s) for s in checked),
            )
        )
    # Worst first: the publishers and hosts to talk to.
    return tuple(sorted(stats, key=lambda g: (-g.broken, -g.attention, g.name.casefold())))


def at_once(source: ResourceRow) -> bool:
    """Whether the latest check's time is the site's answer: answered, with no retry and
    no request before the answer that got none. A timeout's or a refused connection's
    time, the waits between retries and a HEAD the site let time out before it answered
    the GET (its reason's journey: "HEAD no answer, GET 200") are time spent waiting for
    no answer: a host timing out every night had a "median response" of 2.2 s, the
    retries' backoff, and one that drops HEAD the read timeout's 3 s."""
    if source.http_status is None or source.retries:
        return False
    journey = (source.reason or "").split(":", 1)[0]
    return NO_ANSWER not in journey


def _moved(first: float, last: float) -> str:
    """ "went from 64% to 71%", or "stayed at 21%" where "from 21% to 21%" read oddly."""
    if f"{first:.0f}" == f"{last:.0f}":
        return f"stayed at {last:.0f}%"
    return f"went from {first:.0f}% to {last:.0f}%"
