"""The Prefect API going away part-way through a run (its server stopped, or restarting):
the run goes on and stores what it checks, and `linkhealth check` says what became of it
in one sentence instead of Prefect's traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from catalog import tables
from catalog.db import open_engine, session_scope
from flows.prefect_server import PrefectApiLostError, api_loss_said
from tests.local_site import local_site

API = "http://127.0.0.1:4200/api"


def _refused(*_: Any, **__: Any) -> Any:
    """What a Prefect client call raises once its retries against a stopped server end."""
    raise httpx.ConnectError(
        "[Errno 111] Connection refused", request=httpx.Request("POST", f"{API}/artifacts/")
    )


@pytest.mark.flow
def test_a_run_whose_prefect_api_goes_away_still_stores_every_batch_and_completes(
    prefect_harness: None, isolated_cwd: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress update after the first stored batch found the server gone: the run
    failed there, and the batches already checked (or still to check) were never stored."""
    from flows import check_flow

    calls: list[str] = []

    def counted(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return _refused()

        return call

    monkeypatch.setattr(check_flow, "update_progress_artifact", counted("progress"))
    monkeypatch.setattr(check_flow, "create_markdown_artifact", counted("summary"))
    monkeypatch.setattr(check_flow, "create_table_artifact", counted("queue"))
    with local_site() as site:
        hosts = (site.base, site.base.replace("127.0.0.1", "localhost"))
        resources = [
            {"id": f"r{i}", "title": f"Report {i}", "url": f"{hosts[i % 2]}/report.html?{i}"}
            for i in range(4)
        ]
        catalog_file = isolated_cwd / "toolkit.yaml"
        catalog_file.write_text(json.dumps({"collection": {"title": "T"}, "resources": resources}))
        summary = check_flow.check_catalog(
            overrides={
                "database_url": db_url,
                "catalogs": [str(catalog_file)],
                "allow_private": True,
                "batch_size": 1,  # a batch per host: two batches, stored one after the other
            },
            render=False,
        )
    assert summary.status == "completed" and summary.urls_checked == 4
    assert calls == ["progress"]  # the first failure is waited for once, never again
    engine = open_engine(db_url)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(tables.Observation)) == 4
        run = s.scalars(select(tables.Run)).one()
        assert run.status == "completed" and run.summary["batches"] == 2
    engine.dispose()


def test_the_prefect_api_lost_mid_run_is_one_sentence_saying_the_run_is_stored() -> None:
    with pytest.raises(PrefectApiLostError) as caught, api_loss_said():
        _refused()
    said = str(caught.value)
    assert f"the Prefect API at {API} stopped answering" in said
    assert "Connection refused" in said and "linkhealth status" in said
    assert "linkhealth server start" in said and caught.value.exit_code == 1
