"""The fault soak's report (bench/soak.py): what the load driver saw, checked against the records
the database holds, as figures (JSON) and as a table."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from app.simulation.report import percentile


@dataclass
class Tally:
    """What the load driver saw."""

    sent: int = 0
    unanswered: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    attempts: list[list[dict[str, Any]]] = field(default_factory=list)
    decisions: dict[str, int] = field(default_factory=dict)  # decision id -> attempts it reported
    peaks: dict[str, float] = field(default_factory=lambda: {"queue": 0.0, "spool": 0.0, "rss_mib": 0.0,
                                                             "rss_peak_at_s": 0.0, "spool_mib": 0.0})
    events: list[str] = field(default_factory=list)


def summarize(tally: Tally, records: tuple[dict[str, int], int, int], spool_left: int, log: str,
              extra: dict[str, Any], healthy: frozenset[str]) -> dict[str, Any]:
    """The soak's figures; `healthy`: the providers the fault profile never fails."""
    by_id, dupes, total_rows = records
    answered = sum(tally.statuses.values())
    routed = answered - tally.statuses[422]
    ok = tally.statuses[200]
    tried: Counter[str] = Counter()
    good: Counter[str] = Counter()
    for attempts in tally.attempts:
        for a in attempts:
            if a["outcome"] != "skipped":
                tried[a["provider"]] += 1
                good[a["provider"]] += a["outcome"] == "success"
    # Per request that reached the providers (a 422 no_eligible_provider has no attempts).
    real = [n for attempts in tally.attempts if (n := sum(a["outcome"] != "skipped" for a in attempts))]
    missing = [d for d in tally.decisions if d not in by_id]
    wrong_attempts = [d for d, n in tally.decisions.items() if d in by_id and by_id[d] < n]
    own = {p: round(100 * good[p] / tried[p], 3) for p in sorted(tried)}
    failed = [attempts for attempts in tally.attempts
              if attempts and not any(a["outcome"] == "success" for a in attempts)]
    failed_chains = Counter(" > ".join(f"{a['provider']}:{a['outcome']}" for a in attempts)
                            for attempts in failed)
    # Every failed request, not only the chains listed: one with a never-faulty provider in its chain
    # is the router's failure, not the fault profile's.
    failed_with_healthy = sum(any(a["provider"] in healthy for a in attempts) for attempts in failed)
    return {
        "requests_sent": tally.sent, "answered": answered, "unanswered": tally.unanswered,
        # unanswered: no HTTP answer (refused or reset while the one instance restarts, a timeout)
        "answered_percent": round(100 * answered / tally.sent, 3) if tally.sent else None,
        "succeeded": ok, "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "availability_percent": round(100 * ok / routed, 4) if routed else None,
        "provider_availability_percent": own,
        "provider_attempts": dict(sorted(tried.items())),
        "best_provider_percent": max((v for p, v in own.items() if tried[p] >= 20), default=None),
        "attempts_per_request": round(sum(real) / len(real), 4) if real else None,
        "latency_ms": {f"p{q}": percentile(tally.latencies_ms, q / 100) for q in (50, 95, 99)},
        "ejections": len(re.findall(r"ejected \(ejection", log)),
        "readmissions": len(re.findall(r"closed again", log)),
        "records": {"expected": len(tally.decisions), "stored": len(tally.decisions) - len(missing),
                    "missing": len(missing), "attempts_short": len(wrong_attempts),
                    "duplicated_attempts": dupes, "decision_rows": total_rows},
        "peak_queue": tally.peaks["queue"], "peak_spool": tally.peaks["spool"], "spool_left": spool_left,
        "peak_spool_mib": round(tally.peaks["spool_mib"], 1),
        "failed_chains": dict(failed_chains.most_common(8)),
        "failed_with_a_healthy_provider": failed_with_healthy, "events": tally.events, **extra,
    }


def render(r: dict[str, Any]) -> str:
    """The report as a table."""
    lat, rec = r["latency_ms"], r["records"]
    lines = [
        f"sent {r['requests_sent']}  answered {r['answered']} ({r.get('answered_percent', 'n/a')} %)  "
        f"unanswered {r['unanswered']}  succeeded {r['succeeded']}  statuses {r['statuses']}",
        f"availability with fallback {r['availability_percent']} %  (best single provider "
        f"{r['best_provider_percent']} %)  attempts/request {r['attempts_per_request']}",
        f"latency ms p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f}",
        f"ejections {r['ejections']}  re-admissions {r['readmissions']}",
        f"records expected {rec['expected']}  stored {rec['stored']}  missing {rec['missing']}  "
        f"duplicated attempts {rec['duplicated_attempts']}  attempts short {rec['attempts_short']}",
        f"peak queue {r['peak_queue']:.0f}  peak spool {r['peak_spool']:.0f} "
        f"({r.get('peak_spool_mib', 'n/a')} MiB)  spool left {r['spool_left']}  "
        f"drained {r.get('drain_s')} s after the load",
        f"RSS MiB {r['rss']}  port open s {r['port_open_s']}  SIGTERM to exit s "
        f"{r.get('sigterm_to_exit_s', 'n/a')} (ROUTER_SHUTDOWN_FLUSH_S {r.get('shutdown_flush_s', 'n/a')}, "
        f"restart {r.get('restart', 'stop-start')})  "
        f"exit codes {r['exit_codes']}",
        "provider own availability %: " + ", ".join(
            f"{p} {v}" for p, v in r["provider_availability_percent"].items()),
        *r["events"],
    ]
    return "\n".join(lines)
