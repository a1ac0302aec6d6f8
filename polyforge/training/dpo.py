"""Preference optimization on exported chosen/rejected pairs with TRL's DPOTrainer."""

from __future__ import annotations

import copy

from dataclasses import dataclass, field
from pathlib import Path

from polyforge.training.common import TrainingRunResult, load_model_and_tokenizer, train_and_save, trainer_arguments


@dataclass
class DPORunConfig:
    """The interface of one DPO run (typically after SFT: point `base_model` at the SFT model folder)."""

    base_model: str = field(default="embedded", metadata={"help": "'embedded' (bundled SmolLM2) or a model folder."})
    output_dir: Path = field(default=Path("runs/dpo"), metadata={"help": "Where the trained model folder is saved."})
    max_steps: int = field(default=4, metadata={"help": "Optimizer steps."})
    batch_size: int = field(default=2, metadata={"help": "Preference pairs per device per step."})
    max_length: int = field(default=384, metadata={"help": "Tokens of prompt plus answer; longer is truncated."})
    learning_rate: float = field(default=5e-7, metadata={"help": "Peak learning rate (DPO wants it small)."})
    beta: float = field(default=0.1, metadata={"help": "Strength of the pull towards the reference model."})
    seed: int = field(default=0, metadata={"help": "Seed for data order."})


DPO_COLUMNS = ("prompt", "chosen", "rejected")


def train_dpo(examples: list[dict], config: DPORunConfig, model=None, tokenizer=None) -> TrainingRunResult:
    """Train on `examples` (conversational prompt/chosen/rejected, as `dpo-jsonl` exports) and save the model."""
    if not examples:
        raise ValueError("no preference pairs: sample more than one candidate per instruction (sampling.candidates)")
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    model, tokenizer = load_model_and_tokenizer(config.base_model, model, tokenizer)
    dataset = Dataset.from_list([{column: example[column] for column in DPO_COLUMNS} for example in examples])
    args = DPOConfig(
        **trainer_arguments(config.output_dir, config.max_steps, config.batch_size, config.learning_rate,
                            config.max_length, config.seed),
        beta=config.beta,
    )
    # The reference is a frozen copy of the starting policy; TRL would otherwise reload it by name,
    # which fails for a model built in memory.
    reference = copy.deepcopy(model).eval()
    trainer = DPOTrainer(model=model, ref_model=reference, args=args, train_dataset=dataset, processing_class=tokenizer)
    return train_and_save(trainer, tokenizer, config.output_dir, len(examples))
