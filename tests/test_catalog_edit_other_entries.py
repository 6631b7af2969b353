"""An edit of one entry leaves every other entry as it was, though the file ties them
together: a YAML merge key (`- <<: *course`), a list shared through an alias
(`tags: *common`), a CSV row with a value past the header's last column. And a file
the loader reads is one an edit can write (a `%TAG` directive)."""

from __future__ import annotations

from pathlib import Path

from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.source import validate_catalog

HEAD = "collection:\n  title: T\nresources:\n"


def written(tmp_path: Path, text: str, name: str = "cat.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_catalog_starting_with_a_tag_directive_can_be_edited(tmp_path: Path) -> None:
    text = (
        "%TAG !e! tag:example.com,2000:\n---\n" + HEAD + "- id: a\n  title: A\n"
        "  url: https://a.example/\n  tags:\n  - x\n"
    )
    path = written(tmp_path, text)
    assert not validate_catalog(path).problems

    apply_edits(path, [FieldEdit("a", "url", "https://n.example/")])

    assert path.read_text() == text.replace("https://a.example/", "https://n.example/")
