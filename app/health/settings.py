"""Health settings from the environment (ROUTER_HEALTH_*); the thresholds live in the catalog."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HealthSettings(BaseSettings):
    """Intervals of the background work and where the shared state lives in Redis."""

    model_config = SettingsConfigDict(env_prefix="ROUTER_HEALTH_", extra="ignore", frozen=True)

    redis_prefix: str = Field(default="llm_router:health:", min_length=1, max_length=200)
    resync_s: float = Field(default=1.0, gt=0, le=60)
    tick_s: float = Field(default=1.0, gt=0, le=60)
    probes: bool = True
    probe_interval_s: float = Field(default=30.0, gt=0)
    probe_timeout_s: float = Field(default=10.0, gt=0, le=120)
    snapshot_interval_s: float = Field(default=60.0, gt=0)
    alert_interval_s: float = Field(default=60.0, gt=0)
    leader_ttl_s: float = Field(default=15.0, gt=0)
