"""Re-key links of URLs with a backslash ending the host or a user name to their canonical form
(data only).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

Since "addresses browsers open are checked as browsers request them" (2026-12-05),
`canonical_url` of `http://example.org\\report` is `http://example.org/report` and that of
`http://guest@example.org/report` is `http://example.org/report`. Before, such a URL was
invalid and its link keyed by the text as written: the next sync would open a second link
beside it, and the entry's history would stay on the first, which no entry has any more.
`catalog.rekey.rekey_links` rewrites the keys and merges a link with the one of its plain
spelling, as 0012 did for spaces. Downgrade leaves the data as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from catalog.rekey import rekey_links

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rekey_links(op.get_bind())


def downgrade() -> None:
    pass
