"""A catalog URL carrying a password (`https://user:secret@...`) is never requested, but
the report shows each entry's address as written: published to colleagues, every file of
it handed the password out, as a link. It shows the entry with the password hidden."""

from __future__ import annotations

from pathlib import Path

import respx

from catalog.check import check_batch
from catalog.clock import utcnow
from catalog.hygiene import Finding, Level
from catalog.queries import report_data
from catalog.runs import finish_run, prepare_run, store_batch
from catalog.urls import without_password
from reports import (
    build_context,
    publish_report_files,
    render_csv,
    render_html,
    render_json,
    render_markdown,
)
from reports.build import hygiene_rows
from tests import report_fixtures as fx
from tests.factories import public_resolver, settings_for, temporary_database, write_catalog

SECRET = "s3cr3t-pw"


def test_without_password_hides_only_the_password() -> None:
    assert without_password(f"https://ann:{SECRET}@x.org/a") == "https://ann:***@x.org/a"
    # The last "@" of the authority ends the user information; a path's "@" is no password.
    assert without_password(f"https://ann:{SECRET}@x@x.org/a@b") == "https://ann:***@x.org/a@b"
    assert without_password("https://x.org/ann:pw@b") == "https://x.org/ann:pw@b"
    assert without_password("https://ann@x.org/") == "https://ann@x.org/"
    # An unencoded "@" in the user name too (an e-mail address as the user).
    assert without_password(f"https://ann@org.example:{SECRET}@x.org/") == (
        "https://ann@org.example:***@x.org/"
    )
    assert without_password("javascript:alert(1)") == "javascript:alert(1)"
    # Within a sentence, each address quoted: a hygiene finding's fix ("use URL").
    said = f"use https://ann:{SECRET}@x.org/a or http://bo:{SECRET}@y.org"
    assert without_password(said) == "use https://ann:***@x.org/a or http://bo:***@y.org"


@respx.mock(assert_all_mocked=True)
def test_no_file_of_the_report_holds_an_entry_s_password(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    catalog = tmp_path / "toolkit.yaml"
    entries = [
        {"id": "open", "title": "Open", "url": "https://example.org/open"},
        {"id": "creds", "title": "Creds", "url": f"https://ann:{SECRET}@example.org/private"},
        # Catalog hygiene quotes this one whole in its fix (tracking parameters to drop).
        {
            "id": "tracked",
            "title": "Tracked",
            "url": f"https://bo:{SECRET}@example.org/t?utm_source=n",
        },
    ]
    respx_mock.get("https://example.org/open").respond(200, html="<title>Open</title>")
    respx_mock.head("https://example.org/open").respond(200)
    respx_mock.route(host="example.org").respond(404)  # the soft-404 probe
    write_catalog(catalog, entries)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog]).with_overrides(reports_dir=tmp_path / "out")
        for night in range(2):
            if night:  # the curator edits the address: its news and history show both
                entries[1]["url"] = f"https://ann:{SECRET}-2@example.org/private"
                write_catalog(catalog, entries)
            run = prepare_run(settings, trigger="manual", clock=utcnow)
            stored = [
                store_batch(
                    settings, run.run_id, check_batch(b, settings.check, resolver=public_resolver)
                )
                for b in run.batches
            ]
            finish_run(settings, run.run_id, stored=stored, clock=utcnow)
        files = publish_report_files(settings, formats=("html", "md", "csv", "json"), clock=utcnow)

    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert {p.suffix for p in written} >= {".html", ".md", ".csv", ".json"}
    assert files.main.exists()
    for path in written:
        assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path
    # The entry is still recognisable, and its edit is still news.
    html = (tmp_path / "out" / "latest.html").read_text(encoding="utf-8")
    assert "https://ann:***@example.org/private" in html
    hidden = "<bdi>https://ann:***@example.org/private</bdi>"
    assert f"{hidden} → {hidden}" in html


def test_a_hygiene_finding_shows_no_password_and_no_command_holding_one() -> None:
    """`catalog lint` quotes an entry's URL whole in its fix and command ("use URL without
    its tracking parameters"); the report's hygiene table hides the password, and drops a
    command that would write "***" into the catalog."""
    url = f"https://bo:{SECRET}@example.org/t"
    found = Finding(
        "tracking_params",
        Level.WARNING,
        "toolkit",
        "tracked",
        "toolkit.yaml",
        13,
        f"the URL carries tracking parameters: utm_source ({url}?utm_source=n)",
        f"use {url}",
        f"linkhealth replace-url tracked {url}",
    )
    clean = Finding(
        "tracking_params",
        Level.WARNING,
        "toolkit",
        "other",
        "toolkit.yaml",
        20,
        "the URL carries tracking parameters: utm_source",
        "use https://example.org/o",
        "linkhealth replace-url other https://example.org/o",
    )
    hidden, kept = hygiene_rows([found, clean])
    assert SECRET not in f"{hidden.message} {hidden.fix} {hidden.where}"
    assert hidden.fix == "use https://bo:***@example.org/t" and hidden.command is None
    assert kept.command == "linkhealth replace-url other https://example.org/o"


def test_a_redirect_to_an_address_with_a_password_is_shown_without_it(
    tmp_path: Path,
) -> None:
    """A link that redirects to `https://ann:PASSWORD@...`: the verdict quotes the target,
    and the report showed it in "What we saw", "Ended at", the new address to use, its
    link and the `replace-url` command."""
    target = f"https://ann:{SECRET}@new.example.org/annual"
    data = fx.with_resource(
        report_data(fx.fixed_db(tmp_path / "fixed.db")),
        "a-moved",
        reason=f"Redirected permanently (301) to {target}; the new page answers 200.",
        final_url=target,
        suggested_url=target,
    )
    ctx = build_context(data, now=fx.NOW)
    row = fx.row_of(ctx, "a-moved")
    shown = f"{row.seen} {row.reason} {row.final_url} {row.suggested_url} {row.fix}"
    assert SECRET not in shown and "https://ann:***@new.example.org/annual" in shown
    assert (row.final_href, row.suggested_href) == (None, None)
    assert row.command is None or SECRET not in row.command
    for text in (render_html(ctx), render_markdown(ctx), render_csv(ctx), render_json(ctx)):
        assert SECRET not in text


@respx.mock(assert_all_mocked=True)
def test_a_link_that_starts_redirecting_to_a_password_shows_no_password(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    """A site that starts answering 301 with `Location: https://ann:PASSWORD@...`: the
    checker refuses to follow it (`redirect_to_error`) and keeps the site's words as its
    reason, which the row, the news of the night it started failing and the resource
    page's history each quote: none of them hands the password out. (No `redirect_changed`
    event is written for such a target, so none can quote it.)"""
    catalog = tmp_path / "toolkit.yaml"
    write_catalog(catalog, [{"id": "moves", "title": "Moves", "url": "https://example.org/m"}])
    target = f"https://ann:{SECRET}@other.example.org/m"
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [catalog]).with_overrides(reports_dir=tmp_path / "out")
        page = respx_mock.route(url="https://example.org/m")
        respx_mock.route(host="example.org").respond(404)  # the soft-404 probe
        for night in range(2):
            if night:
                page.respond(301, headers={"Location": target})
            else:
                page.respond(200, html="<title>Moves</title>")
            run = prepare_run(settings, trigger="manual", clock=utcnow)
            stored = [
                store_batch(
                    settings, run.run_id, check_batch(b, settings.check, resolver=public_resolver)
                )
                for b in run.batches
            ]
            finish_run(settings, run.run_id, stored=stored, clock=utcnow)
        with engine.connect() as conn:
            reasons = [r for (r,) in conn.exec_driver_sql("SELECT reason FROM observations")]
        publish_report_files(settings, formats=("html", "md", "csv", "json"), clock=utcnow)

    assert SECRET in reasons[-1]  # stored as the site said it; shown without it
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    for path in written:
        assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path
    assert any("ann:***@other.example.org" in p.read_text(encoding="utf-8") for p in written)
