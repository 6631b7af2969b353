"""Stage "source": catalog files become Catalog records, or every problem, located."""

from __future__ import annotations

import csv
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from catalog import source
from catalog.errors import CatalogError, LinkhealthError, Problem
from catalog.model import Catalog, Resource
from catalog.settings import BUNDLED_CATALOG
from catalog.source import (
    PROBLEM_CODES,
    ValidationReport,
    load_catalog,
    load_catalogs,
    validate_catalog,
    validate_catalogs,
)

DATA = Path(__file__).parent / "data" / "catalogs"
BAD_YAML = DATA / "bad-several-problems.yaml"
GOOD_CSV = DATA / "state-victim-services.csv"

RESOURCES = """\
resources:
- id: hotline
  title: National Human Trafficking Hotline
  url: https://humantraffickinghotline.org/
"""
GOOD_YAML = "collection:\n  title: Small toolkit\n" + RESOURCES


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def located(problems: tuple[Problem, ...]) -> set[tuple[str, int | None, str | None]]:
    return {(p.code, p.line, p.field) for p in problems}


def only_problem(report: ValidationReport) -> Problem:
    assert len(report.problems) == 1, report.problems
    return report.problems[0]


# --- the bundled catalog -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> Catalog:
    return load_catalog(BUNDLED_CATALOG)


def test_bundled_catalog_loads_all_26_resources(bundled: Catalog) -> None:
    assert len(bundled.resources) == 26
    assert len({r.id for r in bundled.resources}) == 26
    assert bundled.key == "psp-human-trafficking-toolkit"
    assert bundled.title == "Toolkit: Human Trafficking Resources"


def test_bundled_catalog_keeps_unknown_fields_in_extra(bundled: Catalog) -> None:
    assert {r.extra["url_confidence"] for r in bundled.resources} <= {"seen", "inferred"}
    assert all(type(r.extra["url_confidence"]) is str for r in bundled.resources)
    assert "source_page_url" in bundled.collection


def test_bundled_catalog_gives_each_resource_the_line_of_its_entry(bundled: Catalog) -> None:
    lines = BUNDLED_CATALOG.read_text(encoding="utf-8").splitlines()
    first = bundled.resources[0]
    assert first.line == 13
    assert first.languages == ("en",) and first.year is None
    for resource in bundled.resources:
        assert resource.line is not None
        assert lines[resource.line - 1] == f"- id: {resource.id}"


def test_bundled_catalog_yields_plain_python_values(bundled: Catalog) -> None:
    for resource in bundled.resources:
        for value in (resource.title, resource.url, resource.description, resource.notes):
            assert value is None or type(value) is str
        assert all(type(lang) is str for lang in resource.languages)
    assert type(bundled.collection) is dict
    assert all(type(v) is str for v in bundled.collection.values())


def test_bundled_catalog_has_no_problems_or_warnings() -> None:
    report = validate_catalog(BUNDLED_CATALOG)
    assert report.ok
    assert report.problems == () and report.warnings == ()


# --- many problems at once ---------------------------------------------------------------------


def test_bad_fixture_reports_every_problem_with_line_and_field() -> None:
    report = validate_catalog(BAD_YAML)
    assert located(report.problems) == {
        ("missing_field", 10, "url"),
        ("wrong_type", 15, "year"),
        ("duplicate_id", 16, "id"),
        ("bad_structure", 19, None),
        ("wrong_type", 21, "title"),
        ("wrong_type", 25, "languages"),
    }
    assert located(report.warnings) == {("invalid_url", 28, "url")}
    assert all(p.file == str(BAD_YAML) for p in report.problems)


def test_load_catalog_raises_one_error_carrying_every_problem() -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(BAD_YAML)
    assert len(caught.value.problems) == 6
    assert isinstance(caught.value, LinkhealthError)
    assert caught.value.exit_code == 5


def test_duplicate_id_names_both_lines() -> None:
    problem = next(p for p in validate_catalog(BAD_YAML).problems if p.code == "duplicate_id")
    assert problem.line == 16
    assert "5" in problem.message


def test_two_unicode_spellings_of_one_id_are_duplicates(tmp_path: Path) -> None:
    """'café' composed and decomposed look alike: a curator typing it gets either entry."""
    second = "- id: cafe\u0301\n  title: Other\n  url: https://example.org/b\n"
    text = GOOD_YAML.replace("id: hotline", "id: caf\u00e9") + second
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", text)))
    assert (problem.code, problem.line) == ("duplicate_id", 7)
    assert "written with other Unicode code points" in problem.message


def test_problems_are_listed_in_file_order() -> None:
    lines = [p.line or 0 for p in validate_catalog(BAD_YAML).problems]
    assert lines == sorted(lines)


# --- each problem code -------------------------------------------------------------------------

CASES = [
    # (id, file name, content, expected (code, line, field))
    (  # the line where the bracket opened, not the end of the file where the parser gave up
        "yaml-syntax",
        "c.yaml",
        "resources:\n- id: a\n  title: [unclosed\n",
        ("parse_error", 3, None),
    ),
    (
        "yaml-unclosed-quote",
        "c.yaml",
        'resources:\n- id: "a\n  title: A\n  url: https://x.org/\n- id: b\n',
        ("parse_error", 2, None),
    ),
    (
        "yaml-duplicate-key",
        "c.yaml",
        GOOD_YAML + "  url: https://x.org/\n",
        ("parse_error", 7, None),
    ),
    ("unknown-format", "c.json", "{}", ("unknown_format", None, None)),
    ("top-level-list", "c.yaml", "- id: a\n", ("bad_structure", 1, None)),
    ("no-resources", "c.yaml", "collection:\n  title: T\n", ("bad_structure", None, "resources")),
    ("resources-mapping", "c.yaml", "resources:\n  id: a\n", ("bad_structure", 1, "resources")),
    (
        "collection-list",
        "c.yaml",
        "collection: [a]\n" + RESOURCES,
        ("bad_structure", 1, "collection"),
    ),
    ("csv-no-url-column", "c.csv", "id,title\na,A\n", ("bad_structure", 1, "url")),
    (
        "csv-repeated-column",
        "c.csv",
        "id,title,url,url\na,A,https://a.org/,\n",
        ("bad_structure", 1, "url"),
    ),
    (
        "csv-stray-cell",
        "c.csv",
        "id,title,url\na,A,https://a.org/,oops\n",
        ("bad_structure", 2, None),
    ),
    (
        "empty-title",
        "c.yaml",
        GOOD_YAML.replace("National Human Trafficking Hotline", "''"),
        ("missing_field", 5, "title"),
    ),
    (
        "no-id",
        "c.yaml",
        GOOD_YAML.replace("id: hotline", "type: hotline"),
        ("missing_field", 4, "id"),
    ),
    ("csv-empty-url", "c.csv", "id,title,url\na,A,\n", ("missing_field", 2, "url")),
    (  # YAML reads it as a date, and no such date exists
        "impossible-date",
        "c.yaml",
        GOOD_YAML + "  reviewed_at: 2025-13-45\n",
        ("parse_error", 7, None),
    ),
    ("year-text", "c.yaml", GOOD_YAML + "  year: '2016'\n", ("wrong_type", 7, "year")),
    ("year-bool", "c.yaml", GOOD_YAML + "  year: true\n", ("wrong_type", 7, "year")),
    ("numeric-id", "c.yaml", GOOD_YAML.replace("id: hotline", "id: 42"), ("wrong_type", 4, "id")),
    (  # quotes keep the spaces: the id would silently differ from the one the curator means
        "id-spaces-around",
        "c.yaml",
        GOOD_YAML.replace("id: hotline", 'id: " hotline "'),
        ("wrong_type", 4, "id"),
    ),
    (
        "id-inner-space",
        "c.yaml",
        GOOD_YAML.replace("id: hotline", 'id: "hot line"'),
        ("wrong_type", 4, "id"),
    ),
    (
        "csv-id-inner-space",
        "c.csv",
        "id,title,url\na b,A,https://a.org/\n",
        ("wrong_type", 2, "id"),
    ),
    (
        "list-item-number",
        "c.yaml",
        GOOD_YAML + "  tags:\n  - ok\n  - 7\n",
        ("wrong_type", 9, "tags"),
    ),
    (
        "csv-year-typo",
        "c.csv",
        "id,title,url,year\na,A,https://a.org/,2016a\n",
        ("wrong_type", 2, "year"),
    ),
    (
        "empty-list",
        "c.yaml",
        "collection:\n  title: T\nresources: []\n",
        ("empty_catalog", 3, "resources"),
    ),
    ("null-resources", "c.yaml", "resources:\n", ("empty_catalog", 1, "resources")),
    ("empty-yaml-file", "c.yml", "# nothing yet\n", ("empty_catalog", None, None)),
    ("csv-header-only", "c.csv", "id,title,url\n", ("empty_catalog", None, None)),
    ("not-utf8", "c.yaml", b"resources:\n- id: caf\xe9\n", ("unreadable", 2, None)),
    # Values SQLite stored and PostgreSQL refused (`db copy`, and every sync there, failed).
    (
        "id-over-200-characters",
        "c.yaml",
        f"resources:\n- id: {'a' * 201}\n  title: T\n  url: https://a.example/\n",
        ("unstorable_value", 2, "id"),
    ),
    (
        "nul-in-title",
        "c.yaml",
        'resources:\n- id: a\n  title: "T\\0"\n  url: https://a.example/\n',
        ("unstorable_value", 3, "title"),
    ),
    (
        "nan-in-a-field",
        "c.yaml",
        "resources:\n- id: a\n  title: T\n  url: https://a.example/\n  rating: .nan\n",
        ("unstorable_value", 5, "rating"),
    ),
    (
        "infinity-in-a-list",
        "c.yaml",
        "resources:\n- id: a\n  title: T\n  url: https://a.example/\n  scores: [1, -.inf]\n",
        ("unstorable_value", 5, "scores"),
    ),
    (
        "nul-in-a-nested-key",
        "c.yaml",
        'resources:\n- id: a\n  title: T\n  url: https://a.example/\n  more: {"k\\0": 1}\n',
        ("unstorable_value", 5, "more"),
    ),
    (
        "lone-surrogate",  # SQLite refused it too: sync died encoding it
        "c.yaml",
        'resources:\n- id: a\n  title: "T\\ud800"\n  url: https://a.example/\n',
        ("unstorable_value", 3, "title"),
    ),
    (
        "url-over-2000-characters",
        "c.yaml",
        f"resources:\n- id: a\n  title: T\n  url: https://a.example/{'p' * 1983}\n",
        ("unstorable_value", 4, "url"),
    ),
    (
        "nul-in-collection-title",
        "c.yaml",
        'collection:\n  title: "C\\0"\n' + RESOURCES,
        ("unstorable_value", 2, "collection.title"),
    ),
    (
        "nul-in-a-csv-cell",
        "c.csv",
        "id,title,url\na,T\0,https://a.example/\n",
        ("unstorable_value", 2, "title"),
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_problem_is_reported_with_its_code_line_and_field(
    tmp_path: Path, name: str, content: str | bytes, expected: tuple[str, int | None, str | None]
) -> None:
    path = write(tmp_path, name, content)
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == expected
    assert problem.code in PROBLEM_CODES
    with pytest.raises(CatalogError):
        load_catalog(path)


def test_a_quoted_year_is_told_to_lose_its_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", GOOD_YAML + "  year: '2016'\n")
    assert only_problem(validate_catalog(path)).message.endswith("remove the quotes: year: 2016")
    word = write(tmp_path, "d.yaml", GOOD_YAML + "  year: soon\n")
    assert "whole number such as 2016" in only_problem(validate_catalog(word)).message


@pytest.mark.parametrize(
    ("written", "meant"),
    [('" ht-guide "', "ht-guide"), ('"ht guide"', "ht-guide"), ('"ht\u00a0guide"', "ht-guide")],
)
def test_an_id_with_spaces_is_refused_and_told_how_to_write_it(
    tmp_path: Path, written: str, meant: str
) -> None:
    path = write(tmp_path, "c.yaml", GOOD_YAML.replace("id: hotline", f"id: {written}"))
    problem = only_problem(validate_catalog(path))
    assert (problem.file, problem.line, problem.field) == (str(path), 4, "id")
    assert problem.message.endswith(f"write ids without spaces, e.g. {meant!r}")


def test_an_id_with_a_slash_is_refused_as_it_would_read_as_key_slash_id(tmp_path: Path) -> None:
    """`id: good/a` in another collection took over the address `good/a` of the entry `a`
    of the collection `good`: `resource good/a` showed, and `snooze` snoozed, the wrong one."""
    path = write(tmp_path, "slash.yaml", GOOD_YAML.replace("id: hotline", "id: good/a"))
    problem = only_problem(validate_catalog(path))
    assert (problem.file, problem.line, problem.field) == (str(path), 4, "id")
    assert "contains '/'" in problem.message and problem.message.endswith("'good-a' instead")
    csv_file = write(tmp_path, "slash.csv", "id,title,url\ngood/a,A,https://a.org/\n")
    assert "contains '/'" in only_problem(validate_catalog(csv_file)).message


def _alias_levels(levels: int) -> str:
    """Anchors of nine aliases of the anchor before, `levels` deep ("billion laughs")."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(30)
def test_aliases_of_aliases_are_read_once_and_refused_where_they_would_be_stored(
    tmp_path: Path,
) -> None:
    """Nine levels deep, `catalog validate` walked each alias again wherever it appeared:
    hours. Outside the entries they are read once; in an entry's field, whose values the
    database keeps written out (387 million), they are refused."""
    aside = write(tmp_path, "aside.yaml", _alias_levels(9) + GOOD_YAML + "extra: *l8\n")
    report = validate_catalog(aside)
    assert not report.problems and not report.warnings
    assert [r.id for r in load_catalog(aside).resources] == ["hotline"]
    stored = write(tmp_path, "stored.yaml", _alias_levels(9) + GOOD_YAML + "  more: *l8\n")
    problem = only_problem(validate_catalog(stored))
    assert (problem.code, problem.field, problem.line) == ("unstorable_value", "more", 16)
    assert "YAML aliases that repeat into over 100,000 values" in problem.message
    small = write(tmp_path, "small.yaml", _alias_levels(3) + GOOD_YAML + "  more: *l2\n")
    assert not validate_catalog(small).problems  # 819 values: kept as they are


def test_text_tagged_str_loads_as_its_text(tmp_path: Path) -> None:
    """`!!str` is YAML's way of saying "this is text": an id, a text field, a list item."""
    entry = "  notes: !!str yes\n  publisher: !<tag:yaml.org,2002:str> 1984\n  tags: [!!str 2020]\n"
    text = GOOD_YAML.replace("id: hotline", "id: !!str 2019") + entry
    path = write(tmp_path, "c.yaml", text)
    report = validate_catalog(path)
    assert not report.problems and not report.warnings
    (resource,) = load_catalog(path).resources
    assert (resource.id, resource.notes, resource.publisher) == ("2019", "yes", "1984")
    assert resource.tags == ("2020",)


def test_another_tag_is_refused_naming_the_tag_and_what_to_do(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", GOOD_YAML + "  notes: !custom hello\n")
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("wrong_type", 7, "notes")
    assert "'hello' with the YAML tag !custom (remove the tag)" in problem.message
    assert "TaggedScalar" not in problem.message


def test_a_repeated_resources_key_is_named_without_dumping_the_catalog(tmp_path: Path) -> None:
    """A second `resources:` key (two halves of a catalog pasted into one file): the
    parse_error quoted both whole lists, a 255 kB error line for 3,000 entries, in stderr,
    in `linkhealth report`'s warning and in a refused run's reason."""

    def block(prefix: str, n: int) -> str:
        return "".join(
            f"  - id: {prefix}{i}\n    title: Resource {prefix} {i}\n"
            f"    url: https://example.org/{prefix}/{i}\n"
            for i in range(n)
        )

    path = write(
        tmp_path, "kit.yaml", "resources:\n" + block("a", 300) + "resources:\n" + block("b", 300)
    )
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("parse_error", 902)  # the repeated key
    assert "the key 'resources' is written twice (first at line 1)" in problem.message
    assert len(problem.message) < 1000, len(problem.message)


@pytest.mark.parametrize(
    ("text", "line", "said"),
    [
        (GOOD_YAML + "  title: Other\n", 7, "the key 'title' is written twice (first at line 5)"),
        (  # in the collection, with a long value
            "collection:\n  title: T\n  title: " + "x" * 5000 + "\n" + RESOURCES,
            3,
            "the key 'title' is written twice (first at line 2)",
        ),
        (  # a long key (YAML allows 1,024 characters), in a flow mapping
            f"resources:\n- {{id: a, {'k' * 1000}: 1, {'k' * 1000}: 2}}\n",
            2,
            "the key 'kkkk",
        ),
    ],
    ids=["entry", "long-value", "long-key"],
)
def test_a_repeated_key_quotes_neither_value_nor_a_long_key(
    tmp_path: Path, text: str, line: int, said: str
) -> None:
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", text)))
    assert (problem.code, problem.line) == ("parse_error", line)
    assert said in problem.message
    assert "x" * 100 not in problem.message and "k" * 100 not in problem.message


def test_a_csv_id_padded_with_spaces_is_trimmed_like_every_csv_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,title,url\n  a  ,A,https://a.org/\n")
    assert [r.id for r in load_catalog(path).resources] == ["a"]


def test_an_impossible_date_names_its_value_and_how_to_keep_it(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", GOOD_YAML + "  reviewed_at: 2025-13-45\n")
    message = only_problem(validate_catalog(path)).message
    assert "'2025-13-45'" in message and "month must be in 1..12" in message
    assert "quotes" in message


def test_a_file_of_comments_is_not_called_empty(tmp_path: Path) -> None:
    comments = write(tmp_path, "c.yaml", "# to do: add the toolkit\n\n# ana\n")
    assert "holds only comments" in only_problem(validate_catalog(comments)).message
    empty = write(tmp_path, "d.yaml", "")
    assert "the file is empty" in only_problem(validate_catalog(empty)).message


def test_a_tab_used_for_indentation_is_named_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", GOOD_YAML + "\tyear: 2016\n")
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("parse_error", 7)
    assert "indent with spaces, not tabs" in problem.message


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_csv_separated_by_semicolons_or_tabs_says_so(tmp_path: Path, sep: str) -> None:
    path = write(tmp_path, "c.csv", f"id{sep}title{sep}url\na{sep}A{sep}https://a.org/\n")
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("bad_structure", 1)
    assert f"separated by {sep!r}" in problem.message and "commas" in problem.message


def test_csv_quoting_error_is_a_parse_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", 'id,title,url\na,A,https://a.org/\nb,"B"x,https://b.org/\n')
    assert located(validate_catalog(path).problems) == {("parse_error", 3, None)}


def test_a_csv_quote_left_open_is_reported_on_the_line_it_opened(tmp_path: Path) -> None:
    """The reader reads on to the end of the file: "c.csv:4: unexpected end of data; check
    the quotes on this line" pointed at a line without any quote."""
    text = 'id,title,url\na,"A,https://a.org/\nb,B,https://b.org/\nc,C,https://c.org/\n'
    path = write(tmp_path, "c.csv", text)
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("parse_error", 2)
    assert "(read on to line 4)" in problem.message


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    report = validate_catalog(tmp_path / "nope.yaml")
    assert located(report.problems) == {("file_not_found", None, None)}
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path / "nope.yaml")
    assert caught.value.problems[0].code == "file_not_found"
    # Paths from linkhealth.toml start at its folder, not at the current one.
    assert "linkhealth.toml start at that file's folder" in caught.value.problems[0].message


def test_an_unclosed_quote_is_reported_where_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text('resources:\n- id: "a\n  title: A\n- id: b\n  title: B\n')
    (problem,) = validate_catalog(path).problems
    assert problem.line == 2
    assert "quoted value" in problem.message and "never closed" in problem.message
    # The file has 5 lines; the parser's mark, past the last line break, said "line 6".
    assert "(the parser reached the end of the file, line 5);" in problem.message


UNCLOSED_THEN_QUOTED = """\
resources:
- id: a
  title: {open}Guide
  url: https://a.org/
- id: b
  title: Other
  {later}
"""


@pytest.mark.parametrize(
    ("opening", "later"),
    [
        ('"', 'description: The "Other" guide'),
        ('"', 'publisher: "Office"'),
        ("'", "notes: it's the other one"),
    ],
    ids=["quote-in-text", "quoted-value", "apostrophe"],
)
def test_an_unclosed_quote_closed_by_a_later_one_is_reported_where_it_opened(
    tmp_path: Path, opening: str, later: str
) -> None:
    """The parser gives up after the quote that closed it, lines later, and names that line."""
    path = write(tmp_path, "c.yaml", UNCLOSED_THEN_QUOTED.format(open=opening, later=later))
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("parse_error", 3)
    assert "quoted value" in problem.message and "line 7" in problem.message


def test_a_value_quoted_over_two_lines_is_not_blamed_for_a_later_error(tmp_path: Path) -> None:
    text = GOOD_YAML + '  notes: "first line\n    second line"\n  year: 2016\n   tags: [x]\n'
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", text)))
    assert problem.line == 10 and "quoted value" not in problem.message


def test_folder_given_as_a_file_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "looks-like.yaml").mkdir()
    assert only_problem(validate_catalog(tmp_path / "looks-like.yaml")).code == "unreadable"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", GOOD_YAML)
    path.chmod(0)
    try:
        assert only_problem(validate_catalog(path)).code == "unreadable"
    finally:
        path.chmod(0o600)


def test_values_at_the_database_limits_are_accepted(tmp_path: Path) -> None:
    url = f"https://a.example/{'p' * 1982}"  # 2,000 characters
    text = f"resources:\n- id: {'a' * 200}\n  title: T\n  url: {url}\n  score: 0.5\n"
    (res,) = load_catalog(write(tmp_path, "c.yaml", text)).resources
    assert len(res.id) == 200 and res.url == url


def test_a_file_name_too_long_for_a_collection_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"{'k' * 201}.yaml", GOOD_YAML)
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("unstorable_value", None, None)
    assert "rename the file" in problem.message
    assert load_catalog(write(tmp_path, f"{'k' * 200}.yaml", GOOD_YAML)).key == "k" * 200


def test_an_unstorable_value_names_what_it_holds(tmp_path: Path) -> None:
    text = RESOURCES + "  rating: .nan\n"
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", text)))
    assert problem.message == (
        "resource 'hotline': 'rating' holds not-a-number (.nan), which the database cannot "
        "store; correct or remove it"
    )
    long_id = RESOURCES.replace("id: hotline", f"id: {'h' * 250}")
    problem = only_problem(validate_catalog(write(tmp_path, "d.yaml", long_id)))
    assert problem.message == (
        f"resource {'h' * 40!r}... (250 characters): the id is too long; the database keeps "
        "ids of up to 200 characters: shorten it"
    )


def test_every_code_has_a_meaning() -> None:
    produced = {c[3][0] for c in CASES} | {
        "file_not_found",
        "duplicate_id",
        "duplicate_collection",
        "invalid_url",
        "private_address",  # with the check's settings (tests/test_u1_validate_private.py)
        "changed_meanwhile",  # by the writers of catalog files (tests/test_catalog_writes.py)
        "not_writable",  # by the writers of catalog files (tests/test_catalog_writes_folder.py)
        "no_room",  # by the writers of catalog files (tests/test_catalog_writes_folder.py)
    }
    assert produced == set(PROBLEM_CODES)
    assert all(text.strip() for text in PROBLEM_CODES.values())


# --- accepted variations -----------------------------------------------------------------------


def test_single_string_and_null_values_are_accepted(tmp_path: Path) -> None:
    text = GOOD_YAML + "  languages: en\n  tags:\n  year: 2019\n  notes:\n"
    resource = load_catalog(write(tmp_path, "c.yaml", text)).resources[0]
    assert resource.languages == ("en",)
    assert resource.tags == ()
    assert resource.year == 2019
    assert resource.notes is None


def test_unknown_fields_become_plain_json_friendly_values(tmp_path: Path) -> None:
    text = GOOD_YAML + "  checked: 2024-05-01\n  meta: {score: 0x10, ratio: 1.5, list: [a, 1]}\n"
    resource = load_catalog(write(tmp_path, "c.yaml", text)).resources[0]
    assert resource.extra == {
        "checked": "2024-05-01",
        "meta": {"score": 16, "ratio": 1.5, "list": ["a", 1]},
    }
    assert type(resource.extra["meta"]) is dict
    assert type(resource.extra["meta"]["score"]) is int


def test_collection_defaults_to_empty_when_absent(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, "mine.yaml", RESOURCES))
    assert catalog.collection == {}
    assert catalog.title == "mine"


# --- bad URLs are warnings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["htp://x", "not a url", "javascript:alert(1)", "https://a b", "https://"]
)
def test_bad_url_loads_as_written_and_is_a_warning(tmp_path: Path, url: str) -> None:
    text = GOOD_YAML.replace("https://humantraffickinghotline.org/", f"'{url}'")
    path = write(tmp_path, "c.yaml", text)
    assert load_catalog(path).resources[0].url == url
    report = validate_catalog(path)
    assert report.ok
    assert located(report.warnings) == {("invalid_url", 6, "url")}


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_fixture_loads_with_lists_years_extra_and_record_lines() -> None:
    catalog = load_catalog(GOOD_CSV)
    assert catalog.collection == {"title": "state-victim-services"}
    assert [r.id for r in catalog.resources] == [
        "hotline",
        "ovc-ttac-guide",
        "blue-campaign",
        "polaris-typology",
    ]
    hotline, guide, campaign, typology = catalog.resources
    assert hotline.languages == ("en", "es") and hotline.tags == ("hotline", "victims")
    assert hotline.year == 2007 and hotline.notes is None and hotline.description is None
    assert hotline.extra == {"url_confidence": "seen"}
    assert '"victim-centered"' in (guide.notes or "")
    assert campaign.languages == ("en", "es")
    assert "\n" in (campaign.notes or "")
    # the multi-line record occupies lines 4-5, so the last record is on line 6
    assert [r.line for r in catalog.resources] == [2, 3, 4, 6]
    assert typology.year == 2017


def test_csv_copy_of_the_bundled_catalog_loads_the_same_resources(
    tmp_path: Path, bundled: Catalog
) -> None:
    header = ["id", "title", "url", "description", "publisher", "type"]
    header += ["languages", "year", "tags", "notes"]
    header += sorted({key for r in bundled.resources for key in r.extra})
    path = tmp_path / "copy.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for r in bundled.resources:
            data = r.fields_dict()
            data["languages"] = ";".join(r.languages)
            data["tags"] = "|".join(r.tags)
            writer.writerow(["" if data.get(name) is None else data[name] for name in header])
    copy = load_catalog(path)

    def fields(r: Resource) -> dict[str, object]:
        # A CSV column exists for every row: an extra field left empty reads as None.
        return {k: v for k, v in r.fields_dict().items() if v is not None or k not in r.extra}

    assert [fields(r) for r in copy.resources] == [fields(r) for r in bundled.resources]


def test_csv_with_byte_order_mark_reads_its_first_column(tmp_path: Path) -> None:
    text = "\ufeffID,Title,URL\r\na,A,https://a.org/\r\n"
    path = write(tmp_path, "excel.csv", text.encode("utf-8"))
    resource = load_catalog(path).resources[0]
    assert (resource.id, resource.title, resource.url, resource.line) == (
        "a",
        "A",
        "https://a.org/",
        2,
    )


def test_csv_trailing_empty_columns_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,title,url,,\n\na,A,https://a.org/,,\n")
    catalog = load_catalog(path)
    assert [(r.id, r.line) for r in catalog.resources] == [("a", 3)]


def test_csv_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,title,url\na,A,https://a.org/\nb,B,https://b.org/\na,C,x\n")
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("duplicate_id", 4, "id")
    assert "2" in problem.message


# --- several files -----------------------------------------------------------------------------


def test_folder_means_every_catalog_file_in_it_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b.yml", GOOD_YAML)
    write(tmp_path, "a.csv", "id,title,url\nx,X,https://x.org/\n")
    write(tmp_path, "c.yaml", GOOD_YAML)
    write(tmp_path, "README.md", "not a catalog")
    write(tmp_path, ".hidden.yaml", "not: [valid")
    catalogs = load_catalogs([tmp_path])
    assert [c.key for c in catalogs] == ["a", "b", "c"]


def test_several_files_raise_one_error_with_all_their_problems(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", GOOD_YAML)
    broken = write(tmp_path, "broken.yaml", "- not a mapping\n")
    with pytest.raises(CatalogError) as caught:
        load_catalogs([good, BAD_YAML, broken, tmp_path / "missing.csv"])
    by_file = {p.file for p in caught.value.problems}
    assert by_file == {str(BAD_YAML), str(broken), str(tmp_path / "missing.csv")}
    assert len(caught.value.problems) == 6 + 1 + 1


def test_two_files_with_the_same_stem_are_a_duplicate_collection(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write(tmp_path / "one", "toolkit.yaml", GOOD_YAML)
    second = write(tmp_path / "two", "toolkit.csv", "id,title,url\nx,X,https://x.org/\n")
    report = validate_catalogs([first, second])
    assert [(p.code, p.file) for p in report.problems] == [("duplicate_collection", str(second))]
    with pytest.raises(CatalogError):
        load_catalogs([tmp_path / "one", tmp_path / "two"])


def test_same_file_named_twice_loads_once(tmp_path: Path) -> None:
    path = write(tmp_path, "toolkit.yaml", GOOD_YAML)
    assert len(load_catalogs([path, tmp_path])) == 1


def test_folder_without_catalog_files_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "notes.txt", "nothing")
    assert located(validate_catalogs([tmp_path]).problems) == {("file_not_found", None, None)}


def test_warnings_of_all_files_are_collected(tmp_path: Path) -> None:
    report = validate_catalogs([BAD_YAML, BUNDLED_CATALOG])
    assert located(report.warnings) == {("invalid_url", 28, "url")}


def test_validation_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD_YAML)
    write(tmp_path, "b.csv", "id,title\n")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir())
    validate_catalogs([tmp_path])
    validate_catalog(tmp_path / "a.yaml")
    after = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.iterdir())
    assert before == after


# --- the libyaml fast path ------------------------------------------------------------------

PLAIN_YAML = """\
collection:
  title: "Plain toolkit"
  description: Two entries, every kind of field
resources:
- id: hotline
  title: "National Human Trafficking Hotline"
  url: https://humantraffickinghotline.org/
  description: 'Call, text or chat: 24/7'
  languages: [en, es]
  year: 2016
  tags:
  - hotline
  - victims
  url_confidence: seen
- id: blue
  title: Blue Campaign
  url: https://www.dhs.gov/blue-campaign
  notes: |
    Kept as written.
"""


def _precise(path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    with monkeypatch.context() as patch:
        patch.setattr(source, "_fast_catalog", lambda path, text, found=None: None)
        return load_catalog(path)


def test_plain_yaml_reads_the_same_fast_as_precisely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "kit.yaml", PLAIN_YAML)
    fast = source._fast_catalog(path, PLAIN_YAML)
    assert fast is not None
    assert fast == _precise(path, monkeypatch)
    assert [r.line for r in fast.resources] == [5, 15]
    assert fast.resources[0].languages == ("en", "es")
    assert fast.resources[0].year == 2016
    assert fast.resources[0].extra == {"url_confidence": "seen"}


def test_a_bom_and_non_ascii_text_read_the_same_fast_as_precisely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fast path hands libyaml the file's bytes, not its text.
    title = "Campaña Azul — “Blue” 贩卖人口"
    path = tmp_path / "kit.yaml"
    path.write_bytes(("\ufeff" + PLAIN_YAML.replace("Blue Campaign", title)).encode("utf-8"))
    answers: list[Catalog | None] = []
    real = source._fast_catalog

    def fast_path(path: Path, data: str | bytes, found: Any = None) -> Catalog | None:
        answers.append(real(path, data, found))
        return answers[-1]

    monkeypatch.setattr(source, "_fast_catalog", fast_path)
    fast = load_catalog(path)
    assert answers and answers[0] is not None  # the fast path read it
    assert fast == _precise(path, monkeypatch)
    assert fast.resources[1].title == title
    assert [r.line for r in fast.resources] == [5, 15]


@pytest.mark.parametrize("brk", ["\x85", "\u2028", "\u2029"], ids=["NEL", "LS", "PS"])
def test_entry_lines_after_a_nel_character_are_the_files_lines(tmp_path: Path, brk: str) -> None:
    """U+0085 (NEL: what a cp1252 '…' becomes when read as Latin-1) in a title: libyaml
    counts it as a line break, so the fast loader put every later entry a line too low
    (lint, the report and `resource` pointed there); the same file with a problem, read
    by ruamel, names the right line. U+2028 and U+2029 are the same to libyaml."""
    path = write(
        tmp_path,
        "kit.yaml",
        "resources:\n"
        "  - id: a\n"
        f'    title: "Guide{brk} to things"\n'
        "    url: https://a.example.org/\n"
        "  - id: b\n"
        "    title: B\n"
        "    url: https://b.example.org/\n",
    )
    assert {r.id: r.line for r in load_catalog(path).resources} == {"a": 2, "b": 5}


@pytest.mark.parametrize(
    "change",
    [
        ("  year: 2016\n", "  year: &y 2016\n"),  # an anchor
        ("  url_confidence: seen\n", "  url_confidence: seen\n  other: *x\n"),  # an alias
        ("  title: Blue Campaign\n", "  title: !local Blue Campaign\n"),  # a tag
        ("  url_confidence: seen\n", "  url_confidence: yes\n"),  # YAML 1.1 boolean
        ("  year: 2016\n", "  year: 0o17\n"),  # YAML 1.2 octal
        ("  url_confidence: seen\n", "  url_confidence: seen\n  url_confidence: again\n"),
        ("resources:\n", "resources:\n- <<: {id: merged}\n"),  # a merge key
    ],
)
def test_anything_unusual_leaves_the_fast_path(change: tuple[str, str], tmp_path: Path) -> None:
    text = PLAIN_YAML.replace(*change)
    assert text != PLAIN_YAML
    assert source._fast_catalog(write(tmp_path, "kit.yaml", text), text) is None


#: Plain values curators write beside the schema's fields, each read by ruamel as a date, a
#: whole number or a decimal fraction: the fast path reads them as it does.
_PLAIN_VALUES = {
    "reviewed_at": "2026-12-07",  # as `mark-reviewed` writes it
    "checked": "2024-02-29",
    "since": "2024",
    "version": "1.10",
    "rating": "-0.5",
}


def test_dates_and_numbers_written_plain_read_the_same_fast_as_precisely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date, a year or a version written unquoted sent the whole file to ruamel, ten
    times slower: `mark-reviewed` writes `reviewed_at: 2026-12-07` that way."""
    fields = "".join(f"  {name}: {value}\n" for name, value in _PLAIN_VALUES.items())
    text = (
        PLAIN_YAML.replace("  url_confidence: seen\n", "  url_confidence: seen\n" + fields)
        .replace('  title: "Plain toolkit"\n', "  title: Plain toolkit\n  updated: 2025-01-31\n")
        .replace("  notes: |\n", "  history: [2025-06-01, {at: 2025-07-01, by: ann}]\n  notes: |\n")
    )
    path = write(tmp_path, "kit.yaml", text)
    fast = source._fast_catalog(path, text)
    assert fast is not None
    assert fast == _precise(path, monkeypatch)
    assert fast.collection["updated"] == "2025-01-31"
    assert fast.resources[0].extra == {
        "url_confidence": "seen",
        "reviewed_at": "2026-12-07",
        "checked": "2024-02-29",
        "since": 2024,
        "version": 1.1,
        "rating": -0.5,
    }
    assert fast.resources[1].extra["history"] == ["2025-06-01", {"at": "2025-07-01", "by": "ann"}]


def test_a_review_date_written_by_mark_reviewed_keeps_the_catalog_on_the_fast_loader(
    tmp_path: Path,
) -> None:
    """`mark-reviewed` writes `reviewed_at: 2026-12-07` unquoted; the fast path took only
    text and whole numbers, so every later read of a 20,000-entry catalog took 40 s, not 3,
    and a `replace-url` 2 min 24 s (README: an edit "takes seconds")."""
    from catalog.catalog_edit import FieldEdit, apply_edits

    path = write(tmp_path, "kit.yaml", GOOD_YAML)
    assert source._fast_catalog(path, path.read_bytes()) is not None

    apply_edits(path, [FieldEdit("hotline", "reviewed_at", date(2026, 12, 7))])  # as mark-reviewed

    assert "reviewed_at: 2026-12-07\n" in path.read_text()
    assert source._fast_catalog(path, path.read_bytes()) is not None


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-30",  # no such day: a parse error, worded by the precise path
        "2024-01-02T10:00:00",  # a time stamp
        "2024-01-02 10:00:00",
        "2024-1-2",  # text to YAML 1.2, a date to 1.1
        "1e3",  # exponents, underscores and bare points: other readers differ
        "1_000.5",
        ".5",
        "1.",
        "+1.5",
        ".inf",
        ".nan",
        "0x1F",
    ],
)
def test_other_plain_dates_and_numbers_leave_the_fast_path(value: str, tmp_path: Path) -> None:
    text = PLAIN_YAML.replace("  url_confidence: seen\n", f"  url_confidence: {value}\n")
    assert source._fast_catalog(write(tmp_path, "kit.yaml", text), text) is None


def test_a_date_in_a_text_field_is_refused_as_the_precise_path_words_it(tmp_path: Path) -> None:
    text = PLAIN_YAML.replace(
        "  description: 'Call, text or chat: 24/7'\n", "  description: 2024-05-01\n"
    )
    path = write(tmp_path, "kit.yaml", text)
    assert source._fast_catalog(path, text) is None
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("wrong_type", 8, "description")
    assert "the date 2024-05-01" in problem.message


def test_a_second_document_or_a_problem_leaves_the_fast_path(tmp_path: Path) -> None:
    twice = PLAIN_YAML + "---\n" + PLAIN_YAML
    assert source._fast_catalog(write(tmp_path, "twice.yaml", twice), twice) is None
    duplicate = PLAIN_YAML.replace("id: blue", "id: hotline")
    path = write(tmp_path, "dup.yaml", duplicate)
    assert source._fast_catalog(path, duplicate) is None
    (problem,) = validate_catalog(path).problems
    assert (problem.code, problem.line) == ("duplicate_id", 15)


# --- read_once: a validated file handed to the read that follows --------------------------------


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files parsed (not merely read), in order."""
    seen: list[Path] = []
    real = source._parse

    def counting(path: Path, *args: Any) -> Any:
        seen.append(path)
        return real(path, *args)

    monkeypatch.setattr(source, "_parse", counting)
    return seen


def test_inside_read_once_a_validated_file_is_loaded_without_parsing_it_again(
    tmp_path: Path, parses: list[Path]
) -> None:
    path = write(tmp_path, "kit.yaml", PLAIN_YAML)
    with source.read_once():
        assert validate_catalogs([path]).ok
        handed = load_catalogs([path])
        again = load_catalogs([path])  # handed over once only: nothing stays held
    assert parses == [path, path]
    assert handed == again == [load_catalog(path)]


def test_read_once_parses_again_a_file_edited_since_it_was_validated(
    tmp_path: Path, parses: list[Path]
) -> None:
    path = write(tmp_path, "kit.yaml", PLAIN_YAML)
    with source.read_once():
        validate_catalogs([path])
        path.write_text(PLAIN_YAML.replace("Blue Campaign", "Blue Campaign (DHS)"))
        (catalog,) = load_catalogs([path])
    assert catalog.resources[1].title == "Blue Campaign (DHS)"
    assert len(parses) == 2


def test_outside_read_once_nothing_is_kept(tmp_path: Path, parses: list[Path]) -> None:
    path = write(tmp_path, "kit.yaml", PLAIN_YAML)
    with source.read_once():
        validate_catalogs([path])
    validate_catalogs([path])
    load_catalogs([path])
    assert len(parses) == 3 and not source._kept.files


# --- entries pasted where they are read as text ------------------------------------------------

PASTED = """\
    - id: new-guide
      title: A new guide
      url: https://example.org/new-guide
"""


@pytest.mark.parametrize("block", ["|", "|-", ">", ">-"])
def test_entries_pasted_inside_a_block_scalar_are_refused_not_swallowed(
    tmp_path: Path, block: str
) -> None:
    """Indented a little too far, new entries become the last text value's lines."""
    text = GOOD_YAML + f"  notes: {block}\n    Seen on the archived page.\n" + PASTED
    path = write(tmp_path, "c.yaml", text)
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("bad_structure", 7, "notes")
    assert "new-guide" in problem.message and "- id:" in problem.message


def test_a_note_about_an_old_title_and_url_is_not_taken_for_an_entry(tmp_path: Path) -> None:
    notes = "  notes: |\n    Before 2020:\n    title: Old name\n    url: https://old.example.org/\n"
    path = write(tmp_path, "c.yaml", GOOD_YAML + notes)
    assert validate_catalog(path).ok


@pytest.mark.parametrize(
    ("written", "field"), [("URL", "url"), ("tittle", "title"), ("ID", "id"), ("urls", "url")]
)
def test_a_missing_required_field_names_the_misspelt_key_the_entry_has(
    tmp_path: Path, written: str, field: str
) -> None:
    text = GOOD_YAML.replace(f"  {field}:", f"  {written}:").replace(f"- {field}:", f"- {written}:")
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", text)))
    assert (problem.code, problem.field) == ("missing_field", field)
    assert f"rename {written!r} to {field!r}" in problem.message


def test_a_misspelt_resources_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", GOOD_YAML.replace("resources:", "Resource:"))
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("bad_structure", 3)
    assert "rename 'Resource' to 'resources'" in problem.message


def test_a_tab_before_a_comment_reads_the_same_on_either_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """YAML allows a tab before a comment; ruamel's scanner does not, libyaml does."""
    text = (
        GOOD_YAML.replace("id: hotline", "id: hotline\t# main number") + "  notes: |\n    a\t# b\n"
    )
    path = write(tmp_path, "c.yaml", text)
    fast = load_catalog(path)
    assert fast == _precise(path, monkeypatch)
    assert fast.resources[0].notes == "a\t# b\n"


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u00ad", "\u2060"])
def test_an_id_with_an_invisible_character_is_refused_and_named(
    tmp_path: Path, invisible: str
) -> None:
    """Pasted from a web page, it makes an id that looks like another but is not."""
    path = write(tmp_path, "c.yaml", GOOD_YAML.replace("id: hotline", f"id: hot{invisible}line"))
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("wrong_type", 4, "id")
    assert f"U+{ord(invisible):04X}" in problem.message
    assert problem.message.endswith("retype it as 'hotline'")


def test_an_id_with_spaces_in_a_csv_is_told_in_no_other_format_s_words(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,title,url\nextra four,A,https://a.org/\n")
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("wrong_type", 2, "id")
    assert problem.message.endswith(
        "the id 'extra four' has spaces in it; write ids without spaces, e.g. 'extra-four'"
    )


def test_a_key_indented_with_a_no_break_space_is_named(tmp_path: Path) -> None:
    """Pasted from a web page or a word processor, the indentation is part of the key."""
    inside = GOOD_YAML.replace("  url:", "  \u00a0url:")
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", inside)))
    assert (problem.code, problem.field, problem.line) == ("missing_field", "url", 6)
    assert "rename '\\xa0url' to 'url'" in problem.message

    # At the start of the line, it makes the line a key of the file, out of the entry.
    outside = GOOD_YAML.replace("  url:", "\u00a0 url:")
    problems = validate_catalog(write(tmp_path, "d.yaml", outside)).problems
    assert located(problems) == {("missing_field", 4, "url"), ("bad_structure", 6, "\xa0 url")}
    (stray,) = (p for p in problems if p.code == "bad_structure")
    assert "U+00A0" in stray.message and "ordinary spaces" in stray.message


def test_a_csv_header_naming_a_required_column_misspelt_says_which(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,tittle,URL\nhotline,Hotline,https://example.org/\n")
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("bad_structure", 1, "title")
    assert "(is 'tittle' meant to be 'title'?)" in problem.message


def test_a_csv_with_a_title_row_above_its_header_names_the_header_line(tmp_path: Path) -> None:
    """Exported from a formatted sheet, it was refused as three missing columns on line 1."""
    path = write(
        tmp_path,
        "c.csv",
        "Our toolkit,,\r\n,,\r\nid,title,url\r\nhotline,Hotline,https://a.org/\r\n",
    )
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line, problem.field) == ("bad_structure", 3, None)
    assert "the header row is line 3, not line 1" in problem.message


def test_a_csv_saved_in_windows_1252_names_line_column_and_how_to_save_it(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "c.csv",
        "id,title,url\r\ncafe,Caf\u00e9 guide,https://a.org/\r\n".encode("cp1252"),
    )
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("unreadable", 2)
    assert "byte 0xe9 in column 9" in problem.message
    assert "'CSV UTF-8 (Comma delimited)'" in problem.message


def test_a_utf16_catalog_is_named_as_such(tmp_path: Path) -> None:
    path = write(
        tmp_path, "c.csv", "id,title,url\nhotline,Hotline,https://a.org/\n".encode("utf-16")
    )
    problem = only_problem(validate_catalog(path))
    assert problem.code == "unreadable"
    assert "UTF-16" in problem.message and "0xff" not in problem.message


@pytest.mark.parametrize(
    "written",
    [
        "<https://a.org/x>",
        '"=HYPERLINK(""https://a.org/x"",""The guide"")"',
        "\u201chttps://a.org/x\u201d",
        "[The guide](https://a.org/x)",
    ],
)
def test_a_wrapped_csv_url_is_warned_with_the_address_it_means(
    tmp_path: Path, written: str
) -> None:
    """It was told 'the URL has no scheme (it should start with https://)', which it
    seems to."""
    path = write(tmp_path, "c.csv", f"id,title,url\nguide,Guide,{written}\n")
    report = validate_catalog(path)
    assert report.ok
    (warning,) = report.warnings
    assert (warning.code, warning.line) == ("invalid_url", 2)
    assert "write it as https://a.org/x;" in warning.message
    assert [r.url for r in load_catalog(path).resources] != ["https://a.org/x"]  # kept as written


def test_a_url_list_of_two_addresses_is_told_to_become_two_entries(tmp_path: Path) -> None:
    """Quoting `[a, b]`, as a list is otherwise told, would make one address with a space."""
    text = GOOD_YAML.replace(
        "url: https://humantraffickinghotline.org/",
        "url: [https://humantraffickinghotline.org/, https://polarisproject.org/]",
    )
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", text)))
    assert (problem.code, problem.line, problem.field) == ("wrong_type", 6, "url")
    assert "a list of 2 addresses" in problem.message
    assert "give each other page its own entry" in problem.message
    assert "quotes" not in problem.message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("tel:+1-888-373-7888", "a phone number (tel:) cannot be checked as a link"),
        ("mailto:help@example.org", "an e-mail address (mailto:) cannot be checked as a link"),
        ("https://a.org/x https://b.org/y", "holds 2 addresses; an entry links one page"),
    ],
)
def test_a_hotline_or_two_pasted_addresses_warn_with_what_to_write(
    tmp_path: Path, url: str, says: str
) -> None:
    """A hotline catalog links phone numbers; "use http or https" does not tell the curator
    to link the page that lists the number, as `import-csv` does."""
    text = GOOD_YAML.replace("url: https://humantraffickinghotline.org/", f"url: {url}")
    report = validate_catalog(write(tmp_path, "c.yaml", text))
    (warning,) = report.warnings
    assert warning.code == "invalid_url" and says in warning.message


def test_an_entry_whose_address_is_under_another_name_is_told_to_rename_it(
    tmp_path: Path,
) -> None:
    """A catalog from elsewhere names it `link:` (as a sheet's 'Link' column, which
    `import-csv` reads as url): "add the resource's web address" sent the curator looking
    for an address that is right there."""
    text = GOOD_YAML.replace("url: https://", "link: https://")
    problem = only_problem(validate_catalog(write(tmp_path, "c.yaml", text)))
    assert (problem.code, problem.line, problem.field) == ("missing_field", 6, "url")
    assert "'link' holds a web address; rename 'link' to 'url'" in problem.message
    text = GOOD_YAML.replace("url: https://humantraffickinghotline.org/", "notes: none")
    problem = only_problem(validate_catalog(write(tmp_path, "d.yaml", text)))
    assert "add the resource's web address" in problem.message


@pytest.mark.parametrize(("char", "said"), [("\0", "a NUL character (\\0)"), ("\x07", "U+0007")])
def test_a_character_yaml_refuses_is_reported_at_its_line(
    tmp_path: Path, char: str, said: str
) -> None:
    """It was "position 56": a count of characters no editor shows."""
    path = write(tmp_path, "c.yaml", GOOD_YAML.replace("National", f"Nati{char}onal"))
    problem = only_problem(validate_catalog(path))
    assert (problem.code, problem.line) == ("parse_error", 5)
    assert said in problem.message and "position" not in problem.message
