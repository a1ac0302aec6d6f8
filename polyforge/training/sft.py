"""Supervised fine-tuning on exported chat pairs with TRL's SFTTrainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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


@dataclass
class SFTRunResult:
    model_dir: Path
    examples: int
    steps: int
    final_loss: float | None


def train_sft(examples: list[dict], config: SFTRunConfig, model=None, tokenizer=None) -> SFTRunResult:
    """Train on `examples` (each with a `messages` list) and save a model that `from_pretrained` loads.

    `model` and `tokenizer` may be passed in (tests use a tiny random model); by default they are
    loaded from `config.base_model`.
    """
    if not examples:
        raise ValueError("no training examples: the campaign produced no pairs with answers")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from polyforge.training.base_model import resolve_base_model

    if model is None or tokenizer is None:
        source = resolve_base_model(config.base_model)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = Dataset.from_list([{"messages": example["messages"]} for example in examples])
    args = SFTConfig(
        output_dir=str(config.output_dir / "checkpoints"),
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        max_length=config.max_length,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        use_cpu=not _cuda_available(),
        disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    output = trainer.train()
    model_dir = config.output_dir / "model"
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return SFTRunResult(model_dir, len(examples), output.global_step, losses[-1] if losses else None)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
