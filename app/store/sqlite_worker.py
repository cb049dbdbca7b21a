"""The SQLite writer process: runs the record writer's batches in a transaction each, over its
own sqlite3 connection, and answers with what each added or why it failed.

    python -m app.store.sqlite_worker PATH     (started by app/store/sqlite_process.py)

Frames on stdin and stdout are a 4-byte big-endian length and a pickle: in, a list of
`sqlite_exec.Plan`; out, `("ok", counts)` or `("failed", statement, error class name, error
args)`. It exits 0 when stdin closes (the service stopped or died). SIGINT and SIGTERM are
ignored: a Ctrl-C or an orchestrator's signal to the process group must not end it before the
service has flushed its records through it. Standard library only (14 MiB RSS at its start, ~19 under load).
"""

from __future__ import annotations

import pickle
import signal
import sqlite3
import struct
import sys
from typing import Any, BinaryIO

from app.store.sqlite_exec import PRAGMAS, Failed, execute

FRAME = struct.Struct("!I")


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame's payload, or None at the end of the stream."""
    head = stream.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    (size,) = FRAME.unpack(head)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def write_frame(stream: BinaryIO, value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(FRAME.pack(len(payload)) + payload)
    stream.flush()


def store(connection: sqlite3.Connection, payload: bytes) -> tuple[Any, ...]:
    """One batch in one transaction: its counts, or the failure (rolled back)."""
    try:
        connection.execute("BEGIN IMMEDIATE")
        counts = execute(connection, pickle.loads(payload))  # noqa: S301 - from the parent, over our stdin
        connection.execute("COMMIT")
        return ("ok", counts)
    except Failed as exc:
        failed = exc
    except sqlite3.Error as exc:  # BEGIN (the database is locked past busy_timeout) or COMMIT
        failed = Failed("COMMIT" if connection.in_transaction else "BEGIN IMMEDIATE", exc)
    if connection.in_transaction:
        connection.rollback()
    error = failed.error
    return ("failed", failed.statement, type(error).__name__, tuple(str(a) for a in error.args))


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    connection = sqlite3.connect(argv[1], isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while (payload := read_frame(stdin)) is not None:
        write_frame(stdout, store(connection, payload))
    connection.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
