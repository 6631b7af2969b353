"""An entry removed from the catalog and later put back (same id), as the report tells it:
put back, not new, with when it was removed, in every format that shows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from catalog import store
from catalog.queries import EventRow
from catalog.sync import sync_catalogs
from reports.context import resource_page_path
from reports.history import history_items
from reports.publish import publish_report_files
from tests.factories import Ticker, days, make_catalog, make_resource, settings_for
from tests.factories import temporary_database as database

KIT = make_catalog(
    "toolkit",
    [make_resource("back", "https://back.example/"), make_resource("stays", "https://ok.example/")],
)
WITHOUT_BACK = make_catalog("toolkit", [make_resource("stays", "https://ok.example/")])


def run(engine: Engine, at: float) -> None:
    """A finished run at day `at` (its checks do not matter here)."""
    run_id = store.start_run(engine, trigger="schedule", now=days(at))
    store.finish_run(engine, run_id, status="completed", now=days(at + 0.01))


def publish(engine: Engine, out: Path, at: float) -> dict[str, Any]:
    files = publish_report_files(
        settings_for(engine), formats=("html", "md", "json"), out_dir=out, clock=Ticker(days(at))
    )
    folder = files.main.parent
    return {
        rid: (folder / resource_page_path("toolkit", rid)).read_text(encoding="utf-8")
        for rid in ("back", "stays")
    } | {
        "md": (folder / "latest.md").read_text(encoding="utf-8"),
        "json": json.loads((folder / "latest.json").read_text(encoding="utf-8")),
    }


def edits(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections = {s["key"]: s for s in report["json"]["changes"]["sections"]}
    return {i["resource_id"]: i for i in sections["catalog_edits"]["items"]}


def test_an_entry_put_back_reads_put_back_with_when_it_was_removed(tmp_path: Path) -> None:
    removed_on = days(2).date().isoformat()
    with database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        run(engine, 0.5)
        sync_catalogs(engine, [WITHOUT_BACK], now=days(2))
        run(engine, 2.5)
        sync_catalogs(engine, [KIT], now=days(5))
        run(engine, 5.5)
        report = publish(engine, tmp_path / "r", 5.6)

    page = report["back"]
    assert "Re-added to the catalog" in page
    assert f"removed on {removed_on}" in page
    assert "Removed from the catalog" in page
    # Its first addition, five days earlier, is still an addition.
    assert page.count("Added to the catalog") == 1
    assert "Re-added" not in report["stays"] and "Added to the catalog" in report["stays"]

    assert f"Put back in the catalog (removed on {removed_on})." in report["md"]
    item = edits(report)["back"]
    assert item["kind"] == "added"  # as before: a field is added, none renamed
    assert item["readded"] is True
    assert item["summary"] == f"Put back in the catalog (removed on {removed_on})."


def test_when_it_was_removed_is_known_after_the_history_window(tmp_path: Path) -> None:
    """Removed half a year before it came back: the removal is older than the history
    the resource pages show, and older than the previous run; the re-addition still says
    when it happened."""
    removed_on = days(2).date().isoformat()
    with database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        sync_catalogs(engine, [WITHOUT_BACK], now=days(2))
        run(engine, 179)
        sync_catalogs(engine, [KIT], now=days(180))
        run(engine, 180.5)
        report = publish(engine, tmp_path / "r", 180.6)

    assert "Removed from the catalog" not in report["back"]  # out of the page's window
    assert 'Re-added to the catalog</span></td><td data-label="Details">' in report["back"]
    assert f"removed on {removed_on}" in report["back"]
    assert f"Put back in the catalog (removed on {removed_on})." in report["md"]
    assert edits(report)["back"]["readded"] is True


def test_an_entry_put_back_before_sync_recorded_the_removal_date_reads_re_added() -> None:
    """Events stored before the removal date was recorded (or before `readded` was): the
    removal shown in the same history dates it; the first addition stays "Added"."""

    def event(n: int, kind: str, at: float, **details: object) -> EventRow:
        return EventRow(
            n, days(at), kind, None, 1, None, {"url": "https://back.example/", **details}
        )

    for put_back in ({"readded": True}, {}):
        events = [event(3, "added", 9, **put_back), event(2, "removed", 4), event(1, "added", 0)]
        items = history_items((), events, days(10))
        assert [(i.label, i.detail) for i in items] == [
            ("Re-added to the catalog", f"https://back.example/; removed on {days(4).date()}"),
            ("Removed from the catalog", "https://back.example/"),
            ("Added to the catalog", "https://back.example/"),
        ]


def test_an_id_put_back_with_another_address_says_the_old_page_s_ignore_was_dropped(
    tmp_path: Path,
) -> None:
    """Sync drops the ignore of the old page when the id comes back on another address
    (`catalog.sync`); the report's news says so, and shows both addresses, so the curator
    who ignored the old page knows to look at the new one."""
    removed_on = days(2).date().isoformat()
    other = make_catalog(
        "toolkit",
        [
            make_resource("back", "https://elsewhere.example/"),
            make_resource("stays", "https://ok.example/"),
        ],
    )
    with database(tmp_path) as engine:
        sync_catalogs(engine, [KIT], now=days(0))
        row = store.find_resource(engine, "back", collection="toolkit")
        store.record_decision(
            engine,
            row.id,
            "ignore",
            by="ana",
            at=days(0.2),
            reason="login wall",
            resource_changes={"ignored_at": days(0.2), "ignored_reason": "login wall"},
        )
        run(engine, 0.5)
        sync_catalogs(engine, [WITHOUT_BACK], now=days(2))
        run(engine, 2.5)
        sync_catalogs(engine, [other], now=days(5))
        run(engine, 5.5)
        report = publish(engine, tmp_path / "r", 5.6)

    said = (
        f"Put back in the catalog (removed on {removed_on}) with another address: its ignore "
        "of the old page was dropped; set it again if it applies."
    )
    item = edits(report)["back"]
    assert item["summary"] == said
    assert (item["before"], item["after"]) == (
        "https://back.example/",
        "https://elsewhere.example/",
    )
    assert said in report["md"]
