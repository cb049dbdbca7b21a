"""`llm-router demo`: the provider simulator and the service together, every catalog base URL pointed
at the simulator and placeholder keys set, so routing, execution and fallback work with no real key."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from app.config.catalog import Catalog

# Placeholders for every key variable of the catalog, plus what Bedrock's SigV4 and Vertex's URL need.
EXTRA_PLACEHOLDERS = {"AWS_SECRET_ACCESS_KEY": "demo-placeholder-secret", "VERTEX_AI_PROJECT": "demo-project"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def write_catalog(catalog: Catalog, path: Path) -> Path:
    """Write a catalog as YAML the loader validates again (the shipped file is never edited)."""
    path.write_text(yaml.safe_dump(catalog.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    return path


def placeholder_keys(catalog: Catalog, environ: Mapping[str, str]) -> dict[str, str]:
    """A placeholder for each key variable that is not set (the simulator accepts any non-empty key)."""
    wanted = {spec.api_key_env: f"demo-{name}-key" for name, spec in catalog.providers.items()}
    wanted |= EXTRA_PLACEHOLDERS
    return {var: value for var, value in wanted.items() if not environ.get(var)}


def _run(args: argparse.Namespace) -> int:
    from app.cli import serve_app
    from app.config.loader import load_catalog
    from app.simulator import SimulatorProcess

    if args.host not in LOOPBACK:
        print(f"refusing to listen on {args.host}: the demo runs without authentication; use 127.0.0.1",
              file=sys.stderr)
        return 2
    simulator = SimulatorProcess(host="127.0.0.1", port=args.simulator_port, log_level="warning").start()
    try:
        with tempfile.TemporaryDirectory(prefix="llm-router-demo-") as tmp:
            catalog = simulator.catalog(load_catalog(args.config))
            path = write_catalog(catalog, Path(tmp) / "routing_config.yaml")
            env = {**placeholder_keys(catalog, os.environ), "ROUTER_CONFIG": str(path)}
            os.environ.update(env)  # uvicorn's workers inherit the environment
            print(f"simulator on {simulator.url}; service on http://{args.host}:{args.port} "
                  f"(docs: http://{args.host}:{args.port}/docs)", file=sys.stderr)
            print(f"try: curl -s http://{args.host}:{args.port}/api/brain/ai-assistant/execute "
                  "-H 'content-type: application/json' "
                  """-d '{"task_type": "chat", "budget": "low", "prompt": "Hello"}'""", file=sys.stderr)
            print(f"fallback: curl -X PUT {simulator.url}/_control/providers/deepseek "
                  """-H 'content-type: application/json' -d '{"error_rate": 1.0, "status": 500}'""",
                  file=sys.stderr)
            # serve_app returns after a SIGTERM (uvicorn.run would re-raise it), so the simulator stops too.
            serve_app(host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    finally:
        simulator.stop()
    return 0


def register(subparsers: Any) -> None:
    """Add the `demo` subcommand."""
    parser = subparsers.add_parser("demo", help="run the service in front of the provider simulator",
                                   description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--simulator-port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--config", default=None,
                        help="catalog file (default: ROUTER_CONFIG or the shipped one)")
    parser.add_argument("--log-level", default="info")
    parser.set_defaults(handler=_run)
