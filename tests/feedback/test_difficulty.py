"""quality_target: the cheapest eligible model whose expected quality meets the target."""

from __future__ import annotations

import pytest

from app.config.enums import BudgetTier, Region, TaskType
from app.routing.engine import decide
from app.routing.explain import reasons
from app.routing.index import CatalogIndex
from app.routing.schemas import Candidate


def _eligible(index: CatalogIndex, task: TaskType, budget: BudgetTier, needed: int) -> list[Candidate]:
    """Brute force over the catalog: capability, price ceiling and window (region global)."""
    ceiling = index.catalog.budget_tiers[budget].max_blended_price
    return [c for c in index.candidates
            if task in c.capabilities and (ceiling is None or c.blended_price <= ceiling)
            and c.context_window >= needed]


def _expected(q: float, best: float, p: float) -> float:
    return 1 - p * (1 - q / best)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("target", [0.8, 0.9, 0.97])
@pytest.mark.parametrize(("task", "budget"), [(TaskType.CHAT, BudgetTier.HIGH),
                                              (TaskType.REASONING, BudgetTier.MEDIUM),
                                              (TaskType.CODE, BudgetTier.UNLIMITED)])
def test_cheapest_meeting_the_target(index: CatalogIndex, task: TaskType, budget: BudgetTier,
                                     p: float, target: float) -> None:
    d = decide(index, task_type=task, budget=budget, input_tokens=1000, output_tokens=500,
               quality_target=target, strong_win_rate=p)
    pool = _eligible(index, task, budget, 1500)
    best = max(c.quality[task] for c in pool)
    meeting = [c for c in pool if _expected(c.quality[task], best, p) >= target - 1e-9]
    primary = d.primary.candidate
    assert primary.blended_price == min(c.blended_price for c in meeting)
    assert _expected(primary.quality[task], best, p) >= target - 1e-9
    assert any(f"strong-win rate {p:.3f}" in r for r in reasons(d))


def test_primary_follows_the_estimate(index: CatalogIndex) -> None:
    prices = []
    for p in [i / 10 for i in range(11)]:
        d = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.HIGH, input_tokens=1000,
                   quality_target=0.95, strong_win_rate=p)
        prices.append(d.primary.candidate.blended_price)
    assert prices == sorted(prices)  # a harder prompt never gets a cheaper model
    assert prices[0] < prices[-1]
    easy = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.HIGH, input_tokens=1000,
                  quality_target=0.95, strong_win_rate=0.0)
    assert easy.primary.candidate.blended_price == min(
        c.blended_price for c in _eligible(index, TaskType.CHAT, BudgetTier.HIGH, 1500))


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_never_past_a_hard_constraint(index: CatalogIndex, p: float) -> None:
    d = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.MEDIUM, input_tokens=2000,
               region=Region.EU, requires_compliance=True, requires_sla=True,
               keyed_providers={"mistral", "azure_openai", "openai"},
               quality_target=1.0, strong_win_rate=p)
    ceiling = index.catalog.budget_tiers[BudgetTier.MEDIUM].max_blended_price
    assert ceiling is not None
    for s in d.chain:
        c = s.candidate
        assert c.region is Region.EU and "gdpr" in c.compliance and c.sla is not None
        assert c.blended_price <= ceiling and c.provider in {"mistral", "azure_openai", "openai"}


def test_no_target_keeps_the_ranking(index: CatalogIndex) -> None:
    plain = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.LOW, input_tokens=2000)
    again = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.LOW, input_tokens=2000,
                   strong_win_rate=0.9)
    assert [s.candidate for s in plain.chain] == [s.candidate for s in again.chain]
    assert "difficulty" not in plain.extra
