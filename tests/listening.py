"""Which process listens on a TCP port, from /proc (Linux): its descriptors' socket inodes against
the kernel's tables of TCP sockets in state LISTEN."""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"


def listens(pid: int, port: int) -> bool:
    """True once process `pid` holds a socket listening on TCP `port` (IPv4 or IPv6)."""
    inodes = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # exited
        return False
    for fd in descriptors:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                return True
    return False
