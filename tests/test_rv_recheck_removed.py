"""Review of 1bd3c07 (`linkhealth recheck ID` of an entry just removed from the catalog: said,
synced, report written again, exit 0). The fix accepts the bare id; the other ways a
curator names that same entry still get the "check the id in the catalog file" refusal
(exit 4) the fix meant to end:

- `KEY/ID`, the form verdicts name entries in, and the form of the fix's own message
  ("toolkit/dead: removed from the catalog ..."): `bare_ids` only makes `KEY/ID` bare when
  the catalog file still holds it, and the flow's `_refuse_unheld` refuses a `KEY/ID` whose
  catalog holds no active entry, whatever the plan found removed.
- an id typed in the other Unicode form than the file held (`ids_as_held` exists for
  that): `ids_as_held` looks the forms up without `removed_known`, so the typed form stays
  and `removed_entries` (exact match) finds nothing.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.db import engine_for, open_engine
from catalog.ops import plan_recheck
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings, Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import copy_migrated_sqlite, days, make_observation, write_catalog

runner = CliRunner()
_A = {"id": "a", "title": "A", "url": "https://example.org/a"}
_DEAD = {"id": "dead", "title": "Dead", "url": "https://example.org/dead"}


def _checked(catalog_file: Path, db_url: str, entries: list[dict[str, str]]) -> None:
    """`entries` written to `catalog_file`, synced and checked (the last one's link gone)."""
    write_catalog(catalog_file, entries)
    engine = open_engine(db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
    run_id = store.start_run(engine, trigger="test", now=days(1))
    found = [make_observation(e["url"], Outcome.OK, days(1)) for e in entries[:-1]]
    found.append(make_observation(entries[-1]["url"], Outcome.NOT_FOUND, days(1)))
    store.record_observations(engine, run_id, found, HealthSettings(), now=days(1))
    engine.dispose()


@pytest.fixture
def cli_folder(isolated_cwd: Path, no_prefect_api: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with linkhealth.toml naming toolkit.yaml and var/lh.db (migrated)."""
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/lh.db"\ncatalogs = ["toolkit.yaml"]\n', encoding="utf-8"
    )
    copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")
    return isolated_cwd


def test_recheck_key_slash_id_of_the_entry_just_removed_is_not_refused_as_a_typo(
    cli_folder: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """`recheck toolkit/dead`, as the verdicts (and the fix's own message) name the entry:
    refused before the flow run with "no resource with id 'toolkit/dead' ...; check the id
    in the catalog file", exit 4, while `recheck dead` is accepted."""
    _checked(cli_folder / "toolkit.yaml", "sqlite:///var/lh.db", [_A, _DEAD])
    write_catalog(cli_folder / "toolkit.yaml", [_A])  # the curator removes the dead entry
    bare = runner.invoke(app, ["recheck", "dead"])
    assert bare.exit_code == 0, bare.output  # (holds)
    flow_calls.clear()
    named = runner.invoke(app, ["recheck", "toolkit/dead"])
    assert named.exit_code == 0, named.output
    assert len(flow_calls) == 1


def test_the_recheck_flow_does_not_refuse_key_slash_id_of_an_entry_its_sync_removed(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The flow (the deployment run with entries=["toolkit/dead"], or the CLI once it lets
    the name through): `plan_recheck` finds toolkit/dead removed, then `_refuse_unheld`
    refuses it as unknown, after the sync, with no report written again."""
    from flows.recheck_flow import _refuse_unheld

    catalog_file = tmp_path / "toolkit.yaml"
    _checked(catalog_file, migrated_db_url, [_A, _DEAD])
    write_catalog(catalog_file, [_A])
    settings = Settings(database_url=migrated_db_url, catalogs=(catalog_file,))
    only = {"dead": {"toolkit"}}
    plan = plan_recheck(settings, only=only, clock=lambda: days(2))
    assert plan.ids == () and [k for k, _, _ in plan.removed] == ["toolkit"]  # (holds)
    engine = engine_for(migrated_db_url)
    _refuse_unheld(engine, plan.collections, only)  # raises NotFoundError 'toolkit/dead'


def test_recheck_of_a_removed_id_typed_in_the_other_unicode_form_is_not_refused(
    cli_folder: Path, flow_calls: list[dict[str, Any]]
) -> None:
    """The file held `café` decomposed (pasted from a macOS file name), the curator types it
    composed: accepted while the entry is in the catalog (`ids_as_held`), refused as a
    typo (exit 4) once its removal is synced (`linkhealth sync`, or a first recheck), though
    the decomposed form is accepted then."""
    held = unicodedata.normalize("NFD", "café")
    typed = unicodedata.normalize("NFC", "café")
    assert held != typed
    entry = {"id": held, "title": "Café", "url": "https://example.org/cafe"}
    _checked(cli_folder / "toolkit.yaml", "sqlite:///var/lh.db", [_A, entry])
    before = runner.invoke(app, ["recheck", typed])
    assert before.exit_code == 0, before.output  # (holds: found in its held form)
    write_catalog(cli_folder / "toolkit.yaml", [_A])  # the curator removes it, then syncs
    engine = open_engine("sqlite:///var/lh.db")
    sync_catalogs(engine, load_catalogs([cli_folder / "toolkit.yaml"]), now=days(2))
    engine.dispose()
    as_held = runner.invoke(app, ["recheck", held])
    assert as_held.exit_code == 0, as_held.output  # (holds)
    as_typed = runner.invoke(app, ["recheck", typed])
    assert as_typed.exit_code == 0, as_typed.output
