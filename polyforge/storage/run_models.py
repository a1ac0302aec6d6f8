"""SQLAlchemy models of how runs went, beside the results: ingest runs with their per-language table, generation
runs with their wall time, and what each server endpoint did for a campaign."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from polyforge.storage.models import Base, utcnow


class IngestRun(Base):
    """One run of the ingest stage: its sources and the counts of every step."""

    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds: Mapped[float] = mapped_column(default=0.0)
    bytes_read: Mapped[int] = mapped_column(default=0, doc="Bytes of source files read (after skips).")
    sources: Mapped[list] = mapped_column(JSON, doc="Per source: location, commit SHA, SPDX license, files, skipped by reason, error.")
    steps: Mapped[dict] = mapped_column(doc="Per step: seen, kept, dropped by reason.")
    problems: Mapped[list] = mapped_column(JSON, doc="Messages about sources that could not be read or were skipped.")

    languages: Mapped[list[IngestLanguageStat]] = relationship(back_populates="run", cascade="all, delete-orphan")


class IngestLanguageStat(Base):
    """One row of an ingest run's per-language table."""

    __tablename__ = "ingest_language_stat"
    __table_args__ = (UniqueConstraint("run_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id"), index=True)
    language: Mapped[str] = mapped_column(String(60))
    files: Mapped[int]
    snippets: Mapped[int]
    tokens: Mapped[int]
    dropped: Mapped[dict] = mapped_column(doc="Reason -> snippets (or files, for parse failures) dropped.")

    run: Mapped[IngestRun] = relationship(back_populates="languages")


class EndpointUsage(Base):
    """What one server endpoint of one role did for a campaign, over all its runs."""

    __tablename__ = "endpoint_usage"
    __table_args__ = (UniqueConstraint("campaign_id", "role", "base_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), doc="generator, judge or second_judge.")
    base_url: Mapped[str] = mapped_column(String(500))
    model: Mapped[str] = mapped_column(String(200))
    requests: Mapped[int] = mapped_column(default=0, doc="Calls sent (each with its own retries).")
    failures: Mapped[int] = mapped_column(default=0, doc="Calls that failed after their retries.")
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0, doc="Total latency of the calls that succeeded.")
    ejections: Mapped[int] = mapped_column(default=0, doc="Times the endpoint was taken out of the pool.")
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class GenerationRun(Base):
    """One run of a campaign's work items (a resume is another run): its wall time is how long the servers were held,
    which prices per GPU-hour charge."""

    __tablename__ = "generation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds: Mapped[float] = mapped_column(doc="Wall time from the first work item's start to the run's end.")
    pairs: Mapped[int] = mapped_column(doc="Pairs the run stored.")
