"""Review of what a curator does right after editing the catalog file (README: "After
editing the catalog", "Curator decisions", "Catalog files"), on the real PSP toolkit.

- An entry moved by hand from one configured catalog file to another keeps its decisions
  when the next `linkhealth sync` syncs both files ("moved from toolkit"). A curator
  decision made meanwhile on another entry (`mark-reviewed`, `replace-url`,
  `accept-redirect`) re-syncs only the file it edits (`decisions._resync`): the moved
  entry is removed from its old collection there ("1 removed" in the count line, nothing
  more), and the next sync adds it to the new file anew. Its ignore (a login wall) is lost
  and the entry is back in the action queue, though the curator did what the README says.
- `linkhealth recheck --changed` after an entry was removed "still refreshes" the report
  "so that the entry is no longer listed to fix". When the curator ran `linkhealth sync`
  first (to see what the edit changes, as the README's rename steps do), the recheck says
  "Nothing to recheck." and writes no report: the removed entry stays listed as broken
  until the night (`RecheckPlan.report_only` looks only at this recheck's own sync).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import store
from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.outcomes import Outcome
from catalog.settings import BUNDLED_CATALOG, HealthSettings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from tests.factories import copy_migrated_sqlite, make_observation

runner = CliRunner()

#: The real toolkit the curators edit (the shared copy when this checkout has one beside it).
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / BUNDLED_CATALOG.name
TOOLKIT = _SHARED if _SHARED.exists() else BUNDLED_CATALOG
DEMANDFORUM_URL = "https://demand-forum.org/"


def _entry_block(text: str, rid: str) -> tuple[int, int]:
    """Start and end (line indexes) of entry `rid` in the toolkit's `- id:` list."""
    lines = text.split("\n")
    start = lines.index(f"- id: {rid}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("- id: ")), len(lines)
    )
    return start, end


def _without_entry(path: Path, rid: str) -> list[str]:
    """Remove entry `rid` from the catalog file, as a curator deletes its lines; its lines."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start, end = _entry_block("\n".join(lines), rid)
    path.write_text("\n".join(lines[:start] + lines[end:]), encoding="utf-8")
    return lines[start:end]


@pytest.fixture
def two_catalogs(isolated_cwd: Path, no_prefect_api: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """toolkit.yaml (the real toolkit) and dhs.yaml configured and synced into var/lh.db."""
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    shutil.copyfile(TOOLKIT, isolated_cwd / "toolkit.yaml")
    (isolated_cwd / "dhs.yaml").write_text(
        "collection:\n  title: DHS resources\nresources:\n"
        "- id: dhs-stub\n  title: DHS stub\n  url: https://www.dhs.gov/stub\n",
        encoding="utf-8",
    )
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/lh.db"\ncatalogs = ["toolkit.yaml", "dhs.yaml"]\n',
        encoding="utf-8",
    )
    copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")
    synced = runner.invoke(app, ["sync"])
    assert synced.exit_code == 0, synced.output
    return isolated_cwd


def _move_to_dhs(folder: Path, rid: str) -> None:
    block = _without_entry(folder / "toolkit.yaml", rid)
    with (folder / "dhs.yaml").open("a", encoding="utf-8") as dhs:
        dhs.write("\n".join(block).rstrip("\n") + "\n")


@pytest.mark.parametrize(
    "decision",
    [
        ["mark-reviewed", "demandforum"],  # another entry of the file the move left
        ["mark-reviewed", "dhs-stub"],  # an entry of the file the move went to
        ["replace-url", "demandforum", "https://demand-forum.example.org/"],
    ],
)
def test_a_decision_made_between_a_move_and_its_sync_keeps_the_moved_entrys_ignore(
    two_catalogs: Path, decision: list[str]
) -> None:
    """The curator ignores dhs-blue-campaign (a login wall), moves its lines to dhs.yaml,
    records a decision about some other entry, then syncs: the entry should be
    `dhs/dhs-blue-campaign: moved from toolkit`, still ignored, as without that decision.
    It is `added` instead, its ignore left on the removed toolkit row."""
    ignored = runner.invoke(app, ["ignore", "dhs-blue-campaign", "--reason", "login wall"])
    assert ignored.exit_code == 0, ignored.output
    _move_to_dhs(two_catalogs, "dhs-blue-campaign")

    made = runner.invoke(app, decision)
    assert made.exit_code == 0, made.output
    synced = runner.invoke(app, ["sync"])
    assert synced.exit_code == 0, synced.output

    assert "dhs/dhs-blue-campaign: moved from toolkit" in synced.stdout, made.stdout + synced.stdout
    shown = runner.invoke(app, ["resource", "dhs-blue-campaign"])
    assert shown.exit_code == 0, shown.output
    assert "ignored since" in shown.stdout and "login wall" in shown.stdout, shown.stdout


def test_without_the_decision_between_the_move_is_kept(two_catalogs: Path) -> None:
    """(holds) The same move synced at once keeps the ignore: the control of the test above."""
    ignored = runner.invoke(app, ["ignore", "dhs-blue-campaign", "--reason", "login wall"])
    assert ignored.exit_code == 0, ignored.output
    _move_to_dhs(two_catalogs, "dhs-blue-campaign")
    synced = runner.invoke(app, ["sync"])
    assert "dhs/dhs-blue-campaign: moved from toolkit" in synced.stdout, synced.output
    shown = runner.invoke(app, ["resource", "dhs-blue-campaign"])
    assert "login wall" in shown.stdout


@pytest.mark.flow
@pytest.mark.parametrize("synced_first", [True, False], ids=["sync-then-recheck", "holds"])
def test_recheck_changed_after_a_sync_of_a_removal_still_refreshes_the_report(
    prefect_api: str, isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, synced_first: bool
) -> None:
    """The report lists demandforum's link (404) to fix; the curator removes the entry as
    the report advises, runs `linkhealth sync` (it says `toolkit/demandforum: removed`),
    then `linkhealth recheck --changed`: "Nothing to recheck." and the report still lists
    the removed entry. Without the sync in between, the same recheck writes it again."""
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    catalog_file = isolated_cwd / "toolkit.yaml"
    shutil.copyfile(TOOLKIT, catalog_file)
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/lh.db"\ncatalogs = ["toolkit.yaml"]\n', encoding="utf-8"
    )
    copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")
    engine = open_engine("sqlite:///var/lh.db")
    checked = utcnow()
    (catalog,) = load_catalogs([catalog_file])
    sync_catalogs(engine, [catalog], now=checked)
    found = [
        make_observation(
            r.url, Outcome.NOT_FOUND if r.id == "demandforum" else Outcome.OK, checked_at=checked
        )
        for r in catalog.resources
    ]
    store.record_observations(engine, None, found, HealthSettings(), now=checked)
    engine.dispose()
    assert runner.invoke(app, ["report"]).exit_code == 0
    latest = isolated_cwd / "var" / "reports" / "latest.html"
    assert DEMANDFORUM_URL in latest.read_text(encoding="utf-8")

    _without_entry(catalog_file, "demandforum")  # the curator removes the dead entry
    if synced_first:
        synced = runner.invoke(app, ["sync"])
        assert "toolkit/demandforum: removed" in synced.stdout, synced.output

    result = runner.invoke(app, ["recheck", "--changed"])
    assert result.exit_code == 0, result.output
    assert "report written to" in result.stdout, result.stdout
    assert DEMANDFORUM_URL not in latest.read_text(encoding="utf-8")
