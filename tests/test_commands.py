"""The options printed commands carry to reach the database and files they were made from."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.commands import CommandOptions, command_options
from catalog.settings import load_settings
from tests.factories import write_catalog


@pytest.fixture
def folder(isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder: linkhealth.toml names var/main.db and the catalogs/ folder."""
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL", raising=False)
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    (isolated_cwd / "catalogs").mkdir()
    write_catalog(isolated_cwd / "catalogs" / "toolkit.yaml", [{"id": "a", "title": "T"}])
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///var/main.db"\ncatalogs = ["catalogs"]\n'
    )
    return isolated_cwd


def test_commands_of_the_default_settings_need_no_options(folder: Path) -> None:
    options = command_options(load_settings())
    assert options.words == ()
    assert options.for_file(folder / "catalogs" / "toolkit.yaml") == ()
    assert options.for_file("catalogs/toolkit.yaml") == ()  # as a relative path names it


def test_another_database_is_named_without_its_password(folder: Path) -> None:
    trial = load_settings().with_overrides(database_url="sqlite:///var/trial.db")
    assert command_options(trial).words == ("--db", "sqlite:///var/trial.db")

    # Left out, not masked: "***" would fail to log in; without one, the driver reads
    # PGPASSWORD or ~/.pgpass.
    secret = "postgresql+psycopg://ann:s3cret@db.example.org/links"
    words = command_options(load_settings().with_overrides(database_url=secret)).words
    assert words == ("--db", "postgresql+psycopg://ann@db.example.org/links")

    # libpq's other spelling of a password, and the client key's, are left out too; the
    # rest of the query stays (it may be what reaches the server).
    query = "postgresql+psycopg://ann@db.example.org/links?password=s3cret&sslmode=require"
    words = command_options(load_settings().with_overrides(database_url=query)).words
    assert words == ("--db", "postgresql+psycopg://ann@db.example.org/links?sslmode=require")
    key = "postgresql+psycopg://ann@db.example.org/links?sslpassword=s3cret"
    words = command_options(load_settings().with_overrides(database_url=key)).words
    assert words == ("--db", "postgresql+psycopg://ann@db.example.org/links")


def test_the_same_database_spelled_otherwise_needs_no_option(folder: Path) -> None:
    same = f"sqlite:///{folder / 'var' / 'main.db'}"
    assert command_options(load_settings().with_overrides(database_url=same)).words == ()


def test_the_settings_of_the_environment_are_named(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` sets LINKHEALTH_CONFIG and cron or systemd units LINKHEALTH_DATABASE_URL for
    the runs whose reports print commands; a curator's shell need not set them."""
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///var/env.db")
    assert command_options(load_settings()).words == ("--db", "sqlite:///var/env.db")
    elsewhere = folder / "other.toml"
    elsewhere.write_text('database_url = "sqlite:///var/env.db"\n')
    monkeypatch.setenv("LINKHEALTH_CONFIG", str(elsewhere))
    words = command_options(load_settings()).words
    assert words[:2] == ("--config", str(elsewhere))


def test_another_config_is_named_and_its_own_database_is_not(folder: Path) -> None:
    elsewhere = folder / "trial"
    elsewhere.mkdir()
    write_catalog(elsewhere / "draft.yaml", [{"id": "d", "title": "D"}])
    config = elsewhere / "linkhealth.toml"
    config.write_text('database_url = "sqlite:///trial.db"\ncatalogs = ["draft.yaml"]\n')
    options = command_options(load_settings(config))
    assert options.words == ("--config", str(config))
    assert options.for_file(elsewhere / "draft.yaml") == options.words
    # An entry of the folder's own catalogs is not one such a command reads.
    toolkit = folder / "catalogs" / "toolkit.yaml"
    assert options.for_file(toolkit) == (*options.words, "--catalog", str(toolkit))

    with_db = load_settings(config).with_overrides(database_url="sqlite:///other.db")
    assert command_options(with_db).words == (
        "--config",
        str(config),
        "--db",
        "sqlite:///other.db",
    )


def test_a_catalog_no_command_reads_is_named(folder: Path) -> None:
    draft = write_catalog(folder / "draft.yaml", [{"id": "d", "title": "D"}])
    options = command_options(load_settings().with_overrides(catalogs=(draft,)))
    assert options.words == ()
    assert options.for_file(draft) == ("--catalog", str(draft))


def test_when_the_settings_no_longer_load_everything_is_named(folder: Path) -> None:
    settings = load_settings()
    (folder / "linkhealth.toml").write_text("catalogs = [\n")  # broken after the report began
    options = command_options(settings)
    assert options.words == ("--config", str(settings.config_file), "--db", settings.database_url)
    toolkit = folder / "catalogs" / "toolkit.yaml"
    assert options.for_file(toolkit) == (*options.words, "--catalog", str(toolkit))


def test_library_use_adds_nothing() -> None:
    assert CommandOptions().for_file("any.yaml") == ()


def test_a_command_reading_the_catalogs_names_them_unless_they_are_the_configured_ones(
    folder: Path,
) -> None:
    """A report's `catalog lint` and `report` must read the catalogs it read: the
    configured folder (as it or as its files) needs no option; a draft, or one of the
    configured files alone, is named (review rv-hygiene2)."""
    options = command_options(load_settings())
    toolkit = folder / "catalogs" / "toolkit.yaml"
    assert options.for_catalogs([folder / "catalogs"]) == ()
    assert options.for_catalogs(["catalogs/toolkit.yaml"]) == ()
    (folder / "my kits").mkdir()
    draft = write_catalog(folder / "my kits" / "kit.yaml", [{"id": "d", "title": "D"}])
    assert options.for_catalogs([draft]) == ("--catalog", str(draft))
    second = write_catalog(folder / "catalogs" / "more.yaml", [{"id": "m", "title": "M"}])
    assert options.for_catalogs([second]) == ("--catalog", str(second))
    assert options.for_catalogs([toolkit, draft]) == (
        "--catalog", str(toolkit), "--catalog", str(draft)
    )  # fmt: skip
    assert CommandOptions().for_catalogs([draft]) == ()
