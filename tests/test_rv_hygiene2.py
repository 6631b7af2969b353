"""Review rv-hygiene2: the catalog-hygiene fixes (written-empty fields, fiscal years,
http_url after tracking_params, https_found, the report's lint command, shortener ends).
Each test fails now and passes once its defect is fixed."""

from __future__ import annotations

import shlex
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx
from selectolax.lexbor import LexborHTMLParser

from catalog import store
from catalog.db import engine_for as engine_from
from catalog.hygiene import lint
from catalog.model import Batch, Catalog, Hop, Observation, Resource, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings, Settings
from catalog.source import load_catalog, load_catalogs
from catalog.sync import sync_catalogs
from catalog.upgrades import check_batch_with_upgrades
from reports import publish_report
from tests.factories import (
    days,
    make_observation,
    migrated_sqlite,
    public_resolver,
    settings_for,
    stored_night,
)
from tests.test_hygiene_fiscal_years import year_messages

NOW = datetime(2026, 11, 28, tzinfo=UTC)


# --- fiscal years ----------------------------------------------------------------------------


def test_rv_hygiene2_a_fiscal_span_across_the_century_allows_the_year_after_it() -> None:
    """A title's "FY 1999-00" is the fiscal year 1999-2000, as "FY2014-15" is 2014-2015:
    its report, published in 2001, the year after the span's end, is flagged ("the title
    names 1999"): the "00" is dropped as not after 1999."""
    assert year_messages("Annual Report FY 1999-00", 2000) == []
    assert year_messages("Annual Report FY 1999-00", 2001) == []


@pytest.mark.parametrize("title", ["SFY 2015 Annual Report", "FFY 2015 Annual Report"])
def test_rv_hygiene2_state_and_federal_fiscal_years_are_fiscal_years(title: str) -> None:
    """US state and federal reports name their fiscal year "SFY 2015" / "FFY 2015" (HHS,
    ACF and state anti-trafficking reports do): published the year after it, as an
    "FY 2015" one is, they are still flagged as a year that differs from the title."""
    assert year_messages(title, 2016) == []


# --- one http/https pair, reported once ------------------------------------------------------


def test_rv_hygiene2_an_http_copy_of_a_shared_url_entry_is_still_found() -> None:
    """Three DHS infographic entries share one page: the first two are marked
    `shared_url: true`, as lint's duplicate_url fix says. A third repeats the first's title
    at the http:// form of that URL. Before, it was a `near_duplicate_title`; now that
    finding is left to `likely_duplicate_url`, which skips a pair with a marked entry, so
    nothing names the copy, and its http_url even offers to switch it to the shared URL."""
    shared = "https://www.dhs.gov/blue-campaign/infographic"
    entries = (
        _entry("dhs-infographic", "DHS: Human Trafficking Infographic", shared, True),
        _entry("dhs-types", "DHS Different Types of Human Trafficking", shared, True),
        _entry(
            "dhs-infographic-old",
            "DHS Human Trafficking Infographic",
            "http://www.dhs.gov/blue-campaign/infographic",
            False,
        ),
    )
    findings = lint([Catalog(Path("/catalogs/kit.yaml"), {"title": "Kit"}, entries)])
    pair = [
        f
        for f in findings
        if f.resource_id == "dhs-infographic-old"
        and f.code in ("near_duplicate_title", "likely_duplicate_url")
    ]
    assert pair, [(f.code, f.message) for f in findings]


def _entry(rid: str, title: str, url: str, shared: bool) -> Resource:
    return Resource(
        id=rid,
        title=title,
        url=url,
        description="DHS Blue Campaign infographic.",
        publisher="U.S. DHS Blue Campaign",
        type="infographic",
        year=2016,
        extra={"shared_url": True} if shared else {},
        line=2,
    )


# --- url_shortener ---------------------------------------------------------------------------


def _shortener_row(tmp_path: Path, seen: Observation) -> str:
    short = seen.url
    path = tmp_path / "kit.yaml"
    path.write_text(
        "collection:\n  title: Kit\nresources:\n"
        f"- {{id: short, title: Survivor guide, url: '{short}', publisher: P, type: guide,"
        " year: 2024, description: D}\n"
    )
    engine = migrated_sqlite(tmp_path / "lh.db")
    sync_catalogs(engine, [load_catalog(path)], now=days(0))
    for n in range(3):
        stored_night(engine, n, [replace(seen, checked_at=days(n))], HealthSettings())
    settings = replace(settings_for(engine, [path]), reports_dir=tmp_path / "reports")
    page = LexborHTMLParser(publish_report(settings, clock=lambda: days(2.1)).read_text())
    (row,) = page.css('#hygiene tr[data-code="url_shortener"]')
    return row.text()


def test_rv_hygiene2_a_shortener_end_is_given_without_its_tracking_parameters(
    tmp_path: Path,
) -> None:
    """Shortened links made for a campaign end at a URL with `utm_*` parameters. The row
    says "replace it with ... the last check ended at
    https://www.example.gov/guide.pdf?utm_source=bitly&utm_medium=social": followed, the
    entry gets a `tracking_params` warning next, whose fix takes them out again (the fixes
    of one URL are meant to build on each other, as http_url's now does)."""
    short, end = "https://bit.ly/3abcXYZ", "https://www.example.gov/guide.pdf"
    tracked = f"{end}?utm_source=bitly&utm_medium=social"
    seen = make_observation(
        short, Outcome.OK, days(0), final_url=tracked, chain=(Hop(short, 302),), title="G"
    )
    text = _shortener_row(tmp_path, seen)
    assert end in text, text
    assert "utm_source" not in text, text


def test_rv_hygiene2_a_shortener_edited_to_another_is_not_given_the_old_ones_end(
    tmp_path: Path,
) -> None:
    """The entry's bit.ly link was checked (it ended at the old guide), then the curator
    pasted a new bit.ly link into the file. The report, before any sync or check of the
    new link, tells to replace the new link with where the old one ended: the https fix
    checks that the entry's URL in the file still leads to the link checked; this does
    not."""
    old, new = "https://bit.ly/3abcXYZ", "https://bit.ly/9zyxWVU"
    old_end = "https://www.example.gov/old-guide.pdf"
    seen = make_observation(old, Outcome.OK, days(0), final_url=old_end, chain=(Hop(old, 302),))
    path = tmp_path / "kit.yaml"
    entry = (
        "collection:\n  title: Kit\nresources:\n"
        "- {id: short, title: Survivor guide, url: 'URL', publisher: P, type: guide,"
        " year: 2024, description: D}\n"
    )
    path.write_text(entry.replace("URL", old))
    engine = migrated_sqlite(tmp_path / "lh.db")
    sync_catalogs(engine, [load_catalog(path)], now=days(0))
    for n in range(2):
        stored_night(engine, n, [replace(seen, checked_at=days(n))], HealthSettings())
    path.write_text(entry.replace("URL", new))
    settings = replace(settings_for(engine, [path]), reports_dir=tmp_path / "reports")
    page = LexborHTMLParser(publish_report(settings, clock=lambda: days(1.1)).read_text())
    (row,) = page.css('#hygiene tr[data-code="url_shortener"]')
    assert new in row.text(), row.text()
    assert old_end not in row.text(), row.text()


# --- the report's `catalog lint` -------------------------------------------------------------

ENTRY = (
    "collection:\n  title: Kit\nresources:\n"
    "  - {id: report, title: Annual Report, url: 'https://example.org/report', publisher: P,"
    " type: report, description: D}\n"
)


def test_rv_hygiene2_the_reports_catalog_lint_names_the_catalog_it_linted(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`linkhealth report --catalog "my kits/kit.yaml"` (no linkhealth.toml naming it) shows
    that file's findings and counts its informational ones, "see `linkhealth catalog
    lint`": pasted, that lints the configured catalogs (here the bundled toolkit), not the
    file the report's count is of. Its other commands carry `--catalog` for such a file."""
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL", raising=False)
    folder = isolated_cwd / "my kits"
    folder.mkdir()
    kit = folder / "kit.yaml"
    kit.write_text(ENTRY)  # no year: an informational finding the report leaves to lint
    settings = Settings(
        database_url=f"sqlite:///{isolated_cwd / 'lh.db'}",
        catalogs=(kit,),
        reports_dir=isolated_cwd / "reports",
    )
    sync_catalogs(engine_from(settings.database_url), load_catalogs(settings.catalogs), now=days(0))
    html = publish_report(settings, clock=lambda: days(0.1))
    page = LexborHTMLParser(html.read_text())
    lints = [c.text() for c in page.css("code") if c.text().startswith("linkhealth catalog lint")]
    assert lints, "the report names `linkhealth catalog lint`"
    for command in lints:
        words = shlex.split(command)
        assert any(Path(w).resolve() == kit.resolve() for w in words), command


# --- https_found -----------------------------------------------------------------------------

PAGE = b"<html><head><title>Annual Report</title></head><body><p>Findings.</p></body></html>"
HTML = {"content-type": "text/html"}
HTTP_URL = "http://example.org/report"
HTTPS_URL = "https://example.org/report"
WWW_URL = "https://www.example.org/report"


def _http_url_fix(tmp_path: Path, https_answer: httpx.Response | Exception) -> str:
    """The report's `http_url` fix for HTTP_URL after a run that read the page and tried
    HTTPS_URL, which gave `https_answer` (WWW_URL serves the page itself)."""
    catalog = tmp_path / "kit.yaml"
    catalog.write_text(
        ENTRY.replace("https://example.org/report", HTTP_URL).replace(
            "description: D", "description: D, year: 2025"
        )
    )
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'lh.db'}",
        catalogs=(catalog,),
        reports_dir=tmp_path / "reports",
    )
    engine = engine_from(settings.database_url)
    sync_catalogs(engine, load_catalogs(settings.catalogs), now=NOW)
    with respx.mock:
        respx.head(HTTP_URL).mock(return_value=httpx.Response(200, headers=HTML))
        respx.get(HTTP_URL).mock(return_value=httpx.Response(200, content=PAGE, headers=HTML))
        if isinstance(https_answer, Exception):
            respx.route(url=HTTPS_URL).mock(side_effect=https_answer)
        else:
            respx.route(url=HTTPS_URL).mock(return_value=https_answer)
        respx.route(url=WWW_URL).mock(return_value=httpx.Response(200, content=PAGE, headers=HTML))
        check = CheckSettings(soft404_probe=False, max_attempts=1)
        batch = Batch(0, (Target(url=HTTP_URL, host="example.org"),))
        observations = check_batch_with_upgrades(batch, check, resolver=public_resolver)
    assert observations[0].outcome is Outcome.OK and observations[0].fingerprint is not None
    run_id = store.start_run(engine, trigger="schedule", now=NOW)
    store.record_observations(engine, run_id, observations, HealthSettings(), now=NOW)
    store.finish_run(engine, run_id, status="completed", now=NOW)
    page = LexborHTMLParser(publish_report(settings, clock=lambda: NOW).read_text())
    (row,) = page.css('#hygiene tr[data-code="http_url"] td[data-label="Suggested fix"]')
    return row.text()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, headers=HTML, content=b"<title>Down for maintenance</title>"),
        httpx.Response(429, headers={"retry-after": "5"}),
        httpx.ReadTimeout("timed out"),
    ],
    ids=["503", "429", "read-timeout"],
)
def test_rv_hygiene2_a_passing_failure_of_the_https_form_is_no_verdict(
    isolated_cwd: Path, answer: httpx.Response | Exception
) -> None:
    """The one https probe of the week got a 503, a 429 or a timeout: answers that are not
    the page (the checker itself counts them as failures that may pass, `_not_the_page`).
    The report says "keep the http:// address: the check ... found no working page (Rate
    limited), not this page" and drops the command, for a week until the next probe."""
    fix = _http_url_fix(isolated_cwd, answer)
    assert "keep the http:// address" not in fix, fix


def test_rv_hygiene2_an_https_form_that_redirects_to_the_same_page_is_not_another(
    isolated_cwd: Path,
) -> None:
    """http://example.org/report serves the page; https://example.org/report redirects
    permanently to https://www.example.org/report, which serves the very same page (same
    fingerprint, fetched by the probe). The report says "keep the http:// address: ...
    found a permanent redirect to https://www.example.org/report, not this page"."""
    fix = _http_url_fix(isolated_cwd, httpx.Response(301, headers={"location": WWW_URL}))
    assert "keep the http:// address" not in fix, fix
    assert "not this page" not in fix, fix
