"""Importing toolkit pages and CSV exports into catalog files, and syncing what was added."""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from catalog.errors import CatalogError, ConfigError, LinkhealthError
from catalog.hygiene import lint
from catalog.importer import (
    ImportedEntry,
    import_entries,
    parse_csv,
    parse_toolkit_html,
    read_source,
    read_spreadsheet,
    slug_id,
)
from catalog.settings import BUNDLED_CATALOG, CheckSettings
from catalog.source import load_catalog, load_catalogs
from catalog.sync import ADDED, sync_catalogs
from flows.cli import app
from tests.factories import T0, temporary_database
from tests.local_site import Answer, handler_class

DATA = Path(__file__).parent / "data" / "import"
TOOLKIT_PAGE = DATA / "toolkit-page.html"
ODD_PAGE = DATA / "odd-markup.html"


def _toolkit():
    return parse_toolkit_html(TOOLKIT_PAGE.read_text(encoding="utf-8"))


# --- parsing HTML ------------------------------------------------------------------------------


def test_toolkit_page_yields_every_resource_with_its_link_and_description() -> None:
    parsed = _toolkit()
    bundled = {r.title: r for r in load_catalog(BUNDLED_CATALOG).resources}
    assert len(parsed.entries) == 26
    assert parsed.skipped == ()
    assert parsed.title == "Toolkit: Human Trafficking Resources"
    for entry in parsed.entries:
        resource = bundled[entry.title]
        assert entry.url == resource.url
        assert entry.description == " ".join((resource.description or "").split())


def test_page_furniture_is_not_a_resource() -> None:
    titles = {e.title for e in _toolkit().entries}
    assert "Back to Clearinghouse" not in titles
    assert not any("View Toolkit" in (e.description or "") for e in _toolkit().entries)


def test_odd_markup_yields_the_expected_resources() -> None:
    parsed = parse_toolkit_html(ODD_PAGE.read_text(encoding="utf-8"))
    got = {e.title: (e.url, e.description) for e in parsed.entries}
    assert got == {
        "Café Workers’ Rights & Safety Guide": (
            "https://www.example.org/guides/caf%C3%A9?id=7&utm_source=toolkit",
            "A guide for café workers — rights, safety and reporting.",
        ),
        "Standalone Report (PDF)": (
            "https://example.org/standalone-report.pdf",
            "A report linked without any heading. It has a second paragraph.",
        ),
        "Heading Without Its Own Link": (
            "https://example.org/linked-after-heading",
            "The link sits in the paragraph after the heading.",
        ),
        "Recorded Webinar": (
            "https://example.org/webinar",
            "a one-hour recording about inline links, which stay description.",
        ),
    }
    assert parsed.title == "Odd Toolkit & Friends"


def test_javascript_mailto_and_unresolvable_links_are_skipped_with_a_reason() -> None:
    parsed = parse_toolkit_html(ODD_PAGE.read_text(encoding="utf-8"))
    skipped = {s.title for s in parsed.skipped}
    assert {"Script Link Only", "Not a resource either", "Contact Us"} <= skipped
    assert "Relative Link Resource" in skipped
    assert not any(e.url.startswith(("javascript:", "mailto:")) for e in parsed.entries)
    assert "Not a resource" not in {e.title for e in parsed.entries}  # the <script> text


def test_control_characters_of_the_page_never_reach_the_catalog() -> None:
    """Titles and descriptions go into the catalog file and are printed by `linkhealth
    resource`: a hostile toolkit page must not put escape sequences into them."""
    parsed = parse_toolkit_html(
        "<title>Kit\x1b]0;owned\x07</title><ul>"
        '<li><a href="https://example.org/a">Guide\x1b[2J one</a> A guide&#27;[31m here</li>'
        '<li><a href="https://example.org/b">Two&#0;</a></li></ul>'
    )
    texts = [parsed.title or ""] + [f"{e.title} {e.description or ''}" for e in parsed.entries]
    assert len(parsed.entries) == 2 and parsed.entries[0].title == "Guide [2J one"
    assert all(text.isprintable() for text in texts)


def test_a_list_of_links_right_under_a_heading_is_the_resources_not_the_headings_link() -> None:
    """The heading was given the first item's link, and the first resource was lost."""
    parsed = parse_toolkit_html(
        "<h1>Toolkit: Test</h1><ul>"
        '<li><a href="https://example.org/one">Resource One</a></li>'
        '<li><a href="https://example.org/two">Resource Two</a></li></ul>'
    )
    assert [(e.title, e.url) for e in parsed.entries] == [
        ("Resource One", "https://example.org/one"),
        ("Resource Two", "https://example.org/two"),
    ]


def test_a_lone_link_right_under_a_heading_is_the_headings_link() -> None:
    for under in ("<p>{}</p>", "<ul><li>{}</li></ul>"):
        link = under.format('<a href="https://example.org/guide">Visit the website</a>')
        parsed = parse_toolkit_html(f"<title>Kit</title><h3>A Guide</h3>{link}<p>About it.</p>")
        assert [(e.title, e.url, e.description) for e in parsed.entries] == [
            ("A Guide", "https://example.org/guide", "About it.")
        ]


def test_relative_links_resolve_against_the_base_url() -> None:
    parsed = parse_toolkit_html(
        ODD_PAGE.read_text(encoding="utf-8"), base_url="https://clearinghouse.example.gov/T/1"
    )
    urls = {e.title: e.url for e in parsed.entries}
    assert urls["Relative Link Resource"] == "https://clearinghouse.example.gov/relative/page"


def test_a_link_with_a_space_is_imported_as_browsers_send_it() -> None:
    """A page's `href="Annual Report 2019.pdf"` works in every browser (they send %20)
    and was dropped as no usable address."""
    parsed = parse_toolkit_html(
        '<ul><li><a href="files/Annual Report 2019.pdf">Annual report</a></li>'
        '<li><a href="https://example.org/b">Guide</a></li></ul>',
        base_url="https://example.org/toolkit/",
    )
    assert [e.url for e in parsed.entries] == [
        "https://example.org/toolkit/files/Annual%20Report%202019.pdf",
        "https://example.org/b",
    ]


def test_a_page_url_is_fetched_and_becomes_the_base() -> None:
    page = "<h3><a href='/r/1'>One</a></h3><p>First.</p>"
    with respx.mock:
        respx.get("https://toolkit.example.gov/page").mock(
            return_value=httpx.Response(200, html=page)
        )
        text, base = read_source("https://toolkit.example.gov/page", user_agent="test")
    (entry,) = parse_toolkit_html(text, base_url=base).entries
    assert entry.url == "https://toolkit.example.gov/r/1"


def test_a_page_that_cannot_be_fetched_is_a_linkhealth_error() -> None:
    with respx.mock:
        respx.get("https://toolkit.example.gov/gone").mock(return_value=httpx.Response(404))
        with pytest.raises(LinkhealthError):
            read_source("https://toolkit.example.gov/gone")


def test_a_page_without_resource_links_is_refused_by_name() -> None:
    page = "<html><head><title>P</title></head><body><p>Nothing listed.</p></body></html>"
    with pytest.raises(LinkhealthError, match=r"^http://toolkit\.example\.gov/p1: ") as caught:
        parse_toolkit_html(
            page, base_url="http://toolkit.example.gov/p1", source=("http://toolkit.example.gov/p1")
        )
    assert "no resource links" in str(caught.value)


def test_a_page_whose_links_are_all_skipped_says_why_and_suggests_base_url() -> None:
    page = "<ul><li><a href='/r/1'>One</a></li><li><a href='mailto:x@y.org'>Mail</a></li></ul>"
    with pytest.raises(LinkhealthError, match=r"^toolkit\.html: ") as caught:
        parse_toolkit_html(page, source="toolkit.html")
    message = str(caught.value)
    assert "link 1 'One': the link is relative and no base URL is known" in message
    assert "--base-url" in message
    assert "link 2 'Mail'" in message


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_rows_carry_their_fields_and_skip_unusable_rows() -> None:
    parsed = parse_csv(
        "Title,URL,Description,Year,Languages,Publisher\n"
        "Guide,https://x.org/g,A guide.,2019,en; es,DOJ\n"
        "No link,,Nothing,,,\n"
        "Bad link,ftp://x.org/f,,,,\n"
    )
    (entry,) = parsed.entries
    assert (entry.title, entry.url, entry.description) == ("Guide", "https://x.org/g", "A guide.")
    assert entry.fields == {"year": 2019, "languages": ["en", "es"], "publisher": "DOJ"}
    assert [s.title for s in parsed.skipped] == ["No link", "Bad link"]


def test_csv_without_title_or_url_columns_is_refused() -> None:
    with pytest.raises(LinkhealthError):
        parse_csv("label,address\nA,https://x.org/\n")


def test_csv_refusal_names_the_file_and_the_columns_it_found() -> None:
    with pytest.raises(LinkhealthError, match=r"^export\.csv: .*'label', 'address'"):
        parse_csv("label,address\nA,https://x.org/\n", source="export.csv")


@pytest.mark.parametrize("separator", [";", "\t"])
def test_csv_separated_by_semicolons_or_tabs_is_read(separator: str) -> None:
    # Spreadsheets saved in many locales separate with ';'; the header shows which it is.
    text = f"Title{separator}URL{separator}Tags\nGuide{separator}https://x.org/g{separator}a, b\n"
    (entry,) = parse_csv(text, source="semi.csv").entries
    assert (entry.title, entry.url, entry.fields) == (
        "Guide",
        "https://x.org/g",
        {"tags": ["a, b"]},
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("title,url\n", "no rows"),
        ("title,url\nNo link,\n", "row 2 'No link': the row has no title or no url"),
    ],
)
def test_a_csv_with_nothing_to_import_is_refused_by_name(text: str, says: str) -> None:
    with pytest.raises(LinkhealthError, match=r"^export\.csv: ") as caught:
        parse_csv(text, source="export.csv")
    assert says in str(caught.value)


# --- ids ---------------------------------------------------------------------------------------


def test_ids_are_short_slugs_made_unique() -> None:
    assert slug_id("Café Workers’ Rights & Safety Guide") == "cafe-workers-rights-safety-guide"
    assert slug_id("DHS: Human Trafficking", {"dhs-human-trafficking"}) == "dhs-human-trafficking-2"
    assert len(slug_id("word " * 40)) <= 60
    assert slug_id("!!!") == "resource"


# --- merging -----------------------------------------------------------------------------------


def test_importing_the_toolkit_page_into_the_bundled_catalog_changes_nothing(
    tmp_path: Path,
) -> None:
    target = tmp_path / "toolkit.yaml"
    shutil.copyfile(BUNDLED_CATALOG, target)
    result = import_entries(target, _toolkit())
    assert result.added == ()
    assert result.filled == ()
    assert len(result.matched) == 26
    assert result.diff == ""
    assert target.read_bytes() == BUNDLED_CATALOG.read_bytes()


def test_import_into_a_new_file_creates_a_loadable_catalog(tmp_path: Path) -> None:
    target = tmp_path / "imported.yaml"
    result = import_entries(target, _toolkit())
    assert result.created
    assert len(result.added) == 26
    catalog = load_catalog(target)
    assert catalog.title == "Toolkit: Human Trafficking Resources"
    assert len({r.id for r in catalog.resources}) == 26
    dhs = [r for r in catalog.resources if r.url == "https://www.dhs.gov/blue-campaign/infographic"]
    assert len(dhs) == 3  # three resources on the page share a URL; none is lost


SHEET = "Title,URL\r\nCoastal Erosion Handbook,https://example.org/coast\r\n"
KIT = "collection:\n  title: Coastal toolkit\n"


@pytest.mark.parametrize(
    ("name", "text", "written"),
    [
        # A toolkit file set up by hand before its first import: its collection kept, and
        # `resources:` written as a block list's key.
        ("toolkit.yaml", f"{KIT}resources:\n", f"{KIT}resources:\n- id: coastal"),
        ("toolkit.yaml", f"{KIT}resources: []\n", f"{KIT}resources:\n- id: coastal"),
        ("toolkit.yaml", f"{KIT}resources: ~  # soon\n", f"{KIT}resources:  # soon\n- id: c"),
        ("toolkit.yaml", f"resources: [ ]\r\n{KIT}", "resources:\r\n- id: coastal"),
        # A CSV catalog as the README describes it: a header row, `id,title,url` at least.
        ("toolkit.csv", "id,title,url\n", "id,title,url\ncoastal"),
        ("toolkit.csv", "\ufeffid,url,title\r\n", "\ufeffid,url,title\r\ncoastal"),
        # A file made empty first (an editor's New File, `touch`), or holding no document.
        ("toolkit.yaml", "", "collection:\n  title: toolkit\nresources:\n"),
        ("toolkit.yaml", "# Started in May\n", "# Started in May\ncollection:\n"),
        ("toolkit.yaml", "---\n", "collection:\n  title: toolkit\n"),
        # Notes above a document marker: the notes stay, the marker goes (they were lost).
        ("toolkit.yaml", "# Ask Ana first\n---\n", "# Ask Ana first\ncollection:\n"),
        ("toolkit.csv", "", "\ufeffid,title,url\ncoastal"),
        ("toolkit.csv", "\n", "\ufeffid,title,url\ncoastal"),
    ],
)
def test_import_csv_fills_a_catalog_file_that_lists_no_resources_yet(
    tmp_path: Path, name: str, text: str, written: str
) -> None:
    """Refused as `empty_catalog` ("add at least one entry under 'resources:'", exit 5):
    the very thing the import was asked to do. Only deleting the file (and its collection
    title) let the import create it."""
    target = tmp_path / name
    target.write_bytes(text.encode())

    result = import_entries(target, parse_csv(SHEET, source="sheet.csv"))

    assert result.added == ("coastal-erosion-handbook",)
    catalog = load_catalog(target)
    assert [r.id for r in catalog.resources] == ["coastal-erosion-handbook"]
    assert catalog.title == ("Coastal toolkit" if KIT in text else "toolkit")
    assert target.read_bytes().decode().startswith(written)


@pytest.mark.parametrize("resources", ["resources: ~", "resources: []"])
@pytest.mark.parametrize("quote", ["'", ""])
def test_import_fills_an_empty_catalog_whose_text_above_holds_a_line_separator(
    tmp_path: Path, resources: str, quote: str
) -> None:
    """A collection description pasted from Word (a U+2028 in it): ruamel's line numbers
    and `str.splitlines`'s disagreed, the `resources:` line was not found, and the import
    was refused as if the sheet's entries made the catalog invalid."""
    target = tmp_path / "toolkit.yaml"
    description = f"{quote}Kept by the library.\u2028Ask first.{quote}"
    target.write_text(f"{KIT}  description: {description}\n{resources}\n", encoding="utf-8")

    result = import_entries(target, parse_csv(SHEET, source="sheet.csv"))

    assert result.added == ("coastal-erosion-handbook",)
    assert [r.id for r in load_catalog(target).resources] == ["coastal-erosion-handbook"]
    assert f"description: {description}\nresources:\n- id: coastal" in target.read_text()


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_import_into_a_folder_that_does_not_exist_names_it_and_makes_none(
    tmp_path: Path, dry_run: bool
) -> None:
    """It failed on the lock file beside the catalog ("cannot open or create the lock
    file"), naming no folder; the dry run showed a diff of a file that could not be made."""
    target = tmp_path / "catalgos" / "kit.yaml"
    with pytest.raises(ConfigError, match=rf"the folder {re.escape(str(target.parent))} does not"):
        import_entries(target, _toolkit(), dry_run=dry_run)
    assert not target.parent.exists()


YAML_WITH_COMMENTS = """\
# Curated by hand; keep this comment.
collection:
  title: Mine   # inline comment
resources:
  - id: hotline
    title: National Human Trafficking Hotline
    url: https://humantraffickinghotline.org
    year: null
  - id: blue
    title: 'DHS Blue Campaign'
    url: https://www.dhs.gov/blue-campaign
    description: Written by the curator.
    # notes to self about this entry

# the end
"""


def _subset(*words: str) -> list[ImportedEntry]:
    return [e for e in _toolkit().entries if any(w in e.title for w in words)]


def test_existing_entries_are_filled_only_where_empty_and_new_ones_appended(
    tmp_path: Path,
) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text(YAML_WITH_COMMENTS)
    result = import_entries(target, _subset("Hotline", "Blue Campaign", "DemandForum"))
    assert result.added == ("demandforum-resources-for-the-prevention-of-prostitution",)
    assert [(e.resource_id, e.field) for e in result.filled] == [("hotline", "description")]
    assert set(result.matched) == {"hotline", "blue"}
    assert [d.resource_id for d in result.differences] == ["blue"]
    text = target.read_text()
    assert text.startswith(YAML_WITH_COMMENTS.split("  - id: hotline")[0])
    assert (
        "    description: Written by the curator.\n    # notes to self about this entry\n" in text
    )
    assert text.endswith("\n# the end\n")
    catalog = load_catalog(target)
    assert [r.id for r in catalog.resources][:2] == ["hotline", "blue"]
    by_id = {r.id: r for r in catalog.resources}
    assert by_id["blue"].description == "Written by the curator."
    assert (by_id["hotline"].description or "").startswith("The National Human Trafficking")
    assert by_id["demandforum-resources-for-the-prevention-of-prostitution"].url == (
        "https://demand-forum.org/"
    )


def test_entries_match_by_canonical_url_when_titles_differ(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text(YAML_WITH_COMMENTS)
    entry = ImportedEntry("Hotline (renamed)", "HTTPS://HumanTraffickingHotline.org/#x", "Desc.")
    result = import_entries(target, [entry])
    assert result.added == ()
    assert result.matched == ("hotline",)


def test_an_addition_likely_twin_of_an_entry_is_named_in_the_summary(tmp_path: Path) -> None:
    """http://www.demand-forum.org was added beside https://demand-forum.org/ without a
    word; lint then flagged the pair (likely_duplicate_url)."""
    target = tmp_path / "t.yaml"
    target.write_text(
        "collection:\n  title: T\nresources:\n"
        "- id: demandforum\n  title: DemandForum\n  url: https://demand-forum.org/\n"
    )
    entries = [
        ImportedEntry("Demand Forum (old sheet)", "http://www.demand-forum.org", origin="row 2"),
        ImportedEntry("Guide", "https://other.org/guide", origin="row 3"),
        ImportedEntry("The guide again", "https://other.org/guide/", origin="row 4"),
        ImportedEntry("Elsewhere", "https://demand-forum.org/elsewhere", origin="row 5"),
    ]

    result = import_entries(target, entries)

    assert result.added == ("demand-forum-old-sheet", "guide", "the-guide-again", "elsewhere")
    twins = [n for n in result.notes if n.code == "likely_duplicate"]
    assert [(n.facts["id"], n.facts["of"]) for n in twins] == [
        ("demand-forum-old-sheet", "demandforum"),
        ("the-guide-again", "guide"),
    ]
    assert str(twins[0]) == (
        "new entry demand-forum-old-sheet (row 2 'Demand Forum (old sheet)') is probably the "
        "same page as demandforum (https://demand-forum.org/): the URLs differ only in http:// "
        "and https:// and a leading 'www.'; keep one entry, or add 'shared_url: true' to one "
        "if the site serves two pages"
    )
    assert str(twins[1]) in result.headline()
    # What the summary names is what lint then flags.
    flagged = {(f.resource_id, *f.related) for f in lint([load_catalog(target)]) if "dup" in f.code}
    assert flagged == {(n.facts["id"], n.facts["of"]) for n in twins}  # once a pair, at the new


def test_an_entry_whose_url_cannot_be_fetched_is_in_no_pair_and_the_import_goes_on(
    tmp_path: Path,
) -> None:
    """An entry with a port over 65535 (validate: a warning, `invalid_url`) made every
    import a traceback ("Port out of range") once additions were compared with entries."""
    target = tmp_path / "t.yaml"
    target.write_text(
        "collection:\n  title: T\nresources:\n"
        "- id: a\n  title: A\n  url: http://example.org:99999/guide\n"
        "- id: b\n  title: B\n  url: http://[bad\n"
    )
    result = import_entries(target, [ImportedEntry("Guide", "https://example.org/guide")])
    assert result.added == ("guide",)
    assert [n for n in result.notes if n.code == "likely_duplicate"] == []


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text(YAML_WITH_COMMENTS)
    result = import_entries(target, _subset("DemandForum"), dry_run=True)
    assert result.dry_run
    assert "+  - id: demandforum-resources-for-the-prevention-of-prostitution" in result.diff
    assert target.read_text() == YAML_WITH_COMMENTS


def test_csv_catalogs_get_rows_and_new_columns(tmp_path: Path) -> None:
    target = tmp_path / "state.csv"
    target.write_bytes(b"id,title,url\r\nhotline,Hotline,https://humantraffickinghotline.org/\r\n")
    result = import_entries(target, _subset("Hotline", "DemandForum"))
    assert len(result.added) == 1
    data = target.read_bytes()
    assert data.startswith(b"id,title,url,description\r\n")
    assert data.count(b"\r\n") == 3
    catalog = load_catalog(target)
    assert {r.id for r in catalog.resources} == {"hotline", *result.added}
    assert all(r.description for r in catalog.resources)


def test_a_new_csv_catalog_starts_with_a_byte_order_mark_as_exports_do(tmp_path: Path) -> None:
    # Made for a spreadsheet: without the mark Excel reads UTF-8 as the system's code page.
    target = tmp_path / "new.csv"
    first = import_entries(target, _subset("Hotline"))
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,title,url")
    assert [r.id for r in load_catalog(target).resources] == list(first.added)

    second = import_entries(target, _subset("DemandForum"))
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,") and data.count(b"\xef\xbb\xbf") == 1
    assert {r.id for r in load_catalog(target).resources} == {*first.added, *second.added}


def test_entries_that_would_break_the_catalog_are_blamed_on_the_source(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"
    parsed = parse_csv(
        "title,url,year\nHotline,https://humantraffickinghotline.org/,circa 2019\n",
        source="export.csv",
    )
    with pytest.raises(LinkhealthError, match=r"^export\.csv: ") as caught:
        import_entries(target, parsed)
    assert not isinstance(caught.value, CatalogError)  # the catalog file is not at fault
    assert "nothing was written" in str(caught.value)
    assert "circa 2019" in str(caught.value)
    assert not target.exists()


def test_importing_nothing_creates_no_catalog(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"
    with pytest.raises(LinkhealthError, match="nothing to import") as caught:
        import_entries(target, [])
    assert not isinstance(caught.value, CatalogError)
    assert not target.exists()


def test_a_flow_list_catalog_is_named_by_the_path_given(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "flow.yaml"
    target.parent.mkdir()
    target.write_text('resources: [{id: a, title: A, url: "https://x.org/"}]\n')
    with pytest.raises(CatalogError) as caught:
        import_entries(target, _subset("DemandForum"))
    assert [p.file for p in caught.value.problems] == [str(target)]


def test_a_broken_catalog_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "broken.yaml"
    target.write_text("resources:\n  - id: a\n    url: https://x.org/\n")
    with pytest.raises(CatalogError):
        import_entries(target, _subset("DemandForum"))
    assert target.read_text() == "resources:\n  - id: a\n    url: https://x.org/\n"


def test_import_then_sync_records_added_events(tmp_path: Path) -> None:
    target = tmp_path / "imported.yaml"
    result = import_entries(target, _toolkit())
    with temporary_database(tmp_path) as engine:
        synced = sync_catalogs(engine, load_catalogs([target]), now=T0)
        again = import_entries(target, _toolkit())
        resynced = sync_catalogs(engine, load_catalogs([target]), now=T0)
    added = [c for c in synced.changes if c.kind == ADDED]
    assert {c.id for c in added} == set(result.added)
    assert all(c.details["url"] for c in added)
    assert again.diff == ""
    assert resynced.changes == ()


# --- the CLI -----------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_import_html_of_a_page_without_links_names_the_page(isolated_cwd: Path) -> None:
    url = "http://toolkit.example.gov/page1"
    with respx.mock:
        respx.get(url).mock(return_value=httpx.Response(200, html="<p>Nothing listed.</p>"))
        result = runner.invoke(app, ["catalog", "import-html", url, "--into", "cur/x.yaml"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {url}: no resource links"), result.stderr
    assert "empty_catalog" not in result.stderr
    assert not (isolated_cwd / "cur").exists()


@contextmanager
def redirecting_site() -> Iterator[tuple[int, Counter[str]]]:
    """A site on 127.0.0.1 whose /toolkit lists one resource and whose /to/HOST redirects
    to /toolkit on HOST (same port); its port and the paths it was asked for."""
    asked: Counter[str] = Counter()
    page = b"<h3><a href='https://example.org/r'>One</a></h3><p>First.</p>"

    def answer(request: BaseHTTPRequestHandler) -> Answer:
        asked[f"{request.headers['Host'].split(':')[0]} {request.path}"] += 1
        if request.path.startswith("/to/"):
            target = request.path.removeprefix("/to/")
            return 302, {"Location": f"http://{target}:{port}/toolkit"}, b""
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class(answer))
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, asked
    finally:
        server.shutdown()
        server.server_close()


def test_cli_import_refuses_a_redirect_to_a_private_address(isolated_cwd: Path) -> None:
    """The checker's address rule, applied at each hop: localhost is allow-listed here, as
    tests allow the checker their loopback site; its redirect to 127.0.0.1 is not followed
    (it was, as was one to the cloud metadata address, 169.254.169.254)."""
    (isolated_cwd / "linkhealth.toml").write_text('[check]\nprivate_allowlist = ["localhost"]\n')
    with redirecting_site() as (port, asked):
        url = f"http://localhost:{port}/to/127.0.0.1"
        for command in ("import-html", "import-csv"):
            result = runner.invoke(app, ["catalog", command, url, "--into", "x.yaml"])
            assert result.exit_code == 1, result.output
            assert result.stderr.startswith(
                f"error: {url}: redirected to http://127.0.0.1:{port}/toolkit, which is not "
                "fetched: 127.0.0.1 is a loopback address (this machine)"
            ), result.stderr
        assert asked == {"localhost /to/127.0.0.1": 2}  # never the hop to 127.0.0.1
        # The same rule lets an allow-listed hop through.
        hop = f"http://localhost:{port}/to/localhost"
        result = runner.invoke(app, ["catalog", "import-html", hop, "--into", "x.yaml"])
        assert result.exit_code == 0, result.output
    assert "https://example.org/r" in (isolated_cwd / "x.yaml").read_text()


def test_an_import_address_on_our_own_network_is_not_fetched() -> None:
    """The first address goes through the rule too, and is named with the reason."""
    with redirecting_site() as (port, asked):
        url = f"http://127.0.0.1:{port}/toolkit"
        with pytest.raises(
            LinkhealthError, match=rf"^{re.escape(url)}: not fetched: 127\.0\.0\.1 is"
        ):
            read_source(url)
        shouted = f"HTTP://127.0.0.1:{port}/toolkit"  # httpx spells it "http://"
        with pytest.raises(LinkhealthError, match=rf"^{re.escape(shouted)}: not fetched: 127"):
            read_source(shouted)
        with pytest.raises(LinkhealthError, match="loopback"):
            read_spreadsheet(url, check=CheckSettings(private_allowlist=("localhost",)))
        text, _ = read_source(url, check=CheckSettings(private_allowlist=("127.0.0.0/8",)))
    assert "example.org/r" in text
    assert asked == {"127.0.0.1 /toolkit": 1}


@pytest.mark.parametrize("host", ["sub.localhost", "localhost.localdomain"])
def test_an_import_from_a_name_of_this_machine_is_refused_before_any_lookup(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """The check refuses these as written, whatever DNS says (`safety.refused_as_written`);
    an import looked them up first, and where no resolver knows them said "Name or
    service not known" instead of why they are not fetched and what allows them."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def knows_nothing(name: str, *args: Any, **kwargs: Any) -> Any:
        if name != host:
            return real(name, *args, **kwargs)
        asked.append(name)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", knows_nothing)
    url = f"http://{host}:8765/toolkit"
    with pytest.raises(
        LinkhealthError, match=rf"^{re.escape(url)}: not fetched: {re.escape(host)} is this machine"
    ):
        read_source(url)
    assert asked == []


def test_an_import_connects_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name is looked up once, and the connection goes to that answer
    (127.0.0.1, allowed here), not to a second one (127.0.0.2, where nothing listens)."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "rebinding.test":
            return real(host, *args, **kwargs)
        asked.append(host)
        return real("127.0.0.1" if len(asked) == 1 else "127.0.0.2", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with redirecting_site() as (port, _asked):
        check = CheckSettings(private_allowlist=("127.0.0.1",))
        text, _ = read_source(f"http://rebinding.test:{port}/toolkit", check=check)
    assert "example.org/r" in text
    assert asked == ["rebinding.test"]


def test_cli_import_csv_reads_a_semicolon_file(isolated_cwd: Path) -> None:
    (isolated_cwd / "semi.csv").write_text(
        "title;url\nHotline;https://humantraffickinghotline.org/\n"
    )
    result = runner.invoke(app, ["catalog", "import-csv", "semi.csv", "--into", "out.yaml"])
    assert result.exit_code == 0, result.output
    assert [r.id for r in load_catalog(isolated_cwd / "out.yaml").resources] == ["hotline"]


def test_cli_import_csv_without_columns_names_the_file(isolated_cwd: Path) -> None:
    (isolated_cwd / "odd.csv").write_text(
        "label;address\nHotline;https://humantraffickinghotline.org/\n"
    )
    result = runner.invoke(app, ["catalog", "import-csv", "odd.csv", "--into", "out.yaml"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: odd.csv: "), result.stderr
    assert not (isolated_cwd / "out.yaml").exists()


def test_cli_import_csv_writes_a_spreadsheets_spaced_id_as_an_id(isolated_cwd: Path) -> None:
    # Catalogs refuse ids with spaces; a spreadsheet's "my guide" is meant as my-guide, and
    # an invisible character pasted with it is no part of it.
    (isolated_cwd / "sheet.csv").write_text(
        "id,title,url\n"
        "my guide,Hotline,https://humantraffickinghotline.org/\n"
        "fact\u200bsheet,Fact sheet,https://example.org/facts\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["catalog", "import-csv", "sheet.csv", "--into", "out.yaml"])
    assert result.exit_code == 0, result.output
    ids = [r.id for r in load_catalog(isolated_cwd / "out.yaml").resources]
    assert ids == ["my-guide", "factsheet"]


def test_an_import_appends_to_a_catalog_with_a_tab_before_a_comment(tmp_path: Path) -> None:
    """YAML allows the tab and the catalog loads, but the append read the file with ruamel,
    which refuses it: the import failed with "0 problem(s) in the catalog"."""
    target = tmp_path / "mine.yaml"
    text = (
        "collection:\n  title: Mine\nresources:\n  - id: a\n    title: A guide\n"
        "    url: https://example.org/a\t# checked by hand\n"
    )
    target.write_text(text)
    result = import_entries(target, [ImportedEntry("Annual report", "https://example.org/b")])
    assert result.added == ("annual-report",)
    written = target.read_text()
    assert written.startswith(text)  # the tab and the comment stay as they were
    assert [r.id for r in load_catalog(target).resources] == ["a", "annual-report"]


def test_appending_to_a_plain_catalog_needs_no_round_trip_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ruamel's round-trip load of the whole file only to find where `resources` ends took
    ninety seconds to add one row to a catalog of 20,000 entries."""
    import ruamel.yaml

    target = tmp_path / "mine.yaml"
    text = (
        "collection:\n  title: Mine\nresources:\n  - id: a\n    title: A guide\n"
        "    url: https://example.org/a\n\n# kept after the entries\nowner: ana\n"
    )
    target.write_text(text)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("round-trip load of the whole catalog")

    monkeypatch.setattr(ruamel.yaml.YAML, "load", refuse)
    result = import_entries(target, [ImportedEntry("Annual report", "https://example.org/b")])
    assert result.added == ("annual-report",)
    monkeypatch.undo()
    written = target.read_text()
    assert written.endswith(
        "    url: https://example.org/a\n  - id: annual-report\n    title: Annual report\n"
        "    url: https://example.org/b\n\n# kept after the entries\nowner: ana\n"
    )
    assert [r.id for r in load_catalog(target).resources] == ["a", "annual-report"]


@pytest.mark.parametrize(
    "head",
    [
        b'<meta charset="windows-1252">',
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
        b"",  # undeclared: what a browser takes for a legacy page
    ],
)
def test_a_saved_page_in_windows_1252_keeps_its_accents_and_dashes(
    tmp_path: Path, head: bytes
) -> None:
    """Read as UTF-8 with replacement, every accent and dash became U+FFFD."""
    page = tmp_path / "toolkit.html"
    page.write_bytes(
        b"<html><head>"
        + head
        + b"</head><body><ul><li><a href='https://x.org/g'>"
        + "Guía \u2013 víctimas".encode("cp1252")
        + b"</a></li></ul></body></html>"
    )
    text, _ = read_source(str(page))
    (entry,) = parse_toolkit_html(text, source=str(page)).entries
    assert entry.title == "Guía \u2013 víctimas"


def test_a_renamed_row_matches_the_section_of_its_own_fragment_only(tmp_path: Path) -> None:
    """A page of hotlines linked per state: a retitled Ohio row matched the Texas entry
    (the first with that page) and gave it Ohio's publisher."""
    target = tmp_path / "mine.yaml"
    import_entries(
        target,
        [
            ImportedEntry("Texas hotlines", "https://x.org/hotlines#texas", None),
            ImportedEntry("Ohio hotlines", "https://x.org/hotlines#ohio", None),
        ],
    )
    renamed = ImportedEntry(
        "Ohio hotline list", "https://x.org/hotlines#ohio", None, {"publisher": "State of Ohio"}
    )
    result = import_entries(target, [renamed])
    assert result.matched == ("ohio-hotlines",)
    resources = {r.id: r for r in load_catalog(target).resources}
    assert resources["ohio-hotlines"].publisher == "State of Ohio"
    assert resources["texas-hotlines"].publisher is None


def test_a_section_of_the_imported_page_written_with_its_path_is_no_resource() -> None:
    """`#contacts` was skipped as pointing inside the page; `/toolkit#contacts` on the
    toolkit page itself is the same link and became an entry whose URL is the toolkit."""
    parsed = parse_toolkit_html(
        "<ul><li><a href='/toolkit#contacts'>Contacts</a></li>"
        "<li><a href='/other#part-2'>Other guide</a></li></ul>",
        base_url="https://site.example/toolkit",
    )
    assert [(e.title, e.url) for e in parsed.entries] == [
        ("Other guide", "https://site.example/other#part-2")
    ]
    (skipped,) = parsed.skipped
    assert (skipped.title, skipped.reason) == ("Contacts", "the link points inside the page")


def test_a_skipped_links_text_is_not_the_description_of_the_entry_above_it() -> None:
    """A `tel:` hotline or a relative link (no base URL) is skipped; its paragraph was
    appended to the previous entry's description and written into the catalog."""
    parsed = parse_toolkit_html(
        "<ul>"
        '<li><a href="https://example.org/report.pdf">Annual Report</a>'
        "<p>Findings about task forces.</p></li>"
        '<li><a href="tel:+18883737888">National Hotline</a><p>Call 24/7 for help.</p></li>'
        '<li><a href="/press/page">Relative Page</a><p>Text of the relative page.</p></li>'
        '<li><a href="https://example.org/guide">Guide</a><p>A guide.</p></li>'
        "</ul>"
    )
    assert [(e.title, e.description) for e in parsed.entries] == [
        ("Annual Report", "Findings about task forces."),
        ("Guide", "A guide."),
    ]
    assert [s.title for s in parsed.skipped] == ["National Hotline", "Relative Page"]


def test_a_skipped_link_under_a_heading_keeps_the_rest_of_the_headings_description() -> None:
    """A hotline's number as a `tel:` link (or a relative PDF link) inside the section of a
    resource's heading once ended that entry: the text after it was dropped from the catalog."""
    parsed = parse_toolkit_html(
        '<h3><a href="https://hotline.example/">National Hotline</a></h3>'
        "<p>Call the hotline:</p>"
        '<p><a href="tel:18883737888">1-888-373-7888</a></p>'
        "<p>Confidential, available 24/7.</p>"
        '<h3><a href="https://x.example/guide">Task Force Guide</a></h3>'
        "<p>Guidance for task forces.</p>"
        '<p><a href="/guide.pdf">Download the PDF</a></p>'
        "<p>Covers victim services.</p>"
    )
    assert [(e.title, e.description) for e in parsed.entries] == [
        ("National Hotline", "Call the hotline: Confidential, available 24/7."),
        ("Task Force Guide", "Guidance for task forces. Covers victim services."),
    ]
    assert [s.title for s in parsed.skipped] == ["1-888-373-7888", "Download the PDF"]
