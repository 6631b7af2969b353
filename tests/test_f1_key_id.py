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
from catalog.ops import RecheckPlan, narrowed, only_in, plan_recheck
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings, Settings
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
    only = only_in(["a/x"])
    plan = plan_recheck(settings, only=only, changed_only=True, clock=lambda: days(2))
    assert plan.ids == ("x",) and plan.picked == (("b", "x"),)
    assert plan.pairs is None  # a/x named, b/x edited: every entry of x
    assert _planned(migrated_db_url, plan) == ["https://a.org/x", "https://b.org/x-moved"]
    # Named alone, a/x is still that catalog's entry only.
    assert narrowed(plan.ids, plan.collections, only) == [("a", "x")]


def test_failing_with_key_slash_id_also_checks_the_other_catalogs_failing_entry(
    tmp_path: Path, migrated_db_url: str
) -> None:
    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=migrated_db_url, catalogs=(a, b))
    plan_recheck(settings, clock=lambda: days(0))
    _checked(migrated_db_url, {**ALL_OK, "https://b.org/x": Outcome.NOT_FOUND})
    only = only_in(["a/x"])
    plan = plan_recheck(settings, only=only, failing_only=True, clock=lambda: days(2))
    assert plan.picked == (("b", "x"),)
    assert plan.pairs is None  # a/x named, b/x failing: every entry of x
    # Nothing failing in b: a/x alone.
    _checked(migrated_db_url, ALL_OK)
    plan = plan_recheck(settings, only=only, failing_only=True, clock=lambda: days(2))
    assert plan.picked == ()
    assert plan.pairs == (("a", "x"),)


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


def _planned(migrated_db_url: str, plan: RecheckPlan) -> list[str]:
    """The URLs a run of the plan checks (what the recheck flow gives `run_check`)."""
    engine = open_engine(migrated_db_url)
    targets = store.targets_for_check(
        engine,
        now=days(2),
        fingerprint_max_age_days=7,
        resource_ids=plan.ids,
        collection_keys=plan.collections,
        entries=plan.pairs,
    )
    engine.dispose()
    return [target.url for target in targets]


def test_changed_checks_the_edited_entry_alone_not_the_other_catalogs_of_its_id(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """`recheck --changed` after only b/x was edited: b/x alone. a/x, not edited, was
    checked too: a plain id picked by `--changed` was taken in every catalog using it.
    Named bare (`recheck x`, or `recheck x --changed`) x is still every catalog's."""
    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=migrated_db_url, catalogs=(a, b))
    plan_recheck(settings, clock=lambda: days(0))
    _checked(migrated_db_url, ALL_OK)
    _two_catalogs(tmp_path, x_in_b="https://b.org/x-moved")
    plan = plan_recheck(settings, changed_only=True, clock=lambda: days(2))
    assert plan.ids == ("x",) and plan.pairs == (("b", "x"),)
    assert _planned(migrated_db_url, plan) == ["https://b.org/x-moved"]
    for ids, changed in ((["x"], False), (["x"], True)):
        plan = plan_recheck(settings, ids=ids, changed_only=changed, clock=lambda: days(2))
        assert plan.pairs is None, (ids, changed)  # every catalog's x
        assert _planned(migrated_db_url, plan) == ["https://a.org/x", "https://b.org/x-moved"]


def test_failing_checks_the_failing_entry_alone_not_the_other_catalogs_of_its_id(
    tmp_path: Path, migrated_db_url: str
) -> None:
    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=migrated_db_url, catalogs=(a, b))
    plan_recheck(settings, clock=lambda: days(0))
    _checked(migrated_db_url, {**ALL_OK, "https://b.org/x": Outcome.NOT_FOUND})
    plan = plan_recheck(settings, failing_only=True, clock=lambda: days(2))
    assert plan.ids == ("x",) and plan.pairs == (("b", "x"),)
    assert _planned(migrated_db_url, plan) == ["https://b.org/x"]


def test_a_selection_that_leaves_no_entry_out_is_not_narrowed(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """Every entry of the picked ids picked (y is b's alone): no list of pairs, which a new
    database's `--changed` would make of every entry, for the run to filter by."""
    a, b = _two_catalogs(tmp_path)
    settings = Settings(database_url=migrated_db_url, catalogs=(a, b))
    plan = plan_recheck(settings, changed_only=True, clock=lambda: days(0))  # never checked
    assert plan.ids == ("x", "y") and plan.pairs is None
    assert narrowed(["x"], ["a", "b"], {}, [("b", "y")]) == [("a", "x"), ("b", "x"), ("b", "y")]
