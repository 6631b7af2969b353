"""An edit that goes through the whole-file round trip (anchors shared between entries, an
entry written `- # comment`, an id edited) writes only the entries it edits: the round
trip writes every entry anew where it cannot put the file's layout back, so the edited
entries alone are taken from it (`catalog_edit._edited_entries_only`)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from catalog import catalog_edit, yaml_splice
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.source import load_catalog, spaced_tabs
from tests.test_catalog_splice import _outcome, _Writer

HEAD = "collection:\n  title: T\nresources:\n"
#: An anchor shared between entries sends every edit of this file the whole way.
PASTED = (
    HEAD + "- id: a\n"
    '  title: "Caf\\u00e9 guide"\n'
    "  url: https://a.org/\n"
    "  languages: [ en,  es ]\n"
    "  publisher: &pub Polaris\n"
    "-   id: d\n"
    "    title: Pasted from a 4-space file\n"
    "    url: https://d.org/\n"
    "-\n"
    "  id: e\n"
    "  title: E\n"
    "  url: https://e.org/\n"
    "  \n"
    "- id: f\n"
    "  title: F\n"
    "  url: https://f.org/\n"
    "  publisher: *pub\n"
)
COMMENTED = (
    HEAD + "- id: ua\n  title: A\n  url: https://a.org/\n"
    "- id: ub\n  title: B\n  url: https://b.org/\n"
    "- # TODO: find the 2024 edition\n  id: uc\n  title: C\n  url: https://c.org/\n"
)


def _edited(tmp_path: Path, text: str, edits: list[FieldEdit]) -> str:
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode())
    apply_edits(path, edits)
    return path.read_bytes().decode()


LONE_E = "-\n  id: e\n  title: E\n  url: https://e.org/\n  \n"


@pytest.mark.parametrize("text", [PASTED, PASTED.replace(LONE_E, "")], ids=["spliced", "whole"])
def test_an_entry_indented_by_four_is_edited_in_its_own_layout_and_alone(
    tmp_path: Path, text: str
) -> None:
    # "whole": its neighbour refers to an anchor of another entry (r4's F2 reproduction)
    new = _edited(tmp_path, text, [FieldEdit("d", "reviewed_at", "2026-12-05")])

    url = "    url: https://d.org/\n"
    assert new == text.replace(url, url + "    reviewed_at: '2026-12-05'\n")


@pytest.mark.parametrize("rid", ["a", "e", "f"])
def test_an_edit_next_to_shared_anchors_leaves_every_other_entry_as_written(
    tmp_path: Path, rid: str
) -> None:
    new = _edited(tmp_path, PASTED, [FieldEdit(rid, "title", "New title")])

    titles = {"a": '  title: "Caf\\u00e9 guide"\n', "e": "  title: E\n", "f": "  title: F\n"}
    title = '  title: "New title"\n' if rid == "a" else "  title: New title\n"  # its quotes
    assert new == PASTED.replace(titles[rid], title)


@pytest.mark.parametrize("rid", ["ua", "ub", "uc"])
def test_a_dash_followed_by_a_comment_stays_with_its_entry(tmp_path: Path, rid: str) -> None:
    new = _edited(tmp_path, COMMENTED, [FieldEdit(rid, "url", "https://x.org/")])

    old = f"https://{rid[1]}.org/"
    assert new == COMMENTED.replace(old, "https://x.org/")


def test_an_edited_id_leaves_the_other_entries_as_written(tmp_path: Path) -> None:
    new = _edited(tmp_path, PASTED, [FieldEdit("d", "id", "d2")])

    assert new == PASTED.replace("-   id: d\n", "-   id: d2\n")


def test_an_edit_the_entries_cannot_be_found_for_is_written_as_the_round_trip_writes(
    tmp_path: Path,
) -> None:
    """Moving the anchor's value out of the entry that holds it changes the entry that
    refers to it too: the whole file's round trip, as before."""
    path = tmp_path / "c.yaml"
    edit = FieldEdit("a", "publisher", "Other")
    whole = catalog_edit._edit_yaml_whole(path, PASTED, [edit])
    assert catalog_edit._edited_entries_only(PASTED, whole[0]) is None

    new = _edited(tmp_path, PASTED, [edit])

    assert new == whole[0]
    publishers = {r.id: r.publisher for r in load_catalog(path).resources}
    assert publishers == {"a": "Other", "d": None, "e": None, "f": "Polaris"}


FLOW = (
    "collection:\n  title: T\n"
    "resources: [\n"
    "  {id: a, title: A, url: https://a.example.org/x},  # c1\n"
    "  {id: b, title: B,\n"
    "   url: https://b.example.org/x},\n"
    "  {id: c, title: C, url: https://c.example.org/x}\n"
    "]\n"
)
#: A JSON catalog saved as `.yaml`: a flow mapping holding a flow list.
JSON = (
    '{"collection": {"title": "T"},\n'
    ' "resources": [\n'
    '  {"id": "a", "title": "A", "url": "https://a.example.org/x"},\n'
    '  {"id": "b", "title": "B", "url": "https://b.example.org/x"},\n'
    '  {"id": "c", "title": "C", "url": "https://c.example.org/x"}\n'
    " ]\n"
    "}\n"
)


@pytest.mark.parametrize(
    ("text", "old", "new"),
    [
        (
            FLOW,
            "  {id: b, title: B,\n   url: https://b.example.org/x},\n",
            "  {id: b, title: B, url: https://b.example.org/new},\n",
        ),
        (
            JSON,
            '  {"id": "b", "title": "B", "url": "https://b.example.org/x"},\n',
            '  {"id": "b", "title": "B", "url": "https://b.example.org/new"},\n',
        ),
    ],
    ids=["flow", "json"],
)
def test_a_flow_resources_list_over_several_lines_keeps_the_other_entries_lines(
    tmp_path: Path, text: str, old: str, new: str
) -> None:
    """The round trip writes a flow list on one line, its comments on lines of their own:
    only the edited entry's `{...}` is taken from it."""
    path = tmp_path / "flow.yaml"
    path.write_text(text)

    result = apply_edits(path, [FieldEdit("b", "url", "https://b.example.org/new")])

    assert path.read_text() == text.replace(old, new)
    assert {r.id: r.url for r in load_catalog(path).resources}["b"] == "https://b.example.org/new"
    changed = [line for line in result.diff.splitlines() if line[:1] in "+-"]
    assert not any("a.example.org" in line or "c.example.org" in line for line in changed)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"], ids=["LS", "PS", "NEL"])
def test_a_line_separator_in_another_entrys_plain_title_leaves_that_entry_as_written(
    tmp_path: Path, separator: str
) -> None:
    """A title pasted from a PDF may hold U+2028 (LINE SEPARATOR), which libyaml reads as a
    line break and ruamel as a character of the title: the file goes the whole way, and
    the round trip wrote `b`'s title anew, quoted over two lines."""
    b_title = f"    title: B{separator}line\n"
    text = (
        HEAD + "  - id: a\n    title: A\n    url: https://a.example.org/x\n"
        "  - id: b\n" + b_title + "    url: https://b.example.org/x\n"
        "  - id: c\n    title: 'C\u2029  para'\n    url: https://c.example.org/x\n"
    )
    path = tmp_path / "kit.yaml"
    path.write_bytes(text.encode())

    result = apply_edits(path, [FieldEdit("a", "url", "https://a.example.org/new")])

    assert path.read_bytes().decode() == text.replace("a.example.org/x", "a.example.org/new")
    assert [line for line in result.diff.splitlines() if line[:1] in "+-"][2:] == [
        "-    url: https://a.example.org/x",
        "+    url: https://a.example.org/new",
    ]


# --- generated layouts -------------------------------------------------------------------------


class _Layouts(_Writer):
    """`_Writer`'s catalogs with entries pasted from a file indented by four, entries
    written `- # comment`, and lines of spaces only between entries."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.shape = random.Random(seed + 2_000_000)

    def entry(self, n: int) -> list[str]:
        lines = super().entry(n)
        dash = " " * self.dash + "- "
        first = lines[0]
        if not first.startswith(dash + "id:"):  # a flow entry or a dash alone
            return lines
        pick = self.shape.random()
        if pick < 0.3:
            rest = ["  " + line.replace("\n", "\n  ") for line in lines[1:]]
            return [dash + "  " + first[len(dash) :], *rest]
        if pick < 0.5:
            return [dash + "# note on the entry", " " * len(dash) + first[len(dash) :], *lines[1:]]
        if pick < 0.6:
            return [*lines, " " * self.shape.choice([1, 2, 4])]
        return lines


def _outside(text: str, rids: set[str]) -> list[str]:
    """`text` cut around the entries `rids` (their lines of content)."""
    found = yaml_splice.spans(text)
    entries = YAML(typ="safe", pure=True).load(spaced_tabs(text))["resources"]
    assert found is not None
    pieces, done = [], 0
    for span, entry in zip(found, entries, strict=True):
        if isinstance(entry, dict) and entry.get("id") in rids:
            pieces.append(text[done : span.start])
            done = span.body_end
    return [*pieces, text[done:]]


def _data(text: str) -> object:
    return YAML(typ="safe", pure=True).load(spaced_tabs(text))


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
def test_the_whole_file_round_trip_is_kept_to_the_edited_entries_in_any_layout() -> None:
    kept = tried = 0
    for seed in range(120):
        writer = _Layouts(seed)
        text, edits = writer.text(), writer.edits()
        if len(set(writer.ids)) < len(writer.ids):
            continue
        whole = _outcome(catalog_edit._edit_yaml_whole, Path("g.yaml"), text, edits)
        if not isinstance(whole, tuple) or not whole[1]:
            continue
        tried += 1
        narrowed = catalog_edit._edited_entries_only(text, whole[0])
        if narrowed is None:
            continue
        kept += 1
        assert _data(narrowed) == _data(whole[0]), text
        rids = {edit.resource_id for edit in whole[1]}
        assert _outside(narrowed, rids) == _outside(text, rids), text
    assert tried > 60
    assert kept >= tried * 0.8, (kept, tried)


def test_the_generated_layouts_vary() -> None:
    texts = [_Layouts(seed).text() for seed in range(120)]
    assert sum("\n-   id:" in t or "\n  -   id:" in t for t in texts) > 20
    assert sum("- # note on the entry" in t for t in texts) > 20
    assert sum("\n \n" in t or "\n  \n" in t or "\n    \n" in t for t in texts) > 10
