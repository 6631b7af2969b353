from datetime import UTC, datetime

from catalog.model import Observation
from catalog.outage import confirmed_by, judge, mask
from catalog.outcomes import Outcome

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _obs(url: str, outcome: Outcome, status: int | None = None) -> Observation:
    return Observation(url=url, checked_at=NOW, outcome=outcome, reason="x", http_status=status)


def test_all_hosts_unreachable_means_our_network_is_down() -> None:
    observations = [
        _obs("https://a.org/1", Outcome.DNS_ERROR),
        _obs("https://a.org/2", Outcome.DNS_ERROR),
        _obs("https://b.org/", Outcome.CONNECTION_REFUSED),
        _obs("https://c.org/", Outcome.TIMEOUT),
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
    observations = [
        _obs("https://a.org/", Outcome.DNS_ERROR),
        _obs("https://b.org/", Outcome.DNS_ERROR),
        _obs("htp://x", Outcome.INVALID_URL),
    ]
    masked = mask(observations, judge(observations, share=0.8))
    assert [o.outcome for o in masked] == [
        Outcome.NETWORK_UNAVAILABLE,
        Outcome.NETWORK_UNAVAILABLE,
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
    many = judge(
        [_obs("https://a.org/", Outcome.DNS_ERROR), _obs("https://b.org/", Outcome.DNS_ERROR)],
        share=0.8,
    )
    assert not answered.undecided and refused.undecided and not many.undecided
    assert confirmed_by(answered, [_obs("https://b.org/", Outcome.DNS_ERROR)]) == answered
