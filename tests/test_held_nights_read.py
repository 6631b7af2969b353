"""Held nights (a link's try not sent, its host away: `Observation.held`) as the curator
reads them: never a night the site answered this link 503 "unavailable".

A held try is stored with its host's answer to other URLs (rate limited, 503). The report's
count of a flapping link's 503 nights (`ResourceRow.unavailable_nights`) read
those rows as the link's own: a link flapping between 200 and 500 whose host was in
maintenance one night was "unavailable (503, maintenance) on 1 of the last 14 nights, and
worked on the others" in its row, its fix, its "Started flapping" news and `linkhealth
resource`'s report words, where its failures were 500s and that night sent it nothing.

A rekey's merge of two keys counts their held tries again from the rows (`catalog.rekey`),
not the larger of the two counts: a guard of that choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine

from catalog import store
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.queries import ResourceRow, report_data, resource_row
from catalog.rekey import rekey_links
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context, resource_report_row
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    unavailable_observation,
)
from tests.test_held_history_pages import checked, night
from tests.test_held_tries_kept import KIT as HELD_KIT
from tests.test_held_tries_kept import URLS, count_held, kept, told
from tests.test_u4_held_rotation import held_at

URL = "https://agency.example/guide"
KIT = make_catalog("toolkit", [make_resource("guide", URL)])
HEALTH = HealthSettings(archive_lookups=False)
#: What a night does to a URL: checked, held, ... (`tests.test_held_history_pages.nights`).
Tried = Callable[[str], Callable[[int], Observation]]


def failed(url: str) -> Callable[[int], Observation]:
    """A check of `url` the site answered 500 on the night given."""
    return lambda n: make_observation(url, Outcome.HTTP_ERROR, days(n), http_status=500)


def held(url: str) -> Callable[[int], Observation]:
    """A try of `url` not sent on the night given: its host answered 503 to others."""
    return lambda n: held_at(url, n)


def asked_503(url: str) -> Callable[[int], Observation]:
    """A check of `url` the site itself answered 503 "come back later" on the night given."""
    return lambda n: unavailable_observation(url, days(n))


def _read(tmp_path: Path, plan: Sequence[Tried]) -> tuple[ResourceRow, str | None, list[str]]:
    """The link tried night by night as `plan` says: its report row (as `linkhealth
    resource` reads it too), that row's fix, and the news of the last night."""
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        for n, tried in enumerate(plan):
            night(engine, n, [tried(URL)(n)])
        now = days(len(plan) - 1 + 0.02)
        ctx = build_context(report_data(engine), now=now)
        found = _row(engine)
    fix = resource_report_row(found, now=now).fix
    assert ctx.changes is not None
    news = [i.summary for s in ctx.changes.sections for i in s.items]
    (row,) = ctx.resources
    assert row.fix == fix  # the report and `linkhealth resource` say one thing
    return found, fix, news


def _row(engine: Engine) -> ResourceRow:
    (link,) = store.link_states(engine)
    history = store.resource_history(engine, "guide")
    found = resource_row(engine, history.resource.id)
    assert found is not None and found.flapping == link.flapping
    return found


def test_a_held_night_is_no_503_night_of_a_link_flapping_on_500s(tmp_path: Path) -> None:
    """OK, 500, OK, held (its host in maintenance), 500, OK: flapping on its own 500s. Its
    words are a flapping link's, as without the held night; no 503 night is counted."""
    plan: list[Tried] = [checked, failed, checked, held, failed, checked]
    found, fix, news = _read(tmp_path, plan)
    assert found.flapping
    assert found.unavailable_nights == 0, found
    assert fix is not None and fix.startswith("It is flapping"), fix
    assert not any("503" in said for said in news), news
    switching = "Keeps switching between working and failing"
    assert any(said.startswith(switching) for said in news), news


def test_held_nights_of_a_link_that_worked_are_no_flapping(tmp_path: Path) -> None:
    """OK, OK, held, OK, held: its host's maintenance nights sent it nothing; it worked at
    every check, so it is no flapping link and has nothing to fix, while a link that failed
    on the nights it was asked (OK, 500, OK, 500, OK) is flapping."""
    found, fix, news = _read(tmp_path / "held", [checked, checked, held, checked, held])
    assert not found.flapping and found.unavailable_nights == 0, found
    assert fix is None, fix
    assert not any("switching" in said or "503" in said for said in news), news
    flapping, _, _ = _read(tmp_path / "real", [checked, failed, checked, failed, checked])
    assert flapping.flapping


def test_asked_503_nights_still_count_beside_held_ones(tmp_path: Path) -> None:
    """A link its site answered 503 itself on five nights (flapping by them: from the
    fourth they fail as flips) and that was held on two more: its words count the five
    nights the link was asked, not seven."""
    plan: list[Tried] = [checked, asked_503, checked, held, asked_503, checked, asked_503]
    plan += [checked, asked_503, checked, asked_503, held, checked]
    found, fix, _ = _read(tmp_path, plan)
    assert found.flapping
    assert found.unavailable_nights == 5, found
    assert fix is not None and "on 5 of the last 14 nights" in fix, fix


def test_a_rekey_counts_the_tries_not_sent_since_the_merged_links_last_check(
    tmp_path: Path,
) -> None:
    """Two keys of one address merged (`catalog.rekey`), their last checks on different
    nights: the merged link's `held_tries` are the tries since its newest check, the rows
    `linkhealth resource` lists (two a night: one per key). The larger of the two links'
    own counts (3) would count the tries from before that check, and agree with no page.

    `other`: checked night 0, held nights 1 to 3; `one`: held night 1, checked night 2,
    held night 3. Since night 2's check: night 3's two tries."""
    one, other = URLS["a"], URLS["b"]
    plan = {other: [checked, held, held, held], one: [checked, held, checked, held]}
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [HELD_KIT], now=days(0))
        for n in range(4):
            for url, at in ((other, n), (one, n + 0.5)):
                tried = plan[url][n](url)(0)  # of night 0, stamped `at` below
                tried = replace(tried, checked_at=days(at))
                store.record_observations(engine, None, [tried], HEALTH, now=days(at))
        assert kept(engine)[one] == 1 and kept(engine)[other] == 3
        with engine.begin() as conn:
            rekey_links(conn, canonical=lambda url: one, host=lambda url: "agency.example")
        assert kept(engine) == count_held(engine) == {one: 2}
        assert told(engine, days(4))["a"] == (2, 2, 2)
