"""Canaries: before a run fetches anything, is our own network up?

Stage: check (before the targets). Input: `HealthSettings.canary_urls` (well-known,
always-up pages chosen by the operator) and `CheckSettings`. Output: a `CanaryVerdict`:
the run is network-down when every canary failed at the network level (DNS, refused,
connection error, timeout). Any HTTP answer, even an error status, proves the network
works. With no canaries configured nothing is judged, and the per-batch guard in
`catalog.outage` is the only protection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx

from catalog.check import check_targets
from catalog.check.safety import Resolver
from catalog.clock import Clock, utcnow
from catalog.model import Observation, Target
from catalog.settings import CheckSettings
from catalog.text import counted
from catalog.urls import host_of

__all__ = ["CanaryVerdict", "check_canaries"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class CanaryVerdict:
    observations: tuple[Observation, ...] = ()

    @property
    def checked(self) -> int:
        return len(self.observations)

    @property
    def failed(self) -> tuple[Observation, ...]:
        return tuple(o for o in self.observations if o.outcome.is_network_failure)

    @property
    def network_down(self) -> bool:
        return bool(self.observations) and len(self.failed) == len(self.observations)

    @property
    def reason(self) -> str:
        """One sentence for each masked observation (one link)."""
        return self.reason_for(1)

    def reason_for(self, links: int) -> str:
        """One sentence for a run that was to check `links` links: the run summary's says
        how many nothing was learned about, not "this link" for all 26 of them."""
        if not self.observations:
            return "No canary URLs are configured, so our network was not tested before the run."
        if not self.network_down:
            ok = self.checked - len(self.failed)
            return f"{ok} of {counted(self.checked, 'canary URL')} answered: our network works."
        what = "; ".join(f"{o.url}: {o.outcome.label.lower()}" for o in self.observations)
        # "all 1 canary URLs" for the one canary of a small setup
        failed = "the canary URL" if self.checked == 1 else f"all {self.checked} canary URLs"
        learned = "this link" if links == 1 else f"the {counted(links, 'link')} of this run"
        return (
            f"Not checked: {failed} failed at the network level ({what}), "
            f"so our own network looked down and nothing was learned about {learned}."
        )


def check_canaries(
    urls: Sequence[str],
    check: CheckSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    clock: Clock = utcnow,
) -> CanaryVerdict:
    """Fetch every canary once (no soft-404 probe); blocking."""
    if not urls:
        return CanaryVerdict()
    targets = [Target(url=u, host=host_of(u), fingerprint_due=False) for u in urls]
    settings = replace(check, soft404_probe=False)
    observations = _run(
        check_targets(targets, settings, transport=transport, resolver=resolver, clock=clock)
    )
    return CanaryVerdict(tuple(observations))


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run`, also from code that already runs inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
