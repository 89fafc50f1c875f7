"""Grading answers about a network: see cnncalc.checker for the map of its modules."""
