"""Canary checks tell "our network is down" from "some sites are down" before a run."""

from __future__ import annotations

import httpx

from catalog.canary import check_canaries
from catalog.settings import CheckSettings

CHECK = CheckSettings(max_attempts=1, total_timeout=5)
CANARIES = ("https://canary-one.example/", "https://canary-two.example/")


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def offline(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)


def test_every_canary_failing_at_the_network_level_means_network_down() -> None:
    verdict = check_canaries(
        CANARIES, CHECK, transport=httpx.MockTransport(offline), resolver=public
    )
    assert verdict.network_down
    assert verdict.checked == 2
    assert all(o.outcome.is_network_failure for o in verdict.observations)
    assert verdict.reason


def test_any_http_answer_proves_the_network_works() -> None:
    def one_answers(request: httpx.Request) -> httpx.Response:
        if request.url.host == "canary-two.example":
            return httpx.Response(503)
        return offline(request)

    verdict = check_canaries(
        CANARIES, CHECK, transport=httpx.MockTransport(one_answers), resolver=public
    )
    assert not verdict.network_down
    assert any(o.http_status == 503 for o in verdict.observations)
    assert len(verdict.failed) == 1


def test_no_canaries_judge_nothing() -> None:
    verdict = check_canaries((), CHECK)
    assert not verdict.network_down and verdict.checked == 0


def test_the_reason_counts_one_canary_as_one() -> None:
    """A small setup's single canary read "all 1 canary URLs failed"."""
    (one,) = CANARIES[:1]
    down = check_canaries([one], CHECK, transport=httpx.MockTransport(offline), resolver=public)
    assert down.reason.startswith(
        f"Not checked: the canary URL failed at the network level ({one}: "
    )

    def answers(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    up = check_canaries([one], CHECK, transport=httpx.MockTransport(answers), resolver=public)
    assert up.reason == "1 of 1 canary URL answered: our network works."
    two = check_canaries(CANARIES, CHECK, transport=httpx.MockTransport(offline), resolver=public)
    assert two.reason.startswith("Not checked: all 2 canary URLs failed at the network level (")
