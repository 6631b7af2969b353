import re
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


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("[check]\nconcurrency = 0\n", "concurrency must be more than 0"),
        ('[check.hosts."a.org"]\nper_host_concurrency = 0\n', "[check.hosts.a.org]"),
        ("[health]\nconfirm_failures = 0\n", "confirm_failures must be more than 0"),
        ("[health]\nconfirm_days = -1\n", "confirm_days must not be negative"),
        ("[health]\noutage_host_share = 1.5\n", "above 0 and at most 1"),
    ],
)
def test_numbers_that_would_stop_or_skew_the_work_are_refused(
    isolated_cwd: Path, toml: str, said: str
) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(said)):
        load_settings()


def test_zero_is_fine_where_it_means_none(isolated_cwd: Path) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(
        '[check]\nretry_after_cap = 0\n[check.hosts."intranet.example"]\nper_host_rate = 0\n'
        "[health]\nconfirm_days = 0\narchive_lookups_per_run = 0\n"
    )
    settings = load_settings()
    assert settings.health.confirm_days == 0 and settings.check.retry_after_cap == 0
    # A rate of 0 is no rate limit, for that host only.
    assert settings.check.policy_for("intranet.example") == (2, 0.0)
    assert settings.check.policy_for("example.org") == (2, 5.0)
