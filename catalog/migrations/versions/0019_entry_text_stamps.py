"""Stamp when an entry's judged text last changed, and what a link's last full read covered.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

`resources.text_at` moves only when sync changes what drift judges of an entry (title,
description, its link); `links.text_upto` is the latest such stamp a full read of the page
covered. A check reads a page in full when one of its entries is stamped later
(`catalog.store._targets`): comparing `updated_at` with the reads forced a read after a
tags edit, a review date or a renamed catalog file, and every night after an edit stamped
by a clock ahead. Existing rows start settled: every entry is stamped with its
`updated_at` and every link covers the latest of them, so upgrading forces no read,
except of a page with an active entry edited after it was last read (`fingerprinted_at`):
a read the old code still owed it (the page was down that night) is made once.
Downgrade drops both columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    # A database made from the models (before migrations) has the columns already.
    if "text_at" not in _columns("resources"):
        with op.batch_alter_table("resources") as batch:
            batch.add_column(sa.Column("text_at", sa.DateTime(timezone=True), nullable=True))
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("resources")}
    if "ix_resources_text_at" not in indexes:
        op.create_index("ix_resources_text_at", "resources", ["text_at"])
    if "text_upto" not in _columns("links"):
        with op.batch_alter_table("links") as batch:
            batch.add_column(sa.Column("text_upto", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE resources SET text_at = updated_at WHERE text_at IS NULL"))
    # A link with an active entry edited after its page was last read (x3's rule, or a
    # night the page was down) keeps no stamp: its read after the edit is still due.
    op.execute(
        sa.text(
            "UPDATE links SET text_upto = (SELECT MAX(text_at) FROM resources)"
            " WHERE text_upto IS NULL AND NOT EXISTS ("
            " SELECT 1 FROM resources AS r WHERE r.link_id = links.id"
            " AND r.removed_at IS NULL AND links.fingerprinted_at IS NOT NULL"
            " AND r.updated_at > links.fingerprinted_at)"
        )
    )


def downgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35).
    op.execute(sa.text("ALTER TABLE links DROP COLUMN text_upto"))
    op.drop_index("ix_resources_text_at", table_name="resources")
    op.execute(sa.text("ALTER TABLE resources DROP COLUMN text_at"))
