"""Offline training of the learned estimator (needs the `train` extra: numpy, scikit-learn).

Per prompt domain (`features.DOMAINS`: lettered answer options, or an open question), two L2
logistic models on the training part of the development data (strong model correct, weak model
correct) over unit-length n-gram vectors and standardised structural features; their probability gap
ranks prompts by the accuracy the strong model would add. The gap is blended with the standardised
log prompt length, with the weight that gives the best out-of-fold APGR on the domain's training rows
(so the blend can only use length where cross-validation says it helps), and a one-feature logistic
fit on the out-of-fold blended scores turns them into P(weak fails, strong succeeds).

Nothing here reads the held-out rows except `heldout_figures`, which reports the final model once.
Deterministic: the split is by id hash, vocabulary and folds are ordered, lbfgs has no randomness.
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
FOLDS = 5
DIGITS = 6
# (n-gram scale against the standardised dense features, inverse L2 strength C) per domain, chosen
# by 5-fold cross-validated APGR on the training part only (`train_estimator.py --select` reruns it).
DOMAIN_PARAMS: Mapping[str, tuple[float, float]] = {"choice": (2.0, 0.1), "open": (2.0, 0.3)}
SELECT_GRID = ((0.5, 0.03), (0.5, 0.1), (0.5, 0.3), (2.0, 0.03), (2.0, 0.1), (2.0, 0.3))
LENGTH_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


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


@dataclass(frozen=True, slots=True)
class _Domain:
    """One domain's training rows: their features and outcomes (numpy arrays)."""

    found: list[features.PromptFeatures]
    strong: Any
    weak: Any

    def subset(self, idx: Any) -> _Domain:
        return _Domain([self.found[i] for i in idx], self.strong[idx], self.weak[idx])

    def apgr(self, scores: Any) -> float:
        return evaluate("cv", [float(v) for v in scores], list(self.strong), list(self.weak)).apgr


@dataclass(frozen=True, slots=True)
class _Fit:
    """Two logistic models over one vocabulary and one standardisation."""

    vocabulary: list[str]
    mean: Any
    scale: Any
    term_scale: float
    strong: Any
    weak: Any

    def gap(self, found: Sequence[features.PromptFeatures]) -> Any:
        x = _design(found, self.vocabulary, self.mean, self.scale, self.term_scale)
        return self.strong.predict_proba(x)[:, 1] - self.weak.predict_proba(x)[:, 1]


def _vocabulary(found: Sequence[features.PromptFeatures]) -> list[str]:
    document_frequency: Counter[str] = Counter()
    for f in found:
        document_frequency.update(f.terms.keys())
    return sorted(t for t, df in document_frequency.items() if df >= MIN_DOCUMENT_FREQUENCY)


def _design(found: Sequence[features.PromptFeatures], vocabulary: list[str], mean: Any, scale: Any,
            term_scale: float) -> Any:
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    index = {t: i for i, t in enumerate(vocabulary)}
    data: list[float] = []
    cols: list[int] = []
    ptr = [0]
    for f in found:
        for term, value in sorted(features.term_vector(f.terms, index).items()):
            cols.append(index[term])
            data.append(value * term_scale)
        ptr.append(len(cols))
    term_block = csr_matrix((data, cols, ptr), shape=(len(found), len(vocabulary)))
    dense = (np.array([f.dense for f in found]) - mean) / scale
    return hstack([term_block, csr_matrix(dense)]).tocsr()


def _fit(domain: _Domain, term_scale: float, c: float) -> _Fit:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    vocabulary = _vocabulary(domain.found)
    dense = np.array([f.dense for f in domain.found])
    mean = dense.mean(axis=0)
    scale = np.where(dense.std(axis=0) > 0, dense.std(axis=0), 1.0)
    x = _design(domain.found, vocabulary, mean, scale, term_scale)
    models = [LogisticRegression(C=c, max_iter=5000).fit(x, y) for y in (domain.strong, domain.weak)]
    return _Fit(vocabulary, mean, scale, term_scale, models[0], models[1])


def _out_of_fold_gaps(domain: _Domain, term_scale: float, c: float) -> Any:
    """Each row's gap from models fitted on the other folds (vocabulary included)."""
    import numpy as np
    from sklearn.model_selection import KFold

    gaps = np.zeros(len(domain.found))
    for fit_idx, out_idx in KFold(FOLDS, shuffle=True, random_state=SEED).split(gaps):
        gaps[out_idx] = _fit(domain.subset(fit_idx), term_scale, c).gap(domain.subset(out_idx).found)
    return gaps


def _domains(rows: Sequence[OutcomeRow]) -> dict[str, _Domain]:
    import numpy as np

    grouped: dict[str, list[tuple[features.PromptFeatures, OutcomeRow]]] = {d: [] for d in features.DOMAINS}
    for r in rows:
        found = features.extract(r.prompt)
        grouped[features.domain_of(found)].append((found, r))
    out = {}
    for name, pairs in grouped.items():
        if len(pairs) < 10 * FOLDS:
            raise RuntimeError(f"too few training rows in domain {name}: {len(pairs)}")
        out[name] = _Domain([f for f, _ in pairs], np.array([r.strong for _, r in pairs]),
                            np.array([r.weak for _, r in pairs]))
    return out


def _round(value: float) -> float:
    return float(f"{value:.{DIGITS}g}")


def _train_domain(domain: _Domain, term_scale: float, c: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The domain's artifact block and its cross-validated figures (training rows only)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    gaps = _out_of_fold_gaps(domain, term_scale, c)
    gap_mean, gap_scale = float(gaps.mean()), float(gaps.std()) or 1.0
    log_chars = np.array([f.dense[0] for f in domain.found])
    length_mean, length_scale = float(log_chars.mean()), float(log_chars.std()) or 1.0
    z_gap = (gaps - gap_mean) / gap_scale
    z_length = (log_chars - length_mean) / length_scale
    cv_apgr = {weight: float(domain.apgr(z_gap + weight * z_length)) for weight in LENGTH_WEIGHTS}
    weight = max(LENGTH_WEIGHTS, key=lambda w: (round(cv_apgr[w], 9), -w))
    blended = z_gap + weight * z_length
    needed = ((domain.strong > 0.5) & (domain.weak < 0.5)).astype(int)
    calibration = LogisticRegression(C=1e6, max_iter=1000).fit(blended.reshape(-1, 1), needed)
    slope, intercept = float(calibration.coef_[0][0]), float(calibration.intercept_[0])
    if slope <= 0:
        raise RuntimeError("calibration slope is not positive: the score does not rank prompts by need")

    final = _fit(domain, term_scale, c)
    n_terms = len(final.vocabulary)
    strong_coef, weak_coef = final.strong.coef_[0], final.weak.coef_[0]
    block = {
        "vocabulary": final.vocabulary,
        "strong_terms": [_round(w * term_scale) for w in strong_coef[:n_terms]],
        "weak_terms": [_round(w * term_scale) for w in weak_coef[:n_terms]],
        "dense_mean": [_round(v) for v in final.mean],
        "dense_scale": [_round(v) for v in final.scale],
        "dense_strong": [_round(w) for w in strong_coef[n_terms:]],
        "dense_weak": [_round(w) for w in weak_coef[n_terms:]],
        "bias": [_round(float(final.strong.intercept_[0])), _round(float(final.weak.intercept_[0]))],
        "gap": [_round(gap_mean), _round(gap_scale)],
        "length": [_round(length_mean), _round(length_scale), weight],
        "calibration": [_round(slope), _round(intercept)],
    }
    length_only = float(domain.apgr(log_chars))
    cv = {
        "rows": len(domain.found), "term_scale": term_scale, "C": c, "length_weight": weight,
        "apgr_by_length_weight": {str(w): round(a, 6) for w, a in cv_apgr.items()},
        "length_apgr": round(length_only, 6),
    }
    return block, cv


def train(data_dir: Path) -> dict[str, Any]:
    """Fit on the training part of every set and return the artifact, held-out figures in its meta."""
    corpus = Corpus.load(data_dir)
    rows = [r for part in corpus.part(holdout=False).values() for r in part]
    blocks: dict[str, Any] = {}
    cv: dict[str, Any] = {}
    for name, domain in _domains(rows).items():
        term_scale, c = DOMAIN_PARAMS[name]
        blocks[name], cv[name] = _train_domain(domain, term_scale, c)
    artifact: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "dense_names": list(features.DENSE_NAMES),
        "domains": blocks,
    }
    artifact["meta"] = {
        "trained_on": {name: len(part) for name, part in corpus.part(holdout=False).items()},
        "holdout_share": HOLDOUT_SHARE,
        "seed": SEED,
        "hyperparameters": {"min_document_frequency": MIN_DOCUMENT_FREQUENCY, "folds": FOLDS,
                            "length_weights": list(LENGTH_WEIGHTS)},
        "cross_validation": cv,
        "heldout": heldout_figures(LearnedEstimator(artifact), corpus),
    }
    return artifact


def select(data_dir: Path) -> list[dict[str, Any]]:
    """Cross-validated APGR (out-of-fold, training rows only) of the gap for every SELECT_GRID pair."""
    corpus = Corpus.load(data_dir)
    rows = [r for part in corpus.part(holdout=False).values() for r in part]
    table = []
    for name, domain in _domains(rows).items():
        for term_scale, c in SELECT_GRID:
            gaps = _out_of_fold_gaps(domain, term_scale, c)
            table.append({"domain": name, "term_scale": term_scale, "C": c, "apgr": domain.apgr(gaps)})
    return table


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
