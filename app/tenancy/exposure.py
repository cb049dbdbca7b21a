"""With authentication off the service must not be reachable from other machines."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; 0.0.0.0, :: and every other address are not."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(host: str, *, auth_enabled: bool) -> str | None:
    """Why the service must not listen on `host`, or None when it may."""
    if auth_enabled or is_loopback(host):
        return None
    return (f"refusing to listen on {host}: ROUTER_MASTER_KEY is not set, so authentication is off "
            "and anyone who can reach the port could use the service; set ROUTER_MASTER_KEY, or "
            "listen on 127.0.0.1")


def announcement(host: str, port: int, *, auth_enabled: bool) -> str:
    """The start-up line that says whether keys are required."""
    if auth_enabled:
        return f"authentication is on: every route but the probes, /metrics and the docs needs an API key " \
               f"(listening on {host}:{port})"
    return (f"authentication is OFF (ROUTER_MASTER_KEY is not set): listening on loopback only, "
            f"{host}:{port}, for local development and the demo")
