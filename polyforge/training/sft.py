"""Supervised fine-tuning on exported chat pairs with TRL's SFTTrainer."""

from __future__ import annotations

from pathlib import Path

from polyforge.config import TrainingConfig
from polyforge.training.common import TrainingRunResult, load_model_and_tokenizer, train_and_save, trl_fields


def sft_config(settings: TrainingConfig, output_dir: Path, max_steps: int, seed: int = 0):
    """TRL's SFTConfig for one SFT stage of `max_steps` (the fine stage's `max_steps`, or `coarse_steps`)."""
    from trl import SFTConfig

    return SFTConfig(**trl_fields(settings, output_dir, max_steps, settings.learning_rate, seed))


def train_sft(examples: list[dict], settings: TrainingConfig, base_model: str, output_dir: Path,
              max_steps: int | None = None, seed: int = 0, model=None, tokenizer=None) -> TrainingRunResult:
    """Train on `examples` (each with a `messages` list) from `base_model` ('embedded' or a model folder) for
    `max_steps` (default: `settings.max_steps`), and save to `output_dir/model` a model `from_pretrained` loads.

    `model` and `tokenizer` may be passed in (tests use a tiny random model); by default they are
    loaded from `base_model`.
    """
    if not examples:
        raise ValueError("no training examples: the campaign produced no pairs with answers")
    from datasets import Dataset
    from trl import SFTTrainer

    model, tokenizer = load_model_and_tokenizer(base_model, model, tokenizer)
    dataset = Dataset.from_list([{"messages": example["messages"]} for example in examples])
    args = sft_config(settings, output_dir, settings.max_steps if max_steps is None else max_steps, seed)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    return train_and_save(trainer, tokenizer, output_dir, len(examples))
