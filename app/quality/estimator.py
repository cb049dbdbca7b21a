"""Difficulty estimators: from the prompt alone, how likely the weak model fails where the strong succeeds.

One method, after RouteLLM's router interface: `strong_win_rate(prompt) -> float` in [0, 1]. The
learned estimator reads a small JSON artifact shipped in the package (per prompt domain, two
logistic models over n-grams and structural features blended with prompt length, trained offline
by `scripts/train_estimator.py`); pure Python, no ML dependency at run time. When the artifact is
missing or unreadable, `load_estimator` falls back to the rules estimator, which needs nothing.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.quality import features

log = logging.getLogger(__name__)

ARTIFACT_PATH = Path(__file__).parent / "artifacts" / "estimator.json"
ARTIFACT_FORMAT = 2


class DifficultyEstimator(Protocol):
    """What the router needs: a name for records and one scoring method."""

    @property
    def name(self) -> str: ...

    def strong_win_rate(self, prompt: str) -> float:
        """Probability that the strong model is needed for this prompt, in [0, 1]."""
        ...


def _sigmoid(x: float) -> float:
    # split by sign so exp never overflows
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class RulesEstimator:
    """Hand-set cues (length, numbers, steps, math, answer options); no artifact, no dependency."""

    name = "rules"
    # weights on features.DENSE_NAMES, centred on a typical ~300-character question
    _WEIGHTS: Mapping[str, float] = {
        "log_chars": 0.9,
        "log_sentences": 0.3,
        "log_distinct_numbers": 0.15,
        "fractions": 0.25,
        "time_units": 0.15,
        "math_symbols": 0.1,
    }
    _CENTRE = -0.9 * 5.7 - 0.3 * 1.6 - 0.15 * 1.2 - 1.0

    def strong_win_rate(self, prompt: str) -> float:
        """A logistic curve over a few cues that longer, multi-step prompts are harder."""
        values = dict(zip(features.DENSE_NAMES, features.extract(prompt).dense, strict=True))
        x = self._CENTRE + sum(w * values[k] for k, w in self._WEIGHTS.items())
        return _sigmoid(x)


@dataclass(frozen=True, slots=True)
class _DomainModel:
    """One domain's models: n-gram weights (flat arrays of doubles over the domain's vocabulary index,
    far smaller held than dicts of floats), dense weights, the blend with length and the calibration.

    score = (P(strong) - P(weak) - gap_mean) / gap_scale + length_weight * standardised log length;
    the win rate is a logistic calibration of that score, so it is monotone in it.
    """

    index: Mapping[str, int]
    strong_terms: array[float]
    weak_terms: array[float]
    dense_mean: Sequence[float]
    dense_scale: Sequence[float]
    dense_strong: Sequence[float]
    dense_weak: Sequence[float]
    bias: tuple[float, float]
    gap: tuple[float, float]
    length: tuple[float, float, float]
    calibration: tuple[float, float]

    @classmethod
    def parse(cls, name: str, block: Mapping[str, Any], n_dense: int) -> _DomainModel:
        vocabulary: Sequence[str] = block["vocabulary"]
        strong_terms = array("d", (float(w) for w in block["strong_terms"]))
        weak_terms = array("d", (float(w) for w in block["weak_terms"]))
        if not len(strong_terms) == len(weak_terms) == len(vocabulary):
            raise ValueError(f"estimator artifact: domain {name} has {len(strong_terms)} and "
                             f"{len(weak_terms)} weights for {len(vocabulary)} terms")
        model = cls(
            index={str(t): i for i, t in enumerate(vocabulary)},
            strong_terms=strong_terms,
            weak_terms=weak_terms,
            dense_mean=[float(v) for v in block["dense_mean"]],
            dense_scale=[float(v) for v in block["dense_scale"]],
            dense_strong=[float(v) for v in block["dense_strong"]],
            dense_weak=[float(v) for v in block["dense_weak"]],
            bias=(float(block["bias"][0]), float(block["bias"][1])),
            gap=(float(block["gap"][0]), float(block["gap"][1])),
            length=(float(block["length"][0]), float(block["length"][1]), float(block["length"][2])),
            calibration=(float(block["calibration"][0]), float(block["calibration"][1])),
        )
        sizes = {len(model.dense_mean), len(model.dense_scale), len(model.dense_strong),
                 len(model.dense_weak)}
        if sizes != {n_dense}:
            raise ValueError(f"estimator artifact: domain {name} has dense weights for other features")
        if model.gap[1] <= 0 or model.length[1] <= 0 or any(v <= 0 for v in model.dense_scale):
            raise ValueError(f"estimator artifact: domain {name} has a non-positive scale")
        return model

    def score(self, found: features.PromptFeatures) -> float:
        """The blended, uncalibrated difficulty score (higher = the strong model helps more)."""
        index, strong_terms, weak_terms = self.index, self.strong_terms, self.weak_terms
        strong, weak = self.bias
        for term, value in features.term_vector(found.terms, index).items():
            i = index[term]
            strong += strong_terms[i] * value
            weak += weak_terms[i] * value
        for v, mu, sd, ws, ww in zip(found.dense, self.dense_mean, self.dense_scale, self.dense_strong,
                                     self.dense_weak, strict=True):
            z = (v - mu) / sd
            strong += ws * z
            weak += ww * z
        gap = _sigmoid(strong) - _sigmoid(weak)
        length_mean, length_scale, length_weight = self.length
        log_chars = found.dense[0]
        return (gap - self.gap[0]) / self.gap[1] + length_weight * (log_chars - length_mean) / length_scale

    def win_rate(self, score: float) -> float:
        a, b = self.calibration
        return _sigmoid(a * score + b)


class LearnedEstimator:
    """Per domain (answer options or open question), two logistic models blended with prompt length."""

    name = "learned"

    def __init__(self, artifact: Mapping[str, Any]) -> None:
        if not isinstance(artifact, Mapping):
            raise ValueError("estimator artifact is not a JSON object")
        if artifact.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"unsupported estimator artifact format {artifact.get('format')!r}")
        if list(artifact["dense_names"]) != list(features.DENSE_NAMES):
            raise ValueError("estimator artifact was trained on other dense features")
        self.meta: Mapping[str, Any] = artifact.get("meta", {})
        domains = artifact["domains"]
        if set(domains) != set(features.DOMAINS):
            raise ValueError(f"estimator artifact: domains {sorted(domains)} != {list(features.DOMAINS)}")
        n_dense = len(features.DENSE_NAMES)
        self._domains = {name: _DomainModel.parse(name, domains[name], n_dense) for name in features.DOMAINS}

    @classmethod
    def from_file(cls, path: Path) -> LearnedEstimator:
        """Read an artifact written by scripts/train_estimator.py."""
        # the standard library's parser: orjson peaks at ~17 MiB on this 1 MB file, json at ~5
        with path.open(encoding="utf-8") as fh:
            return cls(json.load(fh))

    def score(self, prompt: str) -> tuple[str, float]:
        """The prompt's domain and its uncalibrated score (the win rate is monotone in it per domain)."""
        found = features.extract(prompt)
        domain = features.domain_of(found)
        return domain, self._domains[domain].score(found)

    def strong_win_rate(self, prompt: str) -> float:
        """P(the weak model fails and the strong one succeeds), calibrated per domain."""
        domain, score = self.score(prompt)
        return self._domains[domain].win_rate(score)


def load_estimator(path: Path | None = None) -> DifficultyEstimator:
    """The learned estimator from its artifact, or the rules estimator if the artifact cannot be read."""
    artifact = path or ARTIFACT_PATH
    try:
        return LearnedEstimator.from_file(artifact)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("difficulty estimator artifact %s unusable (%s); using the rules estimator",
                    artifact, exc)
        return RulesEstimator()


class DeferredEstimator:
    """`load_estimator(path)`'s estimator, read at its first use or by `load()`: reading the 1 MB
    artifact took ~60 ms of a ~1.6 s start-up here, which the service need not wait for (its
    lifespan calls `load()` in a thread once it is up)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._loaded: DifficultyEstimator | None = None
        self._lock = threading.Lock()

    def load(self) -> DifficultyEstimator:
        loaded = self._loaded
        if loaded is None:
            with self._lock:  # the lifespan's thread and a first request may ask at once
                if self._loaded is None:
                    self._loaded = load_estimator(self._path)
                loaded = self._loaded
        return loaded

    @property
    def name(self) -> str:
        return self.load().name

    def strong_win_rate(self, prompt: str) -> float:
        return self.load().strong_win_rate(prompt)
