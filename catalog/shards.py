"""Scale-out: split one full run into shards by host, one shard per Prefect worker.

Input: the run's `Target`s and a `Shard` ("1/2": the first of two). Output: the targets
(and so the batches) of that shard only. Every host falls in exactly one shard, chosen
by a stable hash (crc32, the same on every machine and Python process, unlike the salted
`hash()`), so a host's URLs are never split across machines and per-host politeness
still holds without any coordination between workers. Each shard run takes its own
lease (`shard.lease_name`), so the shards of one night run side by side while a second
copy of the same shard is refused.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from catalog.errors import ConfigError
from catalog.model import Batch, Target
from catalog.plan import PARALLEL_BATCHES, plan_batches
from catalog.settings import CheckSettings

#: Lease of an unsharded full run; shard runs use "full-run:<i>/<n>".
FULL_RUN_LEASE = "full-run"
#: `runs.summary` key: the Prefect flow run id of the sharded run a shard run was part of,
#: set on all its shard runs once every shard of it has ended.
SHARDED_RUN = "sharded_run"
#: `runs.summary` key: the Prefect flow run id of the sharded run that started a shard run,
#: recorded when the shard run starts, so its shards can be grouped without it (it may have
#: been cancelled or have died while they checked).
SHARDED_PARENT = "sharded_parent"

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_of(host: str, count: int) -> int:
    """The shard (0-based) of `host` among `count`; stable across machines and runs."""
    if count < 1:
        raise ValueError("count must be at least 1")
    return zlib.crc32(host.lower().encode("utf-8")) % count


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based, as people write it) of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ConfigError(
                f"shard {self.index}/{self.count} does not exist: write i/n with 1 <= i <= n"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """ "2/3" -> Shard(2, 3)."""
        match = _SHARD.match(text)
        if match is None:
            raise ConfigError(f"shard {text!r} is not i/n (e.g. 1/2 for the first of two)")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, host: str) -> bool:
        return shard_of(host, self.count) == self.index - 1

    @property
    def lease_name(self) -> str:
        return f"{FULL_RUN_LEASE}:{self}"


def all_shards(count: int) -> list[Shard]:
    return [Shard(i, count) for i in range(1, count + 1)]


def shard_targets(targets: Sequence[Target], shard: Shard | None) -> list[Target]:
    """The targets whose host belongs to `shard` (all of them when None)."""
    if shard is None:
        return list(targets)
    return [target for target in targets if shard.holds(target.host)]


def plan_shard(
    targets: Sequence[Target],
    batch_size: int,
    shard: Shard | None,
    *,
    check: CheckSettings | None = None,
    workers: int = PARALLEL_BATCHES,
) -> list[Batch]:
    """`plan_batches` over the shard's targets only."""
    return plan_batches(shard_targets(targets, shard), batch_size, check=check, workers=workers)


def lease_name(shard: Shard | None) -> str:
    return shard.lease_name if shard is not None else FULL_RUN_LEASE
