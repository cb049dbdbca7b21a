"""What the roll-up tables hold: per family, its dimensions and its measures as per-row SQL.

The roll-ups are kept per batch inside the inserting transaction, by PostgreSQL statement
triggers (revision 0003_analytics) and on SQLite by the writer (app/store/rollup_sqlite.py,
revision 0004 dropped its row triggers): every row that really gets inserted into `attempts` or
`decisions` adds its measures to one hourly and one daily row. A replayed record that ON
CONFLICT DO NOTHING skips is not rolled up, so roll-ups count each record exactly once.
The migration holds a frozen copy of these definitions (a test checks the two agree); the
queries use them to project raw rows into the same columns for the edges of a window.

`{r}` in an expression stands for the source row (the transition table in a PostgreSQL
statement trigger, the batch's new rows of the table on SQLite, the table itself in a query).
"""

from __future__ import annotations

from dataclasses import dataclass

# Latency histogram: bucket 0 holds [0, 1) ms, bucket k (1..64) holds [2^((k-1)/4), 2^(k/4)) ms,
# bucket 65 holds 65,536 ms and more. Neighbouring edges differ by 19 %, so a percentile read
# from the histogram is within that of the exact one (interpolation usually does far better).
HIST_BUCKETS = 66
HIST_EDGES: tuple[float, ...] = tuple(2 ** (k / 4) for k in range(HIST_BUCKETS - 1))
HIST_COLUMNS: tuple[str, ...] = tuple(f"h{k:02d}" for k in range(HIST_BUCKETS))
NO_TENANT = ""  # roll-up keys cannot be NULL (a NULL never conflicts), so "no tenant" is ''


@dataclass(frozen=True)
class Measure:
    """One roll-up column: how a row contributes, how contributions combine, and its type."""

    name: str
    expr: str
    kind: str = "int"  # int | float | money | bool
    combine: str = "sum"  # sum | max


@dataclass(frozen=True)
class Family:
    """A source table rolled up into `<name>_hourly` and `<name>_daily`."""

    name: str
    source: str
    dims: tuple[tuple[str, str, str], ...]  # (column, per-row expression, kind)
    measures: tuple[Measure, ...]
    where: str | None = None

    def table(self, grain: str) -> str:
        return f"{self.name}_{grain}"


def _flag(cond: str) -> str:
    return f"CASE WHEN {cond} THEN 1 ELSE 0 END"


CALLED = "{r}.outcome <> 'skipped'"


def _hist_measures() -> tuple[Measure, ...]:
    out: list[Measure] = []
    for k, name in enumerate(HIST_COLUMNS):
        conds = [CALLED]
        if k > 0:
            conds.append(f"{{r}}.latency_ms >= {HIST_EDGES[k - 1]!r}")
        if k < HIST_BUCKETS - 1:
            conds.append(f"{{r}}.latency_ms < {HIST_EDGES[k]!r}")
        out.append(Measure(name, _flag(" AND ".join(conds))))
    return tuple(out)


TENANT_DIM = ("tenant", "coalesce({r}.tenant, '')", "str")

ATTEMPTS = Family(
    name="analytics_attempts",
    source="attempts",
    dims=(
        ("provider", "{r}.provider", "str"),
        ("model", "{r}.model", "str"),
        ("task_type", "{r}.task_type", "str"),
        TENANT_DIM,
    ),
    measures=(
        Measure("requests", _flag("{r}.attempt_order = 0")),
        Measure("calls", _flag(CALLED)),
        Measure("successes", _flag("{r}.outcome = 'success'")),
        Measure("errors", _flag("{r}.outcome = 'error'")),
        Measure("timeouts", _flag("{r}.outcome = 'timeout'")),
        Measure("rate_limited", _flag("{r}.outcome = 'rate_limited'")),
        Measure("skipped", _flag("{r}.outcome = 'skipped'")),
        Measure("fallback_calls", _flag(f"{{r}}.is_fallback AND {CALLED}")),
        Measure("fallback_successes", _flag("{r}.is_fallback AND {r}.outcome = 'success'")),
        Measure("latency_sum_ms", f"CASE WHEN {CALLED} THEN {{r}}.latency_ms ELSE 0.0 END", "float"),
        Measure("quality_sum", "coalesce({r}.quality_score, 0.0)", "float"),
        Measure("quality_count", _flag("{r}.quality_score IS NOT NULL")),
        Measure("input_tokens", "{r}.input_tokens"),
        Measure("output_tokens", "{r}.output_tokens"),
        Measure("cost_usd", "{r}.cost_usd", "money"),
        Measure("baseline_cost_usd", "{r}.baseline_cost_usd", "money"),
        Measure("estimated_costs", _flag("{r}.cost_estimated")),
        *_hist_measures(),
    ),
)

FAILURES = Family(
    name="analytics_failures",
    source="attempts",
    dims=(
        ("provider", "{r}.provider", "str"),
        ("task_type", "{r}.task_type", "str"),
        TENANT_DIM,
        ("outcome", "{r}.outcome", "str"),
        ("error_class", "coalesce({r}.error_class, '')", "str"),
    ),
    measures=(
        Measure("failures", "1"),
        Measure("as_fallback", _flag("{r}.is_fallback")),
    ),
    where="{r}.outcome <> 'success'",
)

DECISIONS = Family(
    name="analytics_decisions",
    source="decisions",
    dims=(
        ("task_type", "{r}.task_type", "str"),
        TENANT_DIM,
        ("status", "{r}.status", "str"),
        ("primary_provider", "coalesce({r}.primary_provider, '')", "str"),
        ("budget", "{r}.budget", "str"),
        ("region", "{r}.region", "str"),
        ("requires_sla", "{r}.requires_sla", "bool"),
        ("requires_compliance", "{r}.requires_compliance", "bool"),
    ),
    measures=(
        Measure("decisions", "1"),
        Measure("max_tokens", "{r}.input_tokens + {r}.output_tokens", "int", "max"),
    ),
)

FAMILIES: tuple[Family, ...] = (ATTEMPTS, FAILURES, DECISIONS)
GRAINS: tuple[str, ...] = ("hourly", "daily")
