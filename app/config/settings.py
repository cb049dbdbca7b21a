"""Service settings from environment variables, validated at start-up (secrets only from here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./data/router.db"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    router_config: Path | None = Field(default=None, description="catalog file (ROUTER_CONFIG)")
    database_url: str = Field(default=DEFAULT_SQLITE_URL)
    redis_url: str | None = None
    router_master_key: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="ROUTER_CORS_ORIGINS")
    max_body_bytes: int = Field(default=1_048_576, alias="ROUTER_MAX_BODY_BYTES", gt=0)
    data_dir: Path = Field(default=Path("./data"), alias="ROUTER_DATA_DIR")
    record_decisions: bool = Field(default=True, alias="ROUTER_RECORD_DECISIONS")
    log_level: str = Field(default="INFO", alias="ROUTER_LOG_LEVEL")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value

    @property
    def auth_enabled(self) -> bool:
        return self.router_master_key is not None and bool(
            self.router_master_key.get_secret_value()
        )
