"""Offline training of the learned estimator (needs the `train` extra: numpy, scikit-learn).

Fits two L2 logistic models on the training part of the development data (weak model correct,
strong model correct) over unit-length n-gram vectors and standardised structural features; their
probability gap ranks prompts by the accuracy the strong model would add. A one-feature logistic fit
on out-of-fold gaps turns the gap into P(weak fails, strong succeeds). Deterministic: the split is by
id hash, vocabulary and folds are ordered, lbfgs has no randomness.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.quality import features
from app.quality.dataset import HOLDOUT_SHARE, OutcomeRow, read_outcomes, split
from app.quality.estimator import ARTIFACT_FORMAT, LearnedEstimator
from app.quality.eval import evaluate, length_scores

SEED = 20240601
DATA_SETS = ("gsm8k", "mmlu")
MIN_DOCUMENT_FREQUENCY = 3
TERM_SCALE = 0.5  # n-grams count half as much as the structural features (chosen by 5-fold CV on train)
REGULARISATION_C = 0.3
FOLDS = 5
DIGITS = 6


@dataclass(frozen=True, slots=True)
class Corpus:
    """Rows of every data set, tagged with the set's name."""

    rows: Mapping[str, list[OutcomeRow]]

    @classmethod
    def load(cls, data_dir: Path) -> Corpus:
        """Read `<set>_dev.csv` for every set in DATA_SETS."""
        return cls({name: read_outcomes(data_dir / f"{name}_dev.csv") for name in DATA_SETS})

    def part(self, holdout: bool) -> dict[str, list[OutcomeRow]]:
        """The training (holdout=False) or held-out rows of every set."""
        return {name: split(rows)[1 if holdout else 0] for name, rows in self.rows.items()}


def _vocabulary(found: Sequence[features.PromptFeatures]) -> list[str]:
    document_frequency: Counter[str] = Counter()
    for f in found:
        document_frequency.update(f.terms.keys())
    return sorted(t for t, df in document_frequency.items() if df >= MIN_DOCUMENT_FREQUENCY)


def _design(found: Sequence[features.PromptFeatures], vocabulary: list[str], mean: Any, scale: Any) -> Any:
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    index = {t: i for i, t in enumerate(vocabulary)}
    vocab_set = frozenset(vocabulary)
    data: list[float] = []
    cols: list[int] = []
    ptr = [0]
    for f in found:
        for term, value in sorted(features.term_vector(f.terms, vocab_set).items()):
            cols.append(index[term])
            data.append(value * TERM_SCALE)
        ptr.append(len(cols))
    term_block = csr_matrix((data, cols, ptr), shape=(len(found), len(vocabulary)))
    dense = (np.array([f.dense for f in found]) - mean) / scale
    return hstack([term_block, csr_matrix(dense)]).tocsr()


def _fit(x: Any, y: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=REGULARISATION_C, max_iter=5000).fit(x, y)


def _gap(strong_model: Any, weak_model: Any, x: Any) -> Any:
    return strong_model.predict_proba(x)[:, 1] - weak_model.predict_proba(x)[:, 1]


def _round(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def train(data_dir: Path) -> dict[str, Any]:
    """Fit on the training part of every set and return the artifact, held-out figures in its meta."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    corpus = Corpus.load(data_dir)
    rows = [r for part in corpus.part(holdout=False).values() for r in part]
    found = [features.extract(r.prompt) for r in rows]
    strong = np.array([r.strong for r in rows])
    weak = np.array([r.weak for r in rows])
    vocabulary = _vocabulary(found)
    dense = np.array([f.dense for f in found])
    mean = dense.mean(axis=0)
    scale = np.where(dense.std(axis=0) > 0, dense.std(axis=0), 1.0)
    x = _design(found, vocabulary, mean, scale)

    # out-of-fold gaps, so the calibration sees gaps as they look on unseen prompts
    gaps = np.zeros(len(rows))
    for fit_idx, out_idx in KFold(FOLDS, shuffle=True, random_state=SEED).split(x):
        gaps[out_idx] = _gap(_fit(x[fit_idx], strong[fit_idx]), _fit(x[fit_idx], weak[fit_idx]), x[out_idx])
    needed = ((strong > 0.5) & (weak < 0.5)).astype(int)
    calibration = LogisticRegression(C=1e6, max_iter=1000).fit(gaps.reshape(-1, 1), needed)
    slope, intercept = float(calibration.coef_[0][0]), float(calibration.intercept_[0])
    if slope <= 0:
        raise RuntimeError("calibration slope is not positive: the gap does not rank prompts by need")

    strong_model, weak_model = _fit(x, strong), _fit(x, weak)
    n_terms = len(vocabulary)

    def block(model: Any) -> dict[str, Any]:
        coef = model.coef_[0]
        return {
            "terms": [_round(w * TERM_SCALE) for w in coef[:n_terms]],
            "dense": [_round(w) for w in coef[n_terms:]],
            "bias": _round(float(model.intercept_[0])),
        }

    artifact: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "dense_names": list(features.DENSE_NAMES),
        "dense_mean": [_round(v) for v in mean],
        "dense_scale": [_round(v) for v in scale],
        "vocabulary": vocabulary,
        "models": {"strong": block(strong_model), "weak": block(weak_model)},
        "calibration": [_round(slope), _round(intercept)],
    }
    artifact["meta"] = {
        "trained_on": {name: len(part) for name, part in corpus.part(holdout=False).items()},
        "holdout_share": HOLDOUT_SHARE,
        "seed": SEED,
        "hyperparameters": {
            "min_document_frequency": MIN_DOCUMENT_FREQUENCY, "term_scale": TERM_SCALE,
            "C": REGULARISATION_C, "folds": FOLDS,
        },
        "heldout": heldout_figures(LearnedEstimator(artifact), corpus),
    }
    return artifact


def heldout_figures(estimator: LearnedEstimator, corpus: Corpus) -> dict[str, dict[str, float]]:
    """The estimator's and the length baseline's figures on the held-out rows of every set."""
    out: dict[str, dict[str, float]] = {}
    for name, rows in corpus.part(holdout=True).items():
        strong = [r.strong for r in rows]
        weak = [r.weak for r in rows]
        mine = evaluate("learned", [estimator.strong_win_rate(r.prompt) for r in rows], strong, weak)
        length = evaluate("length", length_scores([r.prompt for r in rows]), strong, weak)
        out[name] = {
            "rows": len(rows),
            "cpt50": round(mine.cpt50, 6), "cpt80": round(mine.cpt80, 6), "apgr": round(mine.apgr, 6),
            "length_cpt50": round(length.cpt50, 6), "length_cpt80": round(length.cpt80, 6),
            "length_apgr": round(length.apgr, 6),
        }
    return out


def size_bytes(artifact: Mapping[str, Any]) -> int:
    """Size of the artifact as written (compact JSON)."""
    import json

    return len(json.dumps(artifact, separators=(",", ":"), sort_keys=True).encode("utf-8"))

