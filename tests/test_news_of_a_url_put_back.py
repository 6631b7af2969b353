"""News of an entry whose URL was edited to an address linkhealth already knows: told as
the curator sees the entry, not as the address's own history."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import store
from catalog.model import Catalog
from catalog.ops import EVENT_BROKEN_INCREASED, notices, tally
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.render import render_markdown
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

V1, V2 = "https://shelter.example/v1", "https://shelter.example/v2"


def _kit(guide_url: str) -> Catalog:
    # `keeper` links the first address all along: its news is the address's own.
    return make_catalog(
        "toolkit",
        [
            make_resource("guide", guide_url, title="Shelter Standards"),
            make_resource("keeper", V1, title="Shelter Standards (copy)"),
        ],
    )


#: Per section key, (resource id, summary) of each item.
News = dict[str, list[tuple[str | None, str]]]


def _news_after_putting_v1_back(tmp_path: Path, v1_last: Outcome) -> tuple[News, list[str]]:
    """The first address fails nights 1-3 (confirmed broken), `guide` is pointed at a
    working second address, then back at the first before night 6, whose check of it
    gives `v1_last`. Per section, the ids of the report's news after night 6; and the
    alerts night 6 sends."""
    health = HealthSettings()
    with temporary_database(tmp_path) as engine:

        def night(n: int, v1: Outcome) -> list[str]:
            before = tally(engine, now=days(n))
            run_id = store.start_run(engine, trigger="schedule", now=days(n))
            batch = [make_observation(V1, v1, days(n))]
            if n in (4, 5):
                batch.append(make_observation(V2, Outcome.OK, days(n)))
            store.record_observations(engine, run_id, batch, health, now=days(n))
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
            after = tally(engine, now=days(n + 0.01))
            return [x.event for x in notices(before, after, network_unavailable=False)]

        sync_catalogs(engine, [_kit(V1)], now=days(0))
        night(0, Outcome.OK)
        for n in (1, 2, 3):
            night(n, Outcome.NOT_FOUND)
        sync_catalogs(engine, [_kit(V2)], now=days(3.5))  # `replace-url guide V2`
        for n in (4, 5):
            night(n, Outcome.NOT_FOUND)
        sync_catalogs(engine, [_kit(V1)], now=days(5.5))  # put back by hand
        alerts = night(6, v1_last)
        ctx = build_context(report_data(engine), now=days(6.02))
        assert ctx.changes is not None
        news = {s.key: [(i.resource_id, i.summary) for i in s.items] for s in ctx.changes.sections}
        news["markdown"] = [(None, render_markdown(ctx))]
        return news, alerts


def test_an_entry_put_back_on_an_address_still_broken_is_news_that_it_now_fails(
    tmp_path: Path,
) -> None:
    """Working the night before, the entry is in "Confirmed broken" at once: the news said
    only "URL edited", so a curator reading "Newly broken" missed it."""
    news, alerts = _news_after_putting_v1_back(tmp_path, Outcome.NOT_FOUND)

    assert news["newly_broken"] == [
        (
            "guide",
            "Now points at an address already confirmed broken "
            f"(failing since {days(1):%Y-%m-%d}).",
        )
    ]
    assert [rid for rid, _ in news["catalog_edits"]] == ["guide"]
    assert "### Newly broken (1)" in news["markdown"][0][1]
    # As for an entry added with an address already known broken (README, Notifications):
    # the run saw no link break, so no alert.
    assert EVENT_BROKEN_INCREASED not in alerts


def test_an_entry_put_back_on_an_address_that_works_again_has_not_recovered(
    tmp_path: Path,
) -> None:
    """The entry worked the night before at its other address: "Recovered: Works again"
    is the address's news (of the entry that kept it), not this entry's."""
    news, _ = _news_after_putting_v1_back(tmp_path, Outcome.OK)

    assert news["recovered"] == [("keeper", "Works again.")]
    assert [rid for rid, _ in news["catalog_edits"]] == ["guide"]
    assert "newly_broken" not in news


@pytest.mark.parametrize("v1_last", [Outcome.NOT_FOUND, Outcome.OK], ids=["fails", "works"])
def test_the_entry_that_kept_the_address_keeps_its_news(tmp_path: Path, v1_last: Outcome) -> None:
    """Nothing changes for the entry that kept the address: no news while it stays broken."""
    news, _ = _news_after_putting_v1_back(tmp_path, v1_last)

    told = {rid for key, items in news.items() if key != "markdown" for rid, _ in items}
    assert ("keeper" in told) is (v1_last is Outcome.OK)
