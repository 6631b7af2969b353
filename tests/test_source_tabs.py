"""A tab inside a plain value (`title: Tom<TAB>Jerry`) is text to YAML 1.2 and to
libyaml, but ruamel's scanner (and PyYAML's pure-Python one) refuses it: a catalog holding
one validated only while the fast loader read it, and was a parse error ("indent with
spaces") as soon as anything sent it the full way, such as a value the fast loader leaves
to ruamel, or a curator's edit writing one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.source import load_catalog, validate_catalog

#: libyaml, as the fast loader reads.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ENTRY = "resources:\n- id: a\n  title: Tom\tJerry\n"


@pytest.mark.parametrize(
    "text",
    [
        ENTRY + "  url: 'https://x.example/a: b'\n",
        ENTRY.replace("Tom", "3 Tom") + "  url: https://x.example/\n",
        ENTRY + "  url: https://x.example/\n  description: Cats\tand mice\n",
    ],
    ids=["quoted-url", "title-starting-with-a-digit", "two-values"],
)
def test_a_tab_inside_a_value_reads_as_text_on_the_full_path(tmp_path: Path, text: str) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_text(text)
    assert validate_catalog(path).problems == ()
    (entry,) = load_catalog(path).resources
    expected = yaml.load(text, Loader=LOADER)["resources"][0]
    assert entry.title == expected["title"] and "\t" in entry.title
    assert entry.description == expected.get("description")


def test_an_edit_that_sends_the_file_the_full_way_keeps_the_tab(tmp_path: Path) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_text(ENTRY + "  url: https://x.example/\n")
    apply_edits(path, [FieldEdit("a", "url", "https://x.example/a: b")])
    assert yaml.load(path.read_text(), Loader=LOADER)["resources"][0] == {
        "id": "a",
        "title": "Tom\tJerry",
        "url": "https://x.example/a: b",
    }
    assert "  title: Tom\tJerry\n" in path.read_text()
