"""`bench.report_db`: the database it builds looks like nightly runs to the report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.report_db import build
from catalog.db import engine_for
from catalog.queries import report_data


def test_its_runs_are_nightly_runs_the_trend_chart_draws(tmp_path: Path) -> None:
    """Its runs took no full-run lease, so each counted as a recheck of a few ids: the
    report of a year of them had no trend chart at all."""
    db = tmp_path / "bench.db"
    build(db, 40, 2, 3, 1, end=datetime(2026, 11, 20, 2, 0, tzinfo=UTC), year=True)
    data = report_data(engine_for(f"sqlite:///{db}"))
    assert data.run is not None and data.run.whole
    assert [r.id for r in data.trend_runs] == [1, 2, 3]


def test_one_night_stores_the_night_after_the_last_one_built(tmp_path: Path) -> None:
    from bench.one_night import one_night

    db = tmp_path / "bench.db"
    build(db, 40, 2, 3, 1, end=datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    took = one_night(f"sqlite:///{db}", db.with_suffix(".yaml"), 40, 3)
    assert set(took) == {"prepare_s", "store_s", "finish_s", "total_s"}
    data = report_data(engine_for(f"sqlite:///{db}"))
    assert data.run is not None and data.run.whole and data.run.urls_checked > 0
    assert [r.id for r in data.trend_runs] == [1, 2, 3, 4]
