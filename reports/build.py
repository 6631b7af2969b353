"""Building the report's view model (`reports.context`) from the stored data.

Each resource becomes a `Row` with its state, its fix and the command that applies it;
rows are grouped into the action queue in the order a curator should work through them
(`Priority`), with the headline, totals and notices of the run above them.
"""

from __future__ import annotations

import heapq
import re
import shlex
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import humanize

from catalog.check.soft404 import redirect_soft404
from catalog.clock import as_utc
from catalog.commands import command_words
from catalog.drift import MARKED_REASON, MARKER_LABELS, names_markers
from catalog.entry_words import reached_words, shown_stale
from catalog.health import (
    STATE_LABELS,
    confirmed_broken,
    flapping_words,
    shown_state,
    unavailable_words,
)
from catalog.hygiene import Finding, Level
from catalog.outcomes import (
    HELD_REASON_END,
    UNAVAILABLE_LABEL,
    WATCHED,
    WATCHED_UNAVAILABLE,
    Outcome,
    Severity,
    answered_besides_offline,
    held_silent,
)
from catalog.queries import (
    ATTENTION_STATES,
    UNCHECKED,
    Decided,
    EventRow,
    ObservationRow,
    Refusals,
    ReportData,
    ResourceRow,
    RunInfo,
)
from catalog.settings import HealthSettings
from catalog.store import DecisionRecord, ResourceHistory
from catalog.text import in_sentence
from catalog.urls import canonical_url, is_shortener, without_password, without_tracking
from reports.changes import by_turns, changes_since
from reports.context import (
    BROKEN_STATE,
    NEW_URL,
    TITLE,
    CatalogSummary,
    Changes,
    DecidedWhen,
    EarlierNight,
    Group,
    HygieneRow,
    Priority,
    ReportContext,
    ResourcePage,
    Row,
    RunSummary,
    Total,
    When,
    count_of,
    host_page_path,
    publisher_page_path,
    resource_page_path,
    safe_href,
    sentences,
    unshared_whens,
    when,
)
from reports.history import entry_rows, history_items, url_taken_at
from reports.trends import group_stats, health_trend

#: The state of a link confirmed broken that the queue files outside "Confirmed broken".
CONFIRMED_ELSEWHERE = "Confirmed"
#: What a flapping link's fix says of commands: the report offers none for it (no snooze
#: either), and a fix without one read as a command missing.
_NOTHING_TO_RUN = "There is nothing to run: the checks keep watching it."
_FLAPPING_FIX = (
    "It is flapping: open it in a browser now and then; if it keeps failing visitors, "
    f"tell the site or find a steadier copy. {_NOTHING_TO_RUN}"
)
_UNCHECKED_LABEL = "Not checked yet"
#: The label of a 503 "come back later" (`_unavailable`), as recheck and resource say it.
_UNAVAILABLE_LABEL = UNAVAILABLE_LABEL


def _unavailable(r: ResourceRow) -> bool:
    """Whether its last check was answered 503 "unavailable, come back later" (a site in
    maintenance, mostly), which the checker files as rate limited (a Retry-After)."""
    return r.outcome is Outcome.RATE_LIMITED and r.http_status == 503


def _flapping_words(r: ResourceRow) -> str:
    """Why the row is flapping: its site's maintenance nights, if those were its flips
    (`health.flapping_words`, as a recheck's verdict says it)."""
    return flapping_words(r.unavailable_nights)


def _flapping_note(words: str) -> str:
    """The row's note of a flapping link (`_flapping_words`) as it opens a sentence."""
    return words[0].upper() + words[1:]


def _unavailable_flapping_fix(nights: int) -> str:
    """The fix of a link flapping between working and 503 "unavailable" nights."""
    return (
        f"The site said it was {unavailable_words(nights)}, and worked on the others: "
        "visitors find it down on those nights. Open it in a browser now and then; if "
        f"that goes on, tell the site or find a steadier copy. {_NOTHING_TO_RUN}"
    )


_PRIVATE_FIX = (
    "Visitors outside that private network cannot open it, even if it opens for you: put "
    "its public address in place of NEW_URL. For an intranet catalog, allow the address "
    "under [check] private_allowlist in linkhealth.toml instead."
)
#: No check has succeeded for long (`unverified`): only a check that reaches the link
#: answers it; recording a review does not.
_UNVERIFIED_FIX = (
    "Open it in a browser: if it works, nothing to do, the next check that reaches it "
    "clears this; if it is gone, put its new address in place of NEW_URL."
)


_UNCHECKED_EXPLANATION = "Added since the last check; the next run will check it."
_FIRST_CHECK_EXPLANATION = "Waiting for the first run to check it."

#: What the outcome table says of the failures that say nothing of the page (`_no_answer_fix`):
#: the outcome's own "if it keeps happening the site may be down for good" beside rows
#: confirmed broken whose fix says to open them in a browser first.
_NO_ANSWER_TOTALS = {
    Outcome.TIMEOUT: "The site did not answer in time",
    Outcome.CONNECTION_REFUSED: "The server refused the connection",
    Outcome.CONNECTION_RESET: "The server dropped the connection mid-answer",
    Outcome.CONNECTION_ERROR: "We could not talk to the server",
}
_NO_ANSWER_NEXT_STEP = (
    "such failures can also come from the way to the site: one confirmed broken is opened "
    "in a browser first (its fix says what then), one not confirmed yet is checked again "
    "next run."
)


_UNKNOWN_NEXT_STEP = "Open the link in a browser to see whether it still works."


#: An outcome's explanation of a working link ("nothing to do") would contradict the fix.
_DRIFT_NEXT_STEP = (
    "The link answers, but its page no longer holds the resource (a redesign, a page "
    "replaced, or a domain that changed hands): follow the suggested fix."
)


#: Totals are listed worst first.
_SEVERITY_ORDER = {
    Severity.BROKEN: 0,
    Severity.UPDATE: 1,
    Severity.LOOK: 2,
    Severity.OK: 3,
    Severity.UNKNOWN: 4,
}


#: The reason given to `linkhealth ignore` for a link rate limited check after check.
_RATE_LIMITED_REASON = "works in a browser; rate-limits automated checks"


def _unavailable_fix(r: ResourceRow, days: float) -> str:
    """The fix of a 503 "come back later" check after check, not yet failing: browsers get
    the same maintenance page, so it is no wall, and `ignore` "works in a browser; answers
    automated checks 503" offered on its second night framed a site in maintenance as one
    turning checkers away. Once it has lasted `days` (`unavailable_days`) it counts as
    failing (`catalog.health`), and its fix is then to look (`_unavailable_failing_fix`)."""
    since = f" since {as_utc(r.since):%Y-%m-%d}" if r.since else ""
    return (
        f"The site has said it is unavailable for now (503 Service Unavailable) at every "
        f"check{since}, as a site under maintenance does. Nothing to do unless it lasts: if it "
        f"still does after {_nights(days)}, it is listed as failing; open it in a browser then."
    )


def _unavailable_failing_fix(r: ResourceRow, days: float) -> str:
    """The fix of a 503 "come back later" that has lasted `days` and now counts as failing:
    "Wait: it may recover by itself" was the week's advice already."""
    since = f" since {as_utc(r.since):%Y-%m-%d}" if r.since else ""
    return (
        f"The site has said it is unavailable (503 Service Unavailable) at every check{since}, "
        f"{_nights(days)} or more: longer than maintenance takes. Open it in a browser: if it "
        "still shows a maintenance or unavailable page, find where the resource is now, or "
        "remove the entry; it is listed as confirmed broken if the next checks agree."
    )


def _nights(days: float) -> str:
    """`unavailable_days` as the fixes say it: "7 nights"."""
    return count_of(max(1, round(days)), "night")


#: The fix of a page that now shows only scripts under its domain's name
#: (`ResourceRow.lapsed_shell`), and the reason its ignore gives once a person saw the
#: resource there.
_LAPSED_SHELL_FIX = (
    "Open it in a browser: if it is a parked or for-sale page, remove the link or replace it "
    "with where the publisher has the resource now; if it shows the resource, tell "
    "linkhealth to stop flagging it."
)
_LAPSED_SHELL_REASON = "shows the resource in a browser"

#: The reason given to `linkhealth ignore` for outcomes a person confirmed by hand.
_IGNORE_REASONS = {
    Outcome.BLOCKED: "works in a browser; blocks automated checks",
    Outcome.PRIVATE_ADDRESS: "intranet link",
}


def hygiene_rows(findings: Sequence[Finding]) -> tuple[HygieneRow, ...]:
    """Errors before warnings, in file order; informational findings are left to the count."""
    shown = sorted(
        (f for f in findings if f.level is not Level.INFO),
        key=lambda f: (-f.level.rank, f.file, f.line or 0, f.code),
    )
    return tuple(_hygiene_row(f) for f in shown)


def _hygiene_row(f: Finding) -> HygieneRow:
    """A finding as the report shows it: a URL's password hidden in its sentences, and no
    command where one held it (the command would write "***" into the catalog; `catalog
    lint` in the curator's own terminal still prints it whole)."""
    return HygieneRow(
        f.level.value,
        f.code,
        f.collection,
        f.resource_id,
        without_password(f.where),
        without_password(f.message),
        without_password(f.fix),
        _without_a_password(f.command),
    )


def _without_a_password(command: str | None) -> str | None:
    """`command`, unless it names a URL with a password: shown as "***" it would write that
    into the catalog, so the report offers no command there."""
    return command if command is None or without_password(command) == command else None


def build_context(
    data: ReportData,
    *,
    now: datetime,
    findings: Sequence[Finding] = (),
    options: Sequence[str] = (),
    unavailable_days: float = HealthSettings.unavailable_days,
) -> ReportContext:
    """The view model of one report; `now` makes "3 days ago" reproducible. `options`:
    the `--config` and `--db` its commands carry (`catalog.commands.command_options`).
    `unavailable_days`: the setting (`[health]`) the fixes of sites in maintenance name."""
    form = CommandForm(_ambiguous_ids(data.resources), tuple(options), unavailable_days)
    addresses = _Addresses()
    reached = data.reached
    rows = tuple(
        _reached_row(_row(r, now, form), reached[r.pk], now)
        if r.pk in reached and r.outcome_value in (None, UNCHECKED)
        else _row(r, now, form)
        for r in addresses.follow(data.resources)
    )
    resources = tuple(_note_addresses(rows, addresses.ids_at))
    queued = sorted((r for r in resources if r.queued), key=_fix_first)
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
        refused_notice=_refused_notice(data.refused, data.run, now) if data.refused else None,
        nothing_checked=nothing_checked,
        empty_notice=_empty_notice(data, nothing_checked),
        totals=_totals(data.totals, nothing_checked=nothing_checked, rows=resources),
        groups=groups,
        catalogs=tuple(CatalogSummary(c.key, c.title, c.resources) for c in data.collections),
        resources_total=data.resources_total,
        set_aside=tuple(sorted((r for r in resources if r.set_aside), key=_failing_first)),
        changes=_with_earlier_nights(changes_since(data, resources, now, form.ambiguous), data)
        if data.run
        else None,
        trend=health_trend(data.trend_runs, now),
        publishers=group_stats("publisher", data.resources, resources),
        hosts=group_stats("host", data.resources, resources),
        resources=resources,
        earlier_run_notice=_earlier_run_notice(data),
        command_options=form.options,
    )
    return with_findings(ctx, findings) if findings else ctx


def action_queue(
    resources: Iterable[ResourceRow],
    *,
    now: datetime,
    shared_ids: frozenset[str],
    limit: int,
    ids_at: IdsAt | None = None,
    options: Sequence[str] = (),
    unavailable_days: float = HealthSettings.unavailable_days,
) -> list[Row]:
    """The first `limit` rows of `build_context(...).groups`, in the same order, keeping
    only the resources that need attention (so `resources` may be a stream of 100,000).
    `shared_ids`: resource ids used by several catalogs (`queries.shared_resource_ids`).
    `ids_at`: where to look up the entries at the addresses the head's fixes switch to
    (`queries.resource_ids_at`); without it, every address of `resources` is remembered
    as they pass. `unavailable_days` as for `build_context`."""
    if ids_at is None:
        addresses = _Addresses()
        resources, ids_at = addresses.follow(resources), addresses.ids_at
    # `_priority` first: most resources need nothing, and a whole Row costs far more.
    form = CommandForm(shared_ids, tuple(options), unavailable_days)
    rows = (_row(r, now, form) for r in resources if _priority(r) is not None)
    # nsmallest is sorted(...)[:limit] (stable), holding only `limit` rows at once.
    with unshared_whens():
        head = heapq.nsmallest(limit, (r for r in rows if r.queued), key=_fix_first)
    return _note_addresses(head, ids_at)


def resource_report_row(
    resource: ResourceRow,
    *,
    now: datetime,
    shared_ids: frozenset[str] = frozenset(),
    ids_at: IdsAt | None = None,
    options: Sequence[str] = (),
    unavailable_days: float = HealthSettings.unavailable_days,
) -> Row:
    """The report's row of one resource (`catalog.queries.resource_row`): its since, checks,
    fix and command as the report's queue and resource page word them, for
    `linkhealth resource ID` (`reports.resource_text`). `shared_ids`, `ids_at`, `options`
    and `unavailable_days` as for `action_queue`."""
    row = _row(resource, now, CommandForm(shared_ids, tuple(options), unavailable_days))
    return _note_addresses([row], ids_at)[0] if ids_at else row


#: (collection key, address as written) of each address asked for -> the ids of the
#: entries at it, in the report's order.
IdsAt = Callable[[Collection[tuple[str, str]]], Mapping[tuple[str, str], Sequence[str]]]


def _switches_to(row: Row) -> tuple[str, str] | None:
    """The address `row`'s fix switches its entry to, with the entry's catalog."""
    target = row.suggested_url
    if not target or not row.fix or target not in row.fix:
        return None
    return (row.collection_key, target)


def _note_addresses(rows: Sequence[Row], ids_at: IdsAt) -> list[Row]:
    """`rows`, the fix of those switching to another entry's address saying so, and of an
    out-of-date entry whose link works naming the other entries at its address.

    Accepting the redirect would then give the collection two entries for one page (a
    `duplicate_url` error at the next lint); usually the old entry was folded into the
    other and is to be removed instead."""
    wanted = {address for row in rows for at, _ in _ADDRESS_NOTES if (address := at(row))}
    found = ids_at(wanted) if wanted else {}
    return [_noted(row, found) for row in rows]


def _reviewed_at(row: Row) -> tuple[str, str] | None:
    """The address of an out-of-date entry whose link works: other entries at it are
    reviewed with it (three infographic entries of one page were three identical rows)."""
    return (row.collection_key, row.url) if row.entry_only else None


#: Each address a row's fix may name other entries at, and what the note says of them
#: after "Entry X of this catalog " ({links}: "links", or "link" after "Entries X, Y").
_ADDRESS_NOTES: tuple[tuple[Callable[[Row], tuple[str, str] | None], str], ...] = (
    (
        _reviewed_at,
        "{links} the same page: review them together, and if they describe the same "
        "resource, keep one entry.",
    ),
    (
        _switches_to,
        "already {links} that address: if it is the same resource, remove this entry instead.",
    ),
)


def _noted(row: Row, found: Mapping[tuple[str, str], Sequence[str]]) -> Row:
    """`row` with a note for each of its addresses (`_ADDRESS_NOTES`) other entries are at."""
    fix = row.fix
    for at, says in _ADDRESS_NOTES:
        address = at(row)
        others = [i for i in found.get(address, ()) if i != row.resource_id] if address else []
        if others:
            one = len(others) == 1
            entries = f"{'Entry' if one else 'Entries'} {', '.join(others)} of this catalog"
            fix = f"{fix or ''} {entries} {says.format(links='links' if one else 'link')}"
    return row if fix == row.fix else replace(row, fix=fix)


class _Addresses:
    """The entries by address, remembered as a report's resources pass (`IdsAt` for them).
    Addresses are compared as written: the redirect's target is what the other entry's
    curator copied from the browser. Keyed by hash, to keep little of each resource.
    """

    def __init__(self) -> None:
        self._first: dict[int, str] = {}
        #: The rest of the ids at one address (a `duplicate_url` already: rare).
        self._more: dict[int, list[str]] = defaultdict(list)

    def follow(self, resources: Iterable[ResourceRow]) -> Iterator[ResourceRow]:
        """`resources`, remembering each one's address as it passes."""
        first, more = self._first, self._more
        for r in resources:
            key = hash((r.collection_key, r.url))
            if first.setdefault(key, r.resource_id) != r.resource_id:
                more[key].append(r.resource_id)
            yield r

    def ids_at(self, addresses: Collection[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        for address in addresses:
            key = hash(address)
            if key in self._first:
                found[address] = [self._first[key], *self._more.get(key, ())]
        return found


def with_findings(
    ctx: ReportContext,
    findings: Sequence[Finding],
    *,
    confirmed: Collection[tuple[str, str]] = (),
) -> ReportContext:
    """`ctx` with the catalog's hygiene findings, which may arrive after the links' state.

    `confirmed`: (collection, id) of the entries whose https form a run has shown to
    serve the same page (`catalog.queries.https_suggestions`): their `http_url` fix
    stands even when the link is queued.
    """
    return replace(
        ctx,
        hygiene=_defer_url_fixes(
            _shorteners_ends(hygiene_rows(findings), ctx, findings), ctx, frozenset(confirmed)
        ),
        hygiene_info=sum(f.level is Level.INFO for f in findings),
    )


#: Findings about the form of an entry's URL, whose fix is to put another URL in its place.
_URL_FINDINGS = frozenset({"http_url", "tracking_params", "url_shortener"})

#: Lower-case, as the findings' own fixes ("Fix: switch to ...").
_DEFERRED_FIX = (
    "follow the link's own fix under What to fix first: it replaces this URL (see then "
    "whether the new one needs tidying)"
)


#: As `_DEFERRED_FIX`, for a snoozed entry: its fix is on its own page.
_DEFERRED_SNOOZED_FIX = (
    "follow the link's own fix on its page (it is snoozed, so not under What to fix "
    "first): it replaces this URL (see then whether the new one needs tidying)"
)


def _shorteners_ends(
    rows: tuple[HygieneRow, ...], ctx: ReportContext, findings: Sequence[Finding] = ()
) -> tuple[HygieneRow, ...]:
    """A link shortener's row names the address its link's last check ended at (the
    resource's "Ended at", or the new address of a permanent redirect): the one to put in
    its place, which the curator had to look up on the resource's page, linked nowhere
    from the row. No command: the curator sees first that it is the page meant.

    The end is given without its tracking parameters (a campaign's short link ends at
    `?utm_source=...`), as the entry's `tracking_params` fix would take them out, and only
    while the entry's URL in the file (`findings`' `url`) is still the link checked: one
    edited to another short link (no sync or check since) is not given the old one's end."""
    if not any(f.code == "url_shortener" for f in rows):
        return rows
    written = {
        (f.collection, f.resource_id): f.url
        for f in findings
        if f.code == "url_shortener" and f.url is not None
    }
    ends = {
        (r.collection_key, r.resource_id): without_tracking(end)
        for r in ctx.resources
        if (end := r.final_url or r.suggested_url)
        and is_shortener(r.url)
        and _still_written((r.collection_key, r.resource_id), r.url, written)
    }
    return tuple(
        replace(
            f,
            fix="replace it with the address it leads to: the last check ended at "
            f"{without_password(end)}",
        )
        if f.code == "url_shortener" and (end := ends.get((f.collection, f.resource_id)))
        else f
        for f in rows
    )


def _still_written(
    entry: tuple[str, str], checked: str, written: Mapping[tuple[str, str], str]
) -> bool:
    """Is the entry's URL in the file (`written`, where known) the link checked?"""
    url = written.get(entry)
    return url is None or canonical_url(url) == canonical_url(checked)


def _defer_url_fixes(
    rows: tuple[HygieneRow, ...], ctx: ReportContext, confirmed: frozenset[tuple[str, str]]
) -> tuple[HygieneRow, ...]:
    """An entry whose link is to fix (broken, moved, drifted) gets its new address from
    that fix: a hygiene row offering another `replace-url` (the https form of a dead
    domain, the old address without tracking) contradicts it, and run after it would undo
    it. Such rows keep their finding, with the link's fix as theirs and no command; so do
    those of a snoozed entry, whose fix is only put off (an ignored one's link was judged
    fine: its tidying stands)."""
    fixes = {
        (r.collection_key, r.resource_id): _DEFERRED_SNOOZED_FIX if r.set_aside else _DEFERRED_FIX
        for r in (*ctx.rows, *ctx.set_aside)
        if r.priority
        and r.priority.to_fix
        and r.priority is not Priority.CONTACT  # the entry's text to fix, not its address
        and not r.ignored_reason
    }
    if not fixes:
        return rows
    return tuple(
        replace(f, fix=fixes[f.collection, f.resource_id], command=None)
        if f.code in _URL_FINDINGS
        and (f.collection, f.resource_id) in fixes
        and not (f.code == "http_url" and (f.collection, f.resource_id) in confirmed)
        else f
        for f in rows
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
    entry_history: Callable[[ResourceRow], ResourceHistory] | None = None,
    decisions: Mapping[int, Sequence[DecisionRecord]] | None = None,
) -> Iterator[ResourcePage]:
    """A page per active resource, following `history` (streamed by link id) as it comes.

    `shard` = (k, n): only the resources whose link id is k modulo n (those without a
    link count as shard 0), for `history` read with the same shard. `entry_history`: the
    history `linkhealth resource` reads (`catalog.store.resource_history`), for the few
    entries whose URL was changed in `events_by_resource`: their page tells the checks of
    the URL they had, and of their new one only their own, not its link's whole history.
    `decisions`: the curators' decisions by resource pk (`catalog.store.decisions_by_resource`,
    read with the same shard), shown on every page that has some; those entries' histories
    bring their own.
    """
    decided = decisions or {}
    part, parts = shard
    form = CommandForm(_ambiguous_ids(data.resources), ctx.command_options)
    rows_by_link: dict[int | None, list[tuple[ResourceRow, Row]]] = defaultdict(list)
    for source, row in zip(data.resources, ctx.resources, strict=True):
        if (source.link_id or 0) % parts == part:
            rows_by_link[source.link_id].append((source, row))

    def pages(
        link_id: int | None, observations: Sequence[ObservationRow]
    ) -> Iterator[ResourcePage]:
        for source, row in rows_by_link.pop(link_id, ()):
            events = [*events_by_resource.get(source.pk, ())]
            if entry_history is not None and url_taken_at(events) is not None:
                yield _moved_page(source, row, entry_history(source), now, form)
                continue
            if link_id is not None:
                events.extend(events_by_link.get(link_id, ()))
            # After a year of nights the page holds the newest checks only: say so, and
            # where the rest is, rather than let 30 rows read as the link's whole history.
            # `observations` holds one more than a page shows when there are more.
            older = (
                command("resource", source, "--limit", str(HISTORY_LISTED), form=form)
                if len(observations) > HISTORY_PER_RESOURCE
                else None
            )
            shown = observations[:HISTORY_PER_RESOURCE]
            items = history_items(shown, events, now, decisions=decided.get(source.pk, ()))
            yield ResourcePage(row, items, older)

    for seen_link, observations in history:
        yield from pages(seen_link, observations)
    for rest in list(rows_by_link):
        yield from pages(rest, ())


def _moved_page(
    source: ResourceRow, row: Row, history: ResourceHistory, now: datetime, form: CommandForm
) -> ResourcePage:
    """The page of an entry whose URL was changed, from its `history`. Its row's "since"
    and checks are already its own checks of the URL it took (`catalog.queries`), as the
    index says them."""
    observations, events = entry_rows(history)
    older = (
        command("resource", source, "--limit", str(HISTORY_LISTED), form=form)
        if len(observations) > HISTORY_PER_RESOURCE
        else None
    )
    items = history_items(
        observations[:HISTORY_PER_RESOURCE],
        events,
        now,
        link_id=source.link_id,
        decisions=history.decisions,
    )
    return ResourcePage(row, items, older)


#: Checks kept on each resource page (newest first).
HISTORY_PER_RESOURCE = 30
#: Checks and events the command a capped resource page names lists (`linkhealth resource
#: --limit`): more than a year of nights.
HISTORY_LISTED = 500


def _priority(r: ResourceRow) -> Priority | None:
    outcome, state = r.outcome, r.state
    if confirmed_broken(outcome, state):  # the rule every count of the group follows
        return Priority.BROKEN
    if r.drift_reason:
        return Priority.DRIFT
    if outcome is Outcome.SOFT_404:
        return Priority.SOFT_404
    if outcome is not None and outcome.severity is Severity.UPDATE:
        return Priority.UPDATE
    if r.flapping:  # never confirmed, as it keeps recovering: a person must look
        return Priority.LOOK
    # A failing link stays failing through a night of a wall (`catalog.health`), as a
    # confirmed break does: its row stays where its state says.
    walled = state != "suspect" and outcome is not None and outcome.severity is Severity.LOOK
    if state == "check_by_hand" or walled:
        return Priority.LOOK
    if r.lapsed_shell:  # it works, yet may be a lapsed domain's parking page
        return Priority.LOOK
    if state == "suspect" or (outcome is not None and outcome.is_failure):
        return Priority.FAILING
    # A phone number or email the entry names gone from its page, which works: a group of
    # its own, ahead of the link groups (`Priority.CONTACT`). A link that fails meanwhile is
    # filed as such: its fix comes first, and the finding stands for after.
    if r.contact_reason:
        return Priority.CONTACT
    if r.stale_reasons:
        return Priority.STALE
    if r.queued:  # the rule `ResourceRow.queued` says in one place
        return Priority.OTHER
    return None


#: Entry types whose failure leaves someone without help now: first within their group.
URGENT_TYPES = frozenset({"hotline"})


def _fix_first(row: Row) -> tuple[int, bool, bool, bool, str, int, str, str]:
    # A hotline first (someone in danger calls it), then the oldest problem within a
    # group: it has been failing visitors the longest.
    priority = row.priority or Priority.OTHER
    routine = (row.resource_type or "").strip().casefold() not in URGENT_TYPES
    if priority is Priority.STALE:
        # Those whose link works last: the others' link no check has succeeded on for
        # weeks may be gone. Then the longest out of date first, by the oldest date their
        # reasons name (the link's "since" says when it began working: nothing about the
        # entry). Entries without a dated reason (stored before reasons had dates) last.
        at = row.stale_since
        return (
            priority,
            routine,
            # A page that names a newer edition is evidence; the rest are ages.
            "new_edition" not in row.stale_codes and row.entry_only,
            at is None,
            at.iso if at else "",
            0,
            row.collection.casefold(),
            row.title.casefold(),
        )
    return (
        priority,
        routine,
        False,
        row.since is None,
        row.since.iso if row.since else "",
        -row.checks,
        row.collection.casefold(),
        row.title.casefold(),
    )


def _by_title(row: Row) -> tuple[str, str]:
    return (row.title.casefold(), row.resource_id)


def worst_first(row: Row) -> tuple[int, bool, bool, bool, str, int, str, str]:
    """A publisher's or host's resources: the queue's order, then the snoozed and ignored
    ones (left out of the queue, as on the index), then the rest by collection and title."""
    if row.priority is not None and not row.set_aside:
        return _fix_first(row)
    rank = len(Priority) + (1 if row.set_aside else 2)
    return (rank, False, False, False, "", 0, row.collection.casefold(), row.title.casefold())


def _failing_first(row: Row) -> tuple[bool, str, str]:
    """Set-aside resources whose link now fails first: a snooze or an ignore hides them from
    the queue, so this list is where a curator notices one that got worse."""
    failing = row.status_badge[0] in (Severity.BROKEN.value, "suspect")
    return (not failing, *_by_title(row))


def _ambiguous_ids(resources: Sequence[ResourceRow]) -> frozenset[str]:
    counts = Counter(r.resource_id for r in resources)
    return frozenset(rid for rid, n in counts.items() if n > 1)


def _unsteady_redirect(row: Row, changes: int, targets: Sequence[str] = ()) -> Row:
    """A row under "Moved permanently" whose redirect the site keeps undoing (it came or
    went `changes` times lately: `catalog.unsteady`): `accept-redirect` would point the
    entry at an address the site itself answers on some nights only. One that led to
    several `targets` by turns names them all, and offers none as its new address:
    tonight's flips with the server that answers."""
    if row.priority is not Priority.UPDATE:
        return row
    if len(targets) > 1:
        said = f"redirects permanently to {len(targets)} addresses by turns"
        fix = (
            f"The site redirects it {by_turns(targets)}: none is sure to last, so keep the "
            "address until the redirect stays on one, then accept it."
        )
        row = replace(row, suggested_url=None, suggested_href=None)
    else:
        said = "redirects permanently on some nights and not others"
        fix = (
            f"The site redirects it to {row.suggested_url} on some nights and not on others: "
            "keep the address until the redirect stays, then accept it."
            if row.suggested_url
            else "The site redirects it on some nights and not on others: keep the address "
            "until the redirect stays, then accept it."
        )
    said = f"{said}, {changes} changes lately"
    note = f"{row.state_note}; {said}" if row.state_note else said[0].upper() + said[1:]
    return replace(row, state_note=note, fix=fix, command=None, command_needs_input=False)


def _reached_row(row: Row, at: datetime, now: datetime) -> Row:
    """A row not checked at its new URL yet, which the last check reached as its old URL's
    redirect target: not "Not checked yet", as of an entry just added."""
    reached = when(at, now)
    words = reached_words(reached.date)  # as `linkhealth resource` says it
    seen = f"{words[0].upper()}{words[1:]}."
    if row.priority in (Priority.STALE, Priority.CONTACT) and row.seen:
        # Why it is to be reviewed (the year it names, a contact gone) comes first: no other
        # words of the row say it, and its fix asks for a review.
        seen = f"{row.seen} {seen}"
    return replace(row, seen=seen, reached=reached)


def _row(r: ResourceRow, now: datetime, form: CommandForm) -> Row:
    outcome = r.outcome
    label = outcome.label if outcome else (r.outcome_value or _UNCHECKED_LABEL)
    state = shown_state(r.outcome, r.state)
    priority = _priority(r)
    state_label = STATE_LABELS.get(state, state.replace("_", " "))
    if state == BROKEN_STATE and priority is not Priority.BROKEN:
        # Kept failing until confirmed, but filed under another group (a soft 404, a
        # parked domain): "(Confirmed broken)" beside "Confirmed broken (3)" read as more
        # than the 3 the group, the headline and the webhook count.
        state_label = CONFIRMED_ELSEWHERE
    noted = state in ATTENTION_STATES and state_label != label
    note = state_label if noted else None
    if note and (watched := _watched(r, priority)):
        note = watched  # "Check by hand" beside "nothing to do yet" said two things
    # Filed under "Check by hand" for its flapping: a suspect link's "Failing, not yet
    # confirmed" beside it contradicted the group (`catalog.health.state_line`).
    flapping_words = _flapping_words(r) if r.flapping and priority is Priority.LOOK else None
    if flapping_words:
        note = _flapping_note(flapping_words)
    elif r.flapping:
        flapping = _flapping_words(r)
        note = f"{note}; {flapping}" if note else _flapping_note(flapping)
    if _unavailable(r):
        label = _UNAVAILABLE_LABEL  # the site says it is down for now, to visitors too
    if r.lapsed:  # back in the queue on its own: what was decided, and when it ended
        note = f"{note}; {r.lapsed}" if note else r.lapsed[0].upper() + r.lapsed[1:]
    stale_reasons, stale_codes = _stale(r)
    if r.contact_reason:  # first: the gravest reason to review an entry
        stale_reasons = (r.contact_reason, *stale_reasons)
        stale_codes = (CONTACT_GONE, *stale_codes)
    # A drifted link's redirect target is where the drift was seen: no new address.
    suggested = None if priority is Priority.DRIFT else _moved_to(r)
    final = r.final_url
    if final in (None, r.url, suggested) or r.ends_at_link:
        # Its own address, as the checker asks for it (sorted query, "/" path, ...): no
        # "Ended at" for a link that went nowhere.
        final = None
    reason = r.reason if r.reason != label else None
    fix, command, needs_input = _fix(r, priority, form)
    # Since when and in how many checks: the entry's own, of an address another entry had
    # first (its page lists those); its fix tells the address's story. A contact gone: since
    # the first read that missed it (the link's "since" is when it began working).
    since = r.since if r.own_checks is None else r.own_since
    if priority is Priority.CONTACT:
        since = r.contact_since
    snoozed = when(r.snoozed_until, now) if r.snoozed_until and r.snoozed_until > now else None
    if priority is Priority.DRIFT and r.drift_reason:
        seen = r.drift_reason
    elif priority in (Priority.STALE, Priority.CONTACT):
        seen = sentences(stale_reasons)
    else:
        seen = r.reason or label
    row = Row(
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
        state_note=note,
        reason=reason,
        seen=seen,
        http_status=r.http_status,
        page_title=r.page_title,
        final_url=final,
        final_href=safe_href(final),
        suggested_url=suggested,
        suggested_href=safe_href(suggested),
        since=when(since, now) if since else None,
        failing_checks=r.failing_checks,
        checks=max(r.failing_checks, r.checks_since) if r.own_checks is None else r.own_checks,
        last_checked=when(r.last_checked_at, now) if r.last_checked_at else None,
        last_tried=when(r.last_tried_at, now) if r.last_tried_at else None,
        tried_held=r.last_tried_held,
        held_tries=r.held_tries,
        elapsed_ms=r.elapsed_ms,
        next_step=(
            _DRIFT_NEXT_STEP
            if priority is Priority.DRIFT
            and (outcome is None or outcome.severity in (Severity.OK, Severity.UPDATE))
            else _UNKNOWN_NEXT_STEP
            if r.lapsed_shell  # "The link works; nothing to do." would contradict its fix
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
        stale_reasons=stale_reasons,
        stale_codes=stale_codes,
        stale_since=when(r.stale_since, now) if r.stale_since and stale_reasons else None,
        archive_url=r.archive_url,
        archive_href=safe_href(r.archive_url),
        snoozed_until=snoozed,
        snooze_reason=r.snooze_reason if snoozed else None,
        ignored_reason=r.ignored_reason,
        snoozed_by=_decided(r.snoozed_by, now) if snoozed else None,
        ignored_by=_decided(r.ignored_by, now) if r.ignored_reason else None,
        flapping=r.flapping,
        flapping_words=flapping_words,
        resource_type=r.resource_type,
        title_read=_title_read(r, now),
    )
    if r.unsteady_redirect:
        row = _unsteady_redirect(row, r.unsteady_redirect, r.unsteady_targets)
    # Where a URL may be quoted.
    quoted = (r.url, r.reason, r.final_url, r.suggested_url, *r.unsteady_targets)
    return _without_passwords(row) if any(q and "@" in q for q in quoted) else row


def _title_read(r: ResourceRow, now: datetime) -> When | None:
    """When the page title shown was read, if the latest check did not read it (it sent
    HEAD only, or failed): the title is then that older page's."""
    read, checked = r.title_read_at, r.last_checked_at
    if not r.page_title or read is None or checked is None or as_utc(read) >= as_utc(checked):
        return None
    return when(read, now)


#: How far back, and how many, earlier nights the news links to (a week away, or a
#: fortnight's holiday, is read in a few reports, not thirty).
EARLIER_NIGHTS_DAYS = 15
EARLIER_NIGHTS = 14


def _with_earlier_nights(changes: Changes, data: ReportData) -> Changes:
    """`changes` with the full runs before the shown one that finished in the last
    `EARLIER_NIGHTS_DAYS` days (the previous run among them: its report has the news of
    the night before it). Rechecks of a few entries are no night of their own."""
    run = data.run
    if run is None or run.finished_at is None:
        return changes
    start = run.finished_at - timedelta(days=EARLIER_NIGHTS_DAYS)
    nights = [
        r
        for r in reversed(data.trend_runs)
        if r.whole
        and r.id != run.id
        and r.finished_at is not None
        and start <= r.finished_at <= run.finished_at
    ][:EARLIER_NIGHTS]
    days = tuple(
        EarlierNight(r.id, f"{as_utc(r.finished_at):%a %Y-%m-%d}") for r in nights if r.finished_at
    )
    return replace(changes, earlier=days)


def _without_passwords(row: Row) -> Row:
    """`row` with every URL's password hidden (`urls.without_password`), no link to such a
    URL, and no command naming one (it would write "***" into the catalog)."""

    def hidden(value: str | None) -> str | None:
        return without_password(value) if value else value

    url, final, suggested = hidden(row.url) or "", hidden(row.final_url), hidden(row.suggested_url)
    return replace(
        row,
        url=url,
        href=row.href if url == row.url else None,
        final_url=final,
        final_href=row.final_href if final == row.final_url else None,
        suggested_url=suggested,
        suggested_href=row.suggested_href if suggested == row.suggested_url else None,
        seen=hidden(row.seen) or "",
        reason=hidden(row.reason),
        fix=hidden(row.fix),
        command=_without_a_password(row.command),
    )


def _stale(r: ResourceRow) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The staleness reasons (and codes) the report shows: without `new_edition` while the
    page looks parked, for sale or a casino. "The page's title names 2026 ('Best Online
    Casino 2026'), later than the entry's 2013; update the entry's title and year" read
    as a newer edition to link, of a domain that changed hands. The staleness refresh no
    longer stores that reason for such pages; this keeps it out of reasons stored before
    (by an older linkhealth, until the next run refreshes them)."""
    codes, reasons = r.stale_codes, r.stale_reasons
    if len(codes) == len(reasons):  # a site's `dated` advice (`linkhealth resource`'s too)
        reasons = tuple(
            shown_stale(reason, code, r.resource_type)
            for reason, code in zip(reasons, codes, strict=True)
        )
    marked = r.drift_reason is not None and names_markers(r.drift_reason)
    if not marked or "new_edition" not in codes or len(codes) != len(reasons):
        return reasons, codes  # (reasons stored without codes cannot be told apart)
    kept = [
        (reason, code) for reason, code in zip(reasons, codes, strict=True) if code != "new_edition"
    ]
    return tuple(reason for reason, _ in kept), tuple(code for _, code in kept)


def _decided(decided: Decided | None, now: datetime) -> DecidedWhen | None:
    return DecidedWhen(decided.by, when(decided.at, now)) if decided else None


@dataclass(frozen=True)
class CommandForm:
    """How a report spells its commands, and the setting its fixes name."""

    #: Ids used in several catalogs: their commands name the collection.
    ambiguous: frozenset[str] = frozenset()
    #: `--config` and `--db`, when a command typed with none would act elsewhere.
    options: tuple[str, ...] = ()
    #: `[health] unavailable_days`: the nights of 503 "come back later" after which a site
    #: counts as failing, which the fix of such a row names (`_unavailable_fix`).
    unavailable_days: float = HealthSettings.unavailable_days


def command(name: str, r: ResourceRow, *args: str, form: CommandForm = CommandForm()) -> str:
    """`linkhealth NAME ID ARGS...`, shell-quoted (URLs and reasons come from the web)."""
    choose = ("--collection", r.collection_key) if r.resource_id in form.ambiguous else ()
    return shlex.join(command_words(name, r.resource_id, *args, *choose, *form.options))


def _fix(
    r: ResourceRow, priority: Priority | None, form: CommandForm
) -> tuple[str | None, str | None, bool]:
    """The suggested fix, the command that applies it, and whether it needs a URL filled in."""
    if priority is None:
        return None, None, False

    def cmd(name: str, *args: str) -> str:
        return command(name, r, *args, form=form)

    edition = _newer_edition(r)
    moved = _moved_to(r)
    if priority is Priority.UPDATE and moved:
        if edition:
            return (
                _edition_fix(moved, "accept the redirect", edition, r.archive_url),
                cmd("accept-redirect"),
                False,
            )
        return f"Switch to the new address {moved}.", cmd("accept-redirect"), False
    if priority is Priority.UPDATE and (gone := _sent_away(r)):
        return _sent_away_fix(r, gone, cmd)
    if priority in (Priority.BROKEN, Priority.DRIFT, Priority.SOFT_404, Priority.UPDATE):
        if r.outcome is Outcome.INVALID_URL:
            return "Correct the address in the entry.", cmd("replace-url", NEW_URL), True
        # A drifted link's redirect leads to the page that no longer holds the resource.
        if moved and safe_href(moved) and priority is not Priority.DRIFT:
            return (
                _edition_fix(moved, "switch to it", edition, r.archive_url)
                if edition
                else f"Use the new address {moved}.",
                cmd("replace-url", moved),
                False,
            )
        if priority is not Priority.DRIFT and (sibling := _sibling_fix(r, cmd)):
            return sibling
        if priority is Priority.BROKEN and (refused := _refused_fix(r, cmd)):
            return refused
        if r.archive_url:
            return (
                f"Link the archived copy {r.archive_url} until the publisher's new address is "
                "found.",
                cmd("replace-url", r.archive_url),
                False,
            )
        if priority is Priority.DRIFT:
            # Urgent only with the markers of a parked, casino or spam page: most drift
            # is a publisher's own redesign, which "unlink it now" would misread.
            if r.drift_reason and names_markers(r.drift_reason):
                what = (
                    f"The page now looks like {_marked_page(r.drift_reason)}: the domain "
                    "may have changed hands, so unlink it now (link the resource where its "
                    "publisher has it now, or remove the entry)."
                )
            else:
                what = (
                    "The page no longer holds the resource: find where the resource is now, "
                    "or remove the entry if it is gone."
                )
        elif r.outcome is not None and r.outcome.is_transient and priority is Priority.BROKEN:
            what = _no_answer_fix(r, r.outcome)
        elif r.outcome is not None:
            what = r.outcome.explanation  # what this failure asks for
        else:
            what = "Find where the resource moved."
        return f"{what} Put the new address in place of NEW_URL.", cmd("replace-url", NEW_URL), True
    if priority is Priority.LOOK and r.flapping and r.unavailable_nights:
        return _unavailable_flapping_fix(r.unavailable_nights), None, False
    if priority is Priority.LOOK and r.flapping:
        return _FLAPPING_FIX, None, False
    if priority is Priority.LOOK and r.lapsed_shell:
        return _LAPSED_SHELL_FIX, cmd("ignore", "--reason", _LAPSED_SHELL_REASON), False
    if priority is Priority.LOOK and r.outcome is Outcome.PRIVATE_ADDRESS and not r.ignored_reason:
        # It opens in the curator's browser on that network, and in no visitor's.
        return _PRIVATE_FIX, cmd("replace-url", NEW_URL), True
    walled = r.outcome is Outcome.BLOCKED and not r.ignored_reason
    if priority is Priority.LOOK and walled and moved and safe_href(moved):
        return _walled_move_fix(moved, cmd), cmd("replace-url", moved), False
    if priority is Priority.LOOK:
        reason = _IGNORE_REASONS.get(r.outcome) if r.outcome else None
        repeated = max(r.failing_checks, r.checks_since) > 1
        if r.outcome is Outcome.RATE_LIMITED and repeated:
            if _unavailable(r) and not r.ignored_reason:
                # A site in maintenance, no wall: nothing to ignore (`_unavailable_fix`).
                return _unavailable_fix(r, form.unavailable_days), None, False
            # "Unless it keeps happening" has happened: the site turns the checker away.
            reason = _RATE_LIMITED_REASON
        if reason is None:
            if repeated:
                return (
                    "It keeps happening: open it in a browser to see whether it works.",
                    None,
                    False,
                )
            return _watched_fix(r), None, False
        if r.ignored_reason:  # done already: asking again would contradict "Ignored"
            return (
                "Nothing to do: it is ignored, and stays out of the queue until you run "
                f"{cmd('unignore')}.",
                None,
                False,
            )
        return (
            "Open it in a browser; if it works, tell linkhealth to stop flagging it.",
            cmd("ignore", "--reason", reason),
            False,
        )
    if priority is Priority.FAILING and _unavailable(r) and not (moved and safe_href(moved)):
        return _unavailable_failing_fix(r, form.unavailable_days), None, False
    if priority is Priority.FAILING:
        if moved and safe_href(moved):
            # It had moved for good before it failed: the new address is known already.
            before = (
                "It had moved for good before this address stopped working. "
                + _edition_fix(moved, "switch to it", edition, r.archive_url)
                if edition
                else f"It had moved for good to {moved} before this address stopped "
                "working; switch to the new address."
            )
            return (
                before,
                cmd("replace-url", moved),
                False,
            )
        if sibling := _sibling_fix(r, cmd):
            return sibling
        if r.outcome is not None and r.outcome.is_failure and not r.outcome.is_transient:
            # A 410 says "removed on purpose": "it may recover by itself" contradicted it.
            return (
                f"The site's own answer, not a network hiccup. {r.outcome.explanation} It is "
                "listed as confirmed broken once the next checks agree.",
                None,
                False,
            )
        return "Wait: it may recover by itself. Act if it is confirmed broken.", None, False
    if priority is Priority.CONTACT:
        # The review settles the finding when the entry is right as it is (the number
        # moved to the contact page): editing the entry or ignoring the link were the
        # only ways out of the queue.
        return _CONTACT_FIX, cmd("mark-reviewed", "--reason", "contact details still right"), False
    if priority is Priority.STALE:
        if "new_edition" in r.stale_codes and "unverified" not in r.stale_codes:
            return _stale_edition_fix(r, cmd)
        if "unverified" not in r.stale_codes:
            return (
                "Review the entry; if it is still current, record the review.",
                cmd("mark-reviewed"),
                False,
            )
        if set(r.stale_codes) == {"unverified"}:
            return (_UNVERIFIED_FIX, cmd("replace-url", NEW_URL), True)
        return (
            "Review the entry and record the review; open the link in a browser too: "
            "a review does not answer that no check has succeeded, a check that reaches "
            "the link does.",
            cmd("mark-reviewed"),
            False,
        )
    return None, None, False


def _watched(r: ResourceRow, priority: Priority | None) -> str | None:
    """The note of `r` under "Check by hand" for answers that say nothing of its page and
    ask nothing yet, or None: a 429 or a 503 "come back later" at its last check only
    (`WATCHED`), or a 503 check after check, a site in maintenance, until it has lasted
    long enough to count as failing (`WATCHED_UNAVAILABLE`). Its row must not echo the
    group's "open these in a browser"."""
    if (
        priority is not Priority.LOOK
        or r.outcome not in _WATCHED_OUTCOMES
        or r.flapping
        or r.ignored_reason
    ):
        return None
    if max(r.failing_checks, r.checks_since) <= 1:
        return WATCHED
    return WATCHED_UNAVAILABLE if _unavailable(r) else None


#: Outcomes a first such night only watches: no ignore reason (`_IGNORE_REASONS`), no
#: fix of their own.
_WATCHED_OUTCOMES = frozenset({Outcome.RATE_LIMITED})


def _watched_fix(r: ResourceRow) -> str:
    """The fix of a row under "Check by hand" for one answer at its last check only."""
    if r.outcome is not Outcome.RATE_LIMITED:
        return "Nothing to do unless it keeps happening; it is checked again next run."
    if r.http_status == 503:
        said = "said it was unavailable for now (503)"
    else:
        said = "asked us to slow down" + (" (429)" if r.http_status == 429 else "")
    return (
        f"Nothing to do unless it keeps happening: the site {said} at its last check "
        "only. It is watched, checked again next run."
    )


def _walled_move_fix(moved: str, cmd: Callable[..., str]) -> str:
    """The fix of a link the site moved for good to `moved` (a permanent redirect) whose
    new address answered with a bot check: "Blocks checkers" and `ignore` alone kept the
    entry at the old address, with the new one only where the check ended."""
    ignore = cmd("ignore", "--reason", _IGNORE_REASONS[Outcome.BLOCKED])
    return (
        f"The site moved it for good to {moved}, which turns checkers away (a bot check). "
        "Open the new address in a browser: if it shows the resource, switch the entry to "
        f"it; if its bot check keeps flagging it after that, run {ignore}."
    )


#: The code of a row's reason that a contact its entry names left the page
#: (`ResourceRow.contact_reason`), beside staleness's codes.
CONTACT_GONE = "contact_gone"
_CONTACT_FIX = (
    "Open the page and check the contact details: put the current ones in the entry. "
    "This clears once the page shows the named ones again, or the entry no longer names "
    "them (at the next check that reads the page). If the entry is right as it is (the "
    "number moved to a contact page, say), record the review: it settles the finding."
)


def _moved_to(r: ResourceRow) -> str | None:
    """Where `r`'s link moved for good, if anywhere: not the home page, search or error
    page a permanent redirect ends on (`_sent_away`)."""
    return r.suggested_url if r.suggested_url and not _sent_away(r) else None


def _sent_away(r: ResourceRow) -> str | None:
    """Why the permanent redirect stored for `r`'s link means the resource is gone, or None:
    it ends on the site's home page, its search or an error page (the checker's and
    `accept-redirect`'s rule, `soft404.redirect_soft404`). Checks stored before the rule
    called such a redirect a move, and the report offered to switch the entry to the home
    page, which `accept-redirect` now refuses."""
    return redirect_soft404(r.url, r.suggested_url) if r.suggested_url else None


def _sent_away_fix(r: ResourceRow, gone: str, cmd: Callable[..., str]) -> tuple[str, str, bool]:
    """The fix of a "move" to a page that stands for no resource (`_sent_away`): find where
    the resource went, as for a page missing, which the next check will call it."""
    said = (
        f"It has not moved: {gone}, so the resource is gone from there and switching would "
        f"link that page. (An older check called this a move; the next one lists it under "
        f"{Priority.SOFT_404.heading}.)"
    )
    if r.archive_url:
        return (
            f"{said} Link the archived copy {r.archive_url} until the publisher's new address "
            "is found.",
            cmd("replace-url", r.archive_url),
            False,
        )
    return (
        f"{said} Find where the resource moved, and put its new address in place of NEW_URL.",
        cmd("replace-url", NEW_URL),
        True,
    )


#: The years a `new_edition` reason names (`catalog.staleness._new_edition`): the page's,
#: then the entry's.
_EDITION_YEARS = re.compile(
    r"names (\d{4}) \(.*later than any year the entry names \((\d{4})\)", re.DOTALL
)


def _newer_edition(r: ResourceRow) -> tuple[str, str] | None:
    """(the year the page names, the entry's) when the page the link leads to names a
    newer edition than the entry (a `new_edition` reason the report shows, `_stale`);
    ("", "") when the reason's years cannot be read (a wording of another version)."""
    reasons, codes = _stale(r)
    if "new_edition" not in codes:
        return None
    for reason, code in zip(reasons, codes, strict=False):
        if code == "new_edition" and (found := _EDITION_YEARS.search(reason)):
            return found[1], found[2]
    return "", ""


def _edition_fix(target: str, switch: str, years: tuple[str, str], archive: str | None) -> str:
    """The fix of a link whose new address serves a newer edition than the entry names:
    switching is the curator's decision, not a chore. "Switch to the new address" made
    the 2018 report's entry point at the 2024 report, under a title still saying 2018."""
    new, old = years
    if new and old:
        names, newer, kept = f"its page names {new}, the entry {old}", f"the {new}", f"the {old}"
    else:
        names, newer, kept = "its page names a later year than the entry", "the newer", "its"
    keep = (
        f"link its archived copy {archive} instead"
        if archive
        else "link an archived copy of it instead (from web.archive.org)"
    )
    return (
        f"The new address {target} leads to a newer edition ({names}). Decide before you "
        f"{switch}: if the entry should now describe {newer} edition, {switch} and update "
        f"the entry's title and year; to keep {kept} edition, {keep}."
    )


def _stale_edition_fix(r: ResourceRow, cmd: Callable[..., str]) -> tuple[str, str, bool]:
    """The fix of a working link whose page names a newer edition than the entry: both
    decisions, each with what does it. `mark-reviewed` alone, the only command the row
    gave, cleared the flag and left the 2018 report's entry linking the 2025 page."""
    years = _newer_edition(r) or ("", "")
    new, old = years if all(years) else ("", "")
    names = (
        f"The page names a newer edition ({new}) than the entry ({old})"
        if new
        else ("The page names a newer edition than the entry")
    )
    newer, kept = (f"the {new}", f"the {old}") if new else ("the newer", "the entry's")
    if r.archive_url:
        keep = f"link its archived copy {r.archive_url}: {cmd('replace-url', '--archive')}"
    else:
        keep = (
            "link an archived copy of it (from web.archive.org): "
            f"{cmd('replace-url', NEW_URL)} with the copy's address in place of NEW_URL"
        )
    return (
        f"{names}: decide which edition the entry lists. To keep {kept} edition, {keep}. "
        f"To list {newer} edition, edit the entry's title and year in its catalog file, "
        "then record the review (the command below says the entry is right as it is now; "
        "run alone, it clears the flag and changes nothing else).",
        cmd(
            "mark-reviewed",
            "--reason",
            f"lists {newer} edition" if new else "lists the newer edition",
        ),
        False,
    )


def _no_answer_fix(r: ResourceRow, outcome: Outcome) -> str:
    """The fix of a link confirmed broken by failures that say nothing of the page (a
    timeout, a refused connection, a name that does not resolve): those come from the way
    to the site too, so a browser is the first test. The outcome's own explanation, "if
    it keeps happening the site may be down for good", read oddly after it had kept
    happening until confirmed."""
    since = f" since {as_utc(r.since):%Y-%m-%d}" if r.since else ""
    n = max(r.failing_checks, r.checks_since)
    label = _UNAVAILABLE_LABEL if _unavailable(r) else outcome.label
    # In the label's own case, the badge's beside it: lowered, "HTTP error" read "http error".
    checks = f" ({count_of(n, 'check')}; the latest: {label})" if n else ""
    return (
        f"It failed at every check{since}{checks}, so it is confirmed broken; such "
        "failures can also come from the way to the site. Open it in a browser first: if "
        "it opens, nothing to change (it is checked again next run); if it does not, find "
        "where the resource is now (the publisher's new site, or an archived copy)."
    )


#: The reason `_refused_fix` gives `linkhealth ignore` for a link a browser opens.
_REFUSED_REASON = "works in a browser; refuses automated checks (403)"


def _sibling_fix(r: ResourceRow, cmd: Callable[..., str]) -> tuple[str, str, bool] | None:
    """The fix of a failing link whose address another entry shared until it moved to one
    that works (`ResourceRow.moved_sibling`), else None: the curator found where the page
    went for that entry, and "find where it moved" of this one asked it again."""
    sibling = r.moved_sibling
    if sibling is None or not safe_href(sibling.url):
        return None
    return (
        f"Its sibling {sibling.name}, which shared this address, moved to {sibling.url}, "
        "which works: use that address here too (or, if this entry is another part of the "
        "page, find its own).",
        cmd("replace-url", sibling.url),
        False,
    )


def _refused_fix(r: ResourceRow, cmd: Callable[..., str]) -> tuple[str, str, bool] | None:
    """The fix of a link confirmed broken by a bare 403 or a 451, else None.

    A 403 without a bot challenge is an error all the same (`catalog.check.classify`), but
    many sites answer automated checkers so while browsers get the page: "report it to the
    site or find another copy" had the curator replace a link that works. A 451 is the
    law where the check ran: readers there are refused too."""
    if r.outcome is not Outcome.HTTP_ERROR or r.http_status not in (403, 451):
        return None
    since = f" since {as_utc(r.since):%Y-%m-%d}" if r.since else ""
    n = max(r.failing_checks, r.checks_since)
    status = "403 Forbidden" if r.http_status == 403 else "451 Unavailable For Legal Reasons"
    checks = f" ({count_of(n, 'check')}; the latest: {status})" if n else f" ({status})"
    if r.archive_url:
        command, needs_input = cmd("replace-url", r.archive_url), False
    else:
        command, needs_input = cmd("replace-url", NEW_URL), True
    if r.http_status == 451:
        other = (
            f"link the archived copy {r.archive_url} until another is found"
            if r.archive_url
            else "the publisher's own elsewhere, or an archived copy; put its address in "
            "place of NEW_URL"
        )
        said = (
            f"It failed at every check{since}{checks}, so it is confirmed broken: the site "
            "may not show it where the check ran, and readers there cannot open it either. "
            f"Find another copy: {other}."
        )
        return said, command, needs_input
    elsewhere = (
        f"link the archived copy {r.archive_url} until the publisher's new address is found"
        if r.archive_url
        else "find where the resource is now (the publisher's new site, or an archived "
        "copy) and put its address in place of NEW_URL"
    )
    if r.ignored_reason:
        opens = (
            "nothing to do: it is ignored, and stays out of the queue until you run "
            f"{cmd('unignore')}"
        )
    else:
        opens = (
            "the site turns checkers away; take it out of the queue with "
            f"{cmd('ignore', '--reason', _REFUSED_REASON)} (it is still checked)"
        )
    said = (
        f"It failed at every check{since}{checks}, so it is confirmed broken; but sites "
        "often refuse automated checkers with a bare 403 while browsers get the page. Open it "
        f"in a browser first: if it opens, {opens}; if it does not, {elsewhere}."
    )
    return said, command, needs_input


def _totals(
    totals: Mapping[str, int], *, nothing_checked: bool = False, rows: Sequence[Row] = ()
) -> tuple[Total, ...]:
    items = []
    # A page that no longer matches its entry is counted as the queue files and badges it,
    # whatever its answer: a parked domain for sale answering every address with the same
    # page is a soft 404 to the checker, and was counted "Page missing (soft 404)" here
    # while the queue listed it under "Page no longer matches its entry".
    drifted = [r for r in rows if r.priority is Priority.DRIFT]
    moved = Counter(r.outcome or "" for r in drifted)
    rows = [r for r in rows if r.priority is not Priority.DRIFT]
    # An accepted redirect's entry the headline counts by its link, which works
    # (`Row.reached_unchecked`): under OK, not "Added since the last check" (it was not).
    reached = sum(r.reached_unchecked for r in rows)
    if reached:
        moved[UNCHECKED] += reached
        totals = {Outcome.OK.value: 0, **totals}
        moved[Outcome.OK.value] -= reached
    working, parts = _working_parts(rows)
    if drifted:
        items.append(_drift_total(drifted))
    # Before any check, no entry was "added since the last check".
    unchecked = _FIRST_CHECK_EXPLANATION if nothing_checked else _UNCHECKED_EXPLANATION
    for key, all_of_them in totals.items():
        count = all_of_them - moved[key]
        if count <= 0:
            continue
        try:
            outcome: Outcome | None = Outcome(key)
        except ValueError:
            outcome = None
        if outcome is not None:
            explanation = outcome.explanation
            if outcome in _NO_ANSWER_TOTALS:
                explanation = f"{_NO_ANSWER_TOTALS[outcome]}; {_NO_ANSWER_NEXT_STEP}"
            told = parts.get(key, Counter())
            if outcome.is_ok and set(told) - {_NOTHING_TO_DO}:
                explanation = _ok_but_queued(
                    working.get(key, Counter()),
                    told[_SET_ASIDE],
                    count,
                    held=told[_HELD_OK] + told[_SILENT_OK],
                    silent=told[_SILENT_OK],
                )
            if outcome is Outcome.OK and reached:
                explanation = f"{explanation} {_reached_words(reached)}"
            items.append(Total(key, outcome.label, outcome.severity.value, explanation, count))
        elif key == UNCHECKED:
            items.append(Total(key, _UNCHECKED_LABEL, Severity.UNKNOWN.value, unchecked, count))
        else:
            items.append(Total(key, key, Severity.UNKNOWN.value, _UNKNOWN_NEXT_STEP, count))

    def order(t: Total) -> tuple[int, bool, int, str]:
        return (_SEVERITY_ORDER[Severity(t.severity)], t.key == UNCHECKED, -t.count, t.label)

    return tuple(sorted(items, key=order))


#: The key of the total of pages that no longer match their entry (no outcome's).
def _marked_page(reason: str) -> str:
    """What a drift reason given for markers (`names_markers`) says the page is, in a fix:
    a web host's placeholder (an account suspended, a server's default page) is no parked,
    for-sale or spam page, which the fix said of every one."""
    if reason.startswith(f"{MARKED_REASON}{MARKER_LABELS['placeholder']} page "):
        return "a web host's placeholder"
    return "a parked, for-sale or spam page"


DRIFT_TOTAL = "drift"


def _drift_total(rows: Sequence[Row]) -> Total:
    """The total of the pages that no longer match their entry (`Priority.DRIFT`), saying
    how many of them the checker read as soft 404s (a parked or for-sale page answering
    every address) and how many are snoozed or ignored."""
    said = [_DRIFT_NEXT_STEP]
    missing = sum(r.outcome == Outcome.SOFT_404.value for r in rows)
    if missing:
        also = "answers" if missing == 1 else "answer"
        said.append(
            f"{missing} of them {also} every address with the same page, a soft 404 to the "
            "checker: a parked, for-sale or spam page, filed here, not under "
            f"{Priority.SOFT_404.heading}."
        )
    aside = sum(r.set_aside for r in rows)
    if aside:
        said.append(f"{aside} of them {'is' if aside == 1 else 'are'} snoozed or ignored.")
    return Total(
        DRIFT_TOTAL, Priority.DRIFT.heading, Severity.BROKEN.value, " ".join(said), len(rows)
    )


def _reached_words(n: int) -> str:
    """The OK total's words of the `n` entries it counts by their new address's answer as
    their old one's redirect target (`Row.reached_unchecked`): not checked there yet."""
    if n == 1:
        return (
            "1 of them is not checked at its new address yet, which the last check of its "
            "old one reached as the redirect's target."
        )
    return (
        f"{n} of them are not checked at their new addresses yet, which the last checks of "
        "their old ones reached as the redirects' targets."
    )


def _total_key(r: Row) -> str:
    """The outcome a resource is counted under in the totals: an accepted redirect's entry
    not checked yet is OK, as the headline counts it (`Row.reached_unchecked`)."""
    return Outcome.OK.value if r.reached_unchecked else r.outcome or ""


def _working_parts(
    rows: Sequence[Row],
) -> tuple[dict[str, Counter[Priority]], dict[str, Counter[str]]]:
    """Per working outcome, the queue groups of the resources queued all the same (an
    entry due a review, ...), and how many the headline counts in each of its parts
    (`_headline_part`): the OK total's explanation counts them by the headline's rules, or
    its "nothing to do for the rest" counted 30 where the headline said "26 OK" (a snoozed
    link with nothing wrong is set aside in the one, was "the rest" in the other)."""
    queued: dict[str, Counter[Priority]] = defaultdict(Counter)
    parts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if r.severity != Severity.OK.value and not r.reached_unchecked:
            continue
        part = _headline_part(r)
        parts[_total_key(r)][part] += 1
        if part in _QUEUED_PARTS and r.priority is not None:
            queued[_total_key(r)][r.priority] += 1
    return queued, parts


def _ok_but_queued(
    groups: Counter[Priority], set_aside: int, total: int, *, held: int = 0, silent: int = 0
) -> str:
    """The OK total's explanation, which must not say "nothing to do" of the resources the
    headline counts to fix or to review, nor of those it counts set aside (snoozed or
    ignored: a decision to revisit, not done with), nor of those it counts OK only when
    last checked (`_HELD_OK`: not asked since, their host away; `silent` of the `held`,
    `_SILENT_OK`: their host not answering)."""
    n = sum(groups.values())
    said = []
    if n:
        where = ", ".join(f"{count} {p.heading}" for p, count in sorted(groups.items()))
        said.append(f"{n} of them {'is' if n == 1 else 'are'} in the queue all the same ({where})")
    if set_aside:
        of = "" if n else " of them"
        said.append(f"{set_aside}{of} {'is' if set_aside == 1 else 'are'} snoozed or ignored")
    for count, why in ((held - silent, "said it was away"), (silent, "did not answer")):
        if count:
            of = "" if said else " of them"
            said.append(
                f"{count}{of} {'was' if count == 1 else 'were'} not asked since: "
                f"{'its' if count == 1 else 'their'} host {why} (asked in turn)"
            )
    rest = "; nothing to do for the rest" if n + set_aside + held < total else ""
    return f"The link works. {', and '.join(said)}{rest}."


#: The headline's part of the links that worked at their last check but were not asked at
#: the latest (`Observation.held`): a host in maintenance night after night asks a few a
#: night, and its others counted "OK" for as many nights as their turn took to come.
_HELD_OK = "OK when last checked, not asked since (its host said it was away)"
#: ... when its host had answered none of its last links instead (`classify._held`).
_SILENT_OK = "OK when last checked, not asked since (its host did not answer)"


def _held_ok(r: Row) -> bool:
    """Whether the link's latest try was held (`Observation.held`): its reason is then that
    try's (`HELD_REASON_END`), its outcome its last check's."""
    return (r.reason or "").endswith(HELD_REASON_END)


def _silent_ok(r: Row) -> bool:
    """`_held_ok`, for a host that had answered none of its last links (`held_silent`)."""
    return _held_ok(r) and held_silent(r.reason)


#: The headline's parts (`_headline_part`), as it names them.
_TO_FIX, _TO_CHECK, _TO_REVIEW = "to fix", "to check or watch", "to review (the link works)"
_NOTHING_TO_DO, _SET_ASIDE = "OK", "set aside"
#: The headline's parts of the resources in the queue.
_QUEUED_PARTS = frozenset({_TO_FIX, _TO_CHECK, _TO_REVIEW})


def _headline_part(r: Row) -> str:
    """The headline's part a resource is counted in: the one rule of what is set aside,
    queued or OK with nothing to do, which the OK total's explanation follows too
    (`_working_parts`). A snoozed or ignored resource is set aside whatever its link does."""
    if r.set_aside:
        return _SET_ASIDE
    if r.priority is not None and r.priority.to_fix:
        return _TO_FIX
    if r.entry_only:
        # An out-of-date entry whose accepted redirect's target answered is the entry's to
        # review, as its group says: "to check or watch" counted it where no group showed it.
        return _TO_REVIEW
    if r.priority is not None:
        return _TO_CHECK
    if r.outcome == Outcome.OK.value and _held_ok(r):
        # OK at a check before its host went away (or silent): not "nothing to do".
        return _SILENT_OK if _silent_ok(r) else _HELD_OK
    if r.outcome == Outcome.OK.value:
        return _NOTHING_TO_DO
    if r.reached_unchecked:
        return _NOTHING_TO_DO  # its new address answered the last check, as a redirect's target
    if r.outcome in (None, UNCHECKED):
        return "not checked yet"
    if r.outcome == Outcome.NETWORK_UNAVAILABLE.value:
        return f"unknown ({in_sentence(Outcome.NETWORK_UNAVAILABLE.label)})"
    return "other"


def _headline(data: ReportData, resources: Sequence[Row], nothing_checked: bool) -> str:
    """Every active resource counted once, by what it asks of the curator, so the parts
    add up to the catalog: an entry to review whose link works is not a link to look at."""
    if not data.resources_total:
        return "Nothing has been checked yet."
    if nothing_checked and data.network_unavailable:
        return f"No link could be checked yet: our network was down ({_waiting(data)})."
    if nothing_checked:
        return f"Nothing has been checked yet ({_waiting(data)})."
    tally = Counter(map(_headline_part, resources))
    parts = [f"{tally.pop(_TO_FIX, 0)} {_TO_FIX}"]  # "0 to fix" is news too
    order = [
        _TO_CHECK,
        _TO_REVIEW,
        _NOTHING_TO_DO,
        _HELD_OK,
        _SILENT_OK,
        _SET_ASIDE,
    ]
    parts += [f"{tally.pop(k)} {k}" for k in order if k in tally]
    parts += [f"{n} {k}" for k, n in tally.items()]
    return f"{count_of(len(resources), 'resource')}: " + ", ".join(parts) + "."


def _waiting(data: ReportData) -> str:
    """The links a first run will check, and the resources they serve when fewer: entries
    sharing an address share its link. "26 links waiting" counted the bundled catalog's
    26 resources above the run's "0 of 24 URLs checked"."""
    links = len({r.link_id if r.link_id is not None else r.url for r in data.resources})
    waiting = f"{count_of(links, 'link')} waiting"
    if links == data.resources_total:
        return waiting
    return f"{waiting}, for {count_of(data.resources_total, 'resource')}"


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
    if run and answered_besides_offline(run.counts, run.unsent):  # others' sites were reached
        unreached = run.counts.get(Outcome.NETWORK_UNAVAILABLE.value, 0)
        return (
            f"Our own network was unreachable during {which} for {unreached} of its "
            f"{run.urls_checked} URLs, so it learned nothing about their links. Nothing below "
            "changed because of it; they will be checked again next run."
        )
    return (
        f"Our own network was unreachable during {which}, so it learned nothing about the "
        "links. Nothing below changed because of it; the links will be checked again next run."
    )


def _refused_notice(refused: Refusals, run: RunInfo | None, now: datetime) -> str:
    since = f" since run {run.id}" if run else ""
    latest = f"({refused.latest_trigger}, {when(refused.latest_at, now).text}): "
    if refused.count == 1:
        said = f"A run{since} was refused and checked nothing {latest}"
    else:
        first = when(refused.first_at, now).ago
        said = (
            f"{refused.count} runs{since} were refused and checked nothing, the first "
            f"{first}; the latest {latest}"
        )
    kept = f"this report stays as run {run.id} left it" if run else "nothing is checked"
    return (
        f"{said}{refused.latest_reason}. Fix that and the next run checks again; until then {kept}."
    )


def _earlier_run_notice(data: ReportData) -> str | None:
    if data.run is None or data.latest_run_id is None:
        return None
    run, latest = data.run.id, data.latest_run_id
    return (
        f"This is the report of run {run}, an earlier run: the run's facts, what changed "
        f"and the trend are run {run}'s, but the action queue, the tables and the pages "
        f"show every link as it is now, after run {latest}."
    )


def _empty_notice(data: ReportData, nothing_checked: bool) -> str | None:
    if not data.resources_total:
        return "There are no catalog resources yet; sync a catalog, then run a check."
    if nothing_checked and not data.network_unavailable:
        # The headline has just said that nothing has been checked yet.
        return "The first run will fill this report in."
    return None


def _run(run: RunInfo, now: datetime) -> RunSummary:
    # An offline try learned nothing: "24 of 24 URLs checked" under "No link could be
    # checked yet" would contradict itself.
    offline = min(run.urls_checked, run.counts.get(Outcome.NETWORK_UNAVAILABLE.value, 0))
    # Nor was a try not sent, its host held: "5 of 5 URLs checked" of a run that asked two.
    unsent = min(run.urls_checked - offline, sum(run.unsent.values()))
    # A host that had said it was away held its links as `rate_limited`; one that had
    # answered none of its last links, as what they read (`classify._held`).
    said = run.unsent.get(Outcome.RATE_LIMITED.value, 0)
    return RunSummary(
        id=run.id,
        trigger=run.trigger,
        status=run.status,
        started=when(run.started_at, now),
        finished=when(run.finished_at, now) if run.finished_at else None,
        urls_planned=run.urls_planned,
        urls_checked=run.urls_checked - offline - unsent,
        duration=humanize.precisedelta(timedelta(seconds=run.duration_s))
        if run.duration_s is not None
        else None,
        network_unavailable=run.network_unavailable,
        shards=tuple(part.id for part in run.shards),
        urls_offline=offline,
        urls_unsent=unsent,
        urls_unsent_silent=max(unsent - said, 0),
    )
