"""Mark the stored fingerprints as made by the earlier fingerprint rule.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

The fingerprint of a web page now hashes its main content without the page's chrome
(cookie banners, promos, related lists, share bars, sidebars) and a PDF's without the
stamps a site writes at every request (creation and modification dates, document ids).
Compared with a fingerprint made the old way, most pages of a catalog would have "changed"
on the first night after the upgrade. Every stored fingerprint (links' baselines and
observations') gets `catalog.model.LEGACY_FINGERPRINT` in front: the next read of each
link takes its new fingerprint as the baseline without calling it a change, and `export`
compares nothing with an old one. Downgrade takes the marks off.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: `catalog.model.LEGACY_FINGERPRINT` as of this revision (a migration never changes).
MARK = "v1:"


def upgrade() -> None:
    for table in ("links", "observations"):
        op.execute(
            sa.text(
                f"UPDATE {table} SET fingerprint = :mark || fingerprint "
                "WHERE fingerprint IS NOT NULL AND fingerprint NOT LIKE :marked"
            ).bindparams(mark=MARK, marked=MARK + "%")
        )


def downgrade() -> None:
    for table in ("links", "observations"):
        op.execute(
            sa.text(
                f"UPDATE {table} SET fingerprint = substr(fingerprint, :rest) "
                "WHERE fingerprint LIKE :marked"
            ).bindparams(rest=len(MARK) + 1, marked=MARK + "%")
        )
