"""Review of "Catalog hygiene" and its part of the report: what a curator is told to tidy,
and whether the commands it names do what it says.

What a curator relies on here:

- the report's `linkhealth catalog lint` (for the informational findings it leaves out,
  or the whole list) lints the catalogs the report is of, as its other commands reach
  them (README: they carry `--config` for another settings file);
- an `http_url` fix the run's https probe has shown to be wrong (the https form serves
  another page) is not offered as a command to paste;
- two fixes of one entry's URL do not undo each other (the https form keeps the tracking
  parameters the other fix removes), and no fix turns a warning into an error (the https
  form of an entry that another entry already is);
- a pair of entries is reported once (README: "Duplicates are a pair's problem and are
  reported once per pair");
- a title naming the fiscal year a report covers is no year to correct.
"""

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
from catalog.db import engine_for
from catalog.hygiene import Finding, lint
from catalog.model import Batch, Catalog, Hop, Resource, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings, HealthSettings, Settings, load_settings
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

NOW = datetime(2026, 11, 28, tzinfo=UTC)

ENTRY = (
    "collection:\n  title: Kit\nresources:\n"
    "  - {id: report, title: Annual Report, url: 'URL', publisher: P, type: report,"
    " description: D}\n"
)


def _entry(rid: str, **fields: object) -> Resource:
    defaults: dict[str, object] = {
        "title": f"Resource {rid}",
        "url": f"https://example.org/{rid}",
        "description": "What it is.",
        "publisher": "Someone",
        "type": "guide",
        "year": 2016,
        "line": 10,
    }
    defaults.update(fields)
    return Resource(id=rid, **defaults)  # type: ignore[arg-type]


def _lint(*resources: Resource) -> list[Finding]:
    return lint([Catalog(Path("/catalogs/kit.yaml"), {"title": "Kit"}, tuple(resources))])


def _replacement(command: str | None) -> str | None:
    """The URL a `linkhealth replace-url ID URL` command puts in place."""
    words = shlex.split(command) if command else []
    return words[3] if words[1:2] == ["replace-url"] else None


# --- the report's `catalog lint` -------------------------------------------------------------


def test_rv_hygiene_the_reports_catalog_lint_carries_its_config(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report of `--config trial/other.toml` printed its decisions as `linkhealth
    mark-reviewed ID --config trial/other.toml`, but its informational findings as "see
    `linkhealth catalog lint`": pasted in that folder, with no linkhealth.toml there, that
    lints the bundled toolkit, not the catalog the report is of."""
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL", raising=False)
    trial = isolated_cwd / "trial"
    trial.mkdir()
    # No year: an informational finding, which the report counts and leaves to lint.
    (trial / "kit.yaml").write_text(ENTRY.replace("URL", "https://example.org/report"))
    (trial / "other.toml").write_text(
        'database_url = "sqlite:///trial.db"\ncatalogs = ["kit.yaml"]\nreports_dir = "reports"\n'
    )
    settings = load_settings(trial / "other.toml", use_env=False)
    sync_catalogs(engine_for(settings.database_url), load_catalogs(settings.catalogs), now=NOW)
    html = publish_report(settings, clock=lambda: NOW)
    markdown = html.with_name("latest.md").read_text()
    page = LexborHTMLParser(html.read_text())
    lints = [c.text() for c in page.css("code") if c.text().startswith("linkhealth catalog lint")]
    assert lints, "the report names `linkhealth catalog lint`"
    for command in lints:
        assert "--config" in shlex.split(command), command
    assert "`linkhealth catalog lint`" not in markdown


# --- http_url --------------------------------------------------------------------------------

PAGE = b"<html><head><title>Annual Report</title></head><body><p>Findings.</p></body></html>"
PARKED = b"<title>Parked domain</title><p>This domain is for sale. Buy it now.</p>"
HTTP_URL = "http://www.example.org/report"
HTTPS_URL = "https://www.example.org/report"


@respx.mock
def test_rv_hygiene_no_https_command_once_the_run_found_another_page_there(
    isolated_cwd: Path,
) -> None:
    """The run fetched the http page and its https form, which serves a parked page
    (`upgrades.confirm_https` keeps quiet). The report still said "switch to https://...
    if it serves the same page (the check run compares them)" with `replace-url report
    https://...` to paste: the run has compared them, and the command puts the parked
    page in the catalog."""
    html = {"content-type": "text/html"}
    respx.head(HTTP_URL).mock(return_value=httpx.Response(200, headers=html))
    respx.get(HTTP_URL).mock(return_value=httpx.Response(200, content=PAGE, headers=html))
    respx.head(HTTPS_URL).mock(return_value=httpx.Response(200, headers=html))
    respx.get(HTTPS_URL).mock(return_value=httpx.Response(200, content=PARKED, headers=html))

    catalog = isolated_cwd / "kit.yaml"
    catalog.write_text(ENTRY.replace("URL", HTTP_URL).replace("description: D", "year: 2025"))
    settings = Settings(database_url=f"sqlite:///{isolated_cwd / 'lh.db'}", catalogs=(catalog,))
    engine = engine_for(settings.database_url)
    sync_catalogs(engine, load_catalogs(settings.catalogs), now=NOW)
    check = CheckSettings(soft404_probe=False, max_attempts=1)
    batch = Batch(0, (Target(url=HTTP_URL, host="www.example.org"),))
    observations = check_batch_with_upgrades(batch, check, resolver=public_resolver)
    assert observations[0].fingerprint is not None  # the page was read: the probe was made
    assert respx.calls.call_count >= 2 and any(str(c.request.url) == HTTPS_URL for c in respx.calls)
    run_id = store.start_run(engine, trigger="schedule", now=NOW)
    store.record_observations(engine, run_id, observations, HealthSettings(), now=NOW)
    store.finish_run(engine, run_id, status="completed", now=NOW)

    page = LexborHTMLParser(publish_report(settings, clock=lambda: NOW).read_text())
    rows = page.css('#hygiene tr[data-code="http_url"] td[data-label="Suggested fix"]')
    for row in rows:
        code = row.css_first("code")
        assert code is None or _replacement(code.text()) != HTTPS_URL, row.text()
        assert "the check run compares them" not in row.text()


def test_rv_hygiene_https_fix_keeps_the_tracking_parameters_out() -> None:
    """`http://example.org/guide?utm_source=news&id=3` got two commands that undo each
    other: `replace-url a https://...?utm_source=news&id=3` and `replace-url a
    http://...?id=3`. Whichever the curator pastes second puts back what the first took
    out (the unencoded-space, backslash and invisible-character fixes are chained so)."""
    findings = _lint(_entry("a", url="http://example.org/guide?utm_source=news&id=3"))
    commands = {f.code: _replacement(f.command) for f in findings}
    assert commands.keys() >= {"http_url", "tracking_params"}
    assert commands["http_url"] is not None
    assert "utm_source" not in commands["http_url"]


def test_rv_hygiene_no_https_command_that_makes_a_duplicate_url() -> None:
    """`a` is http://example.org/guide, `b` (same collection) https://example.org/guide.
    `http_url` offered `linkhealth replace-url a https://example.org/guide`; pasted, it
    turns the two warnings into a `duplicate_url` error (replace-url itself says so
    afterwards). The fix is the pair's: keep one entry, as `likely_duplicate_url` says."""
    findings = _lint(
        _entry("a", url="http://example.org/guide", title="Guide for officers"),
        _entry("b", url="https://example.org/guide", title="The officers' handbook"),
    )
    (http,) = [f for f in findings if f.code == "http_url"]
    assert _replacement(http.command) != "https://example.org/guide", http.command
    assert {f.code for f in findings} >= {"likely_duplicate_url"}


def test_rv_hygiene_a_likely_duplicate_pair_is_not_also_a_near_duplicate_title() -> None:
    """Two entries at http:// and https:// of one page with one title: three findings,
    and two of them the same pair at `b`: "probably the same page as a" and "title almost
    the same as a ..., with another URL" (the URL lint itself calls the same page), each
    with its own fix."""
    title = "Guide to trafficking indicators for officers"
    findings = _lint(
        _entry("a", url="http://example.org/guide", title=title),
        _entry("b", url="https://example.org/guide", title=title),
    )
    about_pair = [f for f in findings if f.resource_id == "b"]
    assert [f.code for f in about_pair] == ["likely_duplicate_url"], [str(f) for f in about_pair]


# --- year_mismatch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Attorney General's Annual Report to Congress, Fiscal Year 2015",
        "FY 2015 Annual Report on Human Trafficking Task Forces",
    ],
)
def test_rv_hygiene_a_fiscal_years_report_published_after_it_is_no_mismatch(title: str) -> None:
    """A report on fiscal year 2015 comes out after that year ends (the Attorney
    General's annual reports on trafficking are such). Its year 2016 was flagged
    "year 2016 but the title names 2015", fix "correct the 'year:' (or the title)": both
    are right, and no marker silences the warning. A span already allows a year after
    its end ("2006 to 2011", 2012)."""
    findings = _lint(_entry("a", title=title, year=2016))
    assert [str(f) for f in findings if f.code == "year_mismatch"] == []


# --- where a finding points ------------------------------------------------------------------


def test_rv_hygiene_a_field_written_empty_is_found_at_its_line(tmp_path: Path) -> None:
    """The toolkit writes `year: null` in every entry without a year. `missing_year`
    pointed at the entry's first line with "add a 'year:' if it is known"; a curator who
    adds one there gets "the key 'year' is written twice" and a catalog that no longer
    loads. README: a finding names "the line of the field it is about". So did an empty
    `description:` (a warning, in the report too)."""
    path = tmp_path / "kit.yaml"
    path.write_text(
        "collection:\n  title: Kit\nresources:\n"
        "- id: a\n"
        "  title: A guide for officers\n"
        "  url: https://example.org/a\n"
        "  description:\n"
        "  publisher: P\n"
        "  type: guide\n"
        "  year: null\n"
    )
    found = {f.code: f for f in lint(load_catalogs([path]))}
    assert (found["missing_description"].line, found["missing_description"].field) == (
        7,
        "description",
    )
    assert (found["missing_year"].line, found["missing_year"].field) == (10, "year")


# --- url_shortener ---------------------------------------------------------------------------


def test_rv_hygiene_a_shortener_row_says_where_it_leads(tmp_path: Path) -> None:
    """The checks followed https://bit.ly/3abcXYZ (302) to the guide's PDF. The hygiene
    row said "replace it with the address it leads to (the check report shows where it
    ends)", yet neither named that address nor linked the resource's page that does
    ("Ended at"); the index links that page nowhere (the curator must find it through the
    bit.ly host's page)."""
    short, target = "https://bit.ly/3abcXYZ", "https://www.example.gov/survivor-guide.pdf"
    path = tmp_path / "kit.yaml"
    path.write_text(
        "collection:\n  title: Kit\nresources:\n"
        f"- {{id: short, title: Survivor guide, url: '{short}', publisher: P, type: guide,"
        " year: 2024, description: D}\n"
    )
    engine = migrated_sqlite(tmp_path / "lh.db")
    sync_catalogs(engine, [load_catalog(path)], now=days(0))
    for n in range(2):
        seen = make_observation(
            short, Outcome.OK, days(n), final_url=target, chain=(Hop(short, 302),), title="G"
        )
        stored_night(engine, n, [seen], HealthSettings())
    settings = replace(settings_for(engine, [path]), reports_dir=tmp_path / "reports")
    page = LexborHTMLParser(publish_report(settings, clock=lambda: days(1.1)).read_text())
    (row,) = page.css('#hygiene tr[data-code="url_shortener"]')
    links = [a.attributes.get("href") or "" for a in row.css("a")]
    assert target in row.text() or any("resources/" in href for href in links), row.html
