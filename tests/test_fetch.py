"""What `check_targets` asks servers and what it concludes, with respx and MockTransport.

No test touches the network: the resolver is injected (a public address) and `sleep` is a
recorder, so retries and Retry-After waits cost nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from catalog import store
from catalog import tables as t
from catalog.check import check_batch, check_targets
from catalog.check.checker import MAX_HEADER_CHARS, TEXT_SAMPLE_CHARS
from catalog.check.content import PageFacts
from catalog.check.facts import Answer, Cut
from catalog.check.fetch import (
    MAX_CHAIN_CHARS,
    MAX_CODINGS,
    MAX_COOKIE_BYTES,
    MAX_COOKIES,
    MAX_LOCATION_CHARS,
    SLOW_BODY_BYTES,
    content_length,
    document_end,
    judged_when_cut,
    read_page,
)
from catalog.health import LinkState, apply_observation
from catalog.model import (
    LEGACY_FINGERPRINT,
    Batch,
    Hop,
    Observation,
    Previous,
    Target,
    pack_text,
    unpack_text,
)
from catalog.outcomes import Outcome, Severity
from catalog.settings import CheckSettings, HealthSettings
from catalog.urls import host_of
from tests.factories import temporary_database

PUBLIC = "93.184.216.34"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, per_host_rate=1000.0)
URL = "https://example.org/reports/2019"
PAGE = (
    "<html><head><title>Annual report 2019</title></head><body><h1>Annual report</h1>"
    "<p>Findings on the cases the task force handled in 2019, by region and type.</p>"
    "</body></html>"
)


class RecordingSleep:
    def __init__(self, *, really: bool = False) -> None:
        self.waits: list[float] = []
        self.really = really

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds if self.really else 0)


class Resolver:
    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        answer = self.answers.get(host, [PUBLIC])
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answer


def target(url: str = URL, **kwargs: Any) -> Target:
    return Target(url=url, host=host_of(url), **kwargs)


def check(
    url: str = URL,
    settings: CheckSettings = SETTINGS,
    *,
    sleep: RecordingSleep | None = None,
    resolver: Resolver | None = None,
    **kwargs: Any,
) -> Observation:
    target_kwargs = {k: kwargs.pop(k) for k in ("previous", "fingerprint_due") if k in kwargs}
    observations = asyncio.run(
        check_targets(
            [target(url, **target_kwargs)],
            settings,
            resolver=resolver or Resolver(),
            sleep=sleep or RecordingSleep(),
            clock=lambda: NOW,
            **kwargs,
        )
    )
    assert len(observations) == 1
    return observations[0]


def transport(handler: Callable[[httpx.Request], Any]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def raising(exc: BaseException, *causes: BaseException) -> httpx.MockTransport:
    """A transport failing the way httpx does: the OS or ssl error kept as `__cause__`."""

    def handler(request: httpx.Request) -> httpx.Response:
        current = exc
        for cause in causes:
            current.__cause__ = cause
            current = cause
        raise exc

    return transport(handler)


# --- plain answers ---------------------------------------------------------------------------


@respx.mock
def test_live_page_records_the_facts_a_curator_needs() -> None:
    respx.get(URL).respond(
        200,
        html=PAGE,
        headers={"ETag": '"v1"', "Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT"},
    )
    obs = check()
    assert obs.outcome is Outcome.OK
    assert obs.http_status == 200 and obs.final_url == URL
    assert obs.methods == ("GET",) and obs.chain == (Hop(URL, 200),)
    assert obs.title == "Annual report 2019"
    assert obs.fingerprint and obs.text_sample and "Findings" in obs.text_sample
    assert obs.etag == '"v1"' and obs.last_modified
    assert obs.content_type and obs.content_type.startswith("text/html")
    assert obs.bytes_read == len(PAGE.encode()) and obs.content_length == obs.bytes_read
    assert obs.checked_at == NOW and obs.elapsed_ms is not None and obs.retries == 0


@respx.mock
def test_text_sample_keeps_every_character_and_counts_characters() -> None:
    # The sample travels packed to save memory; drift must still see the page's text.
    words = "“Víctimas” — 被害者 naïve café " * 200
    respx.get(URL).respond(200, html=f"<html><title>T</title><p>{words}</p></html>")
    obs = check()
    sample = obs.text_sample
    assert sample is not None and len(sample) == TEXT_SAMPLE_CHARS
    assert sample == " ".join(words.split())[:TEXT_SAMPLE_CHARS]
    # It travels deflated: a run holds tens of thousands until their batches are stored.
    assert obs.text_sample_packed is not None
    assert len(obs.text_sample_packed) < len(sample.encode()) / 2


def test_an_empty_text_sample_stays_empty_and_falsy() -> None:
    # judges_drift asks `obs.title or obs.text_sample_packed`: a page with no text must
    # not look like one with text because of a compression header.
    assert pack_text("") == b"" and unpack_text(b"") == ""
    assert unpack_text(pack_text("naïve “café”")) == "naïve “café”"


@respx.mock
def test_every_request_names_linkhealth_and_the_contact() -> None:
    route = respx.get(URL).respond(200)
    check(settings=replace(SETTINGS, contact="links@example.net"))
    agent = route.calls.last.request.headers["user-agent"]
    assert "linkhealth" in agent and "links@example.net" in agent


@respx.mock
def test_head_suffices_when_no_fingerprint_is_due() -> None:
    head = respx.head(URL).respond(200)
    get = respx.get(URL).respond(200)
    obs = check(fingerprint_due=False)
    assert obs.outcome is Outcome.OK and obs.methods == ("HEAD",)
    assert head.called and not get.called and obs.fingerprint is None


FINGERPRINTED = Previous(
    etag='"v1"',
    last_modified="Tue, 30 Apr 2024 10:00:00 GMT",
    fingerprint="sha256:abc",
    content_length=60_000,
    content_type="text/html; charset=utf-8",
    title="Annual report 2019",
)
#: The answer's own Date, a day after the copy's Last-Modified.
SAID_AT = {"Date": "Wed, 01 May 2024 12:00:00 GMT"}


@respx.mock
@pytest.mark.parametrize(
    ("head_headers", "fetched"),
    [
        pytest.param({"ETag": '"v1"'}, False, id="same-etag"),
        pytest.param({"ETag": 'W/"v2"'}, False, id="a-weak-etag-moves-with-every-token"),
        pytest.param({"Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT"}, False, id="same-date"),
        pytest.param(
            {"Last-Modified": "Wed, 01 May 2024 11:59:30 GMT", **SAID_AT},
            False,
            id="last-modified-is-the-answers-now",
        ),
        pytest.param({"Content-Type": "text/html"}, False, id="same-media-type"),
        pytest.param({"Content-Length": "60900"}, False, id="a-counter-moved"),
        pytest.param({"Content-Length": "59000"}, False, id="a-kilobyte-less"),
        pytest.param({"Content-Length": "50000"}, False, id="a-sixth-less-under-a-quarter"),
        pytest.param({"Content-Length": "0"}, False, id="a-head-saying-0"),
        pytest.param({}, False, id="no-headers-say-nothing"),
        pytest.param({"ETag": '"v2"'}, True, id="new-strong-etag"),
        pytest.param(
            {"Last-Modified": "Wed, 01 May 2024 09:00:00 GMT", **SAID_AT}, True, id="new-date"
        ),
        pytest.param({"Content-Type": "application/pdf"}, True, id="new-media-type"),
        pytest.param({"Content-Length": "3100"}, True, id="a-parking-page"),
        pytest.param({"Content-Length": "90000"}, True, id="half-as-long-again"),
    ],
)
def test_a_head_that_says_the_page_changed_fetches_it_that_night(
    head_headers: dict[str, str], fetched: bool
) -> None:
    """Between fingerprints a page taken over or replaced must not pass as "OK" for a
    week: the HEAD's headers send the GET at once, conditional on the copy we read. Headers
    that match, say nothing, or move on every answer of a dynamic page leave it at HEAD."""
    head = respx.head(URL).respond(200, headers=head_headers)
    get = respx.get(URL).respond(200, html=PAGE)
    obs = check(fingerprint_due=False, previous=FINGERPRINTED)
    assert head.called
    if not fetched:
        assert obs.methods == ("HEAD",) and not get.called
        return
    assert obs.methods == ("HEAD", "GET") and obs.fingerprint is not None
    assert get.calls.last.request.headers["if-none-match"] == '"v1"'


NEW_EDITION = "https://example.org/reports/2024"
CDN = "https://cdn.example.net/reports/2019.pdf"
TOKEN = "https://dl.example.net/cd/0/get/{}/report.pdf"


@respx.mock
@pytest.mark.parametrize(
    ("read_at", "head", "read", "fetched"),
    [
        pytest.param(URL, None, {}, False, id="same-address"),
        pytest.param(NEW_EDITION, (301, NEW_EDITION), {}, False, id="same-redirect"),
        pytest.param("https://EXAMPLE.org:443/reports/2019", None, {}, False, id="same-canonical"),
        pytest.param(
            CDN,
            (301, f"{CDN}?X-Amz-Expires=300&X-Amz-Signature=0f3a"),
            {},
            False,
            id="a-cdn-signs-the-target-afresh",
        ),
        pytest.param(None, (301, NEW_EDITION), {}, False, id="read-address-unknown"),
        pytest.param(URL, (301, NEW_EDITION), {}, True, id="a-new-redirect"),
        pytest.param(URL, (308, NEW_EDITION), {}, True, id="a-new-308"),
        pytest.param(
            "https://example.org/reports/2023", (301, NEW_EDITION), {}, True, id="a-new-target"
        ),
        pytest.param(URL, (302, NEW_EDITION), {}, False, id="a-temporary-redirect"),
        pytest.param(
            TOKEN.format("T1"), (302, TOKEN.format("T2")), {}, False, id="a-token-each-time"
        ),
        pytest.param(NEW_EDITION, None, {}, False, id="a-redirect-to-get-alone"),
        pytest.param(
            f"{NEW_EDITION}/en",
            (301, NEW_EDITION),
            {"read_via": (URL, NEW_EDITION)},
            False,
            id="the-read-passed-through-it",
        ),
        pytest.param(
            URL, (301, NEW_EDITION), {"read_after_head": True}, False, id="read-after-a-head"
        ),
    ],
)
def test_a_head_sent_on_by_a_permanent_redirect_to_a_new_address_fetches_it_that_night(
    read_at: str | None, head: tuple[int, str] | None, read: dict[str, Any], fetched: bool
) -> None:
    """The 2018 report's address began to redirect (301) to the 2024 edition: checked by
    HEAD alone until the next fingerprint, its row showed the 2018 page's title beside the
    new address, and the new page was not compared with the entry for a week. A HEAD that a
    permanent redirect sends where the read did not go sends the GET; the same place
    spelled otherwise or signed afresh does not, nor does a temporary redirect (a download
    token, a `?sid=` made up each time), nor a redirect the read saw and the HEAD does not
    (servers that redirect GET alone): those were a full GET every night (r5). Neither
    does a HEAD after a read that was itself sent after a HEAD: one that still ends apart
    would be read every night."""
    for method in ("HEAD", "GET"):
        route = respx.route(method=method, url=URL)
        if head is None:
            route.respond(200, html=PAGE if method == "GET" else "")
        else:
            status, location = head
            route.respond(status, headers={"Location": location})
            there = respx.route(method=method, url__startswith=location.split("?")[0])
            there.respond(200, html=PAGE if method == "GET" else "")
    previous = replace(FINGERPRINTED, final_url=read_at, **read)
    obs = check(fingerprint_due=False, previous=previous)
    assert obs.methods == (("HEAD", "GET") if fetched else ("HEAD",))
    assert (obs.title == "Annual report 2019") is fetched


@respx.mock
def test_on_a_small_page_a_length_change_under_a_kilobyte_is_no_change() -> None:
    small = replace(FINGERPRINTED, content_length=2000)
    respx.head(URL).respond(200, headers={"Content-Length": "1200"})  # 40 %, 800 bytes
    get = respx.get(URL).respond(200, html=PAGE)
    assert check(fingerprint_due=False, previous=small).methods == ("HEAD",)
    assert not get.called


#: A page read by a GET that carried no ETag and no Last-Modified (most dynamic pages).
READ_WITHOUT_VALIDATORS = replace(FINGERPRINTED, etag=None, last_modified=None, content_length=931)


@respx.mock
@pytest.mark.parametrize(
    ("previous", "head_headers", "fetched"),
    [
        pytest.param(READ_WITHOUT_VALIDATORS, {"Content-Length": "559"}, True, id="shorter"),
        pytest.param(READ_WITHOUT_VALIDATORS, {"Content-Length": "964"}, True, id="33-more"),
        pytest.param(READ_WITHOUT_VALIDATORS, {"Content-Length": "932"}, False, id="a-byte-more"),
        pytest.param(READ_WITHOUT_VALIDATORS, {"Content-Length": "899"}, False, id="32-less"),
        # Most dynamic pages: no length on a HEAD (chunked, gzip), or a shortcut "0".
        pytest.param(READ_WITHOUT_VALIDATORS, {}, False, id="no-length"),
        pytest.param(READ_WITHOUT_VALIDATORS, {"Content-Length": "0"}, False, id="length-0"),
        pytest.param(
            READ_WITHOUT_VALIDATORS,
            {"Content-Length": "559", "Last-Modified": SAID_AT["Date"], **SAID_AT},
            True,
            id="last-modified-is-now",
        ),
        pytest.param(READ_WITHOUT_VALIDATORS, {"Content-Length": "931"}, False, id="same-length"),
        pytest.param(
            READ_WITHOUT_VALIDATORS,
            {"Content-Length": "559", "ETag": '"v2"'},
            False,
            id="an-etag-now",
        ),
        pytest.param(
            READ_WITHOUT_VALIDATORS,
            {"Content-Length": "559", "Content-Type": "application/pdf", "ETag": '"v2"'},
            True,
            id="another-type-still",
        ),
        pytest.param(
            replace(READ_WITHOUT_VALIDATORS, content_type="application/pdf"),
            {"Content-Length": "559"},
            False,
            id="not-a-web-page",
        ),
        pytest.param(
            replace(FINGERPRINTED, content_length=931),
            {"Content-Length": "559"},
            False,
            id="the-read-had-validators",
        ),
    ],
)
def test_a_web_page_without_validators_is_read_when_its_heads_length_moves(
    previous: Previous, head_headers: dict[str, str], fetched: bool
) -> None:
    """An unavailable video, the 2018 report's address serving the 2025 edition, a training
    page redesigned about something else: each answered HEAD 200 with no ETag, no
    Last-Modified and a length a few hundred bytes off, and showed "OK" for six nights until
    the weekly read (r8). Where no validator speaks for a web page, a HEAD whose length
    moved by more than a date or a token would sends the read that night; one with the
    same length, or none (most dynamic sites: each was read in full every night, r9),
    does not, so a site of unchanging pages costs a HEAD a night as before."""
    respx.head(URL).respond(200, headers=head_headers)
    get = respx.get(URL).respond(200, html=PAGE)
    obs = check(fingerprint_due=False, previous=previous)
    assert obs.methods == (("HEAD", "GET") if fetched else ("HEAD",))
    assert get.called is fetched


def test_a_page_sent_chunked_keeps_the_heads_length_so_the_next_head_agrees() -> None:
    """HEAD gave a length, the GET it sent came chunked: the stale length was kept, each
    night's HEAD differed from it, and the page was fetched in full every night."""
    head_length = {"Content-Length": "25000", "Content-Type": "text/html"}

    async def chunked() -> AsyncIterator[bytes]:
        yield PAGE.encode()

    def site(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers=head_length)
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=chunked())

    first = check(fingerprint_due=False, previous=FINGERPRINTED, transport=transport(site))
    assert first.methods == ("HEAD", "GET") and first.content_length == 25_000
    after = replace(FINGERPRINTED, content_length=first.content_length)
    again = check(fingerprint_due=False, previous=after, transport=transport(site))
    assert again.methods == ("HEAD",)


@respx.mock
@pytest.mark.parametrize("head_status", [405, 404, 403, 500, 501])
def test_head_error_status_falls_back_to_get(head_status: int) -> None:
    respx.head(URL).respond(head_status)
    respx.get(URL).respond(200, html=PAGE)
    obs = check(fingerprint_due=False)
    assert obs.outcome is Outcome.OK
    assert obs.methods == ("HEAD", "GET")
    assert f"HEAD {head_status}" in obs.reason


@respx.mock
def test_head_timeout_falls_back_to_get() -> None:
    respx.head(URL).mock(side_effect=httpx.ReadTimeout)
    respx.get(URL).respond(200, html=PAGE)
    obs = check(fingerprint_due=False)
    assert obs.outcome is Outcome.OK and obs.methods == ("HEAD", "GET")


@respx.mock
def test_get_alone_when_fingerprint_is_due() -> None:
    head = respx.head(URL).respond(200)
    respx.get(URL).respond(200)
    obs = check(fingerprint_due=True)
    assert obs.methods == ("GET",) and not head.called


@respx.mock
@pytest.mark.parametrize(
    ("status", "outcome"),
    [(404, Outcome.NOT_FOUND), (410, Outcome.GONE), (400, Outcome.HTTP_ERROR)],
)
def test_error_status_after_head_and_get(status: int, outcome: Outcome) -> None:
    respx.head(URL).respond(status)
    respx.get(URL).respond(status)
    obs = check(fingerprint_due=False)
    assert obs.outcome is outcome and obs.http_status == status
    assert obs.methods == ("HEAD", "GET")


# --- conditional requests --------------------------------------------------------------------


@respx.mock
def test_unchanged_page_answers_304_and_keeps_the_last_fingerprint() -> None:
    route = respx.get(URL).respond(304, headers={"ETag": '"v1"'})
    previous = Previous(
        etag='"v1"',
        last_modified="Tue, 30 Apr 2024 10:00:00 GMT",
        fingerprint="abc",
        title="Annual report 2019",
        content_length=1234,
    )
    obs = check(previous=previous)
    sent = route.calls.last.request.headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == previous.last_modified
    assert obs.outcome is Outcome.OK and obs.not_modified
    assert obs.fingerprint == "abc" and obs.title == "Annual report 2019"
    assert obs.bytes_read == 0


@respx.mock
@pytest.mark.parametrize(
    ("etag", "last_modified"),
    [('"caf\xe9"', None), ('"\u202e"', None), (None, "Tue, 30 Apr 2024 10:00:00 GMT\xe9")],
)
def test_a_validator_past_ascii_is_not_sent_back_and_the_page_is_read(
    etag: str | None, last_modified: str | None
) -> None:
    # Stored as httpx decoded the server's bytes, such a validator made every later GET of
    # the URL fail before it was sent (httpx encodes header text as ASCII).
    route = respx.get(URL).respond(200, html=PAGE)
    previous = Previous(etag=etag, last_modified=last_modified, fingerprint="abc")
    obs = check(previous=previous)
    assert obs.outcome is Outcome.OK, obs.reason
    sent = route.calls.last.request.headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent


@respx.mock
def test_headers_longer_than_any_real_one_are_not_kept_whole() -> None:
    # A header line may be 64 KiB: stored on every night's observation and on the link,
    # and the ETag sent back the next night.
    long = "x" * 5000
    respx.get(URL).respond(
        200,
        headers={
            "ETag": f'"{long}"',
            "Last-Modified": f"Tue, 30 Apr 2024 10:00:00 GMT {long}",
            "Content-Type": f"text/html; charset=utf-8; x={long}",
        },
        html=PAGE,
    )
    obs = check()
    assert obs.outcome is Outcome.OK
    assert obs.etag is None and obs.last_modified is None
    assert obs.content_type is not None and len(obs.content_type) == MAX_HEADER_CHARS
    assert obs.content_type.startswith("text/html; charset=utf-8")


# --- redirects -------------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_suggests_new_url(status: int) -> None:
    new = "https://new.example.org/reports/2019"
    respx.get(URL).respond(status, headers={"Location": new})
    respx.get(new).respond(200, html=PAGE)
    resolver = Resolver()
    obs = check(resolver=resolver)
    assert obs.outcome is Outcome.REDIRECTED_PERMANENT
    assert obs.suggested_url == new and obs.final_url == new
    assert obs.chain == (Hop(URL, status), Hop(new, 200))
    assert new in obs.reason
    assert resolver.asked == ["example.org", "new.example.org"], "each hop's host is checked"


@respx.mock
@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_is_ok_and_keeps_the_chain(status: int) -> None:
    respx.get(URL).respond(status, headers={"Location": "/reports/2019/"})
    respx.get(URL + "/").respond(200, html=PAGE)
    obs = check()
    assert obs.outcome is Outcome.OK and obs.suggested_url is None
    assert obs.chain == (Hop(URL, status), Hop(URL + "/", 200))


@respx.mock
def test_a_redirect_to_an_address_no_server_reads_is_not_followed() -> None:
    # A hostile site's Location may be a header line of 64 KiB: followed, each hop's
    # address was sent and stored on the observation's chain (1.2 MB over 20 redirects).
    huge = "https://example.org/next?pad=" + "x" * (MAX_LOCATION_CHARS + 1)
    respx.get(URL).respond(302, headers={"Location": huge})
    followed = respx.get(url__startswith="https://example.org/next").respond(200, html=PAGE)
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR and not followed.called
    assert obs.chain == (Hop(URL, 302),) and len(obs.reason) < 500
    assert f"{len(huge):,} characters long" in obs.reason


@respx.mock
def test_redirects_to_ever_longer_addresses_stop_before_their_chain_grows_large() -> None:
    # Each address under `MAX_LOCATION_CHARS`, 15 KB more chain at each of 20 redirects.
    def onwards(request: httpx.Request) -> httpx.Response:
        hop = int(request.url.params.get("hop", 0)) + 1
        return httpx.Response(302, headers={"Location": f"{URL}?hop={hop}&pad={'x' * 15_000}"})

    respx.get(url__startswith=URL).mock(side_effect=onwards)
    obs = check()
    assert obs.outcome is Outcome.TOO_MANY_REDIRECTS
    assert sum(len(hop.url) for hop in obs.chain) <= MAX_CHAIN_CHARS
    assert len(obs.chain) < SETTINGS.max_redirects


@respx.mock
def test_redirect_to_a_404_is_a_redirect_to_error() -> None:
    respx.get(URL).respond(302, headers={"Location": "https://example.org/moved"})
    respx.get("https://example.org/moved").respond(404)
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR
    assert obs.http_status == 404 and "404" in obs.reason


@respx.mock
def test_redirect_loop_is_detected() -> None:
    other = "https://example.org/b"
    respx.get(URL).respond(302, headers={"Location": other})
    respx.get(other).respond(302, headers={"Location": URL})
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_LOOP
    assert len(obs.chain) == 2


@respx.mock
def test_redirects_beyond_the_limit_are_too_many() -> None:
    for i in range(10):
        respx.get(f"https://example.org/{i}").respond(
            301, headers={"Location": f"https://example.org/{i + 1}"}
        )
    obs = check("https://example.org/0", replace(SETTINGS, max_redirects=3))
    assert obs.outcome is Outcome.TOO_MANY_REDIRECTS
    assert len(obs.chain) == 4


@respx.mock
def test_fifteen_redirects_are_followed_as_a_browser_follows_them() -> None:
    """Chrome and Firefox follow 20 redirects; `too_many_redirects` says "more than a
    browser would follow", so a chain of 15 that a browser completes is no failure."""
    for i in range(15):
        respx.get(f"https://example.org/{i}").respond(
            302, headers={"Location": f"https://example.org/{i + 1}"}
        )
    respx.get("https://example.org/15").respond(200, html=PAGE)
    obs = check(
        "https://example.org/0", replace(SETTINGS, max_redirects=CheckSettings().max_redirects)
    )
    assert obs.outcome is Outcome.OK and len(obs.chain) == 16


@respx.mock
def test_page_verdicts_read_refreshes_login_redirects_and_the_entrys_title() -> None:
    """End to end: a meta refresh to an error page, a redirect to a login page, and a page
    titled as its entry ("Not Found - ..."), each from what the checker fetched."""
    refresh = "https://example.org/old"
    respx.get(refresh).respond(
        200, html="<meta http-equiv='refresh' content='0; url=/errors/404.html'><p>Wait</p>"
    )
    members = "https://example.org/members/report"
    respx.get(members).respond(302, headers={"Location": "/login?next=/members/report"})
    respx.get("https://example.org/login").respond(200, html=PAGE)
    titled = "https://example.org/foster"
    title = "Not Found - Missing Children"
    respx.get(titled).respond(200, html=f"<title>{title}</title>" + PAGE)
    targets = [target(refresh), target(members), target(titled, titles=(title,))]
    observations = asyncio.run(
        check_targets(targets, SETTINGS, resolver=Resolver(), sleep=RecordingSleep())
    )
    outcomes = [obs.outcome for obs in observations]
    assert outcomes == [Outcome.SOFT_404, Outcome.BLOCKED, Outcome.OK]


@respx.mock
def test_cookie_setting_redirect_to_itself_is_followed_like_a_browser() -> None:
    def consent(request: httpx.Request) -> httpx.Response:
        if "consent=yes" in request.headers.get("cookie", ""):
            return httpx.Response(200, html=PAGE)
        return httpx.Response(302, headers={"Location": URL, "Set-Cookie": "consent=yes; Path=/"})

    respx.get(URL).mock(side_effect=consent)
    obs = check()
    assert obs.outcome is Outcome.OK and len(obs.chain) == 2


def test_a_cookie_bomb_along_redirects_is_kept_to_what_a_browser_keeps() -> None:
    """Each hop set 100 cookies of 60 KB: the journey's jar kept them all and sent them
    all on, megabytes more each hop (one URL: ~0.5 GB and 20 s of CPU at 10 hops)."""
    sent: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(len(request.headers.get("cookie", "")))
        hop = len(sent)
        cookies = [("Set-Cookie", f"big{hop}_{i}={'v' * 60_000}; Path=/") for i in range(100)]
        cookies += [("Set-Cookie", f"small{hop}_{i}=1; Path=/") for i in range(100)]
        location = [("Location", f"https://example.org/hop{hop}")]
        return httpx.Response(302, headers=location + cookies)

    obs = check(settings=replace(SETTINGS, max_redirects=4), transport=transport(handler))
    assert obs.outcome is Outcome.TOO_MANY_REDIRECTS and len(sent) == 5
    assert max(sent) <= MAX_COOKIES * MAX_COOKIE_BYTES
    assert sent[1] > 0  # the small ones of the first hop went on


def test_cookies_set_for_one_url_are_never_sent_with_another() -> None:
    sent: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, request.headers.get("cookie")))
        cookie = {"Set-Cookie": "sid=1; Path=/"} if request.url.path == "/a" else {}
        return httpx.Response(200, headers=cookie, html=PAGE)

    settings = replace(SETTINGS, per_host_concurrency=1)
    targets = [target("https://example.org/a"), target("https://example.org/b")]
    asyncio.run(check_targets(targets, settings, resolver=Resolver(), transport=transport(handler)))
    assert sorted(sent) == [("/a", None), ("/b", None)]


@pytest.mark.parametrize(
    ("method", "headers", "url"),
    [
        ("HEAD", {}, "https://example.org/a%20b/c?q=1&r=2"),
        ("GET", {}, "https://example.org/a%20b/c?q=1&r=2"),
        ("GET", {"If-None-Match": '"x"', "If-Modified-Since": "y"}, "https://example.org/a"),
        ("HEAD", {}, "http://user:pw@Example.ORG:8080/p"),
    ],
)
def test_requests_are_built_as_the_client_would_build_them(
    method: str, headers: dict[str, str], url: str
) -> None:
    from catalog.check.checker import make_client
    from catalog.check.fetch import Fetcher
    from catalog.check.politeness import Politeness
    from catalog.check.safety import AddressBook

    async def both() -> tuple[httpx.Request, httpx.Request]:
        async with make_client(SETTINGS, transport(lambda r: httpx.Response(200))) as client:
            fetcher = Fetcher(
                client,
                SETTINGS,
                Politeness(SETTINGS),
                addresses=AddressBook(Resolver()),
                clock=lambda: NOW,
                sleep=RecordingSleep(),
            )
            ours = fetcher._request(method, url, dict(headers))
            return ours, client.build_request(method, url, headers=dict(headers))

    ours, theirs = asyncio.run(both())
    assert (ours.method, ours.url, ours.extensions) == (
        theirs.method,
        theirs.url,
        theirs.extensions,
    )
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.headers.raw == theirs.headers.raw  # the Host header first, as sent
    assert ours.content == theirs.content == b""
    assert b"".join(ours.stream) == b"".join(theirs.stream) == b""  # type: ignore[arg-type]


@respx.mock
@pytest.mark.parametrize("fingerprint_due", [True, False])
def test_a_300_naming_its_preferred_choice_is_followed(fingerprint_due: bool) -> None:
    """300 Multiple Choices with a Location (the server's preferred choice, RFC 9110) is
    followed, as Firefox and curl follow it; it was an http_error "without a Location"."""
    new = "https://example.org/reports/2019.html"
    respx.route(url=URL).respond(300, headers={"Location": new})
    respx.route(url=new).respond(200, html=PAGE)
    obs = check(fingerprint_due=fingerprint_due)
    assert obs.outcome is Outcome.OK, obs.reason
    assert obs.final_url == new and "300" in obs.reason


@respx.mock
def test_a_300_listing_the_choices_is_a_page_people_see() -> None:
    """Apache's MultiViews answers 300 with a list of the variants and no Location;
    browsers show that list (Chrome never follows a 300), so the link is not broken."""
    respx.get(URL).respond(300, html="<title>Multiple Choices</title><a href='2019.pdf'>PDF</a>")
    obs = check()
    assert obs.outcome is Outcome.OK, obs.reason
    assert "300" in obs.reason and "choose" in obs.reason


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ([(b"Location", "/café".encode("latin-1"))], "/caf%E9"),
        ([(b"Location", "/café".encode())], "/caf%C3%A9"),
        # Another header's Latin-1 made httpx read every header as Latin-1: "cafÃ©".
        ([(b"Location", "/café".encode()), (b"Set-Cookie", b"n=Jos\xe9")], "/caf%C3%A9"),
        ([(b"Location", "/a b/ñ?q=é".encode())], "/a%20b/%C3%B1?q=%C3%A9"),
        # Backslashes before the query are slashes to browsers (WHATWG URL), not after.
        ([(b"Location", b"\\en\\page?q=a\\b")], "/en/page?q=a\\b"),
        ([(b"Location", b"https:\\\\example.org\\en\\toolkit")], "/en/toolkit"),
        # Tabs and line breaks within are dropped, C0 controls and spaces around stripped.
        ([(b"Location", b"/en/\tannual-report.html")], "/en/annual-report.html"),
        ([(b"Location", b"\x01 /en/page?q=a\r\nb \t\x1f")], "/en/page?q=ab"),
    ],
)
def test_a_location_of_raw_bytes_is_followed_as_browsers_follow_it(
    headers: list[tuple[bytes, bytes]], path: str
) -> None:
    """Browsers percent-encode a Location's bytes as they are (UTF-8 or not); a Latin-1
    path such as an old server's "/caf\xe9" was requested as "/caf%C3%A9", a 404."""
    asked: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path)
        if request.url.path == "/reports/2019":
            return httpx.Response(302, headers=headers)
        return httpx.Response(200, html=PAGE)

    obs = check(transport=transport(handler))
    assert obs.outcome is Outcome.OK, obs.reason
    assert asked[-1].decode() == path


@pytest.mark.parametrize(
    "url", ["https://example.org\\reports\\2019", "https://guest:pw@example.org/reports/2019"]
)
def test_an_address_browsers_open_is_requested_as_they_request_it(url: str) -> None:
    """A backslash ending the host is a "/", and a user name and password before it are
    never sent (httpx would send them as a Basic login to the site): the link was
    `invalid_url`, confirmed broken at once, though browsers open it."""
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, html=PAGE)

    obs = check(url, transport=transport(handler))
    assert obs.outcome is Outcome.OK, obs.reason
    assert [str(r.url) for r in asked] == [URL]
    assert all("authorization" not in r.headers for r in asked)


@respx.mock
def test_a_redirect_to_an_address_with_a_user_name_is_not_followed() -> None:
    """Credentials a site's redirect names are never sent to it."""
    respx.get(URL).respond(302, headers={"Location": "https://ann:pw@example.org/private"})
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR
    assert "user name or password" in obs.reason


@respx.mock
def test_redirect_to_a_non_web_scheme_is_a_redirect_to_error() -> None:
    respx.get(URL).respond(302, headers={"Location": "ftp://example.org/report"})
    assert check().outcome is Outcome.REDIRECT_TO_ERROR


# --- retries ---------------------------------------------------------------------------------


@respx.mock
def test_one_503_with_retry_after_is_retried_and_ends_ok() -> None:
    respx.head(URL).respond(405)
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "1"}),
            httpx.Response(200, html=PAGE),
        ]
    )
    sleep = RecordingSleep()
    obs = check(fingerprint_due=False, sleep=sleep)
    assert obs.outcome is Outcome.OK and obs.retries == 1
    assert sleep.waits == [1.0]
    assert "HEAD 405" in obs.reason and "1 retry" in obs.reason and "Retry-After" in obs.reason


@respx.mock
def test_retry_after_as_http_date_is_honoured() -> None:
    later = format_datetime(NOW + timedelta(seconds=5), usegmt=True)
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": later}),
            httpx.Response(200, html=PAGE),
        ]
    )
    sleep = RecordingSleep()
    obs = check(sleep=sleep)
    assert obs.outcome is Outcome.OK and sleep.waits == [5.0]


@respx.mock
def test_persistent_429_is_rate_limited_after_every_attempt() -> None:
    route = respx.get(URL).respond(429)
    sleep = RecordingSleep()
    obs = check(sleep=sleep)
    assert obs.outcome is Outcome.RATE_LIMITED
    assert route.call_count == SETTINGS.max_attempts
    assert obs.retries == SETTINGS.max_attempts - 1 == len(sleep.waits)
    assert sleep.waits[0] < sleep.waits[1], "backoff grows"


@respx.mock
def test_persistent_500_is_an_http_error_after_retries() -> None:
    route = respx.get(URL).respond(500)
    obs = check()
    assert obs.outcome is Outcome.HTTP_ERROR and route.call_count == SETTINGS.max_attempts


@respx.mock
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_longer_than_the_cap_stops_retrying(status: int) -> None:
    """A 503 "come back in an hour" was an HTTP error, counted toward a confirmed break,
    though the site said it is only unavailable for now: rate limited, as a 429 is."""
    route = respx.get(URL).respond(status, headers={"Retry-After": "3600"})
    sleep = RecordingSleep()
    obs = check(sleep=sleep)
    assert obs.outcome is Outcome.RATE_LIMITED
    assert obs.outcome.severity is not Severity.BROKEN
    assert route.call_count == 1 and obs.retries == 0
    assert "3600" in obs.reason


@respx.mock
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("99999999999999999999", "more than a year"),
        ("9" * 400, "more than a year"),  # float() of it is inf
        ("Fri, 31 Dec 9999 23:59:59 GMT", "more than a year"),
        ("259200", "about 3 days"),
        ("5400", "5400 s (about 90 min)"),
    ],
)
def test_an_absurd_retry_after_is_named_as_a_readable_duration(value: str, said: str) -> None:
    """A server asking to wait 10**20 s read "wait inf s" (or 21 digits of seconds); the
    run itself waits no longer than `retry_after_cap` before giving up on the URL."""
    respx.get(URL).respond(429, headers={"Retry-After": value})
    sleep = RecordingSleep()
    obs = check(sleep=sleep)
    assert obs.outcome is Outcome.RATE_LIMITED
    assert f"it asked us to wait {said} (Retry-After)" in obs.reason
    assert "inf" not in obs.reason and "0000" not in obs.reason
    assert all(wait <= SETTINGS.retry_after_cap for wait in sleep.waits)


@respx.mock
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("fingerprint_due", [True, False])
def test_a_retry_after_the_urls_deadline_would_cut_short_is_not_waited_for(
    status: int, fingerprint_due: bool
) -> None:
    """Retry-After: 30 (within the cap) twice in a row passes the 45 s deadline: a site
    answering 503 every time was reported as "no answer ... within 45 s", a timeout. After
    a HEAD 503 the one GET goes at once, not held for the pause that answer set."""
    respx.head(URL).respond(status, headers={"Retry-After": "2"})
    route = respx.get(URL).respond(status, headers={"Retry-After": "2"})
    settings = replace(SETTINGS, total_timeout=1.0, retry_after_cap=30.0)
    sleep = RecordingSleep(really=True)
    obs = check(settings=settings, sleep=sleep, fingerprint_due=fingerprint_due)
    assert obs.outcome is Outcome.RATE_LIMITED, obs.reason
    assert sleep.waits == []
    assert obs.http_status == status and "2 s (Retry-After)" in obs.reason
    assert route.call_count == (1 if fingerprint_due or status == 503 else 0)


@respx.mock
def test_a_head_told_to_slow_down_for_longer_than_the_cap_is_not_followed_by_a_get() -> None:
    """GET waited out the host's pause (`retry_after_cap`, 30 s of the URL's 45) only to be
    told the same; with a cap above `total_timeout` the rate limit became a timeout."""
    head = respx.head(URL).respond(429, headers={"Retry-After": "3600"})
    get = respx.get(URL).respond(200, html=PAGE)
    sleep = RecordingSleep()
    obs = check(fingerprint_due=False, sleep=sleep)
    assert head.call_count == 1 and get.call_count == 0 and sleep.waits == []
    assert obs.methods == ("HEAD",) and obs.http_status == 429
    assert obs.outcome is Outcome.RATE_LIMITED
    assert "3600 s" in obs.reason and "(Retry-After)" in obs.reason


@respx.mock
def test_a_head_told_to_come_back_later_than_the_cap_is_followed_by_a_get_at_once() -> None:
    """A server answering HEAD 503 with Retry-After 3600 and serving GET: on a HEAD-only
    night the link was an HTTP error (toward a confirmed break), GET never asked, while
    after a HEAD 500 GET asks. The GET goes without waiting out the pause the HEAD's
    answer set (30 s for every URL of a site in maintenance)."""
    head = respx.head(URL).respond(503, headers={"Retry-After": "3600"})
    get = respx.get(URL).respond(200, html=PAGE)
    sleep = RecordingSleep()
    obs = check(fingerprint_due=False, sleep=sleep)
    assert head.call_count == 1 and get.call_count == 1 and sleep.waits == []
    assert obs.outcome is Outcome.OK, obs.reason
    assert obs.reason == "HEAD 503, GET 200"


@respx.mock
def test_a_site_unavailable_for_longer_than_the_cap_to_head_and_get_is_rate_limited() -> None:
    respx.head(URL).respond(503, headers={"Retry-After": "3600"})
    get = respx.get(URL).respond(503, headers={"Retry-After": "3600"})
    sleep = RecordingSleep()
    obs = check(fingerprint_due=False, sleep=sleep)
    assert get.call_count == 1 and sleep.waits == []
    assert obs.outcome is Outcome.RATE_LIMITED and obs.methods == ("HEAD", "GET")
    assert "unavailable for now" in obs.reason and "3600 s" in obs.reason


@respx.mock
@pytest.mark.parametrize("value", [b"\xb2", b"\xb9\xb2\xb3"])
def test_a_retry_after_of_other_digits_is_unreadable_not_fatal(value: bytes) -> None:
    """Header bytes read as Latin-1 hold characters `str.isdigit` accepts and `float`
    refuses (superscripts): the answer was lost, a live page reported as no answer."""
    respx.get(URL).respond(200, html=PAGE, headers=[(b"Retry-After", value)])
    obs = check()
    assert obs.outcome is Outcome.OK and obs.title == "Annual report 2019"


@respx.mock
@pytest.mark.parametrize("fingerprint_due", [True, False])
def test_a_content_length_no_database_integer_holds_is_unknown(fingerprint_due: bool) -> None:
    """The parser passes lengths up to 2**64 - 1; stored, one failed the batch's store."""
    huge = [(b"Content-Length", b"18446744073709551615")]
    respx.head(URL).respond(200, headers=[(b"Content-Type", b"text/html"), *huge])
    respx.get(URL).mock(return_value=httpx.Response(200, html=PAGE))
    obs = check(fingerprint_due=fingerprint_due)
    assert obs.outcome is Outcome.OK
    assert obs.content_length == (len(PAGE.encode()) if fingerprint_due else None)
    assert content_length(httpx.Headers(huge)) is None
    assert content_length(httpx.Headers({"Content-Length": str(2**63 - 1)})) == 2**63 - 1


@respx.mock
@pytest.mark.parametrize("location", ["http://xn--/", "https://xn--zz.org/page"])
def test_a_redirect_to_a_punycode_host_httpx_cannot_request_is_a_bad_location(
    location: str, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx decodes a host that starts with "xn--" under IDNA 2008 when it builds the
    request, and raised from there: logged as a bug of ours, judged a connection error."""
    respx.get(URL).respond(302, headers={"Location": location})
    with caplog.at_level(logging.ERROR, logger="catalog.check.fetch"):
        obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR and location in obs.reason
    assert not caplog.records


@respx.mock
def test_a_redirect_to_a_host_longer_than_any_server_s_is_a_bad_location(
    tmp_path: Path,
) -> None:
    """A Location naming an IPv6 address with a 300-character zone id is not followed: no
    server is named so. Its host is stored nowhere (the link's is its own URL's; the
    address is in the reason, text), so recording it works on PostgreSQL too."""
    location = f"http://[2606:4700::1%25{'a' * 300}]/moved"
    respx.get(URL).respond(302, headers={"Location": location})
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR
    assert "characters long; no server" in obs.reason, obs.reason
    with temporary_database(tmp_path) as engine:
        store.record_observations(engine, None, [obs], HealthSettings(), now=NOW)
        with store.read_session(engine) as s:
            (host, outcome), *more = s.execute(select(t.Link.host, t.Link.outcome)).all()
    assert (host, outcome, more) == ("example.org", "redirect_to_error", [])


@pytest.mark.parametrize("url", ["https://xn--i-7iq.ws/page", "https://i❤.ws/page"])
def test_an_emoji_domain_is_requested_by_its_punycode(url: str) -> None:
    """httpx decodes a host that starts with "xn--" for the Host header and raised on an
    emoji (IDNA 2008 forbids them): a link that works in every browser was invalid_url."""
    seen: list[tuple[bytes, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.raw_host, request.headers["host"]))
        if request.url.path == "/page":
            return httpx.Response(301, headers={"Location": "https://xn--ls8h.la/moved"})
        return httpx.Response(200, html=PAGE)

    obs = check(url, transport=transport(handler))
    assert obs.outcome is Outcome.REDIRECTED_PERMANENT, obs.reason
    assert obs.title == "Annual report 2019"
    assert seen == [(b"xn--i-7iq.ws", "xn--i-7iq.ws"), (b"xn--ls8h.la", "xn--ls8h.la")]


@respx.mock
def test_a_redirect_naming_two_locations_is_refused_as_browsers_refuse_it() -> None:
    """httpx joins them into "/a, /b", which was followed as one URL that is neither."""
    respx.get(URL).respond(302, headers=[("Location", "/a"), ("Location", "/b")])
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR
    assert "more than one Location" in obs.reason and "/a and /b" in obs.reason


@respx.mock
def test_a_location_sent_twice_alike_is_followed() -> None:
    respx.get(URL).respond(301, headers=[("Location", "/new"), ("Location", "/new")])
    respx.get("https://example.org/new").respond(200, html="<title>New</title>")
    assert check().outcome is Outcome.REDIRECTED_PERMANENT


@respx.mock
def test_timeouts_are_retried_then_reported() -> None:
    route = respx.get(URL).mock(side_effect=httpx.ConnectTimeout)
    obs = check()
    assert obs.outcome is Outcome.TIMEOUT and route.call_count == SETTINGS.max_attempts


@respx.mock
def test_a_timeout_then_an_answer_is_ok() -> None:
    respx.get(URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, html=PAGE)])
    obs = check()
    assert obs.outcome is Outcome.OK and obs.retries == 1 and "timeout" in obs.reason


# --- transport failures (MockTransport keeps the cause chain as httpx does) ------------------


@pytest.mark.parametrize(
    ("failure", "outcome", "word"),
    [
        (
            raising(httpx.ConnectError("x"), socket.gaierror(socket.EAI_NONAME, "unknown")),
            Outcome.DNS_ERROR,
            "DNS",
        ),
        (
            raising(httpx.ConnectError("x"), ConnectionRefusedError(111, "Connection refused")),
            Outcome.CONNECTION_REFUSED,
            "refused",
        ),
        (
            raising(httpx.ReadError("x"), ConnectionResetError(104, "Connection reset by peer")),
            Outcome.CONNECTION_RESET,
            "reset",
        ),
        (
            raising(httpx.RemoteProtocolError("Server disconnected without sending a response.")),
            Outcome.CONNECTION_RESET,
            "closed",
        ),
        (
            raising(httpx.ConnectError("x"), OSError(101, "Network is unreachable")),
            Outcome.CONNECTION_ERROR,
            "unreachable",
        ),
    ],
)
def test_transport_failures_name_their_cause(
    failure: httpx.MockTransport, outcome: Outcome, word: str
) -> None:
    obs = check(transport=failure)
    assert obs.outcome is outcome
    assert word.lower() in obs.reason.lower()
    assert obs.http_status is None


def test_expired_certificate_is_a_tls_error_saying_so() -> None:
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed: certificate has expired")
    cert.verify_message = "certificate has expired"
    obs = check(transport=raising(httpx.ConnectError("x"), cert))
    assert obs.outcome is Outcome.TLS_ERROR and "expired" in obs.reason


def test_an_error_that_is_no_network_failure_is_logged_as_a_bug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="catalog.check.fetch"):
        obs = check(transport=raising(KeyError((b"http", b"example.org", None))))
        assert obs.outcome is Outcome.CONNECTION_ERROR and "KeyError" in obs.reason
        assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
        caplog.clear()
        check(transport=raising(httpx.ConnectError("x"), ConnectionRefusedError(111, "refused")))
        assert not caplog.records  # a site's failure is a finding, not an error of ours


# --- bodies ----------------------------------------------------------------------------------


def test_body_is_read_only_up_to_the_cap() -> None:
    sent = {"chunks": 0}

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(50 * 1024):  # 50 MiB in 1 KiB chunks
            sent["chunks"] += 1
            yield b"x" * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/plain"}, content=endless())

    obs = check(settings=replace(SETTINGS, max_body_bytes=10_000), transport=transport(handler))
    assert obs.outcome is Outcome.OK
    assert obs.bytes_read == 10_000
    assert sent["chunks"] <= 12


def test_decoded_bytes_count_against_the_cap() -> None:
    packed = gzip.compress(b"a" * 5_000_000)  # about 5 KB on the wire

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(packed), 1024):
            yield packed[start : start + 1024]

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain"}
        return httpx.Response(200, headers=headers, content=stream())

    obs = check(settings=replace(SETTINGS, max_body_bytes=64_000), transport=transport(handler))
    assert obs.outcome is Outcome.OK and obs.bytes_read == 64_000


@pytest.mark.parametrize("status", [404, 410, 403])
@pytest.mark.parametrize("fault", ["not gzip", "broken off"])
def test_an_error_page_whose_body_fails_still_answers_with_its_status(
    status: int, fault: str
) -> None:
    """An error body is read only to recognise a bot wall: a 404 whose body claims gzip
    but is not, or breaks off, was "could not be decoded" or "connection reset" instead
    of the 404 the server said."""

    async def body() -> AsyncIterator[bytes]:
        yield b"<title>Not Found</title>"
        if fault == "broken off":
            raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html"}
        if fault == "not gzip":
            headers["Content-Encoding"] = "gzip"
        return httpx.Response(status, headers=headers, content=body())

    obs = check(transport=transport(handler))
    assert obs.http_status == status and f"GET {status}" in obs.reason, obs.reason
    assert obs.outcome is {404: Outcome.NOT_FOUND, 410: Outcome.GONE}.get(
        status, Outcome.HTTP_ERROR
    )


@pytest.mark.parametrize("coding", ["none", "UTF-8", "identity, text"])
def test_a_coding_browsers_do_not_know_leaves_the_page_as_sent(coding: str) -> None:
    """Chrome shows such a body as it came; read as opaque bytes, a 200 titled "Page not
    found" was a working link without a title, not the soft 404 it is."""
    page = b"<html><head><title>Page not found</title></head><body>Sorry.</body></html>"

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html", "Content-Encoding": coding}
        return httpx.Response(200, headers=headers, content=page)

    obs = check(transport=transport(handler))
    assert (obs.outcome, obs.title) == (Outcome.SOFT_404, "Page not found"), obs.reason


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
@pytest.mark.parametrize("first", [1, 2, 100])
def test_a_deflate_body_is_read_however_its_first_bytes_come(wbits: int, first: int) -> None:
    """Raw deflate whose first read was one byte: zlib waited for a second byte without an
    error, so the raw reading was never tried and the page "could not be decoded"."""
    packer = zlib.compressobj(wbits=wbits)
    packed = packer.compress(PAGE.encode()) + packer.flush()

    async def body() -> AsyncIterator[bytes]:
        yield packed[:first]
        yield packed[first:]

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html", "Content-Encoding": "deflate"}
        return httpx.Response(200, headers=headers, content=body())

    obs = check(transport=transport(handler))
    assert obs.outcome is Outcome.OK, obs.reason
    assert obs.bytes_read == len(PAGE.encode())


@pytest.mark.parametrize("header", ["gzip, gzip", "deflate, x-gzip", "gzip, identity, deflate"])
def test_a_page_coded_twice_is_decoded_layer_by_layer(header: str) -> None:
    """Browsers undo each coding listed; with one layer undone the page was opaque bytes,
    and a 200 titled "Page not found" passed as a working link."""
    page = b"<html><head><title>Page not found</title></head><body>Sorry.</body></html>"
    for coding in [c.strip() for c in header.split(",")]:
        if coding != "identity":
            page = gzip.compress(page) if "gzip" in coding else zlib.compress(page)

    async def body() -> AsyncIterator[bytes]:
        for at in range(0, len(page), 7):  # the layers' bytes come in pieces
            yield page[at : at + 7]

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html", "Content-Encoding": header}
        return httpx.Response(200, headers=headers, content=body())

    obs = check(transport=transport(handler))
    assert (obs.outcome, obs.title) == (Outcome.SOFT_404, "Page not found"), obs.reason


def test_a_page_coded_more_times_than_we_undo_is_opaque() -> None:
    page = b"<html><head><title>Page not found</title></head></html>"
    for _ in range(MAX_CODINGS + 1):
        page = gzip.compress(page)
    headers = {"Content-Type": "text/html", "Content-Encoding": ", ".join(["gzip"] * 4)}
    obs = check(
        transport=transport(lambda request: httpx.Response(200, headers=headers, content=page))
    )
    assert (obs.outcome, obs.title) == (Outcome.OK, None), obs.reason


def test_a_page_whose_gzip_body_is_corrupt_is_still_a_failure() -> None:
    """Browsers show ERR_CONTENT_DECODING_FAILED for it: no page to read."""

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}

        async def body() -> AsyncIterator[bytes]:
            yield PAGE.encode()

        return httpx.Response(200, headers=headers, content=body())

    obs = check(transport=transport(handler))
    assert obs.outcome is Outcome.CONNECTION_ERROR and "decoded" in obs.reason


def test_a_page_whose_body_breaks_off_names_the_status_that_came() -> None:
    """The server answered 200 and then broke off: "GET no answer" said the opposite."""

    async def body() -> AsyncIterator[bytes]:
        yield PAGE.encode()[:40]
        raise httpx.ReadError("connection reset by peer")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=body())

    obs = check(transport=transport(handler))
    assert obs.outcome is Outcome.CONNECTION_RESET
    assert obs.reason.startswith("GET 200 after 2 retries") and "no answer" not in obs.reason
    assert "broke in the middle of the answer" in obs.reason
    assert obs.http_status == 200


def test_a_body_that_stalls_past_the_deadline_names_what_came_before() -> None:
    """A 503, a retry, then a 200 whose body stalls: the timeout's reason said only
    "GET no answer", as if the server had never answered."""
    answers = iter([503, 200])

    async def stall() -> AsyncIterator[bytes]:
        yield PAGE.encode()[:40]
        await asyncio.sleep(10)

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, content=stall() if status == 200 else b"busy")

    obs = check(settings=replace(SETTINGS, total_timeout=0.5), transport=transport(handler))
    assert obs.outcome is Outcome.TIMEOUT
    assert obs.reason.startswith("GET 200 after 1 retry (503); no complete answer within")
    assert obs.http_status == 200


def test_trickling_body_hits_the_deadline_for_the_url() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(100):
            await asyncio.sleep(0.05)
            yield b"x"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    obs = check(settings=replace(SETTINGS, total_timeout=0.3), transport=transport(handler))
    assert obs.outcome is Outcome.TIMEOUT
    assert "0.3 s" in obs.reason
    assert obs.elapsed_ms is not None and obs.elapsed_ms < 2000


# --- bot walls -------------------------------------------------------------------------------


@respx.mock
def test_cloudflare_challenge_is_blocked_and_not_retried() -> None:
    route = respx.get(URL).respond(
        403, headers={"cf-mitigated": "challenge", "server": "cloudflare"}, html="<p>...</p>"
    )
    obs = check()
    assert obs.outcome is Outcome.BLOCKED and route.call_count == 1


@respx.mock
def test_challenge_page_text_behind_cloudflare_is_blocked() -> None:
    respx.head(URL).respond(503, headers={"server": "cloudflare"})
    respx.get(URL).respond(
        503,
        headers={"server": "cloudflare"},
        html="<title>Just a moment...</title><script src='/cdn-cgi/challenge-platform/x'>",
    )
    obs = check(fingerprint_due=False)
    assert obs.outcome is Outcome.BLOCKED


@respx.mock
@pytest.mark.parametrize("status", [999, 401])
def test_linkedin_999_and_login_walls_are_blocked(status: int) -> None:
    respx.get(URL).respond(status)
    assert check().outcome is Outcome.BLOCKED


@respx.mock
def test_aws_waf_202_is_blocked() -> None:
    respx.get(URL).respond(202, headers={"x-amzn-waf-action": "challenge"})
    assert check().outcome is Outcome.BLOCKED


# --- safety and invalid URLs -----------------------------------------------------------------


@respx.mock
def test_host_resolving_to_a_private_address_is_never_requested() -> None:
    route = respx.get(URL).respond(200)
    obs = check(resolver=Resolver({"example.org": ["10.1.2.3"]}))
    assert obs.outcome is Outcome.PRIVATE_ADDRESS and not route.called


@respx.mock
def test_ip_literal_loopback_is_refused_without_dns() -> None:
    route = respx.get("http://127.0.0.1:8080/admin").respond(200)
    resolver = Resolver()
    obs = check("http://127.0.0.1:8080/admin", resolver=resolver)
    assert obs.outcome is Outcome.PRIVATE_ADDRESS
    assert not route.called and resolver.asked == []


@respx.mock
def test_redirect_into_the_metadata_address_is_refused() -> None:
    respx.get(URL).respond(302, headers={"Location": "http://169.254.169.254/latest/"})
    metadata = respx.get("http://169.254.169.254/latest/").respond(200)
    obs = check()
    assert obs.outcome is Outcome.PRIVATE_ADDRESS and not metadata.called
    assert obs.chain == (Hop(URL, 302),)


@respx.mock
def test_allow_listed_network_is_requested() -> None:
    route = respx.get(URL).respond(200, html=PAGE)
    settings = replace(SETTINGS, private_allowlist=("10.0.0.0/8",))
    obs = check(settings=settings, resolver=Resolver({"example.org": ["10.1.2.3"]}))
    assert obs.outcome is Outcome.OK and route.called


@respx.mock
def test_unresolvable_host_is_a_dns_error_without_a_request() -> None:
    route = respx.get(URL).respond(200, html=PAGE)
    obs = check(resolver=Resolver({"example.org": []}))
    assert obs.outcome is Outcome.DNS_ERROR and not route.called


@respx.mock
def test_allow_private_skips_our_resolver() -> None:
    respx.get(URL).respond(200, html=PAGE)

    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError("resolver must not be called")

    obs = check(settings=replace(SETTINGS, allow_private=True), resolver=no_dns)  # type: ignore[arg-type]
    assert obs.outcome is Outcome.OK


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://example.org/files/Annual Report 2019.pdf", "/files/Annual%20Report%202019.pdf"),
        ("https://example.org/search?q=annual report", "/search?q=annual%20report"),
        ('https://example.org/a{1}|"b"', "/a%7B1%7D%7C%22b%22"),
    ],
)
def test_a_space_in_the_url_is_requested_as_browsers_send_it(url: str, path: str) -> None:
    """`.../Annual Report 2019.pdf` was "Invalid URL", confirmed broken and never requested,
    though browsers open it (they send %20, WHATWG URL) and the report's own link worked."""
    asked: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path)
        return httpx.Response(200, html=PAGE)

    obs = check(url, transport=transport(handler))
    assert obs.outcome is Outcome.OK, obs.reason
    assert asked == [path.encode()]


@respx.mock
@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.org/x",
        "ftp://example.org/",
        "https://exa mple.org",
        "https://example.org/a\nb",
        "https://example.org/a\tb",
        "https://example.org/a\u00a0b",
    ],
)
def test_invalid_url_is_never_requested(url: str) -> None:
    obs = check(url)
    assert obs.outcome is Outcome.INVALID_URL
    assert obs.methods == () and len(respx.calls) == 0


# --- soft 404 --------------------------------------------------------------------------------

GENERIC = (
    "<html><head><title>Example</title></head><body><h1>Welcome</h1>"
    + "<p>Welcome to the Example organisation. We fight trafficking worldwide.</p>" * 20
    + "</body></html>"
)


@respx.mock
def test_deep_link_redirected_to_the_home_page_is_soft_404() -> None:
    respx.get(URL).respond(302, headers={"Location": "https://example.org/"})
    respx.get("https://example.org/").respond(200, html=GENERIC)
    assert check().outcome is Outcome.SOFT_404


@respx.mock
def test_page_titled_not_found_is_soft_404() -> None:
    respx.get(URL).respond(200, html="<title>Page not found</title><h1>Page not found</h1>")
    assert check().outcome is Outcome.SOFT_404


@respx.mock
def test_site_answering_every_path_alike_is_soft_404_with_one_probe_per_host() -> None:
    other = "https://example.org/reports/2020"
    respx.get(URL).respond(200, html=GENERIC)
    respx.get(other).respond(200, html=GENERIC)
    probe = respx.get(host="example.org").respond(200, html=GENERIC)
    settings = replace(SETTINGS, soft404_probe=True)
    observations = asyncio.run(
        check_targets([target(URL), target(other)], settings, resolver=Resolver())
    )
    assert [o.outcome for o in observations] == [Outcome.SOFT_404, Outcome.SOFT_404]
    assert probe.call_count == 1


@respx.mock
def test_real_page_on_a_site_that_says_404_is_ok() -> None:
    respx.get(URL).respond(200, html=PAGE)
    respx.get(host="example.org").respond(404, html="<title>Not found</title>")
    obs = check(settings=replace(SETTINGS, soft404_probe=True))
    assert obs.outcome is Outcome.OK


@respx.mock
def test_home_page_is_never_probed_nor_soft_404() -> None:
    home = respx.get("https://example.org/").respond(200, html=GENERIC)
    probe = respx.get(host="example.org").respond(200, html=GENERIC)
    obs = check("https://example.org/", replace(SETTINGS, soft404_probe=True))
    assert obs.outcome is Outcome.OK and home.called and not probe.called


def test_check_batch_runs_its_own_event_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/gone":
            return httpx.Response(404)
        return httpx.Response(200, html=PAGE)

    batch = Batch(0, (target("https://example.org/a"), target("https://example.org/gone")))
    observations = check_batch(
        batch, SETTINGS, transport=transport(handler), resolver=Resolver(), sleep=RecordingSleep()
    )
    assert [o.outcome for o in observations] == [Outcome.OK, Outcome.NOT_FOUND]


class CountingBody(bytes):
    """A body that counts how often its tags ("<") are counted."""

    tag_counts = 0

    def count(self, sub: Any, *args: Any) -> int:
        if sub == b"<":
            type(self).tag_counts += 1
        return super().count(sub, *args)


@pytest.mark.parametrize("tags", [10, 6_000, 25_000])
def test_a_pages_tags_are_counted_once(tags: int) -> None:
    """`read_page` counts them to choose a thread, and the HTML analysis counted them
    again for its own cap (2 MiB scanned twice per page)."""
    CountingBody.tag_counts = 0
    body = CountingBody(b"<title>Counted</title>" + b"<p>x</p>" * (tags // 2))
    answer = Answer("https://e.org/", 200, httpx.Headers({"content-type": "text/html"}), body)
    facts = asyncio.run(read_page(answer))
    assert facts.title == "Counted"
    assert CountingBody.tag_counts == 1


def test_a_page_heavy_with_tags_is_analysed_while_the_loop_goes_on() -> None:
    """A hostile page whose parsing takes seconds (the parser's cost grows faster than
    linearly with unclosed formatting tags) must not stop every other check on the shared
    loop: the loop keeps running while it is analysed. Inline, it would not tick at all."""
    body = b"<html><head><title>Taken</title></head><body>" + b"".join(
        b"<b id=%d>x" % i for i in range(8_000)
    )
    answer = Answer("https://e.org/", 200, httpx.Headers({"content-type": "text/html"}), body)

    async def analyse_beside_a_ticker() -> tuple[PageFacts, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.01)
        before = ticks
        facts = await read_page(answer)
        during = ticks - before
        ticker.cancel()
        return facts, during

    facts, ticks = asyncio.run(analyse_beside_a_ticker())
    assert facts.title == "Taken"
    assert ticks >= 10


def test_a_second_layer_stops_where_the_inner_stream_ends() -> None:
    """Past the inner stream's end, the outer layer went on inflating the rest (here 8 MiB
    of zeros behind a small page), and zlib piled it all up as the finished stream's
    `unused_data`: memory and copying without bound, on the event loop."""
    from catalog.check.fetch import LAYER_STEP, _Inflater, _Layers

    page = b"<html><head><title>Report</title></head><body>Text.</body></html>"
    body = gzip.compress(gzip.compress(page) + bytes(8 * 1024 * 1024))
    layers = _Inflater.for_encoding("gzip, gzip")
    assert isinstance(layers, _Layers)
    assert layers.inflate(body, 1024 * 1024) == page
    inner = layers._layers[-1]
    assert len(inner._object.unused_data) <= 2 * LAYER_STEP


@pytest.mark.parametrize(
    ("body", "content_type", "whole"),
    [
        pytest.param(PAGE.encode(), "text/html", True, id="page"),
        pytest.param(PAGE.encode() + b"\r\n<!-- 12 ms -->\nab", "text/html", True, id="then-bytes"),
        pytest.param(
            PAGE.upper().encode().replace(b"</HTML>", b"</HTML >"), None, True, id="sniffed"
        ),
        pytest.param(PAGE.encode(), "text/plain", True, id="unlabelled"),
        pytest.param(PAGE.encode()[:-20], "text/html", False, id="cut-in-the-page"),
        pytest.param(PAGE.encode() + b"<script>track()", "text/html", False, id="more-markup"),
        pytest.param(
            b"<html><script>w('<html></html>')</script><body><p>Find",
            "text/html",
            False,
            id="in-a-script",
        ),
        # A PDF carrying a page's markup is a PDF; a page a server labels PDF is the page.
        pytest.param(b"%PDF-1.7\n" + PAGE.encode(), "application/pdf", False, id="pdf"),
        pytest.param(PAGE.encode(), "application/pdf", True, id="page-labelled-pdf"),
        # A page under a data file's label is the page (read for the server's error message,
        # `content.reads_as_html`); a JSON document quoting a page's markup is no page.
        pytest.param(PAGE.encode(), "application/json", True, id="page-labelled-json"),
        pytest.param(
            b'{"page": "' + PAGE.encode().replace(b'"', b"'") + b'"}',
            "application/json",
            False,
            id="json",
        ),
    ],
)
def test_a_body_broken_off_is_a_whole_page_only_after_its_last_closing_html_tag(
    body: bytes, content_type: str | None, whole: bool
) -> None:
    """What a server that breaks its answer off has sent counts as the page when it is an
    HTML document to its `</html>`, after which no markup began (`read_page_body`)."""
    end = document_end(body, content_type)
    assert (end is not None) == whole
    if end is not None:
        assert body[:end].lower().endswith((b"</html>", b"</html >"))


@pytest.mark.parametrize(
    ("body", "content_type", "judged"),
    [
        pytest.param(
            PAGE.encode() + b"\n", "text/html", (PAGE.encode(), False, Cut.STALLED), id="page"
        ),
        pytest.param(PAGE.encode()[:-20], "text/html", None, id="part-of-a-page"),
        pytest.param(b"%PDF-1.7\n" + b"0" * 100_000, "application/pdf", None, id="too-little"),
        pytest.param(
            b"%PDF-1.7\n" + b"0" * SLOW_BODY_BYTES,
            "application/pdf",
            ((b"%PDF-1.7\n" + b"0" * SLOW_BODY_BYTES)[:SLOW_BODY_BYTES], True, Cut.SLOW),
            id="enough",
        ),
    ],
)
def test_a_page_body_cut_by_the_deadline_is_judged_on_a_whole_page_or_enough_bytes(
    body: bytes, content_type: str, judged: tuple[bytes, bool, Cut] | None
) -> None:
    """A whole HTML document the server never ended is the page; any other body is judged
    on its first `SLOW_BODY_BYTES` once that many came, and is no answer before (a trickle
    is a timeout)."""
    headers = httpx.Headers({"content-type": content_type})
    assert judged_when_cut(body, headers) == judged
    if judged is not None:  # however much more came: the same bytes, the same fingerprint
        assert judged_when_cut(body + b"1" * 50_000, headers) == judged


# --- a file first read slowly, then whole --------------------------------------------------

#: A long plain-text file (a data dictionary, a CSV export): more than `SLOW_BODY_BYTES`.
LONG_TEXT = "".join(f"line {n}: the county, the year and the count of cases\n" for n in range(9000))


def _night(body: str, *, slow: bool, previous: Previous | None = None) -> Observation:
    """A fingerprint night for `body`, sent at once or its first `SLOW_BODY_BYTES` and then
    nothing before the URL's deadline (a server too slow to send the whole of it)."""
    data = body.encode()

    async def slowly() -> AsyncIterator[bytes]:
        yield data[: SLOW_BODY_BYTES + 1000]
        await asyncio.sleep(10)

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/plain; charset=utf-8"}
        return httpx.Response(200, headers=headers, content=slowly() if slow else data)

    settings = replace(SETTINGS, total_timeout=0.5)
    return check(settings=settings, previous=previous, transport=transport(handler))


HEALTH = HealthSettings()


def _kept(night: Observation) -> Previous:
    return Previous(fingerprint=night.fingerprint, content_length=night.content_length)


def test_a_file_first_read_slowly_is_unchanged_when_a_later_night_reads_it_whole() -> None:
    """Its first night's fingerprint is of its first 256 KiB; the night that read it whole
    hashed it all and said "content changed" once, though nothing had. The whole read
    becomes the baseline quietly, so an edit past the first bytes shows from then on."""
    assert len(LONG_TEXT.encode()) > SLOW_BODY_BYTES
    slow = _night(LONG_TEXT, slow=True)
    assert slow.outcome is Outcome.OK and slow.bytes_read == SLOW_BODY_BYTES, slow.reason
    state, _ = apply_observation(LinkState(), slow, HEALTH, now=slow.checked_at)
    whole = _night(LONG_TEXT, slow=False, previous=_kept(slow))
    assert whole.outcome is Outcome.OK and whole.bytes_read == len(LONG_TEXT.encode())
    assert whole.fingerprint_extends == slow.fingerprint
    assert whole.fingerprint == _night(LONG_TEXT, slow=False).fingerprint  # the whole file's
    state, changes = apply_observation(state, whole, HEALTH, now=whole.checked_at)
    assert state.fingerprint == whole.fingerprint
    assert state.fingerprint_since == slow.checked_at  # unchanged since the first night
    assert "content_changed" not in [c.kind for c in changes]
    # An edit past the first bytes now shows, as on any file read whole.
    edited = LONG_TEXT + "line 9000: a correction\n"
    later = _night(edited, slow=False, previous=_kept(whole))
    assert later.fingerprint_extends is None
    _, changes = apply_observation(state, later, HEALTH, now=later.checked_at)
    assert "content_changed" in [c.kind for c in changes]
    # Slow again after the whole read: nothing to compare the first bytes with, no change.
    again = _night(LONG_TEXT, slow=True, previous=_kept(whole))
    _, changes = apply_observation(state, again, HEALTH, now=again.checked_at)
    assert "content_changed" not in [c.kind for c in changes]


def test_a_file_first_read_slowly_whose_first_bytes_changed_has_changed() -> None:
    slow = _night(LONG_TEXT, slow=True)
    edited = LONG_TEXT.replace("line 7: the county", "line 7: the region")
    whole = _night(edited, slow=False, previous=_kept(slow))
    assert whole.fingerprint is not None and whole.fingerprint != slow.fingerprint
    assert whole.fingerprint_extends is None  # a change
    # ... and the whole read is the baseline from then on, as any read of it to its end.
    assert whole.fingerprint == _night(edited, slow=False).fingerprint
    shorter = _night(LONG_TEXT[:1000], slow=False, previous=_kept(slow))
    assert shorter.fingerprint not in (None, slow.fingerprint)
    cut_differently = _night(edited, slow=True, previous=_kept(slow))
    assert cut_differently.fingerprint not in (None, slow.fingerprint)


def test_a_slow_night_after_the_fingerprint_rule_changed_takes_a_new_baseline() -> None:
    """A file fingerprinted by its first bytes before migration 0015 marked it, read slowly
    again: its first bytes are the new baseline (quietly, as every marked link's first read
    is), where the mark hid that it was a first-bytes one and no fingerprint was taken, night
    after night, so an edit of those bytes was never seen."""
    slow = _night(LONG_TEXT, slow=True)
    legacy = LEGACY_FINGERPRINT + (slow.fingerprint or "")
    again = _night(LONG_TEXT, slow=True, previous=Previous(fingerprint=legacy))
    assert again.fingerprint == slow.fingerprint
    state = LinkState(fingerprint=legacy, fingerprint_since=slow.checked_at)
    state, changes = apply_observation(state, again, HEALTH, now=again.checked_at)
    assert state.fingerprint == slow.fingerprint
    assert "content_changed" not in [c.kind for c in changes]
    edited = LONG_TEXT.replace("line 7: the county", "line 7: the region")
    later = _night(edited, slow=True, previous=_kept(again))
    _, changes = apply_observation(state, later, HEALTH, now=later.checked_at)
    assert "content_changed" in [c.kind for c in changes]
