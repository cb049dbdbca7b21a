"""Cost alerts of the catalog: daily cost over a threshold -> one log line and one webhook POST
per alert and UTC day, computed from the stored records."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from app.config.catalog import Alert
from app.health.clock import Clock

log = logging.getLogger(__name__)

CostQuery = Callable[[dt.datetime, dt.datetime], Awaitable[Decimal]]
# Claims an alert for a period across replicas (True for the first claimer only).
Claim = Callable[[str], Awaitable[bool]]
WEBHOOK_TRIES = 3


@dataclass(frozen=True, slots=True)
class FiredAlert:
    name: str
    period: str
    cost_usd: Decimal
    threshold_usd: Decimal
    delivered: bool | None  # None: no webhook configured


async def claim_in_memory(_: str) -> bool:
    return True


class CostAlerts:
    """Checks each daily-cost alert; fires it at most once per period."""

    def __init__(self, alerts: tuple[Alert, ...], *, cost: CostQuery, http: httpx.AsyncClient,
                 clock: Clock, claim: Claim = claim_in_memory) -> None:
        self.alerts = tuple(a for a in alerts if a.kind == "daily_cost")
        self._cost = cost
        self._http = http
        self._clock = clock
        self._claim = claim
        self._done: set[tuple[str, str]] = set()

    async def check(self) -> list[FiredAlert]:
        """Compare today's stored cost with each threshold; fire the ones newly passed."""
        if not self.alerts:
            return []
        now = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        period = start.date().isoformat()
        pending = [a for a in self.alerts if (a.name, period) not in self._done]
        if not pending:
            return []
        cost = await self._cost(start, now)
        fired = []
        for alert in pending:
            if cost <= alert.threshold_usd:
                continue
            self._done.add((alert.name, period))
            if not await self._claim(f"{alert.name}:{period}"):
                continue  # another replica fired it for this period
            fired.append(await self._fire(alert, period, cost))
        return fired

    async def _fire(self, alert: Alert, period: str, cost: Decimal) -> FiredAlert:
        text = (f"ALERT {alert.name}: cost today ({period}, UTC) is {cost:.2f} USD, over the "
                f"{alert.threshold_usd} USD threshold")
        if alert.log:
            log.warning(text)
        delivered = None
        if alert.webhook_url is not None:
            payload = {"alert": alert.name, "kind": alert.kind, "period": period,
                       "cost_usd": str(cost), "threshold_usd": str(alert.threshold_usd), "text": text}
            delivered = await self._post(str(alert.webhook_url), payload)
        return FiredAlert(alert.name, period, cost, alert.threshold_usd, delivered)

    async def _post(self, url: str, payload: dict[str, Any]) -> bool:
        for attempt in range(WEBHOOK_TRIES):
            try:
                response = await self._http.post(url, json=payload, timeout=10)
                if response.status_code < 300:
                    return True
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt + 1 < WEBHOOK_TRIES:
                await asyncio.sleep(0.5 * 2**attempt)
        log.error("cost alert webhook failed after %d tries (%s)", WEBHOOK_TRIES, reason)
        return False
