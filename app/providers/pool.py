"""The providers one process talks to: one pooled HTTP client and adapter each, built in the lifespan."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from app.config.catalog import Catalog, ProviderSpec
from app.providers.base import ProviderAdapter, Target
from app.providers.errors import ErrorClass, ProviderError
from app.providers.registry import adapter_class
from app.providers.transport import FastTransport

log = logging.getLogger(__name__)

# Per provider; the pool queues callers beyond it rather than failing them.
MAX_CONNECTIONS = 256
# How long start-up waits for the adapters' preparations (botocore's credential chain, Google's
# application default credentials), which may wait on a metadata service or an STS call: those
# still running after it finish in the background, their provider skipped until they do.
PREPARE_AT_START_S = 0.2
STILL_PREPARING = "its credentials are still being resolved (the service has just started)"


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One verified TLS context shared by every client (loading the CA bundle is slow)."""
    return httpx.create_ssl_context()


def build_client(spec: ProviderSpec, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An httpx client whose transport sends the adapters' calls, whole and streamed, on our own
    kept-alive connections (app/providers/transport.py), past httpx's request machinery."""
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS,
                          keepalive_expiry=30)
    timeout = httpx.Timeout(connect=spec.timeouts.connect_s, read=spec.timeouts.read_s,
                            write=spec.timeouts.read_s, pool=spec.timeouts.read_s)
    if transport is None:
        transport = FastTransport(verify=default_ssl_context, limits=limits, trust_env=False)
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)


@dataclass
class ProviderPool:
    """Adapters by provider name, and the targets (URL, wire model name) of each catalog model."""

    catalog: Catalog
    adapters: dict[str, ProviderAdapter]
    _targets: dict[tuple[str, str, str], Target] = field(default_factory=dict)
    # Preparations still running after start-up, by provider (each skipped until its own ends).
    _preparing: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    @classmethod
    async def open(
        cls,
        catalog: Catalog,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        wait_s: float | None = None,
        on_prepared: Callable[[ProviderPool], None] | None = None,
    ) -> ProviderPool:
        """Build every adapter and resolve its credentials; `transport` replaces the network in tests.

        Preparations not done after `wait_s` (default PREPARE_AT_START_S) go on in the background;
        `on_prepared` is called with the pool after each of them ends (the service re-derives the
        providers it may route to). One that fails within `wait_s` fails the start, as before; one
        that fails later is logged, and its provider says why it cannot be called.
        """
        env = os.environ if environ is None else environ
        adapters = {
            name: adapter_class(name, spec)(name, spec, build_client(spec, transport), env)
            for name, spec in catalog.providers.items()
        }
        pool = cls(catalog=catalog, adapters=adapters)
        tasks = {name: asyncio.create_task(adapter.prepare(), name=f"prepare-{name}")
                 for name, adapter in adapters.items()}
        wait_s = PREPARE_AT_START_S if wait_s is None else wait_s
        try:
            if tasks:
                await asyncio.wait(tasks.values(), timeout=wait_s)
            errors = [task.exception() for task in tasks.values() if task.done() and not task.cancelled()]
            error = next((e for e in errors if e is not None), None)
            if error is not None:
                raise error
        except BaseException:  # a failed preparation, or start-up cancelled: none is left running
            for task in tasks.values():
                task.cancel()
            raise
        for name, task in tasks.items():
            if not task.done():
                pool._preparing[name] = task
                task.add_done_callback(functools.partial(pool._prepared, name, on_prepared))
                log.warning("provider %s: its credentials are still being resolved after %.1f s; it is "
                            "skipped until they are", name, wait_s)
        for name, reason in pool.skipped().items():
            if name not in pool._preparing:
                log.info("provider %s is skipped: %s (%s)", name, reason.message, reason.error_class.value)
        return pool

    def _prepared(self, name: str, on_prepared: Callable[[ProviderPool], None] | None,
                  task: asyncio.Task[None]) -> None:
        """A background preparation ended: the provider is callable now, or says why not."""
        self._preparing.pop(name, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.warning("provider %s: resolving its credentials failed: %s: %s", name,
                        type(error).__name__, error)
        reason = self.unavailable(name)
        if reason is None:
            log.info("provider %s: credentials resolved; it may be routed to", name)
        else:
            log.info("provider %s is skipped: %s (%s)", name, reason.message, reason.error_class.value)
        if on_prepared is not None:
            on_prepared(self)

    def unavailable(self, provider: str) -> ProviderError | None:
        """Why `provider` cannot be called now (not in the pool, no key, missing extra, credentials
        still being resolved), or None."""
        adapter = self.adapters.get(provider)
        if adapter is None:
            return ProviderError(ErrorClass.NO_KEY, f"{provider} is not in the provider pool")
        if provider in self._preparing:
            return ProviderError(ErrorClass.NO_KEY, STILL_PREPARING)
        return adapter.unavailable()

    def skipped(self) -> dict[str, ProviderError]:
        """Providers that cannot be called, with the reason (no key, missing extra, credentials
        still being resolved)."""
        out = {}
        for name in self.adapters:
            reason = self.unavailable(name)
            if reason is not None:
                out[name] = reason
        return out

    def available(self) -> frozenset[str]:
        return frozenset(self.adapters) - frozenset(self.skipped())

    def target(self, provider: str, model: str, deployment: str) -> Target:
        """Where a catalog model is called: its deployment's URL and its name on the wire."""
        key = (provider, model, deployment)
        cached = self._targets.get(key)
        if cached is not None:
            return cached
        spec = self.catalog.providers[provider]
        model_spec = next(m for m in spec.models if m.name == model)
        dep = next((d for d in spec.deployments if d.name == deployment), None)
        base = str(dep.base_url if dep is not None and dep.base_url is not None else spec.base_url)
        target = Target(provider=provider, model=model, upstream_model=model_spec.upstream_name or model,
                        deployment=deployment, base_url=base.rstrip("/"),
                        max_output_tokens=model_spec.max_output_tokens)
        self._targets[key] = target
        return target

    async def aclose(self) -> None:
        preparing = list(self._preparing.values())
        for task in preparing:
            task.cancel()
        await asyncio.gather(*preparing, return_exceptions=True)
        await asyncio.gather(*(a.client.aclose() for a in self.adapters.values()), return_exceptions=True)
