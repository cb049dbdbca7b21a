"""FastAPI's native OpenTelemetry hooks: off unless the environment configures OpenTelemetry.

FastAPI (0.165 on) checks on every request whether a tracer, meter or logger provider has been
configured: three environment look-ups and three provider checks, about 6 us a request, for
hooks that do nothing until OpenTelemetry is set up. The service never sets a provider itself,
so unless the environment names one (any `OTEL_*` variable, as `opentelemetry-instrument` and
the SDK's configuration use, or FASTAPI_OTEL_AUTO_CONFIGURE) the hooks are turned off at
start-up; with such a variable FastAPI keeps its own default.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

OFF = {"tracing": False, "metrics": False, "logs": False}


def telemetry_kwargs(environ: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for FastAPI(): `telemetry` off, or nothing (FastAPI's default)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}  # an older FastAPI without the hooks
    if any(name.startswith("OTEL_") or name == "FASTAPI_OTEL_AUTO_CONFIGURE" for name in environ):
        return {}
    return {"telemetry": dict(OFF)}
