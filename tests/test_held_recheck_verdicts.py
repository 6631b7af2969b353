"""A named link whose try the run did not send (its host held: `Observation.held`) was
not checked by that recheck or `check --id`: its verdict says so, why (its host's word or
its silence), and its state as of its last check, with that check's date. It read
"toolkit/c: OK - HEAD not sent: host unavailable: ...": the earlier check's "OK" as the
recheck's news, followed by the held try's reason. `check --strict` leaves it out, as it
does a link whose check found our network down."""

from __future__ import annotations

from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.model import Observation, Resource
from catalog.ops import strict_findings
from catalog.outcomes import HELD_REASON_END, SILENT_HOLD, Outcome
from catalog.runs import RunSummary, finish_run
from catalog.settings import HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from flows.recheck_flow import entry_verdicts
from reports.context import Priority
from tests.factories import (
    copy_migrated_sqlite,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
    write_catalog,
)
from tests.local_site import Answer, serving
from tests.test_ops import StrictRow

runner = CliRunner()

#: The reason `classify._held` gives a try not sent for its host's 503 "come back later".
AWAY = (
    "HEAD not sent: host unavailable: it answered 503 to https://example.org/a and to "
    "https://example.org/b and said to retry after 7200 s (about 2 hours) (Retry-After), "
    f"longer than the check can wait for one link, {HELD_REASON_END}"
)
#: ... and for its silence (no answer to its last links).
SILENT = (
    f"HEAD not sent: {SILENT_HOLD} it answered none of the requests for its last 3 links "
    f"within their deadlines (https://example.org/a was one), {HELD_REASON_END}"
)


def _held(url: str, reason: str, outcome: Outcome = Outcome.RATE_LIMITED) -> Observation:
    status = 503 if outcome is Outcome.RATE_LIMITED else None
    return make_observation(url, outcome, days(1), held=True, reason=reason, http_status=status)


def _two_runs(engine: Engine) -> int:
    """Day 0: `broken` answered 404 and `quiet` worked (`new` was not in the catalog yet).
    Day 1, a recheck of them all: `ok` was checked and worked, the others' tries were not
    sent, their hosts away (`broken`, `new`) or silent (`quiet`). The recheck's run id."""
    names = ("ok", "broken", "quiet", "new")
    kit = make_catalog("toolkit", [make_resource(r, f"https://example.org/{r}") for r in names])
    sync_catalogs(engine, [kit], now=days(0))
    first = [
        make_observation("https://example.org/broken", Outcome.NOT_FOUND, days(0)),
        make_observation("https://example.org/quiet", Outcome.OK, days(0)),
    ]
    store.record_observations(engine, None, first, HealthSettings(), now=days(0))
    run_id = store.start_run(engine, trigger="recheck", now=days(1))
    tried = [
        make_observation("https://example.org/ok", Outcome.OK, days(1)),
        _held("https://example.org/broken", AWAY),
        _held("https://example.org/quiet", SILENT, Outcome.TIMEOUT),
        _held("https://example.org/new", AWAY),
    ]
    store.record_observations(engine, run_id, tried, HealthSettings(), now=days(1))
    return run_id


def test_a_try_not_sent_reads_not_checked_with_why_and_the_last_checks_state(
    tmp_path: Path,
) -> None:
    with temporary_database(tmp_path) as engine:
        run_id = _two_runs(engine)
        ids = ("broken", "new", "ok", "quiet")
        lines = entry_verdicts(engine, run_id, ids, ["toolkit"], None, ids, {})
        by_check_id = entry_verdicts(
            engine, run_id, ["broken"], ["toolkit"], None, ["broken"], {}, command="check --id"
        )
    checked = f"{days(0):%Y-%m-%d %H:%M} UTC"
    assert lines == (
        "toolkit/broken: not checked by this recheck: its host said it was away. Last known "
        f"state, from its check of {checked}: Not found (404), failing, not yet confirmed - "
        "test observation: not_found",
        "toolkit/new: not checked by this recheck: its host said it was away. Never checked",
        "toolkit/ok: OK - test observation: ok",
        "toolkit/quiet: not checked by this recheck: its host had not answered its last "
        f"links. Last known state, from its check of {checked}: OK - test observation: ok",
    )
    assert by_check_id == (
        "toolkit/broken: not checked by this check --id: its host said it was away. Last "
        f"known state, from its check of {checked}: Not found (404), failing, not yet "
        "confirmed - test observation: not_found",
    )


def _on(pages: dict[str, str], suffix: str) -> list[Resource]:
    return [make_resource(r + suffix, f"https://example.org/{p}") for r, p in pages.items()]


def test_an_entry_sharing_a_url_not_checked_is_not_said_updated(tmp_path: Path) -> None:
    """Entries linking one URL share its check: "whose link state this check updated too"
    said so of a try not sent (its host held), of one our network was down for, and of a
    link the run never tried, where the state each kept was an earlier check's."""
    pages = {"a": "held", "b": "off", "c": "ok", "d": "idle"}  # each rid and rid2
    kit = make_catalog("toolkit", [*_on(pages, ""), *_on(pages, "2")])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        run_id = store.start_run(engine, trigger="recheck", now=days(1))
        tried = [
            _held("https://example.org/held", AWAY),
            make_observation("https://example.org/off", Outcome.NETWORK_UNAVAILABLE, days(1)),
            make_observation("https://example.org/ok", Outcome.OK, days(1)),
        ]
        store.record_observations(engine, run_id, tried, HealthSettings(), now=days(1))
        ids = ("a", "b", "c", "d")
        lines = entry_verdicts(engine, run_id, ids, ["toolkit"], None, ids, {})
    shared = [line for line in lines if "its URL is shared" in line]
    assert shared == [
        "toolkit/a: its URL is shared with toolkit/a2, whose link state this check left as "
        "it was too",
        "toolkit/b: its URL is shared with toolkit/b2, whose link state this check left as "
        "it was too",
        "toolkit/c: its URL is shared with toolkit/c2, whose link state this check updated too",
        "toolkit/d: its URL is shared with toolkit/d2, whose link state this check left as "
        "it was too",
    ], lines


def test_run_verdicts_say_which_tries_were_not_sent(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        run_id = _two_runs(engine)
        verdicts = {v.rid: v for v in store.run_verdicts(engine, run_id)}
    assert {rid: v.held_reason for rid, v in verdicts.items()} == {
        "broken": AWAY,
        "new": AWAY,
        "ok": None,
        "quiet": SILENT,
    }
    assert verdicts["broken"].held and not verdicts["ok"].held


def test_the_summary_says_how_many_of_its_urls_were_not_sent(tmp_path: Path) -> None:
    """ "Outcomes: 1 ok, 3 rate limited, 1 timed out." under three verdicts saying "not
    checked by this recheck": the tries not sent were counted as answers, with nothing
    saying that most of them asked nothing (as our network down is said)."""
    with temporary_database(tmp_path) as engine:
        run_id = _two_runs(engine)
        store.record_observations(
            engine,
            run_id,
            [make_observation("https://example.org/asked", Outcome.RATE_LIMITED, days(1))],
            HealthSettings(),
            now=days(1),
        )
        summary = finish_run(settings_for(engine), run_id, stored=[], clock=lambda: days(1))
    lines = summary.lines()
    assert "Outcomes: 1 OK, 3 rate limited, 1 timed out." in lines, lines
    assert (
        "Not sent: 3 of these URLs (2 rate limited, 1 timed out), their host held (it had said "
        "it was away, or answered none of its last links): their links were not checked, "
        "and keep their state as it was."
    ) in lines, lines


def test_strict_leaves_out_a_resource_whose_try_was_not_sent() -> None:
    """Its report row is its last check's: "Failing" from a check before this run is not
    this run's finding, as for a link whose check found our network down."""
    summary = RunSummary(7, "completed", "manual", days(1), days(1), 2, {"rate_limited": 2}, False)
    verdicts = [
        store.RunVerdict("toolkit", "held", "rate_limited", AWAY),
        store.RunVerdict("toolkit", "asked", "not_found"),
    ]
    rows = [StrictRow("held", Priority.FAILING), StrictRow("asked", Priority.FAILING)]
    found = strict_findings(summary, verdicts, rows)
    assert found is not None
    assert "of 1 resources checked, 1 to check or watch" in found, found
    assert "toolkit/asked" in found and "toolkit/held" not in found, found
    assert strict_findings(summary, verdicts[:1], rows[:1]) is None


def _away(request: BaseHTTPRequestHandler) -> Answer:
    """/a and /b answer 503 "come back in two hours"; any other path a page."""
    if request.path in ("/a", "/b"):
        return 503, {"Retry-After": "7200", "Content-Type": "text/html"}, b"down for maintenance"
    return 200, {"Content-Type": "text/html"}, b"<title>C</title><h1>C</h1>"


@pytest.mark.flow
@pytest.mark.parametrize("command", [["recheck", "a", "b", "c"], ["check", "--strict"]])
def test_a_named_link_its_host_kept_from_being_asked_is_said_not_checked(
    prefect_api: str, isolated_cwd: Path, command: list[str]
) -> None:
    """A host answering 503 Retry-After 7200 to /a and /b is held: /c, checked and found
    missing yesterday, is not requested. Its verdict said "Not found (404), failing ... -
    HEAD not sent: ..." and `check --strict` named it failing; the exit status is the one
    of a link whose check found our network down (0 for `recheck`)."""
    with serving(_away) as base:
        entries = [{"id": r, "title": f"Page {r}", "url": f"{base}/{r}"} for r in "abc"]
        catalog_file = write_catalog(isolated_cwd / "toolkit.yaml", entries)
        (isolated_cwd / "linkhealth.toml").write_text(
            f'database_url = "sqlite:///var/lh.db"\ncatalogs = ["{catalog_file}"]\n'
            "[check]\nallow_private = true\n",
            encoding="utf-8",
        )
        copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")
        engine = open_engine("sqlite:///var/lh.db")
        checked = utcnow() - timedelta(days=1)
        sync_catalogs(engine, load_catalogs([catalog_file]), now=checked)
        missing = make_observation(f"{base}/c", Outcome.NOT_FOUND, checked_at=checked)
        store.record_observations(engine, None, [missing], HealthSettings(), now=checked)
        engine.dispose()
        if command[0] == "check":
            command += ["--id", "a", "--id", "b", "--id", "c"]
        result = runner.invoke(app, [*command, "--no-report"])
    said = [li for li in result.stdout.splitlines() if li.startswith("toolkit/c: ")]
    assert len(said) == 1, result.output
    name = "recheck" if command[0] == "recheck" else "check --id"
    assert said[0].startswith(
        f"toolkit/c: not checked by this {name}: its host said it was away. Last known "
        f"state, from its check of {checked:%Y-%m-%d %H:%M} UTC: Not found (404)"
    ), said[0]
    assert "not sent" not in said[0], said[0]
    if command[0] == "recheck":
        assert result.exit_code == 0, result.output
    else:  # /a and /b answered 503: to watch; /c was not asked
        assert result.exit_code == 6, result.output
        [strict] = [li for li in result.stderr.splitlines() if li.startswith("--strict")]
        assert "of 2 resources checked" in strict and "toolkit/c" not in strict, strict
