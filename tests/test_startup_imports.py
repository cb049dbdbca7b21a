"""What the service imports to start: nothing that only a rarely used path or a tool needs.

Each of these cost start-up time (the port opens only when the imports and the lifespan are
done): botocore until a Bedrock request is signed, the analytics reports until the first analytics
request, SQLAlchemy's PostgreSQL dialect while the store is SQLite, and httpx's command-line client
(click, rich, pygments) and aiohttp (the tests' and benchmarks', no longer the service's) never.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app.main
from app.config.settings import Settings
from app.main import create_app
from app.providers.pool import default_ssl_context
from app.quality.estimator import DeferredEstimator

ROOT = Path(__file__).resolve().parents[1]

NOT_AT_START = ("botocore", "urllib3", "rich", "pygments", "httpx._main", "alembic", "mako", "aiohttp",
                "httpx_aiohttp",
                "app.analytics.library", "app.analytics.export", "app.analytics.recommendations",
                "sqlalchemy.dialects.postgresql")  # on the embedded SQLite default


def modules_after(code: str) -> set[str]:
    script = (f"import json, sys\n{code}\n"  # a None entry is an import refused, not a module
              "print(json.dumps(sorted(m for m, mod in sys.modules.items() if mod is not None)))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_service_module_imports_none_of_them() -> None:
    loaded = modules_after("import app.main\napp.main.create_app()")
    assert "httpx" in loaded and "app.providers.bedrock_converse" in loaded  # the check is meaningful
    assert sorted(loaded & set(NOT_AT_START)) == []


def test_a_bedrock_request_still_loads_botocore() -> None:
    loaded = modules_after("import asyncio\nimport app.main\n"
                           "from app.providers.bedrock_converse import botocore_modules\n"
                           "asyncio.run(botocore_modules())")
    assert {"botocore.auth", "botocore.eventstream", "botocore.credentials"} <= loaded


def test_the_analytics_library_is_still_there_on_first_use() -> None:
    loaded = modules_after("import app.main\nfrom app.analytics import RoutingAnalytics\n"
                           "assert RoutingAnalytics.__module__ == 'app.analytics.library'")
    assert "app.analytics.export" in loaded


def test_the_provider_pool_never_imports_aiohttp_nor_loads_the_ca_bundle_at_open() -> None:
    code = ("import asyncio, sys\n"
            "from app.config.loader import load_catalog\n"
            "from app.providers.pool import ProviderPool\n"
            "async def main():\n"
            "    pool = await ProviderPool.open(load_catalog(), environ={'OPENAI_API_KEY': 'k'})\n"
            "    from app.providers.pool import default_ssl_context\n"
            "    assert default_ssl_context.cache_info().currsize == 0, 'the pool loaded the CA bundle'\n"
            "    transport = pool.adapters['openai'].client._transport\n"
            "    assert type(transport.generic).__name__ == 'AsyncHTTPTransport'\n"
            "    await pool.aclose()\n"
            "asyncio.run(main())")
    loaded = modules_after(code)
    assert "app.providers.pool" in loaded and "httpx" in loaded  # the check is meaningful
    assert not {"aiohttp", "httpx_aiohttp"} & loaded


def test_the_lifespan_leaves_the_estimator_and_tls_context_to_its_warm_up(
    provider_keys: dict[str, str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built in a thread after the port has opened, not before; a shutdown first skips it."""
    default_ssl_context.cache_clear()
    monkeypatch.setattr(app.main, "WARM_UP_AFTER_S", 60.0)
    with TestClient(create_app(settings)) as client:  # shut down before the warm-up's time
        estimator = client.app.state.ctx.policy.estimator  # type: ignore[attr-defined]
        assert isinstance(estimator, DeferredEstimator)
    assert estimator._loaded is None and default_ssl_context.cache_info().currsize == 0

    monkeypatch.setattr(app.main, "WARM_UP_AFTER_S", 0.05)
    with TestClient(create_app(settings)) as client:
        estimator = client.app.state.ctx.policy.estimator  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while estimator._loaded is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert estimator._loaded is not None and estimator.name == "learned"
    assert default_ssl_context.cache_info().currsize == 1
