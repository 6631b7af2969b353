"""Read-only queries for the curator reports.

Stage: report (read side). Input: an engine on the linkhealth database. Output:
`ReportData` and history rows, plain frozen records, so `reports/` never sees
SQLAlchemy or ORM rows.

Every read is a bulk query grouped in Python (never one query per resource), so a
100,000-resource catalog costs a handful of queries. Per-resource history is
streamed (`iter_link_history`) so the report can write one page at a time.

The numbers describe the links' *current* state (links carry it); the run only says
which check is being reported on. A report for an older run therefore shows that
run's header with today's state, which is what the nightly run writes right after
it finishes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import groupby, pairwise
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import Any
from urllib.parse import urldefrag

from sqlalchemy import Engine, Integer, Select, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from catalog import groups
from catalog.check.redirects import moved_to
from catalog.check.soft404 import LAPSED_SHELL
from catalog.clock import as_utc
from catalog.collation import byte_order
from catalog.db import session_scope
from catalog.errors import NotFoundError
from catalog.health import UNAVAILABLE_WINDOW, contact_missed_since, entry_contact_reason
from catalog.model import Hop
from catalog.outcomes import Outcome
from catalog.problem_checks import (
    CHECKED,
    checks_since,
    entry_start,
    own_start,
    pruned_since,
    recount_entries,
    urls_taken,
)
from catalog.set_aside import lapse_note
from catalog.settings import lasted
from catalog.shards import FULL_RUN_LEASE, SHARDED_RUN
from catalog.store import DRIFTED_LINKS, REFUSED, REFUSED_IDS, UNSENT_LINKS, chunks, held_tries
from catalog.store import SET_ASIDE_LAPSED as LAPSED
from catalog.tables import Collection, Decision, Event, Link, Observation, Resource, Run
from catalog.unsteady import (
    Unsteady,
    redirect_turns,
    steadied_redirects,
    unsteady_news,
    unsteady_redirects,
)
from catalog.urls import canonical_url, with_fragment_of

#: The totals key for resources whose link has never been checked.
UNCHECKED = "unchecked"
#: Health states that put a resource on the attention list whatever its last outcome.
ATTENTION_STATES = frozenset({"suspect", "broken", "check_by_hand"})
#: How far back trends and per-resource history reach.
TREND_DAYS = 90


@dataclass(frozen=True)
class RunInfo:
    id: int
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    #: None when the run recorded no plan for what it checked: one written through
    #: `catalog.store` directly (a script, a test) stores checks without a plan, and "11
    #: of 0" would be nonsense. `catalog.runs` records the plan before any check.
    urls_planned: int | None
    urls_checked: int
    network_unavailable: bool
    duration_s: float | None
    #: The run's own outcome counts, as stored ({"ok": 20, ...}).
    counts: Mapping[str, int]
    #: For a sharded run (`check-catalog-sharded`), its shard runs, by id: the figures
    #: above are theirs together and `id` is the last one's. Empty for any other run.
    shards: tuple[RunInfo, ...] = ()
    #: Checked the whole catalog (it held the full-run lease), not a recheck of a few ids;
    #: runs from before leases were recorded count as whole.
    whole: bool = True
    #: Of `counts`' working answers, those whose page no longer matched its entry when the
    #: run ended (`store.DRIFTED_LINKS`); None for runs closed before it was counted.
    drifted: int | None = None
    #: Of `counts`, the tries not sent, by outcome (`store.UNSENT_LINKS`): their host held,
    #: no check of their link. Empty for runs closed before they were counted.
    unsent: Mapping[str, int] = field(default_factory=dict)

    @property
    def run_ids(self) -> tuple[int, ...]:
        return tuple(part.id for part in self.shards) or (self.id,)


@dataclass(frozen=True)
class CollectionInfo:
    key: str
    title: str
    #: Active (not removed) resources in the collection.
    resources: int
    synced_at: datetime | None


@dataclass(frozen=True)
class Decided:
    """Who made a curator decision, and when."""

    by: str
    at: datetime


@dataclass(frozen=True)
class MovedSibling:
    """An entry that was on a row's address together with it and has since moved to an
    address that works."""

    #: Its id; `KEY/ID` when of another collection than the row's.
    name: str
    #: Its new address, with the row's own `#section` (not the sibling's): the one to use.
    url: str


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """One active resource with its link's current state.

    With slots: a report holds one per resource, and an instance dict of more than 30
    keys is not shared by the instances (150 MB at 100,000 resources, 40 MB as slots).
    """

    #: resources.id, the key events use.
    pk: int
    collection_key: str
    collection_title: str
    #: The curator's id from the catalog file.
    resource_id: str
    title: str
    publisher: str | None
    url: str
    link_id: int | None
    host: str | None
    #: None when the stored value is not a known `Outcome` (or the link was never checked).
    outcome: Outcome | None
    outcome_value: str | None
    state: str
    reason: str | None
    http_status: int | None
    final_url: str | None
    #: The replacement to consider (final URL of a permanent redirect), if any.
    suggested_url: str | None
    #: Title of the page that answered; web-sourced, never trust it.
    page_title: str | None
    #: When the link's current problem began (`PROBLEM_START`): drift, flapping, failure,
    #: or the last change of outcome. A drift of another entry sharing the address is not
    #: this entry's (`problem_checks.entry_start`), nor are its checks counted from it.
    since: datetime | None
    failing_checks: int
    #: When the link was last checked: None while it has no outcome (never checked).
    last_checked_at: datetime | None
    #: Checks of the link since `since` (network-down checks excluded).
    checks_since: int = 0
    #: Of an entry that took its URL after `since` (another entry's address before): its
    #: own checks of it, which its row counts (`_with_own_checks`), and the first of them
    #: (None: none yet). `since` and the counts above stay the address's, which its fix
    #: and news tell. None for the others: the link's story is theirs.
    own_checks: int | None = None
    own_since: datetime | None = None
    #: When a link without an outcome was last tried: every try so far found our own
    #: network down, so it learned nothing and the link counts as never checked.
    last_tried_at: datetime | None = None
    #: That last try was not sent: its host had said it was away (`Observation.held`), not
    #: our network down.
    last_tried_held: bool = False
    #: How many of the link's tries since its last check were not sent, its host having
    #: said it was away (`links.held_tries`, `store.held_tries`); 0 when its latest try was a
    #: check. A held try keeps the last check's outcome, state and `last_checked_at`.
    held_tries: int = 0
    #: Response time of the latest check.
    elapsed_ms: int | None = None
    #: Retries the latest check made (their waits are in `elapsed_ms`).
    retries: int = 0
    content_length: int | None = None
    #: The link ends at its own address, as the checker asks for it (the canonical form
    #: `url` may differ from: query sorted, "/" path): no move to show.
    ends_at_link: bool = False
    # The schema does not hold these yet; they stay empty until it does.
    #: Why the page no longer matches its entry (drift: a redesign, a page replaced, a
    #: domain that changed hands).
    drift_reason: str | None = None
    #: The contacts the entry names that its page no longer shows (`catalog.health.
    #: apply_contacts`), as the queue says it; None when none went.
    contact_reason: str | None = None
    #: When the first read of the page in full that missed one of those contacts was
    #: (`catalog.health.contact_missed_since`): the queue's "Since" of the finding.
    contact_since: datetime | None = None
    #: Why the entry looks out of date (old year, unreviewed for long, ...).
    stale_reasons: tuple[str, ...] = ()
    #: Their codes (`catalog.staleness.StaleCode`): what answers them differs.
    stale_codes: tuple[str, ...] = ()
    #: The oldest date its reasons count from ("since 2024-03-02", the year an old
    #: edition names): the longest out of date come first in the queue.
    stale_since: datetime | None = None
    #: Archived copy from before the link failed.
    archive_url: str | None = None
    snoozed_until: datetime | None = None
    snooze_reason: str | None = None
    ignored_reason: str | None = None
    #: Who set the snooze and the ignore aside, and when (their latest decisions): a team
    #: reading the list of what is left out of the queue asks whom to ask.
    snoozed_by: Decided | None = None
    ignored_by: Decided | None = None
    #: An ignore or snooze ended by a run because the link settled into another kind of
    #: problem, said as `set_aside.lapse_note` tells it, in the past tense (without the
    #: link's reason that night: the row shows its reason now);
    #: None once the curator decides again (ignore, snooze, unignore).
    lapsed: str | None = None
    #: Flipping between working and failing lately (`catalog.health`).
    flapping: bool = False
    #: The entry's `type` ("hotline", "report", ...).
    resource_type: str | None = None
    #: When the page (and so `page_title`) was last read, or vouched for by a 304: checks
    #: that only send HEAD read no title, so a title older than `last_checked_at` is not
    #: what the latest check saw (`links.fingerprinted_at`).
    title_read_at: datetime | None = None
    #: How many times its permanent redirect came or went lately, once that makes it
    #: unsteady (`unsteady.unsteady_redirects`); 0: steady, or no redirect. Every queue
    #: (the report's, the flow's artifact, `linkhealth resource`) keeps such a redirect.
    unsteady_redirect: int = 0
    #: Of such a redirect that leads elsewhere by turns, the addresses it led to lately
    #: (`unsteady.redirect_turns`): none of them is the fix. Empty for one that moved once
    #: (its latest target is offered once it stays).
    unsteady_targets: tuple[str, ...] = ()
    #: Of a flapping link: on how many of the last `UNAVAILABLE_WINDOW` nights the site
    #: answered 503 "unavailable, come back later" (maintenance): what its flips were.
    unavailable_nights: int = 0
    #: Of a failing link: an entry that shared its address with this one and has since
    #: moved to an address whose last check worked (`_with_moved_siblings`): the new
    #: address is known, so "find where it moved" is not the fix.
    moved_sibling: MovedSibling | None = None

    @property
    def needs_attention(self) -> bool:
        return (
            (self.outcome is not None and self.outcome.needs_attention)
            or self.state in ATTENTION_STATES
            or self.drift_reason is not None
            or self.contact_reason is not None
            or bool(self.stale_reasons)
        )

    @property
    def lapsed_shell(self) -> bool:
        """Whether the link works but its page, which showed text, now shows only scripts
        under its domain's name (`soft404.lapsed_shell`): what a lapsed domain's parking
        looks like."""
        return (
            self.outcome is Outcome.OK and self.reason is not None and LAPSED_SHELL in self.reason
        )

    @property
    def queued(self) -> bool:
        """Whether the report's action queue lists the row (`reports.build._priority` files
        exactly these): one rule for the report and for what `unignore` says of the entry."""
        return self.needs_attention or self.flapping or self.lapsed_shell


#: The first version's name for a row of the attention list.
AttentionRow = ResourceRow


@dataclass(frozen=True)
class EventRow:
    """One entry of the events log, with the resource it names (removed ones too)."""

    id: int
    at: datetime
    kind: str
    run_id: int | None
    resource_pk: int | None
    link_id: int | None
    details: Mapping[str, Any]
    #: Set when the event names a resource (catalog edits); link events leave them None.
    resource_id: str | None = None
    resource_title: str | None = None
    collection_key: str | None = None
    collection_title: str | None = None
    link_url: str | None = None


@dataclass(frozen=True)
class ObservationRow:
    id: int
    link_id: int
    run_id: int | None
    url: str
    checked_at: datetime
    outcome_value: str
    reason: str
    http_status: int | None
    final_url: str | None
    elapsed_ms: int | None
    content_type: str | None
    content_length: int | None
    title: str | None
    #: Not sent: its host had said it was away (`Observation.held`); no check of the link.
    held: bool = False


@dataclass(frozen=True)
class Refusals:
    """Runs refused since the reported run started: a catalog or settings file broken by an edit
    refuses every run until it is fixed, and a report of the last run that checked would
    otherwise look current."""

    count: int
    first_at: datetime
    latest_at: datetime
    latest_trigger: str
    #: File, line and what, as `linkhealth status` shows it.
    latest_reason: str


@dataclass(frozen=True)
class ReportData:
    #: The run reported on; None when nothing has been checked yet.
    run: RunInfo | None
    #: Active resources per outcome value, never-checked ones under `UNCHECKED`.
    totals: Mapping[str, int]
    #: Every active resource, by collection title then curator id.
    resources: tuple[ResourceRow, ...]
    collections: tuple[CollectionInfo, ...]
    #: The run found our own network down, so it learned nothing about the links.
    network_unavailable: bool
    #: The finished run before `run`; "since the last run" starts when it finished. For a
    #: recheck of a few entries, the whole run before the night it follows (its news too).
    previous_run: RunInfo | None = None
    #: For a recheck that follows a whole run: that night, whose news its report keeps.
    #: With no `previous_run`, the window starts at the night's start, not `run`'s: the
    #: report names both runs rather than calling the window "the first run".
    night_run: RunInfo | None = None
    #: Finished runs of the last `TREND_DAYS` days up to `run`, oldest first.
    trend_runs: tuple[RunInfo, ...] = ()
    #: Events between `previous_run` and `run`, oldest first.
    changes: tuple[EventRow, ...] = ()
    #: The latest finished run when `run` is an earlier one: the links (resources, totals)
    #: are always as they are now, after that run.
    latest_run_id: int | None = None
    #: Runs refused for a broken file since `run` started (only in the latest's report).
    refused: Refusals | None = None
    #: Per resource pk whose link is not checked yet: when its old URL's last check reached
    #: its URL as the redirect's target (`accept-redirect`; `_reached_targets`).
    reached: Mapping[int, datetime] = field(default_factory=dict)
    #: Of the events in `changes` that change an unsteady link (a page that changes at
    #: every read, a permanent redirect that comes and goes), by id: told once, then quiet.
    unsteady: Mapping[int, Unsteady] = field(default_factory=dict)
    #: Links redirecting permanently whose redirect keeps coming and going: link id -> how
    #: many times within `unsteady.REDIRECT_WINDOW_DAYS`.
    unsteady_redirects: Mapping[int, int] = field(default_factory=dict)
    #: Links whose redirect came and went, then stayed (`unsteady.steadied_redirects`) at
    #: a check in this report's window: link id -> that check. Told once: accept it now.
    steadied_redirects: Mapping[int, datetime] = field(default_factory=dict)

    @property
    def resources_total(self) -> int:
        return sum(self.totals.values())

    @property
    def attention(self) -> tuple[ResourceRow, ...]:
        return tuple(r for r in self.resources if r.needs_attention)


def report_data(
    engine: Engine, *, run_id: int | None = None, trend_days: int = TREND_DAYS
) -> ReportData:
    """Everything a report's summary shows, for `run_id` or the latest finished run."""
    with session_scope(engine) as session:
        run = _run(session, run_id)
        previous = _previous_run(session, run) if run else None
        night = None
        if run and not run.whole and previous and previous.whole:
            # A recheck's report becomes the latest one: it keeps the night's news too,
            # since the night before it (else a morning recheck hid what the night found).
            night, previous = previous, _previous_run(session, previous)
        per_collection: Counter[int] = Counter()
        totals: Counter[str] = Counter()

        def counted(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for r in rows:
                per_collection[r["collection_id"]] += 1
                totals[r["outcome"] or UNCHECKED] += 1
                yield r

        # Every link's checks in one query, not one per chunk of links.
        checks = checks_since(session)
        result = session.connection().execute(_active_resources())
        resources = _report_rows(session, counted(_as_dicts(result)), checks)
        by_title = byte_order(Collection.title), byte_order(Collection.key)
        collections = tuple(
            CollectionInfo(c.key, c.title, per_collection[c.id], c.synced_at)
            for c in session.scalars(select(Collection).order_by(*by_title))
            if per_collection[c.id]
        )
        trend = _trend_runs(session, run, trend_days) if run else ()
        changes = _changes(session, run, previous, night) if run else ()
        latest = _run(session, None) if run_id is not None and run else None
        later = latest.id if latest and run and latest.id not in run.run_ids else None
        refused = _refusals_since(session, run.started_at if run else None) if not later else None
        reached = _reached_targets(session)
        unsteady = unsteady_news(session, changes)
        steadied = _steadied_in_window(session, resources, run, previous, night)
        redirects = {
            r.link_id: r.unsteady_redirect
            for r in resources
            if r.link_id is not None and r.unsteady_redirect
        }
    return ReportData(
        run=run,
        totals=MappingProxyType(dict(totals)),
        resources=tuple(resources),
        collections=collections,
        network_unavailable=bool(run and run.network_unavailable),
        previous_run=previous,
        night_run=night,
        trend_runs=trend,
        changes=changes,
        latest_run_id=later,
        refused=refused,
        reached=MappingProxyType(reached),
        unsteady=MappingProxyType(unsteady),
        unsteady_redirects=MappingProxyType(redirects),
        steadied_redirects=MappingProxyType(steadied),
    )


def _reached_targets(session: Session) -> dict[int, datetime]:
    """Per active resource whose link was never checked, when the last check of the URL it
    had reached its URL as a redirect's target with a 200: the `reached` of its last URL
    edit (`catalog.sync`). The report says so, not "Not checked yet" as of a new entry."""
    rows = session.execute(
        select(Event.resource_id, Event.details)
        .join(Resource, Resource.id == Event.resource_id)
        .join(Link, Link.id == Resource.link_id)
        .where(
            Event.kind == "url_edited",
            Resource.removed_at.is_(None),
            Link.outcome.is_(None),
        )
        .order_by(Event.id)
    )
    reached: dict[int, datetime] = {}
    for pk, details in rows:
        at = (details or {}).get("reached")
        if at:
            reached[pk] = as_utc(datetime.fromisoformat(str(at)))
        else:
            reached.pop(pk, None)
    return reached


def _report_rows(
    session: Session,
    rows: Iterable[Mapping[str, Any]],
    checks: Mapping[int, int] | None = None,
) -> list[ResourceRow]:
    """The finished `ResourceRow`s of `rows` (of `_active_resources`, as dicts), in their
    order: each with its link's checks (`checks_since`), who set it aside
    (`_with_deciders`) and where its link moved (`_with_moved_to`). The one assembly of a
    report row: `report_data`, `iter_resources` (a chunk at a time) and `resource_row`
    (one) all go through it, so the action queue, the report and `linkhealth resource`
    tell a resource alike.

    `checks`: the counts of every link, read at once by a caller assembling the whole
    catalog (one query, not one per chunk); without them, those of `rows`' links are
    read (in bulk) first."""
    if checks is None:
        rows = rows if isinstance(rows, Sequence) else list(rows)
        checks = checks_since(session, [r["link_id"] for r in rows if r["link_id"]])
    resources: list[ResourceRow] = []
    # Those edited since their link's state began: whether one of them took its URL after
    # that is read for them alone (`updated_at` moves with every curator's change).
    edited: list[int] = []
    # Those on a page that drifted from some of its entries alone: their checks count from
    # their own start (`problem_checks.entry_start`), read for them alone.
    apart: list[int] = []
    for r in rows:
        start = r["problem_start"]
        if start is not None and as_utc(r["entry_updated_at"]) > as_utc(start):
            edited.append(len(resources))
        if r["drift_apart"]:
            apart.append(len(resources))
        resources.append(_resource_row(r, checks.get(r["link_id"], 0)))
    resources = _with_own_start_checks(session, resources, apart)
    resources = _with_own_checks(session, resources, edited)
    resources = _with_moved_to(session, _with_lapses(session, _with_deciders(session, resources)))
    resources = _with_unsteady_redirects(session, _with_walled_move(session, resources))
    return _with_moved_siblings(session, resources)


#: Events that put an entry on a link (`Event.link_id`: the link it has after the event).
_ONTO_LINK = ("added", "url_edited")


def _with_moved_siblings(session: Session, resources: list[ResourceRow]) -> list[ResourceRow]:
    """Failing links without a known move, with an entry that shared the address and has
    since moved to one whose last check is OK and matches it (`moved_sibling`): three
    entries on one page that moved, one of them replaced, and the other two still asked
    to "find where it moved" though the catalog knew. Found by the events that put entries
    on the failing links (`Event.link_id`, indexed), not by reading every URL edit: an
    entry counts when it left the link after the row's entry came onto it (they shared
    it). Several such entries at different addresses: the one the entry is `duplicate_of`,
    else none (no guess)."""
    failing = [
        i
        for i, r in enumerate(resources)
        if r.link_id is not None
        and r.suggested_url is None
        and r.outcome is not None
        and r.outcome.is_failure
    ]
    if not failing:
        return resources
    gone: dict[int, list[tuple[int, str, str, str]]] = defaultdict(list)
    ids = sorted({resources[i].link_id or 0 for i in failing})
    for part in chunks(ids, _CHUNK):  # SQLite caps the parameters of one statement
        query = (
            select(Event.link_id, Resource.id, Collection.key, Resource.rid, Resource.url)
            .join(Resource, Resource.id == Event.resource_id)
            .join(Collection, Collection.id == Resource.collection_id)
            .join(Link, Link.id == Resource.link_id)
            .where(
                Event.link_id.in_(part),
                Event.kind.in_(_ONTO_LINK),
                Resource.removed_at.is_(None),
                Resource.link_id != Event.link_id,
                Link.outcome == Outcome.OK.value,
                Link.drift_since.is_(None),  # a page that no longer matches its entry
            )
            .distinct()
        )
        for link_id, pk, key, rid, url in session.execute(query):
            if link_id is not None:
                gone[link_id].append((pk, key, rid, url))
    if not gone:
        return resources
    rows = [i for i in failing if resources[i].link_id in gone]
    moves = _link_moves(
        session, {resources[i].pk for i in rows} | {s[0] for v in gone.values() for s in v}
    )
    dupes = _duplicate_of(session, [resources[i].pk for i in rows])
    for i in rows:
        r = resources[i]
        assert r.link_id is not None
        came = moves.get(r.pk, [])
        since = came[-1][0] if came else None  # its latest coming onto the link
        shared = []
        for pk, key, rid, url in sorted(gone[r.link_id], key=itemgetter(1, 2)):
            if pk != r.pk and _left_after(moves.get(pk, []), r.link_id, since):
                name = rid if key == r.collection_key else f"{key}/{rid}"
                shared.append((key, rid, name, with_fragment_of(urldefrag(url).url, r.url)))
        meant = [s for s in shared if (s[0], s[1]) == (r.collection_key, dupes.get(r.pk))]
        if meant or len({canonical_url(s[3]) for s in shared}) == 1:
            _, _, name, url = (meant or shared)[0]
            resources[i] = replace(r, moved_sibling=MovedSibling(name, url))
    return resources


def _link_moves(session: Session, pks: Iterable[int]) -> dict[int, list[tuple[datetime, int]]]:
    """Per resource pk: when it came onto which link (its `_ONTO_LINK` events), in order."""
    out: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for part in chunks(sorted(pks), 1000):  # bound the IN list
        for pk, at, link_id in session.execute(
            select(Event.resource_id, Event.at, Event.link_id)
            .where(Event.resource_id.in_(part), Event.kind.in_(_ONTO_LINK))
            .order_by(Event.at, Event.id)
        ):
            if pk is not None and link_id is not None:
                out[pk].append((as_utc(at), link_id))
    return out


def _left_after(
    moves: Sequence[tuple[datetime, int]], link_id: int, since: datetime | None
) -> bool:
    """Whether an entry came onto `link_id` and left it after `since` (when the row's entry
    came onto it; None: unknown, any stay counts)."""
    for (_, link), (left, _) in pairwise(moves):
        if link == link_id and (since is None or left > since):
            return True
    return False


def _duplicate_of(session: Session, pks: Sequence[int]) -> dict[int, str]:
    """Per resource pk: the id its `duplicate_of` field names, if any."""
    out: dict[int, str] = {}
    for part in chunks(sorted(pks), 1000):  # bound the IN list
        for pk, fields in session.execute(
            select(Resource.id, Resource.fields).where(Resource.id.in_(part))
        ):
            named = (fields or {}).get("duplicate_of")
            if isinstance(named, str) and named:
                out[pk] = named
    return out


def _unavailable_nights(kept: Sequence[str] | None, last_checked_at: datetime | None) -> int:
    """Of a flapping link: how many of the last `UNAVAILABLE_WINDOW` nights before its last
    check the site answered 503 "unavailable" (`ResourceRow.unavailable_nights`): "OK,
    flapping: keeps switching between working and failing" hid a site down for maintenance
    night after night.

    Read from the nights the link keeps (`links.unavailable_nights`, `catalog.health`), one
    a night, as its checks found them: never a held try (`Observation.held`, stored with
    its host's 503 to other URLs but sending this link nothing) nor a night our network was
    down, and kept when `db prune` deletes their rows. Reports read kept counts, not
    observations (`catalog.problem_checks`). The link keeps those of its flap window
    (`HealthSettings.flap_window_days`, 14 by default) up to its last check: a longer one
    keeps older nights, which the words' window leaves out; a shorter one keeps those of the
    words' window all the same (`catalog.health.UNAVAILABLE_WINDOW`)."""
    if not kept or last_checked_at is None:
        return 0
    last = as_utc(last_checked_at)
    nights = (as_utc(datetime.fromisoformat(str(night))) for night in kept)
    return sum(1 for n in nights if n <= last and not lasted(last - n, UNAVAILABLE_WINDOW))


def flapping_unavailable_nights(engine: Engine, rids: Iterable[str]) -> dict[tuple[str, str], int]:
    """Of the active resources with an id of `rids` whose link is flapping, by (collection
    key, id): on how many of the last `UNAVAILABLE_WINDOW` nights its site answered 503
    "unavailable" (`_unavailable_nights`, as the report's row counts them); none for the
    others. A recheck's verdict says them in the row's words (`catalog.ops.verdict_lines`):
    it said "keeps switching between working and failing" of a site in maintenance."""
    found: dict[tuple[str, str], int] = {}
    with session_scope(engine) as session:
        for part in chunks(sorted(set(rids)), _CHUNK):
            query = (
                select(Collection.key, Resource.rid, Link.unavailable_nights, Link.last_checked_at)
                .join(Collection, Collection.id == Resource.collection_id)
                .join(Link, Link.id == Resource.link_id)
                .where(
                    Resource.rid.in_(part),
                    Resource.removed_at.is_(None),
                    Link.flapping.is_(True),
                )
            )
            for key, rid, kept, last in session.execute(query):
                if nights := _unavailable_nights(kept, last):
                    found[key, rid] = nights
    return found


def _with_unsteady_redirects(session: Session, resources: list[ResourceRow]) -> list[ResourceRow]:
    """Links redirecting permanently whose redirect keeps coming and going, with how many
    times (`unsteady_redirect`) and where it led (`unsteady_targets`): told apart here,
    every queue built on these rows offers no `accept-redirect` for them."""
    ids = sorted(
        {
            r.link_id
            for r in resources
            if r.link_id is not None and r.outcome is Outcome.REDIRECTED_PERMANENT
        }
    )
    counts: dict[int, int] = {}
    for start in range(0, len(ids), _CHUNK):  # SQLite caps the parameters of one statement
        counts.update(unsteady_redirects(session, ids[start : start + _CHUNK]))
    if not counts:
        return resources
    unsteady = sorted(counts)
    targets: dict[int, tuple[str, ...]] = {}
    for start in range(0, len(unsteady), _CHUNK):
        targets.update(redirect_turns(session, unsteady[start : start + _CHUNK]))
    return [
        replace(r, unsteady_redirect=counts[r.link_id], unsteady_targets=targets.get(r.link_id, ()))
        if r.link_id in counts
        else r
        for r in resources
    ]


def _steadied_in_window(
    session: Session,
    resources: Sequence[ResourceRow],
    run: RunInfo | None,
    previous: RunInfo | None,
    night: RunInfo | None,
) -> dict[int, datetime]:
    """The links whose redirect came to stay at a check in the window `_changes` reads."""
    if run is None:
        return {}
    first = night or run
    lower = previous.finished_at if previous and previous.finished_at else first.started_at
    upper = run.finished_at or run.started_at
    ids = sorted(
        {
            r.link_id
            for r in resources
            if r.link_id is not None and r.outcome is Outcome.REDIRECTED_PERMANENT
        }
    )
    found: dict[int, datetime] = {}
    for start in range(0, len(ids), _CHUNK):
        for link, at in steadied_redirects(session, ids[start : start + _CHUNK]).items():
            if as_utc(lower) <= at <= as_utc(upper):
                found[link] = at
    return found


def _with_own_start_checks(
    session: Session, resources: list[ResourceRow], apart: Sequence[int]
) -> list[ResourceRow]:
    """`resources`, those at the indexes `apart` (entries of a page that drifted from some
    of its entries alone) with the checks since their own start (`entry_start`): the
    link's count runs from its earliest drift, which is not theirs."""
    pks = sorted({resources[i].pk for i in apart})
    if not pks:
        return resources
    counted: dict[int, int] = {}
    for part in chunks(pks, 500):  # bound the IN list
        counted.update(recount_entries(session, part))
    for i in apart:
        resources[i] = replace(resources[i], checks_since=counted.get(resources[i].pk, 0))
    return resources


def _with_own_checks(
    session: Session, resources: list[ResourceRow], edited: Sequence[int]
) -> list[ResourceRow]:
    """`resources`, each entry that took its URL (an edit, or put back with another URL)
    after its link's current state began with its own checks of that URL (`own_checks`,
    `own_since`). The URL was another entry's before, and its earlier checks were that
    entry's: the row said "Broken since three weeks ago, 21 checks" of an entry edited
    yesterday, whose page (`linkhealth resource`'s history) lists one check of it.
    `edited`: the indexes of those to look at, the rest had their URL since before."""
    index = {resources[i].pk: i for i in edited if resources[i].link_id is not None}
    taken: dict[int, datetime] = {}
    for part in chunks(list(index), 1000):  # bound the IN list
        taken.update(
            (pk, at) for pk, (_, at) in urls_taken(session, Event.resource_id.in_(part)).items()
        )
    late = {
        pk: at
        for pk, at in taken.items()
        if (since := resources[index[pk]].since) is not None and as_utc(since) < at
    }
    if not late:
        return resources
    links = sorted({resources[index[pk]].link_id or 0 for pk in late})
    checked: defaultdict[int, list[datetime]] = defaultdict(list)
    pruned: dict[int, dict[str, int] | None] = {}
    for part in chunks(links, 1000):  # bound the IN list
        query = select(Observation.link_id, Observation.checked_at).where(
            Observation.link_id.in_(part),
            Observation.checked_at >= min(late.values()),
            # Not counted by `checks_since` either: our network down, or a request held
            # (its host away), is no check of a link.
            CHECKED,
        )
        for link_id, at in session.execute(query):
            checked[link_id].append(at)
        # The checks `db prune` deleted since each took its URL (`links.pruned_by_start`):
        # it keeps the first, so `own_since` stays the first check whatever was pruned.
        kept = select(Link.id, Link.pruned_by_start).where(Link.id.in_(part))
        pruned.update((link_id, counts) for link_id, counts in session.execute(kept))
    for pk, at in late.items():
        r = resources[index[pk]]
        own = [c for c in checked.get(r.link_id or 0, ()) if as_utc(c) >= at]
        resources[index[pk]] = replace(
            r,
            own_checks=len(own) + pruned_since(pruned.get(r.link_id or 0), at),
            own_since=min(own, key=as_utc, default=None),
        )
    return resources


def _as_dicts(result: Any) -> Iterator[dict[str, Any]]:
    """Core rows read as dicts: a Row's attribute access costs ~1 µs a column, and
    `dict(zip(...))` a quarter of `row._asdict()`'s cost."""
    keys = tuple(result.keys())
    for row in result:
        yield dict(zip(keys, row, strict=True))


def _with_moved_to(session: Session, resources: list[ResourceRow]) -> list[ResourceRow]:
    """Failing links whose last working check was a permanent redirect, with that redirect's
    target as `suggested_url`: a site that moved (ncjrs.gov to ojp.gov) and then let the
    old host lapse left the report suggesting an archived copy of the old address, or
    "wait", where it had said "switch to the new address" for days.

    Only a link that now fails at its own address, before any redirect: one whose check
    still follows the move fails at the new address or past it (http:// to https://, and
    the https:// page gone), and "use the new address" would name the broken page."""
    failing = {
        r.link_id
        for r in resources
        if r.link_id is not None
        and r.suggested_url is None
        and r.outcome is not None
        and r.outcome.is_failure
        and (r.final_url is None or r.ends_at_link)
    }
    if not failing:
        return resources
    worked = WORKED
    moved: dict[int, str] = {}
    ids = sorted(failing)
    for start in range(0, len(ids), _CHUNK):  # SQLite caps the parameters of one statement
        last = (
            select(Observation.link_id, func.max(Observation.id).label("id"))
            .where(
                Observation.link_id.in_(ids[start : start + _CHUNK]),
                Observation.outcome.in_(worked),
            )
            .group_by(Observation.link_id)
            .subquery()
        )
        for link_id, url, target in session.execute(
            select(
                Observation.link_id,
                Observation.url,
                func.coalesce(Observation.suggested_url, Observation.final_url),
            )
            .join(last, last.c.id == Observation.id)
            .where(Observation.outcome == Outcome.REDIRECTED_PERMANENT.value)
        ):
            if target and target != url:
                moved[link_id] = target
    if not moved:
        return resources
    return [
        replace(r, suggested_url=moved[r.link_id])
        if r.link_id in moved and r.suggested_url is None
        else r
        for r in resources
    ]


def _with_walled_move(session: Session, resources: list[ResourceRow]) -> list[ResourceRow]:
    """Links whose last check followed a permanent redirect to another address and met a
    bot check there (`blocked`), with that redirect's target as `suggested_url`: the site
    moved the page, and the new address showed only as where the check ended."""
    walled = {
        r.link_id
        for r in resources
        if r.link_id is not None
        and r.outcome is Outcome.BLOCKED
        and r.suggested_url is None
        and r.final_url is not None
        and not r.ends_at_link
    }
    if not walled:
        return resources
    moved: dict[int, str] = {}
    ids = sorted(walled)
    for start in range(0, len(ids), _CHUNK):  # SQLite caps the parameters of one statement
        for link_id, url, chain in session.execute(
            select(Link.id, Observation.url, Observation.chain)
            .join(Observation, Observation.id == Link.last_observation_id)
            .where(Link.id.in_(ids[start : start + _CHUNK]))
        ):
            hops = [Hop(h.get("url") or "", h.get("status")) for h in chain or () if h]
            target = moved_to(url, hops)
            if target and target != url:
                moved[link_id] = target
    if not moved:
        return resources
    return [
        replace(r, suggested_url=moved[r.link_id]) if r.link_id in moved else r for r in resources
    ]


#: Link ids per statement of `_with_moved_to`.
_CHUNK = 5000
#: The outcomes of a check that found the link working, the last of which `_with_moved_to`
#: reads (and `db prune` keeps, `catalog.retention`).
WORKED = (Outcome.OK.value, Outcome.REDIRECTED_PERMANENT.value)

#: `decisions.kind` of the decisions that set a resource aside.
_SET_ASIDE = ("snooze", "ignore")


def _with_deciders(session: Session, resources: list[ResourceRow]) -> list[ResourceRow]:
    """`resources`, the snoozed and ignored ones with who set them aside (few rows: one
    query for them alone, not a join over every resource)."""
    aside = {r.pk: i for i, r in enumerate(resources) if r.snoozed_until or r.ignored_reason}
    if not aside:
        return resources
    latest: dict[tuple[int, str], Decided] = {}
    pks = list(aside)
    for part in chunks(pks, 1000):  # bound the IN list
        query = (
            select(Decision.resource_id, Decision.kind, Decision.decided_by, Decision.at)
            .where(
                Decision.resource_id.in_(part),
                Decision.kind.in_(_SET_ASIDE),
            )
            .order_by(Decision.at, Decision.id)
        )
        for pk, kind, by, at in session.execute(query):
            latest[(pk, kind)] = Decided(by, as_utc(at))  # later ones win
    for pk, i in aside.items():
        r = resources[i]
        resources[i] = replace(
            r,
            snoozed_by=latest.get((pk, "snooze")) if r.snoozed_until else None,
            ignored_by=latest.get((pk, "ignore")) if r.ignored_reason else None,
        )
    return resources


#: `decisions.kind` of the decisions a lapsed set-aside's note gives way to.
_DECIDED_AGAIN = (*_SET_ASIDE, "unignore")


def _with_lapses(session: Session, resources: list[ResourceRow]) -> list[ResourceRow]:
    """`resources`, those whose ignore or snooze a run ended (`store.lapse_set_asides`)
    with its note, until a decision about them after the one that ended (events of one
    kind, few rows)."""
    index = {r.pk: i for i, r in enumerate(resources)}
    pks = list(index)
    lapsed: dict[int, Mapping[str, Any]] = {}
    for part in chunks(pks, 1000):  # bound the IN list
        query = (
            select(Event.resource_id, Event.details)
            .where(Event.resource_id.in_(part), Event.kind == LAPSED)
            .order_by(Event.at, Event.id)
        )
        for pk, details in session.execute(query):
            lapsed[pk] = details or {}  # later ones win
    if not lapsed:
        return resources
    for part in chunks(sorted(lapsed), 1000):  # a run may lapse thousands: bound the IN list
        decided = select(Decision.resource_id, func.max(Decision.id)).where(
            Decision.resource_id.in_(part), Decision.kind.in_(_DECIDED_AGAIN)
        )
        for pk, latest in session.execute(decided.group_by(Decision.resource_id)):
            if latest is not None and latest > _lapsed_decision(lapsed[pk]):
                del lapsed[pk]
    for pk, details in lapsed.items():
        i = index[pk]
        resources[i] = replace(resources[i], lapsed=lapse_note(details, why=False))
    return resources


def _lapsed_decision(details: Mapping[str, Any]) -> int:
    """The latest decision a lapse ended: an entry both ignored and snoozed had two."""
    also = details.get("also")
    ids = [details.get("decision_id"), also.get("decision_id") if isinstance(also, Mapping) else 0]
    return max(int(i) for i in (*ids, 0) if isinstance(i, int))


def _refusals_since(session: Session, since: datetime | None) -> Refusals | None:
    """The refusals for a broken file after `since`, when the reported run read the
    catalog: a refusal while it ran came from an edit it did not see. A refusal for ids
    no catalog holds holds up no other run, and is left out."""
    query = select(Run.started_at, Run.trigger, Run.summary).where(Run.status == REFUSED)
    if since is not None:
        query = query.where(Run.started_at > since)
    rows = [
        r
        for r in session.execute(query.order_by(Run.started_at, Run.id))
        if not (r.summary or {}).get(REFUSED_IDS)
    ]
    if not rows:
        return None
    first, latest = rows[0], rows[-1]
    return Refusals(
        count=len(rows),
        first_at=as_utc(first.started_at),
        latest_at=as_utc(latest.started_at),
        latest_trigger=latest.trigger,
        latest_reason=str((latest.summary or {}).get("refused_reason") or "no reason recorded"),
    )


def broken_and_drift(engine: Engine, *, now: datetime) -> tuple[int, int]:
    """(resources in the report's "Confirmed broken" group, those in its "Page no longer
    matches its entry" group) at `now`, in one query, so a run's before/after notices do not
    read every resource (at 100,000 resources that read was the flow's largest allocation).

    The groups' own rule, said in SQL: `health.confirmed_broken` (not the raw state
    `broken`: a soft 404 has a group of its own, an invalid URL stored as suspect by an
    earlier version is broken), drift only for a link not confirmed broken, and neither for
    a resource snoozed until after `now` or ignored, which the queue leaves out.
    """
    drift = groups.entry_drift(Link.drift_reason, Link.drift_entries, Resource.id)
    query = (
        select(*_group_counts(Link.outcome, Link.state, drift, now))
        .select_from(Resource)
        .join(Link, Resource.link_id == Link.id)
        .where(Resource.removed_at.is_(None))
    )
    with session_scope(engine) as session:
        broken_count, drifted = session.execute(query).one()
    return int(broken_count), int(drifted)


def _group_counts(outcome: Any, state: Any, drift: Any, now: datetime) -> tuple[Any, Any]:
    """The counts of `broken_and_drift` for a link whose outcome, state and drift reason are
    these expressions, over rows of resources joined to their links."""
    snoozed_until, ignored = _optional(Resource, "snoozed_until", "ignored_reason")
    in_queue = groups.queued(snoozed_until, ignored, now)

    def counted(condition: Any) -> Any:
        return func.count(case((and_(in_queue, condition), 1)))

    return (
        counted(groups.confirmed_broken(outcome, state)),
        counted(groups.drifted(outcome, state, drift)),
    )


#: The events that set or clear a link's drift flag (`catalog.health.apply_drift`).
_DRIFT_MOVES = ("drift_detected", "drift_cleared")


def last_event_id(engine: Engine) -> int:
    """The newest event's id, 0 for none. The events a run writes come after it: read by the
    primary key from there (`broken_and_drift_of_run`), not by a scan of every event."""
    with session_scope(engine) as session:
        return int(session.scalar(select(func.max(Event.id))) or 0)


def broken_and_drift_of_run(
    engine: Engine, run_id: int, *, since_event: int, now: datetime
) -> tuple[tuple[int, int], tuple[int, int]]:
    """`broken_and_drift` at `now` as it was before run `run_id` and as it is after it, in
    one query. Both count the entries in the catalog and set aside at `now`; the links the
    run changed are counted before with the values their first change of each column in the
    run had replaced (its events, ids above `since_event`), so the two differ only by the
    links the run saw enter or leave a group. A snooze that ended, an entry ignored,
    unignored, added or removed meanwhile, or a link another run changed, moves neither.

    The only changes written without an event (a first check that works, `unchecked` ->
    `ok`, `recovered` -> `ok`) move no link in or out of a group.

    Drift is an entry's (`groups.entry_drift`): each resource's drift before the run is
    what the first drift event of the run that concerns it replaced, its own (naming it)
    or its link's (naming no entry: it concerned every entry).
    """
    drift = groups.entry_drift(Link.drift_reason, Link.drift_entries, Resource.id)
    # The run's events by the primary key range alone: grouped by the bare column, SQLite
    # read every event ever written through the index on link_id instead. (Cast: a bare
    # `+ 0` has no type, and SQLite then scanned the groups for each resource.)
    link_id = cast(Event.link_id + 0, Integer).label("link_id")
    first = (
        select(
            link_id,
            func.min(case((Event.kind == "outcome_changed", Event.id))).label("outcome"),
            func.min(case((Event.kind == "state_changed", Event.id))).label("state"),
            func.min(
                case((and_(Event.kind.in_(_DRIFT_MOVES), Event.resource_id.is_(None)), Event.id))
            ).label("drift"),
        )
        .where(Event.id > since_event, Event.run_id == run_id)
        .group_by(link_id)
        .subquery()
    )
    # Each entry's own drift events (`apply_drift` names the entry when not all are concerned).
    entry_id = cast(Event.resource_id + 0, Integer).label("resource_id")
    own = (
        select(link_id, entry_id, func.min(Event.id).label("drift"))
        .where(
            Event.id > since_event,
            Event.run_id == run_id,
            Event.kind.in_(_DRIFT_MOVES),
            Event.resource_id.is_not(None),
        )
        .group_by(link_id, entry_id)
        .subquery()
    )
    first_drift = case(
        (own.c.drift.is_(None), first.c.drift),
        (first.c.drift.is_(None), own.c.drift),
        (own.c.drift < first.c.drift, own.c.drift),
        else_=first.c.drift,
    )
    was_outcome, was_state, was_drift = aliased(Event), aliased(Event), aliased(Event)
    outcome = case(
        (first.c.outcome.is_not(None), was_outcome.details["old"].as_string()),
        else_=Link.outcome,
    )
    state = case(
        (first.c.state.is_not(None), was_state.details["old"].as_string()), else_=Link.state
    )
    drift_before = case(
        (first_drift.is_(None), drift),
        (was_drift.kind == "drift_cleared", was_drift.details["old"].as_string()),
        else_=None,
    )
    query = (
        select(
            *_group_counts(outcome, state, drift_before, now),
            *_group_counts(Link.outcome, Link.state, drift, now),
        )
        .select_from(Resource)
        .join(Link, Resource.link_id == Link.id)
        .outerjoin(first, first.c.link_id == Link.id)
        .outerjoin(was_outcome, was_outcome.id == first.c.outcome)
        .outerjoin(was_state, was_state.id == first.c.state)
        .outerjoin(own, and_(own.c.link_id == Link.id, own.c.resource_id == Resource.id))
        .outerjoin(was_drift, was_drift.id == first_drift)
        .where(Resource.removed_at.is_(None))
    )
    with session_scope(engine) as session:
        broken_before, drift_was, broken_after, drift_now = session.execute(query).one()
    return (int(broken_before), int(drift_was)), (int(broken_after), int(drift_now))


def iter_resources(engine: Engine, *, chunk: int = 500) -> Iterator[ResourceRow]:
    """The rows of `report_data(engine).resources`, in the same order, streamed: for a
    caller that keeps only a few of them (the flow's action-queue artifact, at the end of
    a run, where a 100k run's memory peaked). Each chunk is assembled as the report's
    rows are (`_report_rows`), reading its own links' checks and decisions in bulk."""
    with session_scope(engine) as session:
        result = session.connection().execute(
            _active_resources().execution_options(yield_per=chunk)
        )
        keys = tuple(result.keys())
        for part in result.partitions():
            yield from _report_rows(session, [dict(zip(keys, row, strict=True)) for row in part])


def iter_resources_of(
    engine: Engine, resources: Iterable[tuple[str, str]], *, chunk: int = 500
) -> Iterator[ResourceRow]:
    """The rows `iter_resources` yields of `resources` ((collection key, id) pairs) alone,
    in its order: for `check --strict --id`, whose few resources cost reading and assembling
    every active resource's row (1.3 CPU-s per 10k). A row needs no other resource's: its
    link's checks, its deciders and its link's move are its own (`_report_rows`)."""
    wanted = set(resources)
    rids = sorted({rid for _, rid in wanted})
    found: list[dict[str, Any]] = []
    with session_scope(engine) as session:
        for start in range(0, len(rids), chunk):  # far below any bound-parameter limit
            result = session.connection().execute(
                _active_resources().where(Resource.rid.in_(rids[start : start + chunk]))
            )
            found.extend(r for r in _as_dicts(result) if (r["collection_key"], r["rid"]) in wanted)
        # `_active_resources`' order across chunks: `byte_order` is Python's code point order.
        found.sort(key=lambda r: (r["collection_title"], r["rid"], r["collection_key"]))
        for start in range(0, len(found), chunk):
            yield from _report_rows(session, found[start : start + chunk])


def resource_row(engine: Engine, pk: int) -> ResourceRow | None:
    """The row `report_data(engine).resources` holds for the resource `pk` (resources.id),
    read alone: its since, checks and moved-to address as the report has them (None for a
    resource removed from the catalog, which the report no longer lists). For
    `linkhealth resource ID`, which must not tell a link's story differently."""
    with session_scope(engine) as session:
        result = session.connection().execute(_active_resources().where(Resource.id == pk))
        rows = _report_rows(session, list(_as_dicts(result)))
    return rows[0] if rows else None


def resource_ids_at(
    engine: Engine, addresses: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """(collection key, URL as written) -> the ids of the catalog's entries at that URL,
    in the report's order (`reports.build.IdsAt`, for the streamed action queue)."""
    found: dict[tuple[str, str], list[str]] = {}
    wanted = set(addresses)
    with session_scope(engine) as session:
        urls = sorted({url for _, url in wanted})
        for start in range(0, len(urls), 500):  # far below any bound-parameter limit
            rows = session.execute(
                select(Collection.key, Resource.url, Resource.rid)
                .join(Collection, Resource.collection_id == Collection.id)
                .where(Resource.removed_at.is_(None), Resource.url.in_(urls[start : start + 500]))
                .order_by(byte_order(Collection.title), byte_order(Resource.rid))
            )
            for key, url, rid in rows:
                if (key, url) in wanted:
                    found.setdefault((key, url), []).append(rid)
    return found


def sharing_links(
    engine: Engine, entries: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """(collection key, id) of `entries` -> the other active entries at its link (the same
    URL: a check of it is theirs too), as `KEY/ID`, in byte order; entries alone there are
    left out."""
    wanted = set(entries)
    if not wanted:
        return {}
    keys, rids = sorted({k for k, _ in wanted}), sorted({r for _, r in wanted})
    # The entries a curator named, any number of them: IN lists of 1,000 (the few
    # catalogs' keys with each), each link's sharers read whole within one list.
    with session_scope(engine) as session:
        mine = {
            (key, rid): link_id
            for part in chunks(rids, 1000)
            for key, rid, link_id in session.execute(
                select(Collection.key, Resource.rid, Resource.link_id)
                .join(Collection, Resource.collection_id == Collection.id)
                .where(
                    Resource.removed_at.is_(None),
                    Collection.key.in_(keys),
                    Resource.rid.in_(part),
                    Resource.link_id.is_not(None),
                )
            )
            if (key, rid) in wanted
        }
        at: dict[int | None, list[str]] = defaultdict(list)
        for part in chunks(sorted(set(mine.values())), 1000):
            for key, rid, link_id in session.execute(
                select(Collection.key, Resource.rid, Resource.link_id)
                .join(Collection, Resource.collection_id == Collection.id)
                .where(Resource.removed_at.is_(None), Resource.link_id.in_(part))
                .order_by(byte_order(Collection.key), byte_order(Resource.rid))
            ):
                at[link_id].append(f"{key}/{rid}")
    out = {}
    for (key, rid), link_id in mine.items():
        others = [name for name in at[link_id] if name != f"{key}/{rid}"]
        if others:
            out[(key, rid)] = others
    return out


def shared_resource_ids(engine: Engine) -> frozenset[str]:
    """Resource ids that more than one catalog uses: commands must name the catalog too."""
    query = (
        select(Resource.rid)
        .where(Resource.removed_at.is_(None))
        .group_by(Resource.rid)
        .having(func.count() > 1)
    )
    with session_scope(engine) as session:
        return frozenset(session.scalars(query))


def iter_link_history(
    engine: Engine,
    *,
    since: datetime | None = None,
    per_link: int = 30,
    shard: tuple[int, int] = (0, 1),
) -> Iterator[tuple[int, list[ObservationRow]]]:
    """(link id, its newest `per_link` observations newest first), streamed by link id.

    One query read in chunks, so a report can write a page per resource as it goes.
    `shard` = (k, n) keeps the links whose id is k modulo n (one process's share).
    """
    query = select(*_OBSERVATION_COLUMNS).order_by(
        Observation.link_id, Observation.checked_at.desc(), Observation.id.desc()
    )
    if since is not None:
        query = query.where(Observation.checked_at >= since)
    part, parts = shard
    if parts > 1:
        query = query.where(Observation.link_id % parts == part)
    with session_scope(engine) as session:
        # Core execution: the ORM result path costs more per row than the rows themselves.
        result = session.connection().execute(query.execution_options(yield_per=5000))
        for link_id, group in groupby(result, key=itemgetter(1)):
            kept: list[ObservationRow] = []
            for obs in group:
                if len(kept) < per_link:
                    kept.append(ObservationRow(*obs))  # type: ignore[call-arg]
            yield link_id, kept


def history_events(
    engine: Engine, *, since: datetime | None = None, shard: tuple[int, int] = (0, 1)
) -> tuple[dict[int, list[EventRow]], dict[int, list[EventRow]]]:
    """Events newest first, keyed by resource pk and by link id (one query).

    `shard` = (k, n) keeps the events of the resources whose current link id is k modulo
    n (no link: 0), and the link events of such links: the pages of `iter_link_history`'s
    shard (k, n).
    """
    by_resource: dict[int, list[EventRow]] = defaultdict(list)
    by_link: dict[int, list[EventRow]] = defaultdict(list)
    query = _events_query().order_by(Event.at.desc(), Event.id.desc())
    if since is not None:
        query = query.where(Event.at >= since)
    part, parts = shard
    if parts > 1:
        owner = case(
            (Event.resource_id.is_not(None), func.coalesce(Resource.link_id, 0)),
            else_=func.coalesce(Event.link_id, 0),
        )
        query = query.where(owner % parts == part)
    with session_scope(engine) as session:
        for row in session.connection().execute(query.execution_options(yield_per=5000)):
            event = _event_row(row)
            if event.resource_pk is not None:
                by_resource[event.resource_pk].append(event)
            elif event.link_id is not None:
                by_link[event.link_id].append(event)
    return dict(by_resource), dict(by_link)


def entry_events(
    engine: Engine, resource_pk: int, *, kinds: Sequence[str] = ("added", "removed")
) -> tuple[EventRow, ...]:
    """The events of kinds `kinds` about one resource (its additions and removals by
    default), oldest first, however many link events came since: whether it was put
    back after a removal must not depend on a history window."""
    query = _events_query().where(Event.resource_id == resource_pk, Event.kind.in_(kinds))
    with session_scope(engine) as session:
        rows = session.connection().execute(query.order_by(Event.at, Event.id))
        return tuple(_event_row(r) for r in rows)


def recorded_flow_runs(engine: Engine, flow_run_ids: Iterable[str]) -> set[str]:
    """Which of the Prefect `flow_run_ids` a run is recorded for: their flow started (a
    night's run that crashed before it did is one Prefect lost: `flows.nightly_watch`)."""
    with session_scope(engine) as session:
        found = session.scalars(
            select(Run.flow_run_id).where(Run.flow_run_id.in_(list(flow_run_ids)))
        )
        return {str(flow_run_id) for flow_run_id in found}


def full_run_started_since(
    engine: Engine, moment: datetime, catalogs: Sequence[str] = ()
) -> RunInfo | None:
    """The first full run that started at or after `moment` and checked every catalog
    file of `catalogs`: completed, with the network up; one shard of a sharded night only
    once its parent grouped the night's shards. One still running is for the lease to
    judge (alive, it refuses the night; dead, the night aborts it and checks). A curator's
    `check --catalog trial.yaml` holds the full-run lease too, but checks only that file.

    A scheduled night that Prefect starts late, after the machine was off or the server
    away, asks this: a runner picks up every missed night at once, and one night's check
    after another of the whole catalog, back to back, learns nothing new and loads every
    site as many times. The first late night checks; the others find it here."""
    query = (
        select(Run)
        .where(Run.started_at >= moment, Run.status == "completed")
        .order_by(Run.started_at, Run.id)
    )
    with session_scope(engine) as session:
        for row in session.scalars(query):
            summary = row.summary or {}
            lease = str(summary.get("lease") or "")
            sharded = lease.startswith(f"{FULL_RUN_LEASE}:") and SHARDED_RUN in summary
            checked = {str(path) for path in summary.get("catalogs") or ()}
            if (
                (lease == FULL_RUN_LEASE or sharded)
                and checked >= set(catalogs)
                and not row.network_unavailable
            ):
                return _run_info(row)
    return None


def runs_before_the_latest(engine: Engine, cutoff: datetime, kept: timedelta) -> set[int]:
    """Ids of the runs that finished before `cutoff` and more than `kept` before the run the
    latest report shows (`latest_finished_run_id`) finished, all older than that run: whose
    reports `db prune` may delete (`reports.publish.prune_run_reports`) while the latest
    report still links the rest (its earlier nights count back from its own run's finish,
    `reports.build._with_earlier_nights`; a run started since and not finished is not it)."""
    with session_scope(engine) as session:
        shown = _run(session, None)
        if shown is None or shown.finished_at is None:
            return set()
        before = min(cutoff, shown.finished_at - kept)
        return set(
            session.scalars(select(Run.id).where(Run.id < shown.id, Run.finished_at < before))
        )


def latest_finished_run_id(engine: Engine) -> int | None:
    """The run a report shows by default."""
    with session_scope(engine) as session:
        latest = _run(session, None)
    return latest.id if latest else None


def _run(session: Session, run_id: int | None) -> RunInfo | None:
    if run_id is None:
        row = session.scalars(
            select(Run)
            .where(Run.finished_at.is_not(None))
            .order_by(Run.finished_at.desc(), Run.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
    else:
        row = session.get(Run, run_id)
        if row is None:
            raise NotFoundError(
                f"run {run_id} does not exist; `linkhealth status --limit 50` lists the runs"
            )
    return _whole_run(session, row)


def _whole_run(session: Session, row: Run) -> RunInfo:
    """`row`, or the sharded run it was one shard of: a sharded night is one run to a
    curator, and its last shard alone would show a part of the URLs and miss an outage
    that only another shard's machine had."""
    key = (row.summary or {}).get(SHARDED_RUN)
    if not key:
        return _run_info(row)
    shards = session.scalars(
        select(Run).where(Run.summary[SHARDED_RUN].as_string() == key).order_by(Run.id)
    ).all()
    return _merged([_run_info(r) for r in shards] or [_run_info(row)])


def _merged(shards: Sequence[RunInfo]) -> RunInfo:
    last = shards[-1]
    started = min(part.started_at for part in shards)
    finished = max((p.finished_at for p in shards if p.finished_at is not None), default=None)
    counts: Counter[str] = Counter()
    unsent: Counter[str] = Counter()
    for part in shards:
        counts.update(part.counts)
        unsent.update(part.unsent)
    statuses = {part.status for part in shards}
    status = next((s for s in ("failed", "aborted", "running") if s in statuses), last.status)
    return RunInfo(
        id=last.id,
        trigger=last.trigger,
        status=status,
        started_at=started,
        finished_at=finished,
        urls_planned=_sum_planned(shards),
        urls_checked=sum(part.urls_checked for part in shards),
        network_unavailable=any(part.network_unavailable for part in shards),
        duration_s=(finished - started).total_seconds() if finished is not None else None,
        counts=MappingProxyType(dict(sorted(counts.items()))),
        shards=tuple(shards),
        whole=all(part.whole for part in shards),
        drifted=None
        if any(part.drifted is None for part in shards)
        else sum(part.drifted or 0 for part in shards),
        unsent=MappingProxyType(dict(sorted(unsent.items()))),
    )


def _sum_planned(shards: Sequence[RunInfo]) -> int | None:
    """The URLs a sharded night planned: unknown when a shard's plan is."""
    planned = [part.urls_planned for part in shards]
    return None if None in planned else sum(p for p in planned if p is not None)


def known_plan(planned: int | None, checked: int | None) -> int | None:
    """The URLs a run planned, or None when it recorded no plan: more URLs checked than
    planned means checks were stored without a plan (a script, a test through
    `catalog.store`), and "11 of 0" would be nonsense."""
    planned, checked = planned or 0, checked or 0
    return None if checked > planned else planned


def _run_info(row: Run) -> RunInfo:
    return RunInfo(
        id=row.id,
        trigger=row.trigger,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        urls_planned=known_plan(row.urls_planned, row.urls_checked),
        urls_checked=row.urls_checked or 0,
        network_unavailable=bool(row.network_unavailable),
        duration_s=row.duration_s,
        counts=MappingProxyType({str(k): int(v) for k, v in (row.counts or {}).items()}),
        whole=_whole(row.summary or {}),
        drifted=_count_or_none((row.summary or {}).get(DRIFTED_LINKS)),
        unsent=unsent_of(row.summary),
    )


def _count_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unsent_of(summary: Mapping[str, Any] | None) -> Mapping[str, int]:
    """A run's `UNSENT_LINKS` as its summary keeps them, by outcome; none for a run closed
    before they were counted (or a summary edited by hand). The report's run facts and
    trend, and `linkhealth status`'s run lines (`ops.run_lines`), read them here."""
    value = (summary or {}).get(UNSENT_LINKS)
    if not isinstance(value, Mapping):
        return MappingProxyType({})
    counts = {str(k): n for k, v in value.items() if (n := _count_or_none(v))}
    return MappingProxyType(counts)


def _whole(summary: Mapping[str, Any]) -> bool:
    """Whether a run checked the whole catalog: it held the full-run lease, or it was one
    shard of a sharded run (which its parent marks when all shards end; a shard whose
    parent died before that is a part only). Runs from before leases count as whole."""
    if "holder" not in summary:
        return True
    lease = summary.get("lease")
    if lease == FULL_RUN_LEASE:
        return True
    return bool(lease) and str(lease).startswith(f"{FULL_RUN_LEASE}:") and SHARDED_RUN in summary


def _previous_run(session: Session, run: RunInfo) -> RunInfo | None:
    """The last whole run before `run`: "since the last run" starts when it finished. A
    recheck of a few ids in between is left out, as in the trend: its changes are then
    among the next night's, not in no night's report. With no whole run before, the last
    recheck."""
    rows = session.scalars(
        select(Run)
        .where(
            Run.finished_at.is_not(None),
            Run.finished_at <= run.started_at,
            Run.id.not_in(run.run_ids),
        )
        .order_by(Run.finished_at.desc(), Run.id.desc())
        .execution_options(yield_per=50)
    )
    latest = None
    for row in rows:
        if _whole(row.summary or {}):
            return _whole_run(session, row)
        latest = latest or row
    return _whole_run(session, latest) if latest else None  # only rechecks so far


def _trend_runs(session: Session, run: RunInfo, days: int) -> tuple[RunInfo, ...]:
    end = run.finished_at or run.started_at
    rows = session.scalars(
        select(Run)
        .where(
            Run.finished_at.is_not(None),
            Run.finished_at >= end - timedelta(days=days),
            Run.finished_at <= end,
        )
        .order_by(Run.finished_at, Run.id)
    )
    # The shards of a sharded run are one entry, where its first shard finished. Rechecks
    # of a few ids are left out: two failing links rechecked would draw a collapse.
    entries: list[RunInfo | str] = []
    shards: defaultdict[str, list[RunInfo]] = defaultdict(list)
    for row in rows:
        key = (row.summary or {}).get(SHARDED_RUN)
        if not key:
            info = _run_info(row)
            if info.whole:
                entries.append(info)
            continue
        if key not in shards:
            entries.append(key)
        shards[key].append(_run_info(row))
    return tuple(
        _merged(sorted(shards[e], key=attrgetter("id"))) if isinstance(e, str) else e
        for e in entries
    )


def _changes(
    session: Session, run: RunInfo, previous: RunInfo | None, night: RunInfo | None = None
) -> tuple[EventRow, ...]:
    """The events since `previous` finished, up to `run`'s end; `night`, the whole run a
    recheck `run` follows, has its events among them (`previous` is then the one before)."""
    first = night or run
    lower = previous.finished_at if previous and previous.finished_at else first.started_at
    upper = run.finished_at or run.started_at
    window = and_(Event.at > lower, Event.at <= upper)
    if previous is None:
        window = and_(Event.at >= lower, Event.at <= upper)
    ids = (*run.run_ids, *(night.run_ids if night else ()))
    query = _events_query().where(or_(Event.run_id.in_(ids), window))
    return tuple(_event_row(r) for r in session.execute(query.order_by(Event.at, Event.id)))


def _events_query() -> Select[Any]:
    # Columns, not the Event entity: building ORM instances cost more than the query.
    query: Any = (
        select(
            Event.id,
            Event.at,
            Event.kind,
            Event.run_id,
            Event.resource_id.label("resource_pk"),
            Event.link_id,
            Event.details,
            Resource.rid,
            Resource.title,
            Collection.key.label("collection_key"),
            Collection.title.label("collection_title"),
            Link.url.label("link_url"),
        )
        .outerjoin(Resource, Resource.id == Event.resource_id)
        .outerjoin(Collection, Collection.id == Resource.collection_id)
        .outerjoin(Link, Link.id == Event.link_id)
    )
    return query


def _event_row(row: Any) -> EventRow:
    return EventRow(
        id=row.id,
        at=row.at,
        kind=row.kind,
        run_id=row.run_id,
        resource_pk=row.resource_pk,
        link_id=row.link_id,
        details=MappingProxyType(dict(row.details or {})),
        resource_id=row.rid,
        resource_title=row.title,
        collection_key=row.collection_key,
        collection_title=row.collection_title,
        link_url=row.link_url,
    )


#: Aliases of `observations` made once, not per query: a new alias builds a proxy of each
#: of the table's columns when first read (~0.8 ms, most of building `_active_resources`),
#: and these queries are built for every report, resource page and staleness read. Each is
#: used by one query builder only: an alias that appeared twice in one statement would be
#: one table there, not two.
_LATEST, _TRIED = aliased(Observation), aliased(Observation)


def _active_resources() -> Select[Any]:
    latest = _LATEST
    query: Any = (
        select(
            Resource.id.label("pk"),
            Resource.collection_id,
            Collection.key.label("collection_key"),
            Collection.title.label("collection_title"),
            Resource.rid,
            Resource.title,
            Resource.publisher,
            Resource.url,
            Resource.link_id,
            Link.host,
            Link.outcome,
            Link.state,
            Link.reason,
            Link.http_status,
            Link.final_url,
            (Link.final_url == Link.url).label("ends_at_link"),
            Link.title.label("page_title"),
            Link.fingerprinted_at.label("title_read_at"),
            Link.content_length,
            Link.consecutive_failures,
            # The entry's own: an entry its page still holds is not "drifting since".
            entry_start(Resource.id).label("problem_start"),
            own_start(Resource.id).label("drift_apart"),
            Resource.updated_at.label("entry_updated_at"),
            Link.last_checked_at,
            latest.suggested_url,
            latest.elapsed_ms,
            latest.retries,
            _last_try_held().label("last_held"),
            held_tries().label("held_tries"),
            Resource.fields["type"].as_string().label("resource_type"),
            # Only of the entries the page drifted from (`groups.entry_drift`).
            groups.entry_drift(Link.drift_reason, Link.drift_entries, Resource.id).label(
                "drift_reason"
            ),
            *_optional(Link, "archive_url", "flapping", "contact_reason", "contacts_gone"),
            # A flapping link's nights of 503 (`_unavailable_nights`); none read of the rest.
            case((Link.flapping.is_(True), Link.unavailable_nights), else_=None).label(
                "unavailable_nights"
            ),
            # Which gone contacts the entry names (`entry_contact_reason`): read of the
            # few entries whose link has lost one.
            case(
                (Link.contact_reason.is_not(None), Resource.fields["description"].as_string()),
                else_=None,
            ).label("entry_description"),
            _contacts_missed(),
            *_optional(
                Resource, "snoozed_until", "snooze_reason", "ignored_reason", "stale_reasons"
            ),
        )
        .join(Collection, Resource.collection_id == Collection.id)
        .outerjoin(Link, Resource.link_id == Link.id)
        .outerjoin(latest, latest.id == Link.last_observation_id)
        .where(Resource.removed_at.is_(None))
        # The key breaks the tie of two catalogs with the same title and id, which the
        # database would otherwise order as it likes: a report's rows must not swap places
        # between two renders of the same history.
        .order_by(
            byte_order(Collection.title), byte_order(Resource.rid), byte_order(Collection.key)
        )
    )
    return query


def _last_try_held() -> Any:
    """Of a link tried but never checked, whether its last try was held (its host had said
    it was away: `Observation.held`), not our network down; NULL for the rest. The try is
    the observation stamped with its `last_checked_at` (ix_observations_link_checked):
    held tries are no check, so `last_observation_id` never points at one."""
    tried = _TRIED
    held = (
        select(tried.held)
        .where(tried.link_id == Link.id, tried.checked_at == Link.last_checked_at)
        .order_by(tried.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return case((Link.outcome.is_(None) & Link.last_checked_at.is_not(None), held), else_=None)


def _contacts_missed() -> Any:
    """`links.contacts_seen` (when each contact was first missed) of the few links that lost
    one, NULL for the rest (or before the schema has it)."""
    if "contacts_seen" not in Link.__table__.c or "contact_reason" not in Link.__table__.c:
        return literal(None).label("contacts_seen")
    return case((Link.contact_reason.is_not(None), Link.contacts_seen), else_=None).label(
        "contacts_seen"
    )


def _optional(table: Any, *names: str) -> list[Any]:
    """Columns the schema may not have yet (drift, archive, snooze, ...): NULL until it does.

    Lets the report read them the day their migration lands, without a release in between.
    """
    columns = table.__table__.c
    return [
        getattr(table, name) if name in columns else literal(None).label(name) for name in names
    ]


def _stale_reasons(value: Any) -> tuple[str, ...]:
    """`[{"code": ..., "reason": ...}, ...]` (or plain strings) -> the reasons."""
    if not value:
        return ()
    reasons = []
    for item in value:
        text = item.get("reason") or item.get("code") if isinstance(item, dict) else item
        if text:
            reasons.append(str(text))
    return tuple(reasons)


def _stale_codes(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(str(i["code"]) for i in value if isinstance(i, dict) and i.get("code"))


def _stale_since(value: Any) -> datetime | None:
    """The oldest `since` among stored reasons (ISO text); None when none has one."""
    found = []
    for item in value or ():
        since = item.get("since") if isinstance(item, dict) else None
        if isinstance(since, str):
            try:
                found.append(as_utc(datetime.fromisoformat(since)))
            except ValueError:
                continue
    return min(found, default=None)


def _outcome(value: str | None) -> Outcome | None:
    return Outcome.known(value)


def _resource_row(row: Mapping[str, Any], checks_since: int) -> ResourceRow:
    outcome = _outcome(row["outcome"])
    # A try that found our own network down moves `links.last_checked_at` only on a link
    # without an outcome (catalog.health): there that time is a try, not a check (as
    # `catalog.export` and `catalog.decisions` say).
    checked = row["outcome"] is not None
    suggested = row["suggested_url"]
    if suggested is None and outcome is Outcome.REDIRECTED_PERMANENT and row["final_url"]:
        suggested = row["final_url"] if row["final_url"] != row["url"] else None
    return ResourceRow(
        pk=row["pk"],
        collection_key=row["collection_key"],
        collection_title=row["collection_title"],
        resource_id=row["rid"],
        title=row["title"],
        publisher=row["publisher"],
        url=row["url"],
        link_id=row["link_id"],
        host=row["host"] or None,
        outcome=outcome,
        outcome_value=row["outcome"],
        state=row["state"] or UNCHECKED,
        reason=row["reason"],
        http_status=row["http_status"],
        final_url=row["final_url"],
        ends_at_link=bool(row["ends_at_link"]),
        suggested_url=suggested,
        page_title=row["page_title"],
        title_read_at=row["title_read_at"],
        since=row["problem_start"],
        failing_checks=row["consecutive_failures"] or 0,
        last_checked_at=row["last_checked_at"] if checked else None,
        checks_since=checks_since,
        last_tried_at=None if checked else row["last_checked_at"],
        last_tried_held=not checked and bool(row["last_held"]),
        held_tries=row["held_tries"] or 0,
        elapsed_ms=row["elapsed_ms"],
        retries=row["retries"] or 0,
        content_length=row["content_length"],
        drift_reason=row["drift_reason"],
        # Of the link's gone contacts, those this entry names: a page shared by two
        # entries, only one naming the hotline's number, queued both.
        contact_reason=entry_contact_reason(
            row["contact_reason"], row["contacts_gone"], row["title"], row["entry_description"]
        ),
        contact_since=contact_missed_since(
            row["contacts_seen"], row["contacts_gone"], row["title"], row["entry_description"]
        ),
        stale_reasons=_stale_reasons(row["stale_reasons"]),
        stale_codes=_stale_codes(row["stale_reasons"]),
        stale_since=_stale_since(row["stale_reasons"]),
        archive_url=row["archive_url"],
        flapping=bool(row["flapping"]),
        unavailable_nights=_unavailable_nights(row["unavailable_nights"], row["last_checked_at"]),
        resource_type=row["resource_type"],
        snoozed_until=row["snoozed_until"],
        ignored_reason=row["ignored_reason"],
        snooze_reason=row["snooze_reason"],
    )


_OBSERVATION_COLUMNS = (
    Observation.id,
    Observation.link_id,
    Observation.run_id,
    Observation.url,
    Observation.checked_at,
    Observation.outcome,
    Observation.reason,
    Observation.http_status,
    Observation.final_url,
    Observation.elapsed_ms,
    Observation.content_type,
    Observation.content_length,
    Observation.title,
    Observation.held,
)


def https_suggestions(engine: Engine) -> dict[tuple[str, str], str]:
    """(collection key, resource id) -> https URL shown to serve the same page as its http one.

    `catalog.upgrades` sets `suggested_url` on a working http link whose https form matched,
    but only when the page itself was fetched, and most nights are HEAD-only. So the
    suggestion comes from each link's newest observation with a fetched page (a
    fingerprint), as long as its latest observation still says OK. Lets the report turn
    the hygiene finding `http_url` into a confirmed fix with its command.

    The URL is the link's standard form (no `#section`), keyed by the entry as last
    synced: the report applies it only to an entry whose URL in the file still leads
    there, and offers the entry's own https form (`reports.publish._confirmed_https`).
    """
    return {entry: url for entry, (_, url) in https_suggested(engine).items()}


def https_suggested(engine: Engine) -> dict[tuple[str, str], tuple[str, str]]:
    """`https_suggestions` with the link's URL: (collection key, resource id) -> (the http
    link's URL, the https URL shown to serve its page). That is the link's https form, or
    the https address that form redirects permanently to where that serves the page
    (`catalog.upgrades`); the report tells the two apart by the link's URL, and offers
    either only while the entry's URL in the file still leads to that link."""
    query = _newest_read_of_http_links(Observation.url, Observation.suggested_url).where(
        Observation.suggested_url.like("https://%")
    )
    with session_scope(engine) as session:
        return {(key, rid): (link, url) for key, rid, link, url in session.execute(query) if url}


def https_found(engine: Engine) -> dict[tuple[str, str], tuple[str, str]]:
    """(collection key, resource id) -> (the link's URL, what its https form served) for
    the working http links whose newest read found the https form not to serve their page
    (`Observation.https_found`: a parked domain, an error): the report then offers no
    switch to it, and says what the check found. Read as `https_suggestions` is; the link's
    URL lets the report apply it only to an entry whose URL in the file still leads there.
    """
    query = _newest_read_of_http_links(Observation.url, Observation.https_found).where(
        Observation.https_found.is_not(None), Observation.suggested_url.is_(None)
    )
    with session_scope(engine) as session:
        return {(key, rid): (url, found) for key, rid, url, found in session.execute(query)}


def _newest_read_of_http_links(*columns: Any) -> Select[Any]:
    """(collection key, resource id, `columns` of `Observation`) of each active entry at an
    `http://` link that works, from its link's newest observation with a fetched page (a
    fingerprint): where `catalog.upgrades` tried the https form."""
    latest = aliased(Observation)
    http_ok = (
        Resource.removed_at.is_(None),
        Resource.url.like("http://%"),
        latest.outcome == Outcome.OK.value,
    )
    candidates = (
        select(Link.id)
        .join(Resource, Resource.link_id == Link.id)
        .join(latest, latest.id == Link.last_observation_id)
        .where(*http_ok)
        .correlate(None)
    )
    # Each candidate link's newest fetched observation, grouped over those links alone. A
    # correlated max() per link was planned by PostgreSQL as a backward scan of the whole
    # table's primary key until the link's newest fingerprint turned up (8.4 s at 100k
    # resources without statistics, and the more HEAD-only nights since, the longer).
    fetched = aliased(Observation)
    newest_fetched = (
        select(fetched.link_id, func.max(fetched.id).label("id"))
        .where(fetched.link_id.in_(candidates), fetched.fingerprint.is_not(None))
        .group_by(fetched.link_id)
        .subquery()
    )
    return (
        select(Collection.key, Resource.rid, *columns)
        .join(Collection, Collection.id == Resource.collection_id)
        .join(Link, Link.id == Resource.link_id)
        .join(latest, latest.id == Link.last_observation_id)
        .join(newest_fetched, newest_fetched.c.link_id == Link.id)
        .join(Observation, Observation.id == newest_fetched.c.id)
        .where(*http_ok, Observation.outcome == Outcome.OK.value)
    )
