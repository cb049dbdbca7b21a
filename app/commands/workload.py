"""`llm-router workload generate`: write a seeded, realistic workload file (JSONL) for `simulate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _generate(args: argparse.Namespace) -> int:
    from app.simulation.workload import generate, write_workload

    count = write_workload(generate(args.requests, args.seed, rate_per_s=args.rate), Path(args.output))
    print(f"wrote {count} requests to {args.output} (seed {args.seed})", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers: Any) -> None:
    """Add `workload generate`."""
    parser = subparsers.add_parser("workload", help="workload files for `simulate`", description=__doc__)
    actions = parser.add_subparsers(dest="workload_command", required=True)
    gen = actions.add_parser("generate", help="write a seeded workload (JSONL)")
    gen.add_argument("--requests", type=_positive, required=True)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--rate", type=float, default=20.0, help="mean arrivals per second (Poisson)")
    gen.add_argument("--output", required=True, help="JSONL file to write")
    gen.set_defaults(handler=_generate)
