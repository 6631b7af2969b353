"""Validators a HEAD gave, stored before they were marked, are marked by migration 0017.

Before `fetch.STANDS_IN`, a read whose GET gave no validator and no length kept the
HEAD's unmarked, and the weekly read sent them: a CDN's fixed HEAD ETag was answered 304
for ever, and a page replaced by another stayed "OK" on databases written before the fix
(`test_e5_head_validators_never_sent` covers those written after it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx
from alembic import command
from sqlalchemy import Engine, text

from catalog import migrate
from catalog.check.checker import _same_file
from catalog.check.fetch import SLOW_BODY_BYTES, conditional_headers, stands_in
from catalog.db import open_engine
from catalog.model import Observation, Previous
from catalog.outcomes import Outcome
from catalog.sync import sync_catalogs
from tests.factories import days, temporary_database
from tests.test_e2_validators_appear import KIT
from tests.test_e5_head_validators_never_sent import GUIDE, SALE, Server, night, title_of
from tests.test_fetch import LONG_TEXT, SETTINGS, _night, check

DATE = "Tue, 30 Apr 2024 10:00:00 GMT"

#: (content_length, etag, last_modified) stored at 0016, and what 0017 leaves.
LINKS = [
    ((None, '"x"', None), ('"x"', "(HEAD)")),  # a CDN's HEAD ETag, kept before e5
    ((None, None, DATE), (None, f"{DATE} (HEAD)")),
    ((None, '"x"', "Tue, 30 Apr 2024 12:00:00 +0200"), ('"x"', f"{DATE} (HEAD)")),
    ((None, '"x"', f"{DATE} (HEAD)"), ('"x"', f"{DATE} (HEAD)")),  # marked after e5
    ((1234, '"y"', DATE), ('"y"', DATE)),  # a length: the read's own validators
    ((None, None, None), (None, None)),
]


def test_0017_marks_the_validators_of_links_read_without_a_length(db_url: str) -> None:
    """Marked as fetch marks them: compared with the next HEADs, never sent on a GET."""
    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0016")
        for link_id, ((length, etag, modified), _) in enumerate(LINKS, start=1):
            conn.execute(
                text(
                    "INSERT INTO links (id, url, host, state, consecutive_failures,"
                    " pruned_checks, content_length, etag, last_modified) VALUES (:id, :url,"
                    " 'a.org', 'ok', 0, 0, :length, :etag, :modified)"
                ),
                {"id": link_id, "url": f"https://a.org/{link_id}", "length": length,
                 "etag": etag, "modified": modified},
            )  # fmt: skip

    def stored() -> list[tuple[str | None, str | None]]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT etag, last_modified FROM links ORDER BY id"))
            return [(etag, modified) for etag, modified in rows]

    migrate.upgrade(engine)
    assert stored() == [after for _, after in LINKS]
    for (etag, modified), ((length, *_), _) in zip(stored(), LINKS, strict=True):
        previous = Previous(etag=etag, last_modified=modified, content_length=length)
        assert stands_in(previous) == (length is None and bool(etag or modified))
        assert (conditional_headers(previous) == {}) == (length is None)
    with engine.begin() as conn:  # the marks stay: the code at 0016 reads them itself
        command.downgrade(migrate.alembic_config(conn), "0016")
    migrate.upgrade(engine)
    assert stored() == [after for _, after in LINKS]
    engine.dispose()


def as_before_e5(engine: Engine, modified: str | None = None) -> None:
    """The link as a linkhealth before `STANDS_IN` kept it (the HEAD's validators, not
    marked), in a database at revision 0016, then upgraded."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE links SET last_modified = :modified"), {"modified": modified})
        conn.execute(text("UPDATE alembic_version SET version_num = '0016'"))
    migrate.upgrade(engine)


def test_a_heads_etag_kept_before_the_fix_is_no_longer_sent(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """HEAD always says ETag "x"; GET says none and answers If-None-Match "x" with 304.
    After the upgrade, the next weekly read reads the page, and sees it replaced."""
    server = Server({"ETag": '"x"'}, {}, matches='"x"')
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = {n: night(engine, n, server, respx_mock) for n in (1, 2, 3)}
        as_before_e5(engine)
        server.version = SALE
        seen |= {n: night(engine, n, server, respx_mock) for n in (4, 8, 9)}
        assert title_of(engine) == SALE[0]
    assert [n for n, seen_then in seen.items() if "GET" in seen_then.methods] == [1, 2, 9]
    assert server.asked == [(None, None)] * 3
    assert not any(observation.not_modified for observation in seen.values())


@pytest.mark.parametrize(
    ("get", "sent"),
    [
        pytest.param({"ETag": '"g1"'}, ('"g1"', None), id="etag-chunked"),
        pytest.param({"Last-Modified": DATE}, (None, DATE), id="last-modified-chunked"),
    ],
)
def test_a_gets_own_validators_marked_by_the_upgrade_cost_one_read(
    tmp_path: Path,
    respx_mock: respx.MockRouter,
    get: dict[str, str],
    sent: tuple[str | None, str | None],
) -> None:
    """A page sent chunked whose GET carries its validators has no stored length either:
    0017 marks them too. The next weekly read is a full one; it keeps the GET's, unmarked,
    and the weekly reads after it are conditional again (an unchanged page costs a 304)."""
    server = Server(get, get, matches=sent[0] or sent[1])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        seen = {n: night(engine, n, server, respx_mock) for n in (1, 2)}
        as_before_e5(engine, get.get("Last-Modified"))
        seen |= {n: night(engine, n, server, respx_mock) for n in (3, 7, 8, 9, 14, 15)}
        assert title_of(engine) == GUIDE[0]
    reads = [n for n, seen_then in seen.items() if "GET" in seen_then.methods]
    assert reads == [1, 8, 15]
    assert server.asked == [(None, None), (None, None), sent]
    assert [seen[n].not_modified for n in reads] == [False, False, True]


def slow_night(previous: Previous) -> Observation:
    """A weekly read of `LONG_TEXT`, whose GET says Last-Modified `DATE` and sends the
    file's first `SLOW_BODY_BYTES` and then nothing before the URL's deadline."""
    data = LONG_TEXT.encode()

    async def slowly() -> AsyncIterator[bytes]:
        yield data[: SLOW_BODY_BYTES + 1000]
        await asyncio.sleep(10)

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "text/plain; charset=utf-8", "Last-Modified": DATE}
        return httpx.Response(200, headers=headers, content=slowly())

    settings = replace(SETTINGS, total_timeout=0.5)
    return check(settings=settings, previous=previous, transport=httpx.MockTransport(handler))


def test_a_slow_night_keeps_the_fingerprint_a_marked_date_vouches_for() -> None:
    """A file read whole, whose stored Last-Modified is marked (a HEAD's, or a GET's that
    0017 marked), read slowly the next week with the same date on GET: the server vouches
    for the copy read, and its fingerprint stays (`checker._same_file`). Compared as text
    with the mark, the dates differed: no fingerprint, and the file was read again the next
    night, and the next, for as long as it came slowly."""
    whole = _night(LONG_TEXT, slow=False)
    assert whole.fingerprint is not None
    previous = Previous(fingerprint=whole.fingerprint, last_modified=f"{DATE} (HEAD)")
    assert stands_in(previous)
    observation = slow_night(previous)
    assert observation.outcome is Outcome.OK, observation.reason
    assert observation.bytes_read == SLOW_BODY_BYTES
    assert observation.fingerprint == whole.fingerprint


def test_last_modified_compares_as_a_date() -> None:
    """The same moment however written or marked; another date, length or no date is not."""
    marked = Previous(last_modified=f"{DATE} (HEAD)")
    assert _same_file(marked, None, DATE, None)
    assert _same_file(marked, None, "Tue, 30 Apr 2024 12:00:00 +0200", None)
    assert not _same_file(marked, None, "Wed, 01 May 2024 10:00:00 GMT", None)
    assert not _same_file(marked, None, DATE, 5000)
    assert not _same_file(marked, None, None, None)
    assert _same_file(Previous(last_modified="not a date"), None, "not a date", None)
    assert not _same_file(Previous(last_modified="(HEAD)"), None, DATE, None)
