"""The tests' migrated databases (`tests.factories.migrated_database_url`, under
`temporary_database` and the `migrated_db_url` fixture) are the database `open_engine`
migrates from nothing, not merely one at the head revision.

They are made without running the migrations per test: on SQLite a copy of a file migrated
once per process, on PostgreSQL the statements that migrated a schema once per process,
replayed. A table, column default, index, foreign key or sequence the replay missed would
let the suite pass on PostgreSQL against a schema no user has, so the two are compared
here as the database's own catalog describes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, inspect, text

from catalog import migrate
from catalog.db import open_engine
from catalog.tables import Base
from tests.factories import migrated_database_url, temporary_database_url

#: What PostgreSQL's catalog says of the current schema (the URL's search_path), one
#: query each; the schema's own name is replaced in what they return (`_snapshot`).
PG_CATALOG = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.reloptions::text,
               pg_get_userbyid(c.relowner), c.relacl::text, c.relrowsecurity,
               obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema()""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, a.atthasdef, pg_get_expr(d.adbin, d.adrelid), a.attidentity,
               a.attgenerated, a.attisdropped, co.collname,
               CASE WHEN NOT a.attisdropped
                    THEN pg_get_serial_sequence(quote_ident(c.relname), a.attname) END,
               col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE n.nspname = current_schema() AND a.attnum > 0
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
    "information_schema.columns": """
        SELECT table_name, column_name, ordinal_position, data_type, udt_name,
               character_maximum_length, numeric_precision, column_default, is_nullable,
               is_identity, is_generated
        FROM information_schema.columns WHERE table_schema = current_schema()""",
    "constraints": """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid),
               con.condeferrable, con.condeferred, con.convalidated
        FROM pg_constraint con
        JOIN pg_namespace n ON n.oid = con.connamespace
        LEFT JOIN pg_class c ON c.oid = con.conrelid
        WHERE n.nspname = current_schema()""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = current_schema()""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value,
               increment_by, cycle, cache_size, last_value
        FROM pg_sequences WHERE schemaname = current_schema()""",
    "sequence owners": """
        SELECT s.relname, t.relname, a.attname, d.deptype
        FROM pg_depend d
        JOIN pg_class s ON s.oid = d.objid AND d.classid = 'pg_class'::regclass
        JOIN pg_namespace n ON n.oid = s.relnamespace
        JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE n.nspname = current_schema() AND s.relkind = 'S'""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND NOT t.tgisinternal""",
    "views": """
        SELECT viewname, definition FROM pg_views WHERE schemaname = current_schema()
        UNION ALL
        SELECT matviewname, definition FROM pg_matviews
        WHERE schemaname = current_schema()""",
    "rules": """
        SELECT tablename, rulename, definition FROM pg_rules
        WHERE schemaname = current_schema()""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prosrc
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema()""",
    "types": """
        SELECT t.typname, t.typtype,
               array_to_string(ARRAY(SELECT e.enumlabel FROM pg_enum e
                                     WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), ',')
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema()""",
}

#: The same of a SQLite file: the indexes, triggers and views as written (tables are read by
#: `_sqlite_tables`), and its header's version fields.
SQLITE_CATALOG = {
    "schema": "SELECT type, name, tbl_name, sql FROM sqlite_master "
    "WHERE type <> 'table' AND name NOT LIKE 'sqlite_autoindex_%'",
    "user_version": "PRAGMA user_version",
    "application_id": "PRAGMA application_id",
    "journal_mode": "PRAGMA journal_mode",
}

#: How a table constraint in a CREATE TABLE starts (the rest of its items are columns).
_TABLE_CONSTRAINT = ("CONSTRAINT ", "PRIMARY KEY", "UNIQUE", "FOREIGN KEY", "CHECK")


def _sqlite_tables(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Each SQLite table as its CREATE TABLE says it: its columns in order, its table
    constraints (keys, uniques, checks) as a set, and its indexes (an automatic one by its
    columns). Alembic's batch mode, which rebuilds a table to alter it, writes the foreign
    keys it reflected in no fixed order: two migrations from nothing differ there, and in
    nothing SQLite does with them."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    listed = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    for name, sql in sorted(listed):
        head, items = _create_table_items(sql)
        columns = [i for i in items if not i.upper().startswith(_TABLE_CONSTRAINT)]
        constraints = sorted(i for i in items if i.upper().startswith(_TABLE_CONSTRAINT))
        indexes = sorted(
            (
                "automatic" if index_name.startswith("sqlite_autoindex_") else index_name,
                unique,
                origin,
                partial,
                tuple(
                    column
                    for _, _, column in conn.execute(text(f"PRAGMA index_info('{index_name}')"))
                ),
            )
            for _, index_name, unique, origin, partial in conn.execute(
                text(f"PRAGMA index_list('{name}')")
            )
        )
        tables[f"table {name}"] = [(head,), *((c,) for c in columns), *((c,) for c in constraints)]
        tables[f"indexes of {name}"] = indexes
    return tables


def _create_table_items(sql: str) -> tuple[str, list[str]]:
    """A CREATE TABLE statement's start ("CREATE TABLE name") and the items between its
    parentheses, split at their top-level commas, each with its white space made single."""
    head, _, body = sql.partition("(")
    body = body.rstrip().removesuffix(")")
    items, item, depth, quote = [], "", 0, ""
    for char in body:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "," and depth == 0:
            items.append(" ".join(item.split()))
            item = ""
            continue
        item += char
    items.append(" ".join(item.split()))
    return " ".join(head.split()), items


def _snapshot(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The database's catalog (`PG_CATALOG`; `SQLITE_CATALOG` and `_sqlite_tables`) and
    every row of every table, each sorted, with no trace of the schema's name."""
    pg = conn.dialect.name == "postgresql"
    schema = conn.execute(text("SELECT current_schema()")).scalar_one() if pg else None

    def plain(value: Any) -> Any:
        return value.replace(schema, "<schema>") if schema and isinstance(value, str) else value

    snapshot = {
        name: sorted(
            (tuple(plain(v) for v in row) for row in conn.execute(text(query))),
            key=repr,
        )
        for name, query in (PG_CATALOG if pg else SQLITE_CATALOG).items()
    }
    if not pg:
        snapshot.update(_sqlite_tables(conn))
    for table in sorted(inspect(conn).get_table_names()):
        rows = conn.execute(text(f'SELECT * FROM "{table}"'))
        snapshot[f"rows of {table}"] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot


@pytest.fixture
def migrated_here(tmp_path: Path) -> Iterator[Engine]:
    """A database `open_engine` migrated from nothing, in this test."""
    with temporary_database_url(tmp_path, "migrated-here.db") as url:
        engine = open_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def test_a_test_database_at_head_is_the_schema_migrating_makes(
    migrated_here: Engine, tmp_path: Path
) -> None:
    with migrated_database_url(tmp_path, "made-fast.db") as url:
        fast = open_engine(url, migrate=False)
        try:
            with fast.connect() as conn:
                made_fast = _snapshot(conn)
        finally:
            fast.dispose()
    with migrated_here.connect() as conn:
        migrated = _snapshot(conn)

    # Something to compare: every table of the models, and the revision, in the migrated.
    assert {f"rows of {table}" for table in Base.metadata.tables} <= set(migrated)
    assert migrated["rows of alembic_version"] == [(migrate.head_revision(),)]
    assert set(made_fast) == set(migrated)
    for part, described in migrated.items():
        assert made_fast[part] == described, part
