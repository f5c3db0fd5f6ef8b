"""Benchmarks of the neuro_nodes packages (run as ``python -m benchmarks.<name>``)."""
