"""Re-key links to the current canonical URL form (data only).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Databases written before the canonical form sorted query parameters, lower-cased and
IDNA-encoded hosts and dropped default ports hold link keys in the old form; the next
sync would fork each such link's history. `catalog.rekey.rekey_links` rewrites the keys
and merges links that now mean the same URL. Downgrade leaves the data as it is: the old
keys are not needed by the old code (its sync only ever adds links), and merged history
cannot be split again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from catalog.rekey import rekey_links

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rekey_links(op.get_bind())


def downgrade() -> None:
    pass
