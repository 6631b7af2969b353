"""Gather the facts about one URL: requests, redirects, answers, bytes and exceptions.

Stage: check. Input: a `Target` and an `httpx.AsyncClient` the caller owns. Output: the
`Exchange`s (one per method) in a `Progress` record, which survives a deadline so a
timeout still shows what was tried. No judgement happens here beyond deciding which
request to send next; `classify` turns the facts into a verdict.

- HEAD first, GET when HEAD gives no useful answer; GET straight away when a fingerprint
  is due. GET carries `If-None-Match` / `If-Modified-Since` from the last observation.
- Redirects are followed by hand so each hop is recorded and each hop's host passes the
  safety rule (no requests into private networks) before anything is sent.
- Bodies are streamed and read up to `max_body_bytes` of *decoded* bytes; a page body
  still coming when the URL's deadline arrives is judged on what came, when that is
  enough (`Progress.cut_read`).
- Cookies live for one URL only, so a cookie-setting redirect works like in a browser
  but one URL's cookies never change another's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import re
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from itertools import pairwise
from typing import Any, TypeGuard, assert_never

import httpx

from catalog.check.content import OPAQUE_TYPE, PageFacts, analyse_body, reads_as_html
from catalog.check.facts import (
    PERMANENT_REDIRECTS,
    REDIRECT_STATUSES,
    Answer,
    Attempt,
    Away,
    Cut,
    Exchange,
    Probe,
    RetryNote,
    Stop,
)
from catalog.check.issuers import ChainTrust, Issuers, missing_issuer
from catalog.check.politeness import Asker, HostGate, Politeness
from catalog.check.reasons import FailureKind, describe_error
from catalog.check.redirects import address_key
from catalog.check.retry import (
    refused_wait,
    retry_after_seconds,
    should_retry,
    with_retries,
)
from catalog.check.safety import (
    AddressBook,
    forbidden_host,
    host_allowlisted,
    is_ip_address,
    refused_as_written,
)
from catalog.clock import Clock, http_date
from catalog.model import Hop, Previous, Target
from catalog.settings import CheckSettings
from catalog.text import media_type
from catalog.urls import CheckedUrl, UrlProblem, as_browsers_request, parse_url

log = logging.getLogger(__name__)

#: Characters of a redirect's target at most (IIS and Cloudflare read up to 16 KiB of a
#: URL, nginx and Apache 8 KiB). A site that redirected to ever longer addresses (64 KiB
#: each, as a header line may be) stored 1.2 MB of chain on each night's observation, and
#: the report showed the last of them as where the link ends.
MAX_LOCATION_CHARS = 16 * 1024
#: ... and of all the addresses of one journey together: 20 redirects to addresses just
#: under that were still 330 KB a night. Real chains are a few redirects of a few hundred.
MAX_CHAIN_CHARS = 64 * 1024
#: The body of every request we send (HEAD and GET): none.
_NO_BODY = httpx.ByteStream(b"")

Sleep = Callable[[float], Awaitable[None]]

#: Error pages are read only this far: enough to recognise a bot challenge.
ERROR_BODY_BYTES = 64 * 1024
#: ... and for this long at most: bot walls come from CDNs at once.
ERROR_BODY_SECONDS = 5.0
#: Seconds before the URL's deadline at which a GET stops waiting for its answer to begin
#: (`Fetcher.answer_wait`; its connection and request come out of them too): its own
#: timeout then says what happened ("did not begin to answer"), not the deadline.
ANSWER_MARGIN = 0.5
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: Only what `read_capped` can inflate with a bound.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass
class Progress:
    """What one URL's check has gathered so far (mutable, so a deadline loses nothing)."""

    exchanges: list[Exchange] = field(default_factory=list)
    method: str | None = None
    chain: list[Hop] = field(default_factory=list)
    retries: list[RetryNote] = field(default_factory=list)
    #: Event-loop time of the URL's deadline, if it has one: no Retry-After past it is
    #: waited for.
    deadline: float | None = None
    #: The URL being requested, and the status of its answer once the answer's head came
    #: (its body may still break off or stall): the status the server did give.
    current: str | None = None
    heard: int | None = None
    #: The URL's deadline itself, and the seconds it may still be pushed back (`pausing`).
    timeout: asyncio.Timeout | None = None
    grace: float = 0.0
    #: The last pause the host asked for that this URL waited out (`pausing`): how long,
    #: and the event-loop time it ends.
    paused_for: float | None = None
    paused_until: float = -math.inf
    #: The page body being read, if one is (`Fetcher._send`): what a deadline may judge.
    reading: Reading | None = None
    #: Seconds the check may still wait for a server to take a connection, while none of
    #: its requests has had one taken; None: no bound but each request's connect timeout.
    #: Set for an http:// address whose https:// form is tried when it takes none
    #: (`checker.HTTP_CONNECT_SHARE`); each connect wait comes off it, the first
    #: connection taken lifts it, and once spent no request is sent again (`may_connect`).
    connect_left: float | None = None
    #: A GET waited for its answer to begin up to `ANSWER_MARGIN` before the deadline
    #: (`Fetcher.answer_wait`), and none began.
    waited_out: bool = False
    #: The HEAD's 503 "come back later" taken as the host's word once its GET brought no
    #: page (`Fetcher.fetch`), with the host's gate and its `answers` when it was said:
    #: should the host be held on it, that is this URL's answer too (`checker._Run`).
    said: tuple[HostGate, int] | None = None
    #: The gate of the host the check's last request went to, and that request's URL, while
    #: no answer of it has begun; left set when none ever did (a connect that timed out, a
    #: request whose answer had not begun by its deadline): that host's silence ended the
    #: check (`HostGate.unanswered_link`, told once the check is done: `checker._Run`).
    unheard: HostGate | None = None
    unheard_url: str | None = None
    #: This check to its hosts' gates (`HostGate.asking`, `away`): what a gate may keep of
    #: it, never the progress itself (its exchanges hold the page read). Made only once a
    #: request goes to a silent host (`Fetcher._send`): a night with none makes no token.
    asker: Asker | None = None

    def may_connect(self) -> bool:
        """Whether the check has time left to wait for a connection (`connect_left`)."""
        return self.connect_left is None or self.connect_left > 0

    def may_send(self) -> bool:
        """Whether another try is worth sending: time is left to connect (`may_connect`),
        and no request waited for its answer as long as the deadline allowed (`waited_out`):
        a retry then could only end at the deadline."""
        return self.may_connect() and not self.waited_out

    def pausing(self, seconds: float) -> None:
        """The host's gate is about to hold this URL `seconds` for a pause the host asked
        for (Retry-After, mostly in answer to another of its URLs): time the host took,
        not the URL's, so the deadline moves back by as much, within `grace`.

        Between an answer and the next hop of a redirect chain, a sibling's 503 with
        Retry-After 29 and its retry's renewal took 58 s of a 45 s deadline: a working
        link was a timeout. `grace` keeps a hard bound (a host renewing its pause could
        otherwise hold the URL for ever); waiting is all a pause allows, so a server
        that trickles bytes gains nothing by it."""
        loop_now = asyncio.get_running_loop().time()
        self.paused_for, self.paused_until = seconds, loop_now + seconds
        self.push_back(seconds)

    def push_back(self, seconds: float) -> None:
        """Move the deadline back by `seconds` of the host's time, within `grace`."""
        push = min(seconds, self.grace)
        if self.timeout is None or self.deadline is None or push <= 0:
            return
        self.grace -= push
        self.deadline += push
        self.timeout.reschedule(self.deadline)

    def in_pause(self) -> bool:
        """Whether the URL is waiting out a pause the host asked for right now."""
        return asyncio.get_running_loop().time() < self.paused_until

    def left(self) -> float | None:
        """Seconds before the deadline, or None without one."""
        if self.deadline is None:
            return None
        return self.deadline - asyncio.get_running_loop().time()

    def cut_read(self) -> Exchange | None:
        """The exchange whose page body the deadline cut, as it may still be judged
        (`judged_when_cut`), or None when no body was being read or too little came."""
        reading, method = self.reading, self.method
        if reading is None or method is None:
            return None
        cut = judged_when_cut(b"".join(reading.chunks), reading.headers)
        if cut is None:
            return None
        body, truncated, how = cut
        answer = Answer(reading.url, reading.status, reading.headers, body, truncated, how)
        return Exchange(
            method,
            chain=(*self.chain, Hop(reading.url, reading.status)),
            answer=answer,
            retries=tuple(self.retries),
            conditional=reading.conditional,
        )

    def snapshot(self) -> tuple[Exchange, ...]:
        """The finished exchanges plus the one cut short, if any."""
        done = tuple(self.exchanges)
        if self.method is None:
            return done
        chain = tuple(self.chain)
        if self.current is not None and self.heard is not None:
            chain = (*chain, Hop(self.current, self.heard))
        partial = Exchange(self.method, chain=chain, retries=tuple(self.retries))
        return (*done, partial)


@dataclass
class Reading:
    """A 2xx answer whose body is being read, with the decoded bytes so far."""

    url: str
    status: int
    headers: httpx.Headers
    #: The request carried validators (If-None-Match / If-Modified-Since).
    conditional: bool
    chunks: list[bytes] = field(default_factory=list)


#: Bytes of a page body that must have come by the URL's deadline for the body to be
#: judged on them (`judged_when_cut`), and the bytes it is then judged on, however many
#: more came: always the same prefix (a faster night reads more, so what they hash is
#: compared with the server's validators instead: `checker._observe`). 256 KiB hold the
#: head and first screens of a page (its title, its words for drift and soft-404s) and a
#: file's opening. In the 45 s a URL has, it asks the server for about 6 KB/s on average,
#: a dial-up modem's speed; slower (a trickle, a byte a second) is a timeout.
SLOW_BODY_BYTES = 256 * 1024


def judged_when_cut(body: bytes, headers: httpx.Headers) -> tuple[bytes, bool, Cut] | None:
    """What a page body cut short by the URL's deadline is judged on: (body, truncated,
    how), or None when what came is not enough.

    A whole HTML document that the server never ended (`document_end`) is the page, as
    when it breaks the answer off. A body that came steadily (the read timeout never
    fired) and reached `SLOW_BODY_BYTES` is judged on those bytes, as a body cut at the
    byte cap: a 4 MB report served at 150 KB/s was "timeout", its fingerprint never
    taken, so each night read it again and the third confirmed a working link broken."""
    end = document_end(body, headers.get("content-type"))
    if end is not None:
        return body[:end], False, Cut.STALLED
    if len(body) >= SLOW_BODY_BYTES:
        return body[:SLOW_BODY_BYTES], True, Cut.SLOW
    return None


def conditional_headers(previous: Previous | None) -> dict[str, str]:
    """The validators the last read gave, to send back; none when they stand for a read
    whose GET gave none (`stands_in`), and one that is not printable ASCII is left out.

    A GET is sent to read the page: a validator no GET of it gave may be answered 304 for a
    page the server never compared with it. A CDN that rewrites a page's HTML drops the
    ETag from GET and keeps on HEAD one that never changes: sent back, it was answered 304
    at every weekly read, and a page replaced by another passed as "OK" for good. A
    validator a GET gave is sent (an unchanged page costs a 304, not its bytes).

    A server's ETag or Last-Modified with a byte past ASCII ('"café"') is stored as the
    text httpx decoded, which httpx refuses to send in a header: every later GET of the
    URL failed before it was sent ("the checker itself failed"), a working link read as
    broken night after night. Without the validator the page is simply read again."""
    if previous is None or stands_in(previous):
        return {}
    headers = {}
    if _sendable(previous.etag):
        headers["If-None-Match"] = previous.etag
    if _sendable(previous.last_modified):
        headers["If-Modified-Since"] = previous.last_modified
    return headers


def _sendable(value: str | None) -> TypeGuard[str]:
    return bool(value and value.isascii() and value.isprintable())


async def _awaited(waiting: Awaitable[object]) -> None:
    await waiting


def _ordinary(answer: Answer | None) -> bool:
    """Whether a journey ended in an answer a host gives when it is up (`HostGate.answered`),
    wherever its redirects led: a GET sent to a host whose HEAD said 503 and redirected
    to the file on a download host brought a page, which its own host's count of answers
    never hears."""
    return answer is not None and answer.status not in (429, 503)


def _page(answer: Answer | None) -> bool:
    """Whether a GET brought the page (2xx) or said it is unchanged (304)."""
    return answer is not None and (200 <= answer.status < 300 or answer.status == 304)


def _ended_at(get: Exchange, host: str) -> bool:
    """Whether a GET's journey ended in silence or a refusal of `host` itself, not at a
    stop or on another site it redirected to. Only then is a HEAD's 503 "come back later"
    the host's word (`Fetcher.fetch`): a host that sends GET elsewhere routes requests,
    and a link whose GET went to a site that does not answer leads nowhere, whatever its
    host's HEAD said. Read as the host's 503, two such links held the host for the night
    and read "host unavailable" themselves (`checker._Run._judge_told`)."""
    if get.stop is not None:
        return False
    final = parse_url(get.final_url) if get.final_url is not None else None
    return not isinstance(final, CheckedUrl) or final.host == host


def needs_get(head: Exchange) -> bool:
    """Whether a HEAD result leaves the question open, so GET must ask again."""
    if head.stop is not None:
        match head.stop:
            case Stop.PRIVATE | Stop.UNRESOLVED:
                return False  # GET would meet the same wall
            case Stop.REDIRECT_LOOP | Stop.TOO_MANY_REDIRECTS | Stop.BAD_LOCATION:
                return True  # some servers only redirect oddly on HEAD
            case _:
                assert_never(head.stop)
    if head.error is not None:
        kind = describe_error(head.error).kind
        match kind:
            case FailureKind.TIMEOUT | FailureKind.RESET | FailureKind.OTHER:
                return True  # servers that hang up on or mangle HEAD exist
            case FailureKind.DNS | FailureKind.REFUSED | FailureKind.TLS:
                return False
            case FailureKind.INVALID_URL:
                return False
            case _:
                assert_never(kind)
    if head.held is not None:
        # Not sent: the host told other URLs to come back later (a 429, or 503s).
        return False
    if head.refused_wait is not None:
        # Asked to come back later than we wait. A 429 says we ask too often: GET would
        # hear the same (`_head` explains why). A 503 says the site is unavailable for now,
        # yet some serve GET when HEAD fails so: GET asks, as after a HEAD 500.
        return head.status == 503
    status = head.status
    # A 304 answers a conditional request only: HEAD never asks one, so a HEAD's 304
    # vouches for nothing (it passed as "unchanged since the last check", with no check
    # before it), and GET asks again.
    return status is None or not (200 <= status < 300 or (status == 304 and head.conditional))


#: A HEAD's Content-Length this far from the last one, in both ratio and bytes, is another
#: page: a parking page of 3 KB for a report of 60 KB. Pages that print the time or a
#: counter move by a few bytes, and are not fetched for that.
LENGTH_CHANGE_RATIO = 0.25
LENGTH_CHANGE_BYTES = 1024
#: A Last-Modified this close to the answer's own Date is "now": dynamic pages send that
#: with every answer, and it says nothing about their content.
LAST_MODIFIED_IS_NOW_S = 60


def _said_now(modified: datetime, headers: httpx.Headers) -> bool:
    """Whether `modified` (the answer's Last-Modified) is only its own time: within
    `LAST_MODIFIED_IS_NOW_S` of its Date. Without a Date nothing says so."""
    said_at = http_date(headers.get("date"))
    return said_at is not None and (said_at - modified).total_seconds() <= LAST_MODIFIED_IS_NOW_S


def changed_since(previous: Previous | None, head: Exchange) -> bool:
    """Whether a HEAD between fingerprints says the page is no longer the one we read, so
    that it is fetched at once: a domain taken over the night after a fingerprint would
    otherwise pass as the resource, "OK", until the next fingerprint is due
    (`fingerprint_max_age_days`).

    Only signals that do not move on every answer count: a permanent redirect to an
    address the read did not reach (`_moved_for_good`), another strong ETag (weak ones
    are what frameworks compute over bodies with a token in them), a later Last-Modified
    that is not just the answer's own time, another media type, a length far from the
    last. A header missing on either side says nothing (servers leave them off HEAD),
    except for a web page whose HEAD carries no validator (`_blind`): there a length more
    than `BLIND_NOISE_BYTES` from the last sends the read; and validators that appear
    where the read had nothing to compare with (`_validators_appeared`) send it once."""
    answer = head.answer
    if previous is None or answer is None or not 200 <= answer.status < 300:
        return False
    if _moved_for_good(previous, head.chain):
        return True
    headers = answer.headers
    if _validators_appeared(previous, headers):
        return True
    etag, before_tag = headers.get("etag"), previous.etag
    if etag and before_tag and _strong(etag) and _strong(before_tag) and etag != before_tag:
        return True
    if _modified_later(headers, previous.last_modified):
        return True
    kind = media_type(headers.get("content-type"))
    if kind and media_type(previous.content_type) not in (None, kind):
        return True
    length, before = content_length(headers), previous.content_length
    if _blind(previous, headers, kind or media_type(previous.content_type)):
        # A HEAD without a length (chunked, gzip: most dynamic sites) or "0" says nothing
        # of a change: read every night, every such page cost its full size and a soft-404
        # judgement a night. A few bytes either way is a date or a token.
        return bool(length and before is not None and abs(length - before) > BLIND_NOISE_BYTES)
    if not length or before is None:  # a HEAD's "Content-Length: 0" is a server's shortcut
        return False
    moved = abs(length - before)
    return moved > LENGTH_CHANGE_BYTES and moved > LENGTH_CHANGE_RATIO * max(length, before)


#: Media types of web pages: a new page at the old address keeps their type.
WEB_PAGES = frozenset(("text/html", "application/xhtml+xml"))
#: How far a validator-less web page's length may move from night to night and still be
#: the same page (`changed_since`): a date ("Dec 9" to "Dec 10"), a counter or a token.
BLIND_NOISE_BYTES = 32


def _blind(previous: Previous, headers: httpx.Headers, kind: str | None) -> bool:
    """Whether a HEAD can see nothing of a web page's change but its length: neither it nor
    the read before it carried an ETag or a Last-Modified but "now". Such a page is read
    again when the HEAD gives no length or another length than the last, by however
    little: an unavailable video, the 2018 report's address serving the 2025 edition, a
    training page redesigned about something else each answered 200 with a length a few
    hundred bytes off, and passed as "OK" for six nights until the weekly read. A
    page whose length stays (or whose HEAD gives none) is not read again before its
    fingerprint is due, so a site of static pages costs no more; one whose read had
    validators is left to them."""
    if kind not in WEB_PAGES or headers.get("etag") or previous.etag:
        return False
    modified = http_date(headers.get("last-modified"))
    if modified is None:
        return previous.last_modified is None
    return _said_now(modified, headers)


def _validators_appeared(previous: Previous, headers: httpx.Headers) -> bool:
    """Whether a HEAD carries an ETag or a Last-Modified (not "now") where the read before
    it had neither, nor a length: the page is read once, so that what the server now says
    of it is the read's, for the next nights to compare with.

    A site that sent no validator and no length (a dynamic page, chunked) gives a HEAD
    nothing to compare: a new owner's server sending ETags passed as the resource, "OK",
    until the weekly read, since another ETag needs one on both sides and `_blind` a
    stored length. A server with validators on GET keeps them after that read, so its
    HEADs compare as any other's; one that sends them on HEAD alone has that night's
    HEAD's kept as the read's, and through its weekly reads (`validators_of_read`), so its
    next HEADs compare with a HEAD's: no second read the night after each weekly one."""
    if previous.etag or previous.last_modified or previous.content_length is not None:
        return False
    if previous.read_after_head:
        return False
    etag, modified = _validators(headers)
    return bool(etag or modified)


def _validators(headers: httpx.Headers) -> tuple[str | None, str | None]:
    """A HEAD's ETag and its Last-Modified unless that is "now" (dynamic pages stamp every
    answer with the time: no validator)."""
    modified = http_date(headers.get("last-modified"))
    if modified is not None and not _said_now(modified, headers):
        return headers.get("etag") or None, headers.get("last-modified")
    return headers.get("etag") or None, None


def validators_of_read(
    previous: Previous | None, head: httpx.Headers | None
) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified to keep for a read (a 2xx GET) that carried none and no
    length: those of the HEAD before it that night (`head`), or with no HEAD (a weekly
    read) those the last read kept when it had no length either; else none. Either way
    they stand in for the read's own, and are marked so (`STANDS_IN`): compared with the
    next HEADs, never sent back (`conditional_headers`).

    A dynamic page sent chunked with no validator whose HEAD carries an ETag (a CDN that
    rewrites the page's HTML drops it from GET) was read the night its ETag appeared
    (`_validators_appeared`), and again the night after each weekly read, which had left
    nothing to compare with: six reads in three weeks for three. The HEAD's validators
    are of the version read that night (HEAD and GET a moment apart), and another HEAD
    ETag later sends the read, as a GET's would. But the GET never gave them: a server
    may answer them 304 whatever its page has become, so the weekly read asks for the
    page itself."""
    if head is not None:
        return _standing_in(*_validators(head))
    if previous is None or previous.content_length is not None:
        return None, None
    return _standing_in(previous.etag, previous.last_modified)


#: What marks validators that stand in for a read whose GET gave none
#: (`validators_of_read`): the stored Last-Modified ends with it, after the date when there
#: is one. Parsed as a date, it is a comment (RFC 5322), which the parser skips, so the
#: date still compares with the next HEADs' and staleness reads it; as text it is no
#: validator a server gave, and is never sent (`conditional_headers`). Stored in the
#: Last-Modified, not the ETag, because ETags compare as text. No column, no migration.
STANDS_IN = "(HEAD)"


def stands_in(previous: Previous) -> bool:
    """Whether the validators `previous` holds stand in for a read's (`STANDS_IN`)."""
    return bool(previous.last_modified and previous.last_modified.endswith(STANDS_IN))


def _standing_in(etag: str | None, modified: str | None) -> tuple[str | None, str | None]:
    """`etag` and `modified` marked as standing in for a read's (`STANDS_IN`); the date in
    the canonical form, so that the mark is never cut off with an overlong header. A date
    that is none in UTC (year 9999 west of Greenwich) is left out."""
    if not etag and not modified:
        return None, None
    if modified and modified.endswith(STANDS_IN):
        return etag, modified
    date = http_date(modified)
    try:
        said = format_datetime(date.astimezone(UTC), usegmt=True) if date else None
    except OverflowError:
        said = None
    return etag, f"{said} {STANDS_IN}" if said else STANDS_IN


def _moved_for_good(previous: Previous, chain: tuple[Hop, ...]) -> bool:
    """Whether a HEAD was sent on by a permanent redirect (301, 308) to an address the read
    neither ended at nor passed through: the 2018 report's address that began to answer 301
    to the 2024 edition showed the 2018 page's title beside the new address for a week,
    never compared with its entry (r2 F2). Addresses are compared as `checker._observe`
    stores them (without signatures and session ids) and in canonical form, and with every
    address the read passed: an old http:// link's 301 to the share link that then hands
    out a download token is the same journey.

    Only a permanent redirect says the page has moved. A temporary one may lead somewhere
    new at every request (a download token in the path, a random `?sid=`, mirrors in
    turn), and a redirect gone is what a server that redirects GET alone shows every night
    (a download script sending its Location to GET only, a trailing-slash 301 given to GET
    while HEAD is answered where it asked): compared with the read, each read the page
    every night, for ever. A parking page where a redirect was still differs in
    length or media type. A read sent after a HEAD is not repeated for its address
    before the fingerprint is due: after a move was read, the HEAD leads where that read
    went, so a HEAD that still leads elsewhere ends apart from GET (a permanent redirect
    to a token, a redirect to HEAD alone), and asking again would loop the same way."""
    if not previous.final_url or previous.read_after_head:
        return False
    targets = [after.url for hop, after in pairwise(chain) if hop.status in PERMANENT_REDIRECTS]
    if not targets:
        return False
    reached = {address_key(url) for url in (*previous.read_via, previous.final_url)}
    return any(address_key(url) not in reached for url in targets)


def _strong(etag: str) -> bool:
    return not etag.lstrip().startswith(("W/", "w/"))


def _modified_later(headers: httpx.Headers, before: str | None) -> bool:
    modified, old = http_date(headers.get("last-modified")), http_date(before)
    if modified is None or old is None or modified <= old:
        return False
    return not _said_now(modified, headers)


async def read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` decoded bytes of the body, and whether there was more.

    httpx would inflate each compressed chunk whole (a 64 KiB chunk of a gzip bomb is
    64 MiB), so gzip and deflate are inflated here with `max_length` instead.
    """
    chunks: list[bytes] = []
    truncated = await _read_into(chunks, response, limit)
    return b"".join(chunks), truncated


async def _read_into(chunks: list[bytes], response: httpx.Response, limit: int) -> bool:
    """`read_capped`, putting the decoded bytes into `chunks` as they come, so that what
    came is kept when the body breaks off (`read_page_body`)."""
    if response.is_stream_consumed:  # already read by a mock transport (respx, MockTransport)
        chunks.append(response.content[:limit])
        return len(response.content) > limit
    inflater = _Inflater.for_encoding(response.headers.get("content-encoding"))
    size = 0
    async for raw in response.aiter_raw():
        room = limit - size
        chunk = inflater.inflate(raw, room + 1) if inflater else raw
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return True
        chunks.append(chunk)
        size += len(chunk)
    return False


async def read_page_body(
    response: httpx.Response, limit: int, chunks: list[bytes] | None = None
) -> tuple[bytes, bool, Cut | None]:
    """`read_capped` for a page (a 2xx), and whether the server broke the answer off, or
    went quiet for the read timeout without ending it, after a whole HTML document had
    come (`document_end`): the document is the answer then. `chunks` receives the decoded
    bytes as they come (`Progress.cut_read`).

    Behind a server that breaks its chunked encoding after the page, or a proxy that
    closes early, browsers show the page: it was "connection reset", confirmed broken,
    with the advice to replace a working link. So they do behind one that never sends the
    last chunk, or announced a longer body (PHP at its shutdown work): that was "timeout",
    retried and confirmed broken the same way. A body broken off or stalled anywhere else
    (before `</html>`, a PDF, any other file) is the failure it was.
    """
    chunks = [] if chunks is None else chunks
    try:
        truncated = await _read_into(chunks, response, limit)
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
        body = b"".join(chunks)
        end = document_end(body, response.headers.get("content-type"))
        if end is None:
            raise
        # The page as it ended: the bytes of the broken chunk after it are no part of it
        # (and would move its fingerprint from night to night).
        stalled = isinstance(exc, httpx.ReadTimeout)
        return body[:end], False, Cut.STALLED if stalled else Cut.BROKEN_OFF
    return b"".join(chunks), truncated, None


#: The end of an HTML document, and what may follow it in a body that breaks off: the
#: start of a next chunk's bytes with no tag in them (a tag, a document going on).
_DOCUMENT_END = re.compile(rb"</html\s*>", re.IGNORECASE)
_TAG = re.compile(rb"<[a-zA-Z/]")


def document_end(body: bytes, content_type: str | None) -> int | None:
    """Where the HTML document `body` opens ends, when it came whole: the end of its last
    `</html>`, followed by no tag (one in a script's string, early in a page, is); None
    for a body that is no HTML page or was not sent to its end."""
    if not reads_as_html(content_type, body):
        return None
    end = max((found.end() for found in _DOCUMENT_END.finditer(body)), default=None)
    if end is None or _TAG.search(body, end) is not None:
        return None
    return end


async def read_error_body(
    response: httpx.Response, limit: int, within: float | None = None
) -> tuple[bytes, bool]:
    """`read_capped` for an answer that is no page (an error, a 300 ...): its body is only
    sniffed for a bot wall, so a body that breaks off, fails to inflate or takes longer
    than `within` seconds is no body, and the status the server gave stands (a 404 was
    judged "connection reset"; a 404 whose page trickled a byte a second, never quiet
    long enough for the read timeout, "timed out" at the URL's deadline)."""
    try:
        async with asyncio.timeout(within):
            return await read_capped(response, limit)
    except (httpx.HTTPError, TimeoutError):
        return b"", True


#: The Content-Encodings browsers decode (Chromium's `SourceStream` types); they pass any
#: other through undecoded.
_BROWSER_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})
#: ... and those of them we inflate, with a bound.
_INFLATED = frozenset({"gzip", "x-gzip", "deflate"})
#: Layers of coding undone at most (a bound of ours: each costs a zlib window); a body
#: coded more times over is opaque.
MAX_CODINGS = 3
#: Bytes an inner layer is handed at once (`_Layers`), and at most, per byte it may give.
LAYER_STEP = 64 * 1024
LAYER_FEED = 32


def _codings(header: str | None) -> list[str]:
    """The codings a Content-Encoding names, in the order they were applied."""
    codings = [c.strip().lower() for c in (header or "").split(",")]
    return [c for c in codings if c and c != "identity"]


class _Inflater:
    """Bounded gzip/deflate decoding (the only encodings we ask for)."""

    def __init__(self, wbits: int, deflate: bool) -> None:
        self._object = zlib.decompressobj(wbits)
        #: A "deflate" body's first bytes, kept until two of them tell a zlib header from
        #: raw deflate (None once they have, or for gzip).
        self._head: bytes | None = b"" if deflate else None

    @classmethod
    def for_encoding(cls, header: str | None) -> _Inflater | _Layers | None:
        """The decoder of a body coded as `header` says, or None to keep its bytes as sent
        (identity, or an encoding we did not ask for)."""
        codings = _codings(header)
        if not codings or len(codings) > MAX_CODINGS or not set(codings) <= _INFLATED:
            return None
        layers = [cls._one(coding) for coding in reversed(codings)]  # the last applied first
        return layers[0] if len(layers) == 1 else _Layers(layers)

    @classmethod
    def _one(cls, coding: str) -> _Inflater:
        if coding == "deflate":
            return cls(zlib.MAX_WBITS, deflate=True)
        return cls(zlib.MAX_WBITS | 16, deflate=False)

    @staticmethod
    def unreadable(header: str | None) -> bool:
        """Whether a Content-Encoding leaves the body as bytes we cannot decode.

        Only codings browsers decode do: a coding they do not know ("none", "UTF-8",
        "text", anywhere in the list) makes Chrome show the body as sent, and so do we.
        Called opaque, a 200 titled "Page not found" sent with "Content-Encoding: none"
        was no soft 404 but a working link without a title."""
        codings = _codings(header)
        if not codings or not set(codings) <= _BROWSER_CODINGS:
            return False
        return len(codings) > MAX_CODINGS or not set(codings) <= _INFLATED

    def inflate(self, data: bytes, max_length: int) -> bytes:
        """Up to `max_length` bytes inflated from `data`, the body's next bytes.

        A "deflate" body is often sent raw, without the zlib header: its first two bytes
        say which (as Chromium sniffs them). Deciding on the first read alone failed a raw
        body whose first read was one byte (zlib waits for a second without error), and
        the page was "could not be decoded"."""
        if self._head is not None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return b""
            self._head = None
            if not _zlib_header(data):
                self._object = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._decompress(data, max_length)

    def steps(self, data: bytes, step: int) -> Iterator[bytes]:
        """All that `data` inflates to, `step` bytes at a time (what `inflate` leaves
        over is inflated too, not dropped)."""
        piece = self.inflate(data, step)
        while True:
            if piece:
                yield piece
            tail = self._object.unconsumed_tail
            if not tail:
                return
            piece = self._decompress(tail, step)

    @property
    def ended(self) -> bool:
        """Whether its stream has ended (what follows is no part of it)."""
        return self._object.eof

    def _decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            return self._object.decompress(data, max_length)
        except zlib.error as exc:
            raise httpx.DecodingError(f"the compressed body is corrupt ({exc})") from exc


class _Layers:
    """A body coded more than once ("Content-Encoding: gzip, gzip": a server compressing
    a file it stores compressed), undone layer by layer from the last applied, as browsers
    do (Chromium chains a decoder per coding). Read with one layer undone, such a page
    was bytes without a title, never judged (a soft 404 passed as a working link).

    Each outer layer hands the next `LAYER_STEP` bytes at a time, so a bomb in any layer
    is never inflated whole; the innermost stops at `max_length` as `_Inflater` does, and
    at its own end (bytes fed past a finished stream pile up in zlib's `unused_data`); the
    outer layers stop after handing it `LAYER_FEED` times `max_length` (an inner stream of
    empty blocks consumes without giving anything, and all of it runs on the event loop).
    """

    def __init__(self, layers: list[_Inflater]) -> None:
        self._layers = layers  # the first to undo first

    def inflate(self, data: bytes, max_length: int) -> bytes:
        *outer, inner = self._layers
        out: list[bytes] = []
        size = fed = 0
        for piece in self._through(outer, data):
            chunk = inner.inflate(piece, max_length - size)
            out.append(chunk)
            size += len(chunk)
            fed += len(piece)
            if size >= max_length or inner.ended or fed > LAYER_FEED * max_length:
                break
        return b"".join(out)

    def _through(self, layers: list[_Inflater], data: bytes) -> Iterator[bytes]:
        if not layers:
            yield data
            return
        first, *rest = layers
        for piece in first.steps(data, LAYER_STEP):
            yield from self._through(rest, piece)


def _zlib_header(data: bytes) -> bool:
    """Whether `data` opens with a zlib header (RFC 1950: deflate, a window of at most
    32 KiB, and a check that makes the two bytes a multiple of 31)."""
    method, flags = data[0], data[1]
    return method & 0x0F == 8 and method >> 4 <= 7 and (method << 8 | flags) % 31 == 0


class Fetcher:
    """Sends the requests of one `check_targets` call; shares its client and caches."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: CheckSettings,
        politeness: Politeness,
        *,
        addresses: AddressBook,
        clock: Clock,
        sleep: Sleep,
        idle: Callable[[Awaitable[object]], Awaitable[None]] | None = None,
        chain_trust: ChainTrust | None = None,
    ) -> None:
        self.client = client
        #: Intermediates servers leave out, fetched as browsers do (None: a test's transport).
        self.issuers = Issuers(chain_trust, self.issuer_body) if chain_trust else None
        self.settings = settings
        self.politeness = politeness
        self.addresses = addresses
        #: (host, port) -> why its address is not to be requested, or None when it may be.
        self._forbidden: dict[tuple[str, int], str | None] = {}
        self.clock = clock
        self.sleep = sleep
        #: Awaits a wait that sends nothing with the URL's run-wide slot let go (`Slots.idle`).
        self.idle = idle or _awaited
        #: HEAD and probe requests are sent once each (`_head` repeats them itself).
        self._once = replace(settings, max_attempts=1)
        #: What `client.build_request` would add to each request, worked out once.
        self._timeout = client.timeout.as_dict()

    async def fetch(self, target: Target, url: str, progress: Progress) -> None:
        """HEAD then maybe GET (or GET alone), appending each `Exchange` to `progress`."""
        visit, word = None, None
        if not target.fingerprint_due:
            head, owner = await self._head(url, progress)
            word = self._heads_word(head)
            progress.exchanges.append(head)
            progress.method = None
            if not needs_get(head) and not changed_since(target.previous, head):
                return
            if not progress.may_connect():
                return  # the server took no connection in the time it had: nor would GET's
            if head.refused_wait is not None:
                # The one GET after a HEAD told to come back later (503) goes at once, as
                # after a HEAD 500: a pause that answer set (a Retry-After within the cap
                # but past the deadline; a longer one sets none, `_heed`) holds the host's
                # other URLs, and waiting it out here would double the time they take.
                visit = owner
        get = await self.follow(
            "GET",
            url,
            progress=progress,
            headers=conditional_headers(target.previous),
            owner=visit,
        )
        progress.exchanges.append(get)
        progress.method = None
        if word is None or not _ended_at(get, word[0].host):
            return  # no word, or the GET's end was another site's (or a stop)
        gate, away, since = word
        if get.held is not None:
            # Held: the host went away on two other paths' word while this HEAD was out.
            # Its 503 was said to this link too: asked, the link reads as they do
            # (`classify._told`), not as one that sent nothing (`Observation.held`).
            if get.held.status == 503:
                progress.said = gate, since
            return
        if _page(get.answer):
            gate.refuses_head()  # a page after the HEAD's 503: the host refuses HEAD alone
        elif not _ordinary(get.answer):
            gate.strike(away, since)  # no page came since: the HEAD's word stands
            progress.said = gate, since

    def _heads_word(self, head: Exchange) -> tuple[HostGate, Away, int] | None:
        """A HEAD's 503 "come back later" than a check waits, as the host's word (`_heed`):
        its gate, the word, and the host's `answers` when it was said. It is taken once the
        GET after it is done, unless the host answered a request as it does when it is up
        in the meantime, that GET first (`HostGate.strike`'s `since`).

        Taken at once, several URLs' HEADs, asked together, said it before any GET could
        answer, and a host that serves GET and refuses only HEAD so was held for the night.
        Never taken, a site in maintenance whose GET hangs (or answers a bare 503) was
        asked at every URL, HEAD and three GETs each, up to a URL's whole deadline."""
        answer, wait = head.answer, head.refused_wait
        if answer is None or answer.status != 503 or head.stop is not None:
            return None
        if wait is None or wait <= self.settings.retry_after_cap:
            return None  # waited out, or past the URL's deadline only: no word of the host
        checked = parse_url(answer.url)
        if isinstance(checked, UrlProblem):
            return None
        gate = self.politeness.gate(checked.host)
        return gate, Away(503, wait, answer.url), gate.answers

    async def _head(self, url: str, progress: Progress) -> tuple[Exchange, object]:
        """HEAD, repeated only while the server says "not now" (429, 503), with the owner
        (`follow`) of the last one sent.

        Any other failure sends us to GET at once (servers that mishandle HEAD exist), but
        a busy or rate-limiting server would answer GET the same way, and GET would then
        download the whole page only to learn it is still there. Each repeat is a journey
        of its own, so the host's gate holds it for the pause the last answer asked for.
        """
        once = self._once
        owner = object()
        head = await self.follow("HEAD", url, progress=progress, settings=once, owner=owner)
        notes: list[RetryNote] = []
        for attempt in range(1, self.settings.max_attempts):
            answer = head.answer
            if answer is None or answer.status not in (429, 503) or head.stop is not None:
                break
            wait = retry_after_seconds(answer.headers, self.clock())
            tried = Attempt("HEAD", answer.url, answer=answer, retry_after=wait)
            if not should_retry(tried, self.settings, progress.left()):
                break
            if wait is None:  # with a Retry-After the host gate holds our next request
                wait = min(
                    self.settings.backoff_max, self.settings.backoff_initial * 2 ** (attempt - 1)
                )
                await self.sleep(wait)
            notes.append(RetryNote(str(answer.status), tried.retry_after, wait))
            owner = object()
            head = await self.follow("HEAD", url, progress=progress, settings=once, owner=owner)
        return (replace(head, retries=(*notes, *head.retries)) if notes else head), owner

    async def probe(self, url: str, within: float) -> Probe | None:
        """One GET of a made-up URL, no retries, in `within` seconds; any failure is just
        "no probe answer". None: out of time (whether that is the host's doing is the
        caller's to say: `soft404.probe_cut_short`)."""
        once = self._once
        try:
            async with asyncio.timeout(within):
                exchange = await self.follow(
                    "GET", url, progress=Progress(), settings=once, speaks=False
                )
        except TimeoutError:
            return None
        answer = exchange.answer
        if answer is None:
            return Probe(url, None, None)
        page = await read_page(answer) if 200 <= answer.status < 300 else None
        return Probe(url, answer.status, page)

    async def ask_again(self, gate: HostGate, url: str, progress: Progress) -> bool:
        """Whether a host held for its silence (`HostGate.unanswered_link`) answers now: one
        GET of `url`, a link it held, with the hold lifted for it alone (`HostGate.
        lift_silence`), no retry and no redirect followed, waiting for its answer to begin
        as long as a link's deadline allows; its exchange goes to `progress` (none when
        the deadline cut it). Any answer, whatever its status, is the host's (`_send`),
        which ends the hold. A GET, not a HEAD: some servers hang on HEAD alone."""
        if progress.asker is None:
            progress.asker = Asker()
        gate.lift_silence(progress.asker)
        settings = replace(self._once, max_redirects=0)
        deadline = asyncio.timeout(self.settings.total_timeout)
        with contextlib.suppress(TimeoutError):
            async with deadline:
                progress.deadline, progress.timeout = deadline.when(), deadline
                progress.exchanges.append(
                    await self.follow("GET", url, progress=progress, settings=settings)
                )
                progress.method = None
        return not gate.silent()

    async def issuer_body(self, url: str) -> bytes | None:
        """A CA's certificate file for `issuers.Issuers`: one GET, no retries, after the
        address check every URL gets (the address comes from a server's certificate)."""
        exchange = await self.follow("GET", url, progress=Progress(), settings=self._once)
        answer = exchange.answer
        if answer is None or not 200 <= answer.status < 300 or answer.truncated:
            return None
        return answer.body

    async def follow(
        self,
        method: str,
        url: str,
        *,
        progress: Progress,
        headers: dict[str, str] | None = None,
        settings: CheckSettings | None = None,
        owner: object | None = None,
        speaks: bool = True,
    ) -> Exchange:
        """Request `url` and every redirect after it, by hand. `owner` identifies the
        journey to the host gates (a new one by default): a pause it caused (Retry-After)
        is waited out by its own retry, so the gate must not make it wait twice.
        `speaks`: whether a host's answer that it is away stands for its other URLs
        (`_heed`); a soft-404 probe's, to an address made up, does not. Any other answer
        of the host's is its word that it is up (`HostGate.answered`), a probe's too."""
        settings = settings or self.settings
        headers = headers or {}
        progress.method, progress.chain, progress.retries = method, [], []
        chain, retries = progress.chain, progress.retries
        conditional = bool(headers)
        jar = httpx.Cookies()
        owner = owner if owner is not None else object()
        #: URL -> the cookies the journey held when it requested it.
        visited: dict[str, frozenset[tuple[str, str, str, str | None]]] = {}
        current = url
        checked = parse_url(current)
        base = functools.partial(Exchange, method, conditional=conditional)

        def done(**fields: Any) -> Exchange:
            return base(chain=tuple(chain), retries=tuple(retries), **fields)

        for _ in range(settings.max_redirects + 1):
            if isinstance(checked, UrlProblem):
                return done(stop=Stop.BAD_LOCATION, stop_detail=checked.reason, stop_url=current)
            refusal = await self._refuse(checked)
            if refusal is not None:
                stop, detail, error = refusal
                return done(stop=stop, stop_detail=detail, stop_url=current, error=error)
            visited[checked.canonical] = _cookie_state(jar)
            gate = self.politeness.gate(checked.host)
            send = functools.partial(
                self._send, gate, method, current, headers, jar, owner, progress, settings, speaks
            )
            progress.current, progress.heard = current, None
            # Notes go straight into `retries`, so a deadline during the retries keeps them.
            attempt, _ = await with_retries(
                send,
                settings,
                sleep=self.sleep,
                left=progress.left,
                notes=retries,
                again=progress.may_send,
            )
            if attempt.held is not None:
                # The host's answer to another URL stands for this one's (`HostGate.away`).
                chain.append(Hop(current, attempt.held.status))
                progress.current = None
                return done(held=attempt.held)
            answer = attempt.answer
            if answer is None:
                # `heard`: the answer's status, when its body broke off (the last attempt's).
                chain.append(Hop(current, progress.heard))
                progress.current = None
                return done(error=attempt.error)
            progress.current = None
            chain.append(Hop(current, answer.status))
            locations = locations_of(answer.headers) if answer.status in REDIRECT_STATUSES else ()
            if not locations:
                wait = refused_wait(attempt, settings, progress.left())
                return done(answer=answer, refused_wait=wait)
            if len(locations) > 1:
                # Browsers refuse an answer that names two places to go (Chrome:
                # ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION); joined, they are neither.
                return done(
                    stop=Stop.BAD_LOCATION,
                    stop_detail="the answer names more than one Location",
                    stop_url=" and ".join(sorted(locations)),
                )
            (location,) = locations
            try:
                following = str(httpx.URL(current).join(location))
            except (httpx.InvalidURL, ValueError, TypeError) as exc:
                return done(stop=Stop.BAD_LOCATION, stop_detail=str(exc), stop_url=location)
            if len(following) > MAX_LOCATION_CHARS:
                return done(
                    stop=Stop.BAD_LOCATION,
                    stop_detail=f"the address is {len(following):,} characters long, longer "
                    f"than web servers read ({MAX_LOCATION_CHARS:,})",
                    stop_url=following,
                )
            if sum(len(hop.url) for hop in chain) + len(following) > MAX_CHAIN_CHARS:
                return done(stop=Stop.TOO_MANY_REDIRECTS, stop_url=following)
            if "@" in following and as_browsers_request(following) != following:
                # Credentials a site's redirect names are never sent (browsers ask first).
                return done(
                    stop=Stop.BAD_LOCATION,
                    stop_detail="the URL embeds a user name or password",
                    stop_url=following,
                )
            next_checked = parse_url(following)
            if isinstance(next_checked, UrlProblem):
                return done(
                    stop=Stop.BAD_LOCATION, stop_detail=next_checked.reason, stop_url=following
                )
            # A redirect back to a URL already requested is a login/consent dance browsers
            # complete when a cookie was set since (here or at a hop between: "/page" ->
            # "/sso" sets the session -> "/page"); with the same cookies it is a loop.
            before = visited.get(next_checked.canonical)
            if before is not None and before == _cookie_state(jar):
                return done(stop=Stop.REDIRECT_LOOP, stop_url=following)
            current, checked = following, next_checked
        return done(stop=Stop.TOO_MANY_REDIRECTS, stop_url=current)

    async def _send(
        self,
        gate: HostGate,
        method: str,
        url: str,
        headers: dict[str, str],
        jar: httpx.Cookies,
        owner: object,
        progress: Progress,
        settings: CheckSettings,
        speaks: bool = True,
    ) -> Attempt:
        """One request; every exception a URL or server can cause becomes part of the facts.
        `progress.heard` is the status once the answer's head has come. None is sent while
        the host is away (`HostGate.away`): its answer to another URL is this one's."""
        progress.heard = progress.reading = None
        if (away := await self._away(gate, progress)) is not None:
            return Attempt(method, url, held=away)
        await gate.before_request(owner, self.sleep, progress.pausing)
        if (away := await self._away(gate, progress)) is not None:  # said while it waited
            return Attempt(method, url, held=away)
        issuers, endpoint, asked = self.issuers, None, None
        connect_left, sent_at = progress.connect_left, 0.0
        wait = self.answer_wait(method, progress, settings)
        begun = asyncio.get_running_loop().time() if wait is not None else 0.0
        try:
            request = self._request(method, url, headers, connect_left, wait)
            if jar:  # the stdlib cookie machinery is slow; skip it when there is nothing
                jar.set_cookie_header(request)
            if issuers is not None and request.url.scheme == "https":
                endpoint = (request.url.host, request.url.port or 443)
                if issuers.tried(*endpoint):
                    endpoint = None  # a failure now is the certificate's own
            if connect_left is not None:  # timed only while the wait to connect is bounded
                sent_at = asyncio.get_running_loop().time()
            asker = progress.asker
            if asker is None and gate.unanswered >= gate.silent_after:
                # To a silent host: its gate may let this check ask it again (`asking`).
                asker = progress.asker = Asker()
            # A probe's too: its ordinary answer is the host's (`answered`), worth waiting for.
            asked = gate.asking(asker)
            # Silent until its answer begins; a deadline's cancellation leaves it so.
            progress.unheard, progress.unheard_url = gate, url
            try:
                response = await self._transmit(request)
            except BaseException:  # a deadline's cancellation too: no answer will come
                gate.heard(asked)
                raise
        except Exception as exc:
            if not isinstance(exc, httpx.ConnectTimeout | httpx.ReadTimeout):
                progress.unheard = None  # refused, reset, TLS ...: quick, and no silence
            if wait is not None and isinstance(exc, httpx.ReadTimeout):
                # No answer began in all the time there was (not a timeout of another's).
                waited = asyncio.get_running_loop().time() - begun
                progress.waited_out = waited >= wait
            if connect_left is not None:
                if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    waited = asyncio.get_running_loop().time() - sent_at if sent_at else 0.0
                    progress.connect_left = max(0.0, connect_left - waited)
                else:  # it took the connection (a read timeout, a reset): no more bound
                    progress.connect_left = None
            if (
                issuers is not None
                and endpoint is not None
                and missing_issuer(exc)
                and await issuers.complete(*endpoint, within=progress.left())
            ):
                # Once more with the chain completed, spaced by the host's gate as ever.
                return await self._send(
                    gate, method, url, headers, jar, owner, progress, settings, speaks
                )
            if not isinstance(exc, httpx.HTTPError | OSError):
                # Not a network failure but most likely a bug of ours below httpx (a KeyError
                # in the pool table once passed for 444 dead links): recorded as a failed
                # request, and logged so that it is seen and reported.
                log.error("request to %s raised %r", url, exc, exc_info=exc)
            return Attempt(method, url, error=exc)
        progress.connect_left = None
        # Any answer, whatever its status: the host is not silent (`HostGate.unanswered_link`).
        progress.unheard = None
        gate.unanswered = 0
        try:
            if "set-cookie" in response.headers:
                keep_cookies(jar, response)
            status = progress.heard = response.status_code
            retry_after = retry_after_seconds(response.headers, self.clock())
            told = retry_after if status in (429, 503) else None  # "come back in ..."
            if told is not None and told <= settings.retry_after_cap:
                gate.pause(told, owner)
            body, truncated, cut = b"", False, None
            redirect = status in REDIRECT_STATUSES and "location" in response.headers
            if status not in (429, 503) and not redirect:
                # Up: a path's 503 before was its own (`HostGate.strike`). A probe's answer
                # too: a 404 to a made-up address is the host routing requests as when up.
                gate.answered()
            gate.heard(asked)  # as soon as its head came: URLs held meanwhile wait for it
            if method == "GET" and not redirect:
                if 200 <= status < 300:
                    # Kept on `progress` while it is read: a deadline judges what came.
                    reading = Reading(url, status, response.headers, bool(headers))
                    progress.reading = reading
                    body, truncated, cut = await read_page_body(
                        response, settings.max_body_bytes, reading.chunks
                    )
                    progress.reading = None
                else:
                    limit = min(settings.max_body_bytes, ERROR_BODY_BYTES)
                    within = min(settings.read_timeout, ERROR_BODY_SECONDS)
                    left = progress.left()
                    if left is not None:  # the rest of the URL's time is for its retries
                        within = min(within, left / 2)
                    body, truncated = await read_error_body(response, limit, within)
            answer = Answer(url, status, response.headers, body, truncated, cut)
            attempt = Attempt(method, url, answer=answer, retry_after=retry_after)
            if told is not None and told > settings.retry_after_cap:
                self._heed(gate, attempt, owner, settings, speaks)
            return attempt
        except Exception as exc:
            progress.reading = None  # a failed read is no page, whenever the deadline comes
            return Attempt(method, url, error=exc)
        finally:
            gate.heard(asked)
            # Closing a stream the server broke may fail too; there is nothing left to keep.
            with contextlib.suppress(Exception):
                await response.aclose()

    async def _away(self, gate: HostGate, progress: Progress) -> Away | None:
        """The host's word that it is away, if it said so, once the answers it was asked for
        before have come (`HostGate.away_once_answered`): within the URL's deadline, less
        the margin its own answer keeps (`ANSWER_MARGIN`).

        When one of them ends the hold, the time spent waiting for another URL's answer
        was the host's, not this URL's: the deadline moves back by as much (within its
        `grace`, as for a pause). Otherwise a slow page that ended the hold left the URLs
        that waited for it a fraction of their time, and a working link was a timeout.
        The run-wide slot is let go meanwhile (`idle`), as in a sleep. A silent host's hold
        waits for nothing: the requests out are most likely as silent as the links before
        them, and waiting for them would cost each held link their deadline; one that does
        answer ends the hold for the links after it."""
        if (away := gate.away(progress.asker)) is None:
            return None
        if away.status is None:
            return away
        left = progress.left()
        began = asyncio.get_running_loop().time()
        await self.idle(
            gate.away_once_answered(None if left is None else max(0.0, left - ANSWER_MARGIN))
        )
        if (away := gate.away(progress.asker)) is None:
            progress.push_back(asyncio.get_running_loop().time() - began)
        return away

    @staticmethod
    def _heed(
        gate: HostGate, attempt: Attempt, owner: object, settings: CheckSettings, speaks: bool
    ) -> None:
        """What a 429 or 503 asking for longer than a check waits (`retry_after_cap`) does
        to the host's other requests.

        Its pause used to be the cap: every URL of a site in maintenance (503, Retry-After
        7200) waited 30 s for it, then asked and was told the same, one after another, so
        that 100 URLs took 50 minutes. Now the host is away (`HostGate.away`): its other
        URLs take this answer as theirs, with no request and no wait.

        A 429 at once: it says we ask too often, which a server counts per client, not per
        page; asking its other pages anyway is what gets a checker blocked, and a 429 is a
        "Check by hand" night, never an unavailable one (`health._unavailable_since`). A 503
        once a second path has said so (`HostGate.strike`): one path of a site can be down
        while the rest serves. A HEAD's 503 too, but not here: some servers refuse only HEAD
        so, and GET asks at once after it (`fetch`), whose page would say the host is up;
        it is taken once that GET is done (`_heads_word`). Neither a soft-404 probe's
        answer (`speaks`) nor a bot wall's, which is no word to come back later
        (`refused_wait`): that holds the host for the cap, as before."""
        answer = attempt.answer
        assert answer is not None and attempt.retry_after is not None
        if refused_wait(attempt, settings) is None:
            gate.pause(settings.retry_after_cap, owner)
        elif not speaks or (attempt.method == "HEAD" and answer.status == 503):
            return
        elif answer.status == 429:
            gate.went_away(Away(429, attempt.retry_after, attempt.url))
        else:
            gate.strike(Away(answer.status, attempt.retry_after, attempt.url))

    def answer_wait(self, method: str, progress: Progress, settings: CheckSettings) -> float | None:
        """Seconds a GET waits for its answer to begin when the URL's deadline leaves it more
        than `read_timeout`: up to `ANSWER_MARGIN` before the deadline. None: the client's
        `read_timeout`, as for a HEAD, a request outside a URL's deadline (a probe, an
        issuer) or one sent with less time left (the deadline ends it then, as ever).

        A page that took 18 s to answer one night, well within the URL's 45 s (a person
        waits and sees it), was a timeout: the HEAD's 15 s ran out, the GET after it had
        15 s too, its retry ran into the deadline, and the link "started failing" for a
        night. Now the GET waits the 30 s left. A server that never answers is a timeout
        at the deadline as before, with one GET instead of three. A HEAD still waits
        `read_timeout`: servers that never answer HEAD exist, and the GET after it needs
        the rest of the URL's time. The wait ends before the deadline so that the request's
        own timeout says what the server did ("did not begin to answer")."""
        left = progress.left()
        if method == "HEAD" or left is None:
            return None
        wait = left - ANSWER_MARGIN
        return wait if wait > settings.read_timeout else None

    def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        connect_left: float | None = None,
        answer: float | None = None,
    ) -> httpx.Request:
        """The request `client.build_request(method, url, headers=headers)` makes, with a
        connect timeout of `connect_left` seconds when that is shorter than the client's,
        and, when given, `answer` seconds to wait for the answer to begin (`answer_wait`;
        the run's transport reads it, `transport.AiohttpPool`; `read` stays the longest a
        begun answer may go quiet).

        Built directly: the client's version parses the URL twice, merges empty query
        parameters and consults its cookie jar, which the client must never use (each
        journey has its own jar), for about a fifth of a millisecond per request. The
        body is given as the empty stream `httpx.Request` would make, with the `Host`
        header it would put first: it otherwise encodes no body and copies the headers
        twice more to find that out, a third of building the request.
        """
        parsed = httpx.URL(url)
        merged = httpx.Headers(self.client.headers)
        if headers:
            merged.update(headers)
        if "xn--" in url and b"xn--" in parsed.raw_host:
            # httpx names the host by decoding it under IDNA 2008, which raises for an
            # emoji domain (`urls._emoji_host`); given the Host, it never decodes it.
            merged["Host"] = parsed.netloc.decode("ascii")
        elif parsed.host:
            merged = httpx.Headers([(b"Host", parsed.netloc), *merged.raw])
        timeout = self._timeout
        if connect_left is not None and connect_left < (timeout.get("connect") or math.inf):
            # Never 0: aiohttp waits for ever on a connect timeout of 0 (`may_connect`).
            timeout = {**timeout, "connect": max(connect_left, 0.001)}
        if answer is not None:
            timeout = {**timeout, "answer": answer}
        request = httpx.Request(
            method, parsed, headers=merged, stream=_NO_BODY, extensions={"timeout": timeout}
        )
        request.read()  # the empty body, as a request built with no content holds it
        return request

    async def _transmit(self, request: httpx.Request) -> httpx.Response:
        """`client.send(request, stream=True)` without what a check never needs.

        The client's version adds auth and redirect machinery (we follow redirects by
        hand), an elapsed-time wrapper, an INFO log line and, per response, a pass of the
        stdlib cookie jar: together as much CPU as the HTTP exchange itself. Mounts given
        to the client are still honoured (`_transport_for_url`; httpx is pinned); proxy
        variables of the environment never were, since the client is given its transport
        (README, "The checker").
        """
        transport = self.client._transport_for_url(request.url)
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as the client's `request_context` does
            raise
        response.request = request
        return response

    async def _refuse(self, checked: CheckedUrl) -> tuple[Stop, str | None, OSError | None] | None:
        """Why `checked` must not be requested (private address, no DNS), or None."""
        if self.settings.allow_private:
            return None
        key = (checked.host, checked.port)
        if key in self._forbidden:  # a host's addresses are fixed for the run
            reason = self._forbidden[key]
            return (Stop.PRIVATE, reason, None) if reason else None
        allow = self.settings.private_allowlist
        # What the host shows refuses it before DNS (as `catalog validate` warns of it):
        # "sub.localhost" that no resolver here knows was a DNS failure, not private.
        reason = refused_as_written(checked.host, allow, looked_up=True)
        if reason is None:
            addresses = [checked.host]
            # An allow-listed name is not looked up here: the connection looks it up.
            if not is_ip_address(checked.host) and not host_allowlisted(checked.host, allow):
                try:
                    addresses = await self.addresses.addresses(checked.host, checked.port)
                except OSError as exc:
                    return Stop.UNRESOLVED, None, exc
            reason = forbidden_host(checked.host, addresses, allow)
        self._forbidden[key] = reason
        return (Stop.PRIVATE, reason, None) if reason else None


def locations_of(headers: httpx.Headers) -> set[str]:
    """The answer's distinct Locations, read from their bytes as browsers read them."""
    found = set()
    for name, value in headers.raw:
        if name.lower() == b"location":
            text = _location_text(value).strip()
            if text:
                found.add(text)
    return found


#: What WHATWG URL parsing strips around an address, and drops inside it.
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = str.maketrans(dict.fromkeys("\t\n\r"))


def _location_text(raw: bytes) -> str:
    r"""The text of a Location as browsers read its bytes: UTF-8 when they are, else each
    non-ASCII byte percent-encoded as it is (an old server's Latin-1 "/caf\xe9" is
    "/caf%E9"), without tabs and line breaks, and backslashes before the query read as
    slashes (WHATWG URL; IIS sends "\en\page"). httpx decodes all the headers of an
    answer with one charset, Latin-1 as soon as one of them is not UTF-8, so "/café"
    became "/caf%C3%A9", and it joined "\en\page" as a relative path: pages that do not
    exist."""
    if raw.isascii():
        text = raw.decode("ascii")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)
    if not text.isprintable():
        # Dropped by browsers too (WHATWG URL): C0 controls and spaces around the address,
        # ASCII tabs and line breaks within it ("/report\t.html" was "cannot be opened").
        text = text.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
    if "\\" in text:
        cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=len(text))
        text = text[:cut].replace("\\", "/") + text[cut:]
    return text


#: What one journey's jar keeps, as a browser keeps (RFC 6265 asks for at least 4096 bytes
#: a cookie and 50 cookies a domain): the jar goes out with every later request of the
#: journey, and a server setting thousands of big cookies at each redirect made one URL
#: cost half a gigabyte and seconds of CPU, megabytes more on the wire at each hop.
MAX_COOKIE_BYTES = 4096
MAX_COOKIES = 50


def _cookie_state(jar: httpx.Cookies) -> frozenset[tuple[str, str, str, str | None]]:
    """What `jar` holds, comparable: a request repeated with the same cookies is answered
    the same."""
    if not jar:
        return frozenset()
    return frozenset((c.domain, c.path, c.name, c.value) for c in jar.jar)


def keep_cookies(jar: httpx.Cookies, response: httpx.Response) -> None:
    """Put `response`'s cookies into `jar`, up to the limits above; the rest are dropped."""
    room = MAX_COOKIES - len(jar)
    values = response.headers.get_list("set-cookie")
    kept = [value for value in values if len(value) <= MAX_COOKIE_BYTES][: max(0, room)]
    if len(kept) < len(values):
        response = httpx.Response(
            response.status_code,
            headers=[("set-cookie", value) for value in kept],
            request=response.request,
        )
    if kept:
        jar.extract_cookies(response)


#: Tags (counted as "<") above which a body is analysed in a thread, off the event loop the
#: run's batches share. The HTML parser's cost grows faster than linearly with nesting and
#: unclosed formatting tags: a hostile page of 20,000 `<b id=N>` (250 KB) takes seconds,
#: and every other check on the loop would wait, some past their deadlines. The parser
#: releases the GIL, so the loop goes on meanwhile. Ordinary pages hold hundreds of tags;
#: a thread for each of them would cost more than it saves.
HEAVY_PAGE_TAGS = 5_000


async def read_page(answer: Answer) -> PageFacts:
    """`page_facts`, in a thread when the body is heavy with tags (counted once: the
    analysis caps the tags it parses by the same count)."""
    tags = answer.body.count(b"<")
    if tags > HEAVY_PAGE_TAGS:
        return await asyncio.to_thread(page_facts, answer, tags)
    return page_facts(answer, tags)


def page_facts(answer: Answer, tags: int | None = None) -> PageFacts:
    """What a successful answer's body says (the checked page or a soft-404 probe's).

    A body in an encoding we did not ask for and cannot read (brotli or zstd, sent by a
    misconfigured cache whatever Accept-Encoding said) is opaque bytes: parsed as the
    HTML its Content-Type claims, the compressed bytes were stored as the page's text
    (mojibake) and judged for drift as a page sharing no word with its entry (relevance 0),
    a few words short of a drift alarm on a working link.
    """
    content_type = answer.headers.get("content-type")
    if _Inflater.unreadable(answer.headers.get("content-encoding")):
        content_type, tags = OPAQUE_TYPE, None
    return analyse_body(
        answer.body,
        content_type,
        truncated=answer.truncated,
        etag=answer.headers.get("etag"),
        total_length=content_length(answer.headers),
        tags=tags,
    )


#: No body is longer; the parser lets through lengths up to 2**64 - 1, which no database
#: integer holds (the store of the whole batch failed on one).
MAX_CONTENT_LENGTH = 2**63 - 1


def content_length(headers: httpx.Headers) -> int | None:
    value = headers.get("content-length", "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    length = int(value)
    return length if length <= MAX_CONTENT_LENGTH else None
