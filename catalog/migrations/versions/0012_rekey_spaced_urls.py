"""Re-key links of URLs with a space to their canonical form (data only).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

Since "a space inside a URL is checked as browsers send it" (2026-12-05), `canonical_url`
of `https://example.org/Annual Report.pdf` is `https://example.org/Annual%20Report.pdf`.
Before, such a URL was invalid and its link keyed by the text as written: the next sync
would open a second link beside it, and the entry's history (its "Invalid URL" checks and
their break) would stay on the first, which no entry has any more.
`catalog.rekey.rekey_links` rewrites the keys and merges a link with the one of its
encoded spelling, as 0011 did for emoji domains. Downgrade leaves the data as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from catalog.rekey import rekey_links

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rekey_links(op.get_bind())


def downgrade() -> None:
    pass
