"""An entry named `KEY/ID` where two catalogs use the id: what a check and a recheck take
it to mean, without Prefect (the runs themselves are in
tests/test_f1_key_id_runs.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog import store
from catalog.db import open_engine
from catalog.errors import NotFoundError
from catalog.ops import plan_recheck
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings, Settings
from flows.check_flow import narrowed, only_in
from tests.factories import days, make_observation


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


def _checked(migrated_db_url: str, outcomes: dict[str, Outcome]) -> None:
    engine = open_engine(migrated_db_url)
    run_id = store.start_run(engine, trigger="test", now=days(1))
    observations = [make_observation(url, outcome, days(1)) for url, outcome in outcomes.items()]
    store.record_observations(engine, run_id, observations, HealthSettings(), now=days(1))
    engine.dispose()


ALL_OK = {u: Outcome.OK for u in ("https://a.org/x", "https://b.org/x", "https://b.org/y")}


def test_changed_with_key_slash_id_also_checks_the_other_catalogs_edited_entry(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """`recheck a/x --changed` after b/x was edited: the selection is the named entry and
    the edited ones, so b/x too. It was dropped: x was narrowed to catalog a."""
    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=migrated_db_url, catalogs=(a, b))
    plan_recheck(settings, clock=lambda: days(0))  # synced
    _checked(migrated_db_url, ALL_OK)
    _two_catalogs(tmp_path, x_in_b="https://b.org/x-moved")
    plan = plan_recheck(settings, ids=["x"], changed_only=True, clock=lambda: days(2))
    assert plan.ids == ("x",) and plan.picked == (("b", "x"),)
    only = only_in(["a/x"])
    assert narrowed(plan.ids, plan.collections, only, plan.picked) == [("a", "x"), ("b", "x")]
    # Named alone, a/x is still that catalog's entry only.
    assert narrowed(plan.ids, plan.collections, only) == [("a", "x")]


def test_failing_with_key_slash_id_also_checks_the_other_catalogs_failing_entry(
    tmp_path: Path, migrated_db_url: str
) -> None:
    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=migrated_db_url, catalogs=(a, b))
    plan_recheck(settings, clock=lambda: days(0))
    _checked(migrated_db_url, {**ALL_OK, "https://b.org/x": Outcome.NOT_FOUND})
    plan = plan_recheck(settings, ids=["x"], failing_only=True, clock=lambda: days(2))
    assert plan.picked == (("b", "x"),)
    pairs = narrowed(plan.ids, plan.collections, only_in(["a/x"]), plan.picked)
    assert pairs == [("a", "x"), ("b", "x")]
    # Nothing failing in b: a/x alone.
    _checked(migrated_db_url, ALL_OK)
    plan = plan_recheck(settings, ids=["x"], failing_only=True, clock=lambda: days(2))
    assert plan.picked == ()
    assert narrowed(plan.ids, plan.collections, only_in(["a/x"]), plan.picked) == [("a", "x")]


def test_a_check_given_key_slash_id_is_narrowed_to_that_catalogs_entry(
    tmp_path: Path, migrated_db_url: str, sent_events: list[tuple[str, dict[str, Any]]]
) -> None:
    """`check-catalog` with `entries` (as `linkhealth check --id a/x` starts it): x of
    catalog a only, a bare id in every catalog; a KEY that holds no such ID refuses the
    run, naming it, with a refused run recorded as for any unknown id the flow is given."""
    from flows.check_flow import _named_entries

    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=migrated_db_url, catalogs=(a, b))
    engine = open_engine(migrated_db_url)  # the database the refusals are recorded in
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
