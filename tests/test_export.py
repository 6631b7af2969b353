"""Export writes one record per active resource as JSON Lines or spreadsheet-safe CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.csv_guard import guard
from catalog.export import EXPORT_FIELDS, UTF8_BOM, csv_cell, export_rows, write_export
from catalog.importer import parse_csv, read_spreadsheet
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    without,
)

URL_A = "https://example.org/a"
URL_B = "https://example.org/b"
TOOLKIT = make_catalog(
    "toolkit",
    [
        make_resource("a", title='=HYPERLINK("http://evil")'),
        make_resource("b"),
        make_resource("c"),
    ],
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [TOOLKIT], now=T0)
        yield engine


def observe(engine: Engine, *observations) -> None:
    for obs in observations:
        store.record_observations(engine, None, [obs], HealthSettings(), now=obs.checked_at)


def rows_by_id(engine: Engine) -> dict[str, dict]:
    return {row["id"]: row for row in export_rows(engine)}


def test_export_has_one_row_per_active_resource_with_every_field(engine: Engine) -> None:
    sync_catalogs(engine, [without(TOOLKIT, "c")], now=days(1))
    observe(engine, make_observation(URL_B, Outcome.NOT_FOUND, days(1), final_url=URL_B))

    rows = rows_by_id(engine)

    assert set(rows) == {"a", "b"}
    assert all(tuple(row) == EXPORT_FIELDS for row in rows.values())
    b = rows["b"]
    assert (b["collection"], b["url"], b["outcome"], b["state"]) == (
        "toolkit",
        URL_B,
        "not_found",
        "suspect",
    )
    assert b["http_status"] == 404
    assert b["final_url"] == URL_B
    assert b["checked_at"] == "2025-03-02T02:00:00Z"
    assert b["reason"]


def test_never_checked_resources_export_with_an_empty_outcome(engine: Engine) -> None:
    a = rows_by_id(engine)["a"]
    assert a["outcome"] == ""
    assert a["state"] == "unchecked"
    assert a["checked_at"] is None
    assert a["content_changed"] is False


def test_a_resource_only_tried_while_offline_exports_as_never_checked(engine: Engine) -> None:
    offline = make_observation(URL_A, Outcome.NETWORK_UNAVAILABLE, checked_at=T0, http_status=None)
    observe(engine, offline)
    a = rows_by_id(engine)["a"]
    assert (a["outcome"], a["state"], a["checked_at"]) == ("", "unchecked", None)


def test_a_night_offline_does_not_pass_for_a_check(engine: Engine) -> None:
    observe(engine, make_observation(URL_B, Outcome.NOT_FOUND, checked_at=T0))
    offline = make_observation(
        URL_B, Outcome.NETWORK_UNAVAILABLE, checked_at=days(1), http_status=None
    )
    observe(engine, offline)
    b = rows_by_id(engine)["b"]
    assert (b["outcome"], b["checked_at"]) == (
        "not_found",
        "2025-03-01T02:00:00Z",
    )  # T0, not the try


def test_content_changed_compares_with_the_previous_fingerprinted_observation(
    engine: Engine,
) -> None:
    observe(engine, make_observation(URL_A, checked_at=T0, fingerprint="aaa"))
    assert rows_by_id(engine)["a"]["content_changed"] is False

    observe(
        engine,
        make_observation(URL_A, checked_at=days(1)),  # HEAD only: no fingerprint
        make_observation(URL_A, checked_at=days(2), fingerprint="bbb"),
    )
    assert rows_by_id(engine)["a"]["content_changed"] is True

    observe(engine, make_observation(URL_A, checked_at=days(3), fingerprint="bbb"))
    assert rows_by_id(engine)["a"]["content_changed"] is False

    observe(engine, make_observation(URL_B, checked_at=T0, fingerprint="x"))
    assert rows_by_id(engine)["b"]["content_changed"] is False


def test_jsonl_is_one_json_object_per_line(engine: Engine) -> None:
    out = io.StringIO()
    written = write_export(export_rows(engine), "jsonl", out)
    lines = out.getvalue().splitlines()
    assert written == len(lines) == 3
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "c"]


def test_csv_neutralises_formulas(engine: Engine) -> None:
    out = io.StringIO()
    write_export(export_rows(engine), "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().removeprefix(UTF8_BOM))))
    assert tuple(rows[0]) == EXPORT_FIELDS
    assert rows[0]["title"] == '\'=HYPERLINK("http://evil")'
    assert rows[1]["title"] == "Resource b"
    assert rows[0]["content_changed"] == "false"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_prefix_is_neutralised(start: str) -> None:
    out = io.StringIO()
    write_export([{"title": f"{start}1+1", "id": "x"}], "csv", out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["title"] == f"'{start}1+1"


def test_a_hijacked_snoozed_stale_or_ignored_entry_says_so(engine: Engine) -> None:
    """A site built from the export must be able to leave out a link that answers 200 but
    no longer holds the resource (a parked or for-sale page), as the report does."""
    from sqlalchemy import select

    from catalog import tables as t
    from catalog.db import session_scope

    observe(engine, make_observation(URL_A, checked_at=T0), make_observation(URL_B, checked_at=T0))
    with session_scope(engine) as s:
        link = s.scalars(select(t.Link).where(t.Link.url == URL_A)).one()
        link.drift_reason = "the page now holds for-sale markers"
        a, b = (s.scalars(select(t.Resource).where(t.Resource.rid == r)).one() for r in "ab")
        a.stale_reasons = [{"code": "dated", "reason": "2012"}, {"code": "review_overdue"}]
        b.snoozed_until = days(30)
        b.ignored_at, b.ignored_reason = T0, "login wall"

    rows = {row["id"]: row for row in export_rows(engine, now=days(1))}
    a_row, b_row = rows["a"], rows["b"]
    assert (a_row["outcome"], a_row["drift_reason"]) == (
        "ok",
        "the page now holds for-sale markers",
    )
    assert a_row["stale"] == ["dated", "review_overdue"]
    assert (b_row["snoozed_until"], b_row["ignored"], b_row["ignored_reason"]) == (
        "2025-03-31T02:00:00Z",
        True,
        "login wall",
    )
    assert [rows["c"][k] for k in ("drift_reason", "stale", "ignored", "ignored_reason")] == [
        None,
        [],
        False,
        None,
    ]
    # A snooze that ended is no snooze, as in the report.
    later = {row["id"]: row for row in export_rows(engine, now=days(31))}
    assert later["b"]["snoozed_until"] is None
    out = io.StringIO()
    write_export(export_rows(engine, now=days(1)), "csv", out)
    (a_csv,) = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["id"] == "a"]
    assert a_csv["stale"] == "dated;review_overdue"


def test_a_csv_export_opens_in_excel_as_utf8(tmp_path: Path) -> None:
    """Without a byte order mark Excel reads the file in the computer's code page: a title's
    "–" showed as "â€“". Excel's own "CSV UTF-8" starts with one; import-csv reads it."""
    path = tmp_path / "links.csv"
    rows = [{"id": "g", "title": "Human Trafficking – A Guide", "url": "https://example.org/g"}]
    with path.open("w", encoding="utf-8", newline="") as fh:
        write_export(rows, "csv", fh)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcollection,id,title,url,")
    (row,) = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    assert row["title"] == "Human Trafficking – A Guide"
    (entry,) = parse_csv(read_spreadsheet(str(path)), source="links.csv").entries
    assert entry.title == "Human Trafficking – A Guide"


@pytest.mark.parametrize(
    "value",
    ["", "plain", "'quoted", "''=x", "'=x", "=1+1", "-5", "-", "- list", "@me", "\tx", "x=1"],
)
def test_csv_cells_are_guarded_text_whatever_the_shortcut(value: str) -> None:
    assert csv_cell(value) == guard(value)
    assert csv_cell([value, "dated"]) == guard(f"{value};dated")


def test_csv_rows_write_as_a_dict_writer_did(engine: Engine) -> None:
    """Rows missing a field get an empty cell, fields the export does not name are left out:
    what `csv.DictWriter(extrasaction="ignore")` wrote before rows were written as lists."""
    rows = [
        *export_rows(engine),
        {"id": "x", "title": "=1+1", "extra": "left out", "stale": ["a", "b"], "ignored": True},
    ]
    out = io.StringIO()
    assert write_export(rows, "csv", out) == 4
    expected = io.StringIO()
    expected.write(UTF8_BOM)
    writer = csv.DictWriter(expected, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    assert out.getvalue() == expected.getvalue()


def test_export_streams_across_chunks_and_keeps_only_the_collections_asked_for(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_catalog("other", [make_resource("z", url="https://example.org/z")])
    sync_catalogs(engine, [TOOLKIT, other], now=days(1))
    every = list(export_rows(engine, now=days(1)))
    monkeypatch.setattr("catalog.export.EXPORT_CHUNK", 1)
    assert list(export_rows(engine, now=days(1))) == every
    assert [(r["collection"], r["id"]) for r in every] == [
        ("other", "z"),
        ("toolkit", "a"),
        ("toolkit", "b"),
        ("toolkit", "c"),
    ]
    only = list(export_rows(engine, now=days(1), collections=["toolkit"]))
    assert only == every[1:]
    assert list(export_rows(engine, now=days(1), collections=["nonexist"])) == []
