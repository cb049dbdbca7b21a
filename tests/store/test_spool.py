"""The on-disk spool: order, exact round trips, orphans of dead processes, torn writes, locking."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from app.store.rows import attempt_row, decision_row, decode, encode
from app.store.spool import Spool
from tests.store import factories


def lines(n: int, start: int = 0) -> list[bytes]:
    return [f'{{"n": {i}}}\n'.encode() for i in range(start, start + n)]


def drain(spool: Spool, batch: int = 7) -> list[bytes]:
    out: list[bytes] = []
    while True:
        got, cursor, _ = spool.read(batch)
        if cursor is None:
            return out
        if not got:
            if spool.is_active(cursor.segment):
                assert spool.finish_if_drained()
                return out
            spool.advance(cursor)
            continue
        out.extend(got)
        spool.advance(cursor)


def replay_some(spool: Spool, n: int) -> list[bytes]:
    """Read up to n lines and mark them committed, as the writer does once their batch is stored."""
    got, cursor, _ = spool.read(n)
    assert cursor is not None
    spool.advance(cursor)
    return got


def test_records_come_back_exactly() -> None:
    created = dt.datetime(2025, 2, 3, 4, 5, 6, 789, tzinfo=dt.UTC)
    rec = factories.decision(created_at=created, estimated_cost_usd=Decimal("0.0000000001"))
    kind, row = decode(encode("decision", decision_row(rec)))
    assert kind == "decision"
    assert row == decision_row(rec)
    att = factories.attempt(rec.id, cost_usd=Decimal("123.4567890123"))
    assert decode(encode("attempt", attempt_row(att))) == ("attempt", attempt_row(att))


@pytest.mark.parametrize("line", [b"{not json\n", b'{"k": "bogus", "r": {}}\n', b'{"k": "decision"}\n'])
def test_malformed_lines_are_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match=r"malformed|unknown"):
        decode(line)


def test_lines_replay_in_order_and_the_file_goes_when_done(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(lines(10))
    spool.append(lines(15, start=10))
    assert spool.depth == 25
    assert len(list(tmp_path.glob("spool-*.jsonl"))) == 1
    assert drain(spool) == lines(25)
    assert spool.empty and spool.depth == 0
    assert list(tmp_path.glob("spool-*.jsonl")) == []


def test_appends_during_replay_are_read_after_earlier_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(lines(5))
    got, cursor, _ = spool.read(3)
    assert cursor is not None
    spool.advance(cursor)
    spool.append(lines(4, start=5))
    assert got + drain(spool) == lines(9)


def test_a_dead_writers_spool_is_claimed_and_replayed(tmp_path: Path) -> None:
    dead = Spool(tmp_path)
    dead.append(lines(12))
    dead.close()  # what a crash leaves: the file, no lock
    heir = Spool(tmp_path)
    assert heir.claim_orphans() == 12
    heir.append(lines(3, start=12))  # new records queue up behind the orphan
    assert drain(heir) == lines(15)
    assert list(tmp_path.glob("spool-*.jsonl")) == []


def test_a_live_writers_spool_is_left_alone(tmp_path: Path) -> None:
    live = Spool(tmp_path)
    live.append(lines(4))
    other = Spool(tmp_path)
    assert other.claim_orphans() == 0
    assert other.empty
    assert drain(live) == lines(4)


def test_a_running_spool_adopts_an_orphan_ahead_of_its_own_growing_segment(tmp_path: Path) -> None:
    """A process sharing the directory stops while this one spools: its segment, newer by name than
    this one's, is replayed first (the active segment is never read to an end while it grows)."""
    mine = Spool(tmp_path)
    mine.append(lines(2))
    other = Spool(tmp_path)
    other.append(lines(3, start=100))
    assert mine.find_orphans() == []  # its owner is alive: locked
    other.close()
    found = mine.find_orphans()
    assert [seg.pending for seg in found] == [3]
    assert mine.find_orphans() == []  # locked by the first search (another open file)
    assert mine.adopt(found) == 3
    assert mine.depth == 5
    mine.append(lines(1, start=2))
    assert drain(mine) == [*lines(3, start=100), *lines(3)]
    assert list(tmp_path.glob("spool-*")) == []


def test_orphans_found_but_not_adopted_are_released(tmp_path: Path) -> None:
    dead = Spool(tmp_path)
    dead.append(lines(4))
    dead.close()
    stopping = Spool(tmp_path)
    Spool.release(stopping.find_orphans())  # the writer stopped while its search ran
    heir = Spool(tmp_path)
    assert heir.claim_orphans() == 4
    assert drain(heir) == lines(4)


def test_a_torn_last_line_is_reported_and_the_rest_replayed(tmp_path: Path) -> None:
    dead = Spool(tmp_path)
    dead.append(lines(3))
    dead.close()
    (segment,) = tmp_path.glob("spool-*.jsonl")
    with segment.open("ab") as fh:
        fh.write(b'{"n": 3, "half')
    heir = Spool(tmp_path)
    assert heir.claim_orphans() == 3
    got, cursor, torn = heir.read(10)
    assert got == lines(3) and not torn
    assert cursor is not None
    heir.advance(cursor)
    got, cursor, torn = heir.read(10)
    assert got == [] and torn
    assert cursor is not None
    heir.advance(cursor)
    assert heir.empty and not segment.exists()


def test_a_line_longer_than_the_read_chunk(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    big = b'{"blob": "' + b"x" * (3 << 20) + b'"}\n'
    spool.append([big, *lines(2)])
    assert drain(spool) == [big, *lines(2)]


async def test_sync_flushes_to_disk(tmp_path: Path) -> None:
    spool = Spool(tmp_path, fsync_interval=0)
    spool.append(lines(2))
    assert spool.due_for_sync()
    await spool.sync()
    assert not spool.due_for_sync()
    (segment,) = tmp_path.glob("spool-*.jsonl")
    assert segment.read_bytes() == b"".join(lines(2))
    assert os.stat(segment).st_mode & 0o777 == 0o600


def test_a_segment_replayed_in_part_is_resumed_where_its_owner_stopped(tmp_path: Path) -> None:
    dead = Spool(tmp_path)
    dead.append(lines(12))
    assert replay_some(dead, 5) == lines(5)  # committed: the mark moves past them
    dead.close()  # stopped mid-replay: the segment and its mark stay
    assert len(list(tmp_path.glob("spool-*.mark"))) == 1
    heir = Spool(tmp_path)
    assert heir.claim_orphans() == 7
    assert heir.depth == 7
    assert drain(heir, batch=3) == lines(7, start=5)
    assert list(tmp_path.iterdir()) == []  # the segment and its mark both gone


def test_the_heir_keeps_the_mark_for_its_own_heir(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    first.append(lines(10))
    replay_some(first, 2)
    first.close()
    second = Spool(tmp_path)
    assert second.claim_orphans() == 8
    assert replay_some(second, 3) == lines(3, start=2)
    second.close()
    third = Spool(tmp_path)
    assert third.claim_orphans() == 5
    assert drain(third) == lines(5, start=5)


@pytest.mark.parametrize("mark", [b"garbage\n", b"%020d\n" % 7, b"%020d\n" % 10**9, b"%020d" % 12, b""],
                         ids=["not-a-number", "mid-line", "past-the-end", "no-newline", "empty"])
def test_a_mark_that_cannot_be_trusted_means_the_whole_segment(tmp_path: Path, mark: bytes) -> None:
    dead = Spool(tmp_path)
    dead.append(lines(12))
    dead.close()
    (segment,) = tmp_path.glob("spool-*.jsonl")
    segment.with_suffix(".mark").write_bytes(mark)
    heir = Spool(tmp_path)
    assert heir.claim_orphans() == 12
    assert drain(heir) == lines(12)  # lines already stored are skipped by the database, not lost here


def test_a_mark_left_without_its_segment_is_removed(tmp_path: Path) -> None:
    stray = tmp_path / "spool-0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee-1.mark"
    stray.write_bytes(b"%020d\n" % 42)
    live = Spool(tmp_path)
    live.append(lines(2))
    replay_some(live, 1)  # a live writer's own mark, beside its locked segment
    heir = Spool(tmp_path)
    assert heir.claim_orphans() == 0
    assert not stray.exists()
    assert len(list(tmp_path.glob("spool-*.mark"))) == 1


@pytest.mark.parametrize("chunk", [5, 11, 64, 1 << 20])
def test_the_depth_counts_records_not_the_lines_of_decision_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """A decision list's line (app/store/spool_lists.py) is not a record: not in the depth when
    appended, read, or counted by an heir, wherever a read chunk cuts (and a torn last line is
    no line)."""
    monkeypatch.setattr("app.store.spool.READ_CHUNK", chunk)
    listed = [b'{"k":"list","r":{"digest":"d%d"}}\n' % i for i in range(3)]
    body = [listed[0], *lines(50), listed[1], *lines(3, start=50), listed[2]]
    spool = Spool(tmp_path)
    spool.append(body, {"d0", "d1", "d2"})
    assert spool.depth == 53
    assert replay_some(spool, 4) == [listed[0], *lines(3)]
    assert spool.depth == 50
    spool.close()
    (segment,) = tmp_path.glob("spool-*.jsonl")
    with segment.open("ab") as fh:
        fh.write(b'{"k":"list","r":{"dige')  # torn mid-write
    heir = Spool(tmp_path)
    assert heir.claim_orphans() == 50
    assert drain(heir) == [*lines(47, start=3), listed[1], *lines(3, start=50), listed[2]]
