"""Mark the stored fingerprints of links labelled as PDFs as made by the earlier rule.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

A body served as `application/pdf` (or `application/x-pdf`) that opens as an HTML
document is now read as the page it is, fingerprinted by its text; it was read as a PDF's
bytes. Such a page, unchanged, would have "changed" on the first night after the upgrade
and started its "unchanged since" afresh. Nothing stored tells those pages from real PDFs,
so every fingerprint stored under a PDF's label (links' baselines by the link's type,
observations' by their own) gets `catalog.model.LEGACY_FINGERPRINT` in front, as 0015 did:
the next read of each such link, in full, is its new baseline without "content changed",
and `export` compares nothing with an old one.

Downgrade changes nothing: the releases before read the mark (since 0015) and nothing
tells these marks from 0015's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: `catalog.model.LEGACY_FINGERPRINT` as of this revision (a migration never changes).
MARK = "v1:"
#: The PDF labels (`catalog.check.content._KEPT_TYPES`), as a stored Content-Type begins
#: with them, its parameters after (`application/pdf; qs=0.001`), lowercased.
_PDF_TYPES = ("application/pdf", "application/x-pdf")


def upgrade() -> None:
    labelled = " OR ".join(
        f"lower(trim(content_type)) LIKE :type{i}" for i in range(len(_PDF_TYPES))
    )
    types = {f"type{i}": kind + "%" for i, kind in enumerate(_PDF_TYPES)}
    for table in ("links", "observations"):
        op.execute(
            sa.text(
                f"UPDATE {table} SET fingerprint = :mark || fingerprint "
                f"WHERE fingerprint IS NOT NULL AND fingerprint NOT LIKE :marked "
                f"AND ({labelled})"
            ).bindparams(mark=MARK, marked=MARK + "%", **types)
        )


def downgrade() -> None:
    pass
