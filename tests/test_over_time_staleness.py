"""Staleness over weeks of nightly runs, through storage and `refresh_staleness`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from catalog import store
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from catalog.tables import Resource
from tests.factories import (
    days,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

HEALTH = HealthSettings(unverified_days=14)
WORKS, DIES, NEW = "https://works.example/", "https://dies.example/", "https://new.example/"


def test_three_weeks_of_our_own_outage_make_no_link_unverified(tmp_path: Path) -> None:
    """Our network was down from night 10 to night 30: every try stored as
    network_unavailable. No check reached any site, so a link that worked until then may
    not be called unverified ("open the link by hand ...") for it; a link whose real
    checks failed still is."""
    kit = make_catalog(
        "toolkit",
        [make_resource("works", WORKS), make_resource("dies", DIES), make_resource("new", NEW)],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for night in range(31):
            offline = 10 <= night <= 30
            if offline:
                batch = [
                    make_observation(u, Outcome.NETWORK_UNAVAILABLE, days(night))
                    for u in (WORKS, DIES, NEW)
                ]
            else:
                batch = [
                    make_observation(WORKS, checked_at=days(night)),
                    make_observation(
                        DIES, Outcome.NOT_FOUND if night >= 2 else Outcome.OK, days(night)
                    ),
                ]  # NEW is left out of the first runs' plans (never tried)
            store.record_observations(engine, None, batch, HEALTH, now=days(night))
            store.refresh_staleness(engine, HEALTH, now=days(night))

        with store.read_session(engine) as s:
            rows = s.execute(select(Resource.rid, Resource.stale_reasons)).all()
        stale = {rid: [reason["code"] for reason in reasons or []] for rid, reasons in rows}
    assert "unverified" not in stale["works"]
    assert "unverified" in stale["dies"]  # its real checks failed from night 2 to 9
    # Never checked at all: not verified since it was given, whatever the reason.
    assert "unverified" in stale["new"]
