"""Metrics and benchmark harnesses."""
