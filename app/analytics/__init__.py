"""Analytics over the stored records: SQL aggregates (raw edges + roll-ups kept per batch), cost and
savings against the baseline, recommendations, export, and the `RoutingAnalytics` library API.

spec.py / tables.py   roll-up definitions and tables;   window.py   how a window is covered
aggregate.py          one UNION ALL + GROUP BY statement per question;   percentiles.py   p95
providers.py costs.py tasks.py fallbacks.py decisions.py recommendations.py export.py   reports
options.py            the API's orderings and export formats;   library.py   RoutingAnalytics

`RoutingAnalytics` loads on first use, so a light submodule (window, options) does not pull the
reports into the service's start-up.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.analytics.library import RoutingAnalytics

__all__ = ["RoutingAnalytics"]


def __getattr__(name: str) -> Any:
    if name == "RoutingAnalytics":
        from app.analytics.library import RoutingAnalytics

        return RoutingAnalytics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
