"""`linkhealth catalog lint`, `import-html` and `import-csv`: exit codes, output, files written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from catalog.source import load_catalog
from flows.cli import app
from flows.cli_catalog import EXIT_LINT_FINDINGS

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "import"

CLEAN = """\
resources:
  - id: a
    title: A complete entry about one thing
    url: https://example.org/a
    description: What it is.
    publisher: Someone
    type: guide
    year: 2020
"""

UNTIDY = """\
resources:
  - id: a
    title: First entry
    url: https://example.org/a?utm_source=news
    description: What it is.
    publisher: Someone
    type: guide
    year: 2020
  - id: b
    title: Second entry
    url: https://EXAMPLE.org/a?utm_source=news#top
    description: Same page.
    publisher: Someone
    type: guide
"""


def test_lint_of_a_tidy_catalog_exits_zero(isolated_cwd: Path) -> None:
    (isolated_cwd / "clean.yaml").write_text(CLEAN)
    result = runner.invoke(app, ["catalog", "lint", "clean.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_lint_exits_7_on_errors_and_prints_the_fix(isolated_cwd: Path) -> None:
    (isolated_cwd / "untidy.yaml").write_text(UNTIDY)
    result = runner.invoke(app, ["catalog", "lint", "untidy.yaml"])
    assert result.exit_code == EXIT_LINT_FINDINGS == 7
    assert "[duplicate_url]" in result.stdout
    assert "linkhealth replace-url a https://example.org/a" in result.stdout
    # The pair a/b is one error, said once, at b (its `duplicate_of` goes there).
    assert result.stdout.count("[duplicate_url]") == 1
    assert "untidy.yaml:9: error: b: the same URL as a, listed before" in result.stdout
    assert result.stderr.startswith("1 error, ")


def test_lint_counts_its_findings_in_words(isolated_cwd: Path) -> None:
    (isolated_cwd / "c.yaml").write_text(CLEAN.replace("    year: 2020\n", ""))
    assert runner.invoke(app, ["catalog", "lint", "c.yaml"]).stderr.endswith(
        "0 errors, 0 warnings, 1 info finding\n"
    )


def test_lint_fail_on_chooses_the_level(isolated_cwd: Path) -> None:
    (isolated_cwd / "c.yaml").write_text(CLEAN.replace("    year: 2020\n", ""))
    assert runner.invoke(app, ["catalog", "lint", "c.yaml"]).exit_code == 0
    assert runner.invoke(app, ["catalog", "lint", "c.yaml", "--fail-on", "warning"]).exit_code == 0
    result = runner.invoke(app, ["catalog", "lint", "c.yaml", "--fail-on", "info"])
    assert result.exit_code == 7
    assert runner.invoke(app, ["catalog", "lint", "c.yaml", "--fail-on", "bogus"]).exit_code == 2


def test_lint_json_lists_findings_with_location_and_command(isolated_cwd: Path) -> None:
    (isolated_cwd / "untidy.yaml").write_text(UNTIDY)
    result = runner.invoke(
        app, ["catalog", "lint", "--catalog", "untidy.yaml", "--json", "--fail-on", "error"]
    )
    findings = json.loads(result.stdout)
    codes = {(f["resource_id"], f["code"]) for f in findings}
    assert {("b", "duplicate_url"), ("b", "missing_year")} <= codes
    assert ("a", "duplicate_url") not in codes  # one pair, one finding, at the later entry
    assert {("a", "tracking_params"), ("b", "tracking_params")} <= codes
    first = next(f for f in findings if f["code"] == "tracking_params")
    assert first["line"] == 4 and first["file"].endswith("untidy.yaml")  # its url line
    assert first["command"].startswith("linkhealth replace-url a ")


def test_lint_defaults_to_the_configured_catalogs(isolated_cwd: Path) -> None:
    result = runner.invoke(app, ["catalog", "lint", "--json", "--fail-on", "warning"])
    assert result.exit_code == 7  # the bundled toolkit has http:// URLs (warnings)
    findings = json.loads(result.stdout)
    assert any(f["code"] == "http_url" for f in findings)
    # Its three DHS panels share one URL on purpose and say so (duplicate_of).
    assert not any(f["code"] == "duplicate_url" for f in findings)


def test_lint_of_a_broken_catalog_exits_5(isolated_cwd: Path) -> None:
    (isolated_cwd / "bad.yaml").write_text("resources:\n  - id: a\n")
    assert runner.invoke(app, ["catalog", "lint", "bad.yaml"]).exit_code == 5


def test_import_html_dry_run_prints_the_diff_and_writes_nothing(isolated_cwd: Path) -> None:
    result = runner.invoke(
        app,
        [
            "catalog",
            "import-html",
            str(DATA / "odd-markup.html"),
            "--into",
            "odd.yaml",
            "--dry-run",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "+- id: cafe-workers-rights-safety-guide" in result.stdout
    assert "javascript" in result.stderr
    assert not (isolated_cwd / "odd.yaml").exists()


def test_import_html_writes_the_catalog(isolated_cwd: Path) -> None:
    args = ["catalog", "import-html", str(DATA / "toolkit-page.html"), "--into", "t.yaml"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(load_catalog(isolated_cwd / "t.yaml").resources) == 26
    again = runner.invoke(app, [*args, "--json"])
    data = json.loads(again.stdout)
    assert data["added"] == [] and data["diff"] == "" and len(data["matched"]) == 26


def test_import_html_fetches_a_url(isolated_cwd: Path) -> None:
    page = (DATA / "odd-markup.html").read_text(encoding="utf-8")
    with respx.mock:
        respx.get("https://clearinghouse.example.gov/Toolkit/1").mock(
            return_value=httpx.Response(200, html=page)
        )
        result = runner.invoke(
            app,
            [
                "catalog",
                "import-html",
                "https://clearinghouse.example.gov/Toolkit/1",
                "--into",
                "odd.yaml",
            ],
        )
    assert result.exit_code == 0, result.output
    urls = {r.url for r in load_catalog(isolated_cwd / "odd.yaml").resources}
    assert "https://clearinghouse.example.gov/relative/page" in urls


def test_import_csv_adds_rows(isolated_cwd: Path) -> None:
    (isolated_cwd / "export.csv").write_text(
        "title,url,description,publisher\n"
        "Hotline,https://humantraffickinghotline.org/,The hotline.,Polaris\n"
    )
    result = runner.invoke(app, ["catalog", "import-csv", "export.csv", "--into", "c.yaml"])
    assert result.exit_code == 0, result.output
    (resource,) = load_catalog(isolated_cwd / "c.yaml").resources
    assert (resource.id, resource.publisher) == ("hotline", "Polaris")


def test_import_csv_names_the_file_and_row_of_each_skipped_row(isolated_cwd: Path) -> None:
    (isolated_cwd / "export.csv").write_text(
        "title,url\nHotline,https://humantraffickinghotline.org/\nCall us,tel:+18883737888\n"
    )
    result = runner.invoke(app, ["catalog", "import-csv", "export.csv", "--into", "c.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("skipped export.csv row 3 'Call us': 'tel:+18883737888' is a")


def test_import_commands_have_help() -> None:
    for command in ("lint", "import-html", "import-csv"):
        result = runner.invoke(app, ["catalog", command, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.stdout


@pytest.mark.parametrize("command", [["check"], ["recheck", "--changed"]])
def test_check_with_catalog_parses_the_file_once(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """The pre-check validates the file in full; the flow run (in this process) loads it
    from there instead of parsing it again (seconds for a catalog of 100,000 entries)."""
    import flows.check_flow
    import flows.prefect_server
    import flows.recheck_flow
    from catalog import source
    from catalog.runs import RunSummary
    from catalog.settings import load_settings

    (isolated_cwd / "kit.yaml").write_text(CLEAN)
    parsed: list[Path] = []
    real_parse = source._parse

    def parse(path: Path, *args: Any) -> Any:
        parsed.append(path)
        return real_parse(path, *args)

    loaded: list[list[str]] = []

    def flow(**kwargs: Any) -> Any:
        settings = load_settings(kwargs["config"]).with_overrides(**kwargs["overrides"])
        loaded.append([r.id for c in source.load_catalogs(settings.catalogs) for r in c.resources])
        when = datetime(2025, 3, 1, tzinfo=UTC)
        summary = RunSummary(1, "completed", "manual", when, when, 1, {}, False)
        return (
            summary
            if command == ["check"]
            else SimpleNamespace(ids=[], summary=summary, verdicts=(), nothing_said=str)
        )

    if command[0] == "recheck":  # it rechecks what a check stored: that database exists
        from catalog.db import open_engine

        (isolated_cwd / "var").mkdir()
        open_engine("sqlite:///var/linkhealth.db").dispose()
    monkeypatch.setattr(source, "_parse", parse)
    monkeypatch.setattr(flows.prefect_server, "ensure_server", lambda say: None)
    monkeypatch.setattr(flows.check_flow, "check_catalog", flow)
    monkeypatch.setattr(flows.recheck_flow, "recheck", flow)
    result = runner.invoke(app, [*command, "--catalog", "kit.yaml", "--no-report"])
    assert result.exit_code == 0, result.output
    assert loaded == [["a"]]
    assert [p.name for p in parsed] == ["kit.yaml"]
    assert not source._kept.files  # nothing held once the command is done
