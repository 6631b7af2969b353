"""A command's passes over a catalog parse each URL once: a first run asks about each
entry's URL in passes over the catalog (load, sync) and over each batch of observations
(store, public hosts, outages), and a cache smaller than a pass parsed them all again."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import urls
from flows.cli import app


def test_passes_over_a_10000_entry_catalog_parse_each_url_once() -> None:
    run = uuid.uuid4().hex  # addresses no other test asked about
    catalog = [f"https://host{n % 200}.example.org/{run}/page/{n}" for n in range(10_000)]
    before = urls._parse_cached.cache_info().misses
    for _ in ("load", "sync"):
        keys = [urls.canonical_url(url) for url in catalog]
    for start in range(0, len(catalog), 5000):  # a batch of observations, three times
        batch = catalog[start : start + 5000]
        for _ in ("store", "public hosts", "outages"):
            hosts = [urls.host_of(url) for url in batch]
    assert urls._parse_cached.cache_info().misses - before == len(catalog)
    assert keys == catalog and hosts[0] == "host0.example.org"


def test_the_cache_is_bounded_for_a_long_lived_process() -> None:
    size = urls._parse_cached.cache_info().maxsize
    assert size is not None and size <= 20_000  # ~400 bytes an answer


def test_lint_of_a_catalog_larger_than_the_cache_parses_each_url_once(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader parses every URL, then lint does: a 20,000-entry catalog parsed twice."""
    parsed: Counter[str] = Counter()
    parse = urls._parse

    def counting(raw: str) -> urls.CheckedUrl | urls.UrlProblem:
        parsed[raw] += 1
        return parse(raw)

    monkeypatch.setattr(urls, "_parse", counting)
    monkeypatch.setattr(urls, "_parse_cached", functools.lru_cache(maxsize=8)(counting))
    small_cache = urls._parse_cached
    entries = "".join(
        f"  - id: r{n}\n    title: Page number {n}\n    url: http://e.org/{n}?utm_source=x\n"
        for n in range(40)
    )
    (isolated_cwd / "big.yaml").write_text(f"resources:\n{entries}")
    result = CliRunner().invoke(app, ["catalog", "lint", "big.yaml"])
    assert "[http_url]" in result.stdout and "[tracking_params]" in result.stdout
    assert len(parsed) >= 40 and set(parsed.values()) == {1}
    assert urls._parse_cached is small_cache  # the command's answers are let go
