"""A campaign's lifecycle in the database: found by name (resumed) or created, then marked as it goes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.storage.models import Campaign, utcnow
from polyforge.terms import CampaignStatus


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
