"""Page analysis: titles, text, fingerprints that ignore noise, similarity."""

from __future__ import annotations

import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalog.check.content import (
    MAX_LABEL_CHARS,
    PageFacts,
    analyse_body,
    similarity,
    stable_text,
)
from tests.complexity import growth

HTML = "text/html; charset=utf-8"


def page(body: str, *, title: str = "Toolkit for Practitioners", head: str = "") -> bytes:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
        f"<body><h1>Toolkit</h1><main>{body}</main></body></html>"
    ).encode()


def facts(body: bytes, content_type: str | None = HTML, **kwargs: object) -> PageFacts:
    return analyse_body(body, content_type, truncated=False, **kwargs)  # type: ignore[arg-type]


BASE = "<p>This guide explains how to identify victims of trafficking.</p>"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            f"{BASE}<p>Page generated 2026-11-28T12:04:05Z</p>",
            f"{BASE}<p>Page generated 2026-11-29T08:00:13+01:00</p>",
            id="iso-timestamp",
        ),
        pytest.param(
            f"{BASE}<footer>Last updated Nov 28, 2026 at 12:04:05 PM</footer>",
            f"{BASE}<footer>Last updated Dec 1, 2026 at 9:15:00 AM</footer>",
            id="last-updated-english",
        ),
        pytest.param(
            f"{BASE}<p>Actualizado el 28 de noviembre de 2026, 12:04</p>",
            f"{BASE}<p>Actualizado el 3 de diciembre de 2026, 17:45</p>",
            id="spanish-date",
        ),
        pytest.param(
            f"{BASE}<p>Today is Monday, 28/11/2026</p>",
            f"{BASE}<p>Today is Tuesday, 29/11/2026</p>",
            id="weekday-and-numeric-date",
        ),
        pytest.param(
            f"{BASE}<input type='hidden' name='csrf' value='a8f5f167f44f4964e6c998dee827110c'>",
            f"{BASE}<input type='hidden' name='csrf' value='0cc175b9c0f1b6a831c399e269772661'>",
            id="hidden-csrf-input",
        ),
        pytest.param(
            f"{BASE}<p>CSRF token: Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5</p>",
            f"{BASE}<p>CSRF token: cXV4YmF6Zm9vYmFyOTg3NjU0MzIx</p>",
            id="printed-csrf-token",
        ),
        pytest.param(
            f"{BASE}<script nonce='r4nd0m1'>var session='s1';</script>",
            f"{BASE}<script nonce='0th3r22'>var session='s2'; track();</script>",
            id="script-and-nonce",
        ),
        pytest.param(
            f"{BASE}<p>Session ID: 7f3a9c2e1b</p>",
            f"{BASE}<p>Session ID: 0d4e8b1f6a</p>",
            id="session-id",
        ),
        pytest.param(
            f"{BASE}<p>Reference #18.4f1d3b17.1700000000.5a6b7c8</p>",
            f"{BASE}<p>Reference #18.9c2e3b17.1700000555.1f2e3d4</p>",
            id="akamai-reference",
        ),
        pytest.param(
            f"{BASE}<p>Request 123e4567-e89b-12d3-a456-426614174000</p>",
            f"{BASE}<p>Request 9b2f4c1e-0a7d-4e11-b8c3-5f6a7b8c9d0e</p>",
            id="uuid",
        ),
        pytest.param(
            f"{BASE}<p>build deadbeefcafebabe0123456789abcdef</p>",
            f"{BASE}<p>build 0123456789abcdefdeadbeefcafebabe</p>",
            id="hex-token",
        ),
        pytest.param(
            f"{BASE}<p>Download https://x.org/guide.pdf?v=1700000000&amp;cb=1</p>",
            f"{BASE}<p>Download https://x.org/guide.pdf?v=1700009999&amp;cb=2</p>",
            id="cache-busting-query",
        ),
        pytest.param(
            f"{BASE}<p>1,234 views · 12 comments</p>",
            f"{BASE}<p>1,301 views · 15 comments</p>",
            id="view-counter",
        ),
        pytest.param(
            f"{BASE}<p>Visitas: 1234</p><p>hace 3 horas</p>",
            f"{BASE}<p>Visitas: 1302</p><p>hace 5 horas</p>",
            id="spanish-counter-and-relative-time",
        ),
        pytest.param(
            f"{BASE}<footer>Page generated in 0.042 seconds.</footer>",
            f"{BASE}<footer>Page generated in 0.087 seconds.</footer>",
            id="generation-time",
        ),
        pytest.param(
            f"{BASE}<footer>Served in 0.04s.</footer>",
            f"{BASE}<footer>Served in 0.31s.</footer>",
            id="generation-time-in-short",
        ),
        pytest.param(
            f"{BASE}<footer>Rendered in 38 ms by web-03.</footer>",
            f"{BASE}<footer>Rendered in 71 ms by web-01.</footer>",
            id="render-time-and-server",
        ),
        pytest.param(
            f"{BASE}<footer>You are visitor number 48213.</footer>",
            f"{BASE}<footer>You are visitor number 48391.</footer>",
            id="visitor-number",
        ),
        pytest.param(
            f"{BASE}<footer>Visitors today: 312.</footer>",
            f"{BASE}<footer>Visitors today: 498.</footer>",
            id="visitors-today",
        ),
        pytest.param(
            f"{BASE}<footer>You are the 48,213th visitor</footer>",
            f"{BASE}<footer>You are the 48,391st visitor</footer>",
            id="ordinal-visitor",
        ),
        pytest.param(
            f"{BASE}<p>Página generada en 0,042 segundos. Visitantes hoy: 12. "
            "Eres el visitante número 4821.</p>",
            f"{BASE}<p>Página generada en 0,311 segundos. Visitantes hoy: 97. "
            "Eres el visitante número 4907.</p>",
            id="spanish-generation-and-visitors",
        ),
        pytest.param(
            f"{BASE}<p>Page générée en 0,042 secondes. Visiteurs aujourd'hui : 12. "
            "Vous êtes le visiteur numéro 4821.</p>",
            f"{BASE}<p>Page générée en 0,311 secondes. Visiteurs aujourd'hui : 97. "
            "Vous êtes le visiteur numéro 4907.</p>",
            id="french-generation-and-visitors",
        ),
        pytest.param(  # r1: "Content changed" on nights 7 and 14, then "Unsteady links"
            f"{BASE}<p>This page has been viewed 100,181 times.</p>",
            f"{BASE}<p>This page has been viewed 100,876 times.</p>",
            id="viewed-n-times",
        ),
        pytest.param(
            f"{BASE}<p>Downloaded 1,234 times</p><p>Descargado 1 vez. Vu 12 fois.</p>",
            f"{BASE}<p>Downloaded 1,301 times</p><p>Descargado 7 veces. Vu 19 fois.</p>",
            id="downloaded-n-times",
        ),
        pytest.param(
            f"{BASE}<p>12,345 page views</p><p>Page views: 12345</p>",
            f"{BASE}<p>12,402 page views</p><p>Page views: 12402</p>",
            id="page-views",
        ),
        pytest.param(
            f"{BASE}<footer>Visitor count: 1234. Download counter: 56</footer>",
            f"{BASE}<footer>Visitor count: 1301. Download counter: 61</footer>",
            id="visitor-count",
        ),
        pytest.param(
            f"{BASE}<p>Views 1234</p>",
            f"{BASE}<p>Views 1301</p>",
            id="views-and-a-bare-number",
        ),
        pytest.param(  # Apache SSI's default DATE_LOCAL, and its file listings
            f"{BASE}<p>Last modified: Wednesday, 03-Feb-2027 02:05:11 UTC</p>",
            f"{BASE}<p>Last modified: Thursday, 04-Feb-2027 02:05:09 UTC</p>",
            id="apache-date",
        ),
        pytest.param(  # ctime, `date`: the weekday abbreviation goes with the date
            f"{BASE}<p>Generated Thu Feb 04 02:05:11 UTC 2027</p>",
            f"{BASE}<p>Generated Fri Feb 05 02:05:13 UTC 2027</p>",
            id="ctime-date",
        ),
        pytest.param(
            f"{BASE}<footer>© 2025 UNODC</footer>",
            f"{BASE}<footer>© 2026 UNODC</footer>",
            id="copyright-year",
        ),
        pytest.param(
            f"{BASE}<!-- served by node 17 at 12:00 -->",
            f"{BASE}<!-- served by node 4 at 12:01 -->",
            id="comment",
        ),
        pytest.param(
            f"{BASE}<style>.a{{color:red}}</style><noscript>Enable JS</noscript>",
            f"{BASE}<style>.b{{color:blue}}</style><noscript>Please enable JS</noscript>",
            id="style-and-noscript",
        ),
        pytest.param(
            BASE,
            BASE.replace(" ", "\n\t  ").replace("<p>", "<p>\n"),
            id="whitespace",
        ),
        pytest.param(
            f"{BASE}<div hidden>cache node 7</div>",
            f"{BASE}<div hidden>cache node 9</div>",
            id="hidden-element",
        ),
    ],
)
def test_pages_differing_only_by_noise_share_a_fingerprint(first: str, second: str) -> None:
    assert facts(page(first)).fingerprint == facts(page(second)).fingerprint


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(BASE, BASE.replace("identify", "support"), id="word-changed"),
        pytest.param(
            BASE, BASE + "<p>New chapter on labour exploitation.</p>", id="paragraph-added"
        ),
        pytest.param(
            "<p>The 2019 report</p>", "<p>The 2020 report</p>", id="year-in-a-title-changed"
        ),
        pytest.param(
            "<p>Call 555 0100 for help</p>", "<p>Call 555 0199 for help</p>", id="number-changed"
        ),
        pytest.param(
            f"{BASE}<footer>Page generated in 0.042 seconds.</footer>",
            f"{BASE}<footer>Page generated in 0.087 seconds.</footer><p>New annex.</p>",
            id="text-added-beside-a-generation-time",
        ),
        pytest.param(
            f"{BASE}<footer>You are visitor number 48213.</footer>",
            f"{BASE.replace('identify', 'support')}<footer>You are visitor number 48391.</footer>",
            id="word-changed-beside-a-visitor-number",
        ),
        pytest.param(
            "<p>Apply in 30 days</p>", "<p>Apply in 60 days</p>", id="a-deadline-is-no-server-time"
        ),
        pytest.param(  # a decade is no server time: "in 1990s by decade" was cut out whole
            "<p>Trafficking cases in 1990s by decade</p>",
            "<p>Trafficking cases in 2000s by decade</p>",
            id="a-decade-is-no-server-time",
        ),
        pytest.param(
            "<p>Published in 2019 by the agency</p>",
            "<p>Published in 2020 by the agency</p>",
            id="a-year-after-in-is-no-server-time",
        ),
        pytest.param(  # a count in the text is no counter of visits
            "<p>Trafficking cases rose to 1,234</p>",
            "<p>Trafficking cases rose to 1,301</p>",
            id="a-count-of-cases",
        ),
        pytest.param(  # "count" is a counter's only after a counted word
            "<p>Death count: 1,234</p>",
            "<p>Death count: 1,301</p>",
            id="a-count-of-deaths",
        ),
        pytest.param(  # verbs a number follows are the text's: only nouns take a bare one
            "<p>The bill was read 3 times; the inspector visits 4 shelters</p>",
            "<p>The bill was read 2 times; the inspector visits 5 shelters</p>",
            id="read-n-times-and-visits-n",
        ),
        pytest.param(  # a weekday abbreviation goes only before a date
            "<p>The sun may 5 times outshine the moon</p>",
            "<p>The star may 5 times outshine the moon</p>",
            id="sun-before-may-5-is-a-word",
        ),
        pytest.param(
            "<p>COVID-19-related-guidance</p>",
            "<p>COVID-20-related-guidance</p>",
            id="hyphenated-words-are-not-tokens",
        ),
    ],
)
def test_a_real_text_change_changes_the_fingerprint(first: str, second: str) -> None:
    assert facts(page(first)).fingerprint != facts(page(second)).fingerprint


def test_a_date_with_dashes_goes_as_one_with_spaces_does() -> None:
    """A page's dates are noise however written: "Published 03 Feb 2027" went already, and
    its Apache spelling stayed ("03-feb-2027"), a day's news on a page showing its own date.
    An edition's new date comes with a new title or text, which the fingerprint sees."""
    assert stable_text("Published 03-Feb-2027") == stable_text("Published 03 Feb 2027")
    assert stable_text("Published 03-Feb-2027, 10:15") == "published ,"


def test_a_title_change_changes_the_fingerprint() -> None:
    assert facts(page(BASE, title="Old")).fingerprint != facts(page(BASE, title="New")).fingerprint


def test_fingerprint_is_sha256_and_stable_across_calls() -> None:
    first, second = facts(page(BASE)), facts(page(BASE))
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint.startswith("sha256:") and len(first.fingerprint) == 7 + 64


@pytest.mark.parametrize(
    ("markup", "title", "heading"),
    [
        pytest.param(
            "<title> Trafficking &amp; Smuggling\n  Guide </title><h1>Guide &lt;2026&gt;</h1>",
            "Trafficking & Smuggling Guide",
            "Guide <2026>",
            id="entities-and-whitespace",
        ),
        pytest.param(
            "<title>Gu&iacute;a &#8211; Ni&ntilde;os</title>"
            "<h1><a href='/'><img alt='logo'></a></h1>"
            "<h1>Gu&iacute;a <em>pr&aacute;ctica</em></h1>",
            "Guía – Niños",
            "Guía práctica",
            id="empty-logo-h1-skipped",
        ),
        pytest.param("<h1>Only a heading</h1>", None, "Only a heading", id="no-title"),
        pytest.param("<TITLE>Upper</TITLE><H1>Case</H1>", "Upper", "Case", id="upper-case-tags"),
        pytest.param(
            "<title>Unclosed title<body><h1>Heading",
            "Unclosed title<body><h1>Heading",
            None,
            id="unclosed-title-is-raw-text",
        ),
        pytest.param(
            "<body><svg><title>icon</title></svg><h1>Real</h1>", "icon", "Real", id="svg-title"
        ),
        pytest.param("<title></title><h1>  </h1>", None, None, id="empty"),
    ],
)
def test_title_and_heading_are_extracted(
    markup: str, title: str | None, heading: str | None
) -> None:
    result = facts(markup.encode(), "text/html")
    assert (result.title, result.heading) == (title, heading)
    assert result.is_html


def test_visible_text_excludes_scripts_comments_and_hidden_parts() -> None:
    body = page(
        "<p>Visible <b>words</b></p><script>var secret=1</script><!-- note -->"
        "<template><p>later</p></template><input type=hidden value=zzz><div hidden>gone</div>"
    )
    assert facts(body).text == "Toolkit Visible words"


def _detail_page(hidden: str) -> bytes:
    """A directory's detail page: the not-found notice its script shows when a lookup
    fails sits first, hidden by an inline style (`hidden`) until then."""
    return (
        "<!doctype html><html><head><title>Victim Compensation</title></head><body>"
        f'<div id="not-found" style="{hidden}"><div><h1>Page not found</h1></div></div>'
        "<h1>Victim Compensation Program</h1>"
        "<p>Apply for help with medical bills and counseling.</p></body></html>"
    ).encode()


@pytest.mark.parametrize(
    "hidden",
    [
        "display: none",
        "DISPLAY:NONE",
        "color: red; display : none !important; margin: 0",
        "display:none;",
        "visibility: hidden",
        "Visibility:Hidden ! important",
    ],
)
def test_a_heading_an_inline_style_hides_is_not_the_pages_heading(hidden: str) -> None:
    """Browsers never show it; read as the heading, it made the page a soft 404 ("the
    page's main heading says 'Page not found'")."""
    assert facts(_detail_page(hidden)).heading == "Victim Compensation Program"


@pytest.mark.parametrize(
    "shown",
    ["display: none-ish", "display: block; --x-display: none", "overflow: hidden", "border: none"],
)
def test_a_style_that_hides_nothing_leaves_the_heading(shown: str) -> None:
    assert facts(_detail_page(shown)).heading == "Page not found"


def test_text_an_inline_style_hides_stays_in_the_text_and_its_fingerprint() -> None:
    """Menus, dialogs and "Loading..." hidden by style are on most pages: taking them out
    would call every such page changed the night after an upgrade."""
    hidden = facts(page(f"{BASE}<div style='display:none'>Extra words</div>"))
    assert "Extra words" in hidden.text
    assert hidden.fingerprint != facts(page(BASE)).fingerprint


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param(
            "<title>Niños café</title>".encode("cp1252"), "text/html; charset=windows-1252"
        ),
        pytest.param(
            "<title>Niños café</title>".encode("latin-1"), "text/html; charset=ISO-8859-1"
        ),
        pytest.param(
            "<meta charset='iso-8859-1'><title>Niños café</title>".encode("latin-1"), "text/html"
        ),
        pytest.param(
            '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
            "<title>Niños café</title>".encode("cp1252"),
            None,
            id="http-equiv-and-sniffed-html",
        ),
        pytest.param("<title>Niños café</title>".encode(), "text/html"),
        pytest.param(
            "<meta charset='iso-8859-1'><title>Niños café</title>".encode(),
            "text/html; charset=utf-8",
            id="header-beats-meta",
        ),
        pytest.param(
            b"\xef\xbb\xbf<title>Ni\xc3\xb1os caf\xc3\xa9</title>",
            "text/html; charset=latin1",
            id="bom-wins",
        ),
        pytest.param("<title>Niños café</title>".encode(), "text/html; charset=no-such-codec"),
    ],
)
def test_charset_comes_from_header_then_meta_then_utf8(
    raw: bytes, content_type: str | None
) -> None:
    assert facts(raw, content_type).title == "Niños café"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            b"<title>Home\x1b]0;owned\x07 page\x1b[2J</title><h1>Hi&#27;[31m&#x9b;31m</h1>",
            "text/html",
            id="html-escape-sequences",
        ),
        pytest.param(
            b"%PDF-1.4\n1 0 obj << /Title (Home\\000 page\\033[2J) /Producer (x) >> endobj\n",
            "application/pdf",
            id="pdf-nul-and-escape",
        ),
        pytest.param(
            b"%PDF-1.4\n1 0 obj << /Title <FEFF0048\n0000001B> /Author (x) >> endobj\n",
            "application/pdf",
            id="pdf-utf16-nul",
        ),
    ],
)
def test_titles_and_headings_carry_no_control_characters(body: bytes, content_type: str) -> None:
    """A hostile page's title reaches terminals (`linkhealth resource` prints the drift
    reason that quotes it) and the database, where PostgreSQL refuses a NUL."""
    result = facts(body, content_type)
    shown = [result.title or "", result.heading or ""]
    assert result.title
    assert not [s for s in shown if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in s)]


def test_titles_carry_no_bidirectional_controls_but_keep_joiners() -> None:
    """An override turned "Watches link Shop" into "Watches \u202eknil\u202c Shop" in drift
    reasons, `linkhealth resource` and the Markdown report; ZWJ and ZWNJ are letters'
    business (Persian, Indic scripts, emoji) and stay."""
    markup = (
        "<title>Watches \u202eknil\u202c Shop \u2067x\u2069\u200f\u061c</title>"
        "<h1>\u202aمی\u200cخواهم \U0001f469\u200d\U0001f4bb\u202c</h1>"
    )
    result = facts(markup.encode(), "text/html; charset=utf-8")
    assert result.title == "Watches knil Shop x"
    assert result.heading == "می\u200cخواهم \U0001f469\u200d\U0001f4bb"


def test_a_huge_title_is_cut_at_a_word() -> None:
    """A 1.5 MB <title> was stored whole on each observation and rendered into a 1.5 MB
    resource page."""
    title = "Adversarial Test Resource " + "word " * 300_000
    result = facts(page(BASE, title=title))
    assert result.title is not None and len(result.title) <= MAX_LABEL_CHARS
    assert result.title.startswith("Adversarial Test Resource word")
    assert result.title.endswith("word…")
    heading = facts(f"<h1>{'X' * 1_500_000}</h1>".encode()).heading
    assert heading is not None and len(heading) == MAX_LABEL_CHARS and heading.endswith("…")


@pytest.mark.parametrize(
    "label", ["base64", "rot13", "zlib", "hex", "uu", "bz2", "idna", "undefined", "punycode"]
)
@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_charset_no_browser_reads_is_ignored(label: str, where: str) -> None:
    """Python codecs a server can name that are no charsets: bytes-to-bytes codecs and
    "idna" raised (the live page became "the checker itself failed", counted as broken),
    "punycode" decoded in quadratic time."""
    body = "<title>Niños café</title>".encode()
    if where == "meta":
        result = facts(f"<meta charset='{label}'>".encode() + body, "text/html")
    else:
        result = facts(body, f"text/html; charset={label}")
    assert result.title == "Niños café"


def test_a_page_naming_punycode_costs_in_proportion_to_its_size() -> None:
    """Decoded as punycode, a 2 MiB page took minutes (quadratic)."""

    def page(pairs: int) -> bytes:
        return b"<title>x</title><p>-" + b"ba" * pairs

    def analyse(body: bytes) -> object:
        return analyse_body(body, "text/html; charset=punycode", truncated=True)

    assert growth(analyse, page(64 * 1024), page(512 * 1024), size_ratio=8) < 3


@pytest.mark.parametrize("content_type", ["text/html", None, "text/html; charset=no-such-codec"])
@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
def test_a_page_not_in_utf8_that_names_no_charset_is_read_as_browsers_read_it(
    content_type: str | None, codec: str
) -> None:
    """Browsers fall back to windows-1252 (WHATWG); read as UTF-8, every accented letter of
    an old Spanish or French page's title became "\ufffd" in reports ("Ni\ufffdos")."""
    body = "<html><head><title>Niños café – résumé</title></head><body><h1>Guía</h1>"
    result = facts(body.encode(codec, errors="replace"), content_type)
    expected = "Niños café – résumé" if codec == "cp1252" else "Niños café ? résumé"
    assert result.title == expected and result.heading == "Guía"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Руководство по выявлению жертв торговли людьми", "cp1251"),
        ("Οδηγός για την αναγνώριση θυμάτων εμπορίας ανθρώπων", "cp1253"),
    ],
)
def test_a_page_of_another_script_that_names_no_charset_is_not_read_as_latin(
    text: str, codec: str
) -> None:
    """Windows-1252 turned an old Russian page's words into Latin-looking ones ("Ðóêîâîäñòâî
    ïî"): a page of 45 such words is substantial, shares nothing with its entry, and was
    reported as drifted, where its unreadable text used to leave drift alone (Shift_JIS
    seldom gets that far: some of its pairs are valid UTF-8, so it is read as UTF-8)."""
    body = f"<html><head><title>{text}</title></head><body><p>{text}. {text}.</p>"
    result = facts(body.encode(codec), "text/html")
    assert result.title is not None
    assert not any(ch.isalpha() and not ch.isascii() for ch in result.title), result.title


@pytest.mark.parametrize(
    "body",
    [
        "<title>Niños café</title>".encode() + b" \xff stray",  # UTF-8 with one bad byte
        "<title>Niños café</title><p>ends mid-letter: é".encode()[:-1],  # cut at the cap
    ],
)
def test_a_utf8_page_with_a_bad_byte_is_still_read_as_utf8(body: bytes) -> None:
    assert facts(body, "text/html").title == "Niños café"


def test_undecodable_bytes_are_replaced_not_fatal() -> None:
    result = facts(b"<title>caf\xe9 \xff</title>", "text/html; charset=utf-8")
    assert result.title is not None and result.title.startswith("caf")


PDF = (
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Outlines 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Title (Chapter 1) /Parent 3 0 R >>\nendobj\n"
    b"9 0 obj\n<< /Producer (Word) /Title (Trafficking \\(2019\\) Report) /Author (UN) >>\n"
    b"endobj\ntrailer\n<< /Info 9 0 R >>\n%%EOF\n"
)


def test_pdf_fingerprint_is_the_hash_of_its_bytes_and_title_comes_from_document_info() -> None:
    result = facts(PDF, "application/pdf")
    assert result.title == "Trafficking (2019) Report"
    assert (result.text, result.heading, result.is_html) == ("", None, False)
    assert result.fingerprint == facts(PDF, "application/octet-stream").fingerprint
    assert result.fingerprint != facts(PDF + b"\n", "application/pdf").fingerprint


@pytest.mark.parametrize(
    ("info", "title"),
    [
        pytest.param(
            b"<< /Title <FEFF004E006900F100610073> /Creator (x) >>", "Niñas", id="utf16-hex"
        ),
        pytest.param(b"<< /Title (Caf\\351) /Producer (x) >>", "Café", id="octal-escape"),
        pytest.param(b"<< /Title () /Producer (x) >>", None, id="empty"),
        pytest.param(b"<< /Title (Outline entry only) /Parent 1 0 R >>", None, id="outline-only"),
        pytest.param(
            b"<x:xmpmeta><dc:title><rdf:Alt><rdf:li xml:lang='x-default'>XMP &amp; more"
            b"</rdf:li></rdf:Alt></dc:title></x:xmpmeta>",
            "XMP & more",
            id="xmp",
        ),
    ],
)
def test_pdf_title_is_found_cheaply_or_not_at_all(info: bytes, title: str | None) -> None:
    assert facts(b"%PDF-1.4\n" + info + b"\n%%EOF", "application/pdf").title == title


def test_a_pdf_of_decoy_info_dictionaries_costs_little_per_decoy() -> None:
    """Each decoy opened a string that never closes: 4096 bytes read one at a time in
    Python per decoy, ~40 ms per KB of body (about 90 s for 2 MiB) on the shared loop.
    The search now gives up after a few dictionaries, so more decoys cost nothing more."""

    def pdf(decoys: int) -> bytes:
        return b"%PDF-1.4\n" + b"<< /Title ( /Producer >> " * decoys

    def analyse(body: bytes) -> PageFacts:
        return analyse_body(body, "application/pdf", truncated=True)

    assert analyse(pdf(10_000)).title is None
    assert growth(analyse, pdf(1_250), pdf(10_000), size_ratio=8) < 0.5  # ~0.13: flat


def test_a_pdf_of_unclosed_xmp_titles_costs_in_proportion_to_its_size() -> None:
    """Each unclosed <dc:title> was read to the end of the body: quadratic, ~20 s for
    200 KB and half an hour for 2 MiB, on the event loop the run's batches share."""

    def pdf(titles: int) -> bytes:
        return b"%PDF-1.4\n" + b"<dc:title><rdf:Alt><rdf:li>" * titles

    def analyse(body: bytes) -> PageFacts:
        return analyse_body(body, "application/pdf", truncated=True)

    assert analyse(pdf(8_000)).title is None
    assert growth(analyse, pdf(1_000), pdf(8_000), size_ratio=8) < 3


def test_the_pdf_title_is_found_after_a_few_titleless_info_dictionaries() -> None:
    decoys = b"<< /Title () /Producer (x) >>\n" * 3
    body = b"%PDF-1.4\n" + decoys + b"<< /Title (Annual Report) /Author (UN) >>\n"
    assert analyse_body(body, "application/pdf", truncated=False).title == "Annual Report"


def test_truncated_binary_fingerprint_includes_etag_and_full_length() -> None:
    head = PDF[:60]

    def cut(etag: str | None, total: int | None) -> str:
        return analyse_body(
            head, "application/pdf", truncated=True, etag=etag, total_length=total
        ).fingerprint

    assert cut('"v1"', 9_000_000) == cut('"v1"', 9_000_000)
    assert cut('"v1"', 9_000_000) != cut('"v2"', 9_000_000)
    assert cut('"v1"', 9_000_000) != cut('"v1"', 9_000_001)
    assert cut('"v1"', 9_000_000) != facts(head, "application/pdf").fingerprint


def test_complete_binary_fingerprint_ignores_etag() -> None:
    assert (
        facts(PDF, "application/pdf", etag='"a"').fingerprint
        == facts(PDF, "application/pdf", etag='"b"').fingerprint
    )


def test_truncated_html_fingerprint_survives_a_shift_of_the_cut() -> None:
    words = [f"word{i % 97}x" for i in range(20_000)]
    text = " ".join(words)

    def cut(token: str) -> str:
        body = f"<html><body><p>{token}</p><p>{text}</p></body></html>".encode()
        return analyse_body(body[:100_000], HTML, truncated=True).fingerprint

    # The session token changes length, so the cap falls a few bytes elsewhere.
    assert cut("session: a1b2c3") == cut("session: a1b2c3d4e5")


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        pytest.param(b"line one\n\n  line   two\t", "text/plain", "line one line two", id="plain"),
        pytest.param(b'{"a":  1,\n "b": 2}', "application/json", '{"a": 1, "b": 2}', id="json"),
        pytest.param(b"<r>\n <x>1</x>\n</r>", "application/rss+xml", "<r> <x>1</x> </r>", id="xml"),
        pytest.param(b"just words", None, "just words", id="sniffed-text"),
    ],
)
def test_non_html_text_is_whitespace_normalized(
    body: bytes, content_type: str | None, text: str
) -> None:
    result = facts(body, content_type)
    assert (result.text, result.is_html, result.title) == (text, False, None)
    assert result.fingerprint == facts(body.replace(b"\n", b" \n "), content_type).fingerprint


NOT_FOUND = (
    b"<!DOCTYPE html>\n<html><head><title>Page Not Found</title></head>"
    b"<body><h1>Page not found</h1></body></html>"
)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/octet-stream",
        "binary/octet-stream",
        "application/unknown",
    ],
)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(NOT_FOUND, id="doctype"),
        pytest.param(b"\r\n  " + NOT_FOUND.removeprefix(b"<!DOCTYPE html>\n"), id="html-tag"),
        pytest.param(b"\xef\xbb\xbf" + NOT_FOUND, id="bom"),
    ],
)
def test_a_page_under_a_label_that_says_nothing_of_the_file_is_read_as_html(
    body: bytes, content_type: str
) -> None:
    # Served so by misconfigured servers, a "Page Not Found" page had no title: "OK".
    result = facts(body, content_type)
    assert (result.is_html, result.title, result.heading) == (
        True,
        "Page Not Found",
        "Page not found",
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"<p>Write <b>bold</b> as shown.</p>", "text/plain", id="text-with-tags"),
        pytest.param(b"Pages open with <html> and end with </html>.", "text/plain", id="text"),
        # A file's label over a page is read as the page (tests/test_fx_binary_label.py);
        # a file that holds one is the file.
        pytest.param(b"PK\x03\x04\x14\x00\x00\x00" + NOT_FOUND, "application/zip", id="zip"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dtEXt" + NOT_FOUND, "image/png", id="png"),
        pytest.param(b"%PDF-1.4\n<html><title>x</title></html>", "application/octet-stream"),
    ],
)
def test_only_a_whole_documents_opening_makes_an_unlabelled_file_html(
    body: bytes, content_type: str
) -> None:
    assert not facts(body, content_type).is_html


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=no-such-codec"])
def test_a_utf16_page_without_byte_order_mark_or_charset_is_read_as_utf16(
    codec: str, content_type: str
) -> None:
    # Read as UTF-8, its letters were each followed by a NUL: no title, "OK".
    page = "<html><head><title>Página no encontrada</title></head><body></body></html>"
    result = facts(page.encode(codec), content_type)
    assert (result.is_html, result.title) == (True, "Página no encontrada")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"PK\x03\x04\x14\x00\x00\x00", None),
        (b"\x00\x01\x02 binary", "application/octet-stream"),
    ],
)
def test_binaries_have_no_text(body: bytes, content_type: str | None) -> None:
    result = facts(body, content_type)
    assert (result.text, result.is_html, result.title) == ("", False, None)
    assert result.fingerprint.startswith("sha256:")


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("same words here", "same words here", 1.0, 1.0),
        ("", "", 1.0, 1.0),
        ("something", "", 0.0, 0.0),
        ("alpha beta gamma", "delta epsilon zeta", 0.0, 0.0),
        (
            "Page /a/b/x.pdf not found on this server sorry",
            "Page /q not found on this server sorry",
            0.6,
            0.9,
        ),
    ],
)
def test_similarity_is_bounded_and_sensible(a: str, b: str, low: float, high: float) -> None:
    assert low <= similarity(a, b) <= high
    assert similarity(a, b) == similarity(b, a)


def test_similarity_tells_a_changed_article_from_another_article() -> None:
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(400)]
    article = " ".join(rng.choice(vocabulary) for _ in range(2000))
    edited = article.replace(" w5 ", " w6 ", 3)
    other = " ".join(rng.choice(vocabulary) for _ in range(2000))
    assert similarity(article, edited) > 0.95
    assert similarity(article, other) < 0.2


def _big_page(size: int) -> bytes:
    rng = random.Random(3)
    words = ["the", "victims", "report", "protection", "children", "2019", "labour", "advice"]
    parts = ["<html><head><title>Big</title></head><body>"]
    total = 0
    while total < size:
        para = " ".join(rng.choice(words) for _ in range(40))
        chunk = (
            f"<div class='row'><nav><a href='/section/{total}'>Section</a></nav><p>{para}"
            f" updated 12:0{total % 10}</p><script>var t={total};</script>"
            "<span class='icon icon-x'></span><span class='icon icon-y'></span></div>\n"
        )
        parts.append(chunk)
        total += len(chunk)
    return ("".join(parts) + "</body></html>").encode()[:size]


def test_a_2_mib_page_costs_in_proportion_to_its_size() -> None:
    body = _big_page(2 * 1024 * 1024)

    def analyse(page: bytes) -> PageFacts:
        return analyse_body(page, HTML, truncated=True)

    result = analyse(body)
    assert result.title == "Big" and len(result.text) > 100_000
    assert growth(analyse, _big_page(256 * 1024), body, size_ratio=8) < 3


def test_similarity_costs_in_proportion_to_the_texts() -> None:
    rng = random.Random(5)

    def texts(words: int) -> tuple[str, str]:
        a = " ".join(f"w{rng.randrange(3000)}" for _ in range(words))
        return a, " ".join(f"w{rng.randrange(3000)}" for _ in range(words))

    def compare(pair: tuple[str, str]) -> float:
        return similarity(*pair)

    assert growth(compare, texts(2_500), texts(20_000), size_ratio=8) < 3


@settings(max_examples=150, deadline=None)
@given(
    body=st.one_of(st.binary(max_size=3000), st.text(max_size=3000).map(str.encode)),
    content_type=st.sampled_from(
        [None, "text/html", "application/pdf", "text/plain; charset=utf-16", "text/html;charset=x"]
    ),
    truncated=st.booleans(),
)
def test_analyse_body_never_raises(body: bytes, content_type: str | None, truncated: bool) -> None:
    result = analyse_body(body, content_type, truncated=truncated, etag='"e"', total_length=9)
    assert result.fingerprint.startswith("sha256:")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400), st.text(max_size=400))
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert 0.0 <= similarity(a, b) == similarity(b, a) <= 1.0


@given(
    st.one_of(
        st.text(alphabet="aZ09+/_.=-é€\U0001f600\ud800 \t\x01\x81(", max_size=120),
        st.text(max_size=120),
    )
)
@example("000000000000000\x01")  # a \x01 of the text passed for a token's character
def test_token_prefilter_says_exactly_whether_a_token_is_there(text: str) -> None:
    from catalog.check.content import _TOKENISH, _may_hold_token

    assert _may_hold_token(text) == (_TOKENISH.search(text) is not None)


@given(st.text(alphabet="([{\"'¿¡«“‘a é©\u2019)", max_size=80) | st.text(max_size=80))
def test_openers_become_spaces_as_a_translate_table_would_make_them(text: str) -> None:
    from catalog.check.content import _OPENERS, _openers_to_spaces

    table: dict[str, str | int | None] = dict.fromkeys(_OPENERS, " ")
    assert _openers_to_spaces(text) == text.translate(str.maketrans(table))


def _formatting_trap(paragraphs: int, last: str = "end") -> bytes:
    """16 formatting tags left open, then short paragraphs: the parser copies the open
    ones into every paragraph (1.66 GB for 2 MiB of them)."""
    tags = [
        "b",
        "i",
        "u",
        "s",
        "em",
        "strong",
        "small",
        "big",
        "tt",
        "font",
        "code",
        "nobr",
        "strike",
        "q",
        "sub",
        "sup",
    ]
    head = "<html><head><title>Taken</title></head><body>" + "".join(f"<{t}>" for t in tags)
    return (head + "<p>y</p>" * paragraphs + f"<p>{last}</p>").encode()


def test_a_page_of_more_tags_than_the_parser_is_given_is_read_up_to_them() -> None:
    """Like a body cut at the byte cap: what lies past the cap neither shows nor counts."""
    facts = analyse_body(_formatting_trap(60_000), HTML, truncated=False)
    assert facts.title == "Taken" and "end" not in facts.text.split()
    assert (
        facts.fingerprint
        == analyse_body(_formatting_trap(60_000, "other"), HTML, truncated=False).fingerprint
    )
    small = analyse_body(_formatting_trap(100), HTML, truncated=False)
    assert small.text.split()[-1] == "end"


def test_a_page_of_tags_costs_no_more_past_the_parsers_cap() -> None:
    def analyse(page: bytes) -> PageFacts:
        return analyse_body(page, HTML, truncated=False)

    assert growth(analyse, _formatting_trap(20_000), _formatting_trap(160_000), size_ratio=8) < 0.5


@pytest.mark.parametrize(
    ("markup", "login"),
    [
        ('<title>Log in - AEquitas</title><form><input type="password" name="p"></form>', True),
        # Few words beside the field: a login page, whatever it is titled.
        ('<title>Members</title><p>Email</p><input type=PASSWORD name="p">', True),
        # A long page with the site's login box in its sidebar is an article.
        (
            "<title>Annual report</title><aside><input type='password'></aside><p>"
            + "Findings of the year. " * 60
            + "</p>",
            False,
        ),
        # A login dialog hidden until asked for, or a field only a script would draw.
        ('<title>Log in</title><div hidden><input type="password"></div>', False),
        ('<title>Log in</title><template><input type="password"></template>', False),
        ("<title>Log in</title><p>Reset your password here.</p>", False),
    ],
)
def test_a_login_form_is_a_visible_password_field_on_a_page_about_logging_in(
    markup: str, login: bool
) -> None:
    assert facts(markup.encode(), "text/html").login_form is login


def test_an_angular_body_is_no_mount_of_its_own() -> None:
    """`<body ng-app>` holds the footer the server renders: counted as the mount that must
    be empty, it made every Angular shell a soft 404 again."""
    markup = (
        '<body ng-app="portal"><div id="app"></div><footer>'
        + "Office of Justice Programs, 810 Seventh Street NW, Washington DC. " * 2
        + "</footer><script src=/app.js></script></body>"
    )
    assert facts(markup.encode(), "text/html").script_shell
