"""How a `linkhealth` command ends (`flows.cli.ending`): its database file whole, its exit
status and output as the command left them, and no collector walk over what is left."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from catalog.db import close_engines, open_engine

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = ROOT / "catalog" / "data" / "psp-human-trafficking-toolkit.yaml"


def _linkhealth(args: list[str], cwd: Path, after: str = "") -> subprocess.CompletedProcess[str]:
    """`linkhealth ARGS` as the installed command runs it (`flows.cli.main`); `after`: Python
    run once it returned, in the same process (before the interpreter's teardown)."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.argv = ["linkhealth", *{args!r}]
        from flows.cli import main
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
        {after}
        sys.exit(code)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(cwd / "prefect")}
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_the_database_file_alone_holds_what_a_command_wrote(tmp_path: Path) -> None:
    db = tmp_path / "lh.db"
    done = _linkhealth(["sync", "--catalog", str(TOOLKIT), "--db", f"sqlite:///{db}"], tmp_path)
    assert done.returncode == 0, done.stderr
    # The write-ahead log was folded back as the connections closed: a copy of the file
    # (a backup with cp) holds every resource.
    assert not db.with_name("lh.db-wal").exists()
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    with sqlite3.connect(copy) as conn:
        assert conn.execute("select count(*) from resources").fetchone()[0] == 26


def test_a_refused_command_keeps_its_exit_status_and_message(tmp_path: Path) -> None:
    db = tmp_path / "lh.db"
    assert _linkhealth(["sync", "--catalog", str(TOOLKIT), "--db", f"sqlite:///{db}"], tmp_path)
    done = _linkhealth(["resource", "no-such-id", "--db", f"sqlite:///{db}"], tmp_path)
    assert done.returncode == 4
    assert "no-such-id" in done.stderr


def test_the_collector_does_not_walk_what_the_command_leaves(tmp_path: Path) -> None:
    # ~0.45 CPU-s of a `linkhealth check`'s main thread went to the collector's passes
    # over Prefect's, SQLAlchemy's and aiohttp's objects while the interpreter shut down.
    db = tmp_path / "lh.db"
    done = _linkhealth(
        ["sync", "--catalog", str(TOOLKIT), "--db", f"sqlite:///{db}"],
        tmp_path,
        after="import gc; print('frozen', gc.get_freeze_count())",
    )
    assert done.returncode == 0, done.stderr
    frozen = int(done.stdout.split("frozen ")[-1])
    assert frozen > 50_000


def test_close_engines_closes_every_open_engine(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("create table t (x)")
        conn.exec_driver_sql("insert into t values (1)")
        conn.commit()
    assert (tmp_path / "x.db-wal").exists()  # WAL mode, the pooled connection still open
    close_engines()
    assert not (tmp_path / "x.db-wal").exists()


def test_a_command_that_opens_no_database_does_not_import_it_to_end(tmp_path: Path) -> None:
    done = _linkhealth(["--help"], tmp_path, after="print('imported', 'catalog.db' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("imported False")
