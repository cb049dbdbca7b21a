"""Fault settings per provider, and the profile format that sets them at start-up.

Profile (YAML or JSON): {"providers": {name: settings}}; settings as in `FaultSettings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.simulator.providers import DIALECTS


class FaultSettings(BaseModel):
    """How one provider misbehaves; the defaults (an empty object) mean healthy."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    status: int | None = Field(default=None, ge=400, le=599)
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    hang: bool = False
    reset: bool = False
    truncate: bool = False
    retry_after: int | None = Field(default=None, ge=0, le=86_400)
    first_chunk_delay_ms: int = Field(default=0, ge=0, le=600_000)
    fail_after_chunks: int | None = Field(default=None, ge=0, le=100_000)

    @property
    def has_fault(self) -> bool:
        """Whether any failure mode is set (latency alone is not a failure)."""
        return (
            self.status is not None
            or self.hang
            or self.reset
            or self.truncate
            or self.fail_after_chunks is not None
        )

    @property
    def rate(self) -> float:
        """Share of requests that fail: error_rate, else 1.0 when a failure mode is set, else 0."""
        if self.error_rate is not None:
            return self.error_rate
        return 1.0 if self.has_fault else 0.0

    def applies_to(self, streamed: bool) -> bool:
        """Whether a drawn failure hits this request: fail_after_chunks alone only breaks streams."""
        only_mid_stream = self.fail_after_chunks is not None and not (
            self.status is not None or self.hang or self.reset or self.truncate
        )
        return streamed or not only_mid_stream

    @property
    def error_status(self) -> int:
        """The status an injected error answers with."""
        return self.status if self.status is not None else 500

    def public(self) -> dict[str, Any]:
        """The settings that differ from healthy, as given."""
        return self.model_dump(exclude_defaults=True)


class FaultProfile(BaseModel):
    """Start-up faults: settings per provider name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    providers: dict[str, FaultSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_providers(self) -> FaultProfile:
        unknown = sorted(set(self.providers) - set(DIALECTS))
        if unknown:
            raise ValueError(f"unknown providers {unknown}; known: {sorted(DIALECTS)}")
        return self


class ProfileError(ValueError):
    """A fault profile that cannot be read or is invalid; the message names the file and field."""


def parse_profile(raw: Any, *, source: str = "profile") -> FaultProfile:
    """Validate a profile given as a mapping (JSON types: ints, floats, bools, null)."""
    if isinstance(raw, FaultProfile):
        return raw
    if raw is None:
        return FaultProfile()
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{source}: expected a mapping with a 'providers' key")
    try:
        return FaultProfile.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()
        )
        raise ProfileError(f"{source}: {problems}") from None


def load_profile(path: str | Path) -> FaultProfile:
    """Read a YAML or JSON profile file."""
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{source}: cannot read the file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{source}: not valid YAML or JSON: {exc}") from exc
    return parse_profile(raw, source=str(source))
