"""Supervised fine-tuning on exported chat pairs (and FIM samples) with TRL's SFTTrainer."""

from __future__ import annotations

from pathlib import Path

from polyforge.config import TrainingConfig
from polyforge.training.common import (TrainingRunResult, load_model_and_tokenizer, lora_config, train_and_save,
                                       trl_fields)
from polyforge.training.progress import ProgressLine
from polyforge.training.sft_data import data_counts, sft_rows


def sft_config(settings: TrainingConfig, output_dir: Path, max_steps: int, seed: int = 0):
    """TRL's SFTConfig for one SFT stage of `max_steps` (the fine stage's `max_steps`, or `coarse_steps`)."""
    from trl import SFTConfig

    return SFTConfig(**trl_fields(settings, output_dir, max_steps, settings.learning_rate, seed),
                     completion_only_loss=settings.completion_only_loss, packing=settings.packing)


def train_sft(examples: list[dict], settings: TrainingConfig, base_model: str, output_dir: Path,
              max_steps: int | None = None, seed: int = 0, model=None, tokenizer=None, resume: bool = False,
              stage: str = "SFT", say=print) -> TrainingRunResult:
    """Train on `examples` (each with a `messages` list) from `base_model` ('embedded' or a model folder) for
    `max_steps` (default: `settings.max_steps`), and save to `output_dir/model` a model `from_pretrained` loads
    (or a peft adapter, with `save_adapter_only`). FIM samples make up `settings.fim.share` of the rows.

    `model` and `tokenizer` may be passed in (tests use a tiny random model); by default they are
    loaded from `base_model`. With `resume`, training goes on from the stage's last checkpoint.
    """
    if not examples:
        raise ValueError("no training examples: the campaign produced no pairs with answers")
    from datasets import Dataset
    from trl import SFTTrainer

    model, tokenizer = load_model_and_tokenizer(base_model, settings, model, tokenizer)
    rows = sft_rows(examples, tokenizer, settings.fim, seed)
    dataset = Dataset.from_list([{"prompt": row["prompt"], "completion": row["completion"]} for row in rows])
    args = sft_config(settings, output_dir, settings.max_steps if max_steps is None else max_steps, seed)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(settings), callbacks=[ProgressLine(stage, say)])
    return train_and_save(trainer, tokenizer, output_dir, len(examples), settings, base_model, resume,
                          data_counts(examples, rows), say)
