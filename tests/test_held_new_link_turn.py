"""A link added to the catalog while its host is held night after night is asked the
night it is added, not a night later.

A host in maintenance is asked twice a night and its other links are "not sent"; the plan
puts the links a hold left behind first in the host's places (`store.targets_for_check`).
A link never tried (added since the last run) read as no link left behind, so it came
after all of them: its first night it was held too, and only its first try, not sent,
put it at the front the night after. It is the link the database knows least about: it
goes no later than the links whose last try was not sent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from catalog import store
from catalog.check import check_targets
from catalog.sync import sync_catalogs
from tests.factories import days, make_catalog, make_resource, public_resolver, temporary_database
from tests.test_maintenance_host import SETTINGS, run_virtual
from tests.test_u4_held_rotation import HEALTH, HOST, PAGES, web_for


def test_a_link_added_during_a_hold_is_asked_the_night_it_is_added(tmp_path: Path) -> None:
    """Ten pages checked the first night, then every path 503 "come back in two hours":
    two asked a night, the other eight held. On the third night of the hold a page is
    added: that night it is one of the two asked (before, the eight held ones went first
    and it was held, asked only the night after)."""
    added = f"{HOST}/new-guide"
    kit = make_catalog("toolkit", [make_resource(f"r{i}", u) for i, u in enumerate(PAGES)])
    more = make_catalog("toolkit", [*kit.resources, make_resource("new", added)])
    asked_by_night: list[set[str]] = []
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [kit], now=days(0))
        for n in range(5):
            at = days(n)
            if n == 3:
                sync_catalogs(engine, [more], now=days(2.5))
            targets = store.targets_for_check(engine, now=at, fingerprint_max_age_days=7)
            asked: Counter[str] = Counter()
            obs = run_virtual(
                check_targets(
                    targets,
                    SETTINGS,
                    transport=web_for(n, 1, asked),
                    resolver=public_resolver,
                    clock=lambda: at,  # noqa: B023 (run at once)
                )
            )
            store.record_observations(engine, None, obs, HEALTH, now=at)
            asked_by_night.append(set(asked))
            if n >= 1:
                assert len(asked) == 2, asked  # the hold holds: two asked, the rest not sent
    assert added in asked_by_night[3], asked_by_night[3]
    # Its siblings' turns go on: the night after, two of those held longest.
    assert added not in asked_by_night[4]
