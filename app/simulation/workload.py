"""The workload file (JSONL, one request a line) and a seeded generator of realistic mixes."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from app.config.enums import BudgetTier, Region, TaskType

# The note's task types and budget tiers, weighted like a SaaS assistant's traffic: mostly chat
# and code on cheap tiers, a tail of long-context summarisation and premium reasoning.
TASK_WEIGHTS: dict[TaskType, float] = {
    TaskType.CHAT: 0.34, TaskType.CODE: 0.16, TaskType.RAG: 0.14, TaskType.SUMMARIZATION: 0.10,
    TaskType.REASONING: 0.08, TaskType.TRANSLATION: 0.08, TaskType.WEB_SEARCH: 0.05, TaskType.VISION: 0.05,
}
BUDGET_WEIGHTS: dict[BudgetTier, float] = {
    BudgetTier.FREE: 0.08, BudgetTier.LOW: 0.42, BudgetTier.MEDIUM: 0.30,
    BudgetTier.HIGH: 0.15, BudgetTier.UNLIMITED: 0.05,
}
REGION_WEIGHTS: dict[Region, float] = {Region.GLOBAL: 0.60, Region.EU: 0.25, Region.US: 0.15}
# Context tokens: log-normal (median, sigma) per task; summarisation and RAG carry long documents.
CONTEXT_SHAPE: dict[TaskType, tuple[float, float]] = {
    TaskType.CHAT: (900, 1.0), TaskType.CODE: (2500, 1.1), TaskType.RAG: (6000, 0.9),
    TaskType.SUMMARIZATION: (12000, 1.4), TaskType.REASONING: (3000, 1.0),
    TaskType.TRANSLATION: (800, 0.9), TaskType.WEB_SEARCH: (600, 0.8), TaskType.VISION: (1500, 0.7),
}
OUTPUT_MEDIAN, OUTPUT_SIGMA = 350, 0.8
MIN_CONTEXT, MAX_CONTEXT = 20, 900_000
MIN_OUTPUT, MAX_OUTPUT = 16, 4_096
TENANTS = 12
T = TypeVar("T")


class WorkloadItem(BaseModel):
    """One request of a workload: the routing constraints, token counts, tenant and arrival."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: TaskType
    budget: BudgetTier
    region: Region = Region.GLOBAL
    context_tokens: Annotated[int, Field(ge=0, le=10_000_000)]
    output_tokens: Annotated[int, Field(ge=1, le=1_000_000)]
    requires_sla: bool = False
    requires_compliance: bool = False
    tenant: str | None = None
    arrival_s: Annotated[float, Field(ge=0)] | None = None


class WorkloadError(ValueError):
    """A workload file that cannot be read; the message names the file and line."""


def _pick(rng: random.Random, weights: dict[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _lognormal(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return max(low, min(high, round(rng.lognormvariate(math.log(median), sigma))))


def generate(requests: int, seed: int, *, rate_per_s: float = 20.0) -> list[WorkloadItem]:
    """A seeded mix: the same (requests, seed) always gives the same items; arrivals are Poisson."""
    rng = random.Random(seed)
    tenant_weights = {f"tenant-{i + 1:02d}": 1 / (i + 1) for i in range(TENANTS)}  # Zipf: a few big ones
    clock = 0.0
    items: list[WorkloadItem] = []
    for _ in range(requests):
        task = _pick(rng, TASK_WEIGHTS)
        region = _pick(rng, REGION_WEIGHTS)
        median, sigma = CONTEXT_SHAPE[task]
        clock += rng.expovariate(rate_per_s)
        items.append(WorkloadItem(
            task=task,
            budget=_pick(rng, BUDGET_WEIGHTS),
            region=region,
            context_tokens=_lognormal(rng, median, sigma, MIN_CONTEXT, MAX_CONTEXT),
            output_tokens=_lognormal(rng, OUTPUT_MEDIAN, OUTPUT_SIGMA, MIN_OUTPUT, MAX_OUTPUT),
            requires_sla=rng.random() < 0.2,
            requires_compliance=rng.random() < (0.7 if region is Region.EU else 0.15),
            tenant=_pick(rng, tenant_weights),
            arrival_s=round(clock, 4),
        ))
    return items


def write_workload(items: Iterable[WorkloadItem], path: Path) -> int:
    """Write items as JSONL; returns how many."""
    count = 0
    with path.open("wb") as out:
        for item in items:
            out.write(orjson.dumps(item.model_dump(mode="json", exclude_none=True)) + b"\n")
            count += 1
    return count


def read_workload(path: Path) -> Iterator[WorkloadItem]:
    """Read a JSONL workload, skipping blank lines; a bad line raises WorkloadError with its number."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield WorkloadItem.model_validate_json(line)
        except ValueError as exc:
            raise WorkloadError(f"{path}:{number}: {exc}") from None
