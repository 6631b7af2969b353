"""Sync primitives: `catalog.sync` composes them inside one `write_session`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from catalog import health as health_rules
from catalog import tables as t
from catalog.clock import as_utc
from catalog.model import Catalog, Resource
from catalog.outcomes import Outcome
from catalog.store._observations import insert_events, key_and_host
from catalog.store._records import EventRecord, StoredResource, event_record
from catalog.store._sql import chunks, insert_ids, read_session, table_of


def upsert_collection(
    s: Session, catalog: Catalog, data: Mapping[str, Any], *, now: datetime, partial: bool = False
) -> int:
    """The catalog's collection row, created or brought up to date. `partial`: a sync of
    its file alone (a curator decision's re-sync) leaves `synced_at`, the time of the last
    sync that could see the other files too: a partial removal after it is unsettled
    (`removed_in_part`)."""
    row = s.scalar(select(t.Collection).where(t.Collection.key == catalog.key))
    if row is None:
        row = t.Collection(key=catalog.key, path=str(catalog.path), title=catalog.title)
        s.add(row)
    row.path = str(catalog.path)
    row.title = catalog.title
    row.data = dict(data)
    if not partial or row.synced_at is None:
        row.synced_at = now
    s.flush()
    return row.id


def collection_files(engine: Engine) -> list[tuple[str, Path, dict[str, Any]]]:
    """(key, file, `collection` mapping) of every stored collection."""
    with read_session(engine) as s:
        rows = s.execute(select(t.Collection.key, t.Collection.path, t.Collection.data))
        return [(key, Path(path), dict(data or {})) for key, path, data in rows]


def collection_ids(s: Session, keys: Sequence[str]) -> dict[str, int]:
    """Collection key -> id, for the keys that have a row."""
    rows = s.execute(select(t.Collection.key, t.Collection.id).where(t.Collection.key.in_(keys)))
    return {key: cid for key, cid in rows}


def move_resources(s: Session, resource_ids: Sequence[int], collection_id: int) -> None:
    """Rows of entries that moved to another catalog file: they belong to its collection."""
    table = table_of(t.Resource)
    for chunk in chunks(list(resource_ids)):
        s.connection().execute(
            table.update().where(table.c.id.in_(chunk)).values(collection_id=collection_id)
        )


def stored_rids(s: Session, collection_id: int) -> dict[str, bool]:
    """Every resource id the collection has rows for -> whether the row is active (not
    removed): what sync needs of the rows before it reads them a chunk at a time."""
    table = table_of(t.Resource)
    rows = s.connection().execute(
        select(table.c.rid, table.c.removed_at.is_(None)).where(
            table.c.collection_id == collection_id
        )
    )
    return {rid: bool(active) for rid, active in rows}


def stored_resources(
    s: Session, collection_id: int, rids: Sequence[str] | None = None
) -> list[StoredResource]:
    """The collection's rows (only those of `rids` when given: sync reads a chunk at once).

    `rids` are bound in IN lists of `CHUNK`, whatever a caller passes: one list past the
    database's parameter limit (PostgreSQL's 65,535) failed a sync that moved that many."""
    table = table_of(t.Resource)
    query = select(
        table.c.id,
        table.c.rid,
        table.c.url,
        table.c.link_id,
        table.c.fields,
        table.c.line,
        table.c.removed_at,
    ).where(table.c.collection_id == collection_id)
    if rids is None:
        queries = [query]
    else:
        queries = [query.where(table.c.rid.in_(part)) for part in chunks(list(rids))]
    conn = s.connection()
    return [
        StoredResource(
            id=r.id,
            rid=r.rid,
            url=r.url,
            link_id=r.link_id,
            fields=dict(r.fields or {}),
            line=r.line,
            removed_at=r.removed_at,
        )
        for each in queries
        for r in conn.execute(each)
    ]


def ensure_links(s: Session, urls: Sequence[str]) -> dict[str, int]:
    """URL as written -> id of the links row of its canonical form (created when new)."""
    parsed = {url: key_and_host(url) for url in dict.fromkeys(urls)}
    keys = {url: key for url, (key, _) in parsed.items()}
    table = table_of(t.Link)
    conn = s.connection()
    ids: dict[str, int] = {}
    wanted = list(dict.fromkeys(keys.values()))
    for chunk in chunks(wanted):
        rows = conn.execute(select(table.c.url, table.c.id).where(table.c.url.in_(chunk)))
        ids.update((url, link_id) for url, link_id in rows)
    # The host of the first spelling, as the links row would have got it when created.
    hosts = {key: host for key, host in reversed(parsed.values())}
    missing = [key for key in wanted if key not in ids]
    if missing:
        inserted = insert_ids(
            conn,
            table.insert(),
            [{"url": key, "host": hosts[key], "state": health_rules.UNCHECKED} for key in missing],
        )
        ids.update(zip(missing, inserted, strict=True))
    return {url: ids[key] for url, key in keys.items()}


def redirect_targets_reached(
    s: Session, link_ids: Sequence[int]
) -> dict[int, tuple[str, datetime]]:
    """Per link of `link_ids` whose latest check ended at another address answering 200
    with a page that matches its entry (a redirect's target), that address and when: a
    URL edited to it (`accept-redirect`) was reached by that check, though its own link
    is not checked yet."""
    table = table_of(t.Link)
    found: dict[int, tuple[str, datetime]] = {}
    for chunk in chunks(list(dict.fromkeys(link_ids))):
        rows = s.connection().execute(
            select(table.c.id, table.c.final_url, table.c.last_checked_at).where(
                table.c.id.in_(chunk),
                table.c.http_status == 200,
                table.c.final_url.is_not(None),
                table.c.last_checked_at.is_not(None),
                table.c.outcome.in_(_REACHED_OUTCOMES),
                table.c.drift_since.is_(None),  # a page that does not match its entry
            )
        )
        found.update((link_id, (final, at)) for link_id, final, at in rows)
    return found


#: Outcomes of a check whose final address answered as a working page.
_REACHED_OUTCOMES = tuple(o.value for o in Outcome if o.is_ok or o is Outcome.REDIRECTED_PERMANENT)


@dataclass(frozen=True)
class ResourceWrite:
    """One resource row to insert or update during sync, with its catalog data."""

    resource: Resource
    fields: Mapping[str, Any]
    link_id: int
    #: The row to update; None to insert a new one.
    id: int | None = None
    #: Whether what drift judges of it changed (`Resource.text_at`); a new row's always did.
    text_changed: bool = True


def text_stamp(s: Session, now: datetime) -> datetime:
    """The `text_at` of the entries this sync changes: `now`, or just after the latest stamp
    if that is later (a clock ahead wrote it), so that a stamp is never older than one a
    page's read already covered (`links.text_upto`) and the edit is not missed."""
    table = table_of(t.Resource)
    latest = s.connection().execute(select(func.max(table.c.text_at))).scalar()
    if latest is None or latest < now:
        return now
    return latest + timedelta(microseconds=1)


def insert_resources(
    s: Session,
    collection_id: int,
    writes: Sequence[ResourceWrite],
    *,
    now: datetime,
    text_at: datetime | None = None,
) -> list[StoredResource]:
    """New resource rows, in one executemany; returned in the order given."""
    if not writes:
        return []
    table = table_of(t.Resource)
    ids = insert_ids(
        s.connection(),
        table.insert(),
        [
            {
                "collection_id": collection_id,
                **_resource_values(w),
                "created_at": now,
                "updated_at": now,
                "text_at": text_at or now,
            }
            for w in writes
        ],
    )
    return [_written(w, row_id) for w, row_id in zip(writes, ids, strict=True)]


def update_resources(
    s: Session, writes: Sequence[ResourceWrite], *, now: datetime, text_at: datetime | None = None
) -> list[StoredResource]:
    """Write the catalog's current data (and link) over existing rows; restores removed
    ones. Every write here is a curator's change, so `updated_at` moves; `text_at` (or
    `now`) only for those whose judged text changed."""
    if not writes:
        return []
    table = table_of(t.Resource)
    names = ["title", "url", "publisher", "fields", "line", "link_id"]
    statement = (
        table.update()
        .where(table.c.id == bindparam("row_id"))
        .values(
            {name: bindparam(name) for name in names}
            | {
                "removed_at": None,
                "updated_at": bindparam("now"),
                "text_at": func.coalesce(
                    bindparam("text_at", type_=table.c.text_at.type), table.c.text_at
                ),
            }
        )
    )
    stamp = text_at or now
    s.connection().execute(
        statement,
        [
            {
                "row_id": w.id,
                "now": now,
                "text_at": stamp if w.text_changed else None,
                **_resource_values(w),
            }
            for w in writes
        ],
    )
    return [_written(w, w.id) for w in writes if w.id is not None]


def update_lines(s: Session, lines: Mapping[int, int | None]) -> None:
    """Only the entries' line numbers moved: bookkeeping, so `updated_at` stays."""
    if not lines:
        return
    table = table_of(t.Resource)
    statement = (
        table.update().where(table.c.id == bindparam("row_id")).values(line=bindparam("new_line"))
    )
    s.connection().execute(
        statement, [{"row_id": row_id, "new_line": line} for row_id, line in lines.items()]
    )


def mark_removed(
    s: Session, resource_ids: Sequence[int], *, now: datetime, text_at: datetime | None = None
) -> None:
    """Soft-delete rows; leaving its page is a change of what the page is judged against."""
    table = table_of(t.Resource)
    for chunk in chunks(list(resource_ids)):
        s.connection().execute(
            table.update()
            .where(table.c.id.in_(chunk))
            .values(removed_at=now, updated_at=now, text_at=text_at or now)
        )


#: A row's set-asides: what keeps it out of the action queue, and the curator's review.
SET_ASIDE_COLUMNS = (
    "ignored_at",
    "ignored_reason",
    "snoozed_until",
    "snooze_reason",
    "reviewed_at",
)


def set_asides(s: Session, resource_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Row id -> its set-asides that are set (`SET_ASIDE_COLUMNS`), for the rows with any."""
    table = table_of(t.Resource)
    found: dict[int, dict[str, Any]] = {}
    for chunk in chunks(list(resource_ids)):
        query = select(table.c.id, *(table.c[name] for name in SET_ASIDE_COLUMNS))
        for row in s.connection().execute(query.where(table.c.id.in_(chunk))):
            values = {name: row._mapping[name] for name in SET_ASIDE_COLUMNS}
            if any(v is not None for v in values.values()):
                found[row.id] = {k: v for k, v in values.items() if v is not None}
    return found


#: The set-asides that keep a row out of the action queue: a decision about its link's
#: problem, which ends when the entry moves to another address (`catalog.sync`).
QUEUE_COLUMNS = ("ignored_at", "ignored_reason", "snoozed_until", "snooze_reason")


def clear_set_asides(
    s: Session, resource_ids: Sequence[int], columns: Sequence[str] = SET_ASIDE_COLUMNS
) -> None:
    """Drop the rows' ignore, snooze and review (a revived id that is another page now), or
    only `columns` of them (`QUEUE_COLUMNS`: an entry moved to another address)."""
    table = table_of(t.Resource)
    for chunk in chunks(list(resource_ids)):
        s.connection().execute(
            table.update().where(table.c.id.in_(chunk)).values(dict.fromkeys(columns))
        )


def active_rows_at(
    s: Session, collection_id: int, urls: Sequence[str]
) -> list[tuple[str, str, datetime]]:
    """(id, URL as written, when its row was created) of the collection's active rows with
    one of `urls`."""
    table = table_of(t.Resource)
    found: list[tuple[str, str, datetime]] = []
    for chunk in chunks(list(dict.fromkeys(urls))):
        query = select(table.c.rid, table.c.url, table.c.created_at).where(
            table.c.collection_id == collection_id,
            table.c.removed_at.is_(None),
            table.c.url.in_(chunk),
        )
        found.extend((rid, url, at) for rid, url, at in s.connection().execute(query))
    return found


def held_elsewhere(
    s: Session, collection_id: int, entries: Mapping[str, str], kind: str
) -> set[tuple[str, str]]:
    """(id, URL as written) of `entries` (id -> URL) that a row of another collection has,
    both alike, the row active or removed by a partial sync not settled since
    (`removed_in_part`, `kind`: removed): perhaps the entry moved from there by hand."""
    table = table_of(t.Resource)
    found: set[tuple[str, str]] = set()
    for chunk in chunks(list(entries)):
        query = select(table.c.id, table.c.rid, table.c.url, table.c.removed_at).where(
            table.c.collection_id != collection_id, table.c.rid.in_(chunk)
        )
        alike = [row for row in s.connection().execute(query) if entries[row.rid] == row.url]
        removed = [row.id for row in alike if row.removed_at is not None]
        in_part = removed_in_part(s, removed, kind) if removed else set()
        found.update(
            (row.rid, row.url) for row in alike if row.removed_at is None or row.id in in_part
        )
    return found


def removed_in_part(s: Session, resource_ids: Sequence[int], kind: str) -> set[int]:
    """Of the rows `resource_ids`, those whose latest `kind` event (removed) a partial sync
    recorded (its details' `partial`: one file synced alone, the others unseen), unsettled:
    at or after their collection's `synced_at`, which only a sync that could see the other
    files too moves on (`upsert_collection`). Such a sync that found the entry in none of
    them confirmed the removal: a page added with that id and URL later is new."""
    ev, res, col = table_of(t.Event), table_of(t.Resource), table_of(t.Collection)
    latest: dict[int, bool] = {}
    for chunk in chunks(list(resource_ids)):
        query = (
            select(ev.c.resource_id, ev.c.details, ev.c.at, col.c.synced_at)
            .join(res, res.c.id == ev.c.resource_id)
            .join(col, col.c.id == res.c.collection_id)
            .where(ev.c.kind == kind, ev.c.resource_id.in_(chunk))
            .order_by(ev.c.id)
        )
        for row_id, details, at, synced_at in s.connection().execute(query):
            partial = bool((details or {}).get("partial"))
            latest[row_id] = partial and (synced_at is None or as_utc(at) >= as_utc(synced_at))
    return {row_id for row_id, unsettled in latest.items() if unsettled}


def _resource_values(write: ResourceWrite) -> dict[str, Any]:
    res = write.resource
    return {
        "rid": res.id,
        "title": res.title,
        "url": res.url,
        "link_id": write.link_id,
        "publisher": res.publisher,
        "fields": dict(write.fields),
        "line": res.line,
    }


def _written(write: ResourceWrite, row_id: int | None) -> StoredResource:
    assert row_id is not None
    return StoredResource(
        id=row_id,
        rid=write.resource.id,
        url=write.resource.url,
        link_id=write.link_id,
        fields=dict(write.fields),
        line=write.resource.line,
        removed_at=None,
    )


@dataclass(frozen=True)
class NewEvent:
    """An event to append (see `add_events`)."""

    kind: str
    at: datetime
    run_id: int | None = None
    resource_id: int | None = None
    link_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def add_events(s: Session, events: Sequence[NewEvent]) -> list[EventRecord]:
    """Append events in one executemany; their ids ascend in the order given."""
    return insert_events(
        s.connection(),
        [
            {
                "at": e.at,
                "kind": e.kind,
                "run_id": e.run_id,
                "resource_id": e.resource_id,
                "link_id": e.link_id,
                "details": dict(e.details),
            }
            for e in events
        ],
    )


def add_event(
    s: Session,
    kind: str,
    *,
    at: datetime,
    run_id: int | None = None,
    resource_id: int | None = None,
    link_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> EventRecord:
    row = t.Event(
        at=at,
        kind=kind,
        run_id=run_id,
        resource_id=resource_id,
        link_id=link_id,
        details=dict(details or {}),
    )
    s.add(row)
    s.flush()
    return event_record(row)
