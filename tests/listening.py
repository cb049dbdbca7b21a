"""Which process listens on a TCP port (psutil)."""

from __future__ import annotations

import psutil


def listens(pid: int, port: int) -> bool:
    """True once process `pid` holds a socket listening on TCP `port` (IPv4 or IPv6)."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:  # exited
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections)
