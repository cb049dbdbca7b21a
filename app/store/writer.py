"""The durable write-behind writer: the request path hands records over and never waits.

submit_* appends to a bounded in-memory queue. A background task takes batches (once `batch_size`
rows are queued or `batch_wait_s` has passed, everything queued up to `batch_max`), inserts them
(app/store/batch.py: COPY on PostgreSQL, ON CONFLICT DO NOTHING wherever a row may be stored
already), commits, and only then removes them from the queue; on error it keeps the batch and
retries with jittered backoff. When the queue passes 80 % or writes have failed for 2 s (or one
hangs past its timeout), the queue moves to the on-disk spool and new records
follow it there, so the order is kept; the spool is replayed, in order, once the database answers,
and then records go to the queue again. Rows the database refuses as invalid go to a
dead-letter file instead of blocking the rest. A record is dropped only if even the spool
write fails (counted in `records_dropped_total`, logged at error). The spool's encoding, the
dead-letter file and the counts live in app/store/spool_records.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Sequence
from itertools import islice

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.metrics import RECORD_QUEUE_DEPTH, RECORDS_WRITTEN, SPOOL_DEPTH
from app.records import AttemptRecord, DecisionRecord, HealthSnapshotRecord
from app.store.batch import store_batch
from app.store.decision_lists import StoredLists
from app.store.failures import describe, is_row_error, wrap_row
from app.store.options import WriterOptions
from app.store.rows import LIST_KIND, Kind, Record, Row, SpoolKind, to_row
from app.store.spool import Spool
from app.store.spool_records import SpoolRecords, WriterStats
from app.store.sqlite_process import SqliteWriterProcess

log = logging.getLogger(__name__)

FAILURE_LOG_EVERY_S = 10.0


class RecordWriter:
    """A RecordSink that persists decisions, attempts and health snapshots, never losing one."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spool: Spool,
        options: WriterOptions | None = None,
        sqlite_process: SqliteWriterProcess | None = None,
    ) -> None:
        self.options = options or WriterOptions()
        self.sqlite_process = sqlite_process  # where SQLite batches run, if not in this process
        self.stats = WriterStats()
        self._sessions = sessions
        self._spool = spool
        self._disk = SpoolRecords(spool, self.stats)
        self._queue: deque[tuple[Kind, Record]] = deque()
        self._spool_at = max(1, int(self.options.queue_size * self.options.spool_at_fraction))
        self._batch_max = max(self.options.batch_size, self.options.batch_max)
        self._spooling = False
        self._closed = False
        self._epoch = 0
        self._pending_since: float | None = None
        self._failing_since: float | None = None
        self._writing_since: float | None = None
        self._flushing = 0
        self._failure_streak = 0
        self._last_failure_log = 0.0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stored_lists = StoredLists()

    # -- the RecordSink port (synchronous, never blocks on the database) --

    def submit_decision(self, record: DecisionRecord) -> None:
        self._submit([("decision", record)])

    def submit_attempts(self, records: Sequence[AttemptRecord]) -> None:
        self._submit([("attempt", r) for r in records])

    def submit_health_snapshots(self, records: Sequence[HealthSnapshotRecord]) -> None:
        self._submit([("health", r) for r in records])

    @property
    def pending(self) -> int:
        """Records not yet committed: in the queue plus in the spool."""
        return len(self._queue) + self._spool.depth

    @property
    def spooling(self) -> bool:
        return self._spooling

    @property
    def closed(self) -> bool:
        return self._closed

    def _submit(self, items: list[tuple[Kind, Record]]) -> None:
        if not items:
            return
        if self._spooling or self._closed:
            self._disk.append(items)
            if self._closed:
                self._spool.sync_now()  # nobody is left to fsync later
            return
        was_empty = not self._queue
        self._queue.extend(items)
        self._idle.clear()
        depth = len(self._queue)
        if was_empty:
            self._pending_since = time.monotonic()
            self._wake.set()
        elif depth >= self.options.batch_size:
            self._wake.set()
        self.stats.peak_queue = max(self.stats.peak_queue, depth)
        if depth >= self._spool_at:
            self._start_spooling(f"record queue at {depth} of {self.options.queue_size}")
        # The depth gauge is set by the keeper every tick, not here on every request.

    # -- spooling --

    def _start_spooling(self, reason: str) -> None:
        """Move the queue to the spool, in order; new records follow it until it is replayed."""
        if self._spooling:
            return
        log.warning("record writer: spooling to disk (%s)", reason)
        self._spooling = True
        self._idle.clear()
        self._epoch += 1  # a batch in flight stays spooled even if its commit succeeds
        items = list(self._queue)
        self._queue.clear()
        self._pending_since = None
        RECORD_QUEUE_DEPTH.set(0)
        self._disk.append(items)
        self._wake.set()

    # -- lifecycle --

    async def start(self) -> None:
        """Claim spools orphaned by dead processes, then start writing (theirs between the queue's
        batches, as `_watch_orphans` does; new records go to the database meanwhile)."""
        orphans = self._spool.claim_orphans()
        if not self._spool.empty:
            self._replay_claimed(orphans, "spooled by a previous run")
        self._tasks = [
            asyncio.create_task(self._run(), name="record-writer"),
            asyncio.create_task(self._keep(), name="record-spool-keeper"),
        ]
        if self.options.orphan_scan_s > 0:
            self._tasks.append(asyncio.create_task(self._watch_orphans(), name="record-spool-orphans"))

    async def flush(self, deadline_s: float | None = None) -> bool:
        """Wait until everything submitted so far is committed; False if the deadline came first."""
        self._flushing += 1
        self._wake.set()
        try:
            async with asyncio.timeout(deadline_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        finally:
            self._flushing -= 1
        return True

    async def close(self, deadline_s: float | None = None) -> bool:
        """Flush against a deadline, spool whatever is left, stop. True if everything was committed."""
        deadline = self.options.shutdown_flush_s if deadline_s is None else deadline_s
        drained = await self.flush(deadline) if deadline > 0 else \
            not (self._queue or self._spooling or not self._spool.empty)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        left = list(self._queue)
        self._queue.clear()
        RECORD_QUEUE_DEPTH.set(0)
        self._disk.append(left)
        spooled = self._spool.depth
        self._spool.close()
        self._closed = True
        if self.sqlite_process is not None:
            await self.sqlite_process.close()
        if not drained:
            log.warning("record writer: shutdown deadline passed; %d record(s) stay in the spool "
                        "and are replayed at the next start", spooled)
        return drained

    # -- the background tasks --

    async def _run(self) -> None:
        while True:
            try:
                if self._spooling:
                    ok = await self._replay_once()
                elif not self._spool.empty:  # claimed from another process: between the queue's batches
                    ok = await self._replay_once() and await self._write_queue_once(wait=False)
                else:
                    ok = await self._write_queue_once()
            except Exception:  # a bug must not stop the writer: keep the records, retry
                log.exception("record writer: unexpected error; retrying")
                ok = False
            if ok:
                self._failure_streak = 0
            else:
                await self._backoff()

    async def _keep(self) -> None:
        """Group-commit the spool (fsync at most every interval), detect a stuck database, and
        keep the queue depth gauge current (at most a tick old)."""
        tick = min(0.05, self.options.fsync_interval_s or 0.05)
        while True:
            await asyncio.sleep(tick)
            RECORD_QUEUE_DEPTH.set(len(self._queue))
            try:
                if self._spool.due_for_sync():
                    await self._spool.sync()
                self._spool_if_unreachable()
            except OSError as exc:
                log.error("record writer: spool fsync failed: %s", exc)
            except Exception:  # a bug must not stop the fsyncs and the outage detection
                log.exception("record writer: spool keeper error; continuing")

    async def _watch_orphans(self) -> None:
        """Every `orphan_scan_s`, take over spool segments another process on the data directory
        left while this one runs (it died, or stopped past its flush deadline), replayed between
        the queue's batches (other requests than this process's: their order is free)."""
        while True:
            await asyncio.sleep(self.options.orphan_scan_s)
            try:
                found = await self._spool.find_orphans_in_thread()
            except Exception:  # a full disk, a bug: scan again next time
                log.exception("record writer: looking for orphaned spool segments failed")
                continue
            if found:
                self._replay_claimed(self._spool.adopt(found), "a stopped process left in the spool")

    def _replay_claimed(self, claimed: int, whose: str) -> None:
        self._idle.clear()
        self._wake.set()
        SPOOL_DEPTH.set(self._spool.depth)
        self.stats.peak_spool = max(self.stats.peak_spool, self._spool.depth)
        log.warning("record writer: replaying %d record(s) %s", claimed, whose)

    def _spool_if_unreachable(self) -> None:
        """Writes have failed for `unreachable_s` (from the start of the first failed one, so a
        write hanging until its timeout counts too): keep the queue on disk instead of in memory.
        A database merely slow but answering is left alone (the 80 % rule covers it)."""
        if self._spooling or not self._queue:
            return
        now = time.monotonic()
        failing, writing = self._failing_since, self._writing_since
        if failing is not None and now - failing >= self.options.unreachable_s:
            self._start_spooling(f"database unreachable for {now - failing:.1f} s")
        elif writing is not None and now - writing >= self.options.write_timeout_s:
            # The write hangs and even its cancellation does not come back (a black-holed link).
            self._start_spooling(f"a database write has hung for {now - writing:.1f} s")

    async def _backoff(self) -> None:
        self._failure_streak += 1
        ceiling = min(self.options.retry_max_s, 0.05 * 2 ** min(self._failure_streak, 10))
        await asyncio.sleep(ceiling / 2 + random.random() * ceiling / 2)

    async def _write_queue_once(self, *, wait: bool = True) -> bool:
        """Write a batch from the queue; `wait`: for a first record, then for a batch to fill."""
        if not self._queue:
            if wait:
                self._wake.clear()
                await self._wake.wait()
            return True
        if wait:
            await self._linger()
        if self._spooling or not self._queue:
            return True
        epoch = self._epoch
        batch = list(islice(self._queue, self._batch_max))
        rows = [(kind, to_row(kind, record)) for kind, record in batch]
        if not await self._write(rows):
            return False
        if epoch == self._epoch:
            for _ in batch:
                self._queue.popleft()
        self._pending_since = time.monotonic() if self._queue else None
        self._idle_if_done()
        RECORD_QUEUE_DEPTH.set(len(self._queue))
        return True

    async def _linger(self) -> None:
        """Let a batch fill up: until `batch_size` rows or `batch_wait_s` after the oldest."""
        start = self._pending_since or time.monotonic()
        while (len(self._queue) < self.options.batch_size and not self._flushing
               and not self._spooling):
            remaining = start + self.options.batch_wait_s - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._wake.wait()
            except TimeoutError:
                return

    async def _replay_once(self) -> bool:
        """A batch from the spool's oldest segment: everything on disk while spooling, else the
        segments claimed from another process (new records meanwhile go through the queue)."""
        lines, cursor, torn = self._spool.read(self._batch_max)
        if torn:
            self._disk.drop(1, "a spool segment ends with half a line (the process died mid-write)")
        if cursor is not None and not lines:
            if not self._spool.is_active(cursor.segment):
                self._spool.advance(cursor)  # a claimed segment read to its end
                self._idle_if_done()
                return True
            if self._spool.finish_if_drained():
                self._spooling = False
                self._idle.set()
                SPOOL_DEPTH.set(0)
                log.warning("record writer: spool replayed; writing to the database directly again")
                return True
            await asyncio.sleep(0.01)
            return True
        if cursor is None:  # nothing on disk at all
            self._spooling = False
            if not self._queue:
                self._idle.set()
            return True
        rows = self._disk.decode(lines)
        if not await self._write(rows):
            return False
        self._spool.advance(cursor)
        self.stats.replayed += _records(rows)
        SPOOL_DEPTH.set(self._spool.depth)
        self._idle_if_done()
        return True

    def _idle_if_done(self) -> None:
        """Everything submitted is committed: nothing queued, nothing on disk."""
        if not self._queue and not self._spooling and self._spool.empty:
            self._idle.set()

    async def _write(self, rows: Sequence[tuple[SpoolKind, Row]]) -> bool:
        """Insert and commit rows; True once they are all stored (or dead-lettered)."""
        if not rows:
            return True
        started = self._writing_since = time.monotonic()
        try:
            async with asyncio.timeout(self.options.write_timeout_s):
                await self._insert(rows)
        except Exception as exc:
            if is_row_error(exc):
                return await self._isolate(rows)
            self._note_failure(exc, started)
            return False
        finally:
            self._writing_since = None
        self._failing_since = None
        self.stats.written += _records(rows)
        RECORDS_WRITTEN.inc(_records(rows))
        return True

    async def _insert(self, rows: Sequence[tuple[SpoolKind, Row]]) -> None:
        await store_batch(self._sessions, rows, self._stored_lists, self.sqlite_process)

    async def _isolate(self, rows: Sequence[tuple[SpoolKind, Row]]) -> bool:
        """One row per transaction, to find the invalid ones and store all the others."""
        for kind, row in rows:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.options.write_timeout_s):
                    await self._insert([(kind, row)])
            except Exception as exc:
                if not is_row_error(exc):
                    self._note_failure(exc, started)
                    return False
                self._disk.dead_letter([wrap_row(kind, row, describe(exc))], describe(exc))
                continue
            if kind != LIST_KIND:
                self.stats.written += 1
                RECORDS_WRITTEN.inc()
        return True

    def _note_failure(self, exc: BaseException, started: float) -> None:
        self.stats.failures += 1
        self._stored_lists.clear()  # after an outage the lists are sent again until committed
        if self._failing_since is None:
            self._failing_since = started
        self._spool_if_unreachable()
        now = time.monotonic()
        if now - self._last_failure_log >= FAILURE_LOG_EVERY_S:
            self._last_failure_log = now
            log.warning("record writer: database write failed, records kept and retried: %s",
                        describe(exc))


def _records(rows: Sequence[tuple[SpoolKind, Row]]) -> int:
    """How many of the rows are records (not a spool's decision lists)."""
    return sum(kind != LIST_KIND for kind, _ in rows)
