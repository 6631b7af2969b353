"""Room for every Content-Length and Content-Type a server sends.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

`content_length` was a 32-bit INTEGER on PostgreSQL, so a link to a file of 2 GiB or more
(a video, a data set) failed the store of its whole batch, and with it the run; so did a
Content-Type longer than 200 characters, which any server may send. They become BIGINT
and TEXT. (SQLite held both already; its tables are rebuilt with the new types.)
Downgrade forgets lengths and cuts types that the old columns cannot hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("links", "observations")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("content_length", type_=sa.BigInteger(), existing_type=sa.Integer())
            batch.alter_column("content_type", type_=sa.Text(), existing_type=sa.String(200))


def downgrade() -> None:
    for table in _TABLES:
        rows = sa.table(table, sa.column("content_length"), sa.column("content_type"))
        op.execute(
            rows.update().where(rows.c.content_length > 2**31 - 1).values(content_length=None)
        )
        op.execute(
            rows.update()
            .where(sa.func.length(rows.c.content_type) > 200)
            .values(content_type=sa.func.substr(rows.c.content_type, 1, 200))
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("content_length", type_=sa.Integer(), existing_type=sa.BigInteger())
            batch.alter_column("content_type", type_=sa.String(200), existing_type=sa.Text())
