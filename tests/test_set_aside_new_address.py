"""A snooze or an ignore is about the problem of the entry's address: an entry moved to
another one (`replace-url`, `accept-redirect`, a hand edit synced) leaves them behind, and
says so; an entry whose address stays keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import decisions, runs, store
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import same_page, sync_catalogs
from reports.build import build_context
from reports.context import ReportContext
from tests.factories import (
    T0,
    Ticker,
    days,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)

OLD = "https://forum.example/forum"
NEW = "https://forum.example/forum-new"
OTHER = "https://example.org/b"
WALL = "works in a browser; blocks automated checks"


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "toolkit.yaml",
        [
            {"id": "forum", "title": "Forum", "url": OLD},
            {"id": "b", "title": "Portal", "url": OTHER},
        ],
    )


@pytest.fixture
def engine(tmp_path: Path, catalog_file: Path) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([catalog_file]), now=T0)
        yield engine


@pytest.fixture
def settings(engine: Engine, catalog_file: Path) -> Settings:
    return settings_for(engine, [catalog_file])


def _set_aside(settings: Settings, rid: str = "forum") -> None:
    """Ignored and snoozed (until day 30) on day 1, both before any check."""
    decisions.ignore(settings, rid, reason=WALL, by="ana", clock=Ticker(days(1)))
    until = days(30).date()
    decisions.snooze(settings, rid, until=until, reason="rebuild", clock=Ticker(days(1)))


def _held(engine: Engine, rid: str = "forum") -> tuple[bool, bool]:
    row = store.find_resource(engine, rid)
    return row.ignored, row.snoozed_until is not None


def test_replace_url_ends_the_ignore_and_snooze_of_the_old_address_and_says_so(
    engine: Engine, settings: Settings
) -> None:
    _set_aside(settings)
    would = decisions.replace_url(settings, "forum", NEW, dry_run=True, clock=Ticker(days(2)))
    assert "its ignore and snooze of the old address would end (set them again if they" in (
        would.message
    )
    assert _held(engine) == (True, True)

    done = decisions.replace_url(settings, "forum", NEW, by="ana", clock=Ticker(days(2)))

    assert done.message.endswith(
        "; its ignore and snooze of the old address ended (set them again if they apply to "
        "the new one)"
    )
    assert _held(engine) == (False, False)
    assert done.sync is not None
    (change,) = done.sync.changes
    assert change.details["ended"] == ["ignore", "snooze"]
    assert done.message.endswith(change.describe().partition(NEW)[2])
    history = store.resource_history(engine, "forum")
    assert {"ignore", "snooze", "replace_url"} <= {d.kind for d in history.decisions}


def test_an_entry_that_leaves_an_ignored_address_is_back_in_the_queue_when_the_new_breaks(
    engine: Engine, settings: Settings
) -> None:
    """The walkthrough: an ignore of a 403, the entry moved to a new address, which then
    answers 404 three nights: confirmed broken, it is in the queue, not set aside."""
    decisions.ignore(settings, "forum", reason=WALL, by="ana", clock=Ticker(days(1)))
    decisions.replace_url(settings, "forum", NEW, clock=Ticker(days(1.5)))
    for night in (2, 3, 4):
        run_id = store.start_run(engine, trigger="schedule", now=days(night))
        batch = [
            make_observation(NEW, Outcome.NOT_FOUND, days(night)),
            make_observation(OTHER, checked_at=days(night)),
        ]
        stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(night)))
        runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(night + 0.01)))
    ctx = build_context(report_data(engine), now=days(4.01))
    assert "forum" in {r.resource_id for g in ctx.groups for r in g.rows}
    assert not ctx.set_aside


def test_accept_redirect_ends_them_too(engine: Engine, settings: Settings) -> None:
    _set_aside(settings)
    moved = make_observation(
        OLD, Outcome.REDIRECTED_PERMANENT, days(2), final_url=NEW, suggested_url=NEW
    )
    store.record_observations(engine, None, [moved], settings.health, now=days(2))

    done = decisions.accept_redirect(settings, "forum", clock=Ticker(days(3)))

    assert "its ignore and snooze of the old address ended" in done.message
    assert _held(engine) == (False, False)


def _run(settings: Settings, engine: Engine, night: float, *urls: str) -> ReportContext:
    """A night's run checking `urls` (working); the report after it."""
    run_id = store.start_run(engine, trigger="schedule", now=days(night))
    batch = [make_observation(url, checked_at=days(night)) for url in urls]
    stored = runs.store_batch(settings, run_id, batch, clock=Ticker(days(night)))
    runs.finish_run(settings, run_id, stored=[stored], clock=Ticker(days(night + 0.01)))
    return build_context(report_data(engine), now=days(night + 0.01))


def test_a_url_edited_by_hand_ends_them_and_sync_and_the_news_say_so(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    _run(settings, engine, 1, OLD, OTHER)
    decisions.ignore(settings, "forum", reason=WALL, by="ana", clock=Ticker(days(1.2)))
    catalog_file.write_text(catalog_file.read_text().replace(OLD, NEW))

    result = sync_catalogs(engine, load_catalogs([catalog_file]), now=days(1.5))

    (change,) = result.changes
    assert change.describe() == (
        f"toolkit/forum: URL changed from {OLD} to {NEW}; its ignore of the old address ended "
        "(set it again if it applies to the new one)"
    )
    assert _held(engine) == (False, False)
    ctx = _run(settings, engine, 2, NEW, OTHER)
    assert ctx.changes is not None
    said = [i.summary for s in ctx.changes.sections for i in s.items if i.resource_id == "forum"]
    assert said == [
        "URL edited; its ignore of the old address ended (set it again if it applies to the "
        "new one)."
    ]


def test_entries_whose_address_stays_keep_them(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    """A new #section is the same page (the same link and problem); a title edited, or
    another entry's URL changed, touch nothing."""
    _set_aside(settings)
    _set_aside(settings, "b")
    text = catalog_file.read_text().replace(OLD, f"{OLD}#latest").replace("Portal", "Portail")
    catalog_file.write_text(text)

    result = sync_catalogs(engine, load_catalogs([catalog_file]), now=days(2))

    assert {c.id for c in result.changes} == {"forum", "b"}
    assert all("ended" not in c.details for c in result.changes)
    assert _held(engine) == _held(engine, "b") == (True, True)
    done = decisions.replace_url(settings, "forum", f"{OLD}#top", clock=Ticker(days(3)))
    assert "old address" not in done.message
    assert _held(engine) == (True, True)


#: Edits that keep the page: the https form `catalog lint` asks for (`http_url`), its
#: tracking parameters removed (`tracking_params`), a trailing "/" or a leading "www."
#: (`likely_duplicate_url`); and edits that move it: another path, another host.
_SAME_PAGE = [
    ("http://forum.example/forum", "https://forum.example/forum"),
    ("https://forum.example/forum?utm_source=news&utm_medium=mail", OLD),
    ("https://forum.example/forum?id=7&fbclid=x1", "https://forum.example/forum?id=7"),
    (OLD, f"{OLD}/"),
    (f"{OLD}/", OLD),
    ("https://www.forum.example/forum", OLD),
    ("http://forum.example/forum?utm_campaign=x", "https://forum.example/forum/#latest"),
]
_MOVED = [
    (OLD, NEW),
    (OLD, "https://forum.example/"),
    (OLD, "https://forum.example.org/forum"),
    ("http://forum.example/forum", "https://forum.example/forum?id=7"),
    ("http://forum.example:8080/forum", "https://forum.example:8080/forum"),
]


@pytest.mark.parametrize(("old", "new"), _SAME_PAGE)
def test_the_same_page_at_a_tidier_address_keeps_them(old: str, new: str) -> None:
    assert same_page(old, new) and same_page(new, old)


@pytest.mark.parametrize(("old", "new"), _MOVED)
def test_another_host_or_path_is_a_move(old: str, new: str) -> None:
    assert not same_page(old, new) and not same_page(new, old)


def test_text_that_is_no_url_is_compared_as_written() -> None:
    assert same_page("http://[bad", " http://[bad ") and not same_page("http://[bad", OLD)


@pytest.mark.parametrize(
    "written",
    [
        "http://forum.example/forum",
        "https://forum.example/forum?utm_source=news",
        "https://forum.example/forum/",
    ],
)
def test_a_tidier_address_keeps_them_by_hand_and_by_replace_url(
    tmp_path: Path, written: str
) -> None:
    """`catalog lint` asks for the https form and no tracking parameters: the edit it asks
    for names the same page, so the ignore and snooze made on it hold (by hand, synced, or
    by `replace-url`, dry run or not)."""
    path = write_catalog(tmp_path / "toolkit.yaml", [{"id": "forum", "title": "F", "url": written}])
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([path]), now=T0)
        settings = settings_for(engine, [path])
        _set_aside(settings)
        would = decisions.replace_url(settings, "forum", OLD, dry_run=True, clock=Ticker(days(2)))
        assert "old address" not in would.message
        done = decisions.replace_url(settings, "forum", OLD, clock=Ticker(days(2)))
        assert "old address" not in done.message
        assert done.sync is not None
        assert all("ended" not in c.details for c in done.sync.changes)
        assert _held(engine) == (True, True)
        path.write_text(path.read_text().replace(OLD, written))  # and back, by hand
        result = sync_catalogs(engine, load_catalogs([path]), now=days(3))
        assert [c.describe() for c in result.changes] == [
            f"toolkit/forum: URL changed from {OLD} to {written}"
        ]
        assert _held(engine) == (True, True)
