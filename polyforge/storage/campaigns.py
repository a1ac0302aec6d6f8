"""A campaign's lifecycle in the database: found by name (resumed) or created, then marked as it goes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.storage.models import Campaign, Pair, utcnow
from polyforge.terms import CampaignStatus, PairOrigin, PairStatus


def find_or_create_campaign(session: Session, name: str, settings: dict, *, new: bool = False,
                            status: CampaignStatus = CampaignStatus.running) -> Campaign:
    """The newest campaign called `name` (to resume), or a new one with these settings when there is none or
    `new`; a new one starts with `status`. Committed, so other processes see it at once."""
    campaign = None if new else session.scalar(
        select(Campaign).where(Campaign.name == name).order_by(Campaign.id.desc()))
    if campaign is None:
        campaign = Campaign(name=name, config=settings, status=status)
        session.add(campaign)
        session.commit()
    return campaign


def mark_campaign(session: Session, campaign_id: int, status: CampaignStatus) -> None:
    """Record where the campaign stands; `finished` stamps the time, any other status clears it."""
    campaign = session.get(Campaign, campaign_id)
    campaign.status = status
    campaign.finished_at = utcnow() if status is CampaignStatus.finished else None
    session.commit()


def requeue_failed(session: Session, campaign_id: int) -> int:
    """Delete the campaign's failed pairs (not transfers: their snippet belongs to the proposer's item) with
    what hangs off them, so that the next run schedules those snippets again; returns how many."""
    failed = session.scalars(select(Pair).where(
        Pair.campaign_id == campaign_id, Pair.status == PairStatus.failed, Pair.origin != PairOrigin.transfer)).all()
    discussions = {pair.discussion for pair in failed if pair.discussion is not None}
    for pair in failed:
        session.delete(pair)
    session.flush()
    for discussion in discussions:
        if not session.scalar(select(func.count(Pair.id)).where(Pair.discussion_id == discussion.id)):
            session.delete(discussion)  # nothing else came of it: the retried item discusses anew
    session.commit()
    return len(failed)
