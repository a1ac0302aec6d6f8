"""LoRA adapters through peft, and the training settings that map onto TRL's configs (completion-only loss,
packing, gradient checkpointing, bf16, trackers): real steps on a tiny random Llama."""

import json

import pytest
import torch

from polyforge.config import LoraConfig, TrainingConfig
from training_support import answer

EXAMPLES = [{"messages": [{"role": "user", "content": f"Write add_{i}."}, {"role": "assistant", "content": answer(i)}],
             "language": "Python", "source": {"repository": "/repo"}} for i in range(6)]
PREFERENCES = [{"prompt": [{"role": "user", "content": f"Write add_{i}."}],
                "chosen": [{"role": "assistant", "content": answer(i)}],
                "rejected": [{"role": "assistant", "content": "I cannot."}]} for i in range(4)]
LORA = dict(adapter="lora", lora=LoraConfig(rank=4, alpha=8, target_modules=["q_proj", "v_proj"]), batch_size=2,
            max_length=96, learning_rate=5e-2, dpo_learning_rate=5e-2, report_to=[])


def test_lora_sft_then_dpo_adapters_load_with_peft_and_merge(tmp_path, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from polyforge.training.common import load_causal_lm, weights_digest
    from polyforge.training.dpo import train_dpo
    from polyforge.training.sft import train_sft

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    adapter_only = TrainingConfig(**LORA, save_adapter_only=True, max_steps=3, dpo_steps=2)
    sft = train_sft(EXAMPLES, adapter_only, str(tiny_model), tmp_path / "sft")
    config = json.loads((sft.model_dir / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], sorted(config["target_modules"])) == (4, 8, ["q_proj", "v_proj"])
    assert config["base_model_name_or_path"] == str(tiny_model) and not (sft.model_dir / "config.json").exists()
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), sft.model_dir)
    merged = with_adapter.merge_and_unload()
    assert weights_digest(merged) != weights_digest(base)  # the adapter learned something, and merges in
    frozen = {name: weight for name, weight in base.state_dict().items()
              if "q_proj" not in name and "v_proj" not in name}
    assert all(torch.equal(weight, merged.state_dict()[name]) for name, weight in frozen.items())  # only LoRA's layers

    # DPO from the SFT adapter: its adapter applies over base + SFT adapter, the folder it started from.
    dpo = train_dpo(PREFERENCES, adapter_only, str(sft.model_dir), tmp_path / "dpo-adapter")
    assert json.loads((dpo.model_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        sft.model_dir)
    assert weights_digest(load_causal_lm(dpo.model_dir)) not in (weights_digest(merged), weights_digest(base))

    # Asked for merged weights, the stage saves a plain model that transformers loads alone.
    merged_dpo = train_dpo(PREFERENCES, TrainingConfig(**LORA, dpo_steps=2), str(sft.model_dir), tmp_path / "dpo")
    assert not (merged_dpo.model_dir / "adapter_config.json").exists()
    plain = AutoModelForCausalLM.from_pretrained(merged_dpo.model_dir)
    assert weights_digest(plain) != weights_digest(merged) and merged_dpo.steps == 2


def test_completion_only_loss_trains_on_the_answer_alone(tiny_model):
    from transformers import AutoTokenizer

    from polyforge.config import FimConfig
    from polyforge.training.sft_data import sft_rows

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    (row,) = sft_rows(EXAMPLES[:1], tokenizer, FimConfig())
    assert row["prompt"].endswith("<|im_start|>assistant\n") and "Write add_0." in row["prompt"]
    assert row["completion"].startswith("Here it is.") and "Write add_0." not in row["completion"]


def test_settings_map_onto_trl_fields(tmp_path):
    from polyforge.training.common import TrainingSetupError, report_targets
    from polyforge.training.sft import sft_config

    settings = TrainingConfig(completion_only_loss=False, packing=True, gradient_checkpointing=True, bf16=False,
                              gradient_accumulation_steps=4, save_steps=7, save_total_limit=3, logging_steps=2,
                              report_to=["tensorboard"])
    args = sft_config(settings, tmp_path, max_steps=20)
    assert (args.completion_only_loss, args.packing, args.gradient_checkpointing, args.bf16) == (False, True, True,
                                                                                                 False)
    assert (args.gradient_accumulation_steps, args.save_steps, args.save_total_limit, args.logging_steps) == (4, 7, 3,
                                                                                                          2)
    assert args.save_strategy == "steps" and args.report_to == ["tensorboard"]
    assert sft_config(TrainingConfig(), tmp_path, 5).save_strategy == "no"  # no checkpoints unless asked
    assert sft_config(TrainingConfig(), tmp_path, 5).bf16 is False  # 'auto' is never bf16 on a CPU
    assert report_targets(TrainingConfig()) == ["tensorboard"]  # installed here; W&B and MLflow are not
    assert report_targets(TrainingConfig(report_to=[])) == ["none"]
    with pytest.raises(TrainingSetupError, match="needs a CUDA GPU"):
        from polyforge.training.common import load_model_and_tokenizer

        load_model_and_tokenizer("embedded", TrainingConfig(adapter="qlora"))
    with pytest.raises(TrainingSetupError, match="neither a shipped config"):
        sft_config(TrainingConfig(deepspeed="zero9"), tmp_path, 5)
    with pytest.raises(ValueError, match="needs save_adapter_only"):  # ZeRO-3 shards cannot merge on rank 0
        TrainingConfig(deepspeed="zero3", adapter="lora")


def test_tensorboard_gets_the_losses(tmp_path, tiny_model):
    from polyforge.training.sft import train_sft

    train_sft(EXAMPLES, TrainingConfig(**{**LORA, "report_to": ["tensorboard"]}, max_steps=2), str(tiny_model),
              tmp_path)
    assert list((tmp_path / "checkpoints").rglob("events.out.tfevents.*"))
