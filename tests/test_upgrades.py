"""HTTPS upgrade suggestions, with the https side mocked by respx."""

from __future__ import annotations

import shlex
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
import respx

from catalog.model import Batch, Observation, Target
from catalog.outcomes import Outcome
from catalog.settings import CheckSettings
from catalog.upgrades import candidates, check_batch_with_upgrades, confirm_https
from tests.factories import public_resolver

NOW = datetime(2026, 11, 28, tzinfo=UTC)
SETTINGS = replace(CheckSettings(), soft404_probe=False, max_attempts=1)
PAGE = b"<html><head><title>Annual Report</title></head><body><p>Findings.</p></body></html>"


def _http_obs(url: str, *, title: str = "Annual Report", **kw: object) -> Observation:
    from catalog.check.content import analyse_body

    facts = analyse_body(PAGE, "text/html", truncated=False)
    return Observation(
        url=url,
        checked_at=NOW,
        outcome=kw.pop("outcome", Outcome.OK),  # type: ignore[arg-type]
        reason="GET 200",
        http_status=200,
        fingerprint=facts.fingerprint,
        title=title,
        **kw,  # type: ignore[arg-type]
    )


@respx.mock
def test_https_serving_the_same_page_is_suggested() -> None:
    respx.get("https://www.example.org/report").mock(
        return_value=httpx.Response(200, content=PAGE, headers={"content-type": "text/html"})
    )
    (obs,) = confirm_https(
        [_http_obs("http://www.example.org/report")], SETTINGS, resolver=public_resolver
    )
    assert obs.suggested_url == "https://www.example.org/report"
    assert obs.outcome is Outcome.OK


@respx.mock
def test_https_serving_another_page_is_not_suggested() -> None:
    respx.get("https://www.example.org/report").mock(
        return_value=httpx.Response(
            200,
            content=b"<title>Welcome to nginx</title><p>It works, default server page here.</p>",
            headers={"content-type": "text/html"},
        )
    )
    (obs,) = confirm_https(
        [_http_obs("http://www.example.org/report")], SETTINGS, resolver=public_resolver
    )
    assert obs.suggested_url is None


@respx.mock
def test_https_that_fails_is_not_suggested() -> None:
    respx.get("https://www.example.org/report").mock(return_value=httpx.Response(404))
    (obs,) = confirm_https(
        [_http_obs("http://www.example.org/report")], SETTINGS, resolver=public_resolver
    )
    assert obs.suggested_url is None


@respx.mock
def test_what_the_https_form_served_instead_is_kept() -> None:
    """The report says what the check found there rather than "switch to https:// if it
    serves the same page" (review rv-hygiene)."""
    parked = b"<title>Parked domain</title><p>This domain is for sale. Buy it now.</p>"
    respx.get("https://a.example.org/report").mock(
        return_value=httpx.Response(200, content=parked, headers={"content-type": "text/html"})
    )
    respx.get("https://b.example.org/report").mock(return_value=httpx.Response(404))
    first, second = confirm_https(
        [_http_obs("http://a.example.org/report"), _http_obs("http://b.example.org/report")],
        SETTINGS,
        resolver=public_resolver,
    )
    assert first.https_found == "another page ('Parked domain')"
    assert second.https_found == "no working page (Not found (404))"
    assert first.suggested_url is None and second.suggested_url is None


@respx.mock
def test_an_https_form_moved_to_the_same_page_suggests_where_it_ends() -> None:
    """https://example.org/report redirects permanently to https://www.example.org/report,
    which serves the http page: the same page, at the https address browsers end at
    (review rv-hygiene2)."""
    html = {"content-type": "text/html"}
    respx.get("https://example.org/report").mock(
        return_value=httpx.Response(301, headers={"location": "https://www.example.org/report"})
    )
    respx.get("https://www.example.org/report").mock(
        return_value=httpx.Response(200, content=PAGE, headers=html)
    )
    respx.get("https://example.org/other").mock(
        return_value=httpx.Response(
            301, headers={"location": "https://www.example.org/annual-2019"}
        )
    )
    respx.get("https://www.example.org/annual-2019").mock(
        return_value=httpx.Response(
            200, content=b"<title>Annual Report 2019</title><p>Older findings.</p>", headers=html
        )
    )
    same, other = confirm_https(
        [_http_obs("http://example.org/report"), _http_obs("http://example.org/other")],
        SETTINGS,
        resolver=public_resolver,
    )
    assert same.suggested_url == "https://www.example.org/report" and same.https_found is None
    assert other.suggested_url is None
    assert other.https_found == "a permanent redirect to https://www.example.org/annual-2019"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, content=b"<title>Down for maintenance</title>"),
        httpx.Response(429, headers={"retry-after": "5"}),
        httpx.Response(403, content=b"<title>Just a moment...</title>", headers={"cf-ray": "1"}),
        httpx.ReadTimeout("timed out"),
    ],
    ids=["503", "429", "bot-wall", "read-timeout"],
)
@respx.mock
def test_an_answer_that_is_not_the_page_is_no_verdict(
    answer: httpx.Response | Exception,
) -> None:
    """A passing failure or a wall of the weekly https probe says nothing about the page
    (`health.not_the_page`): no "keep the http:// address" for a week (review rv-hygiene2)."""
    route = respx.get("https://www.example.org/report")
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    (obs,) = confirm_https(
        [_http_obs("http://www.example.org/report")], SETTINGS, resolver=public_resolver
    )
    assert obs.suggested_url is None and obs.https_found is None


def test_an_https_port_that_refuses_while_http_answers_is_a_verdict() -> None:
    """A refused connection may pass for a link, but port 443 refusing the minute port 80
    served the page is a site without https: "no working page", and no switch offered."""

    def refuse(request: httpx.Request) -> httpx.Response:
        refused = httpx.ConnectError("x")
        refused.__cause__ = ConnectionRefusedError(111, "Connection refused")  # as httpx does
        raise refused

    (obs,) = confirm_https(
        [_http_obs("http://www.example.org/report")],
        SETTINGS,
        resolver=public_resolver,
        transport=httpx.MockTransport(refuse),
    )
    assert obs.https_found == "no working page (Connection refused)"


@respx.mock
def test_an_https_port_that_takes_no_connection_while_http_answers_is_a_verdict() -> None:
    """A connect timeout on port 443 the minute port 80 served the page (a firewall that
    drops it) is a site without https, as a refusal is: a "no verdict" offered the switch,
    with its command, every week for ever. A read timeout (the server took the request)
    stays no verdict (`test_an_answer_that_is_not_the_page_is_no_verdict`)."""
    respx.get("https://www.example.org/report").mock(side_effect=httpx.ConnectTimeout("x"))
    (obs,) = confirm_https(
        [_http_obs("http://www.example.org/report")], SETTINGS, resolver=public_resolver
    )
    assert obs.suggested_url is None
    assert obs.https_found == "no working page (Timed out)"


def test_only_working_plain_http_links_are_tried() -> None:
    observations = [
        _http_obs("http://a.example.org/x"),
        _http_obs("https://b.example.org/x"),
        _http_obs("http://c.example.org/x", outcome=Outcome.NOT_FOUND),
        _http_obs("http://d.example.org:8080/x"),
        _http_obs("http://e.example.org/x", suggested_url="https://e.example.org/x"),
    ]
    assert candidates(observations) == {"http://a.example.org/x": "https://a.example.org/x"}


def test_a_head_only_check_is_not_tried() -> None:
    # Nothing to compare the https page with: a probe would cost a fetch and prove nothing.
    head_only = replace(_http_obs("http://a.example.org/x"), fingerprint=None, title=None)
    assert candidates([head_only]) == {}


def _page_routes(https_body: bytes) -> tuple[respx.Route, respx.Route]:
    html = {"content-type": "text/html"}
    http = respx.get("http://www.example.org/report").mock(
        return_value=httpx.Response(200, content=PAGE, headers=html)
    )
    https = respx.get("https://www.example.org/report").mock(
        return_value=httpx.Response(200, content=https_body, headers=html)
    )
    respx.head("http://www.example.org/report").mock(return_value=httpx.Response(200, headers=html))
    return http, https


BATCH = Batch(0, (Target(url="http://www.example.org/report", host="www.example.org"),))


@respx.mock
def test_the_check_step_suggests_the_https_form_it_confirmed() -> None:
    _http, https = _page_routes(PAGE)
    (obs,) = check_batch_with_upgrades(BATCH, SETTINGS, resolver=public_resolver)
    assert obs.url == "http://www.example.org/report" and obs.outcome is Outcome.OK
    assert obs.suggested_url == "https://www.example.org/report"
    assert https.call_count == 1


@respx.mock
def test_the_check_step_keeps_quiet_when_https_serves_another_page() -> None:
    _page_routes(b"<title>Parked domain</title><p>This domain is for sale.</p>")
    (obs,) = check_batch_with_upgrades(BATCH, SETTINGS, resolver=public_resolver)
    assert obs.outcome is Outcome.OK and obs.suggested_url is None


@respx.mock
def test_the_switch_turns_the_https_probe_off() -> None:
    _http, https = _page_routes(PAGE)
    off = replace(SETTINGS, https_upgrades=False)
    (obs,) = check_batch_with_upgrades(BATCH, off, resolver=public_resolver)
    assert obs.outcome is Outcome.OK and obs.suggested_url is None
    assert not https.called


def test_nothing_to_try_sends_no_request() -> None:
    with respx.mock(assert_all_called=False) as mock:
        out = confirm_https([_http_obs("https://b.example.org/x")], SETTINGS)
        assert not mock.calls
    assert out[0].suggested_url is None


@pytest.mark.parametrize(
    ("background", "split"),
    [(False, False), (True, False), (True, True)],
    ids=["lint-here", "lint-in-child", "lint-and-pages-in-children"],
)
def test_report_turns_a_confirmed_upgrade_into_a_command(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, background: bool, split: bool
) -> None:
    import reports.publish
    import reports.site

    if background:  # as for a catalog of 10,000+ resources
        monkeypatch.setattr(reports.publish, "BACKGROUND_LINT_BYTES", 0)
    if split:  # as for 20,000+: the pages' child forks while the lint's child still runs
        monkeypatch.setattr(reports.site, "PARALLEL_PAGES_MIN", 0)

    fix, command = _confirmed_upgrade_fix(isolated_cwd, "http://www.example.org/report")
    assert fix.startswith("The https form https://www.example.org/report serves the same page")
    assert command[:4] == ["linkhealth", "replace-url", "report", "https://www.example.org/report"]


def _confirmed_upgrade_fix(
    folder: Path, url: str, *, edited_to: str | None = None, moved_to: str | None = None
) -> tuple[str, list[str]]:
    """The suggested fix and the command's words of the report's `http_url` row for a
    one-entry catalog at `url`, whose link (the URL's standard form) a run showed to serve
    the same page over https; `edited_to`: the entry's URL as the curator then edited it
    by hand, not yet synced; `moved_to`: the https address the https form redirects
    permanently to, which served the page (`catalog.upgrades`)."""
    from selectolax.lexbor import LexborHTMLParser

    from catalog import store
    from catalog.db import engine_for
    from catalog.settings import HealthSettings, Settings
    from catalog.source import load_catalogs
    from catalog.sync import sync_catalogs
    from catalog.urls import canonical_url, https_upgrade_candidate
    from reports import publish_report

    catalog = folder / "kit.yaml"
    entry = (
        "resources:\n"
        "  - {id: report, title: Annual Report, url: 'URL',"
        " publisher: P, type: report, year: 2025, description: D}\n"
    )
    catalog.write_text(entry.replace("URL", url))
    settings = Settings(database_url=f"sqlite:///{folder / 'lh.db'}", catalogs=(catalog,))
    engine = engine_for(settings.database_url)
    sync_catalogs(engine, load_catalogs(settings.catalogs), now=NOW)
    run_id = store.start_run(engine, trigger="test", now=NOW)
    link = canonical_url(url)
    observation = _http_obs(link, suggested_url=moved_to or https_upgrade_candidate(link))
    store.record_observations(engine, run_id, [observation], HealthSettings(), now=NOW)
    store.finish_run(engine, run_id, status="completed", now=NOW)
    if edited_to is not None:
        catalog.write_text(entry.replace("URL", edited_to))
    page = LexborHTMLParser(publish_report(settings).read_text())
    (row,) = page.css('#hygiene tr[data-code="http_url"] td[data-label="Suggested fix"]')
    command = row.css_first("code")
    assert command is not None
    return row.text(), shlex.split(command.text())


def test_a_confirmed_upgrade_keeps_the_section_the_entry_names(isolated_cwd: Path) -> None:
    """The link is checked without the entry's `#texas`; the entry's fix keeps it, as the
    unconfirmed one does (two sections of one page must not become one URL)."""
    fix, command = _confirmed_upgrade_fix(isolated_cwd, "http://www.example.org/report#texas")
    assert fix.startswith("The https form https://www.example.org/report#texas serves the same")
    assert command[2:4] == ["report", "https://www.example.org/report#texas"]


def test_a_confirmed_upgrade_leaves_the_tracking_parameters_out(isolated_cwd: Path) -> None:
    """The check confirmed the https form with the entry's tracking parameters; the entry's
    fix leaves them out (its tracking_params fix does), and stays confirmed."""
    fix, command = _confirmed_upgrade_fix(
        isolated_cwd, "http://www.example.org/report?utm_source=news&id=3"
    )
    assert fix.startswith("The https form https://www.example.org/report?id=3 serves the same")
    assert command[2:4] == ["report", "https://www.example.org/report?id=3"]


def test_a_confirmed_upgrade_is_not_offered_for_an_address_edited_since(
    isolated_cwd: Path,
) -> None:
    """The curator moved the entry to another http:// page and reports before a sync: the
    confirmation is the old page's, so the row offers the new address's unconfirmed fix,
    never a switch back to the old page."""
    fix, command = _confirmed_upgrade_fix(
        isolated_cwd,
        "http://www.example.org/report",
        edited_to="http://new.example.net/annual-report-2025",
    )
    assert fix.startswith("switch to https://new.example.net/annual-report-2025 if it serves")
    assert command[2:4] == ["report", "https://new.example.net/annual-report-2025"]


def _record_nights(
    migrated_db_url: str, tmp_path: Path, nights: list[Observation], *, found: bool = False
) -> dict[tuple[str, str], object]:
    """Sync a one-entry http catalog, store one run per observation, read the suggestions
    (`found`: what the https form served instead, `https_found`)."""
    from datetime import timedelta

    from catalog import store
    from catalog.db import open_engine
    from catalog.queries import https_found, https_suggestions
    from catalog.settings import HealthSettings
    from catalog.source import load_catalog
    from catalog.sync import sync_catalogs

    catalog = tmp_path / "kit.yaml"
    catalog.write_text(
        "resources:\n  - {id: report, title: Annual Report, url: 'http://www.example.org/report'}\n"
    )
    engine = open_engine(migrated_db_url)
    try:
        sync_catalogs(engine, [load_catalog(catalog)], now=NOW)
        for night, observation in enumerate(nights):
            at = NOW + timedelta(days=night)
            run_id = store.start_run(engine, trigger="test", now=at)
            dated = replace(observation, checked_at=at)
            store.record_observations(engine, run_id, [dated], HealthSettings(), now=at)
            store.finish_run(engine, run_id, status="completed", now=at)
        return dict(https_found(engine) if found else https_suggestions(engine))
    finally:
        engine.dispose()


URL = "http://www.example.org/report"
CONFIRMED = _http_obs(URL, suggested_url="https://www.example.org/report")
HEAD_ONLY = Observation(
    url=URL, checked_at=NOW, outcome=Outcome.OK, reason="HEAD 200", http_status=200
)


def test_a_confirmed_upgrade_outlives_the_head_only_nights_after_it(
    migrated_db_url: str, tmp_path: Path
) -> None:
    found = _record_nights(migrated_db_url, tmp_path, [CONFIRMED, HEAD_ONLY, HEAD_ONLY])
    assert found == {("kit", "report"): "https://www.example.org/report"}


def test_an_upgrade_is_withdrawn_when_a_later_fetch_no_longer_confirms_it(
    migrated_db_url: str, tmp_path: Path
) -> None:
    assert _record_nights(migrated_db_url, tmp_path, [CONFIRMED, HEAD_ONLY, _http_obs(URL)]) == {}


def test_no_upgrade_is_suggested_for_a_link_that_stopped_working(
    migrated_db_url: str, tmp_path: Path
) -> None:
    failing = replace(HEAD_ONLY, outcome=Outcome.NOT_FOUND, reason="HEAD 404", http_status=404)
    assert _record_nights(migrated_db_url, tmp_path, [CONFIRMED, failing]) == {}


PARKED = _http_obs(URL, https_found="another page ('Parked domain')")


def test_what_the_https_form_served_outlives_the_head_only_nights_after_it(
    migrated_db_url: str, tmp_path: Path
) -> None:
    found = _record_nights(migrated_db_url, tmp_path, [PARKED, HEAD_ONLY], found=True)
    assert found == {("kit", "report"): (URL, "another page ('Parked domain')")}


def test_what_the_https_form_served_gives_way_to_a_later_confirmation(
    migrated_db_url: str, tmp_path: Path
) -> None:
    assert _record_nights(migrated_db_url, tmp_path, [PARKED, CONFIRMED], found=True) == {}


def test_what_the_https_form_served_gives_way_to_a_later_read_that_did_not_try_it(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """A later read without the probe (`https_upgrades = false`) knows nothing of it."""
    assert _record_nights(migrated_db_url, tmp_path, [PARKED, _http_obs(URL)], found=True) == {}


def test_big_catalogs_are_linted_in_a_second_process_with_the_same_findings(
    tmp_path: Path,
) -> None:
    from reports.forked import Forked
    from reports.publish import lint_files

    catalog = tmp_path / "kit.yaml"
    catalog.write_text(
        "resources:\n"
        "  - {id: a, title: Annual Report, url: 'http://www.example.org/report?utm_source=x',"
        " publisher: P, type: report, year: 2025, description: D}\n"
        "  - {id: b, title: Annual report, url: 'https://bit.ly/abc', publisher: P,"
        " type: report, year: 2025, description: D}\n"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("resources: [\n")
    here = lint_files([catalog])
    assert here and {f.code for f in here} >= {"http_url", "tracking_params", "url_shortener"}

    for paths, expected in (([catalog], here), ([catalog, broken], None)):
        hygiene = Forked(partial(lint_files, paths))
        assert hygiene.in_child
        assert hygiene.result() == expected


def test_a_catalog_folder_is_sized_by_its_catalog_files(tmp_path: Path) -> None:
    from reports.publish import _total_size

    folder = tmp_path / "catalogs"
    folder.mkdir()
    (folder / "kit.yaml").write_text("resources: []\n" + "# padding\n" * 500)
    (folder / "notes.txt").write_text("not a catalog" * 1000)
    assert _total_size([folder]) == (folder / "kit.yaml").stat().st_size
    assert _total_size([tmp_path / "missing.yaml"]) == 0


def test_child_setup_runs_in_the_forked_child_only() -> None:
    from reports.forked import Forked

    calls: list[int] = []
    forked = Forked(lambda: len(calls), child_setup=lambda: calls.append(1))
    assert forked.in_child and forked.result() == 1  # set up, in the child's memory
    here = Forked(lambda: len(calls), enabled=False, child_setup=lambda: calls.append(1))
    assert not here.in_child and here.result() == 0  # the job alone, in this process
    assert calls == []


def test_an_https_form_moved_to_the_same_page_offers_where_it_ends(isolated_cwd: Path) -> None:
    """The https form redirects permanently to the www. address, which serves the page: the
    row offers that address, with the entry's `#section`, and a command putting it in
    place (review rv-hygiene2)."""
    fix, command = _confirmed_upgrade_fix(
        isolated_cwd,
        "http://example.org/report?utm_source=news#texas",
        moved_to="https://www.example.org/report?utm_source=news",
    )
    assert fix.startswith(
        "The https form https://example.org/report#texas redirects permanently to "
        "https://www.example.org/report#texas, which serves the same page; switch to that"
    ), fix
    assert command[2:4] == ["report", "https://www.example.org/report#texas"]


def test_where_an_https_form_moved_is_not_offered_for_an_address_edited_since(
    isolated_cwd: Path,
) -> None:
    fix, command = _confirmed_upgrade_fix(
        isolated_cwd,
        "http://example.org/report",
        moved_to="https://www.example.org/report",
        edited_to="http://new.example.net/annual-report-2025",
    )
    assert fix.startswith("switch to https://new.example.net/annual-report-2025 if it serves")
    assert command[2:4] == ["report", "https://new.example.net/annual-report-2025"]
