"""The read of a page after its entry's text was edited is made, and counts only when it
read the page: not settled by the upgrade to 0019 while still owed, nor by a 503 wall.

x3b records on the link the latest entry stamp a full read covered (`links.text_upto`).
Migration 0019 started every link covered, so an edit synced by the old code whose read
had not been made yet (the page was down that night) was never judged; and a read
answered by a maintenance page (503 with an HTML body) counted as the read, so the nights
after were HEADs, the weekly read a 304, and the renamed entry kept its old verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from alembic import command

from catalog import migrate
from catalog.sync import sync_catalogs
from tests.factories import days, edit, temporary_database
from tests.test_x3_edited_entry_read import GUIDE, HANDBOOK, URL, Site, drift_of, kit, night

HEAD = [("HEAD", None)]
READ = [("GET", None)]
MAINTENANCE = "<html><title>Down for maintenance</title><body>Back soon.</body></html>"


class Walled(Site):
    """The site of x3's tests, answering every request with `status` while it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.status: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status is None:
            return super().__call__(request)
        self.asked.append((request.method, request.headers.get("if-none-match")))
        headers = {"Content-Type": "text/html"}
        if self.status == 404:
            return httpx.Response(404, headers=headers, content="<html><h1>Not found</h1></html>")
        return httpx.Response(self.status, headers=headers, content=MAINTENANCE)


@pytest.fixture(name="site")
def serving(respx_mock: respx.MockRouter) -> Iterator[Walled]:
    served = Walled()
    respx_mock.route(host="example.org").mock(side_effect=served)
    yield served


def test_an_edit_synced_before_the_upgrade_is_read_after_it(tmp_path: Path, site: Walled) -> None:
    before = kit(("guide", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        renamed = edit(before, "guide", title=HANDBOOK[0], description=HANDBOOK[1])
        sync_catalogs(engine, [renamed], now=days(2.5))
        # The edit was synced by the code before 0019, which upgrades before the night.
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "0018")
        migrate.upgrade(engine)

        assert night(engine, 3, site) == READ
        assert drift_of(engine) is not None
        assert night(engine, 4, site) == HEAD


@pytest.mark.parametrize("status", [503, 500, 429])
def test_a_read_answered_by_a_wall_is_made_again(tmp_path: Path, site: Walled, status: int) -> None:
    before = kit(("guide", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        renamed = edit(before, "guide", title=HANDBOOK[0], description=HANDBOOK[1])
        sync_catalogs(engine, [renamed], now=days(2.5))
        site.status = status
        night(engine, 3, site)
        site.status = None

        assert night(engine, 4, site)[-1:] == READ  # after any rechecks of the wall
        assert drift_of(engine) is not None
        assert night(engine, 5, site) == HEAD


def test_a_read_answered_404_settles_the_edit(tmp_path: Path, site: Walled) -> None:
    """A definite answer about the page is its read: no full read every night after."""
    before = kit(("guide", URL, GUIDE))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [before], now=days(0))
        for n in (1, 2):
            night(engine, n, site)
        sync_catalogs(engine, [edit(before, "guide", title=HANDBOOK[0])], now=days(2.5))
        site.status = 404
        night(engine, 3, site)
        site.status = None

        assert night(engine, 4, site) == HEAD
