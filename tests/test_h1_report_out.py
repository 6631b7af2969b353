"""`report --out` writes only into a new or empty folder, or one a report was written into
before: never over someone's site, nor (an empty --out) into the current folder."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args))


def test_report_never_writes_over_a_folder_that_holds_no_report(toolkit_synced: Path) -> None:
    """Someone's index.html and style.css were replaced by the report's, exit 0."""
    site = toolkit_synced / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>our site</h1>")
    (site / "style.css").write_text("h1 {}")

    result = _invoke("report", "--out", "site")

    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: cannot write the report into site: the folder holds other ")
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "style.css"]
    assert (site / "index.html").read_text() == "<h1>our site</h1>"


def test_report_writes_into_a_new_an_empty_or_its_own_folder(toolkit_synced: Path) -> None:
    (toolkit_synced / "empty").mkdir()
    for out in ("new", "empty", "new"):  # "new" the second time: a report's folder
        result = _invoke("report", "--format", "md", "--out", out)
        assert result.exit_code == 0, result.output
        assert (toolkit_synced / out / "latest.md").is_file()


def test_report_out_empty_is_refused_naming_the_option(toolkit_synced: Path) -> None:
    """`--out "$OUT"` with OUT unset wrote the site into the current folder."""
    before = sorted(p.name for p in toolkit_synced.iterdir())
    result = _invoke("report", "--out", "")
    assert result.exit_code == 2, result.output
    assert "'--out'" in result.stderr and "empty" in result.stderr
    assert sorted(p.name for p in toolkit_synced.iterdir()) == before
