"""A wrong `languages` or `tags` value is answered with an example of that field's own kind:
a curator told to write tags "for example [en, es]" would write language codes as tags."""

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
