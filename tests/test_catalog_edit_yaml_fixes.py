"""Curator edits of YAML catalogs: values YAML 1.1 reads otherwise, tabs in plain values,
`|+` blocks at the end, files without a last line break, comments after a replaced list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml as pyyaml

from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.source import _fast_catalog, load_catalog

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
