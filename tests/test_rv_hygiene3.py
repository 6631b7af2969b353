"""Review rv-hygiene3: the fx-hygiene2 fixes (the https probe's redirects to the same
page, CSV wording of the fixes). Each test fails now and passes once its defect is fixed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import respx

from catalog.check.content import analyse_body
from catalog.hygiene import lint
from catalog.model import Observation
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.source import load_catalog
from catalog.upgrades import confirm_https
from tests.factories import public_resolver

NOW = datetime(2026, 11, 28, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, max_attempts=1)
HTML = {"content-type": "text/html"}
PAGE = b"<html><head><title>Annual Report</title></head><body><p>Findings.</p></body></html>"


def _http_obs(url: str, body: bytes = PAGE) -> Observation:
    """The http link read in full: it answered 200 with `body`."""
    facts = analyse_body(body, "text/html", truncated=False)
    return Observation(
        url=url,
        checked_at=NOW,
        outcome=Outcome.OK,
        reason="GET 200",
        http_status=200,
        fingerprint=facts.fingerprint,
        title=facts.title,
    )


# --- the https probe: "redirects permanently to Y, which serves the same page" --------------


@respx.mock
def test_rv_hygiene3_an_https_form_that_ends_over_http_is_not_an_https_page() -> None:
    """https://example.org/report 301 -> https://www.example.org/report 302 ->
    http://www.example.org/report (a site that sends https visitors back to http). The page
    is only served over http, yet the probe suggests https://www.example.org/report, and the
    report says it "serves the same page; switch to that": the entry is edited to an
    address that redirects to http (the last permanent hop is taken as the page, while
    the fingerprint compared is that of the http page the chain ended at)."""
    respx.get("https://example.org/report").mock(
        return_value=httpx.Response(301, headers={"location": "https://www.example.org/report"})
    )
    respx.get("https://www.example.org/report").mock(
        return_value=httpx.Response(302, headers={"location": "http://www.example.org/report"})
    )
    respx.get("http://www.example.org/report").mock(
        return_value=httpx.Response(200, content=PAGE, headers=HTML)
    )
    (obs,) = confirm_https(
        [_http_obs("http://example.org/report")], SETTINGS, resolver=public_resolver
    )
    assert obs.suggested_url is None, obs.suggested_url


#: A script-built site's page as fetched: a title and an empty root element, no text.
SHELL = (
    b'<html><head><title>Example Org</title></head><body><div id="root"></div>'
    b'<script src="/app.js"></script></body></html>'
)


@respx.mock
def test_rv_hygiene3_a_redirect_elsewhere_to_a_textless_page_is_not_the_same_page() -> None:
    """The http page is a script-built site's shell (no text: its fingerprint is of the
    title alone). Its https form redirects permanently to another host's app, whose shell
    has the same title: every shell of that site has one fingerprint, so any address on
    it "serves the same page", and the report offers to replace the report's address with
    the portal's. Sameness at another address needs more than an empty page's print."""
    respx.get("https://example.org/report").mock(
        return_value=httpx.Response(301, headers={"location": "https://portal.example.org/app"})
    )
    respx.get("https://portal.example.org/app").mock(
        return_value=httpx.Response(200, content=SHELL, headers=HTML)
    )
    (obs,) = confirm_https(
        [_http_obs("http://example.org/report", SHELL)], SETTINGS, resolver=public_resolver
    )
    assert obs.suggested_url is None, obs.suggested_url


# --- CSV catalogs: fixes that name YAML keys -------------------------------------------------

HEADER = "id,title,url,description,publisher,type,year\n"


def _csv_fixes(tmp_path: Path, rows: str) -> dict[str, str]:
    path = tmp_path / "kit.csv"
    path.write_text(HEADER + rows)
    return {f.code: f.fix for f in lint([load_catalog(path)])}


def test_rv_hygiene3_a_csv_duplicate_url_fix_speaks_of_a_column(tmp_path: Path) -> None:
    """A CSV row's duplicate_url fix says "add 'duplicate_of: a' to this entry (or
    'shared_url: true')": a YAML key for a file that has columns (the loader reads a
    'duplicate_of' or 'shared_url' column), as the missing_* fixes no longer do."""
    fixes = _csv_fixes(
        tmp_path,
        "a,Hotline guide,https://example.org/a,D,P,report,2015\n"
        "b,Officer training,https://example.org/a,D,P,report,2015\n",
    )
    fix = fixes["duplicate_url"]
    assert "duplicate_of: " not in fix and "shared_url: " not in fix, fix
    assert "column" in fix, fix


def test_rv_hygiene3_a_csv_likely_duplicate_url_fix_speaks_of_a_column(tmp_path: Path) -> None:
    fixes = _csv_fixes(
        tmp_path,
        "c,Hotline guide,http://example.org/c,D,P,report,2015\n"
        "d,Officer training,https://example.org/c/,D,P,report,2015\n",
    )
    fix = fixes["likely_duplicate_url"]
    assert "shared_url: " not in fix, fix
    assert "column" in fix, fix


def test_rv_hygiene3_a_csv_near_duplicate_title_fix_writes_languages_as_a_cell(
    tmp_path: Path,
) -> None:
    """The fix "give each its 'languages' (e.g. [en] and [es])" uses YAML's brackets. In a CSV
    cell, [en] is read as the language "[en]" (a cell's items are separated by ';')."""
    fixes = _csv_fixes(
        tmp_path,
        "a,Guide to human trafficking hotlines for officers,https://example.org/a,D,P,r,2015\n"
        "b,Guide to human trafficking hotlines for officer,https://example.org/b,D,P,r,2015\n",
    )
    fix = fixes["near_duplicate_title"]
    assert "[en]" not in fix and "[es]" not in fix, fix
