"""Fixer fx-round2, beside the reviewer's tests/test_rv_round2.py.

The sharded parent flow (`check-catalog-sharded`) refuses the bundled demo catalog into a
database of other collections up front (`catalog.sync.refuse_demo_catalog`), as the shard
runs it starts do: it took and released production's full-run lease, let every shard fail
on the refusal, then wrote the report of that database into the demo's folder.

A read cut where every night's is (the byte cap, the parser's tag cap:
`Observation.text_cut_steady`) still clears a takeover its tail shows gone: only a slow
night's cut leaves the flag (`health._takeover_held`).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine

from catalog import store
from catalog.db import engine_for
from catalog.errors import LinkhealthError
from catalog.settings import load_settings
from tests.test_e1_missed_rot import engine as engine  # the fixture
from tests.test_fx_cut_score import full, page_read
from tests.test_fx_cut_share import FOOT
from tests.test_fx_drift_since import store_night
from tests.test_rv_cut2 import SPAM_FOOTER
from tests.test_rv_round2 import LONG

__all__ = ["engine"]


@pytest.mark.flow
def test_a_sharded_run_refuses_the_demo_catalog_before_its_lease_and_shards(
    prefect_harness: None, toolkit_synced: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started where no settings file names catalogs, with LINKHEALTH_DATABASE_URL naming a
    database of other collections: refused with the demo's sentence, no lease taken, no
    shard run started, no report written. The shard runs are faked as failing on their own
    refusal, as the shard deployment's would."""
    import prefect
    import prefect.deployments
    from prefect.states import Failed

    from flows.check_flow import check_catalog_sharded

    engine = engine_for(load_settings().database_url)
    started: list[list[str]] = []

    def run_deployment(name: str, *, parameters: dict[str, Any], timeout: float) -> Any:
        started.append([lease.name for lease in store.leases(engine)])
        return SimpleNamespace(id=uuid.uuid4())

    class Client:
        def __enter__(self) -> Client:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def read_flow_run(self, flow_id: uuid.UUID) -> Any:
            return SimpleNamespace(state=Failed(message="refused"))

    monkeypatch.setattr(prefect.deployments, "run_deployment", run_deployment)
    monkeypatch.setattr(prefect, "get_client", lambda sync_client: Client())
    with pytest.raises(LinkhealthError) as raised:
        check_catalog_sharded(trigger="manual", poll_seconds=0)
    assert "bundled demo catalog" in str(raised.value)
    assert started == [], "shard runs started (holding the leases named)"
    assert store.leases(engine) == [] and store.latest_runs(engine) == []
    assert not list((toolkit_synced / "var").glob("**/*.html")), "a report was written"


def test_a_read_cut_at_the_byte_cap_past_its_sample_clears_a_takeover_gone(
    engine: Engine,
) -> None:
    """The contrast to the reviewer's slow read: a cut at the byte cap lies where every
    night's read stops, its tail what any night reads: spam gone from it is gone."""
    store_night(engine, full(1))
    store_night(engine, full(2))
    taken = page_read(3, LONG[:2000], tail=f"{LONG[2000:]} {FOOT} {SPAM_FOOTER}")
    assert store_night(engine, taken) == ["drift_detected"]
    capped = replace(
        page_read(4, LONG[:2000], cut=True, tail=f"{LONG[2000:]} {FOOT}"), text_cut_steady=True
    )
    assert store_night(engine, capped) == ["drift_cleared"]
    (state,) = store.link_states(engine)
    assert state.drift_reason is None
