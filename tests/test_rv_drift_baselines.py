"""Reviewer's tests of 0a1dcc1 (a flagged entry judged by the baseline it drifted from).

`drift_baselines` takes each flagged entry's baseline from the link's scored checks
before the entry's drift began (`groups.entry_drift_since`). A takeover dates the flag on
every entry from the earliest drift still flagged (`health.apply_drift`), so an entry that
joined the link after that date has no scored check before it: judged with no history,
a restored page that still lacks it "matches the entry again". Before the change its own
scores (the link's newest scored checks: a takeover stores none) kept it flagged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests.factories import days, temporary_database, write_catalog
from tests.test_d1_drift_per_entry import (
    CASINO,
    DIRECTORY,
    ENTRIES,
    GUIDE,
    MORE,
    POSTER,
    TITLE,
    drifted_entries,
    flagged,
    night,
)

#: The guide alone; the guide and the poster (not the directory).
GUIDE_ONLY = f"{TITLE}. {GUIDE} {MORE}"
GUIDE_AND_POSTER = f"{TITLE}. {GUIDE} {POSTER} {MORE}"
GUIDE_AND_DIRECTORY = f"{TITLE}. {GUIDE} {DIRECTORY} {MORE}"


@pytest.mark.parametrize("joined", ["url-edited", "added"])
def test_an_entry_joining_a_flagged_page_then_taken_over_stays_flagged_after_restore(
    tmp_path: Path, joined: str
) -> None:
    """The page drops the directory (flagged from night 2). The curator then points the
    poster at this page (a URL edit: it was elsewhere; or a new entry), and five nights it
    holds the poster. A takeover flags every entry, dated from night 2. The site comes back
    holding the guide alone: the poster is not on it, yet it is told "matches again" (its
    baseline is read from before night 2, when it was not on the page: none)."""
    elsewhere = "https://posters.example/hotline"
    poster = [{**ENTRIES[2], "url": elsewhere}] if joined == "url-edited" else []
    first = [ENTRIES[0], ENTRIES[1], *poster, ENTRIES[3]]
    catalog_file = write_catalog(tmp_path / "toolkit.yaml", first)
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=days(0))
        for day in (0, 1):
            night(engine, day, GUIDE_AND_DIRECTORY)
        _moved_then_taken_over(engine, catalog_file)


def _moved_then_taken_over(engine: Engine, catalog_file: Path) -> None:
    assert night(engine, 2, GUIDE_ONLY) == ["drift_detected directory"]
    write_catalog(catalog_file, ENTRIES)  # the poster's URL edited to the shared page
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(4.5))
    for day in range(5, 10):
        assert night(engine, day, GUIDE_AND_POSTER) == []
    assert flagged(engine) == ["directory"]
    told = [e for day in range(10, 13) for e in night(engine, day, CASINO)]
    assert sorted(told) == ["drift_detected guide", "drift_detected poster"]
    assert drifted_entries(engine) is None  # every entry, dated from the directory's drift
    # Restored without the poster (nor the directory): only the guide matches again.
    assert night(engine, 13, GUIDE_ONLY) == ["drift_cleared guide"]
    assert flagged(engine) == ["directory", "poster"]
