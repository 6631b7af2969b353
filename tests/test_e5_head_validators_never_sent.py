"""A read that compares content never sends a validator only a HEAD gave.

A CDN that rewrites a page's HTML drops the ETag from GET and keeps the origin's on HEAD,
where it never changes. That HEAD's ETag stands for the read that had none, so the nightly
HEADs compare with a HEAD's (`fetch.validators_of_read`). Sent as the weekly read's
If-None-Match, the server answered 304 for ever: the page was never read again, and a page
replaced by another passed as "OK". A validator a GET gave is still sent (issue #7: a 304
keeps an unchanged night's bytes low)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine

from catalog import store
from catalog.check import check_targets
from catalog.check.fetch import conditional_headers, validators_of_read
from catalog.clock import http_date
from catalog.model import Observation, Previous
from catalog.sync import sync_catalogs
from tests.factories import days, temporary_database
from tests.test_e2_validators_appear import CHECK, HEALTH, KIT, public

PAGE = "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
GUIDE = ("Guide to Victim Services", "Where survivors of trafficking find shelter and help.")
SALE = ("Domain for sale", "This domain may be for sale. Buy it now at a great price.")
LATER = ("Casino bonus", "Play the best online casino games and win a welcome bonus today.")


class Server:
    """example.org/guide serving `version` (title, text), its GET sent chunked.

    `head` is what every HEAD says; `get` what every 200 to GET says besides its type. A
    GET whose If-None-Match is `matches` is answered 304, however the page changed: the
    server that answered the HEAD's ETag so never read the page again."""

    def __init__(self, head: dict[str, str], get: dict[str, str], matches: str | None) -> None:
        self.head, self.get, self.matches = head, get, matches
        self.version = GUIDE
        #: (If-None-Match, If-Modified-Since) of every GET, in order.
        self.asked: list[tuple[str | None, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Type": "text/html", **self.head})
        sent = request.headers.get("if-none-match"), request.headers.get("if-modified-since")
        self.asked.append(sent)
        if self.matches is not None and self.matches in sent:
            return httpx.Response(304, headers=self.get)
        title, text = self.version
        body = PAGE.format(title=title, text=text).encode()

        async def chunked() -> AsyncIterator[bytes]:
            yield body

        return httpx.Response(
            200, headers={"Content-Type": "text/html", **self.get}, content=chunked()
        )


def night(engine: Engine, n: int, server: Server, respx_mock: respx.MockRouter) -> Observation:
    """Night `n`'s check (a full read once a week), stored."""
    respx_mock.routes.clear()
    respx_mock.route(host="example.org").mock(side_effect=server)
    targets = store.targets_for_check(engine, now=days(n), fingerprint_max_age_days=7)
    (observation,) = asyncio.run(
        check_targets(targets, CHECK, resolver=public, clock=lambda: days(n))
    )
    store.record_observations(engine, None, [observation], HEALTH, now=days(n))
    return observation


def title_of(engine: Engine) -> str | None:
    (state,) = store.link_states(engine)
    return state.title


def test_a_heads_etag_never_makes_the_weekly_read_conditional(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """HEAD always says ETag "x"; GET says none and answers If-None-Match "x" with 304.
    The weekly reads are real reads, week after week, and see each change."""
    server = Server({"ETag": '"x"'}, {}, matches='"x"')
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = [night(engine, n, server, respx_mock) for n in range(1, 5)]
        server.version = SALE  # replaced on night 5; the HEAD's ETag stays "x"
        seen += [night(engine, n, server, respx_mock) for n in range(5, 10)]
        assert title_of(engine) == SALE[0]
        server.version = LATER  # and again, after a weekly read kept the HEAD's ETag
        seen += [night(engine, n, server, respx_mock) for n in range(10, 17)]
        assert title_of(engine) == LATER[0]
    reads = [n for n, seen_then in enumerate(seen, start=1) if "GET" in seen_then.methods]
    assert reads == [1, 2, 9, 16]
    assert server.asked == [(None, None)] * 4
    assert not any(observation.not_modified for observation in seen)


@pytest.mark.parametrize(
    ("get", "sent"),
    [
        pytest.param({"ETag": '"g1"'}, ('"g1"', None), id="etag-chunked"),
        pytest.param(
            {"Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT"},
            (None, "Tue, 30 Apr 2024 10:00:00 GMT"),
            id="last-modified-chunked",
        ),
    ],
)
def test_a_validator_a_get_gave_still_makes_the_weekly_read_conditional(
    tmp_path: Path,
    respx_mock: respx.MockRouter,
    get: dict[str, str],
    sent: tuple[str | None, str | None],
) -> None:
    """A server whose GET carries its validators: the weekly read asks "changed since?"
    and an unchanged page costs a 304, not its bytes."""
    server = Server(get, get, matches=sent[0] or sent[1])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = [night(engine, n, server, respx_mock) for n in range(1, 17)]
        assert title_of(engine) == GUIDE[0]
    reads = [n for n, seen_then in enumerate(seen, start=1) if "GET" in seen_then.methods]
    assert reads == [1, 8, 15]
    assert server.asked == [(None, None), sent, sent]
    assert [seen[n - 1].not_modified for n in reads] == [False, True, True]


def test_a_heads_last_modified_is_compared_but_never_sent(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """The HEAD's Last-Modified stands for a read whose GET gave none: a later one on HEAD
    sends the read at once (compared as before), but no GET carries it."""
    modified = {"Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT"}
    server = Server(modified, {}, matches=modified["Last-Modified"])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = [night(engine, n, server, respx_mock) for n in range(1, 5)]
        server.version = SALE
        server.head = {"Last-Modified": "Wed, 01 May 2024 10:00:00 GMT"}
        seen.append(night(engine, 5, server, respx_mock))
        assert title_of(engine) == SALE[0]
    assert [observation.methods for observation in seen] == [
        ("GET",),
        ("HEAD", "GET"),  # a Last-Modified appeared where the read had none
        ("HEAD",),
        ("HEAD",),
        ("HEAD", "GET"),  # a later one
    ]
    assert server.asked == [(None, None)] * 3


def test_validators_standing_in_for_a_read_are_not_sent() -> None:
    """Kept through a weekly read that gave none either, they are still not sent."""
    head = httpx.Headers({"ETag": '"x"', "Last-Modified": "Tue, 30 Apr 2024 10:00:00 GMT"})
    etag, modified = validators_of_read(None, head)
    # Still the HEAD's date to compare with, and to staleness (`catalog.staleness`).
    assert http_date(modified) == datetime(2024, 4, 30, 10, tzinfo=UTC)
    after_head = Previous(etag=etag, last_modified=modified, fingerprint="sha256:abc")
    assert conditional_headers(after_head) == {}
    etag, modified = validators_of_read(after_head, None)
    assert etag == '"x"'
    weekly = Previous(etag=etag, last_modified=modified, fingerprint="sha256:def")
    assert conditional_headers(weekly) == {}
    read = Previous(etag='"x"', last_modified="Tue, 30 Apr 2024 10:00:00 GMT")
    assert conditional_headers(read) == {
        "If-None-Match": '"x"',
        "If-Modified-Since": "Tue, 30 Apr 2024 10:00:00 GMT",
    }


def test_a_heads_date_out_of_range_in_utc_still_stands_in() -> None:
    """A Last-Modified in year 9999 west of Greenwich has no UTC form: the HEAD's ETag
    still stands in, marked, instead of the checker failing on the link."""
    head = httpx.Headers({"ETag": '"x"', "Last-Modified": "Fri, 31 Dec 9999 23:59:59 -0500"})
    etag, modified = validators_of_read(None, head)
    assert etag == '"x"'
    assert conditional_headers(Previous(etag=etag, last_modified=modified)) == {}
