"""Page analysis reads a body's bytes no more often than its rules need, and says the same.

The refresh, login and script-shell rules each follow a page only if its bytes say
"refresh", "password" or "<script" in the letters they test; each such byte search reads
the whole body when the word is missing, as on most pages. They now run only after the
tree shows a refresh <meta>, a password field, or a page short enough for a shell.
"""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from bench.analysis_cost import chrome_pages
from bench.simweb import html_page
from catalog.check import content
from catalog.check.content import analyse_body

HTML = "text/html; charset=utf-8"


class _Searched(bytes):
    """A body that records what is searched for in it with `in`."""

    needles: list[bytes]

    def __contains__(self, needle: object) -> bool:
        assert isinstance(needle, bytes)
        self.needles.append(needle)
        return super().__contains__(needle)


def _searched(page: bytes) -> list[bytes]:
    body = _Searched(page)
    body.needles = []
    analyse_body(body, HTML, truncated=False)
    return body.needles


def test_an_ordinary_page_is_not_read_for_the_words_of_rules_it_cannot_meet() -> None:
    needles = _searched(html_page(5))  # no refresh <meta>, no password field, 2,000 words
    for word in (b"efresh", b"EFRESH", b"assword", b"ASSWORD", b"<script", b"<SCRIPT"):
        assert word not in needles


def _page(head: str, body: str) -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


WORDS = " ".join(["word"] * 100)


def test_a_refresh_is_followed_as_its_letters_say() -> None:
    for value in ("refresh", "REFRESH", "Refresh"):
        page = _page(f"<meta http-equiv='{value}' content='0; url=/moved'>", "<p>Moved.</p>")
        assert analyse_body(page, HTML, truncated=False).refresh == "0; url=/moved"
    # "re&#102;resh" is "refresh" to the parser, but the bytes never say it: not followed,
    # as before the tree was searched first.
    page = _page("<meta http-equiv='re&#102;resh' content='0; url=/x'>", "<p>Moved.</p>")
    assert analyse_body(page, HTML, truncated=False).refresh is None
    page = _page("<meta http-equiv='content-language' content='en'>", "<p>Refresh me.</p>")
    assert analyse_body(page, HTML, truncated=False).refresh is None


def test_a_login_form_needs_its_field_and_the_word() -> None:
    form = "<form><input type='password' name='pw'></form>"
    assert analyse_body(_page("", f"<p>Password</p>{form}"), HTML, truncated=False).login_form
    assert analyse_body(_page("", f"<p>PASSWORD</p>{form}"), HTML, truncated=False).login_form
    # The field's type in mixed case says the word in neither set of letters searched.
    odd = "<form><input type='PaSsWoRd' name='pw'></form>"
    assert not analyse_body(_page("", f"<p>Sign</p>{odd}"), HTML, truncated=False).login_form
    # The word without a field is a page about passwords.
    page = _page("", "<p>Choose a strong password.</p>")
    assert not analyse_body(page, HTML, truncated=False).login_form


def test_a_script_shell_needs_few_words_a_script_and_an_empty_mount() -> None:
    root = "<div id='root'></div>"
    for script in ("<script src='/a.js'></script>", "<SCRIPT src='/a.js'></SCRIPT>"):
        page = _page(script, root)
        assert analyse_body(page, HTML, truncated=False).script_shell
        page = _page(script, f"<p>{WORDS}</p>{root}")
        assert not analyse_body(page, HTML, truncated=False).script_shell
    assert not analyse_body(_page("<Script></Script>", root), HTML, truncated=False).script_shell
    assert not analyse_body(_page("", root), HTML, truncated=False).script_shell


def test_a_page_holding_the_mark_character_reads_as_without_it() -> None:
    """A page whose text holds the character `_mark` puts around chrome is read whole, with
    that character a space (what it costs, once twice the page's cost with
    `str.translate`, is measured by `bench.analysis_cost`, not asserted here: timed tests
    fail on a busy machine)."""
    page = html_page(72).replace(b"<body>", b"<body><header>Site</header><main>", 1)
    marked = page.replace(b"<h1>", b"<h1>\x02S ", 1)
    text = analyse_body(marked, HTML, truncated=False).text
    assert "Report 72" in text and "\x02" not in text


def _fingerprint(main: str) -> str:
    page = _page("<title>Guide</title>", f"<header>Site</header><main>{main}</main>")
    return analyse_body(page, HTML, truncated=False).fingerprint


INTRO = "<p>" + "Shelter, medical care and legal aid for every victim. " * 5 + "</p>"


def test_named_chrome_is_content_when_it_holds_an_h1_at_any_depth() -> None:
    """Each named element is tested against the walk up from every <h1>, as it was
    searched for one: a wrapper named after a promotion that holds a heading holds content,
    however deep the heading and whichever <h1> of the page it is."""
    for depth in (0, 1, 3):
        opened, closed = "<div>" * depth, "</div>" * depth
        second = f"<div class='promo-wrapper'>{opened}<h1>Part two</h1>{closed}<p>{{}}</p></div>"
        page = "<h1>Guide</h1>" + INTRO + second
        assert _fingerprint(page.format("Call us.")) != _fingerprint(page.format("Write us."))
    # The same element without a heading is a promotion: its text is left out.
    promo = INTRO + "<div class='promo-wrapper'><p>{}</p></div>"
    assert _fingerprint(promo.format("Call us.")) == _fingerprint(promo.format("Write us."))


ACCENTED = "<html><body><h1>Se\u00f1ales</h1><p>Caf\u00e9 \ufffd \u201cok\u201d</p></body></html>"
BODIES = [
    (html_page(5), HTML),
    (ACCENTED.encode(), HTML),  # a U+FFFD of the page's own
    (ACCENTED.encode(), None),  # no label: UTF-8 by its bytes, U+FFFD and all
    (ACCENTED.encode("cp1252", "replace"), "text/html; charset=windows-1252"),
    (ACCENTED.encode("cp1252", "replace"), "text/html"),
    (ACCENTED.encode()[:-30] + b"\xff" + ACCENTED.encode()[-30:], HTML),  # no UTF-8
    (b"\xef\xbb\xbf" + ACCENTED.encode(), HTML),
    (ACCENTED.encode("utf-16"), "text/html"),
    ("<p>\udcff lone</p>".encode("utf-8", "surrogatepass"), HTML),
]


def _parsed(monkeypatch: pytest.MonkeyPatch) -> list[str | bytes]:
    seen: list[str | bytes] = []
    parser = content.LexborHTMLParser

    def recording(html: str | bytes) -> LexborHTMLParser:
        seen.append(html)
        return parser(html)

    monkeypatch.setattr(content, "LexborHTMLParser", recording)
    return seen


def test_the_parser_reads_a_utf8_body_as_it_came(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given text, the parser encoded it back to the UTF-8 it was decoded from (~2 % of a
    page's analysis); a body in another charset, or with bytes that are no UTF-8, is
    still given as the text it was read as."""
    seen = _parsed(monkeypatch)
    for body, content_type in BODIES:
        analyse_body(body, content_type, truncated=False)
    assert [isinstance(html, bytes) for html in seen] == [
        True,  # the bench's page, declared UTF-8
        False,  # a U+FFFD of its own: the text, as before
        True,
        False,  # windows-1252, declared
        False,  # windows-1252, told from its bytes
        False,  # a byte that is no UTF-8
        False,  # a byte-order mark
        False,  # UTF-16
        False,  # an encoded surrogate is no UTF-8
    ]
    seen.clear()
    analyse_body(html_page(5), None, truncated=False)  # UTF-8 without a label
    assert isinstance(seen[0], bytes)


def test_facts_are_the_same_from_bytes_and_from_text(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = BODIES + [(body, HTML) for body, _, _ in chrome_pages(150)]
    via_bytes = [analyse_body(b, t, truncated=False) for b, t in bodies]
    decoded = content._decoded
    monkeypatch.setattr(content, "_decoded", lambda *a, **k: (decoded(*a, **k)[0], False))
    via_text = [analyse_body(b, t, truncated=False) for b, t in bodies]
    assert via_bytes == via_text
    assert [f.stable for f in via_bytes] == [f.stable for f in via_text]
