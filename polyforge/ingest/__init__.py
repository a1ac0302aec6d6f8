"""Ingestion: sources -> language identification -> tree-sitter snippets -> deduplication."""

from polyforge.ingest.pipeline import IngestError, IngestReport, SnippetRecord, SourceNotFound, ingest

__all__ = ["IngestError", "IngestReport", "SnippetRecord", "SourceNotFound", "ingest"]
