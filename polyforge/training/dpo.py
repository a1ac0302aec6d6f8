"""Preference optimization on exported chosen/rejected pairs with TRL's DPOTrainer."""

from __future__ import annotations

import copy
from pathlib import Path

from polyforge.config import TrainingConfig
from polyforge.training.common import (TrainingRunResult, load_model_and_tokenizer, lora_config, train_and_save,
                                       trl_fields)
from polyforge.training.progress import ProgressLine
from polyforge.training.sft_data import data_counts

DPO_COLUMNS = ("prompt", "chosen", "rejected")


def dpo_config(settings: TrainingConfig, output_dir: Path, seed: int = 0):
    """TRL's DPOConfig for the DPO stage: `dpo_steps` at `dpo_learning_rate`, with `dpo_beta`."""
    from trl import DPOConfig

    return DPOConfig(**trl_fields(settings, output_dir, settings.dpo_steps, settings.dpo_learning_rate, seed),
                     beta=settings.dpo_beta)


def train_dpo(examples: list[dict], settings: TrainingConfig, base_model: str, output_dir: Path, seed: int = 0,
              model=None, tokenizer=None, resume: bool = False, say=print) -> TrainingRunResult:
    """Train on `examples` (conversational prompt/chosen/rejected, as `dpo-jsonl` exports) from `base_model`
    (typically the SFT model folder) and save the model to `output_dir/model`."""
    if not examples:
        raise ValueError("no preference pairs: sample more than one candidate per instruction (sampling.candidates)")
    from datasets import Dataset
    from trl import DPOTrainer

    model, tokenizer = load_model_and_tokenizer(base_model, settings, model, tokenizer)
    dataset = Dataset.from_list([{column: example[column] for column in DPO_COLUMNS} for example in examples])
    adapter = lora_config(settings)
    # Without an adapter the reference is a frozen copy of the starting policy (TRL would otherwise reload it by
    # name, which fails for a model built in memory); with one, TRL uses the policy with its adapter disabled.
    reference = None if adapter else copy.deepcopy(model).eval()
    trainer = DPOTrainer(model=model, ref_model=reference, args=dpo_config(settings, output_dir, seed),
                         train_dataset=dataset, processing_class=tokenizer, peft_config=adapter,
                         callbacks=[ProgressLine("DPO", say)])
    return train_and_save(trainer, tokenizer, output_dir, len(examples), settings, base_model, resume,
                          data_counts(examples), say)
