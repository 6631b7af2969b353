"""`linkhealth check --strict` judges the run's resources as the report's action queue
files them: a CI job failing on exit 6 and a curator reading the report must not be told
two stories. Each case is one where the two disagreed when `--strict` judged a check's
outcome alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from catalog import store
from catalog.db import open_engine, session_scope
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.runs import RunSummary
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from catalog.tables import Link, Resource
from flows.cli import app
from reports import build_context
from tests.factories import days, make_observation

runner = CliRunner()
CATALOG = "strict.yaml"
#: The night `check --strict` runs: the earlier nights of each case come before it.
TONIGHT = days(10)

#: (earlier nights' outcomes, one a day, ending the night before; tonight's outcome).
History = tuple[Sequence[Outcome], Outcome]
Setup = Callable[[Engine, str], None]


def _url(rid: str) -> str:
    return f"https://example.org/{rid}"


def _drifted(engine: Engine, rid: str) -> None:
    """The page stopped matching its entry before tonight (as `catalog.health.apply_drift`
    leaves the link)."""
    with session_scope(engine) as s:
        link = s.scalars(select(Link).where(Link.url == _url(rid))).one()
        link.drift_reason = "the page is now a parked domain"
        link.drift_since = days(7.5)


def _snoozed(engine: Engine, rid: str) -> None:
    with session_scope(engine) as s:
        resource = s.scalars(select(Resource).where(Resource.rid == rid)).one()
        resource.snoozed_until = datetime(2999, 1, 1, tzinfo=UTC)
        resource.snooze_reason = "the site is moving"


def _out_of_date(engine: Engine, rid: str) -> None:
    with session_scope(engine) as s:
        resource = s.scalars(select(Resource).where(Resource.rid == rid)).one()
        resource.stale_reasons = [{"code": "review_overdue", "reason": "Not reviewed since 2022"}]


@pytest.fixture
def night(
    isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Runs `check --strict` on a catalog whose entries have each its history of earlier
    nights (and a setup after them, before tonight); the flow is a stand-in storing
    tonight's outcomes as one run."""
    import flows.check_flow
    import flows.prefect_server

    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", migrated_db_url)
    monkeypatch.setattr(flows.prefect_server, "ensure_server", lambda say: None)

    def run(
        histories: dict[str, History],
        setups: dict[str, Setup] | None = None,
        ids: Sequence[str] = (),
        strict: bool = True,
    ) -> Result:
        isolated_cwd.joinpath(CATALOG).write_text(
            "resources:\n"
            + "".join(
                f"  - {{id: {rid}, title: Entry {rid}, url: '{_url(rid)}'}}\n" for rid in histories
            )
        )
        engine = open_engine(migrated_db_url)
        try:
            sync_catalogs(engine, load_catalogs([Path(CATALOG)]), now=days(0))
            for rid, (earlier, _) in histories.items():
                for n, outcome in enumerate(earlier, start=10 - len(earlier)):
                    obs = make_observation(_url(rid), outcome, days(n - 1))
                    store.record_observations(engine, None, [obs], HealthSettings(), now=days(n))
            for rid, setup in (setups or {}).items():
                setup(engine, rid)
        finally:
            engine.dispose()

        def check_catalog(**kwargs: object) -> RunSummary:
            engine = open_engine(migrated_db_url)
            try:
                run_id = store.start_run(engine, trigger="manual", now=TONIGHT)
                tonight = [
                    make_observation(_url(r), h[1], TONIGHT)
                    for r, h in histories.items()
                    if r in ids or not ids
                ]
                store.record_observations(engine, run_id, tonight, HealthSettings(), now=TONIGHT)
            finally:
                engine.dispose()
            counts = dict(Counter(h[1].value for r, h in histories.items() if r in ids or not ids))
            return RunSummary(run_id, "completed", "manual", TONIGHT, TONIGHT, 1, counts, False)

        monkeypatch.setattr(flows.check_flow, "check_catalog", check_catalog)
        chosen = [word for rid in ids for word in ("--id", rid)]
        judged = ["--strict"] if strict else []
        return runner.invoke(app, ["check", *judged, "--no-report", "--catalog", CATALOG, *chosen])

    return run


def _strict_line(result: Result) -> str:
    assert result.exit_code == 6, result.output
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("--strict")]
    return line


def _report_groups(migrated_db_url: str) -> dict[str, str]:
    """Resource id -> the heading of the report's action-queue group it is in."""
    engine = open_engine(migrated_db_url)
    try:
        ctx = build_context(report_data(engine), now=datetime.now(UTC))
    finally:
        engine.dispose()
    return {row.resource_id: group.heading for group in ctx.groups for row in group.rows}


OK, DOWN = Outcome.OK, Outcome.NOT_FOUND


def test_a_first_failure_of_a_link_that_worked_is_failing_not_yet_confirmed(
    night: Callable[..., Result], migrated_db_url: str
) -> None:
    """One failed check is no confirmed break: the report lists it to watch ("may recover
    on their own"), and `--strict` said the resource "failed" like a broken one."""
    line = _strict_line(night({"a": ([OK, OK], DOWN)}))
    assert _report_groups(migrated_db_url) == {"a": "Failing, not yet confirmed"}
    assert "of 1 resources checked, 1 to check or watch in the report's action queue" in line
    assert "strict/a (Failing, not yet confirmed: not found (404))" in line
    assert "failed" not in line.split(":")[0]


def test_a_flapping_link_fails_strict_even_when_its_last_check_worked(
    night: Callable[..., Result], migrated_db_url: str
) -> None:
    """The report asks a person to look at a link that keeps switching between working
    and failing, whatever its last check said; `--strict` passed it on a good night."""
    line = _strict_line(night({"f": ([OK, DOWN, OK, DOWN, OK], OK)}))
    assert _report_groups(migrated_db_url) == {"f": "Check by hand"}
    assert "strict/f (Check by hand: flapping)" in line


def test_a_soft_404_is_named_in_its_own_group_not_as_broken(
    night: Callable[..., Result], migrated_db_url: str
) -> None:
    """A page that answers 200 but says "not found" is "Page missing (soft 404)" in the
    report (find where it moved), never "Confirmed broken"; `--strict` said it failed."""
    line = _strict_line(night({"s": ([OK], Outcome.SOFT_404)}))
    assert _report_groups(migrated_db_url) == {"s": "Page missing (soft 404)"}
    assert "1 to fix in the report's action queue: strict/s (Page missing (soft 404))" in line


def test_drift_on_a_page_now_failing_is_named_as_the_drift(
    night: Callable[..., Result], migrated_db_url: str
) -> None:
    """A page that stopped matching its entry and then started failing is one problem to
    the report, the drift, until the failure is confirmed: a page to fix, not a failure
    that may recover on its own."""
    line = _strict_line(night({"d": ([OK, OK, OK], DOWN)}, {"d": _drifted}))
    assert _report_groups(migrated_db_url) == {"d": "Page no longer matches its entry"}
    assert "1 to fix in the report's action queue" in line
    assert "strict/d (Page no longer matches its entry: not found (404))" in line


def test_strict_names_what_the_queue_lists_in_its_order_and_says_what_it_left_out(
    night: Callable[..., Result], migrated_db_url: str
) -> None:
    """The run's resources as the queue files them, in its order; a redirect to take into
    the catalog (which the two judged alike) among them. Left out and said to be: a
    snoozed one, and one listed only to review its entry while its link works (out of
    date: not this run's finding, and not a failure a CI job can wait out)."""
    line = _strict_line(
        night(
            {
                "a": ([OK], DOWN),
                "m": ([OK], Outcome.REDIRECTED_PERMANENT),
                "b": ([DOWN, DOWN], DOWN),
                "z": ([OK], DOWN),
                "o": ([OK], OK),
                "w": ([OK], OK),
            },
            {"z": _snoozed, "o": _out_of_date},
        )
    )
    assert _report_groups(migrated_db_url) == {
        "b": "Confirmed broken",
        "m": "Moved permanently",
        "a": "Failing, not yet confirmed",
        "o": "Possibly out of date",
    }
    assert line.startswith(
        "--strict: in run 1, of 6 resources checked, 2 to fix and 1 to check or watch in the "
        "report's action queue: strict/b (Confirmed broken: not found (404)), "
        "strict/m (Moved permanently), strict/a (Failing, not yet confirmed: not found (404)); "
        "1 snoozed or ignored and 1 only to review (the link works) not counted; exit 6."
    )


def test_strict_with_ids_judges_those_alone_and_reads_no_other_rows(
    night: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--id a --id c` among broken resources it did not check: their findings, in the
    queue's order, read without streaming every active resource's row (1.3 CPU-s per
    10k resources, for a run of two)."""
    import reports.publish

    def every_row(*args: object, **kwargs: object) -> object:
        raise AssertionError("read every active resource's row for a run of a few ids")

    monkeypatch.setattr(reports.publish, "iter_resources", every_row)
    histories: dict[str, History] = {
        "a": ([OK], DOWN),
        "b": ([DOWN, DOWN, DOWN], DOWN),
        "c": ([DOWN, DOWN], DOWN),
        "d": ([DOWN, DOWN, DOWN], DOWN),
    }
    line = _strict_line(night(histories, ids=["c", "a"]))
    assert line.startswith(
        "--strict: in run 1, of 2 resources checked, 1 to fix and 1 to check or watch in the "
        "report's action queue: strict/c (Confirmed broken: not found (404)), "
        "strict/a (Failing, not yet confirmed: not found (404)); exit 6."
    )


def test_check_with_ids_prints_each_named_entrys_verdict_as_recheck_does(
    night: Callable[..., Result],
) -> None:
    """README: `check --id ID` rechecks one resource after editing it; it printed only the
    summary ("Outcomes: 1 ok"), not which entry was what, where `recheck` prints each one's
    verdict."""
    histories: dict[str, History] = {"a": ([OK], DOWN), "b": ([OK], OK), "c": ([DOWN], DOWN)}
    result = night(histories, ids=["a", "b"], strict=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    verdicts = [line for line in lines if line.startswith("strict/")]
    assert [line.split(" - ")[0] for line in verdicts] == [
        "strict/a: Not found (404), failing, not yet confirmed",
        "strict/b: OK",
    ], lines
    assert lines.index(verdicts[-1]) < next(
        n for n, line in enumerate(lines) if line.startswith("Outcomes:")
    ), lines

    # Without --id, the whole catalog's run: its summary alone, as before.
    everything = night(histories, strict=False)
    assert everything.exit_code == 0, everything.output
    assert not any(line.startswith("strict/") for line in everything.stdout.splitlines())
