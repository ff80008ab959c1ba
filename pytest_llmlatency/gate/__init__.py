"""Baselines (pytest-benchmark's format) and the regression gate."""
