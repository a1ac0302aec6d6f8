"""Base models for training: 'embedded' names the bundled SmolLM2 and a known model's name (qwen2.5-coder-0.5b,
...) that model, each converted once from its GGUF to a transformers checkpoint."""

from __future__ import annotations

from pathlib import Path

from polyforge.llm.checkpoint import resolve_checkpoint


def resolve_base_model(name: str) -> Path | str:
    """'embedded' or a known model's name -> its cached checkpoint; anything else is passed to transformers as is."""
    return resolve_checkpoint(name)
