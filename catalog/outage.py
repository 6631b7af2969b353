"""The network-outage guard: tell "the sites are down" from "we are offline".

Input: one batch's observations. Output: whether our own network looked down
while the batch ran, and the observations rewritten as `network_unavailable` if
so, so that an outage on our side never counts towards a link's failures.

The rule is deliberately conservative in the direction of *not* blaming the
sites: a batch is judged offline only when no host answered at all (not even
with an error status) and at least `outage_host_share` of its distinct hosts
failed at the DNS or connection level. One dead host proves nothing, so at least
`MIN_HOSTS` distinct hosts are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.urls import host_of

MIN_HOSTS = 2


@dataclass(frozen=True)
class OutageVerdict:
    network_down: bool
    hosts: int
    hosts_unreachable: int

    @property
    def sentence(self) -> str:
        return (
            f"Our network looked down: {self.hosts_unreachable} of {self.hosts} hosts could not be "
            "reached at all and none answered, so nothing was learned about these links."
        )


def judge(observations: Sequence[Observation], share: float) -> OutageVerdict:
    by_host: dict[str, list[Observation]] = {}
    for obs in observations:
        host = host_of(obs.url)
        if host and obs.outcome not in (Outcome.INVALID_URL, Outcome.PRIVATE_ADDRESS):
            by_host.setdefault(host, []).append(obs)
    answered = any(o.http_status is not None for obs in by_host.values() for o in obs)
    unreachable = sum(
        1 for obs in by_host.values() if all(o.outcome.is_network_failure for o in obs)
    )
    hosts = len(by_host)
    down = not answered and hosts >= MIN_HOSTS and unreachable / hosts >= share
    return OutageVerdict(network_down=down, hosts=hosts, hosts_unreachable=unreachable)


def mask(observations: Sequence[Observation], verdict: OutageVerdict) -> list[Observation]:
    """Network failures become `network_unavailable`; everything else is kept as observed."""
    if not verdict.network_down:
        return list(observations)
    return [
        replace(
            o,
            outcome=Outcome.NETWORK_UNAVAILABLE,
            reason=f"{verdict.sentence} (The check itself said: {o.reason})",
        )
        if o.outcome.is_network_failure
        else o
        for o in observations
    ]
