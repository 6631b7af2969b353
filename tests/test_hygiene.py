"""Catalog hygiene: findings per resource, intent markers, and the http -> https judge."""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from catalog import hygiene
from catalog.hygiene import FINDING_CODES, Finding, Level, at_or_above, lint, same_content
from catalog.model import Catalog, Resource
from catalog.outcomes import Outcome
from catalog.settings import BUNDLED_CATALOG
from catalog.source import load_catalog, meant_url
from tests.factories import make_observation


def _complete(rid: str, **fields: object) -> Resource:
    defaults: dict[str, object] = {
        "title": f"Resource {rid} of the toolkit {rid * 30}",
        "url": f"https://example.org/{rid}",
        "description": "What it is.",
        "publisher": "Someone",
        "type": "guide",
        "year": 2016,
        "line": 10,
    }
    defaults.update(fields)
    return Resource(id=rid, **defaults)  # type: ignore[arg-type]


def _catalog(*resources: Resource, key: str = "toolkit") -> Catalog:
    return Catalog(Path(f"/catalogs/{key}.yaml"), {"title": key}, tuple(resources))


def _codes(findings: list[Finding], rid: str | None = None) -> set[str]:
    return {f.code for f in findings if rid is None or f.resource_id == rid}


def test_every_finding_code_has_a_plain_label_for_curators() -> None:
    """The report summed findings up as `near_duplicate_title`, `missing_type`: a code."""
    labels = {code: kind.label for code, kind in FINDING_CODES.items()}
    assert labels["near_duplicate_title"] == "Similar titles"
    assert labels["missing_type"] == "No type"
    assert labels["http_url"] == "Plain http:// address"
    assert all(label and "_" not in label.replace("duplicate_of", "") for label in labels.values())
    assert len(set(labels.values())) == len(labels)
    assert hygiene.finding_label("http_url") == "Plain http:// address"
    assert hygiene.finding_label("no_such_code") == "no_such_code"


def test_a_complete_entry_has_no_findings() -> None:
    assert lint([_catalog(_complete("a"), _complete("b"))]) == []


@pytest.mark.parametrize("name", ["description", "publisher", "type", "year"])
def test_missing_or_blank_fields_are_found(name: str) -> None:
    blank = None if name == "year" else "   "
    findings = lint([_catalog(_complete("a", **{name: blank}), _complete("b", **{name: None}))])
    assert _codes(findings, "a") == {f"missing_{name}"}
    assert _codes(findings, "b") == {f"missing_{name}"}


def test_findings_are_located_and_carry_their_codes_level() -> None:
    (finding,) = lint([_catalog(_complete("a", publisher=None, line=42))])
    assert (finding.file, finding.line, finding.resource_id) == ("/catalogs/toolkit.yaml", 42, "a")
    assert finding.level is FINDING_CODES["missing_publisher"][0]
    assert finding.where == "/catalogs/toolkit.yaml:42"
    assert finding.to_dict()["level"] == "warning"


def test_a_duplicate_url_after_normalisation_is_one_error_at_the_later_entry() -> None:
    """Reported at both entries, a pair counted twice and gave its one fix twice; the
    later entry is where its `duplicate_of` goes."""
    findings = lint(
        [
            _catalog(
                _complete("a", url="https://Example.org/x#top"),
                _complete("b", url="https://example.org:443/x", line=20),
            )
        ]
    )
    (dupe,) = [f for f in findings if f.code == "duplicate_url"]
    assert (dupe.resource_id, dupe.line, dupe.related) == ("b", 20, ("a",))
    assert dupe.level is Level.ERROR
    assert dupe.message == "the same URL as a, listed before"
    assert "add 'duplicate_of: a' to this entry" in dupe.fix


@pytest.mark.parametrize(
    "marker", [{"shared_url": True}, {"duplicate_of": "a"}, {"shared_url": "yes"}]
)
def test_a_duplicate_marked_as_intended_is_no_finding(marker: dict[str, object]) -> None:
    findings = lint(
        [
            _catalog(
                _complete("a", url="https://x.org/"),
                _complete("b", url="https://x.org/", extra=marker),
            )
        ]
    )
    assert "duplicate_url" not in _codes(findings)


def test_duplicate_of_naming_another_page_is_reported() -> None:
    findings = lint([_catalog(_complete("a"), _complete("b", extra={"duplicate_of": "a"}))])
    assert _codes(findings, "b") == {"bad_duplicate_of"}


def test_the_bundled_toolkit_marks_its_shared_dhs_url_as_intended() -> None:
    findings = lint([load_catalog(BUNDLED_CATALOG)])
    assert not [f for f in findings if f.code == "duplicate_url"]


def test_the_toolkits_three_dhs_infographics_share_one_url() -> None:
    catalog = load_catalog(BUNDLED_CATALOG)
    unmarked = tuple(
        replace(r, extra={k: v for k, v in r.extra.items() if k != "duplicate_of"})
        for r in catalog.resources
    )
    findings = lint([catalog.__class__(catalog.path, catalog.collection, unmarked)])
    dupes = {f.resource_id: f.related for f in findings if f.code == "duplicate_url"}
    first = "dhs-human-trafficking-infographic"  # each repeat names those before it
    assert dupes == {
        "dhs-different-types-of-human-trafficking": (first,),
        "dhs-stop-human-trafficking-infographic": (
            first,
            "dhs-different-types-of-human-trafficking",
        ),
    }


def test_marking_two_of_the_three_dhs_entries_clears_the_finding() -> None:
    catalog = load_catalog(BUNDLED_CATALOG)
    marked = tuple(
        replace(r, extra={**r.extra, "duplicate_of": "dhs-human-trafficking-infographic"})
        if r.id
        in ("dhs-different-types-of-human-trafficking", "dhs-stop-human-trafficking-infographic")
        else r
        for r in catalog.resources
    )
    findings = lint([Catalog(catalog.path, catalog.collection, marked)])
    assert "duplicate_url" not in _codes(findings)
    assert "bad_duplicate_of" not in _codes(findings)


def test_the_same_url_in_another_collection_is_only_information() -> None:
    findings = lint(
        [
            _catalog(_complete("a", url="https://x.org/"), key="state"),
            _catalog(_complete("z", url="https://X.org"), key="federal"),
        ]
    )
    assert _codes(findings) == {"url_in_other_collection"}
    assert all(f.level is Level.INFO for f in findings)


def test_near_duplicate_titles_with_different_urls_are_found() -> None:
    findings = lint(
        [
            _catalog(
                _complete("a", title="Human Trafficking Task Force E-Guide"),
                _complete("b", title="Human trafficking task-force e guide."),
                _complete("c", title="Something else entirely"),
            )
        ]
    )
    (near,) = findings  # once per pair (at both ends, 1,024 findings were 512 pairs)
    assert (near.code, near.resource_id, near.related) == ("near_duplicate_title", "b", ("a",))
    assert near.message == (
        "title almost the same as a ('Human Trafficking Task Force E-Guide'), listed "
        "before, with another URL"
    )


def test_editions_in_other_languages_follow_the_near_duplicate_advice_to_silence() -> None:
    """The advice, "give it 'duplicate_of: d'", traded the finding for bad_duplicate_of
    (duplicate_of means the same URL): an English and a Spanish edition could not be marked
    as meant."""
    english = _complete(
        "c", title="Fact Sheet: Labor Trafficking (English)", url="https://s.gov/en"
    )
    spanish = _complete(
        "d", title="Fact Sheet: Labor Trafficking (Spanish)", url="https://s.gov/es"
    )
    (finding,) = [f for f in lint([_catalog(english, spanish)]) if f.code != "missing_field"]
    assert finding.code == "near_duplicate_title"
    assert "duplicate_of" not in finding.fix
    assert "give each its 'languages'" in finding.fix

    marked = lint(
        [_catalog(replace(english, languages=("en",)), replace(spanish, languages=("ES",)))]
    )
    assert {f.code for f in marked} & {"near_duplicate_title", "bad_duplicate_of"} == set()
    # One language unknown, or the same ones: still worth a look.
    for ours, theirs in [((), ("es",)), (("en",), ("en",))]:
        pair = replace(english, languages=ours), replace(spanish, languages=theirs)
        assert "near_duplicate_title" in {f.code for f in lint([_catalog(*pair)])}


def test_titles_differing_only_by_year_are_different_editions() -> None:
    findings = lint(
        [
            _catalog(
                _complete("a", title="2017 Trafficking in Persons Report", year=2017),
                _complete("b", title="2018 Trafficking in Persons Report", year=2018),
            )
        ]
    )
    assert findings == []


def test_http_urls_suggest_the_https_form_with_a_command() -> None:
    (finding,) = lint([_catalog(_complete("a", url="http://www.theiacp.org/page"))])
    assert finding.code == "http_url"
    assert finding.command == "linkhealth replace-url a https://www.theiacp.org/page"


def test_tracking_parameters_suggest_the_clean_url() -> None:
    (finding,) = lint(
        [_catalog(_complete("a", url="https://x.org/p?id=3&utm_source=mail&fbclid=z"))]
    )
    assert finding.code == "tracking_params"
    assert finding.command == "linkhealth replace-url a 'https://x.org/p?id=3'"


def test_shortened_urls_are_found() -> None:
    findings = lint([_catalog(_complete("a", url="https://bit.ly/3xYz"))])
    assert _codes(findings) == {"url_shortener"}


def test_commands_name_the_catalog_when_an_id_is_in_several() -> None:
    findings = lint(
        [
            _catalog(_complete("a", url="http://one.org/"), key="state"),
            _catalog(_complete("a", url="https://two.org/"), key="federal"),
        ]
    )
    (finding,) = [f for f in findings if f.code == "http_url"]
    assert finding.command is not None and finding.command.endswith("--collection state")


def test_a_confirmed_https_fix_keeps_naming_the_collection() -> None:
    """The report turns an `http_url` finding whose https form a run confirmed into the
    command that applies it; rebuilt from scratch, it lost `--collection` and failed."""
    from reports.publish import _confirmed_https, _findings

    findings = lint(
        [
            _catalog(_complete("a", url="http://one.org/"), key="state"),
            _catalog(_complete("a", url="https://two.org/"), key="federal"),
        ]
    )
    http = [f for f in findings if f.code == "http_url"]
    (finding,) = _findings(http, _confirmed_https(http, {("state", "a"): "https://one.org/"}))
    assert finding.fix.startswith("The https form https://one.org/ serves the same page")
    assert finding.command is not None
    assert shlex.split(finding.command) == [
        "linkhealth", "replace-url", "a", "https://one.org/", "--collection", "state"
    ]  # fmt: skip


def test_a_confirmed_https_fix_is_the_entrys_own_url_of_the_confirmed_page() -> None:
    """The run confirms the link's standard form: the fix keeps the entry's `#section`
    (also past the `--` before an id starting with "-"), and stands only for an entry
    whose URL still leads to the confirmed page."""
    from reports.publish import _confirmed_https

    findings = lint(
        [
            _catalog(
                _complete("-texas", url="http://one.org/report#texas"),
                _complete("moved", url="http://two.org/new-page"),
            )
        ]
    )
    suggested = {
        ("toolkit", "-texas"): "https://one.org/report",
        ("toolkit", "moved"): "https://two.org/old",
    }
    assert _confirmed_https(findings, suggested) == {
        ("toolkit", "-texas"): "https://one.org/report#texas"
    }


@pytest.mark.parametrize(
    ("title", "year", "code"),
    [
        ("U.S. Department of State 2018 Trafficking in Persons Report", 2017, "year_mismatch"),
        ("U.S. Department of State 2018 Trafficking in Persons Report", 2018, None),
        ("Survivors served from 2006 to 2011", 2012, None),
        ("Survivors served from 2006 to 2011", 2004, "year_mismatch"),
        ("A title with no year", 1999, None),
        ("Report 2018", None, "missing_year"),
    ],
)
def test_year_and_title_agree(title: str, year: int | None, code: str | None) -> None:
    findings = lint([_catalog(_complete("a", title=title, year=year))])
    assert _codes(findings) == ({code} if code else set())


def test_fail_on_level_counts_findings_at_or_above_it() -> None:
    findings = lint([_catalog(_complete("a", year=None, url="http://x.org/"))])
    assert len(at_or_above(findings, Level.INFO)) == 2
    assert len(at_or_above(findings, Level.WARNING)) == 1
    assert at_or_above(findings, Level.ERROR) == []


def test_lint_is_ordered_by_file_and_line() -> None:
    findings = lint(
        [_catalog(_complete("b", publisher=None, line=30), _complete("a", type=None, line=5))]
    )
    assert [f.line for f in findings] == [5, 30]


# --- http -> https judge -----------------------------------------------------------------------


def test_same_fingerprint_means_same_content() -> None:
    http = make_observation("http://x.org/", fingerprint="sha256:1", title="A")
    https = make_observation("https://x.org/", fingerprint="sha256:1", title="B")
    assert same_content(http, https)


def test_different_fingerprints_mean_different_content() -> None:
    http = make_observation("http://x.org/", fingerprint="sha256:1", title="A")
    https = make_observation("https://x.org/", fingerprint="sha256:2", title="A")
    assert not same_content(http, https)


def test_an_http_url_redirecting_to_its_https_form_is_the_same() -> None:
    http = make_observation(
        "http://x.org/a", Outcome.REDIRECTED_PERMANENT, final_url="https://x.org/a"
    )
    https = make_observation("https://x.org/a")
    assert same_content(http, https)


def test_titles_decide_without_fingerprints() -> None:
    http = make_observation("http://x.org/", title="Blue  Campaign | DHS")
    https = make_observation("https://x.org/", title="blue campaign - dhs")
    assert same_content(http, https)


def test_a_failing_https_form_is_never_the_same() -> None:
    http = make_observation("http://x.org/", fingerprint="sha256:1")
    https = make_observation("https://x.org/", Outcome.TLS_ERROR, fingerprint="sha256:1")
    assert not same_content(http, https)


def test_nothing_to_compare_is_not_the_same() -> None:
    assert not same_content(make_observation("http://x.org/"), make_observation("https://x.org/"))


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        (date(2026, 1, 2), False),
        ("2026-01-02", False),
        ("", False),
        ("last week", True),  # read as no review at all: the entry's nags would never clear
        ("2026-13-45", True),
        (date(2031, 1, 1), True),  # trusted until 2031: the entry would drop out of review
        # At 12:00 UTC on the 3rd it is already the 4th in Kiribati (UTC+14): a curator
        # there wrote today. The 5th is ahead everywhere.
        ("2026-12-04", False),
        ("2026-12-05", True),
    ],
)
def test_a_review_date_that_is_no_date_or_in_the_future_is_named(value: object, bad: bool) -> None:
    entry = _complete("a", extra={"reviewed_at": value})
    findings = lint([_catalog(entry)], now=datetime(2026, 12, 3, 12, tzinfo=UTC))
    assert _codes(findings) == ({"bad_reviewed_at"} if bad else set())


def test_a_bad_review_date_names_its_line_and_the_command_that_records_a_review(
    tmp_path: Path,
) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_text(
        "title: Toolkit\nresources:\n"
        "  - id: a\n    title: A guide to the toolkit\n    url: https://example.org/a\n"
        "    description: What it is.\n    publisher: Someone\n    type: guide\n    year: 2016\n"
        "    reviewed_at: last week\n",
        encoding="utf-8",
    )
    (finding,) = lint([load_catalog(path)])
    assert finding.code == "bad_reviewed_at" and finding.level is Level.WARNING
    assert finding.where == f"{path}:10"  # the reviewed_at line, not the entry's (3)
    assert "'last week' is not a date" in finding.message
    assert finding.command == "linkhealth mark-reviewed a"


@pytest.mark.parametrize("hidden", ["\u200b", "\u00ad", "\ufeff"])
def test_an_invisible_character_in_a_url_is_an_error_with_the_clean_url(hidden: str) -> None:
    """Pasted from a web page, it is fetched (as %E2%80%8B, say) and the page is not found,
    while the URL the curator reads looks right."""
    url = f"https://example.org/a{hidden}"
    findings = lint([_catalog(_complete("a", url=url))])
    (finding,) = findings
    assert (finding.code, finding.level) == ("invisible_in_url", Level.ERROR)
    assert f"U+{ord(hidden):04X}" in finding.message
    assert finding.command == "linkhealth replace-url a https://example.org/a"


@pytest.mark.parametrize(
    "url",
    [
        "https://fa.wikipedia.org/wiki/\u06a9\u062a\u0627\u0628\u200c\u062e\u0627\u0646\u0647",
        "https://hi.wikipedia.org/wiki/\u0915\u094d\u200d\u0937",
    ],
    ids=["persian-zwnj", "devanagari-zwj"],
)
def test_a_joiner_between_letters_is_part_of_the_word_not_invisible(url: str) -> None:
    """Persian's "library" is spelled with a zero-width non-joiner: lint called it an
    error, and replace-url (reading URLs as the importer does) took it out, writing
    another word, another page."""
    assert [f.code for f in lint([_catalog(_complete("a", url=url))])] == []
    assert meant_url(url) == url
    stray = url.replace("/wiki/", "/wiki/\u200c")  # after a "/": no letter before it
    assert [f.code for f in lint([_catalog(_complete("a", url=stray))])] == ["invisible_in_url"]


def test_other_url_fixes_of_a_url_with_an_invisible_character_leave_it_out() -> None:
    """The http:// and tracking fixes were worked out from the URL as written: their
    replace-url commands put the zero-width space back after the curator had run the
    invisible_in_url one from the same report."""
    url = "http://example.org/a\u200b?utm_source=news"
    findings = {f.code: f for f in lint([_catalog(_complete("a", url=url))])}
    assert set(findings) >= {"invisible_in_url", "http_url", "tracking_params"}
    for finding in findings.values():
        assert "\u200b" not in f"{finding.message} {finding.fix} {finding.command}", finding.code
    # The https form leaves the tracking parameters out too (the two fixes chained).
    assert findings["http_url"].command == "linkhealth replace-url a https://example.org/a"
    assert findings["tracking_params"].command == "linkhealth replace-url a http://example.org/a"


@pytest.mark.parametrize(
    ("url", "encoded", "said"),
    [
        (
            "https://example.org/files/Annual Report 2019.pdf",
            "https://example.org/files/Annual%20Report%202019.pdf",
            "2 spaces",
        ),
        (
            "https://example.org/search?q=annual report#part two",
            "https://example.org/search?q=annual%20report#part%20two",
            "2 spaces",
        ),
        ("https://example.org/a{1}|b", "https://example.org/a%7B1%7D%7Cb", "'{', '}' and '|'"),
    ],
)
def test_a_url_holding_a_space_is_told_to_write_it_encoded(
    url: str, encoded: str, said: str
) -> None:
    """Such a URL is checked as browsers send it (%20), so it is no broken link, but it is
    cut at the space where it is pasted as text: a warning with the encoded URL to use."""
    (finding,) = lint([_catalog(_complete("a", url=url))])
    assert (finding.code, finding.level, finding.field) == (
        "unencoded_in_url",
        Level.WARNING,
        "url",
    )
    assert said in finding.message and encoded in finding.fix
    assert finding.command == f"linkhealth replace-url a {shlex.quote(encoded)}"


@pytest.mark.parametrize(
    "url",
    ["https://example.org/Straße/café", "https://exa mple.org/a", "https://example.org/a%20b"],
)
def test_a_url_browsers_need_not_encode_for_or_cannot_open_is_no_unencoded_finding(
    url: str,
) -> None:
    """Letters of the curator's script are a legible address (RFC 3987) that browsers show
    as such; a space in the host name is no address at all (invalid_url says so)."""
    assert "unencoded_in_url" not in _codes(lint([_catalog(_complete("a", url=url))]))


@pytest.mark.parametrize(
    ("url", "plain", "said"),
    [
        ("https://example.org\\reports\\2019", "https://example.org/reports/2019", "backslash"),
        ("https://example.org/a\\b?q=\\", "https://example.org/a/b?q=\\", "backslash"),
        ("https://guest:pw@example.org/r", "https://example.org/r", "user name or password"),
    ],
)
def test_an_address_browsers_read_otherwise_is_told_to_be_written_plainly(
    url: str, plain: str, said: str
) -> None:
    """Checked as browsers request it, it is no broken link; but the address is not what
    it seems (a user name can pass for the host): a warning with the plain address."""
    (finding,) = lint([_catalog(_complete("a", url=url))])
    assert (finding.code, finding.level, finding.field) == ("unplain_url", Level.WARNING, "url")
    assert said in finding.message and finding.fix == f"use {plain}"
    assert finding.command == f"linkhealth replace-url a {shlex.quote(plain)}"


def test_other_url_fixes_of_a_url_with_a_space_keep_it_encoded() -> None:
    """The tracking fix, worked out from the URL as written, would put the space back
    after the curator ran the unencoded_in_url one."""
    url = "http://example.org/Annual Report.pdf?utm_source=news"
    findings = {f.code: f for f in lint([_catalog(_complete("a", url=url))])}
    assert set(findings) == {"unencoded_in_url", "http_url", "tracking_params"}
    assert findings["tracking_params"].command == (
        "linkhealth replace-url a http://example.org/Annual%20Report.pdf"
    )
    # The https form leaves the tracking parameters out too (the two fixes chained).
    assert findings["http_url"].command == (
        "linkhealth replace-url a https://example.org/Annual%20Report.pdf"
    )


@pytest.fixture
def in_sydney(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's clock set to Sydney time (the suite runs in UTC)."""
    monkeypatch.setenv("TZ", "Australia/Sydney")
    time.tzset()
    yield
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def test_a_curators_today_is_not_in_the_future_on_a_server_in_utc() -> None:
    """The nightly report is built on a server whose clock is UTC: at 21:00 UTC on the 4th,
    a Sydney curator's "2026-12-05" (their today, written by `mark-reviewed`) was "in the
    future" in the report's hygiene list for ten hours. No date anyone may have written
    today is; tomorrow everywhere still is."""
    now = datetime(2026, 12, 4, 21, tzinfo=UTC)
    today = _complete("a", extra={"reviewed_at": date(2026, 12, 5)})
    tomorrow = _complete("b", extra={"reviewed_at": "2026-12-06"})
    findings = lint([_catalog(today, tomorrow)], now=now)
    assert [(f.resource_id, f.code) for f in findings] == [("b", "bad_reviewed_at")]


def test_todays_review_date_in_sydney_is_not_in_the_future(
    monkeypatch: pytest.MonkeyPatch, in_sydney: None
) -> None:
    """08:00 on the 5th in Sydney is 21:00 on the 4th in UTC: the curator who writes today's
    date must not be told it lies ahead (`catalog lint --fail-on warning` would fail)."""
    monkeypatch.setattr(hygiene, "utcnow", lambda: datetime(2026, 12, 4, 21, tzinfo=UTC))
    today = _complete("a", extra={"reviewed_at": date(2026, 12, 5)})
    tomorrow = _complete("b", extra={"reviewed_at": "2026-12-06"})
    findings = lint([_catalog(today, tomorrow)])
    assert [(f.resource_id, f.code) for f in findings] == [("b", "bad_reviewed_at")]


@pytest.mark.parametrize(
    ("value", "bad"),
    [
        ("2026-12-05T08:00:00+10:00", False),  # 22:00 UTC on the 4th: an hour ago
        (datetime(2026, 12, 5, 8, tzinfo=timezone(timedelta(hours=10))), False),
        ("2026-12-05T10:00:00+10:00", True),  # midnight UTC: an hour ahead
        # No zone: ahead only if it is ahead in every zone (23:30 in UTC-12 is long past
        # at 23:00 UTC; 14:30 on the 5th is 00:30 UTC on the 5th even at UTC+14).
        ("2026-12-04T23:30:00", False),
        ("2026-12-05T14:30:00", True),
    ],
)
def test_a_review_time_is_in_the_future_by_the_moment_it_names(value: object, bad: bool) -> None:
    entry = _complete("a", extra={"reviewed_at": value})
    findings = lint([_catalog(entry)], now=datetime(2026, 12, 4, 23, tzinfo=UTC))
    assert _codes(findings) == ({"bad_reviewed_at"} if bad else set())


def test_two_sections_of_one_page_are_no_duplicate_but_the_same_section_twice_is() -> None:
    """A page of state hotlines linked once per state (`#texas`, `#ohio`), or two views of
    a script-built site (`#/resources/1`), are entries the curator meant: an error there
    fails `catalog lint`. The page is still fetched once; the same section twice, or a
    section and the page itself, are one place."""
    page = "https://example.org/hotlines"
    findings = lint(
        [
            _catalog(
                _complete("texas", url=f"{page}#texas", title="Texas hotlines"),
                _complete("ohio", url=f"{page}#ohio", title="Ohio hotlines"),
                _complete("app-1", url="https://app.example.org/#/resources/1", title="One"),
                _complete("app-2", url="https://app.example.org/#/resources/2", title="Two"),
                _complete("ohio-again", url=f"{page}#ohio", title="Hotlines of Ohio"),
                _complete("whole", url="https://app.example.org/", title="The app"),
            )
        ]
    )
    dupes = {f.resource_id: f.related for f in findings if f.code == "duplicate_url"}
    assert dupes == {"ohio-again": ("ohio",), "whole": ("app-1", "app-2")}


def test_http_and_https_or_a_trailing_slash_of_one_page_are_likely_duplicates() -> None:
    """Kept apart by normalisation (a server may answer them differently), so each is
    checked and nothing said so; `http_url` even suggested turning one into the other."""
    findings = lint(
        [
            _catalog(
                _complete("plain", url="http://example.org/guide", title="A guide"),
                _complete("secure", url="https://example.org/guide", title="Guide for all"),
                _complete("slash", url="https://example.org/kit/", title="The kit"),
                _complete("bare", url="https://example.org/kit", title="Toolkit"),
                _complete("port", url="http://example.org:8080/guide", title="Elsewhere"),
                _complete("www", url="https://www.example.org/about", title="About us"),
                _complete("bare-host", url="https://example.org/about/", title="Who we are"),
                _complete("meant", url="https://example.org/a/", title="A page"),
                _complete("meant2", url="https://example.org/a", extra={"shared_url": True}),
            ),
            _catalog(_complete("other", url="https://example.org/guide"), key="federal"),
        ]
    )
    likely = {f.resource_id: f for f in findings if f.code == "likely_duplicate_url"}
    assert {rid: f.related for rid, f in likely.items()} == {  # each pair once, at its later
        "secure": ("plain",),
        "bare": ("slash",),
        "bare-host": ("www",),
    }
    assert likely["secure"].level is Level.WARNING
    assert "differ only in http:// and https://" in likely["secure"].message
    assert "keep one entry (the https one)" in likely["secure"].fix
    assert "differ only in a trailing '/'" in likely["bare"].message
    assert "differ only in a leading 'www.' and a trailing '/'" in likely["bare-host"].message


def test_a_likely_duplicate_names_its_own_differences_with_each_partner() -> None:
    """b (https://a.org/x) was said to differ from a and c "only in http:// and https://",
    a's difference; c's message listed the whole group's."""
    findings = lint(
        [
            _catalog(
                _complete("a", url="http://a.org/x", title="First"),
                _complete("b", url="https://a.org/x", title="Second"),
                _complete("c", url="https://www.a.org/x/", title="Third"),
            )
        ]
    )
    likely = {f.resource_id: f for f in findings if f.code == "likely_duplicate_url"}
    assert likely.keys() == {"b", "c"}  # a, the first, is named by them
    assert likely["b"].message == (
        "probably the same page as a: the URLs differ only in http:// and https://"
    )
    assert likely["c"].message == (
        "probably the same page as a (the URLs differ only in http:// and https://, a leading "
        "'www.' and a trailing '/') and as b (the URLs differ only in a leading 'www.' and a "
        "trailing '/')"
    )
    assert likely["c"].related == ("a", "b")
    assert "(the https one)" in likely["c"].fix


def test_a_future_review_time_without_a_zone_is_named_by_the_date_written() -> None:
    """It is judged at the earliest moment it may name (fourteen hours before, as UTC):
    the message named that moment's date, "2027-01-09" for "2027-01-10T08:00"."""
    entry = _complete("a", extra={"reviewed_at": "2027-01-10T08:00"})
    (finding,) = lint([_catalog(entry)], now=datetime(2026, 12, 4, 23, tzinfo=UTC))
    assert finding.message == "reviewed_at 2027-01-10 lies in the future"


def test_a_list_written_as_one_string_with_commas_is_flagged(tmp_path: Path) -> None:
    """`tags: training, hotline` is one tag 'training, hotline': no report filter finds it."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "collection:\n  title: T\nresources:\n  - id: a\n    title: A guide 2016\n"
        "    url: https://example.org/a\n    tags: training, hotline\n"
    )
    (finding,) = [f for f in lint([load_catalog(path)]) if f.code == "comma_in_list"]
    assert (finding.level, finding.field, finding.line) == (Level.WARNING, "tags", 7)
    assert finding.fix == "write them as a list: 'tags: [training, hotline]'"
    assert "comma_in_list" not in _codes(lint([_catalog(_complete("b", tags=("a", "b")))]))
