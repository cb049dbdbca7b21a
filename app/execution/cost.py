"""What an answer cost, exactly, at the catalog's prices; and what the baseline would have cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.providers.base import ChatRequest, Completion, Usage
from app.routing.schemas import Candidate, RoutingDecision
from app.routing.tokens import estimate_text_tokens

PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Costing:
    usage: Usage
    cost_usd: Decimal
    baseline_cost_usd: Decimal
    estimated: bool


def counted_usage(request: ChatRequest, content: str, chars_per_token: float) -> Usage:
    """Tokens counted from the text when the provider reported none (flagged as estimated)."""
    prompt = (request.system or "") + "".join(t.text for t in request.turns)
    return Usage(estimate_text_tokens(prompt, chars_per_token),
                 estimate_text_tokens(content, chars_per_token))


def price(usage: Usage, input_price: Decimal, output_price: Decimal) -> Decimal:
    """USD for these tokens at prices per million tokens, as an exact Decimal."""
    return (usage.input_tokens * input_price + usage.output_tokens * output_price) / PER_MILLION


def cost_of(
    completion: Completion,
    candidate: Candidate,
    decision: RoutingDecision,
    request: ChatRequest | None,
    *,
    chars_per_token: float,
) -> Costing:
    """Never silently 0: without a usage block the tokens are counted and the cost flagged estimated."""
    usage = completion.usage
    estimated = usage is None
    if usage is None:
        usage = counted_usage(request or ChatRequest(turns=()), completion.content, chars_per_token)
    return Costing(
        usage=usage,
        cost_usd=price(usage, candidate.input_price, candidate.output_price),
        baseline_cost_usd=price(usage, decision.baseline_input_price, decision.baseline_output_price),
        estimated=estimated,
    )
