"""Generate a benchmark catalog for the simulated web, with the outcome each URL should get.

Stage: benchmark fixture (not part of linkhealth). Inputs: a URL count, a host count, a
seed and the simulated web's port. Outputs: a linkhealth YAML catalog (`collection` +
`resources`) whose URLs point at `bench.simweb` hosts, and beside it `<stem>-truth.jsonl`,
one line per URL: `{"url", "id", "host", "kind", "expected"}` where `expected` is the
`catalog.outcomes.Outcome` value a correct check reaches (see `EXPECTED`).

Host sizes follow a Zipf law (the largest host has the most URLs) with the largest capped
at a share of all URLs, because one huge host would make the politeness floor of the whole
run that host's alone. Outcomes are dealt in exact proportions (`DEFAULT_MIX`) and shuffled
with the seed, so the same arguments always give the same files.

    python -m bench.gencatalog --urls 10000 --hosts 200 --seed 1 --base-port 8080 \\
        --out var/bench/catalog-10k.yaml
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.simweb import KINDS, MAX_HOSTS, host_address, page_title
from catalog.outcomes import Outcome

__all__ = [
    "DEFAULT_MIX",
    "EXPECTED",
    "Entry",
    "generate",
    "host_sizes",
    "load_truth",
    "main",
    "summarize",
    "truth_path",
    "write_catalog",
    "write_truth",
]

#: What a correct check of each simulated behaviour concludes.
EXPECTED: dict[str, Outcome] = {
    "ok": Outcome.OK,
    "html": Outcome.OK,
    "pdf": Outcome.OK,
    "404": Outcome.NOT_FOUND,
    "410": Outcome.GONE,
    "500": Outcome.HTTP_ERROR,
    "flaky503": Outcome.OK,  # a retry recovers
    "ratelimit": Outcome.OK,  # waiting out Retry-After: 1 recovers
    "reset": Outcome.CONNECTION_RESET,
    "slow": Outcome.OK,
    "perm": Outcome.REDIRECTED_PERMANENT,
    "temp": Outcome.OK,
    "loop": Outcome.REDIRECT_LOOP,
    "soft404": Outcome.SOFT_404,
    "home-redirect": Outcome.SOFT_404,
    "head405": Outcome.OK,  # GET works
    "etag": Outcome.OK,
    "blocked": Outcome.BLOCKED,
}
assert set(EXPECTED) == set(KINDS), "every simulated behaviour needs an expected outcome"

#: Percent of URLs per behaviour: mostly working pages, a few % of each way to fail.
DEFAULT_MIX: dict[str, float] = {
    "html": 38,
    "ok": 19,
    "pdf": 10,
    "etag": 4,
    "temp": 3,
    "perm": 3,
    "404": 3,
    "flaky503": 3,
    "head405": 2,
    "slow": 2,
    "soft404": 2,
    "home-redirect": 2,
    "ratelimit": 2,
    "blocked": 2,
    "reset": 2,
    "410": 1,
    "500": 1,
    "loop": 1,
}


@dataclass(frozen=True)
class Entry:
    """One generated resource and what checking it should find."""

    id: str
    n: int
    url: str
    host: str
    kind: str

    @property
    def expected(self) -> Outcome:
        return EXPECTED[self.kind]


def host_sizes(urls: int, hosts: int, zipf: float = 1.1, cap_share: float = 0.05) -> list[int]:
    """URLs per host, largest first: Zipf shares, none above `cap_share`, each host >= 1."""
    if hosts < 1 or urls < hosts:
        raise ValueError("need at least one URL per host")
    cap = max(math.floor(cap_share * urls), math.ceil(urls / hosts), 1)
    weights = [1.0 / (rank + 1) ** zipf for rank in range(hosts)]
    capped: set[int] = set()
    while True:  # water-filling: cap the overfull hosts, share the rest out again
        left = urls - cap * len(capped)
        free = sum(w for i, w in enumerate(weights) if i not in capped)
        shares = [cap if i in capped else left * w / free for i, w in enumerate(weights)]
        over = {i for i, s in enumerate(shares) if s > cap and i not in capped}
        if not over:
            break
        capped |= over
    sizes = _round_to_total([float(s) for s in shares], urls)
    for i, size in enumerate(sizes):  # every host gets at least one URL
        if size == 0:
            sizes[sizes.index(max(sizes))] -= 1
            sizes[i] = 1
    return sizes


def _round_to_total(values: Sequence[float], total: int) -> list[int]:
    """Largest-remainder rounding: integers that add up to `total`."""
    floors = [math.floor(v) for v in values]
    short = total - sum(floors)
    by_remainder = sorted(range(len(values)), key=lambda i: (floors[i] - values[i], i))
    for i in by_remainder[:short]:
        floors[i] += 1
    return floors


def _deal(mix: Mapping[str, float], count: int) -> list[str]:
    unknown = set(mix) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown behaviours in the mix: {', '.join(sorted(unknown))}")
    kinds = sorted(mix)
    total = sum(mix[k] for k in kinds)
    counts = _round_to_total([mix[k] * count / total for k in kinds], count)
    return [kind for kind, c in zip(kinds, counts, strict=True) for _ in range(c)]


def generate(
    urls: int,
    hosts: int,
    seed: int = 1,
    port: int = 8080,
    zipf: float = 1.1,
    cap_share: float = 0.05,
    mix: Mapping[str, float] = DEFAULT_MIX,
) -> list[Entry]:
    """The resources of one benchmark catalog, in catalog order (hosts interleaved)."""
    if not 1 <= hosts <= MAX_HOSTS:
        raise ValueError(f"hosts must be 1..{MAX_HOSTS}")
    rng = random.Random(seed)
    sizes = host_sizes(urls, hosts, zipf, cap_share)
    owners = [h for h, size in enumerate(sizes) for _ in range(size)]
    kinds = _deal(mix, urls)
    rng.shuffle(owners)
    rng.shuffle(kinds)
    width = len(str(urls))
    entries = []
    for i, (owner, kind) in enumerate(zip(owners, kinds, strict=True)):
        n = i + 1
        host = host_address(owner)
        entries.append(
            Entry(
                id=f"r{n:0{width}d}",
                n=n,
                url=f"http://{host}:{port}/{kind}/{n}",
                host=host,
                kind=kind,
            )
        )
    return entries


def truth_path(catalog: Path) -> Path:
    """Where the ground truth of `catalog` lives: `<stem>-truth.jsonl` beside it."""
    return catalog.with_name(f"{catalog.stem}-truth.jsonl")


def write_catalog(entries: Iterable[Entry], out: Path, title: str) -> Path:
    """Write the YAML as text: a dumper is needlessly slow for 100,000 flat entries.

    Strings are JSON-quoted, which is valid double-quoted YAML.
    """
    q = json.dumps
    parts = [
        "# Generated by bench.gencatalog for the simulated web (bench.simweb); do not edit.\n",
        "collection:\n",
        f"  title: {q(title)}\n",
        "  description: "
        + q("Synthetic resources on loopback hosts; see the -truth.jsonl file beside this one.")
        + "\n",
        "resources:\n",
    ]
    for e in entries:
        parts.append(
            f"- id: {e.id}\n"
            f"  title: {q(page_title(e.n))}\n"
            f"  url: {q(e.url)}\n"
            f"  description: {q(f'Simulated {e.kind} resource number {e.n}.')}\n"
            f"  publisher: {q(f'Institute at {e.host}')}\n"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")
    return out


def write_truth(entries: Iterable[Entry], path: Path) -> Path:
    lines = [
        json.dumps(
            {"url": e.url, "id": e.id, "host": e.host, "kind": e.kind, "expected": e.expected.value}
        )
        + "\n"
        for e in entries
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def load_truth(path: Path) -> dict[str, Outcome]:
    """url -> expected outcome, from a `-truth.jsonl` file."""
    truth: dict[str, Outcome] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                truth[row["url"]] = Outcome(row["expected"])
    return truth


def summarize(entries: Sequence[Entry]) -> dict[str, Any]:
    per_host = Counter(e.host for e in entries)
    busiest, busiest_count = per_host.most_common(1)[0]
    return {
        "urls": len(entries),
        "hosts": len(per_host),
        "busiest_host": busiest,
        "busiest_host_urls": busiest_count,
        "busiest_host_share": round(busiest_count / len(entries), 4),
        "smallest_host_urls": min(per_host.values()),
        "kinds": dict(Counter(e.kind for e in entries).most_common()),
        "expected": dict(Counter(e.expected.value for e in entries).most_common()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gencatalog",
        description="Write a benchmark catalog for bench.simweb and its ground truth.",
    )
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--base-port", "--port", dest="port", type=int, default=8080, help="simweb's port"
    )
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of host sizes")
    parser.add_argument(
        "--max-host-share",
        type=float,
        default=0.05,
        help="cap on the largest host's share of the URLs (default 0.05)",
    )
    parser.add_argument("--out", type=Path, required=True, help="catalog file (.yaml)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    entries = generate(args.urls, args.hosts, args.seed, args.port, args.zipf, args.max_host_share)
    title = f"Benchmark: {args.urls} URLs over {args.hosts} simulated hosts (seed {args.seed})"
    catalog = write_catalog(entries, args.out, title)
    truth = write_truth(entries, truth_path(args.out))
    report = {
        "catalog": str(catalog),
        "truth": str(truth),
        **summarize(entries),
        "seconds": round(time.perf_counter() - started, 3),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
