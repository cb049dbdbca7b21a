"""quality_target through the service: the estimator reads the prompt, the engine picks by it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config.enums import BudgetTier, TaskType
from app.context import ServiceContext
from app.quality.estimator import load_estimator
from app.routing.engine import decide
from app.routing.schemas import AUTO_QUALITY_TARGET

API = "/api/brain/ai-assistant"
EASY = "What is the capital of France?"
HARD = ("A train leaves at 3:45 pm travelling 62 km/h; a second leaves 1 1/2 hours later at "
        "80 km/h on the same track. Natalia sold 3/4 of 48 clips in April and half as many in "
        "May, then 2/5 of the rest in June. Work out, step by step, when the second train "
        "catches up, how many clips are left, and the total distance covered in 12 weeks. ") * 3


def test_the_estimate_picks_the_model(client: TestClient) -> None:
    ctx: ServiceContext = client.app.state.ctx  # type: ignore[attr-defined]
    estimator = load_estimator()
    primaries = {}
    for prompt in (EASY, HARD):
        body = client.post(f"{API}/route", json={"task_type": "chat", "budget": "high",
                                                "prompt": prompt, "quality_target": 0.95}).json()
        rate = estimator.strong_win_rate(prompt)
        assert any(f"strong-win rate {rate:.3f}" in r for r in body["reasons"])
        oracle = decide(ctx.router.index, task_type=TaskType.CHAT, budget=BudgetTier.HIGH,
                        input_tokens=body["estimated_cost"]["input_tokens"],
                        keyed_providers=ctx.keyed_providers, quality_target=0.95,
                        strong_win_rate=rate)
        assert body["primary_model"] == oracle.primary.candidate.model
        primaries[prompt] = body["chain"][0]["blended_price"]
    assert estimator.strong_win_rate(HARD) > estimator.strong_win_rate(EASY)
    assert primaries[HARD] > primaries[EASY]


@pytest.mark.parametrize("target", [-0.1, 1.5])
def test_target_out_of_range_is_422(client: TestClient, target: float) -> None:
    got = client.post(f"{API}/route", json={"task_type": "chat", "budget": "low", "context_size": 10,
                                           "quality_target": target})
    assert got.status_code == 422


def test_auto_budget_is_the_cheapest_meeting_the_default_target(client: TestClient) -> None:
    ctx: ServiceContext = client.app.state.ctx  # type: ignore[attr-defined]
    rate = load_estimator().strong_win_rate(HARD)
    body = client.post(f"{API}/route", json={"task_type": "reasoning", "budget": "auto",
                                            "prompt": HARD}).json()
    oracle = decide(ctx.router.index, task_type=TaskType.REASONING, budget=BudgetTier.UNLIMITED,
                    input_tokens=body["estimated_cost"]["input_tokens"],
                    keyed_providers=ctx.keyed_providers, quality_target=AUTO_QUALITY_TARGET,
                    strong_win_rate=rate)
    assert [c["model"] for c in body["chain"]] == [s.candidate.model for s in oracle.chain]
    assert any(f"quality target {AUTO_QUALITY_TARGET:.2f}" in r for r in body["reasons"])
    explicit = client.post(f"{API}/route", json={"task_type": "reasoning", "budget": "auto",
                                                "prompt": HARD, "quality_target": 1.0}).json()
    assert explicit["chain"][0]["expected_quality"] >= body["chain"][0]["expected_quality"]
