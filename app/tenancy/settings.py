"""Tenancy settings from the environment (ROUTER_AUTH_*, ROUTER_BUDGET_*, ROUTER_MAX_*)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.tenancy.apikeys import DEFAULT_PEPPER

DEFAULT_PUBLIC_PATHS = ("/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json")


class TenancySettings(BaseSettings):
    """Authentication cache, load shedding, budgets and rate-limit storage."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True, populate_by_name=True)

    # A revoked key or a changed tenant limit is honoured by every replica within this bound.
    auth_cache_ttl_s: float = Field(default=5.0, alias="ROUTER_AUTH_CACHE_TTL_S", ge=0, le=300)
    auth_cache_size: int = Field(default=10_000, alias="ROUTER_AUTH_CACHE_SIZE", ge=1)
    key_pepper: SecretStr | None = Field(default=None, alias="ROUTER_KEY_PEPPER")
    public_paths: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_PUBLIC_PATHS, alias="ROUTER_PUBLIC_PATHS")
    max_in_flight: int = Field(default=512, alias="ROUTER_MAX_IN_FLIGHT", ge=1)
    reservation_grace_s: float = Field(default=60.0, alias="ROUTER_BUDGET_RESERVATION_GRACE_S", gt=0)
    sweep_interval_s: float = Field(default=30.0, alias="ROUTER_BUDGET_SWEEP_S", gt=0)
    redis_prefix: str = Field(default="llm_router", alias="ROUTER_REDIS_PREFIX", min_length=1)

    @field_validator("public_paths", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @property
    def pepper(self) -> bytes:
        """The HMAC key of stored API-key hashes; changing it invalidates every key."""
        if self.key_pepper is not None and self.key_pepper.get_secret_value():
            return self.key_pepper.get_secret_value().encode()
        return DEFAULT_PEPPER
