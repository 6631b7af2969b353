"""Scale-out by host shard: every host in exactly one shard, a host's URLs never split."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from catalog import store
from catalog.errors import ConfigError
from catalog.model import Target
from catalog.queries import report_data
from catalog.runs import LEASE_TTL, RunInProgressError, abandon_run, finish_run, prepare_run
from catalog.settings import CheckSettings, HostPolicy
from catalog.shards import (
    FULL_RUN_LEASE,
    SHARDED_RUN,
    Shard,
    all_shards,
    lease_name,
    plan_shard,
    shard_of,
)
from tests.factories import T0, settings_for, temporary_database, write_catalog

HOSTS = [f"www.site{i}.example.org" for i in range(200)] + ["EXAMPLE.org", "127.0.0.1"]


def _targets() -> list[Target]:
    return [
        Target(url=f"https://{host}/page{n}", host=host, resource_ids=(f"{host}-{n}",))
        for i, host in enumerate(HOSTS)
        for n in range(1 + i % 4)
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_url_falls_in_exactly_one_shard(count: int) -> None:
    targets = _targets()
    seen = Counter(
        t.url
        for shard in all_shards(count)
        for batch in plan_shard(targets, 5, shard)
        for t in batch.targets
    )
    assert set(seen) == {t.url for t in targets}
    assert set(seen.values()) == {1}


@pytest.mark.parametrize("count", [2, 3, 7])
def test_a_hosts_urls_are_never_split_across_shards(count: int) -> None:
    shards_of_host: dict[str, set[Shard]] = {}
    for shard in all_shards(count):
        for batch in plan_shard(_targets(), 5, shard):
            for target in batch.targets:
                shards_of_host.setdefault(target.host, set()).add(shard)
    assert all(len(found) == 1 for found in shards_of_host.values())


def test_shards_share_the_hosts_roughly_evenly() -> None:
    sizes = Counter(shard_of(h, 4) for h in HOSTS)
    assert len(sizes) == 4 and min(sizes.values()) > len(HOSTS) / 8


def test_shard_of_a_host_is_the_same_in_every_process() -> None:
    # Python's own hash() is salted per process; the shard must not be.
    code = "from catalog.shards import shard_of; print(shard_of('www.site7.example.org', 5))"
    root = Path(__file__).resolve().parents[1]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
        ).stdout.strip()
        for _ in range(2)
    }
    assert outputs == {str(shard_of("www.site7.example.org", 5))}


def test_shard_ignores_host_case() -> None:
    assert shard_of("Example.ORG", 5) == shard_of("example.org", 5)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_malformed_shards_are_configuration_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        Shard.parse(text)


def test_each_shard_has_a_lease_of_its_own() -> None:
    assert Shard.parse(" 2 / 3 ") == Shard(2, 3)
    assert lease_name(Shard(2, 3)) == "full-run:2/3"
    assert lease_name(None) == FULL_RUN_LEASE


def test_shard_runs_plan_only_their_hosts_and_may_run_side_by_side(tmp_path: Path) -> None:
    urls = [f"https://{h}/page" for h in HOSTS[:40]]
    entries = [{"id": f"r{i}", "title": f"Resource {i}", "url": u} for i, u in enumerate(urls)]
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [write_catalog(tmp_path / "catalog.yaml", entries)])
        runs = [
            prepare_run(settings, trigger="schedule", lease=s.lease_name, shard=s)
            for s in all_shards(2)
        ]
        planned = [t.url for run in runs for b in run.batches for t in b.targets]
        assert sorted(planned) == sorted(urls)
        assert all(run.lease is not None for run in runs)


def test_a_shard_is_planned_with_the_hosts_politeness() -> None:
    # plan_shard passes the politeness on: a host slowed to 0.1/s (its 4 URLs: 40 s) is
    # the longest of its shard and leads the first batch, ahead of hosts with more URLs.
    shard = Shard(1, 2)
    slow = next(h for i, h in enumerate(HOSTS) if shard.holds(h) and i % 4 == 3)
    check = CheckSettings(hosts={slow.lower(): HostPolicy(per_host_rate=0.1)})
    batches = plan_shard(_targets(), 50, shard, check=check)
    assert slow in batches[0].hosts
    assert all(shard.holds(h) for b in batches for h in b.hosts)
    assert plan_shard(_targets(), 50, shard)[0].hosts != batches[0].hosts


def test_an_unsharded_full_run_waits_for_shard_runs_still_checking(tmp_path: Path) -> None:
    """A sharded run whose waiting parent was cancelled gives the full-run lease back while
    its shards go on checking their hosts (seen with `prefect flow-run cancel`): a full run
    started then would fetch the same hosts from a second process. It is refused instead,
    naming the shard run, until the shard leases are gone."""
    entries = [
        {"id": f"r{i}", "title": f"R {i}", "url": f"https://{h}/"} for i, h in enumerate(HOSTS[:8])
    ]
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [write_catalog(tmp_path / "catalog.yaml", entries)])
        shard = prepare_run(
            settings, trigger="schedule", lease=Shard(2, 2).lease_name, shard=Shard(2, 2)
        )
        with pytest.raises(
            RunInProgressError, match=r"lease 'full-run:2/2' is held by .* \(run 1\)"
        ):
            prepare_run(settings, trigger="manual", lease=FULL_RUN_LEASE)
        assert store.get_lease(engine, FULL_RUN_LEASE) is None
        assert shard.lease is not None
        store.release_lease(engine, shard.lease.name, shard.lease.holder)
        full = prepare_run(settings, trigger="manual", lease=FULL_RUN_LEASE)
        assert full.lease is not None and full.lease.name == FULL_RUN_LEASE


def _shard_entries() -> list[dict[str, str]]:
    return [
        {"id": f"r{i}", "title": f"R {i}", "url": f"https://{h}/"} for i, h in enumerate(HOSTS[:8])
    ]


def test_shards_of_a_sharded_run_that_died_group_themselves_when_the_last_ends(
    tmp_path: Path,
) -> None:
    """`prefect flow-run cancel` on the waiting sharded run (or its worker dying) leaves its
    shards checking; they end on their own, and the last to end makes them one night, as
    the sharded run would have: status and reports must not show two half runs."""
    with temporary_database(tmp_path) as engine:
        settings = settings_for(
            engine, [write_catalog(tmp_path / "catalog.yaml", _shard_entries())]
        )
        first, second = (
            prepare_run(
                settings, trigger="schedule", lease=s.lease_name, shard=s, sharded_run="night-1"
            )
            for s in all_shards(2)
        )
        finish_run(settings, first.run_id, stored=[], lease=first.lease)
        assert SHARDED_RUN not in store.get_run(engine, first.run_id).summary  # one still runs
        abandon_run(settings, second, reason="RuntimeError: boom")  # ends failed
        runs = [store.get_run(engine, p.run_id) for p in (first, second)]
        assert [r.summary[SHARDED_RUN] for r in runs] == ["night-1", "night-1"]
        night = report_data(engine).run
        assert night is not None and sorted(night.run_ids) == [first.run_id, second.run_id]
        assert night.whole and night.status == "failed"


def test_a_dead_shard_found_by_the_next_run_completes_its_night(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        settings = settings_for(
            engine, [write_catalog(tmp_path / "catalog.yaml", _shard_entries())]
        )
        first, second = (
            prepare_run(
                settings,
                trigger="schedule",
                lease=s.lease_name,
                shard=s,
                sharded_run="night-1",
                clock=lambda: T0,
            )
            for s in all_shards(2)
        )
        finish_run(settings, first.run_id, stored=[], lease=first.lease, clock=lambda: T0)
        # The second shard's machine died: the next run finds its lease expired.
        later = T0 + LEASE_TTL + timedelta(seconds=1)
        prepare_run(settings, trigger="manual", lease=FULL_RUN_LEASE, clock=lambda: later)
        assert store.get_run(engine, second.run_id).status == "aborted"
        grouped = [
            store.get_run(engine, p.run_id).summary.get(SHARDED_RUN) for p in (first, second)
        ]
        assert grouped == ["night-1", "night-1"]


def test_shards_of_a_night_with_a_shard_missing_stay_parts(tmp_path: Path) -> None:
    """A shard that never recorded a run (its flow run failed first, or the sharded run
    died before starting it): the night is not whole, so its shards are not grouped."""
    with temporary_database(tmp_path) as engine:
        settings = settings_for(
            engine, [write_catalog(tmp_path / "catalog.yaml", _shard_entries())]
        )
        only = prepare_run(
            settings,
            trigger="schedule",
            lease=Shard(1, 2).lease_name,
            shard=Shard(1, 2),
            sharded_run="night-1",
        )
        finish_run(settings, only.run_id, stored=[], lease=only.lease)
        alone = prepare_run(
            settings, trigger="manual", lease=Shard(2, 2).lease_name, shard=Shard(2, 2)
        )  # started by hand, of no sharded run
        finish_run(settings, alone.run_id, stored=[], lease=alone.lease)
        assert all(SHARDED_RUN not in r.summary for r in store.latest_runs(engine))
        night = report_data(engine).run
        assert night is not None and not night.whole
