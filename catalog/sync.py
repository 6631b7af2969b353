"""Sync stage: reconcile the catalog files with the database.

Input: the `Catalog` records the source stage read. Output: the collections and
resources tables brought in line (one transaction per catalog, through
`catalog.store`), an event per change, and a `SyncResult` the CLI can print.

A resource is identified by (collection key, curator id). Removal is a soft
delete, so history survives and an entry put back later is "added" again. Only
the catalogs passed in are reconciled: a catalog left out of a run keeps its
resources untouched. Running sync twice with no edit writes no events.
Afterwards the synced resources' staleness reasons are recomputed (a curator's new
`reviewed_at` or `year` shows at once), with `HealthSettings` passed in or the defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog import store
from catalog.model import Catalog, Resource
from catalog.settings import HealthSettings

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
    #: The event's details: old/new values, `readded` for an entry put back.
    details: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for `linkhealth sync`, e.g. "toolkit/demandforum: url edited (a -> b)"."""
        where = f"{self.collection}/{self.id}"
        if self.kind == URL_EDITED:
            return (
                f"{where}: URL changed from {self.details.get('old')} to {self.details.get('new')}"
            )
        if self.kind == FIELDS_EDITED:
            return f"{where}: edited {', '.join(self.fields)}"
        return f"{where}: {self.kind.replace('_', ' ')}"


@dataclass(frozen=True)
class SyncResult:
    collections: tuple[str, ...] = ()
    added: int = 0
    edited: int = 0
    url_edited: int = 0
    removed: int = 0
    unchanged: int = 0
    changes: tuple[SyncChange, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def headline(self) -> str:
        return (
            f"Synced {len(self.collections)} catalog(s): {self.added} added, "
            f"{self.edited + self.url_edited} edited, {self.removed} removed, "
            f"{self.unchanged} unchanged."
        )


def sync_catalogs(
    engine: Engine,
    catalogs: Sequence[Catalog],
    *,
    now: datetime,
    run_id: int | None = None,
    health: HealthSettings | None = None,
) -> SyncResult:
    changes: list[SyncChange] = []
    unchanged = 0
    for catalog in catalogs:
        with store.write_session(engine) as session:
            found, same = _sync_one(session, catalog, now=now, run_id=run_id)
        changes.extend(found)
        unchanged += same
    if catalogs:
        store.refresh_staleness(
            engine,
            health or HealthSettings(),
            now=now,
            collection_keys=[c.key for c in catalogs],
            run_id=run_id,
        )
    kinds = [c.kind for c in changes]
    return SyncResult(
        collections=tuple(c.key for c in catalogs),
        added=kinds.count(ADDED),
        edited=kinds.count(FIELDS_EDITED),
        url_edited=kinds.count(URL_EDITED),
        removed=kinds.count(REMOVED),
        unchanged=unchanged,
        changes=tuple(changes),
    )


def _sync_one(
    s: Session, catalog: Catalog, *, now: datetime, run_id: int | None
) -> tuple[list[SyncChange], int]:
    key = catalog.key
    collection_id = store.upsert_collection(s, catalog, jsonable(catalog.collection), now=now)
    stored = {r.rid: r for r in store.stored_resources(s, collection_id)}
    changes: list[SyncChange] = []
    unchanged = 0

    def record(kind: str, rid: str, row: store.StoredResource, details: dict[str, Any]) -> None:
        store.add_event(
            s,
            kind,
            at=now,
            run_id=run_id,
            resource_id=row.id,
            link_id=row.link_id,
            details={"id": rid, **details},
        )
        changes.append(
            SyncChange(key, rid, kind, tuple(details.get("fields", ())), details=details)
        )

    seen: set[str] = set()
    for res in catalog.resources:
        if res.id in seen:  # the source stage reports duplicates; the first entry wins
            continue
        seen.add(res.id)
        data = jsonable(res.fields_dict())
        old = stored.get(res.id)
        if old is None:
            row = store.insert_resource(s, collection_id, res, data, now=now)
            record(ADDED, res.id, row, {"url": res.url, "title": res.title})
        elif old.removed_at is not None:
            row = store.update_resource(s, old.id, res, data, now=now, restore=True)
            record(ADDED, res.id, row, {"url": res.url, "title": res.title, "readded": True})
        else:
            edited = changed_fields(old.fields, data)
            if old.url == res.url and not edited:
                unchanged += 1
                if old.line != res.line:
                    store.update_resource(s, old.id, res, data, now=now, touched=False)
                continue
            row = store.update_resource(s, old.id, res, data, now=now)
            if old.url != res.url:
                record(URL_EDITED, res.id, row, _url_details(old, res))
            if edited:
                record(FIELDS_EDITED, res.id, row, _fields_details(old.fields, data, edited))
    for rid, old in stored.items():
        if rid not in seen and old.removed_at is None:
            store.mark_removed(s, old.id, now=now)
            record(REMOVED, rid, old, {"url": old.url})
    return changes, unchanged


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of the fields whose values differ, the URL excepted (it has its own event)."""
    names = sorted((set(old) | set(new)) - {"url"})
    return tuple(n for n in names if old.get(n) != new.get(n))


def _fields_details(
    old: Mapping[str, Any], new: Mapping[str, Any], names: Sequence[str]
) -> dict[str, Any]:
    return {
        "fields": list(names),
        "old": {n: old.get(n) for n in names},
        "new": {n: new.get(n) for n in names},
    }


def _url_details(old: store.StoredResource, new: Resource) -> dict[str, Any]:
    return {"fields": ["url"], "old": old.url, "new": new.url}


def jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping as the JSON column will return it, so stored and fresh data compare equal.

    YAML gives dates and tuples; JSON gives back strings and lists.
    """
    result: dict[str, Any] = json.loads(json.dumps(dict(value), default=str, ensure_ascii=False))
    return result
