"""One-machine scheduling: serve the deployments of prefect.yaml from one process.

Input: prefect.yaml, the single place schedules, triggers and parameters are
declared (`prefect deploy --all` reads the same file for work-pool setups).
Output: `prefect.serve(...)` running the `nightly`, `recheck` and `report`
deployments against the Prefect server in PREFECT_API_URL, until stopped. Deployments
tagged `needs-workers` (`nightly-sharded`, `shard`) are left out: host shards only pay
off across several worker machines, and one process serving both the waiting parent
and its shards gains nothing. Schedules keep their `active` flag, so a schedule that is
off in prefect.yaml stays off.
Flow runs start in the project folder (LINKHEALTH_HOME), like the pull step
of prefect.yaml. They read the settings file every other command run where `serve` was
started would read (`--config`, LINKHEALTH_CONFIG, else ./linkhealth.toml), pinned for
them in LINKHEALTH_CONFIG: an operator serving from a catalog folder means that folder's
settings, not the checkout's. Only when there is none there do they read the project
folder's, and `serve` says so.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import re
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from catalog.errors import ConfigError

if TYPE_CHECKING:
    from catalog.settings import Settings

PREFECT_YAML = "prefect.yaml"
#: Deployments with this tag run on a work pool's workers only, never in `linkhealth serve`.
NEEDS_WORKERS = "needs-workers"
#: The checkout this module belongs to; used when neither LINKHEALTH_HOME nor the cwd has one.
CHECKOUT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CronSpec:
    cron: str
    timezone: str | None = None
    active: bool = True


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of prefect.yaml's `deployments`, as much as `linkhealth serve` uses."""

    name: str
    entrypoint: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    schedules: tuple[CronSpec, ...] = ()
    concurrency_limit: int | None = None
    triggers: tuple[Mapping[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    #: "prefect.yaml:N", where it is declared, for what only serving it finds wrong.
    where: str = ""

    @property
    def servable(self) -> bool:
        return NEEDS_WORKERS not in self.tags

    @property
    def module_entrypoint(self) -> str:
        """ "flows/check_flow.py:check_catalog" -> "flows.check_flow.check_catalog"."""
        path, _, func = self.entrypoint.partition(":")
        return f"{path.removesuffix('.py').replace('/', '.')}.{func}"


def project_home() -> Path:
    """LINKHEALTH_HOME, else the current folder when it holds prefect.yaml, else the checkout."""
    env = os.environ.get("LINKHEALTH_HOME")
    if env:
        return Path(env).resolve()
    if (Path.cwd() / PREFECT_YAML).is_file():
        return Path.cwd()
    return CHECKOUT


def read_deployments(path: Path) -> list[DeploymentSpec]:
    """The deployments declared in prefect.yaml.

    A mistake in the file is a `ConfigError` naming the file, the line and the deployment,
    found before anything is served: a cron or timezone Prefect refuses would otherwise be
    a traceback, and a parameter no flow takes a nightly run failing at 2 a.m.
    """
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {exc.problem or exc}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not data.get("deployments"):
        raise ConfigError(f"{path}: no `deployments` list, so nothing to serve or deploy")
    entries = data["deployments"]
    if not isinstance(entries, list):
        raise ConfigError(f"{_at(path, data, 'deployments')}: `deployments` must be a list")
    return [_spec(path, entries, i) for i in range(len(entries))]


def _at(path: Path, node: Any, key: Any) -> str:
    """ "FILE:N", N the line of `key` in a mapping or list ruamel's round trip loaded."""
    lines: Any = getattr(node, "lc", None)
    try:
        line = lines.key(key)[0] if isinstance(node, dict) else lines.item(key)[0]
    except (AttributeError, KeyError, IndexError, TypeError):
        return str(path)
    return f"{path}:{line + 1}"


def _plain(value: Any) -> Any:
    """`value` as plain Python data, without ruamel's round-trip types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


#: How an entrypoint is written: a file of the checkout and a flow function in it.
_ENTRYPOINT = re.compile(r"[\w./-]+\.py:\w+")


def _spec(path: Path, entries: list[Any], index: int) -> DeploymentSpec:
    """Deployment `index` of `entries`, with what `serve` and `prefect deploy` need checked."""
    entry = entries[index]
    where = _at(path, entries, index)
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: deployment {index + 1} must be a mapping (name, entrypoint)")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: deployment {index + 1} has no `name`")

    def fail(key: str, message: str) -> ConfigError:
        at = _at(path, entry, key) if key in entry else where
        return ConfigError(f"{at}: deployment {name!r}: {message}")

    entrypoint = entry.get("entrypoint")
    if not isinstance(entrypoint, str) or not _ENTRYPOINT.fullmatch(entrypoint):
        raise fail("entrypoint", "`entrypoint` must be written as path/to/file.py:flow_function")
    for key, kind, shape in (
        ("schedules", list, "a list of `- cron: ...` entries"),
        ("parameters", dict, "a mapping"),
        ("triggers", list, "a list"),
        ("tags", list, "a list"),
    ):
        if entry.get(key) is not None and not isinstance(entry[key], kind):
            raise fail(key, f"`{key}` must be {shape}")
    schedules = entry.get("schedules") or []
    limit = entry.get("concurrency_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise fail("concurrency_limit", "`concurrency_limit` must be a whole number, 1 or more")
    return DeploymentSpec(
        name=name,
        entrypoint=entrypoint,
        description=str(entry.get("description") or ""),
        parameters=_plain(entry.get("parameters") or {}),
        schedules=tuple(
            _cron(path, _at(path, schedules, i), name, schedules[i]) for i in range(len(schedules))
        ),
        concurrency_limit=limit,
        triggers=tuple(_plain(entry.get("triggers") or [])),
        tags=tuple(str(t) for t in entry.get("tags") or ()),
        where=where,
    )


def _cron(path: Path, where: str, name: str, schedule: Any) -> CronSpec:
    """One schedule, checked as Prefect checks it when it is served or deployed; a mistake
    names the line of its key (`where`: the schedule's first line)."""
    from zoneinfo import ZoneInfo

    from prefect._vendor.croniter import croniter

    def fail(message: str, key: str | None = None) -> ConfigError:
        at = _at(path, schedule, key) if key is not None else str(path)
        return ConfigError(f"{where if at == str(path) else at}: deployment {name!r}: {message}")

    if not isinstance(schedule, dict) or "cron" not in schedule:
        raise fail('`linkhealth serve` reads only cron schedules (`- cron: "0 2 * * *"`)')
    cron, timezone = str(schedule["cron"]), schedule.get("timezone")
    # Prefect refuses croniter's random and hashed fields (R, H) too.
    if not croniter.is_valid(cron) or any(f.lower() in ("r", "h") for f in cron.split()):
        raise fail(
            f"{cron!r} is not a cron schedule (minute hour day-of-month month weekday)", "cron"
        )
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ValueError, KeyError, OSError):  # not found: ZoneInfoNotFoundError, a KeyError
            raise fail(
                f"timezone {timezone!r} is not an IANA name such as Europe/Berlin or UTC",
                "timezone",
            ) from None
    active = schedule.get("active", True)
    if not isinstance(active, bool):
        raise fail("schedule `active` must be true or false", "active")
    return CronSpec(cron=cron, timezone=None if timezone is None else str(timezone), active=active)


def servable(specs: Sequence[DeploymentSpec]) -> list[DeploymentSpec]:
    """The deployments `linkhealth serve` runs: all but those tagged `needs-workers`."""
    return [spec for spec in specs if spec.servable]


def runner_deployments(specs: Sequence[DeploymentSpec]) -> list[Any]:
    """One `RunnerDeployment` per spec, with the same schedules, triggers and limits; a
    flow, trigger or parameter Prefect or the flow would refuse is a `ConfigError` naming
    where in prefect.yaml the deployment is."""
    from prefect.events import DeploymentTriggerTypes
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType
    from pydantic import TypeAdapter, ValidationError

    triggers_of = TypeAdapter(DeploymentTriggerTypes)
    out = []
    for spec in specs:

        def fail(message: str, spec: DeploymentSpec = spec) -> ConfigError:
            return ConfigError(f"{spec.where or PREFECT_YAML}: deployment {spec.name!r}: {message}")

        flow = _flow(spec, fail)
        _check_parameters(flow, spec.parameters, fail, "`parameters`")
        triggers = []
        for i, trigger in enumerate(spec.triggers, start=1):
            if not isinstance(trigger, Mapping):
                raise fail(f"trigger {i} must be a mapping (type, match, expect, ...)")
            _check_parameters(flow, trigger.get("parameters") or {}, fail, f"trigger {i}")
            try:
                triggers.append(
                    triggers_of.validate_python({"name": f"{spec.name}__automation_{i}", **trigger})
                )
            except ValidationError as exc:
                raise fail(f"trigger {i}: {_first_error(exc)}") from None
        out.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                parameters=dict(spec.parameters),
                schedules=[
                    Cron(s.cron, timezone=s.timezone, active=s.active) for s in spec.schedules
                ]
                or None,
                concurrency_limit=spec.concurrency_limit,
                triggers=triggers or None,
                tags=list(spec.tags) or None,
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return out


def _flow(spec: DeploymentSpec, fail: Callable[[str], ConfigError]) -> Any:
    """The flow `spec.entrypoint` names."""
    from prefect import Flow

    module, _, func = spec.module_entrypoint.rpartition(".")
    try:
        flow = getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise  # a module the flow's own module imports: a broken install, not this file
        raise fail(f"entrypoint {spec.entrypoint}: no such file in {project_home()}") from None
    except AttributeError:
        raise fail(f"entrypoint {spec.entrypoint}: no flow {func!r} in that file") from None
    if not isinstance(flow, Flow):
        raise fail(f"entrypoint {spec.entrypoint}: {func!r} is not a Prefect flow")
    return flow


def _check_parameters(
    flow: Any, parameters: Mapping[str, Any], fail: Callable[[str], ConfigError], what: str
) -> None:
    """Refuse parameters the flow does not take: each run would fail when it starts."""
    if not isinstance(parameters, Mapping):
        raise fail(f"{what}: `parameters` must be a mapping")
    taken = inspect.signature(flow.fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in taken.values()):
        return
    unknown = sorted(set(parameters) - set(taken))
    if unknown:
        raise fail(
            f"{what}: the flow {flow.name!r} takes no parameter {', '.join(map(repr, unknown))} "
            f"(it takes {', '.join(taken)})"
        )


def _first_error(exc: Any) -> str:
    """Pydantic's first complaint, with the field it is about."""
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if not str(part)[:1].isupper())
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def pin_settings(config: Path | None, home: Path) -> str:
    """Make the served flow runs read the settings file a command run here reads, and say
    which: `config`, LINKHEALTH_CONFIG or ./linkhealth.toml, made absolute in
    LINKHEALTH_CONFIG (the runs start in `home`), with what it leaves to the defaults in
    this folder (LINKHEALTH_DEFAULTS_DIR), and a relative SQLite LINKHEALTH_DATABASE_URL
    made absolute too. It is loaded now, so a mistake in it stops `serve` with the file
    and setting named instead of failing the nightly run."""
    from catalog.db import absolute_sqlite_url, shown_url
    from catalog.settings import (
        DEFAULT_CONFIG_NAME,
        DEFAULTS_DIR_ENV,
        find_config,
        load_settings,
    )

    env_db = os.environ.get("LINKHEALTH_DATABASE_URL")
    if env_db:  # `sqlite:///var/x.db` means this folder's var/, not the one runs start in
        os.environ["LINKHEALTH_DATABASE_URL"] = absolute_sqlite_url(env_db)
    load_settings(config)
    found = find_config(config)
    if found is not None:
        path = found.resolve()
        os.environ["LINKHEALTH_CONFIG"] = str(path)
        # What the file leaves to the defaults (its database, its reports) is this
        # folder's var/, as for a command run here: the runs, started in `home`, used
        # the checkout's, and `linkhealth status` here never saw a served night.
        os.environ.setdefault(DEFAULTS_DIR_ENV, str(Path.cwd().resolve()))
        settings = load_settings(path)
        said = (
            f"Flow runs read the settings of {path}: the database "
            f"{shown_url(settings.database_url)}, the reports in {_reports_ahead(settings)}."
        )
        replaced = settings.database_warning  # each run's log says it too
        return (
            said
            + _earlier_database(settings, home)
            + (f"\nwarning: {replaced}" if replaced else "")
        )
    fallback = home / DEFAULT_CONFIG_NAME
    if fallback.is_file():
        load_settings(fallback)
        return (
            f"No {DEFAULT_CONFIG_NAME} here: flow runs read {fallback.resolve()} "
            "(give --config to choose)."
        )
    return (
        f"No {DEFAULT_CONFIG_NAME} here or in {home}: flow runs use the built-in defaults"
        f"{_where_relative(load_settings(None), home)} (give --config to choose)."
    )


def _earlier_database(settings: Settings, home: Path) -> str:
    """A warning when the runs served from here before kept their database in `home`'s
    var/ (before `DEFAULTS_DIR_ENV`) and this folder's is not there yet: the history would
    seem to start again from nothing."""
    from catalog.settings import DEFAULT_DATABASE_URL, default_database_url

    if settings.database_url != default_database_url():  # the file or a variable names one
        return ""
    now = Path(settings.database_url.removeprefix("sqlite:///"))
    earlier = (home / DEFAULT_DATABASE_URL.removeprefix("sqlite:///")).resolve()
    if earlier == now or not earlier.is_file() or now.exists():
        return ""
    if not _may_hold_these_catalogs(earlier, settings):
        return ""  # e.g. the bundled toolkit's, from `make run` in the checkout
    return (
        f" Warning: runs served from here by an earlier version kept their database in "
        f"{earlier}; to keep that history, copy it (`linkhealth db copy --db "
        f"sqlite:///{earlier} --to {settings.database_url}`) or set database_url to it."
    )


def _reports_ahead(settings: Settings) -> str:
    """Where the runs' reports will go: the configured folder, or the one beside it when
    another database's reports hold that (`reports.publish.report_folder_ahead`)."""
    from catalog.db import open_engine
    from reports.publish import report_folder_ahead

    configured = settings.reports_dir
    try:
        engine = open_engine(settings.database_url, migrate=False)  # no connection made
    except Exception:  # the runs say what is wrong with the database
        return str(configured)
    try:
        folder = report_folder_ahead(settings, engine)
    finally:
        engine.dispose()
    if folder == Path(configured):
        return str(folder)
    return f"{folder} ({configured} holds the reports of another database)"


def _may_hold_these_catalogs(database: Path, settings: Settings) -> bool:
    """Whether the SQLite file `database` holds a collection of `settings`' catalog files,
    or may: True when that cannot be told (the files are missing, or `database` cannot be
    read as a linkhealth database). A database of other catalogs holds no history of these
    (the checkout's, after `make run`, the bundled toolkit's), and copying it in would mix
    that catalog into the reports for good."""
    from catalog.db import open_engine
    from catalog.source import catalog_files
    from catalog.store import stored_collections

    keys = {f.stem for f in catalog_files(settings.catalogs)}
    if not keys:
        return True
    try:
        engine = open_engine(f"sqlite:///{database}", migrate=False)
        try:
            return bool(stored_collections(engine) & keys)
        finally:
            engine.dispose()
    except Exception:
        return True


def _where_relative(settings: Settings, home: Path) -> str:
    """The relative paths of `settings` as the flow runs, started in `home`, will read
    them: not in the folder `serve` was started in, where `linkhealth status` and
    `report` would look for them."""
    if Path.cwd().resolve() == home.resolve():
        return ""  # this folder's, as for any command run here
    places = []
    database = settings.database_url.removeprefix("sqlite:///")
    if database != settings.database_url and database and not Path(database).is_absolute():
        places.append(f"the database {home / database}")
    if not settings.reports_dir.is_absolute():
        places.append(f"the reports {home / settings.reports_dir}")
    return f", read in {home}: {' and '.join(places)}, not this folder's" if places else ""


def pools_with_workers(deployments: Sequence[Any]) -> list[str]:
    """The work pools that already hold one of `deployments` (`prefect deploy --all` put
    them there) and have a worker online. Serving keeps a deployment's pool, so such a
    worker may pick up a served run and run it in a folder of its own, with the built-in
    settings, instead of `serve`. Empty when that cannot be told: only a warning hangs
    on it."""
    return online_pools(getattr(found, "work_pool_name", None) for found in served_now(deployments))


def online_pools(names: Iterable[str | None]) -> list[str]:
    """Of the work pools `names`, those with a worker online (sorted); empty when that
    cannot be told."""
    from prefect.settings import get_current_settings

    # Never a throw-away server of its own just to ask. The URL the client would use, not
    # the environment's: Prefect reads that once, at import (an API URL set later in the
    # process, as a test does, still meant a temporary server: 15 s, and left running).
    pools = sorted({name for name in names if name})
    if not pools or not get_current_settings().api.url:
        return []
    try:
        from prefect import get_client
        from prefect.client.schemas.objects import WorkerStatus

        with get_client(sync_client=True) as client:
            return [
                pool
                for pool in pools
                if any(
                    w.status == WorkerStatus.ONLINE for w in client.read_workers_for_work_pool(pool)
                )
            ]
    except Exception:
        return []


def servable_deployments(prefect_yaml: Path | None = None) -> list[DeploymentSpec]:
    """The deployments of prefect.yaml (default: the project's) that `serve` runs, read
    and checked before a Prefect server is started for them: a typo is one line at once,
    not one line after a server's ~15 s start."""
    return servable(read_deployments(prefect_yaml or project_home() / PREFECT_YAML))


def serve(
    specs: list[DeploymentSpec], say: Callable[[str], None] = print, take_over: bool = False
) -> None:
    """Serve `specs` (`servable_deployments`) until interrupted (needs PREFECT_API_URL
    set, and `pin_settings` called first). `take_over`: serve them even when Prefect shows
    another live `serve` of another checkout, or a runner that does not say whose it is,
    serving them (`other_serve`)."""
    home = project_home()
    me = Owner(
        host=socket.gethostname(),
        home=str(home),
        folder=str(Path.cwd()),
        pid=os.getpid(),
        started=time.time(),
    )
    try:
        with _only_serve(home):
            os.chdir(home)
            _serve(specs, say, me, take_over)
    except _StartAgain:
        os.chdir(me.folder)  # where it was started: relative paths in its command mean it
        start_again(me.folder, say)


#: How long a second `serve` waits for the first one's lock before it gives up.
SERVE_LOCK_WAIT_S = 2.0
#: The lock file, in the checkout (an absolute path stands alone: the tests').
SERVE_LOCK = Path("var") / "serve.lock"


@contextmanager
def _only_serve(home: Path) -> Iterator[None]:
    """One `linkhealth serve` per checkout. When a second one stops, Prefect's runner
    pauses the schedules of the deployments both serve: the first one keeps running, its
    nightly run paused, which only `linkhealth status` would tell. (A lock on a file in
    `home`/var: it ends with the process that holds it, however that ends.)"""
    import fcntl

    path = home / SERVE_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as lock:
        deadline = time.monotonic() + SERVE_LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    lock.seek(0)
                    holder = lock.read().strip() or "another process"
                    # A usage error (exit 2): the systemd unit does not restart on it,
                    # where a duplicate unit retried every 10 s, for good, on exit 1.
                    raise ConfigError(
                        f"`linkhealth serve` runs from {home} already ({holder}, see {path}); "
                        "a second one would pause the first one's schedules when it stops. "
                        "Stop that one first (systemctl stop linkhealth-serve, or Ctrl-C)"
                    ) from None
                time.sleep(0.1)
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        yield


def _serve(
    specs: list[DeploymentSpec], say: Callable[[str], None], me: Owner, take_over: bool
) -> None:
    from prefect import serve as prefect_serve

    deployments = runner_deployments(specs)
    found = served_now(deployments)
    workers = online_pools(getattr(d, "work_pool_name", None) for d in found)
    now = datetime.now().astimezone()
    other = other_serve(found, me, now, worker_pools=workers)
    if other is not None and not take_over and other == unnamed_runner(found, now, workers):
        # A runner that says nothing of itself may be an older `serve` killed hard during
        # an upgrade (no pause): refused at once, exit 2, systemd would never retry. One
        # that runs polls again within `LIVE_POLL_S`; a dead one does not.
        say(f"{other}.\nWaiting {SILENT_RUNNER_WAIT_S:.0f} s to see whether it still polls")
        time.sleep(SILENT_RUNNER_WAIT_S)
        found = served_now(deployments)
        workers = online_pools(getattr(d, "work_pool_name", None) for d in found)
        other = other_serve(found, me, datetime.now().astimezone(), worker_pools=workers)
    if other is not None and not take_over:
        raise ConfigError(other)  # exit 2: the systemd unit does not restart on it
    lost = _claim(found, me, deployments)
    if lost is not None:
        raise ConfigError(lost)
    for deployment in deployments:
        deployment.description = with_owner(deployment.description, me)
    pools = pools_with_workers(deployments)
    if pools:
        say(
            f"warning: work pool {', '.join(pools)} has a worker online and holds deployments "
            "served here; it may run their runs outside this folder with the built-in "
            "settings. Stop its workers, or use them instead of `linkhealth serve`."
        )
    url = os.environ.get("PREFECT_API_URL", "")
    with (
        interrupt_as_sigterm(),
        catching_up(specs, say),
        stopping_when_cancel_watch_lost(
            lambda: runs_in_flight(deployments), say, CANCEL_WATCH_LOST_EVERY_S
        ) as stopped,
    ):
        say(serving_message(deployments, url))
        try:
            # Prefect's own banner says `prefect deployment run [DEPLOYMENT_NAME]`, which,
            # typed in a shell without PREFECT_API_URL, starts a throw-away server of its own.
            # Not Prefect's pause of every deployment served when it stops: only those still
            # ours, with our note taken off (`release`).
            prefect_serve(*deployments, print_starting_message=False, pause_on_shutdown=False)
            if not stopped.is_set():  # stopped to start again: the schedules stay on
                release(deployments, me, say)
        except BaseException as exc:
            from flows.prefect_server import PrefectApiLostError, api_lost

            if isinstance(exc, KeyboardInterrupt | SystemExit) or not api_lost(exc):
                raise
            # Prefect's runner gives up after minutes without its API, with a traceback of
            # a hundred lines: one sentence, and exit 1, which the systemd unit restarts.
            url = os.environ.get("PREFECT_API_URL", "the Prefect API")
            raise PrefectApiLostError(
                f"{url} stopped answering, so Prefect stopped serving the deployments (and "
                "may have paused their schedules: serving again resumes them); start the "
                "Prefect server again, then `linkhealth serve` (the systemd unit restarts it "
                "by itself)"
            ) from exc
    if stopped.is_set():
        raise _StartAgain


class _StartAgain(Exception):
    """`serve` stopped its runner to start again (`stopping_when_cancel_watch_lost`)."""


def start_again(folder: str, say: Callable[[str], None]) -> None:
    """Replace this process with `serve` as it was started (`sys.orig_argv`, in `folder`),
    keeping its pid, terminal and environment: a new Prefect runner, which watches for
    cancellations again. In a terminal as under systemd, where an exit 1 to be restarted
    left a terminal's `serve` stopped for good, its night lost. The schedules were not
    paused, so a night due meanwhile is still there for the new runner, and its catch-up
    (`catching_up`) looks as it starts. Only if the new process cannot be started, an
    exit 1 naming the command that starts it."""
    from flows.prefect_server import PrefectApiLostError

    argv = list(sys.orig_argv)
    command = f"cd {shlex.quote(folder)} && {shlex.join(argv)}"
    say(
        "serve starts again: after the Prefect server went away, Prefect's runner no longer "
        "saw `prefect flow-run cancel` for the runs served here; a new one does. No run was "
        "in progress, and the schedules stay on"
    )
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with suppress(OSError, ValueError):  # closed: nothing to lose
            if stream is not None:
                stream.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError as exc:
        # Exit 1, which the systemd unit restarts; its schedules are still on.
        raise PrefectApiLostError(
            f"serve could not start again ({sys.executable}: {exc.strerror or exc}); "
            f"start it again: {command} (the systemd unit restarts it by itself)"
        ) from exc


#: What `serve` adds to the description of each deployment it serves, in a line of its own:
#: which serve serves it, for a `serve` of another checkout to tell (`other_serve`).
SERVED_BY = "Served by linkhealth serve: "
#: A deployment its runner polled this recently is served now: a runner polls every 10 s
#: (PREFECT_RUNNER_POLL_FREQUENCY), and Prefect marks a deployment not ready after 60 s.
LIVE_POLL_S = 60.0


@dataclass(frozen=True)
class Owner:
    """A `linkhealth serve`: its machine, checkout (project folder), start folder and pid,
    and when it claimed its deployments (a Unix time; 0: not said, an older note)."""

    host: str
    home: str
    folder: str
    pid: int
    started: float = 0.0

    def note(self) -> str:
        return SERVED_BY + json.dumps(asdict(self), sort_keys=True)

    def said(self) -> str:
        where = f"from {self.folder}" + (
            f", checkout {self.home}" if self.home != self.folder else ""
        )
        return f"pid {self.pid} on {self.host}, {where}"

    def same_checkout(self, other: Owner) -> bool:
        return (self.host, self.home) == (other.host, other.home)


def owner_in(description: str | None) -> Owner | None:
    """The `serve` whose note ends `description`, if any."""
    last = (description or "").rstrip().rpartition("\n")[2]
    if not last.startswith(SERVED_BY):
        return None
    try:
        data = json.loads(last.removeprefix(SERVED_BY))
        return Owner(
            host=str(data["host"]),
            home=str(data["home"]),
            folder=str(data["folder"]),
            pid=int(data["pid"]),
            started=float(data.get("started") or 0.0),
        )
    except (ValueError, KeyError, TypeError):
        return None


def without_owner(description: str | None) -> str:
    """`description` without the note of the `serve` that serves it."""
    text = (description or "").rstrip()
    if owner_in(text) is None:
        return text
    return text.rpartition("\n")[0].rstrip()


def with_owner(description: str | None, owner: Owner) -> str:
    """`description` with `owner`'s note in place of any earlier one."""
    text = without_owner(description)
    return f"{text}\n\n{owner.note()}" if text else owner.note()


def served_now(deployments: Sequence[Any]) -> list[Any]:
    """The deployments of these names Prefect holds (their description and last poll);
    empty when that cannot be told."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:  # never a throw-away server just to ask
        return []
    try:
        from prefect import get_client
        from prefect.exceptions import ObjectNotFound

        found = []
        with get_client(sync_client=True) as client:
            for deployment in deployments:
                try:
                    found.append(
                        client.read_deployment_by_name(f"{deployment.flow_name}/{deployment.name}")
                    )
                except ObjectNotFound:
                    continue
        return found
    except Exception:
        return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's: alive
    return True


def other_serve(
    found: Sequence[Any],
    me: Owner,
    now: datetime,
    alive: Callable[[int], bool] = _pid_alive,
    worker_pools: Collection[str] = (),
) -> str | None:
    """Why `me` must not serve `found` (Prefect's deployments of the names it serves), or
    None. Two serving them would share the runs, each writing its own database, and the
    first to stop would pause the other's schedules. Refused:
    - another checkout's `serve` (another folder or machine) serving one now: its note, and
      a poll of its runner (or its claim, `claim`) within `LIVE_POLL_S`; not a `serve` of
      this checkout before this one (its lock keeps to one at a time), nor one of this
      machine whose process is gone;
    - a deployment without a note that is not paused and was polled within `LIVE_POLL_S`:
      a runner that does not say whose it is (a plain `prefect ... serve`, a `linkhealth
      serve` from before the notes) serves it. A runner that stopped paused it (Prefect's
      own, and `release`). Not when a worker of its work pool is online (`worker_pools`):
      a worker's poll marks every deployment of its pool polled, so it tells nothing of a
      runner, and `serve` warns of the worker instead."""
    for deployment in found:
        owner = owner_in(deployment.description)
        if owner is None or owner.same_checkout(me):
            continue
        claimed = datetime.fromtimestamp(owner.started, UTC) if owner.started else None
        ago = _seconds_since(now, deployment.last_polled, claimed)
        if ago is None or ago > LIVE_POLL_S or (owner.host == me.host and not alive(owner.pid)):
            continue
        polled = _seconds_since(now, deployment.last_polled)
        heard = (
            f"its runner polled Prefect {max(ago, 0):.0f} s ago"
            if polled == ago
            else f"it claimed the deployments {max(ago, 0):.0f} s ago"
        )
        return (
            f"the deployment {deployment.name!r} is served by another `linkhealth serve` "
            f"({owner.said()}; {heard}): two would "
            "share the runs, each writing its own database, and the first to stop would pause "
            "the other's schedules. "
            "Stop that one first; if it is gone and Prefect still shows it, wait a minute, "
            "or start this one with --take-over"
        )
    return unnamed_runner(found, now, worker_pools)


#: How long `serve` waits, when a runner that says nothing of itself polled within
#: `LIVE_POLL_S`, before it looks again: a live runner polls every 10 s.
SILENT_RUNNER_WAIT_S = LIVE_POLL_S + 5.0


def unnamed_runner(
    found: Sequence[Any], now: datetime, worker_pools: Collection[str] = ()
) -> str | None:
    """Why `found` looks served by a runner without `serve`'s note (`other_serve`'s second
    case), or None."""
    for deployment in found:
        if owner_in(deployment.description) is not None or getattr(deployment, "paused", False):
            continue
        ago = _seconds_since(now, deployment.last_polled)
        if ago is None or ago > LIVE_POLL_S:
            continue
        if getattr(deployment, "work_pool_name", None) in worker_pools:
            continue
        return (
            f"the deployment {deployment.name!r} is served by a runner that does not say "
            f"whose it is (a `prefect ... serve`, or a `linkhealth serve` of an older "
            f"version): it polled Prefect {max(ago, 0):.0f} s ago and the deployment is not "
            "paused. Two would share the runs, and the first to stop would pause the other's "
            "schedules. Stop that one first; if it is gone and Prefect still shows it, wait a "
            "minute, or start this one with --take-over"
        )
    return None


def _seconds_since(now: datetime, *times: datetime | None) -> float | None:
    """Seconds since the latest of `times` (None: none known)."""
    known = [t for t in times if t is not None]
    return (now - max(known)).total_seconds() if known else None


#: How long `claim` waits, after writing its note, before it reads the notes again: longer
#: than another `serve` takes from its look at them (`other_serve`) to its own claim.
CLAIM_SETTLE_S = 2.0


def claim(
    found: Sequence[Any],
    me: Owner,
    write: Callable[[Any, str], None],
    read: Callable[[], Sequence[Any]],
    wait: Callable[[float], None] = time.sleep,
) -> str | None:
    """Note `me` on each of `found` (`write(deployment, description)`), wait
    `CLAIM_SETTLE_S`, read them again (`read`): None when `me` holds them, else why this
    `serve` must stop. Two `serve`s that both looked (`other_serve`) before either noted
    itself both write: the last to write wins, and the first sees the other's note when it
    reads again. One deployment decides (the first by name) so that two whose writes
    interleave do not both stop. The deployments Prefect does not hold yet are not
    claimed: two `serve`s started together on a new server are not told apart."""
    if not found:
        return None
    for deployment in found:
        write(deployment, with_owner(deployment.description, me))
    wait(CLAIM_SETTLE_S)
    first = min(str(d.name) for d in found)
    for deployment in read():
        owner = owner_in(deployment.description)
        if str(deployment.name) != first or owner is None or owner == me:
            continue
        return (
            f"the deployment {first!r} was claimed by another `linkhealth serve` that started "
            f"at the same time ({owner.said()}): that one serves it, this one stops"
        )
    return None


def _claim(found: Sequence[Any], me: Owner, deployments: Sequence[Any]) -> str | None:
    """`claim` on the Prefect server; None (serve, as before the claim) when it cannot be
    written: Prefect's runner writes the notes as it starts."""
    from prefect.settings import get_current_settings

    if not found or not get_current_settings().api.url:  # never a throw-away server
        return None
    from prefect import get_client
    from prefect.client.schemas.actions import DeploymentUpdate

    try:
        with get_client(sync_client=True) as client:

            def write(deployment: Any, description: str) -> None:
                client.update_deployment(deployment.id, DeploymentUpdate(description=description))

            return claim(found, me, write, lambda: served_now(deployments))
    except Exception:
        return None


def release(deployments: Sequence[Any], me: Owner, say: Callable[[str], None]) -> None:
    """As `serve` stops: pause the schedules of the deployments it still serves, and take its
    note off them, as Prefect's runner pauses what it served; a deployment another `serve`
    took over (`--take-over`) keeps its schedules. Nothing when the API does not answer."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        return
    try:
        from prefect import get_client
        from prefect.client.schemas.actions import DeploymentUpdate

        mine, others = still_served_by(served_now(deployments), me)
        for owner in dict.fromkeys(owner for _, owner in others):
            names = ", ".join(name for name, by in others if by == owner)
            say(
                f"{names}: schedules left as they are, another `linkhealth serve` serves "
                f"them now ({owner.said()})"
            )
        with get_client(sync_client=True) as client:
            for found in mine:
                client.update_deployment(
                    found.id,
                    DeploymentUpdate(description=without_owner(found.description), paused=True),
                )
    except Exception:
        return


def still_served_by(found: Sequence[Any], me: Owner) -> tuple[list[Any], list[tuple[str, Owner]]]:
    """Of `found`, the deployments `me` still serves (its note, or none: Prefect's runner
    would pause them), and the names of the others, with the `serve` that took them over."""
    mine, others = [], []
    for deployment in found:
        owner = owner_in(deployment.description)
        if owner is None or owner == me:
            mine.append(deployment)
        else:
            others.append((str(deployment.name), owner))
    return mine, others


def serving_message(deployments: Sequence[Any], url: str) -> str:
    """What `serve` says once its deployments are served, in place of Prefect's banner: the
    deployments, and the command that runs one now from another shell, with the
    PREFECT_API_URL it needs there (`prefect` commands without it start a throw-away server
    and answer from it; with PREFECT_HOME set, that one opens the live server's database)."""
    names = [f"{d.flow_name}/{d.name}" for d in deployments]
    api = f"PREFECT_API_URL={url} " if url else ""
    ui = url.removesuffix("/").removesuffix("/api")
    first = next((n for n in names if n.endswith("/nightly")), names[0] if names else "NAME")
    return (
        f"Serving {', '.join(names)} (Ctrl-C stops). To run one now, from another shell: "
        f"`{api}prefect deployment run {first}` (or another of those names)"
        + (f"; or from the Prefect UI: {ui}/deployments" if ui else "")
        + "."
    )


#: How often `serve` asks whether Prefect lost the latest night; the first time this long
#: after it starts, once its runner has registered the deployments.
CATCH_UP_EVERY_S = 60.0


@contextmanager
def catching_up(
    specs: Sequence[DeploymentSpec],
    say: Callable[[str], None],
    every_s: float = CATCH_UP_EVERY_S,
) -> Iterator[None]:
    """While `serve` runs, start one catch-up run for a night Prefect lost (a run the
    runner had taken up just before a server restart, ended Crashed or stuck Pending before
    our flow started; `flows.nightly_watch.catch_up_lost_night` says why here and not in an
    automation). Asking every minute covers both `serve` starting after the loss and the
    server coming back while `serve` waited: nothing in Prefect's runner tells of a
    reconnection. Only `nightly`, when it is served with an active schedule."""
    nightly = next(
        (s for s in specs if s.name == "nightly" and any(c.active for c in s.schedules)), None
    )
    if nightly is None:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        said: set[str] = set()
        while not stop.wait(every_s):
            line = catch_up_once(nightly)
            if line is not None and line not in said:  # a failure of the same kind once
                said.add(line)
                say(line)

    thread = threading.Thread(target=watch, name="linkhealth-catch-up", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1.0)


def catch_up_once(spec: DeploymentSpec, now: datetime | None = None) -> str | None:
    """One look at the latest night of `spec` (`nightly`), with the settings its runs read
    (serve runs in the project folder, as they do): what was started, a warning when it
    cannot be told, or None. A Prefect API that does not answer (the server restarting)
    is no news: the next look tells."""
    from prefect import get_client

    from catalog.clock import utcnow
    from catalog.settings import load_settings
    from catalog.source import catalog_files
    from flows.nightly_watch import NIGHTLY, catch_up_lost_night
    from flows.prefect_server import api_lost

    try:
        config = spec.parameters.get("config")
        settings = load_settings(config).with_overrides(**(spec.parameters.get("overrides") or {}))
        files = [str(path) for path in catalog_files(settings.catalogs)]
        with get_client(sync_client=True) as client:
            return catch_up_lost_night(
                client, settings.database_url, files, now or utcnow(), name=NIGHTLY
            )
    except Exception as exc:
        if api_lost(exc):
            return None
        return (
            f"warning: could not tell whether Prefect lost the latest night of {NIGHTLY}, "
            f"to start a catch-up run of it ({type(exc).__name__}: {exc}); asking again "
            "every minute"
        )


#: The logger and the words of Prefect's runner when it gives up, for good, watching for
#: the flow runs it runs being cancelled: its events stream and its polls both failed while
#: the Prefect server was away (prefect/_internal/observers.py). Nothing restarts it.
CANCEL_WATCH_LOGGER = "prefect.FlowRunCancellingObserver"
CANCEL_WATCH_LOST = "Cancellation polling task failed"
#: How often a `serve` whose runner stopped watching for cancellations asks whether a run
#: is still in progress, to stop once none is.
CANCEL_WATCH_LOST_EVERY_S = 10.0


class _CancelWatchLost(logging.Handler):
    """Sets `lost` when Prefect's runner says it stopped watching for cancellations."""

    def __init__(self, lost: threading.Event) -> None:
        super().__init__(logging.ERROR)
        self.lost = lost

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(CANCEL_WATCH_LOST):
            self.lost.set()


@contextmanager
def stopping_when_cancel_watch_lost(
    in_flight: Callable[[], bool],
    say: Callable[[str], None],
    every_s: float = CANCEL_WATCH_LOST_EVERY_S,
    stop: Callable[[], None] | None = None,
) -> Iterator[threading.Event]:
    """Stop `serve`'s runner (`stop`: as SIGTERM does) once Prefect's runner stopped
    watching for cancellations and no run is `in_flight`; the event it yields is then set,
    for `serve` to start again (`start_again`) without pausing its schedules. Until then
    `prefect flow-run cancel` would mark a run Cancelled in Prefect while it goes on,
    holding its deployment's slot: said at once, with how to end a run now. Not at once:
    stopping cancels the runs in progress, a night's included."""
    lost, done, stopped = threading.Event(), threading.Event(), threading.Event()
    handler = _CancelWatchLost(lost)
    logger = logging.getLogger(CANCEL_WATCH_LOGGER)
    logger.addHandler(handler)

    def watch() -> None:
        lost.wait()  # set by Prefect's runner's words, or as `serve` ends
        if done.is_set():
            return
        say(
            "warning: after the Prefect server went away, Prefect's runner stopped watching "
            "for cancellations: `prefect flow-run cancel` no longer stops the runs served "
            "here. serve starts again by itself once no run is in progress or due; to end one "
            "now, restart serve (Ctrl-C and start it again, or systemctl restart "
            "linkhealth-serve), which cancels it"
        )
        while in_flight():
            if done.wait(every_s):
                return
        if not done.is_set():
            stopped.set()
            (stop or _sigterm_self)()

    thread = threading.Thread(target=watch, name="linkhealth-cancel-watch", daemon=True)
    thread.start()
    try:
        yield stopped
    finally:
        done.set()
        lost.set()
        logger.removeHandler(handler)
        thread.join(timeout=2.0)


def _sigterm_self() -> None:
    """Stop `serve` as systemd does: Prefect's runner stops, cancelling any run left."""
    os.kill(os.getpid(), signal.SIGTERM)


#: A run scheduled this soon counts as in flight for `runs_in_flight`: Prefect's runner takes
#: a run up 10 s before it is due (PREFECT_RUNNER_PREFETCH_SECONDS), and stopping the runner
#: then cancels it, a night's included (a cancelled night is not caught up).
DUE_SOON_S = 60.0
#: ... and one due this long ago not taken up yet: late (the runner takes it at its next
#: poll); an older one it does not take up must not keep `serve` from starting again.
DUE_LATE_S = 3600.0


def runs_in_flight(deployments: Sequence[Any], now: datetime | None = None) -> bool:
    """Whether a flow run of `deployments` is pending, running or being cancelled, or
    scheduled within `DUE_SOON_S` (or late by up to `DUE_LATE_S`): stopping the runner
    would cancel it. True when that cannot be told (the API away): then it is asked again."""
    try:
        from prefect import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterDeploymentId,
            FlowRunFilterExpectedStartTime,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        ids = [found.id for found in served_now(deployments)]
        if not ids:
            return True
        at = now or datetime.now(UTC)
        due = FlowRunFilterExpectedStartTime(
            after_=at - timedelta(seconds=DUE_LATE_S),  # type: ignore[arg-type]
            before_=at + timedelta(seconds=DUE_SOON_S),  # type: ignore[arg-type]
        )
        with get_client(sync_client=True) as client:
            for types, when in (
                ([StateType.PENDING, StateType.RUNNING, StateType.CANCELLING], None),
                ([StateType.SCHEDULED], due),
            ):
                if client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        deployment_id=FlowRunFilterDeploymentId(any_=ids),
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=types)),
                        expected_start_time=when,
                    ),
                    limit=1,
                ):
                    return True
        return False
    except Exception:
        return True


#: The logger of Prefect's runner (`prefect.runner.Runner`), which `serve` runs.
RUNNER_LOGGER = "prefect.runner"
#: What Prefect's runner logs when SIGTERM stops it, and what `serve` says instead after
#: Ctrl-C (sent on to it as SIGTERM: the operator sent no SIGTERM).
RUNNER_SIGTERM_SAID = "SIGTERM received"
CTRL_C_SAID = "Ctrl-C received"


class _CtrlCSaid(logging.Filter):
    """On Prefect's runner's logger, once Ctrl-C was pressed: its "SIGTERM received, ..."
    says "Ctrl-C received, ..." (`interrupt_as_sigterm`)."""

    def __init__(self, pressed: threading.Event) -> None:
        super().__init__()
        self.pressed = pressed

    def filter(self, record: logging.LogRecord) -> bool:
        if self.pressed.is_set() and str(record.msg).startswith(RUNNER_SIGTERM_SAID):
            record.msg = CTRL_C_SAID + str(record.msg)[len(RUNNER_SIGTERM_SAID) :]
        return True


@contextmanager
def interrupt_as_sigterm() -> Iterator[None]:
    """Ctrl-C stops `serve` the way SIGTERM (systemd) does: Prefect's runner then cancels
    the flow runs in progress, which end Cancelled. On a plain KeyboardInterrupt it exits
    without a word to the API, leaving the run Running, and its deployment's concurrency
    slot held, until Prefect gives up on it minutes later. A second Ctrl-C while it stops
    exits at once (the runner's own answer to a second SIGTERM).

    Once stopped so, a KeyboardInterrupt is raised as the block ends: `serve` exits 130, as
    every command stopped with Ctrl-C does, where SIGTERM (`systemctl stop`) is a stop asked
    for and exits 0. Before Prefect's runner listens for SIGTERM (nothing served yet),
    Ctrl-C is a plain KeyboardInterrupt: SIGTERM would kill the process there and then."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    pressed = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        pressed.set()  # (Prefect's `serve` swallows a KeyboardInterrupt and returns)
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)

    said = _CtrlCSaid(pressed)
    runner_log = logging.getLogger(RUNNER_LOGGER)
    runner_log.addFilter(said)
    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    except SystemExit as exc:
        # The runner's answer to a SIGTERM before it started or while it stops: exit 0.
        if pressed.is_set() and exc.code in (None, 0):
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
        runner_log.removeFilter(said)
    if pressed.is_set():
        raise KeyboardInterrupt
