"""The report's JSON and the export tell a link whose latest tries were not sent (its host
had said it was away) from one asked: `held_tries`.

A held try keeps the link's last check (outcome, state, date: `health.apply_observation`)
and only its reason says the try was not sent. The HTML says so ("OK when last checked,
not asked since"); a program reading latest.json or the export read "ok, checked on the
1st" of a link asked last night and of one its host kept from being asked for a week,
with nothing but a sentence to tell them apart.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from catalog import store
from catalog.export import EXPORT_FIELDS, export_rows, write_export
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from flows.cli import app
from reports import build_context, render_csv, render_json
from reports.render import CSV_COLUMNS
from tests.factories import (
    database_url,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    without,
)
from tests.test_u4_held_rotation import held_at

runner = CliRunner()

HEALTH = HealthSettings()
HOST = "https://agency.example"
#: resource id -> what its link went through.
URLS = {
    "asked": f"{HOST}/asked",  # checked every night (the host's two asked)
    "held": f"{HOST}/held",  # checked the first night, then held three nights
    "never": f"{HOST}/never",  # added after the first night, held every night since
    "back": f"{HOST}/back",  # held two nights, then asked again: working
    "offline": f"{HOST}/offline",  # held, then a night our network was down
}


def nights(engine: Any) -> None:
    """Night 0 checks all but "never", added after it; nights 1 to 3 hold the host."""
    kit = make_catalog("toolkit", [make_resource(rid, url) for rid, url in URLS.items()])
    sync_catalogs(engine, [without(kit, "never")], now=days(0))
    first = [
        make_observation(url, checked_at=days(0)) for rid, url in URLS.items() if rid != "never"
    ]
    store.record_observations(engine, None, first, HEALTH, now=days(0))
    sync_catalogs(engine, [kit], now=days(0.5))
    for n in (1, 2, 3):
        night = [make_observation(URLS["asked"], checked_at=days(n))]
        night += [held_at(URLS[rid], n) for rid in ("held", "never")]
        if n < 3:
            night += [held_at(URLS["back"], n), held_at(URLS["offline"], n)]
        else:
            night.append(make_observation(URLS["back"], checked_at=days(n)))
            night.append(
                make_observation(URLS["offline"], Outcome.NETWORK_UNAVAILABLE, checked_at=days(n))
            )
        store.record_observations(engine, None, night, HEALTH, now=days(n))


#: What each record says: the held tries in a row, newest back, and its outcome.
EXPECTED = {
    "asked": (0, "ok"),
    "held": (3, "ok"),  # still its night-0 check's outcome: only `held_tries` tells
    "never": (3, None),
    "back": (0, "ok"),
    # Then a night our network was down: no check, so the two held since its check stand.
    "offline": (2, "ok"),
}


def test_the_json_report_says_how_many_latest_tries_were_not_sent(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        nights(engine)
        document = json.loads(render_json(build_context(report_data(engine), now=days(3.1))))
    rows = {r["resource_id"]: r for r in document["resources"]}
    assert {rid: (r["held_tries"], r["outcome"]) for rid, r in rows.items()} == EXPECTED
    # Its last check is still night 0's, as the HTML's "Last checked" says.
    assert rows["held"]["last_checked"]["iso"] == days(0).isoformat()
    # The queue's rows are the same records.
    queued = [row for group in document["queue"] for row in group["rows"]]
    assert all("held_tries" in row for row in queued)


def test_the_export_says_how_many_latest_tries_were_not_sent(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        nights(engine)
        records = list(export_rows(engine, now=days(3.1)))
    by_id = {r["id"]: r for r in records}
    assert {rid: (r["held_tries"], r["outcome"] or None) for rid, r in by_id.items()} == EXPECTED
    assert by_id["held"]["checked_at"] == "2025-03-01T02:00:00Z"
    # CSV: the column comes after those an earlier export had (and before later ones).
    assert EXPORT_FIELDS.index("held_tries") == EXPORT_FIELDS.index("ignored_reason") + 1
    out = io.StringIO()
    write_export(records, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    assert {r["id"]: r["held_tries"] for r in rows}["held"] == "3"


def test_the_reports_csv_says_how_many_latest_tries_were_not_sent(tmp_path: Path) -> None:
    """latest.csv had the row's outcome and last_checked (its check's, before the tries
    held) but not `held_tries`: a sheet sorted by last_checked read a link unasked for a
    week as one checked then, as the JSON no longer does."""
    with temporary_database(tmp_path) as engine:
        nights(engine)
        text = render_csv(build_context(report_data(engine), now=days(3.1)))
    header, *_ = csv.reader(io.StringIO(text))
    # Last, so a reader of the columns by position keeps reading the same ones.
    assert header[-1] == "held_tries" and tuple(header[:-1]) == CSV_COLUMNS[:-1]
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert {rid: (int(r["held_tries"]), r["outcome"] or None) for rid, r in rows.items()} == (
        EXPECTED
    )
    assert rows["held"]["last_checked"] == days(0).isoformat()


def test_linkhealth_resource_json_says_how_many_latest_tries_were_not_sent(
    tmp_path: Path, isolated_cwd: Path
) -> None:
    """`resource --json`'s `report` is what the report says of the resource: it had no
    `held_tries`, and its `link` says the check's outcome and date alone."""
    with temporary_database(tmp_path) as engine:
        nights(engine)
        db = ["--db", database_url(engine)]
        said = {rid: runner.invoke(app, ["resource", rid, "--json", *db]) for rid in URLS}
    for result in said.values():
        assert result.exit_code == 0, result.output
    reports = {rid: json.loads(result.stdout)["report"] for rid, result in said.items()}
    assert {rid: report["held_tries"] for rid, report in reports.items()} == {
        rid: held for rid, (held, _) in EXPECTED.items()
    }
