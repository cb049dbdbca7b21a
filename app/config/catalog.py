"""Typed models of `config/routing_config.yaml`: providers, models, tiers, rules, thresholds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from app.config.enums import BudgetTier, Protocol, Region, Strategy, TaskType

NonNegativePrice = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)]
Score = Annotated[float, Field(ge=0, le=10)]
Weight = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """Every catalog section rejects unknown keys, so a typo fails start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(Strict):
    connect_s: float = Field(default=3.0, gt=0, le=60)
    read_s: float = Field(default=60.0, gt=0, le=600)
    # Streams: no first content chunk within first_token_s falls back to the next provider;
    # a gap over stream_idle_s after it ends the stream with an error event.
    first_token_s: float = Field(default=30.0, gt=0, le=600)
    stream_idle_s: float = Field(default=30.0, gt=0, le=600)


class Deployment(Strict):
    """One regional deployment of a provider (an Azure resource, a Bedrock or Vertex region)."""

    name: str = Field(min_length=1)
    region: Region
    base_url: HttpUrl | None = None


class ModelSpec(Strict):
    """A model: prices in USD per million tokens, window, tasks and quality per task."""

    name: str = Field(min_length=1)
    input_price: NonNegativePrice
    output_price: NonNegativePrice
    prices_checked: dt.date
    context_window: int = Field(gt=0, le=100_000_000)
    max_output_tokens: int | None = Field(default=None, gt=0)
    capabilities: frozenset[TaskType] = Field(min_length=1)
    quality: dict[TaskType, Score]
    deployments: tuple[str, ...] | None = None
    upstream_name: str | None = None

    @property
    def blended_price(self) -> Decimal:
        """The note's single figure: (3 x input + output) / 4, derived, never stored."""
        return (3 * self.input_price + self.output_price) / 4


class ProviderSpec(Strict):
    protocol: Protocol
    base_url: HttpUrl
    api_key_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    region: Region
    deployments: tuple[Deployment, ...] = ()
    compliance: frozenset[str] = frozenset()
    sla: float | None = Field(default=None, gt=0, le=100)
    self_hostable: bool = False
    timeouts: Timeouts = Timeouts()
    api_version: str | None = None
    probe: bool = True
    models: tuple[ModelSpec, ...] = Field(min_length=1)

    def all_deployments(self) -> tuple[Deployment, ...]:
        """The provider's deployments, or one implicit deployment in its home region."""
        return self.deployments or (Deployment(name="default", region=self.region),)


class BudgetTierSpec(Strict):
    max_blended_price: NonNegativePrice | None
    strategy: Strategy
    preferred_providers: tuple[str, ...] = ()
    savings_target_percent: float = Field(default=0, ge=0, le=100)


class StrategyWeights(Strict):
    """How a strategy mixes the four normalised score components (0..1 each)."""

    preference: Weight
    quality: Weight
    cost: Weight
    reliability: Weight = 0.0


class PreferenceWeights(Strict):
    """How much each kind of preference list counts; lists that do not apply are left out."""

    region: Weight = 0.4
    context: Weight = 0.25
    budget: Weight = 0.2
    task: Weight = 0.15


class RegionalRule(Strict):
    required_compliance: frozenset[str] = frozenset()
    preferred_providers: tuple[str, ...] = ()


class ContextClass(Strict):
    name: str
    max_tokens: int | None = Field(gt=0)
    preferred_providers: tuple[str, ...] = ()


class HealthThresholds(Strict):
    min_success_rate: float = Field(default=0.9, ge=0, le=1)
    max_consecutive_failures: int = Field(default=3, ge=1)
    max_mean_latency_ms: float = Field(default=5000, gt=0)
    window_seconds: float = Field(default=60, gt=0)
    min_requests: int = Field(default=20, ge=1)
    cooldown_base_s: float = Field(default=30, gt=0)
    cooldown_max_s: float = Field(default=300, gt=0)
    cooldown_jitter: float = Field(default=0.1, ge=0, le=1)
    half_open_successes: int = Field(default=1, ge=1)
    bad_key_eject_s: float = Field(default=300, gt=0)


class RetrySettings(Strict):
    max_attempts: int = Field(default=3, ge=1, le=10)
    deadline_s: float = Field(default=60, gt=0, le=600)
    backoff_min_ms: float = Field(default=25, ge=0)
    backoff_max_ms: float = Field(default=250, ge=0)
    retry_budget_ratio: float = Field(default=0.2, ge=0, le=1)
    retry_budget_min: int = Field(default=3, ge=0)


class Baseline(Strict):
    """What the caller would have paid without routing: the note's GPT-4 at $20 per M tokens."""

    provider: str
    model: str
    input_price: NonNegativePrice
    output_price: NonNegativePrice


class Alert(Strict):
    name: str
    kind: str = Field(pattern=r"^(daily_cost)$")
    threshold_usd: NonNegativePrice
    webhook_url: HttpUrl | None = None
    log: bool = True


class Defaults(Strict):
    max_fallbacks: int = Field(default=3, ge=0, le=11)
    expected_output_tokens: int = Field(default=500, ge=1)
    chars_per_token: float = Field(default=4.0, gt=0)


class QualityLearning(Strict):
    """How observed answers move a model's quality from the catalog's prior (Bayesian shrinkage).

    estimate = (prior x prior_weight + sum of weighted observations) / (prior_weight + sum of
    weights): with prior_weight observations' worth of evidence the estimate is halfway there.
    """

    prior_weight: float = Field(default=20.0, ge=0)
    heuristic_weight: float = Field(default=1.0, ge=0)
    feedback_weight: float = Field(default=3.0, ge=0)
    window_days: int = Field(default=30, ge=1, le=3650)
    refresh_s: float = Field(default=60.0, gt=0)


class ExperimentVariant(Strict):
    """One arm: its share of traffic (percent) and the policy it routes with."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    weight: float = Field(ge=0, le=100)
    strategy: Strategy | None = None
    quality_target: float | None = Field(default=None, ge=0, le=1)
    # Merged into the catalog for this arm (any section but experiments), then validated whole.
    catalog_overrides: dict[str, Any] = {}


class Experiment(Strict):
    """A split of traffic between routing policies, by a hash of the tenant or the request id."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    enabled: bool = False
    unit: Literal["tenant", "request"] = "tenant"
    variants: tuple[ExperimentVariant, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _weights_add_up(self) -> Experiment:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        if abs(sum(v.weight for v in self.variants) - 100) > 1e-6:
            raise ValueError("variant weights must add up to 100 (percent)")
        return self


class Catalog(Strict):
    """The whole routing catalog, validated at start-up."""

    version: int = 1
    defaults: Defaults = Defaults()
    providers: dict[str, ProviderSpec] = Field(min_length=1)
    budget_tiers: dict[BudgetTier, BudgetTierSpec]
    strategies: dict[Strategy, StrategyWeights]
    preference_weights: PreferenceWeights = PreferenceWeights()
    task_preferences: dict[TaskType, tuple[str, ...]] = {}
    regional_rules: dict[Region, RegionalRule] = {}
    context_classes: tuple[ContextClass, ...] = ()
    health: HealthThresholds = HealthThresholds()
    retries: RetrySettings = RetrySettings()
    baseline: Baseline
    alerts: tuple[Alert, ...] = ()
    quality_learning: QualityLearning = QualityLearning()
    experiments: tuple[Experiment, ...] = ()

    @model_validator(mode="after")
    def _one_running_experiment(self) -> Catalog:
        if sum(1 for e in self.experiments if e.enabled) > 1:
            raise ValueError("at most one experiment may be enabled at a time")
        if len({e.name for e in self.experiments}) != len(self.experiments):
            raise ValueError("experiment names must be unique")
        for i, exp in enumerate(self.experiments):
            for j, variant in enumerate(exp.variants):
                if not variant.catalog_overrides:
                    continue
                try:
                    self.for_variant(variant)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    where = ".".join(str(part) for part in err["loc"])
                    raise ValueError(f"experiments[{i}].variants[{j}].catalog_overrides: {where}: "
                                     f"{err['msg']}") from None
        return self

    def for_variant(self, variant: ExperimentVariant) -> Catalog:
        """This catalog with an experiment arm's overrides merged in and its strategy on every tier."""
        data = _merge(self.model_dump(exclude={"experiments"}), variant.catalog_overrides)
        if variant.strategy is not None:
            for tier in data["budget_tiers"].values():
                tier["strategy"] = variant.strategy
        return Catalog.model_validate(data)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`overrides` laid over `base`, mappings merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in overrides.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = _merge(current, value)
        else:
            out[key] = value
    return out
