"""Reviewer rv-round2: the demo-catalog guard moved into the library (fx-operator) and the
takeover flag a short read holds (fx-slow-takeover).

README, Configuration: the library refuses the bundled demo toolkit into a database of
other collections "the same way (`ConfigError`, nothing written: `catalog.runs.prepare_run`
and the recheck's plan ask `catalog.sync.refuse_demo_catalog` before they sync), so a flow
run of `serve` or a worker started in such a folder, and a script of Library use, fail with
that sentence". A run given ids (`resource_ids`, `entries` as `KEY/ID`) looks its ids up in
the demo catalog first: the production ids are not there, so it fails with "no resource
with id ..." instead, and a flow run records that as a `refused` run in the very database
it was not to touch (`linkhealth status` lists it as the night's, with a wrong reason) and
sends `linkhealth.run.refused` saying the id is unknown.

README, Drift: a slow night's read "never clears a takeover's flag (spam markers), whose spam
may lie in the footer it never reached ... only a read that reached the sample does".
`health._takeover_held` holds the flag only for a read short of its 2,000-character sample;
a slow night's read of a long page gets past its sample and stops at its first 256 KiB all
the same, its tail (`text_tail`) the text before the cut, not the page's end where the
footer's spam lies. Judged as a full read, it cleared the takeover ("matches again") and
the next full read flagged it anew: the news and the "since" date the fix was for.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.check.fetch import SLOW_BODY_BYTES
from catalog.db import engine_for
from catalog.errors import ConfigError, LinkhealthError
from catalog.runs import prepare_run
from catalog.settings import load_settings
from tests.factories import days
from tests.test_e1_missed_rot import GUIDE, TITLE
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_fx_cut_score import full, page_read
from tests.test_fx_cut_share import FOOT, MENU
from tests.test_fx_drift_since import store_night
from tests.test_rv_cut2 import SPAM_FOOTER

__all__ = ["engine"]


def test_a_library_run_of_named_ids_is_refused_for_the_demo_catalog(
    toolkit_synced: Path,
) -> None:
    """`prepare_run(settings, resource_ids=[...])` from a folder without linkhealth.toml,
    LINKHEALTH_DATABASE_URL naming a database of other collections: the demo refusal (what
    to fix: run it where the settings file is), not "no resource with id 'a'" (the id is
    right; it is the catalog that is wrong)."""
    settings = load_settings()  # LINKHEALTH_DATABASE_URL=sqlite:///var/lh.db, no toml
    with pytest.raises(ConfigError, match="bundled demo catalog"):
        prepare_run(settings, trigger="script", resource_ids=["a"])
    assert store.latest_runs(engine_for(settings.database_url)) == []


@pytest.mark.parametrize(
    ("ids", "entries"), [(["a"], None), (None, ["toolkit/a"])], ids=["ids", "entries"]
)
def test_a_flow_run_of_named_ids_records_nothing_for_the_demo_catalog(
    prefect_harness: None,
    toolkit_synced: Path,
    sent_events: list[tuple[str, dict[str, Any]]],
    ids: list[str] | None,
    entries: list[str] | None,
) -> None:
    """A `check-catalog` flow run (serve, a worker) given ids, started where no settings
    file names catalogs: refused for the demo catalog, nothing written to the database of
    other collections. It recorded a `refused` run there ("no resource with id 'a' in the
    catalogs"), which `linkhealth status` of production then shows as the latest run, and
    announced that wrong reason."""
    from flows.check_flow import check_catalog

    with pytest.raises(LinkhealthError) as raised:
        check_catalog(render=False, resource_ids=ids, entries=entries)
    assert "bundled demo catalog" in str(raised.value)
    assert store.latest_runs(engine_for(load_settings().database_url)) == []
    assert not [p for _, p in sent_events if "no resource with id" in str(p.get("reason"))]


#: The guide's long page: its text runs well past the 2,000-character sample.
LONG = f"{MENU} {TITLE}. " + " ".join([GUIDE] * 6)


def test_a_slow_read_past_its_sample_keeps_a_takeover_seen_in_the_footer(
    engine: Engine,
) -> None:
    """A full read finds spam in the long page's footer (its tail): a takeover. A slow
    night's read then stops at its first 256 KiB, past the sample but long before the
    footer (its tail is guide text): it cannot tell the spam went, and must leave the flag
    and its date as they are, as a read short of its sample does."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    taken = page_read(3, LONG[:2000], tail=f"{LONG[2000:]} {FOOT} {SPAM_FOOTER}")
    assert store_night(engine, taken) == ["drift_detected"]
    slow = replace(
        page_read(4, LONG[:2000], cut=True, tail=LONG[2000:]), bytes_read=SLOW_BODY_BYTES
    )
    assert store_night(engine, slow) == []
    (state,) = store.link_states(engine)
    assert state.drift_reason is not None and state.drift_since == days(3)
