"""Records as table rows, rows as spool lines (JSON) and back, exactly (decimals as text), and rows
as the drivers' parameter tuples."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson

from app.records import AttemptRecord, DecisionRecord, HealthSnapshotRecord
from app.store.decision_lists import list_columns

Kind = Literal["decision", "attempt", "health"]
KINDS: tuple[Kind, ...] = ("decision", "attempt", "health")
# A spool line holds a record of one of KINDS, or a decision list (a chain or shared exclusions),
# written once per segment before the first decision naming it (app/store/spool_lists.py).
LIST_KIND: Literal["list"] = "list"
SpoolKind = Kind | Literal["list"]
SPOOL_KINDS: tuple[SpoolKind, ...] = (*KINDS, LIST_KIND)
Record = DecisionRecord | AttemptRecord | HealthSnapshotRecord
Row = dict[str, Any]

_MONEY: dict[str, tuple[str, ...]] = {
    "decision": ("estimated_cost_usd", "baseline_cost_usd"),
    "attempt": ("cost_usd", "baseline_cost_usd"),
    "health": (),
    LIST_KIND: (),
}


def _text(value: object) -> str | None:
    """Enum members as their value; None stays None (and fails NOT NULL, not as "None")."""
    return None if value is None else str(value)


def decision_row(r: DecisionRecord) -> Row:
    return {
        "id": r.id, "created_at": r.created_at, "tenant": r.tenant, "end_user": r.user,
        "task_type": _text(r.task_type), "budget": _text(r.budget), "region": _text(r.region),
        "requires_sla": r.requires_sla, "requires_compliance": r.requires_compliance,
        "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
        "status": _text(r.status), "strategy": r.strategy,
        "primary_provider": r.primary_provider, "primary_model": r.primary_model,
        **list_columns(r.chain, r.excluded, r.shared_excluded),
        "estimated_cost_usd": r.estimated_cost_usd, "baseline_cost_usd": r.baseline_cost_usd,
        "idempotency_key": r.idempotency_key, "variant": r.variant,
    }


def attempt_row(r: AttemptRecord) -> Row:
    return {
        "id": r.id, "decision_id": r.decision_id, "attempt_order": r.attempt_order,
        "created_at": r.created_at, "provider": r.provider, "model": r.model,
        "outcome": _text(r.outcome), "task_type": _text(r.task_type), "tenant": r.tenant,
        "region": r.region, "latency_ms": float(r.latency_ms), "error_class": r.error_class,
        "status_code": r.status_code, "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens, "cached_tokens": r.cached_tokens,
        "reasoning_tokens": r.reasoning_tokens, "cost_usd": r.cost_usd,
        "baseline_cost_usd": r.baseline_cost_usd, "cost_estimated": r.cost_estimated,
        "quality_score": r.quality_score, "is_fallback": r.is_fallback,
    }


def health_row(r: HealthSnapshotRecord) -> Row:
    return {
        "id": r.id, "created_at": r.created_at, "provider": r.provider, "state": _text(r.state),
        "success_rate": float(r.success_rate), "consecutive_failures": r.consecutive_failures,
        "mean_latency_ms": float(r.mean_latency_ms), "requests": r.requests,
    }


def to_row(kind: Kind, record: Record) -> Row:
    """The row of one record of the given kind."""
    if kind == "decision" and isinstance(record, DecisionRecord):
        return decision_row(record)
    if kind == "attempt" and isinstance(record, AttemptRecord):
        return attempt_row(record)
    if kind == "health" and isinstance(record, HealthSnapshotRecord):
        return health_row(record)
    raise TypeError(f"a {type(record).__name__} is not a {kind} record")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot spool a {type(value).__name__}")


def encode(kind: SpoolKind, row: Row) -> bytes:
    """One spool line: {"k": kind, "r": row}, newline-terminated."""
    return orjson.dumps({"k": kind, "r": row}, default=_default, option=orjson.OPT_APPEND_NEWLINE)


def decode(line: bytes) -> tuple[SpoolKind, Row]:
    """A spool line back into a row with datetimes and exact decimals; ValueError if malformed."""
    try:
        obj = orjson.loads(line)
        kind = obj["k"]
        row: Row = obj["r"]
        if kind not in SPOOL_KINDS or not isinstance(row, dict):
            raise ValueError(f"unknown record kind {kind!r}")
        row["created_at"] = dt.datetime.fromisoformat(row["created_at"])
        for name in _MONEY[kind]:
            if row.get(name) is not None:
                row[name] = Decimal(row[name])
    except (orjson.JSONDecodeError, KeyError, TypeError, ArithmeticError) as exc:
        raise ValueError(f"malformed spool line: {exc}") from exc
    return kind, row


Convert = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class RowTuples:
    """Rows as tuples in a given column order (one `itemgetter`, in C), each value through its
    column's converter where it has one. A missing key is NULL, as in a spool line written
    before its column existed."""

    names: tuple[str, ...]
    getter: Callable[[Row], tuple[Any, ...]]
    conversions: tuple[tuple[int, Convert], ...]

    @classmethod
    def of(cls, names: Sequence[str], converters: Sequence[Convert | None]) -> RowTuples:
        return cls(tuple(names), operator.itemgetter(*names),
                   tuple((i, c) for i, c in enumerate(converters) if c is not None))

    def __call__(self, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        out = []
        for row in rows:
            try:
                values = self.getter(row)
            except KeyError:
                values = tuple(row.get(name) for name in self.names)
            if self.conversions:
                converted = list(values)
                for index, convert in self.conversions:
                    converted[index] = convert(converted[index])
                values = tuple(converted)
            out.append(values)
        return out
