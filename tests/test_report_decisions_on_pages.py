"""Every entry's report page lists the curators' decisions about it (who, when, why), not
only the page of an entry whose URL was changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from reports.context import resource_page_path
from reports.publish import publish_report_files
from tests.factories import (
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
)

IDS = ("ignored", "reviewed", "plain")


@dataclass(frozen=True)
class Site:
    engine: Engine
    #: The rows of each entry's history table, as text.
    rows: dict[str, list[str]]


def history_rows(page: str) -> list[str]:
    body = page.split('id="history"')[1].split("</tbody>")[0]
    rows = [re.sub(r"<[^>]+>", " ", r) for r in body.split("<tr data-kind=")[1:]]
    # "kind text...": the row's kind, then what it shows.
    return [" ".join(r.replace('"', "", 2).replace(">", " ", 1).split()) for r in rows]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Three entries checked two nights: one ignored by a curator after the first night,
    one marked reviewed; no URL changed."""
    kit = make_catalog("toolkit", [make_resource(rid) for rid in IDS])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in (1, 2):
            outcome = {"ignored": Outcome.RATE_LIMITED}
            checks = [
                make_observation(
                    f"https://example.org/{rid}", outcome.get(rid, Outcome.OK), days(night)
                )
                for rid in IDS
            ]
            store.record_observations(engine, None, checks, HealthSettings(), now=days(night))
            if night == 1:
                ignored = store.find_resource(engine, "ignored")
                store.record_decision(
                    engine,
                    ignored.id,
                    "ignore",
                    by="dana",
                    at=days(1.2),
                    reason="works in a browser",
                    resource_changes={
                        "ignored_at": days(1.2),
                        "ignored_reason": "works in a browser",
                    },
                )
                reviewed = store.find_resource(engine, "reviewed")
                store.record_decision(engine, reviewed.id, "mark_reviewed", by="lee", at=days(1.3))
        files = publish_report_files(
            settings_for(engine), formats=("html",), out_dir=tmp_path / "r", clock=Ticker(days(2.1))
        )
        folder = files.main.parent
        rows = {
            rid: history_rows((folder / resource_page_path("toolkit", rid)).read_text("utf-8"))
            for rid in IDS
        }
        yield Site(engine, rows)


def test_an_ignore_is_on_the_page_of_an_entry_whose_url_never_changed(site: Site) -> None:
    """The page listed its checks and events only: who ignored the link, and why, was
    told by `linkhealth resource` alone."""
    decisions = [r for r in site.rows["ignored"] if r.startswith("decision ")]
    assert len(decisions) == 1
    assert "Ignored by dana: works in a browser" in decisions[0]
    # Newest first, between the two nights' checks.
    kinds = [k for r in site.rows["ignored"] if (k := r.split()[0]) in ("check", "decision")]
    assert kinds == ["check", "decision", "check"]


def test_each_page_has_its_own_decisions_only(site: Site) -> None:
    reviewed = [r for r in site.rows["reviewed"] if r.startswith("decision ")]
    assert len(reviewed) == 1 and "Marked reviewed by lee" in reviewed[0]
    assert not [r for r in site.rows["plain"] if r.startswith("decision ")]


def test_the_decisions_read_in_shards_are_those_of_the_shards_pages(site: Site) -> None:
    """A big site's pages are rendered in two processes, each reading its share by link
    id (`reports.site.PageSource`): each decision is read by the process writing its page."""
    whole = store.decisions_by_resource(site.engine)
    parts = [store.decisions_by_resource(site.engine, shard=(k, 2)) for k in range(2)]
    assert set(whole) == set(parts[0]) | set(parts[1])
    assert not set(parts[0]) & set(parts[1])
    link_of = {r.id: r.link_id for r in (store.find_resource(site.engine, rid) for rid in IDS)}
    for k, part in enumerate(parts):
        assert all((link_of[pk] or 0) % 2 == k for pk in part)
    assert store.decisions_by_resource(site.engine, since=days(1.25)).keys() == {
        store.find_resource(site.engine, "reviewed").id
    }
