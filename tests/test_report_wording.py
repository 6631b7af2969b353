"""Sentences of the report a curator read as wrong or misleading, each as it reads now."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from catalog import store
from catalog.hygiene import Finding, Level
from catalog.outcomes import Outcome
from catalog.queries import EventRow, ReportData, report_data
from catalog.settings import HealthSettings, Settings
from catalog.sync import sync_catalogs
from catalog.urls import canonical_url
from reports import build_context, render_csv, render_html, render_markdown
from reports.build import with_findings
from reports.context import when
from reports.html_rows import facts, fix_cell
from reports.publish import publish_report_files
from tests import report_fixtures as fx
from tests.factories import make_catalog, make_observation, make_resource, temporary_database


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    return report_data(fx.fixed_db(tmp_path_factory.mktemp("wording") / "fixed.db"))


def _hygiene_intro(html: str) -> str:
    node = LexborHTMLParser(html).css_first('section[aria-labelledby="hygiene-heading"] p')
    assert node is not None
    return " ".join(node.text().split())


def _facts(html: str) -> dict[str, str]:
    tree = LexborHTMLParser(f"<dl>{html}</dl>")
    terms = [" ".join(dt.text().split()) for dt in tree.css("dt")]
    return dict(zip(terms, (" ".join(dd.text().split()) for dd in tree.css("dd")), strict=True))


def test_a_link_that_timed_out_is_not_said_to_have_answered(data: ReportData) -> None:
    """ "Last checked ..., answered in 15000 ms" of a check that got no answer at all."""
    ctx = build_context(data, now=fx.NOW)
    suspect = fx.row_of(ctx, "a-suspect")  # timed out
    timed_out = dataclasses.replace(suspect, elapsed_ms=15000)
    assert timed_out.http_status is None and timed_out.outcome == Outcome.TIMEOUT.value
    assert _facts(facts(timed_out, "../"))["Last checked"].endswith(", took 15000 ms")
    answered = dataclasses.replace(fx.row_of(ctx, "a-broken"), elapsed_ms=40)
    assert _facts(facts(answered, "../"))["Last checked"].endswith(", answered in 40 ms")


def _finding(level: Level, code: str) -> Finding:
    return Finding(
        code=code,
        level=level,
        collection="toolkit-a",
        resource_id="a-ok-1",
        file="toolkit-a.yaml",
        line=12,
        message="No type.",
        fix="add a 'type:' to the entry",
    )


def test_hygiene_says_nothing_of_informational_findings_when_there_are_none(
    data: ReportData,
) -> None:
    """ "(0 informational findings not listed; see linkhealth catalog lint)"."""
    ctx = build_context(data, now=fx.NOW)
    none = with_findings(ctx, [_finding(Level.WARNING, "missing_type")])
    section = _hygiene_intro(render_html(none))
    assert "informational" not in section and section.startswith("Tidying work")
    assert "informational" not in render_markdown(none)

    one = with_findings(
        ctx, [_finding(Level.WARNING, "missing_type"), _finding(Level.INFO, "no_language")]
    )
    section = _hygiene_intro(render_html(one))
    assert "(1 informational finding not listed; see linkhealth catalog lint)" in section


def test_a_link_that_no_longer_redirects_is_not_said_to_end_elsewhere(
    data: ReportData, tmp_path: Path
) -> None:
    """Its final address went from X to none (its own): "Now ends at another address.
    X → —" read as if it led nowhere."""
    row = next(r for r in data.resources if r.resource_id == "a-ok-1")
    event = EventRow(
        max(e.id for e in data.changes) + 1,
        fx.NOW,
        "final_url_changed",
        None,
        None,
        row.link_id,
        {"old": "https://ok.example.org/elsewhere", "new": None},
    )
    ctx = build_context(dataclasses.replace(data, changes=(*data.changes, event)), now=fx.NOW)
    assert ctx.changes is not None
    (section,) = [s for s in ctx.changes.sections if s.key == "redirects_gone"]
    (item,) = [i for i in section.items if i.resource_id == "a-ok-1"]
    assert item.summary == "No longer redirects: it ends at its own address."
    assert item.before == "https://ok.example.org/elsewhere"


def test_an_added_or_removed_entry_shows_its_address_without_a_dash_arrow(
    data: ReportData,
) -> None:
    """ "Added. — → https://..." and "Removed from the catalog. https://... → —" read as a
    puzzle; a change of address keeps its arrow."""
    ctx = build_context(data, now=fx.NOW)
    assert ctx.changes is not None
    items = {(i.kind, i.resource_id): i for s in ctx.changes.sections for i in s.items}
    added = items["added", "b-new"]
    assert added.before_after == "https://new-entry.example.org/"
    removed = items["removed", fx.REMOVED_ID]
    assert removed.before_after == "Was https://removed.example.org/"
    edited = items["url_edited", "b-blocked"]
    assert edited.before_after == "https://walled.example.org/x → https://walled.example.org/"
    markdown, html = render_markdown(ctx), render_html(ctx)
    assert "— →" not in markdown and "→ —" not in markdown
    assert "— →" not in html and "→ —" not in html
    assert "Added. https://new-entry.example.org/" in markdown


def test_a_long_list_of_changes_points_to_the_report_that_has_them(data: ReportData) -> None:
    """ "... and 5 more (see the CSV or JSON report)": the CSV has no changes."""
    ctx = build_context(data, now=fx.NOW)
    assert ctx.changes is not None
    (edits,) = [s for s in ctx.changes.sections if s.key == "catalog_edits"]
    many = dataclasses.replace(edits, items=edits.items * 60)  # 240
    changes = dataclasses.replace(ctx.changes, sections=(many,))
    html = render_html(dataclasses.replace(ctx, changes=changes))
    assert "… and 40 more (see the JSON report)." in html


def test_the_page_of_a_working_link_says_since_when_it_works(data: ReportData) -> None:
    """ "Since a month ago, 30 checks" of a link with nothing to do read as the age of a
    problem; a link in trouble keeps its "Since"."""
    ctx = build_context(data, now=fx.NOW)
    month = when(fx.days_ago(30), fx.NOW)
    working = dataclasses.replace(fx.row_of(ctx, "a-ok-2"), since=month, checks=30)
    assert working.priority is None
    assert _facts(facts(working, "../"))["Working since"].startswith("a month ago")
    broken = _facts(facts(fx.row_of(ctx, "a-broken"), "../"))
    assert "Since" in broken and "Working since" not in broken


def test_a_link_failing_by_the_sites_own_answer_is_not_told_it_may_recover(
    data: ReportData,
) -> None:
    """A 410 says "removed on purpose"; "Wait: it may recover by itself" beside it read
    as a contradiction. A timeout may well recover: that advice stays."""
    timed_out = next(r for r in data.resources if r.resource_id == "a-suspect")
    gone = dataclasses.replace(timed_out, outcome=Outcome.GONE, outcome_value="gone")
    ctx = build_context(dataclasses.replace(data, resources=(gone,)), now=fx.NOW)
    row = fx.row_of(ctx, "a-suspect")
    assert row.fix is not None and not row.fix.startswith("Wait")
    assert "The site's own answer, not a network hiccup. " in row.fix
    assert Outcome.GONE.explanation in row.fix

    ctx = build_context(dataclasses.replace(data, resources=(timed_out,)), now=fx.NOW)
    assert fx.row_of(ctx, "a-suspect").fix == (
        "Wait: it may recover by itself. Act if it is confirmed broken."
    )


def _with_event(data: ReportData, kind: str, link_id: int | None, details: dict) -> ReportData:
    event = EventRow(
        max(e.id for e in data.changes) + 1, fx.NOW, kind, None, None, link_id, details
    )
    return dataclasses.replace(data, changes=(*data.changes, event))


def test_a_link_that_began_to_redirect_shows_where_accept_redirect_would_point(
    data: ReportData,
) -> None:
    """A first check that found a permanent redirect said "Now redirects permanently.
    Moved permanently"; a first hop said another address than the queue's suggestion."""
    moved = next(r for r in data.resources if r.resource_id == "a-moved")
    assert moved.suggested_url
    for kind, details in (
        ("outcome_changed", {"old": None, "new": "redirected_permanent"}),
        ("redirect_changed", {"old": None, "new": "https://new.example.org/first-hop"}),
    ):
        plain = dataclasses.replace(
            data, changes=tuple(e for e in data.changes if e.link_id != moved.link_id)
        )
        ctx = build_context(_with_event(plain, kind, moved.link_id, details), now=fx.NOW)
        assert ctx.changes is not None
        (section,) = [s for s in ctx.changes.sections if s.key == "new_redirects"]
        (item,) = section.items
        assert item.summary == f"Now redirects permanently to {moved.suggested_url}."
        assert item.before_after is None


def test_news_of_an_id_two_catalogs_use_names_the_catalog(data: ReportData) -> None:
    """ "Hotline (hotline): Now redirects." twice, with nothing to tell them apart."""
    row = next(r for r in data.resources if r.resource_id == "a-moved")
    twin = dataclasses.replace(
        row, pk=10_000, collection_key="other", collection_title="Other catalog"
    )
    ctx = build_context(dataclasses.replace(data, resources=(*data.resources, twin)), now=fx.NOW)
    assert ctx.changes is not None
    (section,) = [s for s in ctx.changes.sections if s.key == "new_redirects"]
    assert sorted(i.in_collection or "" for i in section.items) == [
        "Anti-Trafficking Toolkit",
        "Other catalog",
    ]
    assert "a-moved</span> in <bdi>Other catalog</bdi>: Now redirects" in render_html(ctx)
    assert "(a-moved in Other catalog): Now redirects" in render_markdown(ctx)
    alone = build_context(data, now=fx.NOW)
    assert alone.changes is not None
    assert all(i.in_collection is None for s in alone.changes.sections for i in s.items)


def test_a_link_that_ends_at_its_own_address_as_checked_is_not_said_to_end_elsewhere(
    tmp_path: Path,
) -> None:
    """The checker asks for the canonical form (query sorted, "/" path): "Ended at" that
    address, under a 404 that followed no redirect, read as a move."""
    written = "https://x.example.org?utm_source=news&id=7"
    asked = canonical_url(written)
    assert asked == "https://x.example.org/?id=7&utm_source=news"
    moved = "https://x.example.org/elsewhere"
    catalog = make_catalog(
        "toolkit",
        [make_resource("own", url=written), make_resource("away", url=written + "&b=1")],
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, [catalog], now=fx.NOW)
        store.record_observations(
            engine,
            None,
            [
                make_observation(asked, Outcome.NOT_FOUND, fx.NOW, final_url=asked),
                make_observation(
                    canonical_url(written + "&b=1"), Outcome.NOT_FOUND, fx.NOW, final_url=moved
                ),
            ],
            HealthSettings(),
            now=fx.NOW,
        )
        ctx = build_context(report_data(engine), now=fx.NOW)
    assert fx.row_of(ctx, "own").final_url is None
    assert fx.row_of(ctx, "away").final_url == moved


def test_informational_findings_alone_are_still_counted(data: ReportData) -> None:
    """With only informational findings the whole section went, and with it the one
    sentence saying there were some to read in `linkhealth catalog lint`."""
    ctx = with_findings(
        build_context(data, now=fx.NOW),
        [_finding(Level.INFO, "no_language"), _finding(Level.INFO, "no_language")],
    )
    assert _hygiene_intro(render_html(ctx)) == (
        "No tidying work in the catalog entries themselves (2 informational findings not "
        "listed; see linkhealth catalog lint)."
    )
    markdown = render_markdown(ctx)
    assert "## Catalog hygiene\n" in markdown  # not "(0)" above a sentence saying none
    assert "No tidying work in the catalog entries themselves (2 informational" in markdown
    none = with_findings(build_context(data, now=fx.NOW), [])
    assert "hygiene-heading" not in render_html(none)


def test_the_trend_says_it_counts_links_while_the_headline_counts_resources(
    data: ReportData,
) -> None:
    """The headline's "4 OK" counts resources with nothing to do; the trend's last "OK
    80%" counts the links the run checked. Side by side, unlabelled, they read as two
    answers to one question, one of them wrong."""
    ctx = build_context(data, now=fx.NOW)
    assert " OK" in ctx.headline and ctx.headline.startswith("12 resources")
    caption = LexborHTMLParser(render_html(ctx)).css_first("#trends figcaption")
    assert caption is not None
    assert "Percentages are of the links each run checked" in caption.text()
    assert "not of the resources the summary at the top counts" in caption.text()
    markdown = render_markdown(ctx)
    trends = markdown.split("## Trends\n", 1)[1].split("\n## ", 1)[0]
    assert "Percentages are of the links each run checked" in trends


def test_the_markdown_totals_say_why_ok_counts_more_than_the_headline(data: ReportData) -> None:
    """The headline counts "3 OK" (nothing to do); "All resources by outcome" counts every
    working link as OK, queued or not. The HTML table says which of them are queued all
    the same; the Markdown (the Prefect artifact) gave the bare count, and the two read
    as a contradiction."""
    stale = fx.with_resource(
        data, "a-ok-1", stale_reasons=("Never reviewed.",), stale_codes=("review_overdue",)
    )
    ctx = build_context(stale, now=fx.NOW)
    assert "3 OK" in ctx.headline
    (ok,) = [t for t in ctx.totals if t.key == "ok"]
    assert ok.count == 4 and "1 of them is in the queue all the same" in ok.explanation
    totals = render_markdown(ctx).split("## All resources by outcome\n", 1)[1]
    (line,) = [row for row in totals.splitlines() if row.startswith("| OK |")]
    assert line == f"| OK | 4 | {ok.explanation} |"


CASINO_TITLE = "Best Online Casino 2026 - Free Spins Bonus"
NEW_EDITION = (
    f"The page's title names 2026 (\u201c{CASINO_TITLE}\u201d), later than any year the entry "
    "names (2013); if the link now leads to a newer edition, update the entry's title and "
    "year, or link the edition the entry describes, and mark the entry reviewed."
)
DATED = "The newest year the entry names is 2013 (in its year field), more than 5 years ago."


@pytest.mark.parametrize(
    ("drift", "edition_shown"),
    [
        ("The page now looks like a gambling page ('Free Spins') (match 100% \u2192 1%).", False),
        ("The page no longer matches its entry (match 90% \u2192 20%).", True),
    ],
)
def test_a_casino_page_s_year_is_no_newer_edition(
    data: ReportData, drift: str, edition_shown: bool
) -> None:
    """A domain taken over by a casino titled "... 2026 ..." was also "Possibly out of
    date: the page's title names 2026 ...; update the entry's title and year" on its page
    and in the CSV: advice to follow the new owner. A publisher's own page that drifted
    keeps the reading (a new edition often changes the text too)."""
    changed = fx.with_resource(
        data,
        "a-ok-2",
        drift_reason=drift,
        page_title=CASINO_TITLE,
        stale_reasons=(NEW_EDITION, DATED),
        stale_codes=("new_edition", "dated"),
        stale_since=fx.days_ago(5),
    )
    ctx = build_context(changed, now=fx.NOW)
    row = fx.row_of(ctx, "a-ok-2")
    assert row.priority is not None and row.priority.key == "drift"
    assert row.stale_codes == (("new_edition", "dated") if edition_shown else ("dated",))
    page = str(facts(row, ""))
    csv_row = next(line for line in render_csv(ctx).splitlines() if ",a-ok-2," in line)
    for text in (page, csv_row):
        assert ("names 2026" in text) is edition_shown
        assert "more than 5 years ago" in text


def test_the_csv_labels_a_drifted_page_as_the_html_and_markdown_do(data: ReportData) -> None:
    """The HTML and Markdown badge a page taken over by a casino "Page no longer
    matches"; the CSV's label said "OK" (its outcome: the page answers 200), which is all
    a curator filtering the label column saw of it. The outcome column keeps `ok`."""
    drift = "The page now looks like a gambling page ('Free Spins') (match 100% \u2192 1%)."
    ctx = build_context(fx.with_resource(data, "a-ok-2", drift_reason=drift), now=fx.NOW)
    row = fx.row_of(ctx, "a-ok-2")
    assert row.status_badge[1] == "Page no longer matches"
    assert f"**{row.status_badge[1]}**" in render_markdown(ctx)
    (line,) = [r for r in csv.DictReader(io.StringIO(render_csv(ctx))) if r["id"] == "a-ok-2"]
    assert (line["group"], line["outcome"], line["label"]) == (
        "drift",
        "ok",
        "Page no longer matches",
    )
    untouched = fx.row_of(ctx, "a-broken")
    (broken,) = [r for r in csv.DictReader(io.StringIO(render_csv(ctx))) if r["id"] == "a-broken"]
    assert broken["label"] == untouched.label


ARCHIVED = "https://web.archive.org/web/20240105083000/https://a.example.org/broken"


def test_the_fix_links_the_address_it_names_instead_of_repeating_it(data: ReportData) -> None:
    """ "Link the archived copy URL until ...", then "Archived copy: URL", then the
    command with URL: three 80-character addresses in the column read first. The
    sentence's own mention is the link now; an address it does not name keeps its line."""
    ctx = build_context(fx.with_resource(data, "a-broken", archive_url=ARCHIVED), now=fx.NOW)
    cell = LexborHTMLParser(str(fix_cell(fx.row_of(ctx, "a-broken"))))
    links = cell.css("a")
    assert [(a.attributes["class"], a.attributes["href"]) for a in links] == [("archive", ARCHIVED)]
    step = cell.css_first("p.step")
    assert step is not None and step.text().startswith(f"Link the archived copy {ARCHIVED} until")
    assert "Archived copy:" not in cell.body.text() if cell.body else False
    # A fix that names no address (waiting for a failure to be confirmed) keeps the line.
    waiting = build_context(fx.with_resource(data, "a-suspect", archive_url=ARCHIVED), now=fx.NOW)
    waiting_cell = LexborHTMLParser(str(fix_cell(fx.row_of(waiting, "a-suspect"))))
    assert waiting_cell.body is not None and "Archived copy:" in waiting_cell.body.text()


def test_a_flapping_link_s_since_says_it_is_when_the_flapping_began(data: ReportData) -> None:
    """A link that failed last night, between nights that worked, read "HTTP error ...
    Since 5 days ago, 6 checks": five days down. The date is when it began flapping
    (`catalog.queries.PROBLEM_START`); a confirmed break's is its failure's own."""
    flapping = fx.with_resource(data, "a-suspect", flapping=True, since=fx.days_ago(5))
    both = fx.with_resource(flapping, "a-broken", flapping=True)
    ctx = build_context(both, now=fx.NOW)
    suspect, broken = fx.row_of(ctx, "a-suspect"), fx.row_of(ctx, "a-broken")
    assert suspect.flapping_since and not broken.flapping_since
    index = LexborHTMLParser(render_html(ctx))
    cells = {
        rid: " ".join(node.text(separator=" ").split())
        for rid in ("a-suspect", "a-broken")
        if (
            node := index.css_first(
                f'#attention tr[data-resource-id="{rid}"] td[data-label="Since"]'
            )
        )
    }
    assert cells["a-suspect"] == "5 days ago 2025-03-05 when it began flapping"
    assert "flapping" not in cells["a-broken"]
    assert "5 days ago (2025-03-05, when it began flapping)" in render_markdown(ctx)
    terms = [
        " ".join(dt.text().split())
        for dt in LexborHTMLParser(f"<dl>{facts(suspect, '')}</dl>").css("dt")
    ]
    assert "Flapping since" in terms and "Since" not in terms
    broken_terms = [dt.text() for dt in LexborHTMLParser(f"<dl>{facts(broken, '')}</dl>").css("dt")]
    assert "Since" in broken_terms


def test_a_drifted_page_s_since_is_the_drift_s_even_while_its_link_flaps(
    data: ReportData,
) -> None:
    """`PROBLEM_START` dates a drifted page from its drift before anything else, so its
    row's date is the drift's: "when it began flapping" beside it named the wrong event."""
    drifted = fx.with_resource(
        data,
        "a-suspect",
        flapping=True,
        since=fx.days_ago(5),
        drift_reason="the domain is parked",
    )
    ctx = build_context(drifted, now=fx.NOW)
    row = fx.row_of(ctx, "a-suspect")
    assert not row.flapping_since
    assert "when it began flapping" not in render_markdown(ctx)
    terms = [
        " ".join(dt.text().split())
        for dt in LexborHTMLParser(f"<dl>{facts(row, '')}</dl>").css("dt")
    ]
    assert "Flapping since" not in terms and "Since" in terms


def test_the_news_links_the_reports_of_the_nights_before(data: ReportData, tmp_path: Path) -> None:
    """ "Since the last run" is last night's news alone: a curator reading on Monday lost
    what Saturday's run found. The news links each earlier night's own report, when it was
    written into the same folder."""
    ctx = build_context(data, now=fx.NOW)
    assert ctx.changes is not None
    assert [(n.run_id, n.day) for n in ctx.changes.earlier] == [(1, "Sat 2025-03-08")]
    settings = Settings().with_overrides(
        database_url=f"sqlite:///{fx.fixed_db(tmp_path / 'fixed.db').url.database}"
    )

    def earlier_nights(out: Path) -> list[tuple[str, str]]:
        publish_report_files(settings.with_overrides(reports_dir=out), clock=lambda: fx.NOW)
        html = (out / "latest.html").read_text(encoding="utf-8")
        node = LexborHTMLParser(html).css_first("#earlier-nights")
        return [] if node is None else [(a.attrs["href"] or "", a.text()) for a in node.css("a")]

    assert earlier_nights(tmp_path / "bare") == []  # run 1's report is not there: no link
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "run-1.html").write_text("<title>Run 1</title>", encoding="utf-8")
    assert earlier_nights(tmp_path / "kept") == [("run-1.html", "Sat 2025-03-08")]


def test_the_run_pages_report_command_reads_the_catalogs_the_report_read(
    data: ReportData,
) -> None:
    """A report of `report --catalog "my kits/kit.yaml"`: its run page's command that
    writes the latest report again, and its `catalog lint`, carry that `--catalog`, as
    its finding commands do (review rv-hygiene2)."""
    import shlex

    from reports.site import _latest_command

    catalog = ("--catalog", "my kits/kit.yaml")
    ctx = dataclasses.replace(build_context(data, now=fx.NOW), catalog_options=catalog)
    assert shlex.split(_latest_command(ctx, Path("/srv/out"))) == [
        "linkhealth", "report", *catalog, "--out", "/srv/out"
    ]  # fmt: skip
    assert shlex.split(ctx.lint_command) == ["linkhealth", "catalog", "lint", *catalog]
