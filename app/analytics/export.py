"""Export: the summary (providers, costs, tasks, recommendations) and, on request, every decision.

Raw records stream from a server-side cursor a partition at a time (`yield_per`), each
partition's attempts fetched by id, and leave as bytes at once, so a month of records exports
in constant memory. Formats: one JSON document; CSV (the provider table, or with raw data one
row per attempt); NDJSON in the Elasticsearch bulk format (an action line before each document).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.analytics.decisions import attempts_by_decision, decision_payload, decisions_query
from app.analytics.options import ExportFormat
from app.analytics.window import Window

PARTITION = 1000
INDEX_PREFIX = "llm-router"

Summary = Callable[[], Awaitable[dict[str, Any]]]

ATTEMPT_COLUMNS = (
    "decision_id", "decision_created_at", "tenant", "task_type", "budget", "region", "status",
    "routing_strategy", "primary_provider", "attempt_order", "provider", "model", "outcome",
    "error_class", "status_code", "latency_ms", "is_fallback", "input_tokens", "output_tokens",
    "cost_usd", "baseline_cost_usd", "cost_estimated", "quality_score",
)
PROVIDER_COLUMNS = (
    "provider", "requests", "success_rate", "avg_response_time_ms", "p95_response_time_ms",
    "total_cost_usd", "baseline_cost_usd", "savings_usd", "quality_score", "fallback_rate", "rating",
)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


async def _decision_pages(
    session: AsyncSession, window: Window, tenant: str | None
) -> AsyncIterator[list[dict[str, Any]]]:
    stmt = decisions_query(window, tenant=tenant).execution_options(yield_per=PARTITION)
    result = await session.stream(stmt)
    async for partition in result.partitions():
        attempts = await attempts_by_decision(session, [r.id for r in partition])
        yield [decision_payload(r, attempts.get(r.id, [])) for r in partition]


async def export_stream(
    sessions: async_sessionmaker[AsyncSession],
    window: Window,
    *,
    fmt: ExportFormat,
    include_raw_data: bool,
    summary: Summary,
    tenant: str | None = None,
) -> AsyncIterator[bytes]:
    """The export as chunks of bytes; `summary()` gives the aggregate part."""
    head = await summary()
    async with sessions() as session:
        generated = dt.datetime.now(dt.UTC).isoformat()
        meta = {"generated_at": generated, "window_start": window.start.isoformat(),
                "window_end": window.end.isoformat(), "window_hours": window.hours, "tenant": tenant}
        pages = _decision_pages(session, window, tenant) if include_raw_data else None
        if fmt is ExportFormat.JSON:
            async for chunk in _json(meta, head, pages):
                yield chunk
        elif fmt is ExportFormat.NDJSON:
            async for chunk in _ndjson(meta, head, pages):
                yield chunk
        else:
            async for chunk in _csv(head, pages):
                yield chunk


async def _json(meta: dict[str, Any], head: dict[str, Any],
                pages: AsyncIterator[list[dict[str, Any]]] | None) -> AsyncIterator[bytes]:
    opening = _dumps({**meta, **head})
    if pages is None:
        yield opening
        return
    yield opening[:-1] + b',"decisions":['
    first = True
    async for page in pages:
        body = b",".join(_dumps(d) for d in page)
        if body:
            yield body if first else b"," + body
            first = False
    yield b"]}"


def _bulk(index: str, doc_id: str, doc: dict[str, Any]) -> bytes:
    return _dumps({"index": {"_index": index, "_id": doc_id}}) + b"\n" + _dumps(doc) + b"\n"


async def _ndjson(meta: dict[str, Any], head: dict[str, Any],
                  pages: AsyncIterator[list[dict[str, Any]]] | None) -> AsyncIterator[bytes]:
    stamp = meta["window_end"]
    scope = meta["tenant"] or "all"
    chunks = [_bulk(f"{INDEX_PREFIX}-provider-stats", f"{p['provider']}:{scope}:{stamp}",
                    {"@timestamp": stamp, **meta, **p}) for p in head.get("providers", [])]
    chunks.append(_bulk(f"{INDEX_PREFIX}-costs", f"{scope}:{stamp}",
                        {"@timestamp": stamp, **meta, **head.get("costs", {})}))
    for i, rec in enumerate(head.get("recommendations", [])):
        chunks.append(_bulk(f"{INDEX_PREFIX}-recommendations", f"{scope}:{stamp}:{i}",
                            {"@timestamp": stamp, **meta, **rec}))
    yield b"".join(chunks)
    if pages is None:
        return
    async for page in pages:
        yield b"".join(_bulk(f"{INDEX_PREFIX}-decisions", d["decision_id"],
                             {"@timestamp": d["created_at"], **d}) for d in page)


def _rows_csv(rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


async def _csv(head: dict[str, Any],
               pages: AsyncIterator[list[dict[str, Any]]] | None) -> AsyncIterator[bytes]:
    if pages is None:
        rows = [list(PROVIDER_COLUMNS)]
        rows += [[p.get(c) for c in PROVIDER_COLUMNS] for p in head.get("providers", [])]
        yield _rows_csv(rows)
        return
    yield _rows_csv([list(ATTEMPT_COLUMNS)])
    async for page in pages:
        rows = []
        for d in page:
            common = [d["decision_id"], d["created_at"], d["tenant"], d["task_type"], d["budget"],
                      d["region"], d["status"], d["routing_strategy"], d["primary_provider"]]
            for a in d["attempts"] or [None]:
                if a is None:
                    rows.append(common + [None] * (len(ATTEMPT_COLUMNS) - len(common)))
                    continue
                rows.append([*common, a["attempt_order"], a["provider"], a["model"], a["outcome"],
                                      a["error_class"], a["status_code"], a["latency_ms"],
                                      a["is_fallback"], a["input_tokens"], a["output_tokens"],
                                      a["cost_usd"], a["baseline_cost_usd"], a["cost_estimated"],
                                      a["quality_score"]])
        yield _rows_csv(rows)
