"""Workload simulation: seeded workload files, dry-run forecasts, replays against the simulator, reports.

Modules: workload (the JSONL format and its generator), forecast (decisions only), replay (the service
in front of the provider simulator), history (workloads from the store's decisions), report (figures).
"""
