"""Keep the contacts an entry names that its page shows, and those that went from it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

A hotline's entry names its phone number or email ("Call 1-888-373-7888"); when the
page stops showing it, the curator is told (`catalog.health.apply_contacts`). Each check
that read such a page keeps the contacts it showed (`observations.contacts`), and each
link the named ones a read has shown (`links.contacts_seen`), those the last read did not
(`links.contacts_gone`) and what the report says of them (`links.contact_reason`).
Existing rows start with none seen: a contact is news only once a read has shown it.
Downgrade drops the columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add(table: str, columns: list[sa.Column[object]]) -> None:
    # A database made from the models (before migrations) has the columns already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    missing = [c for c in columns if c.name not in existing]
    if missing:
        with op.batch_alter_table(table) as batch:
            for column in missing:
                batch.add_column(column)


def upgrade() -> None:
    _add(
        "links",
        [
            sa.Column("contacts_seen", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
            sa.Column("contacts_gone", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
            sa.Column("contact_reason", sa.Text(), nullable=True),
        ],
    )
    _add("observations", [sa.Column("contacts", sa.JSON(), nullable=True)])


def downgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35): a batch
    # copy of `links` is refused with foreign keys on once observations point at it.
    for table, column in (
        ("observations", "contacts"),
        ("links", "contact_reason"),
        ("links", "contacts_gone"),
        ("links", "contacts_seen"),
    ):
        op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
