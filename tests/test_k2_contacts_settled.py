"""A phone number or email gone from its page: the finding is of the entries that name it,
`mark-reviewed` settles it, and `resource` and `export` carry it as the queue does.

`catalog.health.apply_contacts` keeps what a link's page showed per link; the entries
using it are told apart by what each names (`entry_contact_reason`, `Change.entry`), and a
review forgets the gone contacts the entry names (`settled_contacts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import decisions, store
from catalog.export import export_rows
from catalog.health import entry_contact_reason, settled_contacts
from catalog.queries import report_data
from catalog.settings import HealthSettings, Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from reports.build import build_context
from reports.context import ReportContext, Row
from tests.factories import (
    T0,
    Ticker,
    days,
    make_observation,
    settings_for,
    temporary_database,
    write_catalog,
)

SITE = "https://hotline.example/"
TITLE = "National Human Trafficking Hotline"
HOTLINE = "1-888-373-7888"
KEY = "tel:8883737888"
NEW = "tel:8885550100"
EMAIL = "help@hotline.example"
EMAIL_KEY = f"mailto:{EMAIL}"
HEALTH = HealthSettings()
SAID = (
    f"The phone number {HOTLINE} named in the entry is no longer on the page; "
    "it now shows 1-888-555-0100."
)


def _files(tmp_path: Path, listing: str) -> list[Path]:
    """The hotline's entry (naming its number) and a directory's entry of the same page,
    described by `listing`."""
    return [
        write_catalog(
            tmp_path / "toolkit.yaml",
            [{"id": "hotline", "title": TITLE, "url": SITE, "description": f"Call {HOTLINE}."}],
        ),
        write_catalog(
            tmp_path / "directory.yaml",
            [{"id": "listing", "title": TITLE, "url": SITE, "description": listing}],
        ),
    ]


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return _files(tmp_path, "Services for survivors of trafficking, any hour.")


@pytest.fixture
def engine(tmp_path: Path, files: list[Path]) -> Iterator[Engine]:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs(files), now=T0)
        yield engine


@pytest.fixture
def settings(engine: Engine, files: list[Path]) -> Settings:
    return settings_for(engine, files)


def _night(engine: Engine, n: float, *shown: str) -> ReportContext:
    """Night `n`: a full read of the page, which shows the contacts `shown`."""
    run_id = store.start_run(engine, trigger="schedule", now=days(n))
    obs = make_observation(SITE, checked_at=days(n), title=TITLE, contacts=shown)
    store.record_observations(engine, run_id, [obs], HEALTH, now=days(n))
    store.finish_run(engine, run_id, status="completed", now=days(n + 0.01))
    return _report(engine, n)


def _missed_once(engine: Engine, *shown: str) -> None:
    """Nights 0 and 1: a full read shows `shown`, the next one does not; night 2's read,
    the second in a row without them, finds them gone (`apply_contacts`)."""
    _night(engine, 0, *shown)
    _night(engine, 1, NEW)


def _report(engine: Engine, n: float) -> ReportContext:
    return build_context(report_data(engine), now=days(n + 0.02))


def _queued(ctx: ReportContext) -> dict[str, Row]:
    return {r.resource_id: r for r in ctx.resources if r.priority is not None}


def _news(ctx: ReportContext, section: str) -> list[tuple[str | None, str]]:
    assert ctx.changes is not None
    items = [i for s in ctx.changes.sections if s.key == section for i in s.items]
    return [(i.resource_id, i.summary) for i in items]


def _exported(engine: Engine) -> dict[str, list[str]]:
    return {row["id"]: row["stale"] for row in export_rows(engine, now=days(30))}


def _history(engine: Engine, rid: str) -> str:
    history = store.resource_history(engine, rid)
    return "\n".join(decisions.history_lines(history, now=days(30)))


# --- the entries that name it ---------------------------------------------------------------


def test_only_the_entry_naming_the_gone_number_gets_the_news_the_row_and_the_export_code(
    engine: Engine,
) -> None:
    """A directory's entry of the hotline's page that names no number is not told that
    "the phone number named in the entry" left it."""
    _missed_once(engine, KEY)
    ctx = _night(engine, 2, NEW)
    assert _news(ctx, "contacts_gone") == [("hotline", SAID)]
    assert list(_queued(ctx)) == ["hotline"]
    assert _queued(ctx)["hotline"].seen == SAID
    assert _exported(engine) == {"hotline": ["contact_gone"], "listing": []}

    ctx = _night(engine, 3, KEY)
    back = f"The phone number {HOTLINE} named in the entry is on the page again."
    assert _news(ctx, "recovered") == [("hotline", back)]


def test_two_entries_naming_different_contacts_each_have_their_own_sentence(
    tmp_path: Path,
) -> None:
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs(_files(tmp_path, f"Write to {EMAIL}.")), now=T0)
        _missed_once(engine, KEY, EMAIL_KEY)
        ctx = _night(engine, 2, NEW)
        email = f"The email address {EMAIL} named in the entry is no longer on the page."
        queued = _queued(ctx)
        assert (queued["hotline"].seen, queued["listing"].seen) == (SAID, email)
        assert sorted(_news(ctx, "contacts_gone")) == [("hotline", SAID), ("listing", email)]


def test_resource_shows_the_finding_as_the_queue_does(engine: Engine) -> None:
    _missed_once(engine, KEY)
    _night(engine, 2, NEW)
    assert f"stale (contact_gone): {SAID}" in _history(engine, "hotline")
    assert "contact_gone" not in _history(engine, "listing").split("Events")[0]
    (note,) = store.resource_history(engine, "hotline").resource.stale
    assert (note.code, note.since) == ("contact_gone", days(2))


# --- mark-reviewed --------------------------------------------------------------------------


def test_a_review_settles_the_finding_until_the_number_returns_and_goes_again(
    engine: Engine, settings: Settings
) -> None:
    """The number moved to the contact page and the entry is right: the review takes the
    row out of the queue, and the page still not showing the number is no news again."""
    _missed_once(engine, KEY)
    ctx = _night(engine, 2, NEW)
    assert _queued(ctx)["hotline"].command is not None
    assert "mark-reviewed" in str(_queued(ctx)["hotline"].command)

    result = decisions.mark_reviewed(settings, "hotline", clock=Ticker(days(2.5)))
    assert f"; {HOTLINE}, no longer on its page, is settled" in result.message
    assert result.decision is not None
    assert result.decision.details["contacts_settled"] == [HOTLINE]
    assert _queued(_report(engine, 2.5)) == {}
    assert "contact_gone" not in _exported(engine)["hotline"]
    assert "stale (contact_gone)" not in _history(engine, "hotline")

    for n in (3, 4):  # still not on the page: settled, no news
        ctx = _night(engine, n, NEW)
        assert _queued(ctx) == {} and _news(ctx, "contacts_gone") == []
    ctx = _night(engine, 5, KEY, NEW)  # shown again: seen anew, not "back"
    assert _queued(ctx) == {} and _news(ctx, "recovered") == []
    ctx = _night(engine, 6, NEW)  # missing once: not yet
    assert _news(ctx, "contacts_gone") == []
    ctx = _night(engine, 7, NEW)  # and gone again: news again
    assert _news(ctx, "contacts_gone") == [("hotline", SAID)]
    assert list(_queued(ctx)) == ["hotline"]


def test_a_review_settles_only_the_contacts_the_entry_names(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as engine:
        files = _files(tmp_path, f"Write to {EMAIL}.")
        sync_catalogs(engine, load_catalogs(files), now=T0)
        _missed_once(engine, KEY, EMAIL_KEY)
        _night(engine, 2, NEW)
        result = decisions.mark_reviewed(
            settings_for(engine, files), "listing", clock=Ticker(days(2.5))
        )
        assert f"; {EMAIL}, no longer on its page, is settled:" in result.message
        assert list(_queued(_report(engine, 2.5))) == ["hotline"]
        (link,) = store.link_states(engine)
        # The number left gone keeps the night of the first read that missed it.
        assert (link.contacts_seen, link.contacts_gone, link.contact_reason) == (
            (f"{KEY} missing {days(1).isoformat()}",),
            (KEY,),
            SAID,
        )


def test_a_review_settles_the_page_for_another_entry_naming_the_same_number(
    tmp_path: Path,
) -> None:
    """The finding is of the page: the number the curator found right is right for the
    other entry too, and the message names it so its row's going is no mystery."""
    with temporary_database(tmp_path) as engine:
        files = _files(tmp_path, "The hotline, call (888) 373-7888.")
        sync_catalogs(engine, load_catalogs(files), now=T0)
        _missed_once(engine, KEY)
        assert sorted(_queued(_night(engine, 2, NEW))) == ["hotline", "listing"]
        result = decisions.mark_reviewed(
            settings_for(engine, files), "hotline", clock=Ticker(days(2.5))
        )
        assert "(for directory/listing too, which names it as well)" in result.message
        assert _queued(_report(engine, 2.5)) == {}


def test_a_dry_run_review_says_what_it_would_settle_and_settles_nothing(
    engine: Engine, settings: Settings
) -> None:
    _missed_once(engine, KEY)
    _night(engine, 2, NEW)
    result = decisions.mark_reviewed(settings, "hotline", dry_run=True, clock=Ticker(days(2.5)))
    assert result.dry_run and f"{HOTLINE}, no longer on its page, is settled" in result.message
    assert list(_queued(_report(engine, 2.5))) == ["hotline"]


def test_a_review_of_an_entry_with_nothing_gone_says_nothing_of_contacts(
    engine: Engine, settings: Settings
) -> None:
    _night(engine, 1, KEY)
    result = decisions.mark_reviewed(settings, "hotline", clock=Ticker(days(1.5)))
    assert "settled" not in result.message
    assert result.decision is not None and "contacts_settled" not in result.decision.details
    (link,) = store.link_states(engine)
    assert (link.contacts_seen, link.contacts_gone) == ((KEY,), ())


# --- the rules ------------------------------------------------------------------------------

TWO = f"{SAID} The email address {EMAIL} named in the entry is no longer on the page."


def test_an_entry_has_the_sentences_of_the_contacts_it_names() -> None:
    gone = (KEY, EMAIL_KEY)
    assert entry_contact_reason(TWO, gone, TITLE, f"Call {HOTLINE} or {EMAIL}") == TWO
    assert entry_contact_reason(TWO, gone, TITLE, f"Call {HOTLINE}.") == SAID
    email = f"The email address {EMAIL} named in the entry is no longer on the page."
    assert entry_contact_reason(TWO, gone, TITLE, f"Mail {EMAIL.upper()}") == email
    assert entry_contact_reason(TWO, gone, TITLE, None) is None
    assert entry_contact_reason(None, (), TITLE, f"Call {HOTLINE}.") is None


def test_settling_keeps_the_other_contacts_findings() -> None:
    seen = (KEY, EMAIL_KEY, NEW)
    assert settled_contacts(seen, (KEY, EMAIL_KEY), TWO, {KEY}) == (
        (EMAIL_KEY, NEW),
        (EMAIL_KEY,),
        f"The email address {EMAIL} named in the entry is no longer on the page.",
    )
    assert settled_contacts(seen, (KEY,), SAID, {KEY, EMAIL_KEY}) == ((EMAIL_KEY, NEW), (), None)
    assert settled_contacts(seen, (KEY,), SAID, {NEW}) == (seen, (KEY,), SAID)
