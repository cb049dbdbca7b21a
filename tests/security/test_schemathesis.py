"""Property-based tests of the OpenAPI contract with schemathesis, in-process against the ASGI app.

Every operation gets generated requests with the admin key and without a key: no answer is a 5xx,
every status, content type, header and body is the one the schema documents, and without a key
every secured operation answers 401. Providers are the simulator, so /execute really executes.
The number of generated cases is printed at the end of the run (tests/security/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi as schemathesis_asgi

from app.commands.demo import EXTRA_PLACEHOLDERS, write_catalog
from app.config.catalog import Catalog
from app.config.settings import Settings
from app.main import create_app
from app.simulator import SimulatorServer
from tests.conftest import CANARY_PREFIX
from tests.security.conftest import PUBLIC, SCHEMATHESIS_CASES
from tests.tenancy.stack import MASTER

EXAMPLES_PER_OPERATION = 25
CONTRACT = [not_a_server_error, status_code_conformance, content_type_conformance,
            response_headers_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("schemathesis")
    with SimulatorServer(catalog=catalog) as simulator, pytest.MonkeyPatch.context() as mp:
        for name, spec in catalog.providers.items():
            mp.setenv(spec.api_key_env, f"{CANARY_PREFIX}{name}-0123456789")
        for var, value in EXTRA_PLACEHOLDERS.items():
            mp.setenv(var, value)
        config = write_catalog(simulator.catalog(catalog), Path(data) / "catalog.yaml")
        settings_ = Settings(router_config=config, router_master_key=MASTER,
                             database_url=f"sqlite+aiosqlite:///{data}/router.db", ROUTER_DATA_DIR=data)
        app = create_app(settings_)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
        schemathesis_asgi.shutdown_lifespans()  # flush the store and close clients while the simulator runs


BOUNDED = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


def operations(api_schema: Any) -> list[Any]:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert len(found) >= 20
    return found


def run_contract(api_schema: Any, mode: GenerationMode, headers: dict[str, str], slot: int) -> None:
    """Generated cases for every operation; `headers` are sent with each, failures collected."""
    failures: list[str] = []
    before = SCHEMATHESIS_CASES[slot]
    found = operations(api_schema)
    for operation in found:

        @given(case=operation.as_strategy(generation_mode=mode))
        @BOUNDED
        def check(case: Any) -> None:
            SCHEMATHESIS_CASES[slot] += 1
            response = case.call_and_validate(headers=headers, checks=CONTRACT)
            if not headers and case.operation.path not in PUBLIC:
                assert response.status_code == 401, f"{response.status_code} {response.text[:200]}"

        try:
            check()
        except Unsatisfiable:
            # Negative mode has nothing to break in an operation without parameters or body.
            assert mode is GenerationMode.NEGATIVE, f"{operation.method} {operation.path}"
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert failures == [], "\n\n".join(failures)
    assert SCHEMATHESIS_CASES[slot] - before >= len(found)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_with_a_valid_key(api_schema: Any, mode: GenerationMode) -> None:
    run_contract(api_schema, mode, {"authorization": f"Bearer {MASTER}"}, 0)


@pytest.mark.slow
def test_without_a_key(api_schema: Any) -> None:
    run_contract(api_schema, GenerationMode.POSITIVE, {}, 1)
