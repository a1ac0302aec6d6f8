"""What a campaign spent: tokens and calls per stage of the work items, as the servers reported them, and the wall
time of its runs (how long its servers were held)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.storage.models import Pair
from polyforge.storage.run_models import GenerationRun


@dataclass
class StageCost:
    """What one stage of the work items spent over a campaign, as the servers reported it."""

    stage: str
    calls: int = 0
    prompt: int = 0  # prompt tokens, cached ones included
    cached: int = 0  # prompt tokens the server took from its prefix cache
    completion: int = 0
    truncated: int = 0  # replies cut off by max_tokens


def stage_costs(session: Session, campaign_id: int) -> list[StageCost]:
    """Calls, prompt tokens (and how many were cached), completion tokens and truncated replies per stage."""
    costs: dict[str, StageCost] = {}
    query = select(Pair.tokens).where(Pair.campaign_id == campaign_id).execution_options(yield_per=5000)
    for tokens in session.scalars(query):
        for stage, spent in (tokens or {}).items():
            cost = costs.setdefault(stage, StageCost(stage))
            cost.calls += spent.get("calls", 0)
            cost.prompt += spent.get("prompt", 0)
            cost.cached += spent.get("cached", 0)
            cost.completion += spent.get("completion", 0)
            cost.truncated += spent.get("truncated", 0)
    return [cost for cost in costs.values() if cost.calls]


def record_generation_run(session: Session, campaign_id: int, started_at: datetime, seconds: float,
                          pairs: int) -> None:
    session.add(GenerationRun(campaign_id=campaign_id, started_at=started_at, seconds=seconds, pairs=pairs))
    session.commit()


def run_seconds(session: Session, campaign_id: int) -> float:
    """The wall time of every run of the campaign's work items, added up."""
    return float(session.scalar(select(func.sum(GenerationRun.seconds))
                                .where(GenerationRun.campaign_id == campaign_id)) or 0.0)
