"""Review of the two fixes on main after tests/test_fx_after_edit.py (README "Curator
decisions", "After editing the catalog"):

- A curator decision's re-sync leaves entries added, removed or renamed by hand for the
  next `linkhealth sync` (`sync_catalogs(edits_only=True)`). The line it prints counts a
  rename as two entries "added to or removed from" the file and names none of them; and a
  decision on the id the database still holds (renamed or moved by hand, not yet synced)
  is refused as a typo ("check the id against the catalog's 'id' fields"), not sent to
  `linkhealth sync`, although the re-sync of every decision now leaves such entries behind.
  The `linkhealth sync` it offers lacks the --catalog the decision was made with (refused
  without a settings file; with one, it retires the unconfigured collection). An entry put
  back by hand and then decided on is itself left, shown removed right after its review.
- `recheck --changed` that picks nothing writes the report again when a sync since the
  latest report changed the catalogs (`RecheckPlan.unshown`), but it counts only the
  changes of the collections still configured: a `linkhealth sync` that retired a
  collection left out of the settings (its entries removed) is not seen, and the report
  keeps listing the retired entries to fix; a sync stamped ahead of the report files keeps
  it written again at each recheck.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.clock import utcnow
from catalog.db import open_engine
from catalog.ops import RecheckPlan, plan_recheck
from catalog.outcomes import Outcome
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from flows.cli import app
from reports.publish import latest_report_written, publish_report
from tests.factories import days
from tests.test_ops import _A, _DEAD, _checked, _write
from tests.test_rv_after_edit import _move_to_dhs, _without_entry, two_catalogs

runner = CliRunner()

__all__ = ["two_catalogs"]  # the fixture, for pytest


def _rename_by_hand(folder: Path, old: str, new: str) -> None:
    """The curator changes the entry's id in toolkit.yaml, its URL as it was (a rename)."""
    path = folder / "toolkit.yaml"
    text = path.read_text(encoding="utf-8")
    assert f"- id: {old}\n" in text
    path.write_text(text.replace(f"- id: {old}\n", f"- id: {new}\n"), encoding="utf-8")


@pytest.mark.parametrize("by_hand", ["renamed", "moved", "renamed-then-decided"])
def test_a_decision_on_an_id_changed_by_hand_since_the_sync_says_to_sync(
    two_catalogs: Path, by_hand: str
) -> None:
    """demandforum renamed demand-forum (or dhs-blue-campaign moved to dhs.yaml) by hand,
    then another entry marked reviewed, whose re-sync leaves the change for `linkhealth
    sync`. `linkhealth resource OLD` still shows the entry and offers `linkhealth
    mark-reviewed OLD`; run, it is refused with "no resource has the id 'OLD'; check the
    id against the catalog's 'id' fields", a typo's advice. The id is the database's,
    changed in the files since the last sync: the error should offer `linkhealth sync`, as
    the new id's error does ("run `linkhealth sync` first if you added or renamed")."""
    if by_hand.startswith("renamed"):
        old = "demandforum"
        _rename_by_hand(two_catalogs, old, "demand-forum")
    else:
        old = "dhs-blue-campaign"
        _move_to_dhs(two_catalogs, old)
    if by_hand != "renamed":
        made = runner.invoke(app, ["mark-reviewed", "faces-of-human-trafficking"])
        assert made.exit_code == 0, made.output
    shown = runner.invoke(app, ["resource", old])
    if by_hand == "renamed-then-decided":
        # The decision's re-sync syncs its file's renames (the edits_only re-sync that left
        # them was reverted): the old id is refused with the new one.
        assert shown.exit_code != 0, shown.output
        assert "renamed to toolkit/demand-forum" in shown.output, shown.output
        return
    assert shown.exit_code == 0, shown.output
    refused = runner.invoke(app, ["mark-reviewed", old])
    assert refused.exit_code != 0, refused.output
    assert "linkhealth sync" in refused.output, refused.output
    assert "changed in the file since the last sync" in refused.output, refused.output


def _mine(folder: Path, *rids: str) -> Path:
    entry = "- id: {0}\n  title: {0}\n  url: https://example.org/{0}\n"
    path = folder / "mine.yaml"
    text = "collection:\n  title: Mine\nresources:\n" + "".join(entry.format(r) for r in rids)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_recheck_that_picks_nothing_refreshes_a_report_older_than_a_retirement(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """toolkit.yaml and dhs.yaml configured, checked (dhs's link dead), reported on day
    1.5; the curator leaves dhs.yaml out of the settings and runs `linkhealth sync` (day
    2), which retires dhs: its entry removed. `recheck --changed` on day 3 picks nothing
    and, counting only the configured collections' changes, writes no report: the one
    of day 1.5 still lists dhs/dead to fix. It should be written again, as for a removal."""
    toolkit = _write(tmp_path / "toolkit.yaml", [_A])
    dhs = _write(tmp_path / "dhs.yaml", [_DEAD])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([toolkit, dhs]), now=days(0))
    _checked(engine, days(1), {_A["url"]: Outcome.OK, _DEAD["url"]: Outcome.NOT_FOUND})
    retired = sync_catalogs(engine, load_catalogs([toolkit]), now=days(2), retire_unlisted=True)
    engine.dispose()
    assert retired.removed == 1 and retired.retired, retired
    plan = plan_recheck(
        Settings(database_url=migrated_db_url, catalogs=(toolkit,)),
        changed_only=True,
        clock=lambda: days(3),
        report_written=lambda: days(1.5),
    )
    assert plan.ids == () and plan.sync_changes == 0, plan
    assert plan.report_only, plan
    assert "1 removed" in plan.synced_words, plan


def test_a_report_written_again_for_a_sync_stamped_ahead_is_not_written_again_each_time(
    tmp_path: Path, migrated_db_url: str
) -> None:
    """The removal was synced by a clock an hour ahead (set back since, or the laptop's
    clock against the server's reports folder): the recheck writes the report again, as
    it should, but the next recheck, and every one for the hour, finds the events still
    later than the report's files and writes it again, saying "1 catalog change synced
    since the last report" of a report that shows it."""
    catalog_file = _write(tmp_path / "toolkit.yaml", [_A, _DEAD])
    engine = open_engine(migrated_db_url)
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
    _checked(engine, days(1), {_A["url"]: Outcome.OK, _DEAD["url"]: Outcome.NOT_FOUND})
    settings = Settings(
        database_url=migrated_db_url, catalogs=(catalog_file,), reports_dir=tmp_path / "reports"
    )
    publish_report(settings)  # the report before the sync
    _write(catalog_file, [_A])
    sync_catalogs(engine, load_catalogs([catalog_file]), now=utcnow() + timedelta(hours=1))

    def plan() -> RecheckPlan:
        return plan_recheck(
            settings,
            changed_only=True,
            report_written=lambda: latest_report_written(settings, engine),
        )

    first = plan()
    assert first.ids == () and first.report_only, first
    publish_report(settings)  # what that recheck does: `publish_after_sync`
    again = plan()
    engine.dispose()
    assert not again.report_only, again


def test_a_decision_on_an_entry_put_back_by_hand_syncs_that_entry(two_catalogs: Path) -> None:
    """demandforum removed by hand and synced (`toolkit/demandforum: removed`), then put
    back (git checkout of the file) and marked reviewed: the review writes reviewed_at
    into its lines, but the re-sync leaves the very entry it edited as "added to or
    removed from toolkit.yaml by hand" (0 edited), so `linkhealth resource demandforum`
    right after the review says `removed: ... (no longer in the catalog)`. The entry the
    decision wrote into is in its file and no half of a move: its re-sync should have it."""
    catalog_file = two_catalogs / "toolkit.yaml"
    before = catalog_file.read_text(encoding="utf-8")
    _without_entry(catalog_file, "demandforum")
    synced = runner.invoke(app, ["sync"])
    assert "toolkit/demandforum: removed" in synced.stdout, synced.output
    catalog_file.write_text(before, encoding="utf-8")  # put back

    made = runner.invoke(app, ["mark-reviewed", "demandforum"])
    assert made.exit_code == 0, made.output
    assert "by hand was left" not in made.stdout, made.stdout
    shown = runner.invoke(app, ["resource", "demandforum"])
    assert shown.exit_code == 0, shown.output
    assert "no longer in the catalog" not in shown.stdout, shown.stdout
