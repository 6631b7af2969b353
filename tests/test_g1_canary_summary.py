"""The run summary of a run the canaries found offline counts the links it learned nothing
about; each link's own check still says "this link"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx

from catalog import runs, store
from catalog.settings import CheckSettings
from tests.factories import Ticker, days, settings_for, temporary_database, write_catalog


async def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)


def offline_run_summary(tmp_path: Path, hosts: str) -> tuple[list[str], str]:
    """The summary lines of a run whose canary failed, and the reason its first link's check
    was stored with."""
    entries = [{"id": h, "title": h.upper(), "url": f"https://{h}.example/"} for h in hosts]
    catalog_file = write_catalog(tmp_path / "canary.yaml", entries)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog_file], canary_urls=("https://canary.example/",))
        settings = replace(settings, check=CheckSettings(max_attempts=1, total_timeout=5))
        clock = Ticker(days(1))
        prepared = runs.prepare_run(
            settings,
            trigger="schedule",
            clock=clock,
            transport=httpx.MockTransport(unreachable),
            resolver=public,
        )
        summary = runs.finish_run(
            settings, prepared.run_id, stored=[], sync=prepared.sync, clock=clock
        )
        (observed,) = store.resource_history(engine, hosts[0]).observations
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
