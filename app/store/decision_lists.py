"""Decision lists: a decision's chain and shared exclusions, each stored once under the digest
of its JSON (revision 0005), instead of on every decision row.

A decision's chain is the same for every decision with the same constraints and provider health,
but for each entry's estimated cost, which follows from the entry's prices and the decision's
tokens: the record keeps the entries without it (`DecisionRecord.chain`) and readers add it back
(`chain_with_costs`). Its exclusions start with the memoised static ones of its constraints
(`DecisionRecord.shared_excluded` of them); the rest are its own (a context window too small,
an open circuit, a missing key) and stay on its row.

A decision row keeps the digests (`chain_set`, `excluded_set`) and its own exclusions
(`excluded`). The writer's row carries the lists' entries too (under CHAIN_KEY and SHARED_KEY,
not columns), so a spooled or dead-lettered row is complete on its own, and `insert_rows` stores
a batch's distinct lists before its decisions, in the same transaction, skipping those stored.
Rows written before revision 0005 have no digests and their whole lists inline.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Container, Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.models import Decision, DecisionList

Row = dict[str, Any]
Entries = list[dict[str, Any]]

CHAIN_KEY = "chain_entries"  # a decision row's chain entries (not a column)
SHARED_KEY = "excluded_shared"  # a decision row's shared exclusions (not a column)
LIST_COLUMNS = (("chain_set", CHAIN_KEY), ("excluded_set", SHARED_KEY))  # a list's digest, its entries
DECISION_LISTS: sa.Table = DecisionList.__table__  # type: ignore[assignment]


def digest(entries: Sequence[dict[str, Any]]) -> str:
    """A list's key: SHA-256 of its JSON, in hex."""
    return hashlib.sha256(orjson.dumps(entries)).hexdigest()


class DigestMemo:
    """Digests of the entry lists seen lately, by the identity of their entries.

    Chain entries and shared exclusions are the routing index's memoised dicts, the same objects
    for every decision with those constraints (and never mutated), so a list whose entries are
    those very objects has the digest computed for them before. Each memo keeps its entries
    alive, so their ids cannot be reused by other objects while it is held. Lists of other
    objects (a replayed spool line) just miss and are hashed.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._memo: dict[tuple[int, int, int], tuple[Entries, str]] = {}

    def digest(self, entries: Entries) -> str:
        size = len(entries)
        if not size:
            return digest(entries)
        key = (size, id(entries[0]), id(entries[-1]))
        hit = self._memo.get(key)
        # The ends are the memo's own (live) objects if their ids match; check the middle.
        if hit is not None and (size <= 2 or all(map(operator.is_, hit[0], entries))):
            return hit[1]
        if len(self._memo) >= self.size:
            self._memo.clear()
        value = digest(entries)
        self._memo[key] = (list(entries), value)
        return value


MEMO = DigestMemo()


def list_columns(chain: Entries, excluded: Entries, shared: int) -> Row:
    """A decision row's list columns, with the lists' entries under their (non-column) keys."""
    columns: Row = {"chain_set": None, "chain": chain, "excluded_set": None, "excluded": excluded}
    if chain:
        columns["chain_set"], columns["chain"], columns[CHAIN_KEY] = MEMO.digest(chain), [], chain
    if shared > 0:
        entries = excluded[:shared]
        columns["excluded_set"], columns["excluded"] = MEMO.digest(entries), excluded[shared:]
        columns[SHARED_KEY] = entries
    return columns


class StoredLists:
    """Digests of lists committed by this process lately: a batch naming only those sends none.

    Add digests only after the transaction that stored them has committed, and forget them all
    when a write fails (the database may have been replaced by a standby that lacks some).
    Bounded: past its size it starts over (a list sent again is skipped by ON CONFLICT).
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._digests: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return name in self._digests

    def add(self, names: Iterable[str]) -> None:
        if len(self._digests) >= self.size:
            self._digests.clear()
        self._digests.update(names)

    def clear(self) -> None:
        self._digests.clear()


def list_rows(decisions: Sequence[Row], stored: Container[str] = (),
              spooled: Sequence[Row] = ()) -> list[Row]:
    """The distinct lists of a batch, as decision_lists rows: those `spooled` on their own lines,
    then those its decision rows carry, but for those known to be `stored`. A decision row
    replayed from the spool carries none: its lists were on lines before it in its segment,
    stored with that batch or an earlier one (app/store/spool_lists.py)."""
    lists: dict[str, Row] = {row["digest"]: row for row in spooled if row["digest"] not in stored}
    for row in decisions:
        for column, key in LIST_COLUMNS:
            name = row.get(column)
            if name is None or name in lists or name in stored:
                continue
            entries = row.get(key)
            if entries is not None:
                lists[name] = {"digest": name, "entries": entries, "created_at": row["created_at"]}
    return list(lists.values())


def chain_with_costs(entries: Entries, input_tokens: int, output_tokens: int) -> Entries:
    """Chain entries with each one's estimated cost for the decision's tokens (the formula of
    Candidate.estimate_cost_float), where an entry does not carry one already."""
    return [
        e if "estimated_cost_usd" in e or "input_price" not in e else
        {**e, "estimated_cost_usd": (input_tokens * e["input_price"]
                                     + output_tokens * e["output_price"]) / 1e6}
        for e in entries
    ]


def whole_chain(entries: Entries | None, inline: Entries, input_tokens: int, output_tokens: int) -> Entries:
    """A stored decision's chain: its list's entries with their costs, or the inline one."""
    return inline if entries is None else chain_with_costs(entries, input_tokens, output_tokens)


def whole_excluded(shared: Entries | None, own: Entries) -> Entries:
    """A stored decision's exclusions: its shared list's entries, then its own."""
    return own if not shared else [*shared, *own]


def with_lists(stmt: sa.Select[Any], decisions: sa.Table) -> sa.Select[Any]:
    """The query with each decision's list entries as the columns CHAIN_KEY and SHARED_KEY."""
    chains, shared = DECISION_LISTS.alias("chain_list"), DECISION_LISTS.alias("excluded_list")
    return (stmt.add_columns(chains.c.entries.label(CHAIN_KEY), shared.c.entries.label(SHARED_KEY))
            .outerjoin(chains, chains.c.digest == decisions.c.chain_set)
            .outerjoin(shared, shared.c.digest == decisions.c.excluded_set))


async def lists_of(session: AsyncSession, decision: Decision) -> tuple[Entries, Entries]:
    """The whole chain and exclusions of a decision loaded through the ORM."""
    async def entries(name: str | None) -> Entries | None:
        if name is None:
            return None
        found: Entries | None = await session.scalar(
            sa.select(DECISION_LISTS.c.entries).where(DECISION_LISTS.c.digest == name))
        return found

    chain = whole_chain(await entries(decision.chain_set), decision.chain,
                        decision.input_tokens, decision.output_tokens)
    return chain, whole_excluded(await entries(decision.excluded_set), decision.excluded)
