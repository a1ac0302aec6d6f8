"""The record kinds built from pairs: SFT chat examples and DPO preferences, each with its provenance, and the
Arrow schemas their columnar files use."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polyforge.export.filters import ExportFilter, selected_rows
from polyforge.storage.models import Pair, Preference, Snippet
from polyforge.storage.revisions import current_answer, current_instruction, latest_revision


def sft_record(pair: Pair, snippet: Snippet, instruction: str, answer: str) -> dict:
    """One chat example in the `messages` format TRL's SFTTrainer takes, with provenance; `instruction` and
    `answer` are the pair's current text (an annotator's correction, else the model's)."""
    return {
        "messages": [
            {"role": "user", "content": instruction},
            {"role": "assistant", "content": answer},
        ],
        **_provenance(pair, snippet),
    }


def dpo_record(preference: Preference, pair: Pair, snippet: Snippet, prompt: str) -> dict:
    """One preference in TRL's conversational DPO format (prompt / chosen / rejected), with provenance."""
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "chosen": [{"role": "assistant", "content": preference.chosen}],
        "rejected": [{"role": "assistant", "content": preference.rejected}],
        "chosen_score": preference.chosen_score,
        "rejected_score": preference.rejected_score,
        "reason": preference.reason,
        "kind": preference.kind,  # execution, judge or annotator: what the preference rests on
        **_provenance(pair, snippet),
    }


def _provenance(pair: Pair, snippet: Snippet) -> dict:
    return {
        "language": pair.language,
        "status": pair.status,
        "score": None if pair.final_score is None else round(pair.final_score, 3),
        "topic": pair.topic,
        "difficulty": pair.difficulty,
        "origin": pair.origin,
        "model": pair.model,
        "pair_id": pair.id,
        "campaign_id": pair.campaign_id,
        "source": {
            "repository": snippet.source,
            "path": snippet.path,
            "start_line": snippet.start_line,
            "end_line": snippet.end_line,
        },
        "source_id": snippet.source_id,  # the row's id, for a pair made from an instruction dataset's task
        "templates": pair.templates,
        "checklist_hash": pair.checklist_hash,
    }


def iter_sft_records(session: Session, spec: ExportFilter = ExportFilter()) -> Iterator[dict]:
    """SFT records for the pairs `spec` selects, with their current (corrected) text."""
    query = select(current_instruction(), current_answer(), Pair, Snippet).join(Snippet, Pair.snippet_id == Snippet.id)
    for instruction, answer, pair, snippet in selected_rows(session, query, spec, Pair.id):
        yield sft_record(pair, snippet, instruction, answer)


def iter_dpo_records(session: Session, spec: ExportFilter = ExportFilter()) -> Iterator[dict]:
    """DPO records for the preferences of the pairs `spec` selects (the judge's, and annotators' corrections over
    the original answers); a corrected instruction becomes every preference's prompt."""
    prompt = func.coalesce(latest_revision("instruction"), Preference.prompt)
    query = (select(prompt, Preference, Pair, Snippet).join(Pair, Preference.pair_id == Pair.id)
             .join(Snippet, Pair.snippet_id == Snippet.id))
    for text, preference, pair, snippet in selected_rows(session, query, spec, Preference.id):
        yield dpo_record(preference, pair, snippet, text)


# Arrow schemas: explicit, so that a batch of nulls never decides a column's type.
MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
PROVENANCE_FIELDS = [
    ("language", pa.string()),
    ("status", pa.string()),
    ("score", pa.float64()),
    ("topic", pa.string()),
    ("difficulty", pa.string()),
    ("origin", pa.string()),
    ("model", pa.string()),
    ("pair_id", pa.int64()),
    ("campaign_id", pa.int64()),
    ("source", pa.struct([("repository", pa.string()), ("path", pa.string()), ("start_line", pa.int64()),
                          ("end_line", pa.int64())])),
    ("source_id", pa.string()),
    ("templates", pa.string()),  # JSON: template name -> content hash (the set of names varies)
    ("checklist_hash", pa.string()),
]
SFT_SCHEMA = pa.schema([("messages", MESSAGES), *PROVENANCE_FIELDS])
DPO_SCHEMA = pa.schema([("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES),
                        ("chosen_score", pa.float64()), ("rejected_score", pa.float64()), ("reason", pa.string()),
                        ("kind", pa.string()), *PROVENANCE_FIELDS])
