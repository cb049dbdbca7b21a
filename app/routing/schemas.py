"""Request and decision types of the routing engine (the decision's field names are public API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.config.enums import BudgetTier, CircuitState, ExclusionReason, Region, Strategy, TaskType

MAX_CONTEXT_TOKENS = 10_000_000
MAX_PROMPT_CHARS = 4_000_000
AUTO_BUDGET = "auto"
AUTO_QUALITY_TARGET = 0.9


class ChatMessage(BaseModel):
    """One OpenAI-format message; `content` is text or a list of content parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class RouteRequest(BaseModel):
    """What the caller needs: task, budget, size and where the data may go."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "task_type": "chat",
                    "budget": "low",
                    "context_size": 2000,
                    "region": "global",
                    "requires_sla": False,
                    "requires_compliance": False,
                    "expected_output_tokens": 500,
                }
            ]
        },
    )

    task_type: TaskType
    budget: BudgetTier = Field(
        description='A tier, or "auto": no price ceiling, and the cheapest model that meets '
                    f"`quality_target` (default {AUTO_QUALITY_TARGET}) for this prompt's "
                    "estimated difficulty leads.",
    )
    context_size: Annotated[int, Field(ge=0, le=MAX_CONTEXT_TOKENS)] | None = Field(
        default=None, description="Input tokens; estimated from prompt or messages when absent."
    )
    prompt: Annotated[str, Field(max_length=MAX_PROMPT_CHARS)] | None = None
    messages: Annotated[list[ChatMessage], Field(max_length=1000)] | None = None
    region: Region = Region.GLOBAL
    requires_sla: bool = False
    requires_compliance: bool = False
    expected_output_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    tenant: Annotated[str, Field(max_length=128)] | None = None
    user: Annotated[str, Field(max_length=128)] | None = None
    quality_target: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None,
        description="Share (0-1) of the best eligible model's expected quality to reach: the "
                    "cheapest model meeting it, given the prompt's estimated difficulty, leads.",
    )

    @model_validator(mode="before")
    @classmethod
    def _auto_budget(cls, data: Any) -> Any:
        # "auto" is sugar: the unlimited tier, chosen among by difficulty and a quality target
        if isinstance(data, dict) and data.get("budget") == AUTO_BUDGET:
            data = {**data, "budget": BudgetTier.UNLIMITED.value}
            if data.get("quality_target") is None:
                data["quality_target"] = AUTO_QUALITY_TARGET
        return data

    @model_validator(mode="after")
    def _one_prompt_form(self) -> RouteRequest:
        if self.prompt is not None and self.messages is not None:
            raise ValueError("give either `prompt` or `messages`, not both")
        return self


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """A provider's health as the router sees it (produced by the health tracker)."""

    name: str
    state: CircuitState = CircuitState.CLOSED
    success_rate: float = 1.0
    consecutive_failures: int = 0
    mean_latency_ms: float = 0.0
    requests: int = 0
    cooldown_until: float | None = None
    last_error: str | None = None
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """One model in one regional deployment, with everything the router needs precomputed."""

    provider: str
    model: str
    deployment: str
    region: Region
    input_price: Decimal
    output_price: Decimal
    blended_price: Decimal
    context_window: int
    max_output_tokens: int | None
    capabilities: frozenset[TaskType]
    quality: dict[TaskType, float]
    compliance: frozenset[str]
    sla: float | None
    input_price_f: float = 0.0
    output_price_f: float = 0.0
    blended_price_f: float = 0.0

    def __post_init__(self) -> None:
        # float copies for responses and scoring; exact Decimals stay for stored costs
        object.__setattr__(self, "input_price_f", float(self.input_price))
        object.__setattr__(self, "output_price_f", float(self.output_price))
        object.__setattr__(self, "blended_price_f", float(self.blended_price))

    def estimate_cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """USD for these tokens at this model's prices (per million tokens), exactly."""
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1_000_000

    def estimate_cost_float(self, input_tokens: int, output_tokens: int) -> float:
        """The same estimate as a float, for responses (the store keeps the exact Decimal)."""
        return (input_tokens * self.input_price_f + output_tokens * self.output_price_f) / 1e6


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate that passed the static filters, with its score and the parts of it."""

    candidate: Candidate
    score: float
    preference: float
    quality: float
    cost: float
    reliability: float
    preferred_by: tuple[str, ...]
    _entry: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def record_entry(self, task: TaskType) -> dict[str, Any]:
        """This model as a chain entry of the decision record (the same dict every time: a
        Scored belongs to one task's memoised ranking). Its estimated cost depends on each
        decision's tokens, so it is not here (app/store/decision_lists.py adds it back)."""
        entry = self._entry
        if entry is None:
            c = self.candidate
            entry = {
                "provider": c.provider, "model": c.model, "region": c.region,
                "deployment": c.deployment, "input_price": c.input_price_f,
                "output_price": c.output_price_f, "blended_price": c.blended_price_f,
                "expected_quality": c.quality[task], "score": self.score,
            }
            object.__setattr__(self, "_entry", entry)  # a cache on a frozen value
        return entry


@dataclass(slots=True)
class Exclusion:
    """A model left out of a decision, and why (public API: `excluded[]`).

    The detail sentence is formatted only when a response needs it: a catalog of 1,000 models
    excludes hundreds per decision, and most decisions reuse memoised exclusions.
    """

    provider: str
    model: str
    region: Region
    reason: ExclusionReason
    template: str
    args: tuple[Any, ...] = ()
    _payload: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def detail(self) -> str:
        return self.template.format(*self.args)

    def to_dict(self) -> dict[str, str]:
        """The public dict; built once, since static exclusions are shared by many decisions."""
        if self._payload is None:
            self._payload = {
                "provider": self.provider,
                "model": self.model,
                "region": self.region.value,
                "reason": self.reason.value,
                "detail": self.detail,
            }
        return self._payload


@dataclass(slots=True)
class RoutingDecision:
    """The engine's answer: the ordered chain, what was left out, and the costs it expects."""

    decision_id: str
    task_type: TaskType
    budget: BudgetTier
    region: Region
    requires_sla: bool
    requires_compliance: bool
    strategy: Strategy
    input_tokens: int
    output_tokens: int
    chain: tuple[Scored, ...]
    excluded: tuple[Exclusion, ...]
    baseline_input_price: Decimal
    baseline_output_price: Decimal
    eligible_count: int = 0
    panic: bool = False
    # The first `shared_excluded` of `excluded` are the memoised static exclusions, the same for
    # every decision with these constraints (the store keeps them once).
    shared_excluded: int = 0
    tenant: str | None = None
    user: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> Scored:
        return self.chain[0]

    @property
    def primary_provider(self) -> str:
        return self.chain[0].candidate.provider

    @property
    def fallback_providers(self) -> list[str]:
        """Providers after the primary, in order, each once."""
        seen = {self.chain[0].candidate.provider}
        out: list[str] = []
        for s in self.chain[1:]:
            if s.candidate.provider not in seen:
                seen.add(s.candidate.provider)
                out.append(s.candidate.provider)
        return out

    @property
    def estimated_cost_usd(self) -> Decimal:
        return self.chain[0].candidate.estimate_cost(self.input_tokens, self.output_tokens)

    @property
    def baseline_cost_usd(self) -> Decimal:
        return (
            self.input_tokens * self.baseline_input_price
            + self.output_tokens * self.baseline_output_price
        ) / 1_000_000
