"""Telling bad rows from a sick database, and keeping the rows the database refused.

A row error (a constraint, a malformed value) will fail however often it is retried, so the
writer sets those rows aside in a dead-letter file and stores the rest; any other error is the
database's, and the writer keeps the rows and retries (spooling them if it lasts).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from sqlalchemy import exc as sa_exc

from app.store.rows import Row, SpoolKind, encode

DEAD_LETTER_FILE = "dead-letter.jsonl"


def is_row_error(exc: BaseException) -> bool:
    """True when the rows themselves are bad (retrying cannot help); False for a sick database."""
    if isinstance(exc, sa_exc.IntegrityError | sa_exc.DataError | ValueError | TypeError):
        return True  # ValueError/TypeError: a value our own conversion refused
    own = getattr(exc, "sqlstate", None)
    if isinstance(own, str):  # the driver's own error, raised past SQLAlchemy (the batch COPY)
        return own[:2] in {"22", "23"}
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return False
        # asyncpg refuses a value it cannot encode (a malformed UUID) with SQLSTATE 22000, which
        # SQLAlchemy surfaces as a plain DBAPIError: classes 22 (data) and 23 (integrity) are
        # about the rows, anything else is about the database.
        cause = getattr(exc.orig, "__cause__", None)
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
        return isinstance(sqlstate, str) and sqlstate[:2] in {"22", "23"}
    # A bind processor refusing a value (a naive datetime) fails before the database sees
    # anything: a StatementError that wraps no driver error.
    return isinstance(exc, sa_exc.StatementError)



def append_dead_letter(path: Path, lines: list[bytes]) -> None:
    """Append and fsync; raises OSError if the file cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"".join(lines))
        os.fsync(fd)
    finally:
        os.close(fd)


def describe(exc: BaseException) -> str:
    """The first line of the driver's message, for logs (no SQL, no parameters)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}"


def wrap_row(kind: SpoolKind, row: Row, error: str) -> bytes:
    """A dead-letter line for a refused row: the error and the spool line of the record."""
    line = encode(kind, row)
    return orjson.dumps({"error": error, "record": orjson.Fragment(line.rstrip())},
                        option=orjson.OPT_APPEND_NEWLINE)


def wrap_raw(line: bytes, error: str) -> bytes:
    """A dead-letter line for a spool line that could not even be decoded."""
    return orjson.dumps({"error": error, "raw": line.decode("utf-8", "replace")},
                        option=orjson.OPT_APPEND_NEWLINE)
