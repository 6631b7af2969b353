"""What curators write by hand survives the tools that rewrite their YAML catalogs: an anchor
or a tag on an entry's dash line (lost to the whole-file round trip), the comments after a
list an edit empties (lost with its items), and the layout of the lists an import appends
(which followed the `resources` list, not the lists inside the entries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml as pyyaml
from typer.testing import CliRunner

from catalog import catalog_edit
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.importer import ImportedEntry, import_entries
from catalog.source import load_catalog, validate_catalog
from flows.cli import app

runner = CliRunner()


def _entry(rid: str) -> str:
    return f"- id: {rid}\n  title: {rid.upper()}\n  url: http://{rid}.example/\n"


def _ids(path: Path) -> list[str]:
    return [r.id for r in load_catalog(path).resources]


# --- 1. an anchor or a tag on an entry's dash line ---------------------------------------------

DASH_LINES = ["- &base\n", "- !!map\n", "- &base !!map\n", "- !!map &base\n"]

ANCHORED = (
    "  id: a\n  title: A\n  url: http://a.example/\n  publisher: !!str 1984\n  tags: &t\n  - x\n"
)


def _whole_file_cases() -> dict[str, tuple[str, list[FieldEdit]]]:
    """Edits that take the whole-file round trip, each on a file whose first entry
    (`a`, anchored or tagged) nobody edits."""
    body = ANCHORED + _entry("b") + _entry("c") + _entry("d")
    return {
        "id-edit": ("resources:\n{dash}" + body, [FieldEdit("b", "id", "b2")]),
        "yaml-directive": (
            "%YAML 1.2\n---\nresources:\n{dash}" + body,
            [FieldEdit("b", "title", "New")],
        ),
        "repeated-id": (
            "resources:\n{dash}" + body + _entry("d"),
            [FieldEdit("d", "title", "New")],
        ),
        "most-entries": (
            "resources:\n{dash}" + body,
            [FieldEdit(rid, "title", "New") for rid in "bcd"],
        ),
    }


WHOLE = _whole_file_cases()


@pytest.fixture
def no_minimum_splice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A third of the entries decides, however small the file (as for 300 entries and more)."""
    monkeypatch.setattr(catalog_edit, "_SPLICED_ENTRIES", 0)


@pytest.mark.usefixtures("no_minimum_splice")
@pytest.mark.parametrize("dash", DASH_LINES, ids=[d.strip() for d in DASH_LINES])
@pytest.mark.parametrize(("text", "edits"), WHOLE.values(), ids=WHOLE.keys())
def test_the_whole_file_round_trip_keeps_an_unedited_entrys_anchor_and_tag(
    tmp_path: Path, dash: str, text: str, edits: list[FieldEdit]
) -> None:
    text = text.format(dash=dash)
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert catalog_edit._edit_yaml_spliced(path, text, edits) is None  # the whole file goes

    apply_edits(path, edits)

    written = path.read_text()
    assert dash + ANCHORED in written
    assert written.startswith(text[: text.index(ANCHORED) + len(ANCHORED)])


@pytest.mark.parametrize("whole", [False, True], ids=["spliced", "whole-file"])
@pytest.mark.parametrize("dash", DASH_LINES, ids=[d.strip() for d in DASH_LINES])
def test_an_edited_entry_keeps_its_own_anchor_and_tag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dash: str, whole: bool
) -> None:
    if whole:
        monkeypatch.setattr(catalog_edit, "_edit_yaml_spliced", lambda *args: None)
    text = "resources:\n" + dash + ANCHORED + _entry("b")
    path = tmp_path / "c.yaml"
    path.write_text(text)

    apply_edits(path, [FieldEdit("a", "title", "New")])

    assert path.read_text() == text.replace("title: A\n", "title: New\n")


def test_an_anchor_merged_into_another_entry_stays_with_the_merge(tmp_path: Path) -> None:
    text = (
        "resources:\n- &base\n  id: a\n  title: A\n  url: http://a.example/\n"
        "- <<: *base\n  id: b\n  title: B\n"
    )
    path = tmp_path / "c.yaml"
    path.write_text(text)

    apply_edits(path, [FieldEdit("b", "id", "b2")])

    assert path.read_text() == text.replace("id: b\n", "id: b2\n")
    assert _ids(path) == ["a", "b2"]


# --- 2. a list emptied to [] keeps the comments after it --------------------------------------

#: A file, the lines of its list `tags` of entry `a`, and those lines once the list is emptied.
EMPTIED = {
    "last-key-then-an-entry": (
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n"
        "  tags:\n  - x\n  - y\n  # keep me\n\n  # and me\n" + _entry("b"),
        "  tags:\n  - x\n  - y\n",
        "  tags: []\n",
    ),
    "a-key-follows": (
        "resources:\n- id: a\n  title: A\n  tags:\n  - x\n  # keep me\n"
        "  url: http://a.example/\n" + _entry("b"),
        "  tags:\n  - x\n",
        "  tags: []\n",
    ),
    "last-entry-of-the-file": (
        "resources:\n" + _entry("b") + "- id: a\n  title: A\n  url: http://a.example/\n"
        "  tags:\n    - x\n    - y\n  # keep me\n# the end of the file\n",
        "  tags:\n    - x\n    - y\n",
        "  tags: []\n",
    ),
    "indented-list": (
        "resources:\n  - id: a\n    title: A\n    url: http://a.example/\n"
        "    tags:\n      - x\n    # keep me\n  - id: b\n    title: B\n    url: http://b.example/\n",
        "    tags:\n      - x\n",
        "    tags: []\n",
    ),
    "a-comment-on-the-key": (
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n"
        "  tags:  # by hand\n  - x\n  # keep me\n" + _entry("b"),
        "  tags:  # by hand\n  - x\n",
        "  tags: []  # by hand\n",
    ),
    "a-comment-above-the-items": (
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n"
        "  tags:\n  # the tags we use\n  - x\n  # keep me\n" + _entry("b"),
        "  tags:\n  # the tags we use\n  - x\n",
        "  tags: []\n  # the tags we use\n",
    ),
}


@pytest.mark.parametrize("whole", [False, True], ids=["spliced", "whole-file"])
@pytest.mark.parametrize(("text", "old", "new"), EMPTIED.values(), ids=EMPTIED.keys())
def test_a_list_emptied_keeps_the_comments_written_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, old: str, new: str, whole: bool
) -> None:
    if whole:
        monkeypatch.setattr(catalog_edit, "_edit_yaml_spliced", lambda *args: None)
    path = tmp_path / "c.yaml"
    path.write_text(text)

    apply_edits(path, [FieldEdit("a", "tags", [])])

    assert path.read_text() == text.replace(old, new)
    entry = next(r for r in load_catalog(path).resources if r.id == "a")
    assert entry.tags == ()


def test_a_list_emptied_then_filled_in_one_edit_is_a_block_list_again(tmp_path: Path) -> None:
    text, old, _ = EMPTIED["last-key-then-an-entry"]
    path = tmp_path / "c.yaml"
    path.write_text(text)

    apply_edits(path, [FieldEdit("a", "tags", []), FieldEdit("a", "tags", ["z"])])

    assert path.read_text() == text.replace(old, "  tags:\n  - z\n")


def test_a_key_added_after_an_emptied_list_goes_before_the_comments(tmp_path: Path) -> None:
    text, old, _ = EMPTIED["last-key-then-an-entry"]
    path = tmp_path / "c.yaml"
    path.write_text(text)

    apply_edits(path, [FieldEdit("a", "tags", []), FieldEdit("a", "year", 2020)])

    assert path.read_text() == text.replace(old, "  tags: []\n  year: 2020\n")


# --- 3. an import writes its lists as the file's entries do ------------------------------------

LAYOUTS = {
    "four-dash-at-zero-lists-indented": (
        "resources:\n-   id: a\n    title: A\n    url: http://a.example/\n"
        "    tags:\n        - x\n        - y\n",
        "    tags:\n        - p\n        - q\n    languages:\n        - en\n",
    ),
    "four-dash-at-zero-lists-flat": (
        "resources:\n-   id: a\n    title: A\n    url: http://a.example/\n    tags:\n    - x\n",
        "    tags:\n    - p\n    - q\n    languages:\n    - en\n",
    ),
    "four-dash-at-zero-lists-as-entries": (
        "resources:\n-   id: a\n    title: A\n    url: http://a.example/\n    tags:\n    -   x\n",
        "    tags:\n    -   p\n    -   q\n    languages:\n    -   en\n",
    ),
    "four-dash-indented-lists-two": (
        "resources:\n    - id: a\n      title: A\n      url: http://a.example/\n"
        "      tags:\n        - x\n",
        "      tags:\n        - p\n        - q\n      languages:\n        - en\n",
    ),
    "four-dash-indented-lists-flat": (
        "resources:\n    - id: a\n      title: A\n      url: http://a.example/\n"
        "      tags:\n      - x\n",
        "      tags:\n      - p\n      - q\n      languages:\n      - en\n",
    ),
    "two-dash-lists-four": (
        "resources:\n  - id: a\n    title: A\n    url: http://a.example/\n    tags:\n        - x\n",
        "    tags:\n        - p\n        - q\n    languages:\n        - en\n",
    ),
    "lists-only-in-a-later-entry": (
        "collection:\n    title: C\nresources:\n-   id: a\n    title: A\n"
        "    url: http://a.example/\n-   id: c\n    title: C\n    url: http://c.example/\n"
        "    languages:\n        - en\n",
        "    tags:\n        - p\n        - q\n    languages:\n        - en\n",
    ),
}

_NEW = ImportedEntry("B", "http://b.example/", fields={"tags": ["p", "q"], "languages": ["en"]})


@pytest.mark.parametrize(("text", "lists"), LAYOUTS.values(), ids=LAYOUTS.keys())
def test_an_import_writes_its_lists_as_the_files_entries_do(
    tmp_path: Path, text: str, lists: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)

    import_entries(path, [_NEW])

    written = path.read_text()
    assert written.startswith(text)
    assert written[len(text) :].endswith(lists)
    assert not validate_catalog(path).problems
    entry = next(r for r in load_catalog(path).resources if r.id == "b")
    assert (entry.tags, entry.languages) == (("p", "q"), ("en",))


def test_an_import_into_a_file_without_lists_in_its_entries_follows_the_resources_list(
    tmp_path: Path,
) -> None:
    text = "resources:\n-   id: a\n    title: A\n    url: http://a.example/\n"
    path = tmp_path / "c.yaml"
    path.write_text(text)

    import_entries(path, [_NEW])

    assert "    tags:\n    -   p\n    -   q\n" in path.read_text()[len(text) :]


def test_cli_import_csv_into_a_four_space_catalog_follows_its_lists(isolated_cwd: Path) -> None:
    text, _ = LAYOUTS["four-dash-at-zero-lists-indented"]
    (isolated_cwd / "mine.yaml").write_text(text)
    (isolated_cwd / "sheet.csv").write_text(
        "title,url,tags,languages\nB,http://b.example/,p; q,en\n", encoding="utf-8"
    )

    result = runner.invoke(app, ["catalog", "import-csv", "sheet.csv", "--into", "mine.yaml"])

    assert result.exit_code == 0, result.output
    written = (isolated_cwd / "mine.yaml").read_text()
    data: Any = pyyaml.safe_load(written)
    assert data["resources"][1]["tags"] == ["p", "q"]
    assert "        - p\n        - q\n" in written[len(text) :]
    assert "-   p" not in written


# --- lists an edit writes into an entry follow the file's entry lists --------------------------


@pytest.mark.parametrize("whole", [False, True], ids=["spliced", "whole-file"])
@pytest.mark.parametrize(("text", "lists"), LAYOUTS.values(), ids=LAYOUTS.keys())
def test_an_edit_writes_a_list_as_the_files_entries_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, lists: str, whole: bool
) -> None:
    """An import's fills and a curator's edits go through `apply_edits`: a 4-space file
    got `-   p` lists in entries that write `    - x`."""
    if whole:
        monkeypatch.setattr(catalog_edit, "_edit_yaml_spliced", lambda *args: None)
    path = tmp_path / "c.yaml"
    path.write_text(text)

    apply_edits(path, [FieldEdit("a", "tags", ["p", "q"]), FieldEdit("a", "languages", ["en"])])

    tags = lists.split("    languages:")[0].rstrip("\n ").split("tags:\n")[1]
    assert tags + "\n" in path.read_text()
