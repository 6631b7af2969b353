"""Re-key links to the canonical form of emoji domains (data only).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

Since "emoji domains are requested by their punycode" (2026-12-03), `canonical_url` of
`https://i❤.ws/` is `https://xn--i-7iq.ws/`. A database synced before keeps such an
entry's link under the raw text: its checks were filed under the new key, on a second link
no entry has, and the entry's own link stayed unchecked. `catalog.rekey.rekey_links`
rewrites the keys and merges the two links, so the entry gets its checks. Downgrade leaves
the data as it is, as 0004's does.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from catalog.rekey import rekey_links

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rekey_links(op.get_bind())


def downgrade() -> None:
    pass
