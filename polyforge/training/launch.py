"""Launch the training recipe through `accelerate launch`: one process per GPU (or CPU worker), on one machine or
several, optionally under DeepSpeed.

Polyforge writes the accelerate config (`OUT/launch/accelerate.yaml`) and the training settings
(`OUT/launch/training.json`) and runs the accelerate CLI, which starts `polyforge.training.worker` in every
process; each process runs every stage of the recipe, and rank 0 writes the models and `OUT/summary.json`.
On CPU the processes talk over gloo: torchrun starts them (accelerate's multi-GPU launcher) with accelerate
told to stay on the CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from polyforge.config import TrainingConfig
from polyforge.training.common import TrainingSetupError, deepspeed_config_file, zero_stage


@dataclass(frozen=True)
class LaunchOptions:
    """Where and how many processes train: accelerate's settings, from `polyforge train`'s options."""

    num_processes: int = 1  # in all, over every machine (accelerate's meaning)
    num_machines: int = 1
    machine_rank: int = 0
    main_process_ip: str | None = None
    main_process_port: int = 29500
    cpu: bool = False  # train on CPUs even where GPUs are present

    def check(self, settings: TrainingConfig) -> None:
        """Refuse combinations that cannot run, before any process starts."""
        if self.num_processes < 1 or self.num_machines < 1:
            raise TrainingSetupError("--num-processes and --num-machines must be at least 1")
        if self.num_processes % self.num_machines:
            raise TrainingSetupError(f"--num-processes {self.num_processes} is the count over all machines and must "
                                     f"divide evenly among --num-machines {self.num_machines}")
        if not 0 <= self.machine_rank < self.num_machines:
            raise TrainingSetupError(f"--machine-rank {self.machine_rank} must be 0 to {self.num_machines - 1}")
        if self.num_machines > 1 and not self.main_process_ip:
            raise TrainingSetupError("several machines need --main-process-ip, the address of the machine of rank 0")
        if settings.deepspeed:
            import torch

            if self.cpu or not torch.cuda.is_available():
                raise TrainingSetupError("DeepSpeed trains on CUDA GPUs and " + (
                    "--cpu asks for none: drop --cpu or --deepspeed" if self.cpu else
                    "this machine has none: drop --deepspeed (or training.deepspeed) here"))


def accelerate_config(options: LaunchOptions, settings: TrainingConfig) -> dict:
    """The accelerate config file's contents for these options (`accelerate launch --config_file`)."""
    deepspeed = deepspeed_config_file(settings.deepspeed)
    if deepspeed:
        distributed = "DEEPSPEED"
    elif options.num_processes > 1:
        # On CPU too: the multi-GPU launcher is torchrun, which starts the processes; ACCELERATE_USE_CPU keeps
        # them on the CPU, where accelerate picks gloo.
        distributed = "MULTI_GPU"
    else:
        distributed = "NO"
    config = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": distributed,
        "num_processes": options.num_processes,
        "num_machines": options.num_machines,
        "machine_rank": options.machine_rank,
        "main_process_port": options.main_process_port,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": options.cpu,
        "mixed_precision": "no",  # the trainers' bf16 setting decides; accelerate follows TrainingArguments
        "gpu_ids": "all",
        "debug": False,
    }
    if options.main_process_ip:
        config["main_process_ip"] = options.main_process_ip
    if deepspeed:
        config["deepspeed_config"] = {"deepspeed_config_file": deepspeed,
                                      "zero3_init_flag": zero_stage(Path(deepspeed)) == 3}
    return config


def write_launch_files(out: Path, options: LaunchOptions, settings: TrainingConfig) -> tuple[Path, Path]:
    """`OUT/launch/accelerate.yaml` and `OUT/launch/training.json` (the settings every process reads)."""
    folder = out / "launch"
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "accelerate.yaml"
    config_path.write_text(yaml.safe_dump(accelerate_config(options, settings), sort_keys=False))
    settings_path = folder / "training.json"
    settings_path.write_text(settings.model_dump_json(indent=2))
    return config_path, settings_path


def launch_command(config_path: Path, settings_path: Path, database_url: str, out: Path, seed: int = 0,
                   resume: bool = False, campaign_id: int | None = None) -> list[str]:
    """The accelerate CLI call that starts the worker in every process."""
    command = [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch", "--config_file",
               str(config_path), "-m", "polyforge.training.worker", "--database", database_url, "--out", str(out),
               "--settings", str(settings_path), "--seed", str(seed)]
    if campaign_id is not None:
        command += ["--campaign", str(campaign_id)]
    return command + (["--resume"] if resume else [])


def launch(database_url: str, out: Path, settings: TrainingConfig, options: LaunchOptions, seed: int = 0,
           resume: bool = False, campaign_id: int | None = None) -> int:
    """Write the launch files, run `accelerate launch` (its output goes to ours) and return its exit status."""
    options.check(settings)
    config_path, settings_path = write_launch_files(out, options, settings)
    environment = dict(os.environ)
    if options.cpu:
        environment["ACCELERATE_USE_CPU"] = "true"
    # Every process would take all cores; share them out as accelerate's launcher does for its own CPU runs.
    per_machine = options.num_processes // options.num_machines
    environment.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // per_machine)))
    command = launch_command(config_path, settings_path, database_url, out, seed, resume, campaign_id)
    try:
        return subprocess.run(command, env=environment).returncode
    except OSError as exc:
        raise TrainingSetupError(f"could not start `accelerate launch` ({exc.strerror or exc}); reinstall with "
                                 "`make install`, which installs accelerate") from exc
