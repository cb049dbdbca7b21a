"""The closed vocabularies shared by the catalog, the router and the API (public names)."""

from __future__ import annotations

from enum import StrEnum


class TaskType(StrEnum):
    """What the request asks a model to do."""

    CHAT = "chat"
    REASONING = "reasoning"
    RAG = "rag"
    CODE = "code"
    WEB_SEARCH = "web_search"
    VISION = "vision"
    SUMMARIZATION = "summarization"
    TRANSLATION = "translation"


class BudgetTier(StrEnum):
    """How much the caller will pay, as a ceiling on the blended price per million tokens."""

    FREE = "free"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    UNLIMITED = "unlimited"


class Region(StrEnum):
    """Where the data may be processed: `global` allows every deployment."""

    EU = "eu"
    US = "us"
    GLOBAL = "global"


class Strategy(StrEnum):
    """How a budget tier weighs preference, quality, cost and reliability."""

    COST_OPTIMIZED = "cost_optimized"
    BALANCED = "balanced"
    QUALITY_FIRST = "quality_first"
    RELIABILITY_FIRST = "reliability_first"


class Protocol(StrEnum):
    """The wire format a provider speaks."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    COHERE = "cohere"
    BEDROCK = "bedrock"


class ExclusionReason(StrEnum):
    """Why a model was left out of a decision (public API: `excluded[].reason`)."""

    CAPABILITY = "capability"
    CONTEXT = "context"
    BUDGET = "budget"
    REGION = "region"
    COMPLIANCE = "compliance"
    SLA = "sla"
    UNHEALTHY = "unhealthy"
    NO_KEY = "no_key"


class CircuitState(StrEnum):
    """A provider's circuit breaker state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
