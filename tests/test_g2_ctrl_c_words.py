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


def test_a_stopped_run_of_one_batch_says_it_in_the_singular(
    prefect_harness: None, isolated_cwd: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A curator's `check --id hotline` stopped with Ctrl-C read "1 of its 1 batches were
    not stored": one batch, one URL, in the singular (`counted`)."""
    import flows.check_flow as check_flow

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt  # Ctrl-C as the batch is checked

    monkeypatch.setattr(check_flow, "check_batch_with_upgrades", interrupted)
    catalog_file = isolated_cwd / "toolkit.yaml"
    resource = {"id": "hotline", "title": "Hotline", "url": "https://hotline.example.org/"}
    catalog_file.write_text(json.dumps({"resources": [resource]}))
    overrides = {"database_url": db_url, "catalogs": [str(catalog_file)]}
    with prefect_log() as records, pytest.raises(KeyboardInterrupt):
        check_flow.check_catalog(overrides=overrides, render=False)

    said = [r.getMessage() for r in records]
    assert [m for m in said if m.startswith("Run 1 was")] == [
        "Run 1 was aborted (stopped by Ctrl-C or a termination signal (KeyboardInterrupt)): "
        "1 of its 1 batch (1 URL) was not stored"
    ], said


def test_the_words_of_unfinished_batches_agree_with_their_counts() -> None:
    """The warning's counts of batches and URLs, stored or not, each with its own number."""
    from flows.check_flow import _unstored_words

    assert _unstored_words(2, 5, 812, 0) == "2 of its 5 batches (812 URLs) were not stored"
    assert _unstored_words(1, 5, 3, 2) == (
        "1 of its 5 batches was not stored whole: the 2 URLs it had checked were stored, "
        "1 URL was not (the next run checks them)"
    )
    assert _unstored_words(2, 2, 2, 1) == (
        "2 of its 2 batches were not stored whole: the 1 URL they had checked was stored, "
        "1 URL was not (the next run checks them)"
    )


def test_a_stopped_runs_reason_counts_one_kept_url_in_the_singular() -> None:
    """`linkhealth status` adds what a stop kept to the run's reason: "the 1 URL ... was
    stored", not "were"."""
    from types import SimpleNamespace
    from typing import cast

    from catalog.runs import UnfinishedStored
    from flows.check_flow import PreparedRun, _kept_words

    prepared = cast(PreparedRun, SimpleNamespace(url_count=3))
    assert _kept_words(prepared, [], UnfinishedStored(stored=1, batches=1)) == (
        "; the 1 URL its unfinished batches had checked was stored, 2 not"
    )
    assert _kept_words(prepared, [], UnfinishedStored(stored=2, batches=1)) == (
        "; the 2 URLs its unfinished batches had checked were stored, 1 not"
    )
