"""Curator edits of a catalog whose entries start with a dash alone on its line.

ruamel's indentation guess (`load_yaml_guess_indent`) reads past the end of a lone `-` that
follows a `key:` line before any nested mapping (IndexError): `catalog_edit` joins such
dashes to their entry's first line for the guess only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml.util import load_yaml_guess_indent

from catalog import catalog_edit, yaml_splice
from catalog.catalog_edit import FieldEdit, apply_edits, guess_indent
from catalog.errors import CatalogError
from catalog.source import load_catalog

LONE_DASH = {
    "first-entry-right-after-resources": (
        "resources:\n-\n  id: a\n  title: A\n  url: http://a.example/\n"
        "- id: b\n  title: B\n  url: http://b.example/\n"
    ),
    "every-entry": (
        "resources:\n-\n  id: a\n  title: A\n  url: http://a.example/\n"
        "-\n  id: b\n  title: B\n  url: http://b.example/\n"
    ),
    "flow-collection-indented-dash-then-blank-line": (
        "collection: {title: C}\nresources:\n  -\n\n    id: a\n    title: A\n"
        "    url: http://a.example/\n"
    ),
    "dash-then-spaces": "resources:\n-   \n  id: a\n  title: A\n  url: http://a.example/\n",
    "dash-then-comment-line": (
        "resources:\n-\n  # the first one\n  id: a\n  title: A\n  url: http://a.example/\n"
    ),
    "crlf": "resources:\r\n-\r\n  id: a\r\n  title: A\r\n  url: http://a.example/\r\n",
}


@pytest.mark.parametrize("text", LONE_DASH.values(), ids=LONE_DASH.keys())
def test_an_entry_after_a_lone_dash_can_be_edited(tmp_path: Path, text: str) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_bytes(text.encode())

    result = apply_edits(path, [FieldEdit("a", "url", "http://a2.example/")])

    assert result.changed
    urls = {r.id: r.url for r in load_catalog(path).resources}
    assert urls["a"] == "http://a2.example/"
    assert urls.get("b", "http://b.example/") == "http://b.example/"


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        ("resources:\n-\n  id: a\n  title: A\n", "resources:\n- id: a\n  title: A\n"),
        (
            "c: {t: 1}\nresources:\n  -\n    id: a\n    title: A\n",
            "c: {t: 1}\nresources:\n  - id: a\n    title: A\n",
        ),
        ("resources:\n-\n    id: a\n    title: A\n", "resources:\n-   id: a\n    title: A\n"),
    ],
)
def test_the_guess_is_the_one_for_the_entry_written_on_its_dash_line(
    text: str, joined: str
) -> None:
    _, indent, block_seq_indent = load_yaml_guess_indent(joined)

    assert guess_indent(text) == (indent, block_seq_indent)


def test_an_empty_entry_after_a_lone_dash_is_refused_naming_file_and_line(
    tmp_path: Path,
) -> None:
    """A `-` with nothing under it is an empty entry: the loader's own error, not a crash."""
    path = tmp_path / "toolkit.yaml"
    text = "resources:\n-\n- id: a\n  title: A\n  url: http://a.example/\n"
    path.write_text(text)

    try:
        apply_edits(path, [FieldEdit("a", "title", "B")])
    except CatalogError as exc:
        assert all(p.file == str(path) and p.line for p in exc.problems)
    else:  # edited: the empty entry was wrong before the edit and is still reported
        with pytest.raises(CatalogError) as raised:
            load_catalog(path)
        assert raised.value.problems[0].line == 2


# --- only the edited entry is written anew ----------------------------------------------------

_LONE = "-\n  id: {rid}\n  title: T {rid}   # kept\n  url: http://{rid}.example/\n"
_FLAT = "- id: {rid}\n  title: T {rid}\n  url: http://{rid}.example/\n"


def _catalog(*entries: str) -> str:
    return "collection:\n  title: C\nresources:\n" + "".join(
        (_LONE if lone == "-" else _FLAT).format(rid=rid)
        for lone, rid in (entry.split(":") for entry in entries)
    )


@pytest.mark.parametrize(
    ("text", "rid"),
    [
        (_catalog("-:a", "-:b", "-:c"), "b"),  # between two lone dashes
        (_catalog("-:a", "-:b", "-:c"), "a"),  # the first, a lone dash after it
        (_catalog("-:a", "-:b", "-:c"), "c"),  # the last
        (_catalog("=:a", "-:b", "=:c"), "a"),  # the entry before a lone dash
        (_catalog("=:a", "-:b", "=:c"), "b"),
    ],
)
def test_an_edit_next_to_lone_dashes_rewrites_its_entry_only(
    tmp_path: Path, text: str, rid: str
) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_text(text)
    edit = FieldEdit(rid, "url", "http://new.example/")

    spliced = catalog_edit._edit_yaml_spliced(path, text, [edit])
    whole, _ = catalog_edit._edit_yaml_whole(path, text, [edit])

    assert spliced is not None, "a lone dash no longer sends the edit the whole way"
    new, changed = spliced
    assert changed == [edit]
    # The edited entry as the whole-file round trip writes it; every other line as it was.
    old_entry = (_LONE if f"-\n  id: {rid}\n" in text else _FLAT).format(rid=rid)
    entry = old_entry.replace("-\n  id:", "- id:").replace(
        f"http://{rid}.example/", "http://new.example/"
    )
    assert entry in whole
    assert new == text.replace(old_entry, entry)
    apply_edits(path, [edit])
    assert path.read_text() == new


def test_a_comment_after_a_lone_dash_still_goes_the_whole_way(tmp_path: Path) -> None:
    text = "resources:\n- # first\n  id: a\n  title: A\n  url: http://a.example/\n"
    path = tmp_path / "toolkit.yaml"
    path.write_text(text)

    assert catalog_edit._edit_yaml_spliced(path, text, [FieldEdit("a", "title", "B")]) is None


def test_scan_places_a_lone_dash_entry_at_its_dash() -> None:
    text = "resources:\n  -\n    id: a\n    title: A\n  - id: b\n    title: B\n"

    found = yaml_splice.scan(text)

    assert found is not None
    first, second = found.items
    assert (first.start, first.dash, first.id) == (text.index("  -\n"), 2, "a")
    assert (second.start, second.dash, second.id) == (text.index("  - id: b"), 2, "b")
