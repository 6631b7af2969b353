"""The one view model every report format renders: its records and shared words.

Stage: report (presentation). `reports.build` makes a `ReportContext` from
`catalog.queries.ReportData` and the time the report is made: plain frozen records
holding every word and number a template shows, already ordered by what a curator should
fix first; and, streamed one at a time, a `ResourcePage` per resource with its history.
Its parts: `reports.changes` ("since the last run"), `reports.trends` (trend, publisher
and host figures), `reports.history` (a resource's history).

Outcome wording (label, explanation) comes from `catalog.outcomes.Outcome` only; the
report adds its own framing (headline, group headings, notices, the fix and the
`linkhealth` command that applies it). Templates and serializers stay dumb.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from catalog.hygiene import finding_label
from catalog.outcomes import Outcome, Severity
from catalog.settings import NIGHT_SLACK, night_span

TITLE = "Link health report"
#: Placeholder in a command the curator must complete.
NEW_URL = "NEW_URL"


class Priority(IntEnum):
    """Action-queue groups, in the order a curator should work through them."""

    BROKEN = 1
    DRIFT = 2
    #: A phone number or email the entry names gone from its working page: the entry
    #: sends visitors to a number that may no longer answer, and nothing on the page tells
    #: them (a dead link does). Under "Possibly out of date", last, with no date, a
    #: hotline's changed number waited behind every failing link.
    CONTACT = 3
    SOFT_404 = 4
    UPDATE = 5
    LOOK = 6
    FAILING = 7
    STALE = 8
    OTHER = 9

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def heading(self) -> str:
        return _PRIORITY_TEXT[self][0]

    @property
    def description(self) -> str:
        return _PRIORITY_TEXT[self][1]

    @property
    def to_fix(self) -> bool:
        """Counted as "needs fixing" in the headline (the rest "needs a look")."""
        return self in (
            Priority.BROKEN,
            Priority.DRIFT,
            Priority.CONTACT,
            Priority.SOFT_404,
            Priority.UPDATE,
        )


_PRIORITY_TEXT: dict[Priority, tuple[str, str]] = {
    Priority.BROKEN: (
        "Confirmed broken",
        "These kept failing until the break was confirmed, or can never work (an address "
        "that is not a web address); fix them first.",
    ),
    Priority.DRIFT: (
        "Page no longer matches its entry",
        "The address now shows something else (a redesign, a page replaced, or a domain "
        "that changed hands); check before visitors do.",
    ),
    Priority.CONTACT: (
        "Contact details gone from their page",
        "The page works, but two reads of it in a row no longer showed a phone number or "
        "email its entry names: visitors may be calling a number that no longer answers. "
        "Put the current ones in the entry.",
    ),
    Priority.SOFT_404: (
        "Page missing (soft 404)",
        "The site answers, but not with the resource; find where it moved.",
    ),
    Priority.UPDATE: (
        "Moved permanently",
        "These work but have moved for good; switch the catalog to the new address.",
    ),
    Priority.LOOK: (
        "Check by hand",
        # Two plain sentences: one long one, "but for those ... as are those ...", lost
        # curators before its end.
        "We could not tell automatically whether these work: open them in a browser. Rows "
        "marked “Watched” need nothing yet: the site turned us away at one check only, or is "
        "down for maintenance (503), not for long yet.",
    ),
    Priority.FAILING: (
        "Failing, not yet confirmed",
        # Not "may recover on their own" alone: beside a 410 row saying "removed on
        # purpose" it told curators to wait on the failures least likely to recover.
        "These failed recently and are not confirmed yet: a timeout or a server error often "
        "recovers on its own, a site's own answer that the page is not there (404, 410) "
        "seldom does; act on those now, on the rest if they keep failing.",
    ),
    Priority.STALE: (
        "Possibly out of date",
        "The entry itself may need a review; first those whose link no check has succeeded "
        "on for weeks, which may be gone, and those whose page names a newer edition, then "
        "the longest out of date (by the oldest date their reasons name).",
    ),
    Priority.OTHER: ("Other", "Worth a look."),
}


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """A moment shown to people: relative ("3 days ago") plus the absolute date."""

    iso: str
    date: str
    text: str
    ago: str


@dataclass(frozen=True)
class DecidedWhen:
    """A curator's decision as the report shows it: by whom, and when."""

    by: str
    at: When


@dataclass(frozen=True)
class Total:
    key: str
    label: str
    severity: str
    explanation: str
    count: int


#: The staleness codes (`catalog.staleness`) a row filed in another group than "Possibly
#: out of date" says beside its own fix: a newer edition its page names (the one a redirect
#: now leads to), which changes what to link.
FIX_REASONS = frozenset({"new_edition"})


@dataclass(frozen=True, slots=True)
class Row:
    """One active resource as every format shows it (queue row, table row, CSV line).

    With slots, as `catalog.queries.ResourceRow`: one per resource, and more fields than an
    instance dict shares its keys for."""

    priority: Priority | None
    collection_key: str
    collection: str
    resource_id: str
    title: str
    publisher: str | None
    url: str
    #: `url` when it is safe to link to (http/https only), else None.
    href: str | None
    host: str | None
    outcome: str | None
    label: str
    severity: str
    state: str
    state_label: str
    #: `state_label` when it adds to the outcome label (failing, broken, check by hand).
    state_note: str | None
    reason: str | None
    #: "What we saw": the reason sentence (or the drift / staleness reasons).
    seen: str
    http_status: int | None
    page_title: str | None
    #: Where the link ended, when that differs from `url` and from the suggestion.
    final_url: str | None
    final_href: str | None
    suggested_url: str | None
    suggested_href: str | None
    since: When | None
    failing_checks: int
    #: How many checks have seen the current problem.
    checks: int
    #: None for a link never checked, even one tried while our network was down.
    last_checked: When | None
    #: When a never-checked link was last tried, our network being down or its host away
    #: (`tried_held`), else None.
    last_tried: When | None
    elapsed_ms: int | None
    next_step: str
    #: The suggested fix in one sentence, and the command that applies it.
    fix: str | None
    command: str | None
    #: The command has a placeholder (`NEW_URL`) the curator must fill in.
    command_needs_input: bool
    #: Site-relative paths of this resource's, publisher's and host's pages.
    page: str
    publisher_page: str | None
    host_page: str | None
    # Filled when the database holds them (see catalog.queries.ResourceRow).
    drift_reason: str | None = None
    stale_reasons: tuple[str, ...] = ()
    #: The oldest date the stale reasons count from: "Possibly out of date" lists the
    #: longest out of date first (`catalog.queries.ResourceRow.stale_since`).
    stale_since: When | None = None
    #: Their codes (`catalog.staleness.StaleCode`).
    stale_codes: tuple[str, ...] = ()
    archive_url: str | None = None
    archive_href: str | None = None
    #: Only while the snooze lasts.
    snoozed_until: When | None = None
    snooze_reason: str | None = None
    ignored_reason: str | None = None
    #: Who snoozed it and who ignored it, and when (`catalog.queries.Decided`).
    snoozed_by: DecidedWhen | None = None
    ignored_by: DecidedWhen | None = None
    #: Flipping between working and failing lately (`catalog.health`).
    flapping: bool = False
    #: The entry's `type` ("hotline", "report", ...).
    resource_type: str | None = None
    #: When `page_title` was read, if not by the latest check (a HEAD reads no title):
    #: an older title shown undated read as what the latest check saw.
    title_read: When | None = None
    #: Not checked at its URL yet, but reached there by the old URL's last check, as its
    #: redirect's target (answering 200): when. The URL was edited to it (`accept-redirect`).
    reached: When | None = field(default=None, metadata={"json": False})
    #: `last_tried` was a try not sent: its host had said it was away, not our network down.
    tried_held: bool = field(default=False, metadata={"json": False})
    #: Of a link filed as flapping ("Check by hand"), the words its note says in place of
    #: its state ("flapping: keeps switching ..."), which `linkhealth resource` says too.
    flapping_words: str | None = field(default=None, metadata={"json": False})
    #: How many of the link's tries since its last check were not sent, its host having
    #: said it was away (`catalog.queries.ResourceRow.held_tries`): 0 when its latest try
    #: was a check.
    #: Its outcome, state and `last_checked` are its last check's, from before them.
    held_tries: int = 0

    @property
    def began(self) -> str | None:
        """What began at its `since` where that is not when its current failure began:
        "drifted" or "flapping", the branches of `catalog.problem_checks.PROBLEM_START` in
        its order (drift, then flapping, on a link not confirmed broken); None otherwise."""
        if self.state == BROKEN_STATE:
            return None
        if self.drift_reason:
            return "drifted"
        return "flapping" if self.flapping else None

    @property
    def flapping_since(self) -> bool:
        """Its `since` is when it began flapping (`began`), not when its current failure
        began: "Since 5 days ago", beside a 503 of last night between nights that worked,
        read as five days down. A drifted page's `since` is its drift's even while its link
        flaps: "when it began flapping" beside the drift's date named the wrong event."""
        return self.began == "flapping"

    @property
    def seen_with_reasons(self) -> str:
        """`seen`, with the staleness reasons of a row filed in another group than
        "Possibly out of date" (whose `seen` they are): a redirect to a newer edition,
        filed under "Moved permanently", said only "Redirected permanently (301)", and the
        page naming 2024 where the entry names 2018 was in the JSON alone. Only those
        that bear on the row's fix (`FIX_REASONS`: a newer edition the link now leads to):
        the entry's age ("look for a newer edition ... or mark the entry reviewed") beside a
        moved or dead link's fix is another task, which the resource's page lists."""
        if self.priority in _ENTRY_GROUPS or len(self.stale_codes) != len(self.stale_reasons):
            return self.seen  # (reasons stored without codes cannot be told apart)
        reasons = tuple(
            reason
            for reason, code in zip(self.stale_reasons, self.stale_codes, strict=True)
            if code in FIX_REASONS
        )
        if not reasons:
            return self.seen
        if self.seen == self.label:  # the badge says it already
            return sentences(reasons)
        return sentences((self.seen, *reasons))

    @property
    def set_aside(self) -> bool:
        return self.snoozed_until is not None or self.ignored_reason is not None

    @property
    def queued(self) -> bool:
        """In the action queue: something to do, and not snoozed or ignored. The one rule
        of the queue's groups and of every count of them (a host's "Broken" is its rows
        in the queue's "Confirmed broken")."""
        return self.priority is not None and not self.set_aside

    @property
    def checks_counted(self) -> bool:
        """Whether its "Checks" count is of its problem: not of an entry queued for its own
        text while its link works (out of date, or a contact gone from its page), whose
        link's count of checks says nothing of it."""
        return not self.entry_only and self.priority is not Priority.CONTACT

    @property
    def checks_shown(self) -> int | None:
        """The count of checks the CSV and JSON give (latest.json, `resource --json`): None
        of a contact gone from its page, whose Since is the first read that missed it and
        the link's count says nothing of it (HTML and Markdown leave it blank too)."""
        return None if self.priority is Priority.CONTACT else self.checks

    @property
    def reached_unchecked(self) -> bool:
        """Not checked at its URL yet, but reached there by its old URL's last check (an
        accepted redirect): its link works as far as the checks know. (`reached` is set
        of a row not checked yet only.)"""
        return self.reached is not None

    @property
    def entry_only(self) -> bool:
        """Queued for the entry alone (out of date) while its link works, checked or
        reached as its old URL's redirect target (`reached_unchecked`): the link's "since"
        and checks say nothing about it. The headline's "to review (the link works)"."""
        works = self.outcome == Outcome.OK.value or self.reached_unchecked
        return self.priority is Priority.STALE and works

    @property
    def page_title_label(self) -> str:
        """The title of a link whose last check did not work (failed, blocked, rate
        limited, ...) is its page's when it last worked (`catalog.health` keeps the last
        good facts), not what the error or block page says. A title the latest check did
        not read (`title_read`) says when it was read: undated, the old page's title
        beside a new redirect, or a page turned "not found" that only HEAD saw since,
        read as verified last night."""
        label = (
            "Page title"
            if self.severity in (Severity.OK.value, Severity.UPDATE.value)
            else "Page title when it last worked"
        )
        read = self.title_read
        return f"{label}, read {read.ago} ({read.date})" if read else label

    @property
    def filed_as(self) -> tuple[str, str]:
        """(severity, label) of the problem the row is filed under, the one source of the
        badge (`status_badge`), the CSV's label and the JSON's `label` and `severity`: a
        page that no longer matches its entry answers 200 (or a parked domain's soft 404)
        but is "Page no longer matches", as broken. `outcome` keeps the checker's verdict."""
        if self.priority is Priority.DRIFT:
            return Severity.BROKEN.value, "Page no longer matches"
        return self.severity, self.label

    @property
    def status_badge(self) -> tuple[str, str]:
        """(style, text) of the row's status badge: what it is filed as (`filed_as`), and a
        failure not yet confirmed is a warning, not the red of a confirmed break."""
        severity, label = self.filed_as
        if self.priority in (Priority.FAILING, Priority.LOOK) and severity == Severity.BROKEN.value:
            return "suspect", label
        return severity, label


#: The groups whose row's `seen` is the entry's own reasons (staleness, a contact gone).
_ENTRY_GROUPS = frozenset({Priority.STALE, Priority.CONTACT})


@dataclass(frozen=True)
class Group:
    priority: Priority
    key: str
    heading: str
    description: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class RunSummary:
    id: int
    trigger: str
    status: str
    started: When
    finished: When | None
    #: None when the run recorded no plan (`catalog.queries.RunInfo.urls_planned`).
    urls_planned: int | None
    urls_checked: int
    duration: str | None
    network_unavailable: bool
    #: A sharded run's shard run ids ("Run 7 (shard runs 6, 7)"); () for any other run.
    shards: tuple[int, ...] = ()
    #: URLs only tried while our own network was down: not among `urls_checked`.
    urls_offline: int = 0
    #: URLs not sent, their host held (`Observation.held`): not among `urls_checked`.
    urls_unsent: int = 0
    #: Of `urls_unsent`, those whose host had answered none of its last links (stored as
    #: `timeout`), not said it was away: the run facts say which.
    urls_unsent_silent: int = field(default=0, metadata={"json": False})

    @property
    def urls_checked_of(self) -> str:
        """9 of 11, or 11 when the run recorded no plan, or "none" for a run that planned
        and checked nothing (an empty catalog, a run that failed before its plan)."""
        planned, checked = self.urls_planned, self.urls_checked
        if planned is None:
            return str(checked)
        if not planned and not checked and not self.urls_offline and not self.urls_unsent:
            return "none"
        return f"{checked} of {planned}"

    @property
    def urls_apart(self) -> str:
        """The URLs tried but not checked, said after `urls_checked_of`: "(2 only tried: our
        network was down; 3 not sent: their host said it was away)", or "". Why a link was
        not sent is said as its page says it (`catalog.outcomes.held_why`): "held" is no
        curator's word, and a host that had stopped answering said nothing."""
        parts = []
        if self.urls_offline:
            parts.append(f"{self.urls_offline} only tried: our network was down")
        silent = min(self.urls_unsent_silent, self.urls_unsent)
        said = self.urls_unsent - silent
        for n, why in ((said, "said it was away"), (silent, "had not answered its last links")):
            if n:
                parts.append(f"{n} not sent: {'its' if n == 1 else 'their'} host {why}")
        return f"({'; '.join(parts)})" if parts else ""

    @property
    def urls_checked_text(self) -> str:
        """The same as a phrase: "9 of 11 URLs checked", "1 URL checked", "no URLs checked"."""
        said = self.urls_checked_of
        if said == "none":
            return "no URLs checked"
        planned = self.urls_planned if self.urls_planned is not None else self.urls_checked
        return f"{said} URL{'' if planned == 1 else 's'} checked"


@dataclass(frozen=True)
class CatalogSummary:
    key: str
    title: str
    resources: int


@dataclass(frozen=True)
class ChangeItem:
    kind: str
    at: When
    #: The resource's title (for link events, each resource on the link gets an item).
    title: str
    resource_id: str | None
    collection: str | None
    page: str | None
    #: One sentence: "Not found (404) after 3 failed checks", "fields edited: title".
    summary: str
    before: str | None = None
    after: str | None = None
    #: An `added` item for an entry put back in the catalog after its removal.
    readded: bool = False
    #: The collection's title when another collection uses the same id: "hotline" twice
    #: under one heading, with nothing to tell the two apart, read as a repeat.
    in_collection: str | None = None
    #: The page titles `summary` quotes (“...”), in order: the HTML isolates each
    #: (`reports.html_rows.change_summary`). Not in the JSON, whose summary says them.
    quoted: tuple[str, ...] = field(default=(), metadata={"json": False})

    @property
    def before_after(self) -> str | None:
        """ "old → new" when both are known; the one address of an entry added or put back
        (its URL), and "Was old" of one removed: "— → https://..." read as a puzzle."""
        return self.before_after_with(str)

    def before_after_with(self, outside: Callable[[str], str]) -> str | None:
        """`before_after`, each address or title passed through `outside` (the HTML
        escapes and isolates them: two right-to-left titles read "new ← old")."""
        before, after = self.before, self.after
        if before is not None and after is not None:
            return f"{outside(before)} → {outside(after)}"
        if after is not None:
            return outside(after)
        return f"Was {outside(before)}" if before is not None else None


#: One item of a section, where the heading lower-cased is a plural.
_ONE_CHANGE = {
    "new_redirects": "new redirect",
    "unsteady": "unsteady link",
    "catalog_edits": "catalog edit",
    "newly_drifted": "no longer matching its entry",
    "newly_missing": "page now missing (soft 404)",
}


@dataclass(frozen=True)
class ChangeSection:
    key: str
    heading: str
    items: tuple[ChangeItem, ...]

    @property
    def tally(self) -> str:
        """The count for a sentence: "1 new redirect", "4 catalog edits"."""
        n, noun = len(self.items), self.heading.lower()
        return f"{n} {_ONE_CHANGE.get(self.key, noun) if n == 1 else noun}"


@dataclass(frozen=True)
class Changes:
    """What happened between the previous finished run and the shown one."""

    previous_run_id: int | None
    #: When the window began: `previous_run_id`'s end, else `first_run_id`'s start.
    since: When | None
    sections: tuple[ChangeSection, ...]
    #: The nights before, newest first, whose own reports (`run-N.html`) hold their news:
    #: "since the last run" is last night's alone, and a curator back after a weekend or
    #: a week away needs Saturday's too. Only those with a report file are kept
    #: (`reports.site.write_report`).
    earlier: tuple[EarlierNight, ...] = ()
    #: With no run before the window, and the shown run a recheck after the first run:
    #: that first run. The window runs from its start to the recheck's end, so "during the
    #: first run" would credit it with what came after. None for the first run's own report.
    first_run_id: int | None = None

    @property
    def total(self) -> int:
        return sum(len(s.items) for s in self.sections)


@dataclass(frozen=True)
class EarlierNight:
    """A night's full run whose report the news links to."""

    run_id: int
    #: "Sat 2026-12-05", the day the run finished (UTC, as every date of the report).
    day: str


@dataclass(frozen=True)
class TrendPoint:
    run_id: int
    at: When
    checked: int
    ok: int
    broken: int
    #: Update + look + drift: answers, but needs a curator.
    attention: int
    unknown: int
    network_unavailable: bool
    #: Tries not sent, their host held (`Observation.held`): not among `checked`, which a
    #: host in maintenance lowered, to 0 on a night every link was held.
    unsent: int = 0

    def pct(self, count: int) -> float:
        return 100.0 * count / self.checked if self.checked else 0.0

    @property
    def ok_pct(self) -> float:
        return self.pct(self.ok)

    @property
    def broken_pct(self) -> float:
        return self.pct(self.broken)

    @property
    def attention_pct(self) -> float:
        return self.pct(self.attention)


#: What the trend's percentages count, beside the chart and its table in every format.
TREND_SCOPE = (
    "Percentages are of the links each run checked, not of the resources the summary at "
    "the top counts: a link several entries share counts once, and an entry due a review "
    "whose link works counts as OK."
)


@dataclass(frozen=True)
class Trend:
    days: int
    points: tuple[TrendPoint, ...]
    #: One sentence describing the chart (its `<desc>` and the Markdown summary).
    description: str

    @property
    def scope(self) -> str:
        """What its percentages count: the headline counts resources ("4 OK": nothing to
        do), the chart links ("OK 58%"); unlabelled, one reads as a mistake in the other."""
        return TREND_SCOPE


#: What the publishers' and hosts' "Median response" counts, beside their tables.
MEDIAN_NOTE = (
    "Median response: of the latest checks the site answered at the first try; a check "
    "that waited on a timeout (a HEAD left unanswered before the GET), a refused connection "
    "or retries is left out (“no answer”: no check got one; “only after waits”: every "
    "answer came after such a wait)."
)


#: What the queue's "Checks" column counts, said under the queue (HTML and Markdown): the
#: bare number read as failures, where a flapping link's counts from when it began flapping.
CHECKS_NOTE = (
    "Checks: how many times the link was checked since its problem began, the date under "
    "Since (for a page that no longer matches its entry, since that change; for a flapping "
    "link, since it began flapping). “—”: its link works, and the entry is what to fix or "
    "review (a contact gone from its page, or out of date); the checks of its link say "
    "nothing about the entry."
)
#: A "Checks" cell left uncounted (`Row.checks_counted`), as a screen reader hears it.
CHECKS_NOT_COUNTED = "not counted: its link works; the entry is what to review"
#: ... of a contact gone from its page, which the headline counts to fix, not to review.
CONTACT_CHECKS_NOT_COUNTED = "not counted: the link works; a contact on its page is gone"


@dataclass(frozen=True)
class GroupStats:
    """Health of the resources of one publisher or one host."""

    kind: str
    name: str
    page: str
    resources: int
    checked: int
    ok: int
    broken: int
    #: In the action queue (snoozed and ignored ones are not: they are `set_aside`).
    attention: int
    #: Of the latest checks the site answered at the first try (`MEDIAN_NOTE`).
    median_ms: int | None
    #: Snoozed or ignored, as the index's "Snoozed and ignored" lists them.
    set_aside: int = 0
    #: Resources whose latest check got no answer (a timeout, a refused connection).
    unanswered: int = 0
    #: Resources whose latest check was answered only after a wait (`trends.at_once`).
    late: int = 0

    @property
    def median_text(self) -> str:
        """ "217 ms"; "only after waits" when every answer came after a retry or a timeout
        (the host answered: not "no answer"); "no answer" when no latest check got one;
        "—" when none counts."""
        if self.median_ms is not None:
            return f"{self.median_ms} ms"
        if self.late:
            return "only after waits"
        return "no answer" if self.unanswered else "—"

    @property
    def ok_pct(self) -> float | None:
        return round(100.0 * self.ok / self.checked, 1) if self.checked else None


@dataclass(frozen=True)
class ReportContext:
    title: str
    generated: When
    run: RunSummary | None
    #: One plain sentence: "26 resources: 2 to fix, 1 to check or watch, 23 OK."
    headline: str
    #: Set when the run found our own network down; shown prominently instead of errors.
    network_notice: str | None
    #: Set when runs since the reported one started were refused (a broken catalog or
    #: settings file): the report would otherwise look current while nothing is checked.
    refused_notice: str | None
    nothing_checked: bool
    #: Set when there is nothing to report yet (no resources, or never checked).
    empty_notice: str | None
    totals: tuple[Total, ...]
    #: The action queue: non-empty groups, most urgent first (snoozed and ignored left out).
    groups: tuple[Group, ...]
    catalogs: tuple[CatalogSummary, ...]
    resources_total: int
    #: Snoozed and ignored resources, with their reasons.
    set_aside: tuple[Row, ...] = ()
    changes: Changes | None = None
    trend: Trend | None = None
    publishers: tuple[GroupStats, ...] = ()
    hosts: tuple[GroupStats, ...] = ()
    #: Every active resource, by collection then id.
    resources: tuple[Row, ...] = field(default=(), repr=False)
    #: Catalog hygiene (`linkhealth catalog lint`): errors and warnings, after the links.
    hygiene: tuple[HygieneRow, ...] = ()
    #: Informational findings, counted but not listed.
    hygiene_info: int = 0
    #: Set for the report of an earlier run (`report --run N`): its queue is today's.
    earlier_run_notice: str | None = None
    #: The `--config` and `--db` its commands carry (`catalog.commands.command_options`).
    command_options: tuple[str, ...] = ()
    #: `--catalog FILE` for each catalog the report read, where a command typed with
    #: `command_options` would read others (`report --catalog draft.yaml`):
    #: `CommandOptions.for_catalogs`.
    catalog_options: tuple[str, ...] = field(default=(), metadata={"json": False})

    @property
    def lint_command(self) -> str:
        """`linkhealth catalog lint`, as pasted where the report's other commands are: with
        its `--config` (lint takes no `--db`: it lints the files that settings file names)
        and the `--catalog` of files it would not read, for the findings the report leaves
        out or cuts."""
        words = self.command_options
        at = words.index("--config") if "--config" in words else len(words)
        config = words[at : at + 2]
        return shlex.join(["linkhealth", "catalog", "lint", *config, *self.catalog_options])

    @property
    def hygiene_kinds(self) -> tuple[HygieneKind, ...]:
        """The findings counted by kind, most frequent first: where one kind fills hundreds
        of rows (every entry lacks a `type:`), the counts say more than the rows."""
        counts = Counter((f.level, f.code) for f in self.hygiene)
        return tuple(
            HygieneKind(level, code, finding_label(code), n)
            for (level, code), n in counts.most_common()
        )

    @property
    def rows(self) -> tuple[Row, ...]:
        """Every action-queue row, in fix-first order."""
        return tuple(row for group in self.groups for row in group.rows)

    @property
    def queue(self) -> tuple[Group, ...]:
        return self.groups


@dataclass(frozen=True)
class HygieneKind:
    """The findings of one kind: curators read its `label` ("Similar titles"); the `code`
    (`near_duplicate_title`) is what `catalog lint` and the JSON report say."""

    level: str
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class HygieneRow:
    """One catalog-hygiene finding: tidying work that is not a dead link."""

    level: str
    code: str
    collection: str
    resource_id: str
    where: str
    message: str
    fix: str
    command: str | None


@dataclass(frozen=True)
class HistoryItem:
    """One line of a resource's history: a check or an event."""

    at: When
    kind: str
    label: str
    severity: str
    detail: str | None
    http_status: int | None = None
    elapsed_ms: int | None = None
    #: A try not sent, its host having said it was away (`Observation.held`): a row of the
    #: history, but no check.
    held: bool = False
    #: A try that found our own network down (`Outcome.NETWORK_UNAVAILABLE`): a row of the
    #: history, but no check of the link either (`catalog.health.is_check`).
    offline: bool = False


@dataclass(frozen=True)
class ResourcePage:
    row: Row
    #: Newest first.
    history: tuple[HistoryItem, ...]
    #: The command listing the history the page leaves out (its checks are capped), or None.
    older: str | None = None


# --- the words and paths every part of the report shares --------------------------------------


def when(value: datetime, now: datetime) -> When:
    key = (value, now)
    found = _WHEN_CACHE.get(key)
    if found is None:
        iso = value.astimezone(UTC).isoformat(timespec="seconds")
        found = When(
            iso=iso, date=iso[:10], text=f"{iso[:10]} {iso[11:16]} UTC", ago=ago(value, now)
        )
        if _SHARE_WHENS.get():
            if len(_WHEN_CACHE) > 200_000:
                _WHEN_CACHE.clear()
            _WHEN_CACHE[key] = found
    return found


#: Runs stamp thousands of rows with the same moments; a When is immutable, so share it.
_WHEN_CACHE: dict[tuple[datetime, datetime], When] = {}
_SHARE_WHENS: ContextVar[bool] = ContextVar("share_whens", default=True)


@contextmanager
def unshared_whens() -> Iterator[None]:
    """New moments are not cached meanwhile (those cached are still shared).

    For a caller that builds many rows and keeps few, such as the flow's action-queue
    artifact (100,000 resources streamed, 100 kept): the cache would keep every discarded
    row's moments alive, ~10 MB at the end of a 100k run, when its peak memory is set."""
    token = _SHARE_WHENS.set(False)
    try:
        yield
    finally:
        _SHARE_WHENS.reset(token)


def ago(value: datetime, now: datetime) -> str:
    """ "3 days ago", "in 2 hours": coarse on purpose, and cheap (called per resource).

    Days (and the months and years made of them) count nights as the health thresholds do
    (`NIGHT_SLACK`): a span up to three hours short of a day counts it, so the checks of
    one night, minutes apart, read alike ("a day ago", not "23 hours ago" in the next row),
    and a title read on the 16th reads "4 days ago" on the 20th, whichever minute of
    each run it was."""
    span = abs(now - value)
    future = value > now
    if span >= _A_NIGHT:
        days = (span + NIGHT_SLACK) // _A_DAY
        unit, n = next((unit, days // size) for unit, size in _DAY_UNITS if days >= size)
        words = f"a {unit}" if n == 1 else f"{n} {unit}s"
    elif span >= _AN_HOUR:
        n = span // _AN_HOUR
        words = "an hour" if n == 1 else f"{n} hours"
    elif span >= _A_MINUTE:
        n = span // _A_MINUTE
        words = "a minute" if n == 1 else f"{n} minutes"
    else:
        return "just now"
    return f"in {words}" if future else f"{words} ago"


_A_DAY = timedelta(days=1)
#: The shortest span that reads as a day (`catalog.settings.night_span(1)`).
_A_NIGHT = night_span(1)
_AN_HOUR = timedelta(hours=1)
_A_MINUTE = timedelta(minutes=1)
#: Units counted in whole days, longest first.
_DAY_UNITS = (("year", 365), ("month", 30), ("day", 1))


def names_address(step: str, url: str | None) -> bool:
    """Whether `step` names `url` once, as a word of its own ("Link the archived copy URL
    until ..."): an address inside another, such as the original one inside an archived
    copy's, is no mention of it."""
    if not url or step.count(url) != 1:
        return False
    return sum(word.rstrip(".,;") == url for word in step.split()) == 1


def safe_href(url: str | None) -> str | None:
    """`url` if a browser may follow it from the report (never javascript:, data:, ...)."""
    if not url:
        return None
    url = url.strip()
    return url if _WEB_URL.match(url) else None


#: http(s), then a host: anything else (javascript:, data:, file:, "//x") is never linked.
_WEB_URL = re.compile(r"https?://[^/?#\s\\]", re.IGNORECASE)


_UNSAFE_NAME = re.compile(r"[^a-z0-9._-]+")


def slug(*parts: str) -> str:
    """A file name for free text: readable, and unique thanks to a short hash of the text."""
    text = "--".join(parts)
    readable = _UNSAFE_NAME.sub("-", text.lower()).strip("-.")[:60] or "x"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"


def sentences(reasons: Sequence[str]) -> str:
    """Reasons as one text: after one that is a sentence (staleness's are), a space, so
    that it reads "... mark it reviewed. The newest year ...", not "... mark it
    reviewed.; The newest year ..."; after a bare phrase or code, "; "."""
    text = ""
    for reason in reasons:
        if text:
            text += " " if text.endswith((".", "!", "?")) else "; "
        text += reason
    return text


def resource_page_path(collection_key: str, resource_id: str) -> str:
    return f"resources/{slug(collection_key, resource_id)}.html"


@functools.lru_cache(maxsize=65536)
def publisher_page_path(publisher: str) -> str:
    return f"publishers/{slug(publisher)}.html"


@functools.lru_cache(maxsize=65536)
def host_page_path(host: str) -> str:
    return f"hosts/{slug(host)}.html"


#: The `catalog.health` states the report words specially.
SUSPECT_STATE, BROKEN_STATE = "suspect", "broken"
INVALID_SINCE = "Not a web address a browser can open: broken from its first check."


def count_of(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
