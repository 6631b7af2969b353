"""Give every link the validators of the copy it fingerprinted (data only).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Before this revision a HEAD-only check stored the ETag and Last-Modified it saw on the
link. The next fingerprint GET then asked "changed since that?", got 304 for a page that
had changed since its last fingerprint, and kept the old fingerprint and title for good.
`catalog.health` now keeps the validators of the fingerprinted copy; this puts back, on
each link, those of its latest observation that read and fingerprinted the page, or none
when pruning removed it (the next fingerprint GET is then unconditional: only bytes are
spent, the fingerprint still compares). 304 observations are not trusted here: one that
followed a HEAD's validators vouched for a version never read. Downgrade leaves the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_links = sa.table(
    "links", sa.column("id", sa.Integer), sa.column("etag"), sa.column("last_modified")
)
_observations = sa.table(
    "observations",
    sa.column("id", sa.Integer),
    sa.column("link_id", sa.Integer),
    sa.column("checked_at"),
    sa.column("fingerprint"),
    sa.column("not_modified", sa.Boolean),
    sa.column("etag"),
    sa.column("last_modified"),
)


def _of_the_fingerprinted_copy(column: str) -> sa.ScalarSelect[object]:
    o = _observations
    return (
        sa.select(o.c[column])
        .where(o.c.link_id == _links.c.id, o.c.fingerprint.is_not(None), o.c.not_modified == sa.false())
        .order_by(o.c.checked_at.desc(), o.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def upgrade() -> None:
    op.get_bind().execute(
        _links.update().values(
            etag=_of_the_fingerprinted_copy("etag"),
            last_modified=_of_the_fingerprinted_copy("last_modified"),
        )
    )


def downgrade() -> None:
    pass
