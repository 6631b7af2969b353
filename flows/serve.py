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
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    """The deployments declared in prefect.yaml."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    specs = []
    for entry in data.get("deployments") or []:
        schedules = []
        for sched in entry.get("schedules") or []:
            if "cron" not in sched:
                raise ConfigError(
                    f"{path}: deployment {entry.get('name')!r}: `linkhealth serve` reads only "
                    "cron schedules"
                )
            active = sched.get("active", True)
            if not isinstance(active, bool):
                raise ConfigError(
                    f"{path}: deployment {entry.get('name')!r}: schedule `active` must be "
                    "true or false"
                )
            schedules.append(
                CronSpec(cron=str(sched["cron"]), timezone=sched.get("timezone"), active=active)
            )
        specs.append(
            DeploymentSpec(
                name=entry["name"],
                entrypoint=entry["entrypoint"],
                description=entry.get("description") or "",
                parameters=dict(entry.get("parameters") or {}),
                schedules=tuple(schedules),
                concurrency_limit=entry.get("concurrency_limit"),
                triggers=tuple(entry.get("triggers") or ()),
                tags=tuple(str(t) for t in entry.get("tags") or ()),
            )
        )
    return specs


def servable(specs: Sequence[DeploymentSpec]) -> list[DeploymentSpec]:
    """The deployments `linkhealth serve` runs: all but those tagged `needs-workers`."""
    return [spec for spec in specs if spec.servable]


def runner_deployments(specs: Sequence[DeploymentSpec]) -> list[Any]:
    """One `RunnerDeployment` per spec, with the same schedules, triggers and limits."""
    from prefect.events import DeploymentTriggerTypes
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType
    from pydantic import TypeAdapter

    triggers_of = TypeAdapter(DeploymentTriggerTypes)
    out = []
    for spec in specs:
        module, _, func = spec.module_entrypoint.rpartition(".")
        flow = getattr(importlib.import_module(module), func)
        triggers = [
            triggers_of.validate_python({"name": f"{spec.name}__automation_{i}", **t})
            for i, t in enumerate(spec.triggers, start=1)
        ]
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


def pin_settings(config: Path | None, home: Path) -> str:
    """Make the served flow runs read the settings file a command run here reads, and say
    which: `config`, LINKHEALTH_CONFIG or ./linkhealth.toml, made absolute in
    LINKHEALTH_CONFIG (the runs start in `home`). It is loaded now, so a mistake in it
    stops `serve` with the file and setting named instead of failing the nightly run."""
    from catalog.settings import DEFAULT_CONFIG_NAME, find_config, load_settings

    load_settings(config)
    found = find_config(config)
    if found is not None:
        path = found.resolve()
        os.environ["LINKHEALTH_CONFIG"] = str(path)
        return f"Flow runs read the settings of {path}."
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
    if not os.environ.get("PREFECT_API_URL"):
        return []  # never a throw-away server of its own just to ask
    try:
        from prefect import get_client
        from prefect.client.schemas.objects import WorkerStatus
        from prefect.exceptions import ObjectNotFound

        with get_client(sync_client=True) as client:
            pools = set()
            for deployment in deployments:
                try:
                    found = client.read_deployment_by_name(
                        f"{deployment.flow_name}/{deployment.name}"
                    )
                except ObjectNotFound:
                    continue
                if found.work_pool_name:
                    pools.add(found.work_pool_name)
            return [
                pool
                for pool in sorted(pools)
                if any(
                    w.status == WorkerStatus.ONLINE for w in client.read_workers_for_work_pool(pool)
                )
            ]
    except Exception:
        return []


def serve(prefect_yaml: Path | None = None, say: Callable[[str], None] = print) -> None:
    """Serve the deployments of prefect.yaml that need no workers, until interrupted
    (needs PREFECT_API_URL set, and `pin_settings` called first)."""
    home = project_home()
    path = prefect_yaml or home / PREFECT_YAML
    specs = servable(read_deployments(path))
    os.chdir(home)
    from prefect import serve as prefect_serve

    deployments = runner_deployments(specs)
    pools = pools_with_workers(deployments)
    if pools:
        say(
            f"warning: work pool {', '.join(pools)} has a worker online and holds deployments "
            "served here; it may run their runs outside this folder with the built-in "
            "settings. Stop its workers, or use them instead of `linkhealth serve`."
        )
    with interrupt_as_sigterm():
        prefect_serve(*deployments)


@contextmanager
def interrupt_as_sigterm() -> Iterator[None]:
    """Ctrl-C stops `serve` the way SIGTERM (systemd) does: Prefect's runner then cancels
    the flow runs in progress, which end Cancelled. On a plain KeyboardInterrupt it exits
    without a word to the API, leaving the run Running, and its deployment's concurrency
    slot held, until Prefect gives up on it minutes later. A second Ctrl-C while it stops
    exits at once (the runner's own answer to a second SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
