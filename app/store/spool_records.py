"""The record writer's disk side: records into the spool, spool lines back into rows, and rows
the database refuses into the dead-letter file, each counted in the writer's stats and metrics.

A decision's lists (its chain, its shared exclusions) go into a segment once, on their own line
before the first decision naming them (app/store/spool_lists.py). A record is lost only if even
the spool write fails: counted in `records_dropped_total` and logged at error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.metrics import RECORDS_DROPPED, RECORDS_REJECTED, SPOOL_DEPTH
from app.store.failures import DEAD_LETTER_FILE, append_dead_letter, wrap_raw
from app.store.rows import LIST_KIND, Kind, Record, Row, SpoolKind, decode, encode, to_row
from app.store.spool import Spool
from app.store.spool_lists import detach_lists

log = logging.getLogger(__name__)

# Records encoded and written to the spool at a time: moving a long queue to disk holds one chunk's
# lines, not the whole queue's (a soak's ~10,000 queued records took ~100 MiB at once).
SPOOL_CHUNK = 256


@dataclass(slots=True)
class WriterStats:
    """The record writer's counts since start (the benchmark and the fault tests read them)."""

    written: int = 0
    spooled: int = 0
    replayed: int = 0
    rejected: int = 0
    dropped: int = 0
    failures: int = 0
    peak_queue: int = 0
    peak_spool: int = 0


class SpoolRecords:
    """Records to and from one spool, counted in `stats`."""

    def __init__(self, spool: Spool, stats: WriterStats) -> None:
        self.spool = spool
        self.stats = stats

    def append(self, items: list[tuple[Kind, Record]]) -> None:
        """Append the records to the spool, in order, SPOOL_CHUNK at a time."""
        for start in range(0, len(items), SPOOL_CHUNK):
            self._append_chunk(items[start:start + SPOOL_CHUNK])
        depth = self.spool.depth
        self.stats.peak_spool = max(self.stats.peak_spool, depth)
        SPOOL_DEPTH.set(depth)

    def _append_chunk(self, items: list[tuple[Kind, Record]]) -> None:
        """Encode and append records; a decision's lists go before it, once a segment."""
        lines: list[bytes] = []
        written = self.spool.lists_written()
        lists: set[str] = set()
        records = 0
        for kind, record in items:
            try:
                row = to_row(kind, record)
                new = [r for r in detach_lists(row, written) if r["digest"] not in lists] \
                    if kind == "decision" else []
                encoded = [encode(LIST_KIND, r) for r in new]
                encoded.append(encode(kind, row))
            except (TypeError, ValueError) as exc:
                self.drop(1, f"cannot serialise a {kind} record: {exc}")
                continue
            lines += encoded
            lists.update(r["digest"] for r in new)
            records += 1
        try:
            self.spool.append(lines, lists)
        except OSError as exc:
            self.drop(records, f"spool write failed: {exc}")
            return
        self.stats.spooled += records

    def decode(self, lines: list[bytes]) -> list[tuple[SpoolKind, Row]]:
        """Spool lines as rows; a line that will not decode goes to the dead-letter file."""
        rows: list[tuple[SpoolKind, Row]] = []
        for line in lines:
            try:
                rows.append(decode(line))
            except ValueError as exc:
                self.dead_letter([wrap_raw(line, str(exc))], str(exc))
        return rows

    def drop(self, count: int, reason: str) -> None:
        RECORDS_DROPPED.inc(count)
        self.stats.dropped += count
        log.error("record writer: %d record(s) LOST: %s", count, reason)

    def dead_letter(self, lines: list[bytes], reason: str) -> None:
        """Keep rows the database refused as invalid, with the reason, for a human to look at."""
        path = self.spool.directory / DEAD_LETTER_FILE
        try:
            append_dead_letter(path, lines)
        except OSError as exc:
            self.drop(len(lines), f"dead-letter write failed: {exc}")
            return
        RECORDS_REJECTED.inc(len(lines))
        self.stats.rejected += len(lines)
        log.error("record writer: %d row(s) refused by the database (%s); kept in %s",
                  len(lines), reason, path)
