"""Per-request retries: which answers deserve another try, and how long to wait.

Stage: check. Input: a coroutine that sends one request and returns an `Attempt` (it never
raises for a server's doing). Output: the last `Attempt` and a `RetryNote` per retry.

Transient answers (5xx, 408, 429, timeouts, resets) are retried with exponential backoff
and jitter, preferring the server's `Retry-After` (seconds or HTTP-date). A Retry-After
longer than `settings.retry_after_cap` ends the retries: we would rather report
"rate limited" today than hold a worker for an hour. Retries of single links live here,
never in Prefect, whose retries are for infrastructure.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import assert_never

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.wait import wait_base

from catalog.check.classify import blocked_reason
from catalog.check.facts import Attempt, RetryNote
from catalog.check.reasons import FailureKind, describe_error
from catalog.clock import http_date
from catalog.settings import CheckSettings

#: Server errors that say "this will not work on retry" (method or version unsupported,
#: a captive portal wanting a login).
_PERMANENT_5XX = frozenset({501, 505, 511})


def retry_after_seconds(headers: httpx.Headers, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`, or None when absent or unreadable."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which float() refuses
        return float(value)
    when = http_date(value)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def retry_cause(attempt: Attempt) -> str | None:
    """A short cause when `attempt` is worth repeating, else None. Lists every case."""
    if attempt.error is not None:
        kind = describe_error(attempt.error).kind
        match kind:
            case FailureKind.TIMEOUT:
                return "timeout"
            case FailureKind.RESET:
                return "connection reset"
            case FailureKind.DNS | FailureKind.REFUSED | FailureKind.TLS:
                # Settled for this run: retrying in a second changes nothing.
                return None
            case FailureKind.INVALID_URL | FailureKind.OTHER:
                return None
            case _:
                assert_never(kind)
    answer = attempt.answer
    if answer is None:
        return None
    status = answer.status
    if status in (408, 429):
        return str(status)
    if 500 <= status <= 599 and status not in _PERMANENT_5XX:
        if blocked_reason(status, answer.headers, answer.body) is not None:
            return None  # a bot challenge answers the same way every time
        return str(status)
    return None


def should_retry(attempt: Attempt, settings: CheckSettings, left: float | None = None) -> bool:
    """Whether to try again; `left` is the time before the URL's deadline, if it has one."""
    if retry_cause(attempt) is None:
        return False
    return attempt.retry_after is None or not _too_long(attempt.retry_after, settings, left)


def refused_wait(
    attempt: Attempt, settings: CheckSettings, left: float | None = None
) -> float | None:
    """The Retry-After that ended the retries, if any: longer than the cap, or than the
    time `left` before the URL's deadline (which would cut the wait short: two waits of
    30 s made a site answering 503 every time a 45 s timeout with "no answer")."""
    wait = attempt.retry_after
    if retry_cause(attempt) is not None and wait is not None and _too_long(wait, settings, left):
        return wait
    return None


def _too_long(wait: float, settings: CheckSettings, left: float | None) -> bool:
    return wait > settings.retry_after_cap or (left is not None and wait >= left)


class WaitRetryAfterOrBackoff(wait_base):
    """Retry-After when the server gave one, else exponential backoff plus jitter."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        attempt = outcome.result() if outcome is not None and not outcome.failed else None
        if isinstance(attempt, Attempt) and attempt.retry_after is not None:
            return float(attempt.retry_after)
        base = self.initial * 2.0 ** (retry_state.attempt_number - 1)
        return min(self.maximum, base + self.rng.uniform(0, self.initial))


async def with_retries(
    send: Callable[[], Awaitable[Attempt]],
    settings: CheckSettings,
    *,
    sleep: Callable[[float], Awaitable[None]],
    left: Callable[[], float | None] = lambda: None,
    notes: list[RetryNote] | None = None,
    again: Callable[[], bool] = lambda: True,
) -> tuple[Attempt, tuple[RetryNote, ...]]:
    """Send until the answer is final or `settings.max_attempts` are used up, or until a
    Retry-After asks for more than the `left()` seconds before the URL's deadline, or
    `again()` says the caller has no time for another try (`fetch.Progress.connect_left`).

    Each retry's note is appended to `notes` as it is decided (so a deadline that ends the
    retries keeps them) and returned too.

    Nearly every request is final at once; tenacity's state machine cost more CPU per
    request than the rest of the retry logic, so it only takes over from the first
    answer that deserves another try (and replays it, so its policy sees every attempt).
    """
    first = await send()
    if settings.max_attempts <= 1 or not (should_retry(first, settings, left()) and again()):
        return first, ()
    replay = [first]

    async def resend() -> Attempt:
        return replay.pop() if replay else await send()

    notes = notes if notes is not None else []
    start = len(notes)

    def note(state: RetryCallState) -> None:
        attempt = state.outcome.result() if state.outcome is not None else None
        if isinstance(attempt, Attempt):
            cause = retry_cause(attempt) or "?"
            connecting = isinstance(attempt.error, httpx.ConnectError | httpx.ConnectTimeout)
            notes.append(
                RetryNote(cause, attempt.retry_after, state.upcoming_sleep, not connecting)
            )

    def last_result(state: RetryCallState) -> Attempt:
        assert state.outcome is not None
        result: Attempt = state.outcome.result()
        return result

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, settings.max_attempts)),
        wait=WaitRetryAfterOrBackoff(settings.backoff_initial, settings.backoff_max),
        retry=retry_if_result(lambda attempt: should_retry(attempt, settings, left()) and again()),
        sleep=sleep,
        before_sleep=note,
        retry_error_callback=last_result,
    )
    attempt: Attempt = await retrying(resend)
    return attempt, tuple(notes[start:])
