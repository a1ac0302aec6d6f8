"""Train on a campaign: SFT on its pairs, then DPO on its preferences, starting from the SFT model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from polyforge.config import TrainingConfig
from polyforge.storage import session_scope
from polyforge.storage.report import latest_campaign
from polyforge.training.common import NoTrainableExamples, TrainingRunResult
from polyforge.training.datasets import coarse_examples, dpo_examples, sft_examples


@dataclass
class TrainingOutcome:
    sft: TrainingRunResult
    dpo: TrainingRunResult | None
    final_model: Path
    coarse: TrainingRunResult | None = None  # the coarse SFT stage, when there was one


def train_campaign(database_url: str, out: Path, settings: TrainingConfig, seed: int = 0,
                   say: Callable[[str], None] = print) -> TrainingOutcome:
    """Coarse SFT when configured (`out/sft-coarse/model`), SFT (`out/sft/model`), then DPO when preferences
    exist (`out/dpo/model`), each stage starting from the model of the one before; `say` reports each step."""
    from polyforge.training.dpo import train_dpo
    from polyforge.training.sft import train_sft

    with session_scope(database_url, create=False) as session:
        campaign = latest_campaign(session)
        campaign_id = campaign.id if campaign else None
        sft_data = sft_examples(session, campaign_id)
        coarse_data = coarse_examples(session, campaign_id) if settings.coarse_steps else None
        preferences = dpo_examples(session, campaign_id) if settings.dpo_steps else []

    def sft_stage(examples: list[dict], base_model: str, folder: str, steps: int) -> TrainingRunResult:
        say(f"SFT: TRL SFTTrainer, {steps} steps from {base_model}")
        result = train_sft(examples, settings, base_model, out / folder, steps, seed)
        say(f"SFT: {result.steps} steps on {result.examples} examples, final loss {_loss(result)}")
        return result

    coarse = None
    if coarse_data is not None:
        say(coarse_data.note)
        coarse = sft_stage(coarse_data.examples, settings.base_model, "sft-coarse", settings.coarse_steps)
    say(sft_data.note)
    sft = sft_stage(sft_data.examples, str(coarse.model_dir) if coarse else settings.base_model, "sft",
                    settings.max_steps)
    if not settings.dpo_steps:
        return TrainingOutcome(sft, None, sft.model_dir, coarse)
    if not preferences:
        say("DPO: skipped, no preference pairs (set sampling.candidates above 1 to collect them)")
        return TrainingOutcome(sft, None, sft.model_dir, coarse)
    say(f"DPO: TRL DPOTrainer, {settings.dpo_steps} steps from the SFT model on {len(preferences)} preference pairs")
    try:
        dpo = train_dpo(preferences, settings, str(sft.model_dir), out / "dpo", seed)
    except NoTrainableExamples as exc:
        say(f"DPO: skipped, {exc}")
        return TrainingOutcome(sft, None, sft.model_dir, coarse)
    say(f"DPO: {dpo.steps} steps on {dpo.examples} preference pairs, final loss {_loss(dpo)}")
    return TrainingOutcome(sft, dpo, dpo.model_dir, coarse)


def train_and_verify(database_url: str, out: Path, settings: TrainingConfig, seed: int = 0,
                     say: Callable[[str], None] = print) -> TrainingOutcome:
    """`train_campaign`, then load the final model with transformers, as a user would, to prove it loads."""
    from transformers import AutoModelForCausalLM

    outcome = train_campaign(database_url, out, settings, seed, say)
    AutoModelForCausalLM.from_pretrained(outcome.final_model)
    say(f"final model: {outcome.final_model} (loads with AutoModelForCausalLM.from_pretrained)")
    return outcome


def _loss(result: TrainingRunResult) -> str:
    return "-" if result.final_loss is None else f"{result.final_loss:.3f}"
