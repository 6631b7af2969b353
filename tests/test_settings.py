import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.errors import ConfigError
from catalog.settings import BUNDLED_CATALOG, Settings, SettingsFileError, load_settings
from flows.cli import app


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


# "": a database_url the environment replaces is not judged (it would be refused alone).
@pytest.mark.parametrize("in_file", ["sqlite:///a.db", ""])
def test_environment_database_url_beats_the_config_file(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, in_file: str
) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(f'database_url = "{in_file}"\n')
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    assert load_settings().database_url == "postgresql+psycopg://u@127.0.0.1/db"


def test_the_defaults_dir_moves_only_what_no_file_or_variable_sets(
    isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`serve` sets it for its flow runs, which start in the checkout: the defaults a
    command run in the folder serve started in reads, and nothing the file says."""
    elsewhere = tmp_path / "served-from"
    monkeypatch.setenv("LINKHEALTH_DEFAULTS_DIR", str(elsewhere))
    moved = load_settings()
    assert moved.database_url == f"sqlite:///{elsewhere / 'var' / 'linkhealth.db'}"
    assert moved.reports_dir == elsewhere / "var" / "reports"
    (isolated_cwd / "linkhealth.toml").write_text(
        'database_url = "sqlite:///mine.db"\nreports_dir = "out"\n'
    )
    named = load_settings()
    assert named.database_url == f"sqlite:///{isolated_cwd / 'mine.db'}"
    assert named.reports_dir == isolated_cwd / "out"
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "postgresql://db.example/links")
    assert load_settings().database_url == "postgresql://db.example/links"
    # A served run refused for its settings file is recorded where its runs would store.
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL")
    (isolated_cwd / "linkhealth.toml").write_text("[check]\nper_host_rate = 'fast'\n")
    with pytest.raises(SettingsFileError) as refused:
        load_settings()
    assert refused.value.database_url == f"sqlite:///{elsewhere / 'var' / 'linkhealth.db'}"


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
        (
            '[check.hosts."a.org"]\nper_host_concurrency = 0\n',
            'check.hosts."a.org".per_host_concurrency must be more than 0',
        ),
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


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('[check.hosts]\n"a.org" = 1\n', 'check.hosts."a.org" must be a table'),
        ("[check]\nhosts = 3\n", "check.hosts must be a table"),
        ('check = "x"\n', "check must be a table ([check]), not a string"),
        ("health = [1]\n", "health must be a table ([health]), not a list"),
        ("catalogs = [1]\n", "catalogs[0] must be a string (a path), not an integer"),
        ("reports_dir = 5\n", "reports_dir must be a string"),
        ("database_url = 5\n", "database_url must be a string"),
        ("[health]\ncanary_urls = [1]\n", "health.canary_urls[0] must be a string"),
        ("[check]\nprivate_allowlist = '10.0.0.0/8'\n", "check.private_allowlist must be a list"),
        # Found when the database was opened: exit 3, and no file or line.
        ('database_url = ""\n', "database_url is empty; leave it out for the default"),
        ('database_url = "nosuchscheme://x"\n', "'nosuchscheme' is no database SQLAlchemy"),
        ('database_url = "postgresql://a:secret@h:5x/db"\n', "'postgresql://a:***@h:5x/db' is not"),
        # Found only by the checker, it failed a run that had begun (a traceback, no line).
        (
            "[check]\nprivate_allowlist = ['10.0.0.0/8', 'not-a-cidr/99']\n",
            "'not-a-cidr/99' is neither an IP address, a network",
        ),
        ('[check.hosts."a.org"]\nper_host_rate = "x"\n', '"a.org".per_host_rate must be a number'),
        ('[check.hosts."a.org"]\nper_host_concurrency = 1.5\n', "must be a whole number"),
        ("[check]\nper_host_rate = 'fast'\n", "check.per_host_rate must be a number, not a string"),
        ("[check]\nper_host_rate = nan\n", "check.per_host_rate must be a number, not nan"),
        # Passed, then a sync stored the catalog and ended in an OverflowError traceback.
        ("[health]\nreview_days = inf\n", "health.review_days must be a finite number, not inf"),
        ("[health]\nunverified_days = 1e9\n", "health.unverified_days must be at most 36500"),
        ("[health]\nunchanged_days = 36501\n", "health.unchanged_days must be at most 36500"),
        ("[check]\nfingerprint_max_age_days = inf\n", "must be a finite number, not inf"),
        ("[check]\nper_host_rate = inf\n", "check.per_host_rate must be a finite number"),
        # Accepted, and never applied: a policy is looked up by host name, a canary fetched.
        (
            '[check.hosts."https://www.ojp.gov/"]\n',
            'is not a host name (such as www.ojp.gov): write [check.hosts."www.ojp.gov"]',
        ),
        (
            '[health]\ncanary_urls = ["https://a.org/", "www.usa.gov"]\n',
            "health.canary_urls[1]: 'www.usa.gov' is not an http or https address; "
            "write 'https://www.usa.gov'",
        ),
        ("[health]\ncanary_urls = ['javascript:x']\n", "'javascript:x' is not an http or https"),
    ],
)
def test_a_badly_shaped_value_names_the_file_the_key_and_the_shape_wanted(
    isolated_cwd: Path, toml: str, said: str
) -> None:
    (isolated_cwd / "linkhealth.toml").write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(said)) as caught:
        load_settings()
    # The line that sets the key (each case's last), as catalog problems name theirs.
    line = toml.count("\n")
    assert str(caught.value).startswith(f"{isolated_cwd / 'linkhealth.toml'}:{line}: ")


def test_config_file_is_not_a_setting_of_the_config_file(isolated_cwd: Path) -> None:
    (isolated_cwd / "linkhealth.toml").write_text('config_file = "other.toml"\n')
    with pytest.raises(ConfigError, match="config_file cannot be set in a config file"):
        load_settings()
    (isolated_cwd / "linkhealth.toml").write_text("nonsense = 1\n")
    with pytest.raises(ConfigError, match="unknown setting nonsense; known: ") as caught:
        load_settings()
    known = str(caught.value).split("known: ")[1].split(", ")
    assert known == ["catalogs", "check", "database_url", "health", "reports_dir", "reports_url"]


def test_relative_paths_in_a_config_file_start_at_its_folder(isolated_cwd: Path) -> None:
    """Not at the current folder: the file means the same wherever it is used from."""
    folder = isolated_cwd / "some" / "dir"
    folder.mkdir(parents=True)
    (folder / "cfg.toml").write_text(
        'catalogs = ["nope.yaml"]\nreports_dir = "out"\ndatabase_url = "sqlite:///lh.db"\n'
    )
    settings = load_settings("some/dir/cfg.toml")
    assert settings.catalogs == ((folder / "nope.yaml").resolve(),)
    assert settings.reports_dir.resolve() == (folder / "out").resolve()
    assert settings.database_url == f"sqlite:///{(folder / 'lh.db').resolve()}"


def test_the_cli_exits_2_naming_the_file_and_key_of_a_badly_shaped_value(
    isolated_cwd: Path,
) -> None:
    (isolated_cwd / "cfg.toml").write_text('[check.hosts]\n"a.org" = 1\n')
    result = CliRunner().invoke(app, ["sync", "--config", "cfg.toml"])
    assert result.exit_code == 2, result.output
    assert 'error: cfg.toml:2: check.hosts."a.org" must be a table' in result.stderr
    assert "Traceback" not in result.output


def test_a_config_that_is_a_folder_says_so(isolated_cwd: Path) -> None:
    """`--config deploy/` said "config file does not exist" of a folder that does."""
    (isolated_cwd / "deploy").mkdir()
    with pytest.raises(ConfigError, match="deploy: is a folder, not a config file"):
        load_settings(isolated_cwd / "deploy")
    with pytest.raises(ConfigError, match=r"nope\.toml: config file does not exist"):
        load_settings(isolated_cwd / "nope.toml")


def test_a_settings_file_starting_with_a_bom_is_read(isolated_cwd: Path) -> None:
    """Notepad's byte-order mark was "Invalid statement (line 1, column 1)"."""
    (isolated_cwd / "linkhealth.toml").write_bytes(b'\xef\xbb\xbfdatabase_url = "sqlite:///b.db"\n')
    assert load_settings().database_url == f"sqlite:///{(isolated_cwd / 'b.db').resolve()}"


def test_every_unknown_setting_of_a_table_is_named_at_once(isolated_cwd: Path) -> None:
    (isolated_cwd / "linkhealth.toml").write_text("concurency = 3\n[healht]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown settings concurency, healht; known: ") as caught:
        load_settings()
    assert str(caught.value).startswith(f"{isolated_cwd / 'linkhealth.toml'}:1: ")
