"""Sync reconciles catalog files into collections, resources, links and events."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from catalog import store
from catalog import sync as sync_module
from catalog import tables as t
from catalog.errors import NotFoundError
from catalog.model import Catalog
from catalog.outcomes import Outcome
from catalog.settings import HealthSettings
from catalog.sync import sync_catalogs
from tests.factories import (
    T0,
    days,
    edit,
    make_catalog,
    make_observation,
    make_resource,
    temporary_database,
    without,
)


@pytest.fixture(autouse=True, params=["one chunk", "chunks of 1"])
def chunk_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every sync test runs twice: whole catalogs in one chunk, and one entry per chunk
    (what a catalog larger than `SYNC_CHUNK` goes through)."""
    if request.param == "chunks of 1":
        monkeypatch.setattr(sync_module, "SYNC_CHUNK", 1)
    return sync_module.SYNC_CHUNK


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        yield engine


def events(engine: Engine) -> list[tuple[str, str]]:
    with store.read_session(engine) as s:
        rows = s.execute(select(t.Event.kind, t.Event.details).order_by(t.Event.id))
        return [(kind, details["id"]) for kind, details in rows]


def count(engine: Engine, table: type[t.Base]) -> int:
    with store.read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def active_rids(engine: Engine, collection: str) -> set[str]:
    with store.read_session(engine) as s:
        rows = s.scalars(
            select(t.Resource.rid)
            .join(t.Collection)
            .where(t.Collection.key == collection, t.Resource.removed_at.is_(None))
        )
        return set(rows)


TOOLKIT = make_catalog("toolkit", [make_resource("a"), make_resource("b", year=2020)])


def test_new_catalog_adds_collection_resources_and_links(engine: Engine) -> None:
    result = sync_catalogs(engine, [TOOLKIT], now=T0)

    assert result.added == 2
    assert [(c.id, c.kind) for c in result.changes] == [("a", "added"), ("b", "added")]
    assert events(engine) == [("added", "a"), ("added", "b")]
    assert active_rids(engine, "toolkit") == {"a", "b"}
    assert count(engine, t.Collection) == 1
    assert count(engine, t.Link) == 2


def test_syncing_twice_without_edits_writes_no_events(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    result = sync_catalogs(engine, [TOOLKIT], now=days(1))

    assert result.changes == ()
    assert result.unchanged == 2
    assert len(events(engine)) == 2


def test_values_that_json_turns_into_strings_do_not_look_edited(engine: Engine) -> None:
    catalog = make_catalog("toolkit", [make_resource("a", extra={"reviewed": date(2024, 5, 1)})])
    sync_catalogs(engine, [catalog], now=T0)
    assert sync_catalogs(engine, [catalog], now=days(1)).changes == ()


def test_edited_fields_are_one_event_with_old_and_new_values(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    edited = edit(TOOLKIT, "b", title="New title", year=2021)

    result = sync_catalogs(engine, [edited], now=days(1))

    (change,) = result.changes
    assert (change.id, change.kind, change.fields) == ("b", "fields_edited", ("title", "year"))
    assert change.details["old"] == {"title": "Resource b", "year": 2020}
    assert change.details["new"] == {"title": "New title", "year": 2021}
    assert result.edited == 1


def test_url_change_is_its_own_event_and_repoints_the_link(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    moved = edit(TOOLKIT, "a", url="https://example.org/moved")

    result = sync_catalogs(engine, [moved], now=days(1))

    (change,) = result.changes
    assert change.kind == "url_edited"
    assert change.details["old"] == "https://example.org/a"
    assert change.details["new"] == "https://example.org/moved"
    targets = store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
    assert {tg.url for tg in targets} == {"https://example.org/moved", "https://example.org/b"}


def test_url_and_field_edits_together_write_both_events(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    both = edit(TOOLKIT, "a", url="https://example.org/moved", title="Moved")
    kinds = [c.kind for c in sync_catalogs(engine, [both], now=days(1)).changes]
    assert kinds == ["url_edited", "fields_edited"]


def test_removed_resource_is_soft_deleted_and_readded_later(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)

    removed = sync_catalogs(engine, [without(TOOLKIT, "a")], now=days(1))
    assert [(c.id, c.kind) for c in removed.changes] == [("a", "removed")]
    assert active_rids(engine, "toolkit") == {"b"}
    assert count(engine, t.Resource) == 2

    readded = sync_catalogs(engine, [TOOLKIT], now=days(2))
    assert [(c.id, c.kind) for c in readded.changes] == [("a", "added")]
    assert readded.changes[0].details["readded"] is True
    assert active_rids(engine, "toolkit") == {"a", "b"}


def test_removing_from_one_catalog_leaves_other_catalogs_alone(engine: Engine) -> None:
    other = make_catalog("other", [make_resource("a")])
    sync_catalogs(engine, [TOOLKIT, other], now=T0)

    sync_catalogs(engine, [without(TOOLKIT, "a")], now=days(1))

    assert active_rids(engine, "other") == {"a"}
    assert active_rids(engine, "toolkit") == {"b"}


def test_catalogs_not_passed_in_are_not_reconciled(engine: Engine) -> None:
    other = make_catalog("other", [make_resource("x")])
    sync_catalogs(engine, [TOOLKIT, other], now=T0)

    result = sync_catalogs(engine, [TOOLKIT], now=days(1))

    assert result.changes == ()
    assert active_rids(engine, "other") == {"x"}


def test_shared_url_is_one_link_and_one_target(engine: Engine) -> None:
    url = "https://Example.org/shared#part"
    catalogs = [
        make_catalog("toolkit", [make_resource("a", url=url), make_resource("b", url=url)]),
        make_catalog("other", [make_resource("c", url="https://example.org:443/shared")]),
    ]
    sync_catalogs(engine, catalogs, now=T0)

    assert count(engine, t.Link) == 1
    (target,) = store.targets_for_check(engine, now=T0, fingerprint_max_age_days=7)
    assert target.url == "https://example.org/shared"
    assert target.host == "example.org"
    assert target.resource_ids == ("a", "b", "c")


def test_sync_events_carry_the_run(engine: Engine) -> None:
    run_id = store.start_run(engine, trigger="manual", now=T0)
    sync_catalogs(engine, [TOOLKIT], now=T0, run_id=run_id)
    with store.read_session(engine) as s:
        assert set(s.scalars(select(t.Event.run_id))) == {run_id}


def test_a_mixed_edit_keeps_catalog_order_and_each_kind_of_change(engine: Engine) -> None:
    shared = "https://example.org/shared"
    first = make_catalog(
        "toolkit",
        [make_resource(rid, url=f"https://example.org/{rid}") for rid in "abcdef"],
    )
    sync_catalogs(engine, [first], now=T0)
    sync_catalogs(engine, [without(first, "d")], now=days(1))
    second = make_catalog(
        "toolkit",
        [
            make_resource("g", url=shared),
            make_resource("a", url="https://example.org/a"),  # unchanged
            make_resource("b", url="https://example.org/b2"),  # URL edited
            make_resource("d", url="https://example.org/d"),  # put back
            make_resource("h", url=shared),  # same URL as g: one link
            make_resource("g", url="https://example.org/duplicate"),  # duplicate id: ignored
        ],
    )
    result = sync_catalogs(engine, [second], now=days(2))

    assert [(c.id, c.kind) for c in result.changes] == [
        ("g", "added"),
        ("b", "url_edited"),
        ("d", "added"),
        ("h", "added"),
        ("c", "removed"),
        ("e", "removed"),
        ("f", "removed"),
    ]
    assert (result.added, result.url_edited, result.removed, result.unchanged) == (3, 1, 3, 1)
    assert active_rids(engine, "toolkit") == {"a", "b", "d", "g", "h"}
    targets = store.targets_for_check(engine, now=days(2), fingerprint_max_age_days=7)
    assert [t.resource_ids for t in targets if t.url == shared] == [("g", "h")]


def test_a_large_sync_lists_the_first_changes_and_counts_them_all(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "LISTED_CHANGES", 2)
    catalog = make_catalog("toolkit", [make_resource(str(i)) for i in range(5)])

    result = sync_catalogs(engine, [catalog], now=T0)

    assert [c.id for c in result.changes] == ["0", "1"]
    assert result.change_count == result.added == 5 and result.changed
    assert len(events(engine)) == 5


def test_an_id_changed_by_hand_keeps_the_resource_its_decisions_and_events(
    engine: Engine,
) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    old = store.find_resource(engine, "a", collection="toolkit")
    store.record_decision(
        engine,
        old.id,
        "ignore",
        by="ana",
        at=T0,
        reason="login wall",
        resource_changes={"ignored_at": T0, "ignored_reason": "login wall"},
    )
    renamed = edit(TOOLKIT, "a", id="a-renamed")  # same entry, same URL, new id

    result = sync_catalogs(engine, [renamed], now=days(1))

    (change,) = result.changes
    assert (change.id, change.kind, change.fields) == ("a-renamed", "fields_edited", ("id",))
    assert change.details["old"] == {"id": "a"}
    assert change.describe() == "toolkit/a-renamed: renamed from a"
    assert result.removed == result.added == 0
    assert active_rids(engine, "toolkit") == {"a-renamed", "b"}
    assert count(engine, t.Resource) == 2
    new = store.find_resource(engine, "a-renamed", collection="toolkit")
    assert new.id == old.id
    assert new.ignored and new.ignored_reason == "login wall"
    history = store.resource_history(engine, "a-renamed", collection="toolkit")
    assert [d.kind for d in history.decisions] == ["ignore"]
    assert [e.kind for e in history.events] == ["fields_edited", "added"]
    with pytest.raises(NotFoundError, match="renamed to toolkit/a-renamed"):
        store.find_resource(engine, "a")


def test_a_renamed_non_ascii_id_is_named_with_its_new_id(engine: Engine) -> None:
    """The rename event's JSON holds an accented id as json.dumps writes it
    ("gu\\u00eda-nacional"): searched for as typed, the old id's lookup found no rename and
    told to sync "if you added or renamed the entry", which was done."""
    accented = make_catalog("toolkit", [make_resource("guía-nacional"), make_resource("b")])
    sync_catalogs(engine, [accented], now=T0)
    sync_catalogs(engine, [edit(accented, "guía-nacional", id="guia-nacional")], now=days(1))

    with pytest.raises(NotFoundError, match="renamed to toolkit/guia-nacional"):
        store.find_resource(engine, "guía-nacional")
    # Typed decomposed (as pasted from a macOS file name), it is the same old id.
    decomposed = unicodedata.normalize("NFD", "guía-nacional")
    with pytest.raises(NotFoundError, match="renamed to 'guia-nacional'"):
        store.find_resource(engine, decomposed, collection="toolkit")


def test_a_new_id_is_a_rename_only_when_its_url_pairs_one_removed_entry(
    engine: Engine,
) -> None:
    shared = "https://example.org/shared"
    first = make_catalog("toolkit", [make_resource(r, url=shared) for r in ("a", "b")])
    sync_catalogs(engine, [first], now=T0)
    # Both entries of the shared URL gone, two new ones with it: no way to tell which is which.
    second = make_catalog("toolkit", [make_resource(r, url=shared) for r in ("c", "d")])

    result = sync_catalogs(engine, [second], now=days(1))

    assert sorted((c.id, c.kind) for c in result.changes) == [
        ("a", "removed"),
        ("b", "removed"),
        ("c", "added"),
        ("d", "added"),
    ]


def test_a_file_deleted_from_a_catalog_folder_has_its_entries_removed(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "catalogs"
    folder.mkdir()
    toolkit = replace(TOOLKIT, path=folder / "toolkit.yaml")
    extra = replace(make_catalog("extra", [make_resource("x")]), path=folder / "extra.yaml")
    toolkit.path.touch()
    sync_catalogs(engine, [toolkit, extra], now=T0, folders=[folder])

    # extra.yaml was never written to disk: the folder no longer holds it.
    result = sync_catalogs(engine, [toolkit], now=days(1), folders=[folder])

    assert [(c.collection, c.id, c.kind) for c in result.changes] == [("extra", "x", "removed")]
    assert active_rids(engine, "extra") == set()
    assert active_rids(engine, "toolkit") == {"a", "b"}
    assert sync_catalogs(engine, [toolkit], now=days(1), folders=[folder]).collections == (
        "toolkit",
    )
    # Named file by file (no folder), a catalog left out is still left alone.
    back = sync_catalogs(engine, [toolkit, extra], now=days(2))
    assert [(c.id, c.kind) for c in back.changes] == [("x", "added")]
    assert sync_catalogs(engine, [toolkit], now=days(3)).changes == ()
    assert active_rids(engine, "extra") == {"x"}


@pytest.mark.parametrize("target_first", [True, False])
def test_an_entry_moved_to_another_catalog_file_keeps_its_decisions(
    engine: Engine, target_first: bool
) -> None:
    extra = make_catalog("extra", [make_resource("x"), make_resource("y")])
    sync_catalogs(engine, [TOOLKIT, extra], now=T0)
    old = store.find_resource(engine, "x", collection="extra")
    store.record_decision(
        engine,
        old.id,
        "snooze",
        by="ana",
        at=T0,
        reason="rebuild",
        resource_changes={"snoozed_until": days(30), "snooze_reason": "rebuild"},
    )
    toolkit = replace(TOOLKIT, resources=(*TOOLKIT.resources, make_resource("x")))
    catalogs = [toolkit, without(extra, "x")]

    result = sync_catalogs(engine, catalogs if target_first else catalogs[::-1], now=days(1))

    (change,) = result.changes
    assert (change.collection, change.id, change.kind) == ("toolkit", "x", "fields_edited")
    assert change.describe() == "toolkit/x: moved from extra"
    assert result.removed == result.added == 0
    assert active_rids(engine, "toolkit") == {"a", "b", "x"}
    assert active_rids(engine, "extra") == {"y"}
    new = store.find_resource(engine, "x", collection="toolkit")
    assert new.id == old.id and new.snooze_reason == "rebuild"
    assert count(engine, t.Resource) == 4


def test_a_renamed_configured_file_takes_its_entries_and_decisions_along(
    engine: Engine,
) -> None:
    """linkhealth.toml now names psp-toolkit.yaml, once toolkit.yaml: a sync of the
    configured catalogs retires `toolkit`, and its entries move with their ignore."""
    other = make_catalog("other", [make_resource("x")])
    sync_catalogs(engine, [TOOLKIT, other], now=T0)
    _ignore(engine, "a")
    renamed = replace(TOOLKIT, path=TOOLKIT.path.with_name("psp-toolkit.yaml"))

    # A --catalog subset: the collection left out is left alone, as before.
    subset = sync_catalogs(engine, [other], now=days(1))
    assert subset.retired == () and active_rids(engine, "toolkit") == {"a", "b"}

    result = sync_catalogs(engine, [other, renamed], now=days(2), retire_unlisted=True)

    assert [c.describe() for c in result.changes] == [
        "psp-toolkit/a: moved from toolkit",
        "psp-toolkit/b: moved from toolkit",
    ]
    assert result.retired == (("toolkit", TOOLKIT.path),)
    (said,) = result.retirements()
    assert said.startswith(f"toolkit: retired, as {TOOLKIT.path} is not among the configured")
    assert active_rids(engine, "toolkit") == set()
    assert store.stored_collections(engine) == {"psp-toolkit", "other"}
    assert store.find_resource(engine, "a", collection="psp-toolkit").ignored_reason == (
        "login wall"
    )
    again = sync_catalogs(engine, [other, renamed], now=days(3), retire_unlisted=True)
    assert again.changes == () and again.retired == ()


def _hotlines(url_one: str, url_two: str) -> tuple[Catalog, Catalog]:
    """Two toolkits that each list a `hotline` (and an entry of their own)."""
    one = make_catalog("toolkit", [make_resource("hotline", url=url_one), make_resource("a")])
    two = make_catalog("other", [make_resource("hotline", url=url_two), make_resource("x")])
    return one, two


def _renamed(*catalogs: Catalog) -> list[Catalog]:
    return [replace(c, path=c.path.with_name(f"psp-{c.path.name}")) for c in catalogs]


def test_two_files_renamed_at_once_keep_the_decisions_of_an_id_both_use(
    engine: Engine,
) -> None:
    """README: a renamed file's entries 'move there with their decisions'. An id both files
    use left two catalogs for two others; each old row pairs the one new entry with its id
    and URL, so it is no removal and addition (its ignore was lost)."""
    one, two = _hotlines("https://one.example.org/hotline", "https://two.example.org/help")
    sync_catalogs(engine, [one, two], now=T0)
    _ignore(engine, "hotline")

    result = sync_catalogs(engine, _renamed(one, two), now=days(1), retire_unlisted=True)

    assert sorted(c.describe() for c in result.changes) == [
        "psp-other/hotline: moved from other",
        "psp-other/x: moved from other",
        "psp-toolkit/a: moved from toolkit",
        "psp-toolkit/hotline: moved from toolkit",
    ]
    assert result.added == result.removed == 0
    moved = store.find_resource(engine, "hotline", collection="psp-toolkit")
    assert moved.ignored_reason == "login wall"
    assert moved.url == "https://one.example.org/hotline"
    assert store.find_resource(engine, "hotline", collection="psp-other").url == (
        "https://two.example.org/help"
    )


def test_an_entry_moved_while_another_file_drops_its_id_keeps_its_decisions(
    engine: Engine,
) -> None:
    """`hotline` moves from toolkit to extra in the edit that drops other's `hotline`: the
    id left two catalogs, but only toolkit's has the moved entry's URL."""
    one, two = _hotlines("https://one.example.org/hotline", "https://two.example.org/help")
    extra = make_catalog("extra", [make_resource("y")])
    sync_catalogs(engine, [one, two, extra], now=T0)
    _ignore(engine, "hotline")
    taken = replace(extra, resources=(*extra.resources, one.resources[0]))

    result = sync_catalogs(
        engine, [without(one, "hotline"), without(two, "hotline"), taken], now=days(1)
    )

    assert sorted(c.describe() for c in result.changes) == [
        "extra/hotline: moved from toolkit",
        "other/hotline: removed",
    ]
    assert store.find_resource(engine, "hotline", collection="extra").ignored_reason == (
        "login wall"
    )


def test_two_files_renamed_at_once_pair_an_id_and_url_both_use_by_their_files(
    engine: Engine,
) -> None:
    """Both toolkits list the one national hotline at one URL: id and URL pair neither row
    alone, so each goes where the rest of its file went (its file renamed)."""
    hotline = "https://example.org/national-hotline"
    one, two = _hotlines(hotline, hotline)
    sync_catalogs(engine, [one, two], now=T0)
    _ignore(engine, "hotline")

    result = sync_catalogs(engine, _renamed(two, one), now=days(1), retire_unlisted=True)

    said = sorted(c.describe() for c in result.changes)
    assert "psp-toolkit/hotline: moved from toolkit" in said, said
    assert "psp-other/hotline: moved from other" in said, said
    assert result.added == result.removed == 0
    kept = store.find_resource(engine, "hotline", collection="psp-toolkit")
    assert kept.ignored_reason == "login wall"
    assert not store.find_resource(engine, "hotline", collection="psp-other").ignored


def test_an_id_and_url_two_files_moved_with_nothing_else_to_tell_them_apart(
    engine: Engine,
) -> None:
    """Two files holding only the same hotline, both renamed: nothing says which old entry
    is which new one, so guessing could hand one's ignore to the other; both are removed
    and added (README: set it again)."""
    hotline = "https://example.org/national-hotline"
    one = make_catalog("toolkit", [make_resource("hotline", url=hotline)])
    two = make_catalog("other", [make_resource("hotline", url=hotline)])
    sync_catalogs(engine, [one, two], now=T0)
    _ignore(engine, "hotline")

    result = sync_catalogs(engine, _renamed(one, two), now=days(1), retire_unlisted=True)

    assert result.added == result.removed == 2
    assert not store.find_resource(engine, "hotline", collection="psp-toolkit").ignored


def test_a_file_dropped_from_the_settings_is_retired_and_returns_with_its_decisions(
    engine: Engine,
) -> None:
    other = make_catalog("other", [make_resource("x")])
    sync_catalogs(engine, [TOOLKIT, other], now=T0)
    _ignore(engine, "a")

    result = sync_catalogs(engine, [other], now=days(1), retire_unlisted=True)

    assert [(c.collection, c.id, c.kind) for c in result.changes] == [
        ("toolkit", "a", "removed"),
        ("toolkit", "b", "removed"),
    ]
    assert active_rids(engine, "toolkit") == set()
    back = sync_catalogs(engine, [TOOLKIT, other], now=days(2), retire_unlisted=True)
    assert [(c.id, c.kind) for c in back.changes] == [("a", "added"), ("b", "added")]
    assert store.find_resource(engine, "a", collection="toolkit").ignored_reason == "login wall"


def _ignore(engine: Engine, rid: str) -> None:
    row = store.find_resource(engine, rid, collection="toolkit")
    store.record_decision(
        engine,
        row.id,
        "ignore",
        by="ana",
        at=T0,
        reason="login wall",
        resource_changes={"ignored_at": T0, "ignored_reason": "login wall"},
    )


def test_an_id_and_url_changed_in_one_edit_is_a_removal_and_an_addition(
    engine: Engine,
) -> None:
    """Nothing the entry keeps tells a moved and renamed resource from a replacement (a
    new edition under the same title and description): guessing would hand the old
    entry's ignore or snooze to another page, so the README says how to keep them."""
    sync_catalogs(engine, [TOOLKIT], now=T0)
    _ignore(engine, "a")
    replaced = edit(TOOLKIT, "a", id="a-2024", url="https://example.org/a-2024")

    result = sync_catalogs(engine, [replaced], now=days(1))

    assert sorted((c.id, c.kind) for c in result.changes) == [
        ("a", "removed"),
        ("a-2024", "added"),
    ]
    assert not store.find_resource(engine, "a-2024", collection="toolkit").ignored


def test_an_id_and_url_changed_in_two_syncs_keep_the_entry_and_its_decisions(
    engine: Engine,
) -> None:
    """The README's way: the id first (a rename), then the URL (a URL edit). The entry
    keeps its row, history and review; its ignore and snooze, about the old address, end
    with it."""
    sync_catalogs(engine, [TOOLKIT], now=T0)
    _set_aside(engine, "a")
    kept = store.find_resource(engine, "a", collection="toolkit").id
    renamed = edit(TOOLKIT, "a", id="a-2024")
    first = sync_catalogs(engine, [renamed], now=days(1))
    moved = edit(renamed, "a-2024", url="https://example.org/a-2024")
    second = sync_catalogs(engine, [moved], now=days(2))

    assert [c.describe() for c in (*first.changes, *second.changes)] == [
        "toolkit/a-2024: renamed from a",
        "toolkit/a-2024: URL changed from https://example.org/a to https://example.org/a-2024; "
        "its ignore and snooze of the old address ended (set them again if they apply to the "
        "new one)",
    ]
    row = store.find_resource(engine, "a-2024", collection="toolkit")
    assert row.id == kept and row.reviewed_at == T0
    assert not row.ignored and row.snoozed_until is None
    history = store.resource_history(engine, "a-2024", collection="toolkit")
    assert {d.kind for d in history.decisions} == {"ignore", "snooze", "mark_reviewed"}


def test_an_entry_taken_for_removed_comes_back_with_its_decisions_under_its_old_id(
    engine: Engine,
) -> None:
    """The README's repair after a one-edit change was synced: the old id back (the new
    URL kept) returns the old entry, decisions and all, but for its ignore of the old
    address, as with the two edits it stands for; the new id is removed."""
    sync_catalogs(engine, [TOOLKIT], now=T0)
    _ignore(engine, "a")
    sync_catalogs(engine, [edit(TOOLKIT, "a", id="a-2024", url="https://x.org/a")], now=days(1))

    back = sync_catalogs(engine, [edit(TOOLKIT, "a", url="https://x.org/a")], now=days(2))

    assert sorted((c.id, c.kind) for c in back.changes) == [("a", "added"), ("a-2024", "removed")]
    row = store.find_resource(engine, "a", collection="toolkit")
    assert not row.ignored and row.url == "https://x.org/a"
    assert [d.kind for d in store.resource_history(engine, "a").decisions] == ["ignore"]


def _set_aside(engine: Engine, rid: str, collection: str = "toolkit") -> None:
    """Ignore, snooze (for a month from T0) and mark the entry reviewed."""
    row = store.find_resource(engine, rid, collection=collection)
    for kind, changes in (
        ("ignore", {"ignored_at": T0, "ignored_reason": "login wall"}),
        ("snooze", {"snoozed_until": days(30), "snooze_reason": "rebuild"}),
        ("mark_reviewed", {"reviewed_at": T0}),
    ):
        store.record_decision(
            engine, row.id, kind, by="ana", at=T0, reason=kind, resource_changes=changes
        )


def test_an_id_put_back_with_another_url_does_not_inherit_the_old_pages_set_asides(
    engine: Engine,
) -> None:
    """An id reused for another page revived the removed entry's row, ignore and all: the
    new page left the queue unseen, and sync said only "added"."""
    sync_catalogs(engine, [TOOLKIT], now=T0)
    _set_aside(engine, "a")
    sync_catalogs(engine, [without(TOOLKIT, "a")], now=days(1))
    reused = edit(TOOLKIT, "a", url="https://example.org/another", title="Another page")

    result = sync_catalogs(engine, [reused], now=days(2))

    (change,) = result.changes
    assert (change.kind, change.details["readded"]) == ("added", True)
    assert change.details["old_url"] == "https://example.org/a"
    assert change.details["dropped"] == ["ignore", "snooze", "review"]
    assert change.describe() == (
        "toolkit/a: re-added with another URL (it had https://example.org/a): its ignore, "
        "snooze and review of the old page were dropped; set them again if they apply"
    )
    row = store.find_resource(engine, "a", collection="toolkit")
    assert not row.ignored and row.snoozed_until is None and row.reviewed_at is None
    history = store.resource_history(engine, "a", collection="toolkit")
    assert {d.kind for d in history.decisions} == {"ignore", "snooze", "mark_reviewed"}
    (event,) = [e for e in history.events if e.details.get("readded")]
    assert event.details["dropped"] == ["ignore", "snooze", "review"]


def test_an_id_put_back_with_another_url_keeps_the_old_pages_checks_in_its_history(
    engine: Engine,
) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    old = make_observation("https://example.org/a", Outcome.NOT_FOUND, days(0.5))
    store.record_observations(engine, None, [old], HealthSettings(), now=days(0.5))
    sync_catalogs(engine, [without(TOOLKIT, "a")], now=days(1))
    sync_catalogs(engine, [edit(TOOLKIT, "a", url="https://example.org/new")], now=days(2))
    new = make_observation("https://example.org/new", Outcome.OK, days(2.5))
    store.record_observations(engine, None, [new], HealthSettings(), now=days(2.5))

    history = store.resource_history(engine, "a", collection="toolkit")

    assert [o.url for o in history.observations] == [
        "https://example.org/new",
        "https://example.org/a",
    ]


def test_an_ended_snooze_is_not_said_to_be_dropped(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    row = store.find_resource(engine, "a", collection="toolkit")
    store.record_decision(
        engine,
        row.id,
        "snooze",
        by="ana",
        at=T0,
        resource_changes={"snoozed_until": days(1), "snooze_reason": "rebuild"},
    )
    sync_catalogs(engine, [without(TOOLKIT, "a")], now=T0)
    result = sync_catalogs(engine, [edit(TOOLKIT, "a", url="https://x.org/a")], now=days(2))

    (change,) = result.changes
    assert "dropped" not in change.details
    assert (
        change.describe() == "toolkit/a: re-added with another URL (it had https://example.org/a)"
    )


def test_an_id_put_back_with_its_own_url_keeps_its_set_asides(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    _set_aside(engine, "a")
    sync_catalogs(engine, [without(TOOLKIT, "a")], now=days(1))

    result = sync_catalogs(engine, [TOOLKIT], now=days(2))

    (change,) = result.changes
    assert change.describe() == "toolkit/a: re-added (removed on 2025-03-02)"
    assert "old_url" not in change.details and "dropped" not in change.details
    row = store.find_resource(engine, "a", collection="toolkit")
    assert row.ignored and row.snooze_reason == "rebuild" and row.reviewed_at == T0


def test_the_readme_repair_says_the_old_entry_takes_its_place_back(engine: Engine) -> None:
    sync_catalogs(engine, [TOOLKIT], now=T0)
    _set_aside(engine, "a")
    sync_catalogs(engine, [edit(TOOLKIT, "a", id="a-2024", url="https://x.org/a")], now=days(1))

    back = sync_catalogs(engine, [edit(TOOLKIT, "a", url="https://x.org/a")], now=days(2))

    (readded,) = [c for c in back.changes if c.kind == "added"]
    assert readded.describe() == (
        "toolkit/a: re-added with another URL (it had https://example.org/a), in place of "
        "a-2024: its decisions are kept, but its ignore and snooze of the old address ended "
        "(set them again if they apply to the new one)"
    )
    row = store.find_resource(engine, "a", collection="toolkit")
    assert not row.ignored and row.snoozed_until is None and row.reviewed_at == T0


def test_a_new_id_renamed_to_a_retired_one_does_not_take_its_set_asides(
    engine: Engine,
) -> None:
    """Only the one-edit repair takes the old entry back: an entry added later under
    another id and renamed to the retired one is another page."""
    sync_catalogs(engine, [TOOLKIT], now=T0)
    _set_aside(engine, "a")
    sync_catalogs(engine, [without(TOOLKIT, "a")], now=days(1))
    newer = replace(TOOLKIT, resources=(*TOOLKIT.resources[1:], make_resource("a-new")))
    sync_catalogs(engine, [newer], now=days(2))

    result = sync_catalogs(engine, [edit(newer, "a-new", id="a")], now=days(3))

    assert sorted((c.id, c.kind) for c in result.changes) == [("a", "added"), ("a-new", "removed")]
    assert not store.find_resource(engine, "a", collection="toolkit").ignored


def test_an_entry_moved_into_a_file_that_once_held_its_id(engine: Engine) -> None:
    """The README: a removal and an addition. Each set-aside stays with the page it was
    set on: the moved entry's on its removed row in the file it left, the retired
    entry's in the decisions history; the moved entry arrives with none."""
    extra = make_catalog("extra", [make_resource("a", url="https://example.org/moved")])
    sync_catalogs(engine, [TOOLKIT, extra], now=T0)
    _ignore(engine, "a")
    _set_aside(engine, "a", collection="extra")
    sync_catalogs(engine, [without(TOOLKIT, "a"), extra], now=days(1))
    kept = without(TOOLKIT, "a")
    moved_in = replace(kept, resources=(*kept.resources, *extra.resources))

    result = sync_catalogs(engine, [moved_in, without(extra, "a")], now=days(2))

    assert sorted((c.collection, c.id, c.kind) for c in result.changes) == [
        ("extra", "a", "removed"),
        ("toolkit", "a", "added"),
    ]
    arrived = store.find_resource(engine, "a", collection="toolkit")
    assert arrived.url == "https://example.org/moved" and not arrived.ignored
    assert arrived.snoozed_until is None
    left = store.find_resource(engine, "a", collection="extra")
    assert left.removed_at is not None and left.snooze_reason == "rebuild" and left.ignored


@pytest.mark.parametrize(
    "value",
    [
        {"title": "T", "year": 2019, "score": 0.1, "open": True, "note": None, "nan": float("inf")},
        {"when": date(2024, 5, 1)},
        {"tags": ("a", "b")},
        {"tags": ["a", "b"], "languages": [], "mixed": ("x", 1, 2.5, True, None)},
        {"tags": ["a", date(2020, 1, 1)]},
        {"tags": [["nested"]], "pairs": [("a", 1)]},
        {"nested": {"k": [1, date(2020, 1, 1)]}},
        {1: "an int key"},
        {"text": "naïve “quotes” \ud800"},
    ],
)
def test_jsonable_gives_what_the_json_column_gives_back(value: dict) -> None:
    """Plain entries skip the JSON round trip; what comes back must not differ, or every
    nightly sync would see edits (or miss them)."""
    import json

    expected = json.loads(json.dumps(value, default=str, ensure_ascii=False))
    got = sync_module.jsonable(value)
    assert got == expected
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert _item_types(got) == _item_types(expected)
    assert got is not value
    assert all(got[k] is not v for k, v in value.items() if isinstance(v, list))


def _item_types(data: dict) -> list[list[type]]:
    return [[type(i) for i in v] for v in data.values() if isinstance(v, list)]


def test_a_plain_entry_with_tags_and_languages_is_copied_not_round_tripped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every sync reads every entry: a JSON round trip of its tags was ~10 µs an entry."""
    entry = {"title": "T", "tags": ["a", "b"], "languages": ("en",), "year": 2019}

    def no_round_trip(*_args: object, **_kwargs: object) -> str:
        raise AssertionError("a plain entry went through JSON")

    monkeypatch.setattr(sync_module.json, "dumps", no_round_trip)
    assert sync_module.jsonable(entry) == {
        "title": "T",
        "tags": ["a", "b"],
        "languages": ["en"],
        "year": 2019,
    }


def test_changed_fields_names_each_difference_but_the_url() -> None:
    old = {"url": "https://a", "title": "A", "year": 2019}
    assert sync_module.changed_fields(old, dict(old)) == ()
    assert sync_module.changed_fields(old, {**old, "url": "https://b"}) == ()
    assert sync_module.changed_fields(old, {"url": "https://a", "title": "B"}) == ("title", "year")
