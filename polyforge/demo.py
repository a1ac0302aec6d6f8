"""The demo workflow: the bundled sample campaign on the embedded model, its accepted pairs and preferences
exported, then a short SFT (and DPO) run on them. The command line supplies the display through hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from polyforge.config import CampaignConfig, load_config
from polyforge.export import ExportFilter, ExportResult, export
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.storage import session_scope
from polyforge.storage.db import DB_FILENAME
from polyforge.terms import PairStatus
from polyforge.training.datasets import TooFewAccepted
from polyforge.training.recipe import TrainingOutcome, train_and_verify

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
DEMO_CONFIG = EXAMPLES_DIR / "campaign.yaml"


class DemoError(ValueError):
    pass


@dataclass
class DemoHooks:
    watch: Callable[[], AbstractContextManager[CampaignProgress]]  # the campaign's progress, open while it runs
    on_campaign: Callable[[object], None] = lambda result: None  # the campaign's result, once it ran
    say: Callable[[str], None] = print  # one line of news (exports, training steps)


@dataclass
class DemoResult:
    config: CampaignConfig
    campaign: object  # the campaign runner's result: campaign_id, database_url, memory, coverage, ...
    sft: ExportResult
    dpo: ExportResult
    training: TrainingOutcome | None  # None when the config's training is disabled, or too few pairs were accepted
    database: Path


def demo_config() -> Path:
    """The bundled sample campaign's config; it ships with the source tree, not with an installed package."""
    if not DEMO_CONFIG.is_file():
        raise DemoError(f"the demo needs {DEMO_CONFIG}, which ships with the source tree; run it from a clone")
    return DEMO_CONFIG


def run_demo(out: Path, hooks: DemoHooks, config_path: Path | None = None) -> DemoResult:
    """Run the demo campaign into `out`, export `export/sft.jsonl` and `export/dpo.jsonl` with their cards, and
    train on them when the config's training is enabled (`sft/model`, `dpo/model`)."""
    config = load_config(config_path or demo_config(), {"output_dir": str(out)})
    with hooks.watch() as progress:
        result = asyncio.run(CampaignRunner(config, progress, new_campaign=False).run())
    hooks.on_campaign(result)
    with session_scope(result.database_url, create=False) as session:
        sft = export(session, out / "export" / "sft.jsonl", "sft-jsonl", ExportFilter(campaign_id=result.campaign_id))
        dpo = export(session, out / "export" / "dpo.jsonl", "dpo-jsonl",
                     ExportFilter(PairStatus.judged(), campaign_id=result.campaign_id))
    hooks.say(f"exported {sft.rows} accepted pairs: {sft.data_path}")
    hooks.say(f"exported {dpo.rows} preference pairs (chosen vs rejected candidates): {dpo.data_path}")
    training = None
    if config.training.enabled:
        try:
            training = train_and_verify(result.database_url, out, config.training, config.sampling.seed,
                                        say=hooks.say, campaign_id=result.campaign_id)
        except TooFewAccepted as exc:
            hooks.say(f"training skipped: {exc}")
    return DemoResult(config, result, sft, dpo, training, out / DB_FILENAME)
