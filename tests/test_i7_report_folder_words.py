"""The warning of a --db report whose reports folder the settings' own database holds.

Every night after the first, the nightly report of the database the settings name
(`postgresql://127.0.0.1/lh`) holds the configured folder. A `report --db <trial>` then
warned "var/reports holds the report of another database (postgresql://localhost:5432/lh)":
the settings' own database called "another database", by its recorded identity
("localhost", an address the user never wrote). It is named as the settings spell it,
with the words a folder kept for it while it held no report already had."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from catalog.db import database_identity
from catalog.settings import Settings
from reports.publish import OWNER_FILE, report_folder_of

SETTINGS_DB = "postgresql://127.0.0.1/lh"
TRIAL = "postgresql+psycopg://lh:secret@127.0.0.1:5433/lh_trial"


def _claimed_by_the_settings_database(tmp_path: Path) -> tuple[Settings, Path]:
    reports = tmp_path / "reports"
    reports.mkdir()
    # The nightly report of the settings' database claimed the folder already.
    (reports / OWNER_FILE).write_text(database_identity(SETTINGS_DB) + "\n", encoding="utf-8")
    settings = replace(
        Settings(),
        reports_dir=reports,
        database_chosen_over=SETTINGS_DB,  # type: ignore[arg-type]
    )
    return settings, reports


def test_the_settings_database_that_claimed_its_folder_is_named_as_given(tmp_path: Path) -> None:
    settings, reports = _claimed_by_the_settings_database(tmp_path)
    said: list[str] = []
    folder = report_folder_of(settings, create_engine(TRIAL), warn=said.append)
    assert folder != reports
    (warning,) = said
    assert "localhost" not in warning, warning


@pytest.mark.parametrize("out", [False, True], ids=["reports_dir", "out"])
def test_it_is_not_called_another_database(tmp_path: Path, out: bool) -> None:
    settings, reports = _claimed_by_the_settings_database(tmp_path)
    said: list[str] = []
    folder = report_folder_of(
        settings, create_engine(TRIAL), reports if out else None, warn=said.append
    )
    (warning,) = said
    assert "another database" not in warning, warning
    assert warning == (
        f"{reports} is kept for the report of {SETTINGS_DB}, the database the settings "
        "name; the report of postgresql+psycopg://lh:***@127.0.0.1:5433/lh_trial, chosen "
        f"with --db, is written to {folder} instead"
    )


def test_a_third_databases_folder_is_still_another_databases(tmp_path: Path) -> None:
    settings, reports = _claimed_by_the_settings_database(tmp_path)
    third = "sqlite:////srv/linkhealth/var/other.db"
    (reports / OWNER_FILE).write_text(database_identity(third) + "\n", encoding="utf-8")
    said: list[str] = []
    report_folder_of(settings, create_engine(TRIAL), warn=said.append)
    (warning,) = said
    assert f"holds the report of another database ({database_identity(third)})" in warning
