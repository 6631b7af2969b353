"""`export --out` writes only where nothing of someone else's is lost: never over the
database, a catalog or settings file, nor over a file that is no earlier export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import TOOLKIT_CATALOG

runner = CliRunner()

CSV_CATALOG = "id,title,url\nz,Elsewhere,https://example.org/z\n"


def _invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize("out", ["var/lh.db", "var/../var/lh.db", "db-link.jsonl"])
def test_export_never_writes_over_the_database_it_reads(toolkit_synced: Path, out: str) -> None:
    """`--out var/lh2.db` replaced the whole history with an export of it, exit 0."""
    (toolkit_synced / "db-link.jsonl").symlink_to(toolkit_synced / "var" / "lh.db")
    before = (toolkit_synced / "var" / "lh.db").read_bytes()

    result = _invoke("export", "--format", "jsonl", "--out", out)

    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot write {out}: it is the database sqlite:///var/lh.db")
    assert (toolkit_synced / "var" / "lh.db").read_bytes() == before
    assert _invoke("export").exit_code == 0  # the database still reads


def test_export_never_writes_over_the_databases_working_files(toolkit_synced: Path) -> None:
    wal = toolkit_synced / "var" / "lh.db-wal"  # there or not, as SQLite left it
    before = wal.read_bytes() if wal.exists() else None
    result = _invoke("export", "--format", "jsonl", "--out", "var/lh.db-wal")
    assert result.exit_code == 2, result.output
    assert "a working file of sqlite:///var/lh.db" in result.stderr
    assert (wal.read_bytes() if wal.exists() else None) == before


def test_export_never_writes_over_a_catalog_or_settings_file(toolkit_synced: Path) -> None:
    """`--out toolkit.yaml` replaced the catalog file; a CSV catalog named with --catalog,
    or one the settings file names, is no export's to replace either."""
    (toolkit_synced / "more.csv").write_text(CSV_CATALOG)
    assert _invoke("sync", "--catalog", "more.csv").exit_code == 0
    settings = f"catalogs = [{json.dumps(str(toolkit_synced / 'more.csv'))}]\n"
    (toolkit_synced / "linkhealth.toml").write_text(settings)

    named = _invoke("export", "--catalog", "more.csv", "--out", "more.csv")
    configured = _invoke("export", "--catalog", "toolkit.yaml", "--out", "more.csv")
    toml = _invoke("export", "--format", "csv", "--out", "linkhealth.toml")
    yaml = _invoke("export", "--catalog", "toolkit.yaml", "-f", "jsonl", "--out", "toolkit.yaml")

    for result in (named, configured):
        assert result.exit_code == 2, result.output
        assert "cannot write more.csv: it is a catalog file" in result.stderr
    assert toml.exit_code == 2 and "it is a settings file" in toml.stderr
    assert yaml.exit_code == 2 and "cannot write toolkit.yaml: it is a catalog" in yaml.stderr
    assert (toolkit_synced / "more.csv").read_text() == CSV_CATALOG
    assert (toolkit_synced / "linkhealth.toml").read_text() == settings
    assert (toolkit_synced / "toolkit.yaml").read_text() == TOOLKIT_CATALOG


@pytest.mark.parametrize(
    ("name", "held"),
    [
        ("notes.jsonl", "call Ann about the hotline\n"),
        ("links.jsonl", '{"id": "a", "note": "not an export"}\n'),
        ("links.csv", "id,title,url\na,A,https://example.org/a\n"),  # a CSV catalog
        ("links.csv", '{"collection": "toolkit", "id": "a", "url": "u", "outcome": ""}\n'),
        ("sheet.csv", "\x00\x01binary\xff"),
    ],
)
def test_export_never_replaces_a_file_that_is_no_earlier_export(
    toolkit_synced: Path, name: str, held: str
) -> None:
    (toolkit_synced / name).write_text(held, encoding="latin-1")

    result = _invoke("export", "--out", name)

    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot write {name}: the file is there and is no earlier ")
    assert "remove it, or choose another file with --out" in line
    assert (toolkit_synced / name).read_text(encoding="latin-1") == held
    assert [p.name for p in toolkit_synced.glob(f".{name}*")] == []  # no temp file left


@pytest.mark.parametrize("name", ["links.jsonl", "links.csv"])
def test_export_replaces_an_earlier_export_of_its_format(toolkit_synced: Path, name: str) -> None:
    assert _invoke("export", "--out", name).exit_code == 0
    (toolkit_synced / "toolkit.yaml").write_text(TOOLKIT_CATALOG.replace("First", "Renamed"))
    assert _invoke("sync", "--catalog", "toolkit.yaml").exit_code == 0

    result = _invoke("export", "--out", name)

    assert result.exit_code == 0, result.output
    assert "Renamed" in (toolkit_synced / name).read_text(encoding="utf-8")


def test_export_replaces_an_empty_file(toolkit_synced: Path) -> None:
    """An export of no resources in JSON Lines is an empty file; nothing is lost either."""
    (toolkit_synced / "links.jsonl").write_text("")
    result = _invoke("export", "--out", "links.jsonl")
    assert result.exit_code == 0, result.output
    assert json.loads((toolkit_synced / "links.jsonl").read_text().splitlines()[0])["id"] == "a"


def test_export_of_a_csv_into_a_folder_of_catalogs_is_refused(toolkit_synced: Path) -> None:
    """The next check would read it as one more catalog."""
    (toolkit_synced / "catalogs").mkdir()
    (toolkit_synced / "catalogs" / "toolkit.yaml").write_text(TOOLKIT_CATALOG)
    (toolkit_synced / "linkhealth.toml").write_text(
        f"catalogs = [{json.dumps(str(toolkit_synced / 'catalogs'))}]\n"
    )

    refused = _invoke("export", "--out", "catalogs/links.csv")
    beside = _invoke("export", "--out", "catalogs/links.jsonl")  # never read as a catalog

    assert refused.exit_code == 2, refused.output
    assert "is a folder of catalog files" in refused.stderr
    assert not (toolkit_synced / "catalogs" / "links.csv").exists()
    assert beside.exit_code == 0, beside.output
