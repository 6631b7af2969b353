"""Every count a curator reads of "confirmed broken" and "page no longer matches its entry"
says the number of resources the report lists in that group of its action queue: the
run-summary artifact, the events the webhook posts, the Drift line of `linkhealth check`.

A checker that says two numbers about the same run is one curators stop trusting: the raw
link state `broken` is not the group (a soft 404 has a group of its own, an invalid URL
stored as suspect by an earlier version is confirmed broken, a drifted page that broke since
is broken, and snoozed or ignored resources are left out of the queue).
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from catalog import store
from catalog.db import session_scope
from catalog.health import STATES
from catalog.model import pack_text
from catalog.ops import (
    EVENT_BROKEN_INCREASED,
    EVENT_DRIFT_INCREASED,
    Tally,
    notices,
    run_mark,
    run_tally,
    summary_markdown,
    tally,
)
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.runs import RunSummary
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Collection, Link, Observation, Resource, Run
from reports import build_context
from tests import report_fixtures as fx
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)
from tests.test_health_over_time import CASINO_TEXT, GUIDE_TEXT, GUIDE_TITLE

#: Drift found on the page before it broke (the flag stays while the link fails).
PARKED = "the domain is parked"


def _group_sizes(engine: Engine) -> dict[str, int]:
    ctx = build_context(report_data(engine), now=fx.NOW)
    return {g.key: len(g.rows) for g in ctx.groups}


def _every_case_db(path: Path) -> Engine:
    """`fx.fixed_db` plus each way the raw state and the report's groups part."""
    engine = fx.fixed_db(path)
    with session_scope(engine) as s:
        by_rid = {r.rid: r for r in s.scalars(select(Resource))}
        coll = s.scalars(select(Collection).where(Collection.key == "toolkit-b")).one()

        def link_of(rid: str) -> Link:
            return s.get_one(Link, by_rid[rid].link_id)

        # An invalid URL stored as suspect by an earlier version (the report: broken).
        link_of("b-invalid").state = "suspect"
        # A working page that no longer holds its resource.
        link_of("a-ok-2").drift_reason = "the page is now a casino"
        # A drifted page that broke since: confirmed broken, not drift.
        link_of("a-broken").drift_reason = PARKED

        def broken(url: str, **flags: object) -> Link:
            row = Link(
                url=url,
                host=url.split("/")[2],
                outcome=Outcome.NOT_FOUND.value,
                state="broken",
                http_status=404,
                consecutive_failures=3,
                first_failure_at=fx.days_ago(5),
                last_checked_at=fx.days_ago(0.09),
                **flags,
            )
            s.add(row)
            s.flush()
            return row

        def resource(rid: str, link: Link, **kw: object) -> None:
            s.add(
                Resource(
                    collection_id=coll.id,
                    rid=rid,
                    title=f"Title of {rid}",
                    url=link.url,
                    link_id=link.id,
                    created_at=fx.days_ago(30),
                    updated_at=fx.days_ago(30),
                    **kw,
                )
            )

        # Snoozed and ignored broken resources: left out of the queue.
        resource(
            "b-snoozed",
            broken("https://snoozed.example.org/"),
            snoozed_until=fx.NOW + timedelta(days=7),
            snooze_reason="the site says it is back next week",
        )
        resource("b-ignored", broken("https://ignored.example.org/"), ignored_reason="archived")
        casino = Link(
            url="https://casino.example.org/",
            host="casino.example.org",
            outcome=Outcome.OK.value,
            state="ok",
            http_status=200,
            last_checked_at=fx.days_ago(0.09),
            drift_reason="a casino",
        )
        s.add(casino)
        s.flush()
        resource("b-drift-ignored", casino, ignored_reason="we know")
        # A snooze that has ended: queued again.
        resource(
            "b-snooze-over",
            broken("https://snooze-over.example.org/"),
            snoozed_until=fx.NOW - timedelta(days=1),
            snooze_reason="was back last week",
        )
        # One broken URL two entries use: two resources in the group.
        shared = broken("https://shared-gone.example.org/")
        resource("b-shared-1", shared)
        resource("b-shared-2", shared)
    return engine


def test_the_tally_counts_the_resources_of_the_report_groups(tmp_path: Path) -> None:
    engine = _every_case_db(tmp_path / "cases.db")
    groups = _group_sizes(engine)
    # a-broken, b-invalid (stored suspect), b-snooze-over, b-shared-1, b-shared-2.
    assert groups["broken"] == 5
    assert groups["drift"] == 1  # a-ok-2; not a-broken, not the ignored one
    assert groups["soft_404"] == 1
    assert tally(engine, now=fx.NOW) == Tally(broken=groups["broken"], drift=groups["drift"])


def test_the_summary_artifact_and_events_say_the_report_groups(tmp_path: Path) -> None:
    engine = _every_case_db(tmp_path / "said.db")
    groups = _group_sizes(engine)
    after = tally(engine, now=fx.NOW)
    text = summary_markdown(["Run 7 completed."], Tally(), after)
    broken_row = next(line for line in text.splitlines() if "confirmed broken" in line)
    drift_row = next(line for line in text.splitlines() if "no longer match" in line)
    assert broken_row.split("|")[2:4] == [" 0 ", f" {groups['broken']} "]
    assert drift_row.split("|")[2:4] == [" 0 ", f" {groups['drift']} "]
    # The label says what it counts: resources, as the report lists them.
    assert "resources" in broken_row.split("|")[1]
    assert "snoozed" in text and "ignored" in text
    sent = {n.event: n.payload for n in notices(Tally(), after, network_unavailable=False)}
    assert sent[EVENT_BROKEN_INCREASED]["current"] == groups["broken"]
    assert sent[EVENT_DRIFT_INCREASED]["current"] == groups["drift"]


def test_the_run_summary_drift_line_counts_the_report_drift_group(tmp_path: Path) -> None:
    engine = _every_case_db(tmp_path / "run.db")
    with session_scope(engine) as s:  # a run that checked every active link
        run = Run(trigger="manual", started_at=fx.days_ago(0.05), status="running")
        s.add(run)
        s.flush()
        run_id = run.id
        active = select(Resource.link_id).where(
            Resource.removed_at.is_(None), Resource.link_id.is_not(None)
        )
        for link in s.scalars(select(Link).where(Link.id.in_(active))):
            s.add(
                Observation(
                    run_id=run_id,
                    link_id=link.id,
                    url=link.url,
                    checked_at=fx.days_ago(0.05),
                    outcome=link.outcome or Outcome.OK.value,
                    reason="checked",
                )
            )
    groups = _group_sizes(engine)
    drifted = store.drifted_in_run(engine, run_id, now=fx.NOW)
    assert drifted == groups["drift"] == 1
    summary = RunSummary(
        run_id=run_id,
        status="completed",
        trigger="manual",
        started_at=fx.days_ago(0.05),
        finished_at=fx.days_ago(0.04),
        urls_checked=12,
        counts={"ok": 12},
        network_unavailable=False,
        drifted=drifted,
    )
    (line,) = [ln for ln in summary.lines() if ln.startswith("Drift:")]
    assert line.startswith("Drift: 1 resource whose page no longer matches its entry")


def test_every_outcome_and_state_is_counted_where_the_report_files_it(tmp_path: Path) -> None:
    """One resource per (outcome, state, drift flag, ignored / snoozed / snooze over): the
    SQL count and the report's grouping are one rule, whatever an earlier version left."""
    with temporary_database(tmp_path) as engine:
        with session_scope(engine) as s:
            coll = Collection(key="k", path="k.yaml", title="K")
            s.add(coll)
            s.flush()
            outcomes = [*Outcome, None]
            asides: list[dict[str, Any]] = [
                {},
                {"ignored_reason": "set aside"},
                {"snoozed_until": fx.NOW + timedelta(days=1), "snooze_reason": "a week"},
                {"snoozed_until": fx.NOW - timedelta(days=1), "snooze_reason": "over"},
            ]
            cases = itertools.product(outcomes, STATES, (None, "drifted"), asides)
            for n, (outcome, state, drift, aside) in enumerate(cases):
                link = Link(
                    url=f"https://e{n}.example.org/",
                    host=f"e{n}.example.org",
                    outcome=outcome.value if outcome else None,
                    state=state,
                    last_checked_at=fx.days_ago(1) if outcome else None,
                    drift_reason=drift,
                )
                s.add(link)
                s.flush()
                s.add(
                    Resource(
                        collection_id=coll.id,
                        rid=f"r{n}",
                        title=f"T{n}",
                        url=link.url,
                        link_id=link.id,
                        created_at=fx.days_ago(30),
                        updated_at=fx.days_ago(30),
                        **aside,
                    )
                )
        groups = _group_sizes(engine)
        assert groups["broken"] and groups["drift"]
        assert tally(engine, now=fx.NOW) == Tally(groups["broken"], groups["drift"])


def test_a_runs_before_and_after_differ_only_by_the_links_it_saw_change(tmp_path: Path) -> None:
    """The run of night 3 confirms one break, mends another, sees a soft 404 answer 404
    (into "Confirmed broken"), one page drift and another match again. Meanwhile a snooze
    ends, an entry is ignored and another removed: both counts take the entries as the run
    leaves them, so only the links move them, and `after` is the report's groups."""
    ids = ("breaks", "mends", "now-404", "drifts", "undrifts", "snoozed", "ignored", "removed")
    entries = [make_resource(i, f"https://{i}.example/", title=GUIDE_TITLE) for i in ids]
    guide, casino = (GUIDE_TITLE, GUIDE_TEXT), ("Best Online Casino", CASINO_TEXT)

    def night(n: int) -> list[Any]:
        def page(rid: str, title: str, text: str) -> Any:
            at = days(n)
            return make_observation(
                f"https://{rid}.example/",
                checked_at=at,
                title=title,
                text_sample_packed=pack_text(text),
            )

        def check(rid: str, outcome: Outcome) -> Any:
            return make_observation(f"https://{rid}.example/", outcome, days(n))

        down, soft = Outcome.NOT_FOUND, Outcome.SOFT_404
        return [
            check("breaks", down if n >= 1 else Outcome.OK),
            check("mends", down if n < 3 else Outcome.OK),
            check("now-404", soft if n < 3 else down),
            page("drifts", *(casino if n == 3 else guide)),
            page("undrifts", *(casino if n == 2 else guide)),
            *(check(rid, down) for rid in ("snoozed", "ignored", "removed")),
        ]

    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog("toolkit", entries)], now=days(0))
        snoozed = store.find_resource(engine, "snoozed")
        until = days(3.005)  # ends while night 3 runs
        store.record_decision(
            engine,
            snoozed.id,
            "snooze",
            by="curator",
            at=days(0),
            details={"until": until.isoformat()},
            resource_changes={"snoozed_until": until, "snooze_reason": "asked"},
        )
        mark = 0
        for n in range(4):
            if n == 3:
                mark = run_mark(engine)
            run_id = store.start_run(engine, trigger="schedule", now=days(n))
            store.record_observations(engine, run_id, night(n), HealthSettings(), now=days(n))
            if n == 3:  # a curator meanwhile
                ignored = store.find_resource(engine, "ignored")
                store.record_decision(
                    engine,
                    ignored.id,
                    "ignore",
                    by="curator",
                    at=days(3.005),
                    reason="archived",
                    resource_changes={"ignored_at": days(3.005), "ignored_reason": "archived"},
                )
                kept = [e for e in entries if e.id != "removed"]
                sync_catalogs(engine, [make_catalog("toolkit", kept)], now=days(3.005))
            store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
        end = days(3.01)
        before, after = run_tally(engine, run_id, mark=mark, now=end)
        listed = _group_ids_at(engine, end)
        assert after == tally(engine, now=end)
    assert listed["broken"] == ["breaks", "now-404", "snoozed"] and listed["drift"] == ["drifts"]
    assert after == Tally(broken=3, drift=1)
    # Before the run: mends and snoozed broken, undrifts drifted.
    assert before == Tally(broken=2, drift=1)
    sent = notices(before, after, network_unavailable=False)
    assert [(n.event, n.payload) for n in sent] == [
        (EVENT_BROKEN_INCREASED, {"previous": 2, "current": 3, "delta": 1})
    ]


def _group_ids_at(engine: Engine, now: Any) -> dict[str, list[str]]:
    ctx = build_context(report_data(engine), now=now)
    return {g.key: sorted(r.resource_id for r in g.rows) for g in ctx.groups}
