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
    ],
)
def test_an_empty_page_or_file_is_a_missing_page(body: bytes, content_type: str, said: str) -> None:
    verdict = classify(_checked(200, body, content_type))
    assert verdict.outcome is Outcome.SOFT_404
    assert said in verdict.reason and "open it in a browser" in verdict.reason
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
