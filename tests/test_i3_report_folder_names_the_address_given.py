"""The reports folder's warning names the database as the URL given spells it: a
PostgreSQL server at 127.0.0.1 read "the report of postgresql://localhost:5432/lh", an
address the user never wrote (the folder's owner file keeps that one name per database,
`catalog.db.database_identity`, so that two spellings share one folder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine

from catalog.db import database_identity
from catalog.settings import Settings
from reports.publish import OWNER_FILE, report_folder_of

GIVEN = "postgresql+psycopg://lh:secret@127.0.0.1:5433/lh_trial"
OTHER = "sqlite:////srv/linkhealth/var/linkhealth.db"


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return replace(Settings(), reports_dir=tmp_path / "reports", **changes)  # type: ignore[arg-type]


def test_the_warning_names_the_server_address_given(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / OWNER_FILE).write_text(OTHER + "\n", encoding="utf-8")
    said: list[str] = []
    engine = create_engine(GIVEN)  # never connects
    folder = report_folder_of(_settings(tmp_path), engine, warn=said.append)
    assert folder != reports
    (warning,) = said
    assert "127.0.0.1:5433/lh_trial" in warning, warning
    assert "localhost" not in warning and "secret" not in warning
    # The folder is still claimed for the database, whatever its spelling.
    owner = (folder / OWNER_FILE).read_text(encoding="utf-8").partition("\n")[0]
    assert owner == database_identity(GIVEN)


def test_a_folder_kept_for_the_settings_database_names_both_as_given(tmp_path: Path) -> None:
    settings = _settings(tmp_path, database_chosen_over="postgresql://127.0.0.1/lh")
    said: list[str] = []
    folder = report_folder_of(settings, create_engine(GIVEN), warn=said.append)
    assert folder != tmp_path / "reports"
    (warning,) = said
    assert "postgresql://127.0.0.1/lh," in warning and "127.0.0.1:5433/lh_trial" in warning
    assert "localhost" not in warning, warning
