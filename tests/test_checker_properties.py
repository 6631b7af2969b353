"""Whatever a catalog holds in its url field, checking it yields one observation, never a crash."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.check import check_targets
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of
from tests.factories import public_resolver

CHECK = replace(CheckSettings(), soft404_probe=True, per_host_rate=10_000.0, max_attempts=1)


EXPECTED = {Outcome.OK, Outcome.SOFT_404, Outcome.INVALID_URL, Outcome.PRIVATE_ADDRESS}


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, html="<title>Fine</title><p>A page of plain words here.</p>")


def check_all(urls: list[str]) -> list[Observation]:
    targets = [Target(url=u, host=host_of(u), fingerprint_due=True) for u in urls]
    return asyncio.run(
        check_targets(targets, CHECK, transport=httpx.MockTransport(ok), resolver=public_resolver)
    )


url_like = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}{path}",
        st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "https:/", "//", ""]),
        st.text(max_size=30),
        st.text(max_size=40),
    ),
    st.from_regex(r"https?://[a-z0-9.\-\[\]:%@]{0,30}(/[^\s]{0,30})?", fullmatch=True),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(url_like, min_size=1, max_size=3))
def test_no_url_makes_check_targets_raise(urls: list[str]) -> None:
    observations = check_all(urls)
    assert [o.url for o in observations] == urls
    assert all(o.reason for o in observations)
    # The server always answers 200, so anything else would be a checker bug in disguise.
    assert {o.outcome for o in observations} <= EXPECTED
