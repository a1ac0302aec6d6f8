"""Dataset builders: stored pairs -> training examples."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from polyforge.export import ExportFilter, iter_dpo_records, iter_sft_records
from polyforge.terms import PairStatus, PreferenceKind

ALL_ANSWERED = PairStatus.judged()


class TooFewAccepted(ValueError):
    """A campaign with fewer accepted pairs than SFT needs; the message says how many and what to do."""


@dataclass
class SFTExamples:
    examples: list[dict]
    statuses: tuple[str, ...]
    note: str


def _filter(statuses: tuple[str, ...], campaign_id: int | None, mix: dict[str, float] | None, mix_by: str):
    return ExportFilter(statuses, campaign_id=campaign_id, mixture=dict(mix or {}), mix_by=mix_by)


def sft_examples(session: Session, campaign_id: int | None = None, min_accepted: int = 4,
                 mix: dict[str, float] | None = None, mix_by: str = "language",
                 include_unaccepted: bool = False, repairs: bool = False) -> SFTExamples:
    """Accepted pairs as chat examples (every judged pair with `include_unaccepted`, which the note then says), and
    with `repairs` the exchanges that led to the accepted repairs (`repair_conversations`).
    `mix` gives shares per language (or source), as the export's --mix does. Fewer than `min_accepted` accepted
    pairs raise TooFewAccepted: training on pairs nobody verified is the user's explicit choice, never a fallback."""
    if include_unaccepted:
        everything = list(iter_sft_records(session, _filter(ALL_ANSWERED, campaign_id, mix, mix_by)))
        accepted = sum(example["status"] == PairStatus.accepted for example in everything)
        return SFTExamples(everything, ALL_ANSWERED,
                           f"training on all {len(everything)} judged pairs, accepted or not ({accepted} accepted), "
                           "as training.include_unaccepted asks")
    accepted = list(iter_sft_records(session, _filter((PairStatus.accepted,), campaign_id, mix, mix_by)))
    if len(accepted) < min_accepted:
        raise TooFewAccepted(
            f"campaign {campaign_id}: {len(accepted)} accepted pair(s), fewer than the {min_accepted} SFT needs "
            "(training.min_accepted_pairs); generate more (a larger budgets.max_pairs, a stronger generator), review "
            "the flagged pairs (`polyforge review`), or train on unverified pairs on purpose with "
            "training.include_unaccepted: true (`polyforge train --include-unaccepted`)")
    note = f"training on {len(accepted)} accepted pairs"
    if repairs:
        conversations = repair_conversations(session, campaign_id)
        accepted += conversations
        note += f" and {len(conversations)} repair conversation(s)" if conversations else ""
    return SFTExamples(accepted, (PairStatus.accepted,), note)


def repair_conversations(session: Session, campaign_id: int | None = None) -> list[dict]:
    """For each accepted pair whose answer is a repair, the exchange as a multi-turn chat example: the task, the
    broken answer, what the sandbox said of its run, the fix that passed."""
    conversations = []
    for record in iter_dpo_records(session, ExportFilter((PairStatus.accepted,), campaign_id=campaign_id)):
        if record["kind"] == PreferenceKind.repair:
            feedback = {"role": "user", "content": record["reason"]}
            messages = [*record["prompt"], *record["rejected"], feedback, *record["chosen"]]
            provenance = {key: value for key, value in record.items() if key not in ("prompt", "chosen", "rejected")}
            conversations.append({"messages": messages, **provenance})
    return conversations


def coarse_examples(session: Session, campaign_id: int | None = None, mix: dict[str, float] | None = None,
                    mix_by: str = "language") -> SFTExamples:
    """Every answered pair, accepted or not: the broad, noisier data of the coarse SFT stage (in `mix`'s shares),
    which training.coarse_steps asks for."""
    everything = list(iter_sft_records(session, _filter(ALL_ANSWERED, campaign_id, mix, mix_by)))
    return SFTExamples(everything, ALL_ANSWERED, f"coarse stage: all {len(everything)} answered pairs")


def dpo_examples(session: Session, campaign_id: int | None = None) -> list[dict]:
    """Every stored preference (chosen candidate vs one it beat) of the campaign's answered pairs: execution
    preferences and annotators' corrections, and judge-score ones only where the campaign recorded them
    (judge.preferences_from_scores); each row's `kind` says which."""
    return list(iter_dpo_records(session, ExportFilter(ALL_ANSWERED, campaign_id=campaign_id)))
