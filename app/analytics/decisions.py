"""Decisions, newest first, a page at a time (keyset cursor), each with its chain, exclusions and attempts."""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.money import usd
from app.analytics.tables import ATTEMPTS, DECISIONS
from app.analytics.window import Window
from app.errors import InputInvalid
from app.store.decision_lists import whole_chain, whole_excluded, with_lists

MAX_PAGE = 200


def encode_cursor(created_at: dt.datetime, decision_id: str) -> str:
    raw = f"{created_at.isoformat()}|{decision_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The (created_at, id) a cursor points after; InputInvalid (422) if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, decision_id = raw.split("|", 1)
        when = dt.datetime.fromisoformat(stamp)
        if when.tzinfo is None or len(decision_id) != 36:
            raise ValueError("not a cursor")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputInvalid("cursor: not a cursor this endpoint returned",
                           details={"fields": [{"field": "cursor", "message": str(exc)}]}) from None
    return when, decision_id


def decision_payload(row: Any, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """One stored decision with its attempts, as the decisions endpoint and the export give it."""
    return {
        "decision_id": row.id,
        "created_at": row.created_at.isoformat(),
        "tenant": row.tenant,
        "user": row.end_user,
        "task_type": row.task_type,
        "budget": row.budget,
        "region": row.region,
        "requires_sla": row.requires_sla,
        "requires_compliance": row.requires_compliance,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "status": row.status,
        "routing_strategy": row.strategy,
        "primary_provider": row.primary_provider,
        "primary_model": row.primary_model,
        "chain": whole_chain(row.chain_entries, row.chain, row.input_tokens, row.output_tokens),
        "excluded": whole_excluded(row.excluded_shared, row.excluded),
        "estimated_cost_usd": None if row.estimated_cost_usd is None else usd(row.estimated_cost_usd),
        "estimated_baseline_cost_usd": None if row.baseline_cost_usd is None else usd(row.baseline_cost_usd),
        "attempts": attempts,
    }


def attempt_payload(row: Any) -> dict[str, Any]:
    return {
        "attempt_order": row.attempt_order, "provider": row.provider, "model": row.model,
        "outcome": row.outcome, "error_class": row.error_class, "status_code": row.status_code,
        "latency_ms": row.latency_ms, "is_fallback": row.is_fallback,
        "input_tokens": row.input_tokens, "output_tokens": row.output_tokens,
        "cost_usd": usd(row.cost_usd), "baseline_cost_usd": usd(row.baseline_cost_usd),
        "cost_estimated": row.cost_estimated, "quality_score": row.quality_score,
        "created_at": row.created_at.isoformat(),
    }


def decisions_query(
    window: Window, *, tenant: str | None = None, task_type: str | None = None,
    provider: str | None = None, status: str | None = None,
) -> sa.Select[Any]:
    """Decisions in the window matching the filters, newest first (ties by id), each with its
    lists' entries (`chain_entries`, `excluded_shared`)."""
    d = DECISIONS.c
    stmt = with_lists(sa.select(DECISIONS), DECISIONS).where(
        d.created_at >= window.start, d.created_at < window.end)
    if tenant is not None:
        stmt = stmt.where(d.tenant == tenant)
    if task_type is not None:
        stmt = stmt.where(d.task_type == task_type)
    if status is not None:
        stmt = stmt.where(d.status == status)
    if provider is not None:
        tried = sa.select(sa.literal(1)).where(ATTEMPTS.c.decision_id == d.id,
                                               ATTEMPTS.c.provider == provider)
        stmt = stmt.where(sa.or_(d.primary_provider == provider, tried.exists()))
    return stmt.order_by(d.created_at.desc(), d.id.desc())


async def attempts_by_decision(session: AsyncSession, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The attempts of a page of decisions, in chain order."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not ids:
        return out
    rows = await session.execute(
        sa.select(ATTEMPTS).where(ATTEMPTS.c.decision_id.in_(ids))
        .order_by(ATTEMPTS.c.decision_id, ATTEMPTS.c.attempt_order))
    for row in rows:
        out[row.decision_id].append(attempt_payload(row))
    return out


async def list_decisions(
    session: AsyncSession,
    window: Window,
    *,
    tenant: str | None = None,
    task_type: str | None = None,
    provider: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of decisions and the cursor of the next page (None on the last one)."""
    limit = max(1, min(limit, MAX_PAGE))
    stmt = decisions_query(window, tenant=tenant, task_type=task_type, provider=provider, status=status)
    if cursor is not None:
        when, last_id = decode_cursor(cursor)
        d = DECISIONS.c
        stmt = stmt.where(sa.or_(d.created_at < when, sa.and_(d.created_at == when, d.id < last_id)))
    rows = list(await session.execute(stmt.limit(limit + 1)))
    page = rows[:limit]
    attempts = await attempts_by_decision(session, [r.id for r in page])
    nxt = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return {
        "decisions": [decision_payload(r, attempts.get(r.id, [])) for r in page],
        "next_cursor": nxt,
        "limit": limit,
    }
