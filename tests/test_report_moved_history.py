"""An entry whose URL was changed (`accept-redirect`): its report page tells the history
`linkhealth resource` tells, the checks of its old URL and the curator's decision with it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from reports.context import resource_page_path
from reports.publish import publish_report_files
from tests.factories import (
    Ticker,
    database_url,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)

runner = CliRunner()
OLD = "https://example.org/old"
NEW = "https://example.org/new"


#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")


@dataclass(frozen=True)
class Moved:
    engine: Engine
    now: datetime
    #: The page of the moved entry, its rows as text, newest first.
    page: str
    rows: list[str]


@pytest.fixture(params=["alone", "onto_another_entry_s_url"])
def moved(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Moved]:
    """`a` answered 301 to NEW two nights; the curator accepted the redirect; NEW was
    checked once since. In the second case NEW was already `b`'s, checked the night
    between (while `a` still linked OLD)."""
    entries = [{"id": "a", "title": "Guide", "url": OLD}]
    if request.param != "alone":
        entries.append({"id": "b", "title": "Other guide", "url": NEW})
    catalog = write_catalog(tmp_path / "toolkit.yaml", entries)
    now = utcnow()

    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog]), now=now - timedelta(days=4))

        def check(url: str, day: float, outcome: Outcome) -> None:
            at = now + timedelta(days=day - 2.5)  # the decision is made now
            moved = {"http_status": 301, "final_url": NEW, "suggested_url": NEW}
            obs = make_observation(url, outcome, at, **(moved if url == OLD else {}))
            store.record_observations(engine, None, [obs], HealthSettings(), now=at)

        check(OLD, 1, Outcome.REDIRECTED_PERMANENT)
        if request.param != "alone":
            check(NEW, 1.5, Outcome.OK)
        check(OLD, 2, Outcome.REDIRECTED_PERMANENT)
        db = ["--db", database_url(engine), "--catalog", str(catalog)]
        accepted = runner.invoke(app, ["accept-redirect", "a", *db])
        assert accepted.exit_code == 0, accepted.output
        check(NEW, 3, Outcome.OK)

        files = publish_report_files(
            settings_for(engine),
            formats=("html",),
            out_dir=tmp_path / "r",
            clock=Ticker(now + timedelta(days=0.6)),
        )
        page = (files.main.parent / resource_page_path("toolkit", "a")).read_text("utf-8")
        body = page.split('id="history"')[1].split("</tbody>")[0]
        rows = [re.sub(r"<[^>]+>", " ", r) for r in body.split("<tr data-kind=")[1:]]
        yield Moved(engine, now, page, [" ".join(r.split()) for r in rows])


def test_the_page_keeps_the_redirects_that_led_to_the_edit(moved: Moved) -> None:
    """After `accept-redirect` the page showed "Added", "URL edited" and the new URL's
    check: the 301s that made the curator act, and the decision, were gone."""
    what = [r.split(" UTC ")[1] for r in moved.rows]
    by = re.sub(r"^Redirect accepted by \S+$", "Redirect accepted by (curator)", what[2])
    assert [w.split(" test observation")[0] for w in [*what[:2], by, *what[3:]]] == [
        "OK",
        f"URL edited {OLD} → {NEW}",
        "Redirect accepted by (curator)",
        "Moved permanently",
        f"Outcome changed first check → Moved permanently (then at {OLD})",
        "Moved permanently",
        f"Added to the catalog {OLD}",
    ]
    redirects = [w for w in what if w.startswith("Moved permanently")]
    assert len(redirects) == 2 and all(f"(then at {OLD})" in w for w in redirects)
    assert f"(then at {OLD})" not in what[0]


def test_the_page_tells_the_checks_linkhealth_resource_lists(moved: Moved) -> None:
    """The same checks on the page as in `linkhealth resource`: of the new URL only this
    entry's, not another entry's check of it from before the edit."""
    shown = runner.invoke(app, ["resource", "a", "--json", "--db", database_url(moved.engine)])
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.stdout)["observations"]
    assert [o["url"] for o in listed] == [NEW, OLD, OLD]
    checks = [r for r in moved.rows if r.startswith('"check"')]
    assert len(checks) == len(listed)


def test_since_when_counts_the_entry_s_own_checks(moved: Moved) -> None:
    """NEW was `b`'s and working since the night before the edit: the page of `a` said
    "Working since …, 2 checks", counting `b`'s check as its own."""
    own_check = moved.now + timedelta(days=0.5)
    facts = moved.page.split('id="facts"')[1].split("</dl>")[0]
    since = re.search(r"Working since</dt>\s*<dd>(.*?)</dd>", facts, re.S)
    assert since is not None, facts
    assert own_check.strftime("%Y-%m-%d %H:%M") in since.group(1)
    assert since.group(1).endswith(", 1 check")
