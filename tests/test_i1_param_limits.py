"""A selection of any size reads its rows: no statement binds a parameter per picked entry
past the database's limit (SQLite's SQLITE_MAX_VARIABLE_NUMBER, PostgreSQL's 65,535).

On SQLite the limit is lowered (`sqlite3.Connection.setlimit`) on the engine's connections
once the database is filled, so a few hundred entries stand for the tens of thousands a
real `recheck --failing` picks; the store's IN lists are shrunk with it (`_small_lists`),
as its 2,000 stand to SQLite's 32,766. PostgreSQL's limit cannot be lowered: there the
same tests show that a large selection, filtered outside SQL, gets exactly what a small
one does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, update

from catalog import problem_checks, queries, rekey, store
from catalog import tables as t
from catalog.problem_checks import start_key
from catalog.queries import report_data, sharing_links
from catalog.rekey import rekey_links
from catalog.settings import HealthSettings
from catalog.store import _observations, _sql, _targets
from catalog.sync import sync_catalogs
from catalog.urls import host_of
from tests.factories import (
    T0,
    days,
    limit_bound_parameters,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
)

#: The store's IN lists (`CHUNK`, 2,000; queries' 1,000) and `targets_for_check`'s
#: largest filter in SQL (`IN_SQL_MOST`) in these tests: above the links' count (112), as
#: 2,000 is above a few thousand entries' links, below the picked entries' count.
CHUNK = 200
#: Bound parameters a statement may have once the database is filled (SQLite only): above
#: the chunks (plus a few of the statement's own), below the picked entries' count.
LIMIT = 230
#: Entries per catalog; two catalogs share half their addresses, two entries a link.
SIZE = 150


def _url(key: str, i: int) -> str:
    """Entries 2k and 2k+1 of a catalog share a link; those of "a" and "b" share the links
    of i % 4 < 2."""
    page = f"p{i // 2}" if i % 4 < 2 else f"{key}{i // 2}"
    return f"https://h{i // 2 % 5}.example.org/{page}"


#: (catalog key, id) -> URL, of every entry.
URLS = {(key, f"r{i:04d}"): _url(key, i) for key in "ab" for i in range(SIZE)}


def _catalog(key: str) -> Any:
    return make_catalog(
        key,
        [
            make_resource(rid, url=url, title=f"{k} {rid}")
            for (k, rid), url in URLS.items()
            if k == key
        ],
    )


@pytest.fixture(autouse=True)
def _small_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's and the report's IN lists of `CHUNK` values at most, and filters of as
    many parameters in SQL: the scale of the entries and the limit, in the modules these
    tests read through (their IN lists of another size, queries' 1,000, too)."""

    def chunks(values: Any, size: int = CHUNK) -> Any:
        return _sql.chunks(values, min(size, CHUNK))

    for module in (_targets, _observations, queries):
        monkeypatch.setattr(module, "chunks", chunks)
    # Not raising: without the fixes these names are missing; the tests fail on the limit.
    monkeypatch.setattr(_observations, "CHUNK", CHUNK, raising=False)
    monkeypatch.setattr(_targets, "IN_SQL_MOST", CHUNK, raising=False)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        catalogs = [_catalog("a"), _catalog("b")]
        sync_catalogs(engine, catalogs, now=T0)
        urls = sorted(set(URLS.values()))
        # Half the links checked once: their targets carry a previous state.
        store.record_observations(
            engine,
            None,
            [make_observation(url, checked_at=days(0.5)) for url in urls[::2]],
            HealthSettings(),
            now=days(0.5),
        )
        yield engine


def _limited(engine: Engine, most: int = LIMIT) -> None:
    limit_bound_parameters(engine, most)


def _reference(engine: Engine, monkeypatch: pytest.MonkeyPatch, **filters: Any) -> Any:
    """`targets_for_check` with every filter in its statement, however big (before the
    limit is lowered): what the selection must plan."""
    with monkeypatch.context() as patch:
        patch.setattr(_targets, "IN_SQL_MOST", 10**9, raising=False)
        return store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7, **filters)


def _expected(engine: Engine, picked: set[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """URL -> the picked entries' ids, of every link of the unfiltered plan that some
    picked entry links: the unfiltered targets, then selected."""
    found: dict[str, set[str]] = {}
    for pair in picked:
        found.setdefault(URLS[pair], set()).add(pair[1])
    everything = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
    assert len(everything) == len(set(URLS.values()))
    return {tg.url: tuple(sorted(found[tg.url])) for tg in everything if tg.url in found}


def test_a_recheck_of_more_entries_than_parameters_plans_exactly_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`recheck --failing` of more entries than a statement takes parameters (two each):
    every picked entry's link, with exactly the picked entries, the same targets a filter
    in SQL gives; and one entry's plan still filters in SQL (through the indexes)."""
    picked = {("a", f"r{i:04d}") for i in range(SIZE) if i % 3} | {
        ("b", f"r{i:04d}") for i in range(0, SIZE, 4)
    }
    assert 2 * len(picked) > LIMIT
    entries = sorted(picked)
    filters: dict[str, Any] = {"collection_keys": ["a", "b"], "entries": entries}
    expected, reference = _expected(engine, picked), _reference(engine, monkeypatch, **filters)
    _limited(engine)

    targets = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7, **filters)

    assert {tg.url: tg.resource_ids for tg in targets} == expected
    assert targets == reference  # titles too: in collection key order, whatever the plan
    assert any(tg.previous is not None for tg in targets)
    # One entry of 300: its pair is bound in the statement, not read from every row.
    statements: list[Any] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, params, _ctx, _many: statements.append((sql, params)),
    )
    (one,) = store.targets_for_check(
        engine, now=days(1), fingerprint_max_age_days=7, entries=[("b", "r0003")]
    )
    assert (one.url, one.resource_ids) == (URLS["b", "r0003"], ("r0003",))
    planned = [params for sql, params in statements if "contacts_missed" in sql]
    assert len(planned) == 1
    bound = planned[0].values() if isinstance(planned[0], dict) else planned[0]
    assert "r0003" in bound


def test_check_id_of_more_ids_than_parameters_plans_exactly_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check --id` naming more ids than a statement takes parameters, some unknown: every
    entry of the known ones, in each catalog."""
    known = [f"r{i:04d}" for i in range(SIZE) if i % 7]
    ids = known + [f"x{i:04d}" for i in range(LIMIT - len(known) + 100)]
    assert len(ids) > LIMIT
    expected = _expected(engine, {(key, rid) for key in "ab" for rid in known})
    reference = _reference(engine, monkeypatch, resource_ids=ids)
    _limited(engine)

    targets = store.targets_for_check(
        engine, now=days(1), fingerprint_max_age_days=7, resource_ids=ids
    )

    assert {tg.url: tg.resource_ids for tg in targets} == expected
    assert targets == reference  # titles too: in collection key order, whatever the plan


def _link_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(t.Link.url, t.Link.id)).all())


def test_a_drifted_page_many_entries_left_is_read_in_full(engine: Engine) -> None:
    """A page flagged as drifted, whose flag named more entries than a statement takes
    parameters, every one of them since moved to other addresses: read in full next
    night (`_entries_left`), without validators."""
    ids = _link_ids(engine)
    flagged = ids[URLS["a", "r0000"]]
    with engine.begin() as conn:
        own = set(conn.scalars(select(t.Resource.id).where(t.Resource.link_id == flagged)).all())
        moved = [
            pk
            for pk in conn.scalars(select(t.Resource.id).order_by(t.Resource.id)).all()
            if pk not in own
        ][: LIMIT + 100]
        assert len(moved) > LIMIT
        conn.execute(
            update(t.Link)
            .where(t.Link.id == flagged)
            .values(
                fingerprint="f",
                fingerprinted_at=days(0.5),
                text_upto=days(0.6),
                drift_reason="The page no longer names its entry.",
                drift_since=days(0.5),
                etag='"e"',
            )
        )
        conn.execute(
            update(t.Resource).where(t.Resource.id.in_(moved[:10])).values(text_at=days(0.8))
        )
        conn.execute(
            insert(t.Event),
            [
                {
                    "at": days(0.5),
                    "kind": "drift_detected",
                    "link_id": flagged,
                    "details": {"entry": str(pk)},
                }
                for pk in moved
            ],
        )
    reference = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
    _limited(engine)

    targets = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)

    assert targets == reference  # titles too: in collection key order, whatever the plan
    (page,) = [tg for tg in targets if tg.url == URLS["a", "r0000"]]
    assert page.fingerprint_due
    assert page.previous is not None and page.previous.etag is None


def test_ids_named_are_known_however_many(engine: Engine) -> None:
    """`recheck ID...` naming more ids than a statement takes parameters: the database
    tells which it holds (`store.active_rids`), the rest are unknown."""
    named = [f"r{i:04d}" for i in range(SIZE)] + [f"x{i:04d}" for i in range(LIMIT)]
    _limited(engine)

    assert store.active_rids(engine, named) == {f"r{i:04d}" for i in range(SIZE)}


def test_witnesses_are_found_past_more_hosts_than_parameters(engine: Engine) -> None:
    """The hosts a witness must not be on outnumber a statement's parameters (a catalog
    of tens of thousands of hosts): witnesses on the other hosts are still found."""
    not_on = {"h0.example.org", "h3.example.org"} | {f"x{i}.example.org" for i in range(LIMIT)}
    reference = store.answering_urls(engine, not_on=["h0.example.org", "h3.example.org"])
    _limited(engine)

    urls = store.answering_urls(engine, not_on=not_on)

    assert urls == reference
    assert sorted(host_of(url) for url in urls) == [
        "h1.example.org",
        "h2.example.org",
        "h4.example.org",
    ]


def test_entries_sharing_links_with_more_named_than_parameters(engine: Engine) -> None:
    """`recheck` naming more entries than a statement takes parameters (some unknown):
    each named entry whose link others share, with them (`queries.sharing_links`)."""
    named = set(URLS) | {("a", f"x{i:04d}") for i in range(LIMIT)}
    reference = sharing_links(engine, set(URLS))
    assert len(reference) == 2 * SIZE
    _limited(engine)

    assert sharing_links(engine, named) == reference


def test_lapsed_set_asides_of_more_entries_than_parameters_show(engine: Engine) -> None:
    """A run that lapsed more set-asides than a statement takes parameters: the report's
    rows carry each note (`queries._with_lapses`)."""
    with engine.begin() as conn:
        pks = conn.scalars(select(t.Resource.id).order_by(t.Resource.id)).all()[: LIMIT + 100]
        assert len(pks) > LIMIT
        conn.execute(
            insert(t.Event),
            [
                {
                    "at": days(0.7),
                    "kind": store.SET_ASIDE_LAPSED,
                    "resource_id": pk,
                    "details": {"decision_id": 1, "kind": "snooze", "now": "broken"},
                }
                for pk in pks
            ],
        )
    _limited(engine)

    rows = report_data(engine).resources

    assert {r.pk for r in rows if r.lapsed} == set(pks)


#: Rekey's IN lists (`rekey.CHUNK`, and `taken_starts`'s) of this many links in the test,
#: under a lower limit: more links to merge than it takes, several lists of them.
REKEY_CHUNK, REKEY_LIMIT, MERGED = 10, 16, 45


def test_a_rekey_merging_more_links_than_parameters_keeps_their_pruned_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL rule that merges more links than a statement takes parameters, each with
    checks `db prune` deleted: each merged link keeps both counts (`rekey._add_pruned_counts`)."""
    monkeypatch.setattr(rekey, "CHUNK", REKEY_CHUNK)
    monkeypatch.setattr(problem_checks, "_RECOUNT_CHUNK", REKEY_CHUNK)
    assert MERGED > 2 * REKEY_LIMIT
    start = start_key(T0)
    with temporary_database(tmp_path) as engine:
        with engine.begin() as conn:
            conn.execute(
                insert(t.Link),
                [
                    {
                        "url": f"https://h.example.org/p{i}{dup}",
                        "host": "h.example.org",
                        "first_failure_at": T0,
                        "pruned_by_start": {start: 1},
                    }
                    for i in range(MERGED)
                    for dup in ("", "/dup")
                ],
            )
        _limited(engine, REKEY_LIMIT)
        with engine.begin() as conn:
            result = rekey_links(conn, canonical=lambda url: url.removesuffix("/dup"))
        assert result.merged == MERGED
        with engine.connect() as conn:
            kept = conn.execute(select(t.Link.pruned_by_start, t.Link.pruned_checks)).all()
    assert len(kept) == MERGED
    assert all(counts == {start: 2} and checks == 2 for counts, checks in kept)
