"""`catalog validate` with a settings file that cannot be read or used: it validated named
files as if the file allowed every address (no private_address warning) and said nothing,
exit 0. It now still reports everything the files hold, then names the settings file (and
its line) as an error, and exits 2 as for bad configuration (5 when a catalog is invalid)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()

CATALOG = """\
resources:
  - id: loopback
    title: Loopback
    url: http://127.0.0.1:8765/page
  - id: bad
    title: Bad
    url: htp://x
"""


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LINKHEALTH_CONFIG", "LINKHEALTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _validate(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["catalog", "validate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("as_json", [False, True])
def test_named_files_are_validated_and_the_broken_settings_file_is_said(
    isolated_cwd: Path, as_json: bool
) -> None:
    (isolated_cwd / "c.yaml").write_text(CATALOG)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["c.yaml"]\n[check\n')
    code, stdout, stderr = _validate("c.yaml", *(["--json"] if as_json else []))
    assert code == 2
    (error,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert error.startswith(f"error: {isolated_cwd / 'linkhealth.toml'}:2: not valid TOML")
    assert "(1 URL here that the check refuses unless they allow it" in error
    if as_json:
        codes = [(p["level"], p["code"]) for p in json.loads(stdout)]
        assert codes == [("warning", "invalid_url")]  # the private one is the settings'
    else:
        assert stdout == "c.yaml: OK (1 warning)\n"
        assert "[invalid_url]" in stderr and "[private_address]" not in stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [('catalogs = ["c.yaml"]\nreports_dir = "out"\ncatalogs2 = [\n', 3), ("catalogs = [", 1)],
)
def test_a_settings_file_that_ends_unfinished_is_said_with_its_last_line(
    isolated_cwd: Path, text: str, line: int
) -> None:
    """tomllib says "(at end of document)" of an array never closed: the error named no
    line, where every other said one."""
    (isolated_cwd / "c.yaml").write_text(CATALOG)
    (isolated_cwd / "linkhealth.toml").write_text(text)
    code, _, stderr = _validate("c.yaml")
    assert code == 2
    (error,) = [said for said in stderr.splitlines() if said.startswith("error:")]
    assert error.startswith(f"error: {isolated_cwd / 'linkhealth.toml'}:{line}: not valid TOML")
    assert "(at end of document)" in error


def test_an_invalid_catalog_still_exits_5(isolated_cwd: Path) -> None:
    (isolated_cwd / "c.yaml").write_text(CATALOG + "  - id: bad\n    title: Twice\n    url: x\n")
    config = isolated_cwd / "trial.toml"
    config.write_text("[check]\nconcurrency = 'many'\n")
    code, _stdout, stderr = _validate("c.yaml", "--config", str(config))
    assert code == 5
    assert "[duplicate_id]" in stderr
    assert f"error: {config}:2: check.concurrency" in stderr


def test_the_settings_catalogs_are_validated_when_that_entry_is_sound(
    isolated_cwd: Path,
) -> None:
    """No file named: the catalogs of a settings file whose other part is broken are still
    read (a file that is no TOML names none: that error alone, as before)."""
    (isolated_cwd / "c.yaml").write_text(CATALOG)
    (isolated_cwd / "linkhealth.toml").write_text(
        'catalogs = ["c.yaml"]\n[check]\nallow_private = "yes"\n'
    )
    code, stdout, stderr = _validate()
    assert code == 2
    assert stdout == f"{(isolated_cwd / 'c.yaml').resolve()}: OK (1 warning)\n"
    assert "[invalid_url]" in stderr and "linkhealth.toml:3: check.allow_private" in stderr
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["c.yaml"\n[check]\n')
    code, stdout, stderr = _validate()
    assert (code, stdout) == (2, "")
    assert stderr.startswith(f"error: {isolated_cwd / 'linkhealth.toml'}:2: not valid TOML")


def test_a_settings_file_that_cannot_be_read_is_said_too(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's file of mode 0600 (tests may run as root, which reads any file: the
    read is made to fail). It was `error: Permission denied: ...`, exit 1, no file
    validated."""
    (isolated_cwd / "c.yaml").write_text(CATALOG)
    config = isolated_cwd / "linkhealth.toml"
    config.write_text('catalogs = ["c.yaml"]\n')
    read_text = Path.read_text

    def unreadable(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == "linkhealth.toml":
            raise PermissionError(13, "Permission denied", str(self))
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", unreadable)
    code, stdout, stderr = _validate("c.yaml")
    assert code == 2
    assert stdout == "c.yaml: OK (1 warning)\n"
    assert f"error: {config}: cannot be read: Permission denied;" in stderr


@pytest.mark.parametrize("named", [True, False])
def test_a_database_url_validate_does_not_use_drops_no_warning(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    """LINKHEALTH_DATABASE_URL spelled as Heroku does (`postgres://`, which the commands
    that open the database refuse): validate opens none, yet it dropped the settings'
    private-address warning and blamed "the settings" (exit 2), with a sound
    linkhealth.toml (and without a file named, validated nothing)."""
    (isolated_cwd / "c.yaml").write_text(CATALOG)
    (isolated_cwd / "linkhealth.toml").write_text('catalogs = ["c.yaml"]\n')
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "postgres://u@db.example.org/links")
    result = runner.invoke(app, ["catalog", "validate", "--json", *(["c.yaml"] if named else [])])
    assert result.exit_code == 0, result.output
    codes = sorted(p["code"] for p in json.loads(result.stdout))
    assert codes == ["invalid_url", "private_address"]
