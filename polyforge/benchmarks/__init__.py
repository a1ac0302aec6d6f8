"""Benchmark data shipped with Polyforge (package data, no code): McEval's tasks in `mceval/`."""
