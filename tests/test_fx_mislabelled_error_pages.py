"""A "not found" answer at 200 under the missing file's own type is a soft 404.

IIS, SharePoint and CDNs that keep a missing file's Content-Type answered a PDF report's
address with 200 `application/pdf` and their HTML "Page not found" or "404 - File or
directory not found." page; a text endpoint answered 200 `text/plain` "File not found.".
Each was OK: under the PDF label the page was read as a PDF's bytes, and a text file has no
title to judge. Now each is the soft 404 (in the words) the same page gets as HTML, while a
real PDF, a text file that mentions "not found" in passing, and a page with text of its own
stay OK, whatever their label.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
import respx

from catalog.check import check_targets
from catalog.model import Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.urls import host_of
from tests.factories import days, public_resolver

HOST = "www.agency.test"
URL = f"https://{HOST}/publications/annual-report-2019.pdf"
#: One try; the soft-404 probe on, as a night sends it (the site answers it 404).
ONE = replace(CheckSettings(), max_attempts=1)

#: IIS's own "404 - File or directory not found." page, as it serves it.
IIS_NOT_FOUND = b"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>404 - File or directory not found.</title>
<style type="text/css">
<!--
body{margin:0;font-size:.7em;font-family:Verdana, Arial, Helvetica, sans-serif;}
-->
</style>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>404 - File or directory not found.</h2>
  <h3>The resource you are looking for might have been removed, had its name changed, or is
  temporarily unavailable.</h3>
 </fieldset></div>
</div>
</body>
</html>
"""
#: A SharePoint-style "Page not found" page.
PAGE_NOT_FOUND = (
    b"<!DOCTYPE html>\r\n<html lang='en'><head><meta charset='utf-8'>"
    b"<title>Page not found | Agency Publications</title></head><body>"
    b"<nav>Home Publications Grants Contact</nav><h1>Page not found</h1>"
    b"<p>Sorry, the page you requested could not be found. Try the search above.</p>"
    b"</body></html>"
)
#: A report published as an HTML page (labelled PDF by the same server).
REPORT_PAGE = (
    b"<!DOCTYPE html><html><head><title>Annual Report 2019</title></head><body>"
    b"<h1>Annual Report 2019</h1><p>Findings of the task force on human trafficking: cases "
    b"opened, survivors served, and the grants that funded shelters and legal help.</p>"
    b"</body></html>"
)
PDF = (
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"9 0 obj\n<< /Producer (Word) /Title (Annual Report 2019) >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R /Info 9 0 R >>\n%%EOF\n"
)
#: A PDF carrying an HTML page in a stream: a PDF all the same.
PDF_WITH_A_PAGE = PDF.replace(b"%%EOF", b"stream\n" + PAGE_NOT_FOUND + b"\nendstream\n%%EOF")
LONG_TEXT = (
    b"Annual report 2019 of the task force on human trafficking.\n\n"
    b"Cases opened: 412. Survivors served: 1,093. Where a victim's family could not be "
    b"reached, or records were not found in the state registry, the case was referred to "
    b"the federal hotline. Shelters in six counties took in 230 survivors; legal clinics "
    b"filed 88 visa applications; grants funded interpreters in 14 languages.\n"
)

#: The two error pages and what the soft-404 verdict says of each.
NOT_FOUND_PAGES = [
    pytest.param(
        IIS_NOT_FOUND, "the page's title says “404 - File or directory not found.”", id="iis"
    ),
    pytest.param(
        PAGE_NOT_FOUND, "the page's title says “Page not found | Agency Publications”", id="sp"
    ),
]


def check(
    respx_mock: respx.MockRouter,
    content_type: str,
    body: bytes,
    *,
    day: float = 1,
    url: str = URL,
    resource: str = "report",
) -> Observation:
    """The entry `resource`'s address `url` checked once on night `day`, answering 200
    `body` labelled `content_type`; any other address of its site (the soft-404 probe) is a
    real 404."""

    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) != url:
            return httpx.Response(404, headers={"Content-Type": "text/html"}, html="Not found")
        return httpx.Response(200, headers={"Content-Type": content_type}, content=body)

    respx_mock.routes.clear()
    respx_mock.route(host=host_of(url)).mock(side_effect=answer)
    target = Target(url=url, host=host_of(url), resource_ids=(resource,))
    (obs,) = asyncio.run(
        check_targets([target], ONE, resolver=public_resolver, clock=lambda: days(day))
    )
    return obs


@pytest.mark.parametrize(
    ("body", "said"),
    NOT_FOUND_PAGES,
)
@pytest.mark.parametrize(
    "content_type", ["application/pdf", "application/pdf; charset=utf-8", "text/html"]
)
def test_a_not_found_page_at_200_is_a_soft_404_under_a_pdf_label_as_under_its_own(
    respx_mock: respx.MockRouter, content_type: str, body: bytes, said: str
) -> None:
    obs = check(respx_mock, content_type, body)
    assert (obs.outcome, obs.reason) == (Outcome.SOFT_404, f"GET 200: {said}.")
    assert obs.content_type == content_type  # what the server said, as evidence


@pytest.mark.parametrize(
    "text",
    [
        "File not found.",
        "File not found.\n",
        "404 Not Found",
        "404 - File or directory not found.",
        "The requested file was not found on this server.",
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8"])
def test_a_text_file_that_only_says_it_is_not_found_is_a_soft_404(
    respx_mock: respx.MockRouter, content_type: str, text: str
) -> None:
    obs = check(respx_mock, content_type, text.encode())
    assert (obs.outcome, obs.reason) == (
        Outcome.SOFT_404,
        f"GET 200: the page only says “{text.strip()}”.",
    )


@pytest.mark.parametrize(
    ("content_type", "body", "title"),
    [
        pytest.param("application/pdf", PDF, "Annual Report 2019", id="pdf"),
        pytest.param("application/pdf", PDF_WITH_A_PAGE, "Annual Report 2019", id="pdf-with-page"),
        pytest.param("text/html", PDF, "Annual Report 2019", id="pdf-labelled-html"),
        pytest.param("application/pdf", REPORT_PAGE, "Annual Report 2019", id="page-as-pdf"),
        pytest.param("text/html", REPORT_PAGE, "Annual Report 2019", id="page"),
        pytest.param("text/plain", LONG_TEXT, None, id="long-text"),
        pytest.param("text/plain", b"Hotline: 1-888-373-7888\n", None, id="short-text"),
    ],
)
def test_a_file_or_page_that_is_itself_stays_ok(
    respx_mock: respx.MockRouter, content_type: str, body: bytes, title: str | None
) -> None:
    obs = check(respx_mock, content_type, body)
    assert (obs.outcome, obs.title) == (Outcome.OK, title), obs.reason
