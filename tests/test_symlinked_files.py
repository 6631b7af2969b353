"""Files reached through a symlink are written where they live (`catalog.files`).

Curators keep a catalog in a git checkout and link it into the catalogs folder; operators
link the export a dashboard reads. A write renamed over the link itself cut it: the edit
landed in a copy beside the link, and the checkout never saw it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.catalog_edit import FieldEdit, apply_edits, undo_edit
from catalog.importer import import_entries, parse_csv
from catalog.source import load_catalog
from flows.cli import app

CATALOG = """\
collection:
  title: Linked
resources:
- id: a
  title: A
  url: https://a.example/
"""


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """(the link in the catalogs folder, the file in the checkout it points at)."""
    checkout, catalogs = tmp_path / "checkout", tmp_path / "catalogs"
    checkout.mkdir()
    catalogs.mkdir()
    real = checkout / "linked.yaml"
    real.write_text(CATALOG)
    os.chmod(real, 0o640)
    link = catalogs / "linked.yaml"
    link.symlink_to(Path("..") / "checkout" / "linked.yaml")
    return link, real


def _still_linked(link: Path, real: Path) -> None:
    assert link.is_symlink()
    assert link.resolve() == real.resolve()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert [p.name for p in link.parent.iterdir()] == ["linked.yaml"]  # no lock, no copy


def test_an_edit_through_a_symlink_edits_the_linked_file(linked: tuple[Path, Path]) -> None:
    link, real = linked

    result = apply_edits(link, [FieldEdit("a", "reviewed_at", "2026-12-05")])

    assert result.changed
    _still_linked(link, real)
    assert "reviewed_at: '2026-12-05'" in real.read_text()
    # One lock for one file, however it is reached.
    assert sorted(p.name for p in real.parent.iterdir()) == [".linked.yaml.lock", "linked.yaml"]

    assert undo_edit(result)
    _still_linked(link, real)
    assert real.read_text() == CATALOG


def test_an_import_through_a_symlink_adds_to_the_linked_file(linked: tuple[Path, Path]) -> None:
    link, real = linked
    parsed = parse_csv("title,url\nHotline,https://hotline.example/\n")

    import_entries(link, parsed)

    _still_linked(link, real)
    assert [r.id for r in load_catalog(real).resources] == ["a", "hotline"]


@pytest.fixture
def synced(migrated_db_url: str, isolated_cwd: Path) -> str:
    (isolated_cwd / "catalog.yaml").write_text(CATALOG)
    result = CliRunner().invoke(app, ["sync", "--db", migrated_db_url, "--catalog", "catalog.yaml"])
    assert result.exit_code == 0, result.output
    return migrated_db_url


def test_export_out_through_a_symlink_writes_the_linked_file(
    synced: str, tmp_path: Path, isolated_cwd: Path
) -> None:
    (tmp_path / "shared").mkdir()
    real = tmp_path / "shared" / "links.csv"
    # An earlier export's header row: export replaces only a file of its own (h1).
    real.write_text("\ufeffcollection,id,title,url,outcome\n")
    os.chmod(real, 0o640)
    link = isolated_cwd / "links.csv"
    link.symlink_to(real)

    result = CliRunner().invoke(
        app, ["export", "--db", synced, "--format", "csv", "--out", str(link)]
    )

    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == real
    assert "\ncatalog,a,A,https://a.example/," in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert [p.name for p in (tmp_path / "shared").iterdir()] == ["links.csv"]


def test_a_new_export_file_gets_the_umask_mode_not_a_private_temp_files(
    synced: str, isolated_cwd: Path
) -> None:
    """The temp file beside it is 0600 (mkstemp); the export is for others to read."""
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(
            app, ["export", "--db", synced, "--format", "csv", "--out", "new.csv"]
        )
    finally:
        os.umask(old)

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((isolated_cwd / "new.csv").stat().st_mode) == 0o644
