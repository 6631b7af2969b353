"""Migration 0004 re-keys links written in an older canonical form without losing history."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, select

from catalog import migrate, store
from catalog.outcomes import Outcome
from catalog.rekey import rekey_links
from catalog.settings import HealthSettings
from catalog.store import read_session, write_session
from catalog.sync import sync_catalogs
from catalog.tables import Event, Link, Observation, Resource
from catalog.urls import canonical_url
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

REPORT = "http://www.example.org/report?a=1&b=2"
#: The same URL as an older canonical form kept it: case, default port, query order.
REPORT_OLD_KEY = "http://WWW.Example.org:80/report?b=2&a=1"
BOOKS = "https://bücher.example/katalog"
BOOKS_OLD_KEY = "https://Bücher.example/katalog"
KIT = make_catalog(
    "toolkit",
    [
        make_resource("r1", REPORT_OLD_KEY),
        make_resource("r2", REPORT),
        make_resource("books", BOOKS),
    ],
)


def _link_of(engine: Engine, rid: str) -> Link:
    with read_session(engine) as s:
        link = s.scalar(
            select(Link).join(Resource, Resource.link_id == Link.id).where(Resource.rid == rid)
        )
        assert link is not None
        return link


def _old_database(engine: Engine) -> tuple[int, int, int]:
    """The state an older release left: r1 on a link of its own under the old key, with an
    older observation and event; the books link under its un-encoded host. Returns the ids
    of (the current report link, the old report link, the books link)."""
    sync_catalogs(engine, [KIT], now=days(0))
    store.record_observations(
        engine,
        None,
        [
            make_observation(REPORT, Outcome.OK, days(3)),
            make_observation(BOOKS, checked_at=days(3)),
        ],
        HealthSettings(),
        now=days(3),
    )
    report, books = _link_of(engine, "r2"), _link_of(engine, "books")
    with write_session(engine) as s:
        old = Link(
            url=REPORT_OLD_KEY,
            host="www.example.org",
            state="suspect",
            consecutive_failures=1,
            last_checked_at=days(1),
        )
        s.add(old)
        s.flush()
        s.add(
            Observation(
                link_id=old.id,
                url=REPORT_OLD_KEY,
                checked_at=days(1),
                outcome=Outcome.NOT_FOUND.value,
                reason="GET 404",
            )
        )
        s.add(Event(at=days(1), kind="outcome_changed", link_id=old.id, details={}))
        r1 = s.scalar(select(Resource).where(Resource.rid == "r1"))
        assert r1 is not None
        r1.link_id = old.id
        s.get_one(Link, books.id).url = BOOKS_OLD_KEY
        old_id = old.id
    with engine.begin() as conn:
        command.stamp(migrate.alembic_config(conn), "0003")
    return report.id, old_id, books.id


def test_upgrade_merges_links_that_now_share_a_key_and_rewrites_old_keys(
    tmp_path: Path,
) -> None:
    with temporary_database(tmp_path) as engine:
        report_id, old_id, books_id = _old_database(engine)

        migrate.upgrade(engine)

        assert migrate.current_revision(engine) == migrate.head_revision()
        with read_session(engine) as s:
            links = {link.id: link.url for link in s.scalars(select(Link))}
            # The most recently checked link survives; the other's history moved to it.
            assert links == {report_id: canonical_url(REPORT), books_id: canonical_url(BOOKS)}
            assert s.scalars(select(Resource.link_id).order_by(Resource.rid)).all() == [
                books_id,
                report_id,
                report_id,
            ]
            history = s.scalars(
                select(Observation.outcome)
                .where(Observation.link_id == report_id)
                .order_by(Observation.checked_at)
            ).all()
            assert history == [Outcome.NOT_FOUND.value, Outcome.OK.value]
            assert s.scalar(select(func.count()).where(Event.link_id == old_id)) == 0
            moved = select(func.count()).where(
                Event.link_id == report_id, Event.kind == "outcome_changed"
            )
            assert s.scalar(moved) == 1
            assert s.get_one(Link, books_id).host == "xn--bcher-kva.example"

        # The next sync finds every entry's link: nothing new, nothing re-added.
        changes = sync_catalogs(engine, [KIT], now=days(4))
        assert changes.changes == ()
        with read_session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Link)) == 2


def test_rekey_is_a_no_op_on_current_keys(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        with engine.begin() as conn:
            result = rekey_links(conn)
        assert (result.renamed, result.merged) == (0, 0)


def test_upgrade_gives_an_emoji_domain_entry_back_its_checks(tmp_path: Path) -> None:
    """A database synced before emoji domains were keyed by their punycode: the entry's
    link keeps the raw key, unchecked, while its checks are filed under the new key on a
    link no entry has. Migration 0011 merges them: one link, the entry's, checked."""
    heart = make_catalog("toolkit", [make_resource("heart", "https://i❤.ws/")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [heart], now=days(0))
        with write_session(engine) as s:
            s.get_one(Link, _link_of(engine, "heart").id).url = "https://i❤.ws/"
        targets = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
        checks = [make_observation(tg.url, Outcome.OK, days(1)) for tg in targets]
        store.record_observations(engine, None, checks, HealthSettings(), now=days(1))
        with engine.begin() as conn:
            command.stamp(migrate.alembic_config(conn), "0010")

        migrate.upgrade(engine)

        with read_session(engine) as s:
            (link,) = s.scalars(select(Link)).all()
            assert (link.url, link.host) == ("https://xn--i-7iq.ws/", "xn--i-7iq.ws")
            assert link.outcome == Outcome.OK.value
            assert s.scalar(select(func.count()).select_from(Observation)) == 1
        assert _link_of(engine, "heart").id == link.id
        assert sync_catalogs(engine, [heart], now=days(2)).changes == ()


def test_upgrade_keeps_a_url_with_a_space_one_link_with_its_history(tmp_path: Path) -> None:
    """A database synced while a space made a URL invalid keyed its link by the text as
    written. Now that it is checked as %20, the next sync opened a second link and the
    entry's checks and break stayed on the first. Migration 0012 re-keys it in place."""
    spaced = "https://example.org/files/Annual Report 2019.pdf"
    kit = make_catalog("toolkit", [make_resource("spaced", spaced)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        before = _link_of(engine, "spaced")
        checks = [make_observation(before.url, Outcome.INVALID_URL, days(1))]
        store.record_observations(engine, None, checks, HealthSettings(), now=days(1))
        with write_session(engine) as s:
            link = s.get_one(Link, before.id)
            link.url, link.host = spaced, ""  # as the invalid URL was keyed
        with engine.begin() as conn:
            command.stamp(migrate.alembic_config(conn), "0011")

        migrate.upgrade(engine)

        with read_session(engine) as s:
            (link,) = s.scalars(select(Link)).all()
            assert link.id == before.id
            assert (link.url, link.host) == (canonical_url(spaced), "example.org")
            assert link.url == "https://example.org/files/Annual%20Report%202019.pdf"
            assert s.scalar(select(func.count()).select_from(Observation)) == 1
        assert sync_catalogs(engine, [kit], now=days(2)).changes == ()
        assert _link_of(engine, "spaced").id == before.id


@pytest.mark.parametrize(
    "written",
    ["http://example.org\\annual-report", "http://guest:pw@example.org/annual-report"],
)
def test_upgrade_keeps_a_url_browsers_open_plainly_one_link_with_its_history(
    tmp_path: Path, written: str
) -> None:
    """A database synced while a backslash ending the host or a user name made a URL
    invalid keyed its link by the text as written (a password with it). Now that it is
    checked as browsers request it, the next sync opened a second link and the entry's
    checks stayed on the first. Migration 0013 re-keys it in place."""
    kit = make_catalog("toolkit", [make_resource("odd", written)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        before = _link_of(engine, "odd")
        checks = [make_observation(before.url, Outcome.INVALID_URL, days(1))]
        store.record_observations(engine, None, checks, HealthSettings(), now=days(1))
        with write_session(engine) as s:
            link = s.get_one(Link, before.id)
            link.url, link.host = written, ""  # as the invalid URL was keyed
        with engine.begin() as conn:
            command.stamp(migrate.alembic_config(conn), "0012")

        migrate.upgrade(engine)

        with read_session(engine) as s:
            (link,) = s.scalars(select(Link)).all()
            assert link.id == before.id
            assert (link.url, link.host) == ("http://example.org/annual-report", "example.org")
            assert s.scalar(select(func.count()).select_from(Observation)) == 1
        assert sync_catalogs(engine, [kit], now=days(2)).changes == ()
        assert _link_of(engine, "odd").id == before.id
