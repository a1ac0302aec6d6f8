"""Storing an ingest run: its snippets and its per-language table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.ingest.pipeline import IngestReport, SnippetRecord
from polyforge.storage.models import IngestLanguageStat, IngestRun, Snippet

BATCH = 2000


def store_snippets(session: Session, campaign_id: int, records: Iterable[SnippetRecord]) -> int:
    """Add the snippets the campaign does not hold yet, committing in batches; returns how many."""
    known = set(session.scalars(select(Snippet.content_hash).where(Snippet.campaign_id == campaign_id)))
    added = 0
    for record in records:
        if record.content_hash in known:
            continue
        known.add(record.content_hash)
        session.add(Snippet(campaign_id=campaign_id, **asdict(record)))
        added += 1
        if added % BATCH == 0:
            session.commit()
    session.commit()
    return added


def store_ingest_run(session: Session, campaign_id: int, report: IngestReport, seconds: float) -> IngestRun:
    run = IngestRun(
        campaign_id=campaign_id,
        seconds=seconds,
        bytes_read=report.bytes_read,
        sources=[
            {"location": s.location, "commit": s.commit, "license": s.license, "files": s.files,
             "skipped": dict(s.skipped), "error": s.error}
            for s in report.sources
        ],
        steps={name: {"seen": step.seen, "kept": step.kept, "dropped": dict(step.dropped)}
               for name, step in report.steps.items()},
        problems=list(report.problems),
    )
    run.languages = [
        IngestLanguageStat(language=name, files=stats.files, snippets=stats.snippets, tokens=stats.tokens,
                           dropped=dict(stats.dropped))
        for name, stats in sorted(report.languages.items())
    ]
    session.add(run)
    session.commit()
    return run
