"""Quality estimates per (provider, model, task): the catalog's prior shrunk toward observations.

estimate = (prior x k + wh x sum(heuristic) + wf x sum(feedback)) / (k + wh x nh + wf x nf)

with k = quality_learning.prior_weight, wh and wf the weights of one heuristic score and one
explicit feedback; with no observations the estimate is the prior, with k weighted
observations it is halfway between the prior and their mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.config.catalog import Catalog, QualityLearning
from app.config.enums import TaskType

Key = tuple[str, str, TaskType]


@dataclass(slots=True)
class Observations:
    """Counts and sums (0-10 scale) of one key's heuristic scores and explicit feedback."""

    heuristic_n: int = 0
    heuristic_sum: float = 0.0
    feedback_n: int = 0
    feedback_sum: float = 0.0


@dataclass(frozen=True, slots=True)
class QualityEstimate:
    """One key's prior, estimate and the observations behind it."""

    provider: str
    model: str
    task: TaskType
    prior: float
    estimate: float
    heuristic_n: int
    heuristic_mean: float | None
    feedback_n: int
    feedback_mean: float | None

    @property
    def observations(self) -> int:
        return self.heuristic_n + self.feedback_n

    def to_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider, "model": self.model, "task": self.task.value,
            "prior": self.prior, "estimate": round(self.estimate, 4),
            "observations": self.observations,
            "heuristic": {"n": self.heuristic_n, "mean": _round(self.heuristic_mean)},
            "feedback": {"n": self.feedback_n, "mean": _round(self.feedback_mean)},
        }


@dataclass(frozen=True, slots=True)
class EstimateTable:
    """Every catalog key's estimate; `overlay` holds the keys that have observations."""

    estimates: tuple[QualityEstimate, ...] = ()
    overlay: dict[Key, float] = field(default_factory=dict)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def shrink(prior: float, obs: Observations, learning: QualityLearning) -> float:
    """The shrinkage estimate of the module docstring, clamped to 0-10."""
    k, wh, wf = learning.prior_weight, learning.heuristic_weight, learning.feedback_weight
    weight = k + wh * obs.heuristic_n + wf * obs.feedback_n
    if weight <= 0:
        return prior
    total = prior * k + wh * obs.heuristic_sum + wf * obs.feedback_sum
    return min(10.0, max(0.0, total / weight))


def build_table(catalog: Catalog, observed: Mapping[Key, Observations]) -> EstimateTable:
    """Estimates for every (provider, model, task) the catalog scores; unknown keys are ignored."""
    learning = catalog.quality_learning
    estimates: list[QualityEstimate] = []
    overlay: dict[Key, float] = {}
    for pname, provider in catalog.providers.items():
        for model in provider.models:
            for task, prior in model.quality.items():
                obs = observed.get((pname, model.name, task), Observations())
                value = shrink(prior, obs, learning)
                if obs.heuristic_n or obs.feedback_n:
                    overlay[(pname, model.name, task)] = value
                estimates.append(QualityEstimate(
                    pname, model.name, task, prior, value, obs.heuristic_n,
                    obs.heuristic_sum / obs.heuristic_n if obs.heuristic_n else None,
                    obs.feedback_n, obs.feedback_sum / obs.feedback_n if obs.feedback_n else None,
                ))
    return EstimateTable(tuple(estimates), overlay)


def merge(rows: Iterable[tuple[str, str, str, int, float]], *, feedback: bool,
          into: dict[Key, Observations]) -> None:
    """Add aggregate rows (provider, model, task, count, sum) to the observations."""
    for provider, model, task, n, total in rows:
        try:
            key = (provider, model, TaskType(task))
        except ValueError:
            continue  # a task this catalog no longer knows
        obs = into.setdefault(key, Observations())
        if feedback:
            obs.feedback_n += int(n)
            obs.feedback_sum += float(total or 0.0)
        else:
            obs.heuristic_n += int(n)
            obs.heuristic_sum += float(total or 0.0)
