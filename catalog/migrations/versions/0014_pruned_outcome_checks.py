"""Count the checks `db prune` deleted also from the start a link's row falls back to.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

`links.pruned_checks` counts the deleted checks from the link's problem start at the
prune: for a drifted or flapping link, the drift's or the flapping's start. Once the drift
or flapping ended, the row dated its state from its outcome's start again, and the checks
pruned from before the drift were in no count ("since 11-02, 3 checks" of a link checked
nine times since). Each link now also keeps the checks pruned since that outcome start
(`catalog.problem_checks.OUTCOME_START`). Databases pruned before this revision keep their
lower counts. Downgrade drops the columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made from the models (before migrations) has the columns already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("links")}
    columns: list[sa.Column[object]] = [
        sa.Column("pruned_outcome_checks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pruned_outcome_since", sa.DateTime(timezone=True), nullable=True),
    ]
    missing = [c for c in columns if c.name not in existing]
    if missing:
        with op.batch_alter_table("links") as batch:
            for column in missing:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("pruned_outcome_since")
        batch.drop_column("pruned_outcome_checks")
