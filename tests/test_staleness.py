"""Staleness: which entries a curator should look at again, judged at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.model import Resource
from catalog.settings import BUNDLED_CATALOG, HealthSettings
from catalog.source import load_catalog
from catalog.staleness import StaleReason, named_years, staleness

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
SETTINGS = HealthSettings(unverified_days=14, review_days=365, unchanged_days=730, dated_years=5)
RESOURCES: dict[str, Resource] = {r.id: r for r in load_catalog(BUNDLED_CATALOG).resources}


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def judge(**facts: Any) -> dict[str, StaleReason]:
    """Reasons by code for a fresh, current entry added 30 days ago and not reviewed since
    (a recent review would answer `dated` and `unchanged_long`), changed by `facts`."""
    base: dict[str, Any] = {
        "now": NOW,
        "settings": SETTINGS,
        "last_success_at": ago(1),
        "first_seen_at": ago(30),
        "reviewed_at": None,
        "fingerprint_unchanged_since": ago(10),
        "last_modified": http_date(ago(10)),
        "title": "National Human Trafficking Hotline",
        "description": "A toll-free hotline open 24 hours a day, 7 days a week.",
        "year": None,
    }
    base.update(facts)
    reasons = staleness(**base)
    assert len({r.code for r in reasons}) == len(reasons)
    return {r.code: r for r in reasons}


def test_a_fresh_reviewed_current_entry_has_no_reasons() -> None:
    assert judge() == {}


def test_reasons_carry_a_sentence_and_come_in_a_fixed_order() -> None:
    reasons = staleness(
        now=NOW,
        settings=SETTINGS,
        last_success_at=ago(40),
        first_seen_at=ago(2000),
        reviewed_at=None,
        fingerprint_unchanged_since=ago(1000),
        last_modified=None,
        title="2015 Annual Report",
        description=None,
        year=2015,
    )
    assert [r.code for r in reasons] == ["unverified", "review_overdue", "unchanged_long", "dated"]
    assert all(r.reason.endswith(".") for r in reasons)


@pytest.mark.parametrize("later", [1, 30, 400])
def test_the_same_facts_give_the_same_sentences_on_a_later_night(later: float) -> None:
    """Storage rewrites an entry's reasons only when they differ from the night before: a
    sentence that counted days ("40 days") would differ every night and cost a write of
    every stale entry, every night. Each still names the date it counts from."""
    facts: dict[str, Any] = {
        "settings": SETTINGS,
        "last_success_at": ago(40),
        "first_seen_at": ago(2000),
        "reviewed_at": ago(800),
        "fingerprint_unchanged_since": ago(1000),
        "last_modified": None,
        "title": "2015 Annual Report",
        "description": None,
        "year": 2015,
    }
    tonight = staleness(now=NOW, **facts)
    assert [r.code for r in tonight] == ["unverified", "review_overdue", "unchanged_long", "dated"]
    assert staleness(now=NOW + timedelta(days=later), **facts) == tonight
    dates = (ago(40), ago(800), ago(1000))
    for reason, since in zip(tonight, dates, strict=False):
        assert since.date().isoformat() in reason.reason


# --- unverified -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_success", "first_seen", "stale"),
    [
        pytest.param(ago(15), ago(400), True, id="last-success-too-old"),
        pytest.param(ago(13), ago(400), False, id="last-success-recent"),
        pytest.param(None, ago(15), True, id="never-succeeded-since-added-long-ago"),
        pytest.param(None, ago(2), False, id="just-added"),
        pytest.param(None, None, False, id="nothing-known"),
    ],
)
def test_unverified_counts_from_last_success_or_else_from_first_sighting(
    last_success: datetime | None, first_seen: datetime | None, stale: bool
) -> None:
    reasons = judge(last_success_at=last_success, first_seen_at=first_seen)
    assert ("unverified" in reasons) is stale
    if stale:
        assert reasons["unverified"].since == (last_success or first_seen)


def test_naive_datetimes_from_sqlite_are_read_as_utc() -> None:
    naive = ago(20).replace(tzinfo=None)
    reasons = judge(last_success_at=naive)
    assert reasons["unverified"].since == ago(20)


# --- review_overdue ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reviewed", "first_seen", "stale"),
    [
        pytest.param(ago(366), ago(800), True, id="review-older-than-a-year"),
        pytest.param(ago(300), ago(800), False, id="reviewed-this-year"),
        pytest.param(None, ago(400), True, id="never-reviewed-added-long-ago"),
        pytest.param(None, ago(100), False, id="never-reviewed-added-recently"),
    ],
)
def test_review_is_overdue_a_year_after_the_last_review_or_the_first_sighting(
    reviewed: datetime | None, first_seen: datetime, stale: bool
) -> None:
    reasons = judge(reviewed_at=reviewed, first_seen_at=first_seen)
    assert ("review_overdue" in reasons) is stale


# --- unchanged_long ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unchanged_days", "last_modified", "stale"),
    [
        pytest.param(800, http_date(ago(1500)), True, id="both-old"),
        pytest.param(800, http_date(ago(20)), False, id="server-says-recently-modified"),
        pytest.param(100, http_date(ago(1500)), False, id="fingerprint-moved-recently"),
        pytest.param(800, None, True, id="no-last-modified-fingerprint-alone"),
        pytest.param(800, "yesterday-ish", True, id="garbage-last-modified-ignored"),
        pytest.param(800, "Mon, 99 Foo 20xx 99:99:99 GMT", True, id="broken-date-ignored"),
        pytest.param(800, "Wed, 21 Oct 2015 07:28:00 -0000", True, id="zone-less-date"),
        pytest.param(None, None, False, id="never-fingerprinted"),
        # A date ahead of now says nothing of the page: a frozen site is still named.
        pytest.param(800, "Fri, 01 Jan 2100 00:00:00 GMT", True, id="future-date-ignored"),
        pytest.param(800, http_date(ago(-0.5)), False, id="server-clock-a-little-fast"),
    ],
)
def test_unchanged_long_needs_old_fingerprint_and_old_last_modified(
    unchanged_days: int | None, last_modified: str | None, stale: bool
) -> None:
    since = ago(unchanged_days) if unchanged_days is not None else None
    reasons = judge(fingerprint_unchanged_since=since, last_modified=last_modified)
    assert ("unchanged_long" in reasons) is stale


def test_unchanged_reason_says_when_it_rests_on_fingerprints_alone() -> None:
    with_header = judge(fingerprint_unchanged_since=ago(800), last_modified=http_date(ago(900)))
    without = judge(fingerprint_unchanged_since=ago(800), last_modified=None)
    assert "Last-Modified" not in with_header["unchanged_long"].reason
    assert "Last-Modified" in without["unchanged_long"].reason


# --- dated ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "description", "year", "stale"),
    [
        pytest.param("2018 Trafficking in Persons Report", None, None, True, id="year-in-title"),
        pytest.param("Grantee report", "Awards made in FY 2015.", None, True, id="fiscal-year"),
        pytest.param("Guide, 2nd edition (2012)", None, None, True, id="edition-year"),
        pytest.param("Plain title", None, 2019, True, id="year-field"),
        pytest.param("Plain title", None, 2021, False, id="year-field-exactly-at-limit"),
        pytest.param("2024 Trafficking in Persons Report", None, None, False, id="recent"),
        pytest.param(
            "Hotline", "Call 1-888-373-7888 or text 233733.", None, False, id="phone-number"
        ),
        pytest.param("Title 22 U.S.C. 7102 explained", None, None, False, id="statute"),
        pytest.param(
            "Report",
            "The Trafficking Victims Protection Act of 2000.",
            2023,
            False,
            id="history-in-description-but-recent-year",
        ),
    ],
)
def test_dated_when_the_newest_named_year_is_older_than_the_limit(
    title: str, description: str | None, year: int | None, stale: bool
) -> None:
    reasons = judge(title=title, description=description, year=year)
    assert ("dated" in reasons) is stale


def test_dated_names_the_year_and_where_it_was_found() -> None:
    entry = RESOURCES["us-state-department-2018-tip-report"]
    reason = judge(title=entry.title, description=entry.description, year=entry.year)["dated"]
    assert "2018" in reason.reason
    assert reason.since == datetime(2018, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rid", "stale"),
    [
        ("us-state-department-2018-tip-report", True),
        ("prosecuting-human-trafficking-cases-lessons-learned", True),
        ("dhs-human-trafficking-infographic", True),
        ("national-human-trafficking-hotline", False),
        ("child-sex-trafficking-toolkit-for-law-enforcement", False),
        ("dot-transportation-leaders-against-human-trafficking", False),
    ],
)
def test_bundled_entries_are_dated_only_when_their_years_are_old(rid: str, stale: bool) -> None:
    entry = RESOURCES[rid]
    reasons = judge(title=entry.title, description=entry.description, year=entry.year)
    assert ("dated" in reasons) is stale


def test_the_dated_limit_moves_with_now() -> None:
    entry = RESOURCES["dhs-human-trafficking-infographic"]  # year 2016
    early = judge(now=datetime(2020, 1, 1, tzinfo=UTC), title=entry.title, year=entry.year)
    assert "dated" not in early


# --- named_years ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("2018 Trafficking in Persons Report", (2018,)),
        ("FY 2015 grant awards", (2015,)),
        ("FY15 and FY2016-2017 funding", (2015, 2016, 2017)),
        ("A guide, 2nd edition (2012)", (2012,)),
        ("services provided from 2006 to 2011", (2006, 2011)),
        ("the 2015-16 school year", (2015, 2016)),
        ("released 05/16/2016", (2016,)),
        ("launched 2016-05-16", (2016,)),
        ("Call 1-888-373-7888 or 1-866-347-2423", ()),
        ("Title 22 U.S.C. 7102 and the Travel Act, 18 U.S.C. 1952", ()),
        ("grant 2014-VT-BX-K00X", ()),
        ("more than 2,125 cities and counties", ()),
        ("over 2000 victims served", ()),
        ("NCJ 238795, 324 pp.", ()),
        ("a $2000 fine", ()),
        ("trends of the 1990s", ()),
        ("24 hours a day, in more than 200 languages", ()),
        ("Informe anual ٢٠١٨", (2018,)),  # Arabic-Indic digits are decimal digits
        ("area of 201² km", ()),  # a superscript is a digit but no number: once a crash
        ("FY15 only", (2015,)),
        ("", ()),
    ],
)
def test_named_years_finds_years_and_skips_other_numbers(text: str, years: tuple) -> None:
    assert named_years(text) == years


@pytest.mark.parametrize("resource", RESOURCES.values(), ids=list(RESOURCES))
def test_named_years_in_the_bundled_catalog_are_plausible_publication_years(
    resource: Resource,
) -> None:
    for text in (resource.title, resource.description or ""):
        assert all(1990 <= y <= 2026 for y in named_years(text))


def test_a_recent_review_answers_dated_and_unchanged_long_until_it_is_due_again() -> None:
    old = {
        "title": "2012 Annual Report",
        "fingerprint_unchanged_since": ago(1000),
        "last_modified": None,
    }
    assert set(judge(**old)) == {"unchanged_long", "dated"}
    assert judge(**old, reviewed_at=ago(30)) == {}
    overdue = judge(**old, reviewed_at=ago(400))
    assert set(overdue) == {"review_overdue", "unchanged_long", "dated"}


def test_a_review_does_not_answer_whether_the_link_works() -> None:
    assert "unverified" in judge(last_success_at=ago(40), reviewed_at=ago(1))


def test_no_check_reaching_the_link_since_its_last_success_is_not_unverified() -> None:
    # Every try since the last success found our own network down: nothing is known
    # against the link, and telling curators to open it by hand would cry wolf.
    assert "unverified" not in judge(last_success_at=ago(40), checked_since_success=False)
    assert "unverified" in judge(last_success_at=ago(40), checked_since_success=True)


# --- a newer edition at the same address ---------------------------------------------

TIP_2018 = "U.S. Department of State 2018 Trafficking in Persons Report"
TIP_2023 = "2023 Trafficking in Persons Report - United States Department of State"


def test_a_page_title_naming_a_later_year_than_the_entry_asks_for_the_new_edition() -> None:
    """The state.gov TIP page turned from the 2018 edition to the 2023 one: before, only
    the entry's age spoke ("look for a newer edition"), and a review silenced it for a year."""
    found = judge(title=TIP_2018, year=2018, page_title=TIP_2023, title_since=ago(10))
    edition = found["new_edition"]
    assert "names 2023" in edition.reason and "(2018)" in edition.reason
    assert TIP_2023 in edition.reason
    assert edition.since == ago(10)  # the title changed then
    assert "dated" not in found  # the edition says more than the entry's age


@pytest.mark.parametrize(
    ("page_title", "entry_title", "year"),
    [
        (TIP_2018, TIP_2018, 2018),  # the same edition
        ("2016 Trafficking in Persons Report", TIP_2018, None),  # an older year
        ("Trafficking in Persons Report", TIP_2018, 2018),  # the page names no year
        ("2023 Annual Report", "National Human Trafficking Hotline", None),  # nothing to compare
        ("2099 Report", TIP_2018, 2018),  # not a year of anything published yet
        (None, TIP_2018, 2018),  # no page title known
        ("Annual Report 2018–2019 | Ministry", "Annual Report 2018", 2018),  # a fiscal year
        ("Crime statistics 2015 – updated March 2024", "Crime statistics 2015", None),
        ("Home | Victims Support 1998-2026", "Victims Support Guide 2016", 2016),  # a span
        ("Victim services guide © 2026 State of Utah", "Victim services guide 2016", 2016),
    ],
)
def test_no_new_edition_without_a_later_year_on_both_sides(
    page_title: str | None, entry_title: str, year: int | None
) -> None:
    assert "new_edition" not in judge(title=entry_title, year=year, page_title=page_title)


def test_a_later_range_still_names_a_newer_edition() -> None:
    found = judge(title="2018 Annual Report", year=2018, page_title="2019-2020 Annual Report")
    assert "names 2019" in found["new_edition"].reason


def test_a_review_answers_the_new_edition_only_once_the_title_was_the_present_one() -> None:
    # Reviewed 100 days ago, for the entry's age; the title changed 10 days ago.
    tip: dict[str, Any] = {"title": TIP_2018, "year": 2018, "page_title": TIP_2023}
    earlier = judge(**tip, reviewed_at=ago(100), title_since=ago(10))
    assert "new_edition" in earlier and "dated" not in earlier
    # Reviewed on the day the title changed (reviews are days; the change had a time).
    same_day = NOW.replace(hour=0) - timedelta(days=10)
    assert judge(**tip, reviewed_at=same_day, title_since=ago(10)) == {}
    # The text changed since (a weekly news box), the title did not: still answered.
    assert (
        judge(**tip, reviewed_at=ago(2), title_since=ago(10), fingerprint_unchanged_since=ago(1))
        == {}
    )


def test_a_page_no_check_reads_is_not_called_unchanged() -> None:
    """A link failing or behind a wall (`reading=False`) keeps its old fingerprint because
    nobody reads the page: "content unchanged since" would be a guess. The other reasons
    stand (a link failing for weeks is unverified)."""
    quiet = {"fingerprint_unchanged_since": ago(1000), "last_modified": None}
    assert "unchanged_long" in judge(**quiet)
    failing = judge(**quiet, reading=False, last_success_at=ago(40))
    assert "unchanged_long" not in failing
    assert "unverified" in failing
