"""A resource's history, newest first: its checks and the events about it."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.health import STATE_LABELS
from catalog.outcomes import Outcome, Severity
from catalog.queries import EventRow, ObservationRow
from catalog.set_aside import lapse_note
from catalog.store import DecisionRecord, ResourceHistory
from catalog.text import isolated, quotations_isolated
from catalog.urls import without_password
from reports.changes import (
    arrow,
    label_of,
    readded,
    removed_on,
    size_of,
    snooze_summary,
    text_of,
    url_of,
)
from reports.context import HistoryItem, when

_EVENT_LABELS = {
    "added": "Added to the catalog",
    "removed": "Removed from the catalog",
    "url_edited": "URL edited",
    "fields_edited": "Entry edited",
    "outcome_changed": "Outcome changed",
    "redirect_changed": "Redirect changed",
    "final_url_changed": "Final address changed",
    "content_changed": "Content changed",
    "title_changed": "Page title changed",
    "content_type_changed": "Content type changed",
    "state_changed": "Health changed",
    "drift_detected": "Page no longer matches the entry",
    "drift_cleared": "Page matches the entry again",
    "contact_gone": "A contact the entry names left the page",
    "contact_back": "A contact the entry names is on the page again",
    "flapping_started": "Started flapping",
    "flapping_stopped": "Stopped flapping",
    "snooze_ended": "Snooze ended",
    "set_aside_lapsed": "Back in the queue: the problem changed",
}
_READDED = "Re-added to the catalog"
#: The label and severity of a try not sent (`Observation.held`), as `linkhealth resource`
#: lists it: no answer of this URL's, no check of it.
_NOT_SENT = ("Not sent", Severity.UNKNOWN.value)
#: The stored outcome of a try that found our own network down: no check of the link.
_OFFLINE = Outcome.NETWORK_UNAVAILABLE.value


_DECISION_LABELS = {
    "accept_redirect": "Redirect accepted",
    "replace_url": "URL replaced",
    "mark_reviewed": "Marked reviewed",
    "snooze": "Snoozed",
    "ignore": "Ignored",
    "unignore": "No longer ignored",
}


def history_items(
    observations: Sequence[ObservationRow],
    events: Sequence[EventRow],
    now: datetime,
    *,
    link_id: int | None = None,
    decisions: Sequence[DecisionRecord] = (),
) -> tuple[HistoryItem, ...]:
    """The page's rows, newest first. Given the entry's current `link_id`, a check or link
    event of another link (a URL it had before an edit) says "then at" that URL, as
    `linkhealth resource` does; `decisions`: the curators' (by whom, why)."""
    items: list[tuple[datetime, int, HistoryItem]] = []
    for obs in observations:
        # A try not sent (its host had said it was away) is stored with the host's answer
        # to other URLs: read "Rate limited", 503, it was a check this URL failed, beside
        # "Working since ..., 2 checks" that leaves it out, as `linkhealth resource` does.
        label, severity = _NOT_SENT if obs.held else _check_label(obs.outcome_value)
        detail = _reason(obs.reason)
        if link_id is not None and obs.link_id != link_id:
            detail = _then_at(detail, obs.url)
        items.append(
            (
                obs.checked_at,
                0,
                HistoryItem(
                    at=when(obs.checked_at, now),
                    kind="check",
                    label=label,
                    severity=severity,
                    detail=detail,
                    http_status=None if obs.held else obs.http_status,
                    elapsed_ms=None if obs.held else obs.elapsed_ms,
                    held=obs.held,
                    offline=not obs.held and obs.outcome_value == _OFFLINE,
                ),
            )
        )
    removals = sorted(e.at for e in events if e.kind == "removed")
    for event in events:
        label = _EVENT_LABELS.get(event.kind, event.kind.replace("_", " "))
        detail = _event_detail(event)
        put_back = _put_back(event, removals)
        if put_back is not None:
            label = _READDED
            removed = put_back.removed_on
            detail = "; ".join(p for p in (detail, removed and f"removed on {removed}") if p)
        if (
            link_id is not None
            and event.resource_pk is None
            and event.link_id not in (None, link_id)
            and event.link_url
        ):
            detail = _then_at(detail, event.link_url)
        items.append(
            (
                event.at,
                2,
                HistoryItem(
                    at=when(event.at, now),
                    kind=event.kind,
                    label=label,
                    severity="event",
                    detail=detail or None,
                ),
            )
        )
    for decision in decisions:
        by = f"by {isolated(decision.by)}"
        items.append(
            (
                # Below the edit it made, at the same moment (newest first).
                decision.at,
                1,
                HistoryItem(
                    at=when(decision.at, now),
                    kind="decision",
                    label=_DECISION_LABELS.get(decision.kind, decision.kind.replace("_", " ")),
                    severity="event",
                    detail=f"{by}: {isolated(decision.reason)}" if decision.reason else by,
                ),
            )
        )
    items.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return tuple(item for _, _, item in items)


@dataclass(frozen=True)
class Readdition:
    """An entry put back in the catalog after its removal (same id)."""

    #: Its `added` event.
    event_id: int
    at: datetime
    #: The date it had been removed on ("2026-03-02"), when known.
    removed_on: str | None


def readditions(events: Iterable[EventRow]) -> list[Readdition]:
    """The entry's re-additions among its `events` (`catalog.queries.entry_events`), oldest
    first: the `added` events its report page labels "Re-added to the catalog"."""
    events = tuple(events)
    removals = sorted(e.at for e in events if e.kind == "removed")
    found = [r for r in (_put_back(e, removals) for e in events) if r is not None]
    return sorted(found, key=lambda r: (r.at, r.event_id))


def readdition(events: Iterable[EventRow]) -> Readdition | None:
    """The entry's latest re-addition (`readditions`); None for an entry never put back."""
    found = readditions(events)
    return found[-1] if found else None


def _put_back(event: EventRow, removals: Sequence[datetime]) -> Readdition | None:
    """`event` as a re-addition, or None when it is none: an `added` event marked
    `readded` by `catalog.sync`, or (events recorded before sync marked them) one that
    follows a removal of the same entry."""
    if event.kind != "added":
        return None
    before = _removal_before(event, removals)
    if not readded(event) and before is None:
        return None
    return Readdition(event.id, event.at, removed_on(event.details) or before)


def _removal_before(event: EventRow, removals: Sequence[datetime]) -> str | None:
    """The date of the entry's last removal before `event`, among the events shown."""
    earlier = [at for at in removals if at <= event.at]
    return earlier[-1].date().isoformat() if earlier else None


@functools.cache
def _check_label(value: str) -> tuple[str, str]:
    """Label and severity of a stored outcome value: looked up once per value, as the
    resource pages of a big catalog show millions of checks (enum lookups are slow)."""
    try:
        outcome = Outcome(value)
    except ValueError:
        return value, Severity.UNKNOWN.value
    return outcome.label, outcome.severity.value


def _reason_isolated(details: Mapping[str, Any]) -> Mapping[str, Any]:
    """A decision's details with its reason (the curator's words) isolated."""
    reason = details.get("reason")
    return {**details, "reason": isolated(str(reason))} if reason else details


def _event_detail(event: EventRow) -> str | None:
    """An event's details, each piece of outside text in it (a title, an address, a
    curator's reason) `isolated`: the resource page shows them as islands (`<bdi>`)."""
    d = event.details
    if event.kind == "drift_detected":
        reason = text_of(d.get("reason"))
        return reason and quotations_isolated(reason)
    if event.kind == "drift_cleared":
        return None  # its `old` is the reason that no longer holds
    if event.kind in ("flapping_started", "flapping_stopped"):
        return _flapping_detail(event.kind == "flapping_started", d.get("flips"))
    if event.kind == "fields_edited":
        return ", ".join(isolated(str(f)) for f in d.get("fields") or ()) or None
    if event.kind == "set_aside_lapsed":
        also = d.get("also")
        return lapse_note(
            {**_reason_isolated(d), "also": _reason_isolated(also)}
            if isinstance(also, Mapping)
            else _reason_isolated(d)
        )
    if event.kind == "snooze_ended":
        reason = d.get("reason")
        return snooze_summary({**d, "reason": isolated(str(reason))} if reason else d)
    if event.kind in ("added", "removed"):
        return _outside(url_of(d.get("url")), ltr=True)
    if event.kind == "outcome_changed":
        old, new = label_of(d.get("old")), label_of(d.get("new"))
        return f"{old or 'first check'} → {new}"
    if event.kind == "state_changed":
        old, new = d.get("old"), d.get("new")
        return f"{STATE_LABELS.get(str(old), old)} → {STATE_LABELS.get(str(new), new)}"
    if event.kind in ("contact_gone", "contact_back"):
        shown = [str(c) for c in d.get("shown") or ()]
        now = f" (the page shows {_outside(', '.join(shown), ltr=True)})" if shown else ""
        return f"{d.get('kind') or 'contact'} {_outside(str(d.get('contact')), ltr=True)}{now}"
    if event.kind == "content_changed":
        title = arrow(_outside(d.get("old_title")), _outside(d.get("new_title")))
        size = arrow(size_of(d.get("old_content_length")), size_of(d.get("new_content_length")))
        return (
            "; ".join(p for p in (title and f"title {title}", size and f"size {size}") if p) or None
        )
    old, new = d.get("old"), d.get("new")
    if old is None and new is None:
        return None
    if event.kind in _ADDRESS_KINDS:
        old, new = url_of(old), url_of(new)
    # Addresses, or the site's words (a page title, a content type).
    ltr = event.kind in _ADDRESS_KINDS
    return f"{_outside(old, ltr=ltr) or '—'} → {_outside(new, ltr=ltr) or '—'}"


def _then_at(detail: str | None, url: str) -> str:
    """`detail` of a check or event of a URL the entry had before its URL was changed."""
    then = f"then at {_outside(without_password(url), ltr=True)}"
    return f"{detail} ({then})" if detail else then


def _reason(reason: str | None) -> str | None:
    """A check's or a drift's reason as the page shows it: its password hidden, the page's
    text it quotes `isolated`."""
    return quotations_isolated(without_password(reason)) if reason else reason


def _outside(value: object, *, ltr: bool = False) -> str | None:
    """`value` as outside text in a detail (`isolated`; `ltr`: an address)."""
    return None if value is None else isolated(str(value), ltr=ltr)


#: Events whose `old` and `new` are addresses, shown without a password (`url_of`) and
#: read left to right.
_ADDRESS_KINDS = frozenset({"url_edited", "final_url_changed", "redirect_changed"})


def _flapping_detail(started: bool, flips: object) -> str | None:
    """The switches its flag was raised or dropped at. A stop says only that, in the
    report's words: the state its check left the link in is the `state_changed` beside it,
    and a later check (a same-day recheck) may have changed it, so "works steadily" here
    could contradict both."""
    dropped = "no longer listed as flapping"
    if not isinstance(flips, int):
        return None if started else dropped
    switches = {0: "no switch", 1: "1 switch"}.get(flips, f"{flips} switches")
    lately = f"{switches} between working and failing lately"
    return lately if started else f"{lately}; {dropped}"


def url_taken_at(events: Iterable[EventRow]) -> datetime | None:
    """When the entry took its current URL by an edit (`url_edited`, or put back with
    another URL), among its `events`; None when it has had it all along."""
    taken = [
        e.at
        for e in events
        if e.resource_pk is not None
        and (
            (e.kind == "url_edited" and "old" in e.details)
            or (e.kind == "added" and "old_url" in e.details)
        )
    ]
    return max(taken, default=None)


def entry_rows(
    history: ResourceHistory,
) -> tuple[tuple[ObservationRow, ...], tuple[EventRow, ...]]:
    """`history` (`catalog.store.resource_history`, what `linkhealth resource` reads) as
    the checks and events a page shows: the same history in both."""
    observations = tuple(
        ObservationRow(
            o.id,
            o.link_id,
            o.run_id,
            o.url,
            o.checked_at,
            o.outcome.value,
            o.reason,
            o.http_status,
            o.final_url,
            o.elapsed_ms,
            o.content_type,
            o.content_length,
            o.title,
            o.held,
        )
        for o in history.observations
    )
    events = tuple(
        EventRow(
            e.id,
            e.at,
            e.kind,
            e.run_id,
            e.resource_id,
            e.link_id,
            e.details,
            resource_id=e.rid,
            collection_key=e.collection,
            link_url=e.url,
        )
        for e in history.events
    )
    return observations, events
