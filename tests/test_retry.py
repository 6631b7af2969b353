"""Which answers are retried, how long we wait, and when we give up."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from catalog.check.facts import Answer, Attempt
from catalog.check.retry import (
    refused_wait,
    retry_after_seconds,
    retry_cause,
    should_retry,
    with_retries,
)
from catalog.settings import CheckSettings

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SETTINGS = CheckSettings(max_attempts=3, backoff_initial=0.5, backoff_max=8.0)


def status(code: int, headers=None, body: bytes = b"", retry_after: float | None = None):
    answer = Answer("https://example.org/", code, httpx.Headers(headers or {}), body)
    return Attempt("GET", "https://example.org/", answer=answer, retry_after=retry_after)


def error(exc: BaseException) -> Attempt:
    return Attempt("GET", "https://example.org/", error=exc)


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def run_sequence(attempts: list[Attempt], settings: CheckSettings = SETTINGS):
    sleep = RecordingSleep()
    queue = list(attempts)
    sent: list[Attempt] = []

    async def send() -> Attempt:
        sent.append(queue.pop(0))
        return sent[-1]

    last, notes = asyncio.run(with_retries(send, settings, sleep=sleep))
    return last, notes, sleep.waits, len(sent)


def test_retry_after_in_seconds() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"}), NOW) == 7.0


def test_retry_after_as_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=20), usegmt=True)
    assert retry_after_seconds(httpx.Headers({"Retry-After": later}), NOW) == 20.0


def test_retry_after_in_the_past_means_now_and_garbage_means_absent() -> None:
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert retry_after_seconds(httpx.Headers({"Retry-After": earlier}), NOW) == 0.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"}), NOW) is None
    assert retry_after_seconds(httpx.Headers(), NOW) is None


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(code: int) -> None:
    assert retry_cause(status(code)) == str(code)


@pytest.mark.parametrize("code", [200, 301, 304, 400, 403, 404, 410, 501, 505, 999])
def test_final_statuses_are_not_retried(code: int) -> None:
    assert retry_cause(status(code)) is None


def test_cloudflare_challenge_503_is_not_retried() -> None:
    assert retry_cause(status(503, {"cf-mitigated": "challenge"})) is None


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (httpx.ConnectTimeout("t"), True),
        (httpx.ReadTimeout("t"), True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
        (httpx.ReadError("reset"), True),
        (httpx.ConnectError("refused"), False),
        (httpx.UnsupportedProtocol("x"), False),
    ],
)
def test_timeouts_and_resets_are_retried_other_failures_not(
    exc: BaseException, retried: bool
) -> None:
    assert (retry_cause(error(exc)) is not None) is retried


def test_retry_after_beyond_the_cap_ends_retries() -> None:
    assert not should_retry(status(429, retry_after=3600.0), SETTINGS)
    assert should_retry(status(429, retry_after=5.0), SETTINGS)


def test_one_503_then_200_waits_once_with_backoff() -> None:
    last, notes, waits, sent = run_sequence([status(503), status(200)])
    assert last.answer is not None and last.answer.status == 200
    assert sent == 2 and len(notes) == 1 and notes[0].cause == "503"
    assert len(waits) == 1 and 0.5 <= waits[0] <= 1.0  # initial backoff plus jitter


def test_server_retry_after_is_preferred_to_backoff() -> None:
    _last, notes, waits, _ = run_sequence([status(429, retry_after=4.0), status(200)])
    assert waits == [4.0]
    assert notes[0].retry_after == 4.0


def test_backoff_grows_and_attempts_are_bounded() -> None:
    settings = replace(SETTINGS, max_attempts=4, backoff_initial=1.0, backoff_max=3.0)
    last, notes, waits, sent = run_sequence([status(500)] * 4, settings)
    assert sent == 4 and len(notes) == 3
    assert last.answer is not None and last.answer.status == 500
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 3.0 and waits[2] == 3.0


def test_too_long_retry_after_stops_at_once() -> None:
    last, notes, waits, sent = run_sequence([status(429, retry_after=999.0), status(200)])
    assert sent == 1 and waits == [] and notes == ()
    assert last.answer is not None and last.answer.status == 429


def test_a_retry_after_past_the_urls_deadline_ends_retries() -> None:
    """Waited for, it would be cut short by the deadline: a timeout instead of the 503."""
    busy = status(503, retry_after=10.0)
    assert should_retry(busy, SETTINGS) and should_retry(busy, SETTINGS, left=10.5)
    assert not should_retry(busy, SETTINGS, left=9.0)
    assert refused_wait(busy, SETTINGS, left=9.0) == 10.0
    assert refused_wait(busy, SETTINGS, left=10.5) is None


@pytest.mark.parametrize(("allowed", "sent"), [(0, 1), (1, 2), (5, 3)])
def test_retries_end_when_the_caller_has_no_time_for_another_try(allowed: int, sent: int) -> None:
    """`again` (an http:// address's time to connect spent: `fetch.Progress.connect_left`)
    ends the retries with the last attempt, and no retry noted that was never sent."""
    timeout = error(httpx.ConnectTimeout("connect"))
    asked: list[Attempt] = []

    async def send() -> Attempt:
        asked.append(timeout)
        return timeout

    def again() -> bool:  # asked about the same attempt more than once: no side effects
        return len(asked) <= allowed

    last, notes = asyncio.run(with_retries(send, SETTINGS, sleep=RecordingSleep(), again=again))
    assert last is timeout and len(asked) == sent and len(notes) == sent - 1
