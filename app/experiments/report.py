"""The experiments report: the catalog's experiments with their arms' measured outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config.catalog import Catalog
from app.experiments.comparison import compare_variants, describe_interval, empty_measures
from app.store.engine import session_scope


async def experiments_report(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                             window_hours: int, tenant: str | None) -> dict[str, Any]:
    """{"window_hours", "interval", "experiments": [{name, enabled, unit, variants: [...]}]}."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=window_hours)
    async with session_scope(sessions) as session:
        measured = await compare_variants(session, since=since, tenant=tenant)
    experiments = []
    for exp in catalog.experiments:
        variants = []
        for v in exp.variants:
            label = f"{exp.name}/{v.name}"
            variants.append({"name": v.name, "label": label, "weight": v.weight,
                             "strategy": v.strategy, "quality_target": v.quality_target,
                             **(measured.get(label) or empty_measures())})
        experiments.append({"name": exp.name, "enabled": exp.enabled, "unit": exp.unit,
                            "variants": variants})
    return {"window_hours": window_hours, "interval": describe_interval(),
            "experiments": experiments}
