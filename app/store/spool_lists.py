"""A spooled decision's lists, once per spool segment.

A decision row carries its chain and shared exclusions (app/store/decision_lists.py), the same
few lists for every decision with the same constraints, and the exclusions are most of a line: 4.7
to 5.6 KB a decision here against ~0.7 KB without them, so a 90 s database outage at 2,500
requests a second spooled 2.2 GB. In a segment each list is now written once, as a line of its
own (`{"k": "list", "r": {"digest", "entries", "created_at"}}`) before the first decision naming
it; the decisions after it carry only the digests.

Replay stores a list line as the row of decision_lists it is, in the batch that reads it, which
commits before any later decision of the segment (a batch is written in order, lists before
decisions); the replay mark (app/store/spool.py) never passes an uncommitted line, so a process
that resumes a segment past a list finds it stored. Decision rows without their entries are
skipped by `list_rows`, as their lists are stored already or in the same batch.
"""

from __future__ import annotations

from collections.abc import Container

from app.store.decision_lists import LIST_COLUMNS
from app.store.rows import Row


def detach_lists(row: Row, written: Container[str]) -> list[Row]:
    """Take a decision row's list entries off it (the row is the writer's own, built for this
    line); returns, as decision_lists rows, those the segment has not `written` yet."""
    new: list[Row] = []
    for column, key in LIST_COLUMNS:
        entries = row.pop(key, None)
        name = row.get(column)
        if name is not None and entries is not None and name not in written:
            new.append({"digest": name, "entries": entries, "created_at": row["created_at"]})
    return new
