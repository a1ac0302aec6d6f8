"""What the training tests share: a tiny random Llama with SmolLM2's tokenizer saved as a model folder, a campaign
database of pairs and preferences, and `polyforge train` run as a real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from factories import campaign_with_snippets, pair

TRAIN_COMMAND = [sys.executable, "-m", "polyforge.cli", "train"]


def smollm2_tokenizer():
    from transformers import AutoTokenizer

    from polyforge.llm.embedded import bundled_gguf_path

    gguf = bundled_gguf_path()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def tiny_llama(tokenizer):
    """Two layers of width 32 with random weights: a training step takes milliseconds."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512)
    return LlamaForCausalLM(config)


def tiny_model_folder(folder: Path, tokenizer) -> Path:
    tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def answer(index: int) -> str:
    return (f"Here it is.\n```python\ndef add_{index}(x):\n    if x > {index}:\n        total = x * 2 + {index}\n"
            f"        return total\n    return x - {index}\n```")


def campaign_database(path: Path, pairs: int = 8, preferences: bool = True) -> str:
    """A SQLite campaign of `pairs` accepted Python pairs with code answers, each with a preference when asked."""
    from polyforge.storage import Preference, open_engine, session_factory

    url = f"sqlite:///{path}"
    engine = open_engine(url)
    with session_factory(engine)() as session:
        campaign, snippets = campaign_with_snippets(session, pairs)
        rows = [pair(campaign, snippet, "Python", "accepted", f"Write add_{index}.", answer=answer(index))
                for index, snippet in enumerate(snippets)]
        session.add_all(rows)
        session.flush()
        if preferences:
            session.add_all([Preference(pair=row, prompt=row.instruction, chosen=row.answer, rejected="I cannot.",
                                        chosen_score=8.0, rejected_score=2.0, reason="test") for row in rows])
        session.commit()
    engine.dispose()
    return url


def training_yaml(path: Path, base_model: Path, **training) -> Path:
    """A campaign config whose training section is `training` (plus the tiny model and fast settings)."""
    import yaml

    settings = {"base_model": str(base_model), "batch_size": 2, "max_length": 96, "learning_rate": 1e-2,
                "dpo_learning_rate": 1e-3, "report_to": [], **training}
    path.write_text(yaml.safe_dump({"sources": [{"path": "."}], "training": settings}))
    return path


def train(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*TRAIN_COMMAND, *args], capture_output=True, text=True, timeout=timeout)
