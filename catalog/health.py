"""Health stage: from a link's previous state and one new observation, its new state.

Input: a `LinkState` (what the links row holds), an `Observation`, `HealthSettings`
and the time. Output: the new `LinkState` and the `Change`s worth an event. Pure
functions, no SQL: `catalog.store` loads the state, calls `apply_observation` and
writes the results in the same transaction.

States:

    unchecked      never observed
    ok             the last verdict was OK or a permanent redirect
    recovered      OK again after failing; becomes `ok` (quietly) on the next OK
    suspect        failing, but not yet for long enough to be sure
    broken         failing `confirm_failures` times in a row over at least `confirm_days`;
                   an invalid URL at once (the catalog's mistake, not the site's)
    check_by_hand  blocked, rate limited or private: a person must look (a link confirmed
                   broken stays broken through such a night; a suspect one stays suspect
                   until such nights alone have lasted `confirm_days`)

Every threshold in days is read in nights (`catalog.settings.lasted`): a span up to
`NIGHT_SLACK` short of it counts, since a link is checked a few minutes earlier or later in
each night's run.

Flapping is a flag beside the state, not a state: a link that flips between working
(OK or a permanent redirect) and failing `flap_changes` times within
`flap_window_days` gets `flapping=True` and a `flapping_started` event; once the
flips in the window fall below half that (hysteresis, so that a link flipping about
as often as the threshold is not flagged and unflagged every few days),
`flapping_stopped`. The state keeps following
the confirmation rules meanwhile, so a flapping link is usually `suspect` or
`recovered`, never silently `ok`. Outcomes that need a person (blocked, rate
limited) and `network_unavailable` are neither working nor failing: no flip. But for a 503
"unavailable, come back later" on a site answering it on `flap_changes` nights of the
window (`unavailable_nights`, `_steady_unavailable`): visitors find the site down as often
as a flapping link's, so it is failing for flips (`_working_after`), and a wall after it
leaves the link failing, past the window too: a site in maintenance every other night, or
six nights of seven, is flagged, while a maintenance window, two such nights in a
fortnight or weekly maintenance make no flip.

Drift (the page no longer holds the resource, e.g. a lapsed domain bought by a
casino) is judged by `judge_page` against every entry using the link, and applied
by `apply_drift` per entry: `drift_detected` when it starts for an entry, `drift_cleared`
when a later page no longer drifts from it, and either has enough text to judge by its
words or still matches the entry (by its title, mostly). The flag is the link's, with the
entries it concerns (`drift_entries`): a page holding two of three entries sharing its
address flags the third alone; a takeover (markers) flags them all. Pages without text
(HEAD checks, 304s, PDFs) leave the drift flag as it was, but for two: a link that served
a document (a report's PDF) and now answers with a web page that does not name the entry
(the site's error or home page) drifted, and that flag clears when the document is back;
and a link whose redirects end at a domain marketplace drifted, whether HEAD or GET saw it.

Events: outcome_changed, state_changed, redirect_changed (the first redirect now
points elsewhere, or appeared or vanished), final_url_changed (where the link ends
up changed), content_changed (fingerprint; old/new size and title),
title_changed, content_type_changed, flapping_started, flapping_stopped,
drift_detected, drift_cleared.

Decisions worth knowing:

- Redirect targets and final URLs are compared without what a server makes up at every
  request (`redirects.address_key`: signatures, session ids, campaign tags), and a
  redirect back to the link's own address (a cookie check) is no redirect. A temporary
  redirect (302, 303, 307) of a link that works before and after is no news when it comes
  or goes on the link's own site (an A/B test on alternate nights, a consent wall for a few
  nights that sends visitors back) or when only its hops change (a click tracker): the
  catalog's address is right either way, and where it leads is judged by the check (soft
  404, drift, failure). One that now ends at another page than before (a short link pointed
  elsewhere), or comes or goes taking visitors to another site, is news.
- A title is compared without the dates and times the fingerprint ignores: "Daily
  Briefing - 5 Dec 2026" becoming "- 12 Dec 2026" is no `title_changed` (the state keeps
  the new title all the same). But a title whose only change is the years it names is
  a new edition ("Report - June 2023" becoming "- June 2024"), which dates staleness's
  `new_edition`.

- `Severity.LOOK` outcomes never count as failures and leave the failure count and
  first-failure time alone, so a link blocked once between two failures stays on
  course to `broken` (and `suspect` meanwhile). One exception: a 503 "come back later"
  (maintenance) at every check for `unavailable_days` counts as a failure from then on,
  its failure dated from the first such answer (`_unavailable_since`); more than a night
  without a check of it (our machine off) starts the stretch over (`_unwatched`). Its
  confirmation then needs `confirm_failures` counted failures but no more nights, so a
  curator's rechecks on the day can confirm it: the nights of 503 already spread the evidence over
  far more than `confirm_days` (what the wait is for: a blip is not a break), and making
  them wait for more nights would keep a site down for a week and more "not yet confirmed".
  Its `state_changed` to broken says for how many nights (`unavailable_nights`): "after 3
  failed checks" understated a site down for ten.
- A request held because its host had said it is away (`Observation.held`: a 429, or a
  503 from two of its paths, asking for longer than a check waits) says nothing about the
  link either: it is stored with the host's answer, but the link keeps its state, counts
  and nights; only its reason says the last check was not sent, and `held_tries` how many
  tries since that check were not (a check sets it back to 0).
- `network_unavailable` says nothing about the link. On a link never checked it sets
  `last_checked_at` (shown as "last tried": the planner and the report need to know a
  try was made); on a link with an outcome nothing moves, so "last checked" stays the
  time of the last check that reached the network (an offline night would otherwise
  show as a fresh check in the report, `export` and `resource`).
- A first failure stamped later than a new failing check (the clock was fast, then
  set right) restarts the wait at the new check: it lengthens the wait, never shortens it.
  Flips stamped later than a new check are dropped the same way.
- The first observation of a link writes `outcome_changed` (old None) only when it
  is not OK, so a new catalog of working links does not flood the event log.
- `state_changed` is written for every change of state except the quiet ones:
  `unchecked -> ok` and `recovered -> ok`.
- Content facts (fingerprint, title, content type and length, validators) are only
  taken from successful observations: an error page is not the resource, and the
  last good facts stay the baseline to compare with once the link works again.
  A missing value (HEAD-only check, 304) keeps the old one; a 304 also counts as
  a fresh fingerprint, since the server vouched the content is unchanged. The
  validators (ETag, Last-Modified) are those of the fingerprinted copy: a HEAD-only
  check never replaces them, or the next conditional GET would vouch for a version
  nobody read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from catalog import drift
from catalog.check import contacts
from catalog.check.content import stable_text
from catalog.check.facts import PERMANENT_REDIRECTS
from catalog.check.fetch import SLOW_BODY_BYTES
from catalog.check.redirects import address_key, same_address
from catalog.model import LEGACY_FINGERPRINT, Observation
from catalog.outcomes import Outcome, Severity, shown_label
from catalog.settings import NIGHT_SLACK, HealthSettings, lasted
from catalog.staleness import edition_years
from catalog.text import media_type
from catalog.urls import site_host

UNCHECKED = "unchecked"
OK = "ok"
RECOVERED = "recovered"
SUSPECT = "suspect"
BROKEN = "broken"
CHECK_BY_HAND = "check_by_hand"

#: Every state a link can be in, in report order (worst first).
STATES = (BROKEN, SUSPECT, CHECK_BY_HAND, RECOVERED, OK, UNCHECKED)
#: The states as curators read them, in the report and in `linkhealth resource`.
STATE_LABELS = {
    OK: "OK",
    SUSPECT: "Failing, not yet confirmed",
    BROKEN: "Confirmed broken",
    RECOVERED: "Recovered",
    CHECK_BY_HAND: "Check by hand",
    UNCHECKED: "Not checked yet",
}

_QUIET_STATE_CHANGES = {(UNCHECKED, OK), (RECOVERED, OK)}


#: Failing outcomes the report files under a group of their own, not "Confirmed broken",
#: whatever the link's state: a soft 404 (a page that answers 200 but says "not found")
#: is "Page missing (soft 404)", where the fix is to find where it moved.
FILED_APART = frozenset({Outcome.SOFT_404})
#: Outcomes confirmed broken from their first check, whatever state an earlier version
#: stored (`shown_state`): no later check can change them.
BROKEN_AT_ONCE = frozenset({Outcome.INVALID_URL})


def shown_state(outcome: Outcome | None, state: str) -> str:
    """The link's state as curators are shown it (the report, `linkhealth resource`).

    An invalid address (`htp://x`) is the catalog's own mistake: no later check can change
    it, so there is no confirmation to wait for, and the report files it under "Confirmed
    broken" from its first check. `apply_observation` confirms it at once; a link stored
    suspect with it all the same (by an earlier version, until its next check) would say
    "Failing, not yet confirmed" inside the "Confirmed broken" group (and the CSV and JSON
    `state` would contradict their `group`).
    """
    if outcome in BROKEN_AT_ONCE and state == SUSPECT:
        return BROKEN
    return state


def confirmed_broken(outcome: Outcome | None, state: str) -> bool:
    """Whether the link is in the report's "Confirmed broken" group: the one rule every
    count of confirmed broken resources follows (the report's queue; the run summary and
    its events through `catalog.groups.confirmed_broken`, which says it in SQL).

    The raw state `broken` is not it: a soft 404 has a group of its own (`FILED_APART`),
    and an invalid URL is broken whatever state it was stored with (`BROKEN_AT_ONCE`).
    An outcome this version does not know (None) is no reason to leave a break out.
    """
    if outcome in BROKEN_AT_ONCE:
        return True
    return state == BROKEN and outcome not in FILED_APART


#: What the row of a link filed as flapping says in place of its state: it keeps
#: recovering, so it is never confirmed, and is listed under "Check by hand".
FLAPPING_WORDS = "flapping: keeps switching between working and failing"


def unavailable_words(nights: int) -> str:
    """What a flapping link's 503 nights were: on how many of the last `UNAVAILABLE_WINDOW`
    nights before its last check the site said it was unavailable (`catalog.queries`
    counts them from `LinkState.unavailable_nights`)."""
    return f"unavailable (503, maintenance) on {nights} of the last {UNAVAILABLE_WINDOW} nights"


def flapping_words(unavailable_nights: int = 0) -> str:
    """The words of a link filed as flapping, for `state_line(flapping=)`: its site's
    maintenance nights when those were its flips (`unavailable_nights` of the last
    `UNAVAILABLE_WINDOW`), else `FLAPPING_WORDS`. One rule for the report's row,
    `linkhealth resource` and a recheck's verdict, which said the plain words of a site
    down for maintenance night after night."""
    if unavailable_nights:
        return f"flapping: {unavailable_words(unavailable_nights)}"
    return FLAPPING_WORDS


def state_line(
    outcome: Outcome, state: str, http_status: int | None = None, *, flapping: str | None = None
) -> str:
    """The last check's outcome and, where it adds to it, the link's state, in the
    report's words: "Moved permanently" (the link works: its state, OK, says nothing
    more), "Not found (404), confirmed broken", "OK, recovered", "Unavailable (503)"
    (`shown_label`, given the check's status). `state` as shown (`shown_state`).

    `flapping`: the words of a link the report files as flapping (`FLAPPING_WORDS`, or
    its 503 nights'), which take the place of its state's: "Timed out, failing, not yet
    confirmed" read as a fourth failing link beside a group of two, and the flapping
    link's own group is "Check by hand". A confirmed break keeps its state."""
    shown = shown_label(outcome, http_status)
    if flapping and state != BROKEN:
        return f"{shown}, {flapping}"
    label = STATE_LABELS.get(state, state)
    if state == OK or label == shown:
        return shown
    return f"{shown}, {label[0].lower()}{label[1:]}"


@dataclass(frozen=True)
class EntryDrift:
    """One entry's drift on a page shared by several (`LinkState.drift_entries`): each
    entry is dated and explained by its own drift, not by another's drifted earlier."""

    #: The entry (`Entry.key`: `resources.id` as text).
    key: str
    since: datetime
    reason: str
    score: float | None = None


@dataclass(frozen=True)
class LinkState:
    """The health columns of one links row."""

    state: str = UNCHECKED
    outcome: Outcome | None = None
    reason: str | None = None
    http_status: int | None = None
    final_url: str | None = None
    consecutive_failures: int = 0
    first_failure_at: datetime | None = None
    last_success_at: datetime | None = None
    last_checked_at: datetime | None = None
    #: When the outcome last changed; walls of any kind in a row count as one outcome while
    #: the link is suspect (`_walls_since`).
    last_change_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    fingerprinted_at: datetime | None = None
    title: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    #: Where the first redirect of the last HTTP answer pointed (None: no redirect).
    redirect_url: str | None = None
    #: When the current fingerprint was first seen.
    fingerprint_since: datetime | None = None
    flapping: bool = False
    #: Times of the working<->failing flips within the flap window, oldest first; and the
    #: flip that left the link failing, kept past the window while it has not worked since
    #: (`_flips`: a wall after a 503 "unavailable" stays failing).
    flips: tuple[datetime, ...] = ()
    #: The nights the site answered 503 "unavailable, come back later" within the flap
    #: window (the first such check of each night), oldest first: they count toward
    #: flapping only once they are `flap_changes` (`_unavailable_nights`).
    unavailable_nights: tuple[datetime, ...] = ()
    #: Why the page no longer holds the resource; None when it does (or is unknown).
    drift_reason: str | None = None
    drift_since: datetime | None = None
    drift_score: float | None = None
    #: The entries the page drifted from, each with its own since, reason and score, when
    #: not all of those using the link alike (`apply_drift`); None: every entry, with the
    #: link's columns above, as a takeover concerns them all. With entries, the columns
    #: above are the link's: the earliest since, the worst entry's reason and score.
    drift_entries: tuple[EntryDrift, ...] | None = None
    #: The contacts its entries name that a read of the page showed (one a full read then
    #: missed once marked with when, `_MISSING`), and those of them gone (two full reads in
    #: a row did not show them), with what the queue says of them (`apply_contacts`).
    contacts_seen: tuple[str, ...] = ()
    contacts_gone: tuple[str, ...] = ()
    contact_reason: str | None = None
    #: Its tries since its last check not sent, its host having said it was away
    #: (`Observation.held`): kept here so that no report counts observations for it
    #: (`links.held_tries`). A held try keeps the check's outcome, state and time.
    held_tries: int = 0


@dataclass(frozen=True)
class Change:
    """One event to append: `kind` plus its evidence (`old`, `new`, ...)."""

    kind: str
    details: dict[str, Any] = field(default_factory=dict)
    #: The entry (`Entry.key`) it is news of, when only that one of the link's entries is
    #: concerned (a contact only it names); None: every entry using the link.
    entry: str | None = None


def apply_observation(
    prev: LinkState, obs: Observation, health: HealthSettings, *, now: datetime
) -> tuple[LinkState, list[Change]]:
    """The link's state after `obs`, and the changes it revealed.

    The new state is built once from its fields (a run stores one per URL: four
    `dataclasses.replace` calls of the 24-field state were a visible part of storing).
    """
    outcome = obs.outcome
    checked_at = obs.checked_at
    if outcome is Outcome.NETWORK_UNAVAILABLE:
        if prev.outcome is not None:
            return prev, []
        return replace(prev, last_checked_at=checked_at), []
    if obs.held:
        # Not sent: the host told other URLs it is away (`Observation.held`). Counted as
        # the asked ones' 503 nights, pages never requested became "Confirmed broken"
        # after `unavailable_days`. The link keeps its health; its reason says why the
        # last check sent nothing ("last tried" on a link never checked, as above).
        if prev.outcome is not None:
            return replace(prev, reason=obs.reason, held_tries=_held_tries(prev, obs)), []
        return replace(
            prev, last_checked_at=checked_at, reason=obs.reason, held_tries=prev.held_tries + 1
        ), []

    severity = outcome.severity
    unavailable_since = _unavailable_since(prev, obs, health)
    unavailable_nights = _unavailable_nights(prev, obs, health)
    failing = outcome.is_failure or (
        unavailable_since is not None
        and lasted(checked_at - unavailable_since, health.unavailable_days)
    )
    failures = prev.consecutive_failures
    first_failure = prev.first_failure_at
    last_success = prev.last_success_at
    etag, last_modified = prev.etag, prev.last_modified
    fingerprint, fingerprinted_at = prev.fingerprint, prev.fingerprinted_at
    fingerprint_since, title = prev.fingerprint_since, prev.title
    content_type, content_length = prev.content_type, prev.content_length
    if severity is Severity.OK or severity is Severity.UPDATE:
        was_failing = failures > 0 or prev.state in (SUSPECT, BROKEN)
        state = RECOVERED if was_failing else OK
        failures, first_failure, last_success = 0, None, checked_at
        # Content facts, from successful observations only (see the module's docstring).
        fresh_fingerprint = obs.fingerprint is not None and not obs.not_modified
        vouched = obs.not_modified and fingerprint is not None
        # The same content read further than the baseline was, or fingerprinted by the
        # rule that replaced the baseline's (`_rebased`), keeps its age.
        new_content = fresh_fingerprint and not _rebased(obs, fingerprint)
        if new_content and (obs.fingerprint != fingerprint or fingerprint_since is None):
            fingerprint_since = checked_at
        # Validators belong to the copy we fingerprinted. A HEAD's would make the next
        # fingerprint GET conditional on a version never read: its 304 would carry the old
        # fingerprint and title over a changed page, for good.
        if fresh_fingerprint or (vouched and obs.etag):
            etag = obs.etag
        if fresh_fingerprint or (vouched and obs.last_modified):
            last_modified = obs.last_modified
        if fresh_fingerprint:
            fingerprint = obs.fingerprint
        if fresh_fingerprint or vouched:
            fingerprinted_at = checked_at
        if obs.title is not None and not obs.not_modified:
            title = obs.title
        if obs.content_type is not None:
            content_type = obs.content_type
        if obs.content_length is not None:
            content_length = obs.content_length
    elif failing:
        failures += 1
        # A site "unavailable" for `unavailable_days` has been failing visitors since its
        # first such answer: its break counts from then (the confirmation still needs
        # `confirm_failures` failures counted).
        first = first_failure or unavailable_since or checked_at
        if first > checked_at:
            # Stamped by a clock since set back: waiting for it would keep a dead link
            # suspect for as long as the clock was fast. Restarting the wait here can only
            # lengthen it, never shorten it.
            first = checked_at
        first_failure = first
        # An invalid URL is the catalog's own mistake: checking it again cannot change it.
        confirmed = outcome is Outcome.INVALID_URL or (
            failures >= health.confirm_failures and lasted(now - first, health.confirm_days)
        )
        state = BROKEN if confirmed else SUSPECT
    else:  # Severity.LOOK: a person must look; the failure count is left as it was.
        state = _look_state(prev, checked_at, health)
    last_change = checked_at if outcome != prev.outcome else prev.last_change_at
    if severity is Severity.LOOK and not failing and prev.state == SUSPECT:
        # Walls of another kind go on the stretch of walls (`_walls_since`).
        last_change = _walls_since(prev, checked_at) or last_change
    if unavailable_since is not None and _unwatched(prev, checked_at):
        # A stretch of 503 starts over after nights nobody checked (`_unwatched`): dated
        # from here on (`_unavailable_since`; `set_aside.site_down` reads it too).
        last_change = checked_at
    after = _working_after(prev, obs, failures, last_success, unavailable_nights, health)
    flips, counted, flapping = _flips(prev, after, obs, health)
    new = LinkState(
        state=state,
        outcome=outcome,
        reason=obs.reason,
        http_status=obs.http_status,
        final_url=obs.final_url,
        consecutive_failures=failures,
        first_failure_at=first_failure,
        last_success_at=last_success,
        last_checked_at=checked_at,
        last_change_at=last_change,
        etag=etag,
        last_modified=last_modified,
        fingerprint=fingerprint,
        fingerprinted_at=fingerprinted_at,
        title=title,
        content_type=content_type,
        content_length=content_length,
        redirect_url=_redirect_target(obs) if obs.http_status is not None else prev.redirect_url,
        fingerprint_since=fingerprint_since,
        flapping=flapping,
        flips=flips,
        unavailable_nights=unavailable_nights,
        drift_reason=prev.drift_reason,
        drift_since=prev.drift_since,
        drift_score=prev.drift_score,
        drift_entries=prev.drift_entries,
        contacts_seen=prev.contacts_seen,
        contacts_gone=prev.contacts_gone,
        contact_reason=prev.contact_reason,
        held_tries=0,  # a check: none of its tries since was held
    )
    return new, _changes(prev, new, obs, unavailable_since=unavailable_since, flips=counted)


def _held_tries(prev: LinkState, obs: Observation) -> int:
    """The link's tries not sent since its check, after the held try `obs`: one more, but
    for a try stamped no later than that check (a clock since set back; one at the same
    instant), which is no try since it, as the history's rows read."""
    if prev.last_checked_at is not None and obs.checked_at <= prev.last_checked_at:
        return prev.held_tries
    return prev.held_tries + 1


def is_check(obs: Observation) -> bool:
    """Whether `obs` checked its link: neither a night our network was down nor a request
    held because its host had said it is away (`Observation.held`). The others move no
    health and count in no "N checks" (`catalog.problem_checks.CHECKED`)."""
    return obs.outcome is not Outcome.NETWORK_UNAVAILABLE and not obs.held


def not_the_page(obs: Observation) -> bool:
    """A 5xx, a 429, a bot wall or a failure that may pass: the answer was not the page
    (a 404, a 410 or another 4xx is a definite answer about it). The store reads no page
    from it (`_read_in_full`), nor does `catalog.upgrades` judge an https form by it."""
    if obs.outcome in (Outcome.BLOCKED, Outcome.RATE_LIMITED):
        return True
    status = obs.http_status
    if obs.outcome is Outcome.HTTP_ERROR and status is not None:
        return status >= 500 or status == 429
    return obs.outcome.is_transient or (status is not None and (status >= 500 or status == 429))


def _rebased(obs: Observation, fingerprint: str | None) -> bool:
    """Whether `obs`'s fingerprint replaces the link's baseline `fingerprint` with no
    `content_changed` and no new "unchanged since": it is of a longer read of the content
    the baseline was taken of (a file first read slowly, fingerprinted by its first bytes,
    then read further with the same first bytes: `Observation.fingerprint_extends`), or
    the baseline was made by an earlier fingerprint rule (`LEGACY_FINGERPRINT`)."""
    if fingerprint is None:
        return False
    return obs.fingerprint_extends == fingerprint or fingerprint.startswith(LEGACY_FINGERPRINT)


def _look_state(prev: LinkState, at: datetime, health: HealthSettings) -> str:
    """The state after a check at `at` that needs a person (a bot wall, a 429).

    A confirmed break stays one: a 429 or a bot wall one night between 404s says nothing
    of the page. It left "Confirmed broken" for "Check by hand" (with the advice to ignore
    a link dead for days) and was "newly broken" again, alert included, the night after.
    A failing link not confirmed yet likewise stays `suspect` (it jumped to "Check by
    hand" and back, "started failing" anew), until the walls have lasted as long as a
    break takes to confirm (`confirm_days`, counted from the first of them,
    `_walls_since`): by then nothing but walls has been seen for as long as a failure
    needs to count, and a person must look. A link that never failed is `check_by_hand`
    from its first wall.
    """
    if prev.state == BROKEN:
        return BROKEN
    if prev.state == SUSPECT:
        since = _walls_since(prev, at) or at  # or this is the first wall
        if not lasted(at - since, health.confirm_days):
            return SUSPECT
    return CHECK_BY_HAND


def _walls_since(prev: LinkState, at: datetime) -> datetime | None:
    """When the walls a suspect link has met since its last failing check began, if its
    last check (`prev`) met one; else None.

    Whatever their kind: a site that answered 429 one night and a bot wall the next
    restarted the count at each change of kind, keeping the link suspect for ever. So
    while the link is suspect its `last_change_at` stays at the first wall through walls
    of another kind (`apply_observation`), and is read here (as by `_unavailable_since`:
    a maintenance 503 after a bot wall counts from the wall, on a link failing already).
    None too for a time stamped after `at` (a clock since set back): waiting for it would
    lengthen the wait by as long as that clock was fast.
    """
    walled = prev.outcome is not None and prev.outcome.severity is Severity.LOOK
    since = prev.last_change_at if walled and prev.state == SUSPECT else None
    return since if since is not None and since <= at else None


def _unavailable_since(
    prev: LinkState, obs: Observation, health: HealthSettings
) -> datetime | None:
    """Since when the site has answered "unavailable, come back later" at every check, if
    `obs` found it so; else None.

    That answer (a 503 asking for a longer wait than a check allows: `RATE_LIMITED`) is
    a site in maintenance, which is no break for a night or two. A site answering it night
    after night for weeks is down for every visitor, though: it counts as failing once it
    has lasted `unavailable_days`, and is then confirmed broken like any failure. A 429
    is not counted: it is an answer to us, and visitors likely get the page.

    Counted from the first 503 of the stretch: on a suspect link `last_change_at` stays at
    the first wall of another kind before it (`_walls_since`), a night that was no 503
    ("for 8 nights" of a site unavailable for 7). Within the flap window the nights of 503
    kept (`unavailable_nights`) say whether it was; older, it is kept as it was. None kept
    after a 503 is a row from before they were (migration 0018, upgraded mid-stretch: every
    check since a 503 keeps its night): unknown, so the start is kept as it was. Restarting
    it there told "Started failing" a week late, and "for 10 nights" of 12.
    """
    if not _unavailable(obs.outcome, obs.http_status):
        return None
    since = prev.last_change_at
    same = _unavailable(prev.outcome, prev.http_status)
    if not same or since is None or since > obs.checked_at:
        return obs.checked_at
    if _unwatched(prev, obs.checked_at):
        return obs.checked_at  # the site may have worked in between: the stretch starts over
    nights = prev.unavailable_nights
    if not nights:
        return since
    a_503_night = any(not lasted(abs(since - n), 1) for n in nights)  # one a night is kept
    if not a_503_night and not _past_window(since, obs.checked_at, health):
        later = [n for n in nights if since < n <= obs.checked_at]
        return later[0] if later else obs.checked_at
    return since


#: Nights in a row with no check of a link (our machine off, our network down) that a
#: stretch of 503 "unavailable" lasts through (`_unwatched`): a missed run.
UNWATCHED_NIGHTS = 1


def _unwatched(prev: LinkState, at: datetime) -> bool:
    """Whether the link's last check (`prev`) found the site "unavailable" (503) and more
    than `UNWATCHED_NIGHTS` nights in a row before the check at `at` saw nothing of it:
    neither a check nor a try held because its host had said it is away (`held_tries`: a
    host in maintenance has its links asked in turn, its 503 going on meanwhile).

    The site may have worked on those nights: a 503 before and after a week our machine
    was off are two nights of maintenance, not a site "unavailable at every check for 9
    nights", failing at once and told to remove the entry. The stretch starts over."""
    last = prev.last_checked_at
    if last is None or last > at or not _unavailable(prev.outcome, prev.http_status):
        return False
    between = _nights_between(last, at) - 2  # the nights strictly between the two checks
    return between - prev.held_tries > UNWATCHED_NIGHTS


def _unavailable(outcome: Outcome | None, http_status: int | None) -> bool:
    """Whether a check's answer was the site's 503 "unavailable, come back later"."""
    return outcome is Outcome.RATE_LIMITED and http_status == 503


def _past_window(at: datetime, now: datetime, health: HealthSettings) -> bool:
    """Whether a flip or a night at `at` has left the flap window by the check at `now`
    (counted in nights, `lasted`), or was stamped by a clock since set back: it would
    stay "within the window" for as long as that clock was fast."""
    return at > now or lasted(now - at, health.flap_window_days)


#: The nights a flapping link's 503 nights are told over ("on 5 of the last 14 nights",
#: `catalog.queries`): a link keeps those of them too when its flap window is shorter.
UNAVAILABLE_WINDOW = 14


def _unavailable_nights(
    prev: LinkState, obs: Observation, health: HealthSettings
) -> tuple[datetime, ...]:
    """The nights of 503 "unavailable" within the flap window after `obs`, or within the
    last `UNAVAILABLE_WINDOW` if that is longer: one a night, however often a curator
    rechecks it that day. Flapping counts those of the flap window (`_steady_unavailable`);
    the report tells those of the last 14 nights, which a window of 7 kept half of.

    A 503 after which no night is kept is a row from before they were (migration 0018):
    its stretch's start (`last_change_at`, `_unavailable_since`) is its one night known.
    """
    at = obs.checked_at
    kept = prev.unavailable_nights or _night_before_upgrade(prev)
    told = replace(health, flap_window_days=max(health.flap_window_days, UNAVAILABLE_WINDOW))
    nights = [n for n in kept if not _past_window(n, at, told)]
    same_night = bool(nights) and not lasted(at - nights[-1], 1)
    if _unavailable(obs.outcome, obs.http_status) and not same_night:
        nights.append(at)
    return tuple(nights)


def _night_before_upgrade(prev: LinkState) -> tuple[datetime, ...]:
    """The night a 503 stretch began on a row kept before its nights were (see
    `_unavailable_nights`); none for any other row."""
    since = prev.last_change_at
    if since is None or not _unavailable(prev.outcome, prev.http_status):
        return ()
    return (since,)


def _nights_between(first: datetime, last: datetime) -> int:
    """How many nightly checks from the one at `first` to the one at `last`, both counted:
    2 for last night and tonight, whichever minute of the run each came at (`NIGHT_SLACK`)."""
    return (last - first + NIGHT_SLACK) // timedelta(days=1) + 1


def _working(state: LinkState, health: HealthSettings) -> bool | None:
    """Whether the link last worked (True), failed (False), or was never judged (None).

    A 503 "unavailable" on a site answering it on `flap_changes` nights of the window is
    failing here (`_working_after`), and so is a wall after it: its flip is later than the
    last success, which no other flip can be (a flip back to working is stamped with its
    success, and only a success ends a failure).
    """
    working = _working_by(state.consecutive_failures, state.last_success_at)
    if not working or state.last_success_at is None:
        return working
    if _unavailable(state.outcome, state.http_status) and _steady_unavailable(
        state.unavailable_nights, state.last_checked_at, health
    ):
        return False
    return not (bool(state.flips) and state.flips[-1] > state.last_success_at)


def _steady_unavailable(
    nights: Sequence[datetime], at: datetime | None, health: HealthSettings
) -> bool:
    """Whether the site's nights of 503 "unavailable" are a real share of the flap window
    of the check at `at`: `flap_changes` of them. Visitors then find it down as often as a
    flapping link. Those kept before the window (`UNAVAILABLE_WINDOW`) are not counted.

    Fewer are maintenance (a window of a night or two, or weekly at our check time): were
    they failing, two single nights up to 12 apart made the 4 flips of a flapping link,
    flagged for 13 nights, "Started flapping" and "Stopped flapping" news, and weekly
    maintenance flagged for good, while the same 503 nights alone are listed under Check
    by hand on those nights only.
    """
    if at is not None:
        nights = [n for n in nights if not _past_window(n, at, health)]
    return len(nights) >= health.flap_changes


def _working_after(
    prev: LinkState,
    obs: Observation,
    failures: int,
    last_success_at: datetime | None,
    unavailable_nights: Sequence[datetime],
    health: HealthSettings,
) -> bool | None:
    """`_working` of the link after `obs`, which left it these failures, last success and
    nights of 503 "unavailable" (`_unavailable_nights`).

    A 503 "unavailable" fails every visitor that night, if not yet for long enough to count
    as a failure (`unavailable_days`): a site answering it every other night, or six nights
    of seven, was never flapping, never failing, and never news. Once such nights are a
    real share of the window (`_steady_unavailable`) it flips as a failure does, as the same
    site answering 503 without a Retry-After does. Fewer, and other walls, say nothing of
    the link: the link is as it was.
    """
    if _unavailable(obs.outcome, obs.http_status) and _steady_unavailable(
        unavailable_nights, obs.checked_at, health
    ):
        return False
    if obs.outcome.severity is Severity.LOOK and failures == 0:
        return _working(prev, health)
    return _working_by(failures, last_success_at)


def _working_by(failures: int, last_success_at: datetime | None) -> bool | None:
    """`_working` of a state with these failures and last success."""
    if failures > 0:
        return False
    return True if last_success_at is not None else None


def _flips(
    prev: LinkState, after: bool | None, obs: Observation, health: HealthSettings
) -> tuple[tuple[datetime, ...], int, bool]:
    """The flips to keep after `obs` (whose link now works: `after`), how many of them are
    within the window, and whether the link is flapping."""
    # A flip leaves the window once it is `flap_window_days` old, counted in nights
    # (`lasted`): the flip of two weeks ago leaves tonight, whether tonight's check came a
    # few minutes earlier in the run than that one or later.
    at = obs.checked_at
    flips = [f for f in prev.flips if not _past_window(f, at, health)]
    before = _working(prev, health)
    if before is not None and after is not None and before != after:
        flips.append(obs.checked_at)
    counted = len(flips)
    # Hysteresis: flagged at `flap_changes` flips, unflagged below half that. A site that
    # fails about as often as the threshold (one night in eight, or one in five around a
    # night we could not check) would otherwise be flagged and unflagged every few days,
    # its row entering and leaving the queue with a pair of events each time.
    still = prev.flapping and counted >= max(1, health.flap_changes // 2)
    flapping = still or counted >= health.flap_changes
    if not flips and before is False and after is False and prev.flips and prev.flips[-1] <= at:
        # The flip that left the link failing, past the window, is all that says a wall
        # after a 503 "unavailable" is failing: dropped, the link read as working behind
        # the wall, and the next 503 made a flip it never made. Not counted.
        flips = [prev.flips[-1]]
    return tuple(flips), counted, flapping


def _redirect_target(obs: Observation) -> str | None:
    """The URL the first hop sent us to; the chain starts with the catalog URL itself."""
    return obs.chain[1].url if len(obs.chain) > 1 else None


def _changes(
    prev: LinkState,
    new: LinkState,
    obs: Observation,
    *,
    unavailable_since: datetime | None = None,
    flips: int | None = None,
) -> list[Change]:
    """The events of the check `obs` that took the link from `prev` to `new`;
    `unavailable_since`: since when the site has said it is unavailable (503) at every
    check, if it did at this one (`_unavailable_since`); `flips`: those of `new.flips`
    within the window (all of them if None)."""
    changes: list[Change] = []
    first = prev.outcome is None
    if new.outcome != prev.outcome and not (first and obs.outcome.is_ok):
        changes.append(
            Change(
                "outcome_changed",
                {
                    "old": _value(prev.outcome),
                    "new": _value(new.outcome),
                    "reason": obs.reason,
                    "http_status": obs.http_status,
                },
            )
        )
    # Where a link leads is only known from checks that got an HTTP answer. The redirect
    # is that of the last answer, kept through checks without one, so a redirect that
    # changed while the link timed out is still a change.
    answered_before = (
        prev.http_status is not None
        or prev.redirect_url is not None
        or prev.last_success_at is not None
    )
    known = not first and answered_before and obs.http_status is not None
    # Compared as `redirects.address_key`s: a fresh signature, session id or campaign tag is
    # no change of destination, and a redirect back to the link's own address (a cookie
    # check) no redirect. A temporary redirect coming or going on the link's own site while
    # the link works is no news (`_passing_redirect`).
    old_hop, new_hop = _hop(prev.redirect_url, obs.url), _hop(new.redirect_url, obs.url)
    old_end = address_key(_final(prev.final_url, obs.url))
    new_end = address_key(_final(new.final_url, obs.url))
    passing = _passing_redirect(prev, new, obs, old_hop, new_hop, old_end, new_end)
    if known and old_hop != new_hop and not passing:
        changes.append(
            Change("redirect_changed", {"old": prev.redirect_url, "new": new.redirect_url})
        )
    answered = not first and prev.http_status is not None and obs.http_status is not None
    if answered and old_end != new_end and not passing:
        changes.append(
            Change(
                "final_url_changed", {"old": prev.final_url or None, "new": new.final_url or None}
            )
        )
    if (
        prev.fingerprint
        and new.fingerprint
        and prev.fingerprint != new.fingerprint
        and not _rebased(obs, prev.fingerprint)
    ):
        changes.append(
            Change(
                "content_changed",
                {
                    "old": prev.fingerprint,
                    "new": new.fingerprint,
                    "old_content_length": prev.content_length,
                    "new_content_length": new.content_length,
                    "old_title": prev.title,
                    "new_title": new.title,
                },
            )
        )
    # A title read under a new rule (`Observation.title_before`) is no change of the page.
    if (
        prev.title
        and new.title
        and prev.title != obs.title_before
        and _retitled(prev.title, new.title)
    ):
        changes.append(Change("title_changed", {"old": prev.title, "new": new.title}))
    old_type, new_type = media_type(prev.content_type), media_type(new.content_type)
    if old_type and new_type and old_type != new_type:
        changes.append(
            Change("content_type_changed", {"old": prev.content_type, "new": new.content_type})
        )
    if new.state != prev.state and (prev.state, new.state) not in _QUIET_STATE_CHANGES:
        details = {
            "old": prev.state,
            "new": new.state,
            "consecutive_failures": new.consecutive_failures,
            # Flagged flapping before and after: one more flip, no news.
            "while_flapping": prev.flapping and new.flapping,
        }
        if new.state == BROKEN and unavailable_since is not None:
            # Confirmed after 3 failures counted, but down for visitors far longer: the
            # news says for how long ("unavailable (503) for 10 nights").
            details["unavailable_nights"] = _nights_between(unavailable_since, obs.checked_at)
        changes.append(Change("state_changed", details))
    if new.flapping != prev.flapping:
        changes.append(
            Change(
                "flapping_started" if new.flapping else "flapping_stopped",
                {"flips": len(new.flips) if flips is None else flips, "state": new.state},
            )
        )
    return changes


# --- drift ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """What a catalog entry says the page holds; `key` names it in scores and events."""

    key: str
    title: str
    description: str | None = None


#: Prefix of an entry's key in `PageJudgement.baseline_scores` (and so in the stored
#: relevance_scores) for the share of its words in the page's text (`drift.judge_emptied`).
TEXT_SCORES = "text:"


@dataclass(frozen=True)
class PageJudgement:
    """One page judged against every entry using its link."""

    #: The lowest score over the entries (the worst match), for display.
    relevance: float
    #: Entry key -> score, for pages with enough text that did not drift: the baseline
    #: later checks are compared with. A drifted score never joins it, so a hijacked page
    #: cannot become its own baseline. `TEXT_SCORES` + entry key -> `Relevance.text`.
    baseline_scores: dict[str, float]
    #: Entry key -> verdict, for the entries the page drifted from.
    drifted: dict[str, tuple[drift.DriftVerdict, drift.Relevance]]
    #: Entry key -> score, of every entry judged (`apply_drift` clears an entry's flag
    #: by it, as `relevance` clears the link's).
    scores: dict[str, float] = field(default_factory=dict)
    #: The read is short of its sample (`short_of_sample`): its scores are floors of a
    #: full read's, and it shows an entry back only by its own score of `drift.LOW_SCORE`
    #: (`apply_drift`).
    short: bool = False
    #: A slow night cut the read (`cut_by_speed`), short of its sample or past it, its
    #: scores judged as a full read's or not (`judge_page`'s `slow_nights`): it never
    #: reached the text's end, so it leaves a takeover's flag as it is (`_takeover_held`).
    slow_cut: bool = False


def judges_drift(obs: Observation) -> bool:
    """Only a page whose text we read can say anything about drift: a working one, or a
    soft 404 (`judge_page` reads only spam markers there). One exception: a check whose
    redirects end at a domain marketplace (`drift.marketplace`) needs no text, so a HEAD
    night says it as well as the weekly read (until then the link showed "OK" and "New
    redirects" to a domain's sale page)."""
    if obs.outcome.severity not in (Severity.OK, Severity.UPDATE) and (
        obs.outcome is not Outcome.SOFT_404
    ):
        return False
    # Cheap tests first: nearly every link ends where it starts.
    sold = obs.final_url not in (None, obs.url) and drift.marketplace(obs.url, obs.final_url)
    return bool(sold) or (not obs.not_modified and bool(obs.title or obs.text_sample_packed))


def short_of_sample(obs: Observation) -> bool:
    """Whether `obs` is a slow night's read whose text ended before the sample a full read
    takes (a page builder's menu before its 300 KB of CSS): its match score and text share
    are floors of a full read's (`drift.known_score`, `drift.known_text_share`).

    A cut that lies where every night's does (`Observation.text_cut_steady`: the byte cap,
    the parser's tag cap) is no such read: its text is what any night reads. Counted as
    short, a page cut at its inline SVG sprite on every night was never judged by its score,
    and the guide replaced by a budget notice stayed OK."""
    return cut_by_speed(obs) and obs.text_tail_packed is None


def cut_by_speed(obs: Observation) -> bool:
    """Whether a slow night's first `SLOW_BODY_BYTES` cut the read (`text_cut`, not
    `text_cut_steady`), short of its sample (`short_of_sample`) or past it: its text's end
    (`text_tail`) is the text before the cut, not the page's, which a faster night reads.
    A cut at the byte cap or the parser's tag cap is where every night's read ends."""
    return obs.text_cut and not obs.text_cut_steady


def slow_run(bytes_read: Sequence[int]) -> bool:
    """Whether a link's last reads whose page was judged (`bytes_read` of each, newest
    first) were `drift.SHORT_READS` slow nights in a row, each cut at its first
    `SLOW_BODY_BYTES` (what the store keeps of such a read): a host slow on every night,
    whose next read short of its sample is judged by its score (`judge_page`).

    Without the count a page there, each read stopping at its menu and heading, was never
    judged by its score: replaced by an unrelated page, it stayed OK for good."""
    run = bytes_read[: drift.SHORT_READS]
    return len(run) == drift.SHORT_READS and all(n == SLOW_BODY_BYTES for n in run)


def judge_page(
    obs: Observation,
    entries: Sequence[Entry],
    history: Mapping[str, Sequence[float]],
    *,
    before: LinkState | None = None,
    slow_nights: bool = False,
) -> PageJudgement | None:
    """Relevance of the page to each entry and the drift verdicts; None if not judgeable.

    `before` is the link's state before `obs`: a link that served a document (its last
    content type, `_served_before`) and now answers with a web page that does not name
    the entry drifted (`drift.judge_replaced_document`), however few words that page has.
    `slow_nights`: the link's last reads were slow nights (`slow_run`), so a read short of
    its sample is judged by its score as a full read is."""
    if not entries or not judges_drift(obs):
        return None
    # A lapsed domain's new owner often answers every path with the same casino or parking
    # page, which the soft-404 probe then matches: "find where it moved" would hide a
    # possible hijack. Such a page is not the resource, so its words prove nothing either
    # way; only spam markers count, and without them it leaves the drift flag alone.
    missing = obs.outcome is Outcome.SOFT_404
    scores: dict[str, float] = {}
    baseline: dict[str, float] = {}
    drifted: dict[str, tuple[drift.DriftVerdict, drift.Relevance]] = {}
    text, tail = obs.text_sample, obs.text_tail
    # A slow night's read short of its sample: its score and text share are floors. Its
    # score is judged after slow nights in a row; its share never (a menu's 0 would make
    # the median 0, and a page emptied later stay OK).
    cut_short = short_of_sample(obs)
    short = cut_short and not slow_nights
    for entry in entries:
        rel = drift.relevance(
            entry.title,
            entry.description,
            obs.title,
            text,
            url=obs.url,
            final_url=obs.final_url,
            tail=tail,
        )
        scores[entry.key] = rel.score
        text_key = TEXT_SCORES + entry.key
        verdict = drift.judge_drift(rel, history.get(entry.key, ()), short_of_sample=short)
        if verdict is None and not missing:
            # The page emptied, or a "no longer available" notice under the old title. Only
            # a text read to its end can have lost them: a read cut short may hold none of it.
            whole = obs.text_tail_packed is None and not obs.text_cut
            flag = entry_view(before, entry.key).drift_reason if before else None
            kept = None
            if obs.text_cut and tail and flag is not None and drift.names_emptied(flag):
                # Its words may be back past the sample, in the text's end the read kept.
                kept = drift.relevance(
                    entry.title, entry.description, obs.title, f"{text or ''}\n{tail}"
                ).text
            verdict = drift.judge_emptied(
                rel,
                history.get(text_key, ()),
                whole=whole,
                entry_title=entry.title,
                page_text=text,
                content_type=obs.content_type,
                was_title=before.title if before is not None else None,
                drift_reason=flag,
                cut=obs.text_cut,
                kept_text=kept,
            )
        if before is not None and not missing and (verdict is None or not verdict.markers):
            # A report's PDF now answered by the site's "An error occurred" or home page.
            verdict = (
                drift.judge_replaced_document(
                    rel,
                    entry.title,
                    obs.title,
                    text,
                    was_type=_served_before(before, obs, text),
                    now_type=obs.content_type,
                    drift_reason=before.drift_reason,
                    url=obs.url,
                )
                or verdict
            )
        if verdict is not None and (verdict.markers or not missing):
            drifted[entry.key] = (verdict, rel)
        elif rel.substantial and not missing and verdict is None:
            # A slow night's read of the menu alone says nothing of the score or the text's
            # share. Nor does it clear a flag but by the entry's own score (`short`).
            score = drift.known_score(rel.score, short_of_sample=short)
            if score is not None:
                baseline[entry.key] = score
            share = drift.known_text_share(rel.text, short_of_sample=cut_short)
            if share is not None:
                baseline[text_key] = share
    if missing and not drifted:
        return None
    return PageJudgement(min(scores.values()), baseline, drifted, scores, short, cut_by_speed(obs))


def _served_before(before: LinkState, obs: Observation, text: str | None) -> str | None:
    """The type of what the link served before `obs`, for `drift.judge_replaced_document`:
    its last type, unless that is a document's and `obs` read a page under it too.

    A label that stays a document's tells of no change: a misconfigured server may have
    served this page under it all along (read as a PDF's bytes before the upgrade), so the
    last read must show another content. The same fingerprint or page title is this page;
    a fingerprint of the earlier rule (`LEGACY_FINGERPRINT`: migration 0024's, of a page
    read as bytes too) shows nothing, and only a title of the document's own (a PDF's; an
    HTML body read as one had none) tells it was one; with neither, this night is the
    link's baseline, as its fingerprint is."""
    was = before.content_type
    if drift.document_kind(obs.content_type) is None or not text:
        return was
    fingerprint = obs.fingerprint
    if (fingerprint and fingerprint == before.fingerprint) or (
        obs.title and obs.title == before.title
    ):
        return None
    if before.fingerprint is None or before.fingerprint.startswith(LEGACY_FINGERPRINT):
        return was if before.title else None
    return was


def apply_drift(
    state: LinkState, judgement: PageJudgement | None, *, at: datetime
) -> tuple[LinkState, list[Change]]:
    """Set or clear the drift flag, per entry; one `drift_detected` per entry drifted from.

    The flag is the link's (`drift_reason`, `drift_since`), but it concerns only the
    entries the page drifted from (`drift_entries`): three entries sharing an address, of
    which the page holds two, flag the third alone; a flag that concerned one entry and
    every entry alike said the page no longer held the two the curator had nothing to fix
    on. None there means every entry: a takeover (markers) concerns them all, as does a
    page that drifted from each entry judged (always so with one entry, whose flag, words
    and events are as they were). An entry the page drifted from later joins the flag with
    its own `drift_detected`; one the page matches again while it still drifts from
    another leaves it with its own `drift_cleared` (`Change.entry`), so the news of a
    shared page names the entry concerned. A clear of the whole flag is one link event when
    it concerned every entry, else one event per entry it concerned.

    A flag set because a web page replaced the link's document clears once the link serves
    a document again (`state.content_type`, the last successful check's): that check has
    no page to judge. Its type alone is not enough: a server that keeps the PDF's type
    serves its error page under it, so the check must have read the document (judged with
    no page replacing it, or new content: an untitled PDF is not judged)."""
    if (
        state.drift_reason is not None
        and drift.names_replaced(state.drift_reason)
        and drift.document_kind(state.content_type) is not None
        and (judgement is not None or state.fingerprint_since == at)
        and not (
            judgement is not None
            and any(drift.names_replaced(v.reason) for v, _ in judgement.drifted.values())
        )
    ):
        score = judgement.relevance if judgement is not None else None
        return _drift_cleared(state, score)
    if judgement is None or _takeover_held(state, judgement):
        return state, []
    if not judgement.drifted:
        if judgement.short and state.drift_reason is not None:
            return _short_cleared(state, judgement)
        # A page with too little text to tell drift by its words (a parking page's script
        # shell, say) says the resource is back only if it still matches every entry.
        back = bool(judgement.baseline_scores) or judgement.relevance >= drift.LOW_SCORE
        if state.drift_reason is None or not back:
            return state, []
        return _drift_cleared(state, judgement.relevance, judgement.scores.keys())
    judged = judgement.scores.keys() or judgement.drifted.keys()
    before = _entry_drifts(state, judged)
    was = before.keys()
    # Still drifted from: those drifted from now, and those drifted from before that this
    # page does not show back (too few words to tell). One not judged no longer uses the
    # link (removed, or moved to another address): it leaves the flag, without news.
    kept = {
        key
        for key in was & judged
        if key not in judgement.baseline_scores and judgement.scores.get(key, 0) < drift.LOW_SCORE
    }
    now = kept | judgement.drifted.keys()
    marked = any(v.markers for v, _ in judgement.drifted.values())
    verdict, _ = min(judgement.drifted.values(), key=lambda pair: pair[0].score)
    if marked or len(judged) == 1:
        # Every entry alike, with the link's columns: a takeover, or the link's one entry,
        # since the earliest drift of those still drifted from (not of one gone since).
        new = replace(
            state,
            drift_reason=verdict.reason,
            drift_since=min((before[key].since for key in now if key in before), default=at),
            drift_score=verdict.score,
            drift_entries=None,
        )
    else:
        # Each entry its own: an entry drifted from later is dated from its own drift.
        entries = {key: before[key] for key in kept}
        for key, (v, _) in judgement.drifted.items():
            since = before[key].since if key in before else at
            entries[key] = EntryDrift(key, since, v.reason, v.score)
        new = _with_entries(state, [entries[key] for key in sorted(entries, key=entry_order)])
    changes = [
        Change(
            "drift_detected",
            {
                "entry": entry_key,
                "reason": v.reason,
                "score": v.score,
                "baseline": v.baseline,
                "markers": list(v.markers),
                "evidence": list(rel.evidence),
            },
        )
        for entry_key, (v, rel) in judgement.drifted.items()
        if entry_key not in was
    ]
    if state.drift_reason is not None and not marked:
        # The page matches these again, while it still drifts from another.
        changes += [
            Change(
                "drift_cleared",
                {"old": before[key].reason, "score": judgement.scores.get(key)},
                entry=key,
            )
            for key in sorted((was & judged) - now, key=entry_order)
        ]
    return new, changes


def _short_cleared(state: LinkState, judgement: PageJudgement) -> tuple[LinkState, list[Change]]:
    """The flag after a read whose scores are floors (`PageJudgement.short`: a slow
    night's menu and first lines) drifted from no entry: cleared of each entry whose own
    score shows it back (`drift.LOW_SCORE`, as a full read's would), kept for the others.

    The whole flag cleared once the read stored anything: on a shared page, the guide's
    score cleared the poster's flag at 20%, and a text share of `drift.TEXT_HAD` a "no
    longer matches" at 22%; the next full read flagged them again, dated anew. A flag for
    markers (a takeover) never comes here: it is held (`_takeover_held`)."""
    scores = judgement.scores
    flagged = _entry_drifts(state, scores.keys())
    back = {key for key, score in scores.items() if score >= drift.LOW_SCORE}
    judged = flagged.keys() & scores.keys()
    held = judged - back
    if not held:
        return _drift_cleared(state, judgement.relevance, scores.keys())
    if held == judged:
        return state, []
    # Each entry its own from now on: those not shown back keep their drift and its date.
    new = _with_entries(state, [flagged[key] for key in sorted(held, key=entry_order)])
    changes = [
        Change("drift_cleared", {"old": flagged[key].reason, "score": scores[key]}, entry=key)
        for key in sorted(judged - held, key=entry_order)
    ]
    return new, changes


def _takeover_held(state: LinkState, judgement: PageJudgement) -> bool:
    """Whether a read a slow night cut (`PageJudgement.slow_cut`: at its first
    `SLOW_BODY_BYTES`, short of its 2,000-character sample or past it) that found no
    markers leaves the link's flag as it is, a takeover's (markers, `drift.names_markers`)
    being among it: such a read never reached the text's end, where spam injected into a
    long page's footer lies (read from its tail; a cut read's tail is the text before the
    cut), as `drift.judge_emptied` holds an emptied page's flag on a cut read. Cleared by
    the guide's score, a takeover was "matches again" for the guide alone on every slow
    night; after slow nights in a row (`slow_run`), whose short read is judged by its
    score, it was cleared for the page's one entry, and on a shared page turned into "no
    longer matches" of the entries the read never reached. Held only for a read short of
    its sample, it was cleared by a slow read of a long page that got past the sample and
    stopped long before the footer, and flagged again, dated anew, by the next full read.

    A flag clears only on a read that covered as much as the one that raised it. Kept
    simple: a read a slow night cut covers less than any read that reached the page's end,
    or stopped where every night's read does (the byte cap, the parser's tag cap:
    `Observation.text_cut_steady`), and which read raised a flag is not kept; so a
    takeover a slow read saw waits for such a read too (on a host slow every night, for a
    curator's look): a warning held too long rather than a takeover lost. A takeover
    concerns every entry: the read changes nothing else of the flag either. What it sees it
    raises (markers in the lines it read). Other flags it clears only by what it read, as a
    full read would: an entry's own score (a floor of the full read's, `_short_cleared`, or
    judged as one past the sample or in a slow run), the entry's words back in its text
    (`drift.judge_emptied`), a page naming the entry (`drift.judge_replaced_document`)."""
    if not judgement.slow_cut or any(v.markers for v, _ in judgement.drifted.values()):
        return False
    reasons = [state.drift_reason, *(e.reason for e in state.drift_entries or ())]
    return any(reason is not None and drift.names_markers(reason) for reason in reasons)


def drifted_from(state: LinkState, entry: str) -> bool:
    """Whether the link's drift flag concerns the entry `entry` (`Entry.key`): the twin
    of `catalog.groups.drifted_from`, which says it in SQL."""
    return state.drift_reason is not None and (
        state.drift_entries is None or any(e.key == entry for e in state.drift_entries)
    )


_State = TypeVar("_State", bound=LinkState)


def entry_view(state: _State, entry: str) -> _State:
    """`state` as the entry `entry` sees it: its own drift (since, reason and score), or
    none where the page still holds it (drifted from another entry sharing the address).
    The twin of `catalog.groups.entry_drift`/`entry_drift_since`."""
    if state.drift_reason is None or state.drift_entries is None:
        return state
    own = next((e for e in state.drift_entries if e.key == entry), None)
    if own is None:
        return replace(
            state, drift_reason=None, drift_since=None, drift_score=None, drift_entries=None
        )
    return replace(
        state,
        drift_reason=own.reason,
        drift_since=own.since,
        drift_score=own.score,
        drift_entries=None,
    )


def _entry_drifts(state: LinkState, judged: Collection[str]) -> dict[str, EntryDrift]:
    """The entries `state`'s drift flag concerns, each with its drift: of those `judged`,
    with the link's columns, for a flag on every entry (`drift_entries` None); none
    without a flag."""
    if state.drift_reason is None or state.drift_since is None:
        return {}
    if state.drift_entries is None:
        return {
            key: EntryDrift(key, state.drift_since, state.drift_reason, state.drift_score)
            for key in judged
        }
    return {e.key: e for e in state.drift_entries}


def _with_entries(state: LinkState, entries: Sequence[EntryDrift]) -> LinkState:
    """`state` flagged for `entries` alone: the link's columns are the earliest since and
    the worst entry's reason and score (what link-wide readers, the archive lookup and
    `PROBLEM_START`, go by)."""
    worst = min(entries, key=lambda e: e.score if e.score is not None else 1.0)
    return replace(
        state,
        drift_reason=worst.reason,
        drift_since=min(e.since for e in entries),
        drift_score=worst.score,
        drift_entries=tuple(entries),
    )


def _drift_cleared(
    state: LinkState, score: float | None, judged: Collection[str] = ()
) -> tuple[LinkState, list[Change]]:
    """The drift flag cleared: one `drift_cleared` of the link when it concerned every
    entry, else one of each entry it concerned, of those `judged` when given (an entry
    removed or moved to another address since is told nothing of this page)."""
    cleared = replace(
        state, drift_reason=None, drift_since=None, drift_score=None, drift_entries=None
    )
    if state.drift_entries is None:
        return cleared, [Change("drift_cleared", {"old": state.drift_reason, "score": score})]
    return cleared, [
        Change("drift_cleared", {"old": e.reason, "score": score}, entry=e.key)
        for e in state.drift_entries
        if not judged or e.key in judged
    ]


def entry_order(key: str) -> tuple[int, str]:
    """Entry keys (`resources.id` as text) in the order of their ids."""
    return (int(key), key) if key.isdigit() else (0, key)


# --- contacts -------------------------------------------------------------------------------

#: The event of a contact gone from its page, and the code of the entry's finding beside
#: staleness's codes (the report's queue, `export`, `linkhealth resource`).
CONTACT_GONE = "contact_gone"


#: How `LinkState.contacts_seen` holds a contact that a read of the page in full did not
#: show, and when the first such read was: "tel:8883737888 missing
#: 2026-12-05T02:00:00+00:00" (a key holds no space). A contact reported gone keeps it:
#: the queue dates the finding from the first read that missed it (`contact_missed_since`).
_MISSING = " missing "
#: A stored `contacts_seen` (JSON text) holding such a mark, as SQL `LIKE` finds it: the
#: check's plan reads only those few links' lists (`store.targets_for_check`).
CONTACT_MISSED_LIKE = f"%{_MISSING}%"


def _seen(stored: Sequence[str]) -> dict[str, datetime | None]:
    """`contacts_seen` as key -> when a full read first missed it (None: the last showed it)."""
    seen: dict[str, datetime | None] = {}
    for item in stored:
        key, marked, since = item.partition(_MISSING)
        seen[key] = datetime.fromisoformat(since) if marked else None
    return seen


def _stored_seen(seen: Mapping[str, datetime | None]) -> tuple[str, ...]:
    return tuple(
        key if since is None else f"{key}{_MISSING}{since.isoformat()}"
        for key, since in seen.items()
    )


def apply_contacts(
    state: LinkState, obs: Observation, entries: Sequence[Entry]
) -> tuple[LinkState, list[Change]]:
    """Which of the contacts the entries name (`contacts.named`) the page no longer shows,
    after a check that read it; one `contact_gone` per contact that went, one
    `contact_back` per one that came back, each of every entry that names it (`Change.entry`).

    Only a contact some read has shown can go: one never seen on the page is likely on
    a contact page the entry does not link, and crying wolf about it every night would
    teach curators to skip the finding. Only a page read fine counts (working, read in
    full, not drifted): a soft 404, a wall or a failure has rules of its own, and their
    pages show no contact because they are not the page. A contact is gone when two reads
    of the whole page on different nights in a row did not show it (`_MISSING` keeps the
    first): a banner showing the number every other night, or a home page replaced by a
    maintenance page for a night, flipped gone/back each night, each flip news. The first
    miss makes the next check read the page in full (`contact_unconfirmed`), so the second
    read is the next night's, not the weekly one's. A read that shows it starts over; a
    read cut short (`Observation.contacts_judged`) only confirms.
    "Back" is news only of a contact that was reported gone. A contact the entries no
    longer name (the curator put the new number in) is forgotten quietly.
    """
    if obs.contacts is None and not state.contacts_seen and not state.contacts_gone:
        return state, []  # nothing looked for, nothing to forget: most links
    named = contacts.named(*(text for e in entries for text in (e.title, e.description)))
    seen = {key: since for key, since in _seen(state.contacts_seen).items() if key in named}
    gone = tuple(key for key in state.contacts_gone if key in named)
    read_fine = (
        obs.contacts is not None
        and obs.outcome.severity in (Severity.OK, Severity.UPDATE)
        and not obs.not_modified
        and state.drift_reason is None
    )
    changes: list[Change] = []
    went: list[str] = []
    if read_fine and obs.contacts is not None:
        shown = set(obs.contacts)
        # Only the keys this read looked for, in a read to the page's end: another
        # entry's contact that a filtered run did not look for is not missing.
        judged = named.keys() if obs.contacts_judged is None else set(obs.contacts_judged)
        seen.update((key, None) for key in named if key in shown)
        for key, since in seen.items():
            if key in shown or key in gone or key not in judged:
                continue
            if since is None:
                seen[key] = obs.checked_at  # missing once: the next night's read decides
            elif lasted(obs.checked_at - since, 1):
                went.append(key)  # its mark stays: the finding's date
        own = [(e.key, contacts.named(e.title, e.description)) for e in entries]
        written = obs.contacts_written
        for key in went:
            others = _other_contacts(key, obs.contacts, named, written)
            details = {"kind": contacts.kind_of(key), "shown": others}
            changes += _news_of(key, CONTACT_GONE, details, own, named)
        for key in gone:
            if key in shown:
                changes += _news_of(
                    key, "contact_back", {"kind": contacts.kind_of(key)}, own, named
                )
        gone = (*(key for key in gone if key not in shown), *went)
    stored = _stored_seen(seen)
    if (stored, gone) == (state.contacts_seen, state.contacts_gone):
        return state, changes
    reason = None
    if gone:
        # What the page showed the night a contact went stands until another goes.
        kept = None if went else _sentences(state.contact_reason or "", state.contacts_gone)
        reason = (
            " ".join(kept[key] for key in gone)
            if kept is not None
            else contact_reason(gone, named, obs.contacts or (), obs.contacts_written)
        )
    new = replace(state, contacts_seen=stored, contacts_gone=gone, contact_reason=reason)
    return new, changes


#: Nights a contact's first miss forces the page's next checks to read it in full
#: (`contact_unconfirmed`): the next night's, once. A read that cannot judge the contact
#: (cut short at the byte or tag cap, a PDF, an address hidden by Cloudflare) leaves the
#: mark, and forcing until a judged read cleared it was a full GET every night, forever.
CONTACT_RECHECK_NIGHTS = 2.0


def contact_unconfirmed(seen: Sequence[str], gone: Sequence[str], now: datetime) -> bool:
    """Whether a read of the page in full missed a contact not reported gone yet
    (`apply_contacts`) less than `CONTACT_RECHECK_NIGHTS` ago: the next check must read it
    in full again, without validators (a 304 judges nothing). Left to the page's weekly
    read, a hotline's changed number was news a week late: a week of visitors calling a
    number that no longer answers. Past that the page keeps its own schedule: the forced
    read could not judge it, and the next that can (the weekly one) decides."""
    return any(
        since is not None and key not in gone and not lasted(now - since, CONTACT_RECHECK_NIGHTS)
        for key, since in _seen(seen).items()
    )


def contact_missed_since(
    seen: Sequence[str] | None,
    gone: Sequence[str] | None,
    title: str | None,
    description: str | None,
) -> datetime | None:
    """When the first read of the page in full that missed a gone contact this entry names
    (its title and description) was: the date its queue row gives the finding. None when it
    names none, or the contacts went before their marks were kept."""
    if not seen or not gone:
        return None
    named = contacts.named(title, description)
    missed = _seen(seen)
    found = [at for key in gone if key in named and (at := missed.get(key)) is not None]
    return min(found, default=None)


def _news_of(
    key: str,
    kind: str,
    details: Mapping[str, Any],
    own: Sequence[tuple[str, Mapping[str, str]]],
    named: Mapping[str, str],
) -> list[Change]:
    """One `kind` change per entry that names `key` (as that entry writes it): two entries
    sharing a page, only one naming the hotline's number, made both the news."""
    naming = [(entry, written[key]) for entry, written in own if key in written]
    if not naming:  # none does on its own (past its `MAX_NAMED`): news of the link
        return [Change(kind, {"contact": named[key], **details})]
    return [Change(kind, {"contact": said, **details}, entry) for entry, said in naming]


def _other_contacts(
    key: str, shown: Sequence[str], named: Mapping[str, str], written: Sequence[str] = ()
) -> list[str]:
    """Up to `contacts.MAX_SHOWN` contacts of `key`'s kind the page shows that no entry
    names: the likely replacement, as the page writes it (`written`, parallel to `shown`)
    when known."""
    kind = contacts.kind_of(key)
    spelled = written if len(written) == len(shown) else [contacts.display(k) for k in shown]
    return [
        said
        for other, said in zip(shown, spelled, strict=True)
        if other not in named and contacts.kind_of(other) == kind
    ][: contacts.MAX_SHOWN]


def contact_reason(
    gone: Sequence[str],
    named: Mapping[str, str],
    shown: Sequence[str],
    written: Sequence[str] = (),
) -> str:
    """The queue's sentence for the contacts `gone` from the page: "The phone number
    1-888-373-7888 named in the entry is no longer on the page; it now shows (888) 555-0100."
    """
    sentences = []
    for key in gone:
        said = (
            f"The {contacts.kind_of(key)} {named[key]} named in the entry is no longer on the page"
        )
        others = _other_contacts(key, shown, named, written)
        if others:
            said += f"; it now shows {', '.join(others)}"
        sentences.append(said + ".")
    return " ".join(sentences)


#: Where one gone contact's sentence of a `contact_reason` ends and the next begins.
_NEXT_SENTENCE = re.compile(r"(?<=\.) (?=The (?:phone number|email address) )")


def _sentences(reason: str, gone: Sequence[str]) -> dict[str, str] | None:
    """`reason` (`contact_reason`'s) as gone contact -> its sentence; None when it does
    not hold one sentence per contact in `gone`, in order."""
    parts = _NEXT_SENTENCE.split(reason)
    return dict(zip(gone, parts, strict=True)) if len(parts) == len(gone) else None


def entry_contact_reason(
    reason: str | None, gone: Sequence[str] | None, title: str | None, description: str | None
) -> str | None:
    """What the queue says of one entry using a link whose `contact_reason` is `reason`:
    the sentences of the gone contacts (`gone`) this entry names (its title and
    description); None when it names none of them. Two entries sharing a page, only one
    naming the hotline's number, both had the finding of that number "named in the entry".
    """
    if reason is None or not gone:
        return reason
    named = contacts.named(title, description)
    mine = [key for key in gone if key in named]
    if len(mine) == len(gone) or not mine:
        return reason if mine else None
    sentences = _sentences(reason, gone)
    return " ".join(sentences[key] for key in mine) if sentences is not None else reason


def settled_contacts(
    seen: Sequence[str], gone: Sequence[str], reason: str | None, keys: Collection[str]
) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """A link's `contacts_seen`, `contacts_gone` and `contact_reason` once a curator's
    review settled the gone contacts `keys` (those the reviewed entry names): they are
    forgotten, as if no read had shown them, so they are news again only if a later read
    shows them and a read after that does not (`apply_contacts`)."""
    settled = [key for key in gone if key in keys]
    if not settled:
        return tuple(seen), tuple(gone), reason
    left = tuple(key for key in gone if key not in keys)
    if not left or reason is None:
        kept = None
    else:
        sentences = _sentences(reason, gone)
        kept = " ".join(sentences[key] for key in left) if sentences is not None else reason
    kept_seen = tuple(item for item in seen if item.partition(_MISSING)[0] not in settled)
    return kept_seen, left, kept


def _value(outcome: Outcome | None) -> str | None:
    return outcome.value if outcome is not None else None


def _final(final_url: str | None, url: str) -> str:
    """No final URL means the request ended where it started."""
    return final_url or url


def _retitled(old: str, new: str) -> bool:
    """Whether a page's title changed by more than the noise its fingerprint ignores
    (`content.stable_text`: dates, times, counters). A living page that names the day in
    its title ("Daily Briefing - 5 Dec 2026") was "Page title changed" each week.

    A title whose only change is the edition years it names is a new edition, though,
    whether they stand alone or in a date ("Report - June 2023" becoming "June 2024"): its
    `title_changed` dates the page's present form, which a review must postdate to answer
    `new_edition` (`store.refresh_staleness`). Without it an earlier review hid the new
    edition for up to a year. A date whose day or month changed with its year (a daily
    page at New Year) is still noise."""
    if old == new:
        return False
    if stable_text(old) != stable_text(new):
        return True
    years = set(edition_years(old)) != set(edition_years(new))
    return years and _YEAR.sub("#", old) == _YEAR.sub("#", new)


#: A year in a title, as `_retitled` masks it to see whether only years changed.
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def _hop(redirect_url: str | None, url: str) -> str | None:
    """Where a link's first redirect leads, as compared (`address_key`); None for no
    redirect or one back to the link's own address (a cookie check: "Now redirects." to
    the page itself, then "No longer redirects.", was news)."""
    if redirect_url is None or same_address(redirect_url, url):
        return None
    return address_key(redirect_url)


def _passing_redirect(
    prev: LinkState,
    new: LinkState,
    obs: Observation,
    old_hop: str | None,
    new_hop: str | None,
    old_end: str,
    new_end: str,
) -> bool:
    """Whether the redirect changes between `prev` and `obs` are a temporary redirect's
    that is no news: the link worked at both checks, no permanent redirect is involved, and
    either it still ends at the same place (a click tracker's new hop) or the temporary
    redirect came or went and keeps visitors on the link's site (`_stays_on_site`).

    A 302, 303 or 307 says the catalog's address is the right one; where it leads is judged
    by the check itself (the home page is a soft 404, a page that no longer matches a drift,
    an error a failure), each with news of its own. An A/B test on alternate nights, a
    consent wall for a few nights, or a session's redirect was "Now redirects" and "No
    longer redirects" night after night. A temporary redirect that now leads to another
    page than before (a short link pointed elsewhere), or that comes or goes taking
    visitors to another site, is news still.
    """
    working = Severity.OK  # an answer at the link's address: not a move, not a failure
    if prev.outcome is None or prev.outcome.severity is not working:
        return False
    if obs.outcome.severity is not working:
        return False
    if new_hop is None:  # went, if the link now answers at its own address
        return (
            old_hop is not None
            and new_end == address_key(obs.url)
            and _stays_on_site(obs.url, prev.redirect_url, _final(prev.final_url, obs.url))
        )
    hops = obs.chain[:-1]
    if any(hop.status is None or hop.status in PERMANENT_REDIRECTS for hop in hops):
        return False  # a move, or a journey whose kind we do not know
    if old_hop is not None:  # news if it now ends elsewhere, not if only its hops changed
        return old_end == new_end
    return _stays_on_site(obs.url, new.redirect_url, _final(new.final_url, obs.url))


def _stays_on_site(url: str, redirect_url: str | None, end: str) -> bool:
    """Whether a temporary redirect of `url` (first to `redirect_url`, ending at `end`) keeps
    the visitor on the link's site (`site_host`): it ends there, or it is a wall that sends
    them back there (a consent or login page whose `continue=` names an address of the site).

    A working link that starts 302-redirecting to another site (a lapsed campaign's casino,
    a new owner's landing page) may be answering with that site's page, not the resource:
    that is news, as is its going away.
    """
    site = site_host(url)
    if site_host(end) == site:
        return True
    for address in (redirect_url, end):
        if address is None:
            continue
        try:
            values = [value for _, value in parse_qsl(urlsplit(address).query)]
        except ValueError:
            continue
        if any(
            value.startswith(("http://", "https://")) and site_host(value) == site
            for value in values
        ):
            return True
    return False
