"""The one taxonomy of check outcomes.

Every verdict the checker can reach is a member of `Outcome`. The database, the
exports and the reports store and show the member's value; all wording a curator
reads comes from here, so a new outcome is one member, one `_INFO` row and one
branch in `catalog.check.classify`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How an outcome weighs on a resource's health."""

    OK = "ok"
    #: The link does not lead to the resource; counts as a failure until it passes again.
    BROKEN = "broken"
    #: The link works but the catalog entry should change (e.g. a permanent redirect).
    UPDATE = "update"
    #: We could not tell; a person must look. Never counts as a failure.
    LOOK = "look"
    #: No verdict about the link at all (our own network was down).
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OutcomeInfo:
    label: str
    severity: Severity
    #: True when the same request may well succeed later (worth a retry, never final on one try).
    transient: bool
    #: One sentence for curators: what it means and what to do next.
    explanation: str


class Outcome(StrEnum):
    """What one check of one URL found."""

    #: The page answered 2xx (or 304 unchanged), possibly after temporary redirects.
    OK = "ok"
    #: A 301/308 in the chain and a live final page; the final URL is the replacement.
    REDIRECTED_PERMANENT = "redirected_permanent"
    #: 404.
    NOT_FOUND = "not_found"
    #: 410.
    GONE = "gone"
    #: Any other 4xx/5xx that persisted after retries.
    HTTP_ERROR = "http_error"
    #: A 200 page that says the page is gone or is empty, or a deep link sent to the home page.
    SOFT_404 = "soft_404"
    #: The redirect chain came back to a URL it had already visited.
    REDIRECT_LOOP = "redirect_loop"
    #: More redirects than the configured limit.
    TOO_MANY_REDIRECTS = "too_many_redirects"
    #: A redirect chain that ends in a 4xx (a 5xx or 408 there is an `HTTP_ERROR`).
    REDIRECT_TO_ERROR = "redirect_to_error"
    #: No complete answer within the time allowed.
    TIMEOUT = "timeout"
    #: The host name does not resolve.
    DNS_ERROR = "dns_error"
    #: The host refused the connection.
    CONNECTION_REFUSED = "connection_refused"
    #: The connection was reset or closed mid-answer.
    CONNECTION_RESET = "connection_reset"
    #: Any other failure to talk to the host.
    CONNECTION_ERROR = "connection_error"
    #: The HTTPS certificate or handshake failed.
    TLS_ERROR = "tls_error"
    #: Bot protection or a login wall answered; a person must look.
    BLOCKED = "blocked"
    #: Still 429 Too Many Requests after retries, or a 429 or 503 asking us to come back
    #: later than a check waits (Retry-After).
    RATE_LIMITED = "rate_limited"
    #: The catalog's URL is not a fetchable http(s) URL.
    INVALID_URL = "invalid_url"
    #: The URL resolves to a loopback, private, link-local or reserved address.
    PRIVATE_ADDRESS = "private_address"
    #: Our own network was down during the check; says nothing about the link.
    NETWORK_UNAVAILABLE = "network_unavailable"

    @classmethod
    def known(cls, value: str | None) -> Outcome | None:
        """The outcome named `value`, or None: a name written by an older or newer version
        (or none at all) must not break what reads the database."""
        try:
            return cls(value) if value else None
        except ValueError:
            return None

    @property
    def info(self) -> OutcomeInfo:
        return _INFO[self]

    @property
    def label(self) -> str:
        return _INFO[self].label

    @property
    def severity(self) -> Severity:
        return _INFO[self].severity

    @property
    def explanation(self) -> str:
        return _INFO[self].explanation

    @property
    def is_transient(self) -> bool:
        return _INFO[self].transient

    @property
    def is_ok(self) -> bool:
        return self.severity is Severity.OK

    @property
    def is_failure(self) -> bool:
        """Counts towards a confirmed-broken verdict."""
        return self.severity is Severity.BROKEN

    @property
    def needs_attention(self) -> bool:
        return self.severity in (Severity.BROKEN, Severity.UPDATE, Severity.LOOK)

    @property
    def is_network_failure(self) -> bool:
        """Failures that our own network being down would also produce."""
        return self in _NETWORK_FAILURES


_NETWORK_FAILURES = frozenset(
    {
        Outcome.DNS_ERROR,
        Outcome.CONNECTION_REFUSED,
        Outcome.CONNECTION_ERROR,
        Outcome.TIMEOUT,
    }
)

_B, _U, _L = Severity.BROKEN, Severity.UPDATE, Severity.LOOK

_INFO: dict[Outcome, OutcomeInfo] = {
    Outcome.OK: OutcomeInfo("OK", Severity.OK, False, "The link works; nothing to do."),
    Outcome.REDIRECTED_PERMANENT: OutcomeInfo(
        "Moved permanently",
        _U,
        False,
        "The site says this page has moved for good; check the new address and update the "
        "catalog to it.",
    ),
    Outcome.NOT_FOUND: OutcomeInfo(
        "Not found (404)",
        _B,
        False,
        "The site says this page does not exist; find where it moved, or use an archived copy.",
    ),
    Outcome.GONE: OutcomeInfo(
        "Gone (410)",
        _B,
        False,
        "The site says this page was removed on purpose; replace it with a newer edition or an "
        "archived copy.",
    ),
    Outcome.HTTP_ERROR: OutcomeInfo(
        "HTTP error",
        _B,
        True,
        "The site kept answering with an error; if it persists, report it to the site or find "
        "another copy.",
    ),
    Outcome.SOFT_404: OutcomeInfo(
        "Page missing (soft 404)",
        _B,
        False,
        "The site answers, but with a 'not found' page, an empty page or its home page instead "
        "of the resource; find where the resource moved.",
    ),
    Outcome.REDIRECT_LOOP: OutcomeInfo(
        "Redirect loop",
        _B,
        False,
        "The site sends visitors round in circles; open it in a browser and find a working "
        "address.",
    ),
    Outcome.TOO_MANY_REDIRECTS: OutcomeInfo(
        "Too many redirects",
        _B,
        False,
        "The site redirects more times than a browser would follow; find the final address.",
    ),
    Outcome.REDIRECT_TO_ERROR: OutcomeInfo(
        "Redirects to an error",
        _B,
        False,
        "The address redirects to a page that does not work; find where the resource moved.",
    ),
    Outcome.TIMEOUT: OutcomeInfo(
        "Timed out",
        _B,
        True,
        "The site did not answer in time; if it keeps happening the site may be down for good.",
    ),
    Outcome.DNS_ERROR: OutcomeInfo(
        "Domain not found",
        _B,
        True,
        "The domain name does not resolve; it may have lapsed. Look for the publisher's new site.",
    ),
    Outcome.CONNECTION_REFUSED: OutcomeInfo(
        "Connection refused",
        _B,
        True,
        "The server refused the connection; if it persists the site is down.",
    ),
    Outcome.CONNECTION_RESET: OutcomeInfo(
        "Connection reset",
        _B,
        True,
        "The server dropped the connection mid-answer; if it persists the site is broken.",
    ),
    Outcome.CONNECTION_ERROR: OutcomeInfo(
        "Connection failed",
        _B,
        True,
        "We could not talk to the server; if it persists the site is down.",
    ),
    Outcome.TLS_ERROR: OutcomeInfo(
        "Certificate problem",
        _B,
        False,
        "Browsers will warn visitors about this site's security certificate; tell the publisher "
        "or link another copy.",
    ),
    Outcome.BLOCKED: OutcomeInfo(
        # Not "Check by hand": that is the queue group, which holds flapping links too, and
        # the totals read "Check by hand 8" beside "Check by hand (11)".
        "Blocks checkers",
        _L,
        False,
        "The site blocks automated checks or needs a login; open it in a browser to confirm it "
        "works.",
    ),
    Outcome.RATE_LIMITED: OutcomeInfo(
        "Rate limited",
        _L,
        True,
        "The site asked us to slow down or to come back later; it will be checked again next run.",
    ),
    Outcome.INVALID_URL: OutcomeInfo(
        "Invalid URL",
        _B,
        False,
        "The catalog entry's URL is not a web address a browser can open; correct it.",
    ),
    Outcome.PRIVATE_ADDRESS: OutcomeInfo(
        "Private address",
        _L,
        False,
        "The URL points into a private network, so it was not fetched; public visitors cannot "
        "reach it either. Correct the URL, or allow it in linkhealth.toml for an intranet catalog.",
    ),
    Outcome.NETWORK_UNAVAILABLE: OutcomeInfo(
        "Not checked (our network was down)",
        Severity.UNKNOWN,
        True,
        "Our own network was unreachable during this check, so nothing is known about the link; "
        "it will be checked again next run.",
    ),
}

assert set(_INFO) == set(Outcome), "every Outcome needs an OutcomeInfo row"


#: The label of a 503 "come back later" (`shown_label`): the site says it is down for now,
#: to browsers too. "Rate limited" framed a site in maintenance as one turning checkers
#: away. One source for the report's row, `linkhealth recheck` and `linkhealth resource`.
UNAVAILABLE_LABEL = "Unavailable (503)"


def shown_label(outcome: Outcome, http_status: int | None) -> str:
    """The outcome's label as curators are shown it: a rate limit answered 503 (the
    checker files a Retry-After as rate limited) is `UNAVAILABLE_LABEL`."""
    if outcome is Outcome.RATE_LIMITED and http_status == 503:
        return UNAVAILABLE_LABEL
    return outcome.label


#: The note of a link turned away (429, 503) at one check only, for "Check by hand": the
#: report's row, `linkhealth recheck`'s line.
WATCHED = "Watched: nothing to do unless it keeps happening"
#: The note of a site unavailable (503) check after check, until that counts as failing
#: (`HealthSettings.unavailable_days`): "Check by hand" beside "nothing to do unless it
#: lasts" said two things.
WATCHED_UNAVAILABLE = "Watched: nothing to do unless it lasts"
#: How the reason of a request not sent ends (`Observation.held`, `classify._held`): a link
#: held keeps its state but takes this reason (`health.apply_observation`), so the report
#: tells an OK of last week's check, its host away since, from an OK of last night's.
HELD_REASON_END = "so its links were not requested again this run."
#: What the reason of a request held for its host's silence says after its journey
#: (`classify._held`: no answer at all to its last links, `HostGate.unanswered_link`), where
#: a host's word says "host unavailable" or "host asked us to slow down".
SILENT_HOLD = "host not answering:"


def is_held(reason: str | None) -> bool:
    """Whether a reason is a held try's (`HELD_REASON_END`): of a link, its latest try was
    not sent, and its outcome, state and date are its last check's."""
    return reason is not None and reason.endswith(HELD_REASON_END)


def held_silent(reason: str | None) -> bool:
    """Whether a try's reason says it was held for its host's silence (`SILENT_HOLD`), not
    its word."""
    return reason is not None and f": {SILENT_HOLD} " in reason


def held_why(reason: str | None, whose: str = "its") -> str:
    """Why a link's try was not sent, as a curator reads it beside "not sent" or "last
    tried", from the try's reason (`HELD_REASON_END`): its host's word, or its silence.
    `whose`: "their", of several tries."""
    if held_silent(reason):
        return f"{whose} host had not answered its last links"
    return f"{whose} host said it was away"


def answered_besides_offline(counts: Mapping[str, int], unsent: Mapping[str, int]) -> int:
    """Of a run's outcome counts, the URLs whose sites were asked and reached: a run that
    judged our network down for some links (public ones, witnessed by public hosts only)
    may have reached others (an intranet's), and "no site could be contacted" was untrue
    of it. Tries not sent (`unsent`: their host held) reached nothing."""
    offline = Outcome.NETWORK_UNAVAILABLE.value
    asked = sum(n for outcome, n in counts.items() if outcome != offline)
    return asked - sum(n for outcome, n in unsent.items() if outcome != offline)


def offline_in_part(
    network_unavailable: bool, counts: Mapping[str, int], unsent: Mapping[str, int]
) -> int:
    """Of a run's outcome counts, the URLs judged offline when the run reached other sites,
    else 0: our network went part-way through a night (a later batch found none of its
    hosts), or a catalog's public links were cut off while its intranet's answered. What
    the rest of the run confirmed stands (`ops.notices` sends it)."""
    offline = counts.get(Outcome.NETWORK_UNAVAILABLE.value, 0)
    if network_unavailable and offline and answered_besides_offline(counts, unsent):
        return offline
    return 0
