"""A command's passes over a catalog parse each URL once: a first run asks about each
entry's URL in passes over the catalog (load, sync) and over each batch of observations
(store, public hosts, outages), and a cache smaller than a pass parsed them all again."""

from __future__ import annotations

import uuid

from catalog import urls


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
