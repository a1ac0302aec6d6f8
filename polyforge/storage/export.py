"""Export stored pairs as training data, streaming rows so memory stays bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyforge.storage.models import Pair, Snippet

EXPORT_FORMATS = ("sft-jsonl",)


def sft_record(pair: Pair, snippet: Snippet) -> dict:
    """One chat example in the `messages` format TRL's SFTTrainer takes, with provenance."""
    return {
        "messages": [
            {"role": "user", "content": pair.instruction},
            {"role": "assistant", "content": pair.answer},
        ],
        "language": pair.language,
        "status": pair.status,
        "score": None if pair.final_score is None else round(pair.final_score, 3),
        "model": pair.model,
        "pair_id": pair.id,
        "campaign_id": pair.campaign_id,
        "source": {
            "repository": snippet.source,
            "path": snippet.path,
            "start_line": snippet.start_line,
            "end_line": snippet.end_line,
        },
        "templates": pair.templates,
        "checklist_hash": pair.checklist_hash,
    }


def iter_sft_records(
    session: Session, statuses: Sequence[str] = ("accepted",), campaign_id: int | None = None
) -> Iterator[dict]:
    query = (
        select(Pair, Snippet)
        .join(Snippet, Pair.snippet_id == Snippet.id)
        .where(Pair.status.in_(list(statuses)), Pair.answer != "")
        .order_by(Pair.id)
        .execution_options(yield_per=500)
    )
    if campaign_id is not None:
        query = query.where(Pair.campaign_id == campaign_id)
    for pair, snippet in session.execute(query):
        yield sft_record(pair, snippet)


def write_jsonl(records: Iterator[dict], out: Path) -> int:
    """Write records one per line through a temporary file, so a crash never leaves half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    count = 0
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    partial.replace(out)
    return count
