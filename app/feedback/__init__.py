"""Feedback on answers and the quality estimates learned from it and from heuristic scores."""
