"""`polyforge train` through accelerate: two real CPU processes training in step (gloo), the written accelerate
config, and the shipped DeepSpeed configs as DeepSpeed's and TRL's own parsers read them."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from training_support import campaign_database, train, training_yaml



@pytest.mark.slow  # two real processes, each importing the training stack: about a minute
def test_two_cpu_processes_train_every_stage_in_step(tmp_path, tiny_model):
    from accelerate.commands.config.config_args import load_config_from_file
    from transformers import AutoModelForCausalLM

    from polyforge.training.common import weights_digest

    database = campaign_database(tmp_path / "campaign.db", pairs=8)
    config = training_yaml(tmp_path / "campaign.yaml", tiny_model, max_steps=4, dpo_steps=2,
                           fim={"share": 0.2, "mode": "ast"})
    out = tmp_path / "run"
    result = train(database, "--out", str(out), "--config", str(config), "--launcher", "accelerate",
                   "--num-processes", "2", "--cpu")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    launched = load_config_from_file(str(out / "launch" / "accelerate.yaml"))  # accelerate's own reader
    assert (launched.num_processes, launched.use_cpu) == (2, True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hardware"]["processes"] == 2
    base = weights_digest(AutoModelForCausalLM.from_pretrained(tiny_model))
    for stage, steps in (("sft", 4), ("dpo", 2)):
        recorded = summary["stages"][stage]
        ranks = recorded["ranks"]
        assert sorted(rank["rank"] for rank in ranks) == [0, 1] and {rank["of"] for rank in ranks} == {2}
        assert ranks[0]["weights"] == ranks[1]["weights"]  # both processes ended with the same weights
        saved = weights_digest(AutoModelForCausalLM.from_pretrained(out / stage / "model"))
        assert saved == ranks[0]["weights"] != base  # ... the ones saved, which training changed
        assert recorded["steps"] == steps
        # One voice: each step's progress line once, though two processes trained.
        for step in range(1, steps + 1):
            label = "SFT" if stage == "sft" else "DPO"
            assert len(re.findall(rf"^{label}: step {step}/{steps} loss ", result.stdout, re.MULTILINE)) == 1
    # SFT: 8 chat rows and 2 AST FIM rows; each process holds 5 of them, 3 batches of 2 an epoch, so 4 steps are
    # 1.33 epochs (one process alone: 0.8). DPO: 8 pairs, 4 per process, an epoch in 2 steps (alone: 4).
    assert summary["stages"]["sft"]["data"]["rows_by_kind"]["chat"] == 8
    assert sum(count for kind, count in summary["stages"]["sft"]["data"]["rows_by_kind"].items()
               if kind.startswith("fim-")) == 2
    assert (summary["stages"]["sft"]["epochs"], summary["stages"]["dpo"]["epochs"]) == (1.3333, 1.0)
    assert "tokens/s, ETA" in result.stdout and f"final model: {out / 'dpo' / 'model'}" in result.stdout


@pytest.mark.parametrize("name", ["zero2", "zero3", "zero3-offload"])
def test_shipped_deepspeed_configs_pass_trl_and_deepspeed(name, tmp_path, tiny_model):
    """TRL's configs take each shipped file and fill its 'auto' values from the training settings; DeepSpeed's
    own config class then accepts the result. (Training under DeepSpeed needs a GPU: scripts/gpu-check.sh.)"""
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import AutoModelForCausalLM
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    from polyforge.config import TrainingConfig
    from polyforge.training.dpo import dpo_config
    from polyforge.training.sft import sft_config

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    settings = TrainingConfig(deepspeed=name, batch_size=3, gradient_accumulation_steps=2, dpo_steps=5)
    try:
        for args in (sft_config(settings, tmp_path, max_steps=10), dpo_config(settings, tmp_path)):
            filled = args.hf_deepspeed_config
            filled.trainer_config_finalize(args, model, num_training_steps=10)
            assert "auto" not in json.dumps(filled.config)
            parsed = DeepSpeedConfig(filled.config)
            assert parsed.zero_optimization_stage == (2 if name == "zero2" else 3)
            assert (parsed.train_micro_batch_size_per_gpu, parsed.gradient_accumulation_steps,
                    parsed.train_batch_size) == (3, 2, 6)
            assert (parsed.zero_config.offload_optimizer is not None) == (name == "zero3-offload")
            assert filled.config["zero_optimization"]["reduce_bucket_size"] == 32 * 32  # the model's hidden size
    finally:
        unset_hf_deepspeed_config()  # later tests must not see a ZeRO-3 config as active


def test_deepspeed_launch_config_names_the_shipped_file(tmp_path):
    import yaml
    from accelerate.commands.config.config_args import load_config_from_file

    from polyforge.config import TrainingConfig
    from polyforge.training.launch import LaunchOptions, write_launch_files

    options = LaunchOptions(num_processes=16, num_machines=2, machine_rank=1, main_process_ip="10.0.0.1")
    config_path, settings_path = write_launch_files(tmp_path, options, TrainingConfig(deepspeed="zero3"))
    launched = load_config_from_file(str(config_path))
    assert (launched.distributed_type, launched.num_processes, launched.num_machines, launched.machine_rank,
            launched.main_process_ip) == ("DEEPSPEED", 16, 2, 1, "10.0.0.1")
    shipped = yaml.safe_load(config_path.read_text())["deepspeed_config"]
    assert shipped["deepspeed_config_file"].endswith("deepspeed/zero3.json") and shipped["zero3_init_flag"] is True
    assert TrainingConfig.model_validate_json(settings_path.read_text()).deepspeed == "zero3"


@pytest.mark.parametrize("text, stage", [
    ('{"zero_optimization":{"stage":3}}', 3),  # written compactly: no '"stage": 3' substring
    ('{"zero_optimization": {"stage": 2, "note": "\\"stage\\": 3 elsewhere"}}', 2),
    ('{"train_batch_size": "auto"}', 0),
])
def test_the_zero_stage_is_read_from_the_parsed_config(tmp_path, text, stage):
    from polyforge.training.common import zero_stage

    path = tmp_path / "ds.json"
    path.write_text(text)
    assert zero_stage(path) == stage


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "JSON list, not a DeepSpeed config"), ('{"zero_optimization": {"stage": 4}}', "stages are 0, 1, 2"),
    ("{stage: 3", "not valid JSON"),
])
def test_a_deepspeed_file_that_is_no_config_is_named(tmp_path, text, message):
    from polyforge.training.common import TrainingSetupError, deepspeed_config_file

    path = tmp_path / "ds.json"
    path.write_text(text)
    with pytest.raises(TrainingSetupError, match=message):
        deepspeed_config_file(str(path))


@pytest.mark.parametrize("options, message", [
    ({"num_processes": 3, "num_machines": 2, "main_process_ip": "h"}, "divide evenly"),
    ({"num_processes": 2, "num_machines": 2}, "--main-process-ip"),
    ({"num_processes": 2, "num_machines": 2, "machine_rank": 2, "main_process_ip": "h"}, "--machine-rank 2"),
])
def test_launch_options_that_cannot_run_are_refused(options, message):
    from polyforge.config import TrainingConfig
    from polyforge.training.common import TrainingSetupError
    from polyforge.training.launch import LaunchOptions

    with pytest.raises(TrainingSetupError, match=message):
        LaunchOptions(**options).check(TrainingConfig())


def test_gpu_check_fails_loudly_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run scripts/gpu-check.sh itself")
    script = Path(__file__).resolve().parent.parent / "scripts" / "gpu-check.sh"
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode != 0 and "gpu-check: FAILED: no CUDA GPU" in result.stderr
