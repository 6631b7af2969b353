"""A links row read by position (`_row_state`, the store's fast path) gives the same
`LinkState` as one read by name (`_link_state`): never checked, working, failing with a
first failure, flapping with flips, and drifting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from catalog import store
from catalog import tables as t
from catalog.health import LinkState
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.store._observations import _link_state, _row_state
from catalog.store._sql import table_of
from tests.factories import T0, make_observation, temporary_database


def test_a_row_read_by_position_is_the_state_read_by_name(tmp_path: Path) -> None:
    health = HealthSettings(flap_changes=2, confirm_failures=2, confirm_days=0.0)
    with temporary_database(tmp_path) as engine:
        flapping = "https://example.org/flapping"
        history = []
        for day in range(6):
            outcome = Outcome.OK if day % 2 == 0 else Outcome.NOT_FOUND
            history.append(
                make_observation(
                    url=flapping,
                    checked_at=T0 + timedelta(days=day),
                    outcome=outcome,
                    etag='"e"',
                    fingerprint="f",
                    title="A title",
                    content_type="text/html",
                    content_length=12,
                )
            )
        failing = [
            make_observation(
                url="https://example.org/gone",
                checked_at=T0 + timedelta(days=d),
                outcome=Outcome.NOT_FOUND,
            )
            for d in range(3)
        ]
        for obs in [*history, *failing]:
            store.record_observations(engine, None, [obs], health, now=obs.checked_at)
        links = table_of(t.Link)
        with engine.begin() as conn:
            conn.execute(
                links.insert().values(
                    url="https://example.org/new", host="example.org", state="unchecked"
                )
            )
            conn.execute(
                update(links)
                .where(links.c.url == flapping)
                .values(drift_reason="a casino", drift_since=T0, drift_score=0.1)
            )
            rows = conn.execute(select(links)).all()
        assert len(rows) == 3
        states = [_row_state(row) for row in rows]
        assert states == [_link_state(row) for row in rows]
        by_url = dict(zip((row.url for row in rows), states, strict=True))
        assert by_url[flapping].flapping and len(by_url[flapping].flips) >= 2
        assert by_url[flapping].drift_reason == "a casino"
        assert by_url["https://example.org/gone"].consecutive_failures == 3
        assert by_url["https://example.org/new"] == LinkState()
