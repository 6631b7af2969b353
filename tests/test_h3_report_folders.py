"""`report --out DIR` takes the folders it took before reports recorded their database:
an old report's folder, one copied without its dot files, and a GitHub Pages folder that
holds only its CNAME, .nojekyll or .gitkeep; it still refuses someone else's site."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from reports.publish import MARKER_PREFIX

runner = CliRunner()


def _report(out: str, *formats: str):
    given = [arg for f in formats for arg in ("--format", f)]
    return runner.invoke(app, ["report", *given, "--out", out])


def _without_dot_files(folder: Path) -> None:
    """As a report written before reports recorded their database, or copied with `cp
    dir/*`: its own files, none of its `.linkhealth-*` markers."""
    for path in folder.iterdir():
        if path.name.startswith("."):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert not any(p.name.startswith(MARKER_PREFIX) for p in folder.iterdir())


@pytest.mark.parametrize("formats", [("html",), ("md",), ("html", "md", "csv", "json")])
def test_a_report_folder_without_its_markers_is_still_written(
    toolkit_synced: Path, formats: tuple[str, ...]
) -> None:
    """Such folders were refused as someone's: `report_folder` says they need no migration."""
    assert _report("site", *formats).exit_code == 0
    _without_dot_files(toolkit_synced / "site")

    result = _report("site", *formats)

    assert result.exit_code == 0, result.output
    assert any(p.name.startswith(MARKER_PREFIX) for p in (toolkit_synced / "site").iterdir())


def test_an_old_html_report_index_and_style_alone_is_still_written(toolkit_synced: Path) -> None:
    """An index.html that linkhealth made (its generator meta) with the site's style.css."""
    assert _report("site", "html").exit_code == 0
    site = toolkit_synced / "site"
    for path in site.iterdir():
        if path.name not in ("index.html", "style.css"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    result = _report("site", "html")

    assert result.exit_code == 0, result.output
    assert (site / "latest.html").is_file()


@pytest.mark.parametrize(
    "files", [[".gitkeep"], ["CNAME"], [".nojekyll", "CNAME"], [".nojekyll", ".gitkeep"]]
)
def test_a_folder_of_only_dot_files_or_a_cname_is_empty(
    toolkit_synced: Path, files: list[str]
) -> None:
    """A GitHub Pages folder (CNAME, .nojekyll) or a kept empty one (.gitkeep)."""
    site = toolkit_synced / "docs"
    site.mkdir()
    for name in files:
        (site / name).write_text("links.example.org\n" if name == "CNAME" else "")

    result = _report("docs", "md")

    assert result.exit_code == 0, result.output
    assert (site / "latest.md").is_file()
    for name in files:  # left as they were
        assert (site / name).read_text() == ("links.example.org\n" if name == "CNAME" else "")


@pytest.mark.parametrize(
    "files",
    [
        {"index.html": "<h1>our site</h1>", "other.css": "h1 {}"},
        {"index.html": "<h1>our site</h1>", "style.css": "h1 {}"},
        {"index.html": "<h1>our site</h1>", "style.css": "h1 {}", "CNAME": "x.org\n"},
        {"latest.md": "# notes", "notes.txt": "mine"},
        {"about.html": '<meta name="generator" content="linkhealth">'},
    ],
)
def test_someone_elses_files_are_still_refused(toolkit_synced: Path, files: dict[str, str]) -> None:
    site = toolkit_synced / "site"
    site.mkdir()
    for name, text in files.items():
        (site / name).write_text(text)

    result = _report("site")

    assert result.exit_code == 2, result.output
    assert "the folder holds other files and no linkhealth report" in result.stderr
    assert {p.name: p.read_text() for p in site.iterdir()} == files
