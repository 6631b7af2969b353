from catalog.model import Target
from catalog.plan import plan_batches


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
    owners = {}
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
