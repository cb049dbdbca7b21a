"""The providers one process talks to: one pooled HTTP client and adapter each, built in the lifespan."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from app.config.catalog import Catalog, ProviderSpec
from app.providers.base import ProviderAdapter, Target
from app.providers.errors import ProviderError
from app.providers.registry import adapter_class
from app.providers.transport import FastTransport

log = logging.getLogger(__name__)

# Per provider; the pool queues callers beyond it rather than failing them.
MAX_CONNECTIONS = 256


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

    @classmethod
    async def open(
        cls,
        catalog: Catalog,
        *,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> ProviderPool:
        """Build every adapter and resolve its credentials; `transport` replaces the network in tests."""
        env = os.environ if environ is None else environ
        adapters = {
            name: adapter_class(name, spec)(name, spec, build_client(spec, transport), env)
            for name, spec in catalog.providers.items()
        }
        await asyncio.gather(*(a.prepare() for a in adapters.values()))
        pool = cls(catalog=catalog, adapters=adapters)
        for name, reason in pool.skipped().items():
            log.info("provider %s is skipped: %s (%s)", name, reason.message, reason.error_class.value)
        return pool

    def skipped(self) -> dict[str, ProviderError]:
        """Providers that cannot be called, with the reason (no key, missing extra)."""
        out = {}
        for name, adapter in self.adapters.items():
            reason = adapter.unavailable()
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
        await asyncio.gather(*(a.client.aclose() for a in self.adapters.values()), return_exceptions=True)
