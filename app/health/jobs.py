"""The background work of one replica, ticking once a second.

Every replica exports its gauges. Active probes run on the leader when the state is shared
(one probe answers for all) and on every replica when it is not. Health snapshots into the
store and cost alerts are singleton jobs: the leader alone runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping

import httpx

from app.config.catalog import Catalog
from app.config.enums import CircuitState
from app.health.alerts import CostAlerts
from app.health.export import export_all
from app.health.leader import LeaderLock
from app.health.prober import ProbeResult, ProbeTarget, probe_target, run_probe
from app.health.settings import HealthSettings
from app.health.signals import Signal
from app.health.tracker import HealthTracker
from app.records import HealthSnapshotRecord

log = logging.getLogger(__name__)

SnapshotSink = Callable[[list[HealthSnapshotRecord]], None]


class HealthJobs:
    """Export, probes, snapshots and alerts on a one-second tick (see the module docstring)."""

    def __init__(self, tracker: HealthTracker, catalog: Catalog, settings: HealthSettings, *,
                 lock: LeaderLock, http: httpx.AsyncClient, shared: bool,
                 snapshots: SnapshotSink | None = None, alerts: CostAlerts | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.tracker = tracker
        self.catalog = catalog
        self.settings = settings
        self.lock = lock
        self.http = http
        self.shared = shared
        self.snapshots = snapshots
        self.alerts = alerts
        self.environ = os.environ if environ is None else environ
        self.leader = False
        self._next_probe: dict[str, float] = {}
        self._next_snapshot = 0.0
        self._next_alert = 0.0
        self._unprobeable: set[str] = set()
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="health-jobs")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._probes.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        await self.lock.release()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # one failed tick must not end the background work
                log.exception("health background tick failed")
            await asyncio.sleep(self.settings.tick_s)

    async def tick(self) -> None:
        """One round: export, lead or follow, then whatever is due."""
        export_all(self.tracker)
        was_leader, self.leader = self.leader, await self.lock.hold()
        if self.leader != was_leader:
            log.info("this replica %s the singleton health jobs",
                     "now runs" if self.leader else "no longer runs")
        now = time.monotonic()
        if self.settings.probes and (self.leader or not self.shared):
            await self.probe_due()
        if not self.leader:
            return
        if self.snapshots is not None and now >= self._next_snapshot:
            self._next_snapshot = now + self.settings.snapshot_interval_s
            self.snapshots([HealthSnapshotRecord.from_health(h)
                            for h in self.tracker.snapshot().values()])
        if self.alerts is not None and now >= self._next_alert:
            self._next_alert = now + self.settings.alert_interval_s
            await self.alerts.check()

    async def probe_due(self) -> None:
        """Probe half-open providers at once, closed ones every `probe_interval_s`."""
        now = self.tracker.clock()
        for name, spec in self.catalog.providers.items():
            if not spec.probe or name in self._unprobeable:
                continue
            running = self._probes.get(name)
            if running is not None and not running.done():
                continue
            key = self.environ.get(spec.api_key_env)
            target = probe_target(name, spec, key) if key else None
            if target is None:
                continue
            state = self.tracker.entry(name).breaker.state(now)
            if state is CircuitState.HALF_OPEN:
                if await self.tracker.admit(name):
                    self._launch(target, half_open=True)
            elif state is CircuitState.CLOSED and now >= self._next_probe.get(name, 0.0):
                self._next_probe[name] = now + self.settings.probe_interval_s
                self._launch(target, half_open=False)

    def _launch(self, target: ProbeTarget, *, half_open: bool) -> None:
        self._probes[target.provider] = asyncio.create_task(
            self._probe(target, half_open=half_open), name=f"health-probe-{target.provider}")

    async def _probe(self, target: ProbeTarget, *, half_open: bool) -> None:
        result = await run_probe(self.http, target, self.settings.probe_timeout_s)
        self.apply(target.provider, result, half_open=half_open)

    def apply(self, provider: str, result: ProbeResult, *, half_open: bool) -> None:
        """Feed a probe's verdict to the tracker.

        A closed provider's successful probe is not counted: a model list answering says
        little about completions failing, and must not reset their consecutive failures.
        """
        if result.signal is Signal.NEUTRAL:
            self._unprobeable.add(provider)
            log.warning("provider %s refuses its probe (%s): probes off for it", provider, result.error)
        elif result.signal is Signal.SUCCESS and not half_open:
            return
        self.tracker.observe_signal(provider, result.signal, latency_ms=result.latency_ms,
                                    error=result.error, retry_after_s=result.retry_after_s)
