"""Schema migrations. (Placeholder until Alembic is wired: creates the tables.)"""

from __future__ import annotations

from sqlalchemy import Engine

from catalog.tables import Base


def upgrade(engine: Engine) -> None:
    Base.metadata.create_all(engine)
