"""Tuning of the write-behind writer, from ROUTER_RECORD_* / ROUTER_SPOOL_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WriterOptions(BaseSettings):
    """Queue, batch, spool and shutdown limits (the defaults follow RELIABILITY.md)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True, populate_by_name=True)

    queue_size: int = Field(default=20_000, alias="ROUTER_RECORD_QUEUE_SIZE", ge=10)
    # A batch is written once `batch_size` rows wait (or `batch_wait_s` after the oldest) and
    # takes everything queued by then, up to `batch_max`. Both default to RELIABILITY.md's 500
    # rows; a smaller `batch_size` makes batches grow up to `batch_max` when the writer falls
    # behind. A batch's fixed cost (a transaction, a pool ping, the roll-ups, on SQLite a GIL wait
    # per statement while the event loop is busy) spreads over more rows: in same-run A/Bs on the
    # AMD EPYC machine (bench_ab.py --this-env ROUTER_RECORD_BATCH_SIZE=500) 500 beat 100 in all
    # six, -1 to -5 % CPU a request on /v1/chat/completions and /route, SQLite and PostgreSQL.
    # (bench_store once measured the opposite on an earlier machine, before batches could grow:
    # recording cost 22 % of /route throughput at 500, 8-9 % at 100.)
    batch_size: int = Field(default=500, alias="ROUTER_RECORD_BATCH_SIZE", ge=1, le=5000)
    batch_max: int = Field(default=500, alias="ROUTER_RECORD_BATCH_MAX", ge=1, le=5000)
    batch_wait_s: float = Field(default=0.2, alias="ROUTER_RECORD_BATCH_WAIT_S", ge=0, le=5)
    # SQLite files: batches run in a writer process of their own (app/store/sqlite_process.py),
    # not in aiosqlite's thread beside the event loop.
    sqlite_process: bool = Field(default=True, alias="ROUTER_SQLITE_WRITER_PROCESS")
    spool_at_fraction: float = Field(default=0.8, alias="ROUTER_SPOOL_AT_FRACTION", gt=0, le=1)
    unreachable_s: float = Field(default=2.0, alias="ROUTER_SPOOL_AFTER_S", gt=0)
    fsync_interval_s: float = Field(default=0.1, alias="ROUTER_SPOOL_FSYNC_S", ge=0)
    write_timeout_s: float = Field(default=5.0, alias="ROUTER_RECORD_WRITE_TIMEOUT_S", gt=0)
    retry_max_s: float = Field(default=2.0, alias="ROUTER_RECORD_RETRY_MAX_S", gt=0)
    shutdown_flush_s: float = Field(default=10.0, alias="ROUTER_SHUTDOWN_FLUSH_S", ge=0)
    # A running writer takes over spool segments that another process sharing the data directory
    # left behind (one that stopped past its flush deadline while this one ran) every this often;
    # 0: only at start.
    orphan_scan_s: float = Field(default=30.0, alias="ROUTER_SPOOL_ORPHAN_SCAN_S", ge=0)
