"""An edit of one entry leaves every other entry as it was, though the file ties them
together: a YAML merge key (`- <<: *course`), a list shared through an alias
(`tags: *common`), a CSV row with a value past the header's last column. And a file
the loader reads is one an edit can write (a `%TAG` directive)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog.catalog_edit import FieldEdit, apply_edits
from catalog.errors import CatalogError
from catalog.importer import import_entries, parse_csv
from catalog.source import load_catalog, validate_catalog

HEAD = "collection:\n  title: T\nresources:\n"
COURSES = (
    HEAD + "- &course\n  id: course-2023\n  title: Course, 2023 edition\n"
    "  url: https://a.example/2023\n  type: training course\n  publisher: Acme\n"
    "  tags: [police, training]\n"
    "- <<: *course\n  id: course-2024\n  title: Course, 2024 edition\n"
    "  url: https://a.example/2024\n"
)


def fields(path: Path) -> dict[str, dict[str, Any]]:
    return {r.id: r.fields_dict() for r in load_catalog(path).resources}


def written(tmp_path: Path, text: str, name: str = "cat.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- entries that build on another with a merge key -------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reviewed_at", "2026-12-05"),  # `mark-reviewed course-2023`: a field neither has
        ("publisher", "Acme Press"),  # an import's fill, a field the other reads from it
        ("publisher", None),  # a field removed
    ],
)
def test_an_edit_another_entry_would_read_through_a_merge_key_is_refused(
    tmp_path: Path, field: str, value: Any
) -> None:
    path = written(tmp_path, COURSES)

    with pytest.raises(CatalogError) as refused:
        apply_edits(path, [FieldEdit("course-2023", field, value)])

    (problem,) = refused.value.problems
    assert problem.line == 11 and problem.field == field  # the `- <<: *course` line
    assert "'course-2024' builds on 'course-2023'" in problem.message
    assert f"give 'course-2024' its own '{field}:' line" in problem.message
    assert path.read_text() == COURSES


@pytest.mark.parametrize("text", [COURSES, COURSES + "  publisher: Acme Press\n"])
def test_removing_a_field_an_entry_still_reads_through_its_merge_key_is_refused(
    tmp_path: Path, text: str
) -> None:
    """Removed, or with no line of its own to remove, it would still have the field."""
    path = written(tmp_path, text)

    with pytest.raises(CatalogError) as refused:
        apply_edits(path, [FieldEdit("course-2024", "publisher", None)])

    (problem,) = refused.value.problems
    assert (problem.line, problem.field) == (11, "publisher")
    assert "'course-2024' reads publisher through its YAML merge key" in problem.message
    assert path.read_text() == text


def test_the_refusal_says_what_lets_the_edit_change_only_the_entry_asked_for(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, COURSES)
    review = FieldEdit("course-2023", "reviewed_at", "2026-12-05")
    with pytest.raises(CatalogError):
        apply_edits(path, [review])

    path.write_text(COURSES + "  reviewed_at:\n")  # as the refusal says
    apply_edits(path, [review])
    # A field the other entry writes itself was never shared.
    apply_edits(path, [FieldEdit("course-2023", "url", "https://a.example/new")])

    got = fields(path)
    assert (got["course-2023"]["reviewed_at"], got["course-2023"]["url"]) == (
        "2026-12-05",
        "https://a.example/new",
    )
    assert got["course-2024"].get("reviewed_at") is None
    assert got["course-2024"]["url"] == "https://a.example/2024"


@pytest.mark.parametrize(
    ("field", "value"), [("tags", ["webinar"]), ("publisher", "Acme Press"), ("tags", [])]
)
def test_a_field_an_entry_reads_through_its_merge_key_is_set_in_that_entry_alone(
    tmp_path: Path, field: str, value: Any
) -> None:
    path = written(
        tmp_path,
        COURSES + "\n# the next one\n" + "- id: c\n  title: C\n  url: https://c.example/\n",
    )
    before = fields(path)

    apply_edits(path, [FieldEdit("course-2024", field, value)])

    got = fields(path)
    assert got["course-2024"][field] == value
    assert got["course-2023"] == before["course-2023"]
    assert got["c"] == before["c"]
    text = path.read_text()
    assert text.index(f"  {field}:", text.index("id: course-2024")) < text.index("# the next one")


# --- lists shared through an alias ------------------------------------------------------------

SHARED = (
    HEAD + "- id: a\n  title: A\n  url: https://a.example/\n  tags: &common\n  - hotline\n"
    "  - victims\n\n# b comes next\n"
    "- id: b\n  title: B\n  url: https://b.example/\n  tags: *common\n\n# c comes next\n"
    "- id: c\n  title: C\n  url: https://c.example/\n"
)


@pytest.mark.parametrize("rid", ["a", "b"])
def test_setting_a_list_shared_through_an_alias_changes_that_entry_alone(
    tmp_path: Path, rid: str
) -> None:
    path = written(tmp_path, SHARED)

    apply_edits(path, [FieldEdit(rid, "tags", ["training"])])

    got = fields(path)
    assert got[rid]["tags"] == ["training"]
    assert [got[other]["tags"] for other in "ab" if other != rid] == [["hotline", "victims"]]
    text = path.read_text()  # the comments stay between the entries they were between
    assert text.index("# b comes next") < text.index("id: b") < text.index("# c comes next")
    assert text.index("tags: [training]" if rid == "b" else "- training") < text.index(
        "# c comes next" if rid == "b" else "# b comes next"
    )


def test_an_import_fills_an_empty_list_shared_through_an_alias_for_its_entry_alone(
    tmp_path: Path,
) -> None:
    path = written(
        tmp_path,
        HEAD + "- id: a\n  title: A\n  url: https://a.example/\n  tags: &none []\n"
        "- id: b\n  title: B\n  url: https://b.example/\n  tags: *none\n",
    )

    import_entries(path, parse_csv("title,url,tags\nA,https://a.example/,hotline\n", source="s"))

    got = fields(path)
    assert (got["a"]["tags"], got["b"]["tags"]) == (["hotline"], [])


def test_a_key_added_after_an_alias_leaves_the_lines_of_its_anchor_in_place(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, SHARED)

    apply_edits(path, [FieldEdit("b", "reviewed_at", "2026-12-05")])

    assert path.read_text() == SHARED.replace(
        "  tags: *common\n", "  tags: *common\n  reviewed_at: '2026-12-05'\n"
    )


# --- a CSV row with a value in no column ------------------------------------------------------


def test_a_new_csv_column_is_refused_while_a_row_has_a_value_past_the_header(
    tmp_path: Path,
) -> None:
    text = 'id,title,url\na,A,https://a.example/\nb,B,https://b.example/,"see the 2019 edition"\n'
    path = written(tmp_path, text, "cat.csv")
    assert [(p.code, p.line) for p in validate_catalog(path).problems] == [("bad_structure", 3)]

    with pytest.raises(CatalogError) as refused:
        apply_edits(path, [FieldEdit("a", "reviewed_at", "2026-12-05")])

    (problem,) = refused.value.problems
    assert (problem.line, problem.field) == (3, "reviewed_at")
    assert "'see the 2019 edition'" in problem.message
    assert path.read_text() == text
    # An edit of a column the header has still goes through.
    apply_edits(path, [FieldEdit("a", "title", "A2")])
    assert path.read_text() == text.replace("a,A,", "a,A2,")


# --- a file that starts with a directive ------------------------------------------------------


def test_a_catalog_starting_with_a_tag_directive_can_be_edited(tmp_path: Path) -> None:
    text = (
        "%TAG !e! tag:example.com,2000:\n---\n" + HEAD + "- id: a\n  title: A\n"
        "  url: https://a.example/\n  tags:\n  - x\n"
    )
    path = written(tmp_path, text)
    assert not validate_catalog(path).problems

    apply_edits(path, [FieldEdit("a", "url", "https://n.example/")])

    assert path.read_text() == text.replace("https://a.example/", "https://n.example/")


def test_an_import_fill_refused_names_the_catalog_not_the_import_s_working_copy(
    tmp_path: Path,
) -> None:
    """The import edits a copy of the catalog; a refusal named that temporary file, which
    is gone by the time the curator reads the message."""
    path = written(tmp_path, COURSES)
    sheet = 'title,url,description\n"Course, 2023 edition",https://a.example/2023,About it\n'

    with pytest.raises(CatalogError) as refused:
        import_entries(path, parse_csv(sheet, source="s"))

    (problem,) = refused.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 11, "description")
    assert path.read_text() == COURSES
