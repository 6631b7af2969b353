"""Mark the stored fingerprints of links labelled as files as made by the earlier rule.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08

A body served under a file's label (a Word file's, a spreadsheet's, a zip's, an image's:
any type `catalog.check.content` reads no text of, besides the PDF labels 0024 marked and
the labels that say nothing of the file, read so before) that opens as an HTML document is
now read as the page it is, fingerprinted by its text; it was read as the file's bytes.
Such a page, unchanged, would have "changed" on the first night after the upgrade, and a
download page served as `application/msword` all along would have "no longer served its
document" (`catalog.health._served_before`). Nothing stored tells those pages from real
files, so every fingerprint stored under such a label (links' by the link's type,
observations' by their own) gets `catalog.model.LEGACY_FINGERPRINT` in front, as 0015 and
0024 did: the next read of each such link, in full, is its new baseline without "content
changed". A short text under such a label ("File not found.") keeps the fingerprint of
its bytes, and a real file's is unchanged: the mark costs each one read in full.

Downgrade changes nothing: the releases before read the mark (since 0015) and nothing
tells these marks from 0015's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: `catalog.model.LEGACY_FINGERPRINT` as of this revision (a migration never changes).
MARK = "v1:"
#: The labels whose bodies were read as HTML or text before this revision, as of it
#: (`catalog.check.content`: pages, `_TEXT_TYPES`, `+json` and `+xml` types, `_UNTYPED`;
#: the PDF labels, 0024's), as a stored Content-Type begins with them, lowercased.
KEPT_PREFIXES = (
    "text/",
    "application/xhtml+xml",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/octet-stream",
    "binary/octet-stream",
    "application/unknown",
    "unknown/unknown",
    "*/*",
    "application/pdf",
    "application/x-pdf",
)
#: Suffixes of text types (`application/rss+xml`): anywhere in the stored type, which
#: keeps a few odd labels unmarked at most (`LIKE` alone, in SQLite and PostgreSQL alike).
KEPT_INFIXES = ("+json", "+xml")


def upgrade() -> None:
    kind = "lower(trim(content_type))"
    kept = [f"{kind} LIKE :prefix{i}" for i in range(len(KEPT_PREFIXES))]
    kept += [f"{kind} LIKE :infix{i}" for i in range(len(KEPT_INFIXES))]
    patterns = {f"prefix{i}": prefix + "%" for i, prefix in enumerate(KEPT_PREFIXES)}
    patterns |= {f"infix{i}": f"%{infix}%" for i, infix in enumerate(KEPT_INFIXES)}
    for table in ("links", "observations"):
        op.execute(
            sa.text(
                f"UPDATE {table} SET fingerprint = :mark || fingerprint "
                f"WHERE fingerprint IS NOT NULL AND fingerprint NOT LIKE :marked "
                f"AND trim(coalesce(content_type, '')) <> '' AND NOT ({' OR '.join(kept)})"
            ).bindparams(mark=MARK, marked=MARK + "%", **patterns)
        )


def downgrade() -> None:
    pass
