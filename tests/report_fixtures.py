"""A fixed database for the report tests, built from `catalog.tables` rows directly.

Two collections, twelve active resources covering every attention group, one
removed resource on a broken link, a link shared by two resources, hostile
web-sourced text, spreadsheet-formula text and a `javascript:` URL. Runs 1 and 2
are finished, run 3 is still running, so "the latest finished run" is run 2; runs
4-6 finished long before (trends), run 6 outside the 90-day window. Observations
give history and response times; events between run 1 and run 2 fill "since the
last run", and one older event must stay out of it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine

from catalog.db import session_scope
from catalog.outcomes import Outcome
from catalog.queries import ReportData
from catalog.tables import Collection, Event, Link, Observation, Resource, Run
from reports.context import ReportContext, Row
from tests.factories import migrated_sqlite

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"
MOVED_TO = "https://new.example.org/reports/annual"
LATEST_FINISHED_RUN = 2

#: Active resources by latest outcome ("unchecked" for never checked).
EXPECTED_TOTALS = {
    "ok": 4,
    "not_found": 1,
    "soft_404": 1,
    "invalid_url": 1,
    "timeout": 1,
    "redirected_permanent": 1,
    "blocked": 1,
    "unchecked": 2,
}
#: Resource ids needing attention, in fix-first order.
EXPECTED_ATTENTION = ("a-broken", "b-invalid", "a-hostile", "a-moved", "b-blocked", "a-suspect")
#: The action-queue groups they fall in, in order.
EXPECTED_GROUPS = ("broken", "soft_404", "update", "look", "failing")
REMOVED_ID = "a-removed"
FORMULA_TITLE = '=HYPERLINK("https://evil.example/","click")'
FORMULA_PUBLISHER = "@evil"
#: Runs in the trend window (oldest first): 5, 4, 1, 2; run 6 is older than 90 days.
EXPECTED_TREND_RUNS = (5, 4, 1, 2)
#: "Since the last run" sections and the resource ids each lists.
EXPECTED_CHANGES = {
    "newly_broken": ["a-broken"],
    "started_failing": ["a-suspect"],
    "recovered": ["a-recovered"],
    "content_changed": ["a-ok-2"],
    "new_redirects": ["a-moved"],
    "catalog_edits": ["b-new", "a-ok-2", "b-blocked", "a-removed"],
}
#: Checks of a-broken's link, newest first (outcome, elapsed ms).
BROKEN_HISTORY = (("not_found", 40), ("not_found", 50), ("not_found", 60), ("not_found", 70))


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def empty_db(path: Path) -> Engine:
    return migrated_sqlite(path)


def never_checked_db(path: Path, entries: int = 1) -> Engine:
    """`entries` catalog entries synced into an empty database, none ever checked."""
    engine = empty_db(path)
    with session_scope(engine) as s:
        coll = Collection(key="k", path="k.yaml", title="K")
        s.add(coll)
        s.flush()
        for n in range(1, entries + 1):
            s.add(
                Resource(
                    collection_id=coll.id,
                    rid=f"r{n}",
                    title=f"T{n}",
                    url=f"https://e.org/{n}",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    return engine


def fixed_db(path: Path) -> Engine:
    engine = empty_db(path)
    with session_scope(engine) as s:
        a = Collection(key="toolkit-a", path="a.yaml", title="Anti-Trafficking Toolkit")
        b = Collection(key="toolkit-b", path="b.yaml", title="Second Toolkit")
        s.add_all([a, b])
        s.add_all(
            [
                Run(
                    trigger="schedule",
                    started_at=days_ago(2),
                    finished_at=days_ago(2) + timedelta(minutes=3),
                    status="completed",
                    urls_planned=11,
                    urls_checked=11,
                    counts={"ok": 6, "not_found": 2, "timeout": 1, "blocked": 1},
                    duration_s=180.0,
                ),
                Run(
                    trigger="schedule",
                    started_at=days_ago(0.1),
                    finished_at=days_ago(0.09),
                    status="completed",
                    urls_planned=11,
                    urls_checked=10,
                    counts={"ok": 4, "not_found": 1},
                    duration_s=200.0,
                ),
                Run(trigger="manual", started_at=days_ago(0.01), status="running"),
                _old_run(30, {"ok": 7, "not_found": 1, "blocked": 1}),
                _old_run(60, {"ok": 8, "redirected_permanent": 1}),
                _old_run(120, {"ok": 9}),
            ]
        )
        s.flush()

        def link(url: str, outcome: Outcome | None, state: str, **kw: Any) -> Link:
            row = Link(
                url=url,
                host=url.split("/")[2] if "://" in url else "",
                outcome=outcome.value if outcome else None,
                state=state,
                last_checked_at=days_ago(0.09) if outcome else None,
                reason=kw.pop("reason", outcome.label if outcome else None),
                **kw,
            )
            s.add(row)
            s.flush()
            return row

        def resource(coll: Collection, rid: str, ln: Link | None, **kw: Any) -> None:
            url = kw.pop("url", ln.url if ln else f"https://example.org/{rid}")
            s.add(
                Resource(
                    collection_id=coll.id,
                    rid=rid,
                    title=kw.pop("title", f"Title of {rid}"),
                    url=url,
                    link_id=ln.id if ln else None,
                    publisher=kw.pop("publisher", "Example Publisher"),
                    created_at=days_ago(30),
                    updated_at=days_ago(30),
                    **kw,
                )
            )

        shared_ok = link("https://ok.example.org/1", Outcome.OK, "ok", http_status=200)
        resource(a, "a-ok-1", shared_ok)
        resource(b, "b-ok-1", shared_ok)
        resource(a, "a-ok-2", link("https://ok.example.org/2", Outcome.OK, "ok"))
        resource(a, "a-recovered", link("https://ok.example.org/3", Outcome.OK, "recovered"))
        resource(
            a,
            "a-broken",
            link(
                "https://gone.example.org/old",
                Outcome.NOT_FOUND,
                "broken",
                http_status=404,
                consecutive_failures=4,
                first_failure_at=days_ago(9),
                last_change_at=days_ago(9),
            ),
        )
        resource(
            a,
            "a-hostile",
            link(
                "https://soft.example.org/page",
                Outcome.SOFT_404,
                "broken",
                http_status=200,
                title=HOSTILE,
                reason=f"page title says {HOSTILE} | `code`",
                consecutive_failures=3,
                first_failure_at=days_ago(3),
            ),
            title=f"Hostile {HOSTILE} | `tick`",
            publisher=HOSTILE,
        )
        resource(
            b,
            "b-invalid",
            link(
                "javascript:alert(1)",
                Outcome.INVALID_URL,
                "broken",
                consecutive_failures=1,
                first_failure_at=days_ago(2),
            ),
        )
        resource(
            a,
            "a-suspect",
            link(
                "https://slow.example.org/",
                Outcome.TIMEOUT,
                "suspect",
                consecutive_failures=1,
                first_failure_at=days_ago(1),
            ),
        )
        moved = link(
            "https://old.example.org/reports/annual",
            Outcome.REDIRECTED_PERMANENT,
            "ok",
            http_status=200,
            final_url=MOVED_TO,
            last_change_at=days_ago(5),
        )
        obs = Observation(
            run_id=LATEST_FINISHED_RUN,
            link_id=moved.id,
            url=moved.url,
            checked_at=days_ago(0.09),
            outcome=Outcome.REDIRECTED_PERMANENT.value,
            reason="301 to the new site",
            final_url=MOVED_TO,
            suggested_url=MOVED_TO,
        )
        s.add(obs)
        s.flush()
        moved.last_observation_id = obs.id
        resource(a, "a-moved", moved)
        resource(
            b,
            "b-blocked",
            link(
                "https://walled.example.org/",
                Outcome.BLOCKED,
                "check_by_hand",
                http_status=403,
                last_change_at=days_ago(4),
            ),
            title=FORMULA_TITLE,
            publisher=FORMULA_PUBLISHER,
        )
        resource(b, "b-new", link("https://new-entry.example.org/", None, "unchecked"))
        resource(b, "b-nolink", None)
        resource(
            a,
            REMOVED_ID,
            link(
                "https://removed.example.org/",
                Outcome.NOT_FOUND,
                "broken",
                consecutive_failures=5,
                first_failure_at=days_ago(20),
            ),
            removed_at=days_ago(1),
        )
        _history_and_events(s)
    return engine


def _old_run(days: float, counts: dict[str, int]) -> Run:
    return Run(
        trigger="schedule",
        started_at=days_ago(days),
        finished_at=days_ago(days) + timedelta(minutes=2),
        status="completed",
        urls_planned=9,
        urls_checked=9,
        counts=counts,
        duration_s=120.0,
    )


def _history_and_events(s: Any) -> None:
    from sqlalchemy import select

    links = {
        url: (lid, rid)
        for url, lid, rid in s.execute(
            select(Link.url, Link.id, Resource.id).join(Resource, Resource.link_id == Link.id)
        )
    }
    resources = {rid: pk for rid, pk in s.execute(select(Resource.rid, Resource.id))}

    def obs(url: str, days: float, outcome: str, elapsed: int, run: int | None = None) -> None:
        s.add(
            Observation(
                run_id=run,
                link_id=links[url][0],
                url=url,
                checked_at=days_ago(days),
                outcome=outcome,
                reason=f"{outcome} seen",
                http_status=404 if outcome == "not_found" else 200,
                elapsed_ms=elapsed,
            )
        )

    gone = "https://gone.example.org/old"
    obs(gone, 12, "ok", 30)
    for days, (outcome, elapsed) in zip((0.095, 3, 6, 9), BROKEN_HISTORY, strict=True):
        obs(gone, days, outcome, elapsed, run=LATEST_FINISHED_RUN if days < 1 else None)
    for url, elapsed in (("https://ok.example.org/1", 100), ("https://ok.example.org/2", 300)):
        obs(url, 0.095, "ok", elapsed, run=LATEST_FINISHED_RUN)
    s.flush()
    # The latest observation of each link carries the response time the tables show.
    for url in ("https://ok.example.org/1", "https://ok.example.org/2"):
        link = s.get(Link, links[url][0])
        link.last_observation_id = s.scalar(
            select(Observation.id)
            .where(Observation.link_id == link.id)
            .order_by(Observation.checked_at.desc())
            .limit(1)
        )

    at = days_ago(0.095)

    def event(
        kind: str,
        details: dict[str, Any],
        *,
        url: str | None = None,
        rid: str | None = None,
        when: Any = at,
    ) -> None:
        s.add(
            Event(
                at=when,
                kind=kind,
                run_id=None,
                link_id=links[url][0] if url else None,
                resource_id=resources[rid] if rid else None,
                details=details,
            )
        )

    event("state_changed", {"old": "suspect", "new": "broken", "consecutive_failures": 4}, url=gone)
    event("outcome_changed", {"old": "ok", "new": "not_found"}, url=gone, when=days_ago(9))
    event("state_changed", {"old": "suspect", "new": "recovered"}, url="https://ok.example.org/3")
    event(
        "state_changed",
        {"old": "ok", "new": "suspect", "consecutive_failures": 1},
        url="https://slow.example.org/",
    )
    ok2 = "https://ok.example.org/2"
    event(
        "content_changed",
        {
            "old": "f1",
            "new": "f2",
            "old_title": "Annual report",
            "new_title": HOSTILE,
            "old_content_length": 2048,
            "new_content_length": 1024,
        },
        url=ok2,
    )
    event("title_changed", {"old": "Annual report", "new": HOSTILE}, url=ok2)
    moved = "https://old.example.org/reports/annual"
    event("outcome_changed", {"old": "ok", "new": "redirected_permanent"}, url=moved)
    event("redirect_changed", {"old": None, "new": MOVED_TO}, url=moved)
    event(
        "added", {"id": "b-new", "url": "https://new-entry.example.org/", "title": "T"}, rid="b-new"
    )
    event(
        "fields_edited",
        {"id": "a-ok-2", "fields": ["title"], "old": {"title": "A"}, "new": {"title": "B"}},
        rid="a-ok-2",
    )
    event(
        "url_edited",
        {
            "id": "b-blocked",
            "fields": ["url"],
            "old": "https://walled.example.org/x",
            "new": "https://walled.example.org/",
        },
        rid="b-blocked",
    )
    event("removed", {"id": REMOVED_ID, "url": "https://removed.example.org/"}, rid=REMOVED_ID)
    # Before run 1 finished: history, not news.
    event(
        "state_changed",
        {"old": "ok", "new": "suspect", "consecutive_failures": 1},
        url="https://slow.example.org/",
        when=days_ago(3),
    )


def add_run(engine: Engine, *, network_unavailable: bool, status: str = "completed") -> int:
    """A run that finished at NOW (so it becomes the latest finished run)."""
    with session_scope(engine) as s:
        run = Run(
            trigger="schedule",
            started_at=NOW - timedelta(minutes=5),
            finished_at=NOW,
            status=status,
            urls_planned=11,
            urls_checked=0 if network_unavailable else 11,
            network_unavailable=network_unavailable,
        )
        s.add(run)
        s.flush()
        return run.id


#: When `tried_offline` has b-new's link last tried: three hours before NOW.
TRIED_OFFLINE_AT = NOW - timedelta(hours=3)
TRIED_OFFLINE_URL = "https://new-entry.example.org/"


def tried_offline(engine: Engine) -> datetime:
    """b-new's link as `catalog.health` leaves a link tried only while our own network was
    down: two `network_unavailable` observations, no outcome, still `unchecked`, but
    `last_checked_at` moved to the last try. Returns that time (`TRIED_OFFLINE_AT`)."""
    from sqlalchemy import select

    with session_scope(engine) as s:
        link = s.scalars(select(Link).where(Link.url == TRIED_OFFLINE_URL)).one()
        for at in (TRIED_OFFLINE_AT - timedelta(days=1), TRIED_OFFLINE_AT):
            s.add(
                Observation(
                    run_id=None,
                    link_id=link.id,
                    url=link.url,
                    checked_at=at,
                    outcome=Outcome.NETWORK_UNAVAILABLE.value,
                    reason="our network was unavailable",
                )
            )
        assert link.outcome is None and link.state == "unchecked"
        link.last_checked_at = TRIED_OFFLINE_AT
    return TRIED_OFFLINE_AT


def with_resource(data: ReportData, rid: str, **changes: Any) -> ReportData:
    """`data` with resource `rid`'s row changed: one state a report must show, without a
    database for each."""
    rows = tuple(
        dataclasses.replace(r, **changes) if r.resource_id == rid else r for r in data.resources
    )
    return dataclasses.replace(data, resources=rows)


def row_of(ctx: ReportContext, rid: str) -> Row:
    return next(r for r in ctx.resources if r.resource_id == rid)


def dead_links(page: Path) -> list[str]:
    """The local hrefs of the HTML file `page` that lead to no file beside it (a fragment
    alone: to no id of its own). Links to the web are not the report's to write."""
    tree = LexborHTMLParser(page.read_text(encoding="utf-8"))
    ids = {node.attributes.get("id") for node in tree.css("[id]")}
    dead = []
    for a in tree.css("[href]"):
        href = a.attributes.get("href") or ""
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            continue
        if not parts.path:
            if parts.fragment and parts.fragment not in ids:
                dead.append(href)
            continue
        if not (page.parent / unquote(parts.path)).is_file():
            dead.append(href)
    return dead
