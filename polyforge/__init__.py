"""Polyforge: multi-agent synthetic instruction data for code LLMs."""

__version__ = "0.1.0"
