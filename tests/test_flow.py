"""The check-catalog flow, end to end against a real local site, through Prefect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog import tables
from catalog.db import open_engine, session_scope
from tests.local_site import local_site

pytestmark = pytest.mark.flow


def _write_catalog(path: Path, base: str) -> Path:
    resources = [
        {"id": "report", "title": "Annual Report", "url": f"{base}/report.html"},
        {"id": "report-again", "title": "Annual Report (panel 2)", "url": f"{base}/report.html"},
        {"id": "missing", "title": "A Guide", "url": f"{base}/missing"},
        {"id": "moved", "title": "Annual Report (old link)", "url": f"{base}/moved"},
        {"id": "typo", "title": "Bad link", "url": "htp://example.org"},
    ]
    path.write_text(json.dumps({"collection": {"title": "Test"}, "resources": resources}))
    return path


def test_flow_checks_stores_and_reports(prefect_harness: None, isolated_cwd: Path) -> None:
    from flows.check_flow import check_catalog

    with local_site() as site:
        catalog_file = _write_catalog(isolated_cwd / "test.yaml", site.base)
        db_url = f"sqlite:///{isolated_cwd / 'lh.db'}"
        summary = check_catalog(
            overrides={
                "database_url": db_url,
                "catalogs": [str(catalog_file)],
                "allow_private": True,
                "reports_dir": str(isolated_cwd / "reports"),
            }
        )
    assert summary.status == "completed"
    assert summary.urls_checked == 4  # the shared URL is fetched once
    assert summary.counts == {
        "ok": 1,
        "not_found": 1,
        "redirected_permanent": 1,
        "invalid_url": 1,
    }
    assert site.hits["GET /report.html"] + site.hits["HEAD /report.html"] <= 3
    assert Path(summary.report_path or "").is_file()
    assert (isolated_cwd / "reports" / "latest.html").is_file()
    engine = open_engine(db_url)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(tables.Observation)) == 4
        assert s.scalar(select(func.count()).select_from(tables.Resource)) == 5
        run = s.scalars(select(tables.Run)).one()
        assert run.status == "completed" and run.flow_run_id


def test_flow_run_without_network_says_so_and_marks_nothing_broken(
    prefect_harness: None, isolated_cwd: Path
) -> None:
    from flows.check_flow import check_catalog

    catalog_file = isolated_cwd / "offline.yaml"
    catalog_file.write_text(
        json.dumps(
            {
                "resources": [
                    {"id": f"r{i}", "title": f"R{i}", "url": f"https://site{i}.invalid/x"}
                    for i in range(4)
                ]
            }
        )
    )
    summary = check_catalog(
        overrides={
            "database_url": f"sqlite:///{isolated_cwd / 'lh.db'}",
            "catalogs": [str(catalog_file)],
            "reports_dir": str(isolated_cwd / "reports"),
        }
    )
    assert summary.network_unavailable
    assert summary.counts == {"network_unavailable": 4}
    assert summary.broken == 0
    assert "network was unreachable" in " ".join(summary.lines())
