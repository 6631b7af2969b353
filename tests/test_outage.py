from datetime import UTC, datetime

from catalog.model import Observation
from catalog.outage import MIN_HOSTS, confirmed_by, judge, mask
from catalog.outcomes import Outcome

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _obs(url: str, outcome: Outcome, status: int | None = None) -> Observation:
    return Observation(url=url, checked_at=NOW, outcome=outcome, reason="x", http_status=status)


def _unreachable_hosts(count: int) -> list[Observation]:
    kinds = (Outcome.DNS_ERROR, Outcome.CONNECTION_REFUSED, Outcome.TIMEOUT)
    return [_obs(f"https://h{i}.org/", kinds[i % 3]) for i in range(count)]


def test_all_hosts_unreachable_means_our_network_is_down() -> None:
    observations = [
        _obs("https://a.org/1", Outcome.DNS_ERROR),
        _obs("https://a.org/2", Outcome.DNS_ERROR),
        *_unreachable_hosts(MIN_HOSTS - 1),
    ]
    verdict = judge(observations, share=0.8)
    assert verdict.network_down
    masked = mask(observations, verdict)
    assert {o.outcome for o in masked} == {Outcome.NETWORK_UNAVAILABLE}


def test_one_answering_host_proves_the_network_is_up() -> None:
    observations = [
        _obs("https://a.org/", Outcome.DNS_ERROR),
        _obs("https://b.org/", Outcome.DNS_ERROR),
        _obs("https://c.org/", Outcome.DNS_ERROR),
        _obs("https://d.org/", Outcome.NOT_FOUND, 404),
    ]
    verdict = judge(observations, share=0.5)
    assert not verdict.network_down
    assert mask(observations, verdict) == observations


def test_a_single_dead_host_is_not_an_outage() -> None:
    observations = [
        _obs("https://a.org/1", Outcome.DNS_ERROR),
        _obs("https://a.org/2", Outcome.DNS_ERROR),
    ]
    assert not judge(observations, share=0.8).network_down


def test_invalid_urls_keep_their_verdict_during_an_outage() -> None:
    observations = [*_unreachable_hosts(MIN_HOSTS), _obs("htp://x", Outcome.INVALID_URL)]
    masked = mask(observations, judge(observations, share=0.8))
    assert [o.outcome for o in masked] == [
        *[Outcome.NETWORK_UNAVAILABLE] * MIN_HOSTS,
        Outcome.INVALID_URL,
    ]


def test_a_lone_unreachable_host_is_undecided_until_witnesses_settle_it() -> None:
    lone = [_obs("https://a.org/1", Outcome.DNS_ERROR), _obs("https://a.org/2", Outcome.TIMEOUT)]
    verdict = judge(lone, share=0.8)
    assert verdict.undecided and not verdict.network_down

    unreachable = [
        _obs("https://b.org/", Outcome.DNS_ERROR),
        _obs("https://c.org/", Outcome.TIMEOUT),
    ]
    offline = confirmed_by(verdict, unreachable)
    assert offline.network_down and offline.witnesses == ("https://b.org/", "https://c.org/")
    assert "b.org, c.org" in offline.sentence
    assert {o.outcome for o in mask(lone, offline)} == {Outcome.NETWORK_UNAVAILABLE}

    one_answers = [unreachable[0], _obs("https://c.org/", Outcome.HTTP_ERROR, 503)]
    assert confirmed_by(verdict, one_answers) == verdict  # a.org itself is down
    assert confirmed_by(verdict, []) == verdict  # no witnesses: nothing to go on
    private = _obs("https://intranet.example/", Outcome.PRIVATE_ADDRESS)
    assert confirmed_by(verdict, [private]) == verdict  # not fetched: no evidence
    assert confirmed_by(verdict, [private, unreachable[0]]).witnesses == ("https://b.org/",)


def test_an_answering_or_a_many_host_batch_needs_no_witnesses() -> None:
    answered = judge([_obs("https://a.org/", Outcome.NOT_FOUND, 404)], share=0.8)
    refused = judge([_obs("https://a.org/", Outcome.CONNECTION_REFUSED)], share=0.8)
    many = judge(_unreachable_hosts(MIN_HOSTS), share=0.8)
    assert not answered.undecided and refused.undecided and not many.undecided
    assert many.network_down
    assert confirmed_by(answered, [_obs("https://b.org/", Outcome.DNS_ERROR)]) == answered


def test_a_few_dead_hosts_together_are_not_an_outage_until_witnesses_say_so() -> None:
    # Two lapsed domains in one batch (a recheck of two edited links, or a night's batch
    # of hosts that time out) used to be judged "our network is down" on their own, so
    # their failures never counted.
    two = [_obs("https://a.org/", Outcome.DNS_ERROR), _obs("https://b.org/", Outcome.TIMEOUT)]
    verdict = judge(two, share=0.8)
    assert not verdict.network_down and verdict.undecided
    up = confirmed_by(verdict, [_obs("https://c.org/", Outcome.OK, 200)])
    assert mask(two, up) == two  # a witness answered: the two sites are the ones down
    down = confirmed_by(verdict, [_obs("https://c.org/", Outcome.DNS_ERROR)])
    assert down.network_down
    assert "none of the 2 hosts of these links could be reached" in down.sentence


def test_with_no_one_else_to_ask_a_few_unreachable_hosts_judge_themselves() -> None:
    # A small catalog (every host in the batch) that fails at once: our network, not
    # every site dead. A single host proves nothing on its own.
    two = judge(_unreachable_hosts(2), share=0.8)
    assert confirmed_by(two, []).network_down
    lone = judge(_unreachable_hosts(1), share=0.8)
    assert not confirmed_by(lone, []).network_down


def test_a_refused_private_link_keeps_its_verdict_and_is_no_witness() -> None:
    """Refused by our own address rule, it was never sent: true whatever the network does,
    and no host of the batch, neither one that answered nor one that could not be reached."""
    private = _obs("http://10.0.0.5/files", Outcome.PRIVATE_ADDRESS)
    down = [*_unreachable_hosts(MIN_HOSTS), private]
    verdict = judge(down, share=0.8)
    assert verdict.network_down and verdict.hosts == MIN_HOSTS
    assert mask(down, verdict)[-1] == private
    # One host short of an outage on its own: the refused link does not make up the count.
    few = judge([*_unreachable_hosts(MIN_HOSTS - 1), private], share=0.8)
    assert few.undecided and few.hosts == MIN_HOSTS - 1
