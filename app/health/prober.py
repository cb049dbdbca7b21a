"""Active probes: the cheapest authenticated call each API has (listing models).

Only for providers whose catalog entry says `probe: true` and whose key is set; where a probe
would cost money or needs request signing (Bedrock, Vertex), the catalog turns it off and the
half-open probe is the next real request instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from app.config.catalog import ProviderSpec
from app.config.enums import Protocol
from app.health.signals import BAD_KEY_STATUSES, Signal

ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """Where and how to probe one provider (the headers carry its key: never log them)."""

    provider: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    signal: Signal
    latency_ms: float
    error: str | None = None
    retry_after_s: float | None = None


def probe_target(provider: str, spec: ProviderSpec, key: str) -> ProbeTarget | None:
    """The model-list request of the provider's wire protocol, or None where there is none."""
    base = str(spec.base_url).rstrip("/")
    if spec.protocol is Protocol.OPENAI:
        return ProbeTarget(provider, f"{base}/models", {"Authorization": f"Bearer {key}"})
    if spec.protocol is Protocol.ANTHROPIC:
        return ProbeTarget(provider, f"{base}/v1/models", {
            "x-api-key": key, "anthropic-version": spec.api_version or ANTHROPIC_VERSION})
    if spec.protocol is Protocol.GEMINI:
        return ProbeTarget(provider, f"{base}/v1beta/models", {"x-goog-api-key": key})
    if spec.protocol is Protocol.COHERE:
        return ProbeTarget(provider, f"{base}/v1/models", {"Authorization": f"Bearer {key}"})
    return None  # Bedrock needs SigV4 request signing: probed by real traffic only


async def run_probe(client: httpx.AsyncClient, target: ProbeTarget, timeout_s: float) -> ProbeResult:
    """One probe; its outcome classified like an attempt's (RELIABILITY.md failure classes)."""
    started = time.perf_counter()
    try:
        response = await client.get(target.url, headers=target.headers, timeout=timeout_s)
    except httpx.TimeoutException:
        return ProbeResult(Signal.FAILURE, _ms(started), "probe timeout")
    except httpx.TransportError as exc:
        return ProbeResult(Signal.FAILURE, _ms(started), f"probe {type(exc).__name__}")
    latency = _ms(started)
    status = response.status_code
    if status < 300:
        return ProbeResult(Signal.SUCCESS, latency)
    error = f"probe HTTP {status}"
    if status == 429:
        return ProbeResult(Signal.RATE_LIMITED, latency, error, _retry_after(response))
    if status in BAD_KEY_STATUSES:
        return ProbeResult(Signal.BAD_KEY, latency, error)
    if status >= 500:
        return ProbeResult(Signal.FAILURE, latency, error)
    return ProbeResult(Signal.NEUTRAL, latency, error)  # the probe path itself was refused


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
