"""Keep the nights a site answered 503 "unavailable, come back later", within the flap window.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

Such nights count toward flapping only once they are `flap_changes` within
`flap_window_days` (`catalog.health._steady_unavailable`): a site in maintenance weekly
was flagged flapping for good. Existing rows start with none kept: a site answering it
most nights is flagged once it has done so on that many nights since. A row upgraded
partway through a run of 503 nights keeps the run's start (`last_change_at`): health
reads "none kept after a 503" as unknown, not as a run starting at the next check
(`_unavailable_since`), which is smaller and cheaper on a big database than filling the
nights from observations here. Downgrade drops the column.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made from the models (before migrations) has the column already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("links")}
    if "unavailable_nights" not in existing:
        with op.batch_alter_table("links") as batch:
            batch.add_column(
                sa.Column(
                    "unavailable_nights", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
                )
            )


def downgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35).
    op.execute(sa.text("ALTER TABLE links DROP COLUMN unavailable_nights"))
