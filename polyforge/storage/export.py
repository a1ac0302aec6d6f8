"""Export stored pairs as training data: SFT chat examples and DPO preferences, as JSONL, Parquet or
an HF datasets folder, with filters, an optional mixture, and a dataset card.

Rows stream from the database in batches and are written as they come, so memory stays bounded
however many pairs there are. Every file is written under a temporary name and renamed at the end:
a crash never leaves half an export behind.
"""

from __future__ import annotations

import json
import math
from array import array
import shutil
import statistics
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from polyforge.storage.models import Pair, Preference, Snippet
from polyforge.storage.reviews import effective_status
from polyforge.terms import PairStatus

EXPORT_FORMATS = ("sft-jsonl", "dpo-jsonl", "sft-parquet", "dpo-parquet", "sft-hf", "dpo-hf")
MIX_KEYS = ("language", "source")
BATCH_ROWS = 1000


class ExportError(ValueError):
    pass


@dataclass
class ExportFilter:
    """Which pairs to export. Empty sequences mean 'any'."""

    statuses: Sequence[str] = (PairStatus.accepted,)  # after review: an annotator's accept or reject decides
    min_score: float | None = None
    languages: Sequence[str] = ()
    origins: Sequence[str] = ()  # single, discussion, transfer (see Pair.origin)
    campaign_id: int | None = None
    mixture: dict[str, float] = field(default_factory=dict)  # key value -> share of the export
    mix_by: str = "language"  # or "source"


def _filtered(query: Select, spec: ExportFilter) -> Select:
    query = query.where(Pair.answer != "")
    if spec.statuses:  # an annotator's verdict overrides the judge's route
        query = query.where(effective_status().in_(list(spec.statuses)))
    if spec.min_score is not None:
        query = query.where(Pair.final_score >= spec.min_score)
    if spec.languages:
        query = query.where(Pair.language.in_(list(spec.languages)))
    if spec.origins:
        query = query.where(Pair.origin.in_(list(spec.origins)))
    if spec.campaign_id is not None:
        query = query.where(Pair.campaign_id == spec.campaign_id)
    return query


def _mix_column(spec: ExportFilter):
    if spec.mix_by not in MIX_KEYS:
        raise ExportError(f"mix_by must be one of {MIX_KEYS}, not {spec.mix_by!r}")
    return Pair.language if spec.mix_by == "language" else Snippet.source


def mixture_quotas(session: Session, spec: ExportFilter, base: Select) -> dict[str, int]:
    """Rows per key so that the export follows the shares, as large as the scarcest key allows."""
    shares = spec.mixture
    if any(share <= 0 for share in shares.values()):
        raise ExportError(f"mixture shares must be positive: {shares}")
    total_share = sum(shares.values())
    column = _mix_column(spec)
    counted = base.with_only_columns(column, func.count()).group_by(column).order_by(None)
    available = dict(session.execute(counted).all())
    missing = [key for key in shares if not available.get(key)]
    if missing:
        raise ExportError(f"mixture names {missing}, but no pairs match the filters there (found: {sorted(available)})")
    size = min(available[key] * total_share / share for key, share in shares.items())
    return {key: math.floor(size * share / total_share) for key, share in shares.items()}


def _limited(rows: Iterable[tuple], quotas: dict[str, int] | None, key_of) -> Iterator[tuple]:
    if quotas is None:
        yield from rows
        return
    taken: Counter = Counter()
    for row in rows:
        key = key_of(row)
        if key in quotas and taken[key] < quotas[key]:
            taken[key] += 1
            yield row


def sft_record(pair: Pair, snippet: Snippet) -> dict:
    """One chat example in the `messages` format TRL's SFTTrainer takes, with provenance."""
    return {
        "messages": [
            {"role": "user", "content": pair.instruction},
            {"role": "assistant", "content": pair.answer},
        ],
        **_provenance(pair, snippet),
    }


def dpo_record(preference: Preference, pair: Pair, snippet: Snippet) -> dict:
    """One preference in TRL's conversational DPO format (prompt / chosen / rejected), with provenance."""
    return {
        "prompt": [{"role": "user", "content": preference.prompt}],
        "chosen": [{"role": "assistant", "content": preference.chosen}],
        "rejected": [{"role": "assistant", "content": preference.rejected}],
        "chosen_score": preference.chosen_score,
        "rejected_score": preference.rejected_score,
        "reason": preference.reason,
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
        "templates": pair.templates,
        "checklist_hash": pair.checklist_hash,
    }


def iter_sft_records(session: Session, spec: ExportFilter = ExportFilter()) -> Iterator[dict]:
    """SFT records for the pairs `spec` selects."""
    base = _filtered(select(Pair, Snippet).join(Snippet, Pair.snippet_id == Snippet.id), spec)
    quotas = mixture_quotas(session, spec, base) if spec.mixture else None
    rows = session.execute(base.order_by(Pair.id).execution_options(yield_per=BATCH_ROWS))
    key_of = (lambda row: row[0].language) if spec.mix_by == "language" else (lambda row: row[1].source)
    for pair, snippet in _limited(rows, quotas, key_of):
        yield sft_record(pair, snippet)


def iter_dpo_records(session: Session, spec: ExportFilter = ExportFilter()) -> Iterator[dict]:
    """DPO records for the preferences of the pairs `spec` selects."""
    base = _filtered(
        select(Preference, Pair, Snippet).join(Pair, Preference.pair_id == Pair.id)
        .join(Snippet, Pair.snippet_id == Snippet.id),
        spec,
    )
    quotas = mixture_quotas(session, spec, base) if spec.mixture else None
    rows = session.execute(base.order_by(Preference.id).execution_options(yield_per=BATCH_ROWS))
    key_of = (lambda row: row[1].language) if spec.mix_by == "language" else (lambda row: row[2].source)
    for preference, pair, snippet in _limited(rows, quotas, key_of):
        yield dpo_record(preference, pair, snippet)


# Arrow schemas: explicit, so that a batch of nulls never decides a column's type.
_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
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
    ("templates", pa.string()),  # JSON: template name -> content hash (the set of names varies)
    ("checklist_hash", pa.string()),
]
SFT_SCHEMA = pa.schema([("messages", _MESSAGES), *PROVENANCE_FIELDS])
DPO_SCHEMA = pa.schema([("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES),
                        ("chosen_score", pa.float64()), ("rejected_score", pa.float64()), ("reason", pa.string()),
                        *PROVENANCE_FIELDS])


def _arrow_row(record: dict) -> dict:
    return {**record, "templates": json.dumps(record["templates"], sort_keys=True)}


def _batches(records: Iterable[dict], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    batch: list[dict] = []
    for record in records:
        batch.append(_arrow_row(record))
        if len(batch) == BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(batch, schema=schema)
            batch = []
    if batch:
        yield pa.RecordBatch.from_pylist(batch, schema=schema)


def _partial(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.with_name(out.name + ".partial")


def write_jsonl(records: Iterable[dict], out: Path) -> int:
    partial = _partial(out)
    count = 0
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    partial.replace(out)
    return count


def write_parquet(records: Iterable[dict], out: Path, schema: pa.Schema) -> int:
    partial = _partial(out)
    count = 0
    with pq.ParquetWriter(partial, schema) as writer:
        for batch in _batches(records, schema):
            writer.write_batch(batch)
            count += batch.num_rows
    partial.replace(out)
    return count


def write_hf_dataset(records: Iterable[dict], out: Path, schema: pa.Schema) -> int:
    """An HF datasets folder (`datasets.load_from_disk`), built through a Parquet file on disk."""
    from datasets import Dataset

    partial = _partial(out)
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        parquet = Path(scratch) / "rows.parquet"
        count = write_parquet(records, parquet, schema)
        dataset = Dataset.from_parquet(str(parquet), cache_dir=str(Path(scratch) / "cache"))
        dataset.save_to_disk(str(partial))
    if out.exists():
        shutil.rmtree(out)
    partial.replace(out)
    return count


class RecordStats:
    """Counts and score statistics of the records that pass through, for the dataset card."""

    def __init__(self, records: Iterable[dict]):
        self._records = records
        self.languages: Counter = Counter()
        self.statuses: Counter = Counter()
        self.campaigns: set[int] = set()
        self.checklists: set[str] = set()
        self.scores = array("d")  # 8 bytes a row: the only thing that grows with the export

    def __iter__(self) -> Iterator[dict]:
        for record in self._records:
            self.languages[record["language"]] += 1
            self.statuses[record["status"]] += 1
            self.campaigns.add(record["campaign_id"])
            if record["checklist_hash"]:
                self.checklists.add(record["checklist_hash"])
            if record["score"] is not None:
                self.scores.append(record["score"])
            yield record


KIND_TEXTS = {
    "sft": "supervised fine-tuning: chat `messages` (user instruction, assistant answer)",
    "dpo": "preference optimization (DPO): `prompt`, `chosen`, `rejected` chat messages",
    "fim": "fill-in-the-middle: the answers' code split into `prefix`, `middle` and `suffix`, and `text` in the "
           "PSM layout with Qwen2.5-Coder's FIM tokens",
}


def dataset_card(stats: RecordStats, kind: str, data_format: str, data_name: str, spec: ExportFilter) -> str:
    total = sum(stats.languages.values())
    scores = stats.scores
    score_lines = (
        f"| mean | {statistics.fmean(scores):.3f} |\n| std | {statistics.pstdev(scores):.3f} |\n"
        f"| min | {min(scores):.3f} |\n| median | {statistics.median(scores):.3f} |\n| max | {max(scores):.3f} |"
        if scores else "| (no scored rows) | |"
    )
    languages = "\n".join(f"| {lang} | {count} |" for lang, count in stats.languages.most_common())
    statuses = "\n".join(f"| {status} | {count} |" for status, count in stats.statuses.most_common())
    loader = {
        "jsonl": f'load_dataset("json", data_files="{data_name}")',
        "parquet": f'load_dataset("parquet", data_files="{data_name}")',
        "hf": f'load_from_disk("{data_name}")',
    }[data_format]
    filters = (f"statuses {list(spec.statuses) or 'any'}, min score {spec.min_score}, "
               f"languages {list(spec.languages) or 'any'}, campaign {spec.campaign_id or 'any'}, "
               f"mixture {spec.mixture or 'none'}" + (f" by {spec.mix_by}" if spec.mixture else ""))
    kind_text = KIND_TEXTS[kind]
    return f"""---
language: [code]
tags: [polyforge, synthetic, code, {kind}]
---
# Polyforge export: {data_name}

Synthetic code instruction data for {kind_text}, generated by Polyforge and scored by an LLM judge
on a nine-point checklist. Exported {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.

- rows: {total}
- campaigns: {sorted(stats.campaigns)}
- checklist versions (content hashes): {sorted(stats.checklists)}
- filters: {filters}

Load it with `datasets`: `{loader}`.

Every row carries its provenance: language, source repository, file and lines, the generating
model, the final judge score, and the content hashes of the prompt templates and checklist.

## Rows per language

| language | rows |
| --- | --- |
{languages}

## Rows per status

| status | rows |
| --- | --- |
{statuses}

## Final judge score

| statistic | value |
| --- | --- |
{score_lines}
"""


@dataclass
class ExportResult:
    rows: int
    data_path: Path
    card_path: Path


def export(session: Session, out: Path, data_format: str, spec: ExportFilter) -> ExportResult:
    """Write the rows `spec` selects in `data_format` (one of EXPORT_FORMATS), and a dataset card beside."""
    if data_format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {data_format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    kind, container = data_format.split("-")
    records = iter_sft_records(session, spec) if kind == "sft" else iter_dpo_records(session, spec)
    return write_export(records, out, kind, container, SFT_SCHEMA if kind == "sft" else DPO_SCHEMA, spec)


def write_export(records: Iterable[dict], out: Path, kind: str, container: str, schema: pa.Schema,
                 spec: ExportFilter) -> ExportResult:
    """Write records (each with the provenance fields) as JSONL, Parquet or an HF folder, plus the card."""
    stats = RecordStats(records)
    if container == "jsonl":
        rows = write_jsonl(stats, out)
    elif container == "parquet":
        rows = write_parquet(stats, out, schema)
    else:
        rows = write_hf_dataset(stats, out, schema)
    # An HF folder gets the conventional README.md; a file gets one named after it, so several
    # exports can share a folder.
    card_path = out / "README.md" if container == "hf" else out.with_name(f"{out.name.split('.')[0]}.README.md")
    card_path.write_text(dataset_card(stats, kind, container, out.name, spec), encoding="utf-8")
    return ExportResult(rows, out, card_path)
