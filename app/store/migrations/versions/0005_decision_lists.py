"""Decision lists: a decision's chain and shared exclusions stored once each, by digest.

A decision row carried its chain (~0.9 KB) and its exclusion list (1-4 KB), mostly the same
for every decision with the same constraints: four fifths of the row and most of the database's
work per recorded /route. Each distinct list now goes into `decision_lists` once, under the
SHA-256 of its JSON; a decision keeps the digests (`chain_set`, `excluded_set`) and only its own
exclusions in `excluded`. A chain's entries are kept without their estimated cost, which follows
from the entry's prices and the decision's tokens. Existing rows stay as they are (no digests,
the whole lists inline), so the upgrade does not rewrite the table; the downgrade folds the
lists back into their decisions.

Revision ID: 0005_decision_lists
Revises: 0004_sqlite_rollups
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005_decision_lists"
down_revision: str | Sequence[str] | None = "0004_sqlite_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOWNGRADE_CHUNK = 1000


def upgrade() -> None:
    op.create_table(
        "decision_lists",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_decision_lists")),
    )
    op.add_column("decisions", sa.Column("chain_set", sa.String(length=64), nullable=True))
    op.add_column("decisions", sa.Column("excluded_set", sa.String(length=64), nullable=True))


def _costed(entries: list[dict[str, Any]], input_tokens: int, output_tokens: int) -> list[dict[str, Any]]:
    # app.store.decision_lists.chain_with_costs, frozen here as this revision knows it
    return [e if "estimated_cost_usd" in e or "input_price" not in e else
            {**e, "estimated_cost_usd": (input_tokens * e["input_price"]
                                         + output_tokens * e["output_price"]) / 1e6}
            for e in entries]


def downgrade() -> None:
    bind = op.get_bind()
    lists = sa.table("decision_lists", sa.column("digest", sa.String), sa.column("entries", sa.JSON))
    decisions = sa.table(
        "decisions", sa.column("id", sa.Uuid(as_uuid=False)), sa.column("input_tokens", sa.Integer),
        sa.column("output_tokens", sa.Integer), sa.column("chain_set", sa.String),
        sa.column("chain", sa.JSON), sa.column("excluded_set", sa.String), sa.column("excluded", sa.JSON))
    stored = {digest: entries for digest, entries in bind.execute(sa.select(lists))}
    pending = sa.or_(decisions.c.chain_set.is_not(None), decisions.c.excluded_set.is_not(None))
    while True:
        rows = bind.execute(sa.select(decisions).where(pending).limit(DOWNGRADE_CHUNK)).all()
        if not rows:
            break
        for row in rows:
            chain = row.chain if row.chain_set is None else _costed(
                stored.get(row.chain_set, []), row.input_tokens, row.output_tokens)
            excluded = row.excluded if row.excluded_set is None else [
                *stored.get(row.excluded_set, []), *row.excluded]
            bind.execute(decisions.update().where(decisions.c.id == row.id).values(
                chain=chain, excluded=excluded, chain_set=None, excluded_set=None))
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("excluded_set")
        batch.drop_column("chain_set")
    op.drop_table("decision_lists")
