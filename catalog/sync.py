"""Sync stage: reconcile the catalog files with the database.

Input: the `Catalog` records the source stage read. Output: the collections and
resources tables brought in line (one transaction per catalog, through
`catalog.store`), an event per change, and a `SyncResult` the CLI can print.

A resource is identified by (collection key, curator id). Removal is a soft delete, so
history survives and an entry put back later is added again: its event is an `added` one
marked `readded`, and sync says it is back ("re-added", `SyncResult.readded`). An id
changed by hand (the entry keeps its URL, no other new or removed entry has that URL) is a
rename: the row keeps its decisions and events and gets a `fields_edited` event for `id`.
Likewise an entry that left one catalog for another synced with it (same id, same URL)
moves there with its row (`fields_edited` for `collection`), even when a partial sync
(`partial`: a curator decision's re-sync of the one file it edited) saw only one half of
the move in between: the removal it recorded is marked so, and an entry it found new to
its file but active elsewhere with that id and URL it leaves. A removed entry put back with
another URL is another page: its ignore, snooze and review are dropped, and its event says
so (`_revivals`). An entry given another address (by hand, `replace-url`,
`accept-redirect`) keeps its row, history and review, but its ignore and snooze, decisions
about the old address's problem, end, and its `url_edited` event says so
(`_end_set_asides`); the same page at a tidier address keeps them (`same_page`). Only the
catalogs passed in are reconciled: a catalog left out of a run keeps its resources
untouched, except that a file deleted from a catalog folder passed in as `folders` is
reconciled as empty (its entries are removed; put back, they return), and that a sync of
the configured catalogs (`retire_unlisted`) reconciles as empty every stored collection
none of them is (`SyncResult.retired`): a file renamed, or dropped from the settings, is
not left active for good. Its entries move, with their decisions, to a file that has them
(same id and URL), as any moved entry does, several files renamed at once too (`_moves`);
the rest are removed.
Running sync twice with no edit writes no events.
Afterwards the synced resources' staleness reasons are recomputed (a curator's new
`reviewed_at` or `year` shows at once), with `HealthSettings` passed in or the defaults.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urldefrag

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog import store
from catalog.check.redirects import address_key
from catalog.clock import as_utc
from catalog.model import Catalog, Resource
from catalog.progress import Working, still_working
from catalog.settings import HealthSettings, Settings
from catalog.urls import canonical_url, loose_url_key

T = TypeVar("T")

ADDED = "added"
FIELDS_EDITED = "fields_edited"
URL_EDITED = "url_edited"
REMOVED = "removed"


@dataclass(frozen=True)
class SyncChange:
    collection: str
    id: str
    #: added, fields_edited, url_edited or removed.
    kind: str
    #: The fields that changed (("url",) for url_edited).
    fields: tuple[str, ...] = ()
    #: The event's details: old/new values, `readded` (and when it was `removed_at`) for
    #: an entry put back.
    details: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for `linkhealth sync`, e.g. "toolkit/demandforum: url edited (a -> b)"."""
        where = f"{self.collection}/{self.id}"
        if self.kind == URL_EDITED:
            said = (
                f"{where}: URL changed from {self.details.get('old')} to {self.details.get('new')}"
            )
            ended = set_asides_ended(self.details.get("ended") or ())
            return f"{said}; {ended}" if ended else said
        if self.kind == ADDED and self.details.get("old_url"):
            return f"{where}: {_revival(self.details)}"
        if self.kind == ADDED and self.details.get("readded"):
            # Back with its own URL, decisions and history, not a new entry.
            return f"{where}: re-added{_removed_on(self.details)}"
        if self.kind == FIELDS_EDITED and "collection" in self.fields:
            return f"{where}: moved from {self.details.get('old', {}).get('collection')}"
        if self.kind == FIELDS_EDITED:
            others = [f for f in self.fields if f != "id"]
            if len(others) < len(self.fields):
                old = self.details.get("old", {}).get("id")
                return f"{where}: renamed from {old}" + (
                    f", edited {', '.join(others)}" if others else ""
                )
            return f"{where}: edited {', '.join(self.fields)}"
        return f"{where}: {self.kind.replace('_', ' ')}"


#: How `sync` names the set-asides a revived id lost (`_revivals`).
_SET_ASIDE_NAMES = {"ignored_at": "ignore", "snoozed_until": "snooze", "reviewed_at": "review"}


def _removed_on(details: Mapping[str, Any]) -> str:
    """The words " (removed on 2025-03-02)" of an entry put back (its `removed_at`), or ""."""
    try:
        return f" (removed on {as_utc(datetime.fromisoformat(details['removed_at'])):%Y-%m-%d})"
    except (KeyError, TypeError, ValueError):
        return ""


def _revival(details: Mapping[str, Any]) -> str:
    """What sync says of a removed entry put back with another URL (`_revivals`)."""
    said = f"re-added with another URL (it had {details.get('old_url')})"
    if details.get("taken_back_from"):
        said = f"{said}, in place of {details['taken_back_from']}: its decisions are kept"
        ended = set_asides_ended(details.get("ended") or ())
        return f"{said}, but {ended}" if ended else said
    dropped = set_asides_dropped(details.get("dropped") or ())
    return f"{said}: {dropped}" if dropped else said


def set_asides_dropped(names: Sequence[Any]) -> str | None:
    """What sync (`_revival`) and the report's news say of the set-asides a revived id lost
    (`_revivals`: the event's `dropped`): "its ignore and snooze of the old page were
    dropped; set them again if they apply". None when it lost none."""
    names = [str(name) for name in names]
    if not names:
        return None
    what = " and ".join([", ".join(names[:-1]), names[-1]] if names[1:] else names)
    verb, it, applies = ("were", "them", "they apply") if names[1:] else ("was", "it", "it applies")
    return f"its {what} of the old page {verb} dropped; set {it} again if {applies}"


def set_asides_ended(names: Sequence[Any], *, would: bool = False) -> str | None:
    """What sync, `replace-url` and `accept-redirect` say of the set-asides an entry moved
    to another address ended (the `url_edited` event's `ended`): "its ignore of the old
    address ended (set it again if it applies to the new one)". None when it had none.
    `would`: said of a dry run."""
    names = [str(name) for name in names]
    if not names:
        return None
    what = " and ".join(names)
    ended = "would end" if would else "ended"
    it, applies = ("them", "they apply") if names[1:] else ("it", "it applies")
    return f"its {what} of the old address {ended} (set {it} again if {applies} to the new one)"


@dataclass(frozen=True)
class SyncResult:
    collections: tuple[str, ...] = ()
    #: Entries added, those put back after their removal (`readded`) among them.
    added: int = 0
    #: Of `added`, the entries put back after their removal (same collection and id).
    readded: int = 0
    edited: int = 0
    url_edited: int = 0
    removed: int = 0
    unchanged: int = 0
    #: The first `LISTED_CHANGES` changes, in catalog order (removals last).
    changes: tuple[SyncChange, ...] = ()
    #: (key, file) of each stored collection reconciled as empty because its file is not
    #: among the configured catalogs (`retire_unlisted`).
    retired: tuple[tuple[str, Path], ...] = ()

    @property
    def change_count(self) -> int:
        """Every change, listed or not."""
        return self.added + self.edited + self.url_edited + self.removed

    @property
    def changed(self) -> bool:
        return bool(self.change_count)

    def headline(self) -> str:
        # An entry put back is no new one ("1 added" of it read as a stranger's).
        back = f"{self.readded} re-added, " if self.readded else ""
        return (
            f"Synced {len(self.collections)} catalog(s): {self.added - self.readded} added, "
            f"{back}{self.edited + self.url_edited} edited, {self.removed} removed, "
            f"{self.unchanged} unchanged."
        )

    def retirements(self) -> list[str]:
        """What `linkhealth sync` says of each collection it retired (`retired`)."""
        return [
            f"{key}: retired, as {path} is not among the configured catalogs; its entries "
            "moved or were removed (history kept; listed again, the file's entries return)"
            for key, path in self.retired
        ]


#: Catalog entries diffed and written at once: sync holds one chunk's rows and data, never
#: the whole catalog's (a first sync of 100,000 entries peaked at ~650 MB holding them all).
SYNC_CHUNK = 2000
#: Changes a `SyncResult` lists one by one; past them it keeps only the counts (the
#: events table has every change).
LISTED_CHANGES = 1000


def refuse_demo_catalog(settings: Settings) -> None:
    """`ConfigError` (exit 2) before the bundled demo toolkit is synced into a database the
    user named (--db, LINKHEALTH_DATABASE_URL, a settings file's `database_url`) that holds
    other collections: a `sync` or `check` run with LINKHEALTH_DATABASE_URL exported, in a
    folder without linkhealth.toml, added the demo's entries to the shared production
    database, and so did a script of README's "Library use" (`load_settings()`, then
    `catalog.runs.prepare_run`) and a flow run of `serve` or a worker started there. The
    default local database, and an empty or new one (a trial of the demo), take it; a
    settings file or --catalog naming catalogs, even the demo, is never refused, nor are
    `Settings` a script made with catalogs of its own (`Settings(catalogs=...)`).
    `prepare_run` and `catalog.ops.plan_recheck` ask before they sync, the CLI's `sync`,
    `check` and `recheck` before they start."""
    from catalog.settings import BUNDLED_CATALOG, DEFAULT_CONFIG_NAME, default_database_url

    if settings.catalogs_named or tuple(map(Path, settings.catalogs)) != (BUNDLED_CATALOG,):
        return
    from catalog.db import absolute_sqlite_url, engine_for, existing_database, shown_url
    from catalog.errors import ConfigError, StoreError

    url = settings.database_url
    if absolute_sqlite_url(url) == absolute_sqlite_url(default_database_url()):
        return
    try:
        existing_database(url)
    except StoreError:
        return  # nothing there yet (or unreachable: the command says so next)
    demo = {Path(p).stem for p in settings.catalogs}
    others = sorted(store.stored_collections(engine_for(url)) - demo)
    if not others:
        return
    listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    where = (
        f"the settings file {settings.config_file} names no catalogs"
        if settings.config_file is not None
        else f"no settings file names catalogs here (no ./{DEFAULT_CONFIG_NAME}, no "
        "LINKHEALTH_CONFIG)"
    )
    raise ConfigError(
        f"refusing to put the bundled demo catalog into database {shown_url(url)}, which "
        f"holds other collections ({listed}): {where}. Run the command in the folder of "
        "the linkhealth.toml that names your catalogs, or give it with --config, or name "
        "the catalog files with --catalog"
    )


def sync_catalogs(
    engine: Engine,
    catalogs: Sequence[Catalog],
    *,
    now: datetime,
    run_id: int | None = None,
    health: HealthSettings | None = None,
    folders: Iterable[str | Path] = (),
    retire_unlisted: bool = False,
    partial: bool = False,
) -> SyncResult:
    """Reconcile `catalogs`; `folders` are the catalog folders they were read from.
    `retire_unlisted`: `catalogs` are every configured catalog (no --catalog subset), so a
    stored collection that none of them is has left the configuration and is retired.
    `partial`: a sync of one file that cannot see the others (a curator decision's re-sync
    of the file it edited), whose removals and additions may be half of a move by hand to
    or from another catalog file: its removal events say `partial`, so that a later sync
    that finds the entry in another file sees the move (`_moves`), and an entry new to the
    file whose id and URL an active row of another collection has is left for that sync."""
    loaded = {c.key for c in catalogs}
    retired = _unlisted(engine, loaded) if retire_unlisted else []
    catalogs = [*catalogs, *_deleted_from(engine, folders, loaded), *retired]
    catalogs = list({c.key: c for c in catalogs}.values())  # deleted and unlisted: once
    found = _Found(now, run_id, partial)
    entries = sum(len(c.resources) for c in catalogs)
    with still_working("Syncing catalog entries", entries) as working:
        moves = _moves(engine, catalogs)
        working.done = 0
        for catalog in catalogs:
            moved_in = {rid: m for (key, rid), m in moves.items() if key == catalog.key}
            moved_out = {m.row.rid for m in moves.values() if m.source == catalog.key}
            with store.write_session(engine) as session:
                _sync_one(
                    session,
                    catalog,
                    now=now,
                    found=found,
                    moved=(moved_in, moved_out),
                    working=working,
                )
        if catalogs:
            working.what, working.done = "Updating staleness after the sync", None
            store.refresh_staleness(
                engine,
                health or HealthSettings(),
                now=now,
                collection_keys=[c.key for c in catalogs],
                run_id=run_id,
            )
    return SyncResult(
        collections=tuple(c.key for c in catalogs),
        added=found.kinds[ADDED],
        readded=found.readded,
        edited=found.kinds[FIELDS_EDITED],
        url_edited=found.kinds[URL_EDITED],
        removed=found.kinds[REMOVED],
        unchanged=found.unchanged,
        changes=tuple(found.listed),
        retired=tuple((c.key, c.path) for c in retired),
    )


def _unlisted(engine: Engine, loaded: set[str]) -> list[Catalog]:
    """An empty catalog for each stored collection with active entries whose key is none of
    `loaded`, the configured catalogs: its file was renamed or left out of the settings.
    A configured file that is missing fails loading before this (file_not_found)."""
    active = store.stored_collections(engine)
    return [
        Catalog(path=path, collection=data, resources=())
        for key, path, data in store.collection_files(engine)
        if key in active and key not in loaded
    ]


def _deleted_from(engine: Engine, folders: Iterable[str | Path], loaded: set[str]) -> list[Catalog]:
    """An empty catalog for each stored collection whose file was in one of `folders` and
    is gone: deleting the file removes its entries, as emptying it would."""
    where = {Path(f).resolve() for f in folders if Path(f).is_dir()}
    if not where:
        return []
    active = store.stored_collections(engine)  # a file whose entries are all gone is done
    return [
        Catalog(path=path, collection=data, resources=())
        for key, path, data in store.collection_files(engine)
        if key in active
        and key not in loaded
        and path.resolve().parent in where
        and not path.exists()
    ]


@dataclass(frozen=True)
class _Move:
    """An entry that left catalog `source` for another: its stored row moves along."""

    source: str
    row: store.StoredResource


def _moves(engine: Engine, catalogs: Sequence[Catalog]) -> dict[tuple[str, str], _Move]:
    """(catalog key, id) -> the entry's row in the catalog it left: an active row whose id
    left one of `catalogs` this sync, paired with an entry of that id new to another, with
    the URL as it was (as written). Where several catalogs had the id or took it (two files
    renamed at once, each listing a `hotline`), each row pairs the one new entry with its
    URL; a URL that several of them share pairs each row with the catalog the rest of its
    file went to (`_renamed_files`). What is still ambiguous is a removal and an addition:
    a guess could hand one entry's ignore or snooze to another's page.

    A row a partial sync removed (a curator decision's re-sync of its file alone, `partial`
    in its `removed` event) and nothing put back since counts as active here: that sync
    saw the half of a move by hand it could, and the move keeps the row (`removed_in_part`).
    Once a sync that could see the other files too has synced its collection (and found
    the entry in none of them), the removal is settled: an entry with that id and URL
    added to another file later is new (`added`), as after a removal it synced."""
    urls = {c.key: {r.id: r.url for r in reversed(c.resources)} for c in catalogs}
    with store.read_session(engine) as s:
        ids = store.collection_ids(s, list(urls))
        known = {key: store.stored_rids(s, cid) for key, cid in ids.items()}
        left: dict[str, list[str]] = {}
        for key, rids in known.items():
            for rid in rids:  # removed rows too: those a partial sync removed (below)
                if rid not in urls[key]:
                    left.setdefault(rid, []).append(key)
        came: dict[tuple[str, str], list[str]] = {}  # (id, URL) -> the catalogs it came to
        by_source: dict[str, list[str]] = {}
        for key, entries in urls.items():
            for rid, url in entries.items():
                if rid in left and rid not in known.get(key, {}):
                    came.setdefault((rid, url), []).append(key)
        for rid, _ in came:
            for source in left[rid]:
                by_source.setdefault(source, []).append(rid)
        went: dict[tuple[str, str], list[_Move]] = {}  # (id, URL) -> the rows it left
        for source, wanted in by_source.items():
            for chunk in _chunked(list(dict.fromkeys(wanted)), SYNC_CHUNK):
                stored = store.stored_resources(s, ids[source], chunk)
                removed = [row.id for row in stored if row.removed_at is not None]
                in_part = store.removed_in_part(s, removed, REMOVED) if removed else set()
                for row in stored:
                    if row.removed_at is None or row.id in in_part:
                        # a move's row, as if that partial sync had left it active
                        move = _Move(source, replace(row, removed_at=None))
                        went.setdefault((row.rid, row.url), []).append(move)
    moves: dict[tuple[str, str], _Move] = {}
    shared: list[tuple[list[_Move], list[str]]] = []
    for (rid, url), targets in came.items():
        rows = went.get((rid, url), [])
        if len(rows) == 1 and len(targets) == 1:
            moves[(targets[0], rid)] = rows[0]
        elif rows:
            shared.append((rows, targets))
    renamed = _renamed_files(moves)
    for rows, targets in shared:
        for move in rows:
            if renamed.get(move.source) in targets:
                moves[(renamed[move.source], move.row.rid)] = move
    return moves


def _renamed_files(moves: Mapping[tuple[str, str], _Move]) -> dict[str, str]:
    """Catalog left -> the one most of its moved entries went to, when most of that one's
    came from it: the file renamed (`toolkit.yaml` to `psp-toolkit.yaml`). Each catalog
    has one such partner at most, and is the partner of at most one."""
    counts = Counter((move.source, target) for (target, _), move in moves.items())

    def most(side: int) -> dict[str, str]:
        tops: dict[str, list[tuple[int, str]]] = {}
        for pair, n in counts.items():
            tops.setdefault(pair[side], []).append((n, pair[1 - side]))
        best = {key: sorted(found, reverse=True) for key, found in tops.items()}
        return {
            key: found[0][1]
            for key, found in best.items()
            if len(found) == 1 or found[0][0] > found[1][0]  # no tie
        }

    to, back = most(0), most(1)
    return {source: target for source, target in to.items() if back.get(target) == source}


@dataclass
class _Found:
    """What the syncs found: counts of every change, the first `LISTED_CHANGES` in full."""

    now: datetime
    run_id: int | None
    #: A partial sync's (`sync_catalogs`): its removals say so.
    partial: bool = False
    kinds: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
    #: Of `kinds[ADDED]`, the entries put back after their removal.
    readded: int = 0
    listed: list[SyncChange] = field(default_factory=list)

    def record(
        self,
        events: list[store.NewEvent],
        key: str,
        kind: str,
        rid: str,
        row: store.StoredResource,
        details: dict[str, Any],
    ) -> None:
        """Count one change of entry `rid` (catalog `key`) and add its event to `events`."""
        events.append(
            store.NewEvent(
                kind,
                at=self.now,
                run_id=self.run_id,
                resource_id=row.id,
                link_id=row.link_id,
                details={"id": rid, **details},
            )
        )
        self.kinds[kind] += 1
        self.readded += kind == ADDED and bool(details.get("readded"))
        if len(self.listed) < LISTED_CHANGES:
            fields = tuple(details.get("fields", ()))
            self.listed.append(SyncChange(key, rid, kind, fields, details=details))


def _sync_one(
    s: Session,
    catalog: Catalog,
    *,
    now: datetime,
    found: _Found,
    moved: tuple[Mapping[str, _Move], set[str]] = ({}, set()),
    working: Working | None = None,
) -> None:
    """Diff the catalog against its stored rows and write the differences, a chunk of
    entries at a time, in one transaction; removals last. Events follow catalog order.
    `moved`: the entries that came from other catalogs, and the ids that left for one;
    `working.done` counts the entries synced, a chunk at a time."""
    moved_in, moved_out = moved
    collection_id = store.upsert_collection(
        s, catalog, jsonable(catalog.collection), now=now, partial=found.partial
    )
    known = store.stored_rids(s, collection_id)
    renamed = _renames(
        s, collection_id, catalog, {k: v for k, v in known.items() if k not in moved_out}
    )
    renamed = {rid: row for rid, row in renamed.items() if rid not in moved_in}
    revived = _revivals(s, collection_id, catalog, known, now)
    stamp = store.text_stamp(s, now)
    seen: set[str] = set()
    elsewhere = _moved_here(s, collection_id, catalog, known, renamed) if found.partial else set()

    def first_entries() -> Iterator[Resource]:
        for res in catalog.resources:
            if res.id not in seen:  # the source stage reports duplicates; the first one wins
                seen.add(res.id)
                if res.id not in elsewhere:
                    yield res

    for chunk in _chunked(first_entries(), SYNC_CHUNK):
        rows = store.stored_resources(s, collection_id, [r.id for r in chunk if r.id in known])
        stored = {r.rid: r for r in rows}
        stored.update((r.id, renamed[r.id]) for r in chunk if r.id in renamed)
        stored.update((r.id, moved_in[r.id].row) for r in chunk if r.id in moved_in)
        sources = {r.id: moved_in[r.id].source for r in chunk if r.id in moved_in}
        _sync_chunk(
            s, catalog.key, collection_id, chunk, stored, now, found, sources, revived, stamp
        )
        if working is not None and working.done is not None:
            working.done += len(chunk)
    old_ids = {row.rid for row in renamed.values()} | moved_out
    gone = [
        rid for rid, active in known.items() if active and rid not in seen and rid not in old_ids
    ]
    for rids in _chunked(gone, SYNC_CHUNK):
        removed = store.stored_resources(s, collection_id, rids)
        store.mark_removed(s, [old.id for old in removed], now=now, text_at=stamp)
        events: list[store.NewEvent] = []
        for old in removed:
            details: dict[str, Any] = {"url": old.url}
            if found.partial:  # perhaps half of a move: `_moves` of a later sync
                details.update(partial=True, file=str(catalog.path))
            found.record(events, catalog.key, REMOVED, old.rid, old, details)
        store.add_events(s, events)


def partial_removal(details: Mapping[str, Any]) -> str | None:
    """How a `removed` event's `details` say a partial sync recorded it, for `linkhealth
    resource` and the report's news: "by a decision's re-sync of toolkit.yaml alone: the
    next `linkhealth sync` tells a move from a removal"; None for another removal."""
    if not details.get("partial"):
        return None
    file = details.get("file")
    name = Path(str(file)).name if file else "its file"
    return (
        f"by a decision's re-sync of {name} alone: the next `linkhealth sync` tells a move "
        "from a removal"
    )


def _moved_here(
    s: Session,
    collection_id: int,
    catalog: Catalog,
    known: Mapping[str, bool],
    renamed: Mapping[str, store.StoredResource],
) -> set[str]:
    """Ids of the entries new to the catalog that a partial sync leaves for the next sync
    (`sync_catalogs`): a row of another collection has the id and URL, active or removed by
    a partial sync not settled since (a decision in each file before the move's sync), so
    the entry may have moved here by hand from a file this sync cannot see. Added here, the
    next sync saw an entry in two collections, and removed the other, decisions and all."""
    new: dict[str, str] = {}
    for res in catalog.resources:
        if res.id not in known and res.id not in renamed:
            new.setdefault(res.id, res.url)
    if not new:
        return set()
    return {rid for rid, _ in store.held_elsewhere(s, collection_id, new, REMOVED)}


def _renames(
    s: Session, collection_id: int, catalog: Catalog, known: Mapping[str, bool]
) -> dict[str, store.StoredResource]:
    """New id -> the stored row it renames: an active row whose id left the catalog, paired
    with a new id by their URL as written, when neither side has another candidate."""
    ids = {res.id for res in catalog.resources}
    gone = [rid for rid, active in known.items() if active and rid not in ids]
    if not gone:
        return {}
    old_by_url: dict[str, list[store.StoredResource]] = {}
    for rids in _chunked(gone, SYNC_CHUNK):
        for row in store.stored_resources(s, collection_id, rids):
            old_by_url.setdefault(row.url, []).append(row)
    new_by_url: dict[str, dict[str, None]] = {}
    for res in catalog.resources:
        if res.id not in known and res.url in old_by_url:
            new_by_url.setdefault(res.url, {})[res.id] = None
    return {
        next(iter(new)): old_by_url[url][0]
        for url, new in new_by_url.items()
        if len(new) == 1 and len(old_by_url[url]) == 1
    }


def _revivals(
    s: Session, collection_id: int, catalog: Catalog, known: Mapping[str, bool], now: datetime
) -> dict[str, dict[str, Any]]:
    """Id -> what the `added` event says of a removed row the catalog puts back with another
    URL: `old_url` (so its history keeps the old page's checks), and either `dropped`, the
    names of the old page's ignore, snooze and review, cleared here (an id reused for another
    page must not inherit them: hidden from the queue, nobody would look at it), or
    `taken_back_from`, the id that replaced it.

    The README's repair of an id and URL changed in one edit: the old id put back on the
    new URL, in place of the id that edit added (created when the old row was removed),
    takes its entry back, decisions and all, but its ignore and snooze of the old address
    end (`ended`), as with a rename and a URL change in two edits (`_end_set_asides`)."""
    back: dict[str, str] = {}
    for res in catalog.resources:
        if known.get(res.id) is False:
            back.setdefault(res.id, res.url)
    if not back:
        return {}
    rows = [
        row
        for rids in _chunked(list(back), SYNC_CHUNK)
        for row in store.stored_resources(s, collection_id, rids)
        if row.url != back[row.rid]
    ]
    if not rows:
        return {}
    ids = {res.id for res in catalog.resources}
    replacing: dict[tuple[str, datetime | None], str] = {
        (url, at): rid
        for rid, url, at in store.active_rows_at(s, collection_id, [back[r.rid] for r in rows])
        if rid not in ids
    }
    revived: dict[str, dict[str, Any]] = {}
    cleared: list[store.StoredResource] = []
    moved: list[store.StoredResource] = []  # taken back at another address
    for row in rows:
        revived[row.rid] = {"old_url": row.url}
        took = replacing.get((back[row.rid], row.removed_at))
        if took is not None:
            revived[row.rid]["taken_back_from"] = took
            if not same_page(row.url, back[row.rid]):
                moved.append(row)
        else:
            cleared.append(row)
    ended = _end_set_asides(s, [row.id for row in moved], now)
    for row in moved:
        if row.id in ended:  # as the two edits the repair stands for would have said
            revived[row.rid]["ended"] = ended[row.id]
    dropped = store.set_asides(s, [row.id for row in cleared])
    for row in cleared:
        held = dropped.get(row.id, {})
        names = [
            name
            for column, name in _SET_ASIDE_NAMES.items()
            # a snooze that ended held nothing back
            if held.get(column) is not None and (column != "snoozed_until" or held[column] > now)
        ]
        if names:  # what they were stays in the decisions table
            revived[row.rid]["dropped"] = names
    store.clear_set_asides(s, [row.id for row in cleared if row.id in dropped])
    return revived


def same_page(old: str, new: str) -> bool:
    """Whether an entry's URL edited from `old` to `new` still names the page its ignore
    and snooze were about, so that they hold (sync, `replace-url`, `accept-redirect`
    alike). The edits `catalog lint` asks for change no page: the https form (`http_url`),
    tracking parameters dropped (`tracking_params`, as checks compare addresses:
    `redirects.address_key`), a trailing `/` or a leading `www.` (`likely_duplicate_url`:
    `urls.loose_url_key`), and a `#section`. Another host, path or query is a move."""
    return _page_key(old) == _page_key(new)


def _page_key(url: str) -> str:
    """`url` as `same_page` compares it; text that is no URL, as the link keys it."""
    try:
        key = address_key(url)
        return loose_url_key(key) or key
    except ValueError:
        return canonical_url(url)


def set_asides_in_force(ignored: bool, snoozed_until: datetime | None, now: datetime) -> list[str]:
    """The set-asides a move to another address ends ("ignore", "snooze"): those in force,
    a snooze that ended holding nothing. The one rule of sync and of what `replace-url` and
    `accept-redirect` say they end (`catalog.decisions`)."""
    names = ["ignore"] if ignored else []
    if snoozed_until is not None and as_utc(snoozed_until) > now:
        names.append("snooze")
    return names


def _end_set_asides(s: Session, row_ids: Sequence[int], now: datetime) -> dict[int, list[str]]:
    """End the ignore and snooze of the rows `row_ids` (entries that moved to another
    address: a decision about the old one's problem says nothing of the new one, and left
    in force it hid the new address's breaks); row id -> the names of those that held
    ("ignore", "snooze"; a snooze that ended held nothing), for the rows that had any. The
    decisions stay in the decisions table; a review is about the entry, and stays."""
    held = store.set_asides(s, row_ids)
    ended: dict[int, list[str]] = {}
    for row_id, values in held.items():
        ignored = values.get("ignored_at") is not None
        if names := set_asides_in_force(ignored, values.get("snoozed_until"), now):
            ended[row_id] = names
    store.clear_set_asides(
        s,
        [i for i, v in held.items() if any(c in v for c in store.QUEUE_COLUMNS)],
        store.QUEUE_COLUMNS,
    )
    return ended


def _sync_chunk(
    s: Session,
    key: str,
    collection_id: int,
    chunk: Sequence[Resource],
    stored: Mapping[str, store.StoredResource],
    now: datetime,
    found: _Found,
    sources: Mapping[str, str] | None = None,
    revived: Mapping[str, Mapping[str, Any]] | None = None,
    stamp: datetime | None = None,
) -> None:
    """Write links, new rows, updated rows and line numbers, then the chunk's events.
    `sources`: id -> the catalog an entry moved here from (its row in `stored`);
    `revived`: id -> what the event of a removed row put back with another URL adds;
    `stamp`: the `text_at` of the rows whose judged text changed (`_text_changed`)."""
    sources = sources or {}
    revived = revived or {}
    writes: list[tuple[Resource, dict[str, Any], store.StoredResource | None]] = []
    lines: dict[int, int | None] = {}
    for res in chunk:
        data = jsonable(res.fields_dict())
        old = stored.get(res.id)
        if (
            old is not None
            and res.id not in sources
            and old.removed_at is None
            and old.url == res.url
            and not changed_fields(old.fields, data)
        ):
            found.unchanged += 1
            if old.line != res.line:
                lines[old.id] = res.line
            continue
        writes.append((res, data, old))

    links = store.ensure_links(
        s, [res.url for res, _, old in writes if old is None or _needs_link(old, res)]
    )

    def link_of(res: Resource, old: store.StoredResource | None) -> int:
        if old is None or _needs_link(old, res):
            return links[res.url]
        assert old.link_id is not None
        return old.link_id

    to_write = [
        store.ResourceWrite(
            res, data, link, old.id if old else None, _text_changed(old, data, link)
        )
        for res, data, old in writes
        for link in (link_of(res, old),)
    ]
    rows = iter(
        store.insert_resources(
            s, collection_id, [w for w in to_write if w.id is None], now=now, text_at=stamp
        )
    )
    updated = iter(
        store.update_resources(s, [w for w in to_write if w.id is not None], now=now, text_at=stamp)
    )
    store.move_resources(
        s, [w.id for w in to_write if w.id is not None and w.resource.id in sources], collection_id
    )
    store.update_lines(s, lines)
    # An entry moved to another address (not the same page at a tidier one: `same_page`),
    # by hand or by `replace-url` or `accept-redirect`: its ignore and snooze were about
    # the old one.
    ended = _end_set_asides(
        s,
        [
            w.id
            for (_, _, old), w in zip(writes, to_write, strict=True)
            if old is not None and old.removed_at is None and w.id is not None
            if old.url != w.resource.url and not same_page(old.url, w.resource.url)
        ],
        now,
    )

    events: list[store.NewEvent] = []

    def record(kind: str, rid: str, row: store.StoredResource, details: dict[str, Any]) -> None:
        found.record(events, key, kind, rid, row, details)

    # Where the old links' last checks ended: a URL edited to that address was reached.
    reached = store.redirect_targets_reached(
        s,
        [
            old.link_id
            for res, _, old in writes
            if old is not None and old.link_id is not None and old.url != res.url
        ],
    )
    for res, data, old in writes:
        if old is None:
            record(ADDED, res.id, next(rows), {"url": res.url, "title": res.title})
            continue
        row = next(updated)
        if old.removed_at is not None:
            put_back = {"readded": True, "removed_at": old.removed_at.isoformat()}
            other = revived.get(res.id, {})  # first: what a person reads of the event
            record(ADDED, res.id, row, {"url": res.url, **other, "title": res.title, **put_back})
            continue
        if old.url != res.url:
            seen = reached.get(old.link_id) if old.link_id is not None else None
            details = _url_details(old, res, seen)
            if old.id in ended:
                details["ended"] = ended[old.id]
            record(URL_EDITED, res.id, row, details)
        edited = changed_fields(old.fields, data)
        if res.id in sources:
            details = _fields_details(old.fields, data, edited)
            details["fields"].insert(0, "collection")
            details["old"]["collection"], details["new"]["collection"] = sources[res.id], key
            record(FIELDS_EDITED, res.id, row, details)
        elif edited:
            record(FIELDS_EDITED, res.id, row, _fields_details(old.fields, data, edited))
    store.add_events(s, events)


def _chunked(values: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(values)
    while chunk := list(islice(it, size)):
        yield chunk


#: What drift judges of an entry (`health.judge_page`, `drift.relevance`).
_JUDGED_FIELDS = ("title", "description")


def _text_changed(old: store.StoredResource | None, data: Mapping[str, Any], link: int) -> bool:
    """Whether its page must be judged against the entry again: new, re-added, on another
    link, or its title or description edited. A tags edit, a review date or a catalog file
    renamed changes nothing drift reads, and each cost a full read of the page."""
    if old is None or old.removed_at is not None or old.link_id != link:
        return True
    return any(old.fields.get(name) != data.get(name) for name in _JUDGED_FIELDS)


def _needs_link(old: store.StoredResource, res: Resource) -> bool:
    return old.url != res.url or old.link_id is None


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of the fields whose values differ, the URL excepted (it has its own event)."""
    if old == new:  # nearly every entry of a nightly sync: one dict comparison
        return ()
    names = sorted((set(old) | set(new)) - {"url"})
    return tuple(n for n in names if old.get(n) != new.get(n))


def _fields_details(
    old: Mapping[str, Any], new: Mapping[str, Any], names: Sequence[str]
) -> dict[str, Any]:
    return {
        "fields": list(names),
        "old": {n: _finite(old.get(n)) for n in names},
        "new": {n: _finite(new.get(n)) for n in names},
    }


def _finite(value: Any) -> Any:
    """`value` with NaN and infinity as text ("nan"): a row stored before validation refused
    them may hold one, and PostgreSQL's JSON, so `db copy`, refuses the event that quotes it."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _url_details(
    old: store.StoredResource, new: Resource, seen: tuple[str, datetime] | None = None
) -> dict[str, Any]:
    """`reached`: when the old link's last check ended at the new address (its redirect's
    target, answering 200), which the report says until the new link is checked."""
    details: dict[str, Any] = {"fields": ["url"], "old": old.url, "new": new.url}
    if seen is not None and _page_of(seen[0]) == _page_of(new.url):
        details["reached"] = seen[1].isoformat()
    return details


def _page_of(url: str) -> str:
    """The link key of `url` without its `#section`: `accept-redirect` keeps the entry's."""
    return canonical_url(urldefrag(url.strip()).url)


#: Values a JSON round trip gives back equal and of the same type (a float's repr reads
#: back exactly; NaN and the infinities come back as floats too).
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
#: Sequences JSON gives back as lists.
_JSON_ARRAYS = frozenset({list, tuple})


def _plain(value: Any) -> bool:
    """A JSON scalar, or a list or tuple of them: what a round trip gives back equal."""
    kind = type(value)
    return kind in _JSON_SCALARS or (
        kind in _JSON_ARRAYS and all(type(item) in _JSON_SCALARS for item in value)
    )


def jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping as the JSON column will return it, so stored and fresh data compare equal.

    YAML gives dates and tuples; JSON gives back strings and lists. A mapping of string
    keys to strings, numbers, booleans and None, or lists (tuples) of those (nearly every
    catalog entry: its `tags` and `languages`), comes back as it is but for tuples made
    lists, so it is copied instead of being encoded and decoded (~10 µs an entry, every
    sync).
    """
    if all(type(k) is str and _plain(v) for k, v in value.items()):
        return {k: list(v) if type(v) in _JSON_ARRAYS else v for k, v in value.items()}
    result: dict[str, Any] = json.loads(json.dumps(dict(value), default=str, ensure_ascii=False))
    return result
