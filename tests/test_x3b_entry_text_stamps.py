"""A page is read in full after an edit only when what drift judges of its entries changed
(title, description, an entry new to it), once, whatever the clocks, and whichever catalog
the run was limited to.

Comparing `updated_at` with the page's reads cost a full read for every edit (a review
date, tags, a renamed catalog file: every page of the catalog that night), a read every
night while an edit's stamp was ahead of the clock, and a run for one catalog hid another
catalog's edit of a shared address for good."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from alembic import command

from catalog import migrate, store
from catalog.check import check_targets
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests.factories import (
    days,
    edit,
    make_catalog,
    make_resource,
    temporary_database,
    write_catalog,
)
from tests.test_e2_validators_appear import CHECK, HEALTH, public
from tests.test_x3_edited_entry_read import (
    GUIDE,
    HANDBOOK,
    OTHER,
    URL,
    Site,
    drift_of,
    kit,
    night,
)

HEAD = [("HEAD", None)]


@pytest.fixture(name="site")
def serving(respx_mock: respx.MockRouter) -> Iterator[Site]:
    """example.org serving the guide (`test_x3_edited_entry_read.Site`)."""
    served = Site()
    respx_mock.route(host="example.org").mock(side_effect=served)
    yield served


@pytest.mark.parametrize(
    "change",
    [
        {"extra": {"reviewed_at": dt.date(2026, 1, 2)}},  # what mark-reviewed writes
        {"tags": ("shelter",)},
        {"publisher": "State Office"},
    ],
    ids=["reviewed_at", "tags", "publisher"],
)
def test_an_edit_drift_does_not_read_costs_no_full_read(
    tmp_path: Path, site: Site, change: dict[str, object]
) -> None:
    """Drift judges an entry's title and description only: another field's edit leaves
    the nights HEADs (issue #7)."""
    before = kit(("guide", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        sync_catalogs(engine, [edit(before, "guide", **change)], now=days(2.5))

        assert [night(engine, n, site) for n in (3, 4)] == [HEAD, HEAD]


def test_a_renamed_catalog_file_costs_no_full_read(tmp_path: Path, site: Site) -> None:
    """Renaming a catalog file moves its entries to the renamed catalog ("2 edited"): the
    pages were not read again that night, a first run's bytes."""
    folder = tmp_path / "catalogs"
    folder.mkdir()
    entries = [
        {"id": "guide", "title": GUIDE[0], "description": GUIDE[1], "url": URL},
        {"id": "other", "title": HANDBOOK[0], "description": HANDBOOK[1], "url": OTHER},
    ]
    path = write_catalog(folder / "toolkit.yaml", entries)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([path]), now=days(0), folders=[folder])
        for n in (1, 2):
            night(engine, n, site)
        renamed = path.rename(folder / "toolkit-2026.yaml")
        synced = sync_catalogs(engine, load_catalogs([renamed]), now=days(2.5), folders=[folder])
        assert synced.edited == 2  # the move, as the curator is told of it

        assert night(engine, 3, site) == HEAD * 2


def test_an_edit_stamped_by_a_clock_ahead_is_read_once(tmp_path: Path, site: Site) -> None:
    """A sync on a machine whose clock is a month fast: the page is read once, then the
    nights are HEADs, not a read each night until real time passes the stamp. An edit
    after it, on a right clock, is read as well."""
    before = kit(("guide", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        ahead = edit(before, "guide", title="Guide to Services for Victims")
        sync_catalogs(engine, [ahead], now=days(32))

        assert night(engine, 3, site) == [("GET", None)]
        assert [night(engine, n, site) for n in (4, 5)] == [HEAD, HEAD]
        sync_catalogs(engine, [edit(ahead, "guide", title=GUIDE[0])], now=days(5.5))
        assert night(engine, 6, site) == [("GET", None)]
        assert night(engine, 7, site) == HEAD


def test_a_run_for_one_catalog_does_not_hide_anothers_edit(tmp_path: Path, site: Site) -> None:
    """Two catalogs list the guide's page; the other catalog's curator makes its entry the
    handbook's. A run limited to the toolkit (`check --catalog`) reads the page in full and
    judges it against every entry: its weekly read answered 304 and covered the edit up,
    so the wrong entry was never compared with its page."""
    toolkit = kit(("guide", URL, GUIDE))
    shelf = make_catalog("shelf", [make_resource("g2", URL, title=GUIDE[0], description=GUIDE[1])])
    wrong = edit(shelf, "g2", title=HANDBOOK[0], description=HANDBOOK[1])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [toolkit, shelf], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        sync_catalogs(engine, [toolkit, wrong], now=days(7.5))

        site.asked.clear()
        targets = store.targets_for_check(
            engine, now=days(8), fingerprint_max_age_days=7, collection_keys=["toolkit"]
        )
        checked = asyncio.run(check_targets(targets, CHECK, resolver=public, clock=lambda: days(8)))
        store.record_observations(engine, None, checked, HEALTH, now=days(8))
        assert site.asked == [("GET", None)]
        assert drift_of(engine) is not None
        assert night(engine, 9, site) == HEAD


def test_upgrading_to_0019_forces_no_read(tmp_path: Path, site: Site) -> None:
    """A database written before the stamps: every link counts as read after every entry
    (no night of full reads after the upgrade), and the next edit is read as ever."""
    before = kit(("guide", URL, GUIDE), ("other", OTHER, HANDBOOK))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "0018")
        migrate.upgrade(engine)

        assert night(engine, 3, site) == HEAD * 2
        sync_catalogs(engine, [edit(before, "guide", title="Guide to Services")], now=days(3.5))
        # Two URLs of one host, asked at once: in either order.
        assert sorted(night(engine, 4, site)) == [("GET", None), ("HEAD", None)]
        assert night(engine, 5, site) == HEAD * 2
