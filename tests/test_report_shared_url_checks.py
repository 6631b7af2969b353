"""An entry edited to an address another entry already links: its row tells its own
checks of that address, since it took it, as its page does; not the link's whole story,
which was the other entry's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.clock import as_utc
from catalog.outcomes import Outcome
from catalog.queries import report_data, resource_row
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports import build_context
from reports.build import resource_report_row
from reports.context import Row
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

OLD = "https://example.org/old"
NEW = "https://example.org/gone"


@dataclass(frozen=True)
class Edited:
    engine: Engine
    #: The queue's rows by resource id.
    rows: dict[str, Row]


def night(engine: Engine, n: float, outcomes: dict[str, Outcome]) -> None:
    checks = [make_observation(url, outcome, days(n)) for url, outcome in outcomes.items()]
    store.record_observations(engine, None, checks, HealthSettings(), now=days(n))


@pytest.fixture
def edited(tmp_path: Path) -> Iterator[Edited]:
    """`b`'s NEW failed three nights (confirmed broken); then `a` was edited from OLD to
    NEW, and NEW failed once more, the one check of it made for `a`."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(
            engine,
            [make_catalog("kit", [make_resource("a", OLD), make_resource("b", NEW)])],
            now=days(0),
        )
        for n in (1, 2, 3):
            night(engine, n, {OLD: Outcome.OK, NEW: Outcome.TIMEOUT})
        sync_catalogs(
            engine,
            [make_catalog("kit", [make_resource("a", NEW), make_resource("b", NEW)])],
            now=days(3.5),
        )
        night(engine, 4, {NEW: Outcome.TIMEOUT, OLD: Outcome.NETWORK_UNAVAILABLE})
        ctx = build_context(report_data(engine), now=days(4.1))
        rows = {r.resource_id: r for g in ctx.groups for r in g.rows}
        yield Edited(engine, rows)


def test_the_edited_entry_s_row_counts_its_own_checks(edited: Edited) -> None:
    """Its row said "since 3 nights ago, 4 checks": three were `b`'s, made before `a`
    linked NEW."""
    a, b = edited.rows["a"], edited.rows["b"]
    assert (a.checks, b.checks) == (1, 4)
    assert a.since is not None and b.since is not None
    assert a.since.iso.startswith(as_utc(days(4)).isoformat()[:16])
    assert b.since.iso.startswith(as_utc(days(1)).isoformat()[:16])


def test_linkhealth_resource_tells_the_same_count(edited: Edited) -> None:
    """`linkhealth resource a` reads its row alone (`resource_row`): the same story."""
    a = resource_row(edited.engine, store.find_resource(edited.engine, "a").id)
    assert a is not None
    row = resource_report_row(a, now=days(4.1))
    assert row.checks == 1
    assert row.since == edited.rows["a"].since


def test_the_fix_and_the_news_tell_the_address_s_story(edited: Edited) -> None:
    """What made the address confirmed broken is its own checks, the other entry's too: the
    fix (which tells the failures that confirmed it) and the news keep the address's."""
    a, b = edited.rows["a"], edited.rows["b"]
    assert a.fix == b.fix
    assert a.fix is not None and f"since {days(1):%Y-%m-%d} (4 checks;" in a.fix
    assert a.state == b.state == "broken"
