"""Difficulty estimators: from the prompt alone, how likely the weak model fails where the strong succeeds.

One method, after RouteLLM's router interface: `strong_win_rate(prompt) -> float` in [0, 1]. The
learned estimator reads a small JSON artifact shipped in the package (two linear models over
n-grams and structural features, trained offline by `scripts/train_estimator.py`); pure Python,
no ML dependency at run time. When the artifact is missing or unreadable, `load_estimator` falls
back to the rules estimator, which needs nothing.
"""

from __future__ import annotations

import json
import logging
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.quality import features

log = logging.getLogger(__name__)

ARTIFACT_PATH = Path(__file__).parent / "artifacts" / "estimator.json"
ARTIFACT_FORMAT = 1


class DifficultyEstimator(Protocol):
    """What the router needs: a name for records and one scoring method."""

    name: str

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
class _Linear:
    """One logistic model: a weight per n-gram, a weight per standardised dense feature, a bias.

    The n-gram weights are a flat array of doubles indexed through the vocabulary index both models
    share (33k terms: about 5 MiB less than a dict of floats per model).
    """

    index: Mapping[str, int]
    weights: array[float]
    dense_mean: Sequence[float]
    dense_scale: Sequence[float]
    dense_weights: Sequence[float]
    bias: float

    def logit(self, term_vector: Mapping[str, float], dense: Sequence[float]) -> float:
        x = self.bias
        index, weights = self.index, self.weights
        for term, value in term_vector.items():
            i = index.get(term)
            if i is not None:
                x += weights[i] * value
        for v, mu, sd, w in zip(dense, self.dense_mean, self.dense_scale, self.dense_weights, strict=True):
            x += w * (v - mu) / sd
        return x


class LearnedEstimator:
    """Two logistic models (strong correct, weak correct); their gap, calibrated, is the win rate."""

    name = "learned"

    def __init__(self, artifact: Mapping[str, Any]) -> None:
        if not isinstance(artifact, Mapping):
            raise ValueError("estimator artifact is not a JSON object")
        if artifact.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"unsupported estimator artifact format {artifact.get('format')!r}")
        if list(artifact["dense_names"]) != list(features.DENSE_NAMES):
            raise ValueError("estimator artifact was trained on other dense features")
        self.meta: Mapping[str, Any] = artifact.get("meta", {})
        self._index: dict[str, int] = {term: i for i, term in enumerate(artifact["vocabulary"])}
        self._strong = self._linear(artifact, "strong", self._index)
        self._weak = self._linear(artifact, "weak", self._index)
        self._calibration: tuple[float, float] = (
            float(artifact["calibration"][0]), float(artifact["calibration"][1]),
        )

    @staticmethod
    def _linear(artifact: Mapping[str, Any], which: str, index: Mapping[str, int]) -> _Linear:
        vocab: Sequence[str] = artifact["vocabulary"]
        model = artifact["models"][which]
        weights: Sequence[float] = model["terms"]
        if len(weights) != len(vocab):
            raise ValueError(
                f"estimator artifact: {which} has {len(weights)} weights for {len(vocab)} terms"
            )
        return _Linear(
            index=index,
            weights=array("d", (float(w) for w in weights)),
            dense_mean=[float(v) for v in artifact["dense_mean"]],
            dense_scale=[float(v) for v in artifact["dense_scale"]],
            dense_weights=[float(v) for v in model["dense"]],
            bias=float(model["bias"]),
        )

    @classmethod
    def from_file(cls, path: Path) -> LearnedEstimator:
        """Read an artifact written by scripts/train_estimator.py."""
        # the standard library's parser: orjson peaks at ~17 MiB on this 1 MB file, json at ~5
        with path.open(encoding="utf-8") as fh:
            return cls(json.load(fh))

    def gain(self, prompt: str) -> float:
        """Expected accuracy gain of the strong model over the weak one: P(strong) - P(weak)."""
        found = features.extract(prompt)
        vector = features.term_vector(found.terms, self._index)
        strong = _sigmoid(self._strong.logit(vector, found.dense))
        return strong - _sigmoid(self._weak.logit(vector, found.dense))

    def strong_win_rate(self, prompt: str) -> float:
        """P(the weak model fails and the strong one succeeds), a monotone calibration of the gain."""
        a, b = self._calibration
        return _sigmoid(a * self.gain(prompt) + b)


def load_estimator(path: Path | None = None) -> DifficultyEstimator:
    """The learned estimator from its artifact, or the rules estimator if the artifact cannot be read."""
    artifact = path or ARTIFACT_PATH
    try:
        return LearnedEstimator.from_file(artifact)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("difficulty estimator artifact %s unusable (%s); using the rules estimator",
                    artifact, exc)
        return RulesEstimator()
