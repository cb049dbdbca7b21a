"""The on-disk spool: append-only JSON-lines segments that hold records the database cannot take yet.

Each writer owns its segments through an exclusive `flock`, so several workers can share a data
directory: a segment nobody holds a lock on belongs to a dead process and is claimed (replayed)
by the next writer that starts, or by a running one at its next scan (`find_orphans` in a thread,
then `adopt`; app/store/writer.py). Segments are created under a temporary name and renamed only
once locked, so a starting writer never claims a segment another is just creating.

How far a segment has been replayed is kept beside it (`spool-….mark`, rewritten after each
committed batch): a process stopped mid-replay leaves its segment and the mark, and the heir
resumes there instead of sending every line again. A restart after a long outage had claimed a
681,137-line segment of which 11,637 were still to replay. The mark is written only once the lines
before it are committed, so it can only lag (those lines are sent again and skipped as stored);
one that is missing or unreadable, or does not end a line, means the start of the segment.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from uuid_utils import uuid7

log = logging.getLogger(__name__)

SEGMENT_GLOB = "spool-*.jsonl"
# How a decision list's line starts (app/store/spool_lists.py): a line, not a record, in the depth.
LIST_LINE = b'{"k":"list"'
MARK_SUFFIX = ".mark"
MARK_WIDTH = 20  # digits of a replayed offset, rewritten in place
READ_CHUNK = 1 << 20
ABANDONED_AFTER_S = 60.0


@dataclass(slots=True)
class Segment:
    """One spool file, held open and locked by this process."""

    path: Path
    fd: int
    size: int
    offset: int = 0
    pending: int = 0
    sealed: bool = False
    mark_fd: int | None = None  # the replay mark, opened at the first committed batch
    lists: set[str] = field(default_factory=set)  # digests of the decision lists written to it


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a read stopped: advance to it once the lines are committed."""

    segment: Segment
    offset: int
    lines: int
    records: int  # of those lines, the records (not decision lists)


class Spool:
    """Append records as lines; read them back in order; delete a segment once it is replayed."""

    def __init__(self, directory: Path, *, fsync_interval: float = 0.1) -> None:
        self.directory = directory
        self.fsync_interval = fsync_interval
        self._segments: list[Segment] = []
        self._active: Segment | None = None
        self._dirty = False
        self._last_sync = 0.0

    @property
    def depth(self) -> int:
        """Records on disk not yet replayed (decision lists' lines aside)."""
        return sum(s.pending for s in self._segments)

    @property
    def empty(self) -> bool:
        return not self._segments

    def is_active(self, segment: Segment) -> bool:
        """True for the segment new records are appended to."""
        return segment is self._active

    def claim_orphans(self) -> int:
        """Take over segments left by dead processes (oldest first); returns their record count."""
        return self.adopt(self.find_orphans())

    def find_orphans(self) -> list[Segment]:
        """Lock and count the segments no live process holds (a dead one's), without taking them
        yet: safe in a thread while this spool is appended to and replayed on the event loop (of
        this spool it reads only which segments are its own). Pass them to `adopt`, or `release`."""
        if not self.directory.is_dir():
            return []
        own = {seg.path for seg in list(self._segments)}
        found: list[Segment] = []
        for tmp in self.directory.glob(".spool-*.new"):
            _remove_if_abandoned(tmp)
        for mark in self.directory.glob(f"spool-*{MARK_SUFFIX}"):
            if not mark.with_suffix(".jsonl").exists():  # its segment was replayed and removed
                mark.unlink(missing_ok=True)
        for path in sorted(self.directory.glob(SEGMENT_GLOB)):
            if path in own:
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # a live writer holds it (this one's own too: another open file)
                continue
            size = os.fstat(fd).st_size
            if not path.exists():  # replayed and deleted by its owner while we looked
                os.close(fd)
                continue
            offset = _read_mark(fd, path.with_suffix(MARK_SUFFIX), size)
            found.append(Segment(path, fd, size, offset=offset, pending=_count_records(fd, size, offset),
                                 sealed=True))
        return found

    def adopt(self, orphans: list[Segment]) -> int:
        """Replay the orphans found, oldest first, before the segment this process appends to
        (they hold other requests' records, so order between the two does not matter, and the
        active segment, never read to an end while it grows, must not hold them back)."""
        for seg in orphans:
            self._segments.append(seg)
            log.warning("claimed orphaned spool %s with %d records to replay%s", seg.path.name, seg.pending,
                        f" (replayed up to byte {seg.offset} by its owner)" if seg.offset else "")
        self._segments.sort(key=lambda s: (s is self._active, s.path.name))
        return sum(seg.pending for seg in orphans)

    async def find_orphans_in_thread(self) -> list[Segment]:
        """`find_orphans` off the event loop (counting a segment reads it all); if the caller is
        cancelled meanwhile, the thread still ends and what it found is released."""
        search = asyncio.ensure_future(asyncio.to_thread(self.find_orphans))
        try:
            return await asyncio.shield(search)
        except asyncio.CancelledError:
            search.add_done_callback(
                lambda done: done.cancelled() or done.exception() or Spool.release(done.result()))
            raise

    @staticmethod
    def release(orphans: list[Segment]) -> None:
        """Unlock orphans found but not adopted (the writer stopped meanwhile): the next start's."""
        for seg in orphans:
            os.close(seg.fd)

    def lists_written(self) -> Container[str]:
        """Digests of the decision lists the segment appended to next holds already."""
        return self._active.lists if self._active is not None else ()

    def append(self, lines: list[bytes], lists: Iterable[str] = ()) -> None:
        """Write lines at the end of the active segment (fsync follows within the interval);
        `lists`: digests of the decision lists among them."""
        if not lines:
            return
        seg = self._active or self._open_segment()
        data = b"".join(lines)
        view = memoryview(data)
        while view:
            written = os.write(seg.fd, view)
            view = view[written:]
        seg.size += len(data)
        seg.pending += sum(not line.startswith(LIST_LINE) for line in lines)
        seg.lists.update(lists)
        self._dirty = True

    def _open_segment(self) -> Segment:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"spool-{uuid7()}-{os.getpid()}.jsonl"
        tmp = self.directory / f".{name}.new"
        fd = os.open(tmp, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = self.directory / name
        os.rename(tmp, path)
        seg = Segment(path, fd, 0)
        self._segments.append(seg)
        self._active = seg
        log.warning("spooling records to %s", path)
        return seg

    def due_for_sync(self) -> bool:
        return self._dirty and time.monotonic() - self._last_sync >= self.fsync_interval

    async def sync(self) -> None:
        """fsync what was appended, off the event loop (a group commit for many appends)."""
        if not self._dirty or self._active is None:
            return
        self._dirty = False
        self._last_sync = time.monotonic()
        # A duplicate descriptor keeps the fsync safe if the segment is closed meanwhile.
        fd = os.dup(self._active.fd)
        try:
            await asyncio.to_thread(os.fsync, fd)
        finally:
            os.close(fd)

    def sync_now(self) -> None:
        """fsync immediately (shutdown, and writes after the writer has closed)."""
        if self._active is not None:
            os.fsync(self._active.fd)
        self._dirty = False

    def read(self, limit: int) -> tuple[list[bytes], Cursor | None, bool]:
        """Up to `limit` whole lines from the oldest segment: (lines, cursor, torn_tail)."""
        if not self._segments:
            return [], None, False
        seg = self._segments[0]
        lines: list[bytes] = []
        offset = seg.offset
        want = READ_CHUNK
        while len(lines) < limit and offset < seg.size:
            chunk = os.pread(seg.fd, min(want, seg.size - offset), offset)
            end = chunk.rfind(b"\n")
            if end < 0:
                if offset + len(chunk) >= seg.size:
                    break
                want *= 2  # one line longer than the chunk
                continue
            for line in chunk[: end + 1].splitlines(keepends=True):
                if len(lines) == limit:
                    break
                lines.append(line)
                offset += len(line)
        torn = seg.sealed and not lines and offset < seg.size
        if torn:  # a crash mid-write left half a line at the end of an orphan
            offset = seg.size
        records = sum(not line.startswith(LIST_LINE) for line in lines)
        return lines, Cursor(seg, offset, len(lines), records), torn

    def advance(self, cursor: Cursor) -> None:
        """Mark lines up to the cursor as committed; delete a segment once it is fully replayed."""
        seg = cursor.segment
        seg.offset = cursor.offset
        seg.pending = max(0, seg.pending - cursor.records)
        if seg.offset >= seg.size and seg is not self._active:
            self._remove(seg)
        elif cursor.lines:
            self._mark(seg)

    def _mark(self, seg: Segment) -> None:
        """Keep the replayed offset beside the segment (no fsync: a lost mark only lags)."""
        try:
            if seg.mark_fd is None:
                seg.mark_fd = os.open(seg.path.with_suffix(MARK_SUFFIX), os.O_WRONLY | os.O_CREAT, 0o600)
            os.pwrite(seg.mark_fd, f"{seg.offset:0{MARK_WIDTH}d}\n".encode(), 0)
        except OSError as exc:  # the heir replays from an older mark; nothing is lost
            log.warning("spool: could not keep the replay mark of %s: %s", seg.path.name, exc)

    def finish_if_drained(self) -> bool:
        """Delete the active segment if everything in it was replayed; True when the spool is empty."""
        seg = self._active
        if seg is not None and seg.offset >= seg.size and self._segments == [seg]:
            self._active = None
            self._remove(seg)
        return not self._segments

    def _remove(self, seg: Segment) -> None:
        seg.path.unlink(missing_ok=True)
        os.close(seg.fd)
        if seg.mark_fd is not None:
            os.close(seg.mark_fd)
            seg.mark_fd = None
        seg.path.with_suffix(MARK_SUFFIX).unlink(missing_ok=True)
        self._segments.remove(seg)
        log.info("spool %s replayed and removed", seg.path.name)

    def close(self) -> None:
        """fsync and release every segment; those not replayed stay for the next start."""
        self.sync_now()
        for seg in self._segments:
            os.close(seg.fd)
            if seg.mark_fd is not None:
                os.close(seg.mark_fd)
                seg.mark_fd = None
        self._segments.clear()
        self._active = None


def _read_mark(fd: int, mark: Path, size: int) -> int:
    """Where the segment's owner stopped replaying: an offset just after a newline, else 0."""
    try:
        text = mark.read_bytes()
    except OSError:
        return 0
    if len(text) != MARK_WIDTH + 1 or not text[:MARK_WIDTH].isdigit():
        return 0
    offset = int(text[:MARK_WIDTH])
    if not 0 < offset <= size or os.pread(fd, 1, offset - 1) != b"\n":
        return 0
    return offset


def _count_records(fd: int, size: int, offset: int = 0) -> int:
    """Whole lines from `offset` (a line's start), but for decision lists' lines."""
    pattern = b"\n" + LIST_LINE
    lines = lists = 0
    line_start = offset  # where the last (maybe torn) line starts
    before = b"\n"  # what precedes the chunk: `offset` starts a line
    while offset < size:
        chunk = os.pread(fd, min(READ_CHUNK, size - offset), offset)
        if not chunk:
            break
        lines += chunk.count(b"\n")
        window = before + chunk
        lists += window.count(pattern)
        before = window[-(len(pattern) - 1):]
        last = chunk.rfind(b"\n")
        if last >= 0:
            line_start = offset + last + 1
        offset += len(chunk)
    if line_start < offset and os.pread(fd, len(LIST_LINE), line_start) == LIST_LINE:
        lists -= 1  # a torn last line (the process died mid-write) is no line
    return lines - lists


def _remove_if_abandoned(path: Path) -> None:
    """A segment still under its temporary name whose creator died before locking it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        stat = os.fstat(fd)
        # Young files may be mid-creation by a live writer that has not locked them yet.
        if stat.st_size == 0 and time.time() - stat.st_mtime > ABANDONED_AFTER_S:
            path.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
