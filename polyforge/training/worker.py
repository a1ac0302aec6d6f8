"""The training recipe in one process of a launched run (`accelerate launch -m polyforge.training.worker`).

`polyforge train --launcher accelerate` writes the settings file and starts this module in every process; it is
not meant to be run by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from polyforge.config import TrainingConfig
from polyforge.export import ExportError
from polyforge.training.common import NoTrainableExamples, TrainingSetupError, is_main_process
from polyforge.training.datasets import TooFewAccepted
from polyforge.training.recipe import UnknownCampaign, train_campaign
from polyforge.training.sft_data import ChatTemplateMissing

# Problems with the data or settings: one line on rank 0 and exit status 2, as the command itself would.
USER_ERRORS = (NoTrainableExamples, TrainingSetupError, ChatTemplateMissing, ExportError, TooFewAccepted,
               UnknownCampaign)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyforge.training.worker", description=__doc__)
    parser.add_argument("--database", required=True, help="The campaign database's URL.")
    parser.add_argument("--out", required=True, type=Path, help="The run's output folder.")
    parser.add_argument("--settings", required=True, type=Path, help="The training settings (JSON).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="Go on from the stages' last checkpoints.")
    parser.add_argument("--campaign", type=int, default=None, help="The campaign's id (default: the newest).")
    args = parser.parse_args(argv)
    settings = TrainingConfig.model_validate_json(args.settings.read_text(encoding="utf-8"))
    try:
        train_campaign(args.database, args.out, settings, args.seed, say=lambda line: print(line, flush=True),
                       resume=args.resume, campaign_id=args.campaign)
    except USER_ERRORS as exc:
        if is_main_process():
            print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
