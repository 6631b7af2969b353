"""Curator decisions written back into catalog files: only the intended lines change."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from datetime import date
from pathlib import Path

import pytest

from catalog import catalog_edit
from catalog.catalog_edit import EditResult, FieldEdit, apply_edits, undo_edit
from catalog.errors import CatalogError, NotFoundError
from catalog.settings import BUNDLED_CATALOG
from catalog.source import load_catalog

TOOLKIT_ID = "child-sex-trafficking-toolkit-for-law-enforcement"
SERIES_ID = "child-sex-trafficking-training-series-frontline-officers"

COMMENTED_YAML = """\
# Curated by hand; keep the sections.
collection:
  title: "Test catalog"   # shown in reports
resources:
  - id: a  # the first one
    title: 'Alpha: quoted'
    url: http://a.example/
    tags:
      - x

  # --- section two ---
  - id: b
    title: B
    url: http://b.example/   # checked by hand
    year: null
    notes: >-
      A folded note that a curator wrote
      over two lines.

  - id: c
    title: C
    url: http://c.example/
    languages: [en, es]
    description: |
      Literal text
      kept as is.
  # trailing comment of the file
"""

CSV_TEXT = (
    "id,title,url,tags\r\n"
    'a,"Alpha, with a comma",http://a.example/,x;y\r\n'
    "\r\n"
    '"b","B ""quoted""",http://b.example/,\r\n'
)


def changed_lines(result: EditResult) -> list[str]:
    return [
        line.rstrip("\r\n")
        for line in result.diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    path = tmp_path / "toolkit.yaml"
    shutil.copyfile(BUNDLED_CATALOG, path)
    return path


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    path = tmp_path / "commented.yaml"
    path.write_text(COMMENTED_YAML, encoding="utf-8")
    return path


@pytest.fixture
def csv_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "links.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"))
    return path


# --- YAML -------------------------------------------------------------------------------------


def test_replacing_a_url_in_the_bundled_catalog_changes_only_that_line(bundled: Path) -> None:
    result = apply_edits(bundled, [FieldEdit(TOOLKIT_ID, "url", "https://new.example/toolkit")])

    assert changed_lines(result) == [
        "-  url: http://www.theiacp.org/Child-Sex-Trafficking-Toolkit-for-Law-Enforcement",
        "+  url: https://new.example/toolkit",
    ]
    assert result.changed == (FieldEdit(TOOLKIT_ID, "url", "https://new.example/toolkit"),)
    resource = next(r for r in load_catalog(bundled).resources if r.id == TOOLKIT_ID)
    assert resource.url == "https://new.example/toolkit"


def test_edit_then_revert_restores_the_bundled_catalog_byte_for_byte(bundled: Path) -> None:
    original = bundled.read_bytes()
    old_url = next(r for r in load_catalog(bundled).resources if r.id == TOOLKIT_ID).url

    apply_edits(bundled, [FieldEdit(TOOLKIT_ID, "url", "https://new.example/")])
    apply_edits(bundled, [FieldEdit(TOOLKIT_ID, "url", old_url)])

    assert bundled.read_bytes() == original


def test_marking_reviewed_appends_an_iso_date_after_the_last_field(bundled: Path) -> None:
    result = apply_edits(bundled, [FieldEdit(SERIES_ID, "reviewed_at", date(2024, 5, 1))])

    assert changed_lines(result) == ["+  reviewed_at: 2024-05-01"]
    lines = bundled.read_text(encoding="utf-8").splitlines()
    added = lines.index("  reviewed_at: 2024-05-01")
    assert lines[added + 1].startswith("- id: ")  # the next resource follows directly
    resource = next(r for r in load_catalog(bundled).resources if r.id == SERIES_ID)
    assert resource.extra["reviewed_at"] == "2024-05-01"


def test_quoted_title_keeps_its_quotes_when_replaced(bundled: Path) -> None:
    result = apply_edits(bundled, [FieldEdit(SERIES_ID, "title", "Frontline series")])

    assert changed_lines(result) == [
        "-  title: 'Child Sex Trafficking: A Training Series for Frontline Officers'",
        "+  title: 'Frontline series'",
    ]


def test_comments_and_block_scalars_survive_edits_around_them(commented: Path) -> None:
    result = apply_edits(
        commented,
        [
            FieldEdit("a", "reviewed_at", "2024-01-01"),
            FieldEdit("b", "url", "http://b.example/new"),
            FieldEdit("c", "reviewed_at", "2024-01-02"),
        ],
    )

    lines = changed_lines(result)
    assert len(lines) == 4
    assert lines.count("+    reviewed_at: '2024-01-01'") == 1
    assert lines.count("+    reviewed_at: '2024-01-02'") == 1
    assert "-    url: http://b.example/   # checked by hand" in lines
    # ruamel keeps the comment's column, so only the spacing before it may shrink
    assert any(line.startswith("+    url: http://b.example/new ") for line in lines)
    assert any(line.endswith(" # checked by hand") and line[0] == "+" for line in lines)
    text = commented.read_text(encoding="utf-8")
    # the new field goes inside its entry, above the blank line and comment of the next one
    assert "      - x\n    reviewed_at: '2024-01-01'\n\n  # --- section two ---\n" in text
    assert "kept as is.\n    reviewed_at: '2024-01-02'\n  # trailing comment" in text
    assert "year: null" in text


def test_removing_a_field_keeps_the_comment_that_followed_it(commented: Path) -> None:
    result = apply_edits(commented, [FieldEdit("b", "notes", None)])

    assert len(result.changed) == 1
    text = commented.read_text(encoding="utf-8")
    assert "notes:" not in text.split("- id: c")[0]
    assert "year: null\n\n  - id: c" in text
    assert [r.notes for r in load_catalog(commented).resources] == [None, None, None]


def test_replacing_a_literal_block_keeps_its_style(commented: Path) -> None:
    apply_edits(commented, [FieldEdit("c", "description", "New text\nin two lines")])

    assert "    description: |\n      New text\n      in two lines\n" in commented.read_text()


def test_setting_a_field_to_its_current_value_changes_nothing(commented: Path) -> None:
    before = commented.read_bytes()

    result = apply_edits(
        commented,
        [FieldEdit("a", "url", "http://a.example/"), FieldEdit("a", "missing", None)],
    )

    assert result.changed == ()
    assert result.diff == ""
    assert commented.read_bytes() == before


def test_dry_run_returns_the_diff_without_writing(commented: Path) -> None:
    before = commented.read_bytes()

    result = apply_edits(commented, [FieldEdit("a", "url", "http://a2.example/")], dry_run=True)

    assert "+    url: http://a2.example/" in result.diff
    assert commented.read_bytes() == before
    # Nothing written, nothing left behind: not even the lock file a write takes.
    assert [p.name for p in commented.parent.iterdir()] == ["commented.yaml"]


def test_the_diff_numbers_and_shows_lines_as_the_file_has_them(tmp_path: Path) -> None:
    """A title pasted from a PDF may hold U+2028 (LINE SEPARATOR): a line of the file, not
    two lines of the diff, which numbered every later line one too low."""
    path = tmp_path / "kit.yaml"
    text = (
        "resources:\n- id: a\n  title: A\u2028B\n  url: http://a.example/\n"
        "- id: b\n  title: B\n  url: http://b.example/\n"
    )
    path.write_bytes(text.encode())

    result = apply_edits(path, [FieldEdit("b", "url", "http://b2.example/")], dry_run=True)

    assert result.diff.split("\n")[2:-1] == [
        "@@ -4,4 +4,4 @@",
        "   url: http://a.example/",
        " - id: b",
        "   title: B",
        "-  url: http://b.example/",
        "+  url: http://b2.example/",
    ]


def test_unknown_resource_id_raises_not_found_and_leaves_the_file(commented: Path) -> None:
    before = commented.read_bytes()

    with pytest.raises(NotFoundError) as caught:
        apply_edits(commented, [FieldEdit("nope", "url", "http://x.example/")])

    assert "nope" in str(caught.value) and str(commented) in str(caught.value)
    assert commented.read_bytes() == before


@pytest.mark.parametrize(
    "edit",
    [
        FieldEdit("a", "url", ""),
        FieldEdit("a", "url", None),
        FieldEdit("a", "id", "b"),
        FieldEdit("a", "year", "soon"),
    ],
    ids=["empty-url", "removed-url", "duplicate-id", "year-not-a-number"],
)
def test_edit_that_would_make_the_catalog_invalid_is_refused(
    commented: Path, edit: FieldEdit
) -> None:
    before = commented.read_bytes()

    with pytest.raises(CatalogError) as caught:
        apply_edits(commented, [edit])

    assert all(p.file == str(commented) for p in caught.value.problems)
    assert commented.read_bytes() == before
    assert sorted(p.name for p in commented.parent.iterdir()) == [
        ".commented.yaml.lock",
        "commented.yaml",
    ]


def test_writing_keeps_the_file_mode_and_leaves_no_temp_file(commented: Path) -> None:
    os.chmod(commented, 0o640)

    apply_edits(commented, [FieldEdit("a", "url", "http://a2.example/")])

    assert stat.S_IMODE(commented.stat().st_mode) == 0o640
    assert sorted(p.name for p in commented.parent.iterdir()) == [
        ".commented.yaml.lock",
        "commented.yaml",
    ]


def test_concurrent_edits_are_all_kept(commented: Path) -> None:
    def mark(n: int) -> None:
        apply_edits(commented, [FieldEdit("b", f"field_{n}", f"value {n}")])

    threads = [threading.Thread(target=mark, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    extra = next(r for r in load_catalog(commented).resources if r.id == "b").extra
    assert {f"field_{n}" for n in range(8)} <= set(extra)


def test_windows_line_endings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "crlf.yaml"
    path.write_bytes(COMMENTED_YAML.replace("\n", "\r\n").encode("utf-8"))

    apply_edits(path, [FieldEdit("a", "url", "http://a2.example/")])

    data = path.read_bytes()
    assert b"    url: http://a2.example/\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_classic_mac_line_endings_are_kept(tmp_path: Path) -> None:
    """CR alone: an edit added an LF line and dropped the final CR."""
    path = tmp_path / "cr.yaml"
    path.write_bytes(COMMENTED_YAML.replace("\n", "\r").encode("utf-8"))

    apply_edits(path, [FieldEdit("a", "url", "http://a2.example/")])

    data = path.read_bytes()
    assert b"    url: http://a2.example/\r" in data
    assert b"\n" not in data and data.endswith(b"\r")
    assert next(r for r in load_catalog(path).resources if r.id == "a").url == (
        "http://a2.example/"
    )


def test_mixed_line_endings_stay_as_they_were_on_the_lines_not_edited(tmp_path: Path) -> None:
    # Edited on Windows and on Linux: most lines end in LF, two in CRLF.
    path = tmp_path / "mixed.yaml"
    path.write_bytes(
        b"resources:\n- id: a\r\n  title: A\r\n  url: http://a.example/\n"
        b"- id: b\n  title: B\n  url: http://b.example/\n"
    )

    result = apply_edits(path, [FieldEdit("b", "title", "Bee"), FieldEdit("b", "year", 2020)])

    assert changed_lines(result) == ["-  title: B", "+  title: Bee", "+  year: 2020"]
    assert path.read_bytes() == (
        b"resources:\n- id: a\r\n  title: A\r\n  url: http://a.example/\n"
        b"- id: b\n  title: Bee\n  url: http://b.example/\n  year: 2020\n"
    )


def test_a_file_that_is_not_a_catalog_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "links.txt"
    path.write_text("id,title,url\n")

    with pytest.raises(CatalogError):
        apply_edits(path, [FieldEdit("a", "url", "http://a.example/")])


# --- CSV --------------------------------------------------------------------------------------


def test_csv_edit_rewrites_only_the_edited_row(csv_catalog: Path) -> None:
    result = apply_edits(csv_catalog, [FieldEdit("b", "url", "http://b.example/new")])

    assert changed_lines(result) == [
        '-"b","B ""quoted""",http://b.example/,',
        '+"b","B ""quoted""",http://b.example/new,',
    ]
    data = csv_catalog.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\n") == data.count(b"\r\n")
    assert [r.url for r in load_catalog(csv_catalog).resources] == [
        "http://a.example/",
        "http://b.example/new",
    ]


def test_csv_new_field_adds_a_column_at_the_end(csv_catalog: Path) -> None:
    apply_edits(csv_catalog, [FieldEdit("a", "reviewed_at", date(2024, 5, 1))])

    text = csv_catalog.read_bytes().decode("utf-8-sig")
    assert text.splitlines() == [
        "id,title,url,tags,reviewed_at",
        'a,"Alpha, with a comma",http://a.example/,x;y,2024-05-01',
        "",
        '"b","B ""quoted""",http://b.example/,,',
    ]
    resources = load_catalog(csv_catalog).resources
    assert [r.extra.get("reviewed_at") for r in resources] == ["2024-05-01", None]


def test_csv_removing_a_field_empties_its_cell(csv_catalog: Path) -> None:
    apply_edits(csv_catalog, [FieldEdit("a", "tags", None)])

    assert [r.tags for r in load_catalog(csv_catalog).resources] == [(), ()]


def test_csv_lists_are_written_as_separated_cells(csv_catalog: Path) -> None:
    apply_edits(csv_catalog, [FieldEdit("b", "tags", ["guide", "video"])])

    assert load_catalog(csv_catalog).resources[1].tags == ("guide", "video")


def test_csv_empty_url_is_refused(csv_catalog: Path) -> None:
    before = csv_catalog.read_bytes()

    with pytest.raises(CatalogError):
        apply_edits(csv_catalog, [FieldEdit("a", "url", "")])

    assert csv_catalog.read_bytes() == before


def test_csv_unknown_resource_id_raises_not_found(csv_catalog: Path) -> None:
    with pytest.raises(NotFoundError):
        apply_edits(csv_catalog, [FieldEdit("zzz", "url", "http://z.example/")])


def test_comments_before_a_document_start_marker_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "marked.yml"
    path.write_text(
        "# Owner: the curators\n---\nresources:\n- id: a\n  title: A\n  url: http://a.example/\n"
    )

    result = apply_edits(path, [FieldEdit("a", "title", "Alpha")])

    assert changed_lines(result) == ["-  title: A", "+  title: Alpha"]
    assert path.read_text().startswith("# Owner: the curators\n---\nresources:\n")


def test_lists_indented_unlike_the_resources_list_are_left_as_written(tmp_path: Path) -> None:
    # A common hand-written layout: the entries indented under `resources:`, their own
    # lists not; ruamel can write only one layout per file and re-indents every list.
    path = tmp_path / "mixed.yaml"
    path.write_text(
        "resources:\n"
        "  - id: a\n"
        "    title: A\n"
        "    url: https://a.example/x\n"
        "    languages:\n"
        "    - en\n"
        "    - es   # both\n"
        "  - id: b\n"
        "    title: B\n"
        "    url: https://b.example/x\n"
        "    tags:\n"
        "    - one\n"
    )

    result = apply_edits(path, [FieldEdit("b", "url", "https://b.example/new")])

    assert changed_lines(result) == [
        "-    url: https://b.example/x",
        "+    url: https://b.example/new",
    ]
    resource = next(r for r in load_catalog(path).resources if r.id == "a")
    assert resource.languages == ("en", "es")


def test_a_document_end_marker_and_the_comments_after_it_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "ended.yaml"
    path.write_text(
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n...\n# signed off: ana\n"
    )

    result = apply_edits(path, [FieldEdit("a", "title", "Alpha")])

    assert changed_lines(result) == ["-  title: A", "+  title: Alpha"]
    assert path.read_text().endswith(
        "  title: Alpha\n  url: http://a.example/\n...\n# signed off: ana\n"
    )


def test_empty_values_keep_the_way_each_was_written(tmp_path: Path) -> None:
    path = tmp_path / "nulls.yaml"
    path.write_text(
        "resources:\n"
        "- id: a\n  title: A\n  url: http://a.example/\n  year:\n"
        "- id: b\n  title: B\n  url: http://b.example/\n  year: ~   # unknown\n"
    )

    result = apply_edits(path, [FieldEdit("a", "url", "https://a.example/")])

    assert changed_lines(result) == ["-  url: http://a.example/", "+  url: https://a.example/"]


def test_flow_lists_keep_their_spacing_and_a_respaced_edit_still_lands(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        "resources:\n"
        "- id: a\n  title: A\n  url: http://a.example/\n  languages: [ en,  es ]\n  tags: [ ]\n"
        "- id: b\n  title: 'Hotline, 24/7'\n  url: http://b.example/\n"
    )

    result = apply_edits(path, [FieldEdit("b", "url", "https://b.example/")])
    assert changed_lines(result) == ["-  url: http://b.example/", "+  url: https://b.example/"]

    # Only the spacing after the comma changes: the edit must not be taken for layout.
    apply_edits(path, [FieldEdit("b", "title", "Hotline,24/7")])
    resource = next(r for r in load_catalog(path).resources if r.id == "b")
    assert resource.title == "Hotline,24/7"


def test_a_date_written_without_quotes_is_replaced_without_quotes(tmp_path: Path) -> None:
    path = tmp_path / "dated.yaml"
    path.write_text(
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n  reviewed_at: 2025-01-02\n"
    )

    result = apply_edits(path, [FieldEdit("a", "reviewed_at", date(2026, 12, 3))])

    assert changed_lines(result) == ["-  reviewed_at: 2025-01-02", "+  reviewed_at: 2026-12-03"]
    assert load_catalog(path).resources[0].extra["reviewed_at"] == "2026-12-03"


def test_a_date_is_written_bare_whether_added_or_replaced(tmp_path: Path) -> None:
    """`mark-reviewed` wrote `reviewed_at: '2026-12-21'` into an entry without one but
    `reviewed_at: 2026-12-09` over an existing one: a date is written as curators and the
    round trip write dates. A date the curator quotes keeps its quotes; text stays text."""
    path = tmp_path / "dated.yaml"
    path.write_text(
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n"
        "- id: b\n  title: B\n  url: http://b.example/\n  reviewed_at: '2025-01-02'\n"
    )

    added = apply_edits(path, [FieldEdit("a", "reviewed_at", date(2026, 12, 21))])
    replaced = apply_edits(path, [FieldEdit("a", "reviewed_at", date(2026, 12, 22))])
    quoted = apply_edits(path, [FieldEdit("b", "reviewed_at", date(2026, 12, 22))])

    assert changed_lines(added) == ["+  reviewed_at: 2026-12-21"]
    assert changed_lines(replaced) == ["-  reviewed_at: 2026-12-21", "+  reviewed_at: 2026-12-22"]
    assert changed_lines(quoted) == ["-  reviewed_at: '2025-01-02'", "+  reviewed_at: '2026-12-22'"]
    assert [r.extra["reviewed_at"] for r in load_catalog(path).resources] == ["2026-12-22"] * 2
    assert apply_edits(path, [FieldEdit("a", "reviewed_at", date(2026, 12, 22))]).changed == ()
    text = apply_edits(path, [FieldEdit("a", "edition", "2026-12-22")])
    assert changed_lines(text) == ["+  edition: '2026-12-22'"]


UNTOUCHED = [
    ('  publisher: "Caf\\u00e9 Agency"\n', "an escape in double quotes"),
    ("  type : guide\n", "a space before the colon"),
    ("  languages: &langs\n  - en\n", "an anchor nothing refers to"),
    ("  publisher: 'It''s ours'\n", "a quote written twice"),
    ('  publisher: "Agency \\"One\\""\n', "an escaped quote"),
]


@pytest.mark.parametrize(("line", "why"), UNTOUCHED, ids=[why for _, why in UNTOUCHED])
def test_lines_the_dump_would_spell_otherwise_stay_as_written(
    tmp_path: Path, line: str, why: str
) -> None:
    path = tmp_path / "spelt.yaml"
    path.write_text(
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n"
        + line
        + "- id: b\n  title: B\n  url: http://b.example/\n"
    )

    result = apply_edits(path, [FieldEdit("b", "url", "https://b.example/")])

    assert changed_lines(result) == ["-  url: http://b.example/", "+  url: https://b.example/"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_without_a_final_line_break_gets_none(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "unended.yaml"
    text = "resources:\n- id: a\n  title: A\n  url: http://a.example/\n  notes: the end"
    path.write_bytes(text.replace("\n", newline).encode())

    apply_edits(path, [FieldEdit("a", "url", "https://a.example/")])
    expected = text.replace("http:", "https:")
    assert path.read_bytes() == expected.replace("\n", newline).encode()

    apply_edits(path, [FieldEdit("a", "reviewed_at", "2026-12-03")])
    assert path.read_bytes().endswith(f"the end{newline}  reviewed_at: '2026-12-03'".encode())


def test_a_tab_before_a_comment_is_edited_around_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "tabbed.yaml"
    path.write_text(
        "resources:\n- id: a\t# first\n  title: A\t\t# aligned\n  url: http://a.example/\n"
        "  notes: |\n    keep\t# this tab\n"
    )

    result = apply_edits(path, [FieldEdit("a", "url", "https://a.example/")])

    assert changed_lines(result) == ["-  url: http://a.example/", "+  url: https://a.example/"]
    assert load_catalog(path).resources[0].notes == "keep\t# this tab\n"


@pytest.mark.parametrize(
    "title",
    [
        "title: A long title\n    written over two lines\n",
        'title: "A long title\n    written over two lines"\n',
        "title: 'A long title\n\n    with a paragraph break'\n",
    ],
    ids=["plain", "double-quoted", "single-quoted"],
)
def test_a_value_written_over_several_lines_stays_so_in_entries_not_edited(
    tmp_path: Path, title: str
) -> None:
    path = tmp_path / "wrapped.yaml"
    path.write_text(
        "resources:\n- id: a\n  "
        + title
        + "  url: http://a.example/\n- id: b\n  title: B\n  url: http://b.example/\n"
    )

    result = apply_edits(path, [FieldEdit("b", "url", "https://b.example/")])
    assert changed_lines(result) == ["-  url: http://b.example/", "+  url: https://b.example/"]

    # next to the edited line, too
    result = apply_edits(path, [FieldEdit("a", "url", "https://a.example/")])
    assert changed_lines(result) == ["-  url: http://a.example/", "+  url: https://a.example/"]


@pytest.mark.parametrize("new_url", ["https://a.example/", "https://a.example/a/longer/path"])
def test_the_edited_line_keeps_the_space_before_its_comment(tmp_path: Path, new_url: str) -> None:
    path = tmp_path / "commented.yaml"
    path.write_text(
        "resources:\n- id: a\n  title: A\n  url: http://a.example/  # checked by hand\n"
    )

    result = apply_edits(path, [FieldEdit("a", "url", new_url)])

    assert changed_lines(result) == [
        "-  url: http://a.example/  # checked by hand",
        f"+  url: {new_url}  # checked by hand",
    ]


@pytest.mark.parametrize(
    ("row", "edited"),
    [
        ('"b","B","http://b.example/"', '"b","B","https://b.example/"'),
        ("b, B, http://b.example/", "b, B, https://b.example/"),
        ('b,"B, with a comma",http://b.example/', 'b,"B, with a comma",https://b.example/'),
    ],
    ids=["all-quoted", "space-after-comma", "quoted-comma"],
)
def test_csv_edit_changes_only_the_edited_cell(tmp_path: Path, row: str, edited: str) -> None:
    """Cells nobody edited keep their quotes and spaces (R's write.csv quotes every cell)."""
    path = tmp_path / "quoted.csv"
    path.write_text(f"id,title,url\na,A,http://a.example/\n{row}\n")

    result = apply_edits(path, [FieldEdit("b", "url", "https://b.example/")])

    assert changed_lines(result) == [f"-{row}", f"+{edited}"]


def test_csv_new_column_in_a_file_quoted_throughout_is_quoted(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('"id","title","url"\n"a","A","http://a.example/"\n')

    apply_edits(path, [FieldEdit("a", "reviewed_at", "2026-12-03")])

    assert path.read_text().splitlines() == [
        '"id","title","url","reviewed_at"',
        '"a","A","http://a.example/","2026-12-03"',
    ]


@pytest.mark.parametrize("value", ["Guide, for teachers", 'The "blue" guide'])
def test_csv_edit_quotes_a_value_that_needs_it_in_a_row_spaced_after_its_commas(
    tmp_path: Path, value: str
) -> None:
    """The cell's leading space was kept before the opening quote, where a CSV reader no
    longer takes the quote as one: the comma split the cell and the edit was refused."""
    path = tmp_path / "spaced.csv"
    path.write_text("id, title, url, description\nb, B, http://b.example/, \n")

    apply_edits(path, [FieldEdit("b", "description", value)])

    assert load_catalog(path).resources[0].description == value
    assert path.read_text().splitlines()[1].startswith("b, B, http://b.example/,")


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("break_", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize(
    "rows",
    [
        "id,title,url,notes{nl}a,A,http://a.example/,{nl}",  # an empty cell filled
        "id,title,url{nl}a,A,http://a.example/{nl}",  # a column added
        "id,title,url,notes{nl}a,A,http://a.example/",  # the last row, with no line ending
    ],
    ids=["filled", "column-added", "last-row"],
)
def test_csv_edit_quotes_a_value_on_two_lines(
    tmp_path: Path, rows: str, newline: str, break_: str
) -> None:
    """A value holding a line break (a note typed with Alt+Enter) was written unquoted: a
    writer whose line terminator is "" quotes no line break, so its second line became a
    row of its own and the edit was refused as breaking the catalog."""
    path = tmp_path / "links.csv"
    path.write_bytes(rows.format(nl=newline).encode())
    value = f"Checked by hand.{break_}Moved in May."

    apply_edits(path, [FieldEdit("a", "notes", value)])

    assert load_catalog(path).resources[0].notes == value


def test_an_edit_of_a_file_written_key_space_colon_compares_each_line_a_few_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Aligned colons (`id    : a`) make every line differ from the dump, so the whole file
    is one changed block. Each edited line, found nowhere in it, was compared with every
    later line of its key joined with up to 49 lines after it (one YAML parse each): 40
    edits of a 4,000-entry file took a minute instead of seconds. A value goes on only over
    lines indented deeper than its key."""
    lines = ["resources :\n"]
    for i in range(300):
        lines += [
            f"  - id    : r{i}\n",
            f"    title : Title {i}\n",
            f"    url   : http://e{i}.example/\n",
        ]
    path = tmp_path / "aligned.yaml"
    path.write_text("".join(lines))
    calls = 0
    compare = catalog_edit._same_line

    def counting(old: str, new: str) -> bool:
        nonlocal calls
        calls += 1
        return compare(old, new)

    monkeypatch.setattr(catalog_edit, "_same_line", counting)

    apply_edits(path, [FieldEdit(f"r{i}", "url", f"https://n{i}.example/") for i in (0, 1, 2)])

    assert calls < 2 * len(lines)
    written = path.read_text().splitlines(keepends=True)
    assert written[1:3] == lines[1:3]  # untouched lines keep their spelling
    assert written[3] == "    url: https://n0.example/\n"
    assert written[10:] == lines[10:]


def test_undo_edit_puts_the_file_back_unless_it_was_edited_again(tmp_path: Path) -> None:
    """A decision whose record fails puts its edit back; a colleague's later edit stays."""
    path = tmp_path / "c.yaml"
    path.write_text(COMMENTED_YAML, encoding="utf-8")
    before = path.read_bytes()
    edited = apply_edits(path, [FieldEdit("a", "url", "https://b.org/")])
    assert undo_edit(edited)
    assert path.read_bytes() == before
    edited = apply_edits(path, [FieldEdit("a", "url", "https://b.org/")])
    later = apply_edits(path, [FieldEdit("a", "title", "Later")])
    assert not undo_edit(edited)
    assert path.read_bytes() == later.after
    assert not undo_edit(apply_edits(path, [FieldEdit("a", "title", "Later")]))  # no change
