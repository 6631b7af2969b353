"""A link's tries not sent since its last check (`held_tries`), kept on the link as tries
are stored (`links.held_tries`), never counted from the observations by a report.

The report's JSON and CSV, the export and `linkhealth resource --json` counted them from
the observations on every read (`store.held_in_a_row`, until migration 0023), which
reports never do: "N checks" is kept on the link for that reason. The kept count must
always be the count that read gave, which `count_held` below still makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, case, func, inspect, or_, select, update
from sqlalchemy.orm import aliased

from catalog import migrate, store
from catalog.db import open_engine
from catalog.decisions import history_lines
from catalog.export import export_rows
from catalog.health import LinkState, apply_observation
from catalog.model import Observation as Try
from catalog.outcomes import HELD_REASON_END, Outcome
from catalog.queries import report_data
from catalog.rekey import rekey_links
from catalog.retention import prune_observations
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Link, Observation
from catalog.transfer import copy_database
from tests.factories import (
    days,
    emptied,
    make_catalog,
    make_observation,
    make_resource,
    migrated_sqlite,
    temporary_database,
)
from tests.test_u4_held_rotation import held_at

HEALTH = HealthSettings(archive_lookups=False)
HOST = "https://agency.example"
#: Resource id -> its address: three links of one host, each tried its own way a night.
URLS = {rid: f"{HOST}/{rid}" for rid in ("a", "b", "c")}
KIT = make_catalog("toolkit", [make_resource(rid, url) for rid, url in URLS.items()])


def count_held(engine: Engine) -> dict[str, int]:
    """Per link (its URL), its tries not sent since its last check as the reports counted
    them before the column (`store.held_in_a_row`, kept here as the oracle): of a link
    whose reason is a held try's, its held tries newer than its newest check (neither held
    nor a night our network was down); 0 for the others."""
    tried, sent = aliased(Observation), aliased(Observation)
    last_check = (
        select(func.max(sent.checked_at))
        .where(
            sent.link_id == Link.id,
            sent.held.is_not(True),
            sent.outcome != Outcome.NETWORK_UNAVAILABLE.value,
        )
        .correlate(Link)
        .scalar_subquery()
    )
    held = (
        select(func.count())
        .select_from(tried)
        .where(
            tried.link_id == Link.id,
            tried.held.is_(True),
            or_(last_check.is_(None), tried.checked_at > last_check),
        )
        .scalar_subquery()
    )
    guarded = case((Link.reason.endswith(HELD_REASON_END, autoescape=True), held), else_=0)
    with engine.connect() as conn:
        return {url: n for url, n in conn.execute(select(Link.url, guarded))}


def kept(engine: Engine) -> dict[str, int]:
    """Per link (its URL), the count it keeps."""
    with engine.connect() as conn:
        return {url: n for url, n in conn.execute(select(Link.url, Link.held_tries))}


def told(engine: Engine, now: datetime) -> dict[str, tuple[int, int, int | None]]:
    """Per resource: `held_tries` in the report's rows and the export, and the tries
    `linkhealth resource` says were not sent (None of a link never checked: it says
    "last tried ..., while its host said it was away" and counts nothing)."""
    report = {r.resource_id: r.held_tries for r in report_data(engine).resources}
    export = {r["id"]: r["held_tries"] for r in export_rows(engine, now=now)}
    return {rid: (report[rid], export[rid], _said(engine, rid, now)) for rid in URLS}


def _said(engine: Engine, rid: str, now: datetime) -> int | None:
    history = store.resource_history(engine, rid, limit=10_000)
    if history.link is None or history.link.outcome is None:
        return None
    for line in history_lines(history, now=now):
        if found := re.match(r"  not sent:  the last (?:(\d+) tries|try)\b", line):
            return int(found[1] or 1)
    return 0


def _try(url: str, kind: str, n: float) -> Try:
    """A try of `url` on night `n`: "held" not sent, its host away; "offline": our network
    was down; else a check that worked ("page") or failed ("404")."""
    if kind == "held":
        return held_at(url, n)
    outcome = {"page": Outcome.OK, "404": Outcome.NOT_FOUND}.get(kind)
    return make_observation(url, outcome or Outcome.NETWORK_UNAVAILABLE, checked_at=days(n))


def _store(engine: Engine, tries: list[Try], n: float) -> None:
    store.record_observations(engine, None, tries, HEALTH, now=days(n))


KINDS = st.sampled_from(["page", "404", "held", "held", "held", "offline"])
#: After a night: nothing, `db prune --keep-days 2`, or a held try of an hour before the
#: night stored after it (a run's batch stored after a recheck's).
AFTER = st.sampled_from(["", "", "prune", "late"])
NIGHTS = st.lists(st.tuples(KINDS, KINDS, KINDS, AFTER), min_size=1, max_size=16)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """One database for the property's examples, emptied for each (`emptied`)."""
    with temporary_database(tmp_path) as engine:
        yield engine


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(nights=NIGHTS)
# A hold longer than the prune's window, across a night our network was down, on a link
# checked first, one never checked and one checked between.
@example(
    nights=[
        ("page", "held", "page", ""),
        ("held", "held", "held", ""),
        ("held", "offline", "404", "prune"),
        ("offline", "held", "held", "late"),
        ("held", "held", "held", "prune"),
        ("held", "page", "held", "prune"),
    ]
)
def test_the_kept_count_is_always_the_count_the_reports_read_before(
    engine: Engine, nights: list[tuple[str, str, str, str]]
) -> None:
    """Checks that worked or failed, tries not sent, nights our network was down, prunes
    and late tries: after every night, the count each link keeps is what counting its
    observations gave, and the report's rows, the export and `linkhealth resource` say it."""
    engine = emptied(engine)
    sync_catalogs(engine, [KIT], now=days(0))
    for n, (*kinds, after) in enumerate(nights, start=1):
        _store(
            engine, [_try(url, kind, n) for url, kind in zip(URLS.values(), kinds, strict=True)], n
        )
        if after == "prune":
            prune_observations(engine, 2, now=days(n + 0.02), vacuum=False)
        elif after == "late":
            _store(engine, [held_at(url, n - 0.04) for url in URLS.values()], n + 0.02)
        counted = count_held(engine)
        assert kept(engine) == counted, (n, nights)
        said = told(engine, days(n + 0.03))
        for rid, url in URLS.items():
            report, export, text = said[rid]
            assert (report, export) == (counted[url], counted[url]), (rid, n, nights)
            assert text in (None, counted[url]), (rid, n, nights)


def test_a_try_held_no_later_than_the_check_is_no_try_since_it() -> None:
    """The store keeps the count as the link's state moves (`apply_observation`): one more
    per try not sent, 0 at a check, none for a night our network was down. A held try
    stamped at the check's own instant (two runs at once) is not after it, as the history
    the reports counted reads it."""
    health = HealthSettings()
    url = URLS["a"]
    state, _ = apply_observation(LinkState(), _try(url, "page", 1), health, now=days(1))
    counts = []
    for obs in (
        held_at(url, 1),
        held_at(url, 2),
        _try(url, "offline", 3),
        held_at(url, 4),
        _try(url, "404", 5),
        held_at(url, 6),
    ):
        state, _ = apply_observation(state, obs, health, now=obs.checked_at)
        counts.append(state.held_tries)
    assert counts == [0, 1, 1, 2, 0, 1]


def test_a_check_a_process_from_before_the_column_stored_ends_the_count(
    tmp_path: Path,
) -> None:
    """A linkhealth process started before the upgrade (it checks its schema once) stores a
    check without setting the count back: the link's reason is then the check's, and the
    report and the export read no try not sent beside a fresh check."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n, kind in enumerate(["page", "held", "held", "page"]):
            _store(engine, [_try(URLS["a"], kind, n)], n)
        with engine.begin() as conn:  # what the older process left: the count of before
            conn.execute(update(Link).where(Link.url == URLS["a"]).values(held_tries=2))
        assert told(engine, days(3.1))["a"] == (0, 0, 0)


def test_links_merged_by_a_rekey_count_the_tries_not_sent_of_both(tmp_path: Path) -> None:
    """One address under two keys (rewritten to one form by a migration), held in the same
    runs: the merged link holds both histories, whose tries since its last check were not
    sent twice a night. It keeps the count those rows give, as `linkhealth resource`
    shows them, not the survivor's own half."""
    one, other = URLS["a"], URLS["b"]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n in (1, 2, 3):
            for url, at in ((other, n), (one, n + 0.5)):  # `one` checked last: it survives
                _store(engine, [_try(url, "page" if n == 1 else "held", at)], at)
        assert kept(engine)[one] == kept(engine)[other] == 2
        with engine.begin() as conn:
            rekey_links(conn, canonical=lambda url: one, host=lambda url: "agency.example")
        assert kept(engine) == count_held(engine) == {one: 4}
        assert told(engine, days(4))["a"] == (4, 4, 4)


def test_migration_0023_counts_each_link_s_tries_not_sent_as_the_reports_did(
    db_url: str,
) -> None:
    """Upgraded, every link keeps the count the reports read until then: of a link checked,
    then held across a night our network was down; one never checked, held since; one
    held, then checked; and one whose held try was followed by a check stored late (older
    than the try: its reason is the check's, and the reports read 0). Downgraded, the
    column is gone."""
    engine = open_engine(db_url)
    try:
        kit = make_catalog("toolkit", [make_resource(r, f"{HOST}/{r}") for r in "abcd"])
        sync_catalogs(engine, [kit], now=days(0))
        nights: dict[str, list[Any]] = {
            "a": ["page", "held", "offline", "held", "held"],
            "b": ["offline", "held", "held", "offline", "held"],
            "c": ["page", "held", "held", "404", "offline"],
            "d": ["page", "page", "page", "held", None],
        }
        for n in range(5):
            _store(engine, [_try(f"{HOST}/{r}", k[n], n) for r, k in nights.items() if k[n]], n)
        # A recheck made after d's last check and before its held try, stored after both.
        _store(engine, [_try(f"{HOST}/d", "404", 2.5)], 4)
        expected = {f"{HOST}/{r}": n for r, n in {"a": 3, "b": 3, "c": 0, "d": 0}.items()}
        assert kept(engine) == count_held(engine) == expected
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "0022")
        assert "held_tries" not in {c["name"] for c in inspect(engine).get_columns("links")}
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert kept(engine) == expected
    finally:
        engine.dispose()


def test_db_copy_keeps_the_count(tmp_path: Path, migrated_db_url: str) -> None:
    """`db copy` moves the links as they are: a link held since its check stays so."""
    source = migrated_sqlite(tmp_path / "old.db")
    target = open_engine(migrated_db_url)
    try:
        sync_catalogs(source, [KIT], now=days(0))
        for n, kind in enumerate(["page", "held", "held"]):
            _store(source, [_try(URLS["a"], kind, n)], n)
        copy_database(source, target, now=days(3))
        assert kept(target) == kept(source) == {URLS["a"]: 2, URLS["b"]: 0, URLS["c"]: 0}
        assert told(target, days(3))["a"] == (2, 2, 2)
    finally:
        source.dispose()
        target.dispose()
