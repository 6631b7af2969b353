import pytest

from catalog.outcomes import Outcome, Severity


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_explains_itself_to_curators(outcome: Outcome) -> None:
    assert outcome.label and outcome.label[0].isupper()
    assert outcome.explanation.endswith(".")
    assert len(outcome.explanation.split()) >= 6


@pytest.mark.parametrize("outcome", list(Outcome))
def test_only_broken_outcomes_count_as_failures(outcome: Outcome) -> None:
    assert outcome.is_failure == (outcome.severity is Severity.BROKEN)


@pytest.mark.parametrize(
    "outcome",
    [Outcome.BLOCKED, Outcome.RATE_LIMITED, Outcome.NETWORK_UNAVAILABLE, Outcome.PRIVATE_ADDRESS],
)
def test_outcomes_that_say_nothing_about_the_link_never_count_as_failures(
    outcome: Outcome,
) -> None:
    assert not outcome.is_failure


def test_stored_names_are_the_documented_taxonomy() -> None:
    assert {o.value for o in Outcome} >= {
        "ok", "redirected_permanent", "not_found", "gone", "http_error", "soft_404",
        "redirect_loop", "too_many_redirects", "redirect_to_error", "timeout", "dns_error",
        "connection_refused", "connection_reset", "tls_error", "blocked", "rate_limited",
        "invalid_url", "private_address",
    }  # fmt: skip


def test_network_failures_are_the_ones_an_outage_would_cause() -> None:
    assert Outcome.DNS_ERROR.is_network_failure
    assert not Outcome.NOT_FOUND.is_network_failure
    assert not Outcome.TLS_ERROR.is_network_failure
