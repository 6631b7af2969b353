"""A page sent chunked with no validator whose HEAD carries an ETag (a CDN that rewrites
the page's HTML drops it from GET) was read the night after each weekly read as well: the
weekly read left nothing to compare with, so the next HEAD's ETag "appeared" again (GETs on
nights 1, 2, 9, 10, 17, 18). The HEAD's validators now stand for the read that had none,
and are kept through the weekly reads, so that HEAD is compared with HEAD: one read more,
the night the ETag first shows, then weekly; another ETag on HEAD still sends the read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import respx

from catalog import store
from catalog.sync import sync_catalogs
from tests.factories import days, temporary_database
from tests.test_e2_validators_appear import BLIND, KIT, PAGE, Site, night, site

ODD = site({"ETag": '"p1"'}, None)  # an ETag on HEAD, none on its chunked GET


def reads(methods: list[tuple[str, ...]], first: int = 1) -> list[int]:
    """The nights (from `first`) whose check read the page."""
    return [n for n, done in enumerate(methods, start=first) if "GET" in done]


def test_validators_on_head_alone_are_compared_head_with_head_across_weekly_reads(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = [night(engine, n, ODD, respx_mock) for n in range(1, 23)]
        (target,) = store.targets_for_check(engine, now=days(23), fingerprint_max_age_days=7)
    # Night 2's HEAD is the first: its ETag is new beside a read with none, so it is read.
    # From then on each night's HEAD compares with that HEAD's ETag: weekly reads alone.
    assert reads(seen) == [1, 2, 9, 16]
    assert target.previous is not None and target.previous.etag == '"p1"'


def test_another_etag_on_head_still_sends_the_read_once(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """A new server (or a new version) behind the same CDN: its HEAD's ETag differs from
    the one kept, so the page is read that night, and compared with the new one after."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        before = [night(engine, n, ODD, respx_mock) for n in range(1, 12)]
        after = [night(engine, n, site({"ETag": '"p2"'}, None), respx_mock) for n in (12, 13, 14)]
    assert reads(before) == [1, 2, 9]
    assert after == [("HEAD", "GET"), ("HEAD",), ("HEAD",)]


def test_a_site_without_validators_is_read_weekly_and_a_new_servers_etag_at_once(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    new = site({"ETag": '"n1"', "Content-Length": "900"}, {"ETag": '"n1"'})
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        blind = [night(engine, n, BLIND, respx_mock) for n in range(1, 11)]
        taken = [night(engine, n, new, respx_mock) for n in (11, 12)]
    assert reads(blind) == [1, 8]
    assert taken == [("HEAD", "GET"), ("HEAD",)]


def test_the_weekly_read_never_names_the_heads_etag_yet_keeps_it_for_the_heads(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """The HEAD's ETag stands in for the read's, for the next HEADs to compare with; the
    weekly read does not send it, since the GET never gave it: a server may answer it 304
    whatever the page has become (`test_e5_head_validators_never_sent`)."""
    asked: list[str | None] = []

    async def stream() -> AsyncIterator[bytes]:
        yield PAGE.encode()

    def honest(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Type": "text/html", "ETag": '"p1"'})
        asked.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"p1"':
            return httpx.Response(304)
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=stream())

    answer: Site = honest
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = [night(engine, n, answer, respx_mock) for n in range(1, 11)]
        (target,) = store.targets_for_check(engine, now=days(11), fingerprint_max_age_days=7)
    assert reads(seen) == [1, 2, 9]
    assert asked == [None, None, None]
    assert target.previous is not None and target.previous.fingerprint is not None
    assert target.previous.etag == '"p1"'
