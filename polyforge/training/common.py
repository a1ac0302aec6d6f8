"""What the trainers share: loading a base model and saving the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyforge.config import TrainingConfig


@dataclass
class TrainingRunResult:
    model_dir: Path
    examples: int
    steps: int
    final_loss: float | None


def load_model_and_tokenizer(base_model: str, model=None, tokenizer=None):
    """The given model and tokenizer, or both loaded from `base_model` ('embedded' or a folder)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from polyforge.training.base_model import resolve_base_model

    if model is None or tokenizer is None:
        source = resolve_base_model(base_model)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def use_cpu() -> bool:
    import torch

    return not torch.cuda.is_available()


def trl_fields(settings: TrainingConfig, output_dir: Path, max_steps: int, learning_rate: float, seed: int) -> dict:
    """The TRL config fields both trainers take from the training settings (whose defaults are the only ones):
    log each step, save only at the end."""
    return {
        "output_dir": str(output_dir / "checkpoints"),
        "max_steps": max_steps,
        "per_device_train_batch_size": settings.batch_size,
        "learning_rate": learning_rate,
        "max_length": settings.max_length,
        "seed": seed,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": use_cpu(),
    }


class NoTrainableExamples(ValueError):
    """Every example was dropped by the trainer's preprocessing (typically: longer than max_length)."""


def train_and_save(trainer, tokenizer, output_dir: Path, examples: int) -> TrainingRunResult:
    """Run `trainer`, save model and tokenizer to `output_dir/model`, report steps and the last loss."""
    if len(trainer.train_dataset) == 0:
        raise NoTrainableExamples(
            f"all {examples} examples were dropped while preparing them (too long for max_length="
            f"{trainer.args.max_length} tokens?): raise training.max_length"
        )
    output = trainer.train()
    model_dir = output_dir / "model"
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return TrainingRunResult(model_dir, examples, output.global_step, float(losses[-1]) if losses else None)
