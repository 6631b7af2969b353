import random
from collections import Counter

from catalog.model import Batch, Target
from catalog.plan import (
    MIN_SPLIT_URLS,
    PARALLEL_BATCHES,
    host_seconds,
    plan_batches,
)
from catalog.settings import CheckSettings, HostPolicy


def _targets(spec: dict[str, int]) -> list[Target]:
    return [
        Target(url=f"https://{host}/{i}", host=host) for host, n in spec.items() for i in range(n)
    ]


def test_every_target_is_planned_exactly_once() -> None:
    targets = _targets({"a.org": 5, "b.org": 250, "c.org": 1, "d.org": 90})
    batches = plan_batches(targets, batch_size=100)
    planned = [t.url for b in batches for t in b.targets]
    assert sorted(planned) == sorted(t.url for t in targets)


def test_a_host_is_never_split_across_batches() -> None:
    batches = plan_batches(_targets({"big.org": 250, "a.org": 60, "b.org": 60}), batch_size=100)
    owners: dict[str, int] = {}
    for batch in batches:
        for host in batch.hosts:
            assert host not in owners, f"{host} in batches {owners[host]} and {batch.index}"
            owners[host] = batch.index


def test_small_hosts_are_packed_into_few_batches() -> None:
    batches = plan_batches(_targets({f"h{i}.org": 10 for i in range(50)}), batch_size=100)
    assert len(batches) == 5
    assert all(len(b.targets) <= 100 for b in batches)


def test_busiest_batch_comes_first() -> None:
    batches = plan_batches(_targets({"a.org": 3, "big.org": 400, "b.org": 50}), batch_size=100)
    assert batches[0].hosts == ("big.org",)
    assert [b.index for b in batches] == list(range(len(batches)))


def test_no_targets_means_no_batches() -> None:
    assert plan_batches([], batch_size=10) == []


# --- packing by estimated time (issue 7: the flow must reach the politeness floor) ---

#: The 10k/200-host benchmark's host sizes: five hosts at the 5 % cap, then a Zipf tail.
ZIPF = [500] * 5 + [410, 346, 299, 262, 233, 209, 190, 174] + [40] * 20 + [12] * 30


def _zipf() -> list[Target]:
    return _targets({f"h{i:03}.org": n for i, n in enumerate(ZIPF)})


def _owner(batches: list[Batch]) -> dict[str, int]:
    return {host: b.index for b in batches for host in b.hosts}


def test_the_heaviest_hosts_start_together_in_different_batches() -> None:
    batches = plan_batches(_zipf(), batch_size=5000, workers=4)
    assert len(batches) == 4
    owner = _owner(batches)
    # The four heaviest hosts (100 s each at 5/s) each lead a batch of their own: all four
    # start at t = 0 instead of queueing behind each other on the four workers.
    assert sorted(owner[f"h{i:03}.org"] for i in range(4)) == [0, 1, 2, 3]


def test_every_batch_is_about_as_long_as_the_busiest_host() -> None:
    check = CheckSettings()
    batches = plan_batches(_zipf(), batch_size=5000, check=check, workers=4)
    sizes = Counter(t.host for t in _zipf())

    def load(batch: Batch) -> float:
        return sum(host_seconds(sizes[h], *check.policy_for(h)) for h in batch.hosts)

    loads = [load(b) for b in batches]
    busiest = max(host_seconds(n, *check.policy_for("x")) for n in ZIPF)
    # Longest-processing-time-first: the spread between batches is at most one host.
    assert max(loads) - min(loads) <= busiest


def test_the_old_default_of_small_batches_no_longer_queues_the_big_hosts() -> None:
    # URL-count first-fit at 200 URLs made ~45 batches and 583 s at 10k URLs; whenever
    # everything fits into one batch per worker, one batch per worker is what we get.
    batches = plan_batches(_zipf(), batch_size=2000, workers=4)
    assert len(batches) == 4
    assert all(len(b.targets) <= 2000 for b in batches)


def test_a_slow_host_counts_by_its_time_not_its_url_count() -> None:
    # slow.org allows 1 request per 4 s: its 60 URLs take 240 s, more than big.org's 500.
    check = CheckSettings(
        hosts={"slow.org": HostPolicy(per_host_concurrency=1, per_host_rate=0.25)}
    )
    targets = _targets({"big.org": 500, "slow.org": 60, "a.org": 300, "b.org": 300})
    batches = plan_batches(targets, batch_size=5000, check=check, workers=2)
    assert batches[0].hosts == ("slow.org",)  # longest first, alone
    assert set(batches[1].hosts) == {"big.org", "a.org", "b.org"}
    by_count = plan_batches(targets, batch_size=5000, workers=2)  # default politeness
    assert ("slow.org",) not in [b.hosts for b in by_count]  # 60 URLs: a short host


def test_batch_count_is_bounded_by_workers_and_by_batch_size() -> None:
    targets = _targets({f"h{i}.org": 50 for i in range(100)})  # 5,000 URLs
    assert len(plan_batches(targets, batch_size=5000, workers=4)) == 4
    # More workers: at most one batch per MIN_SPLIT_URLS URLs.
    assert len(plan_batches(targets, batch_size=5000, workers=16)) == 5000 // MIN_SPLIT_URLS
    assert len(plan_batches(_targets({"a.org": 3, "b.org": 2}), batch_size=50, workers=4)) == 1
    capped = plan_batches(targets, batch_size=1000, workers=4)
    assert len(capped) == 5 and all(len(b.targets) <= 1000 for b in capped)


def test_a_small_catalog_stays_one_batch_of_all_its_hosts() -> None:
    # The outage verdict is per stored batch and needs several hosts: four unreachable
    # one-URL hosts must not become four one-host batches.
    batches = plan_batches(_targets({f"h{i}.invalid": 1 for i in range(4)}), batch_size=200)
    assert len(batches) == 1 and len(batches[0].hosts) == 4


def test_beyond_the_cap_heavy_hosts_share_batches_and_come_first() -> None:
    # 4 hosts of 300 and 40 of 10, cap 600, 2 workers: the heavy hosts pair up (they run
    # side by side inside a batch) instead of each filling a batch and queueing.
    spec = {f"big{i}.org": 300 for i in range(4)} | {f"s{i:02}.org": 10 for i in range(40)}
    batches = plan_batches(_targets(spec), batch_size=600, workers=2)
    assert all(len(b.targets) <= 600 for b in batches)
    assert [len(b.hosts) for b in batches[:2]] == [2, 2]
    assert all(h.startswith("big") for b in batches[:2] for h in b.hosts)


def test_a_host_bigger_than_batch_size_gets_a_batch_of_its_own() -> None:
    for workers in (1, 4):
        batches = plan_batches(
            _targets({"big.org": 300, "a.org": 5}), batch_size=100, workers=workers
        )
        assert ("big.org",) in [b.hosts for b in batches]
        assert sorted(t.url for b in batches for t in b.targets) == sorted(
            t.url for t in _targets({"big.org": 300, "a.org": 5})
        )


def test_the_plan_does_not_depend_on_input_order() -> None:
    targets = _zipf()
    shuffled = list(targets)
    random.Random(7).shuffle(shuffled)
    urls = {t.url: i for i, t in enumerate(targets)}

    def shape(batches: list[Batch]) -> list[list[str]]:
        return [sorted(b.hosts) for b in batches]

    first = plan_batches(targets, batch_size=5000)
    assert shape(plan_batches(shuffled, batch_size=5000)) == shape(first)
    assert [b.index for b in first] == list(range(len(first)))
    # Within a host, the catalog's order is kept.
    for batch in first:
        for host in batch.hosts:
            positions = [urls[t.url] for t in batch.targets if t.host == host]
            assert positions == sorted(positions)


def test_host_policy_lookup_ignores_case() -> None:
    check = CheckSettings(hosts={"slow.org": HostPolicy(per_host_concurrency=1, per_host_rate=0.1)})
    targets = _targets({"Slow.ORG": 200, "big.org": 1000})
    batches = plan_batches(targets, batch_size=5000, check=check)
    assert batches[0].hosts == ("Slow.ORG",)  # 2,000 s against 200 s


def test_the_flow_runs_as_many_batches_at_once_as_the_plan_assumes() -> None:
    from flows.check_flow import BATCH_WORKERS

    assert BATCH_WORKERS == PARALLEL_BATCHES
