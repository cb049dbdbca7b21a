"""Routing experiments: deterministic traffic splits between policies, and their comparison."""
