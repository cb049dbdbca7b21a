"""The workload generator: deterministic by seed, realistic mixes, and a file format that round-trips."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from pathlib import Path

import pytest

from app.cli import main
from app.config.enums import BudgetTier, Region, TaskType
from app.simulation.workload import WorkloadError, generate, read_workload, write_workload


def test_same_seed_same_workload_and_another_seed_differs() -> None:
    assert generate(300, seed=11) == generate(300, seed=11)
    assert generate(300, seed=11) != generate(300, seed=12)


def test_every_task_and_tier_appears_with_chat_and_low_the_most_common() -> None:
    items = generate(4000, seed=3)
    tasks = Counter(i.task for i in items)
    tiers = Counter(i.budget for i in items)
    assert set(tasks) == set(TaskType)
    assert set(tiers) == set(BudgetTier)
    assert tasks.most_common(1)[0][0] is TaskType.CHAT
    assert tiers.most_common(1)[0][0] is BudgetTier.LOW
    assert set(Counter(i.region for i in items)) == set(Region)


def test_context_sizes_are_long_tailed() -> None:
    items = generate(4000, seed=5)
    sizes = sorted(i.context_tokens for i in items)
    median, p99 = sizes[len(sizes) // 2], sizes[int(len(sizes) * 0.99)]
    assert statistics.fmean(sizes) > 1.5 * median  # right-skewed: the mean is pulled by the tail
    assert p99 > 15 * median
    assert max(sizes) > 100_000  # some requests need a long-context model
    by_task = {t: statistics.median(i.context_tokens for i in items if i.task is t) for t in TaskType}
    assert by_task[TaskType.SUMMARIZATION] > 5 * by_task[TaskType.CHAT]
    assert all(1 <= i.output_tokens <= 4096 for i in items)


def test_arrivals_are_increasing_at_the_requested_rate() -> None:
    items = generate(3000, seed=9, rate_per_s=50.0)
    times = [i.arrival_s or 0.0 for i in items]
    assert all(i.arrival_s is not None for i in items)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0
    assert statistics.fmean(gaps) == pytest.approx(1 / 50.0, rel=0.1)


def test_tenants_are_skewed() -> None:
    tenants = Counter(i.tenant for i in generate(3000, seed=2)).most_common()
    assert len(tenants) > 5
    assert tenants[0][1] > 3 * tenants[-1][1]


def test_cli_writes_a_file_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    assert main(["workload", "generate", "--requests", "50", "--seed", "4", "--output", str(path)]) == 0
    assert list(read_workload(path)) == generate(50, seed=4)
    write_workload(generate(5, seed=1), path)
    assert len(path.read_text().splitlines()) == 5


def test_a_bad_line_names_its_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"task": "chat", "budget": "low", "context_tokens": 10, "output_tokens": 5}\n'
                    '{"task": "poetry", "budget": "low", "context_tokens": 10, "output_tokens": 5}\n')
    with pytest.raises(WorkloadError, match=r"bad.jsonl:2"):
        list(read_workload(path))
