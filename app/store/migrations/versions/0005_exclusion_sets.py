"""Exclusion sets: the exclusions shared by every decision with the same constraints, stored once.

A decision's `excluded` list is mostly the memoised static exclusions of its constraints (a
model without the capability, over the budget, outside the region): the same 1-4 KB for every
decision with those constraints, which made up four fifths of a decision row and most of the
database's work per recorded /route. They now go into `exclusion_sets` once, under the digest of
their JSON, and a decision keeps the digest (`excluded_set`) and only its own exclusions in
`excluded`. Existing rows are left as they are (no set, the whole list inline), so the upgrade
does not rewrite the table; the downgrade folds each set back into its decisions.

Revision ID: 0005_exclusion_sets
Revises: 0004_sqlite_rollups
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_exclusion_sets"
down_revision: str | Sequence[str] | None = "0004_sqlite_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOWNGRADE_CHUNK = 1000


def upgrade() -> None:
    op.create_table(
        "exclusion_sets",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_exclusion_sets")),
    )
    op.add_column("decisions", sa.Column("excluded_set", sa.String(length=64), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    sets_table = sa.table("exclusion_sets", sa.column("digest", sa.String), sa.column("excluded", sa.JSON))
    decisions = sa.table("decisions", sa.column("id", sa.Uuid(as_uuid=False)),
                         sa.column("excluded_set", sa.String), sa.column("excluded", sa.JSON))
    shared = {digest: excluded for digest, excluded in bind.execute(sa.select(sets_table))}
    while True:
        rows = bind.execute(
            sa.select(decisions.c.id, decisions.c.excluded_set, decisions.c.excluded)
            .where(decisions.c.excluded_set.is_not(None)).limit(DOWNGRADE_CHUNK)).all()
        if not rows:
            break
        for decision_id, digest, own in rows:
            bind.execute(decisions.update().where(decisions.c.id == decision_id).values(
                excluded=shared.get(digest, []) + own, excluded_set=None))
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("excluded_set")
    op.drop_table("exclusion_sets")
