"""A run the canaries found offline still stores what the check knows with no network: an
invalid URL's `invalid_url`, as a night's batch outage keeps it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from catalog.check import check_targets, unasked_verdict
from catalog.model import Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of
from tests.factories import days
from tests.test_g1_canary_summary import latest, offline_run, unreachable

PUBLIC = "https://pub.example/"
#: URLs the check cannot request as written: `invalid_url` before any request.
INVALID = ("htp://pub.example/", "https://exa mple.org/", "mailto:links@example.org")
PRIVATE = "http://10.0.0.5/files"


def test_a_run_offline_keeps_an_invalid_urls_own_verdict(tmp_path: Path) -> None:
    """An invalid URL was filed as our network down: what the curator must fix, hidden
    behind an outage, though no request was ever to be made for it."""
    with offline_run(tmp_path, (PUBLIC, *INVALID)) as run:
        summary, engine = run.finish(), run.engine
        assert summary.counts == {"network_unavailable": 1, "invalid_url": 3}
        for n, url in enumerate(INVALID, start=1):
            observed = latest(engine, f"r{n}")
            assert observed.outcome is Outcome.INVALID_URL, url
            assert observed.reason.startswith("Not requested: ")
        assert latest(engine, "r0").outcome is Outcome.NETWORK_UNAVAILABLE
        (why,) = [line for line in summary.lines() if line.startswith("Not checked:")]
        assert why.endswith("nothing was learned about this link.")


@pytest.mark.parametrize("due", [True, False])
@pytest.mark.parametrize("url", [*INVALID, "https:///nohost", "http://bad_host!.org/"])
def test_the_invalid_url_kept_offline_is_the_checks_own(url: str, due: bool) -> None:
    """What `store_offline` keeps is what `check_targets` says of the link, sending nothing."""
    target = Target(url=url, host=host_of(url) or "", fingerprint_due=due)
    check = CheckSettings(max_attempts=1, total_timeout=5)
    (checked,) = asyncio.run(
        check_targets([target], check, transport=httpx.MockTransport(unreachable))
    )
    assert checked.outcome is Outcome.INVALID_URL
    assert unasked_verdict(target, check, days(1)) == replace(checked, checked_at=days(1))


@pytest.mark.parametrize("check", [CheckSettings(), CheckSettings(allow_private=True)])
def test_the_verdict_unasked_is_a_refusal_or_an_invalid_url_else_none(
    check: CheckSettings,
) -> None:
    """A private host is refused unasked unless allowed; a public URL needs the network."""
    private = unasked_verdict(Target(url=PRIVATE, host="10.0.0.5"), check, days(1))
    if check.allow_private:
        assert private is None
    else:
        assert private is not None and private.outcome is Outcome.PRIVATE_ADDRESS
    assert unasked_verdict(Target(url=PUBLIC, host="pub.example"), check, days(1)) is None
    invalid = unasked_verdict(Target(url=INVALID[0], host=""), check, days(1))
    assert invalid is not None and invalid.outcome is Outcome.INVALID_URL


def test_a_run_offline_whose_every_link_is_judged_as_written_says_so(tmp_path: Path) -> None:
    """Its reason read "nothing was learned about the 0 links of this run", after "The
    network was unreachable for 0 of these URLs: their sites could not be contacted"."""
    with offline_run(tmp_path, (PRIVATE, *INVALID[:2])) as run:
        summary = run.finish()
        assert summary.counts == {"private_address": 1, "invalid_url": 2}
        lines = summary.lines()
        assert lines[1] == (
            "The network was unreachable, but none of these URLs needed it: each was judged "
            "as written, with no request. Check the machine's connection."
        )
        assert lines[2] == (
            "Not checked: the canary URL failed at the network level (https://canary.example/: "
            "connection failed), so our own network looked down, but no link of this run "
            "needed it."
        )
        assert not any("0 links" in line or " 0 of " in line for line in lines)
