"""A database URL is named in messages, logs and report folders without its password.

Every form SQLAlchemy connects with counts: a password from `openssl rand -base64` holds
"/" and "+", which nobody percent-encodes in an environment file, and libpq also takes
`?password=`. A pattern over the text missed both, so the warning every command prints
when LINKHEALTH_DATABASE_URL replaces a settings file's database showed the password on
stderr, in cron mail and in Prefect's stored flow-run logs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from catalog.db import shown_url
from catalog.settings import load_settings
from reports.publish import database_name

SECRET = "s3cr"

#: Each connects with the password SECRET... (checked below, so the cases stay real).
SPELLINGS = [
    "postgresql+psycopg://lh:s3cr/t+Q==@db.example/prod",  # base64: "/", "+", "="
    "postgresql+psycopg://lh:s3cr#t@db.example/prod",
    "postgresql+psycopg://lh:s3cr?t@db.example/prod",
    "postgresql+psycopg://lh:s3cr t@db.example/prod",
    "postgresql+psycopg://lh@db.example/prod?password=s3crt",
    "postgresql+psycopg://lh@db.example/prod?sslmode=require&PASSWORD=s3crt",
]


def _password(url: str) -> str:
    parsed = make_url(url)
    query = {k.lower(): v for k, v in parsed.query.items()}
    return parsed.password or str(query.get("password", ""))


@pytest.mark.parametrize("url", SPELLINGS)
def test_shown_url_hides_every_spelling_of_the_password(url: str) -> None:
    assert _password(url).startswith(SECRET)  # what the driver would log in with
    shown = shown_url(url)
    assert SECRET not in shown
    assert "***" in shown and "db.example/prod" in shown  # still says which database
    assert shown_url(make_url(url)) == shown


def test_shown_url_keeps_the_rest_and_masks_what_it_cannot_parse() -> None:
    assert shown_url("sqlite:///var/linkhealth.db") == "sqlite:///var/linkhealth.db"
    plain = "postgresql+psycopg://lh@db.example/prod?sslmode=require"
    assert shown_url(plain) == plain
    assert shown_url("postgresql://lh:s3cret@db.example:notaport/x") == (
        "postgresql://lh:***@db.example:notaport/x"
    )


@pytest.mark.parametrize("url", SPELLINGS)
def test_the_replaced_database_warning_hides_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    config = tmp_path / "trial.toml"
    config.write_text('database_url = "sqlite:///trial.db"\n')
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", url)
    warning = load_settings(config).database_warning or ""
    assert "LINKHEALTH_DATABASE_URL (postgresql+psycopg://lh" in warning
    assert SECRET not in warning


def test_a_reports_folder_records_its_database_without_a_query_password() -> None:
    """The name is written into the reports folder, which may be served on the web."""
    name = database_name(create_engine("postgresql+psycopg://lh@db.example/lh?password=s3crt"))
    assert SECRET not in name and name == "postgresql://lh@db.example:5432/lh"
