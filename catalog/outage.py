"""The network-outage guard: tell "the sites are down" from "we are offline".

Input: one batch's observations. Output: whether our own network looked down
while the batch ran, and the observations rewritten as `network_unavailable` if
so, so that an outage on our side never counts towards a link's failures.

The rule is deliberately conservative in the direction of *not* blaming the
sites: a batch is judged offline only when no host answered at all (not even
with an error status) and at least `outage_host_share` of its distinct hosts
failed at the DNS or connection level. A few dead hosts prove nothing, so at least
`MIN_HOSTS` distinct hosts are needed. A smaller batch (a curator's recheck of one
link, or a night's batch holding a few lapsed domains) that failed that way is
`undecided`: the caller may ask a few witnesses, hosts of the catalog that answered at
their last check (any other hosts when none ever did), and `confirmed_by` judges the batch
offline when none of them can be reached either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.urls import host_of

#: Distinct hosts a batch needs to be judged offline on its own. Two or three hosts that
#: all fail are as likely lapsed domains (a recheck of a few edited links, or a night's batch
#: of hosts that time out) as our own network; below this, witnesses decide (a few requests).
MIN_HOSTS = 10
#: Unreachable hosts that are enough when there is no witness to ask (`confirmed_by`).
ALONE_MIN_HOSTS = 2


@dataclass(frozen=True)
class OutageVerdict:
    network_down: bool
    hosts: int
    hosts_unreachable: int
    #: Some host gave an HTTP answer (any status): our network worked.
    answered: bool = False
    #: URLs of other hosts checked as witnesses; when `network_down`, none was reachable.
    witnesses: tuple[str, ...] = ()

    @property
    def undecided(self) -> bool:
        """Every host failed at the network level, but too few hosts to tell our network
        from theirs."""
        return (
            not self.network_down
            and not self.answered
            and 0 < self.hosts < MIN_HOSTS
            and self.hosts_unreachable == self.hosts
        )

    @property
    def sentence(self) -> str:
        if self.witnesses:
            others = ", ".join(host_of(u) or u for u in self.witnesses)
            if self.hosts == 1:
                checked, learned = "the link's host could not be reached", "this link"
            else:
                checked = f"none of the {self.hosts} hosts of these links could be reached"
                learned = "these links"
            return (
                f"Our network looked down: {checked}, nor could "
                f"{len(self.witnesses)} other host(s) of the catalog ({others}), so nothing "
                f"was learned about {learned}."
            )
        return (
            f"Our network looked down: {self.hosts_unreachable} of {self.hosts} hosts could not be "
            "reached at all and none answered, so nothing was learned about these links."
        )


#: Outcomes of a check that sent no request: its verdict needs no network, and says
#: nothing of ours (an address refused as private, before or after its lookup).
NOT_SENT = frozenset({Outcome.INVALID_URL, Outcome.PRIVATE_ADDRESS})


def was_sent(observation: Observation) -> bool:
    """Whether its check sent a request (or tried to): only then does it say anything of
    our network, one way or the other (`judge`, and the canaries, `catalog.canary`).

    A private address reached by a redirect was sent: its first host answered (a captive
    portal's redirect into our own network, say), so it was asked, not refused unasked."""
    return observation.outcome not in NOT_SENT or bool(observation.chain)


def judge(observations: Sequence[Observation], share: float) -> OutageVerdict:
    by_host: dict[str, list[Observation]] = {}
    for obs in observations:
        host = host_of(obs.url)
        if host and was_sent(obs):
            by_host.setdefault(host, []).append(obs)
    answered = any(o.http_status is not None for obs in by_host.values() for o in obs)
    unreachable = sum(
        1 for obs in by_host.values() if all(o.outcome.is_network_failure for o in obs)
    )
    hosts = len(by_host)
    down = not answered and hosts >= MIN_HOSTS and unreachable / hosts >= share
    return OutageVerdict(
        network_down=down, hosts=hosts, hosts_unreachable=unreachable, answered=answered
    )


def was_heard(witness: Observation) -> bool:
    """Whether a witness's check says anything of our network: an HTTP answer, or a
    network failure. One not fetched at all (a private address this run may not reach, a
    name resolving into our own network) was never asked and says nothing either way."""
    return witness.http_status is not None or witness.outcome.is_network_failure


def confirmed_by(verdict: OutageVerdict, witnesses: Sequence[Observation]) -> OutageVerdict:
    """An `undecided` verdict settled by witnesses: offline when every one of them failed at
    the network level too; unchanged when any answered (the link's host is the one down).

    With no witness heard (every host of the catalog is in the batch, or none could be
    fetched), `ALONE_MIN_HOSTS` unreachable hosts judge themselves: a small catalog whose
    every site fails at once is far likelier our network than all of them dead."""
    heard = [w for w in witnesses if was_heard(w)]
    if not verdict.undecided:
        return verdict
    if not heard:
        return replace(verdict, network_down=verdict.hosts >= ALONE_MIN_HOSTS)
    if any(w.http_status is not None for w in heard):
        return verdict
    return replace(verdict, network_down=True, witnesses=tuple(w.url for w in heard))


def mask(observations: Sequence[Observation], verdict: OutageVerdict) -> list[Observation]:
    """Network failures become `network_unavailable`; everything else is kept as observed."""
    if not verdict.network_down:
        return list(observations)
    return unavailable(observations, verdict.sentence)


def unavailable(observations: Sequence[Observation], why: str) -> list[Observation]:
    """`observations` with each network failure read as `network_unavailable` (`why`, then
    what the check itself said): it counts against no link.

    A try held for its host's silence (`Observation.held`, `timeout`) is one of them, and no
    longer held: it found our network down, as its host's asked links did. Held still, it
    read "not sent" in `linkhealth resource` and on its page, while the count the link keeps
    (`links.held_tries`) leaves out a try our network was down for."""
    return [
        replace(
            o,
            outcome=Outcome.NETWORK_UNAVAILABLE,
            reason=f"{why} (The check itself said: {o.reason})",
            held=False,
        )
        if o.outcome.is_network_failure
        else o
        for o in observations
    ]
