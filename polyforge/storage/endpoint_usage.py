"""Per-endpoint usage of a campaign: requests, failures, tokens, latency and ejections, added up over runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.storage.run_models import EndpointUsage

COUNTED = ("requests", "failures", "prompt_tokens", "completion_tokens", "seconds", "ejections")


def add_endpoint_usage(session: Session, campaign_id: int, increments: Iterable[Mapping]) -> None:
    """Add each increment (role, base_url, model, the COUNTED fields, last_error) to its endpoint's row."""
    for increment in increments:
        row = session.scalar(select(EndpointUsage).where(
            EndpointUsage.campaign_id == campaign_id, EndpointUsage.role == increment["role"],
            EndpointUsage.base_url == increment["base_url"]))
        if row is None:
            row = EndpointUsage(campaign_id=campaign_id, role=increment["role"], base_url=increment["base_url"],
                                model=increment["model"], **{name: 0 for name in COUNTED})
            session.add(row)
        for name in COUNTED:
            setattr(row, name, getattr(row, name) + increment[name])
        row.last_error = increment.get("last_error") or row.last_error
    session.commit()


def endpoint_usage(session: Session, campaign_id: int) -> list[EndpointUsage]:
    return list(session.scalars(select(EndpointUsage).where(EndpointUsage.campaign_id == campaign_id)
                                .order_by(EndpointUsage.role, EndpointUsage.base_url)))
