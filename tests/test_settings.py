from pathlib import Path

import pytest

from catalog.errors import ConfigError
from catalog.settings import BUNDLED_CATALOG, Settings, load_settings


def test_defaults_check_the_bundled_catalog_into_a_local_sqlite_file(isolated_cwd: Path) -> None:
    settings = load_settings()
    assert settings.catalogs == (BUNDLED_CATALOG,)
    assert settings.database_url == "sqlite:///var/linkhealth.db"
    assert settings.check.per_host_concurrency == 2
    assert settings.check.per_host_rate == 5.0


def test_config_file_sets_globals_and_per_host_policy(isolated_cwd: Path) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///data/lh.db"\n'
        'catalogs = ["cats/a.yaml"]\n'
        "[check]\nper_host_rate = 1.5\ncontact = 'ops@example.org'\n"
        '[check.hosts."www.ojp.gov"]\nper_host_concurrency = 1\n'
    )
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{isolated_cwd / 'data/lh.db'}"
    assert settings.catalogs == ((isolated_cwd / "cats/a.yaml").resolve(),)
    assert settings.check.policy_for("WWW.OJP.GOV") == (1, 1.5)
    assert settings.check.policy_for("example.org") == (2, 1.5)
    assert "ops@example.org" in settings.check.effective_user_agent


def test_environment_database_url_beats_the_config_file(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_cwd / "linkhealth.toml").write_text('database_url = "sqlite:///a.db"\n')
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    assert load_settings().database_url == "postgresql+psycopg://u@127.0.0.1/db"


@pytest.mark.parametrize(
    "text",
    [
        "[check]\nper_host_rate = 'fast'\n",
        "[check]\nunknown_knob = 1\n",
        "database_url = \n",
        "catalogs = 'one.yaml'\n",
    ],
)
def test_bad_config_is_a_config_error(isolated_cwd: Path, text: str) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(text)
    with pytest.raises(ConfigError):
        load_settings()


def test_options_override_and_none_means_not_given() -> None:
    settings = Settings().with_overrides(per_host_rate=0.5, database_url=None, catalogs=["x.yaml"])
    assert settings.check.per_host_rate == 0.5
    assert settings.database_url == Settings().database_url
    assert settings.catalogs == (Path("x.yaml").resolve(),)
