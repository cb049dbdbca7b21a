"""The simulator's run-time state: fault settings, seeded draws and counters per provider."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.simulator.faults import FaultProfile, FaultSettings
from app.simulator.providers import DIALECTS, ModelTable

OK = "ok"
HEALTHY = FaultSettings()


@dataclass
class ProviderCounters:
    """Requests received by one provider, by outcome."""

    requests: int = 0
    by_outcome: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """{"requests", "errors", "by_outcome"}; errors are every outcome but ok."""
        errors = sum(n for outcome, n in self.by_outcome.items() if outcome != OK)
        return {"requests": self.requests, "errors": errors, "by_outcome": dict(self.by_outcome)}


class SimulatorState:
    """Everything that changes while the simulator runs; used from its event loop only."""

    def __init__(self, profile: FaultProfile, *, seed: int, models: ModelTable) -> None:
        self.profile = profile
        self.seed = seed
        self.models = models
        self._settings: dict[str, FaultSettings] = {}
        self._rngs: dict[str, random.Random] = {}
        self._counters: dict[str, ProviderCounters] = {}
        self._sequence = 0
        self._stopping: asyncio.Event | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the start-up profile, counters cleared, every random draw re-seeded."""
        self._settings = {p: self.profile.providers.get(p, HEALTHY) for p in DIALECTS}
        self._rngs = {p: self._rng(p) for p in DIALECTS}
        self._counters = {p: ProviderCounters() for p in DIALECTS}

    def _rng(self, provider: str) -> random.Random:
        # One stream per provider, so one provider's traffic never shifts another's draws.
        return random.Random(f"{self.seed}/{provider}")

    def settings(self, provider: str) -> FaultSettings:
        """The provider's current fault settings."""
        return self._settings[provider]

    def all_settings(self) -> dict[str, dict[str, Any]]:
        """Every provider's non-default settings."""
        return {p: s.public() for p, s in self._settings.items()}

    def configure(self, provider: str, settings: FaultSettings) -> None:
        """Replace a provider's settings and re-seed its draws, so the same settings repeat."""
        self._settings[provider] = settings
        self._rngs[provider] = self._rng(provider)

    def arrive(self, provider: str) -> str:
        """Count a request and give it an id unique within this run."""
        self._counters[provider].requests += 1
        self._sequence += 1
        return f"{self._sequence:010d}"

    def record(self, provider: str, outcome: str) -> None:
        """Count how a request ended."""
        self._counters[provider].by_outcome[outcome] += 1

    def draw_fault(self, provider: str) -> bool:
        """Whether this request fails, drawn from the provider's seeded stream."""
        rate = self._settings[provider].rate
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        return self._rngs[provider].random() < rate

    def stats(self) -> dict[str, Any]:
        """{"providers": {name: {"requests", "errors", "by_outcome"}}}."""
        return {"providers": {p: c.as_dict() for p, c in self._counters.items()}}

    @property
    def stopping(self) -> asyncio.Event:
        """Set when the server shuts down, so hanging requests let go."""
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping
