"""SQLite analytics roll-ups kept by the writer per batch instead of per-row triggers.

The SQLite row triggers of 0003_analytics ran two to four UPSERTs for every inserted record
(about a quarter of the writer's work). The writer now adds each batch's new rows to the
roll-ups itself, in the inserting transaction (app/store/rollup_sqlite.py). PostgreSQL keeps its
statement triggers, which already run once per batch: nothing changes there.

Revision ID: 0004_sqlite_rollups
Revises: 0003_analytics
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0004_sqlite_rollups"
down_revision: str | Sequence[str] | None = "0003_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for source in ("attempts", "decisions"):
        op.get_bind().exec_driver_sql(f"DROP TRIGGER IF EXISTS {source}_analytics_rollup")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    previous = importlib.import_module("app.store.migrations.versions.0003_analytics_rollups")
    previous._sqlite_triggers()
