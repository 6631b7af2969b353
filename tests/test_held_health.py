"""A request held because its host said it is away (`Observation.held`) is stored but is
no check of its link: pages never asked keep their health, night after night.

Review r4: two paths of a host answering GET 503 with Retry-After one day made the host
away each night; its other pages, never requested, were counted as 503 nights and
"Confirmed broken" after `unavailable_days` ("It failed at every check since ... (12
checks)"), to fix in the headline. The two paths asked keep their own treatment.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy import func, select

from catalog import problem_checks, store
from catalog import tables as t
from catalog.check import check_targets
from catalog.health import BROKEN, OK
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.build import build_context
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    public_resolver,
    temporary_database,
)
from tests.test_maintenance_host import PAGE, SETTINGS, run_virtual

HOST = "https://agency.example"
DOWN = (f"{HOST}/status-api", f"{HOST}/search")  # 503, Retry-After: one day
PAGES = [f"{HOST}/guide{i}" for i in range(3)]
HEALTH = HealthSettings()
NIGHTS = 12


def web_for(night: int) -> httpx.MockTransport:
    """Night 0 every page is served; from night 1 the two paths answer 503 for a day."""

    async def web(request: httpx.Request) -> httpx.Response:
        if night > 0 and str(request.url) in DOWN:
            return httpx.Response(503, text="Unavailable", headers={"Retry-After": "86400"})
        return httpx.Response(200, html=PAGE)

    return httpx.MockTransport(web)


def test_pages_held_for_nights_keep_their_health_and_the_asked_paths_progress(
    tmp_path: Path,
) -> None:
    kit = make_catalog(
        "toolkit",
        [
            *(make_resource(f"down{i}", u) for i, u in enumerate(DOWN)),
            *(make_resource(f"page{i}", u) for i, u in enumerate(PAGES)),
        ],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(NIGHTS + 1):
            at = days(n)
            targets = store.targets_for_check(engine, now=at, fingerprint_max_age_days=7)
            targets.sort(key=lambda target: target.url not in DOWN)  # the two paths first
            obs = run_virtual(
                check_targets(
                    targets,
                    SETTINGS,
                    transport=web_for(n),
                    resolver=public_resolver,
                    clock=lambda: at,  # noqa: B023 (run at once)
                )
            )
            assert sum(o.held for o in obs) == (len(PAGES) if n else 0)
            run_id = store.start_run(engine, trigger="schedule", now=at)
            store.record_observations(engine, run_id, obs, HEALTH, now=at)
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
        states = {s.url: s for s in store.link_states(engine)}
        with engine.connect() as conn:
            stored_held = conn.scalar(
                select(func.count()).select_from(t.Observation).where(t.Observation.held)
            )
            page_links = [states[u].id for u in PAGES]
            page_events = conn.scalars(
                select(t.Event.kind).where(t.Event.link_id.in_(page_links), t.Event.at > days(0))
            ).all()
        ctx = build_context(report_data(engine), now=days(NIGHTS + 0.02))

    # Stored, as the night's record: the host's answer, marked held.
    assert stored_held == 3 * NIGHTS
    for url in PAGES:
        page = states[url]
        assert (page.state, page.outcome) == (OK, Outcome.OK), page
        assert page.consecutive_failures == 0 and page.first_failure_at is None
        assert page.unavailable_nights == () and page.flips == () and not page.flapping
        assert page.last_checked_at == days(0), "the last check that asked the page"
        assert page.reason is not None and "not sent: host unavailable" in page.reason
    assert page_events == [], "no Watched, no Started failing, no flip"
    for url in DOWN:  # asked every night: their own 503 nights count as ever
        assert states[url].state == BROKEN
        assert len(states[url].unavailable_nights) == NIGHTS
    rows = {r.resource_id: r for r in ctx.resources}
    assert {rows[f"page{i}"].state for i in range(3)} == {OK}
    assert all(rows[f"page{i}"].priority is None for i in range(3))
    assert ctx.headline.startswith("5 resources: 2 to fix,"), ctx.headline


def test_a_failing_link_held_keeps_its_state_and_its_count_of_checks(tmp_path: Path) -> None:
    """A 404 for three nights, then held for five: still suspect-or-broken as the 404s
    left it, with three checks (kept count and recount alike), no event for the held
    nights, and its reason says the last check was not sent; only its count of tries not
    sent since (`held_tries`) moved."""
    url = f"{HOST}/gone"
    kit = make_catalog("toolkit", [make_resource("gone", url)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(8):
            if n < 3:
                obs = make_observation(url, Outcome.NOT_FOUND, checked_at=days(n))
            else:
                obs = make_observation(
                    url,
                    Outcome.RATE_LIMITED,
                    checked_at=days(n),
                    http_status=503,
                    reason="HEAD not sent: host unavailable: it answered 503 to ...",
                    held=True,
                )
            store.record_observations(engine, None, [obs], HEALTH, now=days(n))
            if n == 2:
                before = store.link_states(engine)[0]
        after = store.link_states(engine)[0]
        with engine.connect() as conn:
            kept = problem_checks.checks_since(conn, [after.id])
            counted = problem_checks.recount(conn, [after.id])
            events = conn.scalars(select(t.Event.kind).where(t.Event.at > days(2))).all()
    assert replace(after, reason=None, held_tries=0) == replace(before, reason=None)
    assert (before.held_tries, after.held_tries) == (0, 5)
    assert after.outcome is Outcome.NOT_FOUND and after.last_checked_at == days(2)
    assert after.reason is not None and after.reason.startswith("HEAD not sent: host")
    assert kept == counted == {after.id: 3}
    assert events == []
