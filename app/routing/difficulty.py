"""Difficulty-aware choice: the cheapest eligible model whose expected quality meets a target.

Pure. The strong-win rate p (how likely a cheaper model falls short on this prompt, from the
difficulty estimator) is computed before the engine runs and passed in. A model of quality q,
beside the best eligible model of quality q_best, is expected to deliver
    expected = 1 - p x (1 - q / q_best)
of the best model's result: on an easy prompt (probability 1 - p) any eligible model does, on a
hard one it delivers q / q_best. The best eligible model always meets any target in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config.enums import TaskType
from app.routing.schemas import Scored


@dataclass(frozen=True, slots=True)
class DifficultyChoice:
    """What the choice saw: the estimate, the target, the reference quality and the winner's."""

    strong_win_rate: float
    quality_target: float
    best_quality: float
    expected: dict[tuple[str, str], float]
    met: int


def expected_quality(quality: float, best: float, strong_win_rate: float) -> float:
    """The share of the best eligible model's result this model is expected to deliver."""
    if best <= 0:
        return 1.0
    return 1.0 - strong_win_rate * (1.0 - min(quality, best) / best)


def order_by_target(
    groups: list[list[Scored]], task: TaskType, *, quality_target: float, strong_win_rate: float
) -> tuple[list[list[Scored]], DifficultyChoice]:
    """Each health group reordered: models meeting the target cheapest first, then the rest as ranked."""
    p = min(max(strong_win_rate, 0.0), 1.0)
    everyone = [s for g in groups for s in g]
    best = max((s.candidate.quality[task] for s in everyone), default=0.0)
    expected = {(s.candidate.provider, s.candidate.model):
                expected_quality(s.candidate.quality[task], best, p) for s in everyone}
    out: list[list[Scored]] = []
    met = 0
    for group in groups:
        meeting = [s for s in group
                   if expected[(s.candidate.provider, s.candidate.model)] >= quality_target - 1e-9]
        met += len(meeting)
        meeting.sort(key=lambda s: (s.candidate.blended_price, -s.score))
        chosen = {id(s) for s in meeting}
        out.append(meeting + [s for s in group if id(s) not in chosen])
    return out, DifficultyChoice(p, quality_target, best, expected, met)
