"""With authentication on: the OpenAI SDK's bearer key names the tenant, whose default budget
routes `auto` when no hint is given; a bad key is the SDK's AuthenticationError."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.openai_compat.conftest import running

MASTER = "master-key-for-openai-tests-0123456789"
ADMIN = "/api/brain/ai-assistant/admin"
ASK = [{"role": "user", "content": "Capital of France?"}]


def test_the_tenants_key_routes_with_its_default_budget_and_a_bad_key_is_refused(
    simulator: SimulatorServer, catalog: Catalog, tmp_path: Path
) -> None:
    simulator.reset()
    with running(simulator, catalog, tmp_path, router_master_key=MASTER) as service:
        admin = {"authorization": f"Bearer {MASTER}"}
        created = httpx.post(service.url + ADMIN + "/tenants", headers=admin,
                             json={"name": "acme", "default_budget": "free"})
        assert created.status_code == 201, created.text
        key = httpx.post(service.url + ADMIN + "/tenants/acme/keys", headers=admin, json={}).json()["key"]
        client = openai.OpenAI(base_url=service.url + "/v1", api_key=key, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=ASK)
        assert (raw.headers["x-router-budget"], raw.headers["x-router-provider"]) == (
            "free", service.chain(admin, budget="free", messages=ASK)[0])
        hinted = client.chat.completions.with_raw_response.create(
            model="auto", messages=ASK, extra_headers={"X-Router-Budget": "high"})
        assert hinted.headers["x-router-budget"] == "high"  # a hint still wins over the default
        decision, rows = service.stored(raw.headers["x-router-decision-id"], attempts=1)
        assert decision.tenant == "acme" and rows[0].tenant == "acme"
        assert len(client.models.list().data) > 1
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=service.url + "/v1", api_key="sk-wrong", max_retries=0).models.list()
