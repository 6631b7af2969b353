"""Verdicts at the network and protocol level that once misled curators (review r2).

A passing server error behind a redirect, a firewall's block page and a connection reset
during the TLS handshake each read as the site's lasting fault ("find where it moved",
"broken", "Certificate problem"); a browser's reload would have found the page.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from catalog.check import check_targets
from catalog.check.reasons import FailureKind, describe_error
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of

PUBLIC = "93.184.216.34"
NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, per_host_rate=1000.0)
OLD = "http://www.example.gov/reports/2019"
NEW = "https://www.example.gov/reports/2019/"


async def _public(host: str, port: int) -> list[str]:
    return [PUBLIC]


class _Sleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def check(
    url: str = OLD,
    settings: CheckSettings = SETTINGS,
    *,
    sleep: _Sleep | None = None,
    resolver: Any = _public,
    fingerprint_due: bool = True,
    **kwargs: Any,
) -> Observation:
    (obs,) = asyncio.run(
        check_targets(
            [Target(url=url, host=host_of(url), fingerprint_due=fingerprint_due)],
            settings,
            resolver=resolver,
            sleep=sleep or _Sleep(),
            clock=lambda: NOW,
            **kwargs,
        )
    )
    return obs


# --- F3: a server error behind a redirect ----------------------------------------------------


@respx.mock
@pytest.mark.parametrize("redirect", [301, 302, 308])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_a_passing_error_behind_a_redirect_is_judged_as_without_it(
    redirect: int, status: int
) -> None:
    """An http:// link's 301 to https:// in front of a maintenance page was "Redirects to
    an error" (not transient: "find where the resource moved"), while the same 503 without
    the redirect "may recover by itself". It is the same passing trouble, retried alike."""
    respx.get(OLD).respond(redirect, headers={"Location": NEW})
    route = respx.get(NEW).respond(status, html="<title>Down for maintenance</title>")
    obs = check()
    assert obs.outcome is Outcome.HTTP_ERROR and obs.outcome.is_transient
    assert route.call_count == SETTINGS.max_attempts, "retried as a direct one is"
    assert obs.http_status == status
    retries = SETTINGS.max_attempts - 1
    assert obs.reason == (
        f"GET {redirect} → {status} after {retries} retries ({'; '.join([str(status)] * retries)})"
        f": after redirects to {NEW}, the server answers with an error."
    )


@respx.mock
@pytest.mark.parametrize("status", [404, 410])
def test_a_redirect_to_a_missing_page_stays_a_redirect_to_error(status: int) -> None:
    """A moved page whose new address is dead: "find where the resource moved" is right."""
    respx.get(OLD).respond(301, headers={"Location": NEW})
    route = respx.get(NEW).respond(status)
    obs = check()
    assert obs.outcome is Outcome.REDIRECT_TO_ERROR and not obs.outcome.is_transient
    assert route.call_count == 1
    assert obs.reason == f"Redirects (301) to {NEW}, which answers {status}."


@respx.mock
@pytest.mark.parametrize("status", [429, 503])
def test_come_back_later_behind_a_redirect_is_rate_limited_as_without_it(status: int) -> None:
    respx.get(OLD).respond(301, headers={"Location": NEW})
    route = respx.get(NEW).respond(status, headers={"Retry-After": "3600"})
    obs = check()
    assert obs.outcome is Outcome.RATE_LIMITED
    assert route.call_count == 1 and "3600" in obs.reason


@respx.mock
@pytest.mark.parametrize("status", [429, 503])
def test_a_short_retry_after_behind_a_redirect_is_waited_for_and_the_page_read(
    status: int,
) -> None:
    respx.get(OLD).respond(301, headers={"Location": NEW})
    respx.get(NEW).mock(
        side_effect=[
            httpx.Response(status, headers={"Retry-After": "2"}),
            httpx.Response(200, html="<title>Annual report 2019</title><p>Findings.</p>"),
        ]
    )
    sleep = _Sleep()
    obs = check(sleep=sleep)
    assert obs.outcome is Outcome.REDIRECTED_PERMANENT
    assert sleep.waits == [2.0] and "Retry-After 2 s" in obs.reason


@respx.mock
def test_a_persistent_429_behind_a_redirect_is_rate_limited() -> None:
    respx.get(OLD).respond(302, headers={"Location": NEW})
    route = respx.get(NEW).respond(429)
    obs = check()
    assert obs.outcome is Outcome.RATE_LIMITED
    assert route.call_count == SETTINGS.max_attempts
