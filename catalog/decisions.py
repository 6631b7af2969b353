"""Curator decisions: what a person decided about one resource, recorded and applied.

Stage: curate (after the reports). Inputs: `Settings`, a curator id (plus `collection`
when the id is in several catalogs, and `catalogs`, the files named with --catalog, which
must hold the file edited), the decision and who made it. Outputs: a
`decisions` row (who, when, what, why), the effect on the resource row (reviewed,
snoozed, ignored), and, for URL changes and reviews, the edit written back into the
catalog file through `catalog.catalog_edit` (comments and order kept) followed by a
re-sync of that file, so the database and the file agree at once.

    accept_redirect   url := where the link's current permanent redirect leads (never a
                      home page, search or error page: `soft404.redirect_soft404`; never
                      one of several addresses it leads to by turns: `replace_url` then)
    replace_url       url := a URL the curator gives, or the link's archived copy
    mark_reviewed     reviewed_at: <today> in the entry; staleness starts over
    snooze            out of the action queue until a date (still checked)
    ignore/unignore   out of the action queue until unignored (still checked)

With `dry_run`, file edits are only diffed and nothing is recorded. `history_lines`
and `history_json` render `store.resource_history` for `linkhealth resource`.
"""

from __future__ import annotations

import getpass
import json
import shlex
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from itertools import takewhile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from catalog import store
from catalog.catalog_edit import EditResult, FieldEdit, apply_edits, undo_edit
from catalog.check.soft404 import redirect_soft404
from catalog.clock import Clock, local_date, utcnow
from catalog.commands import command_options, command_words
from catalog.db import engine_for
from catalog.entry_words import reached_at, reached_words, shown_stale
from catalog.errors import (
    CatalogError,
    ConfigError,
    LinkhealthError,
    NotFoundError,
    Problem,
    StoreError,
)
from catalog.health import shown_state, state_line
from catalog.model import Resource
from catalog.outcomes import Outcome, held_why
from catalog.queries import ATTENTION_STATES, resource_row, sharing_links
from catalog.set_aside import THEN, UNCHECKED, kind_words, lapse_note
from catalog.settings import Settings
from catalog.source import CATALOG_SUFFIXES, catalog_files, load_catalogs, meant_url
from catalog.sync import (
    REMOVED,
    URL_EDITED,
    SyncResult,
    partial_removal,
    same_page,
    set_asides_ended,
    set_asides_in_force,
    sync_catalogs,
)
from catalog.text import clauses, clipped, counted, invisible_characters, without_controls
from catalog.urls import (
    UrlProblem,
    browser_encoded,
    canonical_url,
    parse_url,
    same_place,
    unencoded_characters,
    with_fragment_of,
)

__all__ = [
    "DecisionResult",
    "ReportWords",
    "accept_redirect",
    "current_user",
    "history_json",
    "history_lines",
    "ignore",
    "mark_reviewed",
    "replace_url",
    "snooze",
    "unignore",
]

ACCEPT_REDIRECT = "accept_redirect"
REPLACE_URL = "replace_url"
MARK_REVIEWED = "mark_reviewed"
SNOOZE = "snooze"
IGNORE = "ignore"
UNIGNORE = "unignore"


@dataclass(frozen=True)
class DecisionResult:
    resource: store.ResourceRecord
    kind: str
    #: One sentence saying what was done (or would be, with dry_run).
    message: str
    #: Unified diff of the catalog file ("" when the file was not touched).
    diff: str = ""
    dry_run: bool = False
    decision: store.DecisionRecord | None = None
    sync: SyncResult | None = None
    #: Paste-ready commands that finish the job, one a line: moved off an address other
    #: entries still use, the `replace-url` of each of them to the same new URL.
    follow_up: tuple[str, ...] = ()


def current_user() -> str:
    """The OS user, the default for "who decided"."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


def accept_redirect(
    settings: Settings,
    rid: str,
    *,
    collection: str | None = None,
    by: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    catalogs: Sequence[Path] | None = None,
    clock: Clock = utcnow,
) -> DecisionResult:
    """Point the entry at the final URL of its link's current permanent redirect.
    `catalogs`: the files the curator named (--catalog), which must hold the one edited."""
    engine = _writable(settings, clock)
    resource = store.find_resource(engine, rid, collection=collection)
    target = store.permanent_redirect_target(engine, resource.link_id) if resource.link_id else None
    if not target:
        choose = ("--collection", resource.collection) if collection else ()
        # Named KEY/ID, the id is in several collections: the bare id would be refused.
        named = _name(resource) if not collection and rid != resource.rid else None
        raise LinkhealthError(
            f"{_name(resource)} has no current permanent redirect to accept; "
            f"`{_hint(settings, 'resource', resource, *choose, rid=named)}` shows what its "
            "link does"
        )
    gone = redirect_soft404(resource.url, target)
    if gone is not None:
        # Checks since the classifier learnt this say "page missing"; a database checked
        # before still holds such a "move", and its report still offered to accept it.
        raise LinkhealthError(
            f"{_name(resource)} has not moved: {gone}, so the resource is gone from there and "
            "accepting would link that page instead; find where it went and "
            f"`{_hint(settings, 'replace-url', resource, 'NEW-URL')}` (or "
            f"`{_hint(settings, 'replace-url', resource, '--archive')}` for its archived copy)"
        )
    _refuse_by_turns(settings, engine, resource, rid, collection)
    target = with_fragment_of(target, resource.url)
    return _change_url(
        settings,
        engine,
        resource,
        target,
        ACCEPT_REDIRECT,
        by,
        reason,
        dry_run,
        clock,
        catalogs=catalogs,
        from_link=True,
    )


def _refuse_by_turns(
    settings: Settings,
    engine: Engine,
    resource: store.ResourceRecord,
    rid: str,
    collection: str | None,
) -> None:
    """Refuse a redirect that leads to several addresses by turns (two servers behind a
    balancer: `unsteady.redirect_turns`), as the report's queue offers no command for it:
    tonight's target written into the file was undone by the next night's server. Read
    from the report's own row, so the refusal and the queue never disagree; a redirect
    that stayed on one address since (`unsteady.steadied_redirects`), or that moved once
    and never went back, is accepted."""
    row = resource_row(engine, resource.id)
    if row is None or not row.unsteady_redirect or len(row.unsteady_targets) < 2:
        return
    targets = row.unsteady_targets
    choose = ("--collection", resource.collection) if collection else ()
    named = _name(resource) if not collection and rid != resource.rid else None
    listed = f"{', '.join(targets[:-1])} and {targets[-1]}"
    raise LinkhealthError(
        f"{_name(resource)} redirects permanently to {len(targets)} addresses by turns "
        f"({listed}; {row.unsteady_redirect} changes lately), so the one it "
        "led to at its last check would not last: nothing was written or recorded. Keep the "
        "address until the redirect stays on one (the report offers `accept-redirect` then), "
        f"or choose one and `{_hint(settings, 'replace-url', resource, 'URL', *choose, rid=named)}`"
    )


def replace_url(
    settings: Settings,
    rid: str,
    url: str | None = None,
    *,
    archive: bool = False,
    collection: str | None = None,
    by: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    catalogs: Sequence[Path] | None = None,
    clock: Clock = utcnow,
) -> DecisionResult:
    """Replace the entry's URL with `url` (read as `catalog import-csv` reads a pasted
    address, `meant_url`), or with its link's archived copy (`archive`). `catalogs`: as
    for `accept_redirect`."""
    engine = _writable(settings, clock)
    resource = store.find_resource(engine, rid, collection=collection)
    if archive == (url is not None):
        raise ConfigError("give either a new URL or --archive, not both or neither")
    if archive:
        history = store.resource_history(engine, resource.rid, collection=resource.collection)
        url = history.link.archive_url if history.link else None
        if not url:
            when = (
                "lookups run after each check for broken and drifting links"
                if settings.health.archive_lookups
                else "archive lookups are off in these settings ([health] archive_lookups = false)"
            )
            raise LinkhealthError(f"no archived copy is known for {_name(resource)}; {when}")
        url = with_fragment_of(url, resource.url)
        note = ""
    else:
        assert url is not None
        url, note = _as_meant(url)
    problem = parse_url(url)
    if isinstance(problem, UrlProblem):
        raise ConfigError(f"{url!r} cannot replace the URL: {problem.reason}")
    url, note = _as_sent(url, note)
    return _change_url(
        settings,
        engine,
        resource,
        url,
        REPLACE_URL,
        by,
        reason,
        dry_run,
        clock,
        catalogs=catalogs,
        from_link=archive,
        note=note,
    )


def mark_reviewed(
    settings: Settings,
    rid: str,
    *,
    collection: str | None = None,
    by: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
    catalogs: Sequence[Path] | None = None,
    clock: Clock = utcnow,
) -> DecisionResult:
    """Write `reviewed_at: <today>` into the entry and record the review. `catalogs`: as
    for `accept_redirect`.

    The review settles the phone numbers and emails the entry names that its page no
    longer shows (`store.gone_contacts`): the curator found the entry right (the number
    moved to the contact page, say), so they are news again only if a read shows them and
    a later one does not."""
    engine = _writable(settings, clock)
    resource = store.find_resource(engine, rid, collection=collection)
    settled, also = store.gone_contacts(engine, resource.id)
    now = clock()
    today = local_date(now)  # the curator's day: 08:00 in Sydney is not yesterday
    edit = FieldEdit(resource.rid, "reviewed_at", today)
    path = _editable(settings, resource, "be marked reviewed there", catalogs)
    if path is not None:
        # Refused up front, as a URL change is: a file invalid elsewhere (an empty title, an
        # id used twice) failed its re-sync after the edit was written and recorded, so
        # each retry recorded another review while the database kept the old entry.
        load_catalogs([path])
    diff = ""
    if path is not None:
        diff = _applied(settings, path, edit, dry_run=True).diff if dry_run else ""
    if dry_run:
        where = f"in {path}" if path else "in the database only (the catalog file is not editable)"
        message = f"would mark {_name(resource)} reviewed {where}"
        return DecisionResult(
            resource, MARK_REVIEWED, message + _settling(settled, also), diff, True
        )
    sync = None
    diff, decision = _edit_and_record(
        settings,
        engine,
        path,
        edit,
        resource.id,
        MARK_REVIEWED,
        by=by or current_user(),
        at=now,
        reason=reason,
        details={
            "reviewed_at": today.isoformat(),
            "file": str(path) if path else None,
            **({"contacts_settled": settled} if settled else {}),
        },
        resource_changes={"reviewed_at": now},
        settle_contacts=True,
    )
    if path is not None:
        sync = _resync(settings, engine, path, now)
    else:
        store.refresh_staleness(
            engine, settings.health, now=now, collection_keys=[resource.collection]
        )
    if path is None:
        where = "recorded in the database only"
    elif diff:
        where = f"wrote reviewed_at: {today} to {path}"
    else:  # reviewed today already: the file is left as it was
        where = f"{path} says reviewed_at: {today} already"
    return DecisionResult(
        resource,
        MARK_REVIEWED,
        f"marked {_name(resource)} reviewed ({where}){_settling(settled, also)}",
        diff,
        False,
        decision,
        sync,
    )


def _settling(settled: Sequence[str], also: Sequence[str]) -> str:
    """What a review says of the contacts it settles (`store.gone_contacts`), "" for none:
    the queue's "no longer on the page" row goes with it, of the other entries naming them
    too (the finding is the page's), and a curator must not wonder where theirs went."""
    if not settled:
        return ""
    one = len(settled) == 1
    it = "it" if one else "them"
    names = "names" if len(also) == 1 else "name"
    others = f" (for {', '.join(also)} too, which {names} {it} as well)" if also else ""
    return (
        f"; {', '.join(settled)}, no longer on its page, {'is' if one else 'are'} "
        f"settled{others}: flagged again only if a check finds {it} on the page and a "
        "later one does not"
    )


def _writable(settings: Settings, clock: Clock) -> Engine:
    """The database a decision is written to, unless `db copy` is copying it."""
    engine = engine_for(settings.database_url)
    store.refuse_while_copying(engine, now=clock(), doing="record a decision")
    return engine


def _in_catalog(resource: store.ResourceRecord) -> store.ResourceRecord:
    """A set-aside only means something for an entry still in the catalog."""
    if resource.removed_at is not None:
        raise NotFoundError(
            f"{_name(resource)} was removed from the catalog on {resource.removed_at.date()} "
            f"({resource.path}), so it is in no action queue; check the id"
        )
    return resource


def _why(reason: str) -> str:
    """A set-aside hides a resource from the queue: the next curator must learn why."""
    if not reason.strip():
        raise ConfigError("--reason is empty; say why, e.g. --reason 'login wall'")
    return reason.strip()


def snooze(
    settings: Settings,
    rid: str,
    *,
    until: date | datetime,
    reason: str,
    collection: str | None = None,
    by: str | None = None,
    clock: Clock = utcnow,
) -> DecisionResult:
    """Leave the action queue until `until` (a date means its start, UTC); still checked."""
    reason = _why(reason)
    engine = _writable(settings, clock)
    resource = _in_catalog(store.find_resource(engine, rid, collection=collection))
    now = clock()
    end = _moment(until)
    if end <= now:
        raise ConfigError(f"--until {until} is not in the future")
    then = store.link_problem(
        engine, resource.link_id, resource.id, unavailable_days=settings.health.unavailable_days
    )
    decision = store.record_decision(
        engine,
        resource.id,
        SNOOZE,
        by=by or current_user(),
        at=now,
        reason=reason,
        details={"until": end.isoformat(), THEN: then},
        resource_changes={"snoozed_until": end, "snooze_reason": reason},
    )
    message = f"snoozed {_name(resource)} until {end.date()}: {reason}{_unless(then)}"
    return DecisionResult(resource, SNOOZE, message, decision=decision)


def ignore(
    settings: Settings,
    rid: str,
    *,
    reason: str,
    collection: str | None = None,
    by: str | None = None,
    clock: Clock = utcnow,
) -> DecisionResult:
    """Leave the action queue until `unignore` (e.g. a known login wall); still checked."""
    reason = _why(reason)
    engine = _writable(settings, clock)
    resource = _in_catalog(store.find_resource(engine, rid, collection=collection))
    now = clock()
    then = store.link_problem(
        engine, resource.link_id, resource.id, unavailable_days=settings.health.unavailable_days
    )
    decision = store.record_decision(
        engine,
        resource.id,
        IGNORE,
        by=by or current_user(),
        at=now,
        reason=reason,
        # The problem decided about: another kind of problem later ends the ignore.
        details={THEN: then},
        resource_changes={"ignored_at": now, "ignored_reason": reason},
    )
    return DecisionResult(
        resource, IGNORE, f"ignoring {_name(resource)}: {reason}{_unless(then)}", decision=decision
    )


def _unless(then: str) -> str:
    """When a set-aside ends on its own (`catalog.set_aside`), said as it is made."""
    if then == UNCHECKED:
        return ""
    return f" (until its link has another kind of problem than now: {kind_words(then)})"


def unignore(
    settings: Settings,
    rid: str,
    *,
    reason: str | None = None,
    collection: str | None = None,
    by: str | None = None,
    clock: Clock = utcnow,
) -> DecisionResult:
    """Back into the action queue: ends an ignore and a snooze alike."""
    engine = _writable(settings, clock)
    resource = store.find_resource(engine, rid, collection=collection)
    if not resource.ignored and resource.snoozed_until is None:
        # Done already (run twice, or by a colleague): nothing to record, nothing wrong. Not
        # refused for a removed entry, as `ignore` is: a set-aside stays with it (for when
        # it is put back), so an unignore of one is no mistake, and neither is its rerun.
        if resource.removed_at is not None:
            where = (
                f"it was removed from the catalog on {resource.removed_at.date()}, so no "
                "action queue lists it"
            )
        else:
            where = "it shows in the action queue whenever it needs attention"
        message = f"{_name(resource)} is neither ignored nor snoozed: nothing to undo ({where})"
        return DecisionResult(resource, UNIGNORE, message)
    decision = store.record_decision(
        engine,
        resource.id,
        UNIGNORE,
        by=by or current_user(),
        at=clock(),
        reason=reason,
        details={
            "ignored_reason": resource.ignored_reason,
            "snoozed_until": resource.snoozed_until.isoformat() if resource.snoozed_until else None,
        },
        resource_changes={
            "ignored_at": None,
            "ignored_reason": None,
            "snoozed_until": None,
            "snooze_reason": None,
        },
    )
    # Both end: say which did, or a snooze that ended with the ignore goes unmentioned.
    ended = []
    if resource.ignored:
        ended.append(f"no longer ignored ({resource.ignored_reason})")
    if resource.snoozed_until is not None:
        ended.append(f"its snooze until {_t(resource.snoozed_until)} ended")
    message = f"{_name(resource)}: {' and '.join(ended)}; {_where_now(engine, resource.id)}"
    return DecisionResult(resource, UNIGNORE, message, decision=decision)


def _where_now(engine: Engine, resource_id: int) -> str:
    """Where an entry no longer set aside is: in the action queue only if the report's
    queue lists it (`ResourceRow.queued`); otherwise watched again, listed once it needs
    attention."""
    row = resource_row(engine, resource_id)
    if row is None:  # removed from the catalog meanwhile: no queue lists it
        return "it is watched again while its entry is in the catalog"
    if row.queued:
        return "it is back in the action queue"
    if row.outcome_value is None:
        return (
            "its link is not checked yet: it is watched again, and listed if a check finds a "
            "problem"
        )
    if row.outcome is None:  # an outcome this version does not know
        return "it is watched again, and listed whenever it needs attention"
    return (
        "its link works, so no queue lists it now: it is watched again, and listed as soon "
        "as it fails or otherwise needs attention"
    )


# --- helpers ---------------------------------------------------------------------------------


def _change_url(
    settings: Settings,
    engine: Engine,
    resource: store.ResourceRecord,
    url: str,
    kind: str,
    by: str | None,
    reason: str | None,
    dry_run: bool,
    clock: Clock,
    *,
    catalogs: Sequence[Path] | None,
    from_link: bool = False,
    note: str = "",
) -> DecisionResult:
    """`from_link`: `url` comes from what checks found at the stored URL (its redirect or
    archived copy), so it is refused when the file has since been given another URL.
    `note`: said after the message (how the URL given was read)."""
    path = _editable(settings, resource, "have its URL changed there", catalogs)
    if path is None:
        raise ConfigError(
            f"{_name(resource)} comes from {resource.path}, which is not an editable catalog "
            "file (.yaml, .yml or .csv); edit the URL there by hand"
        )
    if from_link:
        entry = _entry_in_file(path, resource.rid)
        if entry is not None and entry.url != resource.url:
            recheck = _hint(settings, "recheck", resource, "--catalog", str(path))
            raise LinkhealthError(
                f"{path}:{entry.line}: the entry {resource.rid!r} now has the URL {entry.url}, not "
                f"{resource.url}, where {url} was found; the file was edited since the last "
                f"check, so this is left alone (`{recheck}` checks the new URL)"
            )
    if url == resource.url:
        return DecisionResult(resource, kind, f"{_name(resource)} already uses {url}", "", dry_run)
    edit = FieldEdit(resource.rid, "url", url)
    shared = _sharing(path, resource.rid, url)
    left, follow_up = _left_behind(settings, engine, resource, url, dry_run)
    now = clock()
    if dry_run:
        diff = _applied(settings, path, edit, dry_run=True).diff
        ends = _ended(_ending(resource, url, now), would=True)
        message = (
            f"would change the URL of {_name(resource)} to {url} in {path}{shared}{note}{ends}"
            f"{left}"
        )
        return DecisionResult(resource, kind, message, diff, True, follow_up=follow_up)
    diff, decision = _edit_and_record(
        settings,
        engine,
        path,
        edit,
        resource.id,
        kind,
        by=by or current_user(),
        at=now,
        reason=reason,
        details={"old": resource.url, "new": url, "file": str(path)},
    )
    sync = _resync(settings, engine, path, now)
    ended = _ended_by(sync, resource)
    ends = _ended(_ending(resource, url, now) if ended is None else ended)
    message = f"changed the URL of {_name(resource)} to {url} in {path}{shared}{note}{ends}{left}"
    return DecisionResult(resource, kind, message, diff, False, decision, sync, follow_up)


def _ending(resource: store.ResourceRecord, url: str, now: datetime) -> list[str]:
    """The set-asides of `resource` a move to `url` ends, as sync ends them: its ignore and
    snooze in force, unless `url` is the same page (`sync.same_page`)."""
    if same_page(resource.url, url):
        return []
    return set_asides_in_force(resource.ignored, resource.snoozed_until, now)


def _ended_by(sync: SyncResult, resource: store.ResourceRecord) -> list[str] | None:
    """The set-asides the re-sync ended of `resource`, from its `url_edited` change; None
    when the sync lists no such change (past `LISTED_CHANGES`)."""
    return next(
        (
            list(c.details.get("ended") or ())
            for c in sync.changes
            if (c.collection, c.id, c.kind) == (resource.collection, resource.rid, URL_EDITED)
        ),
        None,
    )


def _ended(names: Sequence[str], *, would: bool = False) -> str:
    """The message's words for the set-asides a URL change ends ("" for none)."""
    said = set_asides_ended(names, would=would)
    return f"; {said}" if said else ""


def _edit_and_record(
    settings: Settings,
    engine: Engine,
    path: Path | None,
    edit: FieldEdit,
    resource_id: int,
    kind: str,
    **record: Any,
) -> tuple[str, store.DecisionRecord]:
    """Write `edit` into `path` (None: no file to edit) and record the decision, both or
    neither, as far as a file and a database can be: a record that fails (a database
    locked since the up-front check, a full disk at commit) puts the file's previous bytes
    back. Edited but not recorded, the decision run again was refused: the entry's URL was
    no longer the one checked. The file is edited before the write transaction opens, not
    inside it: a whole-file edit of a big catalog takes a minute, and a night's batch
    waits 30 s for the write lock before the run gives up.
    Returns the file's diff ("" when the file was not edited) and the decision."""
    written = _applied(settings, path, edit) if path is not None else None
    try:
        with store.recording_decision(engine, resource_id, kind, **record) as decision:
            pass
    except BaseException as exc:
        if written is None or not written.after:
            raise
        try:
            restored = undo_edit(written)
        except (OSError, LinkhealthError) as undo_failed:
            if not isinstance(exc, LinkhealthError):
                raise
            raise type(exc)(
                f"{exc}; and {path} could not be put back as it was ({undo_failed}): it "
                f"keeps the unrecorded edit of {edit.field} of {edit.resource_id!r}, so set "
                "that back by hand before running the command again"
            ) from exc
        if not restored and isinstance(exc, LinkhealthError):
            raise type(exc)(
                f"{exc}; {path} was edited again meanwhile, so it was left as it is now"
            ) from exc
        raise
    return (written.diff if written else ""), decision


def _entry_in_file(path: Path, rid: str) -> Resource | None:
    """The entry as the catalog file has it now (None: no such entry any more)."""
    return next(
        (r for catalog in load_catalogs([path]) for r in catalog.resources if r.id == rid),
        None,
    )


def _sharing(path: Path, rid: str, url: str) -> str:
    """A note for the message when other entries of the file already use `url`: the edit
    makes them duplicates, which `catalog lint` reports (`duplicate_url`)."""
    key = canonical_url(url)
    others = [
        r.id
        for catalog in load_catalogs([path])
        for r in catalog.resources
        if r.id != rid and canonical_url(r.url) == key and same_place(r.url, url)
    ]
    if not others:
        return ""
    return (
        f"; note: {', '.join(others)} already {'uses' if len(others) == 1 else 'use'} this URL, "
        "so `catalog lint` will report "
        f"duplicate_url: remove one, or mark it 'duplicate_of: {others[0]}' if both belong"
    )


def _left_behind(
    settings: Settings, engine: Engine, resource: store.ResourceRecord, url: str, dry_run: bool
) -> tuple[str, tuple[str, ...]]:
    """A note for the message naming the other entries still at the address the entry
    leaves (its link, in any catalog: `sharing_links`), and a `replace-url` for each to the
    same new URL: a page gone for one is gone for its duplicates, and the report kept
    asking "find where it moved" of them while the curator had just found it. ("", ()) when
    the entry was alone there. Said last in the message: it ends with a colon."""
    others = sharing_links(engine, [(resource.collection, resource.rid)]).get(
        (resource.collection, resource.rid), []
    )
    if not others or canonical_url(url) == canonical_url(resource.url):
        return "", ()  # (a new #section only: the entry stays on the address)
    options = command_options(settings).words
    commands = tuple(
        shlex.join(command_words("replace-url", _as_typed(engine, name), url, *options))
        for name in others
    )
    one = len(others) == 1
    use = "would still use" if dry_run else ("still uses" if one else "still use")
    it = "it" if one else "them"
    return (
        f"; note: {', '.join(others)} {use} the old URL {resource.url}: to move {it} "
        f"too, run {'this' if one else 'these'}:",
        commands,
    )


def _as_typed(engine: Engine, name: str) -> str:
    """`KEY/ID` (as `sharing_links` names an entry) as a command takes it: the bare ID
    when no other collection has it (the form the report's commands use)."""
    _, _, rid = name.partition("/")
    try:
        store.find_resource(engine, rid)
    except LinkhealthError:  # in several collections (or no longer an id of its own)
        return name
    return rid


def _resync(settings: Settings, engine: Engine, path: Path, now: datetime) -> SyncResult:
    """The edited file synced into the database, once the decision is recorded: a partial
    sync (`sync_catalogs(partial=True)`), as it cannot see the other catalog files: an entry
    moved by hand from this file to another, or from another to this one, is half seen
    here, and the next sync of both keeps its row, decisions and all. A sync that
    fails then (a lock taken meanwhile) leaves only the database's copy of the entry behind:
    the database's "run the command again" was wrong there (an `accept-redirect` run again
    is refused, the file's URL no longer the checked one), so the error says to sync."""
    try:
        return sync_catalogs(
            engine, load_catalogs([path]), now=now, health=settings.health, partial=True
        )
    except StoreError as exc:
        words = ["linkhealth", "sync", *command_options(settings).words, "--catalog", str(path)]
        raise type(exc)(
            f"{exc.fault}; the decision is recorded and {path} edited, but the database's "
            f"copy of the catalog is not synced with it yet: `{shlex.join(words)}` (or the "
            "next run) syncs it",
            fault=exc.fault,
            locked=exc.locked,
        ) from exc


def _applied(
    settings: Settings, path: Path, edit: FieldEdit, *, dry_run: bool = False
) -> EditResult:
    """`apply_edits` of the one edit, its entry missing from the file said as what it is:
    the database's id, which the file changed since the last sync (renamed, moved to
    another file or removed by hand), not a typo; `linkhealth sync` brings the database
    up to date (with `--catalog` for a file the plain command does not read)."""
    try:
        return apply_edits(path, [edit], dry_run=dry_run)
    except NotFoundError as exc:
        words = ["linkhealth", "sync", *command_options(settings).for_file(path)]
        raise NotFoundError(
            f"{path} has no entry with the id {edit.resource_id!r} any more, though the "
            "database's copy of the catalog has it: the entry changed in the file since the "
            "last sync (its id changed, or it was moved to another catalog file or removed); "
            f"`{shlex.join(words)}` syncs it, then run this again with the id the entry "
            "has now; nothing was recorded"
        ) from exc


def _editable(
    settings: Settings,
    resource: store.ResourceRecord,
    doing: str,
    catalogs: Sequence[Path] | None = None,
) -> Path | None:
    """The catalog file a decision is written into; None for one whose format cannot be
    edited (a review is then recorded in the database only).

    A file gone since the last sync (moved, renamed, deleted) is refused, not taken for a
    format that cannot be edited: the curator keeps the moved file in git, and a review
    recorded only in the database would be lost from it without a word. So is a file that
    is not among `catalogs`, the files the curator named (`_named`)."""
    if not resource.path:
        return None
    path = Path(resource.path)
    if path.suffix.lower() not in CATALOG_SUFFIXES:
        return None
    if path.is_file():
        if catalogs is not None:
            _named(settings, resource, path, catalogs, doing)
        return path
    moved = next(
        (
            p
            for p in catalog_files(settings.catalogs)
            if p.stem == resource.collection and p.resolve() != path.resolve()
        ),
        None,
    )
    words = ["linkhealth", "sync", *command_options(settings).words]
    if moved:
        fix = f"`{shlex.join([*words, '--catalog', str(moved)])}` syncs it from where it is now"
    else:
        # A file's name is its collection's key: `sync --catalog` of a renamed file adds
        # its entries anew, leaving this one behind. Retired by a sync of every configured
        # catalog, the collection hands its entries over, decisions and all.
        fix = (
            f"`{shlex.join(words)} --catalog NEW-PATH` syncs it from where it is now if it "
            "kept its name; renamed, it is another catalog: once the settings file names it, "
            f"`{shlex.join(words)}` (without --catalog) moves the entries there with their "
            "decisions"
        )
    raise CatalogError(
        [
            Problem(
                str(path),
                None,
                None,
                "file_not_found",
                f"{_name(resource)} comes from this file, which is no longer there (moved, "
                f"renamed or deleted since the last sync), so it cannot {doing}; nothing was "
                f"recorded. {fix}; then run this again",
            )
        ]
    )


def _named(
    settings: Settings,
    resource: store.ResourceRecord,
    path: Path,
    catalogs: Sequence[Path],
    doing: str,
) -> None:
    """Refuse an edit of `path`, the file the database last synced the entry's collection
    from, when the curator named other files (--catalog). Editing the named copy instead
    would re-sync the whole collection from it (an older checkout's entries reverted or
    removed in the database without a word); editing `path` left the named file as it was,
    and the next sync of that file undid the edit while its decision stayed recorded."""
    files = catalog_files(catalogs)
    if any(p.resolve() == path.resolve() for p in files):
        return
    named = [p for p in files if p.stem == resource.collection]
    where = f"{_name(resource)} comes from {path} (the file the database last synced it from)"
    if not named:
        raise ConfigError(
            f"{where}, which is not among the --catalog files "
            f"({', '.join(map(str, catalogs))}), so it cannot {doing}; nothing was written or "
            "recorded. Name that file with --catalog, or leave --catalog out"
        )
    words = ["linkhealth", "sync", *command_options(settings).words, "--catalog", str(named[0])]
    raise ConfigError(
        f"{where}, not from {named[0]}, which --catalog names, so it cannot {doing}: the "
        "database follows one file per collection, and the next sync of the other would undo "
        f"the edit; nothing was written or recorded. To edit {named[0]}, sync it first "
        f"(`{shlex.join(words)}`: it says what changes in the database) and run this again; "
        f"to edit {path}, leave --catalog out"
    )


def _as_meant(url: str) -> tuple[str, str]:
    """`url` as `catalog import-csv` reads a pasted address (`meant_url`: without
    invisible characters and the spaces around it, unwrapped), and a note for the message
    saying what was left out ("" when nothing): `catalog lint` calls a zero-width space
    pasted with an address an error, and a message showing the URL cannot show it."""
    meant = meant_url(url)
    if meant == url:
        return url, ""
    hidden = invisible_characters(url.strip())  # a newline pasted after it is no news
    if hidden:
        codes = ", ".join(f"U+{ord(c):04X}" for c in hidden)
        return meant, (
            f"; note: the URL given held {counted(len(hidden), 'invisible character')} "
            f"({codes}), left out as `catalog import-csv` does"
        )
    return meant, f"; note: the URL given, {url!r}, was read as {meant}"


def _as_sent(url: str, note: str) -> tuple[str, str]:
    """`url` with a space (or one of `"<>^`{|}`) percent-encoded, as the check sends it
    and `catalog import-csv` writes it, and `note` saying so: written as typed, `catalog
    lint` flagged the edit at once (unencoded_in_url), while `catalog validate` said OK."""
    unencoded = unencoded_characters(url)
    if not unencoded:
        return url, note
    held = [counted(url.count(" "), "space")] if " " in unencoded else []
    held += [repr(ch) for ch in unencoded if ch != " "]
    return browser_encoded(url), (
        f"{note}; note: the URL given held {' and '.join(held)} as written, written "
        "percent-encoded as the check sends it (if text after a space is no part of the "
        "address, replace the URL again without it)"
    )


def _moment(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _hint(
    settings: Settings,
    name: str,
    resource: store.ResourceRecord,
    *args: str,
    rid: str | None = None,
) -> str:
    """`linkhealth NAME ID ARGS...` as a message suggests it: shell-quoted, with the
    `--config` and `--db` the decision was asked with, so that it works as pasted. `rid`:
    the id to write instead of the entry's own (its KEY/ID)."""
    words = command_words(name, rid or resource.rid, *args, *command_options(settings).words)
    return shlex.join(words)


def _name(resource: store.ResourceRecord) -> str:
    return f"{resource.collection}/{resource.rid}"


# --- history ---------------------------------------------------------------------------------


def history_json(history: store.ResourceHistory) -> dict[str, Any]:
    """Plain JSON data (times in ISO 8601) for `linkhealth resource --json`."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(history), default=_jsonable))
    kind = history.resource.fields.get("type")
    for note in data["resource"]["stale"]:  # a site's `dated` advice, as the report's JSON
        note["reason"] = shown_stale(note["reason"], note["code"], kind)
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class ReportWords:
    """What the report says of a resource that its history's current state says too
    (`reports.resource_text` takes them from the report's own row): since when its problem
    runs where that is not when its current failure began (a link flapping, a page drifted
    before it failed: `began` says which), in how many checks, and the fix with its command."""

    since: datetime | None = None
    #: What began at `since`, as the line names it: "flapping", "drifted".
    began: str | None = None
    checks: int = 0
    fix: str | None = None
    command: str | None = None
    #: The row's words of a link it files as flapping ("flapping: keeps switching ..."),
    #: said in place of its state (`health.state_line`), as the row says them.
    flapping: str | None = None


def _held_words(held: Sequence[store.ObservationRecord], *, every: bool) -> str:
    """Of a link's tries since its latest check, newest first, those held (`Observation.held`;
    the others found our network down): a host in maintenance night after night asks a few
    of its links a night and holds the rest, which keep their last check's state; so does a
    silent host after a few links (`HostGate.unanswered_link`): the newest says which.
    `every`: no observation shown is a check, the one that asked it is older (there may be
    more)."""
    many = f"{'at least ' if every else ''}the last {counted(len(held), 'try', 'tries')}"
    when = f"{many}, since {_t(held[-1].checked_at)}" if len(held) > 1 or every else "the last try"
    return f"{when}: {held_why(held[0].reason)}; the state is its last check's"


def _no_check(obs: store.ObservationRecord) -> bool:
    """A try held (`Observation.held`) or one that found our network down: no check of the
    link (`health.is_check`)."""
    return obs.held or obs.outcome is Outcome.NETWORK_UNAVAILABLE


def _observed(obs: store.ObservationRecord) -> str:
    """An observation's outcome and HTTP status columns. A try not sent (`held`) is stored
    with its host's answer to other URLs: "rate_limited 503" read as this URL's answer, a
    check its count of checks left out; "not sent", as the report's page says it."""
    if obs.held:
        return f"{'not sent':<20} {'-':>4}"
    return f"{obs.outcome.value:<20} {obs.http_status or '-':>4}"


def history_lines(
    history: store.ResourceHistory,
    *,
    now: datetime | None = None,
    readded: Collection[int] = (),
    report: ReportWords | None = None,
) -> list[str]:
    """What a curator reads in a terminal: entry, state, then observations, events and
    decisions, each newest first. `readded`: ids of `added` events that put the entry back
    after a removal, listed as `re-added` (`reports.history.readditions` knows which).
    `report`: what the report says of it, told in its current state."""
    res, link = history.resource, history.link
    now = now or utcnow()
    out = [f"{res.collection}/{res.rid}: {res.title}"]
    out.append(f"  url:       {res.url}")
    where = f"{res.path}:{res.line}" if res.path and res.line else res.path or "?"
    if res.removed_at:
        # Its old line holds another entry now, or nothing: given as the `file:` of the
        # entry, a curator opening it edited the wrong resource.
        out.append(f"  removed:   {_t(res.removed_at)} (no longer in the catalog)")
        out.append(f"  was at:    {where} when removed (that line may hold another entry now)")
    else:
        out.append(f"  file:      {where}")
    for name, value in res.fields.items():
        if name not in ("id", "title", "url") and value not in (None, "", []):
            out.append(f"  {name + ':':<10} {_short(value)}")
    out.append("")
    out.append("Current state")
    # Its tries since its latest check held, not sent: its host had said it was away (or
    # was silent). A try that found our network down is no check and ends no hold
    # (`links.held_tries`).
    since = list(takewhile(_no_check, history.observations))
    held = [o for o in since if o.held]
    # Its latest try: held, or our network down.
    newest_held = bool(history.observations) and history.observations[0].held
    if link is None or link.last_checked_at is None or link.outcome is None:
        # An accepted redirect's new address, which the last check of the old one reached:
        # the report says so (and counts it OK), not "never checked" as of a new entry.
        reached = _reached(history)
        state = reached_words(_t(reached)) if reached else "never checked"
        tried = link.last_checked_at if link is not None else None
        if tried is not None:
            why = (
                held_why(history.observations[0].reason)
                if newest_held
                else "our network was unavailable"
            )
            state += f"{'; ' if reached else ': '}last tried {_t(tried)}, while {why}"
        out.append(f"  {state}")
    else:
        state = shown_state(link.outcome, link.state)
        flapping = report.flapping if report else None
        line = state_line(link.outcome, state, link.http_status, flapping=flapping)
        out.append(f"  {line} (last checked {_t(link.last_checked_at)})")
        if link.outcome.needs_attention or state in ATTENTION_STATES:
            out.append(f"  to do:     {link.outcome.explanation}")
        if link.reason:
            out.append(f"  reason:    {link.reason}")
        if held:
            out.append(
                f"  not sent:  {_held_words(held, every=len(since) == len(history.observations))}"
            )
        if report and report.since and (link.first_failure_at or link.flapping):
            # The problem's start as the report dates it (`PROBLEM_START`): "failing since last
            # night (1 failing check in a row)" of a link flapping all year read as a new
            # failure, and of a page drifted a week before it failed gave a second date.
            out.append(
                f"  {report.began} since {_t(report.since)} "
                f"({counted(report.checks, 'check')} since then)"
            )
        elif link.first_failure_at:
            out.append(
                f"  failing since {_t(link.first_failure_at)} "
                f"({counted(link.consecutive_failures, 'failing check')} in a row)"
            )
        if link.flapping:
            out.append(f"  flapping:  {len(link.flips)} flips between working and failing lately")
        if link.drift_reason:
            out.append(f"  drift:     {link.drift_reason} (since {_t(link.drift_since)})")
        if link.archive_url:
            out.append(f"  archived:  {link.archive_url}")
        if link.final_url and link.final_url != link.url:
            out.append(f"  ends at:   {link.final_url}")
    if res.ignored:
        out.append(f"  ignored since {_t(res.ignored_at)}: {res.ignored_reason}")
    if res.snoozed(now):
        out.append(f"  snoozed until {_t(res.snoozed_until)}: {res.snooze_reason}")
    if res.reviewed_at:
        out.append(f"  reviewed:  {_t(res.reviewed_at)}")
    for note in res.stale:  # a site's `dated` advice as the report gives it
        out.append(
            f"  stale ({note.code}): {shown_stale(note.reason, note.code, res.fields.get('type'))}"
        )
    if report is not None and report.fix:
        out.append(f"  {'fix:':<10} {report.fix}")
        if report.command:
            out.append(f"  {'command:':<10} {report.command}")
    out += _section(
        "Observations",
        [
            f"{_t(o.checked_at)}  {_observed(o)}  {o.reason}"
            + (f" (then at {o.url})" if link is None or o.link_id != link.id else "")
            for o in history.observations
        ],
    )
    out += _section(
        "Events",
        [
            f"{_t(e.at)}  {'re-added' if e.id in readded else e.kind:<20} {_event_details(e)}"
            + (f" (then at {e.url})" if _of_earlier_url(e, link) else "")
            for e in history.events
        ],
    )
    out += _section(
        "Decisions",
        [
            f"{_t(d.at)}  {d.kind:<16} by {d.by}"
            + (f": {d.reason}" if d.reason else "")
            + (f" {_details(d.details)}" if d.details else "")
            for d in history.decisions
        ],
    )
    # As the report's footer says it: "07:00" alone reads as the curator's own morning.
    out += ["", "Times are UTC."]
    # Titles and notes from the catalog, a site's Content-Type in an event: a terminal would
    # act on an escape sequence in them (ESC, or CSI as U+009B) and a bidirectional control
    # would turn the rest of the line around.
    return [without_controls(line) for line in out]


def _reached(history: store.ResourceHistory) -> datetime | None:
    """When the last check of the entry's old URL reached its URL as the redirect's target
    (`entry_words.reached_at`, as the report reads it), from its `url_edited` events."""
    edits = [
        e.details
        for e in reversed(history.events)
        if e.kind == "url_edited" and e.resource_id == history.resource.id
    ]
    return reached_at(edits)


def _event_details(event: store.EventRecord) -> str:
    """An event's details as `_details` says them; a lapsed set-aside as its note."""
    if event.kind == store.SET_ASIDE_LAPSED:
        return _short(lapse_note(event.details), 300)
    partial = partial_removal(event.details) if event.kind == REMOVED else None
    if partial is not None:  # a decision's re-sync: said in words, not a bare "partial"
        rest = {k: v for k, v in event.details.items() if k not in ("partial", "file")}
        return f"{_details(rest)}; {partial}"
    return _details(event.details)


def _of_earlier_url(event: store.EventRecord, link: store.LinkStateRecord | None) -> bool:
    """A link event of a link the entry no longer has (its URL was changed since)."""
    linked = event.resource_id is None and event.link_id is not None
    return linked and (link is None or event.link_id != link.id)


def _section(title: str, rows: Sequence[str]) -> list[str]:
    return ["", f"{title} (newest first)", *(f"  {r}" for r in rows)] if rows else []


def _t(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "?"


def _short(value: Any, limit: int = 100) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return clipped(" ".join(text.split()), limit)


def _details(details: Any) -> str:
    """An event's or decision's details as a person reads them: "ok → not_found; reason:
    ...", not a JSON object cut off in its middle (`--json` has them whole). A flag is
    its name when set and nothing when not: "while flapping: False" was Python's word."""
    shown = {
        k: v for k, v in dict(details).items() if v not in (None, "", [], {}) and v is not False
    }
    parts = []
    if "old" in details and "new" in details:
        old, new = shown.pop("old", None), shown.pop("new", None)
        parts.append(f"{_value(old)} → {_value(new)}")
    parts += [
        key.replace("_", " ") if value is True else f"{key.replace('_', ' ')}: {_value(value)}"
        for key, value in shown.items()
    ]
    return _short(clauses(parts), 160)


def _value(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(map(_value, value))
    return str(value)
