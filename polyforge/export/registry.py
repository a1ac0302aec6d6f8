"""The export formats, one registry entry each: a record kind (what a row holds) in a container (how the
rows are stored). `export` is the one entry point: it looks the format up and writes rows and card.

Adding a format is adding an entry: `register(ExportFormat(kind, container))`, or a new kind or
container to KINDS or CONTAINERS before the formats are built from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from sqlalchemy.orm import Session

from polyforge.export.cards import RecordStats, dataset_card
from polyforge.export.fim import FIM_SCHEMA, iter_fim_records
from polyforge.export.filters import ExportError, ExportFilter
from polyforge.export.records import DPO_SCHEMA, SFT_SCHEMA, iter_dpo_records, iter_sft_records
from polyforge.export.writers import write_hf_dataset, write_jsonl, write_parquet
from polyforge.storage.privacy import sensitive_counts


@dataclass(frozen=True)
class RecordKind:
    name: str
    description: str  # what the rows are for, as the dataset card says it
    records: Callable[[Session, ExportFilter], Iterator[dict]]
    schema: pa.Schema  # the columns, for the columnar containers


@dataclass(frozen=True)
class Container:
    name: str
    write: Callable[[Iterable[dict], Path, pa.Schema], int]  # records, out, schema -> rows written
    folder: bool = False  # a folder (its card is README.md inside) rather than a file (NAME.README.md beside)


@dataclass(frozen=True)
class ExportFormat:
    kind: RecordKind
    container: Container

    @property
    def name(self) -> str:
        return f"{self.kind.name}-{self.container.name}"


@dataclass
class ExportResult:
    rows: int
    data_path: Path
    card_path: Path


KINDS = (
    RecordKind("sft", "supervised fine-tuning: chat `messages` (user instruction, assistant answer)",
               iter_sft_records, SFT_SCHEMA),
    RecordKind("dpo", "preference optimization (DPO): `prompt`, `chosen`, `rejected` chat messages",
               iter_dpo_records, DPO_SCHEMA),
    RecordKind("fim", "fill-in-the-middle: the answers' code split into `prefix`, `middle` and `suffix`, and `text` "
               "in the PSM layout with Qwen2.5-Coder's FIM tokens", iter_fim_records, FIM_SCHEMA),
)
CONTAINERS = (
    Container("jsonl", write_jsonl),
    Container("parquet", write_parquet),
    Container("hf", write_hf_dataset, folder=True),
)
FORMATS: dict[str, ExportFormat] = {}


def register(data_format: ExportFormat) -> None:
    FORMATS[data_format.name] = data_format


for _kind in KINDS:
    for _container in CONTAINERS:
        register(ExportFormat(_kind, _container))


def format_names() -> tuple[str, ...]:
    return tuple(FORMATS)


def export_format(name: str) -> ExportFormat:
    """The registered format called `name`; ExportError names the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ExportError(f"unknown format {name!r}; choose one of {', '.join(FORMATS)}") from None


def export(session: Session, out: Path, data_format: str, spec: ExportFilter) -> ExportResult:
    """Write the rows `spec` selects in `data_format` (a name in FORMATS), and a dataset card beside them."""
    chosen = export_format(data_format)
    kind, container = chosen.kind, chosen.container
    stats = RecordStats(kind.records(session, spec))
    rows = container.write(stats, out, kind.schema)
    # A folder gets the conventional README.md; a file gets one named after it, so several exports can share a folder.
    card_path = out / "README.md" if container.folder else out.with_name(f"{out.name.split('.')[0]}.README.md")
    sensitive = sensitive_counts(session, sorted(stats.campaigns))
    card_path.write_text(dataset_card(stats, kind.name, kind.description, container.name, out.name, spec, sensitive),
                         encoding="utf-8")
    return ExportResult(rows, out, card_path)
