"""ORM models: the tables of the store (decisions, attempts, health, tenants, keys, feedback).

Attempts and feedback carry `decision_id` without a foreign key, on purpose: the write-behind
writer commits in batches, may replay a spool after a restart, and several replicas write at
once, so an attempt can reach the database before its decision. A foreign key would turn that
harmless reordering into rejected rows; the index keeps the join fast and analytics use it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.store.types import Money, UtcDateTime, UuidText, json_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UUID = UuidText()


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (Alembic needs them to drop things)."""

    metadata = sa.MetaData(naming_convention=NAMING)


class Decision(Base):
    """One routing decision (routed, rejected, succeeded or failed)."""

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    tenant: Mapped[str | None] = mapped_column(sa.String)
    end_user: Mapped[str | None] = mapped_column(sa.String)
    task_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    budget: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    region: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    requires_sla: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    requires_compliance: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    input_tokens: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    output_tokens: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    strategy: Mapped[str | None] = mapped_column(sa.String(32))
    primary_provider: Mapped[str | None] = mapped_column(sa.String)
    primary_model: Mapped[str | None] = mapped_column(sa.String)
    # A decision's chain and the exclusions it shares with every decision of the same
    # constraints are stored once each, in decision_lists (by digest); `excluded` holds its own
    # exclusions, after the shared ones (app/store/decision_lists.py). Rows written before
    # revision 0005 have no digests and their whole lists in `chain` and `excluded`.
    chain_set: Mapped[str | None] = mapped_column(sa.String(64))
    chain: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), nullable=False)
    excluded_set: Mapped[str | None] = mapped_column(sa.String(64))
    excluded: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), nullable=False)
    estimated_cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    baseline_cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String)
    variant: Mapped[str | None] = mapped_column(sa.String)

    __table_args__ = (
        sa.Index(None, "created_at"),
        sa.Index(None, "tenant", "created_at"),
        sa.Index("uq_decisions_tenant_idempotency_key", "tenant", "idempotency_key", unique=True),
    )


class DecisionList(Base):
    """A chain or a list of exclusions shared by many decisions, stored once under its digest.

    Decisions point at it by `chain_set` / `excluded_set` without a foreign key, like attempts:
    the writer inserts a batch's lists in the transaction that inserts its decisions, first.
    """

    __tablename__ = "decision_lists"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class Attempt(Base):
    """One call to one provider within a decision; tenant and task copied for analytics."""

    __tablename__ = "attempts"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    decision_id: Mapped[str] = mapped_column(UUID, nullable=False)
    attempt_order: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    provider: Mapped[str] = mapped_column(sa.String, nullable=False)
    model: Mapped[str] = mapped_column(sa.String, nullable=False)
    outcome: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    task_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    tenant: Mapped[str | None] = mapped_column(sa.String)
    region: Mapped[str | None] = mapped_column(sa.String(16))
    latency_ms: Mapped[float] = mapped_column(sa.Float, nullable=False)
    error_class: Mapped[str | None] = mapped_column(sa.String)
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    input_tokens: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    output_tokens: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    cached_tokens: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    reasoning_tokens: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    cost_usd: Mapped[Decimal] = mapped_column(Money, nullable=False)
    baseline_cost_usd: Mapped[Decimal] = mapped_column(Money, nullable=False)
    cost_estimated: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    quality_score: Mapped[float | None] = mapped_column(sa.Float)
    is_fallback: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)

    __table_args__ = (
        sa.Index(None, "created_at"),
        sa.Index(None, "provider", "created_at"),
        sa.Index(None, "tenant", "created_at"),
        sa.Index(None, "decision_id"),
    )


class HealthSnapshot(Base):
    """A provider's health at one moment, stored periodically by the health refresher."""

    __tablename__ = "health_snapshots"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    provider: Mapped[str] = mapped_column(sa.String, nullable=False)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    success_rate: Mapped[float] = mapped_column(sa.Float, nullable=False)
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    mean_latency_ms: Mapped[float] = mapped_column(sa.Float, nullable=False)
    requests: Mapped[int] = mapped_column(sa.Integer, nullable=False)

    __table_args__ = (
        sa.Index(None, "created_at"),
        sa.Index(None, "provider", "created_at"),
    )


class Tenant(Base):
    """A customer: budgets (soft warns, hard refuses), rate limits, prompt storage opt-in."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String, nullable=False, unique=True)
    default_budget: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="medium")
    daily_soft_limit_usd: Mapped[Decimal | None] = mapped_column(Money)
    daily_hard_limit_usd: Mapped[Decimal | None] = mapped_column(Money)
    monthly_soft_limit_usd: Mapped[Decimal | None] = mapped_column(Money)
    monthly_hard_limit_usd: Mapped[Decimal | None] = mapped_column(Money)
    downgrade_on_budget: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    store_prompts: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    rate_limit_rpm: Mapped[int | None] = mapped_column(sa.Integer)
    rate_limit_tpm: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class ApiKey(Base):
    """A tenant's API key: only a lookup prefix and a hash are stored, never the key."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    prefix: Mapped[str] = mapped_column(sa.String(32), nullable=False, unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String, nullable=False)
    name: Mapped[str | None] = mapped_column(sa.String)
    scopes: Mapped[list[str]] = mapped_column(json_column(), nullable=False, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Feedback(Base):
    """A caller's rating of one decision's answer."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    decision_id: Mapped[str] = mapped_column(UUID, nullable=False, index=True)
    tenant: Mapped[str | None] = mapped_column(sa.String)
    score: Mapped[float | None] = mapped_column(sa.Float)
    thumbs: Mapped[int | None] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (sa.Index(None, "tenant", "created_at"),)
