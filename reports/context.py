"""The one view model every report format renders.

Stage: report (presentation). Input: `catalog.queries.ReportData` and the time the
report is made. Output: `ReportContext`, plain frozen records holding every word and
number a template shows, already ordered by what a curator should fix first; and,
streamed one at a time, a `ResourcePage` per resource with its history.

Outcome wording (label, explanation) comes from `catalog.outcomes.Outcome` only; this
module adds the report's own framing (headline, group headings, notices, the fix and
the `linkhealth` command that applies it). Templates and serializers stay dumb.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import re
import shlex
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum

import humanize

from catalog.hygiene import Finding, Level
from catalog.outcomes import Outcome, Severity
from catalog.queries import (
    ATTENTION_STATES,
    UNCHECKED,
    EventRow,
    ObservationRow,
    ReportData,
    ResourceRow,
    RunInfo,
)

TITLE = "Link health report"
#: Placeholder in a command the curator must complete.
NEW_URL = "NEW_URL"


class Priority(IntEnum):
    """Action-queue groups, in the order a curator should work through them."""

    BROKEN = 1
    DRIFT = 2
    SOFT_404 = 3
    UPDATE = 4
    LOOK = 5
    FAILING = 6
    STALE = 7
    OTHER = 8

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def heading(self) -> str:
        return _PRIORITY_TEXT[self][0]

    @property
    def description(self) -> str:
        return _PRIORITY_TEXT[self][1]

    @property
    def to_fix(self) -> bool:
        """Counted as "needs fixing" in the headline (the rest "needs a look")."""
        return self in (Priority.BROKEN, Priority.DRIFT, Priority.SOFT_404, Priority.UPDATE)


_PRIORITY_TEXT: dict[Priority, tuple[str, str]] = {
    Priority.BROKEN: (
        "Confirmed broken",
        "These failed check after check over several days, or can never work (an address "
        "that is not a web address); fix them first.",
    ),
    Priority.DRIFT: (
        "Content changed beyond recognition",
        "The address now shows something else, possibly a hijacked domain; check before "
        "visitors do.",
    ),
    Priority.SOFT_404: (
        "Page missing (soft 404)",
        "The site answers, but not with the resource; find where it moved.",
    ),
    Priority.UPDATE: (
        "Moved permanently",
        "These work but have moved for good; switch the catalog to the new address.",
    ),
    Priority.LOOK: (
        "Check by hand",
        "We could not tell automatically; open these in a browser.",
    ),
    Priority.FAILING: (
        "Failing, not yet confirmed",
        "These failed recently and may recover on their own; act if they keep failing.",
    ),
    Priority.STALE: ("Possibly out of date", "The entry itself may need a review."),
    Priority.OTHER: ("Other", "Worth a look."),
}

#: Health states as curators read them (the states themselves belong to catalog.health).
_STATE_LABELS = {
    "ok": "OK",
    "suspect": "Failing, not yet confirmed",
    "broken": "Confirmed broken",
    "recovered": "Recovered",
    "check_by_hand": "Check by hand",
    UNCHECKED: "Not checked yet",
}
_UNCHECKED_LABEL = "Not checked yet"
_UNCHECKED_EXPLANATION = "Added since the last check; the next run will check it."
_UNKNOWN_NEXT_STEP = "Open the link in a browser to see whether it still works."
#: An outcome's explanation of a working link ("nothing to do") would contradict the fix.
_DRIFT_NEXT_STEP = (
    "The link answers, but its page no longer holds the resource (a parked, sold or "
    "hijacked site): follow the suggested fix."
)
#: Totals are listed worst first.
_SEVERITY_ORDER = {
    Severity.BROKEN: 0,
    Severity.UPDATE: 1,
    Severity.LOOK: 2,
    Severity.OK: 3,
    Severity.UNKNOWN: 4,
}
#: The reason given to `linkhealth ignore` for outcomes a person confirmed by hand.
_IGNORE_REASONS = {
    Outcome.BLOCKED: "works in a browser; blocks automated checks",
    Outcome.PRIVATE_ADDRESS: "intranet link",
}


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """A moment shown to people: relative ("3 days ago") plus the absolute date."""

    iso: str
    date: str
    text: str
    ago: str


@dataclass(frozen=True)
class Total:
    key: str
    label: str
    severity: str
    explanation: str
    count: int


@dataclass(frozen=True)
class Row:
    """One active resource as every format shows it (queue row, table row, CSV line)."""

    priority: Priority | None
    collection_key: str
    collection: str
    resource_id: str
    title: str
    publisher: str | None
    url: str
    #: `url` when it is safe to link to (http/https only), else None.
    href: str | None
    host: str | None
    outcome: str | None
    label: str
    severity: str
    state: str
    state_label: str
    #: `state_label` when it adds to the outcome label (failing, broken, check by hand).
    state_note: str | None
    reason: str | None
    #: "What we saw": the reason sentence (or the drift / staleness reasons).
    seen: str
    http_status: int | None
    page_title: str | None
    #: Where the link ended, when that differs from `url` and from the suggestion.
    final_url: str | None
    final_href: str | None
    suggested_url: str | None
    suggested_href: str | None
    since: When | None
    failing_checks: int
    #: How many checks have seen the current problem.
    checks: int
    #: None for a link never checked, even one tried while our network was down.
    last_checked: When | None
    #: When a never-checked link was last tried, our network being down (else None).
    last_tried: When | None
    elapsed_ms: int | None
    next_step: str
    #: The suggested fix in one sentence, and the command that applies it.
    fix: str | None
    command: str | None
    #: The command has a placeholder (`NEW_URL`) the curator must fill in.
    command_needs_input: bool
    #: Site-relative paths of this resource's, publisher's and host's pages.
    page: str
    publisher_page: str | None
    host_page: str | None
    # Filled when the database holds them (see catalog.queries.ResourceRow).
    drift_reason: str | None = None
    stale_reasons: tuple[str, ...] = ()
    archive_url: str | None = None
    archive_href: str | None = None
    #: Only while the snooze lasts.
    snoozed_until: When | None = None
    snooze_reason: str | None = None
    ignored_reason: str | None = None

    @property
    def set_aside(self) -> bool:
        return self.snoozed_until is not None or self.ignored_reason is not None

    @property
    def entry_only(self) -> bool:
        """Queued for the entry alone (out of date) while its link works: the link's
        "since" and checks say nothing about it."""
        return self.priority is Priority.STALE and self.outcome == Outcome.OK.value

    @property
    def page_title_label(self) -> str:
        """The title of a link whose last check did not work (failed, blocked, rate
        limited, ...) is its page's when it last worked (`catalog.health` keeps the last
        good facts), not what the error or block page says."""
        if self.severity in (Severity.OK.value, Severity.UPDATE.value):
            return "Page title"
        return "Page title when it last worked"

    @property
    def status_badge(self) -> tuple[str, str]:
        """(style, text) of the row's status badge: the outcome's, unless the link's state
        says otherwise. A page that no longer matches its entry answers 200 but is not "OK",
        and a failure not yet confirmed is a warning, not the red of a confirmed break."""
        if self.priority is Priority.DRIFT:
            return Severity.BROKEN.value, "Page no longer matches"
        if self.priority is Priority.FAILING and self.severity == Severity.BROKEN.value:
            return "suspect", self.label
        return self.severity, self.label


@dataclass(frozen=True)
class Group:
    priority: Priority
    key: str
    heading: str
    description: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class RunSummary:
    id: int
    trigger: str
    status: str
    started: When
    finished: When | None
    urls_planned: int
    urls_checked: int
    duration: str | None
    network_unavailable: bool
    #: A sharded run's shard run ids ("Run 7 (shard runs 6, 7)"); () for any other run.
    shards: tuple[int, ...] = ()
    #: URLs only tried while our own network was down: not among `urls_checked`.
    urls_offline: int = 0


@dataclass(frozen=True)
class CatalogSummary:
    key: str
    title: str
    resources: int


@dataclass(frozen=True)
class ChangeItem:
    kind: str
    at: When
    #: The resource's title (for link events, each resource on the link gets an item).
    title: str
    resource_id: str | None
    collection: str | None
    page: str | None
    #: One sentence: "Not found (404) after 3 failed checks", "fields edited: title".
    summary: str
    before: str | None = None
    after: str | None = None


@dataclass(frozen=True)
class ChangeSection:
    key: str
    heading: str
    items: tuple[ChangeItem, ...]

    @property
    def tally(self) -> str:
        """The count for a sentence: "1 new redirect", "4 catalog edits"."""
        n, noun = len(self.items), self.heading.lower()
        return f"{n} {_ONE_CHANGE.get(self.key, noun) if n == 1 else noun}"


@dataclass(frozen=True)
class Changes:
    """What happened between the previous finished run and the shown one."""

    previous_run_id: int | None
    since: When | None
    sections: tuple[ChangeSection, ...]

    @property
    def total(self) -> int:
        return sum(len(s.items) for s in self.sections)


@dataclass(frozen=True)
class TrendPoint:
    run_id: int
    at: When
    checked: int
    ok: int
    broken: int
    #: Update + look: works, but needs a curator.
    attention: int
    unknown: int
    network_unavailable: bool

    def pct(self, count: int) -> float:
        return 100.0 * count / self.checked if self.checked else 0.0

    @property
    def ok_pct(self) -> float:
        return self.pct(self.ok)

    @property
    def broken_pct(self) -> float:
        return self.pct(self.broken)

    @property
    def attention_pct(self) -> float:
        return self.pct(self.attention)


@dataclass(frozen=True)
class Trend:
    days: int
    points: tuple[TrendPoint, ...]
    #: One sentence describing the chart (its `<desc>` and the Markdown summary).
    description: str


@dataclass(frozen=True)
class GroupStats:
    """Health of the resources of one publisher or one host."""

    kind: str
    name: str
    page: str
    resources: int
    checked: int
    ok: int
    broken: int
    attention: int
    median_ms: int | None

    @property
    def ok_pct(self) -> float | None:
        return round(100.0 * self.ok / self.checked, 1) if self.checked else None


@dataclass(frozen=True)
class ReportContext:
    title: str
    generated: When
    run: RunSummary | None
    #: One plain sentence: "26 resources: 2 to fix, 1 to check or watch, 23 OK."
    headline: str
    #: Set when the run found our own network down; shown prominently instead of errors.
    network_notice: str | None
    nothing_checked: bool
    #: Set when there is nothing to report yet (no resources, or never checked).
    empty_notice: str | None
    totals: tuple[Total, ...]
    #: The action queue: non-empty groups, most urgent first (snoozed and ignored left out).
    groups: tuple[Group, ...]
    catalogs: tuple[CatalogSummary, ...]
    resources_total: int
    #: Snoozed and ignored resources, with their reasons.
    set_aside: tuple[Row, ...] = ()
    changes: Changes | None = None
    trend: Trend | None = None
    publishers: tuple[GroupStats, ...] = ()
    hosts: tuple[GroupStats, ...] = ()
    #: Every active resource, by collection then id.
    resources: tuple[Row, ...] = field(default=(), repr=False)
    #: Catalog hygiene (`linkhealth catalog lint`): errors and warnings, after the links.
    hygiene: tuple[HygieneRow, ...] = ()
    #: Informational findings, counted but not listed.
    hygiene_info: int = 0

    @property
    def hygiene_kinds(self) -> tuple[tuple[str, str, int], ...]:
        """(level, code, count) of the findings, most frequent first: where one kind fills
        hundreds of rows (every entry lacks a `type:`), the counts say more than the rows."""
        counts = Counter((f.level, f.code) for f in self.hygiene)
        return tuple((level, code, n) for (level, code), n in counts.most_common())

    @property
    def rows(self) -> tuple[Row, ...]:
        """Every action-queue row, in fix-first order."""
        return tuple(row for group in self.groups for row in group.rows)

    @property
    def queue(self) -> tuple[Group, ...]:
        return self.groups


@dataclass(frozen=True)
class HygieneRow:
    """One catalog-hygiene finding: tidying work that is not a dead link."""

    level: str
    code: str
    collection: str
    resource_id: str
    where: str
    message: str
    fix: str
    command: str | None


def hygiene_rows(findings: Sequence[Finding]) -> tuple[HygieneRow, ...]:
    """Errors before warnings, in file order; informational findings are left to the count."""
    shown = sorted(
        (f for f in findings if f.level is not Level.INFO),
        key=lambda f: (-f.level.rank, f.file, f.line or 0, f.code),
    )
    return tuple(
        HygieneRow(
            f.level.value, f.code, f.collection, f.resource_id, f.where, f.message, f.fix, f.command
        )
        for f in shown
    )


@dataclass(frozen=True)
class HistoryItem:
    """One line of a resource's history: a check or an event."""

    at: When
    kind: str
    label: str
    severity: str
    detail: str | None
    http_status: int | None = None
    elapsed_ms: int | None = None


@dataclass(frozen=True)
class ResourcePage:
    row: Row
    #: Newest first.
    history: tuple[HistoryItem, ...]


# --- building --------------------------------------------------------------------------------


def build_context(
    data: ReportData, *, now: datetime, findings: Sequence[Finding] = ()
) -> ReportContext:
    """The view model of one report; `now` makes "3 days ago" reproducible."""
    ambiguous = _ambiguous_ids(data.resources)
    resources = tuple(_row(r, now, ambiguous) for r in data.resources)
    queued = sorted(filter(_queued, resources), key=_fix_first)
    groups = tuple(
        Group(p, p.key, p.heading, p.description, rows=tuple(r for r in queued if r.priority is p))
        for p in Priority
        if any(r.priority is p for r in queued)
    )
    nothing_checked = set(data.totals) <= {UNCHECKED}
    ctx = ReportContext(
        title=TITLE,
        generated=when(now, now),
        run=_run(data.run, now) if data.run else None,
        headline=_headline(data, resources, nothing_checked),
        network_notice=_network_notice(data.run) if data.network_unavailable else None,
        nothing_checked=nothing_checked,
        empty_notice=_empty_notice(data, nothing_checked),
        totals=_totals(data.totals),
        groups=groups,
        catalogs=tuple(CatalogSummary(c.key, c.title, c.resources) for c in data.collections),
        resources_total=data.resources_total,
        set_aside=tuple(sorted((r for r in resources if r.set_aside), key=_failing_first)),
        changes=_changes(data, resources, now) if data.run else None,
        trend=_trend(data.trend_runs, now),
        publishers=_stats("publisher", data.resources, resources),
        hosts=_stats("host", data.resources, resources),
        resources=resources,
    )
    return with_findings(ctx, findings) if findings else ctx


def action_queue(
    resources: Iterable[ResourceRow],
    *,
    now: datetime,
    shared_ids: frozenset[str],
    limit: int,
) -> list[Row]:
    """The first `limit` rows of `build_context(...).groups`, in the same order, keeping
    only the resources that need attention (so `resources` may be a stream of 100,000).
    `shared_ids`: resource ids used by several catalogs (`queries.shared_resource_ids`)."""
    # `_priority` first: most resources need nothing, and a whole Row costs far more.
    rows = (_row(r, now, shared_ids) for r in resources if _priority(r) is not None)
    # nsmallest is sorted(...)[:limit] (stable), holding only `limit` rows at once.
    return heapq.nsmallest(limit, filter(_queued, rows), key=_fix_first)


def _queued(row: Row) -> bool:
    """In the action queue: something to do, and not snoozed or ignored."""
    return row.priority is not None and not row.set_aside


def with_findings(ctx: ReportContext, findings: Sequence[Finding]) -> ReportContext:
    """`ctx` with the catalog's hygiene findings, which may arrive after the links' state."""
    return replace(
        ctx,
        hygiene=hygiene_rows(findings),
        hygiene_info=sum(f.level is Level.INFO for f in findings),
    )


def resource_pages(
    data: ReportData,
    ctx: ReportContext,
    history: Iterable[tuple[int, list[ObservationRow]]],
    events_by_resource: Mapping[int, Sequence[EventRow]],
    events_by_link: Mapping[int, Sequence[EventRow]],
    *,
    now: datetime,
    shard: tuple[int, int] = (0, 1),
) -> Iterator[ResourcePage]:
    """A page per active resource, following `history` (streamed by link id) as it comes.

    `shard` = (k, n): only the resources whose link id is k modulo n (those without a
    link count as shard 0), for `history` read with the same shard.
    """
    part, parts = shard
    rows_by_link: dict[int | None, list[tuple[ResourceRow, Row]]] = defaultdict(list)
    for source, row in zip(data.resources, ctx.resources, strict=True):
        if (source.link_id or 0) % parts == part:
            rows_by_link[source.link_id].append((source, row))

    def pages(
        link_id: int | None, observations: Sequence[ObservationRow]
    ) -> Iterator[ResourcePage]:
        for source, row in rows_by_link.pop(link_id, ()):
            events = [*events_by_resource.get(source.pk, ())]
            if link_id is not None:
                events.extend(events_by_link.get(link_id, ()))
            yield ResourcePage(row, _history(observations, events, now))

    for seen_link, observations in history:
        yield from pages(seen_link, observations)
    for rest in list(rows_by_link):
        yield from pages(rest, ())


def when(value: datetime, now: datetime) -> When:
    key = (value, now)
    found = _WHEN_CACHE.get(key)
    if found is None:
        iso = value.astimezone(UTC).isoformat(timespec="seconds")
        found = When(
            iso=iso, date=iso[:10], text=f"{iso[:10]} {iso[11:16]} UTC", ago=ago(value, now)
        )
        if len(_WHEN_CACHE) > 200_000:
            _WHEN_CACHE.clear()
        _WHEN_CACHE[key] = found
    return found


#: Runs stamp thousands of rows with the same moments; a When is immutable, so share it.
_WHEN_CACHE: dict[tuple[datetime, datetime], When] = {}


def ago(value: datetime, now: datetime) -> str:
    """ "3 days ago", "in 2 hours": coarse on purpose, and cheap (called per resource)."""
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now"
    for unit, size in _AGO_UNITS:
        if seconds >= size:
            n = int(seconds // size)
            words = f"a {unit}" if n == 1 else f"{n} {unit}s"
            if unit == "hour" and n == 1:
                words = "an hour"
            return f"in {words}" if future else f"{words} ago"
    return "just now"


_AGO_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def safe_href(url: str | None) -> str | None:
    """`url` if a browser may follow it from the report (never javascript:, data:, ...)."""
    if not url:
        return None
    url = url.strip()
    return url if _WEB_URL.match(url) else None


#: http(s), then a host: anything else (javascript:, data:, file:, "//x") is never linked.
_WEB_URL = re.compile(r"https?://[^/?#\s\\]", re.IGNORECASE)


_UNSAFE_NAME = re.compile(r"[^a-z0-9._-]+")


def slug(*parts: str) -> str:
    """A file name for free text: readable, and unique thanks to a short hash of the text."""
    text = "--".join(parts)
    readable = _UNSAFE_NAME.sub("-", text.lower()).strip("-.")[:60] or "x"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"


def resource_page_path(collection_key: str, resource_id: str) -> str:
    return f"resources/{slug(collection_key, resource_id)}.html"


@functools.lru_cache(maxsize=65536)
def publisher_page_path(publisher: str) -> str:
    return f"publishers/{slug(publisher)}.html"


@functools.lru_cache(maxsize=65536)
def host_page_path(host: str) -> str:
    return f"hosts/{slug(host)}.html"


def _priority(r: ResourceRow) -> Priority | None:
    outcome, state = r.outcome, r.state
    if state == "broken" and outcome is not Outcome.SOFT_404:
        return Priority.BROKEN
    if outcome is Outcome.INVALID_URL:  # no later check can change it: nothing to wait for
        return Priority.BROKEN
    if r.drift_reason:
        return Priority.DRIFT
    if outcome is Outcome.SOFT_404:
        return Priority.SOFT_404
    if outcome is not None and outcome.severity is Severity.UPDATE:
        return Priority.UPDATE
    if state == "check_by_hand" or (outcome is not None and outcome.severity is Severity.LOOK):
        return Priority.LOOK
    if state == "suspect" or (outcome is not None and outcome.is_failure):
        return Priority.FAILING
    if r.stale_reasons:
        return Priority.STALE
    if r.needs_attention:
        return Priority.OTHER
    return None


def _fix_first(row: Row) -> tuple[int, bool, str, int, str, str]:
    # Oldest problem first within a group: it has been failing visitors the longest.
    return (
        row.priority or Priority.OTHER,
        row.since is None,
        row.since.iso if row.since else "",
        -row.checks,
        row.collection.casefold(),
        row.title.casefold(),
    )


def _by_title(row: Row) -> tuple[str, str]:
    return (row.title.casefold(), row.resource_id)


def worst_first(row: Row) -> tuple[int, bool, str, int, str, str]:
    """A publisher's or host's resources: the queue's order, then the rest by collection
    and title."""
    if row.priority is not None:
        return _fix_first(row)
    return (len(Priority) + 1, False, "", 0, row.collection.casefold(), row.title.casefold())


def _failing_first(row: Row) -> tuple[bool, str, str]:
    """Set-aside resources whose link now fails first: a snooze or an ignore hides them from
    the queue, so this list is where a curator notices one that got worse."""
    failing = row.status_badge[0] in (Severity.BROKEN.value, "suspect")
    return (not failing, *_by_title(row))


def _ambiguous_ids(resources: Sequence[ResourceRow]) -> frozenset[str]:
    counts = Counter(r.resource_id for r in resources)
    return frozenset(rid for rid, n in counts.items() if n > 1)


def shown_state(r: ResourceRow) -> str:
    """The link's state as every format of the report shows it.

    An invalid address (`htp://x`) is the catalog's own mistake: no later check can change
    it, so there is no confirmation to wait for, and the report files it under "Confirmed
    broken" from its first check (`_priority`). `catalog.health` counts it towards
    confirmation like any failure and stores it as suspect until then; shown as such, its
    label would say "Failing, not yet confirmed" inside the "Confirmed broken" group (and
    the CSV and JSON `state` would contradict their `group`).
    """
    if r.outcome is Outcome.INVALID_URL and r.state == _SUSPECT:
        return _BROKEN
    return r.state


_SUSPECT, _BROKEN = "suspect", "broken"
_INVALID_SINCE = "Not a web address a browser can open: broken from its first check."


def _row(r: ResourceRow, now: datetime, ambiguous: frozenset[str]) -> Row:
    outcome = r.outcome
    label = outcome.label if outcome else (r.outcome_value or _UNCHECKED_LABEL)
    state = shown_state(r)
    state_label = _STATE_LABELS.get(state, state.replace("_", " "))
    noted = state in ATTENTION_STATES and state_label != label
    final = r.final_url if r.final_url not in (None, r.url, r.suggested_url) else None
    priority = _priority(r)
    reason = r.reason if r.reason != label else None
    fix, command, needs_input = _fix(r, priority, ambiguous)
    snoozed = when(r.snoozed_until, now) if r.snoozed_until and r.snoozed_until > now else None
    if priority is Priority.DRIFT and r.drift_reason:
        seen = r.drift_reason
    elif priority is Priority.STALE:
        seen = "; ".join(r.stale_reasons)
    else:
        seen = r.reason or label
    return Row(
        priority=priority,
        collection_key=r.collection_key,
        collection=r.collection_title,
        resource_id=r.resource_id,
        title=r.title,
        publisher=r.publisher,
        url=r.url,
        href=safe_href(r.url),
        host=r.host,
        outcome=r.outcome_value,
        label=label,
        severity=outcome.severity.value if outcome else Severity.UNKNOWN.value,
        state=state,
        state_label=state_label,
        state_note=state_label if noted else None,
        reason=reason,
        seen=seen,
        http_status=r.http_status,
        page_title=r.page_title,
        final_url=final,
        final_href=safe_href(final),
        suggested_url=r.suggested_url,
        suggested_href=safe_href(r.suggested_url),
        since=when(r.since, now) if r.since else None,
        failing_checks=r.failing_checks,
        checks=max(r.failing_checks, r.checks_since),
        last_checked=when(r.last_checked_at, now) if r.last_checked_at else None,
        last_tried=when(r.last_tried_at, now) if r.last_tried_at else None,
        elapsed_ms=r.elapsed_ms,
        next_step=(
            _DRIFT_NEXT_STEP
            if priority is Priority.DRIFT
            and (outcome is None or outcome.severity in (Severity.OK, Severity.UPDATE))
            else outcome.explanation
            if outcome
            else _UNKNOWN_NEXT_STEP
        ),
        fix=fix,
        command=command,
        command_needs_input=needs_input,
        page=resource_page_path(r.collection_key, r.resource_id),
        publisher_page=publisher_page_path(r.publisher) if r.publisher else None,
        host_page=host_page_path(r.host) if r.host else None,
        drift_reason=r.drift_reason,
        stale_reasons=r.stale_reasons,
        archive_url=r.archive_url,
        archive_href=safe_href(r.archive_url),
        snoozed_until=snoozed,
        snooze_reason=r.snooze_reason if snoozed else None,
        ignored_reason=r.ignored_reason,
    )


def command(name: str, r: ResourceRow, *args: str, ambiguous: frozenset[str] = frozenset()) -> str:
    """`linkhealth NAME ID ARGS...`, shell-quoted (URLs and reasons come from the web)."""
    words = ["linkhealth", name, r.resource_id, *args]
    if r.resource_id in ambiguous:
        words += ["--collection", r.collection_key]
    return shlex.join(words)


def _fix(
    r: ResourceRow, priority: Priority | None, ambiguous: frozenset[str]
) -> tuple[str | None, str | None, bool]:
    """The suggested fix, the command that applies it, and whether it needs a URL filled in."""
    if priority is None:
        return None, None, False

    def cmd(name: str, *args: str) -> str:
        return command(name, r, *args, ambiguous=ambiguous)

    if priority is Priority.UPDATE and r.suggested_url:
        return f"Switch to the new address {r.suggested_url}.", cmd("accept-redirect"), False
    if priority in (Priority.BROKEN, Priority.DRIFT, Priority.SOFT_404, Priority.UPDATE):
        if r.outcome is Outcome.INVALID_URL:
            return "Correct the address in the entry.", cmd("replace-url", NEW_URL), True
        if r.suggested_url and safe_href(r.suggested_url):
            return (
                f"Use the new address {r.suggested_url}.",
                cmd("replace-url", r.suggested_url),
                False,
            )
        if r.archive_url:
            return (
                f"Link the archived copy {r.archive_url} until the publisher's new address is "
                "found.",
                cmd("replace-url", r.archive_url),
                False,
            )
        if priority is Priority.DRIFT:
            what = (
                "The address shows something else now, perhaps a domain that changed hands: "
                "unlink it soon."
            )
        elif r.outcome is not None:
            what = r.outcome.explanation  # what this failure asks for
        else:
            what = "Find where the resource moved."
        return f"{what} Put the new address in place of NEW_URL.", cmd("replace-url", NEW_URL), True
    if priority is Priority.LOOK:
        reason = _IGNORE_REASONS.get(r.outcome) if r.outcome else None
        if reason is None:
            return (
                "Nothing to do unless it keeps happening; it is checked again next run.",
                None,
                False,
            )
        return (
            "Open it in a browser; if it works, tell linkhealth to stop flagging it.",
            cmd("ignore", "--reason", reason),
            False,
        )
    if priority is Priority.FAILING:
        return "Wait: it may recover by itself. Act if it is confirmed broken.", None, False
    if priority is Priority.STALE:
        return (
            "Review the entry; if it is still current, record the review.",
            cmd("mark-reviewed"),
            False,
        )
    return None, None, False


def _totals(totals: Mapping[str, int]) -> tuple[Total, ...]:
    items = []
    for key, count in totals.items():
        try:
            outcome: Outcome | None = Outcome(key)
        except ValueError:
            outcome = None
        if outcome is not None:
            items.append(
                Total(key, outcome.label, outcome.severity.value, outcome.explanation, count)
            )
        elif key == UNCHECKED:
            items.append(
                Total(key, _UNCHECKED_LABEL, Severity.UNKNOWN.value, _UNCHECKED_EXPLANATION, count)
            )
        else:
            items.append(Total(key, key, Severity.UNKNOWN.value, _UNKNOWN_NEXT_STEP, count))

    def order(t: Total) -> tuple[int, bool, int, str]:
        return (_SEVERITY_ORDER[Severity(t.severity)], t.key == UNCHECKED, -t.count, t.label)

    return tuple(sorted(items, key=order))


def _headline(data: ReportData, resources: Sequence[Row], nothing_checked: bool) -> str:
    """Every active resource counted once, by what it asks of the curator, so the parts
    add up to the catalog: an entry to review whose link works is not a link to look at."""
    if not data.resources_total:
        return "Nothing has been checked yet."
    if nothing_checked and data.network_unavailable:
        return (
            f"No link could be checked yet: our network was down "
            f"({_count(data.resources_total, 'link')} waiting)."
        )
    if nothing_checked:
        return f"Nothing has been checked yet ({_count(data.resources_total, 'link')} waiting)."
    tally: Counter[str] = Counter()
    for r in resources:
        if r.set_aside:
            tally["set aside"] += 1
        elif r.priority is not None and r.priority.to_fix:
            tally["to fix"] += 1
        elif r.entry_only:
            tally["to review (the link works)"] += 1
        elif r.priority is not None:
            tally["to check or watch"] += 1
        elif r.outcome == Outcome.OK.value:
            tally["OK"] += 1
        elif r.outcome in (None, UNCHECKED):
            tally["not checked yet"] += 1
        elif r.outcome == Outcome.NETWORK_UNAVAILABLE.value:
            tally[f"unknown ({Outcome.NETWORK_UNAVAILABLE.label.lower()})"] += 1
        else:
            tally["other"] += 1
    parts = [f"{tally.pop('to fix', 0)} to fix"]  # "0 to fix" is news too
    order = ["to check or watch", "to review (the link works)", "OK", "set aside"]
    parts += [f"{tally.pop(k)} {k}" for k in order if k in tally]
    parts += [f"{n} {k}" for k, n in tally.items()]
    return f"{_count(len(resources), 'resource')}: " + ", ".join(parts) + "."


def _network_notice(run: RunInfo | None) -> str:
    offline = [part.id for part in run.shards if part.network_unavailable] if run else []
    if run and offline and len(offline) < len(run.shards):
        # One machine of a sharded run offline says nothing of the other shards' links.
        which = ", ".join(map(str, offline))
        return (
            f"Our own network was unreachable during shard run {which} of run {run.id}, so "
            "it learned nothing about that shard's links. Nothing below changed because of "
            "it; they will be checked again next run."
        )
    which = f"run {run.id}" if run else "the last run"
    return (
        f"Our own network was unreachable during {which}, so it learned nothing about the "
        "links. Nothing below changed because of it; the links will be checked again next run."
    )


def _empty_notice(data: ReportData, nothing_checked: bool) -> str | None:
    if not data.resources_total:
        return "There are no catalog resources yet; sync a catalog, then run a check."
    if nothing_checked and not data.network_unavailable:
        return "Nothing has been checked yet; the first run will fill this report in."
    return None


def _run(run: RunInfo, now: datetime) -> RunSummary:
    # An offline try learned nothing: "24 of 24 URLs checked" under "No link could be
    # checked yet" would contradict itself.
    offline = min(run.urls_checked, run.counts.get(Outcome.NETWORK_UNAVAILABLE.value, 0))
    return RunSummary(
        id=run.id,
        trigger=run.trigger,
        status=run.status,
        started=when(run.started_at, now),
        finished=when(run.finished_at, now) if run.finished_at else None,
        urls_planned=run.urls_planned,
        urls_checked=run.urls_checked - offline,
        duration=humanize.precisedelta(timedelta(seconds=run.duration_s))
        if run.duration_s is not None
        else None,
        network_unavailable=run.network_unavailable,
        shards=tuple(part.id for part in run.shards),
        urls_offline=offline,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- since the last run ----------------------------------------------------------------------

_SECTIONS = (
    ("newly_broken", "Newly broken"),
    ("newly_drifted", "Newly drifted (possible hijack)"),
    # Apart from the confirmed ones: one failed check is a thing to watch, not to fix.
    ("started_failing", "Started failing"),
    ("recovered", "Recovered"),
    ("content_changed", "Content changed"),
    ("new_redirects", "New redirects"),
    ("catalog_edits", "Catalog edits"),
)
#: One item of a section, where the heading lower-cased is a plural.
_ONE_CHANGE = {"new_redirects": "new redirect", "catalog_edits": "catalog edit"}
_CATALOG_KINDS = {"added", "removed", "url_edited", "fields_edited"}
#: Events about one entry, shown for it alone, not for every entry sharing its link.
_ENTRY_KINDS = {*_CATALOG_KINDS, "drift_detected"}
_FAILING_STATES = {"suspect", "broken"}


def _changes(data: ReportData, rows: Sequence[Row], now: datetime) -> Changes:
    by_link: dict[int, list[Row]] = defaultdict(list)
    by_pk: dict[int, Row] = {}
    for source, row in zip(data.resources, rows, strict=True):
        by_pk[source.pk] = row
        if source.link_id is not None:
            by_link[source.link_id].append(row)
    sections: dict[str, list[ChangeItem]] = {key: [] for key, _ in _SECTIONS}
    content_links = {e.link_id for e in data.changes if e.kind == "content_changed"}
    redirect_links = {e.link_id for e in data.changes if e.kind == "redirect_changed"}
    # A first hop that moved usually moves where the link ends too: show that once.
    final_links = {
        e.link_id
        for e in data.changes
        if e.kind == "final_url_changed" and e.link_id not in redirect_links
    }
    for event in data.changes:
        placed = _place(event, content_links, redirect_links, final_links)
        if placed is None:
            continue
        section, summary, before, after = placed
        at = when(event.at, now)
        if event.kind in _ENTRY_KINDS or event.link_id is None:
            named = by_pk.get(event.resource_pk) if event.resource_pk is not None else None
            title = event.resource_title or str(event.details.get("title") or "")
            sections[section].append(
                ChangeItem(
                    event.kind,
                    at,
                    title or (event.resource_id or "?"),
                    event.resource_id,
                    event.collection_title,
                    named.page if named else None,
                    summary,
                    before,
                    after,
                )
            )
            continue
        targets = by_link.get(event.link_id, [])
        if event.kind == "state_changed" and any(
            row.outcome == Outcome.INVALID_URL.value for row in targets
        ):
            # Shown as broken from its first check (`shown_state`): broken when it started
            # failing, and its later confirmation is no news.
            if section == "newly_broken" and event.details.get("old") == _SUSPECT:
                continue
            if section == "started_failing":
                section, summary = "newly_broken", _INVALID_SINCE
        for row in targets:
            sections[section].append(
                ChangeItem(
                    event.kind,
                    at,
                    row.title,
                    row.resource_id,
                    row.collection,
                    row.page,
                    summary,
                    before,
                    after,
                )
            )
    previous = data.previous_run
    return Changes(
        previous_run_id=previous.id if previous else None,
        since=when(previous.finished_at, now) if previous and previous.finished_at else None,
        sections=tuple(
            ChangeSection(key, heading, tuple(sections[key]))
            for key, heading in _SECTIONS
            if sections[key]
        ),
    )


def _place(
    event: EventRow,
    content_links: set[int | None],
    redirect_links: set[int | None],
    final_links: set[int | None],
) -> tuple[str, str, str | None, str | None] | None:
    """(section, summary, before, after) for an event worth showing, else None."""
    d = event.details
    kind = event.kind
    if kind == "state_changed":
        old, new = d.get("old"), d.get("new")
        failures = d.get("consecutive_failures") or 0
        if new == "broken":
            checks = "its first failed check" if failures == 1 else f"{failures} failed checks"
            return "newly_broken", f"Confirmed broken after {checks}.", None, None
        if new == "suspect" and old not in _FAILING_STATES:
            return "started_failing", "Failed its last check; not confirmed yet.", None, None
        if new == "recovered":
            return "recovered", "Works again.", None, None
        return None
    if kind == "outcome_changed" and d.get("new") == Outcome.REDIRECTED_PERMANENT.value:
        if event.link_id in redirect_links or event.link_id in final_links:
            return None
        return (
            "new_redirects",
            "Now redirects permanently.",
            _label(d.get("old")),
            _label(d.get("new")),
        )
    if kind == "outcome_changed" and d.get("old") == Outcome.REDIRECTED_PERMANENT.value:
        new_outcome = Outcome.known(str(d.get("new")))
        if new_outcome is not None and new_outcome.severity is Severity.OK:
            return (
                "new_redirects",
                "No longer redirects permanently.",
                _label(d.get("old")),
                _label(d.get("new")),
            )
        return None
    if kind == "drift_detected":
        reason = str(d.get("reason") or "its page no longer matches the entry")
        return "newly_drifted", f"{reason[:1].upper()}{reason[1:].rstrip('.')}.", None, None
    if kind == "drift_cleared":
        return "recovered", "Its page matches the entry again.", None, None
    if kind == "redirect_changed":
        return (
            "new_redirects",
            "Now leads somewhere else.",
            _text(d.get("old")),
            _text(d.get("new")),
        )
    if kind == "final_url_changed" and event.link_id not in redirect_links:
        return (
            "new_redirects",
            "Now ends at another address.",
            _text(d.get("old")),
            _text(d.get("new")),
        )
    if kind == "content_changed":
        title = _arrow(d.get("old_title"), d.get("new_title"))
        size = _arrow(_size(d.get("old_content_length")), _size(d.get("new_content_length")))
        parts = [
            p for p in (f"title {title}" if title else "", f"size {size}" if size else "") if p
        ]
        summary = "Content changed" + (f": {'; '.join(parts)}." if parts else ".")
        return "content_changed", summary, None, None
    if kind == "title_changed" and event.link_id not in content_links:
        return "content_changed", "Page title changed.", _text(d.get("old")), _text(d.get("new"))
    if kind == "content_type_changed":
        return "content_changed", "Content type changed.", _text(d.get("old")), _text(d.get("new"))
    if kind == "added":
        return (
            "catalog_edits",
            "Put back in the catalog." if d.get("readded") else "Added.",
            None,
            _text(d.get("url")),
        )
    if kind == "removed":
        return "catalog_edits", "Removed from the catalog.", _text(d.get("url")), None
    if kind == "url_edited":
        return "catalog_edits", "URL edited.", _text(d.get("old")), _text(d.get("new"))
    if kind == "fields_edited":
        names = ", ".join(str(f) for f in d.get("fields") or ())
        return "catalog_edits", f"Edited: {names}." if names else "Edited.", None, None
    return None


def _label(value: object) -> str | None:
    try:
        return Outcome(str(value)).label if value else None
    except ValueError:
        return str(value)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _size(value: object) -> str | None:
    return humanize.naturalsize(value, binary=True) if isinstance(value, int) else None


def _arrow(old: object, new: object) -> str | None:
    if (old is None and new is None) or old == new:
        return None
    return f"“{old or '—'}” → “{new or '—'}”" if not isinstance(old, int) else f"{old} → {new}"


# --- trends and per-publisher / per-host tables ----------------------------------------------


def _trend(runs: Sequence[RunInfo], now: datetime, days: int = 90) -> Trend | None:
    points = []
    for run in runs:
        buckets: Counter[str] = Counter()
        for key, count in run.counts.items():
            try:
                severity = Outcome(key).severity
            except ValueError:
                severity = Severity.UNKNOWN
            buckets[severity.value] += count
        checked = sum(buckets[s.value] for s in Severity if s is not Severity.UNKNOWN)
        points.append(
            TrendPoint(
                run_id=run.id,
                at=when(run.finished_at or run.started_at, now),
                checked=checked,
                ok=buckets[Severity.OK.value],
                broken=buckets[Severity.BROKEN.value],
                attention=buckets[Severity.UPDATE.value] + buckets[Severity.LOOK.value],
                unknown=buckets[Severity.UNKNOWN.value],
                network_unavailable=run.network_unavailable,
            )
        )
    if not points:
        return None
    useful = [p for p in points if p.checked]
    span = f"{_count(len(points), 'run')} from {points[0].at.date} to {points[-1].at.date}"
    if len(useful) > 1:
        first, last = useful[0], useful[-1]
        description = (
            f"{span}: links OK went from {first.ok_pct:.0f}% to {last.ok_pct:.0f}%, failing "
            f"from {first.broken_pct:.0f}% to {last.broken_pct:.0f}%."
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


def _stats(
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
        times = [s.elapsed_ms for s in checked if s.elapsed_ms is not None]
        stats.append(
            GroupStats(
                kind=kind,
                name=name,
                page=page(name),
                resources=len(members),
                checked=len(checked),
                ok=sum(s.outcome is not None and s.outcome.is_ok for s in checked),
                broken=sum(r.priority is Priority.BROKEN for _, r in members),
                attention=sum(r.priority is not None for _, r in members),
                median_ms=round(statistics.median(times)) if times else None,
            )
        )
    # Worst first: the publishers and hosts to talk to.
    return tuple(sorted(stats, key=lambda g: (-g.broken, -g.attention, g.name.casefold())))


# --- resource history ------------------------------------------------------------------------

_EVENT_LABELS = {
    "added": "Added to the catalog",
    "removed": "Removed from the catalog",
    "url_edited": "URL edited",
    "fields_edited": "Entry edited",
    "outcome_changed": "Outcome changed",
    "redirect_changed": "Redirect changed",
    "final_url_changed": "Final address changed",
    "content_changed": "Content changed",
    "title_changed": "Page title changed",
    "content_type_changed": "Content type changed",
    "state_changed": "Health changed",
}


def _history(
    observations: Sequence[ObservationRow], events: Sequence[EventRow], now: datetime
) -> tuple[HistoryItem, ...]:
    items: list[tuple[datetime, int, HistoryItem]] = []
    for obs in observations:
        label, severity = _check_label(obs.outcome_value)
        items.append(
            (
                obs.checked_at,
                0,
                HistoryItem(
                    at=when(obs.checked_at, now),
                    kind="check",
                    label=label,
                    severity=severity,
                    detail=obs.reason,
                    http_status=obs.http_status,
                    elapsed_ms=obs.elapsed_ms,
                ),
            )
        )
    for event in events:
        items.append(
            (
                event.at,
                1,
                HistoryItem(
                    at=when(event.at, now),
                    kind=event.kind,
                    label=_EVENT_LABELS.get(event.kind, event.kind.replace("_", " ")),
                    severity="event",
                    detail=_event_detail(event),
                ),
            )
        )
    items.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return tuple(item for _, _, item in items)


@functools.cache
def _check_label(value: str) -> tuple[str, str]:
    """Label and severity of a stored outcome value: looked up once per value, as the
    resource pages of a big catalog show millions of checks (enum lookups are slow)."""
    try:
        outcome = Outcome(value)
    except ValueError:
        return value, Severity.UNKNOWN.value
    return outcome.label, outcome.severity.value


def _event_detail(event: EventRow) -> str | None:
    d = event.details
    if event.kind == "fields_edited":
        return ", ".join(str(f) for f in d.get("fields") or ()) or None
    if event.kind in ("added", "removed"):
        return _text(d.get("url"))
    if event.kind == "outcome_changed":
        old, new = _label(d.get("old")), _label(d.get("new"))
        return f"{old or 'first check'} → {new}"
    if event.kind == "state_changed":
        old, new = d.get("old"), d.get("new")
        return f"{_STATE_LABELS.get(str(old), old)} → {_STATE_LABELS.get(str(new), new)}"
    if event.kind == "content_changed":
        title = _arrow(d.get("old_title"), d.get("new_title"))
        size = _arrow(_size(d.get("old_content_length")), _size(d.get("new_content_length")))
        return (
            "; ".join(p for p in (title and f"title {title}", size and f"size {size}") if p) or None
        )
    old, new = d.get("old"), d.get("new")
    if old is None and new is None:
        return None
    return f"{old or '—'} → {new or '—'}"
