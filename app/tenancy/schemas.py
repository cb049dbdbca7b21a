"""Admin request bodies: tenants with budgets and rate limits, and new API keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.config.enums import BudgetTier
from app.tenancy.principal import TENANT_DEFAULT_SCOPES, Scope

TENANT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Usd = Annotated[Decimal, Field(ge=0, le=100_000_000, max_digits=18, decimal_places=10)]
Rpm = Annotated[int, Field(ge=1, le=10_000_000)]
Tpm = Annotated[int, Field(ge=1, le=10_000_000_000)]


class TenantLimits(BaseModel):
    """Budgets (USD per UTC day and month; soft warns, hard refuses) and per-minute rate limits."""

    model_config = ConfigDict(extra="forbid")

    default_budget: BudgetTier | None = None
    daily_soft_limit_usd: Usd | None = None
    daily_hard_limit_usd: Usd | None = None
    monthly_soft_limit_usd: Usd | None = None
    monthly_hard_limit_usd: Usd | None = None
    downgrade_on_budget: bool | None = Field(
        default=None, description="Near a hard limit, try cheaper budget tiers before refusing.")
    store_prompts: bool | None = Field(default=None, description="Opt in to storing prompts.")
    rate_limit_rpm: Rpm | None = None
    rate_limit_tpm: Tpm | None = None


class TenantCreate(TenantLimits):
    name: Annotated[str, Field(pattern=TENANT_NAME)]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=100)] | None = None
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=4)] = Field(
        default_factory=lambda: sorted(TENANT_DEFAULT_SCOPES))
