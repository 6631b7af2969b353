"""Which runs the report shows as one, and which it trends.

A sharded night (`check-catalog-sharded`) is one run: its figures, its outage notice, its
changes and its place in the trend cover every shard, not the last one to finish. A
recheck of a few ids is a run of its own but no point of the trend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import Engine

from catalog import store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings, Settings
from catalog.sync import sync_catalogs
from reports import build_context, render_html, render_markdown
from reports.site import write_report
from tests.factories import days, make_catalog, make_observation, make_resource, temporary_database

URLS = [f"https://host{n}.example/page" for n in range(4)]
#: Shard 1/2 holds host0 and host1, shard 2/2 host2 and host3 (as far as the report cares).
SHARD_URLS = {"1/2": URLS[:2], "2/2": URLS[2:]}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    catalog = make_catalog(resources=[make_resource(f"r{n}", url) for n, url in enumerate(URLS)])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=days(0))
        yield engine


def plain_run(engine: Engine, at: datetime) -> int:
    run_id = store.start_run(engine, trigger="schedule", now=at)
    observations = [make_observation(url, checked_at=at) for url in URLS]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=at)
    store.finish_run(engine, run_id, status="completed", now=at + timedelta(minutes=5))
    return run_id


def sharded_night(
    engine: Engine,
    at: datetime,
    *,
    offline: str | None = None,
    broken: str | None = None,
    grouped: bool = True,
) -> list[int]:
    """Two shard runs, the second starting a minute after the first, recorded as
    `catalog.runs` records shards and grouped as the sharded flow groups them (unless its
    parent died first: `grouped`); `offline` names a shard whose machine had no network."""
    flow_runs = {part: f"flow-{at:%d}-{part}" for part in SHARD_URLS}
    ids = []
    for n, (part, urls) in enumerate(SHARD_URLS.items()):
        start = at + timedelta(minutes=n)
        summary = {"holder": f"box:{n} {flow_runs[part]}", "lease": f"full-run:{part}"}
        run_id = store.start_run(
            engine,
            trigger="schedule",
            now=start,
            flow_run_id=flow_runs[part],
            summary={**summary, "shard": part},
        )
        store.set_run_planned(engine, run_id, len(urls))
        outcome = Outcome.NETWORK_UNAVAILABLE if part == offline else Outcome.OK
        observations = [
            make_observation(url, Outcome.NOT_FOUND if url == broken else outcome, checked_at=start)
            for url in urls
        ]
        store.record_observations(engine, run_id, observations, HealthSettings(), now=start)
        store.finish_run(
            engine,
            run_id,
            status="completed",
            now=start + timedelta(minutes=5),
            network_unavailable=part == offline,
        )
        ids.append(run_id)
    if grouped:
        assert store.group_shard_runs(engine, list(flow_runs.values()), f"night-{at:%d}") == ids
    return ids


def test_the_report_of_a_sharded_night_counts_every_shard(engine: Engine) -> None:
    first = plain_run(engine, days(1))
    ids = sharded_night(engine, days(2), broken=URLS[0])

    data = report_data(engine)

    assert data.run is not None
    assert (data.run.id, data.run.run_ids) == (ids[-1], tuple(ids))
    assert (data.run.urls_checked, data.run.urls_planned) == (4, 4)
    assert dict(data.run.counts) == {"not_found": 1, "ok": 3}
    assert data.run.started_at == days(2)
    assert data.run.finished_at == days(2) + timedelta(minutes=6)
    assert data.previous_run is not None and data.previous_run.id == first
    # The link that broke in the first shard is among the night's changes.
    assert any(c.kind == "outcome_changed" and c.run_id == ids[0] for c in data.changes)
    markdown = render_markdown(build_context(data, now=days(3)))
    assert f"Run {ids[-1]} (shard runs {ids[0]}, {ids[1]})" in markdown
    assert "4 of 4 URLs checked" in markdown


def test_an_outage_of_one_shards_machine_shows_and_says_which_shard(engine: Engine) -> None:
    """Only the last shard used to count: an offline first shard went unmentioned."""
    plain_run(engine, days(1))
    ids = sharded_night(engine, days(2), offline="1/2")

    data = report_data(engine)
    assert data.network_unavailable
    page = LexborHTMLParser(render_html(build_context(data, now=days(3))))
    notice = page.css_first("#network-notice")
    assert notice is not None
    assert f"shard run {ids[0]} of run {ids[1]}" in notice.text()
    assert "that shard's links" in notice.text()


def test_a_sharded_night_is_one_point_of_the_trend_and_one_previous_run(engine: Engine) -> None:
    first_night = sharded_night(engine, days(1))
    second_night = sharded_night(engine, days(2))

    data = report_data(engine)

    assert [run.run_ids for run in data.trend_runs] == [tuple(first_night), tuple(second_night)]
    assert data.previous_run is not None
    assert data.previous_run.run_ids == tuple(first_night)
    assert data.previous_run.urls_checked == 4


def test_shards_whose_parent_died_before_grouping_them_are_no_trend_points(
    engine: Engine,
) -> None:
    """Each holds only its shard's lease: as parts of a night they would each draw the
    whole catalog's trend from half of it."""
    first = plain_run(engine, days(1))
    orphans = sharded_night(engine, days(2), grouped=False)
    data = report_data(engine)
    assert [run.run_ids for run in data.trend_runs] == [(first,)]
    assert data.run is not None and data.run.run_ids == (orphans[-1],)  # shown as it is
    assert not data.run.whole


def test_a_report_of_one_shard_run_by_id_shows_its_whole_night(engine: Engine) -> None:
    ids = sharded_night(engine, days(1))
    run = report_data(engine, run_id=ids[0]).run
    assert run is not None and run.run_ids == tuple(ids) and run.urls_checked == 4


def test_runs_not_grouped_stay_separate(engine: Engine) -> None:
    first = plain_run(engine, days(1))
    second = plain_run(engine, days(2))
    data = report_data(engine)
    assert data.run is not None and data.run.run_ids == (second,) and data.run.shards == ()
    assert [run.id for run in data.trend_runs] == [first, second]


def test_the_trend_leaves_rechecks_out(engine: Engine) -> None:
    """Two failing links rechecked would draw a collapse from 75 % OK to 0 %."""
    ids = []
    for day, summary, outcome in [
        (1, {"holder": "box:1 f1", "lease": "full-run"}, Outcome.OK),
        (2, {"holder": "box:1 f2"}, Outcome.NOT_FOUND),  # a recheck: no lease
        (3, {"holder": "box:1 f3", "lease": "full-run"}, Outcome.OK),
        (4, {}, Outcome.OK),  # from before runs recorded their holder: taken as whole
    ]:
        run_id = store.start_run(engine, trigger="manual", now=days(day), summary=summary)
        urls = URLS if summary.get("lease") or not summary else URLS[:1]
        observations = [make_observation(url, outcome, checked_at=days(day)) for url in urls]
        store.record_observations(engine, run_id, observations, HealthSettings(), now=days(day))
        store.finish_run(engine, run_id, status="completed", now=days(day) + timedelta(hours=1))
        ids.append(run_id)

    data = report_data(engine)

    assert [run.id for run in data.trend_runs] == [ids[0], ids[2], ids[3]]
    assert data.previous_run is not None and data.previous_run.id == ids[2]
    assert report_data(engine, run_id=ids[1]).run.whole is False  # type: ignore[union-attr]


def test_since_the_last_run_of_a_night_after_a_recheck_covers_the_recheck(
    engine: Engine,
) -> None:
    """A recheck between two nights (by hand, or the git hook's after a catalog edit) was
    "the last run": the night's report then listed changes since the recheck finished,
    and what the recheck found (here a link that broke) was in no night's report."""
    ids = []
    for day, summary, outcome in [
        (1, {"holder": "box:1 f1", "lease": "full-run"}, Outcome.OK),
        (2, {"holder": "box:1 f2"}, Outcome.NOT_FOUND),  # a recheck of r0: no lease
        (3, {"holder": "box:1 f3", "lease": "full-run"}, Outcome.NOT_FOUND),
    ]:
        run_id = store.start_run(engine, trigger="manual", now=days(day), summary=summary)
        urls = URLS if summary.get("lease") else URLS[:1]
        observations = [
            make_observation(url, outcome if url == URLS[0] else Outcome.OK, checked_at=days(day))
            for url in urls
        ]
        store.record_observations(engine, run_id, observations, HealthSettings(), now=days(day))
        store.finish_run(engine, run_id, status="completed", now=days(day) + timedelta(hours=1))
        ids.append(run_id)

    data = report_data(engine)

    assert data.previous_run is not None and data.previous_run.id == ids[0]
    assert any(c.kind == "outcome_changed" and c.run_id == ids[1] for c in data.changes)
    ctx = build_context(data, now=days(4))
    assert ctx.changes is not None and ctx.changes.previous_run_id == ids[0]
    assert "started_failing" in {s.key for s in ctx.changes.sections}


def test_the_report_of_an_earlier_run_says_its_queue_is_todays(engine: Engine) -> None:
    """`linkhealth report --run N` shows run N's facts, changes and trend, but the links
    as they are now: headed "run N" alone, today's queue read as run N's."""
    first = plain_run(engine, days(1))
    second = plain_run(engine, days(2))
    ctx = build_context(report_data(engine, run_id=first), now=days(3))
    assert ctx.earlier_run_notice is not None
    assert f"run {first}" in ctx.earlier_run_notice and f"run {second}" in ctx.earlier_run_notice
    page = LexborHTMLParser(render_html(ctx))
    notice = page.css_first("main #earlier-run-notice")
    assert notice is not None and notice.text(strip=True) == ctx.earlier_run_notice
    assert ctx.earlier_run_notice in render_markdown(ctx)
    for latest in (report_data(engine), report_data(engine, run_id=second)):
        assert build_context(latest, now=days(3)).earlier_run_notice is None


def test_a_run_offline_throughout_checked_no_url(engine: Engine) -> None:
    """Its report used to say "4 of 4 URLs checked" under "No link could be checked yet"."""
    run_id = store.start_run(engine, trigger="schedule", now=days(1))
    store.set_run_planned(engine, run_id, len(URLS))
    offline = [make_observation(u, Outcome.NETWORK_UNAVAILABLE, days(1)) for u in URLS]
    store.record_observations(engine, run_id, offline, HealthSettings(), now=days(1))
    store.finish_run(engine, run_id, status="completed", now=days(1), network_unavailable=True)

    ctx = build_context(report_data(engine), now=days(2))

    assert ctx.run is not None and (ctx.run.urls_checked, ctx.run.urls_offline) == (0, 4)
    markdown = render_markdown(ctx)
    assert "0 of 4 URLs checked (4 only tried: our network was down)." in markdown


@pytest.mark.parametrize("shared", [False, True], ids=["one-link-each", "a-shared-link"])
def test_the_first_run_offline_counts_the_links_waiting_as_the_run_counts_urls(
    tmp_path: Path, shared: bool
) -> None:
    """The bundled catalog's 26 entries share 24 addresses: the headline said "(26 links
    waiting)" above "0 of 24 URLs checked". It counts the links, and the resources they
    serve when those are more."""
    entries = [make_resource(f"r{n}", url) for n, url in enumerate(URLS)]
    if shared:  # a third entry at one of the addresses: one link for both
        entries.append(make_resource("r-again", URLS[0]))
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [make_catalog(resources=entries)], now=days(0))
        before = build_context(report_data(engine), now=days(0.5)).headline
        run_id = store.start_run(engine, trigger="schedule", now=days(1))
        store.set_run_planned(engine, run_id, len(URLS))
        offline = [make_observation(u, Outcome.NETWORK_UNAVAILABLE, days(1)) for u in URLS]
        store.record_observations(engine, run_id, offline, HealthSettings(), now=days(1))
        store.finish_run(engine, run_id, status="completed", now=days(1), network_unavailable=True)
        ctx = build_context(report_data(engine), now=days(2))

    assert ctx.run is not None and ctx.run.urls_planned == len(URLS) == 4
    serving = ", for 5 resources" if shared else ""
    assert before == f"Nothing has been checked yet (4 links waiting{serving})."
    assert ctx.headline == (
        f"No link could be checked yet: our network was down (4 links waiting{serving})."
    )
    assert "0 of 4 URLs checked" in render_markdown(ctx)


def test_a_report_asked_for_by_a_shard_run_id_is_named_as_asked(
    engine: Engine, tmp_path: Path
) -> None:
    """`linkhealth report --run 6` for the night of shard runs 6 and 7 wrote run-7.* and,
    6 not being the latest run's id, never the latest report although it is that night's."""
    from reports.publish import publish_report_files
    from tests.factories import database_url

    first, _ = sharded_night(engine, days(1))
    settings = Settings(catalogs=()).with_overrides(database_url=database_url(engine))

    def names(run_id: int, out: str) -> set[str]:
        files = publish_report_files(
            settings, run_id=run_id, formats=("html", "md"), out_dir=tmp_path / out
        )
        return {p.name for p in files.paths if p.parent == tmp_path / out}

    night = names(first, "night")
    assert {f"run-{first}.html", "latest.html", "latest.md"} <= night  # that night is the latest
    plain_run(engine, days(3))  # a later night: the sharded one is no longer the latest
    earlier = names(first, "earlier")
    assert f"run-{first}.html" in earlier and f"run-{first}.md" in earlier
    assert not {"latest.html", "latest.md"} & earlier


def test_runs_refused_since_the_last_check_head_the_report_with_the_reason(
    engine: Engine, tmp_path: Path
) -> None:
    """A catalog broken by an edit refuses every night; the report of the last run that
    checked looked current. It now says so first, with the file and line to fix."""
    checked = plain_run(engine, days(1))
    reason = "the catalog has an error: toolkit.yaml:7: resources[3].url: missing"
    for night in (2, 3):
        store.record_refused_run(
            engine, trigger="schedule", now=days(night), reason=reason, catalogs=["toolkit.yaml"]
        )
    ctx = build_context(report_data(engine), now=days(3) + timedelta(hours=1))
    assert ctx.refused_notice is not None
    assert ctx.refused_notice.startswith(f"2 runs since run {checked} were refused")
    assert f"the latest (schedule, {days(3):%Y-%m-%d %H:%M} UTC): {reason}." in ctx.refused_notice
    assert ctx.refused_notice.endswith(f"until then this report stays as run {checked} left it.")
    page = LexborHTMLParser(render_html(ctx))
    notice = page.css_first("main #refused-notice")
    assert notice is not None and notice.text(strip=True) == ctx.refused_notice
    assert "toolkit.yaml:7" in render_markdown(ctx)
    # The run's own page is its history: a later run ends the refusals, not that page.
    files = write_report(ctx, tmp_path / "out", run_id=checked)
    assert files.latest_html is not None and files.run_html is not None
    assert "refused-notice" in files.latest_html.read_text()
    assert "refused-notice" not in files.run_html.read_text()

    # A recheck of ids no catalog holds is refused too, but holds up no other run.
    store.record_refused_run(engine, trigger="recheck", now=days(3.5), reason="no r9", ids=True)
    again = report_data(engine).refused
    assert again is not None and again.count == 2 and again.latest_reason == reason

    # The report of an earlier run is not about tonight; a run that checked again ends it.
    assert report_data(engine, run_id=checked).refused is not None  # the latest, by id
    fixed = plain_run(engine, days(4))
    assert report_data(engine).refused is None
    assert report_data(engine, run_id=checked).refused is None
    assert build_context(report_data(engine, run_id=fixed), now=days(5)).refused_notice is None


def test_a_refusal_while_the_reported_run_ran_still_heads_its_report(engine: Engine) -> None:
    """The nightly run read the catalog at 02:00; an edit at 02:10 broke it and the recheck
    it set off was refused. The night's report, written when it ended at 02:40, must not drop the
    notice: the file is still broken and the next night will be refused."""
    start = days(1)
    run_id = store.start_run(engine, trigger="schedule", now=start)
    observations = [make_observation(url, checked_at=start) for url in URLS]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=start)
    store.record_refused_run(
        engine, trigger="recheck", now=start + timedelta(minutes=10), reason="toolkit.yaml:3"
    )
    store.finish_run(engine, run_id, status="completed", now=start + timedelta(minutes=40))
    refused = report_data(engine).refused
    assert refused is not None and refused.count == 1 and refused.latest_trigger == "recheck"
