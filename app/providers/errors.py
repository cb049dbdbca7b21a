"""How a provider call failed, and what the fallback loop does about it (RELIABILITY.md).

ProviderError                 one failed call; its `error_class` decides everything else
  connection         refused, reset, TLS               fall back now; counts against health
  timeout            connect, read or per-try           fall back now; counts against health
  server_error       5xx, 529, other unexpected status  fall back now; counts against health
  invalid_response   truncated, oversized, wrong shape  fall back now; counts against health
  rate_limited       429                                fall back now; health cools it (Retry-After)
  auth               401/403: our key is bad            fall back; health ejects it (300 s)
  bad_request        400/404/413/422 from the request   returned to the client, no fallback
  unavailable        no key, missing extra              skipped: no call was made
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from enum import StrEnum

import httpx

from app.records import Outcome

MAX_REASON_CHARS = 500
# 404 bodies with these codes name our configured model or deployment, not the client's input.
CONFIG_NOT_FOUND_CODES = frozenset({
    "model_not_found", "DeploymentNotFound", "NOT_FOUND", "not_found_error", "ResourceNotFoundException",
})


class ErrorClass(StrEnum):
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    INVALID_RESPONSE = "invalid_response"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    NO_KEY = "no_key"
    MISSING_EXTRA = "missing_extra"
    CIRCUIT_OPEN = "circuit_open"


OUTCOMES = {
    ErrorClass.TIMEOUT: Outcome.TIMEOUT,
    ErrorClass.RATE_LIMITED: Outcome.RATE_LIMITED,
    ErrorClass.NO_KEY: Outcome.SKIPPED,
    ErrorClass.MISSING_EXTRA: Outcome.SKIPPED,
    ErrorClass.CIRCUIT_OPEN: Outcome.SKIPPED,
}


class ProviderError(Exception):
    """One failed provider call (or a provider that cannot be called), classified."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        provider_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message[:MAX_REASON_CHARS]
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.provider_code = provider_code

    @property
    def falls_back(self) -> bool:
        """Everything but a request the provider refused on its merits moves to the next provider."""
        return self.error_class is not ErrorClass.BAD_REQUEST

    @property
    def outcome(self) -> Outcome:
        return OUTCOMES.get(self.error_class, Outcome.ERROR)

    def __repr__(self) -> str:
        return f"ProviderError({self.error_class.value}, {self.status_code}, {self.message!r})"


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify_status(
    status: int,
    headers: Mapping[str, str],
    reason: str,
    *,
    provider_code: str | None = None,
) -> ProviderError:
    """The error class of a non-2xx answer, per the failure table of RELIABILITY.md."""
    reason = reason or f"HTTP {status}"
    if status == 429:
        return ProviderError(ErrorClass.RATE_LIMITED, reason, status_code=status,
                             retry_after_s=parse_retry_after(headers), provider_code=provider_code)
    if status in (401, 403):
        # The provider's text may quote part of our key: never pass it on.
        return ProviderError(ErrorClass.AUTH, f"the provider refused our credentials (HTTP {status})",
                             status_code=status, provider_code=provider_code)
    if status == 404 and provider_code in CONFIG_NOT_FOUND_CODES:
        return ProviderError(ErrorClass.SERVER_ERROR, f"configured model not found: {reason}",
                             status_code=status, provider_code=provider_code)
    if status in (400, 404, 413, 422):
        return ProviderError(ErrorClass.BAD_REQUEST, reason, status_code=status,
                             provider_code=provider_code)
    if status == 408:
        return ProviderError(ErrorClass.TIMEOUT, reason, status_code=status, provider_code=provider_code)
    return ProviderError(ErrorClass.SERVER_ERROR, reason, status_code=status, provider_code=provider_code)


def classify_transport(exc: Exception) -> ProviderError:
    """A failure below HTTP: timeouts apart from refused, reset or cut connections."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return ProviderError(ErrorClass.TIMEOUT, f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError):
        return ProviderError(ErrorClass.INVALID_RESPONSE, f"truncated response ({type(exc).__name__})")
    return ProviderError(ErrorClass.CONNECTION, f"connection failed ({type(exc).__name__})")

