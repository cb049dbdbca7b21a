"""The roll-up tables as SQLAlchemy Core tables (created by migration 0003_analytics, not by metadata)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from app.analytics.spec import FAMILIES, GRAINS, Family
from app.store.models import Attempt, Decision
from app.store.types import Money, UtcDateTime

# A metadata of its own: these tables belong to the analytics revision, and nothing here may
# ever create or drop them outside Alembic.
ROLLUP_METADATA = sa.MetaData()

ATTEMPTS: sa.Table = Attempt.__table__  # type: ignore[assignment]
DECISIONS: sa.Table = Decision.__table__  # type: ignore[assignment]
SOURCES: dict[str, sa.Table] = {"attempts": ATTEMPTS, "decisions": DECISIONS}


def column_type(kind: str) -> TypeEngine[Any]:
    """The app-side type of a roll-up column kind (money scales back from SQLite's integer)."""
    types: dict[str, TypeEngine[Any]] = {
        "int": sa.BigInteger(), "float": sa.Float(), "money": Money(), "str": sa.String(),
        "bool": sa.Boolean(),
    }
    return types[kind]


def _table(family: Family, grain: str) -> sa.Table:
    return sa.Table(
        family.table(grain),
        ROLLUP_METADATA,
        sa.Column("bucket", UtcDateTime, primary_key=True),
        *(sa.Column(col, column_type(kind), primary_key=True) for col, _e, kind in family.dims),
        *(sa.Column(m.name, column_type(m.kind), nullable=False, server_default=sa.text("0"))
          for m in family.measures),
        sa.Index(f"ix_{family.table(grain)}_tenant_bucket", "tenant", "bucket"),
    )


ROLLUPS: dict[tuple[str, str], sa.Table] = {
    (family.name, grain): _table(family, grain) for family in FAMILIES for grain in GRAINS
}
