"""Canaries: before a run fetches anything, is our own network up?

Stage: check (before the targets). Input: `HealthSettings.canary_urls` (well-known,
always-up pages chosen by the operator) and `CheckSettings`. Output: a `CanaryVerdict`:
the run is network-down when every canary asked failed at the network level (DNS,
refused, connection error, timeout). Any HTTP answer, even an error status, proves the
network works. A canary the check refuses unasked (a private address the settings do not
allow) was never sent and proves nothing either way: it is not counted. With no canaries
configured (or none asked) nothing is judged, and the per-batch guard in `catalog.outage`
is the only protection.
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
from catalog.outage import was_sent
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.text import counted, in_sentence
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
    def asked(self) -> tuple[Observation, ...]:
        """The canaries a request was sent to: only they say anything of our network."""
        return tuple(o for o in self.observations if was_sent(o))

    @property
    def unasked(self) -> tuple[Observation, ...]:
        """The canaries the check refused without a request (`outage.NOT_SENT`)."""
        return tuple(o for o in self.observations if not was_sent(o))

    @property
    def failed(self) -> tuple[Observation, ...]:
        return tuple(o for o in self.observations if o.outcome.is_network_failure)

    @property
    def network_down(self) -> bool:
        """Every canary asked failed at the network level. One refused unasked is left
        out: counted as answering, `[a DNS failure, http://10.0.0.1/]` said our network
        worked; none asked, nothing is known."""
        return bool(self.asked) and len(self.failed) == len(self.asked)

    @property
    def reason(self) -> str:
        """One sentence for each masked observation (one link)."""
        return self.reason_for(1)

    def reason_for(self, links: int) -> str:
        """One sentence for a run that was to check `links` links: the run summary's says
        how many nothing was learned about, not "this link" for all 26 of them. A canary
        refused unasked is named apart (`refused`): it was neither up nor down."""
        if not self.observations:
            return "No canary URLs are configured, so our network was not tested before the run."
        refused = f" {self.refused}" if self.unasked else ""
        if not self.asked:
            untested = "No canary URL was asked, so our network was not tested before the run."
            return untested + refused
        n, asked = len(self.asked), " asked" if self.unasked else ""
        if not self.network_down:
            ok = n - len(self.failed)
            return (
                f"{ok} of {counted(n, 'canary URL')}{asked} answered: our network works.{refused}"
            )
        what = "; ".join(f"{o.url}: {in_sentence(o.outcome.label)}" for o in self.asked)
        # "all 1 canary URLs" for the one canary of a small setup
        failed = f"the canary URL{asked}" if n == 1 else f"all {n} canary URLs{asked}"
        if links == 0:  # each judged with no network (`runs.store_offline`): "the 0 links"
            learned = ", but no link of this run needed it"
        else:
            which = "this link" if links == 1 else f"the {counted(links, 'link')} of this run"
            learned = f" and nothing was learned about {which}"
        return (
            f"Not checked: {failed} failed at the network level ({what}), "
            f"so our own network looked down{learned}.{refused}"
        )

    @property
    def refused(self) -> str:
        """The sentence naming the canaries refused unasked, and why; "" when none."""
        if not self.unasked:
            return ""
        named = ", ".join(f"{o.url} ({_why_unasked(o)})" for o in self.unasked)
        if len(self.unasked) == 1:
            return f"{named} was refused unasked, so it proves nothing either way."
        return f"{named} were refused unasked, so they prove nothing either way."


def _why_unasked(observation: Observation) -> str:
    """Why the check sent a canary no request, naming the settings that would let it."""
    if observation.outcome is Outcome.PRIVATE_ADDRESS:
        return "a private address, not allowed by [check] allow_private or private_allowlist"
    return in_sentence(observation.outcome.label)


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
