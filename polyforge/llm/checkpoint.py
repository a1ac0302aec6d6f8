"""An embedded model as a plain transformers checkpoint, converted once from its GGUF and cached: what the
trainers fine-tune and what vLLM serves when no other model is named."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from polyforge.llm.models import DEFAULT_MODEL, KnownModel, cache_folder, gguf_path, known_model


def embedded_checkpoint(model: KnownModel = DEFAULT_MODEL) -> Path:
    """A plain transformers checkpoint of a known GGUF model (about 40 s the first time for SmolLM2, a minute for
    Qwen2.5-Coder-0.5B).

    A model loaded from GGUF refuses `save_pretrained`, so its dequantized weights are copied into
    a model built from the same config, which saves normally. The folder appears atomically.
    """
    target = cache_folder() / model.title
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    # The GGUF origin is recorded as a quantization config; the copy holds plain float weights, and
    # trainers refuse to fine-tune a model whose config says it is quantized.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    # A folder of this process's own: two commands converting at once must not write into the same one.
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=target.parent))
    try:
        plain.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        partial.replace(target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
        # Another process finished the same conversion first: its checkpoint is as good as ours.
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def resolve_checkpoint(name: str | None) -> str:
    """'embedded' (or nothing) -> the cached SmolLM2 checkpoint; a known model's name (qwen2.5-coder-0.5b, ...) ->
    its cached checkpoint; anything else (a folder, a hub name) as is."""
    if name in (None, "embedded"):
        return str(embedded_checkpoint())
    known = known_model(name)
    return str(embedded_checkpoint(known)) if known is not None else name
