"""Budget ledger: per-period spend counters and execution reservations (issue #8, tenancy).

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = sa.Uuid(as_uuid=False)
TIME = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 10).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "budget_usage",
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("spent_usd", MONEY, nullable=False),
        sa.Column("reserved_usd", MONEY, nullable=False),
        sa.Column("soft_alerted_at", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_budget_usage_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "period", name=op.f("pk_budget_usage")),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("id", UUID, nullable=False),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("decision_id", UUID, nullable=True),
        sa.Column("day_period", sa.String(length=16), nullable=False),
        sa.Column("month_period", sa.String(length=16), nullable=False),
        sa.Column("amount_usd", MONEY, nullable=False),
        sa.Column("actual_usd", MONEY, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("settled_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_budget_reservations_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_reservations")),
    )
    op.create_index("ix_budget_reservations_state_expires_at", "budget_reservations", ["state", "expires_at"])
    op.create_index("ix_budget_reservations_tenant_id_created_at", "budget_reservations",
                    ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_table("budget_reservations")
    op.drop_table("budget_usage")
