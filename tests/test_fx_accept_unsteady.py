"""A permanent redirect that leads to two addresses by turns: what `accept-redirect` typed
by hand does, and what the one "Unsteady links" news item names.

Two servers behind a balancer send the old address to /new-a and /new-b on alternate nights.
The queue's row names both and offers no command (`catalog.unsteady.redirect_turns`), but
`linkhealth accept-redirect guide` typed by hand wrote tonight's target into the catalog
file, and the redirect flipped back the next night. It now refuses (the file untouched,
byte for byte, with --dry-run too) and names both addresses and `replace-url` for the one
the curator chooses; once the redirect stays on one address, it accepts that one as ever.
The news item that tells the link unsteady named no address at all: it names both, as
the row does, passwords hidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from catalog import store
from catalog.settings import CheckSettings, HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from catalog.unsteady import leads_by_turns
from flows.cli import app
from tests.factories import check_night, database_url, days, temporary_database, write_catalog
from tests.test_rv_news import guides, moved_with
from tests.test_x2_unsteady_news import FLAP, items_of, page, row
from tests.test_x2_unsteady_news import night as x2_night

__all__ = ["guides"]

#: Edits announce themselves to a Prefect API: never a developer's own (conftest).
pytestmark = pytest.mark.usefixtures("no_prefect_api")

runner = CliRunner()
OLD = "https://guides.example/old"
A = "https://guides.example/new-a"
B = "https://guides.example/new-b"
CHECK = CheckSettings(max_attempts=1, soft404_probe=False)
HEALTH = HealthSettings()
PAGE = (
    "<html><head><title>Guide</title></head><body><main><h1>Guide</h1><p>How task forces "
    "build investigations and support survivors.</p></main></body></html>"
)


class Balancer:
    """The old address: read fine, or a 301 to `target` (the night's server's choice)."""

    def __init__(self) -> None:
        self.target: str | None = None

    def old(self, request: httpx.Request) -> httpx.Response:
        if self.target is None:
            return _page(request)
        return httpx.Response(301, headers={"Location": self.target})


def _page(request: httpx.Request) -> httpx.Response:
    headers = {"Content-Type": "text/html; charset=utf-8"}
    body = b"" if request.method == "HEAD" else PAGE.encode()
    return httpx.Response(200, headers=headers, content=body)


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "toolkit.yaml", [{"id": "guide", "title": "Guide", "url": OLD}])


@pytest.fixture
def site(respx_mock: respx.MockRouter) -> Balancer:
    balancer = Balancer()
    respx_mock.route(url=OLD).mock(side_effect=balancer.old)
    respx_mock.route(host="guides.example").mock(side_effect=_page)  # /new-a, /new-b, ...
    return balancer


@pytest.fixture
def engine(tmp_path: Path, catalog_file: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
        yield engine


def checked(engine: Engine, site: Balancer, targets: dict[int, str | None]) -> None:
    """The nightly check of each night `n` in `targets`, the old address redirected to
    `targets[n]` (None: read fine)."""
    for n, target in targets.items():
        site.target = target
        check_night(engine, n, CHECK, HEALTH, fingerprint_max_age_days=0)


def by_turns(engine: Engine, site: Balancer) -> None:
    """Read fine on night 1, then redirected to /new-a and /new-b by turns to night 7."""
    checked(engine, site, {1: None, **{n: (A, B)[n % 2] for n in range(2, 8)}})


def accept(engine: Engine, catalog_file: Path, *args: str) -> Result:
    where = ("--db", database_url(engine), "--catalog", str(catalog_file))
    return runner.invoke(app, ["accept-redirect", "guide", *args, *where])


@pytest.mark.parametrize("dry_run", [False, True], ids=["accept", "dry-run"])
def test_accept_redirect_refuses_a_redirect_to_two_addresses_by_turns(
    engine: Engine, catalog_file: Path, site: Balancer, dry_run: bool
) -> None:
    by_turns(engine, site)
    link = store.find_resource(engine, "guide").link_id
    assert link is not None and store.permanent_redirect_target(engine, link) == B  # tonight's
    before = catalog_file.read_bytes()
    result = accept(engine, catalog_file, *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    message = " ".join(result.stderr.split())
    assert message.startswith("error: toolkit/guide "), message
    assert A in message and B in message, message
    assert "by turns" in message, message
    assert "linkhealth replace-url guide URL" in message, message
    assert catalog_file.read_bytes() == before
    assert store.resource_history(engine, "guide").decisions == ()


def test_accept_redirect_takes_the_address_the_redirect_settled_on(
    engine: Engine, catalog_file: Path, site: Balancer
) -> None:
    by_turns(engine, site)
    checked(engine, site, {8: A, 9: A, 10: A})  # stays on /new-a at three checks
    result = accept(engine, catalog_file)
    assert result.exit_code == 0, result.output
    text = catalog_file.read_text()
    assert f"url: {A}" in text and B not in text
    (decision,) = store.resource_history(engine, "guide").decisions
    assert decision.kind == "accept_redirect"


def test_the_unsteady_news_item_names_both_addresses_without_passwords(guides: Engine) -> None:
    """The item the night it is found unsteady said "to another address on some nights
    (..., now to ...)" of a row that offers no address: it names both, as the row does."""
    a = "https://ann:s3cret@guides.example/new-a"
    b = "https://ann:s3cret@guides.example/new-b"
    x2_night(guides, 1, [page(FLAP, days(1), 1)], report=False)
    said = {
        n: items_of(x2_night(guides, n, [moved_with(n, (a, b)[n % 2])]), "guide")
        for n in range(2, 7)
    }
    (told,) = said[4]
    unsteady = told.replace("\\*", "*")  # as Markdown escapes it
    assert "s3cret" not in unsteady, unsteady
    shown_a, shown_b = (f"https://ann:***@guides.example/new-{x}" for x in "ab")
    assert f"to {shown_a} on some nights and to {shown_b} on others" in unsteady, unsteady
    assert "to 2 addresses by turns" in unsteady, unsteady
    assert ", now to " not in unsteady, unsteady
    assert {n: items for n, items in said.items() if n > 4 and items} == {}


# --- a redirect that moved, not by turns (review of the refusal) -----------------------------


@pytest.mark.parametrize(
    ("seen", "alternating"),
    [
        ((), False),
        (("a",), False),
        (("a", "b"), False),  # a move
        (("a", "a", "b", "b"), False),  # nights on one address are one stay
        (("a", "b", "a"), True),
        (("a", "a", "b", "b", "a"), True),
        (("a", "b", "c", "a"), True),
        (("a", "b", "c"), True),  # three servers that have not come round yet
    ],
)
def test_by_turns_means_an_address_left_and_returned_to(
    seen: tuple[str, ...], alternating: bool
) -> None:
    assert leads_by_turns(seen) is alternating


def test_a_redirect_that_moved_once_is_no_redirect_by_turns(guides: Engine) -> None:
    """301 to /new-a on night 2, no redirect on night 3 (the site reorganising), 301 to
    /new-b from night 4: unsteady by its comings and goings, but it never went back to
    /new-a. Neither the news nor the row says "by turns" or names /new-a as a place it
    leads to; the row offers /new-b, and `accept-redirect` once it has stayed there."""
    x2_night(guides, 1, [page(FLAP, days(1), 1)], report=False)
    x2_night(guides, 2, [moved_with(2, A)], report=False)
    x2_night(guides, 3, [page(FLAP, days(3), 1)], report=False)
    (told,) = items_of(x2_night(guides, 4, [moved_with(4, B)]), "guide")
    assert "by turns" not in told and "on others" not in told, told
    assert A not in told and B in told, told
    x2_night(guides, 5, [moved_with(5, B)], report=False)
    shown = row(guides, "guide", 5)
    assert "by turns" not in f"{shown.state_note} {shown.fix}", shown
    assert shown.fix is not None and A not in shown.fix, shown.fix
    assert shown.suggested_url == B
    assert shown.command is None  # not steady yet: two checks on /new-b
    x2_night(guides, 6, [moved_with(6, B)], report=False)
    steady = row(guides, "guide", 6)
    assert steady.suggested_url == B
    assert steady.command is not None and "accept-redirect" in steady.command
