"""Entries an import appends to a YAML catalog go inside the `resources` list and take
nothing from the entry above: not the blank lines a keep-chomped block (`|+`) holds as
part of its value, and not the place after a document end marker (`...`), where the new
entries made a second document that the catalog was then refused for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog.importer import ImportedEntry, import_entries
from catalog.source import load_catalog, validate_catalog

KEPT = "resources:\n- id: a\n  title: A\n  url: http://a.example/\n  notes: |+\n    kept\n\n\n"


@pytest.mark.parametrize(
    ("text", "notes"),
    [
        (KEPT, "kept\n\n\n"),
        (KEPT + "# after the list\n", "kept\n\n\n"),
        (KEPT.replace("|+", ">+"), "kept\n\n\n"),
        # Clipped: the blank lines are not the value's, and stay after the new entry.
        (KEPT.replace("|+", "|"), "kept\n"),
    ],
    ids=["keep", "keep-then-comment", "folded-keep", "clip"],
)
def test_a_kept_block_keeps_its_blank_lines(tmp_path: Path, text: str, notes: str) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_text(text)
    result = import_entries(path, [ImportedEntry("B", "http://b.example/")])
    assert result.added == ("b",)
    data = yaml.safe_load(path.read_text())
    assert data["resources"][0]["notes"] == notes
    assert [r["id"] for r in data["resources"]] == ["a", "b"]
    assert not validate_catalog(path).problems


@pytest.mark.parametrize("ending", ["...\n", "...\n# the end\n", "\n...\n"])
def test_entries_go_before_a_document_end_marker(tmp_path: Path, ending: str) -> None:
    path = tmp_path / "toolkit.yaml"
    head = "resources:\n- id: a\n  title: A\n  url: http://a.example/\n"
    path.write_text(head + ending)
    import_entries(path, [ImportedEntry("B", "http://b.example/")])
    assert not validate_catalog(path).problems
    assert [r.id for r in load_catalog(path).resources] == ["a", "b"]
    text = path.read_text()
    assert text.startswith(head) and text.endswith(ending)
