"""Analytics over the stored records: SQL aggregates (raw edges + roll-ups kept per batch), cost and
savings against the baseline, recommendations, export, and the `RoutingAnalytics` library API.

spec.py / tables.py   roll-up definitions and tables;   window.py   how a window is covered
aggregate.py          one UNION ALL + GROUP BY statement per question;   percentiles.py   p95
providers.py costs.py tasks.py fallbacks.py decisions.py recommendations.py export.py   reports
library.py            RoutingAnalytics (the design note's names)
"""

from app.analytics.library import RoutingAnalytics

__all__ = ["RoutingAnalytics"]
