"""When an ignore or a snooze lapses: the link settled into another kind of problem.

Stage: curate and the end of a run (`store.lapse_set_asides`). An ignore or a snooze is a
decision about the problem the curator saw ("works in a browser; blocks automated
checks"), not about whatever the link does next: a hotline ignored for a bot wall whose
domain then lapsed and showed a parked page stayed under "Snoozed and ignored" while the
fix list and the news said nothing. So the decision stores the link's problem kind at
the time (`problem_kind`, in the decision's details), and a run that finds a problem of
another kind (`lapses`), settled (`settled`), ends it, with a note saying what was
decided and what the link became that night (`lapse_note`).

A checker that cries wolf is worse than none, so one night says little: a failure counts
once `catalog.health` confirms it (a soft 404 too), a block, a drift or a move once two
checks a night apart saw it, and a 429 (come back later) never. A bot wall blocks on some
nights and times out on others: a timeout, confirmed or not, is the same problem as a
block (`_FAMILIES`). A confirmed break that turns us away (a bare 401 or 403: the site
answers, not to us) is that problem too, and another than a page that is gone (404, 410,
a soft 404): a 403 ignored as "works in a browser" that starts answering 404 is back in
the queue. As the link was confirmed broken already, the new status must be seen two
checks a night apart. The same kind again or the link working keeps the decision too.
A curator often decides on a failure the night it is seen, before it is confirmed: the
decision keeps its family (`_CONFIRMED_AS`), so the 403 ignored that night is ended by a
404 confirmed since, though not by the 403 confirmed. A break that follows failures of
another kind (a site rebuild snoozed on a soft 404 confirmed, then a 500) must be seen a
night too: the link's confirmation was the other failures', and says nothing of it
(`settled`'s `whole_failure`). Such a break's nights are those of every check of another
kind than the decision's since (`in_streak`): a dead site that times out one night and is
not found in the DNS the next is down two nights, and a decision made on a working link is
ended by the failure confirmed, the timeouts it began with included.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from catalog.health import BROKEN as BROKEN_STATE
from catalog.health import CHECK_BY_HAND, confirmed_broken
from catalog.outcomes import Outcome, Severity
from catalog.settings import lasted, night_span
from catalog.text import clipped

__all__ = [
    "BREAKS",
    "ONE_NIGHT",
    "THEN",
    "UNCHECKED",
    "WORKING",
    "in_streak",
    "kind_words",
    "lapse_note",
    "lapses",
    "may_settle",
    "problem_kind",
    "settled",
    "site_down",
    "streak_key",
]

#: The decision details' key for the problem kind when the set-aside was decided.
THEN = "problem"

#: Stored for a set-aside made before its link's first check (kept whatever it does next),
#: and for one made while the link worked (ended by any settled problem).
UNCHECKED = "unchecked"
WORKING = "ok"
BLOCKED = "blocked"
#: Confirmed broken, none of the kinds below (a 5xx, a lapsed domain, a redirect loop...);
#: before they were told apart, a 403, 404 or 410 too (`store.lapse_set_asides` reads
#: such a decision by its check then).
BROKEN = "broken"
#: Confirmed broken by a site that answers, but not to us (401, 403, 451, no wall's page).
REFUSED = "refused"
#: Confirmed broken by a page that is gone (404, 410, or a redirect to one).
GONE = "gone"
#: Confirmed broken by timeouts: a dead site, or a bot wall that stopped answering.
TIMED_OUT = "timed_out"
SOFT_404 = "soft_404"
DRIFT = "drift"
MOVED = "moved"
#: A failure not yet confirmed: never ends a decision. Stored alone by earlier versions
#: for any failure, which no confirmed break ends (`lapses`).
_UNSETTLED = "failing"
#: A bare 401/403 or a 404/410 not yet confirmed: a decision made on one is about its
#: family, as if made once it was confirmed (`_CONFIRMED_AS`).
FAILING_REFUSED = "failing_refused"
FAILING_GONE = "failing_gone"
#: The unconfirmed kinds and the confirmed kind each becomes (None: any break).
_CONFIRMED_AS: dict[str, str | None] = {
    _UNSETTLED: None,
    FAILING_REFUSED: REFUSED,
    FAILING_GONE: GONE,
}

#: The problems `catalog.health` confirms (a soft 404 is filed apart, but confirmed the
#: same way): settled at the link's confirmation when they are its whole failure, else
#: once seen for a night (`settled`), by checks of any error (`in_streak`).
BREAKS = frozenset({BROKEN, TIMED_OUT, SOFT_404})

#: How a note names each kind (other kinds are outcome values, named by their own words).
_KIND_WORDS = {
    BLOCKED: "blocked or check by hand",
    BROKEN: "confirmed broken",
    FAILING_REFUSED: "failing, not yet confirmed (access refused)",
    FAILING_GONE: "failing, not yet confirmed (page not found or gone)",
    REFUSED: "confirmed broken (access refused)",
    GONE: "confirmed broken (page not found or gone)",
    TIMED_OUT: "confirmed broken (timing out)",
    SOFT_404: "page missing (soft 404)",
    DRIFT: "page no longer matches its entry",
    MOVED: "moved permanently",
}
#: One problem under several kinds. A site that does not answer us: a bot wall answers
#: 403 one night (its page, or a bare 403) and lets the check time out the next (confirmed
#: broken after a few such nights, the blocks between them not breaking the count). A
#: confirmed break is a break whatever its error, except that a page turning us away and
#: a page gone are two problems. A page is gone whether the site says 404 or a soft 404.
_FAMILIES = (
    frozenset({BLOCKED, REFUSED, _UNSETTLED, TIMED_OUT}),
    frozenset({BROKEN, TIMED_OUT, GONE}),
    frozenset({BROKEN, REFUSED}),
    frozenset({GONE, SOFT_404}),
)
#: Statuses of a site that answers, but not to us: a login (401, 402, 407, most of which
#: `classify` files as blocked already), a bare 403, a region refused (451).
_REFUSING = frozenset({401, 402, 403, 407, 451})
#: Outcomes whose status says what the problem is: a redirect ends in a 403 or a 404.
_BY_STATUS = frozenset({Outcome.HTTP_ERROR, Outcome.REDIRECT_TO_ERROR})
_GONE = frozenset({Outcome.NOT_FOUND, Outcome.GONE})

#: The unconfirmed kind of a failure by its confirmed one (a plain break: `_UNSETTLED`).
_UNCONFIRMED = {REFUSED: FAILING_REFUSED, GONE: FAILING_GONE}

#: How long checks must keep seeing a block, a drift or a move before it is settled: two
#: nightly checks (a little less than a day apart at times: `catalog.settings.night_span`);
#: a curator's rechecks the same day settle nothing.
ONE_NIGHT = night_span(1)


def problem_kind(
    outcome: str | None,
    state: str | None,
    drift_reason: str | None,
    http_status: int | None = None,
    *,
    down: bool = False,
) -> str | None:
    """The kind of problem a link has, as a curator tells them apart; None for a link that
    works (or was never checked: nothing is known). A failure not yet confirmed is
    `failing` (`failing_refused`, `failing_gone`: its family), which never ends a decision
    (`lapses`). `http_status`: the check's final status, which tells a page turning us
    away from one gone (`REFUSED`, `GONE`). `down`: the site has answered 503 "come back
    later" at every check for `unavailable_days` (`site_down`): `catalog.health` counts
    its 503 as a failure then, and so does this (a break, once confirmed); before, a 503 is
    a wall's night, which ends no decision by itself (`settled`)."""
    if outcome is None or outcome == Outcome.NETWORK_UNAVAILABLE.value:
        return None
    known = Outcome.known(outcome)
    if known is Outcome.SOFT_404:
        return SOFT_404
    if down and known is Outcome.RATE_LIMITED and http_status == 503:
        return BROKEN if state == BROKEN_STATE else _UNSETTLED
    if known in (Outcome.BLOCKED, Outcome.RATE_LIMITED) and state == BROKEN_STATE:
        # A confirmed break stays confirmed through a night of a wall (`catalog.health`):
        # that night's problem is the wall, as on a link that never failed.
        return BLOCKED
    if confirmed_broken(known, state or ""):
        if known is Outcome.TIMEOUT:
            return TIMED_OUT
        return _broken_kind(known, http_status)
    if drift_reason:
        return DRIFT
    if known in (Outcome.BLOCKED, Outcome.RATE_LIMITED) or state == CHECK_BY_HAND:
        return BLOCKED
    if known is None or known.severity is Severity.BROKEN:
        # Suspect: one night's timeout is no new problem yet, but a decision made on a
        # 403 that night is about a refusal (`_CONFIRMED_AS`).
        return _UNCONFIRMED.get(_broken_kind(known, http_status), _UNSETTLED)
    if known is Outcome.REDIRECTED_PERMANENT:
        return MOVED
    if known.needs_attention:
        return known.value
    return None


def site_down(
    outcome: str | None,
    http_status: int | None,
    since: datetime | None,
    at: datetime | None,
    unavailable_days: float,
) -> bool:
    """Whether a link's latest check (at `at`) found its site answering 503 "come back
    later" at every check since `since` (the link's `last_change_at`) for `unavailable_days`:
    a site in maintenance for a night or two is not down, one answering so for over a week
    is, and `catalog.health` counts its 503s as failures from then on (as the report
    does, `reports.build`)."""
    if outcome != Outcome.RATE_LIMITED.value or http_status != 503:
        return False
    return since is not None and at is not None and lasted(at - since, unavailable_days)


def _broken_kind(known: Outcome | None, http_status: int | None) -> str:
    """A confirmed failure's kind: the page gone, a site refusing us, or any other break."""
    if known in _GONE or (known in _BY_STATUS and http_status in (404, 410)):
        return GONE
    if known in _BY_STATUS and http_status in _REFUSING:
        return REFUSED
    return BROKEN


def streak_key(outcome: str | None, http_status: int | None = None) -> str | None:
    """What consecutive checks must share to have seen the same block, refusal, gone page
    or move (`settled`, `in_streak`): a bot wall's 403, a bare 403 and a private address
    alike; a 404, a 410 and a soft 404 alike; a 429 shares nothing (it never settles, and
    ends any streak). A 503 "come back later" is the site down
    (`catalog.outcomes.UNAVAILABLE_LABEL`): a break's streak goes on through it."""
    known = Outcome.known(outcome)
    if known is Outcome.RATE_LIMITED:
        return BROKEN if http_status == 503 else None
    if known is not None and known.severity is Severity.LOOK:
        return BLOCKED
    if known is Outcome.SOFT_404:
        return GONE
    kind = _broken_kind(known, http_status)
    if kind == REFUSED:
        return BLOCKED
    return GONE if kind == GONE else outcome


def in_streak(kind: str, key: str, outcome: str | None, http_status: int | None) -> bool:
    """Whether a check (`outcome`, `http_status`) of another kind of problem than the
    decision's continues the streak that settles the link's problem `kind` now (`settled`'s
    `seen_for`), its latest check's `streak_key` being `key`. A break's (`BREAKS`): any
    such check but a 429, whatever its own error: a dead site times out one night and is
    not found in the DNS, or refuses the connection, the next, and a decision made on a
    working link sees every failure since as one. A block's, a refusal's, a page gone's, a
    move's: a check sharing `key` (a night of a 500 before a bot wall is no night of the
    wall)."""
    check_key = streak_key(outcome, http_status)
    if kind in BREAKS:
        return check_key is not None
    return check_key == key


def settled(
    kind: str | None,
    outcome: str | None,
    state: str | None,
    seen_for: timedelta,
    *,
    whole_failure: bool = True,
) -> bool:
    """Whether the link's problem `kind` now is settled enough to end a decision: a failure
    as `catalog.health` confirms it (a soft 404 is filed apart, but confirmed the same
    way); anything else once consecutive checks have seen it for `ONE_NIGHT` (`seen_for`:
    from the first of them to the last: `streak_key`), a page refusing us or gone too (the
    link may have been confirmed broken by other failures: a 404 one night after 403s is
    no new problem yet). A 429 asks us to come back later: never; nor does a 503 "come
    back later" until the site has answered it for `unavailable_days` (`site_down`: a
    break then, `problem_kind`).

    `whole_failure`: whether the checks that see the problem now (`in_streak`) are the
    link's whole failure (none of the decision's kind came before them in it). When some
    did (a soft 404 confirmed broken, then a 500), the link's confirmation says nothing of
    this one, which must be seen for `ONE_NIGHT` too: a night of a 500, a DNS error or a
    timeout on a site being rebuilt is no new problem yet, a timeout and a DNS error the
    next night are."""
    if kind is None or kind in _CONFIRMED_AS:
        return False
    if outcome == Outcome.RATE_LIMITED.value and kind not in BREAKS:
        return False
    if kind in BREAKS:
        confirmed = kind != SOFT_404 or state == BROKEN_STATE
        return confirmed and (whole_failure or seen_for >= ONE_NIGHT)
    return seen_for >= ONE_NIGHT


def may_settle(kind: str | None, outcome: str | None, state: str | None) -> bool:
    """Whether the link's problem `kind` now could be `settled` at all, however long seen
    and whatever came before it: not when there is none, nor for a failure or a soft 404
    not yet confirmed, a 429, or a 503 before the site is down. Told without reading the
    link's checks (`store.lapse_set_asides` reads them only when it could)."""
    return settled(kind, outcome, state, timedelta.max, whole_failure=True)


def lapses(then: str | None, now: str | None) -> bool:
    """Whether a decision made while the link's problem was `then` (None: it worked) ends
    now that it is `now` (settled: `settled`): a problem of another kind. A link working
    again keeps it (the decision still holds when it fails as before); so does a failure
    confirmed since it was decided, and another kind of the same problem (`_FAMILIES`).
    A decision on a refusal or a gone page not yet confirmed is read as on one confirmed:
    another family confirmed since ends it."""
    if now is None or now in _CONFIRMED_AS or now == then:
        return False
    if then is not None:
        then = _CONFIRMED_AS.get(then) or then
    # A failure ignored before it was confirmed is the same problem once it is.
    if then == _UNSETTLED and now in (BROKEN, TIMED_OUT, REFUSED, GONE):
        return False
    return not any(then in family and now in family for family in _FAMILIES)


def kind_words(kind: str | None) -> str:
    """A kind as a note names it."""
    if kind in (None, WORKING):
        return "working"
    if kind == _UNSETTLED:
        return "failing, not yet confirmed"
    return _KIND_WORDS.get(kind, kind.replace("_", " "))


def _decided(details: Mapping[str, Any]) -> str:
    """One decision that lapsed: "ignored on DATE by WHO for 'REASON' (then: KIND)"."""
    what = "snoozed" if details.get("decision") == "snooze" else "ignored"
    day = str(details.get("decided_at") or "")[:10] or "?"
    until = str(details.get("until") or "")[:10]
    said = f"{what} on {day} by {details.get('by') or '?'}"
    if until:
        said += f" until {until}"
    reason = details.get("reason")
    if reason:
        said += f" for '{reason}'"
    return f"{said} (then: {kind_words(details.get('then'))})"


def lapse_note(details: Mapping[str, Any], *, why: bool = True) -> str:
    """From a `set_aside_lapsed` event's details, in the past tense (a row keeps it while
    the link does other things): "ignored on DATE by WHO for 'REASON' (then: blocked or
    check by hand); back in the queue on DATE when it became: page no longer matches its
    entry (WHY)"; an entry both ignored and snoozed names both. `why`: with the link's
    reason that night (a report row shows the link's reason now instead)."""
    said = _decided(details)
    also = details.get("also")
    if isinstance(also, Mapping):
        said += f" and {_decided(also)}"
    day = str(details.get("lapsed_at") or "")[:10]
    said += f"; back in the queue{f' on {day}' if day else ''}"
    said += f" when it became: {kind_words(details.get('now'))}"
    now_reason = details.get("now_reason") if why else None
    if now_reason:
        said += f" ({clipped(' '.join(str(now_reason).split()), 120)})"
    return said
