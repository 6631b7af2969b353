"""The run summary of a run the canaries found offline counts the links it learned nothing
about; each link's own check still says "this link". A link the check refuses as written
(a private address) keeps that verdict: it needs no network."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from catalog import runs, store
from catalog.check import check_targets, refused_unasked
from catalog.health import CHECK_BY_HAND, UNCHECKED
from catalog.model import Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, Settings
from catalog.urls import host_of
from tests.factories import Ticker, days, settings_for, temporary_database, write_catalog


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)


#: Hosts the check refuses as written, with no lookup (`safety.refused_as_written`).
REFUSED = ("http://10.0.0.5/files", "http://localhost:8080/wiki", "http://0x7f.1/")
#: A name that may resolve into our own network: only a lookup could tell, and none is made.
NAMED = "https://nas.example.org/files"
PUBLIC = "https://pub.example/"


@dataclass(frozen=True)
class OfflineRun:
    """A run prepared while its canary could not be reached, not finished yet."""

    prepared: runs.PreparedRun
    engine: Engine
    settings: Settings
    clock: Ticker

    def finish(self) -> runs.RunSummary:
        return runs.finish_run(
            self.settings,
            self.prepared.run_id,
            stored=[],
            sync=self.prepared.sync,
            clock=self.clock,
        )


@contextmanager
def offline_run(
    tmp_path: Path,
    urls: Sequence[str] = (PUBLIC, *REFUSED, NAMED),
    ids: Sequence[str] | None = None,
    **check: Any,
) -> Iterator[OfflineRun]:
    """A run whose canary failed, over `urls` (ids `ids`, else r0, r1, ...)."""
    ids = ids or [f"r{n}" for n in range(len(urls))]
    entries = [
        {"id": i, "title": i.upper(), "url": f"'{u}'"} for i, u in zip(ids, urls, strict=True)
    ]
    catalog_file = write_catalog(tmp_path / "canary.yaml", entries)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog_file], canary_urls=("https://canary.example/",))
        settings = replace(settings, check=CheckSettings(max_attempts=1, total_timeout=5, **check))
        clock = Ticker(days(1))
        prepared = runs.prepare_run(
            settings,
            trigger="schedule",
            clock=clock,
            transport=httpx.MockTransport(unreachable),
            resolver=public,
        )
        assert prepared.network_down and not prepared.batches
        yield OfflineRun(prepared, engine, settings, clock)


def offline_run_summary(tmp_path: Path, hosts: str) -> tuple[list[str], str]:
    """The summary lines of a run whose canary failed, and the reason its first link's check
    was stored with."""
    urls = [f"https://{h}.example/" for h in hosts]
    with offline_run(tmp_path, urls, ids=list(hosts)) as run:
        summary = run.finish()
        (observed,) = store.resource_history(run.engine, hosts[0]).observations
    return summary.lines(), observed.reason


def test_the_summary_of_a_run_offline_counts_the_links_nothing_was_learned_about(
    tmp_path: Path,
) -> None:
    """It said "nothing was learned about this link" for a run of three links."""
    lines, reason = offline_run_summary(tmp_path, "xyz")
    (why,) = [line for line in lines if line.startswith("Not checked: the canary URL failed")]
    assert why.endswith("nothing was learned about the 3 links of this run.")
    assert "this link" not in why
    assert reason.endswith("nothing was learned about this link.")


def test_the_summary_of_a_run_of_one_link_offline_says_this_link(tmp_path: Path) -> None:
    lines, _ = offline_run_summary(tmp_path, "x")
    assert any(line.endswith("nothing was learned about this link.") for line in lines)


def latest(engine: Engine, rid: str) -> store.ObservationRecord:
    (observed,) = store.resource_history(engine, rid).observations
    return observed


def test_a_run_offline_keeps_a_refused_private_links_own_verdict(tmp_path: Path) -> None:
    """A link the check's own address rule refuses was filed as our network down, hiding
    what the curator must fix: that verdict needs no network, and is what the check says
    of it any night (`private_address`, never requested)."""
    with offline_run(tmp_path) as run:
        prepared, engine = run.prepared, run.engine
        assert prepared.offline is not None and prepared.offline.network_down
        assert prepared.offline.counts == {"network_unavailable": 2, "private_address": 3}
        states = {s.url: s.state for s in store.link_states(engine)}
        for n, url in enumerate(REFUSED, start=1):
            observed = latest(engine, f"r{n}")
            assert observed.outcome is Outcome.PRIVATE_ADDRESS, url
            assert observed.reason.startswith("The host points into a private network (")
            assert observed.reason.endswith("); not requested.")
            assert states[url] == CHECK_BY_HAND
        # Nothing is looked up: a name is no refusal until it resolves into our network.
        for n, url in ((0, PUBLIC), (4, NAMED)):
            assert latest(engine, f"r{n}").outcome is Outcome.NETWORK_UNAVAILABLE, url
            assert states[url] == UNCHECKED
        # The run's summary counts the links nothing was learned about, not the refused.
        why = store.get_run(engine, prepared.run_id).summary["network_unavailable_reason"]
        assert why.endswith("nothing was learned about the 2 links of this run.")


def test_a_run_offline_that_allows_private_hosts_learns_nothing_of_them(
    tmp_path: Path,
) -> None:
    """Allowed, they would have been fetched: the canaries say nothing could be."""
    with offline_run(tmp_path, allow_private=True) as run:
        prepared, engine = run.prepared, run.engine
        assert prepared.offline is not None
        assert prepared.offline.counts == {"network_unavailable": 5}
        assert {latest(engine, f"r{n}").outcome for n in range(5)} == {Outcome.NETWORK_UNAVAILABLE}


@pytest.mark.parametrize("due", [True, False])
@pytest.mark.parametrize("url", [*REFUSED, "http://[::1]:8080/", "https://app.localhost/x"])
def test_the_refusal_kept_offline_is_the_checks_own(url: str, due: bool) -> None:
    """What `store_offline` keeps is what `check_targets` says of the link, sending nothing."""
    target = Target(url=url, host=host_of(url), fingerprint_due=due)
    check = CheckSettings(max_attempts=1, total_timeout=5)
    (checked,) = asyncio.run(
        check_targets([target], check, transport=httpx.MockTransport(unreachable))
    )
    kept = refused_unasked(target, check, days(1))
    assert kept == replace(checked, checked_at=days(1), elapsed_ms=0)


@pytest.mark.parametrize(
    ("url", "check"),
    [
        (PUBLIC, CheckSettings()),
        (NAMED, CheckSettings()),  # its addresses are a lookup's to judge
        ("htp://10.0.0.5/", CheckSettings()),  # invalid: not the address rule's
        (REFUSED[0], CheckSettings(allow_private=True)),
        (REFUSED[0], CheckSettings(private_allowlist=("10.0.0.0/8",))),
        # 127.0.0.1 allowed alone: the lookup decides (`safety.refused_as_written`).
        (REFUSED[1], CheckSettings(private_allowlist=("127.0.0.1",))),
    ],
)
def test_only_a_host_refused_as_written_is_refused_unasked(url: str, check: CheckSettings) -> None:
    target = Target(url=url, host=host_of(url) or "")
    assert refused_unasked(target, check, days(1)) is None
