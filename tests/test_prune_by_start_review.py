"""Review of `links.pruned_by_start` (migration 0022, merge 7281272): what a user meets
across the upgrade, the downgrade and prunes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import BindParameter, Engine, bindparam, select, text

from catalog import migrate, store
from catalog.clock import as_utc
from catalog.db import open_engine
from catalog.outcomes import Outcome
from catalog.problem_checks import PROBLEM_START, pruned_since, same_start
from catalog.queries import report_data
from catalog.retention import prune_observations
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Link, UTCDateTime
from catalog.transfer import copy_database
from tests.factories import T0, days, make_catalog, make_observation, make_resource

#: A link failing since Jan 2 and flapping since Jan 4 (its `flapping_started` event), not
#: confirmed broken: its row is dated from the flapping, and a prune at 0021 kept the 5
#: checks it deleted since then in `pruned_checks` and the 8 since the failure in
#: `pruned_outcome_checks`. Bound as the app binds them (`UTCDateTime`): a text literal
#: was read in the PostgreSQL session's time zone (a server set to America/New_York).
FAILURE, FLAPPING = datetime(2026, 1, 2, 2, tzinfo=UTC), datetime(2026, 1, 4, 2, tzinfo=UTC)


def _at(name: str) -> BindParameter[datetime]:
    """The raw SQL's parameter `name`, a UTC time."""
    return bindparam(name, type_=UTCDateTime())


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
                 " :failure, :yes, 5, :flapping, 8, :failure)"
                 ).bindparams(_at("failure"), _at("flapping")),
            {"failure": FAILURE, "flapping": FLAPPING, "yes": True},
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO events (at, kind, link_id, details)"
                 " VALUES (:flapping, 'flapping_started', 1, '{}')"
                 ).bindparams(_at("flapping")),
            {"flapping": FLAPPING},
        )  # fmt: skip
        before = _old_reader_count(conn)
        start = conn.execute(select(PROBLEM_START).where(Link.__table__.c.id == 1)).scalar_one()
    assert before == 5 and as_utc(start) == FLAPPING
    migrate.upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0021")
    with engine.connect() as conn:
        after = _old_reader_count(conn)
    engine.dispose()
    assert after == before


def test_db_copy_carries_each_pruned_count_and_a_later_prune_adds_to_it(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """A SQLite database moved to PostgreSQL (`db copy`) keeps each row's "N checks": the
    counts `db prune` kept per start come along, and a prune there goes on from them."""
    health = HealthSettings(confirm_failures=3, confirm_days=2.0)
    url = "https://example.org/a"
    kit = make_catalog("toolkit", [make_resource("a", url)])
    source = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    target = open_engine(migrated_db_url)
    sync_catalogs(source, [kit], now=T0)
    for night in range(8):
        failed = make_observation(url, Outcome.NOT_FOUND, checked_at=days(night))
        store.record_observations(source, None, [failed], health, now=days(night))
    prune_observations(source, 3, now=days(7.5), vacuum=False)
    kept = _pruned(source)
    assert kept and sum(kept[1].values()) > 0
    copy_database(source, target, now=days(8))
    assert _pruned(target) == kept
    assert _checks(target) == _checks(source) == 8
    for engine in (source, target):
        failed = make_observation(url, Outcome.NOT_FOUND, checked_at=days(8))
        store.record_observations(engine, None, [failed], health, now=days(8))
        prune_observations(engine, 2, now=days(8.5), vacuum=False)
    assert _pruned(target) == _pruned(source)
    assert _checks(target) == _checks(source) == 9
    source.dispose()
    target.dispose()


def _pruned(engine: Engine) -> dict[int, dict[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Link.id, Link.pruned_by_start))
        return {link_id: kept for link_id, kept in rows if kept is not None}


def _checks(engine: Engine) -> int:
    """The "N checks" of the one entry's row, as the report shows it."""
    (row,) = report_data(engine).resources
    return int(row.checks_since)


def test_a_prune_keeps_the_counts_a_process_started_before_the_upgrade_reads(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """A linkhealth process started before 0022 (a `serve` mid-run while the machine was
    upgraded) recounts a row whose start moved from `links.pruned_checks` (counted from
    the problem start) and `links.pruned_outcome_checks` (from the outcome start), and
    keeps that count, which the new readers then trust: a prune by the new code must keep
    them too, or that row says "2 checks" where the history gives 4."""
    health = HealthSettings(confirm_failures=3, confirm_days=2.0)
    url = "https://example.org/a"
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, [make_catalog("toolkit", [make_resource("a", url)])], now=T0)
    for night in range(8):
        failed = make_observation(url, Outcome.NOT_FOUND, checked_at=days(night))
        store.record_observations(engine, None, [failed], health, now=days(night))
    prune_observations(engine, 3, now=days(7.5), vacuum=False)
    with engine.connect() as conn:
        kept, start = conn.execute(select(Link.pruned_by_start, PROBLEM_START)).one()
        old = _old_reader_count(conn)
    engine.dispose()
    assert pruned_since(kept, start) == 5
    assert old == 5
