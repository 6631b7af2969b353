"""Mark the validators a HEAD gave that links stored before they were marked (data only).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

A read whose GET gave no validator and no length (a page sent chunked) keeps that night's
HEAD's, for the next HEADs to compare with; since `catalog.check.fetch.STANDS_IN` they
are marked and never sent on a GET. Those stored before were not: the weekly read still
sent a CDN's fixed HEAD ETag as If-None-Match, the server answered 304 whatever the page
had become, and a page replaced by another stayed "OK" for good. Every link with no
stored length and an ETag or a Last-Modified gets fetch's own mark (`_standing_in`): the
links whose validators a GET gave with no length are marked too, which costs each one
full weekly read, after which the link keeps that GET's, unmarked. Only `links` is
touched: the checker reads the validators it sends from there (`store.targets_for_check`),
never from observations. Downgrade leaves the marks: the code before this revision writes
and reads them itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from catalog.check.fetch import _standing_in

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Links updated per statement.
CHUNK = 1000


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, etag, last_modified FROM links WHERE content_length IS NULL"
            " AND (etag IS NOT NULL OR last_modified IS NOT NULL)"
        )
    ).all()
    marked = []
    for link_id, etag, modified in rows:
        new_etag, new_modified = _standing_in(etag, modified)
        if (new_etag, new_modified) != (etag, modified):
            marked.append({"id": link_id, "etag": new_etag, "modified": new_modified})
    update = sa.text("UPDATE links SET etag = :etag, last_modified = :modified WHERE id = :id")
    for start in range(0, len(marked), CHUNK):
        bind.execute(update, marked[start : start + CHUNK])


def downgrade() -> None:
    pass
