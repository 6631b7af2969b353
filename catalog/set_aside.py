"""When an ignore or a snooze lapses: the kind of problem it was decided about changed.

Stage: curate and the end of a run (`store.lapse_set_asides`). An ignore or a snooze is a
decision about the problem the curator saw ("works in a browser; blocks automated
checks"), not about whatever the link does next: a hotline ignored for a bot wall whose
domain then lapsed and showed a parked page stayed under "Snoozed and ignored" while the
fix list and the news said nothing. So the decision stores the link's problem kind at
the time (`problem_kind`, in the decision's details), and a run that finds a settled
problem of another kind ends it (`lapses`), with a note saying what was decided then and
what the link does now (`lapse_note`). The same kind again, a recovery, or a failure not
yet confirmed (one night's timeout at a bot wall) keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.health import CHECK_BY_HAND, confirmed_broken
from catalog.outcomes import Outcome, Severity
from catalog.text import clipped

__all__ = ["THEN", "UNCHECKED", "WORKING", "kind_words", "lapse_note", "lapses", "problem_kind"]

#: The decision details' key for the problem kind when the set-aside was decided.
THEN = "problem"

#: Stored for a set-aside made before its link's first check (kept whatever it does next),
#: and for one made while the link worked (ended by any settled problem).
UNCHECKED = "unchecked"
WORKING = "ok"
BLOCKED = "blocked"
BROKEN = "broken"
SOFT_404 = "soft_404"
DRIFT = "drift"
MOVED = "moved"

#: How a note names each kind (other kinds are outcome values, named by their own words).
_KIND_WORDS = {
    BLOCKED: "blocked or check by hand",
    BROKEN: "confirmed broken",
    SOFT_404: "page missing (soft 404)",
    DRIFT: "page no longer matches its entry",
    MOVED: "moved permanently",
}
#: Kinds of a failure not yet confirmed: no reason to end a decision yet.
_UNSETTLED = "failing"


def problem_kind(outcome: str | None, state: str | None, drift_reason: str | None) -> str | None:
    """The kind of problem a link has, as the report's queue groups tell it apart; None
    for a link that works (or was never checked: nothing is known). A failure not yet
    confirmed is `failing`, which neither keeps nor ends a decision (`lapses`)."""
    if outcome is None or outcome == Outcome.NETWORK_UNAVAILABLE.value:
        return None
    try:
        known: Outcome | None = Outcome(outcome)
    except ValueError:
        known = None
    if known is Outcome.SOFT_404:
        return SOFT_404
    if confirmed_broken(known, state or ""):
        return BROKEN
    if drift_reason:
        return DRIFT
    if known in (Outcome.BLOCKED, Outcome.RATE_LIMITED) or state == CHECK_BY_HAND:
        return BLOCKED
    if known is None or known.severity is Severity.BROKEN:
        return _UNSETTLED  # suspect: one night's timeout is no new problem yet
    if known is Outcome.REDIRECTED_PERMANENT:
        return MOVED
    if known.needs_attention:
        return known.value
    return None


def lapses(then: str | None, now: str | None) -> bool:
    """Whether a decision made while the link's problem was `then` ends now that it is
    `now`: a settled problem of another kind. A link working again keeps it (the decision
    still holds when it fails as before); so does a failure confirmed since."""
    if now is None or now in (_UNSETTLED, then):
        return False
    # A failure ignored before it was confirmed is the same problem once it is.
    return not (then == _UNSETTLED and now == BROKEN)


def kind_words(kind: str | None) -> str:
    """A kind as a note names it."""
    if kind in (None, WORKING):
        return "working"
    if kind == _UNSETTLED:
        return "failing, not yet confirmed"
    return _KIND_WORDS.get(kind, kind.replace("_", " "))


def lapse_note(details: Mapping[str, Any], *, why: bool = True) -> str:
    """From a `set_aside_lapsed` event's details: "ignored on DATE by WHO for 'REASON'
    (then: blocked or check by hand); now: page no longer matches its entry (WHY)";
    `why`: with the link's reason (a report row shows that already)."""
    what = "snoozed" if details.get("decision") == "snooze" else "ignored"
    day = str(details.get("decided_at") or "")[:10] or "?"
    until = str(details.get("until") or "")[:10]
    by = details.get("by") or "?"
    reason = details.get("reason")
    said = f"{what} on {day} by {by}"
    if until:
        said += f" until {until}"
    if reason:
        said += f" for '{reason}'"
    said += f" (then: {kind_words(details.get('then'))}); now: {kind_words(details.get('now'))}"
    now_reason = details.get("now_reason") if why else None
    if now_reason:
        said += f" ({clipped(' '.join(str(now_reason).split()), 120)})"
    return said
