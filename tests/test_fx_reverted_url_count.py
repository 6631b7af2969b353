"""The news of an entry confirmed broken on one of its first checks of an address that
had failed before it took it: its URL edited back to an address that failed twice while
it pointed there earlier, or edited to one another entry links.

The rule: a link's confirmation is its address's (`catalog.health` counts the URL's
failures in a row, `confirm_failures`, whoever points at it), but an entry that took the
address after its problem began counts its own checks of it alone, from when it took it
(`ResourceRow.own_checks`, `own_since`): the address's earlier checks were another
entry's, or this one's before it left the address. Its row stays "1 check" since it took
it; its news tells the address's count as the address's, with since when the address
fails, as "Now points at an address already confirmed broken (failing since ...)" does.
It said "Confirmed broken after 3 failed checks." beside a row of 1 check: a link
confirmed broken on its first check of this entry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.model import Catalog
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import ReportContext
from reports.render import render_markdown
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    stored_night,
    temporary_database,
    unavailable_observation,
)

V1, V2 = "https://shelter.example/v1", "https://shelter.example/v2"


def _kit(guide: str, *, keeper: bool) -> Catalog:
    entries = [make_resource("guide", guide, title="Shelter Standards")]
    if keeper:  # another entry linking the first address all along
        entries.append(make_resource("keeper", V1, title="Shelter Standards (copy)"))
    return make_catalog("toolkit", entries)


def late_503_report(tmp_path: Path, *, taken: int, last: int) -> ReportContext:
    """The keeper's address answers 503 "unavailable" from night 1 to night `last`; the
    guide, on the second address until then (working), is edited to it before night
    `taken`. The report just after night `last`."""
    health = HealthSettings()
    with temporary_database(tmp_path, "late.db") as db:
        sync_catalogs(db, [_kit(V2, keeper=True)], now=days(0))
        ok = [make_observation(V1, Outcome.OK, days(0)), make_observation(V2, Outcome.OK, days(0))]
        stored_night(db, 0, ok, health)
        for n in range(1, last + 1):
            if n == taken:
                sync_catalogs(db, [_kit(V1, keeper=True)], now=days(taken - 0.5))
            v2 = [make_observation(V2, Outcome.OK, days(n))] if n < taken else []
            stored_night(db, n, [unavailable_observation(V1, days(n), wait=7200), *v2], health)
        return build_context(report_data(db), now=days(last + 0.02))


def _after_taking_v1(tmp_path: Path, *, reverted: bool) -> tuple[dict[str, tuple], str]:
    """The first address fails nights 1 and 2 (not confirmed yet). `reverted`: `guide`
    pointed at it then, was edited to the second address (working nights 3 and 4) and
    back before night 5; else `keeper` links it, and `guide` is edited from the second
    address to it before night 5 (nights 3 and 4 skipped). Night 5 fails it a third time,
    confirming it. Per entry, (its row's checks, since, group key, its news); and the
    Markdown report."""
    health = HealthSettings()
    with temporary_database(tmp_path) as engine:

        def night(n: int, outcomes: dict[str, Outcome]) -> None:
            checks = [make_observation(url, outcome, days(n)) for url, outcome in outcomes.items()]
            stored_night(engine, n, checks, health)

        first = V1 if reverted else V2
        sync_catalogs(engine, [_kit(first, keeper=not reverted)], now=days(0))
        night(0, {V1: Outcome.OK, V2: Outcome.OK})
        for n in (1, 2):
            night(n, {V1: Outcome.NOT_FOUND} | ({} if reverted else {V2: Outcome.OK}))
        if reverted:
            sync_catalogs(engine, [_kit(V2, keeper=False)], now=days(2.5))  # replace-url
            for n in (3, 4):
                night(n, {V2: Outcome.OK})
        sync_catalogs(engine, [_kit(V1, keeper=not reverted)], now=days(4.5))
        night(5, {V1: Outcome.NOT_FOUND})
        ctx = build_context(report_data(engine), now=days(5.02))
    assert ctx.changes is not None
    news = {
        i.resource_id: i.summary
        for s in ctx.changes.sections
        if s.key == "newly_broken"
        for i in s.items
    }
    told = {
        r.resource_id: (r.checks, r.since.date if r.since else None, g.key, news.get(r.resource_id))
        for g in ctx.groups
        for r in g.rows
    }
    return told, render_markdown(ctx)


@pytest.mark.parametrize("reverted", [True, False], ids=["edited-back", "another-entrys"])
def test_confirmed_on_its_first_own_check_tells_the_address_s_count(
    tmp_path: Path, reverted: bool
) -> None:
    told, markdown = _after_taking_v1(tmp_path, reverted=reverted)

    words = (
        f"Confirmed broken after 3 failed checks of its address (failing since {days(1):%Y-%m-%d})."
    )
    assert told["guide"] == (1, f"{days(5):%Y-%m-%d}", "broken", words)
    assert f"- Shelter Standards (guide): {words}" in markdown
    assert "(guide): Confirmed broken after 3 failed checks." not in markdown


def test_the_entry_that_kept_the_address_keeps_its_words(tmp_path: Path) -> None:
    """Its three checks are its own: its row and its news say 3."""
    told, _ = _after_taking_v1(tmp_path, reverted=False)

    assert told["keeper"] == (
        3,
        f"{days(1):%Y-%m-%d}",
        "broken",
        "Confirmed broken after 3 failed checks.",
    )
