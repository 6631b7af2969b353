"""Wayback snapshot suggestions: CDX first, availability API second, never raising."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
import respx

from catalog.archive import (
    AVAILABILITY_URL,
    CDX_URL,
    ArchiveLookup,
    Snapshot,
    format_timestamp,
    parse_timestamp,
)

URL = "http://www.example.org/guide.pdf"
FAILED_AT = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
CDX_HEADER = ["timestamp", "original", "statuscode"]
EMPTY_AVAILABILITY = {"url": URL, "archived_snapshots": {}}


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(headers={"User-Agent": "linkhealth-test (+mailto:ops@example.org)"}) as c:
        yield c


def availability(timestamp: str, status: str = "200") -> dict[str, object]:
    return {
        "url": URL,
        "archived_snapshots": {
            "closest": {
                "available": True,
                "url": f"http://web.archive.org/web/{timestamp}/{URL}",
                "timestamp": timestamp,
                "status": status,
            }
        },
    }


def test_cdx_capture_before_the_failure_is_suggested(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    cdx = router.get(CDX_URL).respond(json=[CDX_HEADER, ["20230105083000", URL, "200"]])

    snapshot = ArchiveLookup(client=client).closest_before(URL, FAILED_AT)

    assert snapshot == Snapshot(
        url=f"https://web.archive.org/web/20230105083000/{URL}",
        timestamp=datetime(2023, 1, 5, 8, 30, tzinfo=UTC),
        original=URL,
    )
    params = cdx.calls.last.request.url.params
    assert params["url"] == URL
    assert params["to"] == "20240310115959"  # strictly before the failure
    assert params["limit"] == "-1"
    assert params["filter"] == "statuscode:200"
    assert params["output"] == "json"
    assert cdx.calls.last.request.headers["User-Agent"].startswith("linkhealth-test")


def test_cdx_rows_at_or_after_the_failure_are_ignored(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    router.get(CDX_URL).respond(
        json=[
            CDX_HEADER,
            ["20220101000000", URL, "200"],
            ["20230601000000", URL, "200"],
            ["20240310120000", URL, "200"],
            ["20240401000000", URL, "200"],
        ]
    )

    snapshot = ArchiveLookup(client=client).closest_before(URL, FAILED_AT)

    assert snapshot is not None
    assert snapshot.timestamp == datetime(2023, 6, 1, tzinfo=UTC)


def test_empty_cdx_falls_back_to_the_availability_api(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    router.get(CDX_URL).respond(json=[])
    available = router.get(AVAILABILITY_URL).respond(json=availability("20211224101010"))

    snapshot = ArchiveLookup(client=client).closest_before(URL, FAILED_AT)

    assert snapshot is not None
    assert snapshot.url == f"https://web.archive.org/web/20211224101010/{URL}"
    assert snapshot.original == URL
    assert snapshot.timestamp == datetime(2021, 12, 24, 10, 10, 10, tzinfo=UTC)
    assert available.calls.last.request.url.params["timestamp"] == "20240310115959"


def test_availability_snapshot_after_the_failure_is_not_suggested(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    router.get(CDX_URL).respond(json=[])
    router.get(AVAILABILITY_URL).respond(json=availability("20240501000000"))

    assert ArchiveLookup(client=client).closest_before(URL, FAILED_AT) is None


def test_no_snapshot_anywhere_gives_none(router: respx.MockRouter, client: httpx.Client) -> None:
    router.get(CDX_URL).respond(json=[])
    router.get(AVAILABILITY_URL).respond(json=EMPTY_AVAILABILITY)

    assert ArchiveLookup(client=client).closest_before(URL, FAILED_AT) is None


def test_cdx_header_only_counts_as_no_capture(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    router.get(CDX_URL).respond(json=[CDX_HEADER])
    router.get(AVAILABILITY_URL).respond(json=EMPTY_AVAILABILITY)

    assert ArchiveLookup(client=client).closest_before(URL, FAILED_AT) is None


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection refused"),
        httpx.Response(200, text="<html>not json</html>"),
    ],
    ids=["http-503", "timeout", "connect-error", "not-json"],
)
def test_archive_trouble_gives_none_without_raising(
    router: respx.MockRouter, client: httpx.Client, failure: httpx.Response | Exception
) -> None:
    for endpoint in (CDX_URL, AVAILABILITY_URL):
        if isinstance(failure, httpx.Response):
            router.get(endpoint).mock(return_value=failure)
        else:
            router.get(endpoint).mock(side_effect=failure)

    assert ArchiveLookup(client=client).closest_before(URL, FAILED_AT) is None


def test_cdx_down_still_uses_the_availability_api(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    router.get(CDX_URL).respond(503)
    router.get(AVAILABILITY_URL).respond(json=availability("20200202020202"))

    snapshot = ArchiveLookup(client=client).closest_before(URL, FAILED_AT)

    assert snapshot is not None
    assert snapshot.timestamp == datetime(2020, 2, 2, 2, 2, 2, tzinfo=UTC)


def test_disabled_lookup_makes_no_request(router: respx.MockRouter, client: httpx.Client) -> None:
    router.get(CDX_URL).respond(json=[CDX_HEADER, ["20230105083000", URL, "200"]])

    assert ArchiveLookup(client=client, enabled=False).closest_before(URL, FAILED_AT) is None
    assert router.calls.call_count == 0


def test_cached_answer_is_reused_the_same_day(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    cdx = router.get(CDX_URL).respond(json=[CDX_HEADER, ["20230105083000", URL, "200"]])
    lookup = ArchiveLookup(client=client)

    first = lookup.closest_before(URL, FAILED_AT)
    second = lookup.closest_before(URL, FAILED_AT + timedelta(hours=3))

    assert first is not None and first == second
    assert cdx.call_count == 1


def test_no_snapshot_is_cached_too(router: respx.MockRouter, client: httpx.Client) -> None:
    router.get(CDX_URL).respond(json=[])
    router.get(AVAILABILITY_URL).respond(json=EMPTY_AVAILABILITY)
    cache: dict[str, tuple[datetime, Snapshot | None]] = {}

    ArchiveLookup(client=client, cache=cache).closest_before(URL, FAILED_AT)
    again = ArchiveLookup(client=client, cache=cache).closest_before(URL, FAILED_AT)

    assert again is None
    assert router.calls.call_count == 2  # one CDX and one availability request, once
    assert [answer for _, answer in cache.values()] == [None]


def test_network_failure_is_not_cached(router: respx.MockRouter, client: httpx.Client) -> None:
    router.get(CDX_URL).respond(503)
    router.get(AVAILABILITY_URL).respond(503)
    lookup = ArchiveLookup(client=client)

    lookup.closest_before(URL, FAILED_AT)
    lookup.closest_before(URL, FAILED_AT)

    assert router.calls.call_count == 4
    assert lookup.cache == {}


def test_cache_expires_after_cache_days(router: respx.MockRouter, client: httpx.Client) -> None:
    cdx = router.get(CDX_URL).respond(json=[CDX_HEADER, ["20230105083000", URL, "200"]])
    clock = FakeClock(datetime(2024, 3, 11, tzinfo=UTC))
    lookup = ArchiveLookup(client=client, clock=clock, cache_days=30)

    lookup.closest_before(URL, FAILED_AT)
    clock.now += timedelta(days=29)
    lookup.closest_before(URL, FAILED_AT)
    clock.now += timedelta(days=2)
    lookup.closest_before(URL, FAILED_AT)

    assert cdx.call_count == 2


def test_a_different_failure_day_asks_again(router: respx.MockRouter, client: httpx.Client) -> None:
    cdx = router.get(CDX_URL).respond(json=[CDX_HEADER, ["20230105083000", URL, "200"]])
    lookup = ArchiveLookup(client=client)

    lookup.closest_before(URL, FAILED_AT)
    lookup.closest_before(URL, FAILED_AT + timedelta(days=1))

    assert cdx.call_count == 2


def test_naive_failure_time_is_taken_as_utc(router: respx.MockRouter, client: httpx.Client) -> None:
    cdx = router.get(CDX_URL).respond(json=[])
    router.get(AVAILABILITY_URL).respond(json=EMPTY_AVAILABILITY)

    ArchiveLookup(client=client).closest_before(URL, datetime(2024, 3, 10, 12, 0))

    assert cdx.calls.last.request.url.params["to"] == "20240310115959"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20130919044612", datetime(2013, 9, 19, 4, 46, 12, tzinfo=UTC)),
        ("2013", datetime(2013, 1, 1, tzinfo=UTC)),
        ("201309", datetime(2013, 9, 1, tzinfo=UTC)),
        ("20131345000000", None),
        ("2013-09-19", None),
        ("", None),
    ],
)
def test_wayback_timestamps_parse_to_utc(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_timestamps_are_formatted_in_utc() -> None:
    moment = datetime(2024, 3, 10, 16, 0, tzinfo=timezone(timedelta(hours=2)))

    assert format_timestamp(moment) == "20240310140000"


def test_an_archived_copy_is_not_looked_up_in_the_archive(
    router: respx.MockRouter, client: httpx.Client
) -> None:
    """A curator linked the archived copy of a lapsed domain; when that copy failed to load
    one night, the report offered "the archived copy" of the archived copy
    (web.archive.org/web/…/https://web.archive.org/web/…/http://demand-forum.org/)."""
    copy = f"https://web.archive.org/web/20240301000000/{URL}"
    cdx = router.get(CDX_URL).mock(
        return_value=httpx.Response(200, json=[CDX_HEADER, ["20240301000000", copy, "200"]])
    )
    lookup = ArchiveLookup(client=client, clock=FakeClock(FAILED_AT))

    assert lookup.closest_before(copy, FAILED_AT) is None
    assert not cdx.called
