"""Dataset builders: stored pairs -> training examples."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from polyforge.export import ExportFilter, iter_dpo_records, iter_sft_records
from polyforge.terms import PairStatus

ALL_ANSWERED = PairStatus.judged()


@dataclass
class SFTExamples:
    examples: list[dict]
    statuses: tuple[str, ...]
    note: str


def _filter(statuses: tuple[str, ...], campaign_id: int | None, mix: dict[str, float] | None, mix_by: str):
    return ExportFilter(statuses, campaign_id=campaign_id, mixture=dict(mix or {}), mix_by=mix_by)


def sft_examples(session: Session, campaign_id: int | None = None, min_accepted: int = 4,
                 mix: dict[str, float] | None = None, mix_by: str = "language") -> SFTExamples:
    """Accepted pairs as chat examples; all answered pairs when fewer than `min_accepted` were accepted. `mix`
    gives shares per language (or source), as the export's --mix does.

    The fallback keeps a smoke run on a tiny model possible, and the note says it happened.
    """
    accepted = list(iter_sft_records(session, _filter((PairStatus.accepted,), campaign_id, mix, mix_by)))
    if len(accepted) >= min_accepted:
        return SFTExamples(accepted, (PairStatus.accepted,), f"training on {len(accepted)} accepted pairs")
    everything = list(iter_sft_records(session, _filter(ALL_ANSWERED, campaign_id, mix, mix_by)))
    return SFTExamples(
        everything,
        ALL_ANSWERED,
        f"only {len(accepted)} pair(s) accepted (< {min_accepted}): training on all {len(everything)} "
        "generated pairs instead, accepted or not",
    )


def coarse_examples(session: Session, campaign_id: int | None = None, mix: dict[str, float] | None = None,
                    mix_by: str = "language") -> SFTExamples:
    """Every answered pair, accepted or not: the broad, noisier data of the coarse SFT stage (in `mix`'s shares)."""
    everything = list(iter_sft_records(session, _filter(ALL_ANSWERED, campaign_id, mix, mix_by)))
    return SFTExamples(everything, ALL_ANSWERED, f"coarse stage: all {len(everything)} answered pairs")


def dpo_examples(session: Session, campaign_id: int | None = None) -> list[dict]:
    """Every stored preference (chosen candidate vs one it beat) of the campaign's answered pairs."""
    return list(iter_dpo_records(session, ExportFilter(ALL_ANSWERED, campaign_id=campaign_id)))
