"""What the trainers share: the TRL config fields taken from the training settings, the model and its adapter,
and one stage's run (resume from its last checkpoint, save, record the result)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from polyforge.config import TrainingConfig

SHIPPED_DEEPSPEED = ("zero2", "zero3", "zero3-offload")
RESULT_FILE = "stage.json"  # a finished stage's result, beside its model folder


@dataclass
class TrainingRunResult:
    model_dir: Path
    examples: int
    steps: int
    final_loss: float | None
    wall_s: float = 0.0
    epochs: float = 0.0  # passes over the data, all processes together
    resumed_from: str | None = None  # the checkpoint the stage went on from
    ranks: list[dict] = field(default_factory=list)  # per process: rank and a digest of its final weights
    data: dict = field(default_factory=dict)  # examples per language and source, rows per kind

    def to_json(self) -> dict:
        return {**asdict(self), "model_dir": str(self.model_dir)}

    @classmethod
    def from_json(cls, values: dict) -> "TrainingRunResult":
        return cls(**{**values, "model_dir": Path(values["model_dir"])})


class TrainingSetupError(ValueError):
    """Settings this machine cannot train with (an adapter, a DeepSpeed config); the message says what to do."""


class NoTrainableExamples(ValueError):
    """Every example was dropped by the trainer's preprocessing (typically: longer than max_length)."""


def is_main_process() -> bool:
    """Rank 0 of a launched run, or the only process; launchers (torchrun, accelerate) set RANK."""
    return int(os.environ.get("RANK", "0")) == 0


def use_cpu() -> bool:
    import torch

    return not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")


def use_bf16(settings: TrainingConfig) -> bool:
    if settings.bf16 != "auto":
        return settings.bf16
    import torch

    return not use_cpu() and torch.cuda.is_bf16_supported()


def report_targets(settings: TrainingConfig) -> list[str]:
    """TRL's report_to: the configured trackers, or with 'auto' TensorBoard when installed and W&B or MLflow when
    installed and configured in the environment."""
    if settings.report_to != "auto":
        return list(settings.report_to) or ["none"]
    installed = lambda name: importlib.util.find_spec(name) is not None  # noqa: E731
    targets = ["tensorboard"] if installed("tensorboard") else []
    if installed("wandb") and (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE")):
        targets.append("wandb")
    if installed("mlflow") and os.environ.get("MLFLOW_TRACKING_URI"):
        targets.append("mlflow")
    return targets or ["none"]


def deepspeed_config_file(name: str | None) -> str | None:
    """The JSON file of a shipped DeepSpeed config ('zero2', 'zero3', 'zero3-offload') or the given file."""
    if name is None:
        return None
    if name in SHIPPED_DEEPSPEED:
        return str(resources.files("polyforge.training") / "deepspeed" / f"{name}.json")
    path = Path(name)
    if not path.is_file():
        raise TrainingSetupError(f"deepspeed: {name!r} is neither a shipped config ({', '.join(SHIPPED_DEEPSPEED)}) "
                                 "nor a JSON file")
    zero_stage(path)  # a file that is not a DeepSpeed config fails here, before any process starts
    return str(path.resolve())


def zero_stage(path: Path) -> int:
    """The ZeRO stage a DeepSpeed JSON config asks for (`zero_optimization.stage`; 0 when it has none)."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrainingSetupError(f"deepspeed: {path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise TrainingSetupError(f"deepspeed: {path} holds a JSON {type(config).__name__}, not a DeepSpeed config object")
    stage = (config.get("zero_optimization") or {}).get("stage", 0)
    if stage not in (0, 1, 2, 3):
        raise TrainingSetupError(f"deepspeed: {path}: zero_optimization.stage is {stage!r}; DeepSpeed's stages are "
                                 "0, 1, 2 and 3")
    return stage


def trl_fields(settings: TrainingConfig, output_dir: Path, max_steps: int, learning_rate: float, seed: int) -> dict:
    """The TRL config fields both trainers take from the training settings, whose defaults are the only ones."""
    return {
        "output_dir": str(output_dir / "checkpoints"),
        "max_steps": max_steps,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "learning_rate": learning_rate,
        "max_length": settings.max_length,
        "seed": seed,
        "logging_steps": settings.logging_steps,
        "save_strategy": "steps" if settings.save_steps else "no",
        "save_steps": settings.save_steps or max_steps,
        "save_total_limit": settings.save_total_limit,
        "report_to": report_targets(settings),
        "use_cpu": use_cpu(),
        "bf16": use_bf16(settings),
        checkpointing_field(): settings.gradient_checkpointing,
        "deepspeed": deepspeed_config_file(settings.deepspeed),
        "disable_tqdm": True,  # the progress callback prints one line per logging step instead
        "include_num_input_tokens_seen": True,  # tokens/s in the progress line
    }


def checkpointing_field() -> str:
    """TrainingArguments' name for gradient checkpointing: `activation_checkpointing` since transformers 5.2x
    (the old name warns), `gradient_checkpointing` before."""
    from dataclasses import fields

    from transformers import TrainingArguments

    names = {item.name for item in fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def lora_config(settings: TrainingConfig):
    """peft's LoraConfig for the settings' adapter, or None when the whole model trains."""
    if settings.adapter == "none":
        return None
    from peft import LoraConfig

    lora = settings.lora
    return LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                      target_modules=lora.target_modules)


def _quantization_config(settings: TrainingConfig):
    """4-bit NF4 for QLoRA; only on a CUDA GPU with bitsandbytes installed."""
    import torch

    if not torch.cuda.is_available():
        raise TrainingSetupError("training.adapter 'qlora' needs a CUDA GPU (bitsandbytes' 4-bit kernels); on this "
                                 "machine use 'lora' or 'none'")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise TrainingSetupError("training.adapter 'qlora' needs the bitsandbytes package: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16 if use_bf16(settings) else torch.float16)


def load_causal_lm(source: str | Path, quantization=None):
    """A causal LM from a model folder or hub name; a folder holding only an adapter (a stage saved with
    `save_adapter_only`) loads as the model the adapter was trained on, itself loaded this way, with the adapter
    merged in."""
    from transformers import AutoModelForCausalLM

    adapter_config = Path(source) / "adapter_config.json"
    if adapter_config.is_file():
        from peft import PeftModel

        base = json.loads(adapter_config.read_text())["base_model_name_or_path"]
        return PeftModel.from_pretrained(load_causal_lm(base), str(source)).merge_and_unload()
    return AutoModelForCausalLM.from_pretrained(source, quantization_config=quantization)


def load_model_and_tokenizer(base_model: str, settings: TrainingConfig, model=None, tokenizer=None):
    """The given model and tokenizer, or both loaded from `base_model` ('embedded' or a folder)."""
    from transformers import AutoTokenizer

    from polyforge.training.base_model import resolve_base_model

    quantization = _quantization_config(settings) if settings.adapter == "qlora" else None
    if model is None or tokenizer is None:
        source = resolve_base_model(base_model)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = load_causal_lm(source, quantization)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def last_checkpoint(output_dir: Path) -> Path | None:
    """The stage's newest `checkpoint-N` folder that the trainer finished writing, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = output_dir / "checkpoints"
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    return Path(found) if found else None


def finished_stage(output_dir: Path) -> TrainingRunResult | None:
    """The recorded result of a stage that already finished in `output_dir`, if any."""
    path = output_dir / RESULT_FILE
    return TrainingRunResult.from_json(json.loads(path.read_text())) if path.is_file() else None


def weights_digest(model) -> str:
    """A digest of a model's weights, cheap on any device: each tensor's sum, in float64, hashed together.
    Ranks of a data-parallel run that trained in step have the same digest."""
    import torch

    with torch.no_grad():
        sums = torch.stack([parameter.detach().double().sum() for parameter in model.parameters()])
    return hashlib.sha256(sums.cpu().numpy().tobytes()).hexdigest()[:16]


def train_and_save(trainer, tokenizer, output_dir: Path, examples: int, settings: TrainingConfig, base_model: str,
                   resume: bool = False, data: dict | None = None, say=print) -> TrainingRunResult:
    """Run `trainer` (from the stage's last checkpoint when `resume`), save the model to `output_dir/model`
    (merged with its adapter, or the adapter alone, whose recorded base is `base_model`, the folder the stage
    started from) and the result to `output_dir/stage.json`."""
    from accelerate.utils import gather_object
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # its raw dicts would repeat what the progress line says
    if len(trainer.train_dataset) == 0:
        raise NoTrainableExamples(
            f"all {examples} examples were dropped while preparing them (too long for max_length="
            f"{trainer.args.max_length} tokens?): raise training.max_length"
        )
    checkpoint = last_checkpoint(output_dir) if resume else None
    if checkpoint:
        say(f"resuming from {checkpoint}")
    started = time.monotonic()
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    wall_s = time.monotonic() - started
    model = trainer.accelerator.unwrap_model(trainer.model)
    ranks = gather_object([{"rank": trainer.args.process_index, "of": trainer.args.world_size,
                            "weights": weights_digest(model)}])
    model_dir = output_dir / "model"
    if settings.adapter != "none" and not settings.save_adapter_only:
        if trainer.is_world_process_zero():
            model.merge_and_unload().save_pretrained(str(model_dir))
    else:
        if settings.adapter != "none":  # the adapter applies to the model this stage started from
            from polyforge.training.base_model import resolve_base_model

            model.peft_config["default"].base_model_name_or_path = str(resolve_base_model(base_model))
        trainer.save_model(str(model_dir))  # every rank calls it: ZeRO-3 gathers the shards
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    result = TrainingRunResult(model_dir, examples, output.global_step, float(losses[-1]) if losses else None,
                               round(wall_s, 2), round(trainer.state.epoch or 0.0, 4),
                               str(checkpoint) if checkpoint else None, ranks, data or {})
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(model_dir))
        partial = output_dir / (RESULT_FILE + ".partial")
        partial.write_text(json.dumps(result.to_json(), indent=2))
        partial.replace(output_dir / RESULT_FILE)
    trainer.accelerator.wait_for_everyone()  # the next stage loads this model on every rank
    return result
