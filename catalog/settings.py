"""Every default lives here, once.

Settings come from, lowest priority first: these defaults, `linkhealth.toml`
(the file named by `--config` or `LINKHEALTH_CONFIG`, else `./linkhealth.toml` if
present), environment variables (`LINKHEALTH_DATABASE_URL`), then command-line
options. The CLI, the flows and the library all read the same `Settings`.

linkhealth.toml looks like::

    database_url = "sqlite:///var/linkhealth.db"
    catalogs = ["catalog/data/psp-human-trafficking-toolkit.yaml"]
    reports_dir = "var/reports"
    reports_url = "https://intranet.example.org/linkhealth/"

    [check]
    concurrency = 32
    per_host_concurrency = 2
    per_host_rate = 5.0
    contact = "links@example.org"

    [check.hosts."www.ojp.gov"]
    per_host_concurrency = 1
    per_host_rate = 1.0

    [health]
    confirm_failures = 3
    confirm_days = 2
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field, fields, replace
from datetime import date, time, timedelta
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints

from catalog.errors import ConfigError, Problem

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_CATALOG = PACKAGE_DIR / "data" / "psp-human-trafficking-toolkit.yaml"
DEFAULT_DATABASE_URL = "sqlite:///var/linkhealth.db"
#: The folder the built-in relative defaults (the database and the reports, in `var/`) are
#: read in when no file or variable sets them; else the current folder. `linkhealth serve`
#: sets it for its flow runs, which start in the checkout, to the folder it was started in.
DEFAULTS_DIR_ENV = "LINKHEALTH_DEFAULTS_DIR"
DEFAULT_CONFIG_NAME = "linkhealth.toml"
VERSION = "0.1.0"
#: The most days any setting or option in days may say (a hundred years): past it a date
#: computed from it overflowed (`OverflowError` half-way through a sync or a prune).
MAX_DAYS = 36_500
#: The most rows a `--limit` may ask to be shown: more than a century of nightly runs, or
#: of one resource's checks. Past SQLite's integer it was a traceback (`OverflowError`).
MAX_SHOWN = 100_000
#: The largest run id a database holds (`runs.id` is INTEGER: 32 bits in PostgreSQL).
MAX_RUN_ID = 2**31 - 1
#: The most politeness settings and `linkhealth check` options may say: past them a check
#: is not polite any more (`concurrency` 10^20 and `per_host_rate` inf checked 300 URLs of
#: one site in 4.6 s). A thousand requests open at once is about what the usual limit of
#: 1,024 open files per process allows; against one host a browser opens 6: a hundred
#: open, or started a second, is room enough for an intranet server and still a limit (a
#: `per_host_rate = 0` in linkhealth.toml still lifts the rate limit, as documented).
MAX_CONCURRENCY = 1000
MAX_PER_HOST_CONCURRENCY = 100
MAX_PER_HOST_RATE = 100.0


class SettingsFileError(ConfigError):
    """A settings file (`linkhealth.toml`, or the file `--config` or `LINKHEALTH_CONFIG`
    names) that cannot be used: `file`, and `line` when the problem has one.

    A run refused for it is recorded like a run refused for its catalog, in the database
    it would have used, when that much is certain without the file's broken part:
    `database_url` is LINKHEALTH_DATABASE_URL, or the file's own (or the default) when the
    file parses and that entry is sound; None when the database is named only by the
    broken part (or the file is not TOML at all), so the refusal can be recorded nowhere.
    `catalogs`: the file's catalogs, when they are sound, for the record."""

    def __init__(
        self,
        file: str | Path,
        problem: str,
        *,
        key: tuple[str | int, ...] = (),
        line: int | None = None,
        database_url: str | None = None,
        catalogs: tuple[Path, ...] = (),
    ) -> None:
        self.file, self.problem, self.key, self.line = str(file), problem, key, line
        self.database_url, self.catalogs = database_url, catalogs
        where = self.file if line is None else f"{self.file}:{line}"
        super().__init__(f"{where}: {problem}")

    def located(
        self, *, line: int | None, database_url: str | None, catalogs: tuple[Path, ...]
    ) -> SettingsFileError:
        """This error with what only the whole file tells: its line, and where a run
        refused for it can be recorded."""
        return SettingsFileError(
            self.file,
            self.problem,
            key=self.key,
            line=line,
            database_url=database_url,
            catalogs=catalogs,
        )

    @property
    def not_recorded(self) -> str:
        """Why a run refused for this file is in no database's runs, and how to change that."""
        return (
            "This refused run is recorded nowhere (`linkhealth status` will not list it): "
            f"the database to record it in would come from {self.file}. Set "
            "LINKHEALTH_DATABASE_URL (or give --db) to have such refusals recorded."
        )

    def not_recorded_in(self, database: str) -> str:
        """Why a run refused for this file is in no database's runs although one is named:
        `database` (shown with its password masked) does not exist yet or cannot be opened,
        and a refusal creates none: a mistyped --db would leave a stray SQLite file, or
        linkhealth's tables in some other PostgreSQL database, to hold one line."""
        return (
            "This refused run is recorded nowhere (`linkhealth status` will not list it): "
            f"{database} is no linkhealth database yet, or cannot be opened, and a refusal "
            "creates none (the first `check` that runs does)."
        )

    def known_settings(self, database_url: str | None = None) -> Settings | None:
        """Settings to record a run refused for this file with (`catalog.runs.record_refusal`):
        its database (`database_url`: one given with --db, which wins) and catalogs; None
        when no database is known."""
        url = database_url or self.database_url
        return None if url is None else Settings(database_url=url, catalogs=self.catalogs)


@dataclass(frozen=True)
class HostPolicy:
    """Politeness for one host; `None` means "use the global value"."""

    per_host_concurrency: int | None = None
    per_host_rate: float | None = None


@dataclass(frozen=True)
class CheckSettings:
    #: Requests open at once across all hosts, per check process.
    concurrency: int = 32
    #: Requests open at once against one host.
    per_host_concurrency: int = 2
    #: Requests started per second against one host.
    per_host_rate: float = 5.0
    hosts: Mapping[str, HostPolicy] = field(default_factory=dict)
    contact: str = "linkhealth-operator@localhost"
    user_agent: str = ""  # built from VERSION and contact when empty
    #: Sent as Accept-Language ("" sends none). Browsers always send one, and some bot
    #: managers turn away requests without it; one fixed language also keeps a site that
    #: negotiates languages from serving a different page (and fingerprint) night to night.
    accept_language: str = "en-US,en;q=0.9"
    connect_timeout: float = 10.0
    #: Seconds a HEAD (or a request outside a URL's deadline) waits for its answer to
    #: begin, and a begun answer may go quiet; a GET waits for its answer to begin as long
    #: as `total_timeout` allows (`fetch.Fetcher.answer_wait`).
    read_timeout: float = 15.0
    #: Hard deadline for one URL, all attempts and redirects included.
    total_timeout: float = 45.0
    #: Redirects followed before `too_many_redirects`: Chrome and Firefox follow 20, and the
    #: outcome says "more than a browser would follow".
    max_redirects: int = 20
    #: Bytes of body read at most (for the title and fingerprint).
    max_body_bytes: int = 2 * 1024 * 1024
    #: Attempts per request for transient failures (5xx, 408, 429, timeouts, resets).
    max_attempts: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    #: Longest Retry-After we wait for; longer ones end the retries for this run.
    retry_after_cap: float = 30.0
    #: A fingerprint (GET with body) is due when the last one is older than this.
    fingerprint_max_age_days: float = 7.0
    allow_private: bool = False
    #: Hosts or networks (CIDR) allowed even though private, for intranet catalogs.
    private_allowlist: tuple[str, ...] = ()
    soft404_probe: bool = True
    #: Try the https form of working http links whose page was fetched, and suggest it
    #: when it serves the same page (`catalog.upgrades`).
    https_upgrades: bool = True
    #: Most URLs per coarse task; a host's URLs are never split across tasks. Large on
    #: purpose: when the catalog fits, the plan packs whole hosts by estimated time into
    #: one batch per parallel worker, so the busiest hosts all start at t = 0 (10k URLs
    #: over 200 hosts: 583 s with 200, 215 s with 5000; bench/RESULTS.md).
    batch_size: int = 5000

    def policy_for(self, host: str) -> tuple[int, float]:
        """(concurrency, rate) for `host`, per-host overrides applied."""
        p = self.hosts.get(host.lower())
        conc = p.per_host_concurrency if p and p.per_host_concurrency else self.per_host_concurrency
        rate = p.per_host_rate if p and p.per_host_rate is not None else self.per_host_rate
        return conc, rate

    @property
    def effective_user_agent(self) -> str:
        return self.user_agent or (
            f"linkhealth/{VERSION} (catalog link checker; +mailto:{self.contact})"
        )


#: How much shorter than a threshold in days a span between checks may be and still count.
#: Nightly checks are "days" apart only roughly: a run starts on a schedule, but a given link
#: is reached minutes earlier or later each night (its host's pace, the plan's order), a run
#: ends sooner or later, and a daylight-saving night lasts 23 hours. Compared to the minute,
#: "14 days" counted on the 14th night or the 15th at random. Three hours cover all of
#: these, and a curator's rechecks the same day still add up to no day.
NIGHT_SLACK = timedelta(hours=3)


def night_span(days: float) -> timedelta:
    """The shortest span between checks that counts as `days` days (`NIGHT_SLACK`)."""
    return timedelta(days=days) - NIGHT_SLACK


def lasted(span: timedelta, days: float) -> bool:
    """Whether `span` (between two checks, or a check and a run's end) counts as `days`
    days: every day threshold of `HealthSettings` (and `fingerprint_max_age_days`) is read
    this way, so "14 days" is reached on the 14th nightly check, whichever minute of its
    run that check came at."""
    return span >= night_span(days)


@dataclass(frozen=True)
class HealthSettings:
    #: Failing observations in a row before a link is confirmed broken.
    confirm_failures: int = 3
    #: ... spanning at least this many days. Every threshold in days here counts nights:
    #: a span up to `NIGHT_SLACK` short still reaches it (`lasted`).
    confirm_days: float = 2.0
    #: Flips between working and failing within `flap_window_days` that make a link flapping
    #: (it stays flapping until fewer than half as many remain in the window).
    flap_changes: int = 4
    flap_window_days: float = 14.0
    #: A site answering 503 "come back later" (a Retry-After longer than a check waits:
    #: maintenance) at every check for this many days counts as failing from then on (a
    #: break confirmed like any other); until then such checks need a person, no more.
    unavailable_days: float = 7.0
    #: No success for this many days makes an entry stale ("unverified").
    unverified_days: float = 14.0
    #: An entry not reviewed for this many days is due a review.
    review_days: float = 365.0
    #: Content unchanged (fingerprint and Last-Modified) this long may mean an abandoned site.
    unchanged_days: float = 730.0
    #: An entry whose newest named year is older than this many years is "dated".
    dated_years: int = 5
    #: Share of distinct hosts failing at DNS/connect above which we blame our network.
    outage_host_share: float = 0.8
    #: Well-known URLs checked before each run; all failing at network level = we are offline.
    canary_urls: tuple[str, ...] = ()
    #: Look up Internet Archive copies for broken and drifting links (off for offline use).
    archive_lookups: bool = True
    #: At most this many archive lookups per run, so a mass breakage cannot flood the archive.
    archive_lookups_per_run: int = 50
    #: A link whose lookup found no copy is asked again after this many days.
    archive_recheck_days: float = 30.0


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    catalogs: tuple[Path, ...] = (BUNDLED_CATALOG,)
    reports_dir: Path = Path("var/reports")
    #: The address a web server publishes `reports_dir` at ("https://intranet.example.org/
    #: linkhealth/"): the Prefect UI links each run's report there. Empty: it says where
    #: the report is on the worker instead (a `file://` link opens nothing from the UI).
    reports_url: str = ""
    check: CheckSettings = field(default_factory=CheckSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    #: Where the settings came from, for messages.
    config_file: Path | None = None
    #: Whether a settings file or --catalog named `catalogs`; False: the bundled demo
    #: toolkit, which the commands never sync into a database holding other collections.
    catalogs_named: bool = field(default=False, compare=False)
    #: The file's `database_url` when LINKHEALTH_DATABASE_URL replaced it with another
    #: database: the commands say so (`database_warning`), since a trial config's database
    #: was silently left unused while the shell's production one took the writes.
    replaced_database_url: str | None = field(default=None, compare=False)
    #: The database these settings name (a file or LINKHEALTH_DATABASE_URL, not the
    #: built-in one) when --db chose another (a trial's `--db sqlite:///var/trial.db`):
    #: `reports_dir` stays that database's folder, and the chosen one's report goes beside
    #: it even before it holds a report (`reports.publish.report_folder`).
    database_chosen_over: str | None = field(default=None, compare=False)

    @property
    def database_warning(self) -> str | None:
        """The sentence the commands print (a flow run logs) when the environment's
        database replaced the settings file's; None when it replaced none, or the same."""
        if self.replaced_database_url is None:
            return None
        from catalog.db import shown_url

        used, named = map(shown_url, (self.database_url, self.replaced_database_url))
        return (
            f"LINKHEALTH_DATABASE_URL ({used}) replaces the database_url of "
            f"{self.config_file} ({named}): the environment's database is used. To use the "
            "file's, give it with --db (which beats both) or unset LINKHEALTH_DATABASE_URL."
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """Apply command-line options; `None` values mean "not given"."""
        top = {k: v for k, v in changes.items() if v is not None and k in _TOP_FIELDS}
        if "catalogs" in top:
            top["catalogs"] = tuple(Path(p).resolve() for p in top["catalogs"])
            top["catalogs_named"] = True
        if "reports_dir" in top:
            top["reports_dir"] = Path(top["reports_dir"])
        chk = {k: v for k, v in changes.items() if v is not None and k in _CHECK_FIELDS}
        unknown = set(changes) - _TOP_FIELDS - _CHECK_FIELDS
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        new = replace(self, **top)
        if "database_url" in top:  # --db chose: nothing was replaced behind anyone's back
            new = replace(new, replaced_database_url=None)
            # Only over a database the settings name (file or variable): with none named,
            # --db is how a service names its own (`check --db URL` from cron), and the
            # built-in one, never used, kept var/reports empty for good.
            if top["database_url"] != self.database_url and (
                self.database_chosen_over or self.database_url != default_database_url()
            ):
                named = self.database_chosen_over or self.database_url
                new = replace(new, database_chosen_over=named)
        if "reports_dir" in top:  # a folder chosen for the database: it is that one's
            new = replace(new, database_chosen_over=None)
        return replace(new, check=replace(new.check, **chk)) if chk else new


_TOP_FIELDS = {f.name for f in fields(Settings)} - {
    "check", "health", "config_file", "replaced_database_url", "catalogs_named",
    "database_chosen_over",
}  # fmt: skip
_CHECK_FIELDS = {f.name for f in fields(CheckSettings)}


#: A key, from the top of the file: names of tables and settings, positions in lists.
Key = tuple[str | int, ...]

#: Fields of `Settings` that a config file may not set, and why.
_NOT_SETTABLE = {
    "config_file": "it is the file being read; choose it with --config or LINKHEALTH_CONFIG",
    "replaced_database_url": "it is the database_url LINKHEALTH_DATABASE_URL replaced",
    "catalogs_named": "it says whether the file or --catalog names catalogs",
    "database_chosen_over": "it is the database_url --db chose another over",
}


@cache
def _hints(cls: type) -> dict[str, Any]:
    """The declared type of each settable field: what a value from the file must be."""
    return {k: v for k, v in get_type_hints(cls).items() if k not in _NOT_SETTABLE}


def _coerce(cls: type, data: Mapping[str, Any], file: str, at: Key) -> dict[str, Any]:
    """The settings of one table of the file, each as its field's type."""
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for key in data:
        if key in _NOT_SETTABLE:
            raise SettingsFileError(
                file, f"{key} cannot be set in a config file: {_NOT_SETTABLE[key]}", key=(key,)
            )
    # Every misspelt name of the table at once, not one per try.
    unknown = [key for key in data if key not in hints]
    if unknown:
        names = ", ".join(_dotted((*at, key)) for key in unknown)
        raise SettingsFileError(
            file,
            f"unknown setting{'s' if len(unknown) > 1 else ''} {names}; "
            f"known: {', '.join(sorted(hints))}",
            key=(*at, unknown[0]),
        )
    for key, value in data.items():
        out[key] = _convert(hints[key], value, file, (*at, key))
    return out


def _convert(hint: Any, value: Any, file: str, key: Key) -> Any:
    """`value` as type `hint`, or a ConfigError naming the key and the shape wanted."""
    options = [a for a in get_args(hint) if a is not type(None)]
    if isinstance(hint, UnionType) and len(options) == 1:
        hint = options[0]  # `int | None`: None is the default, never written in TOML
    if get_origin(hint) is tuple:
        items = _expect(list, value, "a list", file, key)
        return tuple(_convert(get_args(hint)[0], v, file, (*key, i)) for i, v in enumerate(items))
    if hint is bool:
        return _expect(bool, value, "true or false", file, key)
    if hint is str:
        return _expect(str, value, "a string", file, key)
    if hint is Path:
        path = _expect(str, value, "a string (a path)", file, key)
        if not path:
            # (`catalogs = ["${CATALOG}"]` templated with an unset variable: as a path, ""
            # is the file's own folder, whose every *.yaml and *.csv a sync took for a
            # catalog, and into which a report was written.)
            raise SettingsFileError(
                file,
                f"{_dotted(key)} is empty (an unset variable?), which would be the folder "
                "of the settings file; give the path",
                key=key,
            )
        return Path(path)
    if hint is int:
        number = _expect(int, value, "a whole number", file, key)
    elif hint is float:
        number = float(_expect(int | float, value, "a number", file, key))
    else:
        raise TypeError(f"settings of type {hint} are not read from a config file")
    _check_range(number, file, key)
    return number


def _expect(kind: Any, value: Any, shape: str, file: str, key: Key) -> Any:
    """`value` if it is a `kind` (a boolean is no number), else the one wrong-type error."""
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise SettingsFileError(
        file, f"{_dotted(key)} must be {shape}, not {_toml_type(value)}", key=key
    )


def _table(data: Mapping[str, Any], name: str, file: str, at: Key) -> dict[str, Any]:
    """The table `name` of `data` (empty when absent), refused when the file gave no table."""
    key = (*at, name)
    value = data.get(name, {})
    return dict(_expect(dict, value, f"a table ([{_dotted(key)}])", file, key))


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dotted(key: Key) -> str:
    """The key as TOML writes it (`check.hosts."a.org"`, `catalogs[0]`), to search the file for."""
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
            out += f".{name}" if out else name
    return out


def _toml_type(value: Any) -> str:
    """What the file gave, in TOML's words, so the message shows the mismatch."""
    kinds: list[tuple[type | UnionType, str]] = [
        (bool, "true/false"), (int, "an integer"), (float, "a float"), (str, "a string"),
        (list, "a list"), (dict, "a table"), (date | time, "a date or time"),
    ]  # fmt: skip
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


#: Settings that count something: 0 would stop the work (or, for a per-host entry,
#: silently mean "the default"), so they must be above 0. Every other number is a
#: duration, a cap or a count that may be 0 (a `per_host_rate` of 0: no rate limit),
#: never below.
_ABOVE_ZERO = {
    "concurrency", "per_host_concurrency", "connect_timeout", "read_timeout",
    "total_timeout", "max_attempts", "max_body_bytes", "batch_size", "confirm_failures",
    "flap_changes", "outage_host_share",
}  # fmt: skip


#: The most each politeness setting may say (`MAX_CONCURRENCY`...), and of what.
_AT_MOST = {
    "concurrency": (MAX_CONCURRENCY, "requests open at once"),
    "per_host_concurrency": (MAX_PER_HOST_CONCURRENCY, "requests open at once against one host"),
    "per_host_rate": (MAX_PER_HOST_RATE, "requests a second against one host; 0: no limit"),
}  # fmt: skip


def _check_range(value: float, file: str, key: Key) -> None:
    name, what = key[-1], _dotted(key)
    problem = None
    if math.isnan(value):
        problem = f"{what} must be a number, not nan"
    elif math.isinf(value):  # a date or a wait computed from it overflows mid-run
        problem = f"{what} must be a finite number, not {value}"
    elif str(name).endswith("_days") and value > MAX_DAYS:
        problem = f"{what} must be at most {MAX_DAYS} days (a hundred years), not {value}"
    elif name in _ABOVE_ZERO and value <= 0:
        problem = f"{what} must be more than 0, not {value}"
    elif value < 0:
        problem = f"{what} must not be negative, not {value}"
    elif name in _AT_MOST and value > _AT_MOST[name][0]:
        most, unit = _AT_MOST[name]
        problem = f"{what} must be at most {most:g} ({unit}), not {value:g}"
    elif name == "outage_host_share" and value > 1:
        problem = f"{what} is a share of hosts, above 0 and at most 1, not {value}"
    if problem is not None:
        raise SettingsFileError(file, problem, key=key)


def find_config(path: str | Path | None = None, *, use_env: bool = True) -> Path | None:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise SettingsFileError(
                p,
                "is a folder, not a config file" if p.is_dir() else "config file does not exist",
                database_url=os.environ.get("LINKHEALTH_DATABASE_URL") or None,
            )
        return p
    env = os.environ.get("LINKHEALTH_CONFIG") if use_env else None
    if env:
        return find_config(env)
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def load_settings(config: str | Path | None = None, *, use_env: bool = True) -> Settings:
    """Defaults, then the config file, then environment variables (`use_env`; without,
    what a shell that sets none of them reads)."""
    env_db = (os.environ.get("LINKHEALTH_DATABASE_URL") or None) if use_env else None
    if env_db is not None:  # before anything could record a refusal in it
        refuse_unusable_database_url(env_db, "LINKHEALTH_DATABASE_URL")
    path = find_config(config, use_env=use_env)
    settings = Settings()
    named: str | None = None  # the file's database_url
    if path is not None:
        try:
            # (utf-8-sig: a BOM, as Notepad writes one, was "Invalid statement" at 1:1.)
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SettingsFileError(path, "not UTF-8 text", database_url=env_db) from exc
        except OSError as exc:  # e.g. another user's file of mode 0600
            # The settings file it is, not "error: Permission denied: linkhealth.toml" (exit
            # 1) as any file the command failed to open, which `catalog validate` could not
            # tell from the settings' own errors.
            problem = f"cannot be read: {exc.strerror or exc}"
            raise SettingsFileError(path, problem, database_url=env_db) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            line = int(at.group(1)) if at else None
            if line is None and "(at end of document)" in str(exc):
                line = max(1, len(text.splitlines()))  # unfinished where the file ends
            raise SettingsFileError(
                path, f"not valid TOML: {exc}", line=line, database_url=env_db
            ) from exc
        try:
            settings = _from_mapping(data, str(path), path.parent)
        except SettingsFileError as exc:
            raise exc.located(
                line=line_of(text, exc.key),
                database_url=env_db or _sound_database(data, path.parent, exc.key),
                catalogs=_sound_catalogs(data, path.parent),
            ) from None
        settings = replace(settings, config_file=path)
        named = settings.database_url if "database_url" in data else None
    if env_db:
        # (A relative SQLite path in the variable is the current folder's, as when opened.)
        if named and named.strip() and _other_database(named, _resolve_sqlite(env_db, Path.cwd())):
            settings = replace(settings, replaced_database_url=named)
        settings = replace(settings, database_url=env_db)
    defaults_dir = os.environ.get(DEFAULTS_DIR_ENV) if use_env else None
    if defaults_dir:
        base = Path(defaults_dir)
        if settings.database_url == DEFAULT_DATABASE_URL:
            settings = replace(settings, database_url=default_database_url())
        if not settings.reports_dir.is_absolute():
            settings = replace(settings, reports_dir=base / settings.reports_dir)
    return settings


def _other_database(named: str, used: str) -> bool:
    """Whether `used` is another database than `named`, not the same one spelt otherwise:
    the file without the password the environment's URL holds (README's scale-out keeps it
    in /etc/linkhealth.env, mode 0600), another driver (`postgresql` and
    `postgresql+psycopg`), or the default port. Compared as text, that one database was
    warned "replaced" in every command and flow run's log, silenced only by writing the
    secret into the checkout's file."""
    from catalog.db import database_identity

    return database_identity(named) != database_identity(used)


def default_database_url() -> str:
    """The built-in database, in `DEFAULTS_DIR_ENV`'s folder when it names one."""
    base = os.environ.get(DEFAULTS_DIR_ENV)
    return _resolve_sqlite(DEFAULT_DATABASE_URL, Path(base)) if base else DEFAULT_DATABASE_URL


def _sound_database(data: Mapping[str, Any], base: Path, problem: Key) -> str | None:
    """The database a file that failed elsewhere names (or the default, when it names
    none): its `database_url` entry alone is sound. None when that entry is the `problem`
    (the key of the error): `status` read, and `check` recorded a refusal in, the very URL
    refused (`sqlite://`, in memory, showed "no runs yet"; `nonsense://` failed, exit 3)."""
    if "database_url" not in data:
        return default_database_url()  # as `load_settings` would have it
    if problem[:1] == ("database_url",):
        return None
    url = data["database_url"]
    return _resolve_sqlite(url, base) if isinstance(url, str) and url.strip() else None


def _sound_catalogs(data: Mapping[str, Any], base: Path) -> tuple[Path, ...]:
    paths = data.get("catalogs")
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        return ()
    return tuple((base / p).resolve() for p in paths)


_TOML_KEY = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*""")


def _toml_key(text: str) -> tuple[tuple[str, ...], str] | None:
    """The dotted key at the start of `text` (`check.hosts."a.org"`) and what follows it."""
    parts: list[str] = []
    while True:
        m = _TOML_KEY.match(text)
        if m is None:
            return None
        bare, basic, literal = m.groups()
        if basic is not None:
            try:
                basic = json.loads(f'"{basic}"')
            except ValueError:
                return None
        parts.append(bare if bare is not None else basic if basic is not None else literal)
        text = text[m.end() :]
        if not text.startswith("."):
            return tuple(parts), text
        text = text[1:]


def line_of(text: str, key: tuple[str | int, ...]) -> int | None:
    """The line of TOML `text` that sets `key` (or the table or entry holding it, for a
    key inside an inline table or a list), for an error a person can go to; None when the
    file does not name it. tomllib keeps no positions, so this reads table headers and
    `key =` lines itself, skipping the inside of multi-line strings."""
    names = tuple(str(k) for k in key if not isinstance(k, int))
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    quote: str | None = None  # the delimiter of a multi-line string we are inside
    for number, line in enumerate(text.splitlines(), 1):
        if quote is not None:
            if line.count(quote) % 2:
                quote = None
            continue
        stripped = line.strip()
        header = re.fullmatch(r"\[\[?(.*?)\]\]?\s*(?:#.*)?", stripped)
        if header:
            parsed = _toml_key(header.group(1))
            if parsed is not None and not parsed[1].strip():
                table = parsed[0]
                found.setdefault(table, number)
            continue
        parsed = _toml_key(stripped)
        if parsed is None or not parsed[1].startswith("="):
            continue
        full = (*table, *parsed[0])
        for end in range(len(table) + 1, len(full) + 1):
            found.setdefault(full[:end], number)
        for delimiter in ('"""', "'''"):
            if parsed[1].count(delimiter) % 2:
                quote = delimiter
    for end in range(len(names), 0, -1):
        if names[:end] in found:
            return found[names[:end]]
    return None


def _from_mapping(data: Mapping[str, Any], file: str, base: Path) -> Settings:
    """Relative paths in the file start at `base`, its folder, so the file means the same
    from any working folder."""
    check_data = _table(data, "check", file, ())
    health_data = _table(data, "health", file, ())
    hosts_data = _table(check_data, "hosts", file, ("check",))
    top = _coerce(Settings, _without(data, "check", "health"), file, ())
    if "catalogs" in top:
        if not top["catalogs"]:
            # Taken as written, a sync of the configured catalogs retired every collection
            # of the database ("Synced 1 catalog(s)"), and `catalog validate` said nothing.
            raise SettingsFileError(
                file,
                "catalogs is an empty list: it names no catalog, and a sync would retire "
                "every collection in the database; name the catalog files (or folders), or "
                "leave the setting out for the bundled demo toolkit",
                key=("catalogs",),
            )
        top["catalogs"] = tuple((base / p).resolve() for p in top["catalogs"])
        top["catalogs_named"] = True
    if "reports_dir" in top:
        top["reports_dir"] = base / top["reports_dir"]
    if top.get("reports_url"):
        _check_reports_url(top["reports_url"], file)
    if "database_url" in top:
        if not os.environ.get("LINKHEALTH_DATABASE_URL"):  # else the file's is not used
            _check_database_url(top["database_url"], file)
        top["database_url"] = _resolve_sqlite(top["database_url"], base)
    check = CheckSettings(
        **_coerce(CheckSettings, _without(check_data, "hosts"), file, ("check",)),
        hosts=_hosts(hosts_data, file),
    )
    _check_allowlist(check.private_allowlist, file)
    health = HealthSettings(**_coerce(HealthSettings, health_data, file, ("health",)))
    _check_canary_urls(health.canary_urls, file)
    return Settings(**top, check=check, health=health)


def _check_reports_url(url: str, file: str) -> None:
    """An http or https address with a host: anything else would be an artifact's link
    that opens nothing, found only when a curator clicks it."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsFileError(
            file,
            f"reports_url must be an http or https address (https://host/path/), not {url!r}",
            key=("reports_url",),
        )


def _check_allowlist(entries: tuple[str, ...], file: str) -> None:
    """Each entry an address, a network or a host name, said here with its line: found
    only when the checker starts, a bad one failed the run after it had begun."""
    from catalog.check.safety import check_allowlist

    for index, entry in enumerate(entries):
        try:
            check_allowlist((entry,))
        except ConfigError as exc:
            raise SettingsFileError(
                file, str(exc), key=("check", "private_allowlist", index)
            ) from None


def _hosts(data: Mapping[str, Any], file: str) -> dict[str, HostPolicy]:
    """`[check.hosts."H"]` tables, by lower-case host name as `policy_for` looks them up."""
    at: Key = ("check", "hosts")
    hosts = {}
    for host in data:
        _check_host_name(host, file, (*at, host))
        policy = _coerce(HostPolicy, _table(data, host, file, at), file, (*at, host))
        hosts[host.lower()] = HostPolicy(**policy)
    return hosts


def _check_host_name(host: str, file: str, key: Key) -> None:
    """A host name, as `policy_for` is asked with: a URL or a path there (`"https://www.
    ojp.gov/"`) was accepted and never applied to any request."""
    import ipaddress
    from urllib.parse import urlsplit

    with suppress(ValueError):
        ipaddress.IPv6Address(host)  # "::1", as httpx gives an IPv6 literal's host
        return
    if host.strip() and not re.search(r"[/\s:@?#\[\]]", host):
        return
    named = urlsplit(host if "//" in host else f"//{host}").hostname
    hint = f": write [check.hosts.{json.dumps(named)}]" if named else ""
    raise SettingsFileError(
        file, f"{_dotted(key)}: {host!r} is not a host name (such as www.ojp.gov){hint}", key=key
    )


def _check_canary_urls(urls: tuple[str, ...], file: str) -> None:
    """Each an http or https address with a host: a bare host name (`www.usa.gov`) was
    taken, and every run then judged its network by a canary that could never answer."""
    from urllib.parse import urlsplit

    for index, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            continue
        hint = f"; write 'https://{url}'" if "://" not in url and ":" not in url else ""
        raise SettingsFileError(
            file,
            f"health.canary_urls[{index}]: {url!r} is not an http or https address{hint}",
            key=("health", "canary_urls", index),
        )


def refused_canaries(settings: Settings) -> tuple[Problem, ...]:
    """A warning for each canary URL the check refuses as a private address, as written
    (`catalog validate` gives them, as it does a catalog's): never sent, such a canary
    proves nothing of our network (`catalog.canary`), and a run only logs it."""
    if settings.check.allow_private or not settings.health.canary_urls:
        return ()
    from catalog.check.safety import refused_as_written
    from catalog.urls import UrlProblem, parse_url

    file = settings.config_file
    text = ""
    if file is not None:
        with suppress(OSError, UnicodeDecodeError):  # read moments ago: the line is a nicety
            text = file.read_text(encoding="utf-8-sig")
    warnings = []
    for index, url in enumerate(settings.health.canary_urls):
        parsed = parse_url(url)
        if isinstance(parsed, UrlProblem):
            continue
        why = refused_as_written(parsed.host, settings.check.private_allowlist)
        if why is None:
            continue
        warnings.append(
            Problem(
                str(file or DEFAULT_CONFIG_NAME),
                line_of(text, ("health", "canary_urls", index)),
                "health.canary_urls",
                "private_address",
                f"{url}: {why}, so `linkhealth check` will not fetch it and it proves "
                "nothing of our network; name a public site that is always up",
            )
        )
    return tuple(warnings)


def _without(data: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in names}


def _check_database_url(url: str, file: str) -> None:
    """A URL SQLAlchemy can read and has a dialect for, said with the file's line (exit 2):
    found when the database was opened, the mistake was a database error (exit 3)
    naming no file. (Whether the database answers is the database's business.)"""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from catalog.db import masked_url

    key = ("database_url",)
    if not url.strip():
        raise SettingsFileError(
            file, "database_url is empty; leave it out for the default", key=key
        )
    try:
        make_url(url).get_dialect()
    except NoSuchModuleError:  # (an ArgumentError too)
        scheme = url.split(":", 1)[0]
        raise SettingsFileError(
            file,
            f"database_url: {scheme!r} is no database SQLAlchemy knows "
            "(e.g. sqlite:///var/linkhealth.db, postgresql+psycopg://user@host/db)",
            key=key,
        ) from None
    except (ArgumentError, ValueError):
        raise SettingsFileError(
            file, f"database_url {masked_url(url)!r} is not a database URL", key=key
        ) from None
    try:
        refuse_unusable_database_url(url, "database_url")
    except ConfigError as exc:
        raise SettingsFileError(file, str(exc), key=key) from None


def refuse_unusable_database_url(url: str, origin: str) -> None:
    """A `ConfigError` (exit 2) naming `origin` (--db, --to, LINKHEALTH_DATABASE_URL,
    database_url) for a URL that is no database URL (or names a database or driver
    SQLAlchemy does not know, another database than SQLite or PostgreSQL, or an asyncio
    driver), or a SQLite one naming no file:
    `sqlite://` and `sqlite:///` (what "sqlite:///$UNSET" becomes) are an in-memory
    database, so a sync said "1 added" and a `db copy` said "Copied" with nothing kept."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from catalog.db import masked_url, shown_url

    write = "write it as sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST/DB"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ConfigError(
            f"{origin} {masked_url(url)!r} is not a database URL ({exc}); {write}"
        ) from None
    # A scheme no dialect answers to (nonsense://, postgres://) or an asyncio driver was
    # found only when the database was opened: exit 3, "cannot open database", naming
    # neither the option nor the variable it came from.
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        if parsed.drivername == "postgres":  # as Heroku and libpq spell it
            write = "write postgresql+psycopg:// (SQLAlchemy does not know postgres://)"
        raise ConfigError(
            f"{origin} {shown_url(parsed)!r}: {parsed.drivername!r} is no database or driver "
            f"SQLAlchemy knows; {write}"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        # mysql://, mssql://, oracle://: SQLAlchemy knows them, and the command failed
        # opening the database on the driver missing ("No module named 'MySQLdb'", exit 3)
        # as if installing it would do; the schema and its migrations are these two's.
        raise ConfigError(
            f"{origin} {shown_url(parsed)!r}: linkhealth keeps its data in SQLite or "
            f"PostgreSQL, not {parsed.get_backend_name()}; {write}"
        )
    if dialect.is_async:
        raise ConfigError(
            f"{origin} {shown_url(parsed)!r}: {parsed.drivername} is an asyncio driver; name "
            "a synchronous one, e.g. postgresql+psycopg:// or sqlite:///"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigError(
            f"{origin} {url!r} names no database file: SQLite would keep everything in "
            "memory and lose it when the command ends (an unset variable in "
            "sqlite:///$FILE?); name the file, e.g. sqlite:///var/linkhealth.db"
        )
    path = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and path != path.strip():
        # A Windows line end in an environment file, a space pasted along: a new, empty
        # database was made beside the real one ("linkhealth.db\r"), or "no database at" it
        # was said with the culprit invisible.
        raise ConfigError(
            f"{origin} {masked_url(url)!r} names a file whose path starts or ends with white "
            f"space ({path!r}); write the path without it"
        )
    if parsed.get_backend_name() == "sqlite" and "\0" in path:
        # (%00 in the URL: every look at the path was a ValueError traceback.)
        raise ConfigError(
            f"{origin} {masked_url(url)!r} names a file with a NUL character (%00) in its "
            "path, which no file can have; name the file, e.g. sqlite:///var/linkhealth.db"
        )


def _resolve_sqlite(url: str, base: Path) -> str:
    """A relative SQLite path in a config file is relative to that file, not to the cwd."""
    relative = relative_sqlite_path(url)
    if relative is None:
        return url
    prefix, path = relative
    return prefix + str((base / path).resolve())


#: A SQLite URL naming a file, in any driver's spelling SQLAlchemy takes (`sqlite:///`,
#: `sqlite+pysqlite:///`, `sqlite+pysqlcipher:///`): its scheme, then the file's path.
_SQLITE_FILE_URL = re.compile(r"(sqlite(?:\+\w+)?:///)(.*)", re.DOTALL)


def relative_sqlite_path(url: str) -> tuple[str, str] | None:
    """(scheme and `:///`, path) of a SQLite URL naming a file by a relative path, else None
    (another database, an absolute path, memory, a `file:` URI). Read as `sqlite:///` alone,
    `sqlite+pysqlite:///var/x.db` stayed relative: pasted in another folder, or read from a
    settings file there, it named another file."""
    found = _SQLITE_FILE_URL.fullmatch(url)
    if found is None or not found[2] or found[2].startswith(("/", ":memory:", "file:")):
        return None
    return found[1], found[2]
