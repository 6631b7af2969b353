"""A snooze over the nights it lasts and the night it ends, as the report tells it."""

from __future__ import annotations

from pathlib import Path

from catalog import runs, store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.render import render_markdown
from tests.factories import (
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
)

DEAD, FINE = "https://dead.example/page", "https://fine.example/"


def test_the_night_a_snooze_ends_says_why_the_entry_is_back_in_the_queue(
    tmp_path: Path,
) -> None:
    """Broken since night 0 and snoozed until night 10: that night it returns to the
    queue, and "Since the last run" says it came back from its snooze (once)."""
    kit = make_catalog("toolkit", [make_resource("dead", DEAD), make_resource("fine", FINE)])
    news: dict[int, str] = {}
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine)
        sync_catalogs(engine, [kit], now=days(0))
        dead = store.find_resource(engine, "dead")
        store.record_decision(
            engine,
            dead.id,
            "snooze",
            by="curator",
            at=days(0),
            reason="asked the publisher",
            details={"until": days(9.5).isoformat()},
            resource_changes={"snoozed_until": days(9.5), "snooze_reason": "asked the publisher"},
        )
        for night in range(13):
            run_id = store.start_run(engine, trigger="schedule", now=days(night))
            batch = [
                make_observation(DEAD, Outcome.NOT_FOUND, days(night)),
                make_observation(FINE, checked_at=days(night)),
            ]
            stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(night)))
            runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(night + 0.01)))
            ctx = build_context(report_data(engine), now=days(night + 0.01))
            assert ctx.changes is not None
            news[night] = render_markdown(ctx).split("## Since the last run")[1]
            queued = {r.resource_id for g in ctx.groups for r in g.rows}
            assert ("dead" in queued) is (night >= 10), night

    assert "Back from a snooze (1)" in news[10]
    assert "asked the publisher" in news[10]
    assert all("snooze" not in news[n] for n in range(13) if n != 10)
    # Confirmed broken while snoozed: news, said with why the queue does not list it.
    assert "Confirmed broken after 3 failed checks. Snoozed until 2025-03-10, so not in" in (
        " ".join(news[2].split())
    )
    assert all("Back from a snooze" not in news[n] for n in range(13) if n != 10)
