"""FastAPI's per-request OpenTelemetry check is off unless the environment configures OpenTelemetry."""

from __future__ import annotations

import inspect

import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.trace import NoOpTracerProvider

from app.api.otel import telemetry_kwargs
from app.config.settings import Settings
from app.main import create_app

HAS_HOOKS = "telemetry" in inspect.signature(FastAPI.__init__).parameters


def test_without_otel_variables_the_hooks_are_off() -> None:
    kwargs = telemetry_kwargs({"PATH": "/usr/bin", "ROUTER_LOG_LEVEL": "INFO"})
    assert kwargs == ({"telemetry": {"tracing": False, "metrics": False, "logs": False}} if HAS_HOOKS else {})


@pytest.mark.parametrize("name", ["OTEL_SERVICE_NAME", "OTEL_PYTHON_TRACER_PROVIDER",
                                  "FASTAPI_OTEL_AUTO_CONFIGURE"])
def test_an_otel_variable_keeps_fastapis_default(name: str) -> None:
    assert telemetry_kwargs({name: "x"}) == {}


@pytest.mark.skipif(not HAS_HOOKS, reason="this FastAPI has no native OpenTelemetry hooks")
def test_the_service_skips_the_check_even_with_a_provider_set_in_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # A configured provider turns FastAPI's hooks on by default; the service turned them off.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: NoOpTracerProvider())
    assert FastAPI()._native_telemetry.enabled()
    app = create_app(Settings(ROUTER_DATA_DIR=str(tmp_path)))  # type: ignore[call-arg]
    assert not app._native_telemetry.enabled()
