"""The pipeline's tenancy hooks: the tenant comes from the key, then tokens and budget are admitted.

`bind_tenant` runs for every decision; `admit` runs before an execution calls any provider and
returns an Admission whose `settle` replaces the held estimate by the real cost. With
`downgrade_on_budget` a refused hold is retried on cheaper tiers before the 402.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from app.config.enums import BudgetTier
from app.errors import BudgetExceeded, Forbidden, NoEligibleProvider, RateLimited, ServiceUnavailable
from app.records import AttemptRecord
from app.routing.schemas import RouteRequest, RoutingDecision
from app.tenancy.authn import STORE_DOWN
from app.tenancy.budgets import Hold
from app.tenancy.principal import Kind, TenantPolicy, current
from app.tenancy.ratelimit import retry_after_header

if TYPE_CHECKING:
    from app.context import ServiceContext
    from app.tenancy.service import Tenancy

log = logging.getLogger(__name__)

TIERS = list(BudgetTier)


class TenantMismatch(Forbidden):
    code = "tenant_mismatch"


def bind_tenant(request: RouteRequest) -> None:
    """A tenant key's tenant replaces the body's `tenant` tag; a different tag is refused (403)."""
    principal = current.get()
    if principal is None or principal.kind is not Kind.TENANT:
        return  # authentication off (the tag stays a tag) or the admin acting for a tenant
    name = principal.tenant_name
    if request.tenant is not None and request.tenant != name:
        raise TenantMismatch("`tenant` comes from your API key; leave it out or send your own",
                             details={"field": "tenant"})
    request.tenant = name


def reserve_amount(decision: RoutingDecision) -> Decimal:
    """The most any model of the chain would cost for the expected tokens (fallback may reach it)."""
    return max(s.candidate.estimate_cost(decision.input_tokens, decision.output_tokens)
               for s in decision.chain)


def cheaper_tiers(tier: BudgetTier) -> list[BudgetTier]:
    """The tiers below `tier`, most expensive first."""
    return list(reversed(TIERS[:TIERS.index(tier)]))


@dataclass
class Admission:
    """An execution let through: its (maybe downgraded) decision and the budget it holds."""

    decision: RoutingDecision
    tenancy: Tenancy | None = None
    hold: Hold | None = None
    settled: bool = False

    async def settle(self, attempts: list[AttemptRecord]) -> None:
        """Spend the real cost of every attempt in place of the estimate."""
        if self.hold is None or self.settled or self.tenancy is None or self.tenancy.budgets is None:
            return
        self.settled = True
        actual = sum((a.cost_usd for a in attempts), Decimal(0))
        try:
            await self.tenancy.budgets.settle(self.hold, actual)
        except Exception as exc:
            log.warning("budget settlement of %s failed (%s); retrying in the background",
                        self.hold.id, type(exc).__name__)
            self.tenancy.spawn(self.tenancy.budgets.settle(self.hold, actual))

    def abandon(self) -> None:
        """The call was cancelled or crashed: count the estimate as spent (it may have been billed)."""
        if self.hold is None or self.settled or self.tenancy is None or self.tenancy.budgets is None:
            return
        self.settled = True
        self.tenancy.spawn(self.tenancy.budgets.settle(self.hold, self.hold.amount_usd))


async def admit(ctx: ServiceContext, request: RouteRequest, decision: RoutingDecision, *,
                deadline_s: float) -> Admission:
    """Take the tenant's tokens (429) and hold its budget (402), downgrading the tier if allowed."""
    tenancy = ctx.tenancy
    if tenancy is None or decision.tenant is None:
        return Admission(decision)
    policy = await _policy(tenancy, decision.tenant)
    if policy is None:
        return Admission(decision)
    if policy.rate_limit_tpm:
        tokens = decision.input_tokens + decision.output_tokens
        wait = await tenancy.limiter.take(f"tpm:{policy.id}", tokens, per_minute=policy.rate_limit_tpm)
        if wait is not None:
            raise RateLimited(
                f"tenant {policy.name} is over its limit of {policy.rate_limit_tpm} tokens per minute",
                details={"limit": "tokens_per_minute", "tokens_per_minute": policy.rate_limit_tpm,
                         "requested_tokens": tokens, "retry_after_s": round(wait, 3)},
                headers={"retry-after": retry_after_header(wait)})
    if not policy.has_budget or tenancy.budgets is None:
        return Admission(decision, tenancy)
    budgets = tenancy.budgets
    try:
        hold = await budgets.reserve(policy, reserve_amount(decision), deadline_s=deadline_s,
                                     decision_id=decision.decision_id)
        return Admission(decision, tenancy, hold)
    except STORE_DOWN as exc:
        # the hold is what keeps concurrent requests under the budget: without it, do not spend
        raise ServiceUnavailable(
            f"tenant {policy.name}'s budget ledger is unreachable; retry shortly",
            headers={"retry-after": "2"}, details={"retry_after_s": 2},
        ) from exc
    except BudgetExceeded as refused:
        if not policy.downgrade_on_budget:
            raise
        for tier in cheaper_tiers(decision.budget):
            try:
                cheaper = ctx.router.decide(request.model_copy(update={"budget": tier}),
                                            health=ctx.health.snapshot() if ctx.health else None,
                                            keyed=ctx.keyed_providers, decision_id=decision.decision_id)
            except NoEligibleProvider:
                continue
            try:
                hold = await budgets.reserve(policy, reserve_amount(cheaper), deadline_s=deadline_s,
                                             decision_id=decision.decision_id)
            except BudgetExceeded:
                continue
            cheaper.extra["budget_downgrade"] = {"from": decision.budget.value, "to": tier.value}
            log.info("tenant %s near its budget: %s downgraded from %s to %s", policy.name,
                     decision.decision_id, decision.budget.value, tier.value)
            return Admission(cheaper, tenancy, hold)
        refused.details["downgrade_tried"] = [t.value for t in cheaper_tiers(decision.budget)]
        raise


async def _policy(tenancy: Tenancy, name: str) -> TenantPolicy | None:
    principal = current.get()
    if principal is not None and principal.tenant is not None and principal.tenant.name == name:
        return principal.tenant
    return await tenancy.policy_for(name)
