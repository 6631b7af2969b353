"""A database URL of a scheme or driver SQLAlchemy does not know, or of an asyncio driver,
is bad input: refused as usage (exit 2) naming the URL, its password hidden, and where it
came from, as a URL that is none at all is; it was "cannot open database" (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

UNKNOWN = [
    ("nonsense://lh:s3cr3t@x/lh", "'nonsense' is no database or driver SQLAlchemy knows"),
    ("postgresql+nope://lh:s3cr3t@x/lh", "'postgresql+nope' is no database or driver"),
    ("postgres://lh:s3cr3t@x/lh", "write postgresql+psycopg:// (SQLAlchemy does not know"),
    ("postgresql+asyncpg://lh:s3cr3t@x/lh", "postgresql+asyncpg is an asyncio driver"),
    # Known to SQLAlchemy, its driver not installed: "No module named 'MySQLdb'" (exit 3).
    ("mysql://lh:s3cr3t@x/lh", "linkhealth keeps its data in SQLite or PostgreSQL, not mysql"),
]


@pytest.mark.parametrize(("url", "said"), UNKNOWN)
def test_an_unknown_scheme_in_the_db_option_is_a_usage_error(
    isolated_cwd: Path, url: str, said: str
) -> None:
    for command in (["status"], ["sync"], ["export"], ["db", "upgrade"]):
        result = CliRunner().invoke(app, [*command, "--db", url])
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.startswith(f"error: --db '{url.replace('s3cr3t', '***')}': ")
        assert said in result.stderr and "s3cr3t" not in result.output
    assert not (isolated_cwd / "var").exists()


@pytest.mark.parametrize(("url", "said"), UNKNOWN)
def test_an_unknown_scheme_from_the_environment_names_the_variable(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2, result.output
    assert f"LINKHEALTH_DATABASE_URL '{url.replace('s3cr3t', '***')}': " in result.stderr
    assert said in result.stderr and "s3cr3t" not in result.output


def test_a_copy_into_an_unknown_scheme_is_a_usage_error(isolated_cwd: Path) -> None:
    catalog = isolated_cwd / "good.yaml"
    catalog.write_text(
        "collection:\n  title: Good\nresources:\n"
        "  - id: a\n    title: Page A\n    url: https://example.org/a\n"
    )
    source = f"sqlite:///{isolated_cwd / 'lh.db'}"
    synced = CliRunner().invoke(app, ["sync", "--catalog", str(catalog), "--db", source])
    assert synced.exit_code == 0, synced.output
    result = CliRunner().invoke(app, ["db", "copy", "--db", source, "--to", "nonsense://x"])
    assert result.exit_code == 2, result.output
    assert "--to 'nonsense://x': 'nonsense' is no database or driver" in result.stderr
    assert "Copied" not in result.stdout


def test_an_asyncio_driver_in_the_settings_file_is_refused_with_its_line(
    isolated_cwd: Path,
) -> None:
    config = isolated_cwd / "async.toml"
    config.write_text('\ndatabase_url = "sqlite+aiosqlite:///lh.db"\n')
    result = CliRunner().invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert f"{config}:2: database_url 'sqlite+aiosqlite:///lh.db'" in result.stderr
    assert "asyncio driver" in result.stderr
