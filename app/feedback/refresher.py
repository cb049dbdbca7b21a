"""Background refresh of the quality estimates: SQL aggregates -> estimates -> a new index.

Every replica refreshes its own routing index (a read; the aggregates are the shared truth), so
no leader is needed. The new index is built aside and swapped in with one assignment, so a
request routes on either the old or the new estimates, never a mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config.catalog import Catalog
from app.feedback import repository
from app.feedback.estimates import EstimateTable, Key, Observations, build_table, merge
from app.store.engine import session_scope

log = logging.getLogger(__name__)

OverlaySink = Callable[[dict[Key, float]], None]


async def compute_estimates(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                            now: dt.datetime | None = None) -> EstimateTable:
    """The estimates from the last `window_days` of heuristic scores and feedback."""
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=catalog.quality_learning.window_days)
    observed: dict[Key, Observations] = {}
    async with session_scope(sessions) as session:
        merge(await repository.heuristic_sums(session, since), feedback=False, into=observed)
        merge(await repository.feedback_sums(session, since), feedback=True, into=observed)
    return build_table(catalog, observed)


class QualityRefresher:
    """Recomputes the estimates every `refresh_s` and hands the overlay to `apply`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: Catalog,
                 apply: OverlaySink) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.apply = apply
        self.table = EstimateTable()
        self.refreshed_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> EstimateTable:
        """One refresh now (the loop calls it; tests and the analytics endpoint may too)."""
        table = await compute_estimates(self.sessions, self.catalog)
        if table.overlay != self.table.overlay:
            self.apply(table.overlay)
        self.table, self.refreshed_at = table, time.time()
        return table

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quality-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a failed refresh keeps the last estimates; the next one retries
                log.exception("quality estimate refresh failed")
            await asyncio.sleep(self.catalog.quality_learning.refresh_s)
