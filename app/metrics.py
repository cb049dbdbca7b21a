"""Every Prometheus metric of the service, in one place (prefix `llm_router_`).

Labels are bounded: provider, model, task, outcome, strategy, direction. Never a tenant,
key, URL or message. Gauges declare how they combine across uvicorn workers
(prometheus-client multiprocess mode, enabled by PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposition() -> tuple[bytes, str]:
    """All metrics in the text format; with several workers, the sum over their files."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exited() -> None:
    """Drop this worker's live gauges from the multiprocess files (at shutdown)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DECISION_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2)

REQUESTS = Counter(
    "llm_router_requests_total", "Requests answered, by task, strategy and outcome",
    ["task", "strategy", "outcome"],
)
ATTEMPTS = Counter(
    "llm_router_attempts_total", "Calls to providers, by provider, model, task and outcome",
    ["provider", "model", "task", "outcome"],
)
FALLBACKS = Counter(
    "llm_router_fallbacks_total", "Times a provider failed and the next one in the chain was tried",
    ["provider", "task"],
)
REQUEST_LATENCY = Histogram(
    "llm_router_request_latency_seconds", "End-to-end request latency",
    ["task", "outcome"], buckets=LATENCY_BUCKETS,
)
DECISION_LATENCY = Histogram(
    "llm_router_decision_latency_seconds", "Time the routing engine takes to decide",
    ["strategy"], buckets=DECISION_BUCKETS,
)
ATTEMPT_LATENCY = Histogram(
    "llm_router_attempt_latency_seconds", "Latency of one provider call",
    ["provider", "outcome"], buckets=LATENCY_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "llm_router_time_to_first_token_seconds", "Streamed calls: request sent to first content chunk",
    ["provider"], buckets=LATENCY_BUCKETS,
)
STREAMS_BROKEN = Counter(
    "llm_router_streams_broken_total",
    "Streams ended after their first byte: provider failure, idle timeout or client disconnect",
    ["provider", "reason"],
)
TOKENS = Counter(
    "llm_router_tokens_total", "Tokens billed by providers", ["provider", "model", "direction"],
)
COST = Counter(
    "llm_router_cost_usd_total", "Real cost in USD of provider calls", ["provider", "model", "task"],
)
BASELINE_COST = Counter(
    "llm_router_baseline_cost_usd_total", "What the baseline model would have cost", ["task"],
)
QUALITY = Histogram(
    "llm_router_quality_score", "Quality score (0-10, the design note's heuristic) of answers",
    ["provider"], buckets=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
)
PROVIDER_HEALTH = Gauge(
    "llm_router_provider_health", "1 healthy, 0.5 degraded, 0 open", ["provider"],
    multiprocess_mode="livemostrecent",
)
PROVIDER_SUCCESS_RATE = Gauge(
    "llm_router_provider_success_rate", "Success rate over the health window", ["provider"],
    multiprocess_mode="livemostrecent",
)
CIRCUIT_STATE = Gauge(
    "llm_router_circuit_state", "0 closed, 1 half-open, 2 open", ["provider"],
    multiprocess_mode="livemostrecent",
)
RECORD_QUEUE_DEPTH = Gauge(
    "llm_router_record_queue_depth", "Records waiting to be written", multiprocess_mode="livesum",
)
SPOOL_DEPTH = Gauge(
    "llm_router_spool_depth", "Records in the on-disk spool, waiting for the database",
    multiprocess_mode="livesum",
)
RECORDS_WRITTEN = Counter("llm_router_records_written_total", "Records committed to the database")
RECORDS_DROPPED = Counter(
    "llm_router_records_dropped_total", "Records lost (must stay 0: alert on any increase)",
)
RECORDS_REJECTED = Counter(
    "llm_router_records_rejected_total",
    "Records the database refused as invalid, kept in the spool's dead-letter file",
)
