"""Page analysis reads a body's bytes no more often than its rules need, and says the same.

The refresh, login and script-shell rules each follow a page only if its bytes say
"refresh", "password" or "<script" in the letters they test; each such byte search reads
the whole body when the word is missing, as on most pages. They now run only after the
tree shows a refresh <meta>, a password field, or a page short enough for a shell.
"""

from __future__ import annotations

import time

from bench.simweb import html_page
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


def _cpu(page: bytes) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.thread_time()
        analyse_body(page, HTML, truncated=False)
        best = min(best, time.thread_time() - started)
    return best


def test_a_page_holding_the_mark_character_costs_what_it_would_without() -> None:
    """A page whose text holds the character `_mark` puts around chrome is read whole; its
    text loses that character in one C pass, not in a dict lookup per character (`str.translate`
    on text with any non-ASCII character: ~35 µs per 1,000 characters, which made this
    page cost about twice what it does without the character)."""
    page = html_page(72).replace(b"<body>", b"<body><header>Site</header><main>", 1)
    marked = page.replace(b"<h1>", b"<h1>\x02S ", 1)
    assert "Report 72" in analyse_body(marked, HTML, truncated=False).text
    analyse_body(page, HTML, truncated=False)  # warm up
    assert _cpu(marked) < 1.6 * _cpu(page)


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
