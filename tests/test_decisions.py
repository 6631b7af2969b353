"""Curator decisions: recorded with who, when and why, written back to the catalog file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog import decisions, store
from catalog.errors import ConfigError, LinkhealthError, NotFoundError
from catalog.outcomes import Outcome
from catalog.queries import report_data
from catalog.settings import Settings
from catalog.source import load_catalogs
from catalog.sync import sync_catalogs
from reports import build_context, render_html, render_markdown
from tests.factories import (
    T0,
    Ticker,
    days,
    make_catalog,
    make_observation,
    make_resource,
    settings_for,
    temporary_database,
    write_catalog,
)

OLD = "https://example.org/old"
NEW = "https://example.org/new"


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "toolkit.yaml",
        [
            {"id": "a", "title": "Guide", "url": OLD},
            {"id": "b", "title": "Portal", "url": "https://example.org/b"},
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


def redirect(engine: Engine, day: float = 1) -> None:
    obs = make_observation(
        OLD, Outcome.REDIRECTED_PERMANENT, days(day), final_url=NEW, suggested_url=NEW
    )
    store.record_observations(engine, None, [obs], Settings().health, now=days(day))


def test_accepting_a_redirect_edits_the_file_records_who_and_resyncs(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    redirect(engine)
    result = decisions.accept_redirect(
        settings, "a", by="ann", reason="publisher moved", clock=Ticker(days(2))
    )

    text = catalog_file.read_text()
    assert f"url: {NEW}" in text and "# Curated by hand: keep this comment." in text
    assert result.diff and result.decision is not None
    assert (result.decision.by, result.decision.kind, result.decision.reason) == (
        "ann",
        "accept_redirect",
        "publisher moved",
    )
    assert result.decision.details == {"old": OLD, "new": NEW, "file": str(catalog_file)}
    history = store.resource_history(engine, "a")
    assert history.resource.url == NEW
    assert "url_edited" in [e.kind for e in history.events]
    assert [d.kind for d in history.decisions] == ["accept_redirect"]


def test_a_url_change_that_makes_a_duplicate_says_so(engine: Engine, settings: Settings) -> None:
    """b's page now redirects to the page entry a already names: accepting is allowed (both
    may belong), but the curator hears it before `catalog lint` fails on it."""
    moved = make_observation(
        "https://example.org/b",
        Outcome.REDIRECTED_PERMANENT,
        days(1),
        final_url=OLD,
        suggested_url=OLD,
    )
    store.record_observations(engine, None, [moved], Settings().health, now=days(1))
    for dry_run in (True, False):
        result = decisions.accept_redirect(settings, "b", dry_run=dry_run, clock=Ticker(days(2)))
        assert "a already uses this URL" in result.message
        assert "duplicate_of: a" in result.message
    assert "already use" not in decisions.replace_url(settings, "a", NEW).message


def test_accepting_needs_a_current_permanent_redirect(engine: Engine, settings: Settings) -> None:
    with pytest.raises(LinkhealthError):
        decisions.accept_redirect(settings, "a")
    redirect(engine)
    store.record_observations(
        engine, None, [make_observation(OLD, checked_at=days(2))], settings.health, now=days(2)
    )
    with pytest.raises(LinkhealthError):
        decisions.accept_redirect(settings, "a")


def test_accepting_refuses_when_the_file_already_names_another_url(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    """The redirect was seen on the URL the database knows; the curator has since fixed the
    entry by hand (not synced yet). Accepting would overwrite that fix with the old URL's
    redirect, so it is refused and the file is left as the curator wrote it."""
    redirect(engine)
    hand_fixed = "https://example.org/fixed-by-hand"
    catalog_file.write_text(catalog_file.read_text().replace(OLD, hand_fixed))
    before = catalog_file.read_text()

    for dry_run in (True, False):
        with pytest.raises(LinkhealthError) as caught:
            decisions.accept_redirect(settings, "a", dry_run=dry_run, clock=Ticker(days(2)))
        assert hand_fixed in str(caught.value) and OLD in str(caught.value)
        assert str(catalog_file) in str(caught.value)

    assert catalog_file.read_text() == before
    assert store.resource_history(engine, "a").decisions == ()


def test_dry_run_shows_the_diff_and_changes_nothing(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    before = catalog_file.read_text()
    result = decisions.replace_url(settings, "a", NEW, dry_run=True)
    assert result.dry_run and f"+  url: {NEW}" in result.diff
    assert catalog_file.read_text() == before
    assert store.resource_history(engine, "a").decisions == ()


def test_replace_url_with_the_archived_copy(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    # No copy known: the refusal says whether lookups would find one (here they are off).
    with pytest.raises(LinkhealthError, match=r"archive lookups are off in these settings"):
        decisions.replace_url(settings, "a", archive=True)
    looking = replace(settings, health=replace(settings.health, archive_lookups=True))
    with pytest.raises(LinkhealthError, match=r"lookups run after each check for broken"):
        decisions.replace_url(looking, "a", archive=True)
    copy = f"https://web.archive.org/web/20240101000000/{OLD}"
    link_id = store.find_resource(engine, "a").link_id
    assert link_id is not None
    store.set_archive(engine, link_id, copy, at=days(1))

    decisions.replace_url(settings, "a", archive=True, by="bo", clock=Ticker(days(2)))

    assert f"url: {copy}" in catalog_file.read_text()
    assert store.find_resource(engine, "a").url == copy


def test_replace_url_refuses_a_url_that_cannot_be_fetched(settings: Settings) -> None:
    with pytest.raises(ConfigError):
        decisions.replace_url(settings, "a", "not a url")
    with pytest.raises(ConfigError):
        decisions.replace_url(settings, "a", NEW, archive=True)


def test_marking_reviewed_writes_the_date_and_restarts_the_review_clock(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    clock = Ticker(days(400))
    store.refresh_staleness(engine, settings.health, now=clock())
    assert "review_overdue" in {n.code for n in store.find_resource(engine, "a").stale}

    result = decisions.mark_reviewed(settings, "a", by="ann", clock=clock)

    assert f"reviewed_at: {days(400).date()}\n" in catalog_file.read_text()
    resource = store.find_resource(engine, "a")
    assert resource.reviewed_at == days(400)
    assert "review_overdue" not in {n.code for n in resource.stale}
    assert result.decision is not None and result.decision.by == "ann"
    assert f"wrote reviewed_at: {days(400).date()} to " in result.message
    before = catalog_file.read_bytes()
    again = decisions.mark_reviewed(settings, "a", by="ann", clock=clock)
    # The same day again: recorded, and the file left as it was, which the message says.
    assert catalog_file.read_bytes() == before and again.decision is not None
    assert again.message.endswith(f"says reviewed_at: {days(400).date()} already)")


def test_snooze_leaves_the_queue_until_the_date_then_ends_by_itself(
    engine: Engine, settings: Settings
) -> None:
    clock = Ticker(days(1))
    decisions.snooze(settings, "b", until=days(10).date(), reason="site rebuild", clock=clock)
    resource = store.find_resource(engine, "b")
    assert resource.snoozed(days(5)) and resource.snooze_reason == "site rebuild"

    store.refresh_staleness(engine, settings.health, now=days(11))

    assert store.find_resource(engine, "b").snoozed_until is None
    assert "snooze_ended" in [e.kind for e in store.resource_history(engine, "b").events]
    with pytest.raises(ConfigError):
        decisions.snooze(settings, "b", until=T0.date(), reason="past", clock=clock)


def test_ignore_and_unignore(engine: Engine, settings: Settings) -> None:
    # Nothing to undo: said so, nothing recorded, no error (exit 0, as a second run would).
    nothing = decisions.unignore(settings, "b")
    assert "neither ignored nor snoozed" in nothing.message and nothing.decision is None
    assert store.resource_history(engine, "b").decisions == ()
    decisions.ignore(settings, "b", reason="login wall", by="ann", clock=Ticker(days(1)))
    resource = store.find_resource(engine, "b")
    assert resource.ignored and resource.ignored_reason == "login wall"
    decisions.unignore(settings, "b", by="bo", clock=Ticker(days(2)))
    assert not store.find_resource(engine, "b").ignored
    kinds = [(d.kind, d.by) for d in store.resource_history(engine, "b").decisions]
    assert kinds == [("unignore", "bo"), ("ignore", "ann")]


def test_unignore_says_it_ends_a_snooze_too(engine: Engine, settings: Settings) -> None:
    """It ends both; a snooze that went with the ignore unmentioned surprised its curator."""
    decisions.ignore(settings, "b", reason="login wall", clock=Ticker(days(1)))
    decisions.snooze(settings, "b", until=days(20).date(), reason="rebuild", clock=Ticker(days(1)))
    both = decisions.unignore(settings, "b", clock=Ticker(days(2)))
    assert both.message.endswith(
        f": no longer ignored (login wall) and its snooze until {days(20):%Y-%m-%d} 00:00 "
        "ended; its link is not checked yet: it is watched again, and listed if a check "
        "finds a problem"
    )
    resource = store.find_resource(engine, "b")
    assert not resource.ignored and resource.snoozed_until is None
    decisions.snooze(settings, "b", until=days(20).date(), reason="rebuild", clock=Ticker(days(3)))
    only = decisions.unignore(settings, "b", clock=Ticker(days(4)))
    assert ": its snooze until " in only.message and "ignored" not in only.message


def test_the_report_says_who_set_a_resource_aside_and_when(
    engine: Engine, settings: Settings
) -> None:
    """A team reading what is left out of the queue asks whom to ask: `--by` was recorded
    and shown nowhere but `linkhealth resource`."""
    decisions.snooze(
        settings, "b", until=days(30).date(), reason="x", by="bo", clock=Ticker(days(1))
    )
    decisions.snooze(
        settings, "b", until=days(40).date(), reason="y", by="cy", clock=Ticker(days(3))
    )
    decisions.ignore(settings, "a", reason="login wall", by="ann", clock=Ticker(days(2)))
    decisions.unignore(settings, "a", by="ann", clock=Ticker(days(4)))
    decisions.ignore(settings, "a", reason="login wall", by="dee", clock=Ticker(days(5)))
    ctx = build_context(report_data(engine), now=days(6))
    aside = {row.resource_id: row for row in ctx.set_aside}
    snoozed, ignored = aside["b"].snoozed_by, aside["a"].ignored_by
    assert snoozed is not None and (snoozed.by, snoozed.at.date) == ("cy", str(days(3).date()))
    assert ignored is not None and (ignored.by, ignored.at.date) == ("dee", str(days(5).date()))
    assert aside["a"].snoozed_by is None and aside["b"].ignored_by is None
    assert f"(by cy on {days(3).date()})" in render_markdown(ctx)
    assert "(by dee, " in render_html(ctx)


def test_an_entry_removed_from_the_catalog_cannot_be_set_aside(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    write_catalog(catalog_file, [{"id": "b", "title": "Portal", "url": "https://example.org/b"}])
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(1))

    with pytest.raises(NotFoundError, match="removed from the catalog"):
        decisions.ignore(settings, "a", reason="login wall")
    with pytest.raises(NotFoundError, match="removed from the catalog"):
        decisions.snooze(settings, "a", until=days(30), reason="rebuild", clock=Ticker(days(2)))
    assert store.resource_history(engine, "a").decisions == ()


def test_unignoring_a_removed_entry_with_nothing_set_aside_does_not_promise_the_queue(
    engine: Engine, settings: Settings, catalog_file: Path
) -> None:
    """A removed entry is in no action queue; a set-aside stays with it, so unignoring one
    is no mistake, and its rerun with nothing left to end says what is so."""
    decisions.ignore(settings, "a", reason="login wall", clock=Ticker(days(1)))
    write_catalog(catalog_file, [{"id": "b", "title": "Portal", "url": "https://example.org/b"}])
    sync_catalogs(engine, load_catalogs([catalog_file]), now=days(2))

    ended = decisions.unignore(settings, "a", clock=Ticker(days(3)))
    again = decisions.unignore(settings, "a", clock=Ticker(days(3)))

    assert ended.decision is not None and "no longer ignored (login wall)" in ended.message
    assert again.decision is None
    assert again.message.endswith(
        f"is neither ignored nor snoozed: nothing to undo (it was removed from the catalog "
        f"on {days(2).date()}, so no action queue lists it)"
    )


def test_snoozed_and_ignored_resources_are_still_checked(
    engine: Engine, settings: Settings
) -> None:
    decisions.ignore(settings, "b", reason="login wall")
    urls = {
        tg.url for tg in store.targets_for_check(engine, now=days(1), fingerprint_max_age_days=7)
    }
    assert "https://example.org/b" in urls


def test_unknown_ids_are_not_found_and_ambiguous_ones_need_a_collection(
    engine: Engine, settings: Settings
) -> None:
    with pytest.raises(NotFoundError, match="`linkhealth sync` first if you added or renamed"):
        decisions.ignore(settings, "nope", reason="x")
    sync_catalogs(engine, [make_catalog("other", [make_resource("a")])], now=T0)
    with pytest.raises(ConfigError, match="several collections"):  # a usage error: exit 2
        decisions.ignore(settings, "a", reason="x")
    result = decisions.ignore(settings, "a", reason="x", collection="other")
    assert result.resource.collection == "other"
    # As verdicts, `status` and `export` name it: "collection/id", pasted back.
    named = decisions.unignore(settings, "other/a")
    assert (named.resource.collection, named.resource.rid) == ("other", "a")
    with pytest.raises(NotFoundError, match="no resource with id 'elsewhere/a'"):
        decisions.ignore(settings, "elsewhere/a", reason="x")


def test_default_decider_is_the_os_user(engine: Engine, settings: Settings) -> None:
    result = decisions.ignore(settings, "b", reason="x")
    assert result.decision is not None and result.decision.by == decisions.current_user()


def test_history_reads_newest_first_in_text_and_json(engine: Engine, settings: Settings) -> None:
    redirect(engine, 1)
    decisions.ignore(settings, "a", reason="checking", clock=Ticker(days(2)))
    history = store.resource_history(engine, "a")
    lines = decisions.history_lines(history, now=days(3))
    text = "\n".join(lines)
    for heading in ("Current state", "Observations", "Events", "Decisions"):
        assert heading in text
    assert "redirected_permanent" in text and "checking" in text
    data = decisions.history_json(history)
    assert data["resource"]["rid"] == "a"
    assert data["observations"][0]["outcome"] == "redirected_permanent"
    assert data["decisions"][0]["kind"] == "ignore"
    # Events read as old → new and named facts, not a JSON object cut off in its middle.
    (event,) = [line for line in lines if " outcome_changed " in line]
    assert "{" not in event and "outcome_changed      none → redirected_permanent; " in event
    (decision,) = [line for line in lines if " ignore " in line]
    assert "{" not in decision


def test_an_events_reason_that_ends_a_sentence_is_joined_without_a_stray_full_stop(
    engine: Engine,
) -> None:
    """The event's facts are joined with "; ": "...the new page answers 200.; http status:
    200" read as a typo."""
    reason = f"Redirected permanently (301) to {NEW}; the new page answers 200."
    obs = make_observation(OLD, Outcome.REDIRECTED_PERMANENT, days(1), final_url=NEW, reason=reason)
    store.record_observations(engine, None, [obs], Settings().health, now=days(1))
    lines = decisions.history_lines(store.resource_history(engine, "a"), now=days(2))
    (event,) = [line for line in lines if " outcome_changed " in line]
    assert "the new page answers 200; http status: 200" in event, event
    assert ".;" not in "\n".join(lines)


def test_history_states_the_last_check_in_the_reports_words_with_what_to_do(
    engine: Engine,
) -> None:
    # It printed "ok: Moved permanently": the health state's key beside a label that asks
    # for an edit. A working moved link's state adds nothing; a failing one's does.
    redirect(engine, 1)
    text = "\n".join(decisions.history_lines(store.resource_history(engine, "a"), now=days(2)))
    assert f"  Moved permanently (last checked {days(1):%Y-%m-%d %H:%M}" in text, text
    assert "  to do:     The site says this page has moved for good;" in text
    assert "ok:" not in text

    health = Settings().health
    for day in (2, 3, 4, 5):
        missing = make_observation(OLD, Outcome.NOT_FOUND, days(day))
        store.record_observations(engine, None, [missing], health, now=days(day))
    text = "\n".join(decisions.history_lines(store.resource_history(engine, "a"), now=days(6)))
    assert "  Not found (404), confirmed broken (last checked" in text, text
    assert f"  to do:     {Outcome.NOT_FOUND.explanation}" in text

    fine = make_observation(OLD, Outcome.OK, days(6))
    store.record_observations(engine, None, [fine], health, now=days(6))
    text = "\n".join(decisions.history_lines(store.resource_history(engine, "a"), now=days(7)))
    current = text.split("Current state\n", 1)[1].split("\n\n", 1)[0]
    assert current.startswith("  OK, recovered (last checked"), current
    assert "to do:" not in current


def test_history_shows_an_address_no_check_can_fix_as_the_report_does(engine: Engine) -> None:
    # A link stored suspect with it (by an earlier version) is filed under "Confirmed
    # broken" by the report; `resource` must agree.
    url = "https://example.org/b"
    invalid = make_observation(url, Outcome.INVALID_URL, days(1), http_status=None)
    store.record_observations(engine, None, [invalid], Settings().health, now=days(1))
    history = store.resource_history(engine, "b")
    assert history.link is not None
    history = replace(history, link=replace(history.link, state="suspect"))
    text = "\n".join(decisions.history_lines(history, now=days(2)))
    assert f"  {Outcome.INVALID_URL.label}, confirmed broken (last checked" in text, text


def test_history_of_a_link_only_tried_while_offline_says_it_was_never_checked(
    engine: Engine,
) -> None:
    offline = make_observation(OLD, Outcome.NETWORK_UNAVAILABLE, days(1), http_status=None)
    store.record_observations(engine, None, [offline], Settings().health, now=days(1))
    text = "\n".join(decisions.history_lines(store.resource_history(engine, "a"), now=days(2)))
    assert "never checked: last tried" in text and "network was unavailable" in text
    assert "unchecked: ?" not in text


def test_history_after_a_night_offline_gives_the_last_real_check(engine: Engine) -> None:
    health = Settings().health
    store.record_observations(
        engine, None, [make_observation(OLD, checked_at=days(1))], health, now=days(1)
    )
    offline = make_observation(OLD, Outcome.NETWORK_UNAVAILABLE, days(2), http_status=None)
    store.record_observations(engine, None, [offline], health, now=days(2))
    text = "\n".join(decisions.history_lines(store.resource_history(engine, "a"), now=days(3)))
    assert f"(last checked {days(1):%Y-%m-%d %H:%M}" in text, text


def test_marking_reviewed_writes_the_curators_own_date(
    engine: Engine, settings: Settings, catalog_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 08:00 on the 5th in Sydney (21:00 on the 4th, UTC) the review is the 5th's: the
    curator would read "reviewed_at: 2026-12-04" as a day lost."""
    monkeypatch.setenv("TZ", "Australia/Sydney")
    time.tzset()
    try:
        clock = Ticker(datetime(2026, 12, 4, 21, tzinfo=UTC))
        result = decisions.mark_reviewed(settings, "a", by="ann", clock=clock)
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
    assert "reviewed_at: 2026-12-05\n" in catalog_file.read_text()
    assert "wrote reviewed_at: 2026-12-05 to " in result.message
    # Read back, the review is not "in the future" to staleness: the entry is reviewed.
    assert "review_overdue" not in {n.code for n in store.find_resource(engine, "a").stale}


def test_history_says_its_times_are_utc(engine: Engine) -> None:
    """A check at 02:00 in New York prints as 07:00: without the zone named, a curator
    reads it as the morning."""
    redirect(engine, 1)
    lines = decisions.history_lines(store.resource_history(engine, "a"), now=days(2))
    assert lines[-2:] == ["", "Times are UTC."]


def test_accepting_a_redirect_keeps_the_section_the_entry_names(tmp_path: Path) -> None:
    """A browser keeps `#ohio` through a redirect; accepting it dropped the section, and the
    Texas and Ohio entries of one hotline page became one URL (a `duplicate_url`)."""
    path = write_catalog(
        tmp_path / "kit.yaml",
        [
            {"id": "ohio", "title": "Ohio hotlines", "url": f"{OLD}#ohio"},
            {"id": "texas", "title": "Texas hotlines", "url": f"{NEW}#texas"},
        ],
    )
    with temporary_database(tmp_path, "kit.db") as engine:
        sync_catalogs(engine, load_catalogs([path]), now=T0)
        redirect(engine)
        result = decisions.accept_redirect(
            settings_for(engine, [path]), "ohio", by="ann", clock=Ticker(days(2))
        )
        assert f"url: {NEW}#ohio" in path.read_text()
        assert "note:" not in result.message  # no other entry names that section
        assert store.find_resource(engine, "ohio").url == f"{NEW}#ohio"
