"""Exports: stored pairs as training data. Record kinds (SFT chat examples, DPO preferences, FIM samples) in
containers (JSONL, Parquet, HF datasets folders), each format a registry entry, with filters, an optional
mixture and a dataset card. `export(session, out, format, spec)` is the one entry point."""

from polyforge.export.filters import ExportError, ExportFilter
from polyforge.export.fim import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, fim_split, iter_fim_records
from polyforge.export.records import iter_dpo_records, iter_sft_records
from polyforge.export.registry import FORMATS, ExportFormat, ExportResult, export, export_format, format_names

__all__ = [
    "FIM_MIDDLE",
    "FIM_PREFIX",
    "FIM_SUFFIX",
    "FORMATS",
    "ExportError",
    "ExportFilter",
    "ExportFormat",
    "ExportResult",
    "export",
    "export_format",
    "fim_split",
    "format_names",
    "iter_dpo_records",
    "iter_fim_records",
    "iter_sft_records",
]
