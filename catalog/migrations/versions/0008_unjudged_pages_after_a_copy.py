"""Pages a `db copy` marked judged for drift are unjudged again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

`linkhealth db copy` wrote an observation's empty `relevance_scores` (SQL NULL: the page
was not judged for drift) as JSON `null`. `db prune` kept such observations as drift
history, and drift baselines counted them as judged pages. linkhealth never writes JSON
`null` there itself, so every one is made SQL NULL again. Downgrade leaves them so.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        json_null = "json_typeof(relevance_scores) = 'null'"
    else:  # SQLite keeps JSON as text
        json_null = "relevance_scores = 'null'"
    op.execute(f"UPDATE observations SET relevance_scores = NULL WHERE {json_null}")


def downgrade() -> None:
    pass
