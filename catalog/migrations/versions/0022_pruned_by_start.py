"""Keep the checks `db prune` deleted per start a link's rows may be dated from.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-09

`links.pruned_checks` and `links.pruned_outcome_checks` counted the deleted checks from two
starts: the link's problem start and its outcome start at the prune. Entries sharing an
address are dated apart (one drifted from, one spared and dated by its flapping or
failure, one drifted from later), so a row dated from a third start lost the checks
pruned since it: "6 checks" after a prune where the same history unpruned said 7.
`links.pruned_by_start` is a JSON object of start (UTC, "2026-12-05 02:00:00.000000+00:00")
-> checks pruned since it, for every start a row may be dated from
(`catalog.problem_checks.possible_starts`).

Upgrade: each link's two kept counts become its first two starts, so every row dated from
either reads what it read before (rows dated from another start keep reading what they
did, the undercount of a past prune, until that start changes). The old columns stay, no
longer read, so that a linkhealth process started before the upgrade can still write a
links row. Downgrade puts back in them the counts the object holds from the link's
outcome start and from the start 0021 dated its row from (its drift, else its flapping, else
its outcome start), and drops the column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Links read and written at a time: the upgrade of a 100,000-URL database stays bounded.
_CHUNK = 5_000


def _key(moment: Any) -> str | None:
    """`problem_checks.start_key` (not imported: a migration keeps the rule it was
    written with)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(sep=" ", timespec="microseconds")


def _links() -> sa.TableClause:
    return sa.table(
        "links",
        sa.column("id", sa.Integer()),
        sa.column("pruned_by_start", sa.JSON(none_as_null=True)),
        sa.column("pruned_checks", sa.Integer()),
        sa.column("pruned_checks_since", sa.DateTime(timezone=True)),
        sa.column("pruned_outcome_checks", sa.Integer()),
        sa.column("pruned_outcome_since", sa.DateTime(timezone=True)),
        sa.column("drift_since", sa.DateTime(timezone=True)),
        sa.column("state", sa.String()),
        sa.column("flapping", sa.Boolean()),
        sa.column("first_failure_at", sa.DateTime(timezone=True)),
        sa.column("last_change_at", sa.DateTime(timezone=True)),
    )


def _in_chunks(query: sa.Select[Any], links: sa.TableClause) -> Any:
    """The rows of `query` (whose first column is the link id), `_CHUNK` links at a time."""
    conn = op.get_bind()
    after = 0
    while True:
        rows = conn.execute(
            query.where(links.c.id > after).order_by(links.c.id).limit(_CHUNK)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def upgrade() -> None:
    conn = op.get_bind()
    # A database made from the models (before migrations) has the column already.
    existing = {c["name"] for c in sa.inspect(conn).get_columns("links")}
    if "pruned_by_start" not in existing:
        with op.batch_alter_table("links") as batch:
            batch.add_column(sa.Column("pruned_by_start", sa.JSON(), nullable=True))
    links = _links()
    query = sa.select(
        links.c.id,
        links.c.pruned_checks,
        links.c.pruned_checks_since,
        links.c.pruned_outcome_checks,
        links.c.pruned_outcome_since,
    ).where(
        sa.or_(
            sa.and_(links.c.pruned_checks > 0, links.c.pruned_checks_since.is_not(None)),
            sa.and_(links.c.pruned_outcome_checks > 0, links.c.pruned_outcome_since.is_not(None)),
        )
    )
    write = (
        links.update()
        .where(links.c.id == sa.bindparam("link_id"))
        .values(pruned_by_start=sa.bindparam("counts", type_=sa.JSON(none_as_null=True)))
    )
    for rows in _in_chunks(query, links):
        updates = []
        for link_id, checks, since, outcome_checks, outcome_since in rows:
            counts: dict[str, int] = {}
            # The outcome count first: where both were kept from one start, the problem
            # count is the one the report read.
            for n, start in ((outcome_checks, outcome_since), (checks, since)):
                if n and (key := _key(start)) is not None:
                    counts[key] = int(n)
            updates.append({"link_id": link_id, "counts": counts})
        conn.execute(write, updates)


def _problem_start(links: sa.TableClause) -> sa.ColumnElement[Any]:
    """`problem_checks.PROBLEM_START` as 0021's reader dated a row (not imported: a
    migration keeps the rule it was written with): drift unless confirmed broken; else a
    flapping link's flapping (its last `flapping_started` event); else its outcome start."""
    events = sa.table(
        "events",
        sa.column("link_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    flapping_since = (
        sa.select(sa.func.max(events.c.at))
        .where(events.c.link_id == links.c.id, events.c.kind == "flapping_started")
        .correlate(links)
        .scalar_subquery()
    )
    outcome_start = sa.func.coalesce(links.c.first_failure_at, links.c.last_change_at)
    not_broken = links.c.state != "broken"
    return sa.case(
        (sa.and_(links.c.drift_since.is_not(None), not_broken), links.c.drift_since),
        (
            sa.and_(links.c.flapping.is_(True), not_broken),
            sa.func.coalesce(flapping_since, outcome_start),
        ),
        else_=outcome_start,
    )


def downgrade() -> None:
    conn = op.get_bind()
    links = _links()
    query = sa.select(
        links.c.id,
        links.c.pruned_by_start,
        _problem_start(links),
        sa.func.coalesce(links.c.first_failure_at, links.c.last_change_at),
    ).where(links.c.pruned_by_start.is_not(None))
    write = (
        links.update()
        .where(links.c.id == sa.bindparam("link_id"))
        .values(
            pruned_checks=sa.bindparam("checks"),
            pruned_checks_since=sa.bindparam("since"),
            pruned_outcome_checks=sa.bindparam("outcome_checks"),
            pruned_outcome_since=sa.bindparam("outcome_since"),
        )
    )
    for rows in _in_chunks(query, links):
        updates = []
        for link_id, stored, problem_start, outcome_start in rows:
            counts = json.loads(stored) if isinstance(stored, str) else dict(stored or {})
            updates.append(
                {
                    "link_id": link_id,
                    "checks": int(counts.get(_key(problem_start)) or 0),
                    "since": problem_start,
                    "outcome_checks": int(counts.get(_key(outcome_start)) or 0),
                    "outcome_since": outcome_start,
                }
            )
        conn.execute(write, updates)
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35).
    op.execute(sa.text("ALTER TABLE links DROP COLUMN pruned_by_start"))
