"""Train on a campaign: SFT on its pairs, then DPO on its preferences, starting from the SFT model.

The recipe runs in every process of a launched run (each rank reads the same examples; the trainers split
them); rank 0 alone speaks, saves and writes the run summary.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from polyforge.config import TrainingConfig
from polyforge.storage import Campaign, session_scope
from polyforge.storage.report import latest_campaign
from polyforge.training.common import NoTrainableExamples, TrainingRunResult, finished_stage, is_main_process
from polyforge.training.datasets import TooFewAccepted, coarse_examples, dpo_examples, sft_examples
from polyforge.training.held_out import drop_contaminated, require_campaign_held_out

SUMMARY_FILE = "summary.json"


@dataclass
class TrainingOutcome:
    sft: TrainingRunResult
    dpo: TrainingRunResult | None
    final_model: Path
    coarse: TrainingRunResult | None = None  # the coarse SFT stage, when there was one

    @property
    def stages(self) -> dict[str, TrainingRunResult]:
        """The stages that ran, in order, by folder name."""
        named = {"sft-coarse": self.coarse, "sft": self.sft, "dpo": self.dpo}
        return {name: result for name, result in named.items() if result is not None}


class UnknownCampaign(LookupError):
    """A campaign id the database does not hold (or a database with no campaign)."""


def train_campaign(database_url: str, out: Path, settings: TrainingConfig, seed: int = 0,
                   say: Callable[[str], None] = print, resume: bool = False,
                   campaign_id: int | None = None) -> TrainingOutcome:
    """Coarse SFT when configured (`out/sft-coarse/model`), SFT (`out/sft/model`), then DPO when preferences
    exist (`out/dpo/model`), each stage starting from the model of the one before; `say` reports each step.
    The campaign is `campaign_id`, or the database's newest. SFT trains on accepted pairs only unless
    `settings.include_unaccepted` (too few raise TooFewAccepted before any model loads). With `resume`, a
    finished stage is skipped and an unfinished one goes on from its last checkpoint. The run summary goes to
    `out/summary.json`."""
    from polyforge.training.dpo import train_dpo
    from polyforge.training.sft import train_sft

    if not is_main_process():
        say = lambda line: None  # noqa: E731  (one voice for the whole run)
    started = time.monotonic()
    with session_scope(database_url, create=False) as session:
        campaign = latest_campaign(session) if campaign_id is None else session.get(Campaign, campaign_id)
        if campaign is None:
            raise UnknownCampaign("the database holds no campaign" if campaign_id is None else
                                  f"no campaign {campaign_id} in this database (`polyforge status` lists them)")
        campaign_id = campaign.id
        sft_data = sft_examples(session, campaign_id, settings.min_accepted_pairs, mix=settings.mix,
                                mix_by=settings.mix_by, include_unaccepted=settings.include_unaccepted,
                                repairs=settings.repair_conversations)
        coarse_data = (coarse_examples(session, campaign_id, mix=settings.mix, mix_by=settings.mix_by)
                       if settings.coarse_steps else None)
        preferences = dpo_examples(session, campaign_id) if settings.dpo_steps else []
        require_campaign_held_out(session, campaign_id, settings.evaluation)
    rows, dropped = drop_contaminated({"sft": sft_data.examples, "sft-coarse": coarse_data.examples if coarse_data
                                       else [], "dpo": preferences}, settings.held_out_benchmarks)
    sft_data = replace(sft_data, examples=rows["sft"])
    if coarse_data is not None:
        coarse_data = replace(coarse_data, examples=rows["sft-coarse"])
    preferences = rows["dpo"]
    for name, counts in dropped.items():
        say(f"held out: {sum(counts.values())} {name} row(s) dropped, sharing a 10-gram with evaluation tasks of "
            + ", ".join(f"{benchmark} ({count})" for benchmark, count in counts.items()))
    if len(sft_data.examples) < settings.min_accepted_pairs:
        raise TooFewAccepted(
            f"campaign {campaign_id}: {len(sft_data.examples)} SFT row(s) left once those sharing a 10-gram with "
            f"evaluation tasks ({', '.join(settings.held_out_benchmarks)}) were dropped, fewer than the "
            f"{settings.min_accepted_pairs} training.min_accepted_pairs asks; generate from sources that are not "
            "benchmark tasks, or set training.held_out_benchmarks to the benchmarks you will evaluate on")

    def stage(name: str, label: str, run: Callable[[], TrainingRunResult]) -> TrainingRunResult:
        done = finished_stage(out / name) if resume else None
        if done is not None:
            say(f"{label}: already trained ({done.steps} steps), kept: {done.model_dir}")
            return done
        result = run()
        say(f"{label}: {result.steps} steps on {result.examples} examples, final loss {_loss(result)}, "
            f"{result.wall_s:.1f} s")
        return result

    def sft_stage(examples: list[dict], base_model: str, name: str, label: str, steps: int) -> TrainingRunResult:
        say(f"{label}: TRL SFTTrainer, {steps} steps from {base_model}")
        return stage(name, label, lambda: train_sft(examples, settings, base_model, out / name, steps, seed,
                                                    resume=resume, stage=label, say=say))

    coarse = None
    if coarse_data is not None:
        say(coarse_data.note)
        coarse = sft_stage(coarse_data.examples, settings.base_model, "sft-coarse", "coarse SFT",
                           settings.coarse_steps)
    say(sft_data.note)
    sft = sft_stage(sft_data.examples, str(coarse.model_dir) if coarse else settings.base_model, "sft", "SFT",
                    settings.max_steps)
    outcome = TrainingOutcome(sft, None, sft.model_dir, coarse)
    if settings.dpo_steps and not preferences:
        say("DPO: skipped, no preference pairs (set sampling.candidates above 1 to collect them)")
    elif settings.dpo_steps:
        say(f"DPO: TRL DPOTrainer, {settings.dpo_steps} steps from the SFT model on {len(preferences)} "
            "preference pairs")
        try:
            dpo = stage("dpo", "DPO", lambda: train_dpo(preferences, settings, str(sft.model_dir), out / "dpo", seed,
                                                        resume=resume, say=say))
            outcome = TrainingOutcome(sft, dpo, dpo.model_dir, coarse)
        except NoTrainableExamples as exc:
            say(f"DPO: skipped, {exc}")
    if is_main_process():
        write_summary(out, outcome, settings, time.monotonic() - started, dropped)
    return outcome


def hardware() -> dict:
    """What the run ran on: devices, processes, library versions."""
    import platform

    import torch
    import transformers
    import trl

    cuda = torch.cuda.is_available()
    return {
        "processes": int(os.environ.get("WORLD_SIZE", "1")),
        "machines": int(os.environ.get("ACCELERATE_NUM_MACHINES", os.environ.get("GROUP_WORLD_SIZE", "1"))),
        "accelerator": "cuda" if cuda else "cpu",
        "gpus": [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())] if cuda else [],
        "cpu_count": os.cpu_count(),
        "host": platform.node(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "trl": trl.__version__},
    }


def write_summary(out: Path, outcome: TrainingOutcome, settings: TrainingConfig, wall_s: float,
                  dropped: dict[str, dict[str, int]]) -> Path:
    """`out/summary.json`: each stage's data counts, steps, final loss, time and ranks; the rows dropped as
    evaluation tasks' overlaps (per row set and benchmark); the settings; the hardware."""
    summary = {
        "final_model": str(outcome.final_model),
        "stages": {name: result.to_json() for name, result in outcome.stages.items()},
        "held_out": {"benchmarks": settings.held_out_benchmarks, "dropped": dropped},
        "settings": settings.model_dump(mode="json"),
        "wall_s": round(wall_s, 2),
        "hardware": hardware(),
    }
    path = out / SUMMARY_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(summary, indent=2))
    partial.replace(path)
    return path


def read_outcome(out: Path) -> TrainingOutcome:
    """The outcome a run (typically a launched one) recorded in `out/summary.json`."""
    summary = json.loads((out / SUMMARY_FILE).read_text())
    stages = {name: TrainingRunResult.from_json(values) for name, values in summary["stages"].items()}
    return TrainingOutcome(stages["sft"], stages.get("dpo"), Path(summary["final_model"]), stages.get("sft-coarse"))


def train_and_verify(database_url: str, out: Path, settings: TrainingConfig, seed: int = 0,
                     say: Callable[[str], None] = print, resume: bool = False,
                     campaign_id: int | None = None) -> TrainingOutcome:
    """`train_campaign`, then load the final model with transformers, as a user would, to prove it loads."""
    outcome = train_campaign(database_url, out, settings, seed, say, resume, campaign_id)
    verify_final_model(outcome, say)
    return outcome


def verify_final_model(outcome: TrainingOutcome, say: Callable[[str], None]) -> None:
    """Load the final model as the next user would: a full model with transformers, an adapter with peft over the
    model its stage started from."""
    from polyforge.training.common import load_causal_lm

    load_causal_lm(outcome.final_model)
    if (outcome.final_model / "adapter_config.json").is_file():
        say(f"final model: {outcome.final_model} (a LoRA adapter; peft's PeftModel.from_pretrained loads it over the "
            "model named as its base_model_name_or_path)")
    else:
        say(f"final model: {outcome.final_model} (loads with AutoModelForCausalLM.from_pretrained)")


def _loss(result: TrainingRunResult) -> str:
    return "-" if result.final_loss is None else f"{result.final_loss:.3f}"
