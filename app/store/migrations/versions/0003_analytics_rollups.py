"""Analytics roll-ups: hourly and daily aggregates of attempts, failures and decisions, kept by triggers.

Every row really inserted into `attempts` or `decisions` adds its measures to one hourly and one
daily row, in the inserting transaction (a PostgreSQL statement trigger over the transition
table, a SQLite row trigger). Rows skipped by ON CONFLICT DO NOTHING fire nothing, so a replayed
record never counts twice. The column definitions are a frozen copy of app/analytics/spec.py
(tests/analytics checks that they agree); change both through a new revision.

Revision ID: 0003_analytics
Revises: 0002
Create Date: 2025-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003_analytics"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 10).with_variant(sa.BigInteger(), "sqlite")
KINDS: dict[str, Any] = {"int": sa.BigInteger(), "float": sa.Float(), "money": MONEY, "str": sa.String(),
         "bool": sa.Boolean()}
ZERO = {"int": "0", "float": "0", "money": "0"}

HIST_BUCKETS = 66
HIST_EDGES = tuple(2 ** (k / 4) for k in range(HIST_BUCKETS - 1))
CALLED = "{r}.outcome <> 'skipped'"
TENANT_DIM = ("tenant", "coalesce({r}.tenant, '')", "str")


def _flag(cond: str) -> str:
    return f"CASE WHEN {cond} THEN 1 ELSE 0 END"


def _hist() -> list[tuple[str, str, str, str]]:
    out = []
    for k in range(HIST_BUCKETS):
        conds = [CALLED]
        if k > 0:
            conds.append(f"{{r}}.latency_ms >= {HIST_EDGES[k - 1]!r}")
        if k < HIST_BUCKETS - 1:
            conds.append(f"{{r}}.latency_ms < {HIST_EDGES[k]!r}")
        out.append((f"h{k:02d}", _flag(" AND ".join(conds)), "int", "sum"))
    return out


# (name, source, dims [(column, expr, kind)], measures [(column, expr, kind, combine)], where)
FAMILIES = [
    ("analytics_attempts", "attempts",
     [("provider", "{r}.provider", "str"), ("model", "{r}.model", "str"),
      ("task_type", "{r}.task_type", "str"), TENANT_DIM],
     [("requests", _flag("{r}.attempt_order = 0"), "int", "sum"),
      ("calls", _flag(CALLED), "int", "sum"),
      ("successes", _flag("{r}.outcome = 'success'"), "int", "sum"),
      ("errors", _flag("{r}.outcome = 'error'"), "int", "sum"),
      ("timeouts", _flag("{r}.outcome = 'timeout'"), "int", "sum"),
      ("rate_limited", _flag("{r}.outcome = 'rate_limited'"), "int", "sum"),
      ("skipped", _flag("{r}.outcome = 'skipped'"), "int", "sum"),
      ("fallback_calls", _flag(f"{{r}}.is_fallback AND {CALLED}"), "int", "sum"),
      ("fallback_successes", _flag("{r}.is_fallback AND {r}.outcome = 'success'"), "int", "sum"),
      ("latency_sum_ms", f"CASE WHEN {CALLED} THEN {{r}}.latency_ms ELSE 0.0 END", "float", "sum"),
      ("quality_sum", "coalesce({r}.quality_score, 0.0)", "float", "sum"),
      ("quality_count", _flag("{r}.quality_score IS NOT NULL"), "int", "sum"),
      ("input_tokens", "{r}.input_tokens", "int", "sum"),
      ("output_tokens", "{r}.output_tokens", "int", "sum"),
      ("cost_usd", "{r}.cost_usd", "money", "sum"),
      ("baseline_cost_usd", "{r}.baseline_cost_usd", "money", "sum"),
      ("estimated_costs", _flag("{r}.cost_estimated"), "int", "sum"),
      *_hist()],
     None),
    ("analytics_failures", "attempts",
     [("provider", "{r}.provider", "str"), ("task_type", "{r}.task_type", "str"), TENANT_DIM,
      ("outcome", "{r}.outcome", "str"), ("error_class", "coalesce({r}.error_class, '')", "str")],
     [("failures", "1", "int", "sum"), ("as_fallback", _flag("{r}.is_fallback"), "int", "sum")],
     "{r}.outcome <> 'success'"),
    ("analytics_decisions", "decisions",
     [("task_type", "{r}.task_type", "str"), TENANT_DIM, ("status", "{r}.status", "str"),
      ("primary_provider", "coalesce({r}.primary_provider, '')", "str"),
      ("budget", "{r}.budget", "str"), ("region", "{r}.region", "str"),
      ("requires_sla", "{r}.requires_sla", "bool"),
      ("requires_compliance", "{r}.requires_compliance", "bool")],
     [("decisions", "1", "int", "sum"),
      ("max_tokens", "{r}.input_tokens + {r}.output_tokens", "int", "max")],
     None),
]
GRAINS = {"hourly": "hour", "daily": "day"}
SQLITE_BUCKET = {
    "hourly": "substr(NEW.created_at, 1, 13) || ':00:00.000000'",
    "daily": "substr(NEW.created_at, 1, 10) || ' 00:00:00.000000'",
}


def _exec(sql: str) -> None:
    # Straight to the driver: the SQL holds ':00' and '$$', which text() would take for binds.
    op.get_bind().exec_driver_sql(sql)


def _create_tables() -> None:
    for name, _source, dims, measures, _where in FAMILIES:
        for grain in GRAINS:
            table = f"{name}_{grain}"
            keys = ["bucket", *(d[0] for d in dims)]
            op.create_table(
                table,
                sa.Column("bucket", TIME, nullable=False),
                *(sa.Column(col, KINDS[kind], nullable=False) for col, _e, kind in dims),
                *(sa.Column(col, KINDS[kind], nullable=False, server_default=sa.text(ZERO[kind]))
                  for col, _e, kind, _c in measures),
                sa.PrimaryKeyConstraint(*keys, name=f"pk_{table}"),
            )
            op.create_index(f"ix_{table}_tenant_bucket", table, ["tenant", "bucket"])


def _combine(dialect: str, table: str, col: str, combine: str) -> str:
    if combine == "max":
        fn = "GREATEST" if dialect == "postgresql" else "max"
        return f"{col} = {fn}({table}.{col}, excluded.{col})"
    return f"{col} = {table}.{col} + excluded.{col}"


def _postgres_triggers() -> None:
    for source in ("attempts", "decisions"):
        statements = []
        for name, src, dims, measures, where in FAMILIES:
            if src != source:
                continue
            for grain, unit in GRAINS.items():
                table = f"{name}_{grain}"
                keys = ["bucket", *(d[0] for d in dims)]
                cols = [*keys, *(m[0] for m in measures)]
                select = [f"date_trunc('{unit}', n.created_at, 'UTC')",
                          *(d[1].format(r="n") for d in dims),
                          *(f"{'max' if m[3] == 'max' else 'sum'}({m[1].format(r='n')})" for m in measures)]
                group = ", ".join(str(i + 1) for i in range(len(keys)))
                sets = ", ".join(_combine("postgresql", table, m[0], m[3]) for m in measures)
                # Names and expressions are this file's constants; nothing comes from input.
                statements.append(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(select)} "  # noqa: S608
                    f"FROM new_rows n {'WHERE ' + where.format(r='n') if where else ''} "
                    f"GROUP BY {group} ORDER BY {group} "
                    f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets};"
                )
        body = "\n".join(statements)
        _exec(f"CREATE FUNCTION {source}_analytics_rollup() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                   f"BEGIN\n{body}\nRETURN NULL;\nEND $$")
        _exec(f"CREATE TRIGGER {source}_analytics_rollup AFTER INSERT ON {source} "
                   f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION {source}_analytics_rollup()")


def _sqlite_triggers() -> None:
    for source in ("attempts", "decisions"):
        statements = []
        for name, src, dims, measures, where in FAMILIES:
            if src != source:
                continue
            for grain in GRAINS:
                table = f"{name}_{grain}"
                keys = ["bucket", *(d[0] for d in dims)]
                cols = [*keys, *(m[0] for m in measures)]
                select = [SQLITE_BUCKET[grain], *(d[1].format(r="NEW") for d in dims),
                          *(m[1].format(r="NEW") for m in measures)]
                sets = ", ".join(_combine("sqlite", table, m[0], m[3]) for m in measures)
                statements.append(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(select)} "
                    f"WHERE {where.format(r='NEW') if where else '1'} "
                    f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets};"
                )
        _exec(f"CREATE TRIGGER {source}_analytics_rollup AFTER INSERT ON {source} BEGIN\n"
                   + "\n".join(statements) + "\nEND")


def _backfill() -> None:
    """Roll up rows stored before this revision, so totals stay exact across the upgrade."""
    for name, source, dims, measures, where in FAMILIES:
        for grain, unit in GRAINS.items():
            table = f"{name}_{grain}"
            keys = ["bucket", *(d[0] for d in dims)]
            cols = [*keys, *(m[0] for m in measures)]
            if op.get_bind().dialect.name == "postgresql":
                bucket = f"date_trunc('{unit}', s.created_at, 'UTC')"
            else:
                bucket = SQLITE_BUCKET[grain].replace("NEW.", "s.")
            select = [bucket, *(d[1].format(r="s") for d in dims),
                      *(f"{'max' if m[3] == 'max' else 'sum'}({m[1].format(r='s')})" for m in measures)]
            group = ", ".join(str(i + 1) for i in range(len(keys)))
            _exec(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(select)} "  # noqa: S608
                       f"FROM {source} s {'WHERE ' + where.format(r='s') if where else ''} "
                       f"GROUP BY {group}")


def upgrade() -> None:
    _create_tables()
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for source in ("attempts", "decisions"):
        _exec(f"DROP TRIGGER IF EXISTS {source}_analytics_rollup"
                   + (f" ON {source}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            _exec(f"DROP FUNCTION IF EXISTS {source}_analytics_rollup()")
    for name, *_rest in FAMILIES:
        for grain in GRAINS:
            op.drop_table(f"{name}_{grain}")
