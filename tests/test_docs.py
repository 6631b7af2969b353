"""The README cannot drift: its tables are generated from the code and checked here.

Run `python tests/test_docs.py --fix` after adding an outcome or a problem code.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import typer.main

from catalog.outcomes import Outcome

README = Path(__file__).resolve().parent.parent / "README.md"


def outcome_rows() -> str:
    return "\n".join(f"| `{o.value}` | {o.severity.value} | {o.explanation} |" for o in Outcome)


def problem_rows() -> str:
    from catalog.source import PROBLEM_CODES

    return "\n".join(f"| `{code}` | {text} |" for code, text in PROBLEM_CODES.items())


def finding_rows() -> str:
    from catalog.hygiene import FINDING_CODES

    return "\n".join(
        f"| `{code}` | {label} | {level.value} | {text} |"
        for code, (level, label, text) in FINDING_CODES.items()
    )


SECTIONS = {
    "outcomes": outcome_rows,
    "problem-codes": problem_rows,
    "finding-codes": finding_rows,
}


def _section(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"README.md lacks the {name} markers"
    return match.group(1).strip()


def fix() -> None:
    text = README.read_text()
    for name, rows in SECTIONS.items():

        def fill(m: re.Match[str], rows: Callable[[], str] = rows) -> str:
            return m.group(1) + rows() + "\n" + m.group(2)

        text = re.sub(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", fill, text, flags=re.S)
    README.write_text(text)


def test_readme_outcome_table_matches_the_taxonomy() -> None:
    assert _section(README.read_text(), "outcomes") == outcome_rows()


def test_readme_problem_table_matches_the_validator() -> None:
    assert _section(README.read_text(), "problem-codes") == problem_rows()


def test_readme_lint_table_matches_the_hygiene_checks() -> None:
    assert _section(README.read_text(), "finding-codes") == finding_rows()


def test_readme_opens_with_the_two_commands() -> None:
    head = "\n".join(README.read_text().splitlines()[:8])
    assert "make run" in head and "make test" in head


def _commands(group: object, prefix: str = "") -> list[str]:
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        if hasattr(cmd, "commands"):
            names += _commands(cmd, f"{prefix}{name} ")
        else:
            names.append(f"{prefix}{name}")
    return names


def test_every_command_is_documented_in_the_readme() -> None:
    from flows.cli import app

    text = README.read_text()
    missing = [
        c
        for c in _commands(typer.main.get_command(app))
        if f"linkhealth {c}" not in text and f"`{c.split()[-1]}`" not in text
    ]
    assert not missing, f"undocumented commands: {missing}"


def test_the_files_the_help_examples_name_in_the_checkout_are_there() -> None:
    """README walkthrough (u4): `catalog edited --help` gave `catalog/data/toolkit.yaml`,
    which a clean checkout does not hold, so its example failed as typed there (exit 2)."""
    from flows.cli import app

    root = README.parent
    group = typer.main.get_command(app)
    named = []
    for name in _commands(group):
        command = group
        for part in name.split():
            command = command.commands[part]  # type: ignore[attr-defined]
        for line in (command.help or "").splitlines():  # type: ignore[attr-defined]
            if line.strip().startswith("Example:"):
                named += re.findall(r"(?<![\w/])((?:catalog|deploy|tests)/[\w./-]+)", line)
    assert named, "no example names a file of the checkout"
    assert [path for path in named if not (root / path).exists()] == []


def test_every_exit_code_of_our_errors_is_documented() -> None:
    from catalog import errors
    from flows.cli import EXIT_NEEDS_ATTENTION
    from flows.cli_catalog import EXIT_LINT_FINDINGS

    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.LinkhealthError)
    } | {EXIT_NEEDS_ATTENTION, EXIT_LINT_FINDINGS}
    text = README.read_text()
    for code in codes:
        assert re.search(rf"^\| {code} \|", text, re.M), f"exit code {code} not in README"


def test_the_readme_says_how_many_words_a_page_needs_to_be_judged_by_them() -> None:
    """README walkthrough: a short unrelated page in a resource's place passed as OK, as
    `drift.MIN_PAGE_WORDS` means it to, where the README promised any wrong entry flagged."""
    from catalog.drift import MIN_PAGE_WORDS

    text = " ".join(README.read_text().split())
    assert f"fewer than {MIN_PAGE_WORDS} content words (`drift.MIN_PAGE_WORDS`" in text
    assert f"(a page of {MIN_PAGE_WORDS} content words or more:" in text


if __name__ == "__main__":
    if "--fix" in sys.argv:
        fix()
