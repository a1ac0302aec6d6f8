"""Base models for training: 'embedded' names the bundled SmolLM2, converted once to a transformers checkpoint."""

from __future__ import annotations

from pathlib import Path

from polyforge.llm.checkpoint import embedded_checkpoint


def resolve_base_model(name: str) -> Path | str:
    """'embedded' -> the cached SmolLM2 checkpoint; anything else is passed to transformers as is."""
    return embedded_checkpoint() if name == "embedded" else name
