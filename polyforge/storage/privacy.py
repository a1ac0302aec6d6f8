"""Secrets and personal data in a campaign: what ingest found in its sources, and the pairs a gate dropped for
holding some, counted by kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.storage.models import Pair
from polyforge.storage.run_models import IngestRun
from polyforge.terms import GATE, SENSITIVE, SENSITIVE_STEP


@dataclass
class SensitiveCounts:
    at_ingest: Counter = field(default_factory=Counter)  # label (secret:aws_access_key, pii:email) -> findings
    dropped_snippets: int = 0  # snippets ingest dropped for holding some (the others were redacted)
    dropped_pairs: Counter = field(default_factory=Counter)  # kind -> pairs a gate dropped for holding it

    def __bool__(self) -> bool:
        return bool(self.at_ingest or self.dropped_pairs)


def sensitive_counts(session: Session, campaign_ids: Iterable[int]) -> SensitiveCounts:
    """The counts of the campaigns' latest ingest runs (a resumed campaign ingests again) and of their gates."""
    counts = SensitiveCounts()
    for campaign_id in campaign_ids:
        run = session.scalars(select(IngestRun).where(IngestRun.campaign_id == campaign_id)
                              .order_by(IngestRun.id.desc()).limit(1)).first()
        step = (run.steps or {}).get(SENSITIVE_STEP, {}) if run is not None else {}
        counts.at_ingest.update(step.get("found", {}))
        counts.dropped_snippets += sum(step.get("dropped", {}).values())
        for error in session.scalars(select(Pair.error).where(Pair.campaign_id == campaign_id,
                                                              Pair.error.like(f"{GATE}{SENSITIVE}%"))):
            kinds = error.rsplit("(", 1)[-1].rstrip(")")
            counts.dropped_pairs.update(kind.strip() for kind in kinds.split(","))
    return counts


def describe(counts: SensitiveCounts) -> str:
    """One line: 'found at ingest: secret:aws_access_key 2, pii:email 1 (1 snippet dropped, the others redacted);
    pairs dropped by the gate: email 1'."""
    parts = []
    if counts.at_ingest:
        dropped = (f"{counts.dropped_snippets} snippets dropped, the others redacted" if counts.dropped_snippets
                   else "redacted")
        parts.append("found at ingest: " + ", ".join(f"{label} {n}" for label, n in sorted(counts.at_ingest.items()))
                     + f" ({dropped})")
    if counts.dropped_pairs:
        parts.append("pairs dropped by the gate: " + ", ".join(f"{kind} {n}" for kind, n in
                                                               sorted(counts.dropped_pairs.items())))
    return "; ".join(parts) or "none found"
