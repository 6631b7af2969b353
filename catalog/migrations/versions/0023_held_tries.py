"""Each link keeps the number of its tries since its last check that were not sent.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-10

A host that said it was away leaves its links' tries unsent (`observations.held`, 0021);
the report's JSON and CSV, the export and `linkhealth resource --json` say how many
(`held_tries`). They counted them from the observations on every read, which reports
never do: links keep their counts (`links.problem_checks`). `links.held_tries` is kept as
tries are stored (`catalog.health.apply_observation`).

Upgrade: every link gets the count its reads gave until now: of a link whose reason is a
held try's (its latest try was held, or one that found our network down followed it), its
held tries newer than its newest check (neither held nor our network down); 0 for every
other link. A try that found our network down neither counts nor ends the count.
Downgrade drops the column.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: How a held try's reason ends (`catalog.outcomes.HELD_REASON_END`, not imported: a
#: migration keeps the rule it was written with).
_HELD_REASON_END = "so its links were not requested again this run."
#: `catalog.outcomes.Outcome.NETWORK_UNAVAILABLE`.
_NETWORK_UNAVAILABLE = "network_unavailable"


def _held_tries(links: sa.TableClause) -> sa.ColumnElement[int]:
    """Of an UPDATE of `links`: the link's held tries newer than its newest check, as
    `store.held_in_a_row` counted them when this was written."""
    observations = sa.table(
        "observations",
        sa.column("link_id", sa.Integer()),
        sa.column("checked_at", sa.DateTime(timezone=True)),
        sa.column("outcome", sa.String()),
        sa.column("held", sa.Boolean()),
    )
    tried, sent = observations.alias("tried"), observations.alias("sent")
    last_check = (
        sa.select(sa.func.max(sent.c.checked_at))
        .where(
            sent.c.link_id == links.c.id,
            sent.c.held.is_not(True),
            sent.c.outcome != _NETWORK_UNAVAILABLE,
        )
        .correlate(links)
        .scalar_subquery()
    )
    return (
        sa.select(sa.func.count())
        .select_from(tried)
        .where(
            tried.c.link_id == links.c.id,
            tried.c.held.is_(True),
            sa.or_(last_check.is_(None), tried.c.checked_at > last_check),
        )
        .correlate(links)
        .scalar_subquery()
    )


def upgrade() -> None:
    conn = op.get_bind()
    # A database made from the models (before migrations) has the column already.
    existing = {c["name"] for c in sa.inspect(conn).get_columns("links")}
    if "held_tries" not in existing:
        with op.batch_alter_table("links") as batch:
            batch.add_column(
                sa.Column("held_tries", sa.Integer(), nullable=False, server_default="0")
            )
    links = sa.table(
        "links",
        sa.column("id", sa.Integer()),
        sa.column("reason", sa.Text()),
        sa.column("held_tries", sa.Integer()),
    )
    # One statement: only the few links whose latest try was held are counted, each off
    # the (link, time) index.
    conn.execute(
        links.update()
        .where(links.c.reason.endswith(_HELD_REASON_END, autoescape=True))
        .values(held_tries=_held_tries(links))
    )


def downgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35).
    op.execute(sa.text("ALTER TABLE links DROP COLUMN held_tries"))
