"""The containers an export writes records into: JSONL, Parquet, an HF datasets folder.

Each writer takes the records, the output path and the Arrow schema, and returns how many rows it
wrote. Rows are written as they come, so memory stays bounded however many there are; every file is
written under a temporary name and renamed at the end, so a crash never leaves half an export behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from polyforge.export.filters import BATCH_ROWS


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


def write_jsonl(records: Iterable[dict], out: Path, schema: pa.Schema | None = None) -> int:
    """One JSON object per line (the schema is not needed: JSON keeps each record's own types)."""
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
