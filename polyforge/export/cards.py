"""Dataset cards: counts and score statistics gathered while the rows stream past, written as Markdown."""

from __future__ import annotations

import hashlib
import statistics
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from polyforge.config import IngestConfig
from polyforge.export.filters import ExportFilter
from polyforge.ingest.filters import MinHasher, NearDedup
from polyforge.ingest.shingles import WORD, word_hashes
from polyforge.redaction import PLACEHOLDER
from polyforge.storage.privacy import SensitiveCounts, describe

LOADERS = {  # how `datasets` loads each container, for the card
    "jsonl": 'load_dataset("json", data_files="{name}")',
    "parquet": 'load_dataset("parquet", data_files="{name}")',
    "hf": 'load_from_disk("{name}")',
}


def texts_of(record: dict) -> Iterator[str]:
    """The text a record trains on: its turns' contents (SFT, DPO) and its `text` (FIM)."""
    for key in ("messages", "prompt", "chosen", "rejected"):
        turns = record.get(key)
        if isinstance(turns, list):
            yield from (turn["content"] for turn in turns)
    if isinstance(record.get("text"), str):
        yield record["text"]


def instruction_of(record: dict) -> str | None:
    """The user's turn of an SFT or DPO record; None for kinds without one (FIM)."""
    turns = record.get("messages") or record.get("prompt")
    return turns[0]["content"] if isinstance(turns, list) and turns else None


class InstructionDuplicates:
    """Counts pairs whose instruction repeats an earlier pair's of the export: exactly (after case and whitespace
    are folded) or nearly (MinHash Jaccard at the ingest's near-duplicate threshold, over word 5-shingles).
    Each pair counts once, however many rows it gives (a DPO pair gives one per rejected answer)."""

    def __init__(self, threshold: float = IngestConfig.model_fields["near_duplicate_threshold"].default,
                 num_perm: int = IngestConfig.model_fields["minhash_permutations"].default):
        self.threshold = threshold
        self.pairs = self.exact = self.near = 0
        self._seen_pairs: set[int] = set()
        self._exact: set[bytes] = set()
        self._hasher = MinHasher(num_perm)
        self._near = NearDedup(threshold, num_perm)

    def add(self, pair_id: int, instruction: str) -> None:
        if pair_id in self._seen_pairs:
            return
        self._seen_pairs.add(pair_id)
        self.pairs += 1
        key = hashlib.blake2b(" ".join(WORD.findall(instruction.lower())).encode(), digest_size=8).digest()
        signed = _Signed(self._hasher.signature(word_hashes(instruction)))
        near = self._near.reason_to_drop(signed) is not None  # also remembers this one for later rows
        if key in self._exact:
            self.exact += 1
        elif near:
            self.near += 1
        self._exact.add(key)

    @property
    def share(self) -> float | None:
        return (self.exact + self.near) / self.pairs if self.pairs else None


class _Signed:
    """What NearDedup reads of an item: its MinHash signature."""

    def __init__(self, signature):
        self.signature = signature


class RecordStats:
    """Counts and score statistics of the records that pass through, for the dataset card."""

    def __init__(self, records: Iterable[dict]):
        self._records = records
        self.languages: Counter = Counter()
        self.statuses: Counter = Counter()
        self.campaigns: set[int] = set()
        self.checklists: set[str] = set()
        self.scores = array("d")  # 8 bytes a row: with the duplicate index, what grows with the export
        self.duplicates = InstructionDuplicates()
        self.placeholders: Counter = Counter()  # <SECRET:kind> and <PII:kind> left in the rows' text

    def __iter__(self) -> Iterator[dict]:
        for record in self._records:
            self.languages[record["language"]] += 1
            self.statuses[record["status"]] += 1
            self.campaigns.add(record["campaign_id"])
            if record["checklist_hash"]:
                self.checklists.add(record["checklist_hash"])
            if record["score"] is not None:
                self.scores.append(record["score"])
            instruction = instruction_of(record)
            if instruction is not None:
                self.duplicates.add(record["pair_id"], instruction)
            for text in texts_of(record):
                self.placeholders.update(PLACEHOLDER.findall(text))
            yield record


def dataset_card(stats: RecordStats, kind: str, kind_text: str, container: str, data_name: str,
                 spec: ExportFilter, sensitive: SensitiveCounts | None = None) -> str:
    """The card of an export of record kind `kind` (described by `kind_text`) in `container`; `sensitive` counts the
    secrets and personal data of the campaigns exported."""
    total = sum(stats.languages.values())
    scores = stats.scores
    score_lines = (
        f"| mean | {statistics.fmean(scores):.3f} |\n| std | {statistics.pstdev(scores):.3f} |\n"
        f"| min | {min(scores):.3f} |\n| median | {statistics.median(scores):.3f} |\n| max | {max(scores):.3f} |"
        if scores else "| (no scored rows) | |"
    )
    languages = "\n".join(f"| {lang} | {count} |" for lang, count in stats.languages.most_common())
    statuses = "\n".join(f"| {status} | {count} |" for status, count in stats.statuses.most_common())
    duplicates = stats.duplicates
    duplicate_line = (
        f"- duplicate instructions: {duplicates.share:.1%} of {duplicates.pairs} pairs repeat an earlier pair's "
        f"instruction ({duplicates.exact} exactly, {duplicates.near} nearly: MinHash Jaccard >= "
        f"{duplicates.threshold:g}); goal: at most 1%\n" if duplicates.share is not None else "")
    placeholders = ", ".join(f"`{name}` {count}" for name, count in sorted(stats.placeholders.items())) or "none"
    loader = LOADERS[container].format(name=data_name)
    filters = (f"statuses {list(spec.statuses) or 'any'}, min score {spec.min_score}, "
               f"languages {list(spec.languages) or 'any'}, campaign {spec.campaign_id or 'any'}, "
               f"mixture {spec.mixture or 'none'}" + (f" by {spec.mix_by}" if spec.mixture else ""))
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
{duplicate_line}
Load it with `datasets`: `{loader}`.

Every row carries its provenance: language, source repository, file and lines, the generating
model, the final judge score, and the content hashes of the prompt templates and checklist. A row
whose task came from an instruction dataset carries that dataset's row id as `source_id`.

## Secrets and personal data

Secrets (API keys, tokens, private keys, passwords in URLs and config strings) and personal data
(e-mail and IP addresses) were looked for in the source code at ingest, and in every generated
instruction and answer, whose pair was dropped when it held any.

- in the campaigns: {describe(sensitive) if sensitive is not None else "not counted"}
- placeholders left in these rows: {placeholders}

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
