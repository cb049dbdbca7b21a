"""Initial schema: decisions, attempts, health snapshots, tenants, API keys, feedback.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The storage each app type uses, spelled out so this file never changes with app code:
# money is NUMERIC(18, 10) on PostgreSQL and a BIGINT of 1e-10 USD on SQLite.
UUID = sa.Uuid(as_uuid=False)
TIME = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 10).with_variant(sa.BigInteger(), "sqlite")
JSON = sa.JSON()  # not JSONB: written on every request, read rarely (see app/store/types.py)


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", UUID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("tenant", sa.String(), nullable=True),
        sa.Column("end_user", sa.String(), nullable=True),
        sa.Column("task_type", sa.String(length=32), nullable=False),
        sa.Column("budget", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("requires_sla", sa.Boolean(), nullable=False),
        sa.Column("requires_compliance", sa.Boolean(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=True),
        sa.Column("primary_provider", sa.String(), nullable=True),
        sa.Column("primary_model", sa.String(), nullable=True),
        sa.Column("chain", JSON, nullable=False),
        sa.Column("excluded", JSON, nullable=False),
        sa.Column("estimated_cost_usd", MONEY, nullable=True),
        sa.Column("baseline_cost_usd", MONEY, nullable=True),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("variant", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    op.create_index("ix_decisions_tenant_created_at", "decisions", ["tenant", "created_at"])
    op.create_index("uq_decisions_tenant_idempotency_key", "decisions", ["tenant", "idempotency_key"],
                    unique=True)

    op.create_table(
        "attempts",
        sa.Column("id", UUID, nullable=False),
        sa.Column("decision_id", UUID, nullable=False),
        sa.Column("attempt_order", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("task_type", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(), nullable=True),
        sa.Column("region", sa.String(length=16), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error_class", sa.String(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", MONEY, nullable=False),
        sa.Column("baseline_cost_usd", MONEY, nullable=False),
        sa.Column("cost_estimated", sa.Boolean(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("is_fallback", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    op.create_index("ix_attempts_created_at", "attempts", ["created_at"])
    op.create_index("ix_attempts_provider_created_at", "attempts", ["provider", "created_at"])
    op.create_index("ix_attempts_tenant_created_at", "attempts", ["tenant", "created_at"])
    op.create_index("ix_attempts_decision_id", "attempts", ["decision_id"])

    op.create_table(
        "health_snapshots",
        sa.Column("id", UUID, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("success_rate", sa.Float(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("mean_latency_ms", sa.Float(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_snapshots")),
    )
    op.create_index("ix_health_snapshots_created_at", "health_snapshots", ["created_at"])
    op.create_index("ix_health_snapshots_provider_created_at", "health_snapshots",
                    ["provider", "created_at"])

    op.create_table(
        "tenants",
        sa.Column("id", UUID, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("default_budget", sa.String(length=16), nullable=False),
        sa.Column("daily_soft_limit_usd", MONEY, nullable=True),
        sa.Column("daily_hard_limit_usd", MONEY, nullable=True),
        sa.Column("monthly_soft_limit_usd", MONEY, nullable=True),
        sa.Column("monthly_hard_limit_usd", MONEY, nullable=True),
        sa.Column("downgrade_on_budget", sa.Boolean(), nullable=False),
        sa.Column("store_prompts", sa.Boolean(), nullable=False),
        sa.Column("rate_limit_rpm", sa.Integer(), nullable=True),
        sa.Column("rate_limit_tpm", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", UUID, nullable=False),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("last_used_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_api_keys_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])

    op.create_table(
        "feedback",
        sa.Column("id", UUID, nullable=False),
        sa.Column("decision_id", UUID, nullable=False),
        sa.Column("tenant", sa.String(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("thumbs", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index("ix_feedback_decision_id", "feedback", ["decision_id"])
    op.create_index("ix_feedback_tenant_created_at", "feedback", ["tenant", "created_at"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("api_keys")
    op.drop_table("tenants")
    op.drop_table("health_snapshots")
    op.drop_table("attempts")
    op.drop_table("decisions")
