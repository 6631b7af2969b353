"""A link held several nights in a row (its host said it was away, so nothing was sent),
then asked again, as the curator reads it on the report's resource page and in
`linkhealth resource`: the two say the same, and their counts add up.

A held try is stored with its host's answer to other URLs (rate limited, 503) but is no
check of the link: it keeps the last check's state, date and count (`health.
apply_observation`). The page listed each held night as "Rate limited", HTTP 503, beside
"Working since ..., 2 checks" that left them out; its "Last checked" said nothing of the
tries since, which `linkhealth resource` counted as "the last 3 checks" not sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode
from sqlalchemy import Engine

from catalog import store
from catalog.decisions import history_lines
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import HISTORY_PER_RESOURCE
from reports.context import resource_page_path
from reports.publish import publish_report_files
from tests.factories import (
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
)
from tests.test_u4_held_rotation import held_at

HEALTH = HealthSettings()
BACK = "https://agency.example/back"  # held, then asked again
STILL = "https://agency.example/still"  # held since its check
KIT = make_catalog("toolkit", [make_resource("back", BACK), make_resource("still", STILL)])


def night(engine: Engine, n: float, obs: list[Observation]) -> None:
    run = store.start_run(engine, trigger="schedule", now=days(n))
    store.record_observations(engine, run, obs, HEALTH, now=days(n))
    store.finish_run(engine, run, status="completed", now=days(n + 0.01))


def nights(engine: Engine, n: int, count: int, tried: Callable[[int], Observation]) -> int:
    """`count` nights from night `n`, each storing `tried(night)`; the night after them."""
    for _ in range(count):
        night(engine, n, [tried(n)])
        n += 1
    return n


def checked(url: str) -> Callable[[int], Observation]:
    """A working check of `url` on the night given."""
    return lambda n: make_observation(url, checked_at=days(n))


def network_down(url: str) -> Callable[[int], Observation]:
    """A try of `url` that found our network down on the night given."""
    return lambda n: make_observation(url, Outcome.NETWORK_UNAVAILABLE, days(n))


@dataclass(frozen=True)
class Page:
    """What a resource page shows: its facts, and its history's check rows (what, HTTP)."""

    facts: dict[str, str]
    checks: list[tuple[str, str]]
    older: str | None


def cells(row: LexborNode) -> tuple[LexborNode, LexborNode]:
    """A history row's "What" and "HTTP" cells."""
    what, http = row.css_first('td[data-label="What"]'), row.css_first('td[data-label="HTTP"]')
    assert what is not None and http is not None
    return what, http


def page(engine: Engine, out: Path, rid: str, at: float) -> Page:
    files = publish_report_files(
        settings_for(engine), formats=("html",), out_dir=out, clock=Ticker(days(at))
    )
    html = (files.main.parent / resource_page_path("toolkit", rid)).read_text(encoding="utf-8")
    tree = LexborHTMLParser(html)
    terms = [dt.text() for dt in tree.css("#facts dt")]
    values = [dd.text() for dd in tree.css("#facts dd")]
    rows = tree.css('#history tr[data-kind="check"]')
    checks = [(what.text(), http.text()) for what, http in map(cells, rows)]
    older = tree.css_first("#history-older")
    return Page(dict(zip(terms, values, strict=True)), checks, older.text() if older else None)


def test_held_nights_then_a_check_read_alike_on_the_page_and_in_the_terminal(
    tmp_path: Path,
) -> None:
    """Checked, held three nights, asked again: the page's history lists the three as not
    sent, with no HTTP status of the link's, so its check rows are the two "Working since"
    counts; `linkhealth resource` lists them so too."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        night(engine, 0, [make_observation(u, checked_at=days(0)) for u in (BACK, STILL)])
        for n in (1, 2, 3):
            night(engine, n, [held_at(BACK, n), held_at(STILL, n)])
        night(engine, 4, [make_observation(BACK, checked_at=days(4)), held_at(STILL, 4)])
        shown = page(engine, tmp_path / "r", "back", 4.1)
        lines = history_lines(store.resource_history(engine, "back"), now=days(4.1))
    assert shown.checks == [("OK", "200"), *[("Not sent", "")] * 3, ("OK", "200")], shown.checks
    assert shown.facts["Working since"].endswith(", 2 checks"), shown.facts
    assert [what for what, _ in shown.checks].count("OK") == 2
    assert shown.facts["Last checked"] == f"{days(4):%Y-%m-%d %H:%M} UTC", shown.facts
    listed = lines[lines.index("Observations (newest first)") + 1 :]
    for n in (1, 2, 3):
        line = next(li for li in listed if li.startswith(f"  {days(n):%Y-%m-%d %H:%M}"))
        assert line.split()[2:5] == ["not", "sent", "-"], line
    assert "  OK (last checked 2025-03-05 02:00)" in lines, lines
    assert not any(li.startswith("  not sent:") for li in lines), lines


def test_a_link_held_since_its_check_says_so_beside_last_checked(tmp_path: Path) -> None:
    """Held the three nights since its check: the page's "Last checked" (its check's date)
    says the tries since were not sent, as many as `linkhealth resource` says, both as
    tries: neither is one of the "1 check" beside them."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        night(engine, 0, [make_observation(u, checked_at=days(0)) for u in (BACK, STILL)])
        for n in (1, 2, 3):
            night(engine, n, [make_observation(BACK, checked_at=days(n)), held_at(STILL, n)])
        shown = page(engine, tmp_path / "r", "still", 3.1)
        lines = history_lines(store.resource_history(engine, "still"), now=days(3.1))
    assert shown.facts["Last checked"] == (
        f"{days(0):%Y-%m-%d %H:%M} UTC; the last 3 tries were not sent: its host said it was away"
    ), shown.facts
    assert shown.facts["Working since"].endswith(", 1 check"), shown.facts
    assert (
        f"  not sent:  the last 3 tries, since {days(1):%Y-%m-%d %H:%M}: its host said it was"
        " away; the state is its last check's"
    ) in lines, lines


def test_a_capped_history_counts_its_checks_apart_from_the_tries_not_sent(
    tmp_path: Path,
) -> None:
    """More rows than a page shows: its note said "the newest 30 checks" of 30 rows of which
    25 were tries not sent, beside "Working since ..., 5 checks" for the same nights."""
    held = 25
    working = HISTORY_PER_RESOURCE - held
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        n = nights(engine, 0, 10, checked(BACK))  # older checks, beyond the page
        n = nights(engine, n, held, lambda n: held_at(BACK, n))
        n = nights(engine, n, working, checked(BACK))
        shown = page(engine, tmp_path / "r", "back", n)
    assert len(shown.checks) == HISTORY_PER_RESOURCE
    assert shown.older is not None
    assert shown.older.startswith(
        f"The newest {working} checks (and {held} tries not sent: their host said it was away)"
    ), shown.older


def test_a_capped_history_counts_no_night_our_network_was_down_among_its_checks(
    tmp_path: Path,
) -> None:
    """A night our network was down is no check of the link (`health.is_check`), as the
    page's "Working since ..., N checks" leaves it out; the note under a capped history
    counted it among "the newest N checks" all the same."""
    down, held = 3, 1
    working = HISTORY_PER_RESOURCE - down - held
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        n = nights(engine, 0, 5, checked(BACK))  # older checks, beyond the page
        n = nights(engine, n, held, lambda n: held_at(BACK, n))
        n = nights(engine, n, down, network_down(BACK))
        n = nights(engine, n, working, checked(BACK))
        shown = page(engine, tmp_path / "r", "back", n)
    assert len(shown.checks) == HISTORY_PER_RESOURCE
    assert shown.older is not None
    assert shown.older.startswith(
        f"The newest {working} checks (and 1 try not sent: its host said it was away;"
        f" {down} tries while our network was down) and the changes"
    ), shown.older
    # The same checks the page's facts count (those since the link's last change).
    assert shown.facts["Working since"].endswith(f", {working + 5} checks"), shown.facts


@pytest.mark.parametrize(
    ("offline", "said"),
    [
        (0, "The newest 30 tries, none of them a check (all not sent: their host said it was"),
        (4, "The newest 30 tries, none of them a check (26 not sent: their host said it was"),
        (29, "The newest 30 tries, none of them a check (1 not sent: its host said it was away;"),
    ],
)
def test_a_capped_history_without_a_check_among_its_rows_says_so(
    tmp_path: Path, offline: int, said: str
) -> None:
    """A link on a held host with many links is asked two a night, so its page may show 30
    tries not sent and no check: the note read "The newest 0 checks (and 30 tries not sent
    ...)" above them."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        n = nights(engine, 0, 5, checked(BACK))  # older checks, beyond the page
        n = nights(engine, n, HISTORY_PER_RESOURCE - offline, lambda n: held_at(BACK, n))
        n = nights(engine, n, offline, network_down(BACK))
        shown = page(engine, tmp_path / "r", "back", n)
    assert shown.older is not None
    assert shown.older.startswith(said), shown.older
    assert "0 checks" not in shown.older, shown.older
    if offline:
        assert f"; {offline} while our network was down) and the changes" in shown.older
