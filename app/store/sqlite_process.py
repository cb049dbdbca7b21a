"""The record writer's SQLite batches, run in a process of their own (app/store/sqlite_worker.py).

In the service's process a batch runs in aiosqlite's thread, which shares the GIL with the event
loop: each of its statements takes the GIL back from the busy loop, and converting and binding
its rows holds it (the database writes cost 14 % of the throughput at concurrency 16, in a
same-run A/B against a writer whose inserts did nothing). Here the event loop only turns the batch
into statements and pickles them; the child, started at the first batch, does the rest on another
core (same run against the thread: -4 % CPU a request, child included, -8 % added p50). It
commits each batch in its own transaction before it answers, so the writer's rule holds: records
leave the queue only once committed. A child that dies, or a write that times out, fails that
batch like a lost connection (the writer keeps the records and retries, and ON CONFLICT DO
NOTHING skips rows a batch had committed before its answer was lost); the next batch starts a
new child.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import pickle
import sqlite3
import sys
import time
from collections.abc import Sequence

from sqlalchemy.engine import Dialect

from app.store.batch_sqlite import variable_limit
from app.store.sqlite_exec import Failed, Plan
from app.store.sqlite_worker import FRAME

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 5.0
RESTART_LOG_EVERY_S = 10.0  # a child that cannot start is retried with the writer's backoff


def error_from(name: str, args: tuple[str, ...]) -> BaseException:
    """The child's error as this process's exception of the same class (sqlite3's or a builtin)."""
    cls = getattr(sqlite3, name, None) or getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(*args)
        except TypeError:  # a class whose constructor wants other arguments (UnicodeEncodeError)
            pass
    return sqlite3.OperationalError(f"{name}: {' '.join(args)}")


class SqliteWriterProcess:
    """A child process that stores batches of plans into one SQLite file; one batch at a time.
    `dialect` is the service's SQLite dialect, which the rows are converted for."""

    def __init__(self, path: str, dialect: Dialect) -> None:
        self.path = path
        self.dialect = dialect
        with contextlib.closing(sqlite3.connect(":memory:")) as probe:  # the child's library's limit
            self.variable_limit = variable_limit(probe)
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.started = 0  # children started (the tests read it)
        self._restart_logged_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def run(self, plans: Sequence[Plan]) -> list[int]:
        """How many rows each plan added, committed; raises Failed as batch_sqlite.run does."""
        payload = pickle.dumps(list(plans), protocol=pickle.HIGHEST_PROTOCOL)
        async with self._lock:
            try:
                proc = await self._child()
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(FRAME.pack(len(payload)) + payload)
                await proc.stdin.drain()
                (size,) = FRAME.unpack(await proc.stdout.readexactly(FRAME.size))
                reply = pickle.loads(await proc.stdout.readexactly(size))  # noqa: S301 - our own child, over its pipe
            except (OSError, EOFError, asyncio.IncompleteReadError, pickle.UnpicklingError) as exc:
                self._abandon()
                raise Failed(None, sqlite3.OperationalError(
                    f"the SQLite writer process ended: {type(exc).__name__}")) from exc
            except BaseException:  # cancelled (the writer's timeout): the answer is still due
                self._abandon()
                raise
        if reply[0] == "ok":
            counts: list[int] = reply[1]
            return counts
        _, statement, name, args = reply
        raise Failed(statement, error_from(name, args))

    async def close(self) -> None:
        """End the child once it has answered what it was given (stdin closed: it exits 0)."""
        async with self._lock:
            proc, self._proc = self._proc, None
            if proc is None or proc.returncode is not None:
                return
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), CLOSE_WAIT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    async def _child(self) -> asyncio.subprocess.Process:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            return proc
        self._proc = proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.store.sqlite_worker", self.path,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self.started += 1
        now = time.monotonic()
        if self.started > 1 and (self._restart_logged_at is None
                                 or now - self._restart_logged_at >= RESTART_LOG_EVERY_S):
            self._restart_logged_at = now
            log.warning("record writer: started a new SQLite writer process (pid %d; %d started in all)",
                        proc.pid, self.started)
        return proc

    def _abandon(self) -> None:
        """Kill the child mid-exchange; the next batch starts another."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
