"""Curator edits of hand-kept YAML catalogs, tried on what real files hold: comments in and
between entries, CRLF, a byte order mark, no last line break, `...`, block scalars, unicode,
values that need quotes once edited, several edits at once.

Each edit must load to exactly the data asked for, change no line but the edited fields'
lines, and (where the project says so) write what the whole-file round trip writes."""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml as pyyaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.scanner import ScannerError

from catalog import catalog_edit
from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.source import load_catalog, spaced_tabs
from tests.test_catalog_splice import _outcome, _whole_entry_by_entry

_BOM = b"\xef\xbb\xbf"
_Loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)

# --- what an edit must do -----------------------------------------------------------------------


def _data(text: str) -> Any:
    """What `text` holds as the project reads it (ruamel, YAML 1.2; libyaml where ruamel
    cannot read a tab in a plain value, which both YAML versions read alike)."""
    try:
        return _plain(YAML(typ="safe", pure=True).load(spaced_tabs(text)))
    except ScannerError:
        return _plain(pyyaml.load(text, Loader=_Loader))


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _block_scalar(text: str, rid: str, name: str) -> bool:
    """Whether entry `rid` writes `name` as a `|` or `>` block."""
    for entry in _entry_nodes(text):
        if _node_id(entry) == rid:
            return any(
                k.value == name and getattr(v, "style", None) in ("|", ">") for k, v in entry.value
            )
    return False


def _intended(text: str, edits: list[FieldEdit]) -> Any:
    """`text`'s data with `edits` applied: dates as ISO text, and a block that ended its
    text with a line break keeps ending it (`|` stays `|`, not `|-`), as documented."""
    data = _data(text)
    for edit in edits:
        entry = next(e for e in data["resources"] if e.get("id") == edit.resource_id)
        value = _plain(list(edit.value) if isinstance(edit.value, tuple) else edit.value)
        old = entry.get(edit.field)
        if value is None:
            entry.pop(edit.field, None)
            continue
        if (
            isinstance(old, str)
            and isinstance(value, str)
            and old.endswith("\n")
            and not value.endswith("\n")
            and _block_scalar(text, edit.resource_id, edit.field)
        ):
            value += "\n"
        entry[edit.field] = value
    return data


def _entry_nodes(text: str) -> list[pyyaml.MappingNode]:
    root = pyyaml.compose(text, Loader=_Loader)
    resources = next(v for k, v in root.value if k.value == "resources")
    return [e for e in resources.value if isinstance(e, pyyaml.MappingNode)]


def _node_id(entry: pyyaml.MappingNode) -> str | None:
    return next((v.value for k, v in entry.value if k.value == "id"), None)


def _field_lines(text: str, edits: list[FieldEdit]) -> set[int]:
    """The lines (0-based) of the edited fields, key to the end of the value, in `text`."""
    wanted: dict[str, set[str]] = {}
    for edit in edits:
        wanted.setdefault(edit.resource_id, set()).add(edit.field)
    lines: set[int] = set()
    for entry in _entry_nodes(text):
        names = wanted.get(str(_node_id(entry)), set())
        for key, value in entry.value:
            if key.value not in names:
                continue
            end = value.end_mark.line + (1 if value.end_mark.column else 0)
            if isinstance(value, pyyaml.ScalarNode) and value.style in ("|", ">"):
                end = value.end_mark.line
            lines.update(range(key.start_mark.line, max(end, key.start_mark.line + 1)))
    return lines


def _stray_change(old: str, new: str, edits: list[FieldEdit]) -> str | None:
    """A line the edit changed outside the edited fields, if any."""
    newline = "\r\n" if "\r\n" in old else "\n"
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for lines in (before, after):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += newline  # a missing last line break is checked on its own
    kept_before, kept_after = _field_lines(old, edits), _field_lines(new, edits)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for i in range(i1, i2):
            if i not in kept_before:
                return f"line {i + 1} {before[i]!r} changed"
        for j in range(j1, j2):
            if j not in kept_after:
                return f"line {j + 1} {after[j]!r} added"
    return None


def _edit(tmp_path: Path, raw: bytes, edits: list[FieldEdit]) -> bytes:
    path = tmp_path / "catalog.yaml"
    path.write_bytes(raw)
    apply_edits(path, edits)
    return path.read_bytes()


def _check(tmp_path: Path, raw: bytes, edits: list[FieldEdit]) -> str:
    """Apply `edits` to a file holding `raw`; assert the edit did what it should. The text."""
    out = _edit(tmp_path, raw, edits)
    assert out.startswith(_BOM) == raw.startswith(_BOM)
    text, new = raw.decode("utf-8-sig"), out.decode("utf-8-sig")
    assert _data(new) == _intended(text, edits)
    assert _stray_change(text, new, edits) is None
    assert new.endswith("\n") == text.endswith("\n")
    if "\r\n" in text and text.count("\n") == text.count("\r\n"):
        assert new.count("\n") == new.count("\r\n"), "a CRLF file got LF lines"
    if "\r\n" not in text:
        assert "\r" not in new
    return new


# --- generated catalogs ------------------------------------------------------------------------

_TITLES = [
    "Alpha guide",
    "'It''s «quoted» 東京'",
    '"Caf\\u00e9 ☕"',
    "Mid 🎉 שלום مرحبا",
    "Hotline, 24/7   # open all day",
    "'Alpha: quoted'",
    "A long title\n{pad}  written over two lines",
    "'single quoted\n{pad}  and wrapped'",
    "x" * 400,
    '"tab\\there"',
    "a trailing tab\t",  # tabs that are spacing, which ruamel's scanner refuses
    "\tafter a tab",
    ">-\n{pad}  a folded title\n{pad}  on two lines",
]
_URLS = [
    "http://a.example/",
    "https://b.example/path?x=1&y=2",
    '"http://c.example/quoted"',
    "http://d.example/   # checked by hand",
    "'http://e.example/sq'",
    "http://f.example/#frag",
]
_NEW_URLS = [
    "https://new.example/moved",
    "https://new.example/a#b",
    "https://new.example/a: b",
    "https://new.example/é",
    "http://a.example/",  # often the current value: nothing changes
    "https://new.example/' \"q",
    "https://x.example/?q=*&r=!",
]
#: Fields an import fills when the entry has none (or an empty one).
_FILLS: list[tuple[str, Any]] = [
    ("description", "Filled in by an import."),
    ("description", "*starts with a star"),
    ("description", "Two lines\nof text"),
    ("publisher", "Agency: Ministry"),
    ("publisher", "2024-01-01"),
    ("year", 2020),
    ("tags", ["guide", "video: short"]),
    ("languages", ["en"]),
]


@st.composite
def _more_fields(draw: st.DrawFn, pad: str, nested: int) -> list[str]:
    """The lines of one more field of an entry (or a comment, or a blank line)."""
    item = pad + " " * nested + "- "
    kind = draw(
        st.sampled_from(
            ["publisher", "year", "tags", "flow", "notes", "reviewed", "comment", "extra", "blank"]
        )
    )
    if kind == "publisher":
        return [pad + draw(st.sampled_from(["publisher: Agency", "publisher: 'The Agency'"]))]
    if kind == "year":
        return [pad + draw(st.sampled_from(["year: 2019", "year: ~", "year: null", "year:"]))]
    if kind == "tags":
        last = draw(st.sampled_from(["'video: short'", "es   # both", "東京"]))
        return [pad + "tags:", item + "guide", item + last]
    if kind == "flow":
        return [pad + draw(st.sampled_from(["tags: [en, es]", "tags: [ en,  es ]", "tags: []"]))]
    if kind == "notes":
        style = draw(st.sampled_from(["|", "|-", ">", ">-", "|2"]))
        lines = [
            pad + f"notes: {style}",
            pad + "  A note a curator wrote",
            pad + "  over two lines.",
        ]
        if draw(st.booleans()):
            lines += ["", pad + "  after a blank line\twith a tab"]
        return lines
    if kind == "reviewed":
        return [
            pad
            + draw(
                st.sampled_from(
                    [
                        "reviewed_at: 2025-01-02",
                        "reviewed_at: '2025-01-02'",
                        "reviewed_at: 2025-01-02  # ana",
                    ]
                )
            )
        ]
    if kind == "comment":
        return [
            pad + draw(st.sampled_from(["# checked on the phone", "#no space", "# ünïcode 東京"]))
        ]
    if kind == "extra":
        inner = pad + "  " + " " * nested + "- "
        return [pad + "extra:", pad + "  nested: {a: 1, b: [x, y]}", pad + "  list:", inner + "one"]
    return [""]


@st.composite
def _catalogs(draw: st.DrawFn) -> tuple[bytes, list[FieldEdit]]:
    """A catalog as curators keep them, and the edits the CLI and imports make."""
    dash = draw(st.sampled_from([0, 2, 4]))
    after_dash = draw(st.sampled_from([2, 2, 4]))  # `- id:` or `-   id:`
    nested = draw(st.sampled_from([0, 2]))
    pad = " " * (dash + after_dash)
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("# Curated by hand; keep the sections.")
    if draw(st.integers(0, 4)) == 0:
        lines.append(draw(st.sampled_from(["---", "--- # start"])))
    if draw(st.booleans()):
        lines += ["collection:", '  title: "Toolkit — ünïcode"   # shown', "  description: |"]
        lines += ["    Several lines", "      indented"]
    lines.append(
        draw(st.sampled_from(["resources:", "resources:   # one per resource", "resources:  "]))
    )
    if draw(st.integers(0, 4)) == 0:
        lines.append(" " * dash + "# the first section")
    fields: dict[str, set[str]] = {}
    for n in range(draw(st.integers(1, 6))):
        rid = f"r{n}"
        written_id = draw(st.sampled_from([rid, rid, f"'{rid}'", f'"{rid}"']))
        comment = draw(st.sampled_from(["", "   # by hand", "\t# a tab before a comment"]))
        first = {
            "id": f"id: {written_id}{comment}",
            "title": "title: " + draw(st.sampled_from(_TITLES)).replace("{pad}", pad),
            "url": "url: " + draw(st.sampled_from(_URLS)),
        }
        order = draw(st.permutations(["id", "title", "url"]))
        body: list[str] = []
        for key in order:
            line, *wrapped = first[key].split("\n")  # wrapped lines hold their indentation
            body += [pad + line, *wrapped]
        names = {"id", "title", "url"}
        for more in draw(st.lists(_more_fields(pad, nested), max_size=4)):
            name = more[0].strip().partition(":")[0]
            if more[0].strip() and not more[0].strip().startswith("#"):
                if name in names:
                    continue
                names.add(name)
            body += more
        fields[rid] = names
        lines.append(" " * dash + "-" + " " * (after_dash - 1) + body[0][len(pad) :])
        lines += body[1:]
        lines += draw(
            st.sampled_from(
                [
                    [],
                    [],
                    [""],
                    ["", " " * dash + "# --- next section ---", ""],
                    [pad + "# a note on the entry above"],
                    ["# a note at the margin"],
                ]
            )
        )
    trailer = draw(
        st.sampled_from(
            [
                [],
                ["# after the last entry"],
                ["...", "# signed off"],
                ["..."],
                ["maintainers:", "  - ana  # curator"],
                ["", "# end", ""],
            ]
        )
    )
    lines += trailer
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    # No last line break only after a trailer: a `|` block that ends a file without one
    # is written anew as `|-` (same text, another line), which is left out here.
    last = draw(st.sampled_from([newline, newline, ""])) if trailer else newline
    text = newline.join(lines) + last
    edits: list[FieldEdit] = []
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        rid = draw(st.sampled_from(sorted(fields)))
        kind = draw(st.sampled_from(["url", "reviewed", "fill"]))
        if kind == "url":
            edits.append(FieldEdit(rid, "url", draw(st.sampled_from(_NEW_URLS))))
        elif kind == "reviewed":
            edits.append(
                FieldEdit(
                    rid, "reviewed_at", draw(st.sampled_from([date(2026, 12, 3), date(2025, 1, 2)]))
                )
            )
        else:
            name, value = draw(st.sampled_from(_FILLS))
            if name not in fields[rid] or name == "year":
                edits.append(FieldEdit(rid, name, value))
    bom = _BOM if draw(st.integers(0, 4)) == 0 else b""
    return bom + text.encode(), edits or [FieldEdit("r0", "url", "https://new.example/moved")]


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_catalogs())
def test_an_edit_of_a_hand_kept_catalog_changes_the_edited_fields_only(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[bytes, list[FieldEdit]]
) -> None:
    raw, edits = case
    tmp_path = tmp_path_factory.mktemp("edit")
    text = raw.decode("utf-8-sig")
    path = tmp_path / "catalog.yaml"
    path.write_bytes(raw)

    spliced = _outcome(catalog_edit._edit_yaml_spliced, path, text, edits)
    expected, rewritten = _whole_entry_by_entry(path, text, edits)
    _check(tmp_path, raw, edits)

    assert spliced is not None, "the generated catalogs are all ones the splice can take"
    if not rewritten:
        assert spliced == expected


# --- values that need quotes once written ------------------------------------------------------


def _entries(*ids: str, dash: int = 2, extra: dict[str, str] | None = None) -> str:
    pad = " " * (dash + 2)
    out = []
    for rid in ids:
        out.append(
            f"{' ' * dash}- id: {rid}\n{pad}title: Title {rid}\n{pad}url: http://{rid}.example/\n"
        )
        out.append((extra or {}).get(rid, ""))
    return "".join(out)


_AWKWARD = [
    "https://new.example/a#b",
    "https://new.example/a: b",
    "https://new.example/ #not-a-comment",
    "*star",
    "&amp",
    "!bang",
    "%pct",
    "@at",
    "`tick",
    "- dash",
    "? question",
    "-",
    "|pipe",
    ">gt",
    "'single",
    '"double',
    "#hash",
    "a # b",
    "a: b",
    "{x}",
    "[x]",
    "123",
    "1e3",
    "0x1F",
    "true",
    "yes",
    "null",
    "~",
    "2020-01-01",
    "12:30",
    "...",
    "---",
    " leading space",
    "trailing space ",
    "tab\tinside",
    "Café ☕ 東京 עברית مرحبا 🎉",
    "quote ' and \" both",
    "nbsp\u00a0and zero\u200bwidth",
    "two\nlines",
    "ends with a line break\n",
    "x" * 300,
]


@pytest.mark.parametrize("where", ["first", "mid", "last"])
def test_a_value_that_needs_quotes_reads_back_as_written(tmp_path: Path, where: str) -> None:
    for n, value in enumerate(_AWKWARD):
        folder = tmp_path / str(n)
        folder.mkdir()
        dash = 2 * (n % 2)  # `- id:` under `resources:`, or indented by two
        text = "resources:\n" + _entries("first", "mid", "last", dash=dash)
        field = "url" if value.startswith("http") else ("title", "publisher")[n % 2]
        _check(folder, text.encode(), [FieldEdit(where, field, value)])
        if field != "url":
            _check(folder, text.encode(), [FieldEdit(where, "url", f"https://n.example/{value}")])


# --- what frames the entries -------------------------------------------------------------------

_FRAMES = {
    "plain": ("resources:\n", "", "\n"),
    "crlf": ("resources:\n", "", "\r\n"),
    "comments-around": (
        "# Curated by hand.\n\ncollection:\n  title: X   # shown\nresources:   # all\n  # first\n",
        "  # after the last entry\n\n# the end\n",
        "\n",
    ),
    "document-markers": ("# head\n--- # start\nresources:\n", "...\n# signed off: ana\n", "\n"),
    "end-marker-only": ("resources:\n", "...\n", "\n"),
    "key-after": (
        "resources:\n",
        "\n# who looks after it\nmaintainers:\n  - ana   # curator\n",
        "\n",
    ),
    "key-before-folded": (
        "collection:\n  description: >-\n    folded\n    text\nresources:\n",
        "",
        "\n",
    ),
    "trailing-space": ("resources:   \n", "\n  \n# the end   \n", "\n"),
}


@pytest.mark.parametrize("bom", [b"", _BOM], ids=["utf8", "bom"])
@pytest.mark.parametrize("last_break", [True, False], ids=["last-break", "no-last-break"])
@pytest.mark.parametrize("frame", _FRAMES.values(), ids=_FRAMES.keys())
def test_what_frames_the_entries_stays_as_written(
    tmp_path: Path, frame: tuple[str, str, str], last_break: bool, bom: bytes
) -> None:
    head, tail, newline = frame
    text = (head + _entries("a", "b", "c") + tail).replace("\n", newline)
    if not last_break:
        text = text.removesuffix(newline)
    edits = [
        [FieldEdit("a", "url", "https://moved.example/#top")],
        [FieldEdit("c", "url", "https://moved.example/")],
        [
            FieldEdit("c", "reviewed_at", date(2026, 12, 3)),
            FieldEdit("a", "description", "Two\nlines"),
        ],
    ]
    for n, batch in enumerate(edits):
        folder = tmp_path / str(n)
        folder.mkdir()
        _check(folder, bom + text.encode(), batch)


def test_an_edit_of_the_last_entry_of_a_crlf_file_without_a_last_break(tmp_path: Path) -> None:
    text = "resources:\r\n- id: a\r\n  title: Á\r\n  url: http://a.example/"

    out = _edit(tmp_path, _BOM + text.encode(), [FieldEdit("a", "reviewed_at", date(2026, 1, 2))])

    expected = text + "\r\n  reviewed_at: 2026-01-02"
    assert out == _BOM + expected.encode()


# --- several edits, entries alike --------------------------------------------------------------

_TRIPLE = "resources:\n" + _entries("a", "b", "c")
_SEVERAL = {
    "same-entry": [FieldEdit("b", "url", "https://n.example/"), FieldEdit("b", "year", 2020)],
    "adjacent": [
        FieldEdit("a", "url", "https://n.example/"),
        FieldEdit("b", "url", "https://m.example/"),
    ],
    "first-and-last": [FieldEdit("c", "url", "https://n.example/"), FieldEdit("a", "year", 2020)],
    "same-field-twice": [
        FieldEdit("a", "url", "https://n.example/"),
        FieldEdit("a", "url", "https://m.example/"),
    ],
    "all-three": [FieldEdit(rid, "reviewed_at", date(2026, 1, 2)) for rid in "cab"],
}


@pytest.mark.parametrize("edits", _SEVERAL.values(), ids=_SEVERAL.keys())
def test_several_edits_in_one_command(tmp_path: Path, edits: list[FieldEdit]) -> None:
    _check(tmp_path, _TRIPLE.encode(), edits)


def test_an_edit_set_back_to_the_value_it_had_changes_nothing(tmp_path: Path) -> None:
    edits = [
        FieldEdit("a", "url", "https://n.example/"),
        FieldEdit("a", "url", "http://a.example/"),
    ]

    assert _edit(tmp_path, _TRIPLE.encode(), edits) == _TRIPLE.encode()


def test_entries_alike_but_for_their_id_are_told_apart(tmp_path: Path) -> None:
    entry = "  - id: {}\n    title: Same\n    url: http://same.example/\n    tags:\n    - x\n"
    text = "resources:\n" + "".join(entry.format(f"r{n}") for n in range(4))

    new = _check(tmp_path, text.encode(), [FieldEdit("r2", "url", "https://n.example/")])

    edited = entry.format("r2").replace("http://same.example/", "https://n.example/")
    assert new == text.replace(entry.format("r2"), edited)


# --- what sits around the edited value ---------------------------------------------------------

_AROUND = """\
resources:
  - id: r0
    title: T
    url: http://a.example/   # old
    # the url was checked
    reviewed_at: 2025-01-01

  # --- section A ---
  - id: r1
    title: T
    description: |
      Block text

    # after the block
    url: http://b.example/

  # --- section B ---
  - id: r2
    title: T
    url: http://c.example/
    description: >-
      folded
    notes: |+
      kept

  # --- section C ---
  - id: r3
    title: T
    url: http://d.example/
    tags: []

  # --- section D ---
  - id: r4
    title: T
    url: http://e.example/
    description:   # fill me

  # --- section E ---
"""

_AROUND_EDITS = {
    "url-with-its-comment": (
        FieldEdit("r0", "url", "https://n.example/"),
        ("url: http://a.example/   # old", "url: https://n.example/   # old"),
    ),
    "date-before-a-section": (
        FieldEdit("r0", "reviewed_at", date(2026, 1, 1)),
        ("reviewed_at: 2025-01-01", "reviewed_at: 2026-01-01"),
    ),
    "block-before-a-comment": (
        FieldEdit("r1", "description", "New block\n"),
        ("      Block text\n", "      New block\n"),
    ),
    "url-after-a-block": (
        FieldEdit("r1", "url", "https://n.example/"),
        ("url: http://b.example/", "url: https://n.example/"),
    ),
    "folded-keeps-its-chomping": (
        FieldEdit("r2", "description", "new folded"),
        ("      folded\n", "      new folded\n"),
    ),
    "added-after-a-kept-block": (
        FieldEdit("r2", "reviewed_at", date(2026, 1, 1)),
        ("      kept\n\n", "      kept\n\n    reviewed_at: 2026-01-01\n"),
    ),
    "empty-list-filled": (
        FieldEdit("r3", "tags", ["a", "b"]),
        ("    tags: []\n", "    tags:\n      - a\n      - b\n"),
    ),
    "empty-value-filled-keeps-its-comment": (
        FieldEdit("r4", "description", "Filled"),
        ("description:   # fill me", "description: Filled   # fill me"),
    ),
}


@pytest.mark.parametrize(("edit", "change"), _AROUND_EDITS.values(), ids=_AROUND_EDITS.keys())
def test_comments_and_blank_lines_around_an_edited_value_stay(
    tmp_path: Path, edit: FieldEdit, change: tuple[str, str]
) -> None:
    assert _AROUND.count(change[0]) == 1

    new = _check(tmp_path, _AROUND.encode(), [edit])

    assert new == _AROUND.replace(*change)


def test_an_edit_far_from_a_tab_in_a_plain_value_is_spliced(tmp_path: Path) -> None:
    """A tab pasted into a plain value (which ruamel cannot read) does not stop edits of
    entries whose excerpt does not hold it."""
    text = "resources:\n" + _entries("a", "b", "c", extra={"c": "    notes: Tom\tJerry\n"})

    new = _check(tmp_path, text.encode(), [FieldEdit("a", "url", "https://n.example/")])

    assert new == text.replace("http://a.example/", "https://n.example/")
    assert load_catalog(tmp_path / "catalog.yaml").resources[2].notes == "Tom\tJerry"
