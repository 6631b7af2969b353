"""Review of `links.pruned_by_start` (migration 0022, merge 7281272): what a user meets
across the upgrade, the downgrade and prunes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text

from catalog import migrate
from catalog.clock import as_utc
from catalog.db import open_engine
from catalog.problem_checks import PROBLEM_START, same_start
from catalog.tables import Link

#: A link failing since Jan 2 and flapping since Jan 4 (its `flapping_started` event), not
#: confirmed broken: its row is dated from the flapping, and a prune at 0021 kept the 5
#: checks it deleted since then in `pruned_checks` and the 8 since the failure in
#: `pruned_outcome_checks`.
FAILURE, FLAPPING = "2026-01-02 02:00:00", "2026-01-04 02:00:00"


def _old_reader_count(conn: object) -> int:
    """The pruned checks 0021's reader added to the row (`problem_checks._counted` then):
    the problem count where kept from the row's start, else the outcome count where that
    was."""
    row = conn.execute(  # type: ignore[attr-defined]
        select(
            PROBLEM_START,
            Link.__table__.c.pruned_checks,
            Link.__table__.c.pruned_checks_since,
            Link.__table__.c.pruned_outcome_checks,
            Link.__table__.c.pruned_outcome_since,
        ).where(Link.__table__.c.id == 1)
    ).one()
    start, checks, since, outcome_checks, outcome_since = row
    if same_start(since, start):
        return int(checks)
    if same_start(outcome_since, start):
        return int(outcome_checks)
    return 0


def test_a_downgrade_gives_a_flapping_rows_pruned_checks_back(db_url: str) -> None:
    """0021's reader dated a flapping row from its flapping: the downgrade must give back
    the count kept from there, not from the failure (the row said 5 checks fewer)."""
    from alembic import command

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0021")
        conn.execute(
            text("INSERT INTO links (id, url, host, state, consecutive_failures, outcome,"
                 " first_failure_at, last_change_at, flapping, pruned_checks,"
                 " pruned_checks_since, pruned_outcome_checks, pruned_outcome_since)"
                 " VALUES (1, 'https://a.org/', 'a.org', 'suspect', 1, 'not_found', :failure,"
                 " :failure, :yes, 5, :flapping, 8, :failure)"),
            {"failure": FAILURE, "flapping": FLAPPING, "yes": True},
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO events (at, kind, link_id, details)"
                 " VALUES (:flapping, 'flapping_started', 1, '{}')"),
            {"flapping": FLAPPING},
        )  # fmt: skip
        before = _old_reader_count(conn)
        start = conn.execute(select(PROBLEM_START).where(Link.__table__.c.id == 1)).scalar()
    assert before == 5 and as_utc(start) == as_utc(datetime.fromisoformat(FLAPPING))
    migrate.upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0021")
    with engine.connect() as conn:
        after = _old_reader_count(conn)
    engine.dispose()
    assert after == before
