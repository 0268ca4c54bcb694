"""Benchmarks: scripts that print figures and write JSON and plots; never timed unit tests."""
