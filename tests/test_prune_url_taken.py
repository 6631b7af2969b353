"""`db prune` and the entries that took their URL after its link's problem began.

Such an entry's row counts its own checks of the URL (`ResourceRow.own_checks`), from the
first check after it took it (`own_since`): the address's earlier checks were another
entry's. A prune deleted those checks with the rest, and the row counted what was left:
"2 checks since night 8" where the same nights unpruned said "4 checks since night 6".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event

from catalog.retention import prune_observations
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from tests.factories import days, temporary_database, write_catalog
from tests.test_d1_drift_per_entry import ENTRIES
from tests.test_prune_differential import SOLO, _store, replay

#: The poster, moved by a curator's edit onto the solo entry's address.
MOVED = [*ENTRIES[:2], {**ENTRIES[2], "url": SOLO}, ENTRIES[3]]


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[Engine, Engine, Path]]:
    with (
        temporary_database(tmp_path, "plain.db") as plain,
        temporary_database(tmp_path, "pruned.db") as pruned,
    ):
        yield plain, pruned, tmp_path / "toolkit.yaml"


NIGHTS = st.lists(
    st.tuples(
        st.sampled_from(["all", "two", "404", "offline"]),
        st.sampled_from(["all", "404", "500", "offline", "held"]),
        st.sampled_from([0, 0, 0, 1, 2, 3]),  # prune after the night, keeping N days
    ),
    min_size=2,
    max_size=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(nights=NIGHTS, edited=st.integers(min_value=1, max_value=11))
# The solo address failing since night 2, the poster moved onto it after night 5, pruned
# keeping 2 days at night 9: the poster's row said 2 checks since night 8, not 4 since 6.
@example(nights=[("all", "404", 0)] * 7 + [("all", "404", 2)], edited=4)
# Our network down the night after the edit (no check), then pruned twice: its first own
# check, the next night's, is kept, and each prune adds to the count since the edit.
@example(
    nights=[("all", "404", 0)] * 3
    + [("all", "offline", 0), ("all", "404", 0), ("all", "404", 0), ("all", "404", 1)]
    + [("all", "404", 0), ("all", "404", 2)],
    edited=3,
)
def test_an_entry_that_took_its_url_counts_its_pruned_checks(
    databases: tuple[Engine, Engine, Path], nights: list[tuple[str, str, int]], edited: int
) -> None:
    replay(
        databases,
        [(*night, MOVED if i == edited else None) for i, night in enumerate(nights)],
        every_night=True,
    )


#: The catalog as curators edit it, by name: the poster moved onto the solo address; the
#: guide moved there too, later or alone (two entries sharing one URL taking it at
#: different times); the poster removed, then put back on the solo address (re-added with
#: another URL, not edited).
CATALOGS: dict[str, list[dict[str, str]]] = {
    "base": ENTRIES,
    "moved": MOVED,
    "both": [{**ENTRIES[0], "url": SOLO}, ENTRIES[1], {**ENTRIES[2], "url": SOLO}, ENTRIES[3]],
    "guide": [{**ENTRIES[0], "url": SOLO}, *ENTRIES[1:]],
    "gone": [*ENTRIES[:2], ENTRIES[3]],
    "gone, guide moved": [{**ENTRIES[0], "url": SOLO}, ENTRIES[1], ENTRIES[3]],
}

EDITED_NIGHTS = st.lists(
    st.tuples(
        st.sampled_from(["all", "two", "404", "offline"]),
        st.sampled_from(["all", "404", "500", "offline", "held"]),
        st.sampled_from([0, 0, 0, 1, 1, 2, 3]),  # prune after the night, keeping N days
        st.sampled_from([None, None, *CATALOGS]),  # the catalog synced before it (None: kept)
    ),
    min_size=2,
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(nights=EDITED_NIGHTS)
def test_entries_taking_urls_at_any_time_read_alike_pruned(
    databases: tuple[Engine, Engine, Path], nights: list[tuple[str, str, int, str | None]]
) -> None:
    """Any sequence of edits, removals and re-additions around prunes: every reader says
    the same of every entry, pruned or not."""
    replay(
        databases,
        [
            (shared, solo, keep, None if name is None else CATALOGS[name])
            for shared, solo, keep, name in nights
        ],
    )


def test_a_prune_reads_the_entries_takes_once_not_per_chunk_deleted(
    databases: tuple[Engine, Engine, Path],
) -> None:
    """When each entry took its URL is read as the links are scanned, not again for each
    chunk of observations deleted: at 100,000 links a chunk of 5,000 touches ~5,000
    links, and their entries' events were read ten times a chunk, thousands of chunks a
    year of nights."""
    _, engine, file = databases
    write_catalog(file, ENTRIES)
    sync_catalogs(engine, load_catalogs([file]), now=days(0))
    for night in range(1, 11):
        if night == 4:
            write_catalog(file, MOVED)
            sync_catalogs(engine, load_catalogs([file]), now=days(night - 0.5))
        _store(engine, night, "all", "404")
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM events JOIN resources" in statement:  # `urls_taken`
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        # Two links scanned one at a time, chunks of one observation deleted.
        result = prune_observations(engine, 2, now=days(10.02), vacuum=False, chunk=1)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.deleted >= 5
    assert len(reads) <= 2, reads
