"""The listening socket of `llm-router serve --reuse-port`.

With SO_REUSEPORT a new service binds the port while the old one still serves it: the kernel
spreads new connections over every socket listening there, and the new one listens only once its
start-up is done (uvicorn calls listen() after the lifespan). SIGTERM to the old one then closes its
socket and it drains; connections keep landing on the new one, none refused. Both must have set the
option, as the same user (Linux's rule), so every service sharing the port is started with it.
"""

from __future__ import annotations

import socket


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEADDR and SO_REUSEPORT, not yet listening;
    OSError if the port is taken by a socket without SO_REUSEPORT (or another user's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    # Not inheritable (Python's default): a child process (the SQLite writer) holding it would keep
    # the port taking connections nobody accepts once the service has exited.
    return sock
