"""Edits of large YAML catalogs round-trip only the edited entries (`catalog.yaml_splice`):
the file they write is byte for byte the one the whole-file round trip writes, and where
that cannot be sure, the whole file is taken."""

from __future__ import annotations

import difflib
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from catalog import catalog_edit, yaml_splice
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.errors import CatalogError, NotFoundError
from catalog.source import load_catalog, spaced_tabs

# --- varied catalogs ---------------------------------------------------------------------------


class _Writer:
    """A random catalog as curators write them: comments between and inside entries, each
    quoting style, block and flow lists, folded and literal text, values over two lines."""

    def __init__(self, seed: int, *, lone_dashes: bool = True) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.dash = rng.choice([0, 2])  # `- id:` under `resources:`, or indented by two
        self.nested = rng.choice([0, 2])  # a list inside an entry: dash indented or not
        self.ids: list[str] = []
        # Its own stream, so each seed's catalog is otherwise the one it always was.
        self.lone = random.Random(seed + 1_000_000)
        self.lone_dashes = lone_dashes

    def text(self) -> str:
        rng = self.rng
        lines: list[str] = []
        if rng.random() < 0.3:
            lines.append("# Curated by hand; keep the sections.")
        if rng.random() < 0.2:
            lines.append("---")
        lines.append("collection:")
        lines.append(
            rng.choice(
                [
                    "  title: Test catalog",
                    '  title: "Test catalog"   # shown in reports',
                    "  title: 'Test: catalog'",
                ]
            )
        )
        lines.append(rng.choice(["resources:", "resources:   # one entry per resource"]))
        if rng.random() < 0.2:
            lines.append(" " * self.dash + "# the first section")
        for n in range(rng.randint(1, 14)):
            lines += self.entry(n)
            lines += self.between()
        if rng.random() < 0.15:
            lines += ["# who looks after it", "maintainers:", "  - ana  # curator"]
        if rng.random() < 0.15:
            lines += ["...", "# signed off: ana"]
        newline = "\r\n" if rng.random() < 0.25 else "\n"
        text = newline.join(lines) + ("" if rng.random() < 0.1 else newline)
        return text

    def between(self) -> list[str]:
        rng = self.rng
        pick = rng.random()
        if pick < 0.6:
            return []
        if pick < 0.75:
            return [""]
        if pick < 0.9:
            return ["", " " * rng.choice([0, self.dash]) + "# --- next section ---", ""]
        return [" " * self.dash + "# a note on the entry above"]

    def entry(self, n: int) -> list[str]:
        rng = self.rng
        pad = " " * (self.dash + 2)
        rid = f"r{n}" if rng.random() < 0.8 else f"res-{n}-x"
        self.ids.append(rid)
        if rng.random() < 0.05:
            return [" " * self.dash + f"- {{id: {rid}, title: Flow, url: 'http://f.example/'}}"]
        written_id = rng.choice([rid, rid, rid, f"'{rid}'", f'"{rid}"'])
        first = " " * self.dash + f"- id: {written_id}"
        if rng.random() < 0.2:
            first += rng.choice(["  # added by hand", "\t# a tab before a comment"])
        lines = [first]
        if self.lone.random() < 0.1 and self.lone_dashes:  # `-` alone, the entry below it
            lines = [" " * self.dash + "-", pad + first.lstrip(" ").removeprefix("- ")]
        fields = [
            self.title,
            self.url,
            self.publisher,
            self.year,
            self.languages,
            self.tags,
            self.notes,
            self.reviewed,
            self.inner_comment,
            self.anchored,
        ]
        rng.shuffle(fields)
        lines += self.title(pad) + self.url(pad)
        for make in fields[: rng.randint(0, len(fields))]:
            if make not in (self.title, self.url):
                lines += make(pad)
        return lines

    def title(self, pad: str) -> list[str]:
        return [
            pad
            + self.rng.choice(
                [
                    "title: Alpha guide",
                    "title: 'Alpha: quoted'",
                    'title: "Caf\\u00e9 and more"',
                    "title: 'It''s ours'",
                    "title: A long title\n" + pad + "  written over two lines",
                    "title: Hotline, 24/7   # open all day",
                ]
            )
        ]

    def url(self, pad: str) -> list[str]:
        return [
            pad
            + self.rng.choice(
                [
                    "url: http://a.example/",
                    "url: https://b.example/path?x=1&y=2",
                    'url: "http://c.example/quoted"',
                    "url: http://d.example/   # checked by hand",
                ]
            )
        ]

    def publisher(self, pad: str) -> list[str]:
        return [pad + self.rng.choice(["publisher: Agency", "publisher: 'The Agency'"])]

    def year(self, pad: str) -> list[str]:
        return [pad + self.rng.choice(["year: 2019", "year:", "year: ~", "year: null"])]

    def languages(self, pad: str) -> list[str]:
        rng = self.rng
        if rng.random() < 0.5:
            return [pad + rng.choice(["languages: [en, es]", "languages: [ en,  es ]"])]
        item = pad + " " * self.nested + "- "
        return [pad + "languages:", item + "en", item + "es" + rng.choice(["", "   # both"])]

    def tags(self, pad: str) -> list[str]:
        item = pad + " " * self.nested + "- "
        lines = [pad + "tags:", item + "guide"]
        if self.rng.random() < 0.5:
            lines.append(item + "'video: short'")
        return lines

    def notes(self, pad: str) -> list[str]:
        rng = self.rng
        style = rng.choice([">-", "|", "|-", ">"])
        return [
            pad + f"notes: {style}",
            pad + "  A note that a curator wrote",
            pad + "  over two lines.",
        ]

    def reviewed(self, pad: str) -> list[str]:
        return [pad + self.rng.choice(["reviewed_at: 2025-01-02", "reviewed_at: '2025-01-02'"])]

    def anchored(self, pad: str) -> list[str]:
        """An anchor and its alias in one entry."""
        name = f"who{len(self.ids)}"
        return [pad + f"contact: &{name} The Agency", pad + f"notes_by: *{name}"]

    def inner_comment(self, pad: str) -> list[str]:
        return [pad + "# checked on the phone"]

    def edits(self) -> list[FieldEdit]:
        rng = self.rng
        out: list[FieldEdit] = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            rid = rng.choice(self.ids)
            field, value = rng.choice(
                [
                    ("url", "https://new.example/moved"),
                    ("url", "http://a.example/"),  # often the current value: no change
                    ("title", "New title: with a colon"),
                    ("title", "It's new"),
                    ("title", "Café # not a comment"),
                    ("reviewed_at", date(2026, 12, 3)),
                    ("reviewed_at", "2026-12-03"),
                    ("year", 2020),
                    ("year", None),
                    ("notes", None),
                    ("notes", "Replaced\nin two lines"),
                    ("tags", ["guide", "video"]),
                    ("tags", None),
                    ("languages", ["en"]),
                    ("publisher", None),
                    ("url_confidence", "high"),
                    ("description", "A new description that is written on one line."),
                ]
            )
            out.append(FieldEdit(rid, field, value))
        return out


def _outcome(run: Any, path: Path, text: str, edits: list[FieldEdit]) -> Any:
    try:
        return run(path, text, edits)
    except (CatalogError, NotFoundError) as exc:
        return type(exc)


def _span(text: str, found: yaml_splice.Resources, index: int) -> tuple[int, int]:
    start = found.items[index].start
    end = found.items[index + 1].start if index + 1 < len(found.items) else found.end
    assert start is not None and end is not None
    return start, end


def _edited_entries_only(text: str, whole: str, edits: list[FieldEdit]) -> str:
    """`text` with each edited entry as the whole-file round trip wrote it in `whole`."""
    before, after = yaml_splice.scan(text), yaml_splice.scan(whole)
    assert before is not None and after is not None
    ids = [item.id for item in before.items]
    out = text
    for index in sorted({ids.index(e.resource_id) for e in edits}, reverse=True):
        start, end = _span(text, before, index)
        new_start, new_end = _span(whole, after, index)
        out = out[:start] + whole[new_start:new_end] + out[end:]
    return out


def _whole_entry_by_entry(path: Path, text: str, edits: list[FieldEdit]) -> tuple[Any, set[int]]:
    """What the whole-file round trip writes for each edited entry, the entries edited one
    after another, every other entry as it was; and the seeds' rewritten entries.

    For one entry this is the round trip's own result when it keeps the other entries as
    they were. Given edits of several entries at once, its line alignment spans them all
    and it may respell lines of one entry for another's sake (a list re-indented); and
    when it cannot put the layout back it writes every entry anew. The splice writes each
    edited entry as the round trip writes it alone, and leaves the others be.
    """
    order = list(dict.fromkeys(edit.resource_id for edit in edits))
    changed: list[int] = []
    rewritten: set[int] = set()
    for rid in order:
        batch = [at for at, edit in enumerate(edits) if edit.resource_id == rid]
        outcome = _outcome(catalog_edit._edit_yaml_whole, path, text, [edits[at] for at in batch])
        if not isinstance(outcome, tuple):
            return outcome, rewritten
        new, took = outcome
        if not took:
            continue
        alone = _edited_entries_only(text, new, took)
        if alone != new:
            rewritten.add(len(changed))
        text = alone
        left = list(took)
        for at in batch:
            if left and left[0] is edits[at]:
                changed.append(at)
                left.pop(0)
    if not changed:
        return (text, []), rewritten
    return (text, [edits[at] for at in sorted(changed)]), rewritten


def _outside_entries(text: str, rids: set[str]) -> list[str]:
    """`text` cut around the entries `rids`: what an edit of them must leave as it is."""
    found = yaml_splice.scan(text)
    assert found is not None
    pieces, done = [], 0
    for index, item in enumerate(found.items):
        if item.id in rids:
            start, end = _span(text, found, index)
            pieces.append(text[done:start])
            done = end
    return [*pieces, text[done:]]


def _outside_spans(text: str, rid: str) -> list[str]:
    """`text` cut around the entry `rid` as `yaml_splice.spans` finds it (any layout)."""
    found = yaml_splice.spans(text)
    data = YAML(typ="safe", pure=True).load(text)["resources"]
    assert found is not None
    (span,) = [s for s, entry in zip(found, data, strict=True) if entry.get("id") == rid]
    return [text[: span.start], text[span.body_end :]]


def _data(text: str) -> Any:
    """What `text` holds, as ruamel reads it (an anchor name may be used twice)."""
    return YAML(typ="safe", pure=True).load(spaced_tabs(text))


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
@pytest.mark.parametrize("seed", range(150))
def test_splicing_writes_what_the_whole_file_round_trip_writes(seed: int) -> None:
    writer = _Writer(seed)
    text = writer.text()
    edits = writer.edits()
    path = Path(f"generated-{seed}.yaml")
    if len(set(writer.ids)) < len(writer.ids):  # a repeated id goes the whole way
        assert catalog_edit._edit_yaml_spliced(path, text, edits) is None
        return

    spliced = _outcome(catalog_edit._edit_yaml_spliced, path, text, edits)
    expected, rewritten = _whole_entry_by_entry(path, text, edits)

    assert spliced is not None, "the generated catalogs are all ones the splice can take"
    if not rewritten:  # for one entry edited, `expected` is the round trip's own result
        assert spliced == expected, text
        return
    whole = _outcome(catalog_edit._edit_yaml_whole, path, text, edits)
    # The round trip gave up on the layout and wrote every entry anew: the splice writes
    # the same data, and changes nothing but the edited entries.
    assert spliced[1] == whole[1]
    assert _data(spliced[0]) == _data(whole[0])
    rids = {edit.resource_id for edit in spliced[1]}
    assert _outside_entries(spliced[0], rids) == _outside_entries(text, rids)


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
def test_most_generated_edits_are_kept_to_their_lines_by_the_round_trip() -> None:
    """The property above compares outputs byte for byte in most cases, not only data
    (a `-` alone on its line is always written anew by the whole-file round trip)."""
    given_up = 0
    for seed in range(40):
        writer = _Writer(seed, lone_dashes=False)
        text, edits = writer.text(), writer.edits()
        if len(set(writer.ids)) == len(writer.ids):
            given_up += bool(_whole_entry_by_entry(Path("g.yaml"), text, edits)[1])
    assert given_up <= 2


def test_the_generated_catalogs_vary(tmp_path: Path) -> None:
    """The property above covers what it claims: CRLF, files without a last line break,
    both dash indentations, entries edited next to each other."""
    texts = [_Writer(seed).text() for seed in range(150)]
    assert sum("\r\n" in t for t in texts) > 20
    assert sum(not t.endswith("\n") for t in texts) > 5
    assert sum("\n  - id:" in t for t in texts) > 30
    assert sum("\n- id:" in t for t in texts) > 30
    assert sum("\t#" in t for t in texts) > 5
    assert sum("\n...\n" in t or "\r\n...\r\n" in t for t in texts) > 5
    assert sum("maintainers:" in t for t in texts) > 5
    assert sum("- {id:" in t for t in texts) > 5
    assert sum(": &who" in t for t in texts) > 5
    assert sum("\n-\n" in t or "\n  -\n" in t or "-\r\n" in t for t in texts) > 20


# --- the whole file, where splicing cannot be sure ----------------------------------------------


def _entries(count: int, *, dash: str = "- ") -> str:
    return "".join(
        f"{dash}id: r{n}\n  title: T{n}\n  url: http://e{n}.example/\n" for n in range(count)
    )


FALLBACKS = {
    "repeated-id": ("resources:\n" + _entries(3) + _entries(1), FieldEdit("r0", "title", "X")),
    "anchor-used-by-another-entry": (
        "resources:\n- id: a\n  title: A\n  url: http://a.example/\n  tags: &shared [x]\n"
        "- id: b\n  title: B\n  url: http://b.example/\n  tags: *shared\n",
        FieldEdit("a", "tags", ["y"]),
    ),
    "anchor-in-the-collection": (
        "collection:\n  title: &t Shared\nresources:\n- id: a\n  title: *t\n"
        "  url: http://a.example/\n",
        FieldEdit("a", "url", "http://a2.example/"),
    ),
    "flow-style-list": (
        "resources: [{id: a, title: A, url: 'http://a.example/'}]\n",
        FieldEdit("a", "url", "http://a2.example/"),
    ),
    "dash-then-comment": (
        "resources:\n- # first\n  id: a\n  title: A\n  url: http://a.example/\n" + _entries(1),
        FieldEdit("a", "url", "http://a2.example/"),
    ),
    "yaml-directive": (
        "%YAML 1.1\n---\nresources:\n" + _entries(2),
        FieldEdit("r1", "title", "New"),
    ),
    "id-edited": ("resources:\n" + _entries(2), FieldEdit("r0", "id", "r9")),
    "merge-key-and-an-unknown-id": (
        "resources:\n- &base\n  id: a\n  title: A\n  url: http://a.example/\n"
        "- <<: *base\n  title: B\n",
        FieldEdit("nope", "url", "http://n.example/"),
    ),
    "lone-carriage-return": (
        "resources:\r- id: a\r  title: A\r  url: http://a.example/\r",
        FieldEdit("a", "title", "New"),
    ),
    "top-level-key-indented": (
        "  resources:\n  - id: a\n    title: A\n    url: http://a.example/\n",
        FieldEdit("a", "title", "New"),
    ),
}


@pytest.mark.parametrize(("text", "edit"), FALLBACKS.values(), ids=FALLBACKS.keys())
def test_what_splicing_cannot_be_sure_of_goes_the_whole_way(
    tmp_path: Path, text: str, edit: FieldEdit
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_bytes(text.encode())

    assert catalog_edit._edit_yaml_spliced(path, text, [edit]) is None
    expected = _outcome(catalog_edit._edit_yaml_whole, path, text, [edit])
    got = _outcome(catalog_edit._edit_yaml, path, text, [edit])
    if got == expected:
        return
    # The whole file's data, but only the edited entry's lines written anew
    # (`_edited_entries_only`): here, the round trip moved the comment after its dash.
    assert got[1] == expected[1]
    assert _data(got[0]) == _data(expected[0])
    assert _outside_spans(got[0], edit.resource_id) == _outside_spans(text, edit.resource_id)


REFUSED = {
    "repeated-key": "resources:\n- id: a\n  title: A\n  title: B\n  url: http://a.example/\n",
    "second-document": "resources:\n" + _entries(2) + "---\nresources:\n" + _entries(1),
    "resources-not-a-list": "resources:\n  id: r0\n  url: http://a.example/\n",
    "not-a-mapping": "- id: r0\n  url: http://a.example/\n",
}


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_a_file_the_round_trip_refuses_is_still_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    edit = FieldEdit("r0", "url", "http://new.example/")

    assert catalog_edit._edit_yaml_spliced(path, text, [edit]) is None
    with pytest.raises(CatalogError):
        apply_edits(path, [edit])
    assert path.read_text() == text


def test_an_id_read_as_a_number_is_not_found_as_the_round_trip_finds_it_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.yaml"
    text = "resources:\n- id: 123\n  title: A\n  url: http://a.example/\n"
    path.write_text(text)
    edit = FieldEdit("123", "title", "New")

    with pytest.raises(NotFoundError):
        catalog_edit._edit_yaml_whole(path, text, [edit])
    with pytest.raises(NotFoundError):
        catalog_edit._edit_yaml_spliced(path, text, [edit])


# --- large files -------------------------------------------------------------------------------


@pytest.fixture
def never_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    def whole(path: Path, text: str, edits: Any) -> Any:
        raise AssertionError("the whole file was round-tripped")

    monkeypatch.setattr(catalog_edit, "_edit_yaml_whole", whole)


def _big(count: int) -> str:
    parts = ["# Curated by hand.\ncollection:\n  title: Big\nresources:\n"]
    for n in range(count):
        if n % 100 == 0:
            parts.append(f"\n  # --- section {n // 100} ---\n\n")
        parts.append(
            f"  - id: r{n}   # by hand\n"
            f"    title: 'Resource {n}: a guide'\n"
            f"    url: https://e{n % 50}.example/{n}\n"
            "    tags:\n"
            "      - guide\n"
        )
    return "".join(parts)


@pytest.mark.usefixtures("never_whole")
def test_an_edit_of_a_large_catalog_changes_its_lines_without_the_whole_round_trip(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.yaml"
    text = _big(2000)
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())

    result = apply_edits(
        path,
        [
            FieldEdit("r1000", "url", "https://moved.example/"),
            FieldEdit("r1999", "reviewed_at", date(2026, 12, 3)),
            FieldEdit("r0", "title", "First"),
        ],
    )

    assert len(result.changed) == 3
    expected = (
        text.replace("https://e0.example/1000\n", "https://moved.example/\n").replace(
            "'Resource 0: a guide'", "'First'"
        )
        + "    reviewed_at: 2026-12-03\n"
    )
    assert path.read_bytes() == b"\xef\xbb\xbf" + expected.replace("\n", "\r\n").encode()
    assert next(r for r in load_catalog(path).resources if r.id == "r1000").url == (
        "https://moved.example/"
    )


@pytest.mark.usefixtures("never_whole")
def test_an_unknown_id_is_reported_without_the_whole_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(_big(500))

    with pytest.raises(NotFoundError, match="'r9999'"):
        apply_edits(path, [FieldEdit("r9999", "url", "https://x.example/")])


def test_an_edit_whose_layout_cannot_be_kept_rewrites_its_entry_only(tmp_path: Path) -> None:
    """Lists inside an entry indented unlike each other (`languages` by 0, `tags` by 2),
    which no one guessed layout fits: an edited `tags` list's new item, written as the
    first list is, cannot go back in the file's layout, and the whole-file round trip then
    wrote every entry anew (lists re-indented, `\\u00e9` spelt `é`) for one edit."""
    entries = [
        f'  - id: r{n}\n    title: "Caf\\u00e9 {n}"\n    url: http://e{n}.example/\n'
        f"    languages:\n    - en\n    tags:\n      - guide\n      - extra\n    year: ~\n"
        for n in range(3)
    ]
    text = "resources:\n" + "".join(entries)
    path = tmp_path / "lists.yaml"
    path.write_text(text)
    edit = FieldEdit("r1", "tags", ["guide", "video"])
    whole, _ = catalog_edit._edit_yaml_whole(path, text, [edit])
    assert not whole.startswith("resources:\n" + entries[0])  # what this is about
    rewritten = whole[whole.index("  - id: r1") : whole.index("  - id: r2")]

    apply_edits(path, [edit])

    assert path.read_text() == "resources:\n" + entries[0] + rewritten + entries[2]
    assert next(r for r in load_catalog(path).resources if r.id == "r1").tags == (
        "guide",
        "video",
    )


# --- the diff ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda lines: lines.__setitem__(0, "changed first\n"),
        lambda lines: lines.__setitem__(-1, "changed last\n"),
        lambda lines: lines.insert(500, "inserted\n"),
        lambda lines: (lines.__setitem__(100, "x\n"), lines.__setitem__(900, "y\n")),
        lambda lines: lines.__delitem__(slice(300, 310)),
        lambda lines: lines.__setitem__(-1, lines[-1].rstrip("\n")),
    ],
    ids=["first", "last", "insert", "two-hunks", "delete", "last-line-break"],
)
def test_the_diff_is_the_one_difflib_gives_for_the_whole_file(change: Any) -> None:
    old = [f"line {n}\n" for n in range(1000)]
    new = list(old)
    change(new)
    path = Path("catalog.yaml")

    expected = "".join(difflib.unified_diff(old, new, str(path), str(path)))
    assert catalog_edit._diff(path, "".join(old), "".join(new)) == expected


def test_the_diff_of_a_long_file_numbers_its_hunk_as_the_whole_file_has_it() -> None:
    """Only the lines around the change are compared (difflib took 20 s for a 20,000-entry
    catalog), and the hunk still says where in the file they are."""
    old = "".join(f"  - id: r{n}\n    tags:\n    - guide\n" for n in range(1000))
    new = old.replace("  - id: r500\n", "  - id: r500\n    year: 2020\n")

    diff = catalog_edit._diff(Path("catalog.yaml"), old, new)

    assert [line for line in diff.splitlines() if line[:1] in "+-"] == [
        "--- catalog.yaml",
        "+++ catalog.yaml",
        "+    year: 2020",
    ]
    assert "@@ -1499,6 +1499,7 @@" in diff


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
@pytest.mark.usefixtures("never_whole")
def test_an_anchor_name_used_in_every_entry_leaves_the_other_entries_as_written(
    tmp_path: Path,
) -> None:
    """Entries copied from one another with their anchor: the whole-file round trip, whose
    check reads the file with libyaml (which refuses a repeated anchor), wrote every entry
    anew for one edit."""
    entries = [
        f'- id: r{n}\n  title: "Caf\\u00e9 {n}"\n  url: http://e{n}.example/\n'
        f"  publisher: &who Agency\n  contact: *who\n"
        for n in range(3)
    ]
    path = tmp_path / "anchors.yaml"
    path.write_text("resources:\n" + "".join(entries))

    apply_edits(path, [FieldEdit("r1", "url", "https://moved.example/")])

    written = path.read_text()
    assert written.startswith("resources:\n" + entries[0])
    assert written.endswith(entries[2])
    resource = next(r for r in load_catalog(path).resources if r.id == "r1")
    assert (resource.url, resource.title) == ("https://moved.example/", "Café 1")


def test_the_edit_benchmark_runs_on_a_small_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import catalog_edit as bench_edit

    assert bench_edit.main(["--entries", "30"]) == 0
    assert bench_edit.main(["--entries", "20", "--full", "--only", "curated"]) == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row.get("path") for row in rows if "changed" in row] == ["splice"] * 4 + [
        "whole-file"
    ] * 2
    assert all(row["changed"] == 1 for row in rows if "changed" in row)


def test_an_edit_of_most_entries_of_a_file_goes_whole(tmp_path: Path) -> None:
    """An excerpt per entry costs more than one round trip of the whole file, past a third
    of its entries (an import filling a field of every entry)."""
    text = _big(400)
    edits = [FieldEdit(f"r{n}", "year", 2020) for n in range(0, 400, 2)]

    assert catalog_edit._edit_yaml_spliced(Path("big.yaml"), text, edits) is None
    assert catalog_edit._edit_yaml_spliced(Path("big.yaml"), text, edits[:5]) is not None
