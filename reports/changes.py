"""What changed since the last run: between the previous finished run and this one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import humanize

from catalog.clock import as_utc
from catalog.drift import MARKED_REASON
from catalog.health import BROKEN, FILED_APART, confirmed_broken, unavailable_words
from catalog.outcomes import Outcome, Severity
from catalog.queries import EventRow, ReportData
from catalog.set_aside import lapse_note
from catalog.settings import NIGHT_SLACK
from catalog.sync import partial_removal, set_asides_dropped, set_asides_ended
from catalog.unsteady import (
    CONTENT,
    DRIFT,
    READS_IN_A_ROW,
    REDIRECT,
    REDIRECT_WINDOW_DAYS,
    TITLE,
    Unsteady,
)
from catalog.urls import without_password
from reports.context import (
    INVALID_SINCE,
    SUSPECT_STATE,
    ChangeItem,
    Changes,
    ChangeSection,
    Priority,
    Row,
    When,
    when,
)

#: Catalog fields as an edit's news names them.
_FIELD_NAMES = {"reviewed_at": "review date"}

_SECTIONS = (
    ("newly_broken", "Newly broken"),
    # Confirmed, but filed under "Page missing (soft 404)", not "Confirmed broken".
    ("newly_missing", "Pages now missing (soft 404)"),
    ("newly_drifted", "No longer matching their entry"),
    # A hotline's number or email the entry names, gone from its page (`apply_contacts`).
    ("contacts_gone", "Contact details no longer on their page"),
    # Apart from the confirmed ones: one failed check is a thing to watch, not to fix.
    ("started_failing", "Started failing"),
    # Switching between working and failing: now under Check by hand, and out of it again.
    ("flapping_started", "Started flapping"),
    ("recovered", "Recovered"),
    ("flapping_stopped", "Stopped flapping"),
    # Back in the queue the night its snooze ended: the reason it left.
    ("snooze_ended", "Back from a snooze"),
    # An ignore or snooze decided about another problem than the link has now.
    ("set_aside_lapsed", "Back in the queue: the problem changed"),
    ("content_changed", "Content changed"),
    ("new_redirects", "New redirects"),
    # A redirect that went: the link answers at its own address again.
    ("redirects_gone", "No longer redirecting"),
    # A page that changes at every read, a permanent redirect that comes and goes, a page
    # that matches its entry by turns: said once (`catalog.unsteady`), its later changes
    # of that kind not listed.
    ("unsteady", "Unsteady links"),
    ("catalog_edits", "Catalog edits"),
)


#: A link's changes told as from where the window began to where it ended (`_spans`).
_SPANNED = ("redirect_changed", "final_url_changed", "title_changed", "content_type_changed")

_CATALOG_KINDS = {"added", "removed", "url_edited", "fields_edited"}


#: Events about one entry, shown for it alone, not for every entry sharing its link.
_ENTRY_KINDS = {*_CATALOG_KINDS, "drift_detected", "snooze_ended", "set_aside_lapsed"}
#: Of one entry when they name it (the entries that name the contact, `apply_contacts`; the
#: entry a shared page matches again while it still drifts from another, `apply_drift`).
_ENTRY_KINDS_IF_NAMED = {"contact_gone", "contact_back", "drift_cleared"}


_FAILING_STATES = {"suspect", "broken"}

#: The news of a link that fails, drifts or works again, by section.
_FAILING_OR_BACK = (
    "newly_broken",
    "newly_missing",
    "newly_drifted",
    "started_failing",
    "recovered",
)
#: The news of a link flagged flapping, or no longer: none of an ignored entry.
_FLAPPING_NEWS = ("flapping_started", "flapping_stopped")


def changes_since(
    data: ReportData, rows: Sequence[Row], now: datetime, shared: Collection[str] = ()
) -> Changes:
    """`shared`: resource ids several collections use, whose news names the collection."""
    by_link: dict[int, list[Row]] = defaultdict(list)
    by_pk: dict[int, Row] = {}
    pk_of: dict[int, int] = {}  # id(row) -> its resource's pk
    # Since when the address failed, of the entries whose row counts only their own checks
    # of it (taken after it began to fail: `ResourceRow.own_checks`).
    address_since: dict[int, datetime] = {}
    # Since when each link has failed (a 503 "unavailable" one: since its first such night).
    failing_since: dict[int, datetime] = {}
    # The 503 nights of a flapping link, which its "Started flapping" says.
    down_nights: dict[int, int] = {}
    # The addresses a redirect leads to by turns, as the row names them (`by_turns`).
    by_turns_to: dict[int, tuple[str, ...]] = {}
    for source, row in zip(data.resources, rows, strict=True):
        by_pk[source.pk] = row
        if len(source.unsteady_targets) > 1:
            by_turns_to[source.pk] = source.unsteady_targets
        if source.unavailable_nights:
            down_nights[source.pk] = source.unavailable_nights
        if source.since is not None:
            failing_since[source.pk] = source.since
        if source.own_checks is not None and source.since is not None:
            address_since[source.pk] = source.since
        pk_of[id(row)] = source.pk
        if source.link_id is not None:
            by_link[source.link_id].append(row)
    # Each entry that took its link in the window (added, or its URL edited): the link's
    # news from before is not the entry's, nor is "Works again" of a link already failing
    # when it took it (`_not_the_entrys`).
    took = _takings(data.changes)
    failed_at = _failure_starts(data.changes)
    sections: dict[str, list[ChangeItem]] = {key: [] for key, _ in _SECTIONS}
    unsteady = data.unsteady
    # A page that changes at every read: its changes are no news, and a change of its
    # title beyond that (`title_changed`) is told on its own.
    content_links = {
        e.link_id for e in data.changes if e.kind == "content_changed" and e.id not in unsteady
    }
    # The checks at which a permanent redirect that keeps coming and going came or went:
    # its first hop and final address changed with it, no more news than its outcome (one
    # that led elsewhere has a verdict of its own, `catalog.unsteady.redirect_change`).
    redirect_checks = {
        (e.link_id, e.at) for e in data.changes if _unsteady_kind(unsteady, e) == REDIRECT
    }
    # A page whose content and title both change at every read is told so in one item, at
    # the check its content is found so: its title's verdict there says "and title".
    titles_too = {(e.link_id, e.at) for e in data.changes if _unsteady_kind(unsteady, e) == TITLE}
    content_told = {
        (e.link_id, e.at)
        for e in data.changes
        if _unsteady_kind(unsteady, e) == CONTENT and unsteady[e.id].first
    }
    # A page found matching its entry by turns: its content and title changed with it, and
    # its one item says why ("Its content changed at each read" beside it said less). Of
    # that entry (None: every entry): another sharing the page, which it still holds, is
    # told its content changes at every read, or never is.
    drift_told: dict[tuple[int | None, datetime], set[int | None]] = defaultdict(set)
    for e in data.changes:
        if _unsteady_kind(unsteady, e) == DRIFT and unsteady[e.id].first:
            drift_told[(e.link_id, e.at)].add(e.resource_pk)
    # A link's redirect, final address, title, type and redirect outcome where the window
    # began and where it ended: a redirect that came and went (or went and came back) is no
    # news.
    spans = _spans(data.changes)
    spanned = {e.id for e in data.changes if _span_kind(e) is not None}
    redirect_links = {e.link_id for e in spans.values() if e.kind == "redirect_changed"}
    # "No longer redirects permanently" (its outcome) says the redirect went, once.
    unredirected = {
        e.link_id
        for e in spans.values()
        if e.kind == "outcome_changed"
        and e.details.get("old") == Outcome.REDIRECTED_PERMANENT.value
    }
    # A first hop that moved usually moves where the link ends too: show that once.
    final_links = {
        e.link_id
        for e in spans.values()
        if e.kind == "final_url_changed" and e.link_id not in redirect_links
    }
    # The check that flags a link flapping is a flip: it also fails or recovers the link.
    # "Started flapping" says what is true of it; the same link under "Started failing" or
    # "Recovered" too would say it twice, the second time wrongly (it is listed under
    # Check by hand now). A confirmed break's end is news all the same.
    flagged = {(e.link_id, e.run_id, e.at) for e in data.changes if e.kind == "flapping_started"}
    # A link that stops flapping on a check that fails or recovers it, or whose recheck
    # the same day does, is told once: under that news, which says it no longer flaps.
    folded, since_stop = _after_stops(data.changes)
    told = set(folded.values())
    # A link's state may change twice in the window (the night, then a recheck): its last
    # change says where it stands. An earlier one beside it told another story of the same
    # link ("Started failing: Failed its last check" and "Recovered: Works again").
    last_change = {e.link_id: e.id for e in data.changes if e.kind == "state_changed"}
    superseded = {
        e.id for e in data.changes if e.kind == "state_changed" and last_change[e.link_id] != e.id
    }
    changed_before = {e.link_id for e in data.changes if e.id in superseded}
    # So do its outcome changes say how it fails now (a 404, then a soft 404): told once.
    moves = _failure_moves(data.changes)
    # And its drift events whether its page matches its entry now.
    drift_skipped, passing = _drift_superseded(data.changes)
    superseded |= drift_skipped
    superseded |= spanned - set(spans)
    for event in data.changes:
        if event.id in told or event.id in superseded:
            continue  # told with the state change it is folded into, or told by a later one
        if event.kind == "outcome_changed" and event.id in moves:
            event = moves[event.id]
        elif event.id in spans:
            event = spans[event.id]
        elif event.kind == "outcome_changed" and _changes_failure(event.details):
            continue  # told by the link's last outcome change, or back as it was
        verdict = unsteady.get(event.id)
        check = (event.link_id, event.at)
        placed: tuple[str, str, str | None, str | None] | None
        if verdict is not None:
            if not verdict.first or (verdict.kind == TITLE and check in content_told):
                continue  # unsteady since before it, or told with its content
            # Of a title alone (an A/B test of it), "Its title": the content never changed.
            title_too = verdict.kind == CONTENT and check in titles_too
            placed = "unsteady", _unsteady_summary(verdict, title_too), None, None
        elif check in redirect_checks and event.kind in ("redirect_changed", "final_url_changed"):
            continue
        else:
            placed = _place(event, content_links, redirect_links, final_links)
        if placed is None:
            continue
        stopped: Mapping[str, Any] = event.details  # a stop's state, as told
        if event.id in folded:
            section, summary, before, after = placed
            placed = section, f"{summary} {NO_LONGER_FLAPPING}", before, after
            event = replace(event, kind="flapping_stopped")
        elif event.kind == "flapping_stopped":
            # Told by its state as this report leaves it: a later check (a same-day
            # recheck) may have been blocked since, say, or its own check confirmed it.
            latest = since_stop.get(event.id)
            if latest is not None:
                stopped = {**event.details, "state": latest.details.get("new")}
                placed = "flapping_stopped", flapping_summary(stopped, started=False), None, None
        if (
            event.kind == "state_changed"
            and placed[0] in ("started_failing", "recovered")
            and event.details.get("old") != "broken"
            and (event.link_id, event.run_id, event.at) in flagged
        ):
            continue
        gone = event.kind == "redirect_changed" and event.details.get("new") is None
        if gone and event.link_id in unredirected:
            continue
        section, summary, before, after = placed
        if event.id in passing:
            summary = _matches_again_after(str(event.details.get("old") or ""))
        at = when(event.at, now)
        quoted = _quoted_titles(event)
        if (
            event.kind in _ENTRY_KINDS
            or event.link_id is None
            or (event.kind in _ENTRY_KINDS_IF_NAMED and event.resource_pk is not None)
        ):
            named = by_pk.get(event.resource_pk) if event.resource_pk is not None else None
            title = event.resource_title or str(event.details.get("title") or "")
            sections[section].append(
                ChangeItem(
                    event.kind,
                    at,
                    title or (event.resource_id or "?"),
                    event.resource_id,
                    event.collection_title,
                    named.page if named else None,
                    summary,
                    before,
                    after,
                    readded=readded(event),
                    in_collection=event.collection_title if event.resource_id in shared else None,
                    quoted=quoted,
                )
            )
            continue
        targets = by_link.get(event.link_id, [])
        if event.kind == "state_changed" and any(
            row.outcome == Outcome.INVALID_URL.value for row in targets
        ):
            # Shown as broken from its first check (`catalog.health.shown_state`): broken
            # when it started failing, and its later confirmation is no news (unless that
            # first failure is in this window too, and told by this, the link's last change).
            if section == "newly_broken" and event.details.get("old") == SUSPECT_STATE:
                if event.link_id not in changed_before:
                    continue
                summary = INVALID_SINCE
            if section == "started_failing":
                section, summary = "newly_broken", INVALID_SINCE
        if event.kind == "outcome_changed" and section == "newly_missing":
            # A hard failure that became a soft 404: no state news (failing before and
            # after), yet it left "Confirmed broken" or "Failing, not yet confirmed" for
            # "Page missing (soft 404)". Its news goes there, as the row does (a drifted
            # row stays under its graver heading), once: its last outcome says it.
            if not targets or targets[0].priority is not Priority.SOFT_404:
                continue
            if targets[0].state == BROKEN:
                summary = NOW_MISSING_CONFIRMED
        if event.kind == "outcome_changed" and section == "started_failing":
            # And the reverse: a soft 404 whose site now fails otherwise (a 404, a timeout)
            # left "Page missing (soft 404)" for "Failing, not yet confirmed", or for
            # "Confirmed broken" if confirmed missing: told there, its confirmation kept.
            priority = targets[0].priority if targets else None
            if priority is Priority.BROKEN:
                section, summary = "newly_broken", NOW_FAILING_CONFIRMED
            elif priority is not Priority.FAILING:
                continue  # a drifted or flapping row keeps its heading: no news
        if section == "newly_broken" and not _filed_broken(targets):
            # A soft 404's break is confirmed all the same, but the report files it under
            # "Page missing (soft 404)" (`catalog.health.confirmed_broken`): its news says so.
            section, summary = "newly_missing", _confirmed("missing", event.details)
        if section == "started_failing" and targets and targets[0].priority is Priority.SOFT_404:
            # Filed under "Page missing (soft 404)" from its first such check, not under
            # "Failing, not yet confirmed": that is where its news goes, once.
            section, summary = "newly_missing", summary.replace(STARTED_FAILING, STARTED_MISSING)
        if section == "flapping_stopped" and not _filed_broken(targets):
            summary = flapping_summary(stopped, started=False, missing=True)
        for row in targets:
            if _not_the_entrys(event, took.get(pk_of[id(row)]), failed_at):
                continue
            drifted = drift_told.get(check, ())
            if (
                verdict is not None
                and verdict.kind in (CONTENT, TITLE)
                and (None in drifted or pk_of[id(row)] in drifted)
            ):
                continue  # told with its drift
            said, was, now_at, where = summary, before, after, section
            if where in _FLAPPING_NEWS and row.ignored_reason is not None:
                # "Listed under Check by hand until it steadies. Ignored, so not in the
                # queue." said both: an ignored entry is listed nowhere, steady or not.
                continue
            if summary == STARTED_FAILING and event.kind == "state_changed":
                pk = pk_of[id(row)]
                began = address_since.get(pk)
                said = _started_failing(
                    row, failing_since.get(pk), event.at, when(began, now) if began else None
                )
            if event.kind == "flapping_started" and (down := down_nights.get(pk_of[id(row)])):
                said = (
                    f"Keeps switching between working and {unavailable_words(down)}; "
                    "listed under Check by hand until it steadies."
                )
            if (
                event.kind == "state_changed"
                and section in _FAILING_OR_BACK
                and row.priority is Priority.DRIFT
            ):
                # Filed under "Page no longer matches its entry" whatever its link does: a
                # parked domain confirmed broken was "Pages now missing (soft 404)" news,
                # without the evidence its row gives.
                where, said = "newly_drifted", _still_drifted(event, said, row)
            if event.kind == "state_changed" and (began := address_since.get(pk_of[id(row)])):
                said = _of_its_address(said, event.details, when(began, now), row.checks)
            if where == "unsteady" and verdict is not None and verdict.kind == REDIRECT:
                if turns := by_turns_to.get(pk_of[id(row)]):
                    said = _unsteady_by_turns(verdict, turns)
                elif event.kind == "outcome_changed":
                    said = _unsteady_redirect(verdict, row.suggested_url)
                else:
                    said = _unsteady_target(verdict, row)
            elif _began_redirecting(event) and row.suggested_url:
                # Where the queue's fix and `accept-redirect` would point (the last
                # permanent hop's target), not the first hop's or the outcome's label:
                # "Now redirects permanently. Moved permanently" said nothing.
                said = f"Now redirects permanently to {row.suggested_url}."
                was = now_at = None
            sections[where].append(
                ChangeItem(
                    event.kind,
                    at,
                    row.title,
                    row.resource_id,
                    row.collection,
                    row.page,
                    said + _set_aside(row),
                    was,
                    now_at,
                    in_collection=row.collection if row.resource_id in shared else None,
                    quoted=quoted,
                )
            )
    for link, stayed in data.steadied_redirects.items():
        # A redirect told as coming and going that now stays: once, with the queue's fix.
        for row in by_link.get(link, []):
            sections["new_redirects"].append(
                ChangeItem(
                    "outcome_changed",
                    when(stayed, now),
                    row.title,
                    row.resource_id,
                    row.collection,
                    row.page,
                    _stays_redirected(row.suggested_url) + _set_aside(row),
                    in_collection=row.collection if row.resource_id in shared else None,
                )
            )
    _took_failing(sections, took, by_pk, failed_at, now, shared, address_since)
    _one_item_each(sections, rows)
    previous = data.previous_run
    first = data.night_run if previous is None else None
    start = previous.finished_at if previous else first.started_at if first else None
    return Changes(
        previous_run_id=previous.id if previous else None,
        since=when(start, now) if start else None,
        first_run_id=first.id if first else None,
        sections=tuple(
            ChangeSection(key, heading, tuple(_without_passwords(i) for i in sections[key]))
            for key, heading in _SECTIONS
            if sections[key]
        ),
    )


def _without_passwords(item: ChangeItem) -> ChangeItem:
    """`item` with each URL's password hidden (`urls.without_password`), as the queue's rows
    hide it: a redirect's targets ("Now leads somewhere else. https://ann:s3cret@... → ...")
    and a reason or fix quoting an address were printed whole."""

    def hidden(value: str | None) -> str | None:
        return without_password(value) if value else value

    return replace(
        item,
        summary=without_password(item.summary),
        before=hidden(item.before),
        after=hidden(item.after),
        quoted=tuple(without_password(q) for q in item.quoted),
    )


def _takings(events: Sequence[EventRow]) -> dict[int, EventRow]:
    """Each entry's last `added` or `url_edited` event of the window, by its resource's
    pk: when it took the link it has now."""
    return {
        e.resource_pk: e
        for e in events
        if e.kind in ("added", "url_edited") and e.resource_pk is not None
    }


def _failure_starts(events: Sequence[EventRow]) -> dict[int | None, list[int]]:
    """The ids of each link's state changes into failing from working (or unchecked)."""
    starts: dict[int | None, list[int]] = defaultdict(list)
    for e in events:
        if e.kind == "state_changed" and (
            e.details.get("new") == "broken"
            or (
                e.details.get("new") == SUSPECT_STATE
                and e.details.get("old") not in _FAILING_STATES
            )
        ):
            starts[e.link_id].append(e.id)
    return starts


def _not_the_entrys(
    event: EventRow, taken: EventRow | None, failed_at: Mapping[int | None, list[int]]
) -> bool:
    """Whether a link's `event` is no news of an entry that took the link in the window
    (`taken`): it came before (the entry pointed elsewhere then), or it is the recovery of
    a failure that began before (the entry's page worked the night before: its URL edit
    is the news, not "Works again")."""
    if taken is None:
        return False
    if event.id < taken.id:
        return True
    return (
        event.kind == "state_changed"
        and event.details.get("new") == "recovered"
        and not any(taken.id < i < event.id for i in failed_at.get(event.link_id, ()))
    )


def _took_failing(
    sections: dict[str, list[ChangeItem]],
    took: Mapping[int, EventRow],
    by_pk: Mapping[int, Row],
    failed_at: Mapping[int | None, list[int]],
    now: datetime,
    shared: Collection[str],
    address_since: Mapping[int, datetime],
) -> None:
    """News of an entry that took a link already failing (its URL edited back to an
    address known broken, or added with one): no check of the window failed it anew, so
    no state news tells the curator that the entry, fine the night before, now fails.
    `address_since`: since when the address fails, where the entry's row counts its own
    checks of it only (from a later moment)."""
    for pk, event in took.items():
        row = by_pk.get(pk)
        if row is None or row.state not in _FAILING_STATES or row.priority is None:
            continue
        if any(i > event.id for i in failed_at.get(event.link_id, ())):
            continue  # its failure anew since is told by its state news
        began = when(address_since[pk], now) if pk in address_since else row.since
        since = f" (failing since {began.date})" if began else ""
        points = "Added with" if event.kind == "added" else "Now points at"
        if row.priority is Priority.BROKEN:
            where, said = (
                "newly_broken",
                f"{points} an address already confirmed broken{since}.",
            )
        elif row.priority is Priority.SOFT_404:
            confirmed = "confirmed" if row.state == BROKEN else "not confirmed yet"
            where = "newly_missing"
            said = f"{points} an address whose page is missing (soft 404){since}; {confirmed}."
        elif row.priority is Priority.FAILING:
            where = "started_failing"
            said = f"{points} an address that is failing{since}; not confirmed yet."
        else:
            continue  # drifted or flapping: its own group's news tells it
        sections[where].append(
            ChangeItem(
                event.kind,
                when(event.at, now),
                row.title,
                row.resource_id,
                row.collection,
                row.page,
                said + _set_aside(row),
                in_collection=row.collection if row.resource_id in shared else None,
            )
        )


def _one_item_each(sections: dict[str, list[ChangeItem]], rows: Sequence[Row]) -> None:
    """Each entry's news once, under the heading of the group its row is in, where several
    events of one check (or of a check and its recheck) placed it under more than one."""
    # A failure that changed kind on the check its state news tells (the one that confirmed
    # it, say): that news is the entry's one item, with how it failed before.
    for key in ("newly_broken", "newly_missing", "started_failing"):
        sections[key] = _told_once(sections[key])
    _drift_told_once(sections)
    _redirects_told_once(sections, rows)


def _drift_told_once(sections: dict[str, list[ChangeItem]]) -> None:
    """A page that drifts, or matches its entry again, as one item (`_one_item_each`)."""
    # A drifted page has changed by definition: its entry is listed once, under the graver
    # heading, whose reason already quotes what the page now says. So is what its link did
    # on the check that showed it: "Recovered: Works again" of a 404 that now shows a casino,
    # or "Started failing" of a casino page its site calls missing (a soft 404); the queue
    # files it under "Page no longer matches its entry", not under either.
    drifted = {_entry_of(item) for item in sections["newly_drifted"]}
    # Its link's news filed there too (`_still_drifted`) says it again, less well.
    detected = {_entry_of(i) for i in sections["newly_drifted"] if i.kind == "drift_detected"}
    sections["newly_drifted"] = [
        i
        for i in sections["newly_drifted"]
        if i.kind == "drift_detected" or _entry_of(i) not in detected
    ]
    for key in ("started_failing", "newly_missing", "recovered", "content_changed", "unsteady"):
        sections[key] = [
            i for i in sections[key] if i.kind == "drift_cleared" or _entry_of(i) not in drifted
        ]
    # A page that matches its entry again has changed by definition too; one whose link works
    # again on that check is one item, not two under "Recovered".
    recovered = sections["recovered"]
    cleared = {_entry_of(i) for i in recovered if i.kind == "drift_cleared"}
    works = {_entry_of(i) for i in recovered if i.summary.startswith(WORKS_AGAIN)}
    sections["recovered"] = [
        replace(i, summary=i.summary.replace(WORKS_AGAIN, WORKS_AND_MATCHES_AGAIN, 1))
        if _entry_of(i) in cleared and i.summary.startswith(WORKS_AGAIN)
        else i
        for i in recovered
        if not (i.kind == "drift_cleared" and _entry_of(i) in works)
    ]
    sections["content_changed"] = [
        i for i in sections["content_changed"] if _entry_of(i) not in cleared
    ]


def _redirects_told_once(sections: dict[str, list[ChangeItem]], rows: Sequence[Row]) -> None:
    """A redirect that comes or goes with a failure, a drift or a recovery, as one item
    (`_one_item_each`)."""
    # Where a link that fails, works again or drifts now leads (the site's home page, which
    # makes it a soft 404; nowhere else once it fails with a 404) is how it fails or works:
    # its news under that graver heading and its row say it, not "New redirects" besides.
    # Unless its row is under "Moved permanently", whose news that is: a failing link that
    # now works at a new address is one item there ("Works again: now redirects ...").
    listed = {_entry_of(i) for key in _FAILING_OR_BACK for i in sections[key]}
    moved: set[object] = {row.page for row in rows if row.priority is Priority.UPDATE}
    for key in ("new_redirects", "redirects_gone"):
        sections[key] = [
            i for i in sections[key] if _entry_of(i) not in listed or _entry_of(i) in moved
        ]
    redirected = {_entry_of(i) for i in sections["new_redirects"]} & moved
    # What the recovery said ("Works again", "and its page matches the entry again", after
    # `_drift_told_once`) leads its one redirect item.
    back = {
        _entry_of(i): i.summary.rstrip(".")
        for i in sections["recovered"]
        if i.summary.startswith(WORKS_AGAIN[:-1]) and NO_LONGER_FLAPPING not in i.summary
    }
    back = {entry: said for entry, said in back.items() if entry in redirected}
    sections["recovered"] = [i for i in sections["recovered"] if _entry_of(i) not in back]
    sections["new_redirects"] = [
        replace(i, summary=f"{back[_entry_of(i)]}: {i.summary[:1].lower()}{i.summary[1:]}")
        if _entry_of(i) in back
        else i
        for i in sections["new_redirects"]
    ]


def _still_drifted(event: EventRow, summary: str, row: Row) -> str:
    """The news of what a drifted page's link did (failed, was confirmed broken, works
    again), told under "No longer matching their entry" with what its row says the page
    shows now: the reason the curator must act, not the failure."""
    if event.details.get("new") == "broken":
        summary = _confirmed("broken", event.details)  # as its row's state says
    reason = row.seen.rstrip(".")
    if reason[:1].isupper() and reason[1:2].islower():  # "The page now looks like ..."
        reason = reason[:1].lower() + reason[1:]
    return f"{summary} {STILL_DRIFTED} {reason}."


def _began_redirecting(event: EventRow) -> bool:
    """A link that began to redirect: by its outcome (its first check, or no hop before)
    or by its first hop (`redirect_changed` from none)."""
    d = event.details
    if event.kind == "outcome_changed":
        return d.get("new") == Outcome.REDIRECTED_PERMANENT.value
    return event.kind == "redirect_changed" and d.get("old") is None and d.get("new") is not None


#: A link's first failure, and that of a soft 404 (told under "Pages now missing").
STARTED_FAILING = "Failed its last check; not confirmed yet."
STARTED_MISSING = "The site answers, but the page is missing (soft 404); not confirmed yet."

#: A link failing otherwise (a 404, a timeout) whose site now answers with a "not found"
#: page: the URL must still be replaced, and it is filed under "Page missing (soft 404)".
NOW_MISSING = "The site answers now, but the page is still missing (soft 404); not confirmed yet."
NOW_MISSING_CONFIRMED = (
    "The site answers now, but the page is still missing (soft 404); confirmed missing."
)

#: A soft 404 whose site now fails otherwise (a 404, a timeout: its before and after say
#: which): still to be replaced, but filed under "Failing, not yet confirmed" or, confirmed
#: already, "Confirmed broken". Not "Failed its last check": it has failed for a while.
NOW_FAILING = "Still failing, but no longer as a soft 404; not confirmed yet."
NOW_FAILING_CONFIRMED = "Still failing, but no longer as a soft 404; confirmed broken."

#: Said of a drifted page whose link's news is told with its drift (`_still_drifted`).
STILL_DRIFTED = "Its page still does not match the entry:"

#: A link that works after failing, a page that matches its entry after drifting, and both
#: on one check.
WORKS_AGAIN = "Works again."
MATCHES_AGAIN = "Its page matches the entry again."
WORKS_AND_MATCHES_AGAIN = "Works again, and its page matches the entry again."

#: Said of a link that no longer flaps where its failure or recovery is the news.
NO_LONGER_FLAPPING = "No longer listed as flapping."


def _after_stops(events: Sequence[EventRow]) -> tuple[dict[int, int], dict[int, EventRow]]:
    """What became of each link that stopped flapping: (state change event id -> the
    `flapping_stopped` event folded into it, stop event id -> the link's last state change
    since, its own check's included).

    The check that stops a link flapping may fail it anew or recover it, and so may a
    same-day recheck after the night that stopped it. "Stopped flapping: Works steadily
    again" beside "Started failing" (or "...has failed every check lately" of a link that
    worked for two weeks until its last check) is wrong: the link's last failure or
    recovery, under its own heading, says where it stands, and that it no longer flaps.
    A confirmed break stays under its graver heading, its stop beside it ("confirmed
    broken"), as nothing about it contradicts the other.
    """
    stopped = {e.link_id for e in events if e.kind == "flapping_stopped"}
    if not stopped:
        return {}, {}
    stops: dict[int | None, EventRow] = {}  # each link's stop still standing
    last_change: dict[int | None, EventRow] = {}
    latest: dict[int, EventRow] = {}
    for event in events:  # oldest first; a check's state change comes just before its stop
        link = event.link_id
        if link not in stopped:
            continue
        if event.kind == "state_changed":
            last_change[link] = event
            if link in stops:
                latest[stops[link].id] = event
        elif event.kind == "flapping_stopped":
            stops[link] = event
            own = last_change.get(link)
            if own is not None and (own.run_id, own.at) == (event.run_id, event.at):
                latest[event.id] = own
        elif event.kind == "flapping_started" and link in stops:
            # Flagged again since: its `flapping_started` tells where it stands.
            latest.pop(stops.pop(link).id, None)
    folded: dict[int, int] = {}
    for stop_id, change in latest.items():
        old, new = change.details.get("old"), change.details.get("new")
        if (new == SUSPECT_STATE and old not in _FAILING_STATES) or new == "recovered":
            folded[change.id] = stop_id
    return folded, latest


def _failure_kind(value: object) -> bool | None:
    """Of a failing outcome, whether it is a soft 404 (filed apart: `FILED_APART`); None
    of one that does not fail, or that this version does not know."""
    outcome = Outcome.known(value if isinstance(value, str) else None)
    if outcome is None or not outcome.is_failure:
        return None
    return outcome in FILED_APART


def _changes_failure(details: Mapping[str, Any]) -> bool:
    """Whether an `outcome_changed` moves a failure in or out of the soft 404s."""
    old, new = _failure_kind(details.get("old")), _failure_kind(details.get("new"))
    return old is not None and new is not None and old != new


def _hard_to_soft(details: Mapping[str, Any]) -> bool:
    """Whether an `outcome_changed` is a failure other than a soft 404 becoming one."""
    return _changes_failure(details) and details.get("new") == Outcome.SOFT_404.value


def _failure_moves(events: Sequence[EventRow]) -> dict[int, EventRow]:
    """Each link's last `outcome_changed`, as from its outcome before the window's first:
    the one that tells a failure that changed kind over the window (a 404 that became a
    soft 404, or the reverse), by its id. Two changes back (a 404, a soft 404, a 404 again
    on a recheck) leave it where it was: no news. Nor is a link that worked (or needed a
    person) in between failing otherwise: it failed anew, which its state news tells."""
    first: dict[int | None, EventRow] = {}
    last: dict[int | None, EventRow] = {}
    stopped: set[int | None] = set()
    for event in events:
        if event.kind == "outcome_changed":
            first.setdefault(event.link_id, event)
            last[event.link_id] = event
            if _failure_kind(event.details.get("new")) is None:
                stopped.add(event.link_id)
    moves: dict[int, EventRow] = {}
    for link, event in last.items():
        if link in stopped:
            continue
        spanned = {**event.details, "old": first[link].details.get("old")}
        if _changes_failure(spanned):
            moves[event.id] = replace(event, details=spanned)
    return moves


def _drift_superseded(events: Sequence[EventRow]) -> tuple[set[int], set[int]]:
    """The ids of the drift events that are no news, and of the clearings of a drift that
    came and went in the window: an entry's page may drift and match again in one window (a
    casino one night, the guide on the morning's recheck). Its last drift event says where
    it stands. A drift told beside its clearing was news of a page that is no longer there,
    and it swallowed what the link did next (a 404 on a later recheck); but the pair is not
    no news either: the report after the night told the curator to remove the link, and a
    recheck's window holds that night, so the report after it is the one to say the page
    is back (`_matches_again_after`)."""
    # A drift is an entry's event; its clearing its link's, of every entry using it, or
    # the entry's own when the page still drifts from another (`apply_drift`). Two events
    # concern the same entry when either is the link's or both name it.
    by_link: dict[int | None, list[EventRow]] = defaultdict(list)
    for event in events:
        if event.kind in ("drift_detected", "drift_cleared"):
            by_link[event.link_id].append(event)
    skipped: set[int] = set()
    passing: set[int] = set()
    for told in by_link.values():
        for at, event in enumerate(told):
            later = [e for e in told[at + 1 :] if _same_entry(e, event)]
            before = [e for e in told[:at] if _same_entry(e, event)]
            if event.kind == "drift_detected" and any(
                e.kind == "drift_cleared" or e.resource_pk == event.resource_pk for e in later
            ):
                skipped.add(event.id)  # its entry drifted again, or matches again, since
            elif event.kind == "drift_cleared" and later:
                skipped.add(event.id)  # drifting again since
            elif event.kind == "drift_cleared" and before and before[0].kind == "drift_detected":
                passing.add(event.id)  # drifted in this window, and matches again
    return skipped, passing


def _same_entry(one: EventRow, other: EventRow) -> bool:
    """Whether two drift events of a link concern one entry (`_drift_superseded`)."""
    mine, theirs = one.resource_pk, other.resource_pk
    return mine is None or theirs is None or mine == theirs


def _matches_again_after(reason: str) -> str:
    """What a clearing of a drift that came and went in the window says: that the page
    matches again, and what it showed for a while (the drift's reason, without its advice,
    which no longer applies)."""
    shown = reason.split("; ")[0].strip().rstrip(".")
    if shown.startswith(MARKED_REASON):
        return f"{MATCHES_AGAIN[:-1]}; for a while it looked like a {shown[len(MARKED_REASON) :]}."
    if not shown:
        return f"{MATCHES_AGAIN[:-1]}; for a while it did not."
    return f"{MATCHES_AGAIN[:-1]}; for a while it did not: {shown[:1].lower()}{shown[1:]}."


def _span_kind(event: EventRow) -> str | None:
    """Which of a link's changes `event` is, if it is told as a span (`_spans`): its first
    hop, title or type, or its outcome to or from a permanent redirect."""
    if event.kind in _SPANNED:
        return event.kind
    moved = Outcome.REDIRECTED_PERMANENT.value
    d = event.details
    if event.kind == "outcome_changed" and moved in (d.get("old"), d.get("new")):
        return "redirect_outcome"
    return None


def _spans(events: Sequence[EventRow]) -> dict[int, EventRow]:
    """Each link's last change of each kind (`_span_kind`: from "old" to "new"), as from
    the "old" of the window's first, by its id; none of a link where it ended as it began.
    A night sent to the home page and its recheck to the new address is "Now redirects
    permanently to" the new one, once; a title that changed and changed back, or a redirect
    that went and came back, no news."""
    first: dict[tuple[int | None, str], EventRow] = {}
    last: dict[tuple[int | None, str], EventRow] = {}
    for event in events:
        if (kind := _span_kind(event)) is not None:
            first.setdefault((event.link_id, kind), event)
            last[event.link_id, kind] = event
    spans: dict[int, EventRow] = {}
    for key, event in last.items():
        old = first[key].details.get("old")
        if old != event.details.get("new"):
            spans[event.id] = replace(event, details={**event.details, "old": old})
    return spans


def _told_once(items: list[ChangeItem]) -> list[ChangeItem]:
    """A section's items, an entry's failure changing kind (an `outcome_changed`) left out
    where its state news is in the same section (the check that confirmed it, say); that
    news takes its before and after instead, which say how it failed before."""
    how = {_entry_of(i): i for i in items if i.kind == "outcome_changed"}
    stated = {_entry_of(i) for i in items if i.kind != "outcome_changed"}
    return [
        replace(i, before=how[_entry_of(i)].before, after=how[_entry_of(i)].after)
        if _entry_of(i) in how and i.before is None and i.after is None
        else i
        for i in items
        if not (i.kind == "outcome_changed" and _entry_of(i) in stated)
    ]


def _filed_broken(targets: Sequence[Row]) -> bool:
    """Whether a link confirmed broken is filed under "Confirmed broken": the group's
    rule (`catalog.health.confirmed_broken`) by the outcome its rows show."""
    return not targets or confirmed_broken(Outcome.known(targets[0].outcome), BROKEN)


def _quoted_titles(event: EventRow) -> tuple[str, ...]:
    """The page titles a `content_changed` summary quotes (`arrow`), in order."""
    d = event.details
    old, new = d.get("old_title"), d.get("new_title")
    if event.kind != "content_changed" or arrow(old, new) is None:
        return ()
    return tuple(str(title) for title in (old, new) if title)


def _set_aside(row: Row) -> str:
    """Why a link's news has no row in the queue: a curator who reads "Newly broken" looks
    for it there, and a snoozed or ignored entry is not."""
    if row.ignored_reason is not None:
        return " Ignored, so not in the queue."
    if row.snoozed_until is not None:
        return f" Snoozed until {row.snoozed_until.date}, so not in the queue."
    return ""


def _entry_of(item: ChangeItem) -> object:
    # The resource's own page is unique to it; collection and id where it has none.
    return item.page or (item.collection, item.resource_id)


def _place(
    event: EventRow,
    content_links: set[int | None],
    redirect_links: set[int | None],
    final_links: set[int | None],
) -> tuple[str, str, str | None, str | None] | None:
    """(section, summary, before, after) for an event worth showing, else None."""
    d = event.details
    kind = event.kind
    if kind == "state_changed":
        old, new = d.get("old"), d.get("new")
        if new == "broken":
            return "newly_broken", _confirmed("broken", d), None, None
        if d.get("while_flapping") and old != "broken":
            # Listed under Check by hand as flapping already: its every failure and
            # recovery, night after night, would cry wolf. Not so the end of a
            # confirmed break, which was news when it began.
            return None
        if new == "suspect" and old not in _FAILING_STATES:
            return "started_failing", STARTED_FAILING, None, None
        if new == "recovered":
            return "recovered", WORKS_AGAIN, None, None
        return None
    if kind == "outcome_changed" and _changes_failure(d):
        old, new = label_of(d.get("old")), label_of(d.get("new"))
        if _hard_to_soft(d):
            return "newly_missing", NOW_MISSING, old, new
        return "started_failing", NOW_FAILING, old, new
    if kind == "outcome_changed" and d.get("new") == Outcome.REDIRECTED_PERMANENT.value:
        if event.link_id in redirect_links or event.link_id in final_links:
            return None
        return (
            "new_redirects",
            "Now redirects permanently.",
            label_of(d.get("old")),
            label_of(d.get("new")),
        )
    if kind == "outcome_changed" and d.get("old") == Outcome.REDIRECTED_PERMANENT.value:
        new_outcome = Outcome.known(str(d.get("new")))
        if new_outcome is not None and new_outcome.severity is Severity.OK:
            return (
                "redirects_gone",
                "No longer redirects permanently.",
                label_of(d.get("old")),
                label_of(d.get("new")),
            )
        return None
    if kind == "drift_detected":
        reason = str(d.get("reason") or "its page no longer matches the entry")
        return "newly_drifted", f"{reason[:1].upper()}{reason[1:].rstrip('.')}.", None, None
    if kind == "drift_cleared":
        return "recovered", MATCHES_AGAIN, None, None
    if kind == "redirect_changed":
        old, new = text_of(d.get("old")), text_of(d.get("new"))
        if old is None:
            summary = "Now redirects."
        elif new is None:
            return "redirects_gone", "No longer redirects.", old, new
        else:
            summary = "Now leads somewhere else."
        return "new_redirects", summary, old, new
    if kind == "final_url_changed" and event.link_id not in redirect_links:
        old, new = text_of(d.get("old")), text_of(d.get("new"))
        # No final address is the link's own: "Now ends at another address. X → —" read
        # as if it led nowhere.
        if new is None:
            return "redirects_gone", "No longer redirects: it ends at its own address.", old, new
        return "new_redirects", "Now ends at another address.", old, new
    if kind in ("contact_gone", "contact_back"):
        named = f"The {d.get('kind') or 'contact'} {d.get('contact')} named in the entry"
        if kind == "contact_back":
            return "recovered", f"{named} is on the page again.", None, None
        shown = [str(c) for c in d.get("shown") or ()]
        now = f"; it now shows {', '.join(shown)}" if shown else ""
        return "contacts_gone", f"{named} is no longer on the page{now}.", None, None
    if kind == "content_changed":
        title = arrow(d.get("old_title"), d.get("new_title"))
        size = arrow(size_of(d.get("old_content_length")), size_of(d.get("new_content_length")))
        parts = [
            p for p in (f"title {title}" if title else "", f"size {size}" if size else "") if p
        ]
        summary = "Content changed" + (f": {'; '.join(parts)}." if parts else ".")
        return "content_changed", summary, None, None
    if kind == "title_changed" and event.link_id not in content_links:
        return (
            "content_changed",
            "Page title changed.",
            text_of(d.get("old")),
            text_of(d.get("new")),
        )
    if kind == "content_type_changed":
        return (
            "content_changed",
            "Content type changed.",
            text_of(d.get("old")),
            text_of(d.get("new")),
        )
    if kind == "snooze_ended":
        return "snooze_ended", snooze_summary(d), None, None
    if kind == "set_aside_lapsed":
        said = lapse_note(d)
        return "set_aside_lapsed", f"{said[0].upper()}{said[1:]}.", None, None
    if kind == "flapping_started":
        return "flapping_started", flapping_summary(d, started=True), None, None
    if kind == "flapping_stopped":
        return "flapping_stopped", flapping_summary(d, started=False), None, None
    if kind == "added":
        if readded(event):
            old_url = d.get("old_url")
            return (
                "catalog_edits",
                put_back_summary(d),
                url_of(old_url) if old_url else None,
                url_of(d.get("url")),
            )
        return "catalog_edits", "Added.", None, url_of(d.get("url"))
    if kind == "removed":
        partial = partial_removal(d)  # a decision's re-sync: perhaps half of a move
        said = f"Removed from the catalog {partial}." if partial else "Removed from the catalog."
        return "catalog_edits", said, url_of(d.get("url")), None
    if kind == "url_edited":
        ended = set_asides_ended(d.get("ended") or ())
        said = f"URL edited; {ended}." if ended else "URL edited."
        return "catalog_edits", said, url_of(d.get("old")), url_of(d.get("new"))
    if kind == "fields_edited":
        fields = [str(f) for f in d.get("fields") or ()]
        names = ", ".join(_FIELD_NAMES.get(f, f) for f in fields if f not in ("id", "collection"))
        for field, verb in (("collection", "Moved"), ("id", "Renamed")):
            if field in fields:  # an entry that moved to another file, or a rename (sync)
                old = (d.get("old") or {}).get(field)
                return (
                    "catalog_edits",
                    f"{verb} from {old}" + (f"; edited: {names}." if names else "."),
                    None,
                    None,
                )
        if fields == ["reviewed_at"]:  # `mark-reviewed`, or a curator's own date
            return "catalog_edits", "Marked reviewed.", None, None
        return "catalog_edits", f"Edited: {names}." if names else "Edited.", None, None
    return None


def _unsteady_kind(unsteady: Mapping[int, Unsteady], event: EventRow) -> str | None:
    verdict = unsteady.get(event.id)
    return verdict.kind if verdict is not None else None


#: Said of a link whose changes of one kind are no longer listed (`catalog.unsteady`).
NOT_LISTED = (
    "no longer listed here; a break, a move or a page that stops matching its entry still is."
)


def _unsteady_summary(verdict: Unsteady, title_too: bool) -> str:
    """The one item of a page found changing at every read (`verdict.first`): its content,
    its title, or both (`title_too`, of a content verdict whose check changed the title)."""
    if verdict.kind == REDIRECT:
        return _unsteady_redirect(verdict, None)
    if verdict.kind == DRIFT:
        return (
            f"Its page matches the entry on some nights and not on others ({verdict.count} "
            f"changes in {REDIRECT_WINDOW_DAYS} days), as when one server of several serves "
            "another page: it is in the queue on the nights it does not match, and these "
            "changes are no longer listed here."
        )
    what = "Its content and title" if title_too else f"Its {verdict.kind}"
    changes = "title changes" if verdict.kind == TITLE else "changes"
    return (
        f"{what} changed at each of its last {verdict.count} reads: it changes at every read, "
        f"so such {changes} are {NOT_LISTED}"
    )


def _unsteady_redirect(verdict: Unsteady, target: str | None) -> str:
    """The one item of a permanent redirect found coming and going."""
    to = f" to {target}" if target else ""
    return (
        f"Redirects permanently{to} on some nights and not others ({verdict.count} changes in "
        f"{REDIRECT_WINDOW_DAYS} days): the site keeps undoing it, so accept it only once it "
        "stays; its comings and goings are no longer listed here."
    )


def _unsteady_target(verdict: Unsteady, row: Row) -> str:
    """The one item of a redirect found leading elsewhere by turns (two servers behind a
    balancer, each with its own target): where it leads is tonight's server's choice."""
    changes = f"{verdict.count} changes in {REDIRECT_WINDOW_DAYS} days"
    if row.outcome != Outcome.REDIRECTED_PERMANENT.value:
        return (
            f"Its redirect leads to another address on some nights ({changes}): its changes "
            "of address are no longer listed here."
        )
    now = f", now to {row.suggested_url}" if row.suggested_url else ""
    return (
        f"Redirects permanently, but to another address on some nights ({changes}{now}): "
        "the site keeps changing it, so accept it only once it stays; its changes of "
        "address are no longer listed here."
    )


def _unsteady_by_turns(verdict: Unsteady, targets: Sequence[str]) -> str:
    """The one item of a redirect found leading to several `targets` by turns
    (`catalog.unsteady.redirect_turns`), in the queue row's words: "now to" tonight's
    one named an address the row offers no more, and the others none at all."""
    return (
        f"Redirects permanently to {len(targets)} addresses by turns, "
        f"{by_turns(targets, said=True)} "
        f"({verdict.count} changes in {REDIRECT_WINDOW_DAYS} days): none is sure to last, so "
        "accept one only once the redirect stays on it; its changes of address are no "
        "longer listed here."
    )


def by_turns(targets: Sequence[str], *, said: bool = False) -> str:
    """ "to A on some nights and to B on others", "to A, B or C by turns" ("to A, B or C"
    in a sentence that `said` "by turns" already: not twice in one)."""
    if len(targets) == 2:
        return f"to {targets[0]} on some nights and to {targets[1]} on others"
    turns = "" if said else " by turns"
    return f"to {', '.join(targets[:-1])} or {targets[-1]}{turns}"


def _stays_redirected(target: str | None) -> str:
    """The one item of a permanent redirect that came and went, then stayed."""
    to = f" to {target}" if target else ""
    return f"Now stays redirected{to} at its last {READS_IN_A_ROW} checks: accept it."


def _confirmed(what: str, details: Mapping[str, Any], address_since: When | None = None) -> str:
    """ "Confirmed broken after 3 failed checks.", of a `state_changed` to broken; for a
    site answering 503 "unavailable" night after night, how long it has (the failures
    counted began only once it had lasted `unavailable_days`). `address_since`: told as
    its address's, failing since then (`_of_its_address`)."""
    nights = _nights(details)
    of, since = "", ""
    if address_since is not None:
        of, since = " of its address", f" (failing since {address_since.date})"
    if nights:
        unavailable = "its address unavailable" if of else "unavailable"
        return f"Confirmed {what}: {unavailable} (503) at every check for {nights} nights{since}."
    failures = details.get("consecutive_failures") or 0
    checks = "its first failed check" if failures == 1 else f"{failures} failed checks"
    return f"Confirmed {what} after {checks}{of}{since}."


def _of_its_address(said: str, details: Mapping[str, Any], since: When, checks: int) -> str:
    """`said` of the confirmation of an entry that took its address after the address
    began to fail, at `since` (its row counts only its own `checks` of it,
    `ResourceRow.own_checks`): the confirmation is the URL's, whoever pointed at it, and
    counted failures from before the entry took it. "After 3 failed checks" beside its
    row's "1 check" read as this entry's: told as the address's. A 503's words count the
    nights since the address's first 503, before the entry took it: always the address's."""
    if not _nights(details) and (details.get("consecutive_failures") or 0) <= checks:
        return said  # every failure counted was of its own checks
    for what in ("broken", "missing"):
        plain = _confirmed(what, details)
        if said.startswith(plain):
            return _confirmed(what, details, since) + said[len(plain) :]
    return said


def _nights(details: Mapping[str, Any]) -> int | None:
    """The nights a `state_changed` to broken counts, of a site answering 503 "unavailable"
    night after night (more than one); None where it counts failed checks."""
    nights = details.get("unavailable_nights")
    return nights if isinstance(nights, int) and nights > 1 else None


def _started_failing(
    row: Row, since: datetime | None, at: datetime, address_since: When | None = None
) -> str:
    """ "Failed its last check", unless the site has said it is unavailable (503) at every
    check since `since` (it counts as failing only once that has lasted `unavailable_days`,
    `catalog.health`): after eight nights of 503, "its last check" hid a week.
    `address_since`: of an entry that took its address after it began to fail, whose
    nights are the address's, told so (as `_of_its_address`)."""
    unavailable = row.outcome == Outcome.RATE_LIMITED.value and row.http_status == 503
    if not unavailable or since is None:
        return STARTED_FAILING
    nights = unavailable_nights(since, at)
    if nights < 2:
        return STARTED_FAILING
    if address_since is not None:
        return (
            f"Its address unavailable (503) at every check for {nights} nights (failing "
            f"since {address_since.date}); not confirmed yet."
        )
    return f"Unavailable (503) at every check for {nights} nights; not confirmed yet."


def unavailable_nights(first: datetime, last: datetime) -> int:
    """How many nightly checks from the one at `first` to the one at `last`, both counted
    (as `catalog.health` counts `unavailable_nights`: a check a few minutes earlier in its
    run still counts its night, `NIGHT_SLACK`)."""
    return (as_utc(last) - as_utc(first) + NIGHT_SLACK) // timedelta(days=1) + 1


def snooze_summary(details: Mapping[str, Any]) -> str:
    """One sentence for a `snooze_ended` event: until when and why. Not "back in the
    queue": its link may have recovered meanwhile, and the queue says where it stands."""
    until = str(details.get("until") or "")[:10]
    reason = details.get("reason")
    why = f" ({reason})" if reason else ""
    return f"Its snooze until {until}{why} has ended." if until else f"Its snooze{why} has ended."


def flapping_summary(details: Mapping[str, Any], *, started: bool, missing: bool = False) -> str:
    """One sentence for a `flapping_started` or `flapping_stopped` event, by the link's
    state (`details["state"]`: at the stop, or since). A link that stops flapping because
    it now fails every night has not steadied: it is failing, and its state (confirmed or
    not) says so. One that stops on a failure anew or a recovery is told under that news
    instead (`_after_stops`). `missing`: a soft 404, whose confirmed break the report files
    under "Page missing (soft 404)", not "Confirmed broken"."""
    flips = details.get("flips")
    switches = (
        ("1 switch" if flips == 1 else f"{flips} switches") if isinstance(flips, int) else None
    )
    if started:
        lately = f" ({switches} lately)" if switches else ""
        return (
            f"Keeps switching between working and failing{lately}; listed under Check by "
            "hand until it steadies."
        )
    state = details.get("state")
    if state == "broken":
        confirmed = "confirmed missing (soft 404)" if missing else "confirmed broken"
        return f"No longer switching: it has failed check after check, {confirmed}."
    if state == "suspect":
        # Failing for two checks or more (a failure anew is folded into that news), the
        # first of which may have ended two weeks of working: not "every check lately".
        if missing:  # it will be confirmed missing, never broken
            return "No longer switching: its page was missing (soft 404) at its last checks."
        return "No longer switching: it has failed its last checks, not confirmed broken yet."
    if state == "check_by_hand":
        return "No longer switching; its last check needs a person (see Check by hand)."
    if state == "recovered":
        # Its last check ended a failure: working again, not steadily yet.
        return f"{WORKS_AGAIN} {NO_LONGER_FLAPPING}"
    return "Works steadily again; no longer listed as flapping."


def put_back_summary(details: Mapping[str, Any]) -> str:
    """What the news says of an entry put back in the catalog: when it was removed and,
    put back with another address (`catalog.sync`), what became of the old page's ignore,
    snooze and review, which sync drops for another page (the curator may have to set
    them again), or keeps when the entry took back the address of its own replacement."""
    removed = removed_on(details)
    said = "Put back in the catalog" + (f" (removed on {removed})" if removed else "")
    if not details.get("old_url"):
        return f"{said}."
    if details.get("taken_back_from"):
        return f"{said} in place of {details['taken_back_from']}: its decisions are kept."
    dropped = set_asides_dropped(details.get("dropped") or ())
    return f"{said} with another address" + (f": {dropped}." if dropped else ".")


def readded(event: EventRow) -> bool:
    """An `added` event of an entry put back after its removal (same id), not a new one."""
    return event.kind == "added" and bool(event.details.get("readded"))


def removed_on(details: Mapping[str, Any]) -> str | None:
    """The date a put-back entry had been removed on, when its event says (`catalog.sync`
    records it since entries put back say so)."""
    removed = details.get("removed_at")
    return str(removed)[:10] if removed else None


def label_of(value: object) -> str | None:
    try:
        return Outcome(str(value)).label if value else None
    except ValueError:
        return str(value)


def text_of(value: object) -> str | None:
    return None if value is None else str(value)


def url_of(value: object) -> str | None:
    """An entry's URL as the report shows it: its password, if it has one, hidden."""
    return None if value is None else without_password(str(value))


def size_of(value: object) -> str | None:
    return humanize.naturalsize(value, binary=True) if isinstance(value, int) else None


def arrow(old: object, new: object) -> str | None:
    """A value's change as the news says it after its name: “old” → “new”, or "set:
    “new”" and "removed (was “old”)" when one side is missing: "title “—” → “Report 34”"
    quoted a placeholder as if the page had been titled with a dash."""
    if (old is None and new is None) or old == new:
        return None
    if isinstance(old, int):
        return f"{old} → {new}"
    if not old:
        return f"set: “{new}”"
    if not new:
        return f"removed (was “{old}”)"
    return f"“{old}” → “{new}”"
