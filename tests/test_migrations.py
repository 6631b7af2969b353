"""Alembic migrations bring any database to the schema of catalog/tables.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, bindparam, inspect, select, text

from catalog import migrate
from catalog.clock import as_utc
from catalog.db import existing_database, open_engine
from catalog.errors import StoreError
from catalog.tables import Base, Link, UTCDateTime
from tests.factories import temporary_database_url


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A database migrated here from nothing (`temporary_database` copies one migrated
    once per process, which would leave these tests to the first of its callers)."""
    with temporary_database_url(tmp_path) as url:
        engine = open_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def test_fresh_database_gets_every_table_at_head(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_at_head_is_a_no_op(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("upgrade ran although the database is at head")

    monkeypatch.setattr(migrate.command, "upgrade", fail)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_database_made_before_migrations_is_adopted_not_recreated(db_url: str) -> None:
    engine = open_engine(db_url, migrate=False)
    Base.metadata.create_all(engine)
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_untouched_database_reports_no_revision(db_url: str) -> None:
    engine = open_engine(db_url, migrate=False)
    assert migrate.current_revision(engine) is None
    engine.dispose()


def test_downgrade_to_base_and_back_up_works(engine: Engine) -> None:
    with engine.begin() as conn:
        migrate.command.downgrade(migrate.alembic_config(conn), "base")
    assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())

    migrate.upgrade(engine)

    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_concurrent_upgrades_of_a_fresh_database_both_succeed(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        engines = list(pool.map(lambda _: open_engine(db_url), range(4)))
    assert {migrate.current_revision(e) for e in engines} == {migrate.head_revision()}
    for e in engines:
        e.dispose()


def test_a_populated_database_from_the_first_release_upgrades_without_losing_rows(
    db_url: str,
) -> None:
    from alembic import command
    from sqlalchemy import text

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO links (id, url, host, state, consecutive_failures) "
                "VALUES (1, 'https://a.org/', 'a.org', 'ok', 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO observations (link_id, url, checked_at, outcome, reason, methods,"
                " chain, retries, bytes_read, not_modified)"
                " VALUES (1, 'https://a.org/', '2026-01-01',"
                " 'ok', 'GET 200', 'GET', '[]', 0, 0, false)"
            )
        )
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM observations")).scalar() == 1
        if engine.dialect.name == "sqlite":  # a batch migration must leave them switched on
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_reading_commands_do_not_take_an_empty_database_for_ours(db_url: str) -> None:
    """An empty SQLite path or an empty PostgreSQL database (the CI pass runs this on one)
    is reported, and left as it was, before a reading command migrates it."""
    with pytest.raises(StoreError, match="linkhealth check` creates"):
        existing_database(db_url)
    engine = open_engine(db_url, migrate=False)
    try:
        assert not inspect(engine).get_table_names()
    finally:
        engine.dispose()
    migrated = open_engine(db_url)
    migrated.dispose()
    assert existing_database(db_url) == db_url


def test_a_missing_postgresql_driver_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    with pytest.raises(StoreError, match=r"pip install -e '\.\[postgres\]'") as caught:
        open_engine("postgresql://reader:secret@db.example/links", migrate=False)
    assert "secret" not in str(caught.value)


def test_0005_gives_each_link_the_validators_of_its_fingerprinted_copy(db_url: str) -> None:
    """Links whose validators a HEAD-only check overwrote (see `catalog.health`) get back
    those of the last GET that read the page; a link whose fingerprinting GET was pruned
    gets none, so its next fingerprint GET is unconditional."""
    from alembic import command
    from sqlalchemy import text

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0004")
        for link_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO links (id, url, host, state, consecutive_failures, etag,"
                    " last_modified) VALUES (:id, :url, 'a.org', 'ok', 0, '\"v2\"', 'Tue')"
                ),
                {"id": link_id, "url": f"https://a.org/{link_id}"},
            )
        observations = [  # link 1: GET 200 (v1), HEAD (v2), GET 304 (v2); link 2: HEAD only
            (1, "2026-01-01", "sha256:one", False, '"v1"', "Mon"),
            (1, "2026-01-02", None, False, '"v2"', "Tue"),
            (1, "2026-01-09", "sha256:one", True, '"v2"', "Tue"),
            (2, "2026-01-02", None, False, '"v2"', "Tue"),
        ]
        for link_id, at, fingerprint, not_modified, etag, modified in observations:
            conn.execute(
                text(
                    "INSERT INTO observations (link_id, url, checked_at, outcome, reason,"
                    " methods, chain, retries, bytes_read, not_modified, fingerprint, etag,"
                    " last_modified) VALUES (:link, 'u', :at, 'ok', 'r', 'GET', '[]', 0, 0,"
                    " :nm, :fp, :etag, :lm)"
                ),
                {"link": link_id, "at": at, "nm": not_modified, "fp": fingerprint,
                 "etag": etag, "lm": modified},
            )  # fmt: skip
        # To 0005 only: 0017 marks these validators again (no length stored).
        command.upgrade(migrate.alembic_config(conn), "0005")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, etag, last_modified FROM links ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, '"v1"', "Mon"), (2, None, None)]


def test_0008_unjudges_the_pages_a_copy_marked_judged(db_url: str) -> None:
    """`db copy` wrote SQL NULL `relevance_scores` (not judged for drift) as JSON `null`."""
    from alembic import command
    from sqlalchemy import text

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0007")
        conn.execute(
            text("INSERT INTO links (id, url, host, state, consecutive_failures, pruned_checks)"
                 " VALUES (1, 'https://a.org/', 'a.org', 'ok', 0, 0)")
        )  # fmt: skip
        for scores in ("null", '{"toolkit/a": 0.9}', None):
            conn.execute(
                text(
                    "INSERT INTO observations (link_id, url, checked_at, outcome, reason,"
                    " methods, chain, retries, bytes_read, not_modified, relevance_scores)"
                    " VALUES (1, 'u', '2026-01-01', 'ok', 'r', 'GET', '[]', 0, 0, false, :s)"
                ),
                {"s": scores},
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        query = "SELECT relevance_scores IS NULL FROM observations ORDER BY id"
        unjudged = [bool(n) for n in conn.execute(text(query)).scalars()]
    engine.dispose()
    assert unjudged == [True, False, True]


def test_0015_marks_the_fingerprints_of_the_earlier_rule(db_url: str) -> None:
    """Fingerprints stored before the fingerprint's rule changed are marked, so that the
    next read of each link is a new baseline, not "content changed" across the catalog;
    the downgrade takes the marks off."""
    from alembic import command
    from sqlalchemy import text

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0014")
        conn.execute(
            text("INSERT INTO links (id, url, host, state, consecutive_failures, pruned_checks,"
                 " fingerprint) VALUES (1, 'https://a.org/', 'a.org', 'ok', 0, 0, 'sha256:one'),"
                 " (2, 'https://a.org/2', 'a.org', 'ok', 0, 0, NULL)")
        )  # fmt: skip
        for fingerprint in ("sha256:one", None):
            conn.execute(
                text(
                    "INSERT INTO observations (link_id, url, checked_at, outcome, reason,"
                    " methods, chain, retries, bytes_read, not_modified, fingerprint)"
                    " VALUES (1, 'u', '2026-01-01', 'ok', 'r', 'GET', '[]', 0, 0, false, :fp)"
                ),
                {"fp": fingerprint},
            )

    def stored() -> list[object]:
        with engine.connect() as conn:
            links = conn.execute(text("SELECT fingerprint FROM links ORDER BY id")).scalars()
            observed = conn.execute(text("SELECT fingerprint FROM observations ORDER BY id"))
            return [*links, *observed.scalars()]

    migrate.upgrade(engine)
    assert stored() == ["v1:sha256:one", None, "v1:sha256:one", None]
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0014")
    assert stored() == ["sha256:one", None, "sha256:one", None]
    engine.dispose()


def test_0020_keeps_every_existing_drift_flag_on_every_entry(db_url: str) -> None:
    """`links.drift_entries` NULL means every entry using the link: what a flag stored before
    it meant, so an upgraded database flags the same resources until the page is read again
    (`catalog.health.apply_drift` narrows it then). The downgrade drops the column."""
    from alembic import command

    from catalog.export import export_rows

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0019")
        conn.execute(
            text("INSERT INTO collections (id, key, path, title, data)"
                 " VALUES (1, 'kit', 'kit.yaml', 'Kit', '{}')")
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO links (id, url, host, state, consecutive_failures, pruned_checks,"
                 " pruned_outcome_checks, outcome, last_checked_at, drift_reason, drift_since)"
                 " VALUES (1, 'https://a.org/', 'a.org', 'ok', 0, 0, 0, 'ok', '2026-01-02',"
                 " 'The page no longer matches the entry', '2026-01-02'),"
                 " (2, 'https://b.org/', 'b.org', 'ok', 0, 0, 0, 'ok', '2026-01-02', NULL, NULL)")
        )  # fmt: skip
        for pk, rid, link_id in ((1, "a1", 1), (2, "a2", 1), (3, "b", 2)):
            conn.execute(
                text(
                    "INSERT INTO resources (id, collection_id, rid, title, url, link_id, fields,"
                    " created_at, updated_at, stale_reasons) VALUES (:pk, 1, :rid, 'Guide',"
                    " 'https://x.org/', :link, '{}', '2026-01-01', '2026-01-01', '[]')"
                ),
                {"pk": pk, "rid": rid, "link": link_id},
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        query = "SELECT drift_entries IS NULL FROM links ORDER BY id"
        assert [bool(n) for n in conn.execute(text(query)).scalars()] == [True, True]
    drifted = {r["id"]: r["drift_reason"] is not None for r in export_rows(engine)}
    assert drifted == {"a1": True, "a2": True, "b": False}
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0019")
    assert "drift_entries" not in {c["name"] for c in inspect(engine).get_columns("links")}
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_0021_counts_every_existing_observation_as_a_check(db_url: str) -> None:
    """`observations.held` is false on every row stored before it: they were checks then,
    and counts of checks ("N checks") stay as they were. The downgrade drops it."""
    from alembic import command

    engine = open_engine(db_url, migrate=False)
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0020")
        conn.execute(
            text("INSERT INTO links (id, url, host, state, consecutive_failures, pruned_checks,"
                 " pruned_outcome_checks) VALUES (1, 'https://a.org/', 'a.org', 'ok', 0, 0, 0)")
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO observations (link_id, url, checked_at, outcome, reason, methods,"
                 " chain, retries, bytes_read, not_modified) VALUES (1, 'https://a.org/',"
                 " '2026-01-02', 'rate_limited', 'GET 503', 'GET', '[]', 0, 0, false)")
        )  # fmt: skip
    migrate.upgrade(engine)
    with engine.connect() as conn:
        held = conn.execute(text("SELECT held FROM observations")).scalars()
        assert [bool(h) for h in held] == [False]
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0020")
    assert "held" not in {c["name"] for c in inspect(engine).get_columns("observations")}
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_0022_keeps_each_pruned_count_from_its_start(db_url: str) -> None:
    """The checks pruned since a link's problem start and since its outcome start become
    counts from those starts (`links.pruned_by_start`), so a row dated from either reads
    what it did; the downgrade puts them back in the old columns."""
    from alembic import command

    from catalog.problem_checks import OUTCOME_START, PROBLEM_START, recount

    engine = open_engine(db_url, migrate=False)
    # Bound as the app binds them (`UTCDateTime`): a text literal was read in the
    # PostgreSQL session's time zone (a server set to America/New_York).
    drift, failure = datetime(2026, 1, 5, 2, tzinfo=UTC), datetime(2026, 1, 2, 2, tzinfo=UTC)
    at = [bindparam(name, type_=UTCDateTime()) for name in ("drift", "failure")]
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0021")
        # Failing since Jan 2, drifted since Jan 5: 4 checks pruned since the drift, 9
        # since the failure; and a link whose two counts were kept from one start.
        conn.execute(
            text("INSERT INTO links (id, url, host, state, consecutive_failures, outcome,"
                 " first_failure_at, last_change_at, drift_reason, drift_since,"
                 " pruned_checks, pruned_checks_since, pruned_outcome_checks,"
                 " pruned_outcome_since) VALUES (1, 'https://a.org/', 'a.org', 'suspect', 3,"
                 " 'not_found', :failure, :failure, 'gone', :drift, 4, :drift, 9, :failure),"
                 " (2, 'https://b.org/', 'b.org', 'ok', 0, 'ok', NULL, :failure, NULL, NULL,"
                 " 6, :failure, 6, :failure),"
                 " (3, 'https://c.org/', 'c.org', 'ok', 0, 'ok', NULL, :failure, NULL, NULL,"
                 " 0, NULL, 0, NULL)").bindparams(*at)
            , {"drift": drift, "failure": failure}
        )  # fmt: skip
    migrate.upgrade(engine)
    with engine.connect() as conn:
        query = text("SELECT id, pruned_by_start FROM links")
        kept: dict[int, object] = {row[0]: row[1] for row in conn.execute(query)}
        problem = recount(conn, [1, 2, 3])
        outcome = recount(conn, [1, 2, 3], OUTCOME_START)
        starts = {row[0]: row[1] for row in conn.execute(select(Link.id, PROBLEM_START))}
    assert problem == {1: 4, 2: 6} and outcome == {1: 9, 2: 6}
    assert as_utc(starts[1]) == drift
    assert kept[3] is None
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0021")
    with engine.connect() as conn:
        old = conn.execute(
            text("SELECT pruned_checks, pruned_outcome_checks FROM links ORDER BY id")
        ).all()
    assert [tuple(r) for r in old] == [(4, 9), (6, 6), (0, 0)]
    assert "pruned_by_start" not in {c["name"] for c in inspect(engine).get_columns("links")}
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_0024_marks_the_fingerprints_stored_under_a_pdf_s_label(db_url: str) -> None:
    """A body labelled as a PDF that opens as an HTML page is now fingerprinted by its text:
    fingerprints stored under a PDF's label (a link's by its type, an observation's by its
    own) are marked, each once, so the next read is a new baseline, not "content changed";
    others stay. The downgrade leaves the marks, which the releases before read."""
    from alembic import command

    engine = open_engine(db_url, migrate=False)
    links = [
        ("application/pdf", "sha256:pdf"),
        ("Application/PDF; qs=0.001", "sha256@256k:first"),
        ("application/x-pdf", "sha256:x"),
        ("text/html; charset=utf-8", "sha256:page"),
        ("application/pdf", "v1:sha256:old"),
        ("application/pdf", None),
        (None, "sha256:unknown"),
    ]
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0023")
        for n, (kind, fingerprint) in enumerate(links, 1):
            conn.execute(
                text("INSERT INTO links (id, url, host, state, consecutive_failures,"
                     " pruned_checks, pruned_outcome_checks, content_type, fingerprint)"
                     " VALUES (:n, :url, 'a.org', 'ok', 0, 0, 0, :kind, :fp)"),
                {"n": n, "url": f"https://a.org/{n}", "kind": kind, "fp": fingerprint},
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO observations (link_id, url, checked_at, outcome, reason,"
                     " methods, chain, retries, bytes_read, not_modified, content_type,"
                     " fingerprint) VALUES (:n, 'u', '2026-01-01', 'ok', 'r', 'GET', '[]', 0,"
                     " 0, false, :kind, :fp)"),
                {"n": n, "kind": kind, "fp": fingerprint},
            )  # fmt: skip

    def stored(table: str) -> list[object]:
        with engine.connect() as conn:
            query = f"SELECT fingerprint FROM {table} ORDER BY id"
            return list(conn.execute(text(query)).scalars())

    marked = [
        "v1:sha256:pdf",
        "v1:sha256@256k:first",
        "v1:sha256:x",
        "sha256:page",
        "v1:sha256:old",
        None,
        "sha256:unknown",
    ]
    migrate.upgrade(engine)
    assert stored("links") == stored("observations") == marked
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0023")
    assert stored("links") == marked
    migrate.upgrade(engine)
    assert stored("links") == marked
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_a_database_migrated_by_a_newer_linkhealth_is_a_clear_error(db_url: str) -> None:
    """Scale-out: the machine updated first migrates the shared database; a checkout not
    yet updated says so instead of Alembic's traceback, and changes nothing."""
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision 9999, newer than this linkhealth knows"):
        open_engine(db_url).dispose()
    later = open_engine(db_url, migrate=False)
    try:
        assert migrate.current_revision(later) == "9999"
    finally:
        later.dispose()
