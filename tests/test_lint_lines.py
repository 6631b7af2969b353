"""`catalog lint` places a finding about one field on that field's line.

A curator's editor jumps to `file:line`: a bad `url:` four lines into an entry must be
reported on the `url:` line, not on the entry's first line. Findings about the whole entry
(duplicates, a missing field) stay on the entry's line, and so does any field the file
does not show where it is (a CSV row, a key merged in with `<<`, a file changed since it
was loaded): never a wrong line. Loading keeps only the entry's line; lint reads the file
again, once, when it has something to place.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from catalog import hygiene, source
from catalog.hygiene import Finding, lint
from catalog.source import field_lines, load_catalog
from flows.cli import app

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def _lint(path: Path) -> list[Finding]:
    return lint([load_catalog(path)], now=NOW)


def _line(findings: list[Finding], code: str, rid: str = "a") -> int | None:
    (found,) = [f for f in findings if f.code == code and f.resource_id == rid]
    return found.line


def _write(tmp_path: Path, text: str, name: str = "toolkit.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# --- one layout each: (text, line of entry a, line of its `url` key) ---------------------------

LAYOUTS: dict[str, tuple[str, int, int]] = {
    "plain": (
        "resources:\n  - id: a\n    title: A guide\n    url: http://a.example/\n",
        2,
        4,
    ),
    "lone-dash": (
        "resources:\n-\n  id: a\n  title: A guide\n  url: http://a.example/\n",
        3,
        5,
    ),
    "lone-dash-blank-line-and-comment": (
        "resources:\n  -\n\n    # the first\n    id: a\n    title: A guide\n"
        "    url: http://a.example/\n",
        5,
        7,
    ),
    "dash-then-comment": (
        "resources:\n  - # the first\n    id: a\n    title: A guide\n    url: http://a.example/\n",
        3,
        5,
    ),
    "block-scalar-with-a-url-line-inside": (
        "resources:\n  - id: a\n    title: A guide\n    notes: |\n      url: http://x.example/\n"
        "      more\n    url: http://a.example/\n",
        2,
        7,
    ),
    "folded-block-then-commented-url": (
        "resources:\n  - id: a\n    description: >-\n      Folded\n\n      text\n"
        "    # url: http://old.example/\n    title: A guide\n    url: http://a.example/\n",
        2,
        9,
    ),
    "quoted-keys": (
        'resources:\n  - \'id\': a\n    "title": A guide\n    "url": http://a.example/\n',
        2,
        4,
    ),
    "value-on-the-next-line": (
        "resources:\n  - id: a\n    title: A guide\n    url:\n      http://a.example/\n",
        2,
        4,
    ),
    "explicit-key": (
        "resources:\n  - id: a\n    title: A guide\n    ? url\n    : http://a.example/\n",
        2,
        4,
    ),
    "flow-mapping-one-line": (
        "resources:\n  - {id: a, title: A guide, url: http://a.example/}\n",
        2,
        2,
    ),
    "flow-mapping-over-lines": (
        'resources:\n  - {id: a,\n     title: A guide,\n     url: "http://a.example/"}\n',
        2,
        4,
    ),
    "quoted-and-plain-text-over-lines": (
        'resources:\n  - id: a\n    title: "A guide\n      over lines"\n    publisher: Some\n'
        "      one\n    url: http://a.example/\n",
        2,
        7,
    ),
    "crlf": (
        "resources:\r\n  - id: a\r\n    title: A guide\r\n\r\n    url: http://a.example/\r\n",
        2,
        5,
    ),
    "bom-comments-document-start": (
        "\ufeff# Toolkit\n---\ncollection:\n  title: T\nresources:\n# first\n- id: a\n"
        "  title: A guide\n  url: http://a.example/  # checked\n",
        7,
        9,
    ),
    "tab-after-colon": (
        "resources:\n  - id: a\n    title: A guide\n    url:\thttp://a.example/\n",
        2,
        4,
    ),
    # A `yes`, an anchor and an alias: loaded by the precise (ruamel) parser, not libyaml.
    "precise-loader": (
        "resources:\n  - id: b\n    title: B guide\n    url: https://b.example/\n"
        "    publisher: &who Someone\n    archived: yes\n"
        "  - id: a\n    title: A guide\n    publisher: *who\n    url: http://a.example/\n",
        7,
        10,
    ),
    "collection-after-resources": (
        "resources:\n- id: a\n  title: A guide\n  url: http://a.example/\n"
        "collection:\n  title: T\n",
        2,
        4,
    ),
}


@pytest.mark.parametrize(("text", "entry", "url"), LAYOUTS.values(), ids=LAYOUTS.keys())
def test_a_url_finding_is_on_the_url_line_in_every_layout(
    tmp_path: Path, text: str, entry: int, url: int
) -> None:
    path = _write(tmp_path, text)
    (resource,) = [r for r in load_catalog(path).resources if r.id == "a"]
    assert resource.line == entry  # the loader's line: what whole-entry findings keep
    assert _line(_lint(path), "http_url") == url


def _refused(stream: str, Loader: type) -> Iterator[object]:
    raise yaml.YAMLError("libyaml cannot read this")
    yield  # pragma: no cover


@pytest.mark.parametrize("parser", ["libyaml", "ruamel"])
@pytest.mark.parametrize("text", [t for t, _, _ in LAYOUTS.values()], ids=LAYOUTS.keys())
def test_field_lines_agree_with_the_precise_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, parser: str
) -> None:
    """Every field of every entry: the line the loader itself reports problems on, whether
    libyaml reads the file or (where it cannot) ruamel."""
    path = _write(tmp_path, text)
    if parser == "ruamel":
        monkeypatch.setattr(source.yaml, "parse", _refused)
    _, precise = source._yaml_entries(text.removeprefix("\ufeff"), source._Findings(str(path)))
    assert [r.line for r in load_catalog(path).resources] == [e.line for e in precise]
    written = list(field_lines(path))
    assert [e.line for e in written] == [e.line for e in precise]
    for mine, theirs in zip(written, precise, strict=True):
        assert mine.id == theirs.values["id"]
        assert {name: mine.lines.get(name, mine.line) for name in theirs.lines} == theirs.lines


# --- which findings move -----------------------------------------------------------------------

ENTRY = """\
resources:
  - id: a
    title: A 2015 guide
    url: http://bit.ly/abc?utm_source=x
    description: "  "
    type: guide
    year: 2016
    reviewed_at: last week
  - id: b
    title: Another entry
    url: http://bit.ly/abc?utm_source=x
    reviewed: 2031-01-01
  - id: c
    title: Third entry
    url: https://c.example/
    duplicate_of: nobody
"""


def test_each_finding_about_a_field_is_on_that_fields_line(tmp_path: Path) -> None:
    findings = _lint(_write(tmp_path, ENTRY))
    lines = {(f.resource_id, f.code): f.line for f in findings}
    assert lines[("a", "http_url")] == 4
    assert lines[("a", "tracking_params")] == 4
    assert lines[("a", "url_shortener")] == 4
    assert lines[("a", "missing_description")] == 5  # written, but blank
    assert lines[("a", "year_mismatch")] == 7
    assert lines[("a", "bad_reviewed_at")] == 8
    assert lines[("b", "http_url")] == 11
    assert lines[("b", "bad_reviewed_at")] == 12  # `reviewed`, the other review field
    assert lines[("c", "bad_duplicate_of")] == 16
    assert {f.field for f in findings if f.resource_id == "a" and f.line == 4} == {"url"}


def test_findings_about_the_whole_entry_stay_on_its_line(tmp_path: Path) -> None:
    findings = _lint(_write(tmp_path, ENTRY))
    lines = {(f.resource_id, f.code): f.line for f in findings}
    assert ("a", "duplicate_url") not in lines  # the pair is b's, the later entry
    assert lines[("b", "duplicate_url")] == 9
    assert lines[("a", "missing_publisher")] == 2  # absent: nowhere else to point
    assert lines[("b", "missing_year")] == 9
    assert all(f.field is None for f in findings if f.line in (2, 9, 13))


def test_near_duplicate_titles_and_other_collections_stay_on_the_entry_line(
    tmp_path: Path,
) -> None:
    one = _write(
        tmp_path,
        "resources:\n  - id: a\n    title: The national guide to services for victims\n"
        "    url: https://a.example/\n  - id: b\n    title: The national guide to services "
        "for victim\n    url: https://b.example/\n",
        "one.yaml",
    )
    two = _write(
        tmp_path, "resources:\n  - id: c\n    title: C\n    url: https://a.example/\n", "two.yaml"
    )
    findings = lint([load_catalog(one), load_catalog(two)], now=NOW)
    assert _line(findings, "near_duplicate_title", "b") == 5  # the pair, at its later entry
    assert [f.resource_id for f in findings if f.code == "near_duplicate_title"] == ["b"]
    assert _line(findings, "url_in_other_collection", "c") == 2


# --- falling back to the entry's line ----------------------------------------------------------


def test_a_url_merged_in_with_a_merge_key_keeps_the_entry_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "base: &base\n  url: http://a.example/\nresources:\n  - id: a\n    title: A guide\n"
        "    <<: *base\n",
    )
    assert _line(_lint(path), "http_url") == 4


def test_a_csv_catalog_keeps_the_row_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "id,title,url,year\nb,B,https://b.example/,2016\na,A guide,http://a.example/,2016\n",
        "toolkit.csv",
    )
    assert _line(_lint(path), "http_url") == 3


def test_a_file_changed_since_loading_never_gives_another_entrys_line(tmp_path: Path) -> None:
    path = _write(tmp_path, LAYOUTS["plain"][0])
    catalog = load_catalog(path)
    path.write_text(
        "resources:\n  - id: z\n    title: Z\n\n    url: http://z.example/\n", encoding="utf-8"
    )
    (found,) = [f for f in lint([catalog], now=NOW) if f.code == "http_url"]
    assert found.line == 2  # entry z starts there too, but it is not entry a


def test_a_deleted_file_keeps_the_entry_line(tmp_path: Path) -> None:
    path = _write(tmp_path, LAYOUTS["plain"][0])
    catalog = load_catalog(path)
    path.unlink()
    assert _line(lint([catalog], now=NOW), "http_url") == 2


@pytest.mark.parametrize("other_break", ["\u2028", "\u2029", "\x85"])
def test_a_line_break_the_parsers_disagree_on_keeps_entry_lines(
    tmp_path: Path, other_break: str
) -> None:
    """libyaml counts U+2028 as a line break, ruamel and most editors do not."""
    path = _write(
        tmp_path,
        f'resources:\n  - id: a\n    title: "A{other_break}guide"\n    url: http://a.example/\n',
    )
    assert _line(_lint(path), "http_url") == 2


def test_entries_sharing_a_line_in_a_flow_list_each_get_their_own_fields(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        "resources: [{id: a, title: A guide, url: http://a.example/}, {id: b, title: B,\n"
        "  url: http://b.example/}]\n",
    )
    findings = _lint(path)
    assert _line(findings, "http_url", "a") == 1
    assert _line(findings, "http_url", "b") == 2


def test_a_repeated_key_gives_no_line_for_it(tmp_path: Path) -> None:
    """Such a file does not load; asked anyway, `field_lines` names no line it is unsure of."""
    path = _write(tmp_path, "resources:\n- id: a\n  url: x\n  url: y\n  title: T\n")
    (entry,) = field_lines(path)
    assert (entry.line, entry.id, entry.lines) == (2, "a", {"id": 2, "title": 5})


def test_where_libyaml_gives_up_ruamel_goes_on_without_repeating_an_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader reads with ruamel what libyaml cannot; so does `field_lines`, from where
    libyaml stopped."""
    text = "".join(
        f"  - id: e{n}\n    title: T{n}\n\n    url: http://e{n}.example/\n" for n in range(4)
    )
    path = _write(tmp_path, "resources:\n" + text)
    real = yaml.parse

    def failing(stream: str, Loader: type) -> Iterator[object]:
        for n, event in enumerate(real(stream, Loader=Loader)):
            if n == 20:  # inside entry e1
                raise yaml.YAMLError("libyaml gives up")
            yield event

    monkeypatch.setattr(source.yaml, "parse", failing)
    entries = list(field_lines(path))
    assert [(e.id, e.lines["url"]) for e in entries] == [(f"e{n}", 5 + 4 * n) for n in range(4)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        "- a list\n",
        "resources: [1, [2], {x: 1}, *alias]\n",
        "resources:\n  - id: a\n    title: [unclosed\n",
        "resources: {id: a}\n",
        "? [complex, key]\n: 1\nresources:\n- {id: a}\n",
        "resources:\n- id: a\n---\nresources:\n- id: b\n",
    ],
)
def test_field_lines_never_raises(tmp_path: Path, text: str) -> None:
    entries = list(field_lines(_write(tmp_path, text)))
    assert all(e.id in ("a", "b", None) for e in entries)


# --- reading the file: only when needed --------------------------------------------------------


def test_lint_reads_the_file_again_only_for_a_finding_about_a_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    real = hygiene.field_lines

    def counting(path: str | Path) -> object:
        read.append(str(path))
        return real(path)

    monkeypatch.setattr(hygiene, "field_lines", counting)
    tidy = _write(tmp_path, "resources:\n  - id: a\n    title: A\n    url: https://a.example/\n")
    assert {f.code for f in _lint(tidy)} == {
        "missing_description",
        "missing_publisher",
        "missing_type",
        "missing_year",
    }
    assert read == []  # whole-entry findings only
    _lint(_write(tmp_path, ENTRY, "untidy.yaml"))
    assert read == [str(tmp_path / "untidy.yaml")]  # once, for all its findings


# --- the command line --------------------------------------------------------------------------


def test_lint_prints_and_json_carries_the_field_line(
    isolated_cwd: Path,
) -> None:
    (isolated_cwd / "c.yaml").write_text(LAYOUTS["lone-dash-blank-line-and-comment"][0])
    runner = CliRunner()
    text = runner.invoke(app, ["catalog", "lint", "c.yaml"]).stdout
    assert "c.yaml:7: warning: a: the URL uses http://" in text
    result = runner.invoke(app, ["catalog", "lint", "c.yaml", "--json"])
    (url,) = [f for f in json.loads(result.stdout) if f["code"] == "http_url"]
    assert (url["line"], url["field"]) == (7, "url")
    missing = [f for f in json.loads(result.stdout) if f["code"] == "missing_year"]
    assert [(f["line"], f["field"]) for f in missing] == [(5, None)]


# --- generated layouts -------------------------------------------------------------------------


@dataclass
class _Written:
    """A generated catalog text and where each entry's keys were written."""

    lines: list[str] = field(default_factory=lambda: ["resources:"])
    entries: list[tuple[str, int, dict[str, int]]] = field(default_factory=list)

    def add(self, text: str) -> int:
        self.lines.append(text)
        return len(self.lines)


_STYLES = ("plain", "quoted", "next-line", "block", "comment-before", "blank-before")


def _generate(rng: random.Random, count: int) -> _Written:
    out = _Written()
    for n in range(count):
        rid = f"e{n}"
        values = {
            "id": rid,
            "title": f"Guide number {n} of 2015",
            "url": f"http://e{n}.example/",
            "year": "2016",
            "notes": f"Note {n}",
        }
        names = ["id", *rng.sample(["title", "url", "year", "notes"], 4)]
        keys: dict[str, int] = {}
        lone_dash = rng.random() < 0.3
        if lone_dash:
            out.add("  -")
        for i, name in enumerate(names):
            style = rng.choice(_STYLES) if name != "id" else rng.choice(("plain", "quoted"))
            lead = "  - " if i == 0 and not lone_dash else "    "
            if style == "comment-before" and i:
                out.add(f"    # about {name}: {values[name]}")
            if style == "blank-before" and i:
                out.add("")
            key = f'"{name}"' if style == "quoted" else name
            if style == "next-line":
                keys[name] = out.add(f"{lead}{key}:")
                out.add(f"      {values[name]}")
            elif style == "block" and name in ("title", "notes"):
                keys[name] = out.add(f"{lead}{key}: |-")
                out.add(f"      {values[name]}")
                out.add("      url: not-a-key")
            else:
                keys[name] = out.add(f"{lead}{key}: {values[name]}")
        out.entries.append((rid, keys["id"], keys))
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_generated_layouts_put_each_finding_on_its_fields_line(
    tmp_path: Path, seed: int, count: int
) -> None:
    written = _generate(random.Random(seed), count)
    path = tmp_path / "generated.yaml"
    path.write_text("\n".join(written.lines) + "\n", encoding="utf-8")
    findings = _lint(path)
    for rid, _, keys in written.entries:
        assert _line(findings, "http_url", rid) == keys["url"]
        assert _line(findings, "year_mismatch", rid) == keys["year"]
    assert [(e.id, e.lines) for e in field_lines(path)] == [
        (rid, keys) for rid, _, keys in written.entries
    ]
