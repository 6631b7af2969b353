"""Operations helpers: the decisions behind rechecks, notifications and run telemetry.

Stage: operations (no Prefect; the database only through `catalog.store` and
`catalog.queries`). Inputs: plain records read by those (resource statuses, edit
times, counts) and the observations of a checked batch. Outputs: which resources to
recheck, which notification events a run deserves, and the numbers and text the flows
log or publish as Prefect artifacts. `flows/` only moves these values to Prefect.
"""

from __future__ import annotations

import shlex
import socket
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urljoin

from catalog import store
from catalog.clock import Clock, as_utc, utcnow
from catalog.db import Engine, engine_for, existing_database
from catalog.errors import LinkhealthError, NotFoundError
from catalog.health import (
    BROKEN,
    CHECK_BY_HAND,
    SUSPECT,
    flapping_words,
    shown_state,
    state_line,
)
from catalog.model import Observation
from catalog.outcomes import (
    WATCHED,
    WATCHED_UNAVAILABLE,
    Outcome,
    Severity,
    held_why,
    is_held,
    offline_in_part,
    shown_label,
)
from catalog.queries import (
    broken_and_drift,
    broken_and_drift_of_run,
    known_plan,
    last_event_id,
    sharing_links,
    unsent_of,
)
from catalog.settings import Settings
from catalog.source import catalog_files, load_catalogs
from catalog.sync import SyncResult, refuse_demo_catalog, sync_catalogs
from catalog.text import backtick_fence, clauses, code_span, counted, in_sentence

if TYPE_CHECKING:  # catalog.runs is heavy (httpx, canaries); only its type is used
    from catalog.runs import RunSummary

#: Prefect event names (the automation in deploy/automation-webhook.yaml matches on them).
EVENT_CATALOG_EDITED = "linkhealth.catalog.edited"
EVENT_BROKEN_INCREASED = "linkhealth.links.broken_increased"
EVENT_DRIFT_INCREASED = "linkhealth.links.drift_increased"
EVENT_NETWORK_UNAVAILABLE = "linkhealth.run.network_unavailable"
EVENT_RUN_REFUSED = "linkhealth.run.refused"

#: Catalog event kinds (written by catalog.sync) that mean "the curator changed this entry".
EDIT_KINDS = frozenset({"added", "fields_edited", "url_edited"})
#: Every catalog event kind a sync writes: what a report written before it does not show.
SYNC_KINDS = EDIT_KINDS | {"removed"}
#: Link states that count as failing for `linkhealth recheck --failing`.
FAILING_STATES = frozenset({SUSPECT, BROKEN})
#: Outcomes (values) that count as failing whatever the link's state (`is_failing`).
FAILING_OUTCOMES = frozenset(o.value for o in Outcome if o.severity is Severity.BROKEN)
#: Rows of the action queue published as a table artifact.
QUEUE_ARTIFACT_ROWS = 50


# --- recheck selection -----------------------------------------------------------------------


class LinkLike(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def outcome(self) -> Outcome | None: ...
    @property
    def last_checked_at(self) -> datetime | None: ...


class StatusLike(Protocol):
    """What `catalog.store.RecheckStatus` offers; a Protocol keeps this module read-only."""

    @property
    def collection(self) -> str: ...
    @property
    def rid(self) -> str: ...
    @property
    def link(self) -> LinkLike | None: ...


def is_failing(link: LinkLike | None) -> bool:
    if link is None:
        return False
    if link.state in FAILING_STATES:
        return True
    return link.outcome is not None and link.outcome.severity is Severity.BROKEN


def edited_since_checked(
    status: StatusLike, last_edit: datetime | None, now: datetime | None = None
) -> bool:
    """Never checked, or edited after the link's last check (URL or any field).

    A link tried only while our network was down has a `last_checked_at` but no outcome:
    it was never checked. A check stamped after `now` came from a clock since set back
    (NTP correcting a fast clock): an edit made since then is stamped before it, so any
    edit counts, or the curator's edit would wait for the next night unchecked.
    """
    link = status.link
    if link is None or link.last_checked_at is None or link.outcome is None:
        return True
    if last_edit is None:
        return False
    return last_edit > link.last_checked_at or (now is not None and link.last_checked_at > now)


def select_for_recheck(
    statuses: Iterable[StatusLike],
    *,
    ids: Sequence[str] = (),
    changed_only: bool = False,
    failing_only: bool = False,
    last_edits: Mapping[tuple[str, str], datetime] | None = None,
    now: datetime | None = None,
) -> tuple[list[str], list[str]]:
    """(resource ids to check, named ids that do not exist).

    The selection is the union of the named ids, the entries edited since their link
    was last checked (`changed_only`, see `edited_since_checked` for `now`), and the
    failing ones (`failing_only`). `last_edits` maps (collection key, resource id) to the
    time of its latest edit.
    """
    known: set[str] = set()
    chosen: set[str] = set()
    for status in statuses:
        known.add(status.rid)
        if status.rid in ids or _picked(status, changed_only, failing_only, last_edits, now):
            chosen.add(status.rid)
    missing = sorted({i for i in ids if i not in known})
    return sorted(chosen), missing


def _picked(
    status: StatusLike,
    changed_only: bool,
    failing_only: bool,
    last_edits: Mapping[tuple[str, str], datetime] | None,
    now: datetime | None,
) -> bool:
    """Whether `--changed` or `--failing` picks this entry (`select_for_recheck`)."""
    edit = (last_edits or {}).get((status.collection, status.rid))
    return (changed_only and edited_since_checked(status, edit, now)) or (
        failing_only and is_failing(status.link)
    )


def only_in(entries: Sequence[str]) -> dict[str, set[str]]:
    """`KEY/ID` names -> each id and the catalog keys it is named in."""
    out: dict[str, set[str]] = {}
    for name in entries:
        key, _, rid = name.partition("/")
        if not key or not rid:
            raise NotFoundError(f"{name!r} names no entry: write KEY/ID")
        out.setdefault(rid, set()).add(key)
    return out


def narrowed(
    ids: Sequence[str],
    collections: Sequence[str] | None,
    only: Mapping[str, set[str]],
    picked: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]] | None:
    """The (collection key, id) pairs to check: each named id of `ids` in every one of
    `collections` (a curator's plain id means every catalog using it), or, named `KEY/ID`
    (`only`), in those catalogs; then the entries `picked` (what `recheck --changed` or
    `--failing` chose), those alone: taken as plain ids, they checked every catalog's entry
    of the id, edited or not. None: no narrowing (every catalog)."""
    if collections is None or (not only and not picked):
        return None
    named = [
        (key, rid) for rid in ids for key in collections if rid not in only or key in only[rid]
    ]
    return list(dict.fromkeys([*named, *picked]))


def named_entries(
    settings: Settings, resource_ids: Sequence[str] | None, entries: Sequence[str]
) -> tuple[list[str], list[tuple[str, str]] | None]:
    """The ids a `check-catalog` run given `entries` (`KEY/ID`) checks, and the
    (collection key, id) pairs it is narrowed to (`narrowed`), read from the catalog files,
    which the run syncs next: an entry added since the last sync is held.

    Raises first what `refuse_demo_catalog` does (`ConfigError`): the bundled demo read
    where no settings file names catalogs holds none of a database of other collections'
    entries, and "no resource with id" said the id was wrong, not the place the run started
    in. Then `NotFoundError` for a `KEY/ID` whose catalog file KEY holds no ID (an unknown
    KEY, an ID only another catalog holds): narrowed to it, the run would check nothing of
    it. `CatalogError` for a catalog that cannot be read."""
    refuse_demo_catalog(settings)
    only = only_in(entries)
    catalogs = load_catalogs(settings.catalogs)
    held = {(c.key, r.id) for c in catalogs for r in c.resources}
    missing = [f"{k}/{r}" for r, ks in only.items() for k in sorted(ks) if (k, r) not in held]
    if missing:
        raise NotFoundError.unknown_ids(missing)
    ids = list(dict.fromkeys([*(resource_ids or ()), *only]))
    return ids, narrowed(ids, [c.key for c in catalogs], only)


@dataclass(frozen=True)
class RecheckPlan:
    ids: tuple[str, ...]
    #: Catalog changes the sync before the selection found.
    sync_changes: int = 0
    #: The configured catalogs' collection keys: the database may hold others, synced once
    #: from another file, whose ids must not be picked or reported.
    collections: tuple[str, ...] | None = None
    #: The (collection key, id) entries `changed_only` and `failing_only` picked: of an id
    #: not named bare, these entries alone are checked, besides a `KEY/ID` named.
    picked: tuple[tuple[str, str], ...] = ()
    #: The (collection key, id) pairs the run is narrowed to (`narrowed`); None: each id
    #: of `ids` in every catalog that uses it.
    pairs: tuple[tuple[str, str], ...] | None = None
    #: What that sync changed, in words ("1 removed", "1 added, 1 removed"); "" for nothing.
    synced: str = ""
    #: (collection key, id, removed at) of each named id in no configured catalog whose
    #: entry a sync found gone from one (`store.removed_entries`), and of each `KEY/ID`
    #: named whose entry a sync found gone from KEY: nothing to check, said.
    removed: tuple[tuple[str, str, datetime], ...] = ()
    #: When the plan's sync ran: an entry removed then was removed by the curator's edit.
    synced_at: datetime | None = None
    #: Catalog changes earlier syncs (`linkhealth sync`, a decision's) made after the
    #: latest report was written, which it does not show, when this plan's sync found
    #: none and picked nothing: their count and, in words, what they were ("1 removed").
    unshown_changes: int = 0
    unshown: str = ""

    @property
    def report_only(self) -> bool:
        """Nothing to check, yet the sync changed the catalogs, or one since the report was
        written did (`linkhealth sync` first, to see what the edit changes), or a named
        id's entry was removed: a removed entry picks nothing, and the report still lists
        it, a dead link to fix, until a run writes it again (`linkhealth sync` writes
        none). The recheck writes it again then, as the README promises."""
        return not self.ids and (
            self.sync_changes > 0 or self.unshown_changes > 0 or bool(self.removed)
        )

    @property
    def synced_words(self) -> str:
        """What the report written again follows: "1 catalog change (1 removed)", "1
        catalog change synced since the last report (1 removed)", or, its removal synced
        before, "the removal of toolkit/dead"; its artifacts say `after_words`."""
        if self.sync_changes:
            return f"{counted(self.sync_changes, 'catalog change')} ({self.synced})"
        if self.removed:
            names = ", ".join(f"{key}/{rid}" for key, rid, _ in self.removed)
            return f"the removal of {names}"
        return self.unshown_words

    @property
    def after_words(self) -> str:
        """What the report written again follows, for its artifacts' "... after {}":
        "syncing 1 catalog change (1 removed)", "syncing the removal of toolkit/dead", or
        "1 catalog change synced since the last report (1 removed)"."""
        if self.sync_changes or self.removed:
            return f"syncing {self.synced_words}"
        return self.unshown_words

    @property
    def unshown_words(self) -> str:
        """What `--changed` says of the changes synced since the last report: "1 catalog
        change synced since the last report (1 removed)"; "" for none."""
        if not self.unshown_changes:
            return ""
        n = counted(self.unshown_changes, "catalog change")
        return f"{n} synced since the last report ({self.unshown})"

    def removed_said(self) -> tuple[str, ...]:
        """A line for each named id whose entry was removed from its catalog: refused as
        unknown, it read as a typo, and the report kept listing it."""
        lines = []
        for key, rid, at in self.removed:
            if self.synced_at is not None and as_utc(at) >= as_utc(self.synced_at):
                when, synced = "", " (its removal is synced now)"
            else:
                when, synced = f" on {as_utc(at):%Y-%m-%d}", ""
            lines.append(
                f"{key}/{rid}: removed from the catalog{when}, so there is nothing to "
                f"check{synced}."
            )
        return tuple(lines)


def _sync_words(synced: SyncResult) -> str:
    """What a sync changed, its kinds of change with a count only: "1 removed", not the
    "0 added, 0 edited, 1 removed, 4 unchanged" of `SyncResult.headline`."""
    kinds = [
        (synced.added - synced.readded, "added"),
        (synced.readded, "re-added"),
        (synced.edited + synced.url_edited, "edited"),
        (synced.removed, "removed"),
    ]
    return ", ".join(f"{n} {kind}" for n, kind in kinds if n)


def _change_words(kinds: Mapping[str, int]) -> str:
    """`_sync_words` of events counted by kind (`store.changes_since`): "1 removed"."""
    said = [
        (kinds.get("added", 0), "added"),
        (kinds.get("fields_edited", 0) + kinds.get("url_edited", 0), "edited"),
        (kinds.get("removed", 0), "removed"),
    ]
    return ", ".join(f"{n} {kind}" for n, kind in said if n)


def unknown_ids(
    settings: Settings, ids: Sequence[str], *, removed_known: bool = False
) -> list[str]:
    """The ids of `ids` that no configured catalog holds, for the command line to refuse
    before it starts a flow run. The database answers for ids synced before; only the rest
    (new entries not synced yet, typos) cost reading the catalog files. `removed_known`:
    an id whose entry a sync found removed from a configured catalog is no typo
    (`recheck` says it was removed)."""
    if not ids:
        return []
    try:  # (a database not made yet is not made here: a refused recheck leaves no file)
        engine = engine_for(existing_database(settings.database_url))
        known = store.active_rids(engine, ids)
        rest = [i for i in ids if i not in known]
        if rest and removed_known:
            keys = [file.stem for file in catalog_files(settings.catalogs)]
            known |= {rid for _, rid, _ in store.removed_entries(engine, keys, rest)}
    except LinkhealthError:  # none yet, or it cannot be opened: the catalog files decide
        known = set()
    rest = [i for i in ids if i not in known]
    if not rest:
        return []
    in_files = {r.id for c in load_catalogs(settings.catalogs) for r in c.resources}
    return sorted({i for i in rest if i not in in_files})


def entry_names(
    settings: Settings, names: Collection[str], *, removed_known: bool = False
) -> set[str]:
    """The `KEY/ID` names of `names` that name an entry: the catalog file KEY holds ID.
    `removed_known`: or the database knows ID as an entry of catalog KEY that the file no
    longer holds, its removal synced or not yet (`recheck` says it was removed, as it does
    for the bare ID: verdicts and its own words name entries `KEY/ID`)."""
    pairs = {name: (key, rid) for name in names for key, _, rid in [name.partition("/")]}
    catalogs = load_catalogs(settings.catalogs)
    held = {(c.key, r.id) for c in catalogs for r in c.resources}
    rest = {rid for key, rid in pairs.values() if (key, rid) not in held}
    if rest and removed_known:
        keys = [c.key for c in catalogs]
        try:  # (a database not made yet is not made here)
            engine = engine_for(existing_database(settings.database_url))
            held |= {(s.collection, s.rid) for s in store.recheck_statuses(engine, keys, rids=rest)}
            held |= {(key, rid) for key, rid, _ in store.removed_entries(engine, keys, rest)}
        except LinkhealthError:  # none yet, or it cannot be opened: the files decided
            pass
    return {name for name, pair in pairs.items() if pair in held}


def unheld_entries(
    engine: Engine, collections: Sequence[str] | None, only: Mapping[str, Collection[str]]
) -> list[str]:
    """The `KEY/ID` names of `only` whose catalog KEY (one of `collections`) holds no active
    entry ID, though another may: narrowed to it, the run would check nothing of it. One
    whose entry a sync found removed from KEY is not among them: the plan says so
    (`RecheckPlan.removed`)."""
    if not only:
        return []
    held = {(s.collection, s.rid) for s in store.recheck_statuses(engine, collections, rids=only)}
    unheld = [(k, r) for r, keys in only.items() for k in sorted(keys) if (k, r) not in held]
    if unheld:
        rids = {r for _, r in unheld}
        held |= {(k, r) for k, r, _ in store.removed_entries(engine, collections, rids)}
    return [f"{k}/{r}" for k, r in unheld if (k, r) not in held]


def plan_recheck(
    settings: Settings,
    *,
    ids: Sequence[str] = (),
    only: Mapping[str, set[str]] | None = None,
    changed_only: bool = False,
    failing_only: bool = False,
    clock: Clock = utcnow,
    report_written: Callable[[], datetime | int | None] | None = None,
) -> RecheckPlan:
    """Sync the catalog files, then pick what to recheck (see `select_for_recheck`) from
    the rows it can pick (`store.recheck_statuses`): a curator's few ids must not cost
    reading the whole catalog. `ids`: the ids named; `only`: those named `KEY/ID`
    (`only_in`), checked in those catalogs alone; the plan's `pairs` say which entries
    of each id to check (`narrowed`). `report_written`: the id of the newest event the
    latest report read, or when it was written (None: none is there), asked only when
    the plan picks nothing and its sync changed nothing: the changes earlier syncs made
    since, in any collection the database holds (as the report shows them all: a
    collection retired too), are the plan's `unshown` (an entry removed and synced by
    `linkhealth sync`, still listed to fix).

    Raises NotFoundError when a named id is in no catalog, unless a sync (this one: the
    curator's edit) found its entry removed from one (the plan's `removed`; named `KEY/ID`,
    from catalog KEY).
    """
    only = only or {}
    ids = list(dict.fromkeys([*ids, *only]))
    engine = engine_for(settings.database_url)
    # Before the sync writes: what a recheck writes while `db copy` copies is left out.
    store.refuse_while_copying(engine, now=clock(), doing="check")
    refuse_demo_catalog(settings)  # (a recheck deployment's run where no settings file is)
    catalogs = load_catalogs(settings.catalogs)
    now = clock()
    synced = sync_catalogs(engine, catalogs, now=now, folders=settings.catalogs)
    keys = tuple(c.key for c in catalogs)
    since = None
    if changed_only:
        oldest = store.oldest_check(engine, keys)
        # Not after now: a check stamped ahead of a clock since set back precedes the edits.
        since = min(oldest, now) if oldest is not None else None
    # Only the rows the selection can pick (SQL): named, failing, or edited since checked.
    statuses = store.recheck_statuses(
        engine,
        keys,
        rids=ids,
        failing_states=FAILING_STATES if failing_only else (),
        failing_outcomes=FAILING_OUTCOMES if failing_only else (),
        edit_kinds=EDIT_KINDS if changed_only else (),
        edits_since=since,
        now=now,
    )
    edits = {(s.collection, s.rid): s.last_edit for s in statuses if s.last_edit is not None}
    chosen, missing = select_for_recheck(
        statuses,
        ids=ids,
        changed_only=changed_only,
        failing_only=failing_only,
        last_edits=edits,
        now=now,
    )
    # A `KEY/ID` whose catalog KEY holds no active ID (another may): its entry removed
    # from KEY is said, as a bare id's is; any other is refused (`unheld_entries`).
    held = {(s.collection, s.rid) for s in statuses}
    unheld = {(k, r) for r, ks in only.items() for k in ks if (k, r) not in held}
    asked = {*missing, *(r for _, r in unheld)}
    removed = [
        (key, rid, at)
        for key, rid, at in (store.removed_entries(engine, keys, asked) if asked else [])
        if (key, rid) in unheld or (rid in missing and rid not in only)
    ]
    gone = {rid for _, rid, _ in removed}
    if missing := [rid for rid in missing if rid not in gone]:
        raise NotFoundError.unknown_ids(missing)
    entries = tuple(
        (s.collection, s.rid)
        for s in statuses
        if _picked(s, changed_only, failing_only, edits, now)
    )
    pairs = narrowed(ids, keys, only, entries)
    if pairs is not None and unheld:  # not another catalog's ID, checked for nothing
        chosen = [rid for rid in chosen if any((k, r) in held for k, r in pairs if r == rid)]
    if pairs is not None and _leaves_none_out(engine, keys, chosen, pairs):
        pairs = None  # the run's filter by pairs would be one IN list of every entry
    unshown: dict[str, int] = {}
    if not chosen and not synced.changed and not removed and report_written is not None:
        written = report_written()
        if written is not None:
            unshown = store.changes_since(engine, None, SYNC_KINDS, written)
    return RecheckPlan(
        ids=tuple(chosen),
        sync_changes=synced.change_count,
        synced=_sync_words(synced),
        collections=keys,
        picked=entries,
        pairs=None if pairs is None else tuple(pairs),
        removed=tuple(removed),
        synced_at=now,
        unshown_changes=sum(unshown.values()),
        unshown=_change_words(unshown),
    )


def _leaves_none_out(
    engine: Engine, keys: Sequence[str], ids: Sequence[str], pairs: Sequence[tuple[str, str]]
) -> bool:
    """Whether `pairs` hold every active entry of `ids` in `keys`: then they narrow nothing
    (what `--changed` picked of ids each in one catalog, the most), and a new database's
    `--changed` need not filter its run by an IN list of every entry. Only the ids some
    catalog is missing from `pairs` are looked up."""
    wanted = set(pairs)
    rest = [rid for rid in ids if any((key, rid) not in wanted for key in keys)]
    if not rest:  # (no rids would read every row)
        return True
    held = store.recheck_statuses(engine, keys, rids=rest)
    return all((s.collection, s.rid) in wanted for s in held)


# --- notifications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """Resources in the report's "Confirmed broken" group and in its "Page no longer
    matches its entry" group, at one moment: resources, not URLs (two entries sharing a
    broken link are two), snoozed and ignored ones left out, as the action queue lists
    them."""

    broken: int = 0
    drift: int = 0


def tally(engine: Engine, *, now: datetime | None = None) -> Tally:
    """The report's two group sizes now (`queries.broken_and_drift`): one SQL count,
    however big the catalog."""
    return Tally(*broken_and_drift(engine, now=utcnow() if now is None else now))


def run_mark(engine: Engine) -> int:
    """Taken as a run starts, for `run_tally` to find the run's own events after it."""
    return last_event_id(engine)


def run_tally(
    engine: Engine, run_id: int, *, mark: int, now: datetime | None = None
) -> tuple[Tally, Tally]:
    """(before, after) of run `run_id`, for its summary and notices: the report's two
    groups now (`after` is `tally`), and what they held with the links the run changed as
    they were before it (`queries.broken_and_drift_of_run`).

    Both take the entries, their snoozes and ignores as the run leaves them. Counted at its
    start and again at its end, a snooze that ended meanwhile, or an entry unignored or
    added beside a link known broken, passed for a break the run found, and an entry
    removed or ignored hid one it did find: a checker that cries wolf is worse than none.
    """
    before, after = broken_and_drift_of_run(
        engine, run_id, since_event=mark, now=utcnow() if now is None else now
    )
    return Tally(*before), Tally(*after)


@dataclass(frozen=True)
class Notice:
    """One event worth sending: its name and payload."""

    event: str
    payload: Mapping[str, Any] = field(default_factory=dict)


def notices(
    before: Tally,
    after: Tally,
    *,
    network_unavailable: bool,
    offline: int = 0,
    urls: int = 0,
) -> list[Notice]:
    """Events a run deserves: counts that rose since the previous run, or a dead network.

    A run that found the network down and reached no site learned nothing about the links,
    so it never reports rises (its counts did not move anyway). One that reached some
    (`offline` of its `urls` judged offline: `RunSummary.offline_in_part`)
    confirmed what it reached: those rises go out, which the next night would not send
    again (its links are broken by then), and the network event says how many URLs it
    could not check.
    """
    if network_unavailable and not offline:
        return [Notice(EVENT_NETWORK_UNAVAILABLE)]
    out = []
    if after.broken > before.broken:
        out.append(
            Notice(
                EVENT_BROKEN_INCREASED,
                {
                    "previous": before.broken,
                    "current": after.broken,
                    "delta": after.broken - before.broken,
                },
            )
        )
    if after.drift > before.drift:
        out.append(
            Notice(
                EVENT_DRIFT_INCREASED,
                {
                    "previous": before.drift,
                    "current": after.drift,
                    "delta": after.drift - before.drift,
                },
            )
        )
    if offline:
        out.append(Notice(EVENT_NETWORK_UNAVAILABLE, {"offline": offline, "urls": urls}))
    return out


# --- telemetry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedBatch:
    """A checked batch with the wall time its task took, for the per-batch log line."""

    index: int
    observations: tuple[Observation, ...]
    seconds: float


@dataclass(frozen=True)
class BatchStats:
    urls: int
    failures: int
    retries: int
    seconds: float

    @property
    def urls_per_second(self) -> float:
        return self.urls / self.seconds if self.seconds > 0 else 0.0


def batch_stats(batch: CheckedBatch, stored: Mapping[str, int] | None = None) -> BatchStats:
    """The batch's figures; failures counted as `stored` (outcome -> URLs) when given: a
    batch judged offline is stored as network_unavailable, which is no failure."""
    obs = batch.observations
    if stored is None:
        # A try not sent (`Observation.held`) asked nothing: a silent host's are `timeout`.
        failures = sum(o.outcome.severity is Severity.BROKEN and not o.held for o in obs)
    else:
        failures = sum(
            n
            for value, n in stored.items()
            if (outcome := Outcome.known(value)) is not None and outcome.severity is Severity.BROKEN
        )
    return BatchStats(
        urls=len(obs),
        failures=failures,
        retries=sum(o.retries for o in obs),
        seconds=batch.seconds,
    )


def progress_percent(done: int, total: int) -> float:
    return 100.0 if total <= 0 else round(min(100.0, 100.0 * done / total), 1)


def summary_markdown(
    lines: Sequence[str], before: Tally, after: Tally, sent: Sequence[Notice] = ()
) -> str:
    """The run summary artifact: the CLI's summary lines plus the health counts before and
    after the run (`run_tally`), labelled as the report's groups they count (`Tally`), and
    said to count resources."""
    out = ["# linkhealth run", ""]
    out += [f"{line}  " for line in lines]
    out += [
        "",
        "| | before | after |",
        "|---|---:|---:|",
        f"| resources confirmed broken | {before.broken} | {after.broken} |",
        f"| resources whose page no longer matches its entry | {before.drift} | {after.drift} |",
        "",
        "Resources as the report's action queue lists them: two entries sharing an address "
        "count twice; snoozed and ignored ones are left out. Both columns count the entries, "
        "snoozes and ignores as the run leaves them, the links as they were before the run "
        "and after it: only what this run found moves them.",
    ]
    if sent:
        out += ["", "Events sent: " + ", ".join(f"`{n.event}`" for n in sent)]
    return "\n".join(out) + "\n"


class QueueRowLike(Protocol):
    """What `reports.context.Row` offers; catalog/ must not import reports/."""

    @property
    def priority(self) -> QueueGroupLike | None: ...
    @property
    def collection_key(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def status_badge(self) -> tuple[str, str]: ...
    @property
    def state_note(self) -> str | None: ...
    @property
    def seen(self) -> str: ...
    @property
    def next_step(self) -> str: ...
    @property
    def fix(self) -> str | None: ...
    @property
    def command(self) -> str | None: ...


def queue_table(
    rows: Iterable[QueueRowLike], limit: int = QUEUE_ARTIFACT_ROWS
) -> list[dict[str, Any]]:
    """The first `limit` action-queue rows as plain dicts (a Prefect table artifact), in
    the words of the report's rows: its group, its status badge and state note ("Not found
    (404)", "Failing, not yet confirmed"), what we saw where that adds to the badge, and
    its "What to do" cell: the fix (else the next step) and the command that applies it,
    with the options the report's commands carry (`reports.publish.queue_head`). The
    stored state names (`suspect`) told a curator nothing, and no column said what to do.
    """
    table = []
    for rank, row in enumerate(rows, start=1):
        if rank > limit:
            break
        table.append(
            {
                "rank": rank,
                "group": row.priority.heading if row.priority else "",
                "resource": f"{row.collection_key}/{row.resource_id}",
                "title": row.title,
                "verdict": row.status_badge[1],
                "state": row.state_note or "",
                "seen": row.seen if row.seen != row.label else "",
                "fix": row.fix or row.next_step,
                "command": row.command or "",
                "url": row.url,
            }
        )
    return table


@dataclass(frozen=True)
class ReportArtifact:
    """What the Prefect UI shows of a run's report: a link to `url` when the report is
    published on the web, else `markdown` saying where it is and how to open it."""

    url: str | None = None
    markdown: str = ""


def report_artifact(
    report: str | Path,
    settings: Settings,
    *,
    host: str | None = None,
    platform: str = sys.platform,
) -> ReportArtifact:
    """The report's address under `settings.reports_url` (the web server that publishes
    `reports_dir`), or, without one, where it lies on this machine (`host`) and the
    commands that open it there and copy it elsewhere. A `file://` link was dead: a page
    served over http may not open files, and the file is on the worker, not the reader's
    machine. A report written beside `reports_dir` (that folder holds another database's
    reports: `reports.publish`) is not under `reports_url` either."""
    path = Path(report).resolve()
    folder = Path(settings.reports_dir).resolve()
    inside = path.is_relative_to(folder)
    if settings.reports_url and inside:
        return ReportArtifact(
            url=urljoin(
                _as_folder(settings.reports_url), quote(path.relative_to(folder).as_posix())
            )
        )
    host = host or socket.gethostname()
    opener = "open" if platform == "darwin" else "xdg-open"
    site = path.parent
    lines = [
        "# linkhealth report",
        "",
        f"Written on {code_span(host)} at {code_span(str(path))}: the Prefect UI cannot link to a "
        "file on the worker. Open it there:",
        "",
        *_fenced(shlex.join([opener, str(path)])),
        "",
        "or copy its folder (its pages link to each other) and open "
        f"{code_span(f'{site.name}/{path.name}')} where you are:",
        "",
        *_fenced(shlex.join(["scp", "-r", f"{host}:{site}", "."])),
        "",
    ]
    if settings.reports_url:
        lines.append(
            f"`reports_url` publishes {code_span(str(folder))}, which holds another database's "
            "reports: this report was written beside it."
        )
    else:
        lines.append(
            f"To link it here instead, publish the reports folder {code_span(str(folder))} on a "
            "web server and set `reports_url` in the settings file to its address."
        )
    return ReportArtifact(markdown="\n".join(lines) + "\n")


def _as_folder(url: str) -> str:
    """`url` ending in "/", so that `urljoin` adds to its path instead of replacing its
    last part (https://intranet/linkhealth + latest.html)."""
    return url if url.endswith("/") else url + "/"


def _fenced(text: str) -> list[str]:
    """A fenced code block (copyable in the UI) no backtick run in `text` can close."""
    fence = backtick_fence(text, at_least=3)
    return [fence, text, fence]


def verdict_lines(
    statuses: Iterable[Any],
    ids: Sequence[str],
    collections: Sequence[str] | None = None,
    *,
    this_run: Mapping[tuple[str, str], str] | None = None,
    held: Mapping[tuple[str, str], str] | None = None,
    command: str = "recheck",
    unavailable_nights: Mapping[tuple[str, str], int] | None = None,
) -> list[str]:
    """One line per rechecked resource, in the report's words: "collection/id: Not found
    (404), failing, not yet confirmed - reason"; only those of `collections` when given
    (the catalogs the recheck ran on). A working page flagged as drift says so: its
    outcome alone ("OK") would tell the curator who just rechecked it that all is well.

    `this_run`: the outcome the recheck's own run stored for each (collection, id)
    (`store.run_verdicts`); `held`: the reason of each of those tries it did not send
    (`RunVerdict.held_reason`: its host held). A resource it learned nothing about (no
    check stored, our network down, its try not sent) is said to be not checked, and
    why, its stored state labelled as the last known one with its date ("never checked"
    without one): printed bare, an old "Connection refused" read as the recheck's news,
    right above the summary saying nothing was learned, and a held try read "OK - HEAD
    not sent". `command`: what the curator ran, as the line names it ("not checked by this
    check --id"). `unavailable_nights`: of a flapping link, its site's nights of 503
    (`queries.flapping_unavailable_nights`), which its words then tell, as its row does."""
    wanted = set(ids)
    out = []
    for s in statuses:
        if s.rid not in wanted or (collections is not None and s.collection not in collections):
            continue
        name = f"{s.collection}/{s.rid}"
        why = _not_checked((s.collection, s.rid), this_run, held, command)
        link = s.link
        if link is None or link.outcome is None:
            out.append(f"{name}: {why}. Never checked" if why else f"{name}: not checked")
            continue
        # A flapping link in the row's words (the report files it under "Check by hand"):
        # its state's "failing, not yet confirmed" read as a failing link's.
        nights = (unavailable_nights or {}).get((s.collection, s.rid), 0)
        flapping = flapping_words(nights) if link.flapping else None
        state = shown_state(link.outcome, link.state)
        line = state_line(link.outcome, state, link.http_status, flapping=flapping)
        if watched := _watched(link):  # as the report's row says it: nothing to open yet
            label = shown_label(link.outcome, link.http_status)
            line = f"{label}, {watched[0].lower()}{watched[1:]}"
        # A held try's reason is no state's: the state is its last check's, with its words.
        reason = link.checked_reason if is_held(link.reason) else link.reason
        if reason and reason != link.outcome.label:
            line += f" - {reason}"
        if link.drift_reason:
            line = clauses([line, f"the page no longer matches its entry: {link.drift_reason}"])
        if contact := link.contact_reason:  # "OK" alone read as all well: the report counts it
            line = clauses([line, contact[0].lower() + contact[1:]])
        if why is not None:
            when = (
                f" from its check of {link.last_checked_at:%Y-%m-%d %H:%M} UTC"
                if link.last_checked_at is not None
                else ""
            )
            line = f"{why}. Last known state,{when}: {line}"
        out.append(f"{name}: {line}")
    return out


def _not_checked(
    key: tuple[str, str],
    this_run: Mapping[tuple[str, str], str] | None,
    held: Mapping[tuple[str, str], str] | None,
    command: str,
) -> str | None:
    """Why the run learned nothing of entry `key` ("not checked by this recheck: ..."),
    or None when it checked it (or `this_run` is not known): no try stored, our network
    down, or its try not sent (`held`)."""
    if this_run is None:
        return None
    outcome = this_run.get(key)
    if outcome is None:
        return f"not checked by this {command}"
    if outcome == Outcome.NETWORK_UNAVAILABLE:
        return f"not checked by this {command}: our network was down"
    if held is not None and key in held:
        return f"not checked by this {command}: {held_why(held[key])}"
    return None


def shared_url_lines(
    engine: Engine,
    statuses: Iterable[Any],
    ids: Collection[str],
    only: Mapping[str, Collection[str]],
    *,
    this_run: Mapping[tuple[str, str], str] | None = None,
    held: Mapping[tuple[str, str], str] | None = None,
) -> list[str]:
    """One line per entry the curator named whose URL other active entries link too,
    naming them (`sharing_links`): their link state is the one this check updated too.
    `ids`: the ids named (bare, or of a `KEY/ID`); `only`: the `KEY/ID` names (id -> the
    keys), each that catalog's entry alone; a bare id is each rechecked entry of it
    (`statuses`). Only `KEY/ID` was said: `recheck ID` of one of three entries on one
    address left the curator unaware the other two were checked with it. `this_run` and
    `held` as for `verdict_lines`: of an entry the run did not check (its try not sent,
    our network down) the shared state was left as it was, not "updated"."""
    named = {(key, rid) for rid, keys in only.items() for key in keys}
    bare = set(ids) - set(only)
    named |= {(s.collection, s.rid) for s in statuses if s.rid in bare}
    return [
        f"{key}/{rid}: its URL is shared with {', '.join(others)}, whose link state this "
        + (
            "check left as it was too"
            if _not_checked((key, rid), this_run, held, "check") is not None
            else "check updated too"
        )
        for (key, rid), others in sorted(sharing_links(engine, named).items())
    ]


def _watched(link: Any) -> str | None:
    """The report row's note (`reports.build`) of a link "Check by hand" for a rate limit
    (429, 503 "come back later") on a link not failing, or None: at its last check only
    (`WATCHED`), or a 503 check after check until it counts as failing
    (`WATCHED_UNAVAILABLE`). "Check by hand" here would contradict the report."""
    if (
        link.outcome is not Outcome.RATE_LIMITED
        or link.state != CHECK_BY_HAND
        or link.flapping
        or link.first_failure_at is not None
    ):
        return None
    if link.last_change_at is not None and link.last_change_at == link.last_checked_at:
        return WATCHED
    return WATCHED_UNAVAILABLE if link.http_status == 503 else None


def run_lines(runs: Iterable[Any], abandoned: Collection[int] = ()) -> list[str]:
    """`linkhealth status`: one line per run (a `catalog.store.RunRecord`), newest first.

    `abandoned`: ids of runs stored as running that nobody runs any more (their process
    is gone): shown as such, not as "still running", until the next run aborts them. A
    run refused for its catalog (`store.REFUSED`) says why, file and line."""
    out = []
    for run in runs:
        status = run.status
        if run.id in abandoned and status == "running":
            status, took = "abandoned", "stopped"
        elif status == store.REFUSED:  # refused before it started: it never ran
            took = "not started"
        elif run.summary.get(store.FOUND_DEAD) and run.duration_s is not None:
            # Its end went unseen (its process died, its database went away): "aborted
            # 0.0 s" read as a run that stopped at once, not one last seen then.
            took = f"seen for {run.duration_s:.1f} s"
        elif run.duration_s is not None:
            took = f"{run.duration_s:.1f} s"
        else:
            took = "still running"
        counts = ", ".join(f"{n} {o}" for o, n in sorted(run.counts.items()) if n) or (
            # A batch's outcomes are counted when it is stored; the live count comes first.
            "no outcomes stored yet"
            if run.status == "running"
            else "nothing checked"
            if run.status == store.REFUSED
            else "no outcome stored"
            if run.urls_planned
            else "no URLs"
        )
        if held := sum(unsent_of(run.summary).values()):
            # Among the outcomes as their host's answer ("2 timeout"), but never asked.
            counts += f" ({held} not sent)"
        flag = f"; shard {run.summary['shard']}" if run.summary.get("shard") else ""
        if run.network_unavailable:
            # A run that reached other sites lost the network for some URLs only.
            part = offline_in_part(True, run.counts, unsent_of(run.summary))
            flag += "; NETWORK UNAVAILABLE" + (f" for {counted(part, 'URL')}" if part else "")
        why = (
            run.summary.get("failed_reason")
            or run.summary.get("aborted_reason")
            or run.summary.get("refused_reason")
        )
        if run.status != "completed" and why:
            flag += f"; {why}"
        planned = known_plan(run.urls_planned, run.urls_checked)
        urls = f"{run.urls_checked}" if planned is None else f"{run.urls_checked}/{planned}"
        out.append(
            f"run {run.id}  {run.started_at:%Y-%m-%d %H:%M} UTC  {run.trigger:<8} {status:<9} "
            f"{took:>13}  {urls} URLs: {counts}{flag}"
        )
    return out


#: Resources `strict_findings` names before it only counts the rest.
STRICT_NAMED = 10


class QueueGroupLike(Protocol):
    """What `reports.context.Priority` offers: an action-queue group."""

    @property
    def heading(self) -> str: ...
    @property
    def to_fix(self) -> bool: ...


class StrictRowLike(Protocol):
    """What `reports.context.Row` offers `strict_findings`; catalog/ must not import reports/."""

    @property
    def collection_key(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def priority(self) -> QueueGroupLike | None: ...
    @property
    def label(self) -> str: ...
    @property
    def flapping(self) -> bool: ...
    @property
    def entry_only(self) -> bool: ...
    @property
    def set_aside(self) -> bool: ...


def strict_findings(
    summary: RunSummary, verdicts: Sequence[store.RunVerdict], rows: Iterable[StrictRowLike]
) -> str | None:
    """Why `check --strict` fails, or None when it passes.

    `rows` are the report's own rows (`reports.build`) of the run's resources, in the
    action queue's order, so the judgement is the report's, not a copy of its rules: a
    resource fails the run when the queue lists it to fix or to check or watch, the
    headline's words (a first failure, "Failing, not yet confirmed", counts; a flapping
    link counts whatever its last check said). A resource whose check this run never
    reached (our network was down, or its try was not sent: its host held) is left out,
    its row being an earlier check's, as is one listed only to review its entry while its
    link works (out of date: no check found that), and one snoozed or ignored; those two
    are said to be.
    """
    checked = {
        (v.collection, v.rid)
        for v in verdicts
        if (outcome := Outcome.known(v.outcome)) is not None
        and outcome.severity is not Severity.UNKNOWN
        and not v.held
    }
    to_fix: list[str] = []
    to_watch: list[str] = []
    set_aside = to_review = 0
    for row in rows:
        group = row.priority
        if group is None or (row.collection_key, row.resource_id) not in checked:
            continue
        if row.entry_only:  # snoozed or not, it would not count
            to_review += 1
        elif row.set_aside:
            set_aside += 1
        else:
            (to_fix if group.to_fix else to_watch).append(_strict_named(row, group))
    if not (to_fix or to_watch):
        return None
    found = [f"{len(to_fix)} to fix"] if to_fix else []
    if to_watch:
        found.append(f"{len(to_watch)} to check or watch")
    # Resources, not URLs: entries sharing a link are each named.
    named = [*to_fix, *to_watch]
    listed = ", ".join(named[:STRICT_NAMED])
    if len(named) > STRICT_NAMED:
        listed += f" and {len(named) - STRICT_NAMED} more"
    left_out = [f"{set_aside} snoozed or ignored"] if set_aside else []
    if to_review:
        left_out.append(f"{to_review} only to review (the link works)")
    aside = f"; {' and '.join(left_out)} not counted" if left_out else ""
    return (
        f"in run {summary.run_id}, of {len(checked)} resources checked, {' and '.join(found)} "
        f"in the report's action queue: {listed}{aside}"
    )


def _strict_named(row: StrictRowLike, group: QueueGroupLike) -> str:
    """The resource, its queue group and, where they add to it, its last check and
    flapping: "toolkit/b (Confirmed broken: not found (404))"."""
    said = [] if row.label in (group.heading, Outcome.OK.label) else [in_sentence(row.label)]
    if row.flapping:
        said.insert(0, "flapping")
    detail = f": {', '.join(said)}" if said else ""
    return f"{row.collection_key}/{row.resource_id} ({group.heading}{detail})"
