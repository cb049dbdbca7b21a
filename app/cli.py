"""The `llm-router` command: serve, route, and the commands later subsystems register."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from app.config.enums import BudgetTier, Region, TaskType
from app.errors import ConfigError, NoEligibleProvider

Handler = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    from app import logs
    from app.config.settings import Settings
    from app.tenancy.exposure import announcement, refusal

    settings = Settings()
    refused = refusal(args.host, auth_enabled=settings.auth_enabled)
    if refused is not None:
        print(refused, file=sys.stderr)
        return 2
    sockets = None
    if args.reuse_port:
        if args.workers != 1:
            print("--reuse-port serves with one worker: for more, start several services with "
                  "--reuse-port on the same port (the kernel spreads connections over them)", file=sys.stderr)
            return 2
        from app.listener import reuse_port_socket
        try:
            sockets = [reuse_port_socket(args.host, args.port)]
        except OSError as exc:
            print(f"cannot bind {args.host}:{args.port} with SO_REUSEPORT: {exc} (a process "
                  "listening there without --reuse-port, or as another user)", file=sys.stderr)
            return 2
    print(announcement(args.host, args.port, auth_enabled=settings.auth_enabled), file=sys.stderr)
    serve_app(host=args.host, port=args.port, workers=args.workers, log_level=args.log_level,
              log_config=logs.config(args.log_level), sockets=sockets)
    return 0


def reset_metrics_dir() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before workers start: stale files from a previous run
    would be summed into this run's counters (prometheus-client's multiprocess rule)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


# uvicorn's httptools protocol, sending each response's head and body in one write.
HTTP_PROTOCOL = "app.api.http_protocol:HttpToolsProtocol"


def serve_app(*, sockets: list[socket.socket] | None = None, **options: Any) -> None:
    """Run the service under uvicorn; a SIGTERM that drained and flushed cleanly exits 0.
    `sockets`: bound sockets to listen on instead of uvicorn's own (one worker; app/listener.py).

    uvicorn re-raises the signal after its graceful shutdown (so the process would end with
    -15/143); with one worker we keep the clean exit instead. Several workers run under
    uvicorn's supervisor, which already exits 0.
    """
    import uvicorn

    reset_metrics_dir()
    options = {"factory": True, "access_log": False, "http": HTTP_PROTOCOL, **options}
    config = uvicorn.Config("app.main:create_app", **options)
    if config.workers > 1:
        gc.enable()  # this process only supervises; each worker starts its own interpreter
        uvicorn.run("app.main:create_app", **options)
        return

    class CleanExitServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    server = CleanExitServer(config)
    server.run(sockets=sockets)
    if not server.started:  # the lifespan failed (e.g. a database schema behind the code)
        raise SystemExit(3)


def _route(args: argparse.Namespace) -> int:
    from app.routing.explain import decision_payload
    from app.routing.router import SmartLLMRouter
    from app.routing.schemas import RouteRequest

    router = SmartLLMRouter(args.config, check_keys=not args.ignore_keys)
    request = RouteRequest(
        task_type=args.task, budget=args.budget, context_size=args.context_size,
        region=args.region, requires_sla=args.requires_sla,
        requires_compliance=args.requires_compliance,
        expected_output_tokens=args.expected_output_tokens,
    )
    try:
        payload = decision_payload(router.decide(request))
    except NoEligibleProvider as exc:
        if args.json:
            print(json.dumps(exc.envelope(), indent=2))
        else:
            print(f"no eligible provider: {exc.message}")
            for e in exc.details["excluded"]:
                print(f"  {e['provider']:<13} {e['model']:<36} {e['reason']:<11} {e['detail']}")
        return 1
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    cost = payload["estimated_cost"]
    print(f"decision {payload['decision_id']}  strategy {payload['routing_strategy']}")
    print(f"{'#':<3}{'provider':<14}{'model':<36}{'region':<8}{'$/M':>8}{'quality':>9}{'est. $':>11}")
    for i, c in enumerate(payload["chain"]):
        print(f"{i:<3}{c['provider']:<14}{c['model']:<36}{c['region']:<8}"
              f"{c['blended_price']:>8.3f}{c['expected_quality']:>9.1f}{c['estimated_cost_usd']:>11.6f}")
    print(f"estimated ${cost['estimated_cost_usd']:.6f} vs baseline ${cost['baseline_cost_usd']:.6f}"
          f" ({cost['estimated_savings_percent']}% saved)")
    for reason in payload["reasons"]:
        print(f"- {reason}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-router", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--reuse-port", action="store_true",
                       help="bind with SO_REUSEPORT, so a new service can start on the port of one "
                            "still serving and take over without refusing a connection (one worker)")
    serve.set_defaults(handler=_serve)

    route = sub.add_parser("route", help="print one routing decision")
    route.add_argument("--task", type=TaskType, choices=list(TaskType), default=TaskType.CHAT)
    route.add_argument("--budget", type=BudgetTier, choices=list(BudgetTier), default=BudgetTier.LOW)
    route.add_argument("--context-size", type=int, default=1000)
    route.add_argument("--expected-output-tokens", type=int, default=None)
    route.add_argument("--region", type=Region, choices=list(Region), default=Region.GLOBAL)
    route.add_argument("--requires-sla", action="store_true")
    route.add_argument("--requires-compliance", action="store_true")
    route.add_argument("--config", default=None, help="catalog file (default: ROUTER_CONFIG)")
    route.add_argument("--ignore-keys", action="store_true",
                       help="route as if every provider had a key")
    route.add_argument("--json", action="store_true")
    route.set_defaults(handler=_route)

    for module_name in COMMANDS:
        module = importlib.import_module(f"app.commands.{module_name}")
        module.register(sub)
    return parser


# Each module under app/commands/ has `register(subparsers)` adding its subcommands.
COMMANDS: list[str] = ["db", "simulator", "demo", "keys", "eval_router", "simulate", "workload"]


def main(argv: Sequence[str] | None = None) -> int:
    # Start-up creates ~250k objects that live as long as the process; collecting while they appear
    # is wasted work (~0.1 s of CPU). `serve` keeps the collector off until the service's lifespan
    # has frozen what start-up built (app/main.py); every other command turns it back on here.
    gc.disable()
    try:
        args = build_parser().parse_args(argv)
        if args.handler is not _serve:
            gc.enable()
        code: int = args.handler(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        gc.enable()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
