"""An entry named `KEY/ID` where two catalogs use the id: what a check takes it to mean,
without Prefect (the runs themselves are in tests/test_f1_key_id_runs.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog import store
from catalog.db import open_engine
from catalog.errors import NotFoundError
from catalog.settings import Settings


def _write(path: Path, resources: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps({"collection": {"title": path.stem}, "resources": resources}))
    return path


def _two_catalogs(folder: Path, x_in_b: str = "https://b.org/x") -> tuple[Path, Path]:
    """Catalogs `a` and `b`, both with an entry `x` (each its own URL); `b` also has `y`."""
    a = _write(folder / "a.yaml", [{"id": "x", "title": "X", "url": "https://a.org/x"}])
    b = _write(
        folder / "b.yaml",
        [
            {"id": "x", "title": "X", "url": x_in_b},
            {"id": "y", "title": "Y", "url": "https://b.org/y"},
        ],
    )
    return a, b


def test_a_check_given_key_slash_id_is_narrowed_to_that_catalogs_entry(
    tmp_path: Path, db_url: str, sent_events: list[tuple[str, dict[str, Any]]]
) -> None:
    """`check-catalog` with `entries` (as `linkhealth check --id a/x` starts it): x of
    catalog a only, a bare id in every catalog; a KEY that holds no such ID refuses the
    run, naming it, with a refused run recorded as for any unknown id the flow is given."""
    from flows.check_flow import _named_entries

    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=db_url, catalogs=(a, b))
    engine = open_engine(db_url)  # the database the refusals are recorded in
    ids, pairs = _named_entries(settings, None, ["a/x"], "manual", False)
    assert (ids, pairs) == (["x"], [("a", "x")])
    ids, pairs = _named_entries(settings, ["y"], ["a/x"], "manual", False)
    assert (ids, pairs) == (["y", "x"], [("a", "y"), ("b", "y"), ("a", "x")])
    for typed in ("a/y", "nokey/x"):
        with pytest.raises(NotFoundError, match=f"'{typed}'"):
            _named_entries(settings, None, [typed], "manual", False)
    assert [r.status for r in store.latest_runs(engine)] == ["refused", "refused"]
    engine.dispose()
    assert len(sent_events) == 2
