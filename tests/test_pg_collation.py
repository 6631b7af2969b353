"""A PostgreSQL database created with a linguistic collation (ICU `en-US` here, as many
clusters are created with `en_US.UTF-8`) lists resources, catalogs and links in the order
SQLite does: code point order, Python's order of `str` (`catalog.collation`).

The suite's PostgreSQL database sorts as SQLite does (C.UTF-8), so these tests make a
database of their own with an ICU collation, where "R1" sorts after "alpha", "_draft" before
both and "Émigré" among the e's. PostgreSQL 15 or newer with ICU only; SQLite has one order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, text

from catalog import store
from catalog.db import open_engine
from catalog.export import export_rows
from catalog.model import Catalog
from catalog.outcomes import Outcome
from catalog.queries import iter_resources, report_data, resource_ids_at
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.publish import queue_head
from tests.factories import (
    T0,
    days,
    make_catalog,
    make_observation,
    make_resource,
    scratch_postgresql_database,
)

#: Ids and titles whose code point order is not their linguistic order.
RIDS = ("R1", "Z-last", "_draft", "ab", "r10", "r2")
#: (key, title) of each catalog: by title, Zines < archive < Émigré in code point order.
CATALOGS = (
    ("zines", "Zines and leaflets"),
    ("archive", "archive of toolkits"),
    ("emigre", "Émigré support"),
)
#: Where every entry of the catalog "shared" points.
SHARED_URL = "https://one.example.org/"
#: Failing in every catalog, under one title: the action queue's order among them is the
#: report's row order (the queue's sort keeps it for equal rows).
FAILING = ("R1", "r2", "ab")


def _catalogs() -> list[Catalog]:
    shared = make_catalog("shared", [make_resource(rid, url=SHARED_URL) for rid in RIDS])
    return [
        shared,
        *(
            make_catalog(
                key,
                [
                    make_resource(
                        rid,
                        url=f"https://{key}.example.org/{rid}",
                        title="Safety plan" if rid in FAILING else f"Guide {rid}",
                    )
                    for rid in RIDS
                ],
                title=title,
            )
            for key, title in CATALOGS
        ),
    ]


def _filled(engine: Engine) -> Engine:
    """Every catalog synced; FAILING's links (but the shared one) not found since T0, the
    rest working; the second night's checks are a run's."""
    catalogs = _catalogs()
    sync_catalogs(engine, catalogs, now=T0)
    failing = {r.url for c in catalogs[1:] for r in c.resources if r.id in FAILING}
    urls = sorted({r.url for c in catalogs for r in c.resources})
    for n, run_id in ((0, None), (1, store.start_run(engine, trigger="schedule", now=days(1)))):
        observations = [
            make_observation(url, Outcome.NOT_FOUND if url in failing else Outcome.OK, days(n))
            for url in urls
        ]
        store.record_observations(engine, run_id, observations, HealthSettings(), now=days(n))
    return engine


def _verdicts(engine: Engine) -> list[tuple[str, str]]:
    """The resources `check --strict` judges for the filled run (it names them in the
    action queue's order, which `test_the_action_queue_is_sqlites_queue` covers)."""
    with engine.connect() as conn:
        run_id = conn.scalars(text("SELECT max(id) FROM runs")).one()
    return [(v.collection, v.rid) for v in store.run_verdicts(engine, run_id)]


@pytest.fixture(scope="module")
def icu_url() -> Iterator[str]:
    """A new database whose default collation is ICU's `en-US`; dropped afterwards."""
    with scratch_postgresql_database(
        "TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
        "LOCALE 'C.UTF-8'",
        on_sqlite="PostgreSQL only: SQLite orders text one way",
        refused="no ICU database here",  # before 15, without ICU, or not allowed to create
    ) as url:
        yield url


@pytest.fixture(scope="module")
def icu(icu_url: str) -> Iterator[Engine]:
    """The ICU database, migrated and filled (`_filled`)."""
    engine = open_engine(icu_url)
    try:
        yield _filled(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The same rows in SQLite, the order to match."""
    engine = open_engine(f"sqlite:///{tmp_path_factory.mktemp('collation') / 'same.db'}")
    try:
        yield _filled(engine)
    finally:
        engine.dispose()


def test_the_icu_database_orders_text_linguistically(icu: Engine) -> None:
    """The premise: without `COLLATE`, this database sorts "R1" after "ab"."""
    with icu.connect() as conn:
        ordered = conn.scalars(text("SELECT rid FROM resources GROUP BY rid ORDER BY rid")).all()
    assert ordered != sorted(RIDS)


Listing = Callable[[Engine], Sequence[Any]]

#: What each read lists, in the order it lists it.
LISTINGS: dict[str, Listing] = {
    "report rows": lambda e: [
        (r.collection_title, r.resource_id) for r in report_data(e).resources
    ],
    "streamed report rows": lambda e: [
        (r.collection_title, r.resource_id) for r in iter_resources(e)
    ],
    "report catalogs": lambda e: [(c.title, c.key) for c in report_data(e).collections],
    "export": lambda e: [(row["collection"], row["id"]) for row in export_rows(e, now=days(1))],
    "check plan": lambda e: [
        tg.url for tg in store.targets_for_check(e, now=days(1), fingerprint_max_age_days=7)
    ],
    "link states": lambda e: [link.url for link in store.link_states(e)],
    "recheck": lambda e: [
        (s.collection, s.rid)
        for s in store.recheck_statuses(
            e, None, rids=[r.resource_id for r in report_data(e).resources]
        )
    ],
    "check --strict": _verdicts,
}


@pytest.mark.parametrize("listing", LISTINGS.values(), ids=LISTINGS.keys())
def test_reads_list_in_code_point_order_as_on_sqlite(
    icu: Engine, sqlite: Engine, listing: Listing
) -> None:
    on_icu = list(listing(icu))
    assert on_icu == sorted(on_icu)
    assert on_icu == list(listing(sqlite))


def test_the_action_queue_is_sqlites_queue(icu: Engine, sqlite: Engine) -> None:
    """Rows the queue ranks alike (one title, one catalog, failing since the same night)
    keep the report's order, on the report and in the flow's streamed queue alike."""

    def queue(engine: Engine) -> list[tuple[str, str]]:
        rows = build_context(report_data(engine), now=days(1)).rows
        assert queue_head(engine, now=days(1), limit=len(rows)) == list(rows)
        return [(r.collection_key, r.resource_id) for r in rows]

    assert len(queue(sqlite)) == len(CATALOGS) * len(FAILING)
    assert queue(icu) == queue(sqlite)


def test_entries_at_an_address_come_in_the_reports_order(icu: Engine, sqlite: Engine) -> None:
    """`resource_ids_at` (the queue's note that another entry is at the address a fix
    switches to) lists the entries at one address as the report lists them."""
    address = ("shared", SHARED_URL)
    found = resource_ids_at(icu, [address])
    assert found == {address: sorted(RIDS)}
    assert found == resource_ids_at(sqlite, [address])
