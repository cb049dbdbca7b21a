"""`llm-router simulator`: serve every provider's wire format, with fault injection, on one port."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from app.simulator import ProfileError, create_simulator_app, run_simulator

    try:
        app = create_simulator_app(args.profile, args.seed)
    except ProfileError as exc:
        print(f"bad fault profile: {exc}", file=sys.stderr)
        return 2
    print(
        f"provider simulator on http://{args.host}:{args.port}/{{provider}}/… "
        f"(control: /_control/providers/{{provider}}, /_control/stats, /_control/reset; seed {args.seed})",
        file=sys.stderr,
    )
    run_simulator(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register(subparsers: Any) -> None:
    """Add the `simulator` subcommand."""
    parser = subparsers.add_parser("simulator", help="run the provider simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", type=int, default=0, help="seed of the error_rate draws (runs repeat)")
    parser.add_argument(
        "--profile", default=None, help="YAML or JSON fault profile: {providers: {name: settings}}"
    )
    parser.add_argument("--log-level", default="info")
    parser.set_defaults(handler=_run)
