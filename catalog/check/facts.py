"""The facts one check gathers, before any judgement.

Stage: check. `fetch` fills these records; `classify` reads them and nothing else, so
the verdict is a pure function of what the servers said. The records keep raw
exceptions: turning them into words is `reasons.describe_error`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import httpx

from catalog.check.content import MAX_PARSED_TAGS, PageFacts
from catalog.model import Hop, Previous
from catalog.urls import UrlProblem

#: Statuses that mean "look elsewhere" when they carry a Location header. 300 names its
#: preferred choice there when it has one (RFC 9110 15.4.1; Firefox and curl follow it;
#: without one, see `classify`).
REDIRECT_STATUSES = frozenset({300, 301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})


class Cut(StrEnum):
    """How a page's answer ended short of its end, when what came is judged all the same."""

    #: The server broke the answer off after a whole HTML document (`fetch.read_page_body`).
    BROKEN_OFF = "broken_off"
    #: ... or sent nothing more after a whole HTML document, and never ended the answer.
    STALLED = "stalled"
    #: The body came steadily but too slowly to end within the URL's deadline: judged on
    #: its first `fetch.SLOW_BODY_BYTES`, as a body cut at the byte cap is.
    SLOW = "slow"


@dataclass(frozen=True)
class Answer:
    """One HTTP response: status, headers and (for GET) the first bytes of the body."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes = b""
    #: True when the body was longer than the cap and we stopped reading.
    truncated: bool = False
    #: How the body ended short of its end, when it is judged all the same (the reason
    #: says so); None for a body read to its end or to the cap.
    cut: Cut | None = None

    @property
    def stopped_short(self) -> bool:
        """Whether the text read from it ends before the page does: the body stopped at the
        cap or at a slow night's first bytes, or holds more tags than the parser reads
        (`MAX_PARSED_TAGS`). Such a text may not say what the page lacks (a contact gone,
        a page emptied): the page's end was never read."""
        return self.truncated or self.cut is Cut.SLOW or self.body.count(b"<") > MAX_PARSED_TAGS

    @property
    def cut_by_speed(self) -> bool:
        """Whether the text read from it ends where this night's speed ended it: a slow
        night's first `fetch.SLOW_BODY_BYTES` (`Cut.SLOW`), which a faster night reads past.
        A cut at the byte cap, or at the parser's tag cap (within those bytes too), lies at
        the same place on every night."""
        return self.cut is Cut.SLOW and self.body.count(b"<") <= MAX_PARSED_TAGS


@dataclass(frozen=True)
class Away:
    """A host's answer that it is unavailable (503) or that we ask too often (429), with a
    Retry-After longer than a check waits (`retry_after_cap`): its other URLs of the run
    take it as their own answer instead of each asking (`politeness.HostGate.away`), a
    429 at once, a 503 once a second path has said so too (`HostGate.strike`). Or its
    silence: no answer at all to several of its links in a row (`HostGate.
    unanswered_link`), taken the same way (status None)."""

    #: 429 or 503; None for a silent host.
    status: int | None
    #: Seconds its Retry-After asked for (the last answer's); a silent host's, the pause
    #: before it is asked again (`HostGate.silent_pause`).
    retry_after: float
    #: The URL whose answer said so (first); a silent host's, the last link it did not
    #: answer before it was held.
    url: str
    #: The URL of another path that said so after it (a 503's second word), if any.
    again: str | None = None
    #: A silent host's links in a row that had no answer before it was held.
    unanswered: int = 0
    #: A silent host's: the address asked once more at the end of the batch, which it did not
    #: answer either (`checker._Run.ask_silent_again`), and the seconds from its hold to
    #: that request. Its held links' tries are then that night's checks of them, `timeout`
    #: (`kept_state`), as they were before any hold.
    asked_again: str | None = None
    asked_after: float = 0.0

    @property
    def kept_state(self) -> bool:
        """Whether the URL held on it keeps its state (`Observation.held`): the host's word,
        or a silence not confirmed at the end of the batch (`asked_again`)."""
        return self.asked_again is None


@dataclass(frozen=True)
class Attempt:
    """One request sent once: an answer or the exception that replaced it, or none sent
    because the host had said it is away, or had answered none of its last links (`held`)."""

    method: str
    url: str
    answer: Answer | None = None
    error: BaseException | None = None
    #: Seconds the server asked us to wait (Retry-After), already parsed.
    retry_after: float | None = None
    held: Away | None = None


@dataclass(frozen=True)
class RetryNote:
    """Why one attempt was repeated, for the reason sentence."""

    #: "503", "timeout", "connection reset" ...
    cause: str
    retry_after: float | None
    delay: float
    #: The repeated attempt's connection was taken (its failure came after connecting, or
    #: it was answered): the server was there (`checker._unanswered_exchange`).
    connected: bool = True


class Stop(StrEnum):
    """Why following a URL ended without a final answer from a server."""

    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    #: A Location that is not a fetchable http(s) URL.
    BAD_LOCATION = "bad_location"
    #: The host resolves to a private address; no request was sent.
    PRIVATE = "private"
    #: Our own resolution (the safety check) failed; no request was sent.
    UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class Exchange:
    """One method's journey from the catalog URL to a final answer, redirects included."""

    method: str
    #: Every URL requested, with its status (None when no answer came).
    chain: tuple[Hop, ...] = ()
    answer: Answer | None = None
    error: BaseException | None = None
    stop: Stop | None = None
    #: Words for `stop` (the forbidden address, the bad Location ...).
    stop_detail: str | None = None
    #: The URL the stop concerns (the redirect target, the private host's URL).
    stop_url: str | None = None
    retries: tuple[RetryNote, ...] = ()
    #: A Retry-After longer than the cap, which ended the retries.
    refused_wait: float | None = None
    #: Conditional headers (If-None-Match / If-Modified-Since) were sent.
    conditional: bool = False
    #: The last request was not sent: its host had said it is away for longer than a
    #: check waits, in answer to another URL (its status is the last hop's), or had
    #: answered none of its last links at all (no status).
    held: Away | None = None

    @property
    def status(self) -> int | None:
        return self.answer.status if self.answer else None

    @property
    def final_url(self) -> str | None:
        return self.chain[-1].url if self.chain else None

    @property
    def redirects(self) -> tuple[Hop, ...]:
        """The hops that sent us elsewhere (all of them when following stopped early)."""
        hops = self.chain if self.stop is not None else self.chain[:-1]
        return tuple(h for h in hops if h.status in REDIRECT_STATUSES)


@dataclass(frozen=True)
class Probe:
    """What a made-up URL on the same host answered (for soft-404 detection)."""

    url: str
    status: int | None
    page: PageFacts | None


@dataclass(frozen=True)
class CheckFacts:
    """Everything known about one URL when judgement starts."""

    url: str
    invalid: UrlProblem | None = None
    exchanges: tuple[Exchange, ...] = ()
    #: Seconds of the whole-URL deadline, set when it ran out.
    deadline_exceeded: float | None = None
    #: The pause the host asked for (seconds) that the URL was waiting out when its
    #: deadline ran out: the host's doing, not a slow answer.
    paused: float | None = None
    page: PageFacts | None = None
    probe: Probe | None = None
    previous: Previous | None = None
    #: Set when the checker itself failed (a bug); the text of the exception.
    internal_error: str | None = None
    elapsed_ms: int | None = None
    #: The titles of the catalog entries that link this URL: a page saying what its entry
    #: is called ("Nothing Here | Stories of Survivors") says nothing about being missing.
    entry_titles: tuple[str, ...] = ()
    #: The host's 503 hold (`politeness.HostGate.held_on`) when this URL's own HEAD said
    #: it and its GET brought no page: the URL's answer is the host's (`classify._told`).
    away: Away | None = None

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None
