"""A long run's SQLite connection keeps a bounded set of prepared statements.

The store writes each batch with multi-row INSERTs and reads with IN lists whose row
counts change from batch to batch; each count is a statement of its own. Python's sqlite3
kept the last 128 of them per connection, and a run's memory grew batch after batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import column, insert, table

from catalog.db import open_engine

ROW = {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}


def _sqlite_memory() -> Callable[[], int]:
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("no SQLite library to read its memory from")
    used = ctypes.CDLL(name).sqlite3_memory_used
    used.restype = ctypes.c_int64
    return lambda: int(used())


def _grown_by(used: Callable[[], int], insert_rows: Callable[[int], object]) -> int:
    """SQLite's memory after inserting 1, 2, ... 120 rows at once (a statement each)."""
    before = used()
    for n in range(1, 121):
        insert_rows(n)
    return used() - before


def test_a_connection_keeps_few_of_the_statements_each_row_count_makes(tmp_path: Path) -> None:
    used = _sqlite_memory()
    plain = sqlite3.connect(tmp_path / "plain.db")
    plain.execute("CREATE TABLE t (a, b, c, d, e)")
    grown_plain = _grown_by(
        used,
        lambda n: plain.execute(
            "INSERT INTO t VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * n), [1] * (5 * n)
        ),
    )
    plain.close()
    if grown_plain < 1_000_000:  # the probe must see the library Python's sqlite3 uses
        pytest.skip("this Python's sqlite3 does not use the SQLite library found here")

    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}", migrate=False)
    t = table("t", column("a"), column("b"), column("c"), column("d"), column("e"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a, b, c, d, e)")
        grown = _grown_by(used, lambda n: conn.execute(insert(t).values([ROW] * n)))
    engine.dispose()
    # The last 16 are the largest here (~a quarter of all 120); the default kept all.
    assert grown < grown_plain / 2, (grown, grown_plain)
