"""A 200 whose page is empty (a PHP "white screen", the empty file a failed upload left)
is a missing page, not a working link; a page with anything a browser shows is not (r2 F8)."""

from __future__ import annotations

import httpx
import pytest

from catalog.check.classify import classify
from catalog.check.content import analyse_body
from catalog.check.facts import Answer, CheckFacts, Exchange
from catalog.model import Hop
from catalog.outcomes import Outcome, Severity

URL = "https://example.org/docs/report"


def _checked(status: int, body: bytes, content_type: str, method: str = "GET") -> CheckFacts:
    """The facts the checker gathers: the page is read from the body of a GET's 2xx."""
    headers = httpx.Headers({"content-type": content_type})
    answer = Answer(URL, status, headers, body)
    page = None
    if method == "GET" and 200 <= status < 300:
        page = analyse_body(body, content_type, truncated=False)
    exchange = Exchange(method, chain=(Hop(URL, status),), answer=answer)
    return CheckFacts(url=URL, exchanges=(exchange,), page=page)


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"", "text/html; charset=UTF-8", "an empty page (0 bytes)"),
        (b"\n\n   \n", "text/html", "an empty page (only blank space)"),
        (b"", "application/pdf", "an empty file (0 bytes)"),
        (
            b"<!doctype html><html><head><meta charset=utf-8></head><body>\n</body></html>",
            "text/html",
            "an empty page (HTML with no text in it)",
        ),
        # Judged on the decoded page: a UTF-16 skeleton is as empty as a UTF-8 one.
        (
            "<html><head><meta charset=utf-16></head><body>\n</body></html>".encode("utf-16"),
            "text/html; charset=utf-16",
            "an empty page (HTML with no text in it)",
        ),
        (
            b"<!-- cache miss --><html><body hidden>&nbsp;</body></html>",
            "text/html",
            "an empty page (HTML with no text in it)",
        ),
    ],
)
def test_an_empty_page_or_file_is_a_missing_page(body: bytes, content_type: str, said: str) -> None:
    verdict = classify(_checked(200, body, content_type))
    assert verdict.outcome is Outcome.SOFT_404
    assert said in verdict.reason and "open it in a browser" in verdict.reason
    # A download has no page to be blank (r10): the file holds nothing to open.
    shown = "blank page" if said.startswith("an empty page") else "holds nothing to open"
    assert shown in verdict.reason
    # Not broken at once: a deploy in progress empties pages for a while, and a failure
    # is confirmed only by the nights after it (`health.apply_observation`).
    assert verdict.outcome.severity is Severity.BROKEN
    assert verdict.outcome is not Outcome.INVALID_URL


@pytest.mark.parametrize(
    ("status", "body", "content_type", "method"),
    [
        (200, b"", "text/html", "HEAD"),  # a HEAD has no body to judge
        (204, b"", "text/html", "GET"),
        (304, b"", "text/html", "GET"),
        # A page built by script in the browser, framed or showing an image or a player.
        (
            200,
            b'<html><body><div id="root"></div><script src="/app.js"></script>',
            "text/html",
            "GET",
        ),
        (200, b"<html><body><script>document.write('Report')</script></body>", "text/html", "GET"),
        (200, b'<frameset><frame src="/main.html"></frameset>', "text/html", "GET"),
        (200, b'<html><body><img src="/poster.png"></body></html>', "text/html", "GET"),
        (200, b"<html><head><title>Report</title></head><body></body></html>", "text/html", "GET"),
        (200, b'<meta http-equiv="refresh" content="0; url=/docs/new">', "text/html", "GET"),
        (200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "GET"),
        (200, b"{}", "application/json", "GET"),
    ],
)
def test_a_page_with_something_to_show_or_no_body_to_judge_is_not_empty(
    status: int, body: bytes, content_type: str, method: str
) -> None:
    verdict = classify(_checked(status, body, content_type, method))
    assert verdict.outcome is not Outcome.SOFT_404, verdict.reason


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            '<html><body><img src="/scan.png"></body></html>'.encode("utf-16"),
            "text/html; charset=utf-16",
            id="utf-16 page of an image",
        ),
        pytest.param(
            '<html><body><div id=app></div><script src="/app.js"></script></body></html>'.encode(
                "utf-16"
            ),
            "text/html",
            id="utf-16 page built by script",
        ),
        pytest.param(
            b"<html><body><my-report><template shadowrootmode=open><h1>Annual report</h1>"
            b"<p>Findings</p></template></my-report></body></html>",
            "text/html",
            id="declarative shadow DOM",
        ),
        pytest.param(
            b'<html><body><div id="page" aria-hidden="true"><h1>Annual report</h1>'
            b"<p>Findings</p></div></body></html>",
            "text/html",
            id="aria-hidden wrapper",
        ),
        pytest.param(b"<html><body hidden><h1>Report</h1></body></html>", "text/html", id="hidden"),
        pytest.param(
            b"<html><body><noscript>Enable JavaScript to view this report.</noscript>"
            b"</body></html>",
            "text/html",
            id="noscript",
        ),
        pytest.param(
            b"<html><body onload=\"location.href='/new'\"></body></html>",
            "text/html",
            id="onload redirect stub",
        ),
        pytest.param(
            b"<html><head><style>body{background:url(/poster.jpg)}</style></head>"
            b'<body><a href="/report.pdf"></a></body></html>',
            "text/html",
            id="css splash",
        ),
        pytest.param(
            b'<html><body style="background:url(/poster.jpg)"></body></html>',
            "text/html",
            id="styled body",
        ),
        # Comments end where browsers end them: "--!>" closes this one, and the hidden
        # paragraph after it is part of the page.
        pytest.param(
            b"<html><body><!-- draft --!><p hidden>Report</p><!-- end --></body></html>",
            "text/html",
            id="comment closed by --!>",
        ),
        # A stylesheet may paint a background or text of its own (r10).
        pytest.param(
            b'<html><head><link rel="stylesheet" href="/splash.css"></head><body></body></html>',
            "text/html",
            id="external stylesheet",
        ),
    ],
)
def test_a_page_a_browser_may_show_is_not_empty(body: bytes, content_type: str) -> None:
    """Only a skeleton with no text anywhere, hidden or not, no element beyond html, head,
    body, meta and title, and no event handler is empty: a page a browser shows,
    through a shadow root, a script, a style or a handler, is not (r6 finding 4)."""
    verdict = classify(_checked(200, body, content_type))
    assert verdict.outcome is Outcome.OK, verdict.reason
