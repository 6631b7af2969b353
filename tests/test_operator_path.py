"""The PostgreSQL operator's path: a server that never answers, a password with an "@".

A hung server (TCP accepted, nothing said) held every command forever; an unencoded "@" in
a password showed its rest in the error, as the host the driver could not resolve.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import catalog.db
from catalog.db import masked_url, open_engine, shown_url
from catalog.errors import StoreError
from flows.cli import app

pytest.importorskip("psycopg")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 whose server accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_silent_server_fails_the_command_naming_the_database(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog.db, "PG_CONNECT_TIMEOUT_S", 1)
    url = f"postgresql+psycopg://lh:s3cret@127.0.0.1:{silent_server}/lh"
    started = time.monotonic()
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert time.monotonic() - started < 20
    assert result.exit_code == 3, result.output
    assert f"cannot open database postgresql+psycopg://lh:***@127.0.0.1:{silent_server}/lh" in (
        result.output
    )
    assert "s3cret" not in result.output


def test_the_urls_own_connect_timeout_wins(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog.db, "PG_CONNECT_TIMEOUT_S", 60)
    url = f"postgresql+psycopg://lh@127.0.0.1:{silent_server}/lh?connect_timeout=1"
    started = time.monotonic()
    with pytest.raises(StoreError, match="cannot open database"):
        open_engine(url)
    assert time.monotonic() - started < 20


PASSWORD_WITH_AT = "postgresql+psycopg://postgres:p@ss@127.0.0.1:5432/db"


def test_a_password_with_an_unencoded_at_is_hidden_whole() -> None:
    assert shown_url(PASSWORD_WITH_AT) == "postgresql+psycopg://postgres:***@127.0.0.1:5432/db"
    assert masked_url(PASSWORD_WITH_AT) == "postgresql+psycopg://postgres:***@127.0.0.1:5432/db"


def test_a_password_with_an_unencoded_at_is_refused_with_what_to_do() -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", PASSWORD_WITH_AT])
    assert result.exit_code == 3, result.output
    assert "ss@" not in result.output and "p@ss" not in result.output
    assert "postgres:***@127.0.0.1:5432/db" in result.output
    assert "must be percent-encoded (@ as %40" in result.output


def test_db_upgrade_says_none_was_done_when_another_migrated_first(
    isolated_cwd: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three `db upgrade` at once on a new database each said "upgraded from revision none":
    the revision it was at was read before waiting for the migration's lock."""
    from catalog import migrate

    other = open_engine(db_url, migrate=False)
    with other.connect():
        pass  # a SQLite file `db upgrade` may migrate: it exists, with no tables yet
    lock = migrate._lock
    waited: list[Any] = []

    def another_upgrade_first(conn: Any) -> None:
        if not waited:  # another process migrates while this one waits for the lock
            waited.append(conn)
            monkeypatch.setattr(migrate, "_lock", lock)
            migrate.upgrade(other)
        lock(conn)

    monkeypatch.setattr(migrate, "_lock", another_upgrade_first)
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", db_url])
    other.dispose()
    assert result.exit_code == 0, result.output
    assert f"at revision {migrate.head_revision()} already" in result.stdout
    assert "upgraded" not in result.stdout


NFD_ECLAIR = "E\u0301clair"  # E and a combining acute accent
NFC_ECLAIR = "\u00c9clair"


def test_an_id_typed_decomposed_finds_the_composed_one(tmp_path: Path) -> None:
    """`linkhealth resource` with "Éclair" typed as E + U+0301 said no such resource."""
    from catalog.source import load_catalogs
    from catalog.sync import sync_catalogs
    from tests.factories import T0, database_url, temporary_database, write_catalog

    assert NFD_ECLAIR != NFC_ECLAIR
    file = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": NFC_ECLAIR, "title": "Guide", "url": "https://e.org/"}]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([file]), now=T0)
        db = ["--db", database_url(engine), "--catalog", str(file)]
        shown = CliRunner().invoke(app, ["resource", NFD_ECLAIR, "--json", *db])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["resource"]["title"] == "Guide"
        # The curator edits take the id the same way (ignore it, then say so).
        ignored = CliRunner().invoke(app, ["ignore", NFD_ECLAIR, "--reason", "kept", *db])
        assert ignored.exit_code == 0, ignored.output


def test_an_id_stored_decomposed_is_found_as_typed_and_composed(tmp_path: Path) -> None:
    """An id written decomposed in the catalog file (pasted from a macOS file name) is
    found typed as `sync` prints it, and typed composed, as keyboards give it."""
    from catalog.source import load_catalogs
    from catalog.sync import sync_catalogs
    from tests.factories import T0, database_url, temporary_database, write_catalog

    file = write_catalog(
        tmp_path / "toolkit.yaml", [{"id": NFD_ECLAIR, "title": "Guide", "url": "https://e.org/"}]
    )
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs([file]), now=T0)
        db = ["--db", database_url(engine), "--catalog", str(file)]
        for typed, where in ((NFD_ECLAIR, db), (NFC_ECLAIR, db), (f"toolkit/{NFC_ECLAIR}", db[:2])):
            shown = CliRunner().invoke(app, ["resource", typed, "--json", *where])
            assert shown.exit_code == 0, (typed, shown.output)
            assert json.loads(shown.stdout)["resource"]["rid"] == NFD_ECLAIR
        for command in (["ignore", NFC_ECLAIR], ["unignore", NFD_ECLAIR]):
            edited = CliRunner().invoke(app, [*command, "--reason", "kept", *db])
            assert edited.exit_code == 0, (command, edited.output)


def test_an_id_is_found_as_typed_before_its_other_form(tmp_path: Path) -> None:
    """Two entries whose ids differ only in their Unicode form (in two catalogs: one catalog
    refuses such a pair as a duplicate id): each typed is itself."""
    from catalog.source import load_catalogs
    from catalog.sync import sync_catalogs
    from tests.factories import T0, database_url, temporary_database, write_catalog

    files = [
        write_catalog(
            tmp_path / "decomposed.yaml",
            [{"id": NFD_ECLAIR, "title": "Decomposed", "url": "https://e.org/d"}],
        ),
        write_catalog(
            tmp_path / "composed.yaml",
            [{"id": NFC_ECLAIR, "title": "Composed", "url": "https://e.org/c"}],
        ),
    ]
    with temporary_database(tmp_path) as engine:
        sync_catalogs(engine, load_catalogs(files), now=T0)
        db = ["--db", database_url(engine)]
        for typed, title in ((NFD_ECLAIR, "Decomposed"), (NFC_ECLAIR, "Composed")):
            shown = CliRunner().invoke(app, ["resource", typed, "--json", *db])
            assert shown.exit_code == 0, shown.output
            assert json.loads(shown.stdout)["resource"]["title"] == title


def test_check_and_recheck_take_ids_in_the_form_the_catalog_holds(tmp_path: Path) -> None:
    """`check --id` and `recheck` run the entry whose id is written in the other form
    (from the catalog files, before any sync, and from the database after one)."""
    from catalog.source import load_catalogs
    from catalog.sync import sync_catalogs
    from flows.cli import ids_as_held
    from tests.factories import T0, settings_for, temporary_database, write_catalog

    entries = [
        {"id": NFD_ECLAIR, "title": "Decomposed", "url": "https://e.org/d"},
        {"id": "Ça", "title": "Composed", "url": "https://e.org/c"},
    ]
    nfd_ca = "C\u0327a"
    file = write_catalog(tmp_path / "toolkit.yaml", entries)
    with temporary_database(tmp_path) as engine:
        settings = settings_for(engine, [file])
        typed = [NFC_ECLAIR, nfd_ca, f"toolkit/{NFC_ECLAIR}", "nope", "Éclair-x"]
        held = [NFD_ECLAIR, "Ça", f"toolkit/{NFD_ECLAIR}", "nope", "Éclair-x"]
        assert ids_as_held(settings, typed) == held  # from the files
        sync_catalogs(engine, load_catalogs([file]), now=T0)
        assert ids_as_held(settings, typed) == held  # from the database
        assert ids_as_held(settings, [NFD_ECLAIR, NFC_ECLAIR]) == [NFD_ECLAIR]


def _closed_pipe_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`linkhealth ARGS | head -0`: stdout a pipe whose reader is already gone."""
    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    try:
        return subprocess.run(
            [sys.executable, "-m", "flows.cli", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)


CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "args",
    [
        ["catalog", "validate", "{bundled}"],
        ["status", "--db", "{db}"],
        ["export", "--format", "csv", "--db", "{db}"],
    ],
)
def test_a_reader_gone_early_ends_the_command_quietly(
    tmp_path: Path, migrated_db_url: str, args: list[str]
) -> None:
    """`linkhealth status | head -1` exited 1, silently: as other commands killed by SIGPIPE,
    it exits 141 now, with nothing on stderr."""
    from catalog.db import open_engine
    from catalog.settings import BUNDLED_CATALOG

    open_engine(migrated_db_url).dispose()  # the database exists, with its tables
    words = [a.format(bundled=BUNDLED_CATALOG, db=migrated_db_url) for a in args]
    result = _closed_pipe_run(words, tmp_path)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


@pytest.fixture
def production(tmp_path: Path, migrated_db_url: str) -> Iterator[str]:
    """A shared database holding the service's own collection."""
    from catalog.db import open_engine as opened
    from catalog.source import load_catalogs
    from catalog.sync import sync_catalogs
    from tests.factories import T0, write_catalog

    service = tmp_path / "service"
    service.mkdir()
    file = write_catalog(
        service / "clinics.yaml", [{"id": "a", "title": "A", "url": "https://a.org/"}]
    )
    engine = opened(migrated_db_url)
    sync_catalogs(engine, load_catalogs([file]), now=T0)
    engine.dispose()
    yield migrated_db_url


def _active_collections(url: str) -> set[str]:
    from catalog.db import open_engine as opened
    from catalog.store import stored_collections

    engine = opened(url)
    try:
        return stored_collections(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [["sync"], ["check", "--no-report"]])
def test_the_bundled_demo_never_goes_into_a_database_holding_other_collections(
    isolated_cwd: Path, production: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """With LINKHEALTH_DATABASE_URL exported, `sync` in a folder without linkhealth.toml
    added the demo toolkit's 26 entries to the production database."""
    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.setenv("LINKHEALTH_DATABASE_URL", production)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "refusing to put the bundled demo catalog into database" in result.stderr
    assert "holds other collections (clinics)" in result.stderr
    assert "no settings file names catalogs here" in result.stderr and "--catalog" in result.stderr
    assert _active_collections(production) == {"clinics"}


def test_the_demo_goes_where_it_is_asked_for(
    isolated_cwd: Path, production: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named with --catalog, or into a database of its own, it is synced as before."""
    from catalog.settings import BUNDLED_CATALOG

    monkeypatch.delenv("LINKHEALTH_CONFIG", raising=False)
    monkeypatch.delenv("LINKHEALTH_DATABASE_URL", raising=False)
    trial = CliRunner().invoke(app, ["sync", "--db", f"sqlite:///{isolated_cwd / 'trial.db'}"])
    assert trial.exit_code == 0, trial.output
    named = CliRunner().invoke(app, ["sync", "--db", production, "--catalog", str(BUNDLED_CATALOG)])
    assert named.exit_code == 0, named.output
    assert _active_collections(production) == {"clinics", BUNDLED_CATALOG.stem}
