"""Test-wide setup: an isolated, quiet, offline Prefect before anything imports it."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="linkhealth-test-prefect-")
# Removed at exit (after Prefect's own exit handlers, registered later, have run): each
# pytest process, xdist's workers too, left ~1.3 MB in /tmp, hundreds on a CI machine.
atexit.register(shutil.rmtree, _PREFECT_HOME, True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "WARNING"
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("LINKHEALTH_CONFIG", None)
os.environ.pop("LINKHEALTH_DATABASE_URL", None)
# The curator's calendar day is the machine's (`catalog.clock.local_date`): tests that
# expect a date pin a zone themselves; the rest see UTC wherever the suite runs.
os.environ["TZ"] = "UTC"
time.tzset()

# A suite started in the background of a non-interactive shell (`cmd &`, nohup) inherits
# SIGINT ignored, and so would every process it starts: the tests of what Ctrl-C does then
# see nothing happen. Ctrl-C as a terminal gives it, for this process and its children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from tests.rewrite_cache import allow_bytecode, prewrite_rewritten_modules  # noqa: E402

allow_bytecode()

import respx.mocks  # noqa: E402  (after the environment above, as every import here)

from tests.respx_pools import PoolsMocker  # noqa: E402

respx.mocks.DEFAULT_MOCKER = PoolsMocker.name

import typer.main  # noqa: E402
import typer.testing  # noqa: E402

#: Each app's click tree by the app (held: a test's own app is never freed) and its number
#: of commands and groups.
_built_commands: dict[tuple[typer.Typer, int, int], typer.main._click.Command] = {}


def _command_of(typer_instance: typer.Typer) -> typer.main._click.Command:
    """Typer's `CliRunner.invoke` builds the app's whole click tree each time (every
    command's signature read, its annotations evaluated): ~50 ms an invocation, 5 % of the
    suite's CPU. The tree is made from the app alone and click commands are reusable, so
    each app's is built once, and again if commands were added to it since."""
    app = typer_instance
    key = (app, len(app.registered_commands), len(app.registered_groups))
    if key not in _built_commands:
        _built_commands[key] = typer.main.get_command(app)
    return _built_commands[key]


typer.testing._get_command = _command_of


def pytest_configure(config: pytest.Config) -> None:
    """The controller of an xdist run writes the rewritten test modules its workers are
    about to import (`tests.rewrite_cache`)."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        prewrite_rewritten_modules(config)


#: How many workers share the tests marked `waits`, each taking every so many of them.
WAITING_WORKERS = 2


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs pytest-xdist workers (`--dist loadgroup`); every test that needs
    the Prefect harness goes to one of them, so its temporary server starts once.

    First: pytest-xdist reads the mark in its own hook of this name, which, registered after
    this file, runs before it otherwise; the mark came too late and each worker started a
    harness of its own.

    The tests marked `waits` (their time is a real clock's: sockets, deadlines, hosts kept
    silent) go to two other workers, every other one to each. Handed out in the files'
    order, a module of them had all four workers waiting at once: both cores idle for
    10-30 s, five times a run (~40 s of a 390 s suite, vmstat). On their own workers their
    waits overlap the others' computing. xdist hands the largest groups out first, one to
    each worker, so no two groups share one. On one worker they were the suite's longest
    path (~260 s of waits) once the workers' CPU fell by a third (`_SessionFreeze`). Only
    with four workers or more: with two (CI's PostgreSQL pass) both would start by waiting
    through their groups side by side, with no worker left to compute. (That pass took
    752 s with the group and 745 s without it on the same day: its own database server's
    work fills such waits, and the cost was not measurable.)"""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 0))
    waiting = 0
    for item in items:
        if "prefect_harness" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("prefect"))
        elif workers >= 4 and item.get_closest_marker("waits"):
            item.add_marker(pytest.mark.xdist_group(f"waits{waiting % WAITING_WORKERS}"))
            waiting += 1


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_xdist_groups(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """pytest-xdist 3.8 tells its controller a test's group by appending "@group" to the
    test's id through a field pytest 9.2 no longer reads (pytest-xdist#1386, open): every
    test was scheduled alone and each worker started a Prefect harness of its own. The
    suffix is set here through the id pytest reads, as xdist's own code did; a no-op once
    xdist sets it, or on a pytest without structured ids."""
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:
        return
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        suffix = "@" + "_".join(sorted(names))
        if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(autouse=True)
def _prefect_settings_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """Prefect's process-wide settings as they were before each test.

    `flows.prefect_server.ensure_server` sets PREFECT_API_URL for the process and makes an
    already imported Prefect read its settings again (a CLI test that finds a made-up
    server does), and a Prefect first imported during a test reads the environment the
    test set up: the next tests of the worker find the variable as it was, and Prefect as
    the environment (or the harness) has it."""
    import sys

    api_url = os.environ.get("PREFECT_API_URL")
    kept = None
    if "prefect.context" in sys.modules:
        import prefect.context

        kept = prefect.context.GLOBAL_SETTINGS_CONTEXT
    yield
    if api_url is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = api_url
    if "prefect.context" not in sys.modules:
        return
    import prefect.context

    if kept is not None:
        prefect.context.GLOBAL_SETTINGS_CONTEXT = kept
    elif "prefect_harness" not in request.fixturenames:  # the harness keeps its own
        prefect.context.refresh_global_settings_context()


class _SessionFreeze:
    """`gc` as `catalog.collector` sees it in the tests: a step's freeze and unfreeze
    leave the worker's own freeze (`pytest_runtest_setup`) in place.

    A run's process freezes what is alive for its long steps. A test worker's heap is the
    whole session's (every test module, Prefect's harness, ~1M objects), and every full
    collection walked it: with the young collections, 15 % of the workers' CPU (~60 of
    ~380 CPU-s, ~100 full walks at ~0.5 s, 2026-12-07). A step's own unfreeze would undo
    the worker's freeze, and its collection before freezing walked what is not frozen. What
    a test makes is young and small: it stays in the collections, as nothing a test looks
    at depends on that. tests/test_collector.py and the flow test that counts the freeze
    keep the real `gc` (`real_collector`)."""

    @staticmethod
    def collect() -> int:
        return 0

    @staticmethod
    def freeze() -> None:
        pass

    @staticmethod
    def unfreeze() -> None:
        pass


@pytest.fixture(autouse=True, scope="session")
def _session_freeze_for_steps() -> Iterator[None]:
    import catalog.collector

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalog.collector, "gc", _SessionFreeze)
        yield


#: Whether what the worker holds is frozen. Kept here, not read from
#: `gc.get_freeze_count()`, which walks every frozen object (~1M: ~50 ms a call).
_HEAP = SimpleNamespace(frozen=False, first=True)


def _full_collection_ran(phase: str, info: dict[str, Any]) -> None:
    """After a full collection what survived is what the worker holds (modules imported
    since, caches): frozen at the next test's start, later full walks skip it too."""
    if phase == "stop" and info["generation"] == 2:
        _HEAP.frozen = False


gc.callbacks.append(_full_collection_ran)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Freeze what the worker holds before a test's fixtures are made: at the first test
    (collection's garbage collected fully first), after a full collection, and after a test
    with the real collector unfroze it. Young garbage is collected before each freeze; what
    a test makes stays in the collections, as nothing a test looks at depends on that."""
    if not _HEAP.frozen:
        gc.collect(2 if _HEAP.first else 1)
        gc.freeze()
        _HEAP.frozen, _HEAP.first = True, False


@pytest.fixture
def real_collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`catalog.collector` with the real `gc`, for a test of what a run's process does
    (its steps' unfreeze undoes the worker's freeze, made again for the next test)."""
    import catalog.collector

    monkeypatch.setattr(catalog.collector, "gc", gc)
    yield
    _HEAP.frozen = False


#: A copy of the harness's Prefect database as it starts, migrated and empty: a test that
#: needs a Prefect server of its own (one it stops) starts it on a copy instead of
#: migrating a new database (~6 s, more on a loaded machine).
PREFECT_DB_TEMPLATE = Path(_PREFECT_HOME) / "template-prefect.db"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the few flow tests (~15 s, paid once)."""
    import sqlite3

    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value())
        source = sqlite3.connect(url.split(":///", 1)[1])
        copy = sqlite3.connect(PREFECT_DB_TEMPLATE)
        with source, copy:
            source.backup(copy)  # consistent while the harness's server has it open
        source.close()
        copy.close()
        yield


@pytest.fixture
def prefect_home(tmp_path: Path) -> Path:
    """A PREFECT_HOME of its own, for a Prefect server a test starts (and may stop) beside
    the harness's. It does not start the harness: such a test runs on any xdist worker, not
    in the Prefect group, which is the longest of the run. Its database is a copy of the
    harness's migrated one where this process started the harness (`PREFECT_DB_TEMPLATE`);
    elsewhere the server migrates it as it starts."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    if PREFECT_DB_TEMPLATE.exists():
        shutil.copyfile(PREFECT_DB_TEMPLATE, home / "prefect.db")
    return home


@pytest.fixture
def prefect_api(prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The harness's API as PREFECT_API_URL, for tests that run `linkhealth` commands.

    The commands call `flows.prefect_server.ensure_server`, which reads the variable;
    without it they find nothing on 127.0.0.1:4200 and start a real Prefect server that
    outlives the test run (and the test then talks to it, not to the harness).
    """
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value())
    monkeypatch.setenv("PREFECT_API_URL", url)
    return url


@pytest.fixture
def sent_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Events the flows hand to Prefect, as (name, payload)."""
    import flows.events

    sent: list[tuple[str, dict[str, Any]]] = []

    def spy(event: str, resource: dict[str, str], payload: dict[str, Any] | None = None, **_: Any):
        sent.append((event, dict(payload or {})))
        return object()

    monkeypatch.setattr(flows.events, "emit_event", spy)
    return sent


@pytest.fixture
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder so var/ and linkhealth.toml of the checkout are never touched."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


#: A one-entry catalog, `toolkit_synced`'s.
TOOLKIT_CATALOG = """\
collection:
  title: Toolkit
resources:
  - id: a
    title: First
    url: https://example.org/a
"""


@pytest.fixture
def toolkit_synced(isolated_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """toolkit.yaml (`TOOLKIT_CATALOG`) synced into var/lh.db, a SQLite file every command
    then reads (LINKHEALTH_DATABASE_URL): the folder the commands run in. The file starts
    as a migrated copy (`tests.factories.migrated_sqlite`): no test of it is of migrating."""
    from typer.testing import CliRunner

    from flows.cli import app
    from tests.factories import copy_migrated_sqlite

    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", "sqlite:///var/lh.db")
    copy_migrated_sqlite(isolated_cwd / "var" / "lh.db")
    (isolated_cwd / "toolkit.yaml").write_text(TOOLKIT_CATALOG)
    result = CliRunner().invoke(app, ["sync", "--catalog", "toolkit.yaml"])
    assert result.exit_code == 0, result.output
    return isolated_cwd


@pytest.fixture
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress lines sooner: the first after 0.05 s instead of 2 s, then every 0.1 s
    instead of 5 s (`catalog.progress`)."""
    import catalog.progress

    monkeypatch.setattr(catalog.progress, "AFTER_S", 0.05)
    monkeypatch.setattr(catalog.progress, "EVERY_S", 0.1)


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """An empty database for one test, not migrated: SQLite in tmp_path, or its own
    PostgreSQL schema when LINKHEALTH_TEST_DATABASE_URL is set (see
    `tests.factories.temporary_database_url`)."""
    from tests.factories import temporary_database_url  # after the Prefect settings above

    with temporary_database_url(tmp_path) as url:
        yield url


@pytest.fixture
def migrated_db_url(tmp_path: Path) -> Iterator[str]:
    """`db_url` at head already, for the tests whose first step opens (and so migrates) it:
    made without migrating it here (`tests.factories.migrated_database_url`). Tests of
    migrating, of an empty or foreign database, and of `db copy` into a new one take
    `db_url`."""
    from tests.factories import migrated_database_url

    with migrated_database_url(tmp_path) as url:
        yield url


@pytest.fixture
def flow_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The recheck flow's calls (`linkhealth recheck` in this process), with no Prefect
    server and nothing checked: it says it found nothing to recheck."""
    import flows.prefect_server
    import flows.recheck_flow

    calls: list[dict[str, Any]] = []

    def flow(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return flows.recheck_flow.RecheckResult(ids=(), summary=None, verdicts=())

    monkeypatch.setattr(flows.prefect_server, "ensure_server", lambda say: None)
    monkeypatch.setattr(flows.recheck_flow, "recheck", flow)
    return calls


@pytest.fixture
def no_prefect_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edits announce themselves to a Prefect API that answers: never a developer's own
    server on the default port (its recheck deployment would run)."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("LINKHEALTH_PREFECT_PORT", "9")  # the discard port: nothing answers
