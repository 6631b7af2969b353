"""Keep what the https form of a working http link served, when a check tried it and it was
not the same page.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08

A check that reads a working `http://` page also fetches its `https://` form
(`catalog.upgrades`): the same page is kept as the observation's `suggested_url`, which the
report offers with its `replace-url`. Another page (a parked domain) or none was kept
nowhere, so the report still offered the switch "if it serves the same page".
`observations.https_found` says what it served ("another page ('Parked domain')"); existing
rows are NULL (not known). Downgrade drops the column.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made from the models (before migrations) has the column already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("observations")}
    if "https_found" not in existing:
        with op.batch_alter_table("observations") as batch:
            batch.add_column(sa.Column("https_found", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35).
    op.execute(sa.text("ALTER TABLE observations DROP COLUMN https_found"))
