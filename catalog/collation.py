"""One order for text in SQL on every backend: code point order, as Python sorts `str`.

SQLite compares text byte by byte (its BINARY collation), which for UTF-8 is code point
order. PostgreSQL orders by the database's collation, and many clusters are created with a
linguistic one (`en_US.UTF-8`, ICU): there "R1" sorts after "alpha", "_draft" before both
and "Éclair" among the e's. The report, its streamed action queue, `export`, `status` and
`check --strict` (which names the first few) listed rows in another order than on SQLite,
and code walking a SQL-ordered stream beside a Python-sorted one (a merge, `bisect`) would
miss or repeat rows. So every `ORDER BY` on a text column goes through `byte_order`, one rule
rather than `COLLATE` clauses here and there. Equality, `GROUP BY` and `DISTINCT` need
nothing: a database's default collation is deterministic (equal means the same bytes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, collate
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class byte_order(FunctionElement[str]):
    """`text` to order by (or to compare with `<`, `>`) in code point order: on PostgreSQL
    `text COLLATE "C"` (memcmp of UTF-8), elsewhere the column as it is."""

    name = "byte_order"
    type = String()
    inherit_cache = True

    def __init__(self, text: Any) -> None:
        super().__init__(text)


@compiles(byte_order)
def _as_is(element: byte_order, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = element.clauses
    return compiler.process(text, **kw)


@compiles(byte_order, "postgresql")
def _collate_c(element: byte_order, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = element.clauses
    return compiler.process(collate(text, "C"), **kw)
