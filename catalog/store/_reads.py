"""History, status and export reads."""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    Text,
    and_,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from catalog import groups
from catalog import tables as t
from catalog.clock import as_utc
from catalog.collation import byte_order
from catalog.db import shown_url
from catalog.errors import ConfigError, NotFoundError
from catalog.health import CONTACT_GONE, UNCHECKED, entry_contact_reason, entry_view
from catalog.model import LEGACY_FINGERPRINT
from catalog.outcomes import HELD_REASON_END, Outcome
from catalog.store._decisions import decision_record
from catalog.store._observations import link_records
from catalog.store._records import (
    DecisionRecord,
    EventRecord,
    LinkStateRecord,
    ObservationRecord,
    RecheckLink,
    RecheckStatus,
    ResourceHistory,
    ResourceRecord,
    StaleNote,
    event_record,
    event_with,
    observation_record,
    resource_record,
)
from catalog.store._sql import chunks, read_session, table_of
from catalog.urls import canonical_url

_T = TypeVar("_T")


def resource_history(
    engine: Engine, rid: str, *, collection: str | None = None, limit: int = 100
) -> ResourceHistory:
    """Observations of a resource's link, the events of both and the decisions, newest first.

    An entry whose URL was changed (`accept-redirect`, `replace-url`, a hand edit) keeps
    the checks and link events of its earlier URLs from the time it had them: "it
    redirected for a week, then the curator accepted the redirect" is its history. Of its
    new URL it has the checks from the change on: one that was another entry's before
    has that entry's earlier checks, which were not of this one.
    An id used in several collections needs `collection`; an active resource wins
    over a removed one with the same id.
    """
    with read_session(engine) as s:
        row, key, path = _find_resource(s, rid, collection)
        links = link_records(s, active_only=False, link_ids=[row.link_id] if row.link_id else [])
        # Its page's drift only if the page drifted from this entry (`health.drifted_from`).
        link = entry_view(links[0], str(row.id)) if links else None
        earlier, moved_at = _earlier_links(s, row.id)
        seen = or_(
            and_(t.Observation.link_id == row.link_id, _from(t.Observation.checked_at, moved_at)),
            *(
                and_(
                    t.Observation.link_id == link_id,
                    _within(t.Observation.checked_at, since, until),
                )
                for link_id, since, until in earlier
            ),
        )
        observations = s.scalars(
            select(t.Observation)
            .where(seen)
            .order_by(t.Observation.checked_at.desc(), t.Observation.id.desc())
            .limit(limit)
        )
        # The links' own events; not another entry's edits or drift on a shared link.
        event_filter = or_(
            t.Event.resource_id == row.id,
            and_(
                t.Event.link_id == row.link_id,
                t.Event.resource_id.is_(None),
                _from(t.Event.at, moved_at),
            )
            if row.link_id is not None
            else false(),
            *(
                and_(
                    t.Event.link_id == link_id,
                    t.Event.resource_id.is_(None),
                    _within(t.Event.at, since, until),
                )
                for link_id, since, until in earlier
            ),
        )
        events = s.execute(
            select(t.Event, t.Link.url, t.Resource.rid, t.Collection.key)
            .outerjoin(t.Link, t.Link.id == t.Event.link_id)
            .outerjoin(t.Resource, t.Resource.id == t.Event.resource_id)
            .outerjoin(t.Collection, t.Collection.id == t.Resource.collection_id)
            .where(event_filter)
            .order_by(t.Event.at.desc(), t.Event.id.desc())
            .limit(limit)
        )
        decisions = s.scalars(
            select(t.Decision)
            .where(t.Decision.resource_id == row.id)
            .order_by(t.Decision.at.desc(), t.Decision.id.desc())
            .limit(limit)
        )
        told = tuple(
            event_with(event_record(e), url=url, rid=erid, collection=ekey)
            for e, url, erid, ekey in events
        )
        return ResourceHistory(
            resource=_with_contact_note(resource_record(row, key, path), link, told),
            link=link,
            observations=tuple(observation_record(o) for o in observations),
            events=told,
            decisions=tuple(decision_record(d) for d in decisions),
        )


def _with_contact_note(
    resource: ResourceRecord, link: LinkStateRecord | None, events: Sequence[EventRecord]
) -> ResourceRecord:
    """`resource` with its link's gone contacts that it names as its first out-of-date note
    (`contact_gone`), as the report's queue files them: `linkhealth resource` showed the
    drift and staleness of an entry, not that its hotline's number left the page. Since
    its latest `contact_gone` event, when the history holds one."""
    if link is None or link.contact_reason is None:
        return resource
    description = resource.fields.get("description")
    said = entry_contact_reason(
        link.contact_reason,
        link.contacts_gone,
        resource.title,
        str(description) if description not in (None, "") else None,
    )
    if said is None:
        return resource
    since = next((e.at for e in events if e.kind == CONTACT_GONE), None)
    return replace(resource, stale=(StaleNote(CONTACT_GONE, said, since), *resource.stale))


def resource_histories(
    engine: Engine,
    resource_pks: Collection[int],
    *,
    since: datetime | None = None,
    limit: int = 100,
) -> dict[int, ResourceHistory]:
    """`resource_history` of each resource `resource_pks` names (resources.id, an active
    one as `resource_history` finds it), keeping what happened from `since` on, by pk.

    Read together, a few queries per `CHUNK` resources: the report's pages of the entries
    whose URL changed read each alone, ~10 ms apiece, took minutes once a whole file moved
    to https. The same rows as `resource_history` (`_Moves.seen` is its filters), chosen
    in Python from the checks and link events of all their links since `since`; pks of no
    resource are left out."""
    found: dict[int, ResourceHistory] = {}
    with read_session(engine) as s:
        for part in chunks(sorted(set(resource_pks))):
            found.update(_histories(s, part, since, limit))
    return found


def decisions_by_resource(
    engine: Engine, *, since: datetime | None = None, shard: tuple[int, int] = (0, 1)
) -> dict[int, list[DecisionRecord]]:
    """The curators' decisions about the active resources, newest first, by pk: one query
    for the report's resource pages, as `catalog.queries.history_events` reads their events
    (a query per page took minutes at 100,000 resources). `since`: from then on. `shard` =
    (k, n) keeps the resources whose current link id is k modulo n (no link: 0), the
    pages of that shard."""
    d = table_of(t.Decision)
    query = (
        select(d.c.id, d.c.at, d.c.decided_by, d.c.kind, d.c.resource_id, d.c.reason, d.c.details)
        .join(t.Resource, t.Resource.id == d.c.resource_id)
        .where(t.Resource.removed_at.is_(None))
        .order_by(d.c.at.desc(), d.c.id.desc())
    )
    if since is not None:
        query = query.where(d.c.at >= since)
    part, parts = shard
    if parts > 1:
        query = query.where(func.coalesce(t.Resource.link_id, 0) % parts == part)
    found: defaultdict[int, list[DecisionRecord]] = defaultdict(list)
    with read_session(engine) as s:
        for pk, at, by, kind, resource_pk, reason, details in s.connection().execute(query):
            found[resource_pk].append(
                DecisionRecord(pk, at, by, kind, resource_pk, reason, dict(details or {}))
            )
    return dict(found)


def _histories(
    s: Session, pks: Sequence[int], since: datetime | None, limit: int
) -> Iterator[tuple[int, ResourceHistory]]:
    rows = s.execute(
        select(t.Resource, t.Collection.key, t.Collection.path)
        .join(t.Collection, t.Collection.id == t.Resource.collection_id)
        .where(t.Resource.id.in_(pks))
    ).all()
    current = sorted({row.link_id for row, _, _ in rows if row.link_id is not None})
    links = {link.id: link for link in link_records(s, active_only=False, link_ids=current)}
    changes: defaultdict[int, list[tuple[datetime, Any]]] = defaultdict(list)
    for pk, at, details in s.execute(
        select(t.Event.resource_id, t.Event.at, t.Event.details)
        .where(t.Event.resource_id.in_(pks), t.Event.kind.in_(_URL_CHANGES))
        .order_by(t.Event.at, t.Event.id)
    ):
        changes[pk].append((at, details))
    edits = {pk: _url_edits(happened) for pk, happened in changes.items()}
    old_ids = _old_link_ids(s, (one for one, _ in edits.values()))
    moves: dict[int, _Moves] = {}
    for row, _, _ in rows:
        one, moved_at = edits.get(row.id, ([], None))
        moves[row.id] = _Moves(row.link_id, moved_at, _url_periods(one, old_ids))
    link_ids = sorted({link for m in moves.values() for link in m.links})

    # The links' checks and events since `since`, by link, newest first.
    checks: defaultdict[int, list[ObservationRecord]] = defaultdict(list)
    obs = table_of(t.Observation)
    for part in chunks(link_ids):
        query = select(obs).where(obs.c.link_id.in_(part))
        if since is not None:
            query = query.where(obs.c.checked_at >= since)
        # Core rows: a moved file's entries have thousands of checks, ORM objects cost more.
        for o in s.connection().execute(query.order_by(obs.c.checked_at.desc(), obs.c.id.desc())):
            checks[o.link_id].append(observation_record(o))
    link_events: defaultdict[int, list[EventRecord]] = defaultdict(list)
    for part in chunks(link_ids):
        for e in _events(s, since, t.Event.link_id.in_(part), t.Event.resource_id.is_(None)):
            assert e.link_id is not None
            link_events[e.link_id].append(e)
    own_events: defaultdict[int, list[EventRecord]] = defaultdict(list)
    for e in _events(s, since, t.Event.resource_id.in_(pks)):
        assert e.resource_id is not None
        own_events[e.resource_id].append(e)
    decided: defaultdict[int, list[DecisionRecord]] = defaultdict(list)
    decisions = select(t.Decision).where(t.Decision.resource_id.in_(pks))
    if since is not None:
        decisions = decisions.where(t.Decision.at >= since)
    for d in s.scalars(decisions.order_by(t.Decision.at.desc(), t.Decision.id.desc())):
        decided[d.resource_id].append(decision_record(d))

    for row, key, path in rows:
        m = moves[row.id]
        seen = [
            o for link in m.links for o in checks.get(link, ()) if m.seen(o.link_id, o.checked_at)
        ]
        events = [*own_events.get(row.id, ())]
        events += [
            e for link in m.links for e in link_events.get(link, ()) if m.seen(e.link_id, e.at)
        ]
        yield (
            row.id,
            ResourceHistory(
                resource=resource_record(row, key, path),
                link=links.get(row.link_id) if row.link_id is not None else None,
                observations=tuple(_newest(seen, lambda o: (o.checked_at, o.id), limit)),
                events=tuple(_newest(events, lambda e: (e.at, e.id), limit)),
                decisions=tuple(decided.get(row.id, ())[:limit]),
            ),
        )


@dataclass(frozen=True)
class _Moves:
    """Which checks and link events are an entry's: `resource_history`'s filters."""

    link_id: int | None
    #: When it took its current URL (None: it had it from the start).
    moved_at: datetime | None
    earlier: list[Period]

    @property
    def links(self) -> list[int]:
        """Its current link and the links of its earlier URLs, each once."""
        ids = [] if self.link_id is None else [self.link_id]
        return list(dict.fromkeys([*ids, *(link for link, _, _ in self.earlier)]))

    def seen(self, link_id: int | None, at: datetime) -> bool:
        """A check or link event of `link_id` at `at` is the entry's."""
        if link_id is None:
            return False
        if link_id == self.link_id and (self.moved_at is None or at >= self.moved_at):
            return True
        return any(
            link_id == link and (start is None or at >= start) and at < until
            for link, start, until in self.earlier
        )


def _events(s: Session, since: datetime | None, *where: ColumnElement[bool]) -> list[EventRecord]:
    """Events as `resource_history` lists them (with their link's URL, their resource's id
    and collection), newest first."""
    query = (
        select(t.Event, t.Link.url, t.Resource.rid, t.Collection.key)
        .outerjoin(t.Link, t.Link.id == t.Event.link_id)
        .outerjoin(t.Resource, t.Resource.id == t.Event.resource_id)
        .outerjoin(t.Collection, t.Collection.id == t.Resource.collection_id)
        .where(*where)
        .order_by(t.Event.at.desc(), t.Event.id.desc())
    )
    if since is not None:
        query = query.where(t.Event.at >= since)
    return [
        event_with(event_record(e), url=url, rid=erid, collection=ekey)
        for e, url, erid, ekey in s.execute(query)
    ]


def _newest(items: list[_T], key: Callable[[_T], tuple[datetime, int]], limit: int) -> list[_T]:
    """The newest `limit` of `items` (by `key`: time, then id), newest first."""
    return sorted(items, key=key, reverse=True)[:limit]


#: (link id, from, until): a URL an entry had, from the URL edit before it (None: from the
#: start) until the edit that replaced it.
Period = tuple[int, datetime | None, datetime]


def _url_periods(
    edits: Iterable[tuple[datetime, Mapping[str, Any]]], link_ids: Mapping[str, int]
) -> list[Period]:
    """The periods of an entry's earlier URLs, from its `url_edited` events (at, details)
    oldest first; `link_ids`: link id by canonical URL (a URL never checked has none)."""
    periods: list[Period] = []
    since: datetime | None = None
    for at, details in edits:
        link_id = link_ids.get(canonical_url(str(details.get("old") or "")))
        if link_id is not None:
            periods.append((link_id, since, at))
        since = at
    return periods


def _earlier_links(s: Session, resource_pk: int) -> tuple[list[Period], datetime | None]:
    """The periods of the URLs the entry had before its URL edits (`_url_periods`), and
    before it was put back with another URL (`old_url` of its `added` event, until its
    removal); and when it took its current URL (None: it had it from the start)."""
    rows = s.execute(
        select(t.Event.at, t.Event.details)
        .where(t.Event.resource_id == resource_pk, t.Event.kind.in_(_URL_CHANGES))
        .order_by(t.Event.at, t.Event.id)
    ).all()
    edits, moved_at = _url_edits(rows)
    if not edits:
        return [], None
    return _url_periods(edits, _old_link_ids(s, [edits])), moved_at


#: The events of a resource that may change its URL.
_URL_CHANGES = ("url_edited", "added")

#: (when the entry stopped having the URL, {"old": URL}), oldest first.
Edits = list[tuple[datetime, Mapping[str, Any]]]


def _url_edits(rows: Iterable[tuple[datetime, Any]]) -> tuple[Edits, datetime | None]:
    """An entry's URL changes, from its `_URL_CHANGES` events (at, details) oldest first,
    as `_url_periods` takes them; and when it took its current URL (None: all along)."""
    edits: Edits = []
    moved_at: datetime | None = None
    for at, details in rows:
        details = details or {}
        if "old_url" in details:
            removed = details.get("removed_at")
            until = datetime.fromisoformat(removed) if removed else at
            edits.append((until, {"old": details["old_url"]}))
            moved_at = at
        elif "old" in details:
            edits.append((at, details))
            moved_at = at
    return edits, moved_at


def _old_link_ids(s: Session, edits: Iterable[Edits]) -> dict[str, int]:
    """Link id by canonical URL of the old URLs of `edits` (a URL never checked has none)."""
    urls = sorted(
        {
            canonical_url(str((details or {}).get("old") or ""))
            for one in edits
            for _, details in one
        }
    )
    found: dict[str, int] = {}
    for part in chunks(urls):
        found.update(s.execute(select(t.Link.url, t.Link.id).where(t.Link.url.in_(part))).all())
    return found


def _from(column: Any, since: datetime | None) -> ColumnElement[bool]:
    return column >= since if since else true()


def _within(column: Any, since: datetime | None, until: datetime) -> ColumnElement[bool]:
    return and_(column >= since, column < until) if since else column < until


def find_resource(engine: Engine, rid: str, *, collection: str | None = None) -> ResourceRecord:
    """The resource a curator named; `NotFoundError` when unknown, `ConfigError` (a usage
    error) when it is in several collections and none was named."""
    with read_session(engine) as s:
        return resource_record(*_find_resource(s, rid, collection))


def _renamed_to(s: Session, rid: str, collection: str | None) -> str | None:
    """'new-id' (collection/new-id when `collection` was not named) of the entry whose id
    was `rid` before a rename (a `fields_edited` event for `id`, see `catalog.sync`).
    The event's JSON text holds a non-ASCII id escaped, as json.dumps writes it
    ("gu\\u00eda": ensure_ascii), so both spellings are searched for, of each form the id
    may be typed in (`typed_id_forms`)."""
    forms = typed_id_forms(rid)
    spellings = dict.fromkeys(spelt for form in forms for spelt in (form, json.dumps(form)[1:-1]))
    details_text = t.Event.details.cast(Text)
    query = (
        select(t.Event.details, t.Resource.rid, t.Collection.key)
        .join(t.Resource, t.Resource.id == t.Event.resource_id)
        .join(t.Collection, t.Collection.id == t.Resource.collection_id)
        .where(
            t.Event.kind == "fields_edited",
            or_(*(details_text.contains(spelt, autoescape=True) for spelt in spellings)),
            t.Resource.removed_at.is_(None),
        )
        .order_by(t.Event.id.desc())
    )
    if collection is not None:
        query = query.where(t.Collection.key == collection)
    for details, now_rid, key in s.execute(query):
        if "id" in (details.get("fields") or ()) and (details.get("old") or {}).get("id") in forms:
            return repr(now_rid) if collection else f"{key}/{now_rid}"
    return None


def typed_id_forms(rid: str) -> tuple[str, ...]:
    """The forms to look a typed id up by, in order: as typed, then composed (NFC), then
    decomposed (NFD). Catalog ids are stored as written: one pasted from a macOS file name
    is decomposed, while keyboards type composed; each must find the other, and an id
    typed exactly as stored is found first (two entries may differ only in form)."""
    return tuple(dict.fromkeys((rid, *(unicodedata.normalize(f, rid) for f in ("NFC", "NFD")))))


def _find_resource(s: Session, rid: str, collection: str | None) -> tuple[t.Resource, str, str]:
    candidates: Sequence[Any] = []
    for form in typed_id_forms(rid):
        query = (
            select(t.Resource, t.Collection.key, t.Collection.path)
            .join(t.Collection, t.Collection.id == t.Resource.collection_id)
            .where(t.Resource.rid == form)
        )
        if collection is not None:
            query = query.where(t.Collection.key == collection)
        matches = s.execute(query).all()
        active = [m for m in matches if m[0].removed_at is None]
        candidates = active or matches
        if candidates:
            break
    if not candidates and collection is None and "/" in rid:
        # "toolkit/hotline", as verdicts, `status` and `export` name entries: pasted back.
        key, _, bare = rid.partition("/")
        with suppress(NotFoundError):
            return _find_resource(s, bare, key)
    if not candidates:
        if collection is not None:
            known = sorted(s.scalars(select(t.Collection.key)))
            if collection not in known:  # the --collection is the mistake, not the id
                raise NotFoundError(
                    f"no collection {collection!r} in the database (collections: "
                    f"{', '.join(known) or 'none'}); --collection takes a catalog file's name "
                    "without its ending"
                )
        where = f" in collection {collection!r}" if collection else ""
        now_named = _renamed_to(s, rid, collection)
        if now_named:
            raise NotFoundError(
                f"no resource has the id {rid!r}{where} any more: it was renamed to "
                f"{now_named}; use that id"
            )
        database = shown_url(s.get_bind().engine.url)
        raise NotFoundError(
            f"no resource with id {rid!r}{where} in the database {database}; check the id "
            "(ids are case-sensitive) and --db, or run `linkhealth sync` first if you added "
            "or renamed the entry in the catalog file since the last sync"
        )
    if len(candidates) > 1:
        keys = ", ".join(sorted(key for _, key, _ in candidates))
        # It exists: naming it without its collection is a usage error (exit 2), not 4.
        raise ConfigError(
            f"resource id {rid!r} is in several collections ({keys}); name one with --collection"
        )
    row, key, path = candidates[0]
    return row, key, path


def recheck_statuses(
    engine: Engine,
    collections: Collection[str] | None,
    *,
    rids: Collection[str] = (),
    failing_states: Collection[str] = (),
    failing_outcomes: Collection[str] = (),
    edit_kinds: Collection[str] = (),
    edits_since: datetime | None = None,
    now: datetime | None = None,
) -> list[RecheckStatus]:
    """The active resources of `collections` (keys; None: all) a recheck may pick, by
    collection then id: those with an id of `rids`, those whose link's state is one of
    `failing_states` or whose outcome is one of `failing_outcomes`, and, given
    `edit_kinds`, those never checked or edited (an event of those kinds at or after
    `edits_since`) after their link's last check, or at all when that check is stamped
    after `now` (`catalog.ops.edited_since_checked`), each with its latest such edit.

    Those rows only, with the few columns a recheck reads: building every active
    resource's and link's record, to plan and again for the verdicts, took about 900 MB
    and 15 s at 100,000 resources to recheck a handful, and the edits came from every
    event since the oldest check."""
    res, link, col = t.Resource, t.Link, t.Collection
    wanted: list[ColumnElement[bool]] = []
    if failing_states or failing_outcomes:
        wanted.append(
            or_(link.state.in_(sorted(failing_states)), link.outcome.in_(sorted(failing_outcomes)))
        )
    last_edit: Any = null()
    if edit_kinds:
        last_edit = _latest_edit(edit_kinds, edits_since)
        checked = link.last_checked_at
        wanted.append(
            or_(
                res.link_id.is_(None),
                checked.is_(None),
                func.coalesce(link.outcome, "") == "",  # tried only while offline
                last_edit > checked,
                and_(checked > now, last_edit.is_not(None)) if now is not None else false(),
            )
        )
    # The verdicts of a `--failing` recheck name thousands of ids: IN lists of `CHUNK`.
    wheres: list[ColumnElement[bool]] = [res.rid.in_(part) for part in chunks(sorted(set(rids)))]
    if wanted:
        wheres.append(or_(*wanted))
    query = (
        select(
            col.key,
            res.rid,
            res.link_id,
            link.state,
            link.outcome,
            link.last_checked_at,
            link.reason,
            groups.entry_drift(link.drift_reason, link.drift_entries, res.id).label("drift_reason"),
            link.flapping,
            link.first_failure_at,
            link.last_change_at,
            link.http_status,
            # Which gone contacts the entry names (`health.entry_contact_reason`): read of
            # the few entries whose link has lost one.
            link.contact_reason,
            case((link.contact_reason.is_not(None), link.contacts_gone), else_=None).label(
                "contacts_gone"
            ),
            case((link.contact_reason.is_not(None), res.title), else_=None).label("title"),
            case(
                (link.contact_reason.is_not(None), res.fields["description"].as_string()),
                else_=None,
            ).label("entry_description"),
            last_edit.label("last_edit"),
            _checked_reason().label("checked_reason"),
        )
        .join(col, col.id == res.collection_id)
        .outerjoin(link, link.id == res.link_id)
        .where(res.removed_at.is_(None))
    )
    if collections is not None:
        query = query.where(col.key.in_(sorted(collections)))
    found: dict[tuple[str, str], RecheckStatus] = {}
    with read_session(engine) as s:
        for where in wheres:
            for row in s.connection().execute(query.where(where)):
                found[(row.key, row.rid)] = _recheck_status(row)
    return [found[key] for key in sorted(found)]


def removed_entries(
    engine: Engine, collections: Collection[str] | None, rids: Collection[str]
) -> list[tuple[str, str, datetime]]:
    """(collection key, id, removed at) of the entries of `collections` (keys; None: all)
    with an id of `rids` that a sync found gone from their catalog file, by collection then
    id: an id a curator names after removing its entry is no typo (`recheck` says so)."""
    res, col = t.Resource, t.Collection
    query = (
        select(col.key, res.rid, res.removed_at)
        .join(col, col.id == res.collection_id)
        .where(res.removed_at.is_not(None))
    )
    if collections is not None:
        query = query.where(col.key.in_(sorted(collections)))
    found: list[tuple[str, str, datetime]] = []
    with read_session(engine) as s:
        for part in chunks(sorted(set(rids))):
            rows = s.execute(query.where(res.rid.in_(part)))
            found.extend((key, rid, as_utc(at)) for key, rid, at in rows if at is not None)
    return sorted(found)


def changes_since(
    engine: Engine,
    collections: Collection[str] | None,
    kinds: Collection[str],
    since: datetime | int,
) -> dict[str, int]:
    """Kind -> how many events of `kinds` (a sync's: added, removed, ...) the entries of
    `collections` (keys; None: all, those of a collection retired or deleted as well) had
    after `since`: what a report written then does not show (`catalog.ops.plan_recheck`).
    `since`: a time, or the id of the newest event the report read (`newest_event`),
    which no clock set ahead or back moves. A look-up on the events' time index or key."""
    ev, res, col = t.Event, t.Resource, t.Collection
    after = ev.id > since if isinstance(since, int) else ev.at > since
    query = (
        select(ev.kind, func.count())
        .join(res, res.id == ev.resource_id)
        .where(after, ev.kind.in_(sorted(kinds)))
        .group_by(ev.kind)
    )
    if collections is not None:
        query = query.join(col, col.id == res.collection_id).where(col.key.in_(sorted(collections)))
    with read_session(engine) as s:
        return {kind: int(n) for kind, n in s.execute(query)}


def newest_event(engine: Engine) -> tuple[int, datetime] | None:
    """The id and time of the newest event (None: none yet): a report records them as what
    it showed, and `changes_since` counts the catalog events after that id, while the
    event of that id is still the one it was (`event_at`: a database restored from its
    backup numbers new events again, `reports.publish`)."""
    query = select(t.Event.id, t.Event.at).order_by(t.Event.id.desc()).limit(1)
    with read_session(engine) as s:
        row = s.execute(query).first()
    return None if row is None else (row.id, as_utc(row.at))


def event_at(engine: Engine, event_id: int) -> datetime | None:
    """The time of event `event_id`; None when the database has no such event (one
    restored from a backup taken before it). A look-up on the events' key."""
    with read_session(engine) as s:
        at = s.execute(select(t.Event.at).where(t.Event.id == event_id)).scalar_one_or_none()
    return None if at is None else as_utc(at)


def _recheck_status(row: Any) -> RecheckStatus:
    link = None
    if row.link_id is not None:
        link = RecheckLink(
            state=row.state or UNCHECKED,
            outcome=Outcome(row.outcome) if row.outcome else None,
            last_checked_at=row.last_checked_at,
            reason=row.reason,
            drift_reason=row.drift_reason,
            flapping=bool(row.flapping),
            first_failure_at=row.first_failure_at,
            last_change_at=row.last_change_at,
            http_status=row.http_status,
            contact_reason=entry_contact_reason(
                row.contact_reason, row.contacts_gone, row.title, row.entry_description
            ),
            checked_reason=row.checked_reason,
        )
    return RecheckStatus(collection=row.key, rid=row.rid, link=link, last_edit=row.last_edit)


#: Aliases of `observations` made once (`catalog.queries._LATEST` says why), each for one
#: query builder.
_CHECKED, _UNSENT, _SENT = aliased(t.Observation), aliased(t.Observation), aliased(t.Observation)


def _checked_reason() -> Any:
    """Of a link whose reason is a held try's (`held_reason`), the reason its last check
    gave (the observation `last_observation_id`: never a held try); NULL for the others,
    whose reason is that check's. A verdict labelling the state as the last check's
    followed it with the held try's reason ("OK - HEAD not sent: host unavailable")."""
    checked = _CHECKED
    reason = (
        select(checked.reason)
        .where(checked.id == t.Link.last_observation_id)
        .correlate(t.Link)
        .scalar_subquery()
    )
    return case((held_reason(), reason), else_=None)


def _latest_edit(kinds: Collection[str], since: datetime | None) -> Any:
    """The outer resource's latest event of `kinds` at or after `since`: a look-up on the
    events' resource index per resource, where reading the events grew with the log."""
    ev = t.Event
    query = select(func.max(ev.at)).where(
        ev.resource_id == t.Resource.id, ev.kind.in_(sorted(kinds))
    )
    if since is not None:
        query = query.where(ev.at >= since)
    return query.correlate(t.Resource).scalar_subquery()


def oldest_check(engine: Engine, collections: Collection[str] | None) -> datetime | None:
    """The earliest last check of the links of the active resources of `collections`
    (keys; None: all)."""
    query = (
        select(func.min(t.Link.last_checked_at))
        .join(t.Resource, t.Resource.link_id == t.Link.id)
        .where(t.Resource.removed_at.is_(None))
    )
    if collections is not None:
        query = query.join(t.Collection, t.Collection.id == t.Resource.collection_id).where(
            t.Collection.key.in_(sorted(collections))
        )
    with read_session(engine) as s:
        oldest: datetime | None = s.scalar(query)
        return oldest


@dataclass(frozen=True)
class RunVerdict:
    """One active resource checked in a run, with its outcome there."""

    collection: str
    rid: str
    outcome: str
    #: The reason of its try when the run did not send it (`Observation.held`: its host
    #: had said it was away, or answered none of its last links), else None. No check: its
    #: outcome is the host's, its link's state an earlier check's.
    held_reason: str | None = None

    @property
    def held(self) -> bool:
        """Whether the run's try of it was not sent."""
        return self.held_reason is not None


def run_verdicts(engine: Engine, run_id: int) -> list[RunVerdict]:
    """Each active resource whose link `run_id` observed, with that run's last outcome for
    it, by collection then id: the resources `check --strict` judges. What it judges them
    by is the report's row of each (`catalog.ops.strict_findings`), not this outcome alone:
    a snooze, drift or flapping is the report's to weigh. A try the run did not send says
    so (`RunVerdict.held_reason`): it is no check of the link."""
    obs, link, res, col = (
        table_of(t.Observation),
        table_of(t.Link),
        table_of(t.Resource),
        table_of(t.Collection),
    )
    query = (
        select(
            col.c.key,
            res.c.rid,
            obs.c.outcome,
            # The reasons of the few tries not sent only: a night's are 100,000 checks'.
            case((obs.c.held.is_(True), func.coalesce(obs.c.reason, "")), else_=None),
        )
        .join(link, link.c.id == obs.c.link_id)
        .join(res, res.c.link_id == link.c.id)
        .join(col, col.c.id == res.c.collection_id)
        .where(obs.c.run_id == run_id, res.c.removed_at.is_(None))
        .order_by(byte_order(col.c.key), byte_order(res.c.rid), obs.c.checked_at, obs.c.id)
    )
    latest: dict[tuple[str, str], RunVerdict] = {}
    with read_session(engine) as s:
        for key, rid, outcome, unsent in s.execute(query):
            latest[(key, rid)] = RunVerdict(key, rid, outcome, unsent)
    return list(latest.values())


def fingerprints_to_compare(link_id: Any, outer: Any) -> tuple[Any, Any]:
    """Scalar subqueries of `outer`'s rows (correlated to `outer`, whose column `link_id`
    names the link): the fingerprint of the link's latest observation, and the one before
    it that had one. `content_changed` judges the pair. Two look-ups per link on its
    (link, time) index: numbering every observation of every link (a window over the whole
    table, twice) made `export` slower every night, 4 of its 6 s after a year of nights at
    2,000 resources."""
    obs = t.Observation

    def newest(*where: Any) -> Select[Any]:
        return (
            select(obs.fingerprint)
            .where(obs.link_id == link_id, *where)
            .order_by(obs.checked_at.desc(), obs.id.desc())
        )

    latest = newest().limit(1).correlate(outer).scalar_subquery()
    before = newest(obs.fingerprint.is_not(None)).limit(1).offset(1).correlate(outer)
    return latest, before.scalar_subquery()


#: Before any check: the lower bound of a link's tries when none was ever a check.
_BEFORE_ANY = datetime(1970, 1, 1, tzinfo=UTC)


def held_tries() -> ColumnElement[int]:
    """Of a query over `links`: how many of the link's tries since its last check were not
    sent (`Observation.held`: its host had said it was away), 0 when its latest was a check.
    Nothing else tells it from the link's row: a held try keeps its last check's outcome,
    date and state (`health.apply_observation`). A reader of the report's JSON or the export
    read "ok, checked a week ago" of a link asked last night and of one its host kept
    from being asked since.

    The count the store keeps (`links.held_tries`), never counted here: reports read kept
    counts. 0 of a link whose reason is no held try's (`held_reason`): its latest try was
    a check, which a linkhealth process started before the column (it keeps no count)
    stored without setting the count of the tries held before it back to 0."""
    return case((held_reason(), t.Link.held_tries), else_=0)


def recounted_held_tries() -> ColumnElement[int]:
    """Of a query (or an UPDATE) over `links`: `links.held_tries` counted again from the
    observations, for a link that took over another's (`catalog.rekey`): of a link whose
    reason is a held try's (`held_reason`), the held tries newer than its newest check, two
    look-ups on the (link, time) index; 0 for the others. A try that found our network down
    is no check and no hold (`health.is_check`): it neither counts nor ends the count, as
    the store keeps it. Migration 0023 counted every link so once."""
    obs = _UNSENT
    held = select(func.count()).select_from(obs).where(*unsent_since_sent(obs)).scalar_subquery()
    return case((held_reason(), held), else_=0)


def held_reason() -> ColumnElement[bool]:
    """Of a query over `links`: the link's latest try was held, or a try that found our
    network down followed it (which leaves the reason as it was): its reason is a held
    try's (`HELD_REASON_END`). Only such links can have held tries since their check."""
    return t.Link.reason.endswith(HELD_REASON_END, autoescape=True)


def unsent_since_sent(obs: Any, *, of_links: bool = True) -> tuple[ColumnElement[bool], ...]:
    """Of `obs` (an alias of `observations`) in a query over `links` (`of_links`; else
    over `obs` alone, its link its own `link_id`): it is one of the link's tries not sent
    since its newest check (`links.held_tries` counts them). `db prune` keeps them
    (`catalog.retention`): `linkhealth resource` and the resource page read them, and a
    merge of two links counts them again (`recounted_held_tries`)."""
    sent = _SENT
    link_id, outer = (t.Link.id, t.Link) if of_links else (obs.link_id, obs)
    last_check = (
        select(func.max(sent.checked_at))
        .where(
            sent.link_id == link_id,
            # `problem_checks.CHECKED`, of this alias (`health.is_check`).
            sent.held.is_not(True),
            sent.outcome != Outcome.NETWORK_UNAVAILABLE.value,
        )
        .correlate(outer)  # of links: the query's link, two levels out
        .scalar_subquery()
    )
    return (
        *((obs.link_id == t.Link.id,) if of_links else ()),
        obs.held.is_(True),
        obs.checked_at > func.coalesce(last_check, literal(_BEFORE_ANY, obs.checked_at.type)),
    )


def content_changed(latest: str | None, earlier: str | None) -> bool:
    """Whether a link's content changed, by `fingerprints_to_compare`'s pair (one made by an
    earlier fingerprint rule compares with nothing: `catalog.model.LEGACY_FINGERPRINT`)."""
    if earlier is not None and earlier.startswith(LEGACY_FINGERPRINT):
        return False
    return latest is not None and earlier not in (None, latest)


def stale_codes(stale_reasons: Iterable[Any] | None) -> tuple[str, ...]:
    """The codes of a resource's `stale_reasons` (`[{"code": ..., ...}, ...]`)."""
    return tuple(str(n.get("code")) for n in (stale_reasons or ()) if isinstance(n, dict))
