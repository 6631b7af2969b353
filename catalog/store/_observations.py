"""Observations and link state: the checked run's one writer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    Subquery,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from catalog import drift
from catalog import health as health_rules
from catalog import tables as t
from catalog.collation import byte_order
from catalog.groups import entry_drift_since, stored_drift_entries
from catalog.health import Change, Entry, EntryDrift, LinkState
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.problem_checks import PROBLEM_START, keep_recounted
from catalog.settings import HealthSettings
from catalog.store._records import EventRecord, LinkStateRecord, parse_time
from catalog.store._sql import (
    CHUNK,
    chunks,
    insert_ids,
    read_session,
    table_of,
    write_session,
)
from catalog.store._targets import drift_raised_for
from catalog.urls import CheckedUrl, canonical_url, parse_url

_STATE_FIELDS = tuple(f.name for f in fields(LinkState))
#: A state's fields as a tuple, in `_STATE_FIELDS` order (one C call).
_state_of = attrgetter(*_STATE_FIELDS)

#: None as SQL NULL, not JSON 'null' (what `IS NOT NULL` filters on drift history expect).
_JSON_OR_NULL = JSON(none_as_null=True)


#: Observations stored per round of reads and writes inside `record_observations`'s one
#: transaction: a round's rows, link states and parameters are transient, and a batch of
#: 5,000 HTML observations stored at once peaked ~60 MB above the batch itself.
STORE_CHUNK = 1000


def record_observations(
    engine: Engine,
    run_id: int | None,
    observations: Sequence[Observation],
    health: HealthSettings,
    *,
    now: datetime,
) -> list[EventRecord]:
    """Store one batch in one transaction: observations, new link states, change events.

    Set-based, because a batch may hold a whole run: links, entries and drift history
    are read with one query per `CHUNK` links and every row is written by executemany,
    instead of several statements per URL. Observations of one URL in a batch are
    applied in order, each on the state (and drift history) the one before left.
    """
    if not observations:
        return []
    with write_session(engine) as s:
        conn = s.connection()
        events: list[EventRecord] = []
        for chunk in chunks(observations, STORE_CHUNK):
            events += _record_chunk(conn, run_id, chunk, health, now=now)
        return events


def _record_chunk(
    conn: Connection,
    run_id: int | None,
    observations: Sequence[Observation],
    health: HealthSettings,
    *,
    now: datetime,
) -> list[EventRecord]:
    """One round of `record_observations`. It reads the links and drift history as the
    rounds before left them in this transaction, so a URL seen in two rounds is applied
    in order."""
    parsed = [key_and_host(obs.url) for obs in observations]
    keys = [key for key, _ in parsed]
    hosts: dict[str, str] = {}
    for key, host in parsed:  # the first spelling's host, as links were always created
        hosts.setdefault(key, host)
    links = _links_by_url(conn, hosts)
    # Before the entries are read: a stamp a sync commits after them is not covered.
    text_upto = _latest_text_stamp(conn)
    judged = [
        links[key].id
        for key, obs in zip(keys, observations, strict=True)
        if health_rules.judges_drift(obs)
    ]
    entries = _entries_of(conn, judged)
    by_id = {link.id: link for link in links.values()}
    # A link never checked has no observations, so no drift history to read.
    scored = [i for i in dict.fromkeys(judged) if i in entries and by_id[i].last_checked_at]
    history = _relevance_histories(conn, scored)
    # Only a slow night's read short of its sample asks whether the nights before were slow.
    slow = _judged_reads(
        conn,
        [
            links[key].id
            for key, obs in zip(keys, observations, strict=True)
            if links[key].id in scored and health_rules.short_of_sample(obs)
        ],
    )
    baselines = _drifted_baselines(conn, [i for i in scored if by_id[i].drift_reason is not None])
    # A flag on every entry of a link that entries joined since: the entries it was raised for.
    flagged_for = drift_raised_for(
        conn,
        [
            i
            for i in dict.fromkeys(judged)
            if len(entries.get(i, ())) > 1
            and by_id[i].drift_reason is not None
            and by_id[i].drift_entries is None
        ],
    )
    states: dict[int, LinkState] = {}
    #: Each link's state as its row holds it, before this round.
    stored: dict[int, LinkState] = {}
    rows: list[dict[str, Any]] = []
    #: Per observation: its link row and the changes it revealed.
    changed: list[tuple[Any, list[Change], datetime]] = []
    #: Per observation: whether it came after a newer check of its link (`_late`).
    late: list[bool] = []
    #: Per observation: whether its scores were floors (`PageJudgement.short`): it judged
    #: no entry, so the read in full an edited entry is owed stays owed (`_cover_texts`).
    floors: list[bool] = []
    for obs, key in zip(observations, keys, strict=True):
        link = links[key]
        state = states.get(link.id)
        if state is None:
            state = states[link.id] = stored[link.id] = _row_state(link)
            if link.id in flagged_for:
                state = states[link.id] = _narrowed(
                    state, flagged_for[link.id], entries.get(link.id, ())
                )
        row = _observation_values(obs, run_id, link.id)
        rows.append(row)
        late.append(_late(state, obs, now))
        floors.append(False)
        if late[-1]:
            continue
        judgement = None
        if link.id in entries and health_rules.judges_drift(obs):
            past = history.setdefault(link.id, [])
            judged_by = _kept_baselines(
                _by_entry(past), state, stored[link.id], baselines.get(link.id, {})
            )
            reads = slow.get(link.id)
            judgement = health_rules.judge_page(
                obs,
                entries[link.id],
                judged_by,
                before=state,
                slow_nights=reads is not None and health_rules.slow_run(reads),
            )
            if judgement is not None and reads is not None:
                reads.insert(0, obs.bytes_read)
                del reads[drift.SHORT_READS :]
        if judgement is not None:
            floors[-1] = judgement.short
            row["relevance"] = judgement.relevance
            row["relevance_scores"] = dict(judgement.baseline_scores) or None
            if row["relevance_scores"]:
                past.insert(0, row["relevance_scores"])
                del past[DRIFT_HISTORY:]
        new, changes = health_rules.apply_observation(state, obs, health, now=now)
        new, drift_changes = health_rules.apply_drift(new, judgement, at=obs.checked_at)
        if link.id in entries and health_rules.judges_drift(obs):
            new, contact_changes = health_rules.apply_contacts(new, obs, entries[link.id])
            drift_changes += contact_changes
        states[link.id] = new
        changed.append((link, [*changes, *drift_changes], obs.checked_at))
    table = table_of(t.Observation)
    insert = table.insert().values(
        relevance_scores=bindparam("relevance_scores", type_=_JSON_OR_NULL),
        contacts=bindparam("contacts", type_=_JSON_OR_NULL),
    )
    ids = insert_ids(conn, insert, rows)
    last_seen = {link_id: link.last_observation_id for link_id, link in by_id.items()}
    checked: dict[int, list[datetime]] = defaultdict(list)
    for obs, row, obs_id, stale in zip(observations, rows, ids, late, strict=True):
        if health_rules.is_check(obs):
            if not stale:
                last_seen[row["link_id"]] = obs_id
            checked[row["link_id"]].append(obs.checked_at)
    counted, moved = _problem_checks(by_id, stored, states, checked, last_seen)
    _write_states(
        conn,
        states,
        stored,
        {i: by_id[i].last_observation_id for i in states},
        last_seen,
        counted,
    )
    _cover_texts(
        conn,
        [
            row["link_id"]
            for obs, row, stale, floor in zip(observations, rows, late, floors, strict=True)
            if not stale and not floor and _read_in_full(obs)
        ],
        text_upto,
    )
    events = _insert_link_events(conn, changed, run_id)
    # After the events: a flapping link's start is its `flapping_started` event.
    keep_recounted(conn, moved)
    return events


def _latest_text_stamp(conn: Connection) -> datetime | None:
    res = table_of(t.Resource)
    latest: datetime | None = conn.execute(select(func.max(res.c.text_at))).scalar()
    return latest


def _read_in_full(obs: Observation) -> bool:
    """A GET answered with a body (not a 304), or a fingerprint made: the page was read,
    and its entries judged if it could be; one that made no fingerprint (a soft 404) is
    not asked for again. A wall or a passing failure (`health.not_the_page`) read no page, so
    the read after an edit stays due: a 503 maintenance page counted as it, and the
    edited entry was never judged. Nor does a read whose scores are floors (a slow night's
    menu, `PageJudgement.short`), which its caller leaves out."""
    if obs.not_modified:
        return False
    if not health_rules.judges_drift(obs) and health_rules.not_the_page(obs):
        return False
    return obs.fingerprint is not None or ("GET" in obs.methods and obs.bytes_read > 0)


def _cover_texts(conn: Connection, link_ids: Sequence[int], text_upto: datetime | None) -> None:
    """Record that these links' pages were read after every entry text stamped up to
    `text_upto` (`links.text_upto`): the check's plan reads a page in full again only for
    a later stamp (`_targets._read_for_edits`), whatever the clocks said when."""
    if text_upto is None or not link_ids:
        return
    link = table_of(t.Link)
    for chunk in chunks(list(dict.fromkeys(link_ids))):
        conn.execute(
            link.update()
            .where(
                link.c.id.in_(chunk),
                or_(link.c.text_upto.is_(None), link.c.text_upto < text_upto),
            )
            .values(text_upto=text_upto)
        )


def _late(state: LinkState, obs: Observation, now: datetime) -> bool:
    """Whether `obs` was made before the link's newest check: a full run's batch stored
    after a recheck that ran meanwhile (rechecks take no lease) answered the same URL.
    It is stored, as every check is, but it does not set the link's state: applied, the
    night's 404 of an hour before overwrote the recheck's 200 that followed the curator's
    fix, and the report called the fixed link failing, with a "newly failing" change.

    A newest check stamped after `now` is one of a clock since set back: waiting for the
    clock to pass it would freeze the link, so it does not make later checks late (the
    store applies them as it always did). So does a recheck made on a machine whose clock
    runs ahead of the nightly worker's, within that lead: its check is overwritten then, as
    before. A link with no outcome has no newest check, only a try that found our network
    down (`last_checked_at` moves for that alone): its first answer is never late."""
    newest = state.last_checked_at if state.outcome is not None else None
    return newest is not None and obs.checked_at < newest <= now


def _problem_checks(
    by_id: Mapping[int, Any],
    stored: Mapping[int, LinkState],
    states: Mapping[int, LinkState],
    checked: Mapping[int, list[datetime]],
    last_seen: Mapping[int, int | None],
) -> tuple[dict[int, int], list[int]]:
    """Each link's kept count of the checks that saw its problem (catalog.problem_checks)
    after this round: the new count of each link whose problem start the round left where
    it was (kept up to its newest check, `last_seen`), and the links to recount (their
    start moved, or their count is not one of every check up to the round)."""
    counted: dict[int, int] = {}
    moved: list[int] = []
    for link_id, state in states.items():
        link = by_id[link_id]
        start, kept = link.problem_start, link.problem_checks
        if _start_parts(state) != _start_parts(stored[link_id]):
            moved.append(link_id)
        elif start is None:  # never checked, and still not (the network was down)
            continue
        elif (
            kept is None
            # Counted from another start, or not up to the link's newest check (one stored
            # by a writer that keeps no count: a linkhealth from before the count).
            or link.problem_checks_since != start  # both UTC-aware (`tables.UTCDateTime`)
            or link.problem_checks_upto != link.last_observation_id
        ):
            moved.append(link_id)
        elif checked[link_id]:  # a late check too: a scan counts it by its time
            counted[link_id] = kept + sum(1 for at in checked[link_id] if at >= start)
    return counted, moved


def _start_parts(state: LinkState) -> tuple[Any, ...]:
    """What `PROBLEM_START` reads of a link's state: while these stay, so does the start
    (a flapping link's `flapping_started` event comes only with `flapping` turning on)."""
    return (
        state.drift_since,
        state.state == health_rules.BROKEN,
        state.flapping,
        state.first_failure_at,
        state.last_change_at,
    )


def key_and_host(url: str) -> tuple[str, str]:
    """`canonical_url(url)` and `host_of(url)` with one parse instead of two."""
    parsed = parse_url(url)
    if isinstance(parsed, CheckedUrl):  # valid URLs hold no whitespace: nothing to strip
        return parsed.canonical, parsed.host
    return canonical_url(url), ""


def _links_by_url(conn: Connection, hosts: Mapping[str, str]) -> dict[str, Any]:
    """The links rows (Core rows) of canonical URLs (-> host); missing ones are created."""
    table = table_of(t.Link)
    found: dict[str, Any] = {}
    keys = list(hosts)
    # With the start of each link's problem, to keep its count of checks (`_problem_checks`).
    query = select(table, PROBLEM_START.label("problem_start"))
    for chunk in chunks(keys):
        for row in conn.execute(query.where(table.c.url.in_(chunk))):
            found[row.url] = row
    missing = [key for key in keys if key not in found]
    if missing:
        conn.execute(
            table.insert(),
            [{"url": key, "host": hosts[key], "state": health_rules.UNCHECKED} for key in missing],
        )
        for chunk in chunks(missing):
            for row in conn.execute(query.where(table.c.url.in_(chunk))):
                found[row.url] = row
    return found


def _write_states(
    conn: Connection,
    states: Mapping[int, LinkState],
    stored: Mapping[int, LinkState],
    stored_seen: Mapping[int, int | None],
    last_seen: Mapping[int, int | None],
    problem_checks: Mapping[int, int],
) -> None:
    """Write each link's new state: only the columns that changed, one executemany per
    set of changed columns. A nightly run of unchanged links moves three or four columns
    of twenty-four; binding and writing all of them was most of the store's SQL time."""
    table = table_of(t.Link)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for link_id, state in states.items():
        old = stored[link_id]
        names = [
            name
            for name, now, was in zip(_STATE_FIELDS, _state_of(state), _state_of(old), strict=True)
            if now != was
        ]
        values = {name: _state_value(state, name) for name in names}
        if last_seen[link_id] != stored_seen[link_id]:
            names.append("last_observation_id")
            values["last_observation_id"] = last_seen[link_id]
        if link_id in problem_checks:
            names += ("problem_checks", "problem_checks_upto")
            values["problem_checks"] = problem_checks[link_id]
            values["problem_checks_upto"] = last_seen[link_id]
        if names:
            groups.setdefault(tuple(names), []).append({**values, "link_id": link_id})
    for columns, rows in groups.items():
        statement = (
            table.update()
            .where(table.c.id == bindparam("link_id"))
            .values({name: bindparam(name) for name in columns})
        )
        conn.execute(statement, rows)


def _insert_link_events(
    conn: Connection, changed: Sequence[tuple[Any, list[Change], datetime]], run_id: int | None
) -> list[EventRecord]:
    """One event per change, in observation order (ids ascend the same way)."""
    rows: list[dict[str, Any]] = []
    urls: list[str] = []
    for link, changes, at in changed:
        for change in changes:
            # Drift is judged per entry, and a gone contact is news of the entries naming
            # it: their events name the resource too.
            entry = change.entry if change.entry is not None else change.details.get("entry")
            rows.append(
                {
                    "at": at,
                    "kind": change.kind,
                    "run_id": run_id,
                    "link_id": link.id,
                    "resource_id": int(entry) if entry is not None else None,
                    "details": dict(change.details),
                }
            )
            urls.append(link.url)
    return insert_events(conn, rows, urls)


def insert_events(
    conn: Connection, rows: Sequence[dict[str, Any]], urls: Sequence[str | None] | None = None
) -> list[EventRecord]:
    if not rows:
        return []
    ids = insert_ids(conn, table_of(t.Event).insert(), rows)
    return [
        EventRecord(
            id=event_id,
            at=row["at"],
            kind=row["kind"],
            run_id=row["run_id"],
            link_id=row["link_id"],
            resource_id=row["resource_id"],
            details=dict(row["details"]),
            url=url,
        )
        for event_id, row, url in zip(ids, rows, urls or [None] * len(rows), strict=True)
    ]


#: Earlier relevance scores of a link used as the drift baseline.
DRIFT_HISTORY = 10


def _narrowed(state: LinkState, raised_for: set[str], entries: Sequence[Entry]) -> LinkState:
    """`state`'s flag on every entry narrowed to the entries it was raised for, when others
    joined the link since (added to its address, or moved there by `replace-url`): they
    never drifted, so the next read tells no "matches again" of them. A flag raised for
    each of the link's entries, or with no events to tell (pruned), stays on every entry."""
    if state.drift_reason is None or state.drift_since is None:
        return state
    keys = {e.key for e in entries}
    if not raised_for or keys <= raised_for:
        return state
    own = [
        health_rules.EntryDrift(key, state.drift_since, state.drift_reason, state.drift_score)
        for key in sorted(raised_for, key=health_rules.entry_order)
    ]
    return replace(state, drift_entries=tuple(own))


def _entries_of(conn: Connection, link_ids: Sequence[int]) -> dict[int, list[Entry]]:
    """The active catalog entries that use each link, keyed by resources.id; links with
    none are left out."""
    table = table_of(t.Resource)
    found: dict[int, list[Entry]] = {}
    for chunk in chunks(list(dict.fromkeys(link_ids))):
        rows = conn.execute(
            select(table.c.id, table.c.link_id, table.c.title, table.c.fields)
            .where(table.c.link_id.in_(chunk), table.c.removed_at.is_(None))
            .order_by(table.c.id)
        )
        for r in rows:
            description = text_or_none((r.fields or {}).get("description"))
            found.setdefault(r.link_id, []).append(Entry(str(r.id), r.title, description))
    return found


def _relevance_histories(conn: Connection, link_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The last `DRIFT_HISTORY` relevance_scores of each link, newest first."""
    return _newest(conn, link_ids, "relevance_scores", "relevance_scores", DRIFT_HISTORY)


def _judged_reads(conn: Connection, link_ids: Sequence[int]) -> dict[int, list[int]]:
    """The bytes read by each link's last `drift.SHORT_READS` reads whose page was judged
    (a relevance stored), newest first, for `health.slow_run`; every link given has a list."""
    found = _newest(conn, link_ids, "bytes_read", "relevance", drift.SHORT_READS)
    return {link_id: [int(n) for n in found.get(link_id, [])] for link_id in link_ids}


def _newest(
    conn: Connection,
    link_ids: Sequence[int],
    value: str,
    judged: str,
    count: int,
) -> dict[int, list[Any]]:
    """The column `value` of each link's newest `count` checks whose column `judged` is set,
    newest first (a later id first at the same time); a link with none is left out.

    Ranking every judged check of a link (a window over its whole history) grew with the
    months kept, ~11 s of a night of 20,000 links; each link's newest are read off the
    (link, time) index instead. PostgreSQL takes them per link (`LATERAL ... LIMIT`);
    SQLite, which has no LATERAL, finds each link's oldest kept check (its `count`-th)
    first and reads the checks since. Materialized, each cut-off is worked out once per
    link, not once per observation (unmaterialized, PostgreSQL scanned the whole table for
    each chunk of links)."""
    obs, link = table_of(t.Observation), table_of(t.Link)
    older = obs.alias("older")
    found: dict[int, list[Any]] = {}
    for chunk in chunks(list(link_ids)):
        if conn.dialect.name == "postgresql":
            newest = (
                select(older.c.checked_at, older.c.id, older.c[value])
                .where(older.c.link_id == link.c.id, older.c[judged].is_not(None))
                .order_by(older.c.checked_at.desc(), older.c.id.desc())
                .limit(count)
                .lateral("newest")
            )
            rows = conn.execute(
                select(link.c.id, newest.c[value])
                .select_from(link.join(newest, true()))
                .where(link.c.id.in_(chunk))
                .order_by(link.c.id, newest.c.checked_at.desc(), newest.c.id.desc())
            )
            for link_id, found_value in rows:
                found.setdefault(link_id, []).append(found_value)
            continue
        cutoff = (
            select(older.c.checked_at)
            .where(older.c.link_id == link.c.id, older.c[judged].is_not(None))
            .order_by(older.c.checked_at.desc(), older.c.id.desc())
            .limit(1)
            .offset(count - 1)
            .scalar_subquery()
        )
        cutoffs = (
            select(link.c.id.label("link_id"), cutoff.label("cutoff"))
            .where(link.c.id.in_(chunk))
            .cte("newest_cutoffs")
            .prefix_with("MATERIALIZED")
        )
        rows = conn.execute(
            select(obs.c.link_id, obs.c[value])
            .join(cutoffs, cutoffs.c.link_id == obs.c.link_id)
            .where(
                obs.c[judged].is_not(None),
                or_(cutoffs.c.cutoff.is_(None), obs.c.checked_at >= cutoffs.c.cutoff),
            )
            .order_by(obs.c.link_id, obs.c.checked_at.desc(), obs.c.id.desc())
        )
        for link_id, found_value in rows:
            kept = found.setdefault(link_id, [])
            if len(kept) < count:  # checks at the cut-off's very time, beyond it
                kept.append(found_value)
    return found


def drift_baselines(links: ColumnElement[bool]) -> Subquery:
    """The baseline each flagged entry of the links `links` selects drifted from: of each
    entry its link's drift flag concerns (`groups.entry_drift_since`), the newest
    `DRIFT_HISTORY` scored observations of the link checked before that entry's drift
    began (id, checked_at, link_id, resource_id, relevance_scores).

    A drifted score never joins the history, but on a page shared by several entries the
    others' scores go on filling it: after `DRIFT_HISTORY` nights the newest scored checks
    (`_relevance_histories`) held nothing of the drifted entry, and judged with no history
    the same page "matched it again". `db prune` keeps these rows too (`catalog.retention`).
    """
    obs, link, res = table_of(t.Observation), table_of(t.Link), table_of(t.Resource)
    since = entry_drift_since(link.c.drift_since, link.c.drift_entries, res.c.id)
    rank = (
        func.row_number()
        .over(partition_by=res.c.id, order_by=(obs.c.checked_at.desc(), obs.c.id.desc()))
        .label("rank")
    )
    scored = (
        select(
            obs.c.id,
            obs.c.checked_at,
            obs.c.link_id,
            res.c.id.label("resource_id"),
            obs.c.relevance_scores,
            rank,
        )
        .select_from(
            link.join(res, res.c.link_id == link.c.id).join(obs, obs.c.link_id == link.c.id)
        )
        .where(
            links,
            link.c.drift_reason.is_not(None),
            res.c.removed_at.is_(None),
            obs.c.relevance_scores.is_not(None),
            obs.c.checked_at < since,
        )
        .subquery()
    )
    return select(scored).where(scored.c.rank <= DRIFT_HISTORY).subquery()


def _drifted_baselines(conn: Connection, link_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """`drift_baselines` of these links: link -> entry key -> its rows of scores, newest
    first."""
    found: dict[int, dict[str, list[Any]]] = {}
    obs = table_of(t.Observation)
    for chunk in chunks(list(link_ids)):
        kept = drift_baselines(obs.c.link_id.in_(chunk))
        rows = conn.execute(
            select(kept.c.link_id, kept.c.resource_id, kept.c.relevance_scores).order_by(
                kept.c.resource_id, kept.c.rank
            )
        )
        for link_id, resource_id, scores in rows:
            found.setdefault(link_id, {}).setdefault(str(resource_id), []).append(scores)
    return found


def _kept_baselines(
    history: dict[str, list[float]],
    state: LinkState,
    stored: LinkState,
    baselines: Mapping[str, Sequence[Any]],
) -> dict[str, list[float]]:
    """`history` (`_by_entry`) with each flagged entry's scores the baseline it drifted from
    (`drift_baselines`, read for the link's `stored` state), while its drift is the one
    read: one cleared or dated anew earlier in the batch has its baseline in `history`.

    Only a baseline with scores of the entry stands in: one that joined the page after a
    flag on every entry began (its date the earliest flag held) has none from before it,
    and its own scores since are its baseline. Judged with no history, a takeover's end
    "matched it again" on a page that never held it."""
    for key, rows in baselines.items():
        since = health_rules.entry_view(state, key).drift_since
        if since is None or since != health_rules.entry_view(stored, key).drift_since:
            continue
        own = _by_entry(rows)
        for name in (key, health_rules.TEXT_SCORES + key):
            if own.get(name):
                history[name] = own[name]
    return history


def _by_entry(rows: Sequence[Any]) -> dict[str, list[float]]:
    history: dict[str, list[float]] = defaultdict(list)
    for scores in rows:
        for key, score in (scores or {}).items():
            if isinstance(score, int | float):
                history[key].append(float(score))
    return history


def _relevance_history(s: Session, link_id: int) -> dict[str, list[float]]:
    """One link's drift baseline: entry key -> earlier scores, newest first."""
    return _by_entry(_relevance_histories(s.connection(), [link_id]).get(link_id, []))


def text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _observation_values(obs: Observation, run_id: int | None, link_id: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "link_id": link_id,
        "url": obs.url,
        "checked_at": obs.checked_at,
        "outcome": obs.outcome.value,
        "reason": obs.reason,
        "methods": ",".join(obs.methods),
        "http_status": obs.http_status,
        "final_url": obs.final_url,
        "chain": [{"url": h.url, "status": h.status} for h in obs.chain],
        "elapsed_ms": obs.elapsed_ms,
        "retries": obs.retries,
        "content_type": obs.content_type,
        "content_length": obs.content_length,
        "etag": obs.etag,
        "last_modified": obs.last_modified,
        "fingerprint": obs.fingerprint,
        "title": obs.title,
        "bytes_read": obs.bytes_read,
        "not_modified": obs.not_modified,
        "suggested_url": obs.suggested_url,
        "https_found": obs.https_found,
        "relevance": None,
        "relevance_scores": None,
        "contacts": list(obs.contacts) if obs.contacts is not None else None,
        "held": obs.held,
    }


#: Positions of the state's fields in a links row read with `select(links)`.
_STATE_AT = tuple(table_of(t.Link).c.keys().index(name) for name in _STATE_FIELDS)
_row_values = itemgetter(*_STATE_AT)
_OUTCOME, _STATE, _FAILURES, _FLAPPING, _FLIPS, _NIGHTS, _SEEN, _GONE, _DRIFTED = (
    _STATE_FIELDS.index(name)
    for name in (
        "outcome",
        "state",
        "consecutive_failures",
        "flapping",
        "flips",
        "unavailable_nights",
        "contacts_seen",
        "contacts_gone",
        "drift_entries",
    )
)
#: The state's fields of times, stored as lists of ISO times.
_TIMES = ("flips", "unavailable_nights")


def _row_state(row: Any) -> LinkState:
    """`_link_state` of a Core row of `select(links)`, read by position: a run reads one
    per URL, and reading 24 columns by name cost more than building the state."""
    values = list(_row_values(row))
    outcome = values[_OUTCOME]
    values[_OUTCOME] = Outcome(outcome) if outcome else None
    values[_STATE] = values[_STATE] or health_rules.UNCHECKED
    values[_FAILURES] = values[_FAILURES] or 0
    values[_FLAPPING] = bool(values[_FLAPPING])
    values[_FLIPS] = tuple(parse_time(f) for f in (values[_FLIPS] or ()))
    values[_NIGHTS] = tuple(parse_time(f) for f in (values[_NIGHTS] or ()))
    values[_SEEN] = tuple(values[_SEEN] or ())
    values[_GONE] = tuple(values[_GONE] or ())
    values[_DRIFTED] = _drift_entries(values[_DRIFTED])
    return LinkState(*values)


def _link_state(link: Any) -> LinkState:
    """A links row's health, from an ORM object or a Core row (same attribute names)."""
    values = dict(zip(_STATE_FIELDS, _state_of(link), strict=True))
    values["outcome"] = Outcome(link.outcome) if link.outcome else None
    values["state"] = link.state or health_rules.UNCHECKED
    values["consecutive_failures"] = link.consecutive_failures or 0
    values["flapping"] = bool(link.flapping)
    for name in _TIMES:
        values[name] = tuple(parse_time(f) for f in (getattr(link, name) or ()))
    values["contacts_seen"] = tuple(link.contacts_seen or ())
    values["contacts_gone"] = tuple(link.contacts_gone or ())
    values["drift_entries"] = _drift_entries(link.drift_entries)
    return LinkState(**values)


def _drift_entries(stored: Mapping[str, Any] | None) -> tuple[EntryDrift, ...] | None:
    """`links.drift_entries` as the state holds it: NULL (every entry) stays None."""
    if stored is None:
        return None
    return tuple(
        EntryDrift(str(key), parse_time(value["since"]), value["reason"], value.get("score"))
        for key, value in stored.items()
    )


def _state_value(state: LinkState, name: str) -> Any:
    """The links column `name` of `state`, as stored."""
    value = getattr(state, name)
    if name == "outcome":
        return value.value if value else None
    if name in _TIMES:
        return [f.astimezone(UTC).isoformat() for f in value]
    if name in ("contacts_seen", "contacts_gone"):
        return list(value)
    if name == "drift_entries":
        return None if value is None else stored_drift_entries(value)
    return value


def link_states(engine: Engine) -> list[LinkStateRecord]:
    """Every link used by an active resource, in URL order."""
    with read_session(engine) as s:
        return link_records(s, active_only=True)


def active_rids(engine: Engine, rids: Iterable[str]) -> set[str]:
    """Those of `rids` that some active resource has (in any collection)."""
    found: set[str] = set()
    with read_session(engine) as s:
        # The ids a curator named, any number of them: IN lists of `CHUNK`.
        for part in chunks(sorted(set(rids))):
            query = select(t.Resource.rid).where(
                t.Resource.rid.in_(part), t.Resource.removed_at.is_(None)
            )
            found.update(s.scalars(query))
    return found


def stored_collections(engine: Engine) -> set[str]:
    """The keys of the collections that have active resources in the database."""
    query = (
        select(t.Collection.key)
        .join(t.Resource, t.Resource.collection_id == t.Collection.id)
        .where(t.Resource.removed_at.is_(None))
        .distinct()
    )
    with read_session(engine) as s:
        return set(s.scalars(query))


def answering_urls(
    engine: Engine,
    *,
    not_on: Iterable[str],
    limit: int = 3,
    answered_only: bool = True,
    kind: Callable[[str], bool] | None = None,
) -> list[str]:
    """Up to `limit` URLs, one per host and none on the hosts `not_on`, whose last check
    got an HTTP answer, the most recently checked hosts first: witnesses that our network
    works. Hosts are picked first, so one big host checked last cannot take every place.

    With `answered_only` off, any host's links qualify (never checked, or last seen
    unreachable): the witnesses left when nothing ever answered, as on a machine that has
    been offline since the catalog was added.

    `kind` keeps only the hosts it is true of (public hosts, to witness the Internet): the
    others are passed over, not counted against `limit`, so an intranet host checked last
    does not take a witness's place."""
    # The hosts of a run's batch and those asked already: past `CHUNK` (one bound parameter
    # each; a catalog of tens of thousands of hosts) they are passed over here, reading
    # every host (one row each), not bound in the statement.
    skipped = set(not_on)
    in_sql = len(skipped) <= CHUNK
    answered = (
        t.Link.http_status.is_not(None) if answered_only else true(),
        t.Link.host.not_in(sorted(skipped)) if in_sql else true(),
        t.Link.host != "",
    )
    latest = func.max(t.Link.last_checked_at)
    hosts = (
        select(t.Link.host)
        .where(*answered)
        .group_by(t.Link.host)
        .order_by(latest.desc().nulls_last(), byte_order(t.Link.host))
    )
    if kind is None and in_sql:
        hosts = hosts.limit(limit)
    found: list[str] = []
    with read_session(engine) as s:
        for host in s.scalars(hosts).all():
            if len(found) == limit:
                break
            if host in skipped or (kind is not None and not kind(host)):
                continue
            url = s.scalar(
                select(t.Link.url)
                .where(t.Link.host == host, answered[0])
                .order_by(t.Link.last_checked_at.desc().nulls_last(), t.Link.id)
                .limit(1)
            )
            if url is not None:
                found.append(url)
    return found


def link_records(
    s: Session, *, active_only: bool, link_ids: Sequence[int] | None = None
) -> list[LinkStateRecord]:
    query = (
        select(t.Link, t.Resource.rid)
        .outerjoin(
            t.Resource, and_(t.Resource.link_id == t.Link.id, t.Resource.removed_at.is_(None))
        )
        .order_by(byte_order(t.Link.url), byte_order(t.Resource.rid))
    )
    if link_ids is not None:
        query = query.where(t.Link.id.in_(list(link_ids)))
    links: dict[int, t.Link] = {}
    rids: dict[int, list[str]] = defaultdict(list)
    for link, rid in s.execute(query):
        links[link.id] = link
        if rid is not None and rid not in rids[link.id]:
            rids[link.id].append(rid)
    return [
        _link_record(link, tuple(rids[link.id]))
        for link in links.values()
        if rids[link.id] or not active_only
    ]


def _link_record(link: t.Link, resource_ids: tuple[str, ...]) -> LinkStateRecord:
    state = _link_state(link)
    return LinkStateRecord(
        **{name: getattr(state, name) for name in _STATE_FIELDS},
        id=link.id,
        url=link.url,
        host=link.host,
        last_observation_id=link.last_observation_id,
        resource_ids=resource_ids,
        archive_url=link.archive_url,
        archive_checked_at=link.archive_checked_at,
    )
