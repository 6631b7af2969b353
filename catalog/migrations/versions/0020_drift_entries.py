"""Keep which entries a link's page drifted from, when not all of them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

Several entries can share one address. The drift flag was one per link: a page that no
longer held one entry flagged every entry on it, until it matched them all. `links.
drift_entries` holds the entries the page drifted from when not every entry using the link
alike: a JSON object of entry (`resources.id`, as text) -> its own drift ({"since", "reason",
"score"}), so an entry drifted from later is dated and explained by its own drift
(`catalog.groups.stored_drift_entries`). NULL means every entry, with the link's columns,
which is what every existing flag meant, so existing rows keep it and read as before (the
next read of the page narrows a flag to the entries it no longer holds). Downgrade drops
the column, and with it the distinction: a flag then concerns every entry again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made from the models (before migrations) has the column already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("links")}
    if "drift_entries" not in existing:
        with op.batch_alter_table("links") as batch:
            batch.add_column(sa.Column("drift_entries", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35).
    op.execute(sa.text("ALTER TABLE links DROP COLUMN drift_entries"))
