"""`llm-router simulate`: replay a workload against the router and the provider simulator (or, with
--dry-run, only route it) and report cost, savings, availability, attempts and latency."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


def _items(args: argparse.Namespace) -> list[Any]:
    from app.simulation.workload import read_workload

    if args.from_store:
        from app.config.settings import Settings
        from app.simulation.history import load_history
        from app.store.engine import database_url

        return asyncio.run(load_history(database_url(Settings()), limit=args.limit))
    items = list(read_workload(Path(args.workload)))
    return items[: args.limit] if args.limit is not None else items


def _run(args: argparse.Namespace) -> int:
    from app.config.loader import load_catalog
    from app.simulation.forecast import forecast
    from app.simulation.replay import replay
    from app.simulation.report import build_report, render_table
    from app.simulation.workload import WorkloadError
    from app.simulator import ProfileError, load_profile

    if (args.workload is None) == (not args.from_store):
        print("give --workload FILE or --from-store (one of them)", file=sys.stderr)
        return 2
    try:
        items = _items(args)
        if args.fault_profile is not None:
            load_profile(args.fault_profile)  # fail here, with the field, rather than in the child
    except (WorkloadError, ProfileError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    catalog = load_catalog(args.config)
    source = {"workload": args.workload or "store", "catalog": str(args.config or "shipped")}
    if args.dry_run:
        report = build_report(forecast(items, catalog), mode="dry_run", extra=source)
    else:
        results, facts = asyncio.run(replay(
            items, catalog, profile=args.fault_profile, concurrency=args.concurrency, seed=args.seed,
            pace=args.pace, progress=sys.stderr.isatty() or args.progress,
        ))
        report = build_report(results, mode="replay", extra=source | facts)
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2) if args.json else render_table(report))
    return 0


def register(subparsers: Any) -> None:
    """Add the `simulate` subcommand."""
    parser = subparsers.add_parser("simulate", help="replay a workload and report cost and availability",
                                   description=__doc__)
    parser.add_argument("--workload", default=None, help="JSONL file (see `llm-router workload generate`)")
    parser.add_argument("--from-store", action="store_true",
                        help="replay the decisions recorded in the store (DATABASE_URL)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N requests")
    parser.add_argument("--dry-run", action="store_true", help="route only: no calls, estimated costs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--output", default=None, help="also write the JSON report to this file")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--fault-profile", default=None,
                        help="simulator fault profile (YAML/JSON: {providers: {name: settings}})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulator's error draws")
    parser.add_argument("--pace", action="store_true", help="send at the workload's arrival times")
    parser.add_argument("--progress", action="store_true", help="show the progress bar even when piped")
    parser.add_argument("--config", default=None, help="catalog file (default: ROUTER_CONFIG or shipped)")
    parser.set_defaults(handler=_run)
