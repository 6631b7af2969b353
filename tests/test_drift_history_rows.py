"""The drift baseline a link is judged against: its newest `DRIFT_HISTORY` scored checks.

`_relevance_histories` reads them off the (link, time) index from each link's cut-off
instead of ranking its whole history, so a year of nights costs what a month did. What
drift relies on stays: the newest scored checks, newest first (a later id first at the same
time), checks without scores skipped, every link on its own, on both backends.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, null

from catalog import tables as t
from catalog.store._observations import DRIFT_HISTORY, _relevance_histories
from tests.factories import days, temporary_database


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def _expected(rows: list[dict[str, Any]]) -> dict[int, list[Any]]:
    """Each link's newest `DRIFT_HISTORY` scored rows, newest first, the later id first."""
    found: dict[int, list[Any]] = {}
    ordered = sorted(rows, key=lambda r: (r["checked_at"], r["id"]), reverse=True)
    for row in ordered:
        if row["relevance_scores"] is not None:
            kept = found.setdefault(row["link_id"], [])
            if len(kept) < DRIFT_HISTORY:
                kept.append(row["relevance_scores"])
    return found


def test_each_link_keeps_its_newest_scored_checks_newest_first(engine: Engine) -> None:
    rng = random.Random(7)
    links = range(1, 41)
    rows: list[dict[str, Any]] = []
    next_id = 1
    for link in links:
        # 0 to 40 checks: most unscored (HEAD nights), some at the very same time (a
        # recheck and the night), so the cut-off's time holds more than one.
        for n in range(rng.randrange(0, 41)):
            at = days(n // 2 if rng.random() < 0.3 else n)
            scored = rng.random() < 0.4
            rows.append(
                {
                    "id": next_id,
                    "link_id": link,
                    "url": f"https://h{link}.example/",
                    "checked_at": at,
                    "outcome": "ok",
                    "reason": "OK",
                    "relevance_scores": {"1": round(rng.random(), 3), "n": next_id}
                    if scored
                    else None,
                }
            )
            next_id += 1
    rng.shuffle(rows)  # ids and times in no particular order of insertion
    with engine.begin() as c:
        c.execute(
            insert(t.Link),
            [{"id": i, "url": f"https://h{i}.example/", "host": f"h{i}.example"} for i in links],
        )
        # SQL NULL, as the store writes an unscored check (not JSON's null).
        stored = [r | {"relevance_scores": r["relevance_scores"] or null()} for r in rows]
        c.execute(insert(t.Observation), stored)
    expected = _expected(rows)
    assert any(len(v) == DRIFT_HISTORY for v in expected.values())  # some cut off
    assert any(0 < len(v) < DRIFT_HISTORY for v in expected.values())  # some short
    with engine.connect() as c:
        assert _relevance_histories(c, list(links)) == expected
        # One link asked alone is read as in a chunk of many.
        some = next(iter(expected))
        assert _relevance_histories(c, [some]) == {some: expected[some]}
