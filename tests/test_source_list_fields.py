"""Catalog problems answered with the fix for that field or file: a curator told to write
tags "for example [en, es]" would write language codes as tags, and one whose spreadsheet
has no id column needs `import-csv`, not ids typed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.source import validate_catalog


@pytest.mark.parametrize(
    ("field", "value", "says", "never"),
    [
        ("tags", "5", "write a list of words (for example [training, hotline])", "[en, es]"),
        ("languages", "5", "write a list of words (for example [en, es])", "training"),
        ("tags", "[training, 5]", "item 2 of 'tags' is the number 5", "'en'"),
        ("tags", "[training, 5]", "write each item as a word such as 'training'", "'en'"),
        ("languages", "[en, 5]", "write each item as a word such as 'en'", "training"),
    ],
)
def test_a_wrong_list_value_gets_an_example_of_its_own_field(
    tmp_path: Path, field: str, value: str, says: str, never: str
) -> None:
    path = tmp_path / "toolkit.yaml"
    path.write_text(
        f"resources:\n  - id: a\n    title: A\n    url: https://a.example/\n    {field}: {value}\n"
    )

    (problem,) = validate_catalog(path).problems

    assert (problem.code, problem.field, problem.line) == ("wrong_type", field, 5)
    assert says in problem.message and never not in problem.message


def test_a_spreadsheet_without_ids_is_pointed_at_import_csv(tmp_path: Path) -> None:
    """A sheet of titles and links saved where catalogs are read: the way to use it."""
    path = tmp_path / "sheet.csv"
    path.write_text("Name,Link\nGuide,https://a.example/\n")

    problems = validate_catalog(path).problems

    assert [(p.code, p.field, p.line) for p in problems] == [
        ("bad_structure", "id", 1),
        ("bad_structure", "title", 1),
        ("bad_structure", "url", 1),
    ]
    assert "`linkhealth catalog import-csv FILE --into CATALOG.yaml`" in problems[0].message
    assert "import-csv" not in problems[1].message + problems[2].message


def test_a_misspelt_id_column_is_named_not_sent_to_import_csv(tmp_path: Path) -> None:
    path = tmp_path / "toolkit.csv"
    path.write_text("ids,title,url\na,A,https://a.example/\n")

    (problem,) = validate_catalog(path).problems

    assert "is 'ids' meant to be 'id'?" in problem.message
    assert "import-csv" not in problem.message
