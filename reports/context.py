"""The one view model every report format renders.

Stage: report (presentation). Input: `catalog.queries.ReportData` and the time the
report is made. Output: `ReportContext`, plain frozen records holding every word and
number a template shows, already ordered by what a curator should fix first.

Outcome wording (label, explanation) comes from `catalog.outcomes.Outcome` only; this
module adds the report's own framing (headline, group headings, notices). Templates
stay dumb: a new format (CSV, JSON, per-publisher pages) is one more template or
serializer over this same context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from urllib.parse import urlsplit

import humanize

from catalog.outcomes import Outcome, Severity
from catalog.queries import ATTENTION_STATES, UNCHECKED, AttentionRow, ReportData, RunInfo

TITLE = "Link health report"


class Priority(IntEnum):
    """Attention groups, in the order a curator should work through them."""

    BROKEN = 1
    FAILING = 2
    UPDATE = 3
    LOOK = 4
    OTHER = 5

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def heading(self) -> str:
        return _PRIORITY_TEXT[self][0]

    @property
    def description(self) -> str:
        return _PRIORITY_TEXT[self][1]


_PRIORITY_TEXT: dict[Priority, tuple[str, str]] = {
    Priority.BROKEN: (
        "Confirmed broken",
        "These failed check after check over several days; fix them first.",
    ),
    Priority.FAILING: (
        "Failing, not yet confirmed",
        "These failed recently and may recover on their own; look if they keep failing.",
    ),
    Priority.UPDATE: (
        "Update the URL",
        "These work but have moved for good; switch the catalog to the new address.",
    ),
    Priority.LOOK: (
        "Check by hand",
        "We could not tell automatically; open these in a browser.",
    ),
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
#: Totals are listed worst first.
_SEVERITY_ORDER = {
    Severity.BROKEN: 0,
    Severity.UPDATE: 1,
    Severity.LOOK: 2,
    Severity.OK: 3,
    Severity.UNKNOWN: 4,
}


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
    priority: Priority
    collection_key: str
    collection: str
    resource_id: str
    title: str
    publisher: str | None
    url: str
    #: `url` when it is safe to link to (http/https only), else None.
    href: str | None
    outcome: str | None
    label: str
    severity: str
    state: str
    state_label: str
    #: `state_label` when it adds to the outcome label (failing, broken, check by hand).
    state_note: str | None
    reason: str | None
    http_status: int | None
    page_title: str | None
    #: Where the link ended, when that differs from `url` and from the suggestion.
    final_url: str | None
    final_href: str | None
    suggested_url: str | None
    suggested_href: str | None
    since: When | None
    failing_checks: int
    last_checked: When | None
    next_step: str


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


@dataclass(frozen=True)
class CatalogSummary:
    key: str
    title: str
    resources: int


@dataclass(frozen=True)
class ReportContext:
    title: str
    generated: When
    run: RunSummary | None
    #: One plain sentence: "2 links need fixing, 1 needs a look, 23 OK".
    headline: str
    #: Set when the run found our own network down; shown prominently instead of errors.
    network_notice: str | None
    nothing_checked: bool
    #: Set when there is nothing to report yet (no resources, or never checked).
    empty_notice: str | None
    totals: tuple[Total, ...]
    #: Non-empty attention groups, most urgent first.
    groups: tuple[Group, ...]
    catalogs: tuple[CatalogSummary, ...]
    resources_total: int

    @property
    def rows(self) -> tuple[Row, ...]:
        """Every attention row, in fix-first order."""
        return tuple(row for group in self.groups for row in group.rows)


def build_context(data: ReportData, *, now: datetime) -> ReportContext:
    """The view model of one report; `now` makes "3 days ago" reproducible."""
    rows = sorted((_row(r, now) for r in data.attention), key=_fix_first)
    groups = tuple(
        Group(p, p.key, p.heading, p.description, rows=tuple(r for r in rows if r.priority is p))
        for p in Priority
        if any(r.priority is p for r in rows)
    )
    nothing_checked = set(data.totals) <= {UNCHECKED}
    return ReportContext(
        title=TITLE,
        generated=when(now, now),
        run=_run(data.run, now) if data.run else None,
        headline=_headline(data, rows, nothing_checked),
        network_notice=_network_notice(data.run) if data.network_unavailable else None,
        nothing_checked=nothing_checked,
        empty_notice=_empty_notice(data, nothing_checked),
        totals=_totals(data.totals),
        groups=groups,
        catalogs=tuple(CatalogSummary(c.key, c.title, c.resources) for c in data.collections),
        resources_total=data.resources_total,
    )


def when(value: datetime, now: datetime) -> When:
    value = value.astimezone(UTC)
    return When(
        iso=value.isoformat(timespec="seconds"),
        date=value.date().isoformat(),
        text=value.strftime("%Y-%m-%d %H:%M UTC"),
        ago=humanize.naturaltime(value, when=now.astimezone(UTC)),
    )


def safe_href(url: str | None) -> str | None:
    """`url` if a browser may follow it from the report (never javascript:, data:, ...)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _priority(outcome: Outcome | None, state: str) -> Priority:
    if state == "broken":
        return Priority.BROKEN
    if state == "suspect" or (outcome is not None and outcome.is_failure):
        return Priority.FAILING
    if outcome is not None and outcome.severity is Severity.UPDATE:
        return Priority.UPDATE
    if state == "check_by_hand" or (outcome is not None and outcome.severity is Severity.LOOK):
        return Priority.LOOK
    return Priority.OTHER


def _fix_first(row: Row) -> tuple[int, int, str, int, str, str]:
    # Oldest problem first within a group: it has been failing visitors the longest.
    return (
        row.priority,
        row.since is None,
        row.since.iso if row.since else "",
        -row.failing_checks,
        row.collection.casefold(),
        row.title.casefold(),
    )


def _row(r: AttentionRow, now: datetime) -> Row:
    outcome = r.outcome
    label = outcome.label if outcome else (r.outcome_value or _UNCHECKED_LABEL)
    state_label = _STATE_LABELS.get(r.state, r.state.replace("_", " "))
    noted = r.state in ATTENTION_STATES and state_label != label
    final = r.final_url if r.final_url not in (None, r.url, r.suggested_url) else None
    return Row(
        priority=_priority(outcome, r.state),
        collection_key=r.collection_key,
        collection=r.collection_title,
        resource_id=r.resource_id,
        title=r.title,
        publisher=r.publisher,
        url=r.url,
        href=safe_href(r.url),
        outcome=r.outcome_value,
        label=label,
        severity=outcome.severity.value if outcome else Severity.UNKNOWN.value,
        state=r.state,
        state_label=state_label,
        state_note=state_label if noted else None,
        reason=r.reason if r.reason != label else None,
        http_status=r.http_status,
        page_title=r.page_title,
        final_url=final,
        final_href=safe_href(final),
        suggested_url=r.suggested_url,
        suggested_href=safe_href(r.suggested_url),
        since=when(r.since, now) if r.since else None,
        failing_checks=r.failing_checks,
        last_checked=when(r.last_checked_at, now) if r.last_checked_at else None,
        next_step=outcome.explanation if outcome else _UNKNOWN_NEXT_STEP,
    )


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


def _headline(data: ReportData, rows: list[Row], nothing_checked: bool) -> str:
    if not data.resources_total:
        return "Nothing has been checked yet."
    if nothing_checked:
        return f"Nothing has been checked yet ({_count(data.resources_total, 'link')} waiting)."
    fix = sum(r.priority in (Priority.BROKEN, Priority.UPDATE) for r in rows)
    look = len(rows) - fix
    ok = data.totals.get(Outcome.OK.value, 0) - sum(r.outcome == Outcome.OK.value for r in rows)
    parts = [
        f"{_count(fix, 'link')} {'needs' if fix == 1 else 'need'} fixing",
        f"{look} {'needs' if look == 1 else 'need'} a look",
        f"{ok} OK",
    ]
    unchecked = data.totals.get(UNCHECKED, 0)
    if unchecked:
        parts.append(f"{unchecked} not checked yet")
    unknown = data.totals.get(Outcome.NETWORK_UNAVAILABLE.value, 0)
    if unknown:
        parts.append(f"{unknown} unknown ({Outcome.NETWORK_UNAVAILABLE.label.lower()})")
    return ", ".join(parts) + "."


def _network_notice(run: RunInfo | None) -> str:
    which = f"run {run.id}" if run else "the last run"
    return (
        f"Our own network was unreachable during {which}, so it learned nothing about the "
        "links. Nothing below changed because of it; the links will be checked again next run."
    )


def _empty_notice(data: ReportData, nothing_checked: bool) -> str | None:
    if not data.resources_total:
        return "There are no catalog resources yet; sync a catalog, then run a check."
    if nothing_checked:
        return "Nothing has been checked yet; the first run will fill this report in."
    return None


def _run(run: RunInfo, now: datetime) -> RunSummary:
    return RunSummary(
        id=run.id,
        trigger=run.trigger,
        status=run.status,
        started=when(run.started_at, now),
        finished=when(run.finished_at, now) if run.finished_at else None,
        urls_planned=run.urls_planned,
        urls_checked=run.urls_checked,
        duration=humanize.precisedelta(timedelta(seconds=run.duration_s))
        if run.duration_s is not None
        else None,
        network_unavailable=run.network_unavailable,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
