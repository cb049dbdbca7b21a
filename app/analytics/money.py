"""Money in answers: exact decimals out of SQL, JSON numbers at the edge, percentages of them."""

from __future__ import annotations

from decimal import Decimal


def usd(value: Decimal | None) -> float:
    """A JSON number for an exact amount (10 decimal places at most, as stored)."""
    if value is None:
        return 0.0
    return float(value.normalize()) if value else 0.0


def percent(part: Decimal, whole: Decimal) -> float:
    """part / whole in percent, 2 places; 0 when there is no whole."""
    if not whole:
        return 0.0
    return float(round(part * 100 / whole, 2))
