"""The judge's stored verdicts read back per pair: what calibration compares with annotators."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from polyforge.storage.models import Pair
from polyforge.storage.verdicts import final_verdict


@dataclass
class JudgedPair:
    pair_id: int
    status: str  # accepted, rejected, flagged or failed
    final_score: float | None
    checklist_hash: str | None
    scores: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)


def judged_pairs(session: Session, pair_ids: Iterable[int], campaign_id: int | None = None) -> list[JudgedPair]:
    """The stored pairs among `pair_ids` (optionally of one campaign), in id order, with their scores."""
    query = select(Pair).where(Pair.id.in_(list(pair_ids))).options(selectinload(Pair.scores)).order_by(Pair.id)
    if campaign_id is not None:
        query = query.where(Pair.campaign_id == campaign_id)
    return [
        JudgedPair(
            pair.id, pair.status, pair.final_score, pair.checklist_hash,
            {score.criterion: score.score for score in pair.scores},
            {score.criterion: score.weight for score in pair.scores},
        )
        for pair in session.scalars(query)
    ]


def review_verdicts(session: Session) -> dict[int, bool]:
    """Review's final verdicts (agreed, or adjudicated): pair id -> accepted."""
    verdict = final_verdict()
    return {pair_id: latest == "accept"
            for pair_id, latest in session.execute(select(Pair.id, verdict).where(verdict.is_not(None)))}
