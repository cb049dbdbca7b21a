"""Routing outcome rows (prompt, strong, weak) from CSV, and the fixed train / held-out split by id hash."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Share of rows held out from every training step; fixed before any model was fitted.
HOLDOUT_SHARE = 0.3
_HASH_SPACE = 16**8


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One prompt with the strong and weak model's outcomes (1.0 = answered correctly)."""

    id: str
    prompt: str
    strong: float
    weak: float


def is_holdout(row_id: str) -> bool:
    """True for the rows no training step may see: the first 8 hex digits of sha256(id) below 30 %."""
    digest = hashlib.sha256(row_id.encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / _HASH_SPACE < HOLDOUT_SHARE


def read_outcomes(path: Path) -> list[OutcomeRow]:
    """Rows of a CSV with columns prompt, strong, weak (and optionally id; else the row number)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"prompt", "strong", "weak"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = []
        for number, record in enumerate(reader, start=2):
            try:
                strong, weak = float(record["strong"]), float(record["weak"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}, line {number}: strong and weak must be numbers") from None
            rows.append(OutcomeRow(record.get("id") or str(number - 1), record["prompt"], strong, weak))
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def split(rows: Sequence[OutcomeRow]) -> tuple[list[OutcomeRow], list[OutcomeRow]]:
    """(training rows, held-out rows) by the id hash."""
    train = [r for r in rows if not is_holdout(r.id)]
    held = [r for r in rows if is_holdout(r.id)]
    return train, held


def default_data_dir(repo_root: Path | None = None) -> Path:
    """The RouteLLM development data: ../shared/data/routing-eval beside the repository, else /work/shared."""
    root = repo_root or Path(__file__).resolve().parents[2]
    beside = root.parent / "shared" / "data" / "routing-eval"
    return beside if beside.is_dir() else Path("/work/shared/data/routing-eval")
