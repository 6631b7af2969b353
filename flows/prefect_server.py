"""Finding or starting the Prefect API that flows report to.

Without `PREFECT_API_URL` every Prefect process starts a throw-away server that
is killed mid-write when the process exits (task-run records are lost and
CancelledError tracebacks appear), and schedules refuse to run on it. So the
CLI looks for a local server on 127.0.0.1, starts one in the background when
none answers (`prefect server start`), says so, and reuses it next time.

The server it starts keeps its database (deployments, flow run history) in var/prefect
of the folder it is started from, as the systemd unit in deploy/ keeps it in
/srv/linkhealth/var/prefect: beside its pid and log files, never mixed with other Prefect
work of the same user in ~/.prefect. PREFECT_HOME, when set, is used instead; and a
folder that started servers in ~/.prefect before (a log in var/, no var/prefect) keeps
using it, so its deployments and history stay where they are.

This module must not import prefect: the environment has to be set first. A Prefect
imported before (`serve` checks prefect.yaml with it before a server is found) is told the
address too (`use_api`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from catalog.errors import ConfigError, LinkhealthError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
STATE_DIR = Path("var")
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class ServerInfo:
    api_url: str
    #: "env" (PREFECT_API_URL was set), "running" (found one) or "started" (we started it).
    how: str
    pid: int | None = None


def prefect_port() -> int:
    """LINKHEALTH_PREFECT_PORT, or the default when it is unset or empty (as an empty
    LINKHEALTH_DATABASE_URL is)."""
    given = os.environ.get("LINKHEALTH_PREFECT_PORT", "").strip()
    if not given:
        return DEFAULT_PORT
    if not (given.isascii() and given.isdigit()) or not 0 < int(given) < 65536:
        raise ConfigError(f"LINKHEALTH_PREFECT_PORT must be a port number (1-65535), not {given!r}")
    return int(given)


class PrefectApiDownError(LinkhealthError):
    """PREFECT_API_URL names an API that does not answer (exit 1)."""


class PrefectApiLostError(LinkhealthError):
    """The Prefect API stopped answering while a flow ran in this process (exit 1)."""


#: Prefect's own clients, which keep trying the API from their threads once it is gone and
#: log each try: its services (the events and log workers, named by class, and
#: `prefect._internal.concurrency`), its events client and its API client.
PREFECT_CLIENT_LOGGERS = (
    "prefect._internal",
    "prefect.events",
    "prefect.client",
    "EventsWorker",
    "APILogWorker",
)


class _ApiLost(logging.Filter):
    """Drops, from what Prefect logs, tracebacks of a transport error (the flow engine's,
    when it cannot record the run's end) and, with `clients`, everything Prefect's clients
    log (`PREFECT_CLIENT_LOGGERS`): once the loss was said in one sentence, each of them
    only says it again, a traceback or an event dump at a time. Other loggers' records
    (ours, the checks') pass whatever they hold."""

    def __init__(self, *, clients: bool) -> None:
        super().__init__()
        self.clients = clients

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(("prefect", *PREFECT_CLIENT_LOGGERS)):
            return True
        if self.clients and record.name.startswith(PREFECT_CLIENT_LOGGERS):
            return False
        return not api_lost(record.exc_info[1] if record.exc_info else None)


def api_lost(exc: BaseException | None) -> bool:
    """Whether `exc` (an exception group or a chain included) comes of the Prefect API not
    answering: a transport error in it."""
    seen = 0
    while exc is not None and seen < 20:  # a cause chain, never a cycle
        if isinstance(exc, httpx.TransportError):
            return True
        if isinstance(exc, BaseExceptionGroup) and any(map(api_lost, exc.exceptions)):
            return True  # Prefect's runner raises its services' failures as a group
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


#: The logger Prefect's flow engine logs a run's end (and the traceback of failing to) on.
FLOW_RUN_LOGGER = "prefect.flow_runs"

#: Where `quiet_prefect_clients` added its filter, and `logging.raiseExceptions` before it.
_QUIETED: list[logging.Filterer] = []
_RAISE_EXCEPTIONS: list[bool] = []
_QUIET = _ApiLost(clients=True)


def quiet_prefect_clients() -> None:
    """Once the Prefect API was found gone and said so (`flows.check_flow._PrefectUi`,
    `api_loss_said`): for the rest of this process, Prefect's clients say nothing more.
    The filter goes on their loggers and on every handler Prefect logs through (its
    console handler is the root logger's, so their children's records are caught too).
    Its log worker writes its failures to stderr itself, unless `logging.raiseExceptions`
    is off (the stdlib's switch for errors in logging)."""
    if _QUIETED:
        return
    names = [n for n in logging.root.manager.loggerDict if n.startswith("prefect")]
    loggers = [logging.getLogger(n) for n in (*PREFECT_CLIENT_LOGGERS, FLOW_RUN_LOGGER)]
    handlers = [h for n in ("", "prefect", *names) for h in logging.getLogger(n).handlers]
    for target in [*loggers, *dict.fromkeys(handlers)]:
        target.addFilter(_QUIET)
        _QUIETED.append(target)
    _RAISE_EXCEPTIONS.append(logging.raiseExceptions)
    logging.raiseExceptions = False


def unquiet_prefect_clients() -> None:
    """Undo `quiet_prefect_clients` (tests, which go on in the same process)."""
    for target in _QUIETED:
        target.removeFilter(_QUIET)
    _QUIETED.clear()
    if _RAISE_EXCEPTIONS:
        logging.raiseExceptions = _RAISE_EXCEPTIONS.pop()


@contextmanager
def log_batches_unsaid_when_api_gone() -> Iterator[None]:
    """While a flow runs here: a batch of log lines Prefect's log worker cannot send because
    the API is gone (a transport error) is dropped without a word. Prefect writes
    "--- Error logging to API ---" and the error to stderr for each such batch, glued to
    the next log line, every couple of seconds until the run's own sentence says the API
    went away (`flows.check_flow._PrefectUi`, then `api_loss_said`): the same news, said
    badly and before it is known what it means. The lines stay on the console; only the
    Prefect UI's copy misses them (as it misses everything while the API is gone). Any
    other failure to send (the API answering with an error) is Prefect's to report: its own
    handler sends that batch again and says so as before.

    Prefect's `APILogWorker._handle_batch` writes to stderr itself rather than logging, so
    no filter reaches it: this stands in for it, sending the same request
    (tests/test_faults_prefect.py fails if an upgrade changes what Prefect sends)."""
    from prefect.logging.handlers import APILogWorker

    prefects = APILogWorker._handle_batch

    async def handle_batch(self: APILogWorker, items: list[bytes]) -> None:
        try:
            await self._client.request(
                "POST",
                "/logs/",
                content=b"[" + b",".join(items) + b"]",
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError:
            return  # the API is gone: the run says so once (see above)
        except Exception:
            await prefects(self, items)

    APILogWorker._handle_batch = handle_batch  # type: ignore[method-assign]
    try:
        yield
    finally:
        APILogWorker._handle_batch = prefects  # type: ignore[method-assign]


@contextmanager
def api_loss_said() -> Iterator[None]:
    """Around a flow run in this process: the Prefect API going away mid-run (its server
    stopped or restarted) is one sentence saying what became of the run, not Prefect's
    traceback from the state it could not record. The run itself goes on without the API
    (`flows.check_flow`) and stores what it checks; only Prefect's record of it is lost.
    Before that sentence, the log worker's failures to reach the API are not written out
    (`log_batches_unsaid_when_api_gone`); after it, Prefect's clients are quiet
    (`quiet_prefect_clients`)."""
    engine_trace = _ApiLost(clients=False)  # the flow engine's, said below in one sentence
    flow_runs = logging.getLogger(FLOW_RUN_LOGGER)  # a logger's filters outlive Prefect's setup
    flow_runs.addFilter(engine_trace)
    # Restored only once the clients are quiet: no failed batch is written out between.
    with log_batches_unsaid_when_api_gone():
        try:
            yield
        except httpx.TransportError as exc:
            quiet_prefect_clients()
            try:
                url = str(exc.request.url)
            except RuntimeError:  # an error raised without its request
                url = ""
            # The API's address, not the endpoint Prefect happened to call.
            where = f" at {url.partition('/api/')[0]}/api" if "/api/" in url else ""
            raise PrefectApiLostError(
                f"the Prefect API{where} stopped answering during the run "
                f"({type(exc).__name__}: {exc}), so Prefect could not record how its flow run "
                "ended; what the run checked is stored, and `linkhealth status` says how it "
                "ended. Start the server again (`linkhealth server start`, or the service "
                "that runs it) before the next run"
            ) from exc
        finally:
            flow_runs.removeFilter(engine_trace)


def api_url(port: int | None = None) -> str:
    return f"http://{DEFAULT_HOST}:{port or prefect_port()}/api"


def is_local_api(url: str) -> bool:
    """Whether `url` (PREFECT_API_URL) names the local server linkhealth manages, as the
    README and the systemd units set it: that server, found or started as without it."""
    return url.rstrip("/") == api_url()


def configured_api_url() -> str | None:
    """PREFECT_API_URL, or None when it is unset or empty (as an empty
    LINKHEALTH_PREFECT_PORT is). A value that is no http(s) URL with a host
    (`PREFECT_API_URL=notaurl`) is a ConfigError (exit 2) naming the variable: asked, it was
    only "not answering", and the operator looked for a server that was down."""
    given = os.environ.get("PREFECT_API_URL", "")
    if not given:
        return None
    try:
        url: httpx.URL | None = httpx.URL(given)
    except httpx.InvalidURL:
        url = None
    if (
        url is None
        or url.scheme not in ("http", "https")
        or not url.host
        or (url.port is not None and not 0 < url.port < 65536)
    ):
        raise ConfigError(
            f"PREFECT_API_URL must be the http(s) URL of a Prefect API, such as "
            f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/api, not {given!r}"
        )
    return given


def pid_file() -> Path:
    """Where the pid of the server started from this folder is kept (relative to it)."""
    return STATE_DIR / "prefect-server.pid"


def log_file() -> Path:
    return STATE_DIR / "prefect-server.log"


def server_home() -> Path | None:
    """The PREFECT_HOME of the server this folder starts (see the module docstring); None
    when it uses Prefect's own choice: the operator's PREFECT_HOME, or the shared
    ~/.prefect of a folder that started its servers there before."""
    if os.environ.get("PREFECT_HOME"):
        return None
    home = STATE_DIR / "prefect"
    if not home.is_dir() and log_file().is_file():
        return None
    return home.resolve()


@functools.cache
def _trust_store() -> ssl.SSLContext:
    """The CA bundle, loaded once: a start-up polls `is_healthy` every half second, and
    each load (~20 ms of CPU) was taken from the server starting beside it. Without the
    environment's CA files, as `httpx.get(trust_env=False)` made it for each probe."""
    return httpx.create_ssl_context(trust_env=False)


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        # trust_env=False: a proxy setting must not route a loopback health probe.
        response = httpx.get(
            f"{url.rstrip('/')}/health", timeout=timeout, trust_env=False, verify=_trust_store()
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _listens(url: str) -> bool:
    """Does anything answer HTTP at `url`? Any answer counts (a 401 from an API that wants
    a key is Prefect's client's business): only a refused or silent address is down. With
    the environment's proxies and CA files, as Prefect's client uses them, and no
    certificate check: no more than a liveness probe is sent."""
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=5.0, verify=False)
    except httpx.TransportError:
        return False
    return True


def use_api(url: str) -> None:
    """Make `url` the Prefect API of this process and of the processes it starts.

    Prefect reads its settings from the environment once, when it is first imported, and
    a Prefect imported already would still start a throw-away server of its own (`serve`
    did: its deployments never reached the server the UI and `catalog edited` talk to).
    Its global settings are read again then; a block that entered settings of its own
    (`temporary_settings`) keeps them."""
    os.environ["PREFECT_API_URL"] = url
    context = sys.modules.get("prefect.context")
    if context is not None:
        context.refresh_global_settings_context()


def ensure_server(say: Callable[[str], None] = print) -> ServerInfo:
    """Point this process at a Prefect API, starting a local server if needed."""
    env = configured_api_url()
    url = api_url()
    if env and not is_local_api(env):
        if not _listens(env):
            # Else Prefect's client fails inside the flow run: a long traceback, no advice.
            raise PrefectApiDownError(
                f"no Prefect API answers at PREFECT_API_URL={env}; start that server, or "
                "unset PREFECT_API_URL to use (or start) the local one linkhealth manages"
            )
        return ServerInfo(api_url=env, how="env")
    # PREFECT_API_URL naming the local server (the README's export) is the local server:
    # found, or started as without it.
    if is_healthy(url):
        use_api(url)
        return ServerInfo(api_url=url, how="running", pid=recorded_pid())
    running = started_here()
    if running is not None and _listening_port(running) in (None, prefect_port()):
        # Still starting (another command started it a moment ago): wait for it.
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and started_here() == running:
            if is_healthy(url, timeout=1.0):
                use_api(url)
                return ServerInfo(api_url=url, how="running", pid=running)
            time.sleep(0.5)
    if running is not None:
        # Another port, or not answering: a second server would take over the pid file
        # (and the database), and `server stop` could no longer stop the first.
        raise PrefectApiDownError(
            f"no Prefect server answers at {url}, but the one this folder started runs "
            f"(pid {running}, see {pid_file()}): on another port (LINKHEALTH_PREFECT_PORT "
            "changed since?), or not answering. Run `linkhealth server stop` with the "
            "LINKHEALTH_PREFECT_PORT it was started with, then start again"
        )
    home = server_home()
    where = home or os.environ.get("PREFECT_HOME") or "~/.prefect"
    say(
        f"No Prefect server answered at {url}; starting one in the background "
        f"(log: {log_file()}; its database: {where})."
    )
    pid = _start(url, home)
    use_api(url)
    say(
        f"Prefect server started (pid {pid}); the UI is at {url.removesuffix('/api')}. "
        "It keeps running for the next command; stop it with `linkhealth server stop`."
    )
    return ServerInfo(api_url=url, how="started", pid=pid)


#: The Prefect server setting (and value) that deletes old flow runs, logs and artifacts.
VACUUM_SETTING = "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"
VACUUM_TYPES = "events,flow_runs"


def _start(url: str, home: Path | None = None) -> int:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect keeps every flow run, with its logs and artifacts (a summary, a queue table
    # and a report link a night), forever by default: its database grew every night,
    # whatever `db prune` did. Delete those of runs ended over 90 days ago (Prefect's
    # retention period), as the systemd unit does.
    env.setdefault(VACUUM_SETTING, VACUUM_TYPES)
    env.pop("PREFECT_API_URL", None)
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        env["PREFECT_HOME"] = str(home)
    with log_file().open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                DEFAULT_HOST,
                "--port",
                str(prefect_port()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives this command; stopped by `linkhealth server stop`
        )
    pid_file().write_text(str(proc.pid))
    started = time.monotonic()
    while time.monotonic() < started + START_TIMEOUT_S:
        if is_healthy(url, timeout=1.0):
            return proc.pid
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    # Gone or hung: leave no process and no pid file behind (a stale pid file would name
    # whatever process gets that pid next to `server stop`).
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    pid_file().unlink(missing_ok=True)
    tail = log_file().read_text(errors="replace")[-2000:]
    from catalog.errors import LinkhealthError

    how = (
        f"exited after {time.monotonic() - started:.0f} s (is port {prefect_port()} in use?)"
        if proc.returncode not in (None, -signal.SIGKILL)
        else f"did not answer within {START_TIMEOUT_S:.0f} s"
    )
    raise LinkhealthError(
        f"the Prefect server at {url} {how}; see {log_file()}. Last lines:\n{tail}"
    )


def recorded_pid() -> int | None:
    """The pid this folder recorded when it started a server, if any (it may have ended)."""
    try:
        return int(pid_file().read_text().strip())
    except (OSError, ValueError):
        return None


def started_here(port: int | None = None) -> int | None:
    """The pid of the Prefect server this folder started, while it runs (on `port`, when
    given: LINKHEALTH_PREFECT_PORT may have changed since)."""
    pid = recorded_pid()
    if pid is None or not _runs_prefect_server(pid):
        return None
    if port is not None and _listening_port(pid) not in (None, port):
        return None
    return pid


def _listening_port(pid: int) -> int | None:
    """The `--port` the server `pid` was started with, as `_start` starts it."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for flag, value in itertools.pairwise(words):
        if flag == b"--port" and value.isdigit():
            return int(value)
    return None


def _runs_prefect_server(pid: int) -> bool:
    """Is process `pid` a `prefect server start`? A pid file outlives its process (a
    reboot, a kill), and the pid then names some other program, which must not be
    stopped (a whole process group at that)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False  # Linux: no such process
        try:
            ps = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True)
        except OSError:  # no `ps` to ask: not known to be ours
            return False
        words = ps.stdout.split()
    except OSError:
        return False
    return any(w.endswith(b"prefect") for w in words) and b"server" in words and b"start" in words


def stop_server() -> int | None:
    """Stop the server started from this folder (its pid is in `pid_file()`); returns its
    pid, or None when this folder started none that still runs (a stale pid file is
    removed). A server started from another folder is never touched."""
    pid = recorded_pid()
    if pid is None:
        return None
    if not _runs_prefect_server(pid):  # ended, and the pid maybe given to another process
        pid_file().unlink(missing_ok=True)
        return None
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file().unlink(missing_ok=True)
        return None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    pid_file().unlink(missing_ok=True)
    return pid
