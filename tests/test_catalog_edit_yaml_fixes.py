"""Curator edits of YAML catalogs: values YAML 1.1 reads otherwise, tabs in plain values,
`|+` blocks at the end, files without a last line break, comments after a replaced list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml as pyyaml

from catalog import catalog_edit
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.source import _fast_catalog, load_catalog, spaced_tabs, validate_catalog

_Loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
_ENTRY = "resources:\n- id: a\n  title: T\n  url: http://a.example/\n"


def _edited(tmp_path: Path, text: str, edits: list[FieldEdit]) -> str:
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode())
    apply_edits(path, edits)
    return path.read_bytes().decode()


def _entry(text: str, rid: str = "a") -> dict[str, Any]:
    data = pyyaml.load(text, Loader=_Loader)
    return next(e for e in data["resources"] if e["id"] == rid)


# --- 1. text YAML 1.1 reads as a boolean, number or date is written quoted ------------------

_YAML11 = ["yes", "Off", "y", "n", "NO", "1:20", "12:30:00", "2024-1-2", "2024-01-02"]


@pytest.mark.parametrize("value", _YAML11)
@pytest.mark.parametrize("field", ["publisher", "title"], ids=["new-field", "plain-field"])
def test_text_yaml_1_1_reads_otherwise_is_written_quoted(
    tmp_path: Path, value: str, field: str
) -> None:
    new = _edited(tmp_path, _ENTRY, [FieldEdit("a", field, value)])
    assert f"{field}: '{value}'\n" in new
    assert _entry(new)[field] == value  # PyYAML (1.1) reads text
    assert load_catalog(tmp_path / "c.yaml").resources[0].extra.get(field, value) == value
    assert _fast_catalog(tmp_path / "c.yaml", new) is not None  # the fast loader takes it


def test_list_items_yaml_1_1_reads_otherwise_are_written_quoted(tmp_path: Path) -> None:
    text = "resources:\n- id: a\n  title: T\n  url: http://a.example/\n  tags:\n  - x\n"
    for value in (("on", "y"), ["off", "ok"]):
        new = _edited(tmp_path, text, [FieldEdit("a", "tags", value)])
        assert _entry(new)["tags"] == list(value)
        text = new
    new = _edited(tmp_path, _ENTRY, [FieldEdit("a", "tags", ["yes", "1:20"])])
    assert _entry(new)["tags"] == ["yes", "1:20"]


def test_plain_text_stays_unquoted(tmp_path: Path) -> None:
    new = _edited(tmp_path, _ENTRY, [FieldEdit("a", "publisher", "Yesterday Press")])
    assert "publisher: Yesterday Press\n" in new


# --- 2. a tab in a plain value, after a colon or at a line's end -----------------------------

_TABBED = {
    "inside": "resources:\n- id: a\n  title: Tom\tJerry\n  url: http://a.example/\n",
    "trailing": "resources:\n- id: a\n  title: T\n  url: x\t\n  notes: n\t\n",
    "after-colon": "resources:\n- id: a\n  title:\tT\n  url: http://a.example/\n",
    "wrapped": "resources:\n- id: a\n  title: Tom\tand\n   \tJerry\t x\t\n  url: http://a.example/\n",
    "flow": "resources:\n- id: a\n  title: T\n  tags: [a\tb, c]\n  url: http://a.example/\n",
    "key": "resources:\n- id: a\n  title: T\n  my\tkey: v\n  url: http://a.example/\n",
}


@pytest.fixture(params=["spliced", "whole-file"])
def _path_taken(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "whole-file":
        monkeypatch.setattr(catalog_edit, "_SPLICED_ENTRIES", -1)
    return str(request.param)


@pytest.mark.usefixtures("_path_taken")
@pytest.mark.parametrize("text", _TABBED.values(), ids=_TABBED.keys())
def test_an_entry_with_a_tab_in_a_plain_value_can_be_edited(tmp_path: Path, text: str) -> None:
    new = _edited(tmp_path, text, [FieldEdit("a", "url", "https://b.example/")])
    want = pyyaml.load(text, Loader=_Loader)
    want["resources"][0]["url"] = "https://b.example/"
    assert pyyaml.load(new, Loader=_Loader) == want
    old_url = next(line for line in text.splitlines(keepends=True) if "url:" in line)
    assert new == text.replace(old_url, "  url: https://b.example/\n")  # the tabs stay


@pytest.mark.usefixtures("_path_taken")
def test_a_value_with_a_tab_can_be_edited_itself(tmp_path: Path) -> None:
    text = _TABBED["inside"] + "- id: b\n  title: b\tc\n  url: http://b.example/\n"
    new = _edited(tmp_path, text, [FieldEdit("a", "title", "Tom\tand Jerry")])
    assert _entry(new)["title"] == "Tom\tand Jerry"
    assert _entry(new, "b")["title"] == "b\tc"
    assert "  title: b\tc\n" in new


def test_tabs_that_are_spacing_are_spaced_and_tabs_in_values_held() -> None:
    text = "a: x\t\nb:\tTom\tJerry\t# c\nc: [p\tq,\tr]\nd: 'in\tquotes'\n"
    assert spaced_tabs(text) == "a: x \nb: Tom\tJerry # c\nc: [p\tq, r]\nd: 'in\tquotes'\n"
    assert spaced_tabs(text, "\ue000") == spaced_tabs(text).replace("m\tJ", "m\ue000J").replace(
        "p\tq", "p\ue000q"
    )


def test_a_trailing_tab_no_longer_stops_the_loader_reading_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    # a warned-about url sends the file the precise (ruamel) way
    path.write_text("resources:\n- id: a\n  title: T\t\n  url: 'http://a.example/a: b'\n")
    assert [p.code for p in validate_catalog(path).problems] == []
    assert load_catalog(path).resources[0].title == "T"


# --- 3. a `|+` block at the end of the file -------------------------------------------------

_KEPT = "resources:\n- id: a\n  url: http://a.example/\n  notes: |+\n    keep\n\n"


@pytest.mark.usefixtures("_path_taken")
@pytest.mark.parametrize(
    "end", ["", "...\n", "...\n# the end\n"], ids=["none", "dots", "dots-comment"]
)
def test_a_keep_chomped_block_at_the_end_adds_no_document_end(tmp_path: Path, end: str) -> None:
    new = _edited(tmp_path, _KEPT + end, [FieldEdit("a", "url", "https://b.example/")])
    assert new == (_KEPT + end).replace("http://a.example/", "https://b.example/")
    assert _entry(new)["notes"] == "keep\n\n"


# --- 4. no last line break ------------------------------------------------------------------

_UNENDED = "resources:\n- id: b\n  url: http://b.example/\n- id: a\n  url: http://a.example/\n"


@pytest.mark.usefixtures("_path_taken")
@pytest.mark.parametrize("rid", ["a", "b"])
@pytest.mark.parametrize(
    "last", ["  notes: |\n    keep", "  notes: >\n    keep", "  notes: x\n  ", "  notes: x\n\t"]
)
def test_the_last_lines_of_a_file_without_a_last_break_stay(
    tmp_path: Path, rid: str, last: str
) -> None:
    text = _UNENDED + last
    new = _edited(tmp_path, text, [FieldEdit(rid, "url", "https://c.example/")])
    assert new == text.replace(f"http://{rid}.example/", "https://c.example/")


# --- 5. comments after a replaced block list ------------------------------------------------

_LISTED = {
    "section": "  tags:\n  - y\n\n# --- section B ---\n- id: b\n  url: http://b.example/\n",
    "inside": "  tags:\n  - y\n  # the url below was checked\n  url2: u\n",
    "commented-item": "  tags:\n  - y   # why y\n\n# --- section B ---\n- id: b\n  url: u\n",
}


@pytest.mark.usefixtures("_path_taken")
@pytest.mark.parametrize("value", [["x", "z"], ["q"]], ids=["two", "one"])
@pytest.mark.parametrize("rest", _LISTED.values(), ids=_LISTED.keys())
def test_comments_after_a_replaced_block_list_stay(
    tmp_path: Path, rest: str, value: list[str]
) -> None:
    text = "resources:\n- id: a\n  url: http://a.example/\n" + rest
    new = _edited(tmp_path, text, [FieldEdit("a", "tags", value)])
    assert _entry(new)["tags"] == value
    items = "".join(f"  - {v}\n" for v in value)
    after = rest.partition("\n")[2].partition("\n")[2]
    assert new == "resources:\n- id: a\n  url: http://a.example/\n  tags:\n" + items + after


# --- 6. an id tagged `!!str` (YAML's "this is text") is the id it spells ---------------------


@pytest.mark.parametrize("shared", [False, True], ids=["spliced", "whole-file"])
def test_an_entry_whose_id_is_tagged_str_can_be_edited(tmp_path: Path, shared: bool) -> None:
    # `shared`: an anchor used across entries sends the edit through the whole-file path
    publisher = ("  publisher: &p X\n", "  publisher: *p\n") if shared else ("", "")
    text = (
        "resources:\n- id: !!str 2019\n  title: T\n  url: http://a.example/\n  notes: !!str yes\n"
        + publisher[0]
        + "- id: b\n  title: B\n  url: http://b.example/\n"
        + publisher[1]
    )
    new = _edited(tmp_path, text, [FieldEdit("2019", "reviewed_at", "2026-01-02")])
    entry_a = text[: text.index("- id: b")]
    assert new == entry_a + "  reviewed_at: '2026-01-02'\n" + text[len(entry_a) :]
    assert load_catalog(tmp_path / "c.yaml").resources[0].id == "2019"
