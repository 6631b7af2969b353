"""A run stopped with Ctrl-C is "aborted" in its log, as `linkhealth status` and README call
it: its warning said "Run 1 was abandoned", and each batch it did not check "run 1 was
abandoned", a word `status` keeps for a run whose process is gone."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from catalog import store
from catalog.db import open_engine
from tests.factories import prefect_log


def test_a_run_stopped_with_ctrl_c_is_called_aborted_in_its_log(
    prefect_harness: None, isolated_cwd: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.check_flow as check_flow

    def check(batch: Any, *_: Any, loop: Any, **__: Any) -> list[Any]:
        if batch.index == 0:
            return []
        loop.run(asyncio.sleep(30))  # until the run is stopped (`cancel_checks`)
        return []

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt  # Ctrl-C as the first batch is stored

    monkeypatch.setattr(check_flow, "check_batch_with_upgrades", check)
    monkeypatch.setattr(check_flow, "store_batch", interrupted)
    resources = [
        {"id": f"r{i}", "title": f"R {i}", "url": f"https://site{i}.example.org/"} for i in range(4)
    ]
    catalog_file = isolated_cwd / "toolkit.yaml"
    catalog_file.write_text(json.dumps({"resources": resources}))
    overrides = {"database_url": migrated_db_url, "catalogs": [str(catalog_file)], "batch_size": 1}
    with prefect_log() as records, pytest.raises(KeyboardInterrupt):
        check_flow.check_catalog(overrides=overrides, render=False)

    engine = open_engine(migrated_db_url)
    assert store.get_run(engine, 1).status == "aborted"  # as `linkhealth status` lists it
    engine.dispose()
    said = [r.getMessage() for r in records]
    warned = [m for m in said if m.startswith("Run 1 was")]
    assert warned == [
        "Run 1 was aborted (stopped by Ctrl-C or a termination signal (KeyboardInterrupt)): "
        "4 of its 4 batches (4 URLs) were not stored"
    ], said
    assert not any("abandoned" in m for m in said), said
    # The batches stopped or never started say it too (their Prefect state's message).
    assert any("NotChecked('run 1 was aborted; batch" in m for m in said), said
