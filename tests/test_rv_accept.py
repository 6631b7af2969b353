"""Review of fx-accept-unsteady: `accept-redirect` refusing a redirect that leads to
several addresses by turns, and the "Unsteady links" item that names them.

What a curator relies on here:

- a redirect that left one address for another and has stayed there is a move, not a
  redirect "by turns": before the change `accept-redirect` took the new address, and the
  refusal now says the site alternates when it never went back;
- the news item of three or more addresses reads as one sentence, "by turns" said once;
- the README, which lists what `accept-redirect` refuses, says it refuses this too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from flows.cli import app
from tests.factories import database_url, days
from tests.test_fx_accept_unsteady import A, B, Balancer, catalog_file, checked, engine, site
from tests.test_rv_news import guides, moved_with
from tests.test_x2_unsteady_news import FLAP, items_of, page
from tests.test_x2_unsteady_news import night as x2_night

__all__ = ["catalog_file", "engine", "guides", "site"]

#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")

runner = CliRunner()
README = Path(__file__).resolve().parent.parent / "README.md"


def test_rv_accept_redirect_takes_a_redirect_that_left_one_address_for_another(
    engine: Engine, catalog_file: Path, site: Balancer
) -> None:
    """301 to /new-a one night, no redirect the next (the site reorganising), then 301 to
    /new-b and still /new-b at the last check: it never went back to /new-a. The redirect
    counts as unsteady (came, went, came), and a redirect unsteady on one address is
    accepted by hand; this one was refused as leading to "2 addresses by turns ... the one
    it led to at its last check would not last", which nothing showed. Before the change
    `accept-redirect` wrote /new-b, where the page stays."""
    checked(engine, site, {1: None, 2: A, 3: None, 4: B, 5: B})
    where = ("--db", database_url(engine), "--catalog", str(catalog_file))
    result = runner.invoke(app, ["accept-redirect", "guide", *where])
    assert "by turns" not in result.stderr, result.stderr
    assert result.exit_code == 0, result.output
    assert f"url: {B}" in catalog_file.read_text()
    (decision,) = store.resource_history(engine, "guide").decisions
    assert decision.kind == "accept_redirect"


def test_rv_unsteady_news_of_three_addresses_says_by_turns_once(guides: Engine) -> None:
    """Three servers: "Redirects permanently to 3 addresses by turns, to A, B or C by
    turns (...)" said "by turns" twice in one sentence, in HTML, Markdown and JSON alike."""
    targets = [f"https://guides.example/new-{x}" for x in "abc"]
    x2_night(guides, 1, [page(FLAP, days(1), 1)], report=False)
    for n in (2, 3):
        x2_night(guides, n, [moved_with(n, targets[n % 3])], report=False)
    (told,) = items_of(x2_night(guides, 4, [moved_with(4, targets[4 % 3])]), "guide")
    assert "to 3 addresses" in told, told
    assert all(target in told for target in targets), told
    assert told.count("by turns") == 1, told


def test_rv_readme_says_accept_redirect_refuses_a_redirect_by_turns() -> None:
    """The README lists what `accept-redirect` refuses (an entry whose URL was changed by
    hand, a redirect to a home page, search or error page); a curator whose command now
    exits 1 on a redirect that leads elsewhere by turns finds no word of it there: it says
    only that the queue offers no `accept-redirect` for such a redirect."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    sentences = re.split(r"(?<=[.;:])\s+(?=[A-Z`(])", text)
    said = [
        s
        for s in sentences
        if "accept-redirect" in s and "refuse" in s and ("by turns" in s or "several" in s)
    ]
    assert said, "README does not say that accept-redirect refuses a redirect by turns"
