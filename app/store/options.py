"""Tuning of the write-behind writer, from ROUTER_RECORD_* / ROUTER_SPOOL_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WriterOptions(BaseSettings):
    """Queue, batch, spool and shutdown limits (the defaults follow RELIABILITY.md)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True, populate_by_name=True)

    queue_size: int = Field(default=20_000, alias="ROUTER_RECORD_QUEUE_SIZE", ge=10)
    # 100, not RELIABILITY.md's ceiling of 500: under load a smaller batch keeps the writer's
    # working set in cache between requests (bench_store: recording cost 22 % of /route
    # throughput at 500, 8-9 % at 100; /execute on SQLite no worse at concurrency 1, better at 16).
    batch_size: int = Field(default=100, alias="ROUTER_RECORD_BATCH_SIZE", ge=1, le=5000)
    # A batch is written once it has `batch_size` rows (or after `batch_wait_s`) and takes
    # everything queued by then, up to `batch_max` (RELIABILITY.md's 500): when the writer falls
    # behind, its batches grow instead of the queue. A batch's fixed cost (a transaction, the
    # roll-ups, on SQLite a GIL wait per statement while the event loop is busy: ~100 ms a batch
    # at saturation here) then spreads over more rows; at 100 rows the queue reached the spool.
    batch_max: int = Field(default=500, alias="ROUTER_RECORD_BATCH_MAX", ge=1, le=5000)
    batch_wait_s: float = Field(default=0.2, alias="ROUTER_RECORD_BATCH_WAIT_S", ge=0, le=5)
    spool_at_fraction: float = Field(default=0.8, alias="ROUTER_SPOOL_AT_FRACTION", gt=0, le=1)
    unreachable_s: float = Field(default=2.0, alias="ROUTER_SPOOL_AFTER_S", gt=0)
    fsync_interval_s: float = Field(default=0.1, alias="ROUTER_SPOOL_FSYNC_S", ge=0)
    write_timeout_s: float = Field(default=5.0, alias="ROUTER_RECORD_WRITE_TIMEOUT_S", gt=0)
    retry_max_s: float = Field(default=2.0, alias="ROUTER_RECORD_RETRY_MAX_S", gt=0)
    shutdown_flush_s: float = Field(default=10.0, alias="ROUTER_SHUTDOWN_FLUSH_S", ge=0)
