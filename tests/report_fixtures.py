"""A fixed database for the report tests, built from `catalog.tables` rows directly.

Two collections, twelve active resources covering every attention group, one
removed resource on a broken link, a link shared by two resources, hostile
web-sourced text and a `javascript:` URL. Runs 1 and 2 are finished, run 3 is
still running, so "the latest finished run" is run 2.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from catalog.db import open_engine, session_scope
from catalog.outcomes import Outcome
from catalog.tables import Collection, Link, Observation, Resource, Run

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
EXPECTED_ATTENTION = ("a-broken", "a-hostile", "b-invalid", "a-suspect", "a-moved", "b-blocked")
REMOVED_ID = "a-removed"


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def empty_db(path: Path) -> Engine:
    return open_engine(f"sqlite:///{path}")


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
    return engine


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
