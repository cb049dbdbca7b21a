"""Exclusion sets: the exclusions a decision shares with every decision of the same constraints,
stored once under the digest of their JSON (revision 0005).

A decision row keeps the digest (`excluded_set`) and its own exclusions (`excluded`); its whole
list is the set's entries followed by its own. The writer's row carries the set's entries too
(under SHARED_KEY, not a column), so a spooled or dead-lettered row is complete on its own, and
`insert_rows` stores a batch's distinct sets before its decisions, in the same transaction,
skipping those already stored.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.models import Decision, ExclusionSet

Row = dict[str, Any]

SHARED_KEY = "excluded_shared"  # a decision row's set entries (not a column)
EXCLUSION_SETS: sa.Table = ExclusionSet.__table__  # type: ignore[assignment]


def digest(entries: Sequence[dict[str, Any]]) -> str:
    """The set's key: SHA-256 of its JSON, in hex."""
    return hashlib.sha256(orjson.dumps(entries)).hexdigest()


class DigestMemo:
    """Digests of the entry lists seen lately, by the identity of their entries.

    A decision's shared exclusions are the routing index's memoised dicts, the same objects for
    every decision with those constraints (and never mutated), so a list whose entries are
    those very objects has the digest computed for them before. Each memo keeps its entries
    alive, so their ids cannot be reused by other objects while it is held. Lists of other
    objects (a replayed spool line) just miss and are hashed.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._memo: dict[tuple[int, int, int], tuple[list[dict[str, Any]], str]] = {}

    def digest(self, entries: list[dict[str, Any]]) -> str:
        if not entries:
            return digest(entries)
        key = (len(entries), id(entries[0]), id(entries[-1]))
        hit = self._memo.get(key)
        if hit is not None and all(map(operator.is_, hit[0], entries)):
            return hit[1]
        if len(self._memo) >= self.size:
            self._memo.clear()
        value = digest(entries)
        self._memo[key] = (list(entries), value)
        return value


MEMO = DigestMemo()


def split_excluded(excluded: list[dict[str, Any]], shared: int) -> dict[str, Any]:
    """A decision row's exclusion columns: the first `shared` entries as a set, the rest its own."""
    if shared <= 0:
        return {"excluded_set": None, "excluded": excluded}
    entries = excluded[:shared]
    return {"excluded_set": MEMO.digest(entries), "excluded": excluded[shared:], SHARED_KEY: entries}


def set_rows(decisions: Sequence[Row]) -> list[Row]:
    """The distinct sets a batch of decision rows refers to, as exclusion_sets rows."""
    sets: dict[str, Row] = {}
    for row in decisions:
        key = row.get("excluded_set")
        if key is not None and key not in sets:
            entries = row.get(SHARED_KEY)
            if entries is None:
                raise ValueError(f"decision {row.get('id')} names exclusion set {key} without its entries")
            sets[key] = {"digest": key, "excluded": entries, "created_at": row["created_at"]}
    return list(sets.values())


def whole_list(shared: list[dict[str, Any]] | None, own: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored decision's exclusions: its set's entries, then its own."""
    return own if not shared else [*shared, *own]


def with_shared_exclusions(stmt: sa.Select[Any], decisions: sa.Table) -> sa.Select[Any]:
    """The query with each decision's set entries added as the column `excluded_shared`."""
    return stmt.add_columns(EXCLUSION_SETS.c.excluded.label(SHARED_KEY)).outerjoin(
        EXCLUSION_SETS, EXCLUSION_SETS.c.digest == decisions.c.excluded_set)


async def exclusions_of(session: AsyncSession, decision: Decision) -> list[dict[str, Any]]:
    """The whole exclusion list of a decision loaded through the ORM."""
    shared = None
    if decision.excluded_set is not None:
        shared = await session.scalar(
            sa.select(EXCLUSION_SETS.c.excluded).where(EXCLUSION_SETS.c.digest == decision.excluded_set))
    return whole_list(shared, decision.excluded)
