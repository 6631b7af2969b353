"""The canonical URL form (the link key), URL hygiene facts, and one check per shared link."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from catalog import store
from catalog import tables as t
from catalog.settings import CheckSettings
from catalog.source import load_catalogs, validate_catalog
from catalog.store import targets_for_check
from catalog.sync import sync_catalogs
from catalog.urls import (
    CheckedUrl,
    UrlProblem,
    canonical_url,
    https_upgrade_candidate,
    is_shortener,
    parse_url,
    same_place,
    same_place_partners,
    tracking_params,
    without_tracking,
)
from tests.factories import T0, make_catalog, make_resource, temporary_database, write_catalog

CANONICAL = [
    # scheme and host case, trailing dot, IDNA
    ("HTTPS://Example.ORG/Path", "https://example.org/Path"),
    ("https://example.org./", "https://example.org/"),
    ("https://Bücher.de/", "https://xn--bcher-kva.de/"),
    ("https://xn--bcher-kva.de/", "https://xn--bcher-kva.de/"),
    # ports
    ("https://example.org:443/a", "https://example.org/a"),
    ("http://example.org:80/a", "http://example.org/a"),
    ("http://example.org:443/a", "http://example.org:443/a"),
    ("https://example.org:8443/a", "https://example.org:8443/a"),
    ("https://[2001:DB8::1]:443/", "https://[2001:db8::1]/"),
    # empty path, fragment, empty query
    ("https://example.org", "https://example.org/"),
    ("https://example.org/a#section-2", "https://example.org/a"),
    ("https://example.org/a?", "https://example.org/a"),
    ("https://example.org/a?#x", "https://example.org/a"),
    # percent-encoding: upper-case hex, unreserved decoded, reserved kept, non-ASCII encoded
    ("https://example.org/%7euser", "https://example.org/~user"),
    ("https://example.org/a%2db%5F%2E", "https://example.org/a-b_."),
    ("https://example.org/a%2fb", "https://example.org/a%2Fb"),
    ("https://example.org/a%3Fb?x=%3d", "https://example.org/a%3Fb?x=%3D"),
    ("https://example.org/café", "https://example.org/caf%C3%A9"),
    ("https://example.org/caf%c3%a9", "https://example.org/caf%C3%A9"),
    ("https://example.org/%zz", "https://example.org/%zz"),
    ("https://example.org/100%", "https://example.org/100%"),
    ("https://example.org/a%20b", "https://example.org/a%20b"),
    # a space inside the address: browsers send it as %20 (WHATWG URL)
    (
        "https://example.org/Annual Report 2019.pdf",
        "https://example.org/Annual%20Report%202019.pdf",
    ),
    ("https://example.org/s?q=a b&p=1 2#x y", "https://example.org/s?p=1%202&q=a%20b"),
    # dot segments
    ("https://example.org/a/./b/../c", "https://example.org/a/c"),
    ("https://example.org/a/b/..", "https://example.org/a/"),
    ("https://example.org/../a", "https://example.org/a"),
    ("https://example.org/a/%2E%2E/b", "https://example.org/b"),
    ("https://example.org/v1.2/file.pdf", "https://example.org/v1.2/file.pdf"),
    # query order: sorted when no name repeats, blank values kept
    ("https://example.org/?b=2&a=1", "https://example.org/?a=1&b=2"),
    ("https://example.org/?b=&a", "https://example.org/?a&b="),
    ("https://example.org/?b=2&&a=1&", "https://example.org/?a=1&b=2"),
    ("https://example.org/?b=2&a=1&b=3", "https://example.org/?b=2&a=1&b=3"),
    ("https://example.org/?q=a+b&p=%7e", "https://example.org/?p=~&q=a+b"),
    # tracking parameters are part of the link: lint reports them, the key keeps them
    (
        "https://example.org/r?utm_source=x&id=7",
        "https://example.org/r?id=7&utm_source=x",
    ),
    # invalid URLs are their stripped text
    ("  not a url ", "not a url"),
    ("ftp://example.org/file", "ftp://example.org/file"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "expected"), CANONICAL)
def test_canonical_form(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), CANONICAL)
def test_canonical_form_is_its_own_canonical_form(raw: str, expected: str) -> None:
    assert canonical_url(expected) == expected


def test_spellings_of_one_page_share_a_key() -> None:
    spellings = [
        "https://www.dhs.gov/blue-campaign/infographic",
        "HTTPS://WWW.DHS.GOV:443/blue-campaign/infographic#top",
        "https://www.dhs.gov/blue%2Dcampaign/./infographic",
    ]
    assert len({canonical_url(u) for u in spellings}) == 1


def test_checked_url_carries_the_canonical_form() -> None:
    parsed = parse_url("HTTP://Example.org:80/a/../b?z=1&y=2")
    assert isinstance(parsed, CheckedUrl)
    assert parsed.canonical == "http://example.org/b?y=2&z=1"
    assert (parsed.host, parsed.scheme, parsed.port) == ("example.org", "http", 80)


@pytest.mark.parametrize(
    "url",
    [
        "http://xn--/",
        "https://xn--zz.org/",  # not punycode at all
        "https://www.xn--zz.org/",
        "https://xn--example-.org/",  # decodes to plain ASCII: no A-label
        "https://xn--a-b-.org/",
        "https://xn--ab-m1t.org/",  # a zero-width joiner with no emoji to join
        "https://xn---.org/",
    ],
)
def test_a_punycode_host_that_is_no_idna_2008_name_is_invalid(url: str) -> None:
    """httpx cannot build a request for it (it decodes such a host when it does)."""
    problem = parse_url(url)
    assert isinstance(problem, UrlProblem) and "domain name" in problem.reason


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://xn--i-7iq.ws/", "https://xn--i-7iq.ws/"),
        ("https://XN--LS8H.la/a", "https://xn--ls8h.la/a"),
        ("https://xn--53hy7af013i.ws", "https://xn--53hy7af013i.ws/"),
        ("https://i❤.ws/", "https://xn--i-7iq.ws/"),
        ("https://💩.la/", "https://xn--ls8h.la/"),
        ("https://www.☕🦊✈.ws/", "https://www.xn--53hy7af013i.ws/"),
    ],
)
def test_an_emoji_domain_is_a_valid_host(url: str, canonical: str) -> None:
    """IDNA 2008 forbids emoji, but registries such as .ws sell them, browsers open them,
    and the checker requests them by their punycode (httpx needs no decoding then)."""
    parsed = parse_url(url)
    assert isinstance(parsed, CheckedUrl), parsed
    assert parsed.canonical == canonical


def test_lone_surrogates_make_an_invalid_url() -> None:
    assert not isinstance(parse_url("https://example.org/\udc80"), CheckedUrl)


_URL_TEXT = st.lists(
    st.sampled_from([*"aZ09fF-._~:/?#[]@!$&'()*+,;=% |é\u00a0\ud800", "%2", "%7e", "%41"]),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["http://", "https://", "HTTP://", ""]),
    st.sampled_from(["example.org", "Bücher.de", "[::1]", "a:81", ""]) | st.text(max_size=8),
    _URL_TEXT,
)
def test_canonical_url_never_raises_and_is_idempotent(scheme: str, host: str, rest: str) -> None:
    raw = f"{scheme}{host}{rest}"
    once = canonical_url(raw)
    assert canonical_url(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_canonical_url_of_any_text_is_idempotent(raw: str) -> None:
    once = canonical_url(raw)
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://www.theiacp.org/Child-Sex", "https://www.theiacp.org/Child-Sex"),
        ("http://example.org:80/a?b=1#c", "https://example.org/a?b=1#c"),
        ("HTTP://Example.org/a", "https://Example.org/a"),
        ("http://example.org:8080/a", None),
        ("https://example.org/a", None),
        ("mailto:help@example.org", None),
        ("not a url", None),
    ],
)
def test_https_upgrade_candidate(url: str, expected: str | None) -> None:
    assert https_upgrade_candidate(url) == expected


def test_tracking_params_are_found_and_removed_keeping_the_rest() -> None:
    url = "https://example.org/r?utm_source=news&id=7&fbclid=abc&UTM_Medium=x&_hsenc=1#top"
    assert tracking_params(url) == ("utm_source", "fbclid", "UTM_Medium", "_hsenc")
    assert without_tracking(url) == "https://example.org/r?id=7#top"
    assert tracking_params("https://example.org/r?id=7&utmost=1") == ()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bit.ly/3abc", True),
        ("http://T.CO/x", True),
        ("https://tinyurl.com/y3", True),
        ("https://www.bit.ly/x", True),
        ("https://notbit.ly/x", False),
        ("https://example.org/bit.ly", False),
    ],
)
def test_shorteners_are_recognised_by_host(url: str, expected: bool) -> None:
    assert is_shortener(url) is expected


#: An IPv6 address with a zone id of 300 characters: Python's URL parser takes it.
LONG_ZONE = f"http://[fe80::1%25{'a' * 300}]/x"


@pytest.mark.parametrize("url", [LONG_ZONE, f"http://[v1.{'a:' * 150}]/x"])
def test_a_host_longer_than_any_server_s_is_invalid(url: str) -> None:
    """Only an IPv6 literal (or a future one) was let through over DNS's 253 characters: a
    valid URL whose host the database's `links.host` (255) cannot keep."""
    problem = parse_url(url)
    assert isinstance(problem, UrlProblem), problem
    assert "characters long" in problem.reason and "253" in problem.reason
    assert isinstance(parse_url("http://[fe80::1%25eth0]/x"), CheckedUrl)  # a zone id still is
    longest = f"https://{'a' * 63}.{'b' * 63}.{'c' * 63}.{'d' * 61}/"  # 253 characters
    assert isinstance(parse_url(longest), CheckedUrl)


def test_a_catalog_validate_passes_is_synced_on_postgresql_too(tmp_path: Path) -> None:
    """A host over `links.host`'s 255 characters was a CheckedUrl: `catalog validate` said
    OK, SQLite took it, and on PostgreSQL the whole catalog's sync ended in a traceback
    (StringDataRightTruncation). It is an invalid_url now, as a too-long host name was
    already: the entry loads, its link keeps no host, and is reported invalid_url."""
    catalog = write_catalog(
        tmp_path / "kit.yaml",
        [
            {"id": "v6", "title": "Zone", "url": LONG_ZONE},
            {"id": "r1", "title": "One", "url": "https://example.org/r1"},
        ],
    )
    report = validate_catalog(catalog)
    assert not report.problems
    assert [(w.code, w.field) for w in report.warnings] == [("invalid_url", "url")]
    assert "characters long" in report.warnings[0].message
    with temporary_database(tmp_path) as engine:
        assert sync_catalogs(engine, load_catalogs([catalog]), now=T0).added == 2
        with store.read_session(engine) as s:
            hosts = dict(s.execute(select(t.Link.url, t.Link.host)).all())
    assert hosts == {LONG_ZONE: "", "https://example.org/r1": "example.org"}


def test_a_url_in_two_collections_is_checked_once(tmp_path: Path) -> None:
    (tmp_path / "state.yaml").write_text(
        "resources:\n"
        "  - id: hotline\n"
        "    title: National Hotline\n"
        "    url: https://HumanTraffickingHotline.org/?lang=en&src=state\n"
        "  - id: only-state\n"
        "    title: State page\n"
        "    url: https://example.org/state\n"
    )
    (tmp_path / "federal.csv").write_text(
        "id,title,url\n"
        "national-hotline,National Human Trafficking Hotline,"
        "https://humantraffickinghotline.org:443/?src=state&lang=en#call\n"
    )
    catalogs = load_catalogs([tmp_path])
    assert {c.key for c in catalogs} == {"state", "federal"}
    with temporary_database(tmp_path) as engine:
        result = sync_catalogs(engine, catalogs, now=T0)
        assert result.added == 3
        targets = targets_for_check(
            engine, now=T0, fingerprint_max_age_days=CheckSettings().fingerprint_max_age_days
        )
    shared = [t for t in targets if "hotline" in t.url]
    assert len(targets) == 2
    assert len(shared) == 1
    assert shared[0].url == "https://humantraffickinghotline.org/?lang=en&src=state"
    assert set(shared[0].resource_ids) == {"hotline", "national-hotline"}


@pytest.mark.parametrize(
    "url",
    [
        "https://exa mple.org/a",
        "https://example.org /a",
        "https://example.org/a\nb",
        "https://example.org/a\tb",
        "https://example.org/a\u00a0b",
        "https://example.org/a ",
        " https://example.org/a",
    ],
)
def test_a_space_browsers_cannot_open_or_one_pasted_with_the_url_is_invalid(url: str) -> None:
    """Only an ordinary space inside the path, query or fragment is one browsers send (as
    %20): in the host name they refuse it, and a line break, a tab or a no-break space in
    an address (or a space around it) came with the paste."""
    assert isinstance(parse_url(url), UrlProblem)


@pytest.mark.parametrize(
    ("url", "requested"),
    [
        ("http://example.org\\report", "http://example.org/report"),
        ("http://example.org:8080\\a\\b?q=\\x#c", "http://example.org:8080/a/b?q=%5Cx"),
        ("https:\\\\example.org\\report", "https://example.org/report"),
        ("http://guest@example.org/report", "http://example.org/report"),
        ("HTTPS://Ann:pw@Example.org/a@b", "https://example.org/a@b"),
        ("https://ann@org.example:pw@example.org/", "https://example.org/"),
        # A backslash within the path keeps the form links have always been keyed by.
        ("http://example.org/a\\b", "http://example.org/a%5Cb"),
        ("https://example.org/ann:pw@b", "https://example.org/ann:pw@b"),
    ],
)
def test_an_address_browsers_open_is_checked_as_they_request_it(url: str, requested: str) -> None:
    """Browsers read a backslash that ends the host as "/" and request the page without the
    user name and password before the host (sent only to a site that asks for a login):
    such an address was `invalid_url`, "not a web address a browser can open", confirmed
    broken at once. The canonical form, which the check requests, is the browser's."""
    checked = parse_url(url)
    assert isinstance(checked, CheckedUrl), checked
    assert checked.canonical == requested
    assert canonical_url(url) == requested


def test_parse_url_answers_non_text_without_raising() -> None:
    # A hand-edited YAML file can put a list or a number where a URL belongs; the
    # remembered answers must not turn that into a TypeError (lists are unhashable).
    for raw in (["https://example.org/"], 42, None):
        assert isinstance(parse_url(raw), UrlProblem)  # type: ignore[arg-type]


def test_parse_url_remembers_each_exact_text_apart() -> None:
    # Paths are case-sensitive and a space makes a URL invalid: remembered answers keyed
    # on anything looser than the exact text would give one spelling the other's answer.
    for _ in range(2):  # the second round is answered from memory
        upper, lower, spaced = (
            parse_url("https://example.org/A"),
            parse_url("https://example.org/a"),
            parse_url(" https://example.org/a"),
        )
        assert isinstance(upper, CheckedUrl) and upper.canonical == "https://example.org/A"
        assert isinstance(lower, CheckedUrl) and lower.canonical == "https://example.org/a"
        assert isinstance(spaced, UrlProblem)


def test_same_place_partners_agrees_with_same_place_pair_by_pair() -> None:
    """Lint and import find an entry's duplicates by fragment, not by comparing every two
    entries of a page (4,000 sections of one page took 70 s): the same partners as
    `same_place` gives pair by pair, in order."""
    page = "https://example.org/toolkit"
    urls = [
        page,
        f"{page}#texas",
        f"{page}#ohio",
        f"{page}#texas",
        f"{page}#",
        page,
        f"{page}#/r/1",
    ]
    partners = same_place_partners(urls)
    expected = [
        [j for j, other in enumerate(urls) if j != i and same_place(url, other)]
        for i, url in enumerate(urls)
    ]
    assert partners == expected
    assert partners[1] == [0, 3, 4, 5]  # #texas: the bare page (twice, "#" too) and #texas


@pytest.fixture
def fragment_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL whose fragment is read (`urls.fragment_of`), by lint or by an import."""
    from catalog import urls
    from catalog.importer import _merge

    read: list[str] = []
    original = urls.fragment_of

    def counting(url: str) -> str:
        read.append(url)
        return original(url)

    monkeypatch.setattr(urls, "fragment_of", counting)
    monkeypatch.setattr(_merge, "fragment_of", counting, raising=False)
    return read


def test_lint_reads_each_url_s_fragment_a_bounded_number_of_times(
    fragment_reads: list[str],
) -> None:
    """Not timed (speed is the benchmark's), but counted: finding duplicates among 600
    sections of one page reads fragments in proportion to the entries, not their pairs."""
    from catalog import hygiene

    entries = [make_resource(f"s{n}", f"https://example.org/kit#/r/{n}") for n in range(600)]
    hygiene.lint([make_catalog("toolkit", entries)])
    assert len(fragment_reads) <= 10 * len(entries)


def test_an_import_reads_each_url_s_fragment_a_bounded_number_of_times(
    fragment_reads: list[str],
) -> None:
    """An imported row is matched to the entries of its page by section, not by comparing
    it with every entry of the page (4,000 sections: 79 s); and still to its own section."""
    from catalog.importer import _merge
    from catalog.importer._records import ImportedEntry

    page = "https://example.org/kit"
    existing = [make_resource(f"s{n}", f"{page}#/r/{n}") for n in range(600)]
    rows = [ImportedEntry(f"Retitled {n}", f"{page}#/r/{n}") for n in reversed(range(600))]
    plan = _merge.plan_merge(existing, rows)
    assert plan.matched == [f"s{n}" for n in reversed(range(600))] and not plan.additions
    assert len(fragment_reads) <= 10 * len(existing)


@pytest.mark.parametrize("url", ["https://example.org:0/a", "http://example.org:00/"])
def test_port_0_is_an_invalid_url(url: str) -> None:
    """Accepted, it failed every night as a connection error instead of being named."""
    problem = parse_url(url)
    assert isinstance(problem, UrlProblem) and "port is 0" in problem.reason
