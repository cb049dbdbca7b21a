"""`llm-router eval-router`: the difficulty estimator's CPT(50 %), CPT(80 %) and APGR beside the baselines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.quality.dataset import OutcomeRow, is_holdout, read_outcomes
from app.quality.estimator import DifficultyEstimator, RulesEstimator, load_estimator
from app.quality.eval import RouterMetrics, evaluate, length_scores, oracle_baseline, random_baseline


def register(subparsers: Any) -> None:
    """Add the eval-router subcommand."""
    cmd = subparsers.add_parser(
        "eval-router", help="score a prompt,strong,weak CSV with the difficulty estimator (RouteLLM metrics)"
    )
    cmd.add_argument("--data", type=Path, required=True, help="CSV with columns prompt,strong,weak (and id)")
    cmd.add_argument("--estimator", choices=("learned", "rules"), default="learned")
    cmd.add_argument("--holdout", action="store_true",
                     help="only the rows the training split held out (needs the id column)")
    cmd.add_argument("--json", action="store_true")
    cmd.set_defaults(handler=run)


def _estimator(kind: str) -> DifficultyEstimator:
    return RulesEstimator() if kind == "rules" else load_estimator()


def report(rows: list[OutcomeRow], estimator: DifficultyEstimator) -> list[RouterMetrics]:
    """The estimator, prompt-length, random and oracle figures on the same rows."""
    strong = [r.strong for r in rows]
    weak = [r.weak for r in rows]
    scores = [estimator.strong_win_rate(r.prompt) for r in rows]
    return [
        evaluate(estimator.name, scores, strong, weak),
        evaluate("prompt-length", length_scores([r.prompt for r in rows]), strong, weak),
        random_baseline(),
        oracle_baseline(strong, weak),
    ]


def run(args: argparse.Namespace) -> int:
    """Print the figures as a table or JSON; exit 2 on an unreadable file."""
    try:
        rows = read_outcomes(args.data)
    except (OSError, ValueError) as exc:
        print(f"eval-router: {exc}", file=sys.stderr)
        return 2
    if args.holdout:
        rows = [r for r in rows if is_holdout(r.id)]
    try:
        results = report(rows, _estimator(args.estimator))
    except ValueError as exc:
        print(f"eval-router: {exc}", file=sys.stderr)
        return 2
    strong_acc = sum(r.strong for r in rows) / len(rows)
    weak_acc = sum(r.weak for r in rows) / len(rows)
    if args.json:
        print(json.dumps({
            "data": str(args.data), "rows": len(rows), "holdout": args.holdout,
            "strong_accuracy": strong_acc, "weak_accuracy": weak_acc,
            "routers": [m.as_dict() for m in results],
        }, indent=2))
        return 0
    part = "held-out rows" if args.holdout else "rows"
    print(f"{args.data}: {len(rows)} {part}; strong {strong_acc:.1%}, weak {weak_acc:.1%} correct")
    print(f"{'router':<16}{'CPT(50%)':>10}{'CPT(80%)':>10}{'APGR':>8}")
    for m in results:
        print(f"{m.name:<16}{m.cpt50:>10.1%}{m.cpt80:>10.1%}{m.apgr:>8.3f}")
    print("CPT(x%): share of calls sent to the strong model to recover x% of its accuracy gain; "
          "APGR: area under that curve (random 0.5).")
    return 0
