"""Supervised fine-tuning on exported chat pairs with TRL's SFTTrainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from polyforge.training.common import TrainingRunResult, load_model_and_tokenizer, train_and_save, trainer_arguments


@dataclass
class SFTRunConfig:
    """The interface of one SFT run; every field has a working default for a CPU smoke run."""

    base_model: str = field(default="embedded", metadata={"help": "'embedded' (bundled SmolLM2) or a model folder."})
    output_dir: Path = field(default=Path("runs/sft"), metadata={"help": "Where the trained model folder is saved."})
    max_steps: int = field(default=4, metadata={"help": "Optimizer steps; a few prove the loop, many train."})
    batch_size: int = field(default=2, metadata={"help": "Examples per device per step."})
    max_length: int = field(default=384, metadata={"help": "Tokens per example; longer ones are truncated."})
    learning_rate: float = field(default=2e-5, metadata={"help": "Peak learning rate."})
    seed: int = field(default=0, metadata={"help": "Seed for data order and initialisation."})


def train_sft(examples: list[dict], config: SFTRunConfig, model=None, tokenizer=None) -> TrainingRunResult:
    """Train on `examples` (each with a `messages` list) and save a model that `from_pretrained` loads.

    `model` and `tokenizer` may be passed in (tests use a tiny random model); by default they are
    loaded from `config.base_model`.
    """
    if not examples:
        raise ValueError("no training examples: the campaign produced no pairs with answers")
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = load_model_and_tokenizer(config.base_model, model, tokenizer)
    dataset = Dataset.from_list([{"messages": example["messages"]} for example in examples])
    args = SFTConfig(**trainer_arguments(config.output_dir, config.max_steps, config.batch_size,
                                         config.learning_rate, config.max_length, config.seed))
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    return train_and_save(trainer, tokenizer, config.output_dir, len(examples))
